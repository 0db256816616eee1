/*  scale_kit.c — load clients and feed recorders for the scale suites.

    See scale_kit.h. Everything here speaks the wire protocol through
    proto_msg, over plain czmq sockets, exactly as a third-party reporter or
    subscriber would.
*/
#include "scale_kit.h"

#include <czmq.h>
#include <stdatomic.h>

#include "proto_msg.h"
#include "tt.h"

const char *sk_metric_keys [SK_METRICS] = {
    "projects_planned", "projects_started", "investment_completed", "prep_completion_pct"
};

//  --------------------------------------------------------------------------
//  Client

typedef struct {
    bool in_flight;                 //  sent and not yet answered
    int64_t resend_at;              //  after `unavailable`: when to send again (0: not waiting)
} s_slot_t;

static void
s_client_send (sk_client_t *self, zsock_t *sock, size_t index)
{
    const sk_plan_t *plan = &self->plan [index];
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    msg->has_source = msg->has_seq = true;
    snprintf (msg->source, sizeof msg->source, "%s", self->source);
    msg->seq = (int64_t) index + 1;
    snprintf (msg->region, sizeof msg->region, "%s", plan->region);
    snprintf (msg->as_of, sizeof msg->as_of, "%s", plan->as_of);
    for (int m = 0; m < SK_METRICS; m++)
        proto_msg_add_value (msg, false, sk_metric_keys [m], plan->values [m]);
    size_t size;
    uint8_t *body = proto_msg_encode (msg, &size, NULL);
    proto_msg_destroy (&msg);
    zframe_t *frame = zframe_new (body, size);
    free (body);
    zframe_send (&frame, sock, ZFRAME_DONTWAIT);
}

static zsock_t *
s_client_connect (sk_client_t *self)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, 100000);
    zsock_connect (sock, "%s", self->endpoints [self->endpoint]);
    return sock;
}

static void
s_client_error (sk_client_t *self, const char *format, ...)
{
    if (*self->error)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

static void *
s_client_run (void *arg)
{
    sk_client_t *self = (sk_client_t *) arg;
    s_slot_t *slots = (s_slot_t *) calloc (self->count, sizeof *slots);
    zsock_t *sock = s_client_connect (self);
    zpoller_t *poller = zpoller_new (sock, NULL);
    size_t next = 0, done = 0, in_flight = 0, waiting = 0;
    int64_t last_reply = tt_now_ms ();

    while (done < self->count && tt_now_ms () < self->deadline_ms && !*self->error) {
        int64_t now = tt_now_ms ();
        //  Resend what `unavailable` told us to resend, then new reports.
        for (size_t i = 0; i < next; i++)
            if (slots [i].resend_at && slots [i].resend_at <= now) {
                slots [i].resend_at = 0;
                slots [i].in_flight = true;
                in_flight++;
                waiting--;
                s_client_send (self, sock, i);
            }
        //  Reports waiting to be resent count against the window, as a
        //  reporter's would: an outage does not make it send everything.
        while (next < self->count && (int) (in_flight + waiting) < self->window) {
            slots [next].in_flight = true;
            in_flight++;
            if (in_flight == 1)
                last_reply = now;   //  silence counts from the first report in flight
            s_client_send (self, sock, next++);
        }
        if (!zpoller_wait (poller, 20)) {
            if (zpoller_terminated (poller))
                break;
            if (in_flight > 0 && tt_now_ms () - last_reply > self->silence_ms) {
                //  Silence: the collector may be gone. Move on and resend.
                zpoller_destroy (&poller);
                zsock_destroy (&sock);
                self->endpoint = (self->endpoint + 1) % self->endpoint_count;
                self->failovers++;
                sock = s_client_connect (self);
                poller = zpoller_new (sock, NULL);
                for (size_t i = 0; i < next; i++)
                    if (slots [i].in_flight)
                        s_client_send (self, sock, i);
                last_reply = tt_now_ms ();
            }
            continue;
        }
        zframe_t *frame = zframe_recv (sock);
        if (!frame)
            continue;
        last_reply = tt_now_ms ();
        proto_error_t err;
        proto_msg_t *reply = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
        zframe_destroy (&frame);
        if (!reply) {
            s_client_error (self, "undecodable reply: %s", err.text);
            continue;
        }
        int64_t seq = reply->has_seq ? reply->seq : 0;
        if (seq < 1 || seq > (int64_t) self->count || !streq (reply->source, self->source)) {
            s_client_error (self, "reply for an unknown report: source '%s' seq %" PRId64,
                            reply->source, seq);
            proto_msg_destroy (&reply);
            continue;
        }
        size_t index = (size_t) seq - 1;
        if (!slots [index].in_flight) {
            s_client_error (self, "%s seq %" PRId64 " answered while not in flight (answered twice?)",
                            self->source, seq);
            proto_msg_destroy (&reply);
            continue;
        }
        if (reply->type == PROTO_ACK) {
            if (self->answers [index] != SK_PENDING)
                s_client_error (self, "%s seq %" PRId64 " acked twice", self->source, seq);
            bool stored = streq (reply->status, "stored");
            self->answers [index] = stored ? SK_STORED : SK_DUPLICATE;
            self->acked_at [index] = tt_now_ms ();
            if (stored)
                self->stored++;
            else
                self->duplicates++;
            slots [index].in_flight = false;
            in_flight--;
            done++;
        }
        else
        if (reply->type == PROTO_NACK && reply->code == PROTO_UNAVAILABLE) {
            self->unavailable++;
            int64_t wait = reply->has_retry_ms ? reply->retry_ms : 500;
            slots [index].in_flight = false;
            in_flight--;
            slots [index].resend_at = tt_now_ms () + (wait > 1000 ? 1000 : wait);
            waiting++;
        }
        else
            s_client_error (self, "%s seq %" PRId64 ": unexpected %s %s (%s)", self->source, seq,
                            proto_type_name (reply->type),
                            reply->type == PROTO_NACK ? proto_code_name (reply->code) : "",
                            reply->error ? reply->error : "");
        proto_msg_destroy (&reply);
    }
    if (done < self->count && !*self->error)
        s_client_error (self, "%s: only %zu of %zu reports acked before the deadline",
                        self->source, done, self->count);
    zpoller_destroy (&poller);
    zsock_destroy (&sock);
    free (slots);
    return NULL;
}

void
sk_client_start (sk_client_t *self)
{
    //  czmq's lazy initialisation is not thread-safe (and a Check test runs
    //  in a forked child, which starts it anew): do it here, in the caller.
    zsys_init ();
    self->answers = (sk_answer_t *) calloc (self->count, sizeof *self->answers);
    self->acked_at = (int64_t *) calloc (self->count, sizeof *self->acked_at);
    self->stored = self->duplicates = self->unavailable = self->failovers = 0;
    self->error [0] = 0;
    if (self->window < 1)
        self->window = 1;
    if (self->endpoint_count < 1)
        self->endpoint_count = 1;
    pthread_create (&self->thread, NULL, s_client_run, self);
}

void
sk_client_join (sk_client_t *self)
{
    pthread_join (self->thread, NULL);
}

void
sk_client_free (sk_client_t *self)
{
    free (self->answers);
    free (self->acked_at);
    self->answers = NULL;
    self->acked_at = NULL;
}

size_t
sk_client_acked (const sk_client_t *self)
{
    return self->stored + self->duplicates;
}

//  --------------------------------------------------------------------------
//  Feed recorder

struct sk_recorder_t {
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_bool stop;               //  set to end the thread
    zsock_t *subs [SK_MAX_ENDPOINTS];   //  owned by the thread once started
    int feed_count;
    atomic_int heard;               //  bit per feed: a heartbeat arrived
    sk_totals_t *list;              //  recorded totals (under lock)
    size_t count, cap;
};

static void
s_record (sk_recorder_t *self, int feed, zmsg_t *msg)
{
    char *topic = zmsg_popstr (msg);
    zframe_t *body = zmsg_pop (msg);
    if (topic && body) {
        if (streq (topic, "$hb"))
            atomic_fetch_or (&self->heard, 1 << feed);
        else {
            proto_error_t err;
            proto_msg_t *totals = proto_msg_decode (zframe_data (body), zframe_size (body), 0, &err);
            if (totals && totals->type == PROTO_TOTALS) {
                sk_totals_t entry = { .feed = feed, .year = totals->year, .seq = totals->seq,
                                      .version = totals->has_version ? totals->version : totals->seq };
                snprintf (entry.region, sizeof entry.region, "%s", totals->region);
                for (int m = 0; m < SK_METRICS; m++)
                    if (!proto_msg_value (totals, false, sk_metric_keys [m], &entry.values [m]))
                        entry.values [m] = -1;
                entry.body_size = zframe_size (body);
                entry.body = (uint8_t *) malloc (entry.body_size);
                memcpy (entry.body, zframe_data (body), entry.body_size);
                pthread_mutex_lock (&self->lock);
                if (self->count == self->cap) {
                    self->cap = self->cap ? self->cap * 2 : 1024;
                    self->list = (sk_totals_t *) realloc (self->list, self->cap * sizeof *self->list);
                }
                self->list [self->count++] = entry;
                pthread_mutex_unlock (&self->lock);
            }
            proto_msg_destroy (&totals);
        }
    }
    free (topic);
    zframe_destroy (&body);
}

static void *
s_recorder_run (void *arg)
{
    sk_recorder_t *self = (sk_recorder_t *) arg;
    zpoller_t *poller = zpoller_new (NULL);
    for (int f = 0; f < self->feed_count; f++)
        zpoller_add (poller, self->subs [f]);
    while (!atomic_load (&self->stop)) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 50);
        if (!which)
            continue;
        for (int f = 0; f < self->feed_count; f++)
            if (which == self->subs [f]) {
                zmsg_t *msg = zmsg_recv (which);
                if (msg)
                    s_record (self, f, msg);
                zmsg_destroy (&msg);
            }
    }
    zpoller_destroy (&poller);
    for (int f = 0; f < self->feed_count; f++)
        zsock_destroy (&self->subs [f]);
    return NULL;
}

sk_recorder_t *
sk_recorder_new (const char *const *feeds, int feed_count, const char *topic)
{
    zsys_init ();
    sk_recorder_t *self = (sk_recorder_t *) calloc (1, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->feed_count = feed_count;
    for (int f = 0; f < feed_count; f++) {
        self->subs [f] = zsock_new (ZMQ_SUB);
        zsock_set_rcvhwm (self->subs [f], 0);    //  keep everything: the test needs every message
        zsock_set_subscribe (self->subs [f], topic);
        zsock_set_subscribe (self->subs [f], "$hb");
        zsock_connect (self->subs [f], "%s", feeds [f]);
    }
    pthread_create (&self->thread, NULL, s_recorder_run, self);
    int64_t deadline = tt_now_ms () + 10000;
    while (atomic_load (&self->heard) != (1 << feed_count) - 1) {
        if (tt_now_ms () > deadline) {
            sk_recorder_destroy (&self);
            return NULL;
        }
        zclock_sleep (20);
    }
    return self;
}

void
sk_totals_free (sk_totals_t *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (list [i].body);
    free (list);
}

void
sk_recorder_destroy (sk_recorder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sk_recorder_t *self = *self_p;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    sk_totals_free (self->list, self->count);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

sk_totals_t *
sk_recorder_take (sk_recorder_t *self, size_t *count)
{
    pthread_mutex_lock (&self->lock);
    sk_totals_t *copy = (sk_totals_t *) malloc ((self->count + 1) * sizeof *copy);
    for (size_t i = 0; i < self->count; i++) {
        copy [i] = self->list [i];
        copy [i].body = (uint8_t *) malloc (self->list [i].body_size);
        memcpy (copy [i].body, self->list [i].body, self->list [i].body_size);
    }
    *count = self->count;
    pthread_mutex_unlock (&self->lock);
    return copy;
}

int64_t
sk_recorder_version (sk_recorder_t *self, const char *region)
{
    int64_t version = 0;
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->list [i].region, region) && self->list [i].version > version)
            version = self->list [i].version;
    pthread_mutex_unlock (&self->lock);
    return version;
}
