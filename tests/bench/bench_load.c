/*  bench_load.c — tally-bench: the load generator of the performance benchmark.

    tests/bench/run.sh orchestrates a run; this program does the measuring,
    with the same wire code (proto/) a real reporter uses:

      tally-bench ingest   N DEALER clients, each keeping a window of reports
                           in flight: sustained durable ingest (acks counted
                           only as they arrive, i.e. after COMMIT)
      tally-bench latency  one paced DEALER sender, and a SUB in a thread of
                           its own: ack latency and report-to-feed latency
                           at a fixed rate
      tally-bench copy     the ceiling: COPY of the same report and
                           report_value rows straight into PostgreSQL
      tally-bench floor    the latency floor: the latency sender against an
                           echo in this process that does the least a
                           collector must (gather what arrived, commit one
                           durable transaction, ack each report)
      tally-bench probe    how steadily memory-bound work runs on the
                           machine just now (a chase of dependent loads)

    Every subcommand ends with one machine-readable line starting "result "
    (key=value pairs) that run.sh reads; lines before it are for people.
    Reports go to the leaf regions of the catalog in --share (round robin),
    each leaf always with the same 10 metrics, as a county would report.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <libpq-fe.h>

#include "proto_msg.h"

#define BENCH_MAX_LEAVES    10000
#define BENCH_MAX_METRICS   256
#define BENCH_VALUES        10              //  values per report
#define BENCH_MARKER        "cattle_added"  //  latency: carries the report's seq
#define BENCH_DRAIN_MS      60000           //  wait this long for the last replies
#define BENCH_SILENT_MS     10000           //  no reply at all this long: nobody answers
#define BENCH_FEED_WAIT_S   10              //  wait this long for the feed's first heartbeat

//  Everything a subcommand is told on the command line.
typedef struct {
    const char *command;        //  ingest, latency, copy, floor or probe
    const char *endpoint;       //  report endpoint (ingest, latency)
    const char *feed;           //  feed endpoint (latency)
    const char *db;             //  conninfo (copy, floor)
    const char *share;          //  folder with catalog/regions.csv, catalog/metrics.csv
    const char *source;         //  source prefix: clients are PREFIX-cN
    const char *as_of;          //  as_of of every report
    const char *acked;          //  write "source<TAB>seq" of every stored ack here
    int clients;                //  ingest: concurrent DEALER clients
    int window;                 //  ingest: reports in flight per client
    int rate;                   //  latency, floor: reports per second
    int batch;                  //  copy: reports per transaction
    double seconds;             //  measured time
    double warmup;              //  unmeasured time before it
} s_args_t;

//  The catalog, as read from the share folder.
typedef struct {
    char leaves [BENCH_MAX_LEAVES][PROTO_MAX_NAME + 1];   //  regions without children
    size_t leaf_count;
    char metrics [BENCH_MAX_METRICS][PROTO_MAX_NAME + 1];
    int64_t metric_max [BENCH_MAX_METRICS];
    size_t metric_count;
} s_catalog_t;

static s_catalog_t s_catalog;

//  --------------------------------------------------------------------------
//  Catalog and reports

//  Read regions.csv and metrics.csv (header line, then code,name,level,parent
//  and key,name_zh,unit,rollup,min,max,...). Only the first fields are read,
//  so a comma in a description does not matter.
static int
s_catalog_load (const char *share)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/catalog/regions.csv", share);
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "tally-bench: cannot read %s\n", path);
        return -1;
    }
    static char codes [BENCH_MAX_LEAVES][PROTO_MAX_NAME + 1];
    static char parents [BENCH_MAX_LEAVES][PROTO_MAX_NAME + 1];
    size_t count = 0;
    char line [1024];
    bool header = true;
    while (fgets (line, sizeof line, file) && count < BENCH_MAX_LEAVES) {
        if (header) {
            header = false;
            continue;
        }
        char *save = NULL;
        char *code = strtok_r (line, ",\r\n", &save);
        strtok_r (NULL, ",\r\n", &save);                //  name
        strtok_r (NULL, ",\r\n", &save);                //  level
        char *parent = strtok_r (NULL, ",\r\n", &save);
        if (!code)
            continue;
        snprintf (codes [count], sizeof codes [count], "%s", code);
        snprintf (parents [count], sizeof parents [count], "%s", parent ? parent : "");
        count++;
    }
    fclose (file);
    for (size_t i = 0; i < count; i++) {
        bool leaf = true;
        for (size_t k = 0; k < count && leaf; k++)
            if (streq (parents [k], codes [i]))
                leaf = false;
        if (leaf)
            memcpy (s_catalog.leaves [s_catalog.leaf_count++], codes [i], sizeof codes [i]);
    }

    snprintf (path, sizeof path, "%s/catalog/metrics.csv", share);
    file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "tally-bench: cannot read %s\n", path);
        return -1;
    }
    header = true;
    while (fgets (line, sizeof line, file) && s_catalog.metric_count < BENCH_MAX_METRICS) {
        if (header) {
            header = false;
            continue;
        }
        char *fields [6] = { NULL };
        char *p = line;
        for (int f = 0; f < 6 && p; f++) {
            fields [f] = p;
            p = strchr (p, ',');
            if (p)
                *p++ = 0;
        }
        if (!fields [5])
            continue;
        size_t m = s_catalog.metric_count++;
        snprintf (s_catalog.metrics [m], sizeof s_catalog.metrics [m], "%.64s", fields [0]);
        s_catalog.metric_max [m] = strtoll (fields [5], NULL, 10);
    }
    fclose (file);
    if (s_catalog.leaf_count == 0 || s_catalog.metric_count < BENCH_VALUES) {
        fprintf (stderr, "tally-bench: %s/catalog needs leaf regions and at least %d metrics\n",
                 share, BENCH_VALUES);
        return -1;
    }
    return 0;
}

//  The j-th metric leaf k reports: a county reports the same 10 metrics
//  every time; neighbouring leaves report overlapping sets.
static size_t
s_metric_of (size_t leaf, int j)
{
    return (leaf + (size_t) j) % s_catalog.metric_count;
}

//  A value within the metric's range that varies with the report.
static int64_t
s_value_of (size_t metric, int64_t seq, int j)
{
    int64_t cap = s_catalog.metric_max [metric] < 10000 ? s_catalog.metric_max [metric] : 10000;
    return (seq * 7919 + j * 104729) % (cap + 1);
}

//  Encode report `seq` of `source` for leaf `leaf`; with marker, the value
//  of BENCH_MARKER is the seq (it is added if the leaf's set lacks it).
static uint8_t *
s_encode_report (const char *source, int64_t seq, size_t leaf, const char *as_of,
                 bool marker, size_t *size)
{
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    msg->has_source = msg->has_seq = true;
    snprintf (msg->source, sizeof msg->source, "%s", source);
    msg->seq = seq;
    snprintf (msg->region, sizeof msg->region, "%s", s_catalog.leaves [leaf]);
    snprintf (msg->as_of, sizeof msg->as_of, "%s", as_of);
    bool marked = false;
    for (int j = 0; j < BENCH_VALUES; j++) {
        size_t m = s_metric_of (leaf, j);
        bool is_marker = marker && streq (s_catalog.metrics [m], BENCH_MARKER);
        if (marker && !marked && !is_marker && j == BENCH_VALUES - 1)
            continue;           //  keep room for the marker: still 10 values
        proto_msg_add_value (msg, false, s_catalog.metrics [m],
                             is_marker ? seq : s_value_of (m, seq, j));
        marked |= is_marker;
    }
    if (marker && !marked)
        proto_msg_add_value (msg, false, BENCH_MARKER, seq);
    proto_error_t err;
    uint8_t *body = proto_msg_encode (msg, size, &err);
    if (!body) {
        fprintf (stderr, "tally-bench: cannot encode a report: %s\n", err.text);
        abort ();
    }
    proto_msg_destroy (&msg);
    return body;
}

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

//  --------------------------------------------------------------------------
//  A growable list of int64 (acked seqs, latencies)

typedef struct {
    int64_t *data;
    size_t count, cap;
} s_list_t;

static void
s_list_add (s_list_t *list, int64_t value)
{
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 1024;
        list->data = (int64_t *) realloc (list->data, list->cap * sizeof (int64_t));
        assert (list->data);
    }
    list->data [list->count++] = value;
}

static int
s_compare_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static void
s_list_sort (s_list_t *list)
{
    if (list->count > 0)
        qsort (list->data, list->count, sizeof (int64_t), s_compare_int64);
}

//  The p-th percentile (0..100) of a sorted list, nearest rank, in ms.
static double
s_percentile_ms (const s_list_t *sorted, double p)
{
    if (sorted->count == 0)
        return -1;
    size_t rank = (size_t) ceil (p / 100.0 * (double) sorted->count);
    if (rank < 1)
        rank = 1;
    return (double) sorted->data [rank - 1] / 1000.0;
}

static int
s_write_acked (FILE *file, const char *source, const s_list_t *seqs)
{
    for (size_t i = 0; i < seqs->count; i++)
        if (fprintf (file, "%s\t%" PRId64 "\n", source, seqs->data [i]) < 0)
            return -1;
    return 0;
}

//  Receive the next reply waiting on a DEALER whose receive timeout is 0.
//  False when none is left; else *reply is the decoded reply (NULL, and a
//  message, when it is not a valid one) and *at when it was received.
static bool
s_next_reply (zsock_t *dealer, proto_msg_t **reply, int64_t *at)
{
    zframe_t *frame = zframe_recv (dealer);
    if (!frame)
        return false;
    *at = s_now_us ();
    proto_error_t err;
    *reply = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
    if (!*reply)
        fprintf (stderr, "tally-bench: undecodable reply: %s\n", err.text);
    zframe_destroy (&frame);
    return true;
}

//  --------------------------------------------------------------------------
//  ingest: N clients, each an actor with its own DEALER and window

typedef struct {
    const s_args_t *args;
    int index;                  //  client number
    char source [PROTO_MAX_SOURCE + 1];
    int64_t measure_from;       //  s_now_us: acks from here on are counted...
    int64_t stop_at;            //  ...until here, when sending stops
    //  Results, written by the actor before it signals that it is done.
    int64_t sent;
    int64_t acked_window;       //  stored acks received in [measure_from, stop_at)
    int64_t nacks;
    int64_t duplicates;
    int64_t unanswered;         //  still in flight after the drain timeout
    s_list_t acked;             //  seqs acked 'stored'
    s_list_t ack_times;         //  s_now_us of stored acks in [measure_from, stop_at)
} s_client_t;

static void
s_client_actor (zsock_t *pipe, void *arg)
{
    s_client_t *self = (s_client_t *) arg;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvhwm (dealer, 0);
    zsock_set_linger (dealer, 0);
    zsock_set_rcvtimeo (dealer, 0);     //  read after a poll, until NULL
    int rc = zsock_connect (dealer, "%s", self->args->endpoint);
    zsock_signal (pipe, 0);
    if (rc == 0) {
        int64_t in_flight = 0, seq = 0;
        size_t leaf = (size_t) self->index * 37;
        int64_t drain_until = self->stop_at + BENCH_DRAIN_MS * 1000;
        int64_t silent_until = s_now_us () + BENCH_SILENT_MS * 1000;
        bool answered = false;
        while (true) {
            int64_t now = s_now_us ();
            bool sending = now < self->stop_at;
            if (!sending && (in_flight == 0 || now > drain_until))
                break;
            if (!answered && now > silent_until)
                break;          //  s_run_ingest says so

            while (sending && in_flight < self->args->window) {
                size_t size;
                seq++;
                leaf = (leaf + 1) % s_catalog.leaf_count;
                uint8_t *body = s_encode_report (self->source, seq, leaf, self->args->as_of, false, &size);
                zframe_t *frame = zframe_new (body, size);
                free (body);
                zframe_send (&frame, dealer, 0);
                in_flight++;
            }
            zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 10) <= 0)
                continue;
            proto_msg_t *reply;
            int64_t at;
            while (s_next_reply (dealer, &reply, &at)) {
                in_flight--;
                answered = true;
                if (reply && reply->type == PROTO_ACK && streq (reply->status, "stored")) {
                    s_list_add (&self->acked, reply->seq);
                    if (at >= self->measure_from && at < self->stop_at) {
                        self->acked_window++;
                        s_list_add (&self->ack_times, at);
                    }
                }
                else
                if (reply && reply->type == PROTO_ACK)
                    self->duplicates++;
                else {
                    if (reply && self->nacks < 5)
                        fprintf (stderr, "tally-bench: %s seq %" PRId64 ": nack %s: %s\n", self->source,
                                 reply->seq, proto_code_name (reply->code), reply->error ? reply->error : "");
                    self->nacks++;
                }
                proto_msg_destroy (&reply);
            }
        }
        self->sent = seq;
        self->unanswered = in_flight;
    }
    zsock_destroy (&dealer);
    zsock_signal (pipe, rc == 0 ? 0 : 1);
    //  Wait for $TERM from zactor_destroy.
    char *command = zstr_recv (pipe);
    zstr_free (&command);
}

static int
s_run_ingest (const s_args_t *args)
{
    //  An endpoint that cannot be connected to is said once, not by each client.
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    int connected = zsock_connect (probe, "%s", args->endpoint);
    zsock_destroy (&probe);
    if (connected != 0) {
        fprintf (stderr, "tally-bench ingest: cannot connect to '%s' (give tcp://HOST:PORT, the "
                 "collector's report endpoint)\n", args->endpoint);
        return 1;
    }
    s_client_t *clients = (s_client_t *) zmalloc ((size_t) args->clients * sizeof (s_client_t));
    zactor_t **actors = (zactor_t **) zmalloc ((size_t) args->clients * sizeof (zactor_t *));
    int64_t start = s_now_us () + 100 * 1000;
    for (int c = 0; c < args->clients; c++) {
        s_client_t *client = &clients [c];
        client->args = args;
        client->index = c;
        snprintf (client->source, sizeof client->source, "%s-c%d", args->source, c);
        client->measure_from = start + (int64_t) (args->warmup * 1e6);
        client->stop_at = client->measure_from + (int64_t) (args->seconds * 1e6);
    }
    for (int c = 0; c < args->clients; c++)
        actors [c] = zactor_new (s_client_actor, &clients [c]);
    int failed = 0;
    for (int c = 0; c < args->clients; c++)
        failed |= zsock_wait (actors [c]) != 0;
    for (int c = 0; c < args->clients; c++)
        zactor_destroy (&actors [c]);

    int64_t sent = 0, window = 0, nacks = 0, duplicates = 0, unanswered = 0, acked = 0;
    s_list_t times = { 0 };
    FILE *out = args->acked ? fopen (args->acked, "w") : NULL;
    if (args->acked && !out) {
        fprintf (stderr, "tally-bench: cannot write %s\n", args->acked);
        failed = 1;
    }
    for (int c = 0; c < args->clients; c++) {
        s_client_t *client = &clients [c];
        sent += client->sent;
        window += client->acked_window;
        nacks += client->nacks;
        duplicates += client->duplicates;
        unanswered += client->unanswered;
        acked += (int64_t) client->acked.count;
        if (out && s_write_acked (out, client->source, &client->acked))
            failed = 1;
        for (size_t i = 0; i < client->ack_times.count; i++)
            s_list_add (&times, client->ack_times.data [i]);
        free (client->acked.data);
        free (client->ack_times.data);
    }
    //  Acks come in bursts, one per commit. Count whole commits: the acks
    //  after the window's first burst (which ends at the first gap of 10 ms
    //  or more) up to the last one, over the time between them, so that the
    //  rate does not depend on where the window edges fall between bursts.
    s_list_sort (&times);
    double rps = (double) window / args->seconds;
    if (times.count > 2) {
        size_t k = 1;
        while (k < times.count && times.data [k] - times.data [k - 1] < 10000
           &&  times.data [k] - times.data [0] < (int64_t) (args->seconds * 1e6 / 4))
            k++;
        if (k == times.count || times.data [k] - times.data [k - 1] < 10000)
            k = 1;              //  no bursts: acks flow evenly
        int64_t span = times.data [times.count - 1] - times.data [k - 1];
        if (span > (int64_t) (args->seconds * 1e6 / 2))
            rps = (double) (times.count - k) / ((double) span / 1e6);
    }
    free (times.data);
    if (out && fclose (out))
        failed = 1;
    if (sent > 0 && acked + duplicates + nacks == 0)
        fprintf (stderr, "tally-bench ingest: no reply from %s to any of %" PRId64 " reports within "
                 "%d s: is a collector running there?\n", args->endpoint, sent, BENCH_SILENT_MS / 1000);
    printf ("ingest: %d clients x window %d, %.1f s measured after %.1f s warm-up: "
            "%" PRId64 " reports acked in the window, %.0f reports/s, %.0f values/s\n",
            args->clients, args->window, args->seconds, args->warmup, window, rps, rps * BENCH_VALUES);
    printf ("ingest: sent %" PRId64 ", acked stored %" PRId64 ", duplicate %" PRId64
            ", nack %" PRId64 ", unanswered %" PRId64 "\n", sent, acked, duplicates, nacks, unanswered);
    printf ("result reports_per_s=%.0f values_per_s=%.0f sent=%" PRId64 " acked=%" PRId64
            " duplicates=%" PRId64 " nacks=%" PRId64 " unanswered=%" PRId64 "\n",
            rps, rps * BENCH_VALUES, sent, acked, duplicates, nacks, unanswered);
    free (clients);
    free (actors);
    return failed || nacks || duplicates || unanswered ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  latency: a paced sender, and the feed read by a thread of its own
//
//  A county's reporter and a city's screen are different programs: the
//  reporter never reads the feed. In one poll loop, the sender's acks
//  waited while the loop decoded the feed's messages (four or so a batch,
//  some 2,800 a second), which measured the load generator and not the
//  collector. So the watcher thread reads the feed, and keeps for each
//  report when its totals first came; the sender turns that into latency
//  once the watcher is gone.

typedef struct {
    const char *endpoint;       //  the feed
    int64_t total;              //  reports that will be sent (seq 1 .. total)
    int64_t *seen_at;           //  [total + 1]: s_now_us of the report's
                                //  totals first seen, 0 if never
    bool live;                  //  a heartbeat came: the subscription works
} s_watcher_t;

static void
s_watcher_actor (zsock_t *pipe, void *arg)
{
    s_watcher_t *self = (s_watcher_t *) arg;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (sub, 0);
    zsock_set_subscribe (sub, "");
    //  The subscription is live once a heartbeat arrives.
    if (zsock_connect (sub, "%s", self->endpoint) == 0) {
        zsock_set_rcvtimeo (sub, 1000);
        int64_t deadline = s_now_us () + (int64_t) BENCH_FEED_WAIT_S * 1000000;
        while (!self->live && s_now_us () < deadline) {
            char *topic = NULL;
            zframe_t *body = NULL;
            if (zsock_recv (sub, "sf", &topic, &body) == 0 && topic)
                self->live = true;
            zstr_free (&topic);
            zframe_destroy (&body);
        }
    }
    zsock_signal (pipe, 0);     //  self->live is set: zactor_new returns
    zsock_set_rcvtimeo (sub, 0);
    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    while (self->live) {
        void *which = zpoller_wait (poller, -1);
        if (which != sub)
            break;              //  $TERM, or interrupted
        while (true) {          //  receive timeout 0: NULL when nothing is left
            zmsg_t *msg = zmsg_recv (sub);
            if (!msg)
                break;
            int64_t at = s_now_us ();
            zframe_t *body = zmsg_last (msg);
            proto_error_t err;
            proto_msg_t *totals = body ? proto_msg_decode (zframe_data (body), zframe_size (body), 0, &err) : NULL;
            int64_t marker;
            if (totals && totals->type == PROTO_TOTALS
            &&  proto_msg_value (totals, false, BENCH_MARKER, &marker)
            &&  marker >= 1 && marker <= self->total && !self->seen_at [marker]
            &&  streq (totals->region, s_catalog.leaves [(size_t) marker % s_catalog.leaf_count]))
                self->seen_at [marker] = at;
            proto_msg_destroy (&totals);
            zmsg_destroy (&msg);
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
}

//  The floor: a ROUTER that gathers every report that has arrived,
//  commits one durable transaction (an UPDATE of a one-row table, as small
//  as a transaction gets) and acks each report, on the same machine, the
//  same PostgreSQL and the same sockets as the collector. Nothing faster
//  can be built on them; what the collector takes beyond it is its own.

#define BENCH_FLOOR_BATCH   1000            //  reports gathered at most

typedef struct {
    const char *conninfo;
    char endpoint [256];        //  bound, or "" when it could not start
    char error [512];           //  why not
    int64_t batches;            //  transactions committed
} s_floor_t;

static void
s_floor_serve (s_floor_t *self, zsock_t *pipe, zsock_t *router, PGconn *conn)
{
    zmsg_t **held = (zmsg_t **) zmalloc (BENCH_FLOOR_BATCH * sizeof (zmsg_t *));
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (zpoller_wait (poller, -1) == router) {
        size_t count = 0;
        while (count < BENCH_FLOOR_BATCH && (held [count] = zmsg_recv (router)))
            count++;
        PGresult *res = PQexec (conn, "UPDATE bench_floor SET n = n + 1 WHERE id = 1");
        bool committed = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!committed && !*self->error)
            snprintf (self->error, sizeof self->error, "%s", PQerrorMessage (conn));
        PQclear (res);
        self->batches += committed;
        for (size_t i = 0; i < count; i++) {
            //  Not committed: no answer, so the sender counts it unanswered.
            zframe_t *routing = zmsg_pop (held [i]);
            zframe_t *body = zmsg_first (held [i]);
            proto_error_t err;
            proto_msg_t *report = committed && routing && body
                                ? proto_msg_decode (zframe_data (body), zframe_size (body), 0, &err)
                                : NULL;
            if (report) {
                proto_msg_t *ack = proto_msg_new (PROTO_ACK);
                ack->has_source = ack->has_seq = true;
                snprintf (ack->source, sizeof ack->source, "%s", report->source);
                ack->seq = report->seq;
                snprintf (ack->status, sizeof ack->status, "stored");
                size_t size;
                uint8_t *data = proto_msg_encode (ack, &size, &err);
                if (data) {
                    zmsg_t *reply = zmsg_new ();
                    zmsg_append (reply, &routing);
                    zmsg_addmem (reply, data, size);
                    zmsg_send (&reply, router);
                    free (data);
                }
                proto_msg_destroy (&ack);
                proto_msg_destroy (&report);
            }
            zframe_destroy (&routing);
            zmsg_destroy (&held [i]);
        }
    }
    zpoller_destroy (&poller);
    free (held);
}

static void
s_floor_actor (zsock_t *pipe, void *arg)
{
    s_floor_t *self = (s_floor_t *) arg;
    PGconn *conn = PQconnectdb (self->conninfo);
    PGresult *res = PQstatus (conn) == CONNECTION_OK
                  ? PQexec (conn, "SET client_min_messages = warning;"
                                  "CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, n bigint NOT NULL);"
                                  "INSERT INTO bench_floor VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
                  : NULL;
    zsock_t *router = NULL;
    if (PQresultStatus (res) == PGRES_COMMAND_OK) {
        router = zsock_new (ZMQ_ROUTER);
        zsock_set_sndhwm (router, 0);
        zsock_set_rcvhwm (router, 0);
        if (zsock_bind (router, "tcp://127.0.0.1:*") > 0) {
            snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (router));
            zsock_set_rcvtimeo (router, 0);     //  each gathering reads until NULL
        }
        else
            snprintf (self->error, sizeof self->error, "cannot bind tcp://127.0.0.1:*");
    }
    else {
        //  libpq's message, on one line.
        snprintf (self->error, sizeof self->error, "%s", PQerrorMessage (conn));
        for (char *c = self->error; *c; c++)
            if (*c == '\n' || *c == '\t')
                *c = ' ';
        size_t len = strlen (self->error);
        while (len > 0 && self->error [len - 1] == ' ')
            self->error [--len] = 0;
    }
    PQclear (res);
    zsock_signal (pipe, 0);     //  self->endpoint is set: zactor_new returns
    if (*self->endpoint)
        s_floor_serve (self, pipe, router, conn);
    zsock_destroy (&router);
    PQfinish (conn);
}

//  The floor's figures: what the sender measured, and how many
//  transactions the echo committed. 1 when a report went unanswered.
static int
s_floor_report (const s_args_t *args, const s_floor_t *echo, s_list_t *acks, int64_t total,
                int64_t sent, int64_t replies, int64_t nacks, int64_t late_sends, double achieved)
{
    if (*echo->error)
        fprintf (stderr, "tally-bench floor: the echo's commit failed: %s\n", echo->error);
    s_list_sort (acks);
    printf ("floor: %" PRId64 " reports at %d reports/s (achieved %.0f/s, %" PRId64 " sends over "
            "1 ms late), %zu measured after %.1f s warm-up; %" PRId64 " transactions, %.1f "
            "reports each\n", sent, args->rate, achieved, late_sends, acks->count, args->warmup,
            echo->batches, echo->batches ? (double) replies / (double) echo->batches : 0.0);
    printf ("floor: ack p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
            s_percentile_ms (acks, 50), s_percentile_ms (acks, 99),
            s_percentile_ms (acks, 99.9), s_percentile_ms (acks, 100));
    printf ("result floor_p50_ms=%.2f floor_p99_ms=%.2f acked=%" PRId64 " nacks=%" PRId64
            " unanswered=%" PRId64 "\n", s_percentile_ms (acks, 50), s_percentile_ms (acks, 99),
            replies - nacks, nacks, total - replies);
    return nacks || replies != total ? 1 : 0;
}

static int
s_run_latency (const s_args_t *args)
{
    int64_t interval = (int64_t) (1e6 / args->rate);
    int64_t total = (int64_t) ((args->warmup + args->seconds) * args->rate);
    int64_t first_measured = (int64_t) (args->warmup * args->rate) + 1;
    //  The thread beside the sender: the feed's watcher, or the floor's echo.
    bool floor = streq (args->command, "floor");
    s_watcher_t watch = { .endpoint = args->feed, .total = total,
                          .seen_at = floor ? NULL : (int64_t *) zmalloc ((size_t) (total + 1) * sizeof (int64_t)) };
    s_floor_t echo = { .conninfo = args->db };
    zactor_t *watcher = floor ? zactor_new (s_floor_actor, &echo) : zactor_new (s_watcher_actor, &watch);
    const char *endpoint = floor ? echo.endpoint : args->endpoint;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvhwm (dealer, 0);
    zsock_set_linger (dealer, 0);
    bool ready = floor ? *echo.endpoint : watch.live;
    if (!ready || zsock_connect (dealer, "%s", endpoint)) {
        if (!ready && floor)
            fprintf (stderr, "tally-bench floor: cannot start the echo: %s\n", echo.error);
        else
        if (!ready)
            fprintf (stderr, "tally-bench latency: no heartbeat on %s within %d s: is that the "
                     "collector's feed endpoint?\n", args->feed, BENCH_FEED_WAIT_S);
        else
            fprintf (stderr, "tally-bench: cannot connect to %s\n", endpoint);
        zactor_destroy (&watcher);
        zsock_destroy (&dealer);
        free (watch.seen_at);
        return 1;
    }
    zsock_set_rcvtimeo (dealer, 0);     //  each loop reads until NULL

    int64_t *sent_at = (int64_t *) zmalloc ((size_t) (total + 1) * sizeof (int64_t));
    s_list_t acks = { 0 }, feeds = { 0 }, acked = { 0 };
    int64_t seq = 0, replies = 0, nacks = 0, late_sends = 0;
    int64_t start = s_now_us ();
    int64_t next_send = start;
    int64_t deadline = start + (int64_t) ((args->warmup + args->seconds) * 1e6) + BENCH_DRAIN_MS * 1000;
    //  Wait a little after the last reply for feed messages still coming.
    int64_t feed_grace = 0;
    while (true) {
        int64_t now = s_now_us ();
        if (now > deadline || (seq == total && replies == total && feed_grace && now > feed_grace))
            break;
        while (seq < total && now >= next_send) {
            size_t size;
            seq++;
            uint8_t *body = s_encode_report (args->source, seq, (size_t) seq % s_catalog.leaf_count,
                                             args->as_of, true, &size);
            zframe_t *frame = zframe_new (body, size);
            free (body);
            sent_at [seq] = s_now_us ();
            if (sent_at [seq] - next_send > 1000)
                late_sends++;
            zframe_send (&frame, dealer, 0);
            next_send += interval;
            now = s_now_us ();
        }
        zmq_pollitem_t items [1] = { { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 } };
        int64_t wait_us = seq < total ? next_send - s_now_us () : 10000;
        if (zmq_poll (items, 1, wait_us > 0 ? (long) ((wait_us + 999) / 1000) : 0) < 0)
            break;
        proto_msg_t *reply;
        int64_t at;
        while (s_next_reply (dealer, &reply, &at)) {
            replies++;
            if (reply && reply->type == PROTO_ACK && reply->seq >= 1 && reply->seq <= seq) {
                if (streq (reply->status, "stored"))
                    s_list_add (&acked, reply->seq);
                if (reply->seq >= first_measured)
                    s_list_add (&acks, at - sent_at [reply->seq]);
            }
            else
                nacks++;
            proto_msg_destroy (&reply);
            if (seq == total && replies == total)
                feed_grace = s_now_us () + 1000 * 1000;
        }
    }
    //  The watcher is gone (joined) before its times are read.
    zactor_destroy (&watcher);
    double achieved = (double) seq / ((double) (sent_at [seq > 0 ? seq : 1] - start) / 1e6 + 1e-9);
    if (floor) {
        int rc = s_floor_report (args, &echo, &acks, total, seq, replies, nacks, late_sends, achieved);
        free (acks.data);
        free (acked.data);
        free (sent_at);
        free (watch.seen_at);
        zsock_destroy (&dealer);
        return rc;
    }
    for (int64_t i = first_measured; i <= seq; i++)
        if (watch.seen_at [i])
            s_list_add (&feeds, watch.seen_at [i] - sent_at [i]);
    int rc = 0;
    if (args->acked) {
        FILE *out = fopen (args->acked, "w");
        if (!out || s_write_acked (out, args->source, &acked) || fclose (out)) {
            fprintf (stderr, "tally-bench: cannot write %s\n", args->acked);
            rc = 1;
        }
    }
    s_list_sort (&acks);
    s_list_sort (&feeds);
    int64_t measured = total - first_measured + 1;
    printf ("latency: %" PRId64 " reports at %d reports/s (achieved %.0f/s, %" PRId64
            " sends over 1 ms late), %" PRId64 " measured after %.1f s warm-up\n",
            total, args->rate, achieved, late_sends, measured, args->warmup);
    printf ("latency: ack  p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (%zu acks)\n",
            s_percentile_ms (&acks, 50), s_percentile_ms (&acks, 99),
            s_percentile_ms (&acks, 99.9), s_percentile_ms (&acks, 100), acks.count);
    printf ("latency: feed p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (%zu of %" PRId64
            " reports seen on the feed%s)\n",
            s_percentile_ms (&feeds, 50), s_percentile_ms (&feeds, 99),
            s_percentile_ms (&feeds, 99.9), s_percentile_ms (&feeds, 100), feeds.count, measured,
            (int64_t) feeds.count < measured ? "; the rest were superseded in the same batch" : "");
    printf ("result ack_p50_ms=%.2f ack_p99_ms=%.2f feed_p50_ms=%.2f feed_p99_ms=%.2f "
            "acked=%zu nacks=%" PRId64 " unanswered=%" PRId64 " feed_seen=%zu achieved_per_s=%.0f\n",
            s_percentile_ms (&acks, 50), s_percentile_ms (&acks, 99),
            s_percentile_ms (&feeds, 50), s_percentile_ms (&feeds, 99),
            acked.count, nacks, total - replies, feeds.count, achieved);
    if (nacks || replies != total)
        rc = 1;
    free (acks.data);
    free (feeds.data);
    free (acked.data);
    free (sent_at);
    free (watch.seen_at);
    zsock_destroy (&dealer);
    return rc;
}

//  --------------------------------------------------------------------------
//  copy: the ceiling

static int
s_pq_ok (PGconn *conn, PGresult *res, const char *what)
{
    ExecStatusType status = PQresultStatus (res);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN;
    if (!ok)
        fprintf (stderr, "tally-bench copy: %s: %s", what, PQerrorMessage (conn));
    PQclear (res);
    return ok ? 0 : -1;
}

static int
s_copy_rows (PGconn *conn, const char *sql, const char *data, size_t size)
{
    if (s_pq_ok (conn, PQexec (conn, sql), sql))
        return -1;
    int rc = PQputCopyData (conn, data, (int) size) == 1 && PQputCopyEnd (conn, NULL) == 1 ? 0 : -1;
    PGresult *res;
    while ((res = PQgetResult (conn))) {
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            fprintf (stderr, "tally-bench copy: %s: %s", sql, PQerrorMessage (conn));
            rc = -1;
        }
        PQclear (res);
    }
    return rc;
}

//  One transaction: COPY `count` reports and their values, COMMIT.
static int
s_copy_batch (PGconn *conn, const s_args_t *args, int64_t *seq, int count, char **reports, char **values,
              size_t *caps)
{
    PGresult *res = PQexec (conn, "BEGIN");
    if (s_pq_ok (conn, res, "BEGIN"))
        return -1;
    //  Reserve `count` report ids, so that values can name them.
    char sql [128];
    snprintf (sql, sizeof sql, "SELECT nextval ('report_id_seq'), setval ('report_id_seq', "
              "currval ('report_id_seq') + %d)", count - 1);
    res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        return s_pq_ok (conn, res, "reserving ids");
    int64_t first_id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);

    size_t rlen = 0, vlen = 0;
    //  sent_at as COPY reads a timestamptz (the collector converts the wire's ms).
    char sent_at [64];
    time_t now = time (NULL);
    struct tm utc;
    gmtime_r (&now, &utc);
    strftime (sent_at, sizeof sent_at, "%Y-%m-%d %H:%M:%S+00", &utc);
    for (int i = 0; i < count; i++) {
        int64_t s = ++*seq;
        size_t leaf = (size_t) s % s_catalog.leaf_count;
        if (rlen + 256 > caps [0]) {
            caps [0] = caps [0] * 2 + 4096;
            *reports = (char *) realloc (*reports, caps [0]);
        }
        rlen += (size_t) snprintf (*reports + rlen, caps [0] - rlen,
                 "%" PRId64 "\t%s\t%" PRId64 "\t%s\t%s\t%s\t127.0.0.1\n", first_id + i,
                 args->source, s, s_catalog.leaves [leaf], args->as_of, sent_at);
        for (int j = 0; j < BENCH_VALUES; j++) {
            if (vlen + 128 > caps [1]) {
                caps [1] = caps [1] * 2 + 4096;
                *values = (char *) realloc (*values, caps [1]);
            }
            size_t m = s_metric_of (leaf, j);
            vlen += (size_t) snprintf (*values + vlen, caps [1] - vlen, "%" PRId64 "\t%s\t%" PRId64 "\n",
                                       first_id + i, s_catalog.metrics [m], s_value_of (m, s, j));
        }
    }
    if (s_copy_rows (conn, "COPY report (id, source, seq, region, as_of, sent_at, peer) FROM STDIN",
                     *reports, rlen)
    ||  s_copy_rows (conn, "COPY report_value (report_id, metric, value) FROM STDIN", *values, vlen))
        return -1;
    return s_pq_ok (conn, PQexec (conn, "COMMIT"), "COMMIT");
}

static int
s_run_copy (const s_args_t *args)
{
    PGconn *conn = PQconnectdb (args->db);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "tally-bench copy: cannot connect: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return 1;
    }
    //  The session settings the collector runs with: PostgreSQL's defaults
    //  (synchronous_commit on), so every COMMIT waits for its WAL fsync.
    s_pq_ok (conn, PQexec (conn, "SET client_min_messages = warning"), "SET");
    char *reports = NULL, *values = NULL;
    size_t caps [2] = { 0, 0 };
    int64_t seq = 0, copied = 0, measured = 0, batches = 0;
    int64_t start = s_now_us ();
    int64_t measure_from = start + (int64_t) (args->warmup * 1e6);
    int64_t stop_at = measure_from + (int64_t) (args->seconds * 1e6);
    int64_t measured_from_us = 0, measured_until_us = 0;
    int rc = 0;
    while (s_now_us () < stop_at) {
        int64_t before = s_now_us ();
        if (s_copy_batch (conn, args, &seq, args->batch, &reports, &values, caps)) {
            rc = 1;
            break;
        }
        copied += args->batch;
        batches++;
        if (before >= measure_from) {
            if (!measured_from_us)
                measured_from_us = before;
            measured += args->batch;
            measured_until_us = s_now_us ();
        }
    }
    double seconds = (double) (measured_until_us - measured_from_us) / 1e6;
    double rps = seconds > 0 ? (double) measured / seconds : 0;
    printf ("copy: %" PRId64 " reports (%" PRId64 " values) in %" PRId64 " transactions of %d reports; "
            "measured %" PRId64 " in %.1f s: %.0f reports/s, %.0f values/s\n",
            copied, copied * BENCH_VALUES, batches, args->batch, measured, seconds, rps, rps * BENCH_VALUES);
    printf ("result copy_reports_per_s=%.0f copy_values_per_s=%.0f copied=%" PRId64 "\n",
            rps, rps * BENCH_VALUES, copied);
    free (reports);
    free (values);
    PQfinish (conn);
    return rc;
}

//  --------------------------------------------------------------------------
//  The machine's memory stalls: how steady memory-bound work runs here

//  A chase of dependent loads in a random order through 64 MiB (on a 64-bit
//  machine), 4096 loads a sample, with a 1 ms pause after each. PostgreSQL's
//  work is of this kind (its time goes to cache misses, not arithmetic); on
//  a VM whose host is busy it can run several times slower for a fraction of
//  a second, and every figure of the benchmark is measured through that.
#define PROBE_SLOTS ((size_t) 8 << 20)
#define PROBE_LOADS 4096

//  Where the chase ended: stored so that the compiler keeps the loads.
static volatile size_t s_probe_sink;

static int
s_run_probe (const s_args_t *args)
{
    size_t *next = (size_t *) malloc (PROBE_SLOTS * sizeof (size_t));
    if (!next) {
        fprintf (stderr, "tally-bench probe: cannot allocate %zu MiB; free some memory\n",
                 PROBE_SLOTS * sizeof (size_t) >> 20);
        return 1;
    }
    //  Sattolo's shuffle: one cycle through every slot.
    for (size_t i = 0; i < PROBE_SLOTS; i++)
        next [i] = i;
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (size_t i = PROBE_SLOTS - 1; i > 0; i--) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        size_t j = (size_t) (state % i);
        size_t kept = next [i]; next [i] = next [j]; next [j] = kept;
    }
    s_list_t samples = { 0 };
    size_t at = 0;
    int64_t start = s_now_us ();
    int64_t measure_from = start + (int64_t) (args->warmup * 1e6);
    int64_t end = measure_from + (int64_t) (args->seconds * 1e6);
    while (s_now_us () < end) {
        int64_t t0 = s_now_us ();
        for (int k = 0; k < PROBE_LOADS; k++)
            at = next [at];
        int64_t t1 = s_now_us ();
        if (t0 >= measure_from)
            s_list_add (&samples, t1 - t0);
        zclock_sleep (1);
    }
    s_probe_sink = at;
    free (next);
    s_list_sort (&samples);
    size_t slow = 0;
    for (size_t i = 0; i < samples.count; i++)
        slow += samples.data [i] > 3 * samples.data [0];
    double slow_pct = samples.count ? 100.0 * (double) slow / (double) samples.count : 0;
    double best = s_percentile_ms (&samples, 0), p50 = s_percentile_ms (&samples, 50);
    double p99 = s_percentile_ms (&samples, 99), max = s_percentile_ms (&samples, 100);
    printf ("probe: %zu samples of %d dependent loads through %zu MiB, a 1 ms pause after each: "
            "best %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms; %.1f%% over 3 times the best\n",
            samples.count, PROBE_LOADS, PROBE_SLOTS * sizeof (size_t) >> 20, best, p50, p99, max, slow_pct);
    printf ("result probe_best_ms=%.2f probe_p50_ms=%.2f probe_p99_ms=%.2f probe_max_ms=%.2f "
            "probe_slow_pct=%.1f\n", best, p50, p99, max, slow_pct);
    free (samples.data);
    if (samples.count == 0)
        fprintf (stderr, "tally-bench probe: no sample was measured; give a longer --seconds\n");
    return samples.count ? 0 : 1;
}

//  --------------------------------------------------------------------------
//  Command line

//  A whole number from 1 to 1,000,000 (a count), or -1.
static int
s_parse_count (const char *text)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    return end == text || *end || errno || value < 1 || value > 1000000 ? -1 : (int) value;
}

//  A number of seconds from 0 to a day, or -1.
static double
s_parse_seconds (const char *text)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    return end == text || *end || errno || !isfinite (value) || value < 0 || value > 86400 ? -1 : value;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: tally-bench ingest  --endpoint EP --share DIR [--clients 8] [--window 128]\n"
        "                           [--seconds S] [--warmup S] [--source P] [--as-of D] [--acked FILE]\n"
        "       tally-bench latency --endpoint EP --feed EP --share DIR [--rate 1000]\n"
        "                           [--seconds S] [--warmup S] [--source P] [--as-of D] [--acked FILE]\n"
        "       tally-bench copy    --db CONNINFO --share DIR [--batch 1000] [--seconds S] [--warmup S]\n"
        "                           [--source P] [--as-of D]\n"
        "       tally-bench floor   --db CONNINFO --share DIR [--rate 1000] [--seconds S] [--warmup S]\n"
        "                           [--source P] [--as-of D]\n"
        "       tally-bench probe   [--seconds S] [--warmup S]   (how steady memory-bound work runs)\n"
        "\n"
        "--seconds S is the measured time (default 10), --warmup S the unmeasured time before\n"
        "it (default 2); EP is a ZeroMQ endpoint (tcp://HOST:PORT): the collector's report\n"
        "or feed endpoint; CONNINFO a libpq connection string; --source P names the\n"
        "reports' source (P-cN for client N; default bench), --as-of D their date\n"
        "(default 2025-06-30); --acked FILE receives 'source<TAB>seq' of each report acked\n"
        "stored. --share DIR holds catalog/regions.csv and catalog/metrics.csv.\n"
        "\n"
        "The load generator of tests/bench/run.sh (see its --help). Each run ends with a line\n"
        "'result key=value ...'. Exit status: 0 when every report was acked (probe: when it\n"
        "ran), 1 when one was not or the database or an endpoint could not be used, 2 on a\n"
        "usage error.\n");
}

int
main (int argc, char **argv)
{
    s_args_t args = {
        .source = "bench", .as_of = "2025-06-30", .clients = 8, .window = 128,
        .rate = 1000, .batch = 1000, .seconds = 10, .warmup = 2 };
    if (argc < 2 || streq (argv [1], "-h") || streq (argv [1], "--help")) {
        s_usage (argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    args.command = argv [1];
    const char *commands [] = { "ingest", "latency", "copy", "floor", "probe" };
    bool known = false;
    for (size_t c = 0; c < sizeof commands / sizeof commands [0]; c++)
        known |= streq (args.command, commands [c]);
    if (!known) {
        fprintf (stderr, "tally-bench: unknown command '%s' (ingest, latency, copy, floor or probe; "
                 "see --help)\n", args.command);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *name = argv [i];
        if (streq (name, "-h") || streq (name, "--help")) {
            s_usage (stdout);
            return 0;
        }
        if (strncmp (name, "--", 2) != 0) {
            fprintf (stderr, "tally-bench: unexpected argument '%s' (options are --name value; "
                     "see --help)\n", name);
            return 2;
        }
        if (strchr (name, '=')) {
            fprintf (stderr, "tally-bench: write '%s' as two arguments, '--name value'\n", name);
            return 2;
        }
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!value) {
            fprintf (stderr, "tally-bench: option %s needs a value\n", name);
            return 2;
        }
        i++;
        int *count = streq (name, "--clients") ? &args.clients
                   : streq (name, "--window")  ? &args.window
                   : streq (name, "--rate")    ? &args.rate
                   : streq (name, "--batch")   ? &args.batch : NULL;
        double *seconds = streq (name, "--seconds") ? &args.seconds
                        : streq (name, "--warmup")  ? &args.warmup : NULL;
        if (count) {
            if ((*count = s_parse_count (value)) < 0) {
                fprintf (stderr, "tally-bench: %s '%s' is not a whole number from 1 to 1000000\n",
                         name, value);
                return 2;
            }
        }
        else
        if (seconds) {
            *seconds = s_parse_seconds (value);
            if (*seconds < 0 || (seconds == &args.seconds && *seconds == 0)) {
                fprintf (stderr, "tally-bench: %s '%s' is not a number of seconds %s 86400\n",
                         name, value, seconds == &args.seconds ? "above 0, up to" : "from 0 to");
                return 2;
            }
        }
        else if (streq (name, "--endpoint")) args.endpoint = value;
        else if (streq (name, "--feed"))     args.feed = value;
        else if (streq (name, "--db"))       args.db = value;
        else if (streq (name, "--share"))    args.share = value;
        else if (streq (name, "--source"))   args.source = value;
        else if (streq (name, "--as-of"))    args.as_of = value;
        else if (streq (name, "--acked"))    args.acked = value;
        else {
            fprintf (stderr, "tally-bench: unknown option %s (see --help)\n", name);
            return 2;
        }
    }
    bool probe = streq (args.command, "probe");
    if (!probe && !args.share) {
        fprintf (stderr, "tally-bench %s: --share is required (the folder with catalog/regions.csv)\n",
                 args.command);
        return 2;
    }
    if (!probe && !proto_date_valid (args.as_of, NULL)) {
        fprintf (stderr, "tally-bench: --as-of '%s' is not a date (YYYY-MM-DD)\n", args.as_of);
        return 2;
    }
    if (probe)
        return s_run_probe (&args);
    if (s_catalog_load (args.share))
        return 2;
    zsys_init ();
    zsys_set_linger (0);
    const char *missing = streq (args.command, "copy") || streq (args.command, "floor")
                        ? (args.db ? NULL : "--db")
                        : !args.endpoint ? "--endpoint"
                        : streq (args.command, "latency") && !args.feed ? "--feed" : NULL;
    if (missing) {
        fprintf (stderr, "tally-bench %s: %s is required (see --help)\n", args.command, missing);
        return 2;
    }
    if (streq (args.command, "ingest"))
        return s_run_ingest (&args);
    if (streq (args.command, "copy"))
        return s_run_copy (&args);
    return s_run_latency (&args);       //  latency or floor
}
