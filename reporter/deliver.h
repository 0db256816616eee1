/*  deliver.h — send the outbox to the collector and act on its verdicts.

    A deliver_t owns one DEALER socket connected to the collector's report
    endpoint. It sends queued reports in seq order, at most `window` awaiting
    a verdict at once, and acts on each reply: `ack` (stored or duplicate)
    removes the report from the outbox; a permanent `nack` moves it to
    rejected/ and tells the user; `unavailable`, or no reply within the reply
    timeout, schedules a resend with exponential back-off. ZeroMQ reconnects
    by itself; heartbeats notice a dead peer behind a silent network.
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
#define DELIVER_REPLY_TIMEOUT   3000    //  ms of silence before a resend

//  Counts since the deliver_t was made.
typedef struct {
    size_t stored;                      //  acked "stored"
    size_t duplicate;                   //  acked "duplicate" (stored before)
    size_t rejected;                    //  permanent nack
    size_t resent;                      //  resends after silence or unavailable
} deliver_stats_t;

typedef struct _deliver_t deliver_t;

//  Connect to endpoint (nothing is sent yet). NULL with err filled when the
//  endpoint is not usable. Messages about verdicts and outages go to log.
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

#endif
