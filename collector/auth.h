/*  auth.h — who may connect and what each key may report: CURVE.

    The collector's secret certificate makes its sockets CURVE servers; the
    client certificates in one folder (one per county or city, made by
    `tally-reporter keygen`) are the only keys let in. Each client
    certificate's metadata `regions` lists the region codes, or prefixes
    ending in `*`, that its key may report for.

    A ZAP handler (RFC 27) runs in its own thread and answers libzmq's
    handshake questions from the folder: an unknown key is refused at the
    handshake and logged; a known key's connection gets the key itself as
    ZAP User-Id. The collector then maps each message's User-Id to the
    certificate itself, so nothing a client sends about itself is trusted.
    Sockets also enforce the ZAP domain, so that if the handler is not
    running no client gets in (fail closed).

    czmq 4.2's zauth is not used: for CURVE it answers an empty User-Id, so
    messages could not be tied to keys.
*/
#ifndef AUTH_H_INCLUDED
#define AUTH_H_INCLUDED

#include <czmq.h>

typedef struct auth_t auth_t;

//  Load the server certificate (FILE and FILE_secret, or a path ending in
//  _secret) and the client certificates of clients_dir, and start the ZAP
//  handler. NULL with one sentence in err when something is missing.
auth_t *auth_new (const char *server_cert_path, const char *clients_dir,
                  char *err, size_t err_size);
void auth_destroy (auth_t **self_p);

//  Make sock a CURVE server with the collector's key, under the ZAP domain
//  "tally" with the domain enforced. Call before bind.
int auth_apply (auth_t *self, zsock_t *sock);

//  The server's public key (Z85).
const char *auth_server_key (auth_t *self);

//  May the key user_id (Z85, from the message's User-Id) report for region?
//  When not, why says so in one sentence.
bool auth_allows (auth_t *self, const char *user_id, const char *region,
                  char *why, size_t why_size);

//  The certificate name of a key ("" if unknown); borrowed.
const char *auth_key_name (auth_t *self, const char *user_id);

//  Read the client folder again (new keys in, removed keys out) here and in
//  the ZAP handler. Returns the number of keys removed (whose connections
//  the caller should drop), or -1 when the folder cannot be read (the old
//  keys stay).
int auth_reload (auth_t *self);

#endif
