/*  health.c — `tally-collector ping`: one ping on the query endpoint. */
#include "health.h"

#include <czmq.h>
#include <errno.h>
#include "curve_keys.h"
#include "proto_msg.h"

static int
s_usage (const char *why, const char *arg)
{
    fprintf (stderr, "tally-collector ping: %s%s%s%s\n"
             "usage: tally-collector ping [--query EP] [--timeout SECONDS] "
             "[--server-key FILE --key FILE]\n", why, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return 2;
}

int
health_ping (int argc, char **argv)
{
    const char *query = "tcp://127.0.0.1:7703", *server_key = NULL, *key = NULL;
    int timeout = 5;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv [i];
        if (streq (arg, "--help") || streq (arg, "-h")) {
            printf ("usage: tally-collector ping [--query EP] [--timeout SECONDS] "
                    "[--server-key FILE --key FILE]\n"
                    "Asks a running collector for a pong. Exit status: 0 it answers and its database\n"
                    "is up, 1 it answers but its database is down, 2 no answer within the timeout\n"
                    "(default 5 s) or a usage error. Defaults: --query tcp://127.0.0.1:7703.\n");
            return 0;
        }
        if (!streq (arg, "--query") && !streq (arg, "--server-key") && !streq (arg, "--key")
        &&  !streq (arg, "--timeout"))
            return s_usage ("unknown option", arg);
        if (i + 1 >= argc)
            return s_usage ("this option needs a value:", arg);
        if (streq (arg, "--query"))
            query = argv [++i];
        else
        if (streq (arg, "--server-key"))
            server_key = argv [++i];
        else
        if (streq (arg, "--key"))
            key = argv [++i];
        else
        if (streq (arg, "--timeout")) {
            char *end;
            errno = 0;
            long seconds = strtol (argv [++i], &end, 10);
            if (errno || end == argv [i] || *end || seconds < 1 || seconds > 3600)
                return s_usage ("--timeout takes whole seconds from 1 to 3600, not", argv [i]);
            timeout = (int) seconds;
        }
        else
            return s_usage ("unknown option", arg);
    }
    if ((server_key == NULL) != (key == NULL))
        return s_usage ("CURVE needs both --server-key and --key", NULL);

    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (key) {
        curve_keys_t keys;
        char err [1200];
        if (curve_keys_load (&keys, key, server_key, err, sizeof err)) {
            fprintf (stderr, "tally-collector ping: %s\n", err);
            zsock_destroy (&sock);
            return 2;
        }
        zsock_set_curve_publickey (sock, keys.public_key);
        zsock_set_curve_secretkey (sock, keys.secret_key);
        zsock_set_curve_serverkey (sock, keys.server_key);
    }
    zsock_set_rcvtimeo (sock, timeout * 1000);
    zsock_set_linger (sock, 0);
    if (zsock_connect (sock, "%s", query) != 0) {
        zsock_destroy (&sock);
        return s_usage ("--query is not a valid endpoint:", query);
    }
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    size_t size;
    uint8_t *body = proto_msg_encode (ping, &size, NULL);
    proto_msg_destroy (&ping);
    zframe_t *frame = zframe_new (body, size);
    free (body);
    zframe_send (&frame, sock, 0);
    frame = zframe_recv (sock);
    int rc = 2;
    if (!frame)
        fprintf (stderr, "tally-collector ping: no answer from %s within %d s: is the collector "
                 "running there%s?\n", query, timeout,
                 key ? "" : " (one that uses CURVE answers only with --server-key and --key)");
    else {
        proto_error_t err;
        proto_msg_t *pong = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
        if (pong && pong->type == PROTO_PONG) {
            rc = streq (pong->db, "up") ? 0 : 1;
            printf ("collector at %s answers; database %s\n", query, pong->db);
        }
        else
            fprintf (stderr, "tally-collector ping: %s answered something else than a pong\n", query);
        proto_msg_destroy (&pong);
        zframe_destroy (&frame);
    }
    zsock_destroy (&sock);
    return rc;
}
