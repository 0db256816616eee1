/*  watch_feed.c — the watch's sockets: feed subscription, snapshots, watchdog.

    See watch_feed.h. One loop polls the SUBs and, while a snapshot is being
    taken, its DEALER; between events it checks three clocks: the heartbeat
    watchdog (per feed), the snapshot deadline, and when to try a snapshot
    again.
*/
#include "watch_feed.h"

#include <assert.h>
#include <czmq.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "watch_table.h"

#define S_TICK_MS           250         //  on_wake at least this often
#define S_RETRY_MS          1000        //  wait after a snapshot went unanswered
#define S_VERIFY_MS         2000        //  filtered feeds: verify at most this often
#define S_PROBE_MS          2000        //  at most this long for the unfiltered probe
#define S_PING_MS           1000        //  at most this long for a ping

//  One collector's feed.
typedef struct {
    char *endpoint;                     //  where it publishes
    zsock_t *sub;                       //  our subscription (while running)
    int64_t last_heard;                 //  mono ms of its last message
    int64_t last_seq;                   //  highest seq it sent us, or a snapshot covered
    int64_t totals_seq;                 //  seq of the last totals received on this SUB
    bool silent;                        //  no heartbeat on it for too long
} s_feed_t;

struct _watch_feed_t {
    s_feed_t feeds [WATCH_FEED_MAX];    //  the collectors' feeds
    size_t feed_count;                  //  how many (1 in the usual case)
    char *feed_ep;                      //  the feeds' endpoints, for messages
    char *query_eps [WATCH_FEED_MAX];   //  where snapshots are answered
    size_t query_count;
    size_t query_current;               //  the one asked now
    char *query_ep;                     //  = query_eps [query_current]
    char *public_key, *secret_key;      //  our CURVE pair (NULL: plaintext)
    char *server_key;                   //  the collectors' public key
    bool feed_curve;                    //  CURVE on the SUBs too
    char *prefix;                       //  region prefix ("" = all)
    int64_t year;                       //  0 = newest with data
    int timeout_ms;                     //  one snapshot's allowance
    bool log;                           //  events to stderr (JSON and line modes)
    watch_state_t *state;               //  the store (borrowed)
    zsock_t *dealer;                    //  the snapshot in progress, or NULL
    zpoller_t *poller;                  //  sub, and dealer while taking
    int64_t snapshot_deadline;          //  mono ms: give the snapshot up
    int64_t retry_at;                   //  mono ms: earliest next snapshot
    bool want_snapshot;                 //  take one as soon as allowed
    bool quiet;                         //  the current snapshot is a routine check
    int64_t last_heard;                 //  mono ms of the last feed message (any feed)
    bool heard_any;                     //  some feed delivered a message since start
    int64_t last_heard_wall;            //  the same, wall clock ms
    int64_t last_update_wall;           //  wall ms of the last totals applied
    int64_t last_verify;                //  mono ms of the last verification snapshot
    bool silent;                        //  no heartbeat on any feed for too long
    int64_t snapshots;                  //  snapshots completed
    char reason [160];                  //  why the current snapshot is taken
    char problem [256];                 //  the last thing that went wrong, or ""
    char silent_hint [320];             //  what to check while silent, or ""
    char no_match [512];                //  why nothing matches prefix and year, or ""
    int64_t bad_messages;               //  undecodable feed messages ignored
    char status [512];                  //  the status line
};

//  Wall-clock HH:MM:SS.
static void
s_clock (int64_t wall_ms, char *buffer, size_t size)
{
    time_t secs = (time_t) (wall_ms / 1000);
    struct tm tm;
    if (wall_ms <= 0 || !localtime_r (&secs, &tm))
        snprintf (buffer, size, "--:--:--");
    else
        strftime (buffer, size, "%H:%M:%S", &tm);
}

static void
s_update_status (watch_feed_t *self)
{
    char heard [16], updated [16];
    s_clock (self->last_heard_wall, heard, sizeof heard);
    s_clock (self->last_update_wall, updated, sizeof updated);
    if (self->silent)
        snprintf (self->status, sizeof self->status,
                  "采集服务无响应  collector silent since %s (%s); figures shown may be stale%s",
                  heard, self->feed_ep, self->silent_hint);
    else
    if (self->dealer && !self->quiet)
        snprintf (self->status, sizeof self->status,
                  "正在同步  taking a snapshot from %s: %s", self->query_ep, self->reason);
    else
    if (*self->problem)
        snprintf (self->status, sizeof self->status, "%s", self->problem);
    else
    if (watch_state_synced (self->state))
        snprintf (self->status, sizeof self->status,
                  "实时  live, seq %lld, last update received %s",
                  (long long) watch_state_seq (self->state),
                  self->last_update_wall ? updated : "--:--:--");
    else
        snprintf (self->status, sizeof self->status, "connecting to %s", self->feed_ep);
    if (!self->silent && self->feed_count > 1) {
        size_t quiet = 0;
        for (size_t i = 0; i < self->feed_count; i++)
            quiet += self->feeds [i].silent;
        size_t len = strlen (self->status);
        if (quiet)
            snprintf (self->status + len, sizeof self->status - len,
                      "  [%zu of %zu feeds silent]", quiet, self->feed_count);
    }
    if (self->bad_messages > 0) {
        size_t len = strlen (self->status);
        snprintf (self->status + len, sizeof self->status - len,
                  "  [%lld undecodable feed messages ignored]", (long long) self->bad_messages);
    }
}

//  Make sock a CURVE client when we have keys.
static void
s_apply_curve (watch_feed_t *self, zsock_t *sock)
{
    if (!self->public_key)
        return;
    zsock_set_curve_publickey (sock, self->public_key);
    zsock_set_curve_secretkey (sock, self->secret_key);
    zsock_set_curve_serverkey (sock, self->server_key);
}

//  Ask the next query endpoint from now on.
static void
s_next_query (watch_feed_t *self)
{
    self->query_current = (self->query_current + 1) % self->query_count;
    self->query_ep = self->query_eps [self->query_current];
}

static void
s_drop_dealer (watch_feed_t *self)
{
    if (!self->dealer)
        return;
    if (self->poller)
        zpoller_remove (self->poller, self->dealer);
    zsock_destroy (&self->dealer);
}

//  A new DEALER to the current query endpoint with request sent on it (the
//  request is destroyed), or NULL with err filled.
static zsock_t *
s_request (watch_feed_t *self, proto_msg_t **request_p, char *err, size_t err_size)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    s_apply_curve (self, dealer);
    if (zsock_connect (dealer, "%s", self->query_ep)) {
        snprintf (err, err_size, "cannot connect to the query endpoint '%s': %s",
                  self->query_ep, zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        proto_msg_destroy (request_p);
        return NULL;
    }
    proto_error_t perr;
    size_t size;
    uint8_t *body = proto_msg_encode (*request_p, &size, &perr);
    proto_msg_destroy (request_p);
    if (!body) {
        snprintf (err, err_size, "cannot encode the request: %s", perr.text);
        zsock_destroy (&dealer);
        return NULL;
    }
    zframe_t *frame = zframe_new (body, size);
    free (body);
    zframe_send (&frame, dealer, ZFRAME_DONTWAIT);
    zframe_destroy (&frame);
    return dealer;
}

//  A new DEALER with a snapshot request for prefix and year sent on it, or
//  NULL with err filled.
static zsock_t *
s_request_snapshot (watch_feed_t *self, const char *prefix, int64_t year, char *err, size_t err_size)
{
    proto_msg_t *request = proto_msg_new (PROTO_SNAPSHOT);
    snprintf (request->prefix, sizeof request->prefix, "%s", prefix);
    request->has_year = year > 0;
    request->year = year;
    return s_request (self, &request, err, err_size);
}

//  True when the current query endpoint answers a ping within wait_ms.
static bool
s_ping (watch_feed_t *self, int wait_ms)
{
    char err [256];
    proto_msg_t *request = proto_msg_new (PROTO_PING);
    zsock_t *dealer = s_request (self, &request, err, sizeof err);
    if (!dealer)
        return false;
    bool pong = false;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    if (zpoller_wait (poller, wait_ms)) {
        zframe_t *frame = zframe_recv (dealer);
        proto_error_t perr;
        proto_msg_t *msg = frame ? proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &perr)
                                 : NULL;
        zframe_destroy (&frame);
        pong = msg && msg->type == PROTO_PONG;
        proto_msg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return pong;
}

//  Ask for a snapshot over a new DEALER. Returns 0 or -1 with err filled.
static int
s_snapshot_send (watch_feed_t *self, char *err, size_t err_size)
{
    s_drop_dealer (self);
    self->dealer = s_request_snapshot (self, self->prefix, self->year, err, err_size);
    if (!self->dealer)
        return -1;
    watch_state_snapshot_begin (self->state);
    self->snapshot_deadline = zclock_mono () + self->timeout_ms;
    if (self->poller)
        zpoller_add (self->poller, self->dealer);
    return 0;
}

//  True when the store holds something for the year asked for (any year
//  when none was): what the outputs would show.
static bool
s_has_wanted (watch_feed_t *self)
{
    size_t size = watch_state_size (self->state);
    if (self->year == 0)
        return size > 0;
    for (size_t i = 0; i < size; i++)
        if (watch_state_at (self->state, i)->year == self->year)
            return true;
    return false;
}

//  An unfiltered snapshot (every region, newest year) into a store of its
//  own, so that an empty filtered one can say why; the feed's store is not
//  touched. Returns the store, or NULL when the collector did not answer
//  within S_PROBE_MS (or the timeout, if shorter).
static watch_state_t *
s_probe (watch_feed_t *self)
{
    char err [256];
    zsock_t *dealer = s_request_snapshot (self, "", 0, err, sizeof err);
    if (!dealer)
        return NULL;
    watch_state_t *all = watch_state_new (false, NULL, NULL);
    watch_state_snapshot_begin (all);
    int64_t deadline = zclock_mono () + (self->timeout_ms < S_PROBE_MS ? self->timeout_ms : S_PROBE_MS);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    bool done = false;
    while (!done && !zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || !zpoller_wait (poller, (int) left))
            break;
        zframe_t *frame = zframe_recv (dealer);
        proto_error_t perr;
        proto_msg_t *msg = frame ? proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &perr)
                                 : NULL;
        zframe_destroy (&frame);
        if (!msg)
            break;
        if (msg->type == PROTO_TOTALS)
            watch_state_snapshot_row (all, &msg);
        else {
            done = msg->type == PROTO_SNAPSHOT_END;
            if (done)
                watch_state_snapshot_end (all, msg->seq);
            proto_msg_destroy (&msg);
            if (!done)
                break;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    if (!done)
        watch_state_destroy (&all);
    return all;
}

//  After a snapshot: when nothing in it matches the prefix and year but the
//  collector has totals, say so (once on stderr when logging), so that a
//  wrong --prefix or --year does not look like "no data yet".
static void
s_explain_empty (watch_feed_t *self)
{
    if (s_has_wanted (self) || (!*self->prefix && !self->year)) {
        self->no_match [0] = 0;
        return;
    }
    watch_state_t *all = s_probe (self);
    char why [sizeof self->no_match] = "";
    if (all && watch_table_no_match (all, self->prefix, self->year, why, sizeof why))
        why [0] = 0;
    watch_state_destroy (&all);
    if (self->log && *why && strcmp (why, self->no_match) != 0)
        fprintf (stderr, "tally-watch: %s\n", why);
    snprintf (self->no_match, sizeof self->no_match, "%s", why);
}

//  One reply on the DEALER. Returns 1 when the snapshot is complete, 0 when
//  more is expected, -1 with err filled when the collector refused it.
static int
s_snapshot_recv (watch_feed_t *self, char *err, size_t err_size)
{
    zframe_t *frame = zframe_recv (self->dealer);
    if (!frame)
        return 0;
    proto_error_t perr;
    proto_msg_t *msg = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &perr);
    zframe_destroy (&frame);
    if (!msg) {
        snprintf (err, err_size, "the collector's snapshot reply could not be read: %s", perr.text);
        return -1;
    }
    int rc = 0;
    if (msg->type == PROTO_TOTALS)
        watch_state_snapshot_row (self->state, &msg);
    else
    if (msg->type == PROTO_SNAPSHOT_END) {
        watch_verdict_t verdict = watch_state_snapshot_end (self->state, msg->seq);
        //  Whatever any feed published up to the snapshot's seq is in it.
        for (size_t i = 0; i < self->feed_count; i++)
            if (self->feeds [i].last_seq < msg->seq)
                self->feeds [i].last_seq = msg->seq;
        self->snapshots++;
        s_drop_dealer (self);
        if (!self->quiet)
            s_explain_empty (self);
        else
        if (*self->no_match && s_has_wanted (self))
            self->no_match [0] = 0;
        if (verdict == WATCH_GAP) {
            self->want_snapshot = true;
            snprintf (self->reason, sizeof self->reason,
                      "a feed message was lost while the last snapshot was taken");
        }
        rc = 1;
    }
    else
    if (msg->type == PROTO_NACK) {
        snprintf (err, err_size, "the collector refused the snapshot (%s): %s",
                  proto_code_name (msg->code), msg->error ? msg->error : "no reason given");
        rc = -1;
    }
    else {
        snprintf (err, err_size, "the collector answered the snapshot with an unexpected '%s'",
                  proto_type_name (msg->type));
        rc = -1;
    }
    proto_msg_destroy (&msg);
    return rc;
}

//  Start a snapshot now, saying why.
static void
s_start_snapshot (watch_feed_t *self, bool quiet, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->reason, sizeof self->reason, format, args);
    va_end (args);
    self->quiet = quiet;
    self->want_snapshot = false;
    if (self->log && !quiet && self->snapshots > 0)
        fprintf (stderr, "tally-watch: taking a fresh snapshot: %s\n", self->reason);
    if (s_snapshot_send (self, self->problem, sizeof self->problem)) {
        watch_state_snapshot_abort (self->state);
        self->retry_at = zclock_mono () + S_RETRY_MS;
        self->want_snapshot = true;
    }
}

//  One message from a feed.
static void
s_feed_recv (watch_feed_t *self, s_feed_t *feed)
{
    zmsg_t *zmsg = zmsg_recv (feed->sub);
    if (!zmsg)
        return;
    zframe_t *topic = zmsg_first (zmsg);
    zframe_t *body = zmsg_next (zmsg);
    proto_error_t perr;
    proto_msg_t *msg = topic && body
        ? proto_msg_decode (zframe_data (body), zframe_size (body), 0, &perr) : NULL;
    zmsg_destroy (&zmsg);
    if (!msg || (msg->type != PROTO_TOTALS && msg->type != PROTO_HEARTBEAT)) {
        self->bad_messages++;
        proto_msg_destroy (&msg);
        return;
    }
    int64_t now = zclock_mono ();
    bool merged = self->feed_count > 1 || watch_state_merged (self->state);
    self->last_heard = feed->last_heard = now;
    self->last_heard_wall = zclock_time ();
    self->silent = false;
    self->heard_any = true;
    self->silent_hint [0] = 0;
    if (*self->no_match && s_has_wanted (self))
        self->no_match [0] = 0;         //  totals that match have arrived
    if (feed->silent) {
        //  Whatever it published meanwhile is gone: start over from a
        //  snapshot, with this message as the first one buffered.
        char since [16];
        s_clock (self->last_heard_wall, since, sizeof since);
        feed->silent = false;
        if (!self->dealer) {
            if (merged)
                s_start_snapshot (self, false, "the collector is back on %s (%s)", feed->endpoint, since);
            else
                s_start_snapshot (self, false, "the collector is back (%s)", since);
        }
    }
    bool totals = msg->type == PROTO_TOTALS;
    int64_t seq = msg->seq, last = watch_state_seq (self->state);
    //  One collector's totals come on one connection with growing seqs
    //  (PROTOCOL.md), so a seq that goes back on the same SUB proves that
    //  several collectors' feeds come through it (tally-feedproxy): from
    //  now on apply by version, as with one --feed per collector. (Against
    //  the snapshot's seq it would prove nothing: the snapshot comes on
    //  another connection, and may overtake the feed.)
    if (totals && !merged && feed->totals_seq > 0 && seq < feed->totals_seq) {
        watch_state_set_merged (self->state, true);
        merged = true;
        if (self->log)
            fprintf (stderr, "tally-watch: seq %lld arrived after %lld on %s: several collectors' "
                     "feeds come through it (tally-feedproxy?); applying each region's newest "
                     "version\n", (long long) seq, (long long) feed->totals_seq, feed->endpoint);
    }
    if (totals)
        feed->totals_seq = seq;
    if (merged && !totals && seq > feed->last_seq && !self->dealer
    &&  watch_state_synced (self->state) && !watch_state_taking (self->state))
        //  This collector published something that never reached us.
        s_start_snapshot (self, false, "lost feed message(s) on %s: heartbeat says seq %lld, "
                          "last seen there %lld", feed->endpoint, (long long) seq,
                          (long long) feed->last_seq);
    if (seq > feed->last_seq)
        feed->last_seq = seq;
    watch_verdict_t verdict = watch_state_feed (self->state, &msg);
    if (verdict == WATCH_APPLIED || (verdict == WATCH_GAP && totals))
        self->last_update_wall = self->last_heard_wall;
    if (verdict == WATCH_GAP && !self->dealer) {
        if (totals)
            s_start_snapshot (self, false, "lost feed message(s): seq %lld arrived after %lld",
                              (long long) seq, (long long) last);
        else
            s_start_snapshot (self, false, "lost feed message(s): heartbeat says seq %lld, last applied %lld",
                              (long long) seq, (long long) last);
    }
    else
    if (verdict == WATCH_VERIFY && !self->dealer && now - self->last_verify >= S_VERIFY_MS) {
        self->last_verify = now;
        s_start_snapshot (self, true, "checking the filtered feed against seq %lld", (long long) seq);
    }
}

//  What to check when no feed has delivered anything since start although
//  the query endpoint answers (a ping, now): the collector is up, so the
//  subscription itself is wrong. A plaintext SUB and a CURVE feed (or the
//  other way round) never meet, and neither side says why.
static void
s_silent_hint (watch_feed_t *self)
{
    self->silent_hint [0] = 0;
    if (self->heard_any || !s_ping (self, self->timeout_ms < S_PING_MS ? self->timeout_ms : S_PING_MS))
        return;
    if (self->public_key && !self->feed_curve)
        snprintf (self->silent_hint, sizeof self->silent_hint,
                  "; yet %s answers: if the collector runs with --feed-curve, "
                  "add --feed-curve (with --server-key and --key)", self->query_ep);
    else
    if (self->feed_curve)
        snprintf (self->silent_hint, sizeof self->silent_hint,
                  "; yet %s answers: if the collector runs without --feed-curve, "
                  "leave --feed-curve out; else check --feed", self->query_ep);
    else
        snprintf (self->silent_hint, sizeof self->silent_hint,
                  "; yet %s answers: check that --feed is that collector's feed endpoint",
                  self->query_ep);
}

//  The clocks: watchdog, snapshot deadline, retries.
static void
s_check_clocks (watch_feed_t *self)
{
    int64_t now = zclock_mono ();
    bool all_silent = true;
    for (size_t i = 0; i < self->feed_count; i++) {
        s_feed_t *feed = &self->feeds [i];
        if (!feed->silent && now - feed->last_heard > WATCH_FEED_SILENCE_MS) {
            feed->silent = true;
            if (self->log && self->feed_count > 1)
                fprintf (stderr, "tally-watch: no heartbeat on %s for %d s\n", feed->endpoint,
                         WATCH_FEED_SILENCE_MS / 1000);
        }
        all_silent = all_silent && feed->silent;
    }
    if (!self->silent && all_silent) {
        self->silent = true;
        if (!self->last_heard_wall)
            self->last_heard_wall = zclock_time () - WATCH_FEED_SILENCE_MS;
        s_silent_hint (self);
        if (self->log) {
            char since [16];
            s_clock (self->last_heard_wall, since, sizeof since);
            fprintf (stderr, "tally-watch: collector silent since %s (no heartbeat on %s)%s\n",
                     since, self->feed_ep, self->silent_hint);
        }
    }
    if (self->dealer && now >= self->snapshot_deadline) {
        s_drop_dealer (self);
        watch_state_snapshot_abort (self->state);
        snprintf (self->problem, sizeof self->problem,
                  "查询无应答  no snapshot from %s within %d ms; retrying%s%s",
                  self->query_ep, self->timeout_ms, self->query_count > 1 ? " on " : "",
                  self->query_count > 1 ? self->query_eps [(self->query_current + 1) % self->query_count] : "");
        s_next_query (self);
        self->retry_at = now + S_RETRY_MS;
        self->want_snapshot = true;
        if (self->log)
            fprintf (stderr, "tally-watch: %s\n", self->problem);
    }
    if (!self->dealer && !self->silent && self->want_snapshot && now >= self->retry_at)
        s_start_snapshot (self, false, "%s", *self->reason ? self->reason : "start");
}

//  Endpoints joined with ", " (caller frees).
static char *
s_join (char *const *items, size_t count)
{
    size_t length = 1;
    for (size_t i = 0; i < count; i++)
        length += strlen (items [i]) + 2;
    char *text = calloc (1, length);
    assert (text);
    for (size_t i = 0; i < count; i++) {
        if (i)
            strcat (text, ", ");
        strcat (text, items [i]);
    }
    return text;
}

watch_feed_t *
watch_feed_new (const watch_feed_config_t *config, watch_state_t *state)
{
    assert (config && state);
    watch_feed_t *self = calloc (1, sizeof *self);
    assert (self);
    const char *const *feeds = config->feed_count ? config->feed_eps : &config->feed_ep;
    size_t feed_count = config->feed_count ? config->feed_count : 1;
    assert (feed_count <= WATCH_FEED_MAX);
    char *names [WATCH_FEED_MAX];
    for (size_t i = 0; i < feed_count; i++)
        names [i] = self->feeds [i].endpoint = strdup (feeds [i]);
    self->feed_count = feed_count;
    self->feed_ep = s_join (names, feed_count);
    const char *const *queries = config->query_count ? config->query_eps : &config->query_ep;
    self->query_count = config->query_count ? config->query_count : 1;
    assert (self->query_count <= WATCH_FEED_MAX);
    for (size_t i = 0; i < self->query_count; i++)
        self->query_eps [i] = strdup (queries [i]);
    self->query_ep = self->query_eps [0];
    if (config->public_key) {
        self->public_key = strdup (config->public_key);
        self->secret_key = strdup (config->secret_key);
        self->server_key = strdup (config->server_key);
        self->feed_curve = config->feed_curve;
    }
    self->prefix = strdup (config->prefix ? config->prefix : "");
    self->year = config->year;
    self->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : 5000;
    self->log = config->log;
    self->state = state;
    return self;
}

void
watch_feed_destroy (watch_feed_t **self_p)
{
    assert (self_p);
    watch_feed_t *self = *self_p;
    if (!self)
        return;
    s_drop_dealer (self);
    zpoller_destroy (&self->poller);
    for (size_t i = 0; i < self->feed_count; i++) {
        zsock_destroy (&self->feeds [i].sub);
        free (self->feeds [i].endpoint);
    }
    for (size_t i = 0; i < self->query_count; i++)
        free (self->query_eps [i]);
    free (self->feed_ep);
    free (self->public_key);
    free (self->secret_key);
    free (self->server_key);
    free (self->prefix);
    free (self);
    *self_p = NULL;
}

//  One snapshot from the current query endpoint, without the feed.
static int
s_snapshot_once (watch_feed_t *self, char *err, size_t err_size)
{
    if (s_snapshot_send (self, err, err_size))
        return -1;
    while (true) {
        int64_t left = self->snapshot_deadline - zclock_mono ();
        if (left <= 0 || zsys_interrupted)
            break;
        zpoller_t *poller = zpoller_new (self->dealer, NULL);
        void *which = zpoller_wait (poller, (int) left);
        zpoller_destroy (&poller);
        if (!which)
            continue;
        int rc = s_snapshot_recv (self, err, err_size);
        if (rc < 0) {
            s_drop_dealer (self);
            watch_state_snapshot_abort (self->state);
            return -1;
        }
        if (rc == 1)
            return 0;
    }
    s_drop_dealer (self);
    watch_state_snapshot_abort (self->state);
    snprintf (err, err_size, "the collector did not answer a snapshot request on %s within %.1f s"
              " (is tally-collector running, and is --query right?%s)",
              self->query_ep, self->timeout_ms / 1000.0,
              self->public_key ? " Does it know our --key, and is --server-key its public key?"
                               : " With CURVE it answers only clients with --server-key and --key.");
    return -1;
}

int
watch_feed_snapshot (watch_feed_t *self, char *err, size_t err_size)
{
    assert (self);
    //  Each query endpoint in turn, until one answers.
    int rc = -1;
    for (size_t tried = 0; rc && tried < self->query_count && !zsys_interrupted; tried++) {
        if (tried) {
            fprintf (stderr, "tally-watch: %s; trying the next query endpoint\n", err);
            s_next_query (self);
        }
        rc = s_snapshot_once (self, err, err_size);
    }
    return rc;
}

int
watch_feed_run (watch_feed_t *self, watch_feed_fn *on_wake, void *arg,
                char *err, size_t err_size)
{
    assert (self);
    self->poller = zpoller_new (NULL);
    assert (self->poller);
    self->last_heard = zclock_mono ();
    for (size_t i = 0; i < self->feed_count; i++) {
        s_feed_t *feed = &self->feeds [i];
        feed->sub = zsock_new (ZMQ_SUB);
        assert (feed->sub);
        zsock_set_rcvhwm (feed->sub, 100000);
        if (self->feed_curve)
            s_apply_curve (self, feed->sub);
        zsock_set_subscribe (feed->sub, self->prefix);
        if (*self->prefix)
            zsock_set_subscribe (feed->sub, "$hb");
        if (zsock_connect (feed->sub, "%s", feed->endpoint)) {
            snprintf (err, err_size, "cannot connect to the feed endpoint '%s': %s",
                      feed->endpoint, zmq_strerror (zmq_errno ()));
            return -1;
        }
        feed->last_heard = self->last_heard;
        zpoller_add (self->poller, feed->sub);
    }
    //  Subscribed first, then the snapshot: anything published meanwhile
    //  is buffered by the store and replayed after snapshot_end.
    s_start_snapshot (self, false, "start");
    if (self->want_snapshot && *self->problem) {
        snprintf (err, err_size, "%s", self->problem);
        return -1;
    }
    while (!zsys_interrupted) {
        void *which = zpoller_wait (self->poller, S_TICK_MS);
        s_feed_t *feed = NULL;
        for (size_t i = 0; which && i < self->feed_count; i++)
            if (which == self->feeds [i].sub)
                feed = &self->feeds [i];
        if (feed) {
            //  Drain what is queued, then redraw once.
            s_feed_recv (self, feed);
            while (zsock_events (feed->sub) & ZMQ_POLLIN)
                s_feed_recv (self, feed);
        }
        else
        if (which && which == self->dealer) {
            int rc = 0;
            while (self->dealer && (zsock_events (self->dealer) & ZMQ_POLLIN)
            &&     (rc = s_snapshot_recv (self, self->problem, sizeof self->problem)) == 0)
                ;
            if (rc < 0) {
                s_drop_dealer (self);
                watch_state_snapshot_abort (self->state);
                self->retry_at = zclock_mono () + S_RETRY_MS;
                self->want_snapshot = true;
            }
            else
            if (rc == 1 && !self->want_snapshot)
                self->problem [0] = 0;
        }
        else
        if (!which && zpoller_terminated (self->poller))
            break;
        s_check_clocks (self);
        s_update_status (self);
        if (on_wake && on_wake (arg, self) < 0)
            break;
    }
    return 0;
}

const char *
watch_feed_status (watch_feed_t *self)
{
    assert (self);
    s_update_status (self);
    return self->status;
}

const char *
watch_feed_no_match (watch_feed_t *self)
{
    assert (self);
    return *self->no_match ? self->no_match : NULL;
}

bool
watch_feed_silent (watch_feed_t *self)
{
    assert (self);
    return self->silent;
}

int64_t
watch_feed_snapshots (watch_feed_t *self)
{
    assert (self);
    return self->snapshots;
}
