/*  curve_keys.c — a client's CURVE keys, read from certificate files. */
#include "curve_keys.h"

#include <czmq.h>
#include <string.h>
#include <unistd.h>

#define S_NO_SECRET "0000000000000000000000000000000000000000"

int
curve_keys_load (curve_keys_t *self, const char *key_path, const char *server_key_path,
                 char *err, size_t err_size)
{
    assert (self && key_path && server_key_path);
    memset (self, 0, sizeof *self);
    //  zcert_load wants the public file's name and reads NAME_secret beside it.
    char base [1024], secret [1100];
    snprintf (base, sizeof base, "%s", key_path);
    size_t length = strlen (base);
    if (length > 7 && strcmp (base + length - 7, "_secret") == 0)
        base [length - 7] = 0;
    snprintf (secret, sizeof secret, "%s_secret", base);
    if (access (secret, R_OK) != 0) {
        if (strcmp (secret, key_path) == 0)
            snprintf (err, err_size, "--key %s: cannot read it: %s", key_path, strerror (errno));
        else
            snprintf (err, err_size, "--key %s: cannot read its secret half %s: %s (give the "
                      "NAME.cert_secret made by tally-reporter keygen)", key_path, secret,
                      strerror (errno));
        return -1;
    }
    zcert_t *mine = zcert_load (base);
    if (!mine || strcmp (zcert_secret_txt (mine), S_NO_SECRET) == 0) {
        snprintf (err, err_size, "--key %s: %s is not a CURVE secret certificate", key_path, secret);
        zcert_destroy (&mine);
        return -1;
    }
    snprintf (self->public_key, sizeof self->public_key, "%s", zcert_public_txt (mine));
    snprintf (self->secret_key, sizeof self->secret_key, "%s", zcert_secret_txt (mine));
    zcert_destroy (&mine);
    if (access (server_key_path, R_OK) != 0) {
        snprintf (err, err_size, "--server-key %s: cannot read it: %s", server_key_path,
                  strerror (errno));
        return -1;
    }
    zcert_t *server = zcert_load (server_key_path);
    if (!server) {
        snprintf (err, err_size, "--server-key %s: not a CURVE certificate (give the collector's "
                  "collector.cert)", server_key_path);
        return -1;
    }
    snprintf (self->server_key, sizeof self->server_key, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    return 0;
}
