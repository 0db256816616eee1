/*  watch_integration.c — tally-watch against the real collector and PostgreSQL.

    Every test runs the real `tally-watch --json` binary as a subprocess and
    reads its output file: JSON lines on stdout, status events on stderr
    (lines starting "tally-watch:"). The reports are sent by the test itself
    over a DEALER with the proto encoder, and the expected figures are read
    from the region_total table.
    - a late joiner and an early subscriber end with the same state as the database;
    - a feed message dropped on the way (a filtering forwarder in front of the
      feed) makes the watch take a fresh snapshot and end right;
    - the collector stopped and restarted while watching: silence, recovery;
    - --once prints the snapshot and exits 0, or exits 2 with nobody answering;
      a --prefix or --year matching nothing is named, not shown as "no totals yet";
    - a live watch of a year without totals says so, then shows them when they come;
    - CURVE: --once with keys works and without keys exits 2; --feed-curve;
    - config files: the command line overrides the file, bad lines are named;
    - two collectors on one database, two --feed: the watch ends with the
      database's state, each region's versions only going up.
*/
#include <check.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "keygen.h"
#include "proto_msg.h"
#include "tt.h"

static tt_pg_t *s_pg;                   //  one PostgreSQL for the suite

//  Programs a test started: killed when the test process exits, so that a
//  failing assertion leaves no collector or watch behind.
#define S_CHILDREN_MAX 16
static pid_t s_children [S_CHILDREN_MAX];

static void
s_kill_children (void)
{
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        if (s_children [i] > 0) {
            kill (s_children [i], SIGKILL);
            waitpid (s_children [i], NULL, 0);
            s_children [i] = 0;
        }
}

static pid_t
s_track (pid_t pid)
{
    static bool registered = false;
    if (!registered)
        atexit (s_kill_children);
    registered = true;
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        if (s_children [i] == 0) {
            s_children [i] = pid;
            break;
        }
    return pid;
}

static void
s_untrack (pid_t pid)
{
    for (int i = 0; i < S_CHILDREN_MAX; i++)
        if (s_children [i] == pid)
            s_children [i] = 0;
}

static tt_collector_t *
s_collector_start (const tt_collector_t *ports)
{
    tt_collector_t *collector = tt_collector_start (s_pg->conninfo, NULL, ports);
    s_track (collector->pid);
    return collector;
}

static void
s_collector_stop (tt_collector_t **collector_p)
{
    s_untrack ((*collector_p)->pid);
    tt_collector_stop (collector_p, SIGTERM);
}

static void
s_suite_setup (void)
{
    s_pg = tt_pg_start ();
    ck_assert_int_eq (tt_migrate (s_pg->conninfo), 0);
}

static void
s_suite_teardown (void)
{
    tt_pg_destroy (&s_pg);
}

//  ---------------------------------------------------------------------------
//  Sending reports

//  A reporter of the test's own: a DEALER to the report endpoint.
typedef struct {
    zsock_t *dealer;
    char source [32];
    int64_t seq;
} s_reporter_t;

static s_reporter_t *
s_reporter_new (const char *report_ep, const char *source)
{
    s_reporter_t *self = calloc (1, sizeof *self);
    self->dealer = zsock_new_dealer (report_ep);
    ck_assert_ptr_nonnull (self->dealer);
    snprintf (self->source, sizeof self->source, "%s", source);
    return self;
}

static void
s_reporter_destroy (s_reporter_t **self_p)
{
    zsock_destroy (&(*self_p)->dealer);
    free (*self_p);
    *self_p = NULL;
}

//  Send one report (the reporter fills in source and seq; takes ownership)
//  and wait for its ack.
static void
s_send (s_reporter_t *self, proto_msg_t *msg)
{
    msg->has_source = true;
    snprintf (msg->source, sizeof msg->source, "%s", self->source);
    msg->has_seq = true;
    msg->seq = ++self->seq;
    size_t size;
    proto_error_t err;
    uint8_t *body = proto_msg_encode (msg, &size, &err);
    ck_assert_msg (body != NULL, "cannot encode: %s", err.text);
    char region [PROTO_MAX_NAME + 1];
    snprintf (region, sizeof region, "%s", msg->region);
    proto_msg_destroy (&msg);
    zframe_t *frame = zframe_new (body, size);
    free (body);
    ck_assert_int_eq (zframe_send (&frame, self->dealer, 0), 0);

    zpoller_t *poller = zpoller_new (self->dealer, NULL);
    ck_assert_msg (zpoller_wait (poller, 10000) != NULL, "no reply to report %lld", (long long) self->seq);
    zpoller_destroy (&poller);
    frame = zframe_recv (self->dealer);
    proto_msg_t *reply = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
    zframe_destroy (&frame);
    ck_assert_ptr_nonnull (reply);
    ck_assert_msg (reply->type == PROTO_ACK, "report %s/%lld not acked: %s", region,
                   (long long) self->seq, reply->error ? reply->error : "");
    proto_msg_destroy (&reply);
}

//  Send one report of region as of a date; values: key, value pairs ending in NULL.
static void
s_report (s_reporter_t *self, const char *region, const char *as_of, ...)
{
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    snprintf (msg->region, sizeof msg->region, "%s", region);
    snprintf (msg->as_of, sizeof msg->as_of, "%s", as_of);
    va_list args;
    va_start (args, as_of);
    const char *key;
    while ((key = va_arg (args, const char *)))
        proto_msg_add_value (msg, false, key, (int64_t) va_arg (args, long long));
    va_end (args);
    s_send (self, msg);
}

//  The seed's figures, one report per (region, as_of), as the counties sent them.
static void
s_report_seed (s_reporter_t *self)
{
    FILE *file = fopen (tt_seed_csv, "r");
    ck_assert_ptr_nonnull (file);
    char line [1024];
    proto_msg_t *msg = NULL;
    while (fgets (line, sizeof line, file)) {
        char code [16], name [64], date [16], metric [64];
        long long value;
        if (sscanf (line, "%15[^,],%63[^,],%15[^,],%63[^,],%lld", code, name, date, metric, &value) != 5)
            continue;               //  the heading
        if (msg && (strcmp (code, msg->region) || strcmp (date, msg->as_of))) {
            s_send (self, msg);
            msg = NULL;
        }
        if (!msg) {
            msg = proto_msg_new (PROTO_REPORT);
            snprintf (msg->region, sizeof msg->region, "%s", code);
            snprintf (msg->as_of, sizeof msg->as_of, "%.10s", date);
        }
        proto_msg_add_value (msg, false, metric, value);
    }
    if (msg)
        s_send (self, msg);
    fclose (file);
}

//  ---------------------------------------------------------------------------
//  Reading the watch's output

//  The state a --json output ends with: per region, the values of the line
//  with the highest version (or seq), as "key=value,..." in key order.
typedef struct {
    zhashx_t *values;                   //  region → "k=v,..." (owned strings)
    zhashx_t *versions;                 //  region → version as text
    int lines;                          //  JSON lines read
    int bad;                            //  lines that were not valid JSON
} s_seen_t;

static void
s_seen_destroy (s_seen_t **self_p)
{
    zhashx_destroy (&(*self_p)->values);
    zhashx_destroy (&(*self_p)->versions);
    free (*self_p);
    *self_p = NULL;
}

static char *
s_values_text (json_t *values)
{
    //  Keys sorted, as the database query orders them.
    const char *keys [PROTO_MAX_VALUES];
    size_t count = 0;
    const char *key;
    json_t *value;
    json_object_foreach (values, key, value)
        if (count < PROTO_MAX_VALUES)
            keys [count++] = key;
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && strcmp (keys [j - 1], keys [j]) > 0; j--) {
            const char *swap = keys [j];
            keys [j] = keys [j - 1];
            keys [j - 1] = swap;
        }
    char *text = strdup ("");
    for (size_t i = 0; i < count; i++) {
        char *next = zsys_sprintf ("%s%s%s=%lld", text, i ? "," : "", keys [i],
                          (long long) json_integer_value (json_object_get (values, keys [i])));
        free (text);
        text = next;
    }
    return text;
}

static s_seen_t *
s_seen_read (const char *path)
{
    s_seen_t *self = calloc (1, sizeof *self);
    self->values = zhashx_new ();
    self->versions = zhashx_new ();
    zhashx_set_destructor (self->values, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (self->versions, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor (self->versions, (zhashx_destructor_fn *) zstr_free);
    char *text = tt_slurp (path);
    if (!text)
        return self;
    char *save, *line = strtok_r (text, "\n", &save);
    for (; line; line = strtok_r (NULL, "\n", &save)) {
        if (strncmp (line, "tally-watch:", 12) == 0)
            continue;                   //  status events on stderr
        json_error_t error;
        json_t *root = json_loads (line, 0, &error);
        if (!root) {
            //  The last line may still be being written.
            if (save && *save)
                self->bad++;
            continue;
        }
        self->lines++;
        const char *region = json_string_value (json_object_get (root, "region"));
        json_t *v = json_object_get (root, "version");
        long long version = json_integer_value (v ? v : json_object_get (root, "seq"));
        const char *seen = zhashx_lookup (self->versions, region);
        if (region && (!seen || atoll (seen) < version)) {
            char number [32];
            snprintf (number, sizeof number, "%lld", version);
            zhashx_update (self->versions, region, number);
            zhashx_update (self->values, region, s_values_text (json_object_get (root, "values")));
        }
        json_decref (root);
    }
    free (text);
    return self;
}

//  The database's totals for a region, in the same form.
static char *
s_db_values (const char *region)
{
    char sql [512];
    snprintf (sql, sizeof sql,
              "SELECT coalesce (string_agg (metric || '=' || value, ',' ORDER BY metric COLLATE \"C\"), '')"
              "  FROM region_total WHERE region = '%s' AND year = 2022", region);
    return tt_sql_text (s_pg->conninfo, sql);
}

//  True when the output's state equals the database for every region that
//  has totals. When why is not NULL, says what differs.
static bool
s_matches_db (const char *path, char *why, size_t why_size)
{
    s_seen_t *seen = s_seen_read (path);
    bool same = seen->bad == 0;
    if (!same && why)
        snprintf (why, why_size, "%d lines of %s are not JSON", seen->bad, path);
    char *regions = tt_sql_text (s_pg->conninfo,
        "SELECT string_agg (DISTINCT region, ',') FROM region_total WHERE year = 2022");
    char *save, *region = regions ? strtok_r (regions, ",", &save) : NULL;
    for (; region && same; region = strtok_r (NULL, ",", &save)) {
        char *db = s_db_values (region);
        const char *watch = zhashx_lookup (seen->values, region);
        same = watch && db && strcmp (watch, db) == 0;
        if (!same && why)
            snprintf (why, why_size, "region %s: watch has %s, database has %s",
                      region, watch ? watch : "(nothing)", db ? db : "(nothing)");
        free (db);
    }
    if (same && why)
        snprintf (why, why_size, "same");
    free (regions);
    s_seen_destroy (&seen);
    return same;
}

//  Wait (polling, up to timeout_ms) until the output matches the database.
static void
s_wait_matches_db (const char *path, int timeout_ms)
{
    char why [1024] = "";
    int64_t deadline = tt_now_ms () + timeout_ms;
    while (!s_matches_db (path, why, sizeof why)) {
        if (tt_now_ms () > deadline) {
            char *out = tt_slurp (path);
            ck_abort_msg ("%s never matched the database: %s\n--- output:\n%s", path, why, out ? out : "");
        }
        zclock_sleep (50);
    }
}

//  Wait until the output file holds text (up to timeout_ms); returns whether it did.
static bool
s_wait_for_text (const char *path, const char *text, int timeout_ms)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    while (tt_now_ms () < deadline) {
        char *out = tt_slurp (path);
        bool found = out && strstr (out, text);
        free (out);
        if (found)
            return true;
        zclock_sleep (50);
    }
    return false;
}

//  Start `tally-watch --json` against the feed and query endpoints.
static pid_t
s_watch_start (const char *feed_ep, const char *query_ep, const char *out_path)
{
    const char *argv [] = { tt_watch_bin, "--json", "--feed", feed_ep, "--query", query_ep, NULL };
    return s_track (tt_spawn (argv, out_path));
}

static void
s_watch_stop (pid_t pid)
{
    kill (pid, SIGTERM);
    ck_assert_int_eq (tt_wait (pid, 5000), 0);
    s_untrack (pid);
}

static char *
s_out_path (const char *dir, const char *name)
{
    return zsys_sprintf ("%s/%s", dir, name);
}

//  A few rounds of new figures from every county: the "stream".
static void
s_report_stream (s_reporter_t *reporter, int rounds)
{
    const char *counties [] = { "220502", "220503", "220521", "220523", "220524", "220581", "220582" };
    for (int round = 1; round <= rounds; round++)
        for (size_t c = 0; c < sizeof counties / sizeof counties [0]; c++)
            s_report (reporter, counties [c], "2022-03-02",
                      "projects_planned", 30LL + (long long) c,
                      "projects_started", (long long) (10 + round + (int) c),
                      "projects_active", (long long) (12 + round + (int) c),
                      "projects_planned_investment", 1000000LL + round * 100 + (long long) c, NULL);
}

//  ---------------------------------------------------------------------------

START_TEST (test_late_joiner_matches_early_subscriber)
{
    tt_collector_t *collector = s_collector_start (NULL);
    char *dir = tt_tempdir ("watch");
    char *early_path = s_out_path (dir, "early.jsonl");
    char *late_path = s_out_path (dir, "late.jsonl");
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-join");

    //  The early subscriber sees the seed arrive on the feed...
    s_report (reporter, "220582", "2022-02-28", "projects_planned", 33LL, "projects_started", 15LL, NULL);
    pid_t early = s_watch_start (collector->feed_ep, collector->query_ep, early_path);
    ck_assert (s_wait_for_text (early_path, "\"220582\"", 10000));
    s_report_seed (reporter);
    s_report_stream (reporter, 3);
    //  ...the late joiner starts in the middle of the stream.
    pid_t late = s_watch_start (collector->feed_ep, collector->query_ep, late_path);
    s_report_stream (reporter, 3);

    s_wait_matches_db (early_path, 10000);
    s_wait_matches_db (late_path, 10000);
    //  Both hold what the database holds, so they hold the same: every
    //  region at the same version with the same values. (Polled, in case a
    //  heartbeat-late update is still on its way to one of them.)
    int64_t deadline = tt_now_ms () + 10000;
    while (true) {
        s_seen_t *a = s_seen_read (early_path), *b = s_seen_read (late_path);
        bool same = zhashx_size (a->values) == 9 && zhashx_size (b->values) == 9;
        for (const char *v = zhashx_first (a->values); v && same; v = zhashx_next (a->values)) {
            const char *region = zhashx_cursor (a->values);
            const char *w = zhashx_lookup (b->values, region);
            same = w && strcmp (v, w) == 0
                && strcmp (zhashx_lookup (a->versions, region), zhashx_lookup (b->versions, region)) == 0;
        }
        s_seen_destroy (&a);
        s_seen_destroy (&b);
        if (same)
            break;
        ck_assert_msg (tt_now_ms () < deadline, "the early and the late watch disagree");
        zclock_sleep (50);
    }
    s_seen_t *a = s_seen_read (early_path), *b = s_seen_read (late_path);
    //  The early one saw every change as it happened, the late one fewer.
    ck_assert_int_gt (a->lines, b->lines);
    s_seen_destroy (&a);
    s_seen_destroy (&b);
    s_watch_stop (early);
    s_watch_stop (late);
    s_reporter_destroy (&reporter);
    s_collector_stop (&collector);
    free (early_path);
    free (late_path);
    free (dir);
}
END_TEST

START_TEST (test_json_lines_match_database)
{
    tt_collector_t *collector = s_collector_start (NULL);
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-json");
    s_report_seed (reporter);
    //  --once --json: the snapshot, one valid object per line, then exit 0.
    const char *argv [] = { tt_watch_bin, "--once", "--json", "--prefix", "2205",
                            "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    char *out = NULL;
    ck_assert_int_eq (tt_run (argv, 10000, &out), 0);
    int lines = 0;
    char *save, *line = strtok_r (out, "\n", &save);
    for (; line; line = strtok_r (NULL, "\n", &save), lines++) {
        json_error_t error;
        json_t *root = json_loads (line, 0, &error);
        ck_assert_msg (root != NULL, "not JSON (%s): %s", error.text, line);
        const char *region = json_string_value (json_object_get (root, "region"));
        ck_assert_ptr_nonnull (region);
        ck_assert (strncmp (region, "2205", 4) == 0);
        ck_assert_ptr_nonnull (json_string_value (json_object_get (root, "name")));
        ck_assert_str_eq (json_string_value (json_object_get (root, "type")), "totals");
        char *watch = s_values_text (json_object_get (root, "values"));
        char *db = s_db_values (region);
        ck_assert_str_eq (watch, db);
        //  The region's display name is the catalog's.
        char sql [128];
        snprintf (sql, sizeof sql, "SELECT name FROM region WHERE code = '%s'", region);
        char *name = tt_sql_text (s_pg->conninfo, sql);
        ck_assert_str_eq (json_string_value (json_object_get (root, "name")), name);
        free (name);
        free (watch);
        free (db);
        json_decref (root);
    }
    ck_assert_int_eq (lines, (int) tt_sql_int (s_pg->conninfo,
        "SELECT count (DISTINCT region) FROM region_total WHERE region LIKE '2205%' AND year = 2022"));
    free (out);

    //  A prefix or year that matches nothing says so, naming what there is,
    //  rather than "no totals yet" (exit 0: the collector answered).
    const char *prefix_argv [] = { tt_watch_bin, "--once", "--prefix", "9999",
                                   "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (prefix_argv, 10000, &out), 0);
    ck_assert_msg (strstr (out, "no totals for regions starting with 9999 in 2022, the newest year "
                                "with totals (regions with totals: 220000 吉林省, 220500 通化市, …); "
                                "check --prefix\n"), "%s", out);
    ck_assert_ptr_null (strstr (out, "尚无数据"));
    free (out);
    const char *year_argv [] = { tt_watch_bin, "--once", "--year", "2019",
                                 "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (year_argv, 10000, &out), 0);
    ck_assert_msg (strstr (out, "no totals for 2019 (the newest year with totals is 2022)"), "%s", out);
    ck_assert_ptr_null (strstr (out, "尚无数据"));
    free (out);
    //  JSON lines stay JSON: the one sentence goes to stderr.
    const char *json_prefix_argv [] = { tt_watch_bin, "--once", "--json", "--prefix", "9999",
                                        "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (json_prefix_argv, 10000, &out), 0);
    ck_assert_msg (strncmp (out, "tally-watch: no totals for regions starting with 9999 in ", 57) == 0
                   && strchr (out, '\n') == out + strlen (out) - 1, "%s", out);
    free (out);

    //  --once as a table (not a terminal): the city first, no escape codes.
    const char *table_argv [] = { tt_watch_bin, "--once", "--prefix", "2205",
                                  "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (table_argv, 10000, &out), 0);
    ck_assert_ptr_nonnull (strstr (out, "计划总投资(亿元)"));
    ck_assert_ptr_nonnull (strstr (out, "109.05"));
    ck_assert_ptr_null (strchr (out, '\033'));
    ck_assert (strstr (out, "通化市") < strstr (out, "集安市"));
    if (getenv ("WATCH_SHOW_TABLE"))
        fprintf (stderr, "%s", out);
    free (out);
    s_reporter_destroy (&reporter);
    s_collector_stop (&collector);
}
END_TEST

START_TEST (test_once_without_collector)
{
    //  Nobody listens on these ports: exit 2 with a sentence, after --timeout.
    const char *argv [] = { tt_watch_bin, "--once", "--timeout", "0.5",
                            "--feed", "tcp://127.0.0.1:9", "--query", "tcp://127.0.0.1:9", NULL };
    char *out = NULL;
    int64_t start = tt_now_ms ();
    ck_assert_int_eq (tt_run (argv, 10000, &out), 2);
    ck_assert_int_lt (tt_now_ms () - start, 3000);
    ck_assert_ptr_nonnull (strstr (out, "did not answer"));
    free (out);
}
END_TEST

//  A forwarder between the feed and the watch that drops the first totals
//  message for one region, as a lossy network or a full queue would.
static void
s_lossy_forwarder (zsock_t *pipe, void *args)
{
    char **endpoints = args;            //  [0] collector feed, [1] region to drop once
    zsock_t *sub = zsock_new_sub (endpoints [0], "");
    zsock_t *pub = zsock_new_pub ("tcp://127.0.0.1:*");
    assert (sub && pub);
    zsock_signal (pipe, 0);
    zstr_send (pipe, zsock_endpoint (pub));
    bool dropped = false;
    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != sub)
            break;                      //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            break;
        char *topic = zframe_strdup (zmsg_first (msg));
        if (!dropped && strcmp (topic, endpoints [1]) == 0) {
            dropped = true;
            zmsg_destroy (&msg);
        }
        else
            zmsg_send (&msg, pub);
        free (topic);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
}

START_TEST (test_lost_message_takes_fresh_snapshot)
{
    tt_collector_t *collector = s_collector_start (NULL);
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-lossy");
    s_report (reporter, "220503", "2022-03-03", "projects_planned", 28LL, NULL);

    char *args [] = { collector->feed_ep, "220521" };
    zactor_t *forwarder = zactor_new (s_lossy_forwarder, args);
    char *lossy_ep = zstr_recv (forwarder);
    char *dir = tt_tempdir ("watch");
    char *path = s_out_path (dir, "lossy.jsonl");
    pid_t watch = s_watch_start (lossy_ep, collector->query_ep, path);
    ck_assert (s_wait_for_text (path, "\"220503\"", 10000));

    //  通化县's totals never reach the watch; its city's and province's do.
    s_report (reporter, "220521", "2022-03-03", "projects_planned", 34LL, "projects_started", 12LL, NULL);
    //  The next heartbeat (or message) reveals the loss; a snapshot repairs it.
    ck_assert_msg (s_wait_for_text (path, "taking a fresh snapshot: lost feed message", 10000),
                   "the watch did not notice the lost message");
    s_wait_matches_db (path, 10000);
    char *out = tt_slurp (path);
    ck_assert_ptr_nonnull (strstr (out, "\"region\":\"220521\""));
    free (out);

    s_watch_stop (watch);
    zactor_destroy (&forwarder);
    zstr_free (&lossy_ep);
    s_reporter_destroy (&reporter);
    s_collector_stop (&collector);
    free (path);
    free (dir);
}
END_TEST

START_TEST (test_live_no_match_then_match)
{
    //  A live watch of a year with no totals yet says so once on stderr,
    //  then shows that year's totals when they come.
    tt_collector_t *collector = s_collector_start (NULL);
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-nomatch");
    s_report (reporter, "220524", "2022-03-04", "projects_planned", 33LL, NULL);
    char *dir = tt_tempdir ("watch");
    char *path = s_out_path (dir, "nomatch.jsonl");
    const char *argv [] = { tt_watch_bin, "--json", "--year", "2021", "--feed", collector->feed_ep,
                            "--query", collector->query_ep, NULL };
    pid_t watch = s_track (tt_spawn (argv, path));
    if (!s_wait_for_text (path, "tally-watch: no totals for 2021 (the newest year with totals is 2022)", 10000)) {
        char *out = tt_slurp (path);
        ck_abort_msg ("no no-match message:\n%s", out ? out : "");
    }
    s_report (reporter, "220524", "2021-12-31", "projects_planned", 31LL, NULL);
    ck_assert (s_wait_for_text (path, "\"year\":2021", 10000));
    s_watch_stop (watch);
    s_reporter_destroy (&reporter);
    s_collector_stop (&collector);
    free (path);
    free (dir);
}
END_TEST

START_TEST (test_collector_restart)
{
    //  Ports above the ephemeral range: while the collector is down, the
    //  watch's reconnecting sockets cannot be handed them as source ports.
    srand ((unsigned) time (NULL) ^ (unsigned) getpid ());
    tt_collector_t ports;
    tt_quiet_ports (&ports);
    tt_collector_t *collector = s_collector_start (&ports);
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-restart");
    s_report (reporter, "220524", "2022-03-04", "projects_planned", 33LL, "projects_active", 20LL, NULL);
    char *dir = tt_tempdir ("watch");
    char *path = s_out_path (dir, "restart.jsonl");
    pid_t watch = s_watch_start (collector->feed_ep, collector->query_ep, path);
    s_wait_matches_db (path, 10000);

    //  The collector goes away: after 3 s without a heartbeat the watch says so.
    s_collector_stop (&collector);
    int64_t stopped = tt_now_ms ();
    ck_assert_msg (s_wait_for_text (path, "collector silent since", 8000),
                   "the watch did not notice the silence");
    //  (The last heartbeat came up to a second before the stop.)
    ck_assert_int_ge (tt_now_ms () - stopped, 3000 - 1000 - 100);
    //  It was heard before: really silent, no hint about the subscription.
    char *text = tt_slurp (path);
    const char *hint = strstr (text, "answers: ");
    ck_assert_msg (hint == NULL, "a subscription hint after a real silence: %.300s", hint);
    free (text);

    //  It comes back on the same endpoints; new figures arrive.
    collector = s_collector_start (&ports);
    s_reporter_destroy (&reporter);
    reporter = s_reporter_new (collector->report_ep, "watch-it-restart-2");
    s_report (reporter, "220524", "2022-03-05", "projects_planned", 33LL, "projects_active", 25LL, NULL);
    if (!s_wait_for_text (path, "taking a fresh snapshot: the collector is back", 10000)) {
        char *out = tt_slurp (path);
        ck_abort_msg ("the watch did not take a snapshot after the restart:\n%s", out ? out : "");
    }
    s_wait_matches_db (path, 10000);

    s_watch_stop (watch);
    s_reporter_destroy (&reporter);
    s_collector_stop (&collector);
    free (path);
    free (dir);
}
END_TEST


//  ---------------------------------------------------------------------------
//  Keys, config files, several collectors

//  Keys made as the README says: the collector's pair, a county's key and
//  a city screen's key, the public halves copied to a clients folder.
typedef struct {
    char *keys;
    char *clients;
    char server_key [600];              //  keys/collector.cert
    char screen_key [600];              //  keys/screen.cert_secret
    char county_key [600];              //  keys/jian.cert_secret
    char secret [600];                  //  keys/collector.cert_secret
} s_keys_t;

static void
s_keys_make (s_keys_t *self)
{
    self->keys = tt_tempdir ("keys");
    self->clients = tt_tempdir ("clients");
    char err [256];
    ck_assert_int_eq (keygen_write (self->keys, "collector", NULL, err, sizeof err), 0);
    ck_assert_int_eq (keygen_write (self->keys, "screen", "2205*", err, sizeof err), 0);
    ck_assert_int_eq (keygen_write (self->keys, "jian", "220582", err, sizeof err), 0);
    const char *names [] = { "screen", "jian" };
    for (int i = 0; i < 2; i++) {
        char from [600], to [600];
        snprintf (from, sizeof from, "%s/%s.cert", self->keys, names [i]);
        snprintf (to, sizeof to, "%s/%s.cert", self->clients, names [i]);
        char *text = tt_slurp (from);
        FILE *out = fopen (to, "w");
        ck_assert_ptr_nonnull (out);
        fputs (text, out);
        fclose (out);
        free (text);
    }
    snprintf (self->server_key, sizeof self->server_key, "%s/collector.cert", self->keys);
    snprintf (self->screen_key, sizeof self->screen_key, "%s/screen.cert_secret", self->keys);
    snprintf (self->county_key, sizeof self->county_key, "%s/jian.cert_secret", self->keys);
    snprintf (self->secret, sizeof self->secret, "%s/collector.cert_secret", self->keys);
}

static void
s_keys_free (s_keys_t *self)
{
    free (self->keys);
    free (self->clients);
}

START_TEST (test_curve_query_and_feed)
{
    //  Some figures first, through a plain collector on the same database.
    tt_collector_t *plain = s_collector_start (NULL);
    s_reporter_t *reporter = s_reporter_new (plain->report_ep, "watch-it-curve");
    s_report (reporter, "220582", "2022-03-06", "projects_planned", 33LL, "projects_started", 16LL, NULL);
    s_reporter_destroy (&reporter);
    s_collector_stop (&plain);

    s_keys_t keys;
    s_keys_make (&keys);
    const char *extra [] = { "--curve-secret", keys.secret, "--clients", keys.clients, NULL };
    tt_collector_t *collector = tt_collector_start (s_pg->conninfo, extra, NULL);
    s_track (collector->pid);

    //  --once with our key: the snapshot, as the database has it.
    const char *with [] = { tt_watch_bin, "--once", "--json", "--prefix", "220582",
                            "--feed", collector->feed_ep, "--query", collector->query_ep,
                            "--server-key", keys.server_key, "--key", keys.screen_key, NULL };
    char *out = NULL;
    int rc = tt_run (with, 10000, &out);
    ck_assert_msg (rc == 0, "--once with keys exited %d: %s", rc, out);
    char *db = s_db_values ("220582");
    json_error_t error;
    json_t *root = json_loads (out, JSON_DISABLE_EOF_CHECK, &error);
    ck_assert_msg (root != NULL, "not JSON: %s", out);
    char *watch = s_values_text (json_object_get (root, "values"));
    ck_assert_str_eq (watch, db);
    free (watch);
    free (db);
    json_decref (root);
    free (out);

    //  Without keys the collector never answers: exit 2, with a hint.
    const char *without [] = { tt_watch_bin, "--once", "--timeout", "1",
                               "--feed", collector->feed_ep, "--query", collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (without, 10000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "did not answer"));
    ck_assert_ptr_nonnull (strstr (out, "--server-key and --key"));
    free (out);

    //  Key files that cannot be used: a usage error naming the file.
    const char *missing [] = { tt_watch_bin, "--once", "--query", collector->query_ep,
                               "--server-key", keys.server_key, "--key", "/nonexistent/k.cert_secret", NULL };
    ck_assert_int_eq (tt_run (missing, 10000, &out), 1);
    ck_assert_ptr_nonnull (strstr (out, "/nonexistent/k.cert_secret"));
    free (out);
    const char *half [] = { tt_watch_bin, "--once", "--key", keys.screen_key, NULL };
    ck_assert_int_eq (tt_run (half, 10000, &out), 1);
    free (out);
    const char *feed_only [] = { tt_watch_bin, "--once", "--feed-curve", NULL };
    ck_assert_int_eq (tt_run (feed_only, 10000, &out), 1);
    free (out);
    s_collector_stop (&collector);

    //  --feed-curve: the feed, too, needs a known key. A watch with keys
    //  follows the county's CURVE reports live...
    const char *feed_extra [] = { "--curve-secret", keys.secret, "--clients", keys.clients,
                                  "--feed-curve", NULL };
    collector = tt_collector_start (s_pg->conninfo, feed_extra, NULL);
    s_track (collector->pid);
    char *dir = tt_tempdir ("watch");
    char *path = s_out_path (dir, "curve.jsonl");
    char *plain_path = s_out_path (dir, "plain.jsonl");
    const char *live [] = { tt_watch_bin, "--json", "--feed", collector->feed_ep,
                            "--query", collector->query_ep, "--server-key", keys.server_key,
                            "--key", keys.screen_key, "--feed-curve", NULL };
    pid_t pid = s_track (tt_spawn (live, path));
    //  ...while one without --feed-curve hears nothing on that feed.
    const char *deaf [] = { tt_watch_bin, "--json", "--feed", collector->feed_ep,
                            "--query", collector->query_ep, "--server-key", keys.server_key,
                            "--key", keys.screen_key, NULL };
    pid_t deaf_pid = s_track (tt_spawn (deaf, plain_path));
    char *text;
    ck_assert (s_wait_for_text (path, "\"220582\"", 10000));
    char *outbox = tt_tempdir ("watch-outbox");
    const char *send [] = { tt_reporter_bin, "send", "--region", "220582", "--as-of", "2022-03-07",
                            "--set", "projects_started=17", "--collector", collector->report_ep,
                            "--outbox", outbox, "--server-key", keys.server_key,
                            "--key", keys.county_key, NULL };
    rc = tt_run (send, 30000, &out);
    ck_assert_msg (rc == 0, "tally-reporter send exited %d: %s", rc, out);
    free (out);
    s_wait_matches_db (path, 10000);
    ck_assert (s_wait_for_text (plain_path, "collector silent since", 8000));
    //  ...and, since the query endpoint answers, says what is likely wrong.
    text = tt_slurp (plain_path);
    ck_assert_msg (strstr (text, "answers: if the collector runs with --feed-curve, "
                                 "add --feed-curve (with --server-key and --key)\n"),
                   "no --feed-curve hint in: %.300s", strstr (text, "collector silent"));
    free (text);
    s_watch_stop (pid);
    s_watch_stop (deaf_pid);
    text = tt_slurp (path);
    ck_assert_ptr_null (strstr (text, "collector silent"));
    free (text);
    s_collector_stop (&collector);
    free (outbox);
    free (path);
    free (plain_path);
    free (dir);
    s_keys_free (&keys);
}
END_TEST

START_TEST (test_config_file)
{
    tt_collector_t *collector = s_collector_start (NULL);
    s_reporter_t *reporter = s_reporter_new (collector->report_ep, "watch-it-conf");
    s_report_seed (reporter);
    s_reporter_destroy (&reporter);
    char *dir = tt_tempdir ("conf");
    char *text = zsys_sprintf ("# the city screen\n"
                               "feed = %s\n"
                               "query = tcp://127.0.0.1:9\n"
                               "prefix = 2205\n"
                               "json = yes   # for scripts\n"
                               "once = yes\n",
                               collector->feed_ep);
    char *conf = tt_write_file (dir, "watch.conf", text);
    ck_assert_ptr_nonnull (conf);
    free (text);
    //  The file's json and once (over the defaults), the command line's
    //  query and prefix (over the file's).
    const char *argv [] = { tt_watch_bin, "-c", conf, "--query", collector->query_ep,
                            "--prefix", "220582", NULL };
    char *out = NULL;
    int rc = tt_run (argv, 10000, &out);
    ck_assert_msg (rc == 0, "exited %d: %s", rc, out);
    int lines = 0;
    char *save, *line = strtok_r (out, "\n", &save);
    for (; line; line = strtok_r (NULL, "\n", &save), lines++) {
        json_error_t error;
        json_t *root = json_loads (line, 0, &error);
        ck_assert_msg (root != NULL, "not JSON: %s", line);
        ck_assert_str_eq (json_string_value (json_object_get (root, "region")), "220582");
        json_decref (root);
    }
    ck_assert_int_eq (lines, 1);
    free (out);
    //  The file's query endpoint (nobody there): exit 2.
    const char *file_query [] = { tt_watch_bin, "--config", conf, "--timeout", "0.5", NULL };
    ck_assert_int_eq (tt_run (file_query, 10000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "tcp://127.0.0.1:9"));
    free (out);

    //  Unknown key, bad value: one line naming file, line and key.
    char *bad = tt_write_file (dir, "bad.conf", "# screen\nprefx = 2205\n");
    ck_assert_ptr_nonnull (bad);
    const char *bad_argv [] = { tt_watch_bin, "-c", bad, "--once", NULL };
    ck_assert_int_eq (tt_run (bad_argv, 10000, &out), 1);
    char want [700];
    snprintf (want, sizeof want, "%s:2: key 'prefx'", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
    free (out);
    free (bad);
    bad = tt_write_file (dir, "bad2.conf", "json = sometimes\n");
    ck_assert_ptr_nonnull (bad);
    const char *bad2_argv [] = { tt_watch_bin, "-c", bad, NULL };
    ck_assert_int_eq (tt_run (bad2_argv, 10000, &out), 1);
    snprintf (want, sizeof want, "%s:1: key 'json'", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    free (out);
    free (bad);
    //  Bad values name file, line and key too; on the command line, the option.
    bad = tt_write_file (dir, "bad3.conf", "# screen\nyear = abc\n");
    ck_assert_ptr_nonnull (bad);
    const char *bad3_argv [] = { tt_watch_bin, "-c", bad, "--once", NULL };
    ck_assert_int_eq (tt_run (bad3_argv, 10000, &out), 1);
    snprintf (want, sizeof want, "tally-watch: %s:2: key 'year': 'abc' is not a four-digit year "
              "such as 2022\n", bad);
    ck_assert_str_eq (out, want);
    free (out);
    free (bad);
    bad = tt_write_file (dir, "bad4.conf", "timeout = 0\n");
    ck_assert_ptr_nonnull (bad);
    const char *bad4_argv [] = { tt_watch_bin, "-c", bad, "--once", NULL };
    ck_assert_int_eq (tt_run (bad4_argv, 10000, &out), 1);
    snprintf (want, sizeof want, "%s:1: key 'timeout': '0' is not a number of seconds", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    free (out);
    free (bad);
    const char *bad5_argv [] = { tt_watch_bin, "--once", "--year", "abc", NULL };
    ck_assert_int_eq (tt_run (bad5_argv, 10000, &out), 1);
    ck_assert_str_eq (out, "tally-watch: --year must be a four-digit year such as 2022, not 'abc'\n");
    free (out);
    //  An endpoint ZeroMQ cannot connect to is a usage error (1), with
    //  --once too (which reads no feed), named with where it came from.
    const char *bad_feed [] = { tt_watch_bin, "--once", "--feed", "tcp://127.0.0.1:bad", NULL };
    ck_assert_int_eq (tt_run (bad_feed, 10000, &out), 1);
    ck_assert_msg (strstr (out, "--feed 'tcp://127.0.0.1:bad' is not an endpoint to connect to"),
                   "%s", out);
    free (out);
    bad = tt_write_file (dir, "bad6.conf", "query = htp://x\n");
    ck_assert_ptr_nonnull (bad);
    const char *bad6_argv [] = { tt_watch_bin, "-c", bad, "--once", NULL };
    ck_assert_int_eq (tt_run (bad6_argv, 10000, &out), 1);
    ck_assert_msg (strstr (out, "--query (from the config file) 'htp://x' is not an endpoint"), "%s", out);
    free (out);
    free (bad);
    //  The example in deploy/ is read without complaint (nobody answers there).
    char example [600];
    snprintf (example, sizeof example, "%s/deploy/tally-watch.conf", tt_source_dir);
    const char *example_argv [] = { tt_watch_bin, "-c", example, "--once", "--timeout", "0.2",
                                    "--query", "tcp://127.0.0.1:9", NULL };
    ck_assert_int_eq (tt_run (example_argv, 10000, &out), 2);
    free (out);
    s_collector_stop (&collector);
    free (conf);
    free (dir);
}
END_TEST

//  True when, in a --json output, every region's versions only go up.
//  *behind: lines whose seq is below one printed earlier (interleaved feeds).
static bool
s_versions_rise (const char *path, char *why, size_t why_size, int *behind)
{
    long long highest = 0;
    *behind = 0;
    zhashx_t *last = zhashx_new ();
    zhashx_set_duplicator (last, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor (last, (zhashx_destructor_fn *) zstr_free);
    char *text = tt_slurp (path);
    bool rising = true;
    char *save, *line = text ? strtok_r (text, "\n", &save) : NULL;
    for (; line && rising; line = strtok_r (NULL, "\n", &save)) {
        json_error_t error;
        json_t *root = json_loads (line, 0, &error);
        if (!root)
            continue;
        const char *region = json_string_value (json_object_get (root, "region"));
        json_t *year = json_object_get (root, "year");
        json_t *v = json_object_get (root, "version");
        long long version = json_integer_value (v ? v : json_object_get (root, "seq"));
        long long seq = json_integer_value (json_object_get (root, "seq"));
        *behind += seq < highest;
        if (seq > highest)
            highest = seq;
        char key [64], number [32];
        snprintf (key, sizeof key, "%s/%lld", region ? region : "", (long long) json_integer_value (year));
        const char *seen = zhashx_lookup (last, key);
        if (seen && atoll (seen) >= version) {
            rising = false;
            snprintf (why, why_size, "%s went from version %s to %lld", key, seen, version);
        }
        snprintf (number, sizeof number, "%lld", version);
        zhashx_update (last, key, number);
        json_decref (root);
    }
    free (text);
    zhashx_destroy (&last);
    return rising;
}

//  A CSV of `count` days of figures for region.
static char *
s_write_days (const char *dir, const char *region, int count)
{
    char *path = zsys_sprintf ("%s/%s.csv", dir, region);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fprintf (file, "region,as_of,metric,value\n");
    for (int i = 0; i < count; i++) {
        fprintf (file, "%s,2022-%02d-%02d,projects_started,%d\n", region, 4 + i / 28, 1 + i % 28, i);
        fprintf (file, "%s,2022-%02d-%02d,projects_planned,%d\n", region, 4 + i / 28, 1 + i % 28, 40 + i);
    }
    fclose (file);
    return path;
}

//  A forwarder that delays every message of a feed by 300 ms, so that the
//  other collector's later messages overtake it.
static void
s_slow_forwarder (zsock_t *pipe, void *args)
{
    zsock_t *sub = zsock_new_sub ((const char *) args, "");
    zsock_t *pub = zsock_new_pub ("tcp://127.0.0.1:*");
    assert (sub && pub);
    zsock_signal (pipe, 0);
    zstr_send (pipe, zsock_endpoint (pub));
    zlistx_t *held = zlistx_new ();          //  zmsg_t, in arrival order
    zlistx_t *times = zlistx_new ();         //  their release times, as text
    zlistx_set_destructor (times, (zlistx_destructor_fn *) zstr_free);
    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    while (true) {
        void *which = zpoller_wait (poller, 10);
        if (which == pipe || zpoller_terminated (poller))
            break;
        if (which == sub) {
            zmsg_t *msg = zmsg_recv (sub);
            if (!msg)
                break;
            zlistx_add_end (held, msg);
            zlistx_add_end (times, zsys_sprintf ("%lld", (long long) zclock_mono () + 300));
        }
        while (zlistx_size (held) && atoll ((char *) zlistx_first (times)) <= zclock_mono ()) {
            zmsg_t *msg = (zmsg_t *) zlistx_first (held);
            zlistx_detach_cur (held);
            zlistx_delete (times, zlistx_cursor (times));
            zmsg_send (&msg, pub);
        }
    }
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlistx_detach (held, NULL)))
        zmsg_destroy (&msg);
    zlistx_destroy (&held);
    zlistx_destroy (&times);
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
}

START_TEST (test_two_feeds)
{
    //  Two collectors on one database, each fed by its own reporters at the
    //  same time, so that the city's totals change through both; the second
    //  feed comes through a slow link, so the feeds interleave. The watch
    //  subscribes to both feeds.
    //  The one that goes away on ports above the ephemeral range (see
    //  test_collector_restart).
    tt_collector_t ports;
    tt_quiet_ports (&ports);
    tt_collector_t *one = s_collector_start (&ports);
    tt_collector_t *two = s_collector_start (NULL);
    zactor_t *slow = zactor_new (s_slow_forwarder, two->feed_ep);
    char *slow_ep = zstr_recv (slow);
    char *dir = tt_tempdir ("two-feeds");
    char *path = s_out_path (dir, "two.jsonl");
    const char *argv [] = { tt_watch_bin, "--json", "--feed", one->feed_ep, "--feed", slow_ep,
                            "--query", one->query_ep, "--query", two->query_ep, NULL };
    pid_t watch = s_track (tt_spawn (argv, path));
    s_reporter_t *first = s_reporter_new (one->report_ep, "watch-it-two");
    s_report (first, "220503", "2022-03-08", "projects_planned", 28LL, NULL);
    s_reporter_destroy (&first);
    ck_assert (s_wait_for_text (path, "\"220503\"", 10000));

    const char *counties [] = { "220502", "220521", "220523", "220524" };
    pid_t senders [4];
    char *files [4], *outboxes [4];
    for (int i = 0; i < 4; i++) {
        files [i] = s_write_days (dir, counties [i], 150);
        outboxes [i] = tt_tempdir ("two-outbox");
        const char *send [] = { tt_reporter_bin, "send", files [i], "--collector",
                                i % 2 ? two->report_ep : one->report_ep,
                                "--outbox", outboxes [i], "--window", "4", NULL };
        char *log = zsys_sprintf ("%s/send-%d.log", dir, i);
        senders [i] = tt_spawn (send, log);
        free (log);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq (tt_wait (senders [i], 120000), 0);
        free (files [i]);
        free (outboxes [i]);
    }
    s_wait_matches_db (path, 15000);
    char why [256] = "";
    int behind;
    ck_assert_msg (s_versions_rise (path, why, sizeof why, &behind), "%s", why);
    s_seen_t *seen = s_seen_read (path);
    fprintf (stderr, "watch_integration: two feeds: %d totals lines, %d of them with a seq below "
             "one seen before (interleaved)\n", seen->lines, behind);
    s_seen_destroy (&seen);
    //  Seq jumps between the two feeds are not taken for losses.
    char *out = tt_slurp (path);
    ck_assert_ptr_null (strstr (out, "lost feed message"));
    free (out);

    //  One collector goes away: the other's feed keeps the watch live.
    s_collector_stop (&one);
    s_reporter_t *later = s_reporter_new (two->report_ep, "watch-it-two-later");
    s_report (later, "220582", "2022-03-09", "projects_planned", 34LL, NULL);
    s_reporter_destroy (&later);
    s_wait_matches_db (path, 10000);
    ck_assert (s_wait_for_text (path, "no heartbeat on", 8000));
    out = tt_slurp (path);
    ck_assert_ptr_null (strstr (out, "collector silent since"));
    free (out);
    s_watch_stop (watch);
    zactor_destroy (&slow);
    zstr_free (&slow_ep);
    s_collector_stop (&two);
    free (path);
    free (dir);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("watch_integration");
    TCase *tc = tcase_create ("collector");
    tcase_set_timeout (tc, 120);
    tcase_add_unchecked_fixture (tc, s_suite_setup, s_suite_teardown);
    tcase_add_test (tc, test_once_without_collector);
    tcase_add_test (tc, test_json_lines_match_database);
    tcase_add_test (tc, test_late_joiner_matches_early_subscriber);
    tcase_add_test (tc, test_lost_message_takes_fresh_snapshot);
    tcase_add_test (tc, test_collector_restart);
    tcase_add_test (tc, test_live_no_match_then_match);
    tcase_add_test (tc, test_curve_query_and_feed);
    tcase_add_test (tc, test_config_file);
    tcase_add_test (tc, test_two_feeds);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
