/*  deliver.h — send the outbox to the collector and act on its verdicts.

    A deliver_t owns one DEALER socket connected to one collector's report
    endpoint (a CURVE client when given keys). It sends queued reports in seq order, at most `window` awaiting
    a verdict at once, and acts on each reply: `ack` (stored or duplicate)
    removes the report from the outbox; a permanent `nack` moves it to
    rejected/ and tells the user; `unavailable`, or no reply within the reply
    timeout, schedules a resend with exponential back-off. ZeroMQ reconnects
    by itself; heartbeats notice a dead peer behind a silent network.

    Given several collectors (sharing one database), it talks to one at a
    time and fails over to the next when the current one falls silent: a
    report in flight got no reply, and nothing at all came back since it
    was sent, within the reply timeout. Everything in flight is then resent
    to the next collector at once; that is safe because (source, seq) makes
    a report idempotent in the shared database (a report the silent one had
    stored is acked `duplicate`). After a whole round of silent collectors
    the resends go back to exponential back-off, still moving round the list.
*/
#ifndef DELIVER_H_INCLUDED
#define DELIVER_H_INCLUDED

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "outbox.h"

#define DELIVER_WINDOW          64      //  reports awaiting a verdict at once
#define DELIVER_REPLY_TIMEOUT   3000    //  ms of silence before a resend (or fail-over)
#define DELIVER_ENDPOINTS_MAX   16      //  collectors in the list

//  Counts since the deliver_t was made.
typedef struct {
    size_t stored;                      //  acked "stored"
    size_t duplicate;                   //  acked "duplicate" (stored before)
    size_t rejected;                    //  permanent nack
    size_t resent;                      //  resends after silence or unavailable
    size_t replies;                     //  replies of any kind received
    size_t failovers;                   //  switches to the next collector
} deliver_stats_t;

//  Where and how to deliver.
typedef struct {
    const char *const *endpoints;       //  collectors' report endpoints, in order of preference
    size_t endpoint_count;              //  1 to DELIVER_ENDPOINTS_MAX
    size_t window;                      //  reports awaiting a verdict (0: DELIVER_WINDOW)
    const char *public_key;             //  our CURVE key pair, Z85 (NULL: plaintext)
    const char *secret_key;
    const char *server_key;             //  the collectors' public key, Z85 (with the pair)
} deliver_options_t;

typedef struct _deliver_t deliver_t;

//  Check options without an outbox: the number of endpoints, the keys, and
//  that ZeroMQ takes every endpoint (a host that is down is not an error).
//  Commands call it before they write to the outbox. Returns 0, or -1 with
//  one sentence in err.
int
    deliver_check (const deliver_options_t *options, char *err, size_t err_size);

//  Connect to the first endpoint (nothing is sent yet). NULL with err
//  filled when an endpoint or key is not usable. Messages about verdicts,
//  outages and fail-overs go to log.
deliver_t *
    deliver_new_with (outbox_t *outbox, const deliver_options_t *options, FILE *log,
                      char *err, size_t err_size);

//  The same for one collector, plaintext.
deliver_t *
    deliver_new (outbox_t *outbox, const char *endpoint, size_t window, FILE *log,
                 char *err, size_t err_size);

//  Close the socket (unsent reports stay in the outbox); nulls the pointer.
void
    deliver_destroy (deliver_t **self_p);

//  Change the reply timeout (ms) and the first back-off step (ms); tests use
//  short ones.
void
    deliver_set_timing (deliver_t *self, int reply_timeout_ms, int backoff_base_ms);

//  Pick up reports queued since the last call (by us or another process).
//  Returns how many reports are now waiting for a verdict.
size_t
    deliver_reload (deliver_t *self);

//  One round: send what the window allows, wait up to wait_ms for replies and
//  act on them, resend what timed out. Returns 0, or -1 when the wait was
//  interrupted by a signal.
int
    deliver_step (deliver_t *self, int wait_ms);

//  Reports known and not yet acked or rejected.
size_t
    deliver_pending (deliver_t *self);

//  Deliver until nothing is pending, deadline_ms (monotonic, zclock_mono) is
//  reached, or *stop becomes non-zero. Returns the number still pending.
size_t
    deliver_until_done (deliver_t *self, int64_t deadline_ms, volatile sig_atomic_t *stop);

const deliver_stats_t *
    deliver_stats (deliver_t *self);

//  The endpoint currently used (borrowed).
const char *
    deliver_endpoint (deliver_t *self);

#endif
