/*  server.c — the collector daemon: sockets, group commit, replies, feed.

    The loop waits on the report and query sockets and on the committers
    with a timeout that keeps heartbeats on time. Reports are drained into a
    batch (as many as have arrived, up to batch-max); a batch goes to an idle
    committer, a thread with its own database connection that stores it in
    one transaction, while the loop gathers the next batch for another
    committer (db-connections of them). A small batch with none in flight
    is stored by the loop itself on an idle committer's connection, which
    spares two thread hand-offs; while the database keeps it waiting, the
    loop sends heartbeats and answers queries. When a committer is done, its
    reports are answered (only after COMMIT) and the totals of every changed
    region are published. Rejections are answered at once and recorded with
    the next batch.

    Batches on different connections commit in either order. The feed stays
    what PROTOCOL.md promises: seq is numbered here, one more per message;
    a region's totals are never published after newer ones (by version, the
    database's order of changes).
*/
#include "server.h"
#include "log.h"

#include <inttypes.h>
#include <signal.h>

#include "auth.h"

//  SIGHUP asks for a reload; the handler only raises this flag.
static volatile sig_atomic_t s_reload_requested = 0;

static void
s_on_sighup (int signum)
{
    (void) signum;
    s_reload_requested = 1;
}

#define PENDING_REJECTS_MAX  10000      //  rejects kept while the database is down
#define QUERY_DRAIN_MAX      64         //  queries answered per loop turn
#define QUERY_WAITING_MAX    4          //  and per wait of a batch the loop stores
#define COMMITTERS_MAX       8
#define INLINE_MAX           8          //  reports a batch stored by the loop itself

//  Latencies for the statistics line, counted in buckets: 50 µs wide up
//  to 20 ms, 1 ms wide up to 1 s, and one for 1 s and over.
#define LATENCY_FINE         400
#define LATENCY_COARSE       980
#define LATENCY_BUCKETS      (LATENCY_FINE + LATENCY_COARSE + 1)

typedef struct {
    uint32_t count [LATENCY_BUCKETS];
    uint64_t total;
} s_latency_t;

static void
s_latency_add (s_latency_t *self, int64_t us)
{
    size_t bucket = us < 20000 ? (size_t) (us > 0 ? us / 50 : 0)
                  : us < 1000000 ? LATENCY_FINE + (size_t) ((us - 20000) / 1000)
                  : LATENCY_BUCKETS - 1;
    self->count [bucket]++;
    self->total++;
}

//  A percentile (nearest rank) as text: the upper edge of its bucket
//  in ms, or "1000+" for 1 s and over.
static void
s_latency_text (const s_latency_t *self, int percent, char *text, size_t size)
{
    uint64_t rank = ((uint64_t) percent * self->total + 99) / 100;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    size_t bucket = 0;
    for (; bucket < LATENCY_BUCKETS - 1; bucket++) {
        seen += self->count [bucket];
        if (seen >= rank)
            break;
    }
    if (bucket == LATENCY_BUCKETS - 1)
        snprintf (text, size, "1000+");
    else
        snprintf (text, size, "%.2f", bucket < LATENCY_FINE ? (double) (bucket + 1) * 0.05
                                                            : 20.0 + (double) (bucket - LATENCY_FINE + 1));
}

//  One accepted report waiting for its commit.
typedef struct {
    zframe_t *routing;          //  the peer's routing id
    bool delimiter;             //  a REQ peer: echo the empty delimiter
    proto_msg_t *report;        //  decoded and validated
    char peer [64];             //  peer address
    char key_id [41];           //  CURVE public key (Z85), "" without CURVE
    int64_t received_us;        //  zclock_usecs when it arrived
} s_entry_t;

//  A batch handed to a committer, and what comes back.
typedef struct {
    s_entry_t *entries;         //  the batch (owned while in flight)
    size_t count;
    store_item_t *items;        //  one per entry; statuses come back here
    int *outcome;               //  per entry when committed one by one
    zlistx_t *rejects;          //  store_reject_t recorded with the batch
    zlistx_t *totals;           //  proto_msg_t to publish, in order
    int rc;                     //  store_commit's code for the whole batch
    bool one_by_one;            //  rc was -2: each entry was committed alone
    bool in_loop;               //  stored by the loop, not the committer's thread
    char why [256];             //  rc was -1: what the connection said
    uint64_t generation;        //  the database's generation when sent
    //  Its timeline (zclock_usecs), for the statistics and debug lines
    int64_t sent_us;            //  handed to the committer
    int64_t started_us;         //  the committer took it
    int64_t done_us;            //  the committer was done
    store_timing_t timing;      //  its round trips
} s_job_t;

//  A thread with its own database connection that commits jobs. The
//  connection is used by one thread at a time: by the committer's between
//  COMMIT and DONE, by the loop's only while the committer is not busy.
typedef struct {
    zactor_t *actor;
    store_t *store;             //  its connection
    s_job_t job;
    bool busy;                  //  the job is in flight
    bool reset;                 //  drop the connection once the job is done
} s_committer_t;

struct server_t {
    const settings_t *settings;
    char log_level [16];        //  the level in force: at start, then as SIGHUP set it
    store_t *store;
    auth_t *auth;               //  CURVE keys, NULL without CURVE
    zsock_t *report;            //  ROUTER: reports in, replies out
    zsock_t *feed;              //  PUB: totals and heartbeats
    zsock_t *query;             //  ROUTER: snapshot and ping
    zpoller_t *poller;          //  report, query and committers
    zpoller_t *full_poller;     //  query and committers: the batch is full
    s_committer_t committers [COMMITTERS_MAX];
    size_t committer_count;
    s_entry_t *batch;           //  reports of the batch being gathered
    size_t batch_count;
    s_entry_t *held;            //  repeats of a (source, seq) already in the batch
    size_t held_count;
    zhashx_t *batch_keys;       //  "source seq" of the batch's reports
    zlistx_t *rejects;          //  store_reject_t waiting to be recorded
    size_t rejects_dropped;     //  dropped because too many were waiting
    zhashx_t *published;        //  "region year" -> version last published
    int64_t last_seq;           //  last feed seq published (heartbeats carry it)
    bool db_was_up;             //  the main store's state at the last turn
    uint64_t db_generation;     //  one more each time the database is found down
    bool seq_known;             //  last_seq was read from the database
    int64_t next_heartbeat;     //  zclock_mono time
    int64_t next_stats;         //  zclock_mono time of the next statistics line
    //  Counted since the last statistics line
    uint64_t stored;            //  reports stored
    uint64_t duplicates;        //  resends acked as duplicate
    uint64_t unavailable;       //  reports answered `unavailable`
    uint64_t rejected [PROTO_UNAVAILABLE + 1];   //  permanent nacks by code
    uint64_t batches;           //  transactions committed with reports
    uint64_t inlined;           //  of them, stored by the loop itself
    uint64_t one_trip;          //  of them, in one round trip (tally_apply)
    uint64_t refused;           //  of them, whose try in one round trip stored nothing
    uint64_t batched;           //  reports in those transactions
    s_latency_t acked;          //  each batch's oldest report, arrival to ack
    s_latency_t database;       //  each batch's round trips to the database
};

//  --------------------------------------------------------------------------
//  Binding

//  Where an endpoint setting came from, for the messages about it:
//  " (the report setting: --report, or 'report = ...' in FILE)".
static void
s_endpoint_source (const settings_t *settings, const char *name, char *text, size_t size)
{
    if (*settings->config)
        snprintf (text, size, " (the %s setting: --%s, or '%s = ...' in %s)",
                  name, name, name, settings->config);
    else
        snprintf (text, size, " (--%s)", name);
}

//  Plaintext is only for loopback unless the operator says otherwise: the
//  wildcard becomes 127.0.0.1, an explicit other address is refused, with
//  what a stranger could do through that endpoint and how to secure it.
static int
s_plaintext_endpoint (const settings_t *settings, const char *name, const char *endpoint,
                      char *out, size_t out_size)
{
    snprintf (out, out_size, "%s", endpoint);
    if (settings->allow_plaintext || strncmp (endpoint, "tcp://", 6) != 0)
        return 0;
    const char *host = endpoint + 6;
    if (strncmp (host, "*:", 2) == 0) {
        snprintf (out, out_size, "tcp://127.0.0.1:%s", host + 2);
        return 0;
    }
    if (strncmp (host, "127.", 4) == 0 || strncmp (host, "localhost:", 10) == 0
    ||  strncmp (host, "[::1]:", 6) == 0)
        return 0;
    const char *risk = streq (name, "report") ? "could report"
                     : streq (name, "query") ? "could read the figures (snapshots)"
                     : "could read every figure published";
    const char *remedy = streq (name, "feed")
                       ? "give --feed-curve (with --curve-secret and --clients) or --allow-plaintext"
                       : "configure CURVE keys (--curve-secret and --clients) or give --allow-plaintext";
    char source [600];
    s_endpoint_source (settings, name, source, sizeof source);
    fprintf (stderr, "tally-collector: refusing to bind %s endpoint %s%s in plaintext: anyone who "
             "can reach it %s; %s\n", name, endpoint, source, risk, remedy);
    return -1;
}

static zsock_t *
s_bind (const settings_t *settings, auth_t *auth, int type, const char *name, const char *endpoint)
{
    char actual [256];
    if (auth)
        snprintf (actual, sizeof actual, "%s", endpoint);
    else
    if (s_plaintext_endpoint (settings, name, endpoint, actual, sizeof actual))
        return NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        fprintf (stderr, "tally-collector: cannot create the %s socket\n", name);
        return NULL;
    }
    //  Transport limits, set deliberately (see README "Limits"): a frame over
    //  max-frame drops the connection; a peer that does not finish the
    //  handshake in 5 s is dropped; silent TCP peers are found by heartbeats.
    zsock_set_maxmsgsize (sock, settings->max_frame);
    zsock_set_handshake_ivl (sock, 5000);
    zsock_set_heartbeat_ivl (sock, 10000);
    zsock_set_heartbeat_timeout (sock, 30000);
    zsock_set_linger (sock, 2000);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm (sock, 100000);
    else {
        zsock_set_rcvhwm (sock, 1000);
        zsock_set_sndhwm (sock, 10000);
        zsock_set_rcvtimeo (sock, 0);   //  read only after a poll, until nothing is left
    }
    if (auth && auth_apply (auth, sock) != 0) {
        fprintf (stderr, "tally-collector: cannot enforce the ZAP domain on the %s socket: %s\n",
                 name, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    //  A port just released by a socket we closed (key revocation) may take
    //  a moment to free; retry for up to a second.
    int rc = zsock_bind (sock, "%s", actual);
    for (int attempt = 0; rc < 0 && zmq_errno () == EADDRINUSE && attempt < 50; attempt++) {
        zclock_sleep (20);
        rc = zsock_bind (sock, "%s", actual);
    }
    if (rc < 0) {
        char source [600];
        s_endpoint_source (settings, name, source, sizeof source);
        fprintf (stderr, "tally-collector: cannot bind the %s endpoint %s%s: %s\n",
                 name, actual, source, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    if (!streq (actual, endpoint))
        log_warning ("server: no CURVE keys: %s endpoint bound to %s only (loopback); "
                      "give --allow-plaintext to accept plaintext from other hosts", name, actual);
    return sock;
}

static int
s_write_ready_file (server_t *self)
{
    const char *path = self->settings->ready_file;
    if (!path || !*path)
        return 0;
    char temp [1100];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    FILE *file = fopen (temp, "w");
    if (!file) {
        log_error ("server: cannot write the ready file %s", temp);
        return -1;
    }
    fprintf (file, "report %s\nfeed %s\nquery %s\n", zsock_endpoint (self->report),
             zsock_endpoint (self->feed), zsock_endpoint (self->query));
    fclose (file);
    return rename (temp, path);
}

static void
s_entry_clear (s_entry_t *entry)
{
    zframe_destroy (&entry->routing);
    proto_msg_destroy (&entry->report);
}

//  --------------------------------------------------------------------------
//  Committers

static void
s_commit_job (store_t *store, s_job_t *job)
{
    for (size_t i = 0; i < job->count; i++) {
        job->items [i].report = job->entries [i].report;
        job->items [i].peer = *job->entries [i].peer ? job->entries [i].peer : NULL;
        job->items [i].key_id = *job->entries [i].key_id ? job->entries [i].key_id : NULL;
    }
    job->one_by_one = false;
    job->started_us = zclock_usecs ();
    job->rc = store_commit (store, job->items, job->count, job->rejects, job->totals);
    job->done_us = zclock_usecs ();
    store_last_timing (store, &job->timing);
    if (job->rc == -1)
        snprintf (job->why, sizeof job->why, "%s", store_last_error (store));
    if (job->rc == 0 || job->rc == -1)
        return;
    //  A statement error that is not an outage: report by report, so that
    //  one report the database refuses never holds back the others.
    if (zlistx_size (job->rejects) > 0) {
        log_error ("server: %zu rejected reports could not be recorded and are dropped",
                    zlistx_size (job->rejects));
        zlistx_purge (job->rejects);
    }
    //  Each report's totals are kept only if its own commit succeeded; once
    //  the database is found unreachable the rest are not tried.
    job->one_by_one = true;
    zlistx_t *totals = zlistx_new ();
    zlistx_set_destructor (totals, (zlistx_destructor_fn *) proto_msg_destroy);
    bool unreachable = false;
    for (size_t i = 0; i < job->count; i++) {
        if (unreachable) {
            job->outcome [i] = -1;
            continue;
        }
        job->outcome [i] = store_commit (store, &job->items [i], 1, job->rejects, totals);
        if (job->outcome [i] == 0) {
            proto_msg_t *msg;
            while ((msg = (proto_msg_t *) zlistx_detach (totals, NULL)))
                zlistx_add_end (job->totals, msg);
        }
        else
        if (job->outcome [i] == -1) {
            unreachable = true;
            snprintf (job->why, sizeof job->why, "%s", store_last_error (store));
        }
        zlistx_purge (totals);
    }
    zlistx_destroy (&totals);
}

//  The committer thread: COMMIT + job pointer in, the same pointer back when
//  done. Its store is quiet: the main thread's store speaks for the database.
static void
s_committer_actor (zsock_t *pipe, void *args)
{
    store_t *store = (store_t *) args;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg) {
            if (zmq_errno () == EINTR)
                continue;       //  a signal; the main thread decides when to stop
            break;
        }
        char *command = zmsg_popstr (msg);
        zframe_t *frame = zmsg_pop (msg);
        if (command && streq (command, "COMMIT") && frame && zframe_size (frame) == sizeof (void *)) {
            s_job_t *job;
            memcpy (&job, zframe_data (frame), sizeof job);
            s_commit_job (store, job);
            zsock_send (pipe, "sp", "DONE", job);
        }
        bool term = !command || streq (command, "$TERM");
        zstr_free (&command);
        zframe_destroy (&frame);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
}

static void
s_job_init (s_job_t *job, size_t cap)
{
    job->entries = (s_entry_t *) zmalloc (cap * sizeof (s_entry_t));
    job->items = (store_item_t *) zmalloc (cap * sizeof (store_item_t));
    job->outcome = (int *) zmalloc (cap * sizeof (int));
    job->rejects = zlistx_new ();
    zlistx_set_destructor (job->rejects, (zlistx_destructor_fn *) store_reject_destroy);
    job->totals = zlistx_new ();
    zlistx_set_destructor (job->totals, (zlistx_destructor_fn *) proto_msg_destroy);
}

static void
s_job_free (s_job_t *job)
{
    for (size_t i = 0; i < job->count; i++)
        s_entry_clear (&job->entries [i]);
    free (job->entries);
    free (job->items);
    free (job->outcome);
    zlistx_destroy (&job->rejects);
    zlistx_destroy (&job->totals);
}

//  Two pollers: with room in the batch the loop also reads reports; with a
//  full batch and every committer busy it waits for a committer instead.
static void
s_make_pollers (server_t *self)
{
    zpoller_destroy (&self->poller);
    zpoller_destroy (&self->full_poller);
    self->poller = zpoller_new (self->report, self->query, NULL);
    self->full_poller = zpoller_new (self->query, NULL);
    for (size_t i = 0; i < self->committer_count; i++) {
        zpoller_add (self->poller, self->committers [i].actor);
        zpoller_add (self->full_poller, self->committers [i].actor);
    }
}

server_t *
server_new (const settings_t *settings, store_t **store_p)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    self->settings = settings;
    snprintf (self->log_level, sizeof self->log_level, "%s", settings->log_level);
    self->store = *store_p;
    *store_p = NULL;
    if (*settings->curve_secret || *settings->clients) {
        char err [512];
        if (!*settings->curve_secret || !*settings->clients)
            snprintf (err, sizeof err, "CURVE needs both --curve-secret FILE and --clients DIR");
        else
            self->auth = auth_new (settings->curve_secret, settings->clients, err, sizeof err);
        if (!self->auth) {
            fprintf (stderr, "tally-collector: %s\n", err);
            server_destroy (&self);
            return NULL;
        }
    }
    else
    if (settings->feed_curve) {
        fprintf (stderr, "tally-collector: --feed-curve needs --curve-secret and --clients\n");
        server_destroy (&self);
        return NULL;
    }
    self->report = s_bind (settings, self->auth, ZMQ_ROUTER, "report", settings->report);
    self->feed = self->report ? s_bind (settings, settings->feed_curve ? self->auth : NULL,
                                        ZMQ_PUB, "feed", settings->feed) : NULL;
    self->query = self->feed ? s_bind (settings, self->auth, ZMQ_ROUTER, "query", settings->query) : NULL;
    if (!self->query) {
        server_destroy (&self);
        return NULL;
    }
    size_t cap = (size_t) settings->batch_max;
    self->batch = (s_entry_t *) zmalloc (cap * sizeof (s_entry_t));
    self->held = (s_entry_t *) zmalloc (cap * sizeof (s_entry_t));
    self->batch_keys = zhashx_new ();
    self->rejects = zlistx_new ();
    zlistx_set_destructor (self->rejects, (zlistx_destructor_fn *) store_reject_destroy);
    self->published = zhashx_new ();
    int committers = settings->db_connections;
    if (committers < 1)
        committers = 1;
    if (committers > COMMITTERS_MAX)
        committers = COMMITTERS_MAX;
    for (int i = 0; i < committers; i++) {
        s_committer_t *committer = &self->committers [self->committer_count];
        s_job_init (&committer->job, cap);
        committer->store = store_new (settings->db);
        store_set_quiet (committer->store, true);
        committer->actor = zactor_new (s_committer_actor, committer->store);
        self->committer_count++;
        if (!committer->actor) {
            fprintf (stderr, "tally-collector: cannot start a committer thread\n");
            server_destroy (&self);
            return NULL;
        }
    }
    s_make_pollers (self);
    log_info ("server: reports on %s, feed on %s, queries on %s",
               zsock_endpoint (self->report), zsock_endpoint (self->feed), zsock_endpoint (self->query));
    if (!self->auth)
        log_warning ("server: no CURVE keys configured: anyone who can reach these ports can "
                      "report and read figures (see README, 'Securing a deployment')");
    else
    if (!settings->feed_curve)
        log_info ("server: the feed is plaintext (give --feed-curve to require keys for it too)");
    if (s_write_ready_file (self)) {
        server_destroy (&self);
        return NULL;
    }
    return self;
}

//  Close and bind again the report and query sockets: every connection is
//  dropped, and honest peers reconnect through a fresh handshake. Used when
//  a key is revoked, since libzmq cannot close one peer's connection.
static int
s_rebind (server_t *self)
{
    char report [256], query [256];
    snprintf (report, sizeof report, "%s", zsock_endpoint (self->report));
    snprintf (query, sizeof query, "%s", zsock_endpoint (self->query));
    zpoller_destroy (&self->poller);
    zpoller_destroy (&self->full_poller);
    zsock_destroy (&self->report);
    zsock_destroy (&self->query);
    self->report = s_bind (self->settings, self->auth, ZMQ_ROUTER, "report", report);
    self->query = s_bind (self->settings, self->auth, ZMQ_ROUTER, "query", query);
    if (!self->report || !self->query) {
        log_error ("server: cannot bind %s and %s again after revoking keys; stopping", report, query);
        return -1;
    }
    s_make_pollers (self);
    log_info ("server: dropped every connection so that revoked keys are out; others reconnect");
    return 0;
}

void
server_destroy (server_t **self_p)
{
    if (self_p && *self_p) {
        server_t *self = *self_p;
        //  server_run waited for every job; a committer stops between jobs.
        for (size_t i = 0; i < self->committer_count; i++) {
            zactor_destroy (&self->committers [i].actor);
            store_destroy (&self->committers [i].store);
            s_job_free (&self->committers [i].job);
        }
        for (size_t i = 0; i < self->batch_count; i++)
            s_entry_clear (&self->batch [i]);
        for (size_t i = 0; i < self->held_count; i++)
            s_entry_clear (&self->held [i]);
        free (self->batch);
        free (self->held);
        zhashx_destroy (&self->batch_keys);
        zlistx_destroy (&self->rejects);
        zhashx_destroy (&self->published);
        zpoller_destroy (&self->poller);
        zpoller_destroy (&self->full_poller);
        zsock_destroy (&self->report);
        zsock_destroy (&self->feed);
        zsock_destroy (&self->query);
        store_destroy (&self->store);
        auth_destroy (&self->auth);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Replies

//  Send body to the peer, with the REQ delimiter when it had one.
static void
s_reply (zsock_t *sock, zframe_t *routing, bool delimiter, const uint8_t *body, size_t size)
{
    if (!sock)
        return;                 //  the endpoint could not be bound again after a reload
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *) { zframe_dup (routing) });
    if (delimiter)
        zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, body, size);
    zmsg_send (&msg, sock);
}

static void
s_reply_msg (zsock_t *sock, zframe_t *routing, bool delimiter, const proto_msg_t *msg)
{
    size_t size;
    proto_error_t err;
    uint8_t *body = proto_msg_encode (msg, &size, &err);
    if (!body) {
        //  Our own message broke the protocol: a bug, not the peer's fault.
        log_error ("server: cannot encode a %s reply: %s", proto_type_name (msg->type), err.text);
        return;
    }
    s_reply (sock, routing, delimiter, body, size);
    free (body);
}

static void
s_reply_nack (zsock_t *sock, zframe_t *routing, bool delimiter, proto_code_t code,
              const char *text, const proto_error_t *echo, int64_t retry_ms)
{
    proto_msg_t *nack = proto_msg_new (PROTO_NACK);
    nack->code = code;
    proto_msg_set_error (nack, text);
    if (echo && echo->has_source) {
        nack->has_source = true;
        snprintf (nack->source, sizeof nack->source, "%s", echo->source);
    }
    if (echo && echo->has_seq) {
        nack->has_seq = true;
        nack->seq = echo->seq;
    }
    if (retry_ms > 0) {
        nack->has_retry_ms = true;
        nack->retry_ms = retry_ms;
    }
    s_reply_msg (sock, routing, delimiter, nack);
    proto_msg_destroy (&nack);
}

static void
s_echo_of (const proto_msg_t *report, proto_error_t *echo)
{
    memset (echo, 0, sizeof *echo);
    echo->has_source = true;
    snprintf (echo->source, sizeof echo->source, "%s", report->source);
    echo->has_seq = true;
    echo->seq = report->seq;
}

//  Keep a rejected report for rejected_report; bounded while the database is down.
static void
s_keep_reject (server_t *self, store_reject_t *reject)
{
    if (zlistx_size (self->rejects) >= PENDING_REJECTS_MAX) {
        zlistx_delete (self->rejects, zlistx_first (self->rejects));
        if (self->rejects_dropped++ == 0)
            log_warning ("server: more than %d rejected reports wait for the database; "
                          "the oldest are no longer kept for rejected_report", PENDING_REJECTS_MAX);
    }
    zlistx_add_end (self->rejects, reject);
}

//  --------------------------------------------------------------------------
//  Receiving

//  Split [routing][delimiter?][body]. Returns the body frame (borrowed from
//  msg) or NULL when the message has another shape.
static zframe_t *
s_split (zmsg_t *msg, zframe_t **routing, bool *delimiter)
{
    *routing = zmsg_pop (msg);
    *delimiter = false;
    size_t frames = zmsg_size (msg);
    zframe_t *first = zmsg_first (msg);
    if (frames >= 2 && zframe_size (first) == 0) {
        //  A REQ peer: its reply carries the delimiter back, even when the
        //  message has the wrong shape, or REQ would drop it.
        *delimiter = true;
        return frames == 2 ? zmsg_next (msg) : NULL;
    }
    return frames == 1 ? first : NULL;
}

static const char *
s_peer_address (zframe_t *frame, char *buf, size_t size)
{
    const char *address = frame ? zframe_meta (frame, "Peer-Address") : NULL;
    snprintf (buf, size, "%s", address ? address : "");
    return buf;
}

//  Receive one report message; answer it at once if it is rejected or
//  cannot be taken now, else add it to the batch (or hold it back when its
//  (source, seq) is already in the batch).
static void
s_receive_report (server_t *self, zmsg_t *msg)
{
    zframe_t *routing;
    bool delimiter;
    zframe_t *body = s_split (msg, &routing, &delimiter);
    if (!routing)
        return;
    char peer [64];
    s_peer_address (body ? body : zmsg_first (msg), peer, sizeof peer);
    char key_id [41] = "";
    proto_error_t err;
    memset (&err, 0, sizeof err);
    proto_msg_t *report = NULL;

    if (!body) {
        err.code = PROTO_MALFORMED;
        snprintf (err.text, sizeof err.text, "a report must be one frame (after an empty "
                  "delimiter for REQ peers), got %zu frames", zmsg_size (msg));
    }
    else
    if (zframe_size (body) == 0) {
        err.code = PROTO_MALFORMED;
        snprintf (err.text, sizeof err.text, "the message body is empty");
    }
    else {
        report = proto_msg_decode (zframe_data (body), zframe_size (body),
                                   (size_t) self->settings->max_body, &err);
        if (report && report->type != PROTO_REPORT) {
            err.code = PROTO_INVALID;
            snprintf (err.text, sizeof err.text, "the report endpoint takes reports, not '%s' messages",
                      proto_type_name (report->type));
            proto_msg_destroy (&report);
        }
    }
    if (report) {
        s_echo_of (report, &err);
        catalog_t *catalog = store_catalog (self->store);
        if (!catalog) {
            //  Never connected: the catalog is unknown, so no verdict can be given.
            s_reply_nack (self->report, routing, delimiter, PROTO_UNAVAILABLE,
                          "the collector cannot reach its database yet", &err,
                          store_retry_ms (self->store));
            proto_msg_destroy (&report);
            zframe_destroy (&routing);
            return;
        }
        err.code = catalog_check_report (catalog, report, err.text, sizeof err.text);
        if (err.code == PROTO_OK && self->auth) {
            //  The User-Id was set by our ZAP handler from the handshake key.
            const char *user = zframe_meta (body, "User-Id");
            snprintf (key_id, sizeof key_id, "%s", user ? user : "");
            if (!auth_allows (self->auth, key_id, report->region, err.text, sizeof err.text))
                err.code = PROTO_FORBIDDEN;
        }
    }
    if (err.code != PROTO_OK) {
        self->rejected [err.code]++;
        s_reply_nack (self->report, routing, delimiter, err.code, err.text, &err, 0);
        zframe_t *raw = body ? body : zmsg_first (msg);
        s_keep_reject (self, store_reject_new (err.code, err.text, &err, peer, *key_id ? key_id : NULL,
                       raw ? zframe_data (raw) : NULL, raw ? zframe_size (raw) : 0));
        proto_msg_destroy (&report);
        zframe_destroy (&routing);
        return;
    }
    char key [PROTO_MAX_SOURCE + 32];
    snprintf (key, sizeof key, "%s %" PRId64, report->source, report->seq);
    s_entry_t entry = { routing, delimiter, report, "", "", zclock_usecs () };
    snprintf (entry.peer, sizeof entry.peer, "%s", peer);
    snprintf (entry.key_id, sizeof entry.key_id, "%s", key_id);
    if (zhashx_lookup (self->batch_keys, key)) {
        if (self->held_count < (size_t) self->settings->batch_max)
            self->held [self->held_count++] = entry;
        else {
            //  A peer repeating itself this much is told to come back later.
            s_reply_nack (self->report, routing, delimiter, PROTO_UNAVAILABLE,
                          "this report is already being stored; resend later", &err, 1000);
            s_entry_clear (&entry);
        }
        return;
    }
    zhashx_insert (self->batch_keys, key, (void *) 1);
    self->batch [self->batch_count++] = entry;
}

//  --------------------------------------------------------------------------
//  Committing

//  Per region and year, the newest version published on the feed or read
//  by a snapshot: raise it to these totals' version, or say false when they
//  are older. Equal is no repeat: a snapshot raises the mark to the versions
//  it read, whose own messages may still be on their way.
static bool
s_mark_version (server_t *self, const proto_msg_t *totals)
{
    if (!totals->has_version)
        return true;
    char key [PROTO_MAX_NAME + 32];
    snprintf (key, sizeof key, "%s %" PRId64, totals->region, totals->year);
    intptr_t last = (intptr_t) zhashx_lookup (self->published, key);
    if (last && totals->version < (int64_t) last)
        return false;
    zhashx_update (self->published, key, (void *) (intptr_t) totals->version);
    return true;
}

//  Publish one region's totals, unless newer totals of that region and year
//  were published already (a batch on another connection committed later
//  but was answered first). The feed's seq is numbered here: one more per
//  message, whatever order the connections committed in.
static void
s_publish (server_t *self, proto_msg_t *totals)
{
    if (!s_mark_version (self, totals))
        return;
    totals->has_seq = true;
    totals->seq = self->last_seq + 1;
    size_t size;
    proto_error_t err;
    uint8_t *body = proto_msg_encode (totals, &size, &err);
    if (!body) {
        log_error ("server: cannot encode totals of %s: %s", totals->region, err.text);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, totals->region);
    zmsg_addmem (msg, body, size);
    zmsg_send (&msg, self->feed);
    free (body);
    self->last_seq = totals->seq;
}

//  Answer one committed report: ack, or nack conflict.
static void
s_answer_stored (server_t *self, s_entry_t *entry, store_status_t status)
{
    if (status == STORE_CONFLICT) {
        self->rejected [PROTO_CONFLICT]++;
        proto_error_t echo;
        s_echo_of (entry->report, &echo);
        char text [PROTO_MAX_TEXT];
        snprintf (text, sizeof text, "source '%s' seq %" PRId64 " was already stored with "
                  "different content", entry->report->source, entry->report->seq);
        s_reply_nack (self->report, entry->routing, entry->delimiter, PROTO_CONFLICT, text, &echo, 0);
        return;
    }
    if (status == STORE_STORED)
        self->stored++;
    else
        self->duplicates++;
    proto_msg_t *ack = proto_msg_new (PROTO_ACK);
    ack->has_source = ack->has_seq = true;
    snprintf (ack->source, sizeof ack->source, "%s", entry->report->source);
    ack->seq = entry->report->seq;
    snprintf (ack->status, sizeof ack->status, "%s", status == STORE_STORED ? "stored" : "duplicate");
    s_reply_msg (self->report, entry->routing, entry->delimiter, ack);
    proto_msg_destroy (&ack);
}

static void
s_answer_unavailable (server_t *self, s_entry_t *entries, size_t count, const char *why)
{
    int64_t retry_ms = store_retry_ms (self->store);
    self->unavailable += count;
    for (size_t i = 0; i < count; i++) {
        proto_error_t echo;
        s_echo_of (entries [i].report, &echo);
        s_reply_nack (self->report, entries [i].routing, entries [i].delimiter,
                      PROTO_UNAVAILABLE, why, &echo, retry_ms);
    }
}

//  Start the next batch: empty, then the repeats held back from the last.
static void
s_next_batch (server_t *self)
{
    self->batch_count = 0;
    zhashx_purge (self->batch_keys);
    for (size_t i = 0; i < self->held_count; i++) {
        s_entry_t *entry = &self->held [i];
        char key [PROTO_MAX_SOURCE + 32];
        snprintf (key, sizeof key, "%s %" PRId64, entry->report->source, entry->report->seq);
        if (zhashx_lookup (self->batch_keys, key)) {
            s_answer_unavailable (self, entry, 1, "this report is already being stored; resend later");
            s_entry_clear (entry);
            continue;
        }
        zhashx_insert (self->batch_keys, key, (void *) 1);
        self->batch [self->batch_count++] = *entry;
    }
    self->held_count = 0;
}

static void s_finish (server_t *self, s_committer_t *committer);
static void s_while_storing (void *arg);

//  Hand the batch gathered so far, with the waiting rejects, to an idle
//  committer. While the database is down the batch is answered at once.
static void
s_dispatch (server_t *self)
{
    if (self->batch_count == 0 && zlistx_size (self->rejects) == 0)
        return;
    if (!store_up (self->store)) {
        if (self->batch_count == 0)
            return;             //  rejects wait for the database
        s_answer_unavailable (self, self->batch, self->batch_count,
                              "the collector's database is unreachable; resend later");
        for (size_t i = 0; i < self->batch_count; i++)
            s_entry_clear (&self->batch [i]);
        s_next_batch (self);
        return;
    }
    //  With a batch in flight, the next one grows to a quarter of batch-max
    //  before it goes out on another connection: many small transactions
    //  waiting on each other's row locks store less than fewer large ones
    //  (measured: 119 reports a commit and 6,900 reports/s against 670 and
    //  8,100 with one connection). An idle collector sends at once.
    s_committer_t *committer = NULL;
    size_t busy = 0;
    for (size_t i = 0; i < self->committer_count; i++)
        if (self->committers [i].busy)
            busy++;
        else
        if (!committer)
            committer = &self->committers [i];
    size_t pipeline_min = (size_t) self->settings->batch_max / 4;
    if (!committer || (busy > 0 && self->batch_count < (pipeline_min ? pipeline_min : 1)))
        return;
    s_job_t *job = &committer->job;
    s_entry_t *entries = job->entries;          //  empty since its last job
    job->entries = self->batch;
    job->count = self->batch_count;
    self->batch = entries;
    zlistx_t *rejects = job->rejects;           //  empty too
    job->rejects = self->rejects;
    self->rejects = rejects;
    job->generation = self->db_generation;
    committer->busy = true;
    job->sent_us = zclock_usecs ();
    //  A small batch with no other in flight is stored by the loop itself,
    //  on the idle committer's connection: handing it to that thread and
    //  back cost two thread wake-ups, 0.13 ms p50 and 0.38 ms p99 on this
    //  VM, and reports arriving meanwhile wait in their queue. Larger
    //  batches go to the thread, so that the loop gathers the next batch
    //  while one is stored (docs/performance.md).
    //  Only on a connection already made: connecting could take long.
    //  While it waits for the database, heartbeats and queries go on.
    job->in_loop = busy == 0 && job->count <= INLINE_MAX && store_up (committer->store);
    if (job->in_loop) {
        s_next_batch (self);
        store_set_wait_hook (committer->store, s_while_storing, self);
        s_commit_job (committer->store, job);
        store_set_wait_hook (committer->store, NULL, NULL);
        s_finish (self, committer);
        return;
    }
    zsock_send (committer->actor, "sp", "COMMIT", job);
    s_next_batch (self);
}

static void s_database_lost (server_t *self, s_job_t *job);
static void s_wait_committers (server_t *self);

//  At debug level, one line per batch committed whole: where its oldest
//  report's time went, from its arrival to its ack (README, "Configuration
//  files"). A batch retried report by report has its errors logged instead.
static void
s_log_batch (const s_job_t *job, int64_t oldest, int64_t answering, int64_t now)
{
    //  The committer's time besides the round trips: building the
    //  statements, working out the figures, recording rejects.
    const store_timing_t *t = &job->timing;
    int64_t work = (job->done_us - job->started_us) - t->apply_us - t->lock_us - t->write_us;
    //  A batch the loop stored itself was not handed to any thread: the
    //  time around its commit is the loop's own work.
    int64_t handoff = (job->started_us - job->sent_us) + (answering - job->done_us);
    if (job->in_loop) {
        work += handoff;
        handoff = 0;
    }
    log_debug ("batch: reports=%zu inline=%d trips=%d refused=%d waited_ms=%.2f apply_ms=%.2f lock_ms=%.2f write_ms=%.2f "
               "work_ms=%.2f handoff_ms=%.2f acked_ms=%.2f", job->count, job->in_loop ? 1 : 0, t->trips,
               t->missed ? 1 : 0, (double) (job->sent_us - oldest) / 1000.0,
               (double) t->apply_us / 1000.0, (double) t->lock_us / 1000.0,
               (double) t->write_us / 1000.0, (double) work / 1000.0,
               (double) handoff / 1000.0,
               (double) (now - oldest) / 1000.0);
}

//  A committer is done: answer its reports, publish the totals.
static void
s_finish (server_t *self, s_committer_t *committer)
{
    s_job_t *job = &committer->job;
    if (job->rc == 0) {
        if (job->count > 0) {
            self->batches++;
            self->batched += job->count;
            self->one_trip += job->timing.trips == 1;
            self->inlined += job->in_loop;
        }
        self->refused += job->timing.missed;
        if (self->rejects_dropped) {
            log_info ("server: rejected reports are recorded again (%zu were not kept)",
                       self->rejects_dropped);
            self->rejects_dropped = 0;
        }
        int64_t answering = zclock_usecs ();
        for (size_t i = 0; i < job->count; i++)
            s_answer_stored (self, &job->entries [i], job->items [i].status);
        if (job->count > 0) {
            int64_t oldest = job->entries [0].received_us;
            for (size_t i = 1; i < job->count; i++)
                if (job->entries [i].received_us < oldest)
                    oldest = job->entries [i].received_us;
            int64_t acked = zclock_usecs ();
            s_latency_add (&self->acked, acked - oldest);
            s_latency_add (&self->database,
                           job->timing.apply_us + job->timing.lock_us + job->timing.write_us);
            if (log_enabled (LOG_LEVEL_DEBUG))
                s_log_batch (job, oldest, answering, acked);
        }
    }
    else
    if (job->rc == -1) {
        //  Unreachable: the main store takes the outage over (logs it once,
        //  reconnects with back-off), unless this job was sent before an
        //  outage already handled; the rejects wait for the next batch.
        s_database_lost (self, job);
        s_answer_unavailable (self, job->entries, job->count,
                              "the collector's database is unreachable; resend later");
        store_reject_t *reject;
        while ((reject = (store_reject_t *) zlistx_detach (job->rejects, NULL)))
            s_keep_reject (self, reject);
    }
    else {
        bool lost = false;
        for (size_t i = 0; i < job->count; i++) {
            if (job->outcome [i] == 0)
                s_answer_stored (self, &job->entries [i], job->items [i].status);
            else
                s_answer_unavailable (self, &job->entries [i], 1, job->outcome [i] == -1
                                      ? "the collector's database is unreachable; resend later"
                                      : "the collector could not store this report; resend later");
            lost |= job->outcome [i] == -1;
        }
        if (lost)
            s_database_lost (self, job);
    }
    for (proto_msg_t *totals = (proto_msg_t *) zlistx_first (job->totals); totals;
         totals = (proto_msg_t *) zlistx_next (job->totals))
        s_publish (self, totals);
    zlistx_purge (job->totals);
    zlistx_purge (job->rejects);
    for (size_t i = 0; i < job->count; i++)
        s_entry_clear (&job->entries [i]);
    job->count = 0;
    committer->busy = false;
    if (committer->reset) {
        committer->reset = false;
        store_mark_down (committer->store, "the database was found unreachable");
    }
}

//  Receive a committer's DONE and finish its job.
static void
s_on_committer (server_t *self, void *which)
{
    for (size_t i = 0; i < self->committer_count; i++) {
        s_committer_t *committer = &self->committers [i];
        if ((void *) committer->actor != which)
            continue;
        char *command = NULL;
        void *job = NULL;
        if (zsock_recv (committer->actor, "sp", &command, &job) == 0
        &&  command && streq (command, "DONE") && job == &committer->job)
            s_finish (self, committer);
        zstr_free (&command);
        return;
    }
}

//  The database was found unreachable: every committer's connection is
//  dropped (a busy one's after its job, when it is idle again), so that none
//  uses a dead one once it is back.
static void
s_reset_committers (server_t *self)
{
    for (size_t i = 0; i < self->committer_count; i++)
        if (self->committers [i].busy)
            self->committers [i].reset = true;
        else
            store_mark_down (self->committers [i].store, "the database was found unreachable");
}

//  A job found the database unreachable. The main store takes the outage
//  over, unless the job was sent before an outage that was already handled
//  (its connection died then): that would log a second outage for one.
static void
s_database_lost (server_t *self, s_job_t *job)
{
    if (job->generation != self->db_generation)
        return;
    store_mark_down (self->store, *job->why ? job->why : "a batch found the connection gone");
}

static bool
s_any_busy (server_t *self)
{
    for (size_t i = 0; i < self->committer_count; i++)
        if (self->committers [i].busy)
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Queries

static void
s_answer_query (server_t *self, zmsg_t *msg)
{
    zframe_t *routing;
    bool delimiter;
    zframe_t *body = s_split (msg, &routing, &delimiter);
    if (!routing)
        return;
    proto_error_t err;
    memset (&err, 0, sizeof err);
    proto_msg_t *query = NULL;
    if (!body || zframe_size (body) == 0) {
        err.code = PROTO_MALFORMED;
        snprintf (err.text, sizeof err.text, "a query must be one non-empty frame");
    }
    else
        query = proto_msg_decode (zframe_data (body), zframe_size (body),
                                  (size_t) self->settings->max_body, &err);
    if (query && query->type == PROTO_PING) {
        proto_msg_t *pong = proto_msg_new (PROTO_PONG);
        pong->version = PROTO_VERSION;
        //  Whether the database is up now, not when it was last used.
        bool up = store_alive (self->store) || store_ensure (self->store);
        snprintf (pong->db, sizeof pong->db, "%s", up ? "up" : "down");
        s_reply_msg (self->query, routing, delimiter, pong);
        proto_msg_destroy (&pong);
    }
    else
    if (query && query->type == PROTO_SNAPSHOT) {
        zlistx_t *totals = zlistx_new ();
        zlistx_set_destructor (totals, (zlistx_destructor_fn *) proto_msg_destroy);
        //  Every feed message up to last_seq was committed before this read,
        //  so the snapshot reflects it; what commits meanwhile is published
        //  after, with a higher seq. (The database's own number is for
        //  versions, not for this feed's seq.)
        int64_t seq = self->last_seq;
        int64_t db_seq = 0;
        if (store_snapshot (self->store, query->prefix, query->has_year ? query->year : 0,
                            totals, &db_seq) == 0) {
            for (proto_msg_t *item = (proto_msg_t *) zlistx_first (totals); item;
                 item = (proto_msg_t *) zlistx_next (totals)) {
                //  Rows carry the snapshot's seq; a batch answered later with
                //  older totals of a row's region is not published after it.
                item->has_seq = true;
                item->seq = seq;
                s_mark_version (self, item);
                s_reply_msg (self->query, routing, delimiter, item);
            }
            proto_msg_t *end = proto_msg_new (PROTO_SNAPSHOT_END);
            end->has_seq = true;
            end->seq = seq;
            end->count = (int64_t) zlistx_size (totals);
            s_reply_msg (self->query, routing, delimiter, end);
            proto_msg_destroy (&end);
        }
        else
            s_reply_nack (self->query, routing, delimiter, PROTO_UNAVAILABLE,
                          "the collector's database is unreachable; ask again later", NULL,
                          store_retry_ms (self->store));
        zlistx_destroy (&totals);
    }
    else {
        if (query) {
            err.code = PROTO_INVALID;
            snprintf (err.text, sizeof err.text, "the query endpoint answers 'snapshot' and 'ping', "
                      "not '%s'", proto_type_name (query->type));
        }
        s_reply_nack (self->query, routing, delimiter, err.code, err.text, &err, 0);
    }
    proto_msg_destroy (&query);
    zframe_destroy (&routing);
}

//  --------------------------------------------------------------------------
//  The loop

//  Every stats-interval seconds (a minute by default), one line of what
//  happened since the last one.
static void
s_log_statistics (server_t *self)
{
    char rejected [256] = "";
    size_t len = 0;
    uint64_t total = 0;
    for (int code = PROTO_MALFORMED; code <= PROTO_CONFLICT; code++)
        if (self->rejected [code]) {
            total += self->rejected [code];
            len += (size_t) snprintf (rejected + len, sizeof rejected - len, "%s%s=%" PRIu64,
                                      len ? "," : " (", proto_code_name ((proto_code_t) code),
                                      self->rejected [code]);
        }
    if (len)
        snprintf (rejected + len, sizeof rejected - len, ")");
    //  Latencies of the batches committed whole, when there were any.
    char latency [160] = "";
    if (self->acked.total) {
        char ack50 [16], ack99 [16], db50 [16], db99 [16];
        s_latency_text (&self->acked, 50, ack50, sizeof ack50);
        s_latency_text (&self->acked, 99, ack99, sizeof ack99);
        s_latency_text (&self->database, 50, db50, sizeof db50);
        s_latency_text (&self->database, 99, db99, sizeof db99);
        snprintf (latency, sizeof latency, " ack_ms_p50=%s ack_ms_p99=%s db_ms_p50=%s db_ms_p99=%s",
                  ack50, ack99, db50, db99);
    }
    log_info ("stats: last %d s: stored=%" PRIu64 " duplicates=%" PRIu64 " rejected=%" PRIu64
              "%s unavailable=%" PRIu64 " batches=%" PRIu64 " mean_batch=%.1f inline=%" PRIu64 " one_trip=%" PRIu64
              " refused=%" PRIu64 "%s db_reconnects=%d db=%s",
              self->settings->stats_interval, self->stored, self->duplicates, total, rejected,
              self->unavailable, self->batches,
              self->batches ? (double) self->batched / (double) self->batches : 0.0,
              self->inlined, self->one_trip, self->refused, latency,
              store_take_reconnects (self->store), store_up (self->store) ? "up" : "down");
    self->stored = self->duplicates = self->unavailable = self->batches = self->batched = 0;
    self->inlined = self->one_trip = self->refused = 0;
    memset (self->rejected, 0, sizeof self->rejected);
    memset (&self->acked, 0, sizeof self->acked);
    memset (&self->database, 0, sizeof self->database);
}

static void
s_heartbeat (server_t *self)
{
    proto_msg_t *beat = proto_msg_new (PROTO_HEARTBEAT);
    beat->has_seq = true;
    beat->seq = self->last_seq;
    beat->at = zclock_time ();
    size_t size;
    uint8_t *body = proto_msg_encode (beat, &size, NULL);
    if (body) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "$hb");
        zmsg_addmem (msg, body, size);
        zmsg_send (&msg, self->feed);
        free (body);
    }
    proto_msg_destroy (&beat);
}

//  SIGHUP: reload the catalogs from the database and the client keys from
//  their folder, and say what changed.
static int
s_reload (server_t *self)
{
    log_info ("server: SIGHUP: reloading the catalog, client keys and log level");
    if (*self->settings->config) {
        settings_t fresh;
        settings_init (&fresh);
        char err [1024];
        if (settings_read_file (&fresh, self->settings->config, err, sizeof err))
            log_error ("server: SIGHUP: %s; the log level stays %s", err, self->log_level);
        else
        if (!streq (fresh.log_level, self->log_level)) {
            //  Said while info lines are shown: before the change when the
            //  old level shows them, else after it.
            bool said = log_enabled (LOG_LEVEL_INFO);
            if (said)
                log_info ("server: log level is now %s (was %s)", fresh.log_level, self->log_level);
            log_set_level (fresh.log_level);
            if (!said)
                log_info ("server: log level is now %s (was %s)", fresh.log_level, self->log_level);
            snprintf (self->log_level, sizeof self->log_level, "%s", fresh.log_level);
        }
        settings_free (&fresh);
    }
    if (store_reload_catalog (self->store) == 0) {
        catalog_t *catalog = store_catalog (self->store);
        log_info ("server: catalog has %zu regions and %zu metrics",
                   catalog_region_count (catalog), catalog_metric_count (catalog));
    }
    else
        log_warning ("server: catalog not reloaded: the database is unreachable");
    if (self->auth && auth_reload (self->auth) > 0) {
        //  Answers go out on the report socket: give the batches in flight
        //  theirs before the connections are dropped.
        s_wait_committers (self);
        return s_rebind (self);
    }
    return 0;
}

//  The feed's seq goes on from the database's newest version, read once at
//  the first connection: every message after it is numbered one more, and
//  each stands for one change with a higher version, so a restarted
//  collector never reuses a seq. (Read again later it could be ahead of
//  changes still in flight on a committer.)
static void
s_read_seq (server_t *self)
{
    if (self->seq_known)
        return;
    int64_t seq = store_last_seq (self->store);
    if (seq < 0)
        return;
    if (seq > self->last_seq)
        self->last_seq = seq;
    self->seq_known = true;
}

//  Wait until every committer is done, answering as they finish.
static void
s_wait_committers (server_t *self)
{
    zpoller_t *committers = zpoller_new (NULL);
    //  Also after SIGTERM: zpoller_wait would return at once otherwise.
    zpoller_set_nonstop (committers, true);
    for (size_t i = 0; i < self->committer_count; i++)
        zpoller_add (committers, self->committers [i].actor);
    while (s_any_busy (self)) {
        void *which = zpoller_wait (committers, 1000);
        if (which)
            s_on_committer (self, which);
    }
    zpoller_destroy (&committers);
}

//  Answer up to `most` of the queries waiting.
static void
s_answer_queries (server_t *self, int most)
{
    for (int i = 0; i < most && self->query; i++) {
        zmsg_t *msg = zmsg_recv (self->query);
        if (!msg)
            break;
        s_answer_query (self, msg);
        zmsg_destroy (&msg);
    }
}

//  Drain everything that has arrived into the batch being gathered.
static void
s_receive_reports (server_t *self)
{
    while (self->report && self->batch_count < (size_t) self->settings->batch_max) {
        zmsg_t *msg = zmsg_recv (self->report);
        if (!msg)
            break;
        s_receive_report (self, msg);
        zmsg_destroy (&msg);
    }
}

//  The loop is storing a batch itself and the database is slow to answer
//  (a row lock held elsewhere, a slow COMMIT), STORE_WAIT_SLICE_MS at a
//  time: as when a committer's thread stores it, heartbeats go out on
//  time, pings are answered (and a few snapshots: each is a round trip
//  of its own, on the main connection), reports are received (rejects
//  answered at once), and a batch that has grown large enough goes to
//  another committer.
static void
s_while_storing (void *arg)
{
    server_t *self = (server_t *) arg;
    if (zclock_mono () >= self->next_heartbeat) {
        s_heartbeat (self);
        self->next_heartbeat = zclock_mono () + self->settings->heartbeat_ms;
    }
    s_answer_queries (self, QUERY_WAITING_MAX);
    s_receive_reports (self);
    s_dispatch (self);          //  this committer is busy: never to the loop
}

int
server_run (server_t *self)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_sighup;
    sigemptyset (&action.sa_mask);
    sigaction (SIGHUP, &action, NULL);
    int rc = 0;

    if (store_ensure (self->store))
        s_read_seq (self);
    self->next_heartbeat = zclock_mono ();
    self->next_stats = zclock_mono () + (int64_t) self->settings->stats_interval * 1000;
    self->db_was_up = store_up (self->store);
    while (!zsys_interrupted) {
        int64_t wait = self->next_heartbeat - zclock_mono ();
        //  A full batch waits for a committer; reports wait in their queue.
        zpoller_t *poller = self->batch_count >= (size_t) self->settings->batch_max
                          ? self->full_poller : self->poller;
        void *which = zpoller_wait (poller, wait > 0 ? (int) wait : 0);
        if (zsys_interrupted)
            break;
        if (s_reload_requested) {
            s_reload_requested = 0;
            if (s_reload (self)) {
                rc = -1;
                break;
            }
            continue;
        }
        //  The ROUTER sockets do not block (receive timeout 0): a receive
        //  that finds nothing returns NULL. Asking ZMQ_EVENTS before each
        //  message instead cost a poll() and a getpid() system call each.
        if (which == self->query)
            s_answer_queries (self, QUERY_DRAIN_MAX);
        if (which && which != self->report && which != self->query)
            s_on_committer (self, which);
        //  Drain everything that has arrived into one batch.
        s_receive_reports (self);
        s_dispatch (self);
        //  An idle collector notices a stopped server within a heartbeat
        //  and logs the outage as it starts, not at the next report.
        if (zclock_mono () >= self->next_heartbeat)
            store_alive (self->store);
        bool up = store_up (self->store);
        if (self->db_was_up && !up) {
            self->db_generation++;
            s_reset_committers (self);
        }
        if (!up && store_ensure (self->store)) {
            up = true;
            s_read_seq (self);
        }
        self->db_was_up = up;
        if (zclock_mono () >= self->next_stats) {
            s_log_statistics (self);
            self->next_stats = zclock_mono () + (int64_t) self->settings->stats_interval * 1000;
        }
        if (zclock_mono () >= self->next_heartbeat) {
            s_heartbeat (self);
            self->next_heartbeat = zclock_mono () + self->settings->heartbeat_ms;
        }
    }
    //  Finish what is in hand: the jobs in flight, the batch gathered so far
    //  and held repeats.
    s_wait_committers (self);
    while (self->batch_count > 0) {
        s_dispatch (self);      //  sent, or answered at once when the database is down
        s_wait_committers (self);
    }
    log_info ("server: stopped");
    return rc;
}
