/*  curve_keys.h — a client's CURVE keys, read from certificate files.

    tally's clients (tally-reporter, tally-watch) take `--key FILE`, their
    own certificate from `tally-reporter keygen` (NAME.cert_secret, or
    NAME.cert with NAME.cert_secret beside it), and `--server-key FILE`, the
    collector's public certificate (collector.cert). This reads both and
    says precisely which file is wrong when one is.
*/
#ifndef CURVE_KEYS_H_INCLUDED
#define CURVE_KEYS_H_INCLUDED

#include <stddef.h>

//  Z85 text of the three keys a CURVE client needs.
typedef struct {
    char public_key [41];               //  ours
    char secret_key [41];               //  ours
    char server_key [41];               //  the collector's public key
} curve_keys_t;

//  Read our certificate from key_path and the collector's public key from
//  server_key_path. Returns 0, or -1 with one sentence naming the file in err.
int
    curve_keys_load (curve_keys_t *self, const char *key_path, const char *server_key_path,
                     char *err, size_t err_size);

#endif
