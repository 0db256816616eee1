/*  outbox.h — the durable on-disk queue of reports waiting for the collector.

    An outbox is a folder owned by one reporter identity. It holds:

        source              the reporter's `source` id, a UUID made once
        next_seq            the next seq to hand out (never goes back)
        lock                flock()ed while the folder is changed
        staging/            batches being written (a crash leaves debris here,
                            removed on the next open: never visible as queued)
        queue/B<seq>/       one published batch: what one `send` queued
            <seq>.msg       a report, exactly the MessagePack body sent
            batch           digest, time queued, count, first seq
        inputs/<digest>     "queued_at_ms count first_seq": inputs queued before
        rejected/<seq>.msg  a report the collector refused for good...
        rejected/<seq>.txt  ...and why (code and the collector's sentence)

    Queueing is all-or-nothing and never reuses a seq, even across kill -9 or
    power loss: the seq counter is made durable first, the batch is written
    and fsynced under staging/, then published with a single rename into
    queue/ (and the folder fsynced); the input's digest travels inside the
    batch, so a crash between publishing and recording the digest is repaired
    on the next open. A report leaves queue/ on ack (deleted) or permanent nack
    (moved to rejected/).
*/
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto_msg.h"

typedef struct _outbox_t outbox_t;

//  One report waiting in the queue.
typedef struct {
    int64_t seq;                        //  its seq
    char path [1100];                   //  its file, queue/B.../<seq>.msg
} outbox_entry_t;

//  What outbox_queue did with an input.
typedef struct {
    int64_t first_seq;                  //  seq of the first report queued
    size_t count;                       //  how many reports
    int64_t queued_at;                  //  when (ms since the epoch)
} outbox_receipt_t;

#define OUTBOX_QUEUED       0           //  outbox_queue: queued now
#define OUTBOX_ALREADY      1           //  outbox_queue: this input was queued before

//  Open the outbox in dir, creating it (and its source id) if needed, and
//  clear what an interrupted writer left behind. NULL on error, with the
//  reason in err.
outbox_t *
    outbox_new (const char *dir, char *err, size_t err_size);

//  Open the outbox in dir only if it exists (holds a source id), creating
//  nothing: for commands that read or deliver an outbox but queue nothing.
//  NULL with "no outbox at DIR (...)" or another reason in err.
outbox_t *
    outbox_open (const char *dir, char *err, size_t err_size);

//  Close the outbox; nulls the pointer.
void
    outbox_destroy (outbox_t **self_p);

//  The reporter's source id (UUID) and the folder.
const char *
    outbox_source (outbox_t *self);
const char *
    outbox_dir (outbox_t *self);

//  The default folder: $XDG_STATE_HOME/tally/outbox, else
//  ~/.local/state/tally/outbox. Caller frees.
char *
    outbox_default_dir (void);

//  Queue reports (given region, as_of, values, note; source and seq are set
//  here) as one batch, all or nothing. Unless again is true, an input whose
//  digest was queued before is not queued twice: returns OUTBOX_ALREADY with
//  the earlier receipt. Returns OUTBOX_QUEUED, OUTBOX_ALREADY or -1 (err).
int
    outbox_queue (outbox_t *self, proto_msg_t **reports, size_t count, const char *digest,
                  bool again, outbox_receipt_t *receipt, char *err, size_t err_size);

//  The reports waiting, in seq order: an array the caller frees, *count set.
outbox_entry_t *
    outbox_pending (outbox_t *self, size_t *count);

//  Read a queued report's body; caller frees. NULL if it is gone (delivered
//  meanwhile by another process) or unreadable.
uint8_t *
    outbox_load (outbox_t *self, const outbox_entry_t *entry, size_t *size);

//  The collector acked it: remove it. 0, or -1 if it could not be removed.
int
    outbox_delivered (outbox_t *self, const outbox_entry_t *entry);

//  The collector refused it for good: keep it under rejected/ with the reason
//  (one line). 0 or -1.
int
    outbox_rejected (outbox_t *self, const outbox_entry_t *entry, const char *reason);

//  Remove batches whose reports have all left. Safe to call at any time.
void
    outbox_tidy (outbox_t *self);

//  Print what is queued and what was rejected, for `tally-reporter status`.
//  Returns the number of reports queued.
size_t
    outbox_print_status (outbox_t *self, FILE *out);

//  Number of reports under rejected/.
size_t
    outbox_rejected_count (outbox_t *self);

//  Test hook: make outbox_queue end the process with _exit(77) at step
//  `point` (1.. OUTBOX_CRASH_POINTS), as kill -9 would; 0 disables.
#define OUTBOX_CRASH_POINTS 8
void
    outbox_set_crash_point (outbox_t *self, int point);

#endif
