/*  server.h — the collector daemon: sockets, group commit, replies, feed.

    One thread follows each report along receive → decode → validate →
    batch → commit → ack → publish. Whatever arrived while the previous batch
    was committing forms the next batch, so throughput does not hinge on one
    fsync per report (group commit).
*/
#ifndef SERVER_H_INCLUDED
#define SERVER_H_INCLUDED

#include "settings.h"
#include "store.h"

typedef struct server_t server_t;

//  Bind the three endpoints; NULL (after one line on stderr) when one cannot
//  be bound or the plaintext rule refuses it. Takes ownership of the store.
server_t *server_new (const settings_t *settings, store_t **store_p);
void server_destroy (server_t **self_p);

//  Serve until SIGINT or SIGTERM; the batch in hand is committed and
//  answered first. SIGHUP reloads the catalog and client keys. Returns 0,
//  or -1 when the sockets could not be bound again after a revocation.
int server_run (server_t *self);

#endif
