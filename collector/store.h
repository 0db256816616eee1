/*  store.h — the collector's PostgreSQL connection: batches in, totals out.

    One connection, used by one thread at a time: the collector's main
    thread has one (catalog, snapshots, pings) and each committer its own
    (batches, stored by the committer's thread, or by the main thread while
    that one is idle). A batch of validated reports is stored in one
    transaction together with the rejected reports waiting to be recorded:
    tally_lock() stores the reports and locks the rows they change,
    figures.c works out the new figures and totals, tally_write() writes
    them (deploy/migrations/008 and 009). When the store knows every row a
    batch touches (as it wrote them last), it works out the figures first
    and tally_apply() checks, stores and writes in one round trip (011). The totals messages are built from
    what was written, so what the feed publishes is exactly what was
    committed. When the database is unreachable the store says so at once
    (the caller answers `unavailable`), reconnects with back-off, and logs
    the outage once and its end once.
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include <czmq.h>
#include "catalog.h"
#include "proto_msg.h"

typedef struct store_t store_t;

typedef enum {
    STORE_STORED,               //  new: stored
    STORE_DUPLICATE,            //  (source, seq) stored before with the same content
    STORE_CONFLICT              //  (source, seq) stored before with other content
} store_status_t;

//  One report of a batch. (source, seq) must be unique within a batch.
typedef struct {
    const proto_msg_t *report;  //  decoded and validated (borrowed)
    const char *peer;           //  peer address, or NULL
    const char *key_id;         //  CURVE public key (Z85), or NULL
    store_status_t status;      //  set by store_commit
} store_item_t;

//  A rejected report waiting to be written to rejected_report.
typedef struct {
    proto_code_t code;
    char *reason;
    bool has_source;
    char source [PROTO_MAX_SOURCE + 1];
    bool has_seq;
    int64_t seq;
    char *peer;                 //  may be NULL
    char *key_id;               //  may be NULL
    uint8_t *raw;               //  the body as received
    size_t raw_size;
} store_reject_t;

//  Create a rejection record (copies everything it is given).
store_reject_t *store_reject_new (proto_code_t code, const char *reason,
                                  const proto_error_t *echo, const char *peer,
                                  const char *key_id, const void *raw, size_t raw_size);
void store_reject_destroy (store_reject_t **self_p);

//  Create a store for conninfo ("" = libpq's environment). Does not connect.
store_t *store_new (const char *conninfo);
void store_destroy (store_t **self_p);

//  A quiet store does not log outages or connections: for the extra
//  connections of a collector, whose main store speaks for all of them.
void store_set_quiet (store_t *self, bool quiet);
//  Another connection to the same database found it unreachable: drop this
//  one too and reconnect, with back-off and logging the outage, or for a
//  quiet store silently and at its next use.
void store_mark_down (store_t *self, const char *why);
//  Why the connection was last dropped ("" if never).
const char *store_last_error (store_t *self);
//  Connect if not connected and the back-off allows an attempt now; loads
//  the catalog on success. Returns true when connected.
bool store_ensure (store_t *self);

//  True when connected.
bool store_up (store_t *self);

//  True when connected and the connection is still there, found without
//  blocking: a server that stopped or crashed has closed it, which libpq
//  sees only when it reads. An idle connection with something to read is
//  read; if it has ended, the store is marked down (the outage logged now)
//  and false returned. A network gone silent is not seen here: the next
//  round trip finds it.
bool store_alive (store_t *self);

//  Milliseconds until the next connection attempt (for nack retry_ms).
int64_t store_retry_ms (store_t *self);

//  Reconnections since the last call (for the statistics line).
int store_take_reconnects (store_t *self);

//  The catalog last loaded (borrowed; NULL before the first connection).
catalog_t *store_catalog (store_t *self);

//  Reload the catalog from the database; returns 0 or -1.
int store_reload_catalog (store_t *self);

//  Store items[0..count) and the rejects in `rejects` (store_reject_t *,
//  removed from the list once committed), in one transaction; fill each
//  item's status and append to `totals` (proto_msg_t *, to publish in
//  order) one totals message per changed region. Returns 0 when committed,
//  -1 when the database is unreachable (nothing committed), -2 when the
//  transaction failed for another reason (nothing committed; logged).
int store_commit (store_t *self, store_item_t *items, size_t count,
                  zlistx_t *rejects, zlistx_t *totals);

//  While it waits for the database, a store calls hook (arg) every
//  STORE_WAIT_SLICE_MS without an answer (NULL: it just waits). The
//  collector's loop sets one while it stores a batch itself, to keep its
//  heartbeats and pings going through a lock wait or a slow COMMIT.
#define STORE_WAIT_SLICE_MS  50
typedef void (store_wait_fn) (void *arg);
void store_set_wait_hook (store_t *self, store_wait_fn *hook, void *arg);

//  How the last batch went to the database (store_commit): its round
//  trips in microseconds, from sending the statements to their last result.
typedef struct {
    int trips;                  //  1: in one call of tally_apply, 2: tally_lock and
                                //  tally_write, 0: neither got that far
    bool missed;                //  tally_apply was tried and refused it first
    int64_t apply_us;           //  BEGIN, tally_apply and COMMIT (tried or done)
    int64_t lock_us;            //  BEGIN with tally_lock
    int64_t write_us;           //  tally_write with COMMIT
} store_timing_t;
void store_last_timing (store_t *self, store_timing_t *timing);

//  Totals of every region whose code starts with prefix, for year (0: the
//  newest year with data), consistent with *seq: every feed message with a
//  seq up to *seq is reflected. Returns 0, or -1 when unreachable.
int store_snapshot (store_t *self, const char *prefix, int64_t year,
                    zlistx_t *totals, int64_t *seq);

//  The newest feed seq in the database (0 when none), or -1 when unreachable.
int64_t store_last_seq (store_t *self);

#endif
