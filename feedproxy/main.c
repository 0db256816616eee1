/*  main.c — tally-feedproxy: the totals feed of several collectors, fanned out.

    A collector's feed is a PUB socket; every subscriber costs the collector a
    queue and a copy of every message. Past a few dozen screens, or when
    several collectors share one database (each publishes only what it
    committed itself), subscribers connect to a feed proxy instead: an XSUB
    socket connected to every collector's feed, an XPUB socket bound for
    subscribers, messages forwarded downstream and subscriptions upstream
    (so a subscriber's topic prefix still filters at the collector). The
    proxy keeps no state and changes no message: totals carry `version` per
    region, which orders them whatever collector they came through.
    Snapshots are not proxied: a late subscriber asks a collector's query
    endpoint (tally-watch --feed PROXY --query COLLECTOR).
*/
#include <czmq.h>
#include <inttypes.h>

#include "log.h"

#define S_MAX_ENDPOINTS 32

typedef struct {
    const char *frontend [S_MAX_ENDPOINTS];  //  collectors' feeds (connect)
    int frontend_count;
    const char *backend [S_MAX_ENDPOINTS];   //  for subscribers (bind)
    int backend_count;
    const char *ready_file;                  //  written once bound, or NULL
    int64_t hwm;                             //  messages queued per subscriber
    int stats_s;                             //  seconds between statistics lines (0: none)
} s_options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: tally-feedproxy --frontend EP [--frontend EP ...] --backend EP [options]\n"
        "\n"
        "Forwards the totals feed of one or more tally collectors to any number of\n"
        "subscribers (tally-watch, dashboards). Subscribers' topic prefixes are passed\n"
        "upstream, so filtering still happens at the collectors.\n"
        "\n"
        "  --frontend EP     a collector's feed (its PUB, default port 7702) to connect to;\n"
        "                    repeat it, or give a comma-separated list, for every\n"
        "                    collector that shares the database\n"
        "  --backend EP      where subscribers connect (bound), e.g. tcp://*:7802;\n"
        "                    may repeat (e.g. tcp and ipc)\n"
        "  --hwm N           messages queued per subscriber before it is dropped from\n"
        "                    (default 100000, as the collector's feed); a subscriber\n"
        "                    that misses messages sees a gap and takes a new snapshot\n"
        "  --stats S         log message counts every S seconds (default 60; 0: never)\n"
        "  --ready-file PATH write \"feed ENDPOINT\" lines once bound (for scripts and tests)\n"
        "  --log-level L     error, warning, info (default) or debug\n"
        "  -h, --help        show this help\n"
        "\n"
        "Snapshots are not proxied: a late subscriber takes its snapshot from a\n"
        "collector's query endpoint, e.g.\n"
        "  tally-watch --feed tcp://proxy:7802 --query tcp://collector-a:7703\n"
        "Messages carry `version` per region (the database's feed sequence of that\n"
        "region's last change); through a proxy the messages of several collectors\n"
        "interleave, so `seq` is not monotonic across them, `version` per region is.\n"
        "\n"
        "SIGTERM or SIGINT stops it (exit 0). Exit 2 on a usage error or when an\n"
        "endpoint cannot be used.\n");
}

//  Add a comma-separated list of endpoints to list; -1 if too many.
static int
s_add_endpoints (const char **list, int *count, char *value)
{
    char *save = NULL;
    for (char *ep = strtok_r (value, ",", &save); ep; ep = strtok_r (NULL, ",", &save)) {
        if (*count == S_MAX_ENDPOINTS)
            return -1;
        list [(*count)++] = ep;
    }
    return 0;
}

static int
s_parse (int argc, char **argv, s_options_t *opt)
{
    opt->hwm = 100000;
    opt->stats_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (stdout);
            exit (0);
        }
        if (i + 1 >= argc) {
            fprintf (stderr, "tally-feedproxy: '%s' is not an option or needs a value; see --help\n", arg);
            return -1;
        }
        char *value = argv [++i];
        if (streq (arg, "--frontend")) {
            if (s_add_endpoints (opt->frontend, &opt->frontend_count, value))
                return fprintf (stderr, "tally-feedproxy: more than %d frontends\n", S_MAX_ENDPOINTS), -1;
        }
        else
        if (streq (arg, "--backend")) {
            if (s_add_endpoints (opt->backend, &opt->backend_count, value))
                return fprintf (stderr, "tally-feedproxy: more than %d backends\n", S_MAX_ENDPOINTS), -1;
        }
        else
        if (streq (arg, "--ready-file"))
            opt->ready_file = value;
        else
        if (streq (arg, "--hwm") || streq (arg, "--stats")) {
            char *end;
            long long number = strtoll (value, &end, 10);
            if (*end || end == value || number < 0 || number > 100000000)
                return fprintf (stderr, "tally-feedproxy: %s takes a whole number, got '%s'\n", arg, value), -1;
            if (streq (arg, "--hwm"))
                opt->hwm = number;
            else
                opt->stats_s = (int) number;
        }
        else
        if (streq (arg, "--log-level")) {
            if (log_set_level (value))
                return fprintf (stderr, "tally-feedproxy: unknown log level '%s' "
                                "(error, warning, info, debug)\n", value), -1;
        }
        else
            return fprintf (stderr, "tally-feedproxy: unknown option '%s'; see --help\n", arg), -1;
    }
    if (opt->frontend_count == 0 || opt->backend_count == 0) {
        fprintf (stderr, "tally-feedproxy: needs at least one --frontend and one --backend; see --help\n");
        return -1;
    }
    return 0;
}

//  Move one whole multipart message from one socket to the other.
static void
s_forward (zsock_t *from, zsock_t *to, uint64_t *count)
{
    zmsg_t *msg = zmsg_recv (from);
    if (!msg)
        return;
    if (zmsg_send (&msg, to) == 0)
        (*count)++;
    zmsg_destroy (&msg);
}

int
main (int argc, char **argv)
{
    s_options_t opt = { 0 };
    if (s_parse (argc, argv, &opt))
        return 2;
    zsys_init ();
    zsys_catch_interrupts ();

    //  An endpoint error exits 2 through the sockets' destruction, so that
    //  czmq does not warn of dangling sockets on the way out.
    int rc = 0;
    zsock_t *frontend = zsock_new (ZMQ_XSUB);
    zsock_t *backend = zsock_new (ZMQ_XPUB);
    zsock_set_rcvhwm (frontend, (int) opt.hwm);
    zsock_set_sndhwm (backend, (int) opt.hwm);
    zsock_set_linger (backend, 0);
    FILE *ready = NULL;
    if (opt.ready_file && !(ready = fopen (opt.ready_file, "w"))) {
        fprintf (stderr, "tally-feedproxy: cannot write %s: %s\n", opt.ready_file, strerror (errno));
        rc = 2;
    }
    for (int i = 0; rc == 0 && i < opt.backend_count; i++) {
        if (zsock_bind (backend, "%s", opt.backend [i]) < 0) {
            fprintf (stderr, "tally-feedproxy: cannot bind %s: %s\n", opt.backend [i], zmq_strerror (zmq_errno ()));
            rc = 2;
            break;
        }
        log_info ("feedproxy: subscribers connect to %s", zsock_endpoint (backend));
        if (ready)
            fprintf (ready, "feed %s\n", zsock_endpoint (backend));
    }
    for (int i = 0; rc == 0 && i < opt.frontend_count; i++) {
        if (zsock_connect (frontend, "%s", opt.frontend [i]) < 0) {
            fprintf (stderr, "tally-feedproxy: cannot connect to %s: %s\n", opt.frontend [i], zmq_strerror (zmq_errno ()));
            rc = 2;
            break;
        }
        log_info ("feedproxy: forwarding the feed of %s", opt.frontend [i]);
    }
    if (ready)
        fclose (ready);
    if (rc) {
        zsock_destroy (&frontend);
        zsock_destroy (&backend);
        return rc;
    }

    zpoller_t *poller = zpoller_new (frontend, backend, NULL);
    uint64_t messages = 0, subscriptions = 0, last_messages = 0;
    int64_t next_stats = zclock_mono () + (int64_t) opt.stats_s * 1000;
    while (!zsys_interrupted) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 1000);
        if (which == frontend)
            s_forward (frontend, backend, &messages);
        else
        if (which == backend)
            s_forward (backend, frontend, &subscriptions);
        else
        if (zpoller_terminated (poller))
            break;
        if (opt.stats_s && zclock_mono () >= next_stats) {
            log_info ("feedproxy: %" PRIu64 " messages forwarded (%" PRIu64 " in the last %d s), "
                      "%" PRIu64 " subscription changes", messages, messages - last_messages,
                      opt.stats_s, subscriptions);
            last_messages = messages;
            next_stats = zclock_mono () + (int64_t) opt.stats_s * 1000;
        }
    }
    log_info ("feedproxy: stopping after %" PRIu64 " messages", messages);
    zpoller_destroy (&poller);
    zsock_destroy (&frontend);
    zsock_destroy (&backend);
    return 0;
}
