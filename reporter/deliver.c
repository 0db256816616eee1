/*  deliver.c — send the outbox to the collector and act on its verdicts.

    Each report known to us is in one of three states, moved only by
    s_entry_move:

        QUEUED  -- send -->  SENT  -- ack / permanent nack -->  (gone)
                               |  \-- silence / unavailable --> WAITING
        WAITING -- due ----->  SENT

    SENT and WAITING reports make up the window; a QUEUED report is sent only
    when the window has room, so an outage of any length costs at most
    `window` resends per back-off step, not the whole outbox.

    An outage is logged once when it starts and once when it ends, not per
    report. With several collectors, s_fail_over moves to the next one when
    the current one is silent (see deliver.h); it is the only place the
    socket is replaced.
*/
#include "deliver.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "backoff.h"

typedef enum { S_QUEUED, S_SENT, S_WAITING } s_state_t;
typedef enum { S_SEND, S_VERDICT, S_FAILED } s_event_t;

typedef struct {
    outbox_entry_t entry;               //  seq and file
    s_state_t state;
    uint8_t *body;                      //  loaded when it enters the window
    size_t size;
    int failures;                       //  consecutive silences/unavailables
    int64_t due;                        //  SENT: reply expected by; WAITING: resend at
    int64_t sent_at;                    //  SENT: when it went on the wire
} s_item_t;

struct _deliver_t {
    outbox_t *outbox;                   //  where reports come from (borrowed)
    zsock_t *socket;                    //  DEALER to the current collector
    char *endpoints [DELIVER_ENDPOINTS_MAX];    //  the collectors, in order
    size_t endpoint_count;              //  how many
    size_t current;                     //  index of the one we talk to
    char *public_key, *secret_key;      //  our CURVE pair, Z85 (NULL: plaintext)
    char *server_key;                   //  the collectors' public key, Z85
    int64_t last_reply;                 //  mono ms of the last reply (0: none yet)
    size_t silent_switches;             //  fail-overs since the last reply
    FILE *log;                          //  verdicts and outages are told here
    size_t window;                      //  max SENT + WAITING
    zlistx_t *queued;                   //  s_item_t, QUEUED, in seq order
    zlistx_t *flight;                   //  s_item_t, SENT or WAITING
    zhashx_t *known;                    //  seq (as text) of every item we hold
    int reply_timeout;                  //  ms
    int backoff_base;                   //  ms
    uint32_t seed;                      //  back-off jitter state
    int64_t outage_since;               //  when silence began (0 = none)
    bool unavailable_told;              //  "database unavailable" already logged
    deliver_stats_t stats;
};

static int
s_item_compare (s_item_t *left, s_item_t *right)
{
    return left->entry.seq < right->entry.seq ? -1 : left->entry.seq > right->entry.seq;
}

static void
s_item_destroy (s_item_t **item_p)
{
    if (*item_p) {
        free ((*item_p)->body);
        free (*item_p);
        *item_p = NULL;
    }
}

//  A DEALER to endpoint, a CURVE client when public_key is given (with
//  secret_key and server_key); NULL with err filled.
static zsock_t *
s_socket_new (const char *endpoint, const char *public_key, const char *secret_key,
              const char *server_key, char *err, size_t err_size)
{
    zsock_t *socket = zsock_new (ZMQ_DEALER);
    if (!socket) {
        snprintf (err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_linger (socket, 0);
    zsock_set_reconnect_ivl (socket, 100);
    zsock_set_reconnect_ivl_max (socket, 5000);
    zsock_set_heartbeat_ivl (socket, 2000);
    zsock_set_heartbeat_timeout (socket, 6000);
    zsock_set_maxmsgsize (socket, 1024 * 1024);
    if (public_key) {
        zsock_set_curve_publickey (socket, public_key);
        zsock_set_curve_secretkey (socket, secret_key);
        zsock_set_curve_serverkey (socket, server_key);
    }
    if (zsock_connect (socket, "%s", endpoint) == -1) {
        snprintf (err, err_size, "cannot connect to the collector at \"%s\": %s "
                  "(expected e.g. tcp://host:7701)", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&socket);
        return NULL;
    }
    return socket;
}

int
deliver_check (const deliver_options_t *options, char *err, size_t err_size)
{
    assert (options);
    if (options->endpoint_count < 1 || options->endpoint_count > DELIVER_ENDPOINTS_MAX) {
        snprintf (err, err_size, "give 1 to %d collector endpoints, not %zu",
                  DELIVER_ENDPOINTS_MAX, options->endpoint_count);
        return -1;
    }
    if (options->public_key && (!options->secret_key || !options->server_key)) {
        snprintf (err, err_size, "CURVE needs our key pair and the collector's public key");
        return -1;
    }
    //  Connecting sends nothing, and is where ZeroMQ rejects a bad endpoint.
    for (size_t i = 0; i < options->endpoint_count; i++) {
        zsock_t *socket = s_socket_new (options->endpoints [i], options->public_key,
                                        options->secret_key, options->server_key, err, err_size);
        if (!socket)
            return -1;
        zsock_destroy (&socket);
    }
    return 0;
}

deliver_t *
deliver_new_with (outbox_t *outbox, const deliver_options_t *options, FILE *log,
                  char *err, size_t err_size)
{
    assert (outbox && options);
    if (deliver_check (options, err, err_size))
        return NULL;
    deliver_t *self = (deliver_t *) zmalloc (sizeof (deliver_t));
    assert (self);
    self->outbox = outbox;
    self->endpoint_count = options->endpoint_count;
    for (size_t i = 0; i < options->endpoint_count; i++)
        self->endpoints [i] = strdup (options->endpoints [i]);
    if (options->public_key) {
        self->public_key = strdup (options->public_key);
        self->secret_key = strdup (options->secret_key);
        self->server_key = strdup (options->server_key);
    }
    self->log = log ? log : stderr;
    self->window = options->window ? options->window : DELIVER_WINDOW;
    self->queued = zlistx_new ();
    self->flight = zlistx_new ();
    zlistx_set_destructor (self->queued, (zlistx_destructor_fn *) s_item_destroy);
    zlistx_set_destructor (self->flight, (zlistx_destructor_fn *) s_item_destroy);
    zlistx_set_comparator (self->queued, (zlistx_comparator_fn *) s_item_compare);
    zlistx_set_comparator (self->flight, (zlistx_comparator_fn *) s_item_compare);
    self->known = zhashx_new ();
    self->reply_timeout = DELIVER_REPLY_TIMEOUT;
    self->backoff_base = BACKOFF_BASE_MS;
    self->seed = (uint32_t) zclock_time () ^ (uint32_t) getpid ();
    //  Every endpoint was found usable above, not at the first fail-over.
    self->socket = s_socket_new (self->endpoints [0], self->public_key, self->secret_key,
                                 self->server_key, err, err_size);
    if (!self->socket)
        deliver_destroy (&self);
    return self;
}

deliver_t *
deliver_new (outbox_t *outbox, const char *endpoint, size_t window, FILE *log,
             char *err, size_t err_size)
{
    const char *endpoints [1] = { endpoint };
    deliver_options_t options = { .endpoints = endpoints, .endpoint_count = 1, .window = window };
    return deliver_new_with (outbox, &options, log, err, err_size);
}

void
deliver_destroy (deliver_t **self_p)
{
    assert (self_p);
    deliver_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->socket);
    zlistx_destroy (&self->queued);
    zlistx_destroy (&self->flight);
    zhashx_destroy (&self->known);
    for (size_t i = 0; i < self->endpoint_count; i++)
        free (self->endpoints [i]);
    free (self->public_key);
    free (self->secret_key);
    free (self->server_key);
    free (self);
    *self_p = NULL;
}

void
deliver_set_timing (deliver_t *self, int reply_timeout_ms, int backoff_base_ms)
{
    assert (self);
    self->reply_timeout = reply_timeout_ms;
    self->backoff_base = backoff_base_ms;
}

size_t
deliver_reload (deliver_t *self)
{
    assert (self);
    size_t count;
    outbox_entry_t *entries = outbox_pending (self->outbox, &count);
    for (size_t i = 0; i < count; i++) {
        char key [32];
        snprintf (key, sizeof key, "%" PRId64, entries [i].seq);
        if (zhashx_lookup (self->known, key))
            continue;
        s_item_t *item = (s_item_t *) zmalloc (sizeof (s_item_t));
        item->entry = entries [i];
        item->state = S_QUEUED;
        //  Sorted insert, searching from the end: new reports almost always
        //  have the highest seq.
        zlistx_insert (self->queued, item, false);
        zhashx_insert (self->known, key, (void *) 1);
    }
    free (entries);
    return deliver_pending (self);
}

size_t
deliver_pending (deliver_t *self)
{
    assert (self);
    return zlistx_size (self->queued) + zlistx_size (self->flight);
}

const deliver_stats_t *
deliver_stats (deliver_t *self)
{
    assert (self);
    return &self->stats;
}

const char *
deliver_endpoint (deliver_t *self)
{
    assert (self);
    return self->endpoints [self->current];
}

//  Forget an item: it has left the outbox.
static void
s_forget (deliver_t *self, s_item_t *item)
{
    char key [32];
    snprintf (key, sizeof key, "%" PRId64, item->entry.seq);
    zhashx_delete (self->known, key);
    void *handle = zlistx_find (self->flight, item);
    if (handle)
        zlistx_delete (self->flight, handle);
}

//  Try to put an item on the wire; false when it could not go (no room in
//  the socket's queue, or its file is gone).
static bool
s_send (deliver_t *self, s_item_t *item)
{
    if (!item->body) {
        item->body = outbox_load (self->outbox, &item->entry, &item->size);
        if (!item->body)
            return false;
    }
    return zmq_send (zsock_resolve (self->socket), item->body, item->size, ZMQ_DONTWAIT)
           == (int) item->size;
}

//  The one place an item changes state. retry_ms: the collector's floor for
//  the next attempt (S_FAILED only).
static void
s_entry_move (deliver_t *self, s_item_t *item, s_event_t event, int64_t retry_ms)
{
    int64_t now = zclock_mono ();
    switch (event) {
        case S_SEND:
            if (item->state == S_QUEUED) {
                zlistx_detach (self->queued, zlistx_find (self->queued, item));
                zlistx_add_end (self->flight, item);
            }
            else
                self->stats.resent++;
            if (s_send (self, item)) {
                item->state = S_SENT;
                item->due = now + self->reply_timeout;
                item->sent_at = now;
            }
            else
            if (!item->body)
                s_forget (self, item);       //  delivered meanwhile by another process
            else {
                item->failures++;
                item->state = S_WAITING;
                item->due = now + backoff_delay (item->failures, self->backoff_base,
                                                 BACKOFF_CAP_MS, 0, &self->seed);
            }
            break;
        case S_FAILED:
            item->failures++;
            item->state = S_WAITING;
            item->due = now + backoff_delay (item->failures, self->backoff_base,
                                             BACKOFF_CAP_MS, retry_ms, &self->seed);
            break;
        case S_VERDICT:
            s_forget (self, item);
            break;
    }
}

static s_item_t *
s_find_in_flight (deliver_t *self, int64_t seq)
{
    for (s_item_t *item = (s_item_t *) zlistx_first (self->flight); item;
         item = (s_item_t *) zlistx_next (self->flight))
        if (item->entry.seq == seq)
            return item;
    return NULL;
}

static void
s_outage_over (deliver_t *self)
{
    if (self->outage_since) {
        fprintf (self->log, "tally-reporter: collector at %s answering again after %.1f s\n",
                 deliver_endpoint (self), (zclock_mono () - self->outage_since) / 1000.0);
        fflush (self->log);
        self->outage_since = 0;
    }
    self->unavailable_told = false;
}

//  Act on one reply from the collector.
static void
s_handle_reply (deliver_t *self, const uint8_t *data, size_t size)
{
    //  Anything at all shows the collector is alive.
    self->stats.replies++;
    self->last_reply = zclock_mono ();
    self->silent_switches = 0;
    proto_error_t error;
    proto_msg_t *reply = proto_msg_decode (data, size, 0, &error);
    if (!reply) {
        fprintf (self->log, "tally-reporter: ignoring an unreadable reply from the collector: %s\n",
                 error.text);
        return;
    }
    const char *source = outbox_source (self->outbox);
    bool ours = reply->has_source && reply->has_seq && strcmp (reply->source, source) == 0;
    s_item_t *item = ours ? s_find_in_flight (self, reply->seq) : NULL;
    if (reply->type == PROTO_ACK) {
        if (item && item->state == S_SENT) {
            s_outage_over (self);
            if (strcmp (reply->status, "duplicate") == 0)
                self->stats.duplicate++;
            else
                self->stats.stored++;
            if (outbox_delivered (self->outbox, &item->entry) == -1)
                fprintf (self->log, "tally-reporter: cannot remove %s after its ack: %s\n",
                         item->entry.path, strerror (errno));
            s_entry_move (self, item, S_VERDICT, 0);
        }
        //  else: a late ack for a resend we already settled; nothing to do.
    }
    else
    if (reply->type == PROTO_NACK) {
        const char *code = proto_code_name (reply->code);
        const char *text = reply->error ? reply->error : "(no reason given)";
        if (!item) {
            if (!ours)
                fprintf (self->log, "tally-reporter: the collector refused a message it could not "
                         "attribute: %s: %s\n", code, text);
        }
        else
        if (!proto_code_is_permanent (reply->code)) {
            if (!self->unavailable_told) {
                fprintf (self->log, "tally-reporter: collector says %s: %s (reports stay queued "
                         "and are resent with back-off)\n", code, text);
                self->unavailable_told = true;
            }
            s_entry_move (self, item, S_FAILED, reply->has_retry_ms ? reply->retry_ms : 0);
        }
        else {
            //  Permanent: show it, keep it under rejected/, never resend it.
            char where [160] = "";
            proto_msg_t *report = item->body ? proto_msg_decode (item->body, item->size, 0, &error) : NULL;
            if (report)
                snprintf (where, sizeof where, "region %s as of %s", report->region, report->as_of);
            else
                snprintf (where, sizeof where, "seq %" PRId64, item->entry.seq);
            proto_msg_destroy (&report);
            char *reason = zsys_sprintf ("%s (seq %" PRId64 "): %s: %s", where, item->entry.seq,
                                         code, text);
            fprintf (self->log, "tally-reporter: REJECTED %s\n", reason);
            fflush (self->log);
            if (outbox_rejected (self->outbox, &item->entry, reason) == -1)
                fprintf (self->log, "tally-reporter: cannot move %s to rejected/: %s\n",
                         item->entry.path, strerror (errno));
            zstr_free (&reason);
            self->stats.rejected++;
            s_outage_over (self);
            s_entry_move (self, item, S_VERDICT, 0);
        }
    }
    proto_msg_destroy (&reply);
}

//  True when the current collector is silent: a report in flight is past
//  its reply time and nothing at all came back since it was sent.
static bool
s_collector_silent (deliver_t *self, int64_t now)
{
    for (s_item_t *item = (s_item_t *) zlistx_first (self->flight); item;
         item = (s_item_t *) zlistx_next (self->flight))
        if (item->state == S_SENT && now >= item->due && self->last_reply < item->sent_at)
            return true;
    return false;
}

//  Move to the next collector. During the first round of silent collectors
//  what was in flight is resent there at once; after a whole round, with
//  back-off (an outage of every collector).
static void
s_fail_over (deliver_t *self, int64_t now)
{
    const char *from = deliver_endpoint (self);
    char err [600];
    zsock_t *socket = NULL;
    for (size_t tried = 0; !socket && tried < self->endpoint_count; tried++) {
        self->current = (self->current + 1) % self->endpoint_count;
        socket = s_socket_new (deliver_endpoint (self), self->public_key, self->secret_key,
                               self->server_key, err, sizeof err);
        if (!socket)
            fprintf (self->log, "tally-reporter: %s\n", err);
    }
    if (!socket)
        return;                         //  keep the old socket: it still reconnects
    zsock_destroy (&self->socket);
    self->socket = socket;
    self->stats.failovers++;
    self->silent_switches++;
    bool round_done = self->silent_switches >= self->endpoint_count;
    if (!self->outage_since)
        self->outage_since = now - self->reply_timeout;
    if (!round_done)
        fprintf (self->log, "tally-reporter: no reply from the collector at %s for %.1f s; "
                 "trying %s (reports in flight are resent there)\n",
                 from, self->reply_timeout / 1000.0, deliver_endpoint (self));
    else
    if (self->silent_switches == self->endpoint_count)
        fprintf (self->log, "tally-reporter: none of the %zu collectors answers; reports stay "
                 "queued and are resent with back-off, trying each in turn\n", self->endpoint_count);
    fflush (self->log);
    for (s_item_t *item = (s_item_t *) zlistx_first (self->flight); item;
         item = (s_item_t *) zlistx_next (self->flight)) {
        if (!round_done) {
            item->state = S_WAITING;
            item->due = now;
        }
        else
        if (item->state == S_SENT)
            s_entry_move (self, item, S_FAILED, 0);
    }
}

//  Resend what waited long enough, give up waiting on what stayed silent,
//  and fill the window from the queue.
static void
s_send_due (deliver_t *self)
{
    int64_t now = zclock_mono ();
    if (self->endpoint_count > 1 && s_collector_silent (self, now))
        s_fail_over (self, now);
    zlistx_t *due = zlistx_new ();
    for (s_item_t *item = (s_item_t *) zlistx_first (self->flight); item;
         item = (s_item_t *) zlistx_next (self->flight)) {
        if (item->state == S_SENT && now >= item->due) {
            if (!self->outage_since) {
                self->outage_since = now - self->reply_timeout;
                fprintf (self->log, "tally-reporter: no reply from the collector at %s for %.1f s; "
                         "reports stay queued and are resent with back-off%s\n",
                         deliver_endpoint (self), self->reply_timeout / 1000.0,
                         self->stats.replies ? ""
                         : self->public_key ? " (no reply at all yet: does the collector know our key, "
                                              "and is --server-key its public key?)"
                         : " (no reply at all yet: is the collector running, and does it need "
                           "--server-key/--key?)");
                fflush (self->log);
            }
            s_entry_move (self, item, S_FAILED, 0);
        }
        else
        if (item->state == S_WAITING && now >= item->due)
            zlistx_add_end (due, item);
    }
    for (s_item_t *item = (s_item_t *) zlistx_first (due); item; item = (s_item_t *) zlistx_next (due))
        s_entry_move (self, item, S_SEND, 0);
    zlistx_destroy (&due);
    while (zlistx_size (self->flight) < self->window && zlistx_size (self->queued) > 0) {
        s_item_t *item = (s_item_t *) zlistx_first (self->queued);
        s_entry_move (self, item, S_SEND, 0);
    }
}

//  ms until the next thing we must do on our own (a resend or a timeout).
static int64_t
s_next_due (deliver_t *self)
{
    int64_t next = -1;
    for (s_item_t *item = (s_item_t *) zlistx_first (self->flight); item;
         item = (s_item_t *) zlistx_next (self->flight))
        if (next < 0 || item->due < next)
            next = item->due;
    if (next < 0)
        return -1;
    int64_t wait = next - zclock_mono ();
    return wait < 0 ? 0 : wait;
}

int
deliver_step (deliver_t *self, int wait_ms)
{
    assert (self);
    s_send_due (self);
    int64_t wait = s_next_due (self);
    if (wait < 0 || wait > wait_ms)
        wait = wait_ms;
    zmq_pollitem_t item = { zsock_resolve (self->socket), 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll (&item, 1, (long) wait);
    if (rc == -1)
        return errno == EINTR ? -1 : 0;
    while (rc > 0) {
        zmq_msg_t message;
        zmq_msg_init (&message);
        if (zmq_msg_recv (&message, zsock_resolve (self->socket), ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&message);
            break;
        }
        //  A DEALER reply is one frame; skip an empty delimiter a REQ-style
        //  peer might add, and any extra frames.
        if (zmq_msg_size (&message) > 0)
            s_handle_reply (self, (const uint8_t *) zmq_msg_data (&message), zmq_msg_size (&message));
        zmq_msg_close (&message);
    }
    s_send_due (self);
    return 0;
}

size_t
deliver_until_done (deliver_t *self, int64_t deadline_ms, volatile sig_atomic_t *stop)
{
    assert (self);
    deliver_reload (self);
    while (deliver_pending (self) > 0 && !(stop && *stop)) {
        int64_t left = deadline_ms - zclock_mono ();
        if (left <= 0)
            break;
        deliver_step (self, left > 200 ? 200 : (int) left);
    }
    outbox_tidy (self->outbox);
    return deliver_pending (self);
}
