/*  watch_state.h — the watch's copy of the collector's region totals.

    A watch_state_t holds the newest totals message it has seen for every
    (region, year), and decides which feed messages may change it. It follows
    PROTOCOL.md's late-joiner rule: while a snapshot is being taken, feed
    messages are buffered; at snapshot_end the snapshot is stored and only
    buffered messages with a seq above snapshot_end.seq are applied. After
    that every totals message must carry seq = last + 1, and a heartbeat must
    not announce a seq beyond the last one applied: anything else means a
    message was lost, and the caller should take a fresh snapshot.

    Whatever happens, a region never goes back: each region keeps the version
    of its copy (the totals' `version` when the collector sends one, else the
    feed seq that delivered it, or snapshot_end.seq for a snapshot row) and
    an older copy never replaces a newer one.

    When the feed is subscribed with a region prefix, ZeroMQ drops the other
    regions' messages before we see them, so a jump in seq is normal and
    proves nothing. In that "filtered" mode a seq jump is accepted, and a
    heartbeat beyond the last seq seen asks the caller to verify with a
    snapshot (WATCH_VERIFY) instead of reporting a loss.

    When the feed is several collectors' feeds merged (collectors sharing
    one database), their seqs interleave: collector A may publish seq 11
    before collector B publishes seq 10. In that "merged" mode every totals
    message is applied region by region by its version alone (never going
    back), seq is only the highest one seen, a jump in seq proves nothing,
    and a heartbeat beyond the highest seq seen asks for verification
    (WATCH_VERIFY), as in filtered mode. (watch_feed sets it when several
    --feed are given, or when one feed's seqs go back: several collectors
    behind one address, such as tally-feedproxy.)

    The store calls a function for every message that moved a region forward,
    so outputs (JSON lines, the table) see exactly what the store holds.
*/
#ifndef WATCH_STATE_H_INCLUDED
#define WATCH_STATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto_msg.h"

typedef struct _watch_state_t watch_state_t;

//  What the store did with a message.
typedef enum {
    WATCH_APPLIED = 0,      //  stored: it moved its region forward
    WATCH_STALE,            //  dropped: already covered by what the store holds
    WATCH_BUFFERED,         //  held until the snapshot being taken ends
    WATCH_GAP,              //  a message was lost (stored if it was newer):
                            //  take a fresh snapshot
    WATCH_VERIFY,           //  filtered mode: the feed moved past what we saw;
                            //  a snapshot would tell whether we missed anything
    WATCH_REJECTED          //  not a totals or heartbeat message
} watch_verdict_t;

//  Called with every totals message the store has just stored (borrowed:
//  it stays valid until the region is replaced or the store destroyed).
typedef void (watch_state_fn) (void *arg, const proto_msg_t *totals);

//  Create an empty store that is not yet synced. filtered: the feed is
//  subscribed with a non-empty region prefix (see above). on_store may be NULL.
watch_state_t *
    watch_state_new (bool filtered, watch_state_fn *on_store, void *arg);

//  Switch merged mode (see above) on or off; off by default.
void
    watch_state_set_merged (watch_state_t *self, bool merged);
//  True when the feed is applied by version alone (merged mode).
bool
    watch_state_merged (watch_state_t *self);

//  Destroy the store and null the caller's pointer; harmless on NULL.
void
    watch_state_destroy (watch_state_t **self_p);

//  Start taking a snapshot: from now on feed messages are buffered and
//  snapshot rows are collected. Drops any snapshot already in progress
//  (the messages it buffered are kept).
void
    watch_state_snapshot_begin (watch_state_t *self);

//  One totals row of the snapshot reply; the store takes ownership.
//  Returns WATCH_BUFFERED, or WATCH_REJECTED when no snapshot is in progress
//  or the message is not totals (it is destroyed either way).
watch_verdict_t
    watch_state_snapshot_row (watch_state_t *self, proto_msg_t **msg_p);

//  The snapshot's end: store its rows, then apply the buffered feed messages
//  with seq above `seq`. Returns WATCH_APPLIED when the store is now in step
//  with the feed, WATCH_GAP if the buffered messages reveal a loss (take
//  another snapshot), WATCH_REJECTED when no snapshot was in progress.
watch_verdict_t
    watch_state_snapshot_end (watch_state_t *self, int64_t seq);

//  Give up the snapshot in progress (no answer): its rows are dropped and the
//  buffered feed messages are applied region by region (never going back).
void
    watch_state_snapshot_abort (watch_state_t *self);

//  One feed message (totals or heartbeat); the store takes ownership.
watch_verdict_t
    watch_state_feed (watch_state_t *self, proto_msg_t **msg_p);

//  True once a snapshot has ended and no loss has been seen since.
bool
    watch_state_synced (watch_state_t *self);

//  True while a snapshot is being taken.
bool
    watch_state_taking (watch_state_t *self);

//  The last feed seq applied (or snapshot_end.seq); 0 before the first snapshot.
int64_t
    watch_state_seq (watch_state_t *self);

//  Number of (region, year) entries held.
size_t
    watch_state_size (watch_state_t *self);

//  The i-th entry in (region, year) order, i < watch_state_size; borrowed.
const proto_msg_t *
    watch_state_at (watch_state_t *self, size_t index);

//  The entry for (region, year), or NULL; borrowed.
const proto_msg_t *
    watch_state_lookup (watch_state_t *self, const char *region, int64_t year);

//  The version the store keeps for (region, year), or -1 when absent.
int64_t
    watch_state_version (watch_state_t *self, const char *region, int64_t year);

//  The newest year held, or 0 when empty.
int64_t
    watch_state_newest_year (watch_state_t *self);

#endif
