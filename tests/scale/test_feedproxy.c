/*  test_feedproxy.c — the feed at scale: tally-feedproxy between collector and screens.

    A collector on a private PostgreSQL, tally-feedproxy connected to its
    feed, one subscriber straight on the collector's feed and one behind the
    proxy. After a stream of reports both must have seen the same messages
    and hold the same newest totals body per region, byte for byte. A late
    subscriber behind the proxy takes its snapshot from the collector's query
    endpoint (snapshots are not proxied), subscribes through the proxy, keeps
    only newer versions per region, and after a second stream holds the same
    state as the direct subscriber. SIGTERM stops the proxy with exit 0.
*/
#include <check.h>
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>

#include "proto_msg.h"
#include "scale_kit.h"
#include "tt.h"

static tt_pg_t *s_pg;
static const char *s_feedproxy_bin = TT_FEEDPROXY_BIN;

#define S_REGIONS 9
static const char *s_regions [S_REGIONS] = {
    "220000", "220500", "220502", "220503", "220521", "220523", "220524", "220581", "220582"
};

//  Start tally-feedproxy in front of feed; fills backend with its endpoint.
static pid_t
s_proxy_start (const char *feed, char *backend, size_t size, char *log_path, size_t log_size)
{
    char *dir = tt_tempdir ("feedproxy");
    char ready [300];
    snprintf (ready, sizeof ready, "%s/ready", dir);
    snprintf (log_path, log_size, "%s/feedproxy.log", dir);
    free (dir);
    const char *argv [] = { s_feedproxy_bin, "--frontend", feed, "--backend", "tcp://127.0.0.1:*",
                            "--ready-file", ready, "--stats", "1", NULL };
    pid_t pid = tt_spawn (argv, log_path);
    int64_t deadline = tt_now_ms () + 10000;
    *backend = 0;
    while (!*backend && tt_now_ms () < deadline) {
        char *text = tt_slurp (ready);
        if (text && sscanf (text, "feed %63s", backend) != 1)
            *backend = 0;
        free (text);
        if (!*backend)
            zclock_sleep (10);
    }
    ck_assert_msg (*backend, "tally-feedproxy did not write its ready file");
    ck_assert (strlen (backend) < size);
    return pid;
}

//  One client sends count planned reports for year to the collector.
static void
s_stream (const tt_collector_t *collector, const char *source, int year, int first_day, size_t count)
{
    sk_plan_t *plan = (sk_plan_t *) calloc (count, sizeof *plan);
    unsigned seed = (unsigned) year + (unsigned) first_day;
    for (size_t i = 0; i < count; i++) {
        int day = first_day + (int) (i / S_REGIONS);
        struct tm tm = { .tm_year = year - 1900, .tm_mon = 0, .tm_mday = 1 + day };
        time_t when = timegm (&tm);
        gmtime_r (&when, &tm);
        strftime (plan [i].as_of, sizeof plan [i].as_of, "%Y-%m-%d", &tm);
        //  counties mostly; now and then the city's or the province's own figures
        snprintf (plan [i].region, sizeof plan [i].region, "%s", s_regions [rand_r (&seed) % S_REGIONS]);
        for (int m = 0; m < SK_METRICS; m++)
            plan [i].values [m] = rand_r (&seed) % (m == 3 ? 10001 : 100000);
    }
    sk_client_t client = { .plan = plan, .count = count, .endpoint_count = 1, .window = 4,
                           .silence_ms = 10000, .deadline_ms = tt_now_ms () + 60000 };
    snprintf (client.source, sizeof client.source, "%s", source);
    snprintf (client.endpoints [0], sizeof client.endpoints [0], "%s", collector->report_ep);
    sk_client_start (&client);
    sk_client_join (&client);
    ck_assert_msg (!*client.error, "%s", client.error);
    ck_assert_int_eq (client.stored, count);
    sk_client_free (&client);
    free (plan);
}

//  Wait until the recorder holds every region's version in the database.
static void
s_wait_versions (sk_recorder_t *recorder, int year, const char *who)
{
    int64_t deadline = tt_now_ms () + 10000;
    for (int r = 0; r < S_REGIONS; r++) {
        char *sql = zsys_sprintf ("SELECT coalesce (max (version), 0) FROM region_year "
                                  "WHERE region = '%s' AND year = %d", s_regions [r], year);
        int64_t version = tt_sql_int (s_pg->conninfo, sql);
        zstr_free (&sql);
        while (sk_recorder_version (recorder, s_regions [r]) < version && tt_now_ms () < deadline)
            zclock_sleep (20);
        ck_assert_msg (sk_recorder_version (recorder, s_regions [r]) == version,
                       "%s never got version %" PRId64 " of %s", who, version, s_regions [r]);
    }
}

//  The newest recorded message of region in year (borrowed from list), or NULL.
static const sk_totals_t *
s_newest (const sk_totals_t *list, size_t count, const char *region, int year)
{
    const sk_totals_t *newest = NULL;
    for (size_t i = 0; i < count; i++)
        if (list [i].year == year && streq (list [i].region, region)
        && (!newest || list [i].version > newest->version))
            newest = &list [i];
    return newest;
}

//  A late subscriber's view: per region the newest version and its values.
typedef struct {
    int64_t version [S_REGIONS];
    int64_t values [S_REGIONS][SK_METRICS];
} s_view_t;

static void
s_view_apply (s_view_t *view, const char *region, int64_t version, const int64_t *values)
{
    for (int r = 0; r < S_REGIONS; r++)
        if (streq (s_regions [r], region) && version > view->version [r]) {
            view->version [r] = version;
            memcpy (view->values [r], values, sizeof view->values [r]);
        }
}

//  Ask the collector's query endpoint for a snapshot of prefix "22".
static void
s_snapshot (const char *query_ep, int year, s_view_t *view)
{
    zsock_t *dealer = zsock_new_dealer (query_ep);
    zsock_set_rcvtimeo (dealer, 10000);
    proto_msg_t *request = proto_msg_new (PROTO_SNAPSHOT);
    snprintf (request->prefix, sizeof request->prefix, "22");
    request->has_year = true;
    request->year = year;
    size_t size;
    uint8_t *body = proto_msg_encode (request, &size, NULL);
    proto_msg_destroy (&request);
    zframe_t *frame = zframe_new (body, size);
    free (body);
    zframe_send (&frame, dealer, 0);
    int regions = 0;
    while (true) {
        frame = zframe_recv (dealer);
        ck_assert_msg (frame, "no snapshot from the collector's query endpoint");
        proto_error_t err;
        proto_msg_t *msg = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
        zframe_destroy (&frame);
        ck_assert_ptr_nonnull (msg);
        if (msg->type == PROTO_SNAPSHOT_END) {
            ck_assert_int_eq (msg->count, regions);
            proto_msg_destroy (&msg);
            break;
        }
        ck_assert_int_eq (msg->type, PROTO_TOTALS);
        int64_t values [SK_METRICS];
        for (int m = 0; m < SK_METRICS; m++)
            if (!proto_msg_value (msg, false, sk_metric_keys [m], &values [m]))
                values [m] = -1;
        s_view_apply (view, msg->region, msg->has_version ? msg->version : msg->seq, values);
        regions++;
        proto_msg_destroy (&msg);
    }
    zsock_destroy (&dealer);
}

START_TEST (test_proxy_same_state)
{
    const int year = 2041;
    tt_collector_t *collector = tt_collector_start (s_pg->conninfo, NULL, NULL);
    char backend [64], proxy_log [300];
    pid_t proxy = s_proxy_start (collector->feed_ep, backend, sizeof backend, proxy_log, sizeof proxy_log);

    const char *direct_feeds [] = { collector->feed_ep };
    const char *proxied_feeds [] = { backend };
    sk_recorder_t *direct = sk_recorder_new (direct_feeds, 1, "22");
    sk_recorder_t *proxied = sk_recorder_new (proxied_feeds, 1, "22");
    ck_assert_msg (direct && proxied, "no heartbeat from the collector, directly or through the proxy");

    s_stream (collector, "proxy-stream-1", year, 0, 600);
    s_wait_versions (direct, year, "the direct subscriber");
    s_wait_versions (proxied, year, "the subscriber behind the proxy");

    size_t direct_count, proxied_count;
    sk_totals_t *direct_list = sk_recorder_take (direct, &direct_count);
    sk_totals_t *proxied_list = sk_recorder_take (proxied, &proxied_count);
    ck_assert_int_eq (direct_count, proxied_count);
    for (int r = 0; r < S_REGIONS; r++) {
        const sk_totals_t *a = s_newest (direct_list, direct_count, s_regions [r], year);
        const sk_totals_t *b = s_newest (proxied_list, proxied_count, s_regions [r], year);
        ck_assert_msg (a && b, "no totals of %s", s_regions [r]);
        ck_assert_int_eq (a->version, b->version);
        ck_assert_msg (a->body_size == b->body_size && memcmp (a->body, b->body, a->body_size) == 0,
                       "the newest totals of %s differ behind the proxy", s_regions [r]);
    }
    printf ("feedproxy: 600 reports, %zu totals messages direct, %zu through the proxy, "
            "newest body of all %d regions identical\n", direct_count, proxied_count, S_REGIONS);
    sk_totals_free (direct_list, direct_count);
    sk_totals_free (proxied_list, proxied_count);

    //  A late subscriber: feed through the proxy first, then the snapshot
    //  from the collector, then only newer versions per region.
    sk_recorder_t *late = sk_recorder_new (proxied_feeds, 1, "22");
    ck_assert_ptr_nonnull (late);
    s_view_t view;
    memset (&view, 0, sizeof view);
    s_snapshot (collector->query_ep, year, &view);
    s_stream (collector, "proxy-stream-2", year, 100, 200);
    s_wait_versions (late, year, "the late subscriber");
    s_wait_versions (direct, year, "the direct subscriber");
    size_t late_count;
    sk_totals_t *late_list = sk_recorder_take (late, &late_count);
    for (size_t i = 0; i < late_count; i++)
        if (late_list [i].year == year)
            s_view_apply (&view, late_list [i].region, late_list [i].version, late_list [i].values);
    direct_list = sk_recorder_take (direct, &direct_count);
    for (int r = 0; r < S_REGIONS; r++) {
        const sk_totals_t *a = s_newest (direct_list, direct_count, s_regions [r], year);
        ck_assert_ptr_nonnull (a);
        ck_assert_int_eq (view.version [r], a->version);
        for (int m = 0; m < SK_METRICS; m++)
            ck_assert_int_eq (view.values [r][m], a->values [m]);
    }
    printf ("feedproxy: late subscriber (snapshot from the collector, feed through the proxy) "
            "agrees with the direct one after %zu more messages\n", late_count);
    sk_totals_free (late_list, late_count);
    sk_totals_free (direct_list, direct_count);

    sk_recorder_destroy (&late);
    sk_recorder_destroy (&direct);
    sk_recorder_destroy (&proxied);
    kill (proxy, SIGTERM);
    ck_assert_int_eq (tt_wait (proxy, 5000), 0);
    char *log = tt_slurp (proxy_log);
    ck_assert_ptr_nonnull (strstr (log, "messages forwarded"));
    ck_assert_ptr_nonnull (strstr (log, "feedproxy: stopping after"));
    free (log);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
}
END_TEST

//  tally-watch behind a proxy in front of two collectors on one database:
//  one --feed, whose seqs interleave. The watch must find that out (a seq
//  that goes back on its one connection) and keep each region's newest
//  version: at the end its last line of every region carries the version
//  in region_year. (It used to drop the second collector's lower seqs as
//  old, and stayed on stale totals.)
START_TEST (test_watch_behind_proxy_of_two)
{
    const int year = 2043;
    tt_collector_t *first = tt_collector_start (s_pg->conninfo, NULL, NULL);
    tt_collector_t *second = tt_collector_start (s_pg->conninfo, NULL, NULL);
    char frontends [160], backend [64], proxy_log [300];
    snprintf (frontends, sizeof frontends, "%s,%s", first->feed_ep, second->feed_ep);
    pid_t proxy = s_proxy_start (frontends, backend, sizeof backend, proxy_log, sizeof proxy_log);
    char *dir = tt_tempdir ("watch-proxy");
    char *out = zsys_sprintf ("%s/watch.jsonl", dir), *err = zsys_sprintf ("%s/watch.err", dir);
    char year_text [8];
    snprintf (year_text, sizeof year_text, "%d", year);
    //  The watch's stderr and stdout apart: only its JSON lines in out.
    char *command = zsys_sprintf ("exec '%s' --json --feed '%s' --query '%s' --year %s 2>'%s'",
                                  tt_watch_bin, backend, first->query_ep, year_text, err);
    const char *argv [] = { "/bin/sh", "-c", command, NULL };
    pid_t watch = tt_spawn (argv, out);
    zclock_sleep (1500);                //  subscribed, and its first snapshot taken

    //  The first collector runs ahead; the second's seqs then go back,
    //  and its changes are the newest.
    s_stream (first, "proxy-two-1", year, 0, 300);
    s_stream (second, "proxy-two-2", year, 50, 300);
    zclock_sleep (1500);
    kill (watch, SIGTERM);
    ck_assert_int_eq (tt_wait (watch, 5000), 0);

    char *lines = tt_slurp (out);
    ck_assert_ptr_nonnull (lines);
    for (int r = 0; r < S_REGIONS; r++) {
        char *sql = zsys_sprintf ("SELECT coalesce (max (version), 0) FROM region_year "
                                  "WHERE region = '%s' AND year = %d", s_regions [r], year);
        int64_t want = tt_sql_int (s_pg->conninfo, sql);
        zstr_free (&sql);
        //  The last line of the region, and its version (the last key).
        char key [40];
        snprintf (key, sizeof key, "\"region\":\"%s\"", s_regions [r]);
        int64_t last = -1;
        for (char *at = strstr (lines, key); at; at = strstr (at + 1, key)) {
            char *version = strstr (at, "\"version\":");
            char *end = strchr (at, '\n');
            if (version && (!end || version < end))
                last = strtoll (version + 10, NULL, 10);
        }
        ck_assert_msg (last == want, "the watch ended on version %" PRId64 " of %s, the database "
                       "has %" PRId64, last, s_regions [r], want);
    }
    char *said = tt_slurp (err);
    ck_assert_msg (said && strstr (said, "several collectors' feeds come through it"),
                   "the watch did not say it found several feeds: %s", said ? said : "");
    printf ("feedproxy: tally-watch behind a proxy of two collectors ended on every region's "
            "newest version (600 reports)\n");
    free (said);
    free (lines);
    zstr_free (&command);
    zstr_free (&out);
    zstr_free (&err);
    free (dir);
    kill (proxy, SIGTERM);
    ck_assert_int_eq (tt_wait (proxy, 5000), 0);
    ck_assert_int_eq (tt_collector_stop (&first, SIGTERM), 0);
    ck_assert_int_eq (tt_collector_stop (&second, SIGTERM), 0);
}
END_TEST

START_TEST (test_proxy_usage)
{
    const char *help [] = { s_feedproxy_bin, "--help", NULL };
    char *out = NULL;
    ck_assert_int_eq (tt_run (help, 5000, &out), 0);
    ck_assert_ptr_nonnull (strstr (out, "--frontend EP"));
    ck_assert_ptr_nonnull (strstr (out, "--query"));
    free (out);
    const char *bad [] = { s_feedproxy_bin, "--frontend", "tcp://127.0.0.1:7702", NULL };
    ck_assert_int_eq (tt_run (bad, 5000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "--backend"));
    free (out);
    //  A bad endpoint: the reason, exit 2, and no czmq warning of sockets
    //  left dangling on the way out.
    const char *bad_frontend [] = { s_feedproxy_bin, "--frontend", "tcp://127.0.0.1:bad",
                                    "--backend", "ipc:///tmp/tally-feedproxy-usage.ipc", NULL };
    ck_assert_int_eq (tt_run (bad_frontend, 5000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "cannot connect to tcp://127.0.0.1:bad"));
    ck_assert_msg (!strstr (out, "dangling"), "%s", out);
    free (out);
    const char *bad_backend [] = { s_feedproxy_bin, "--frontend", "ipc:///tmp/tally-feedproxy-usage.ipc",
                                   "--backend", "tcp://127.0.0.1:bad", NULL };
    ck_assert_int_eq (tt_run (bad_backend, 5000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "cannot bind tcp://127.0.0.1:bad"));
    ck_assert_msg (!strstr (out, "dangling"), "%s", out);
    free (out);
}
END_TEST

int
main (void)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    s_pg = tt_pg_start ();
    if (tt_migrate (s_pg->conninfo) != 0)
        return 1;
    Suite *suite = suite_create ("feedproxy");
    TCase *tc = tcase_create ("proxy");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_proxy_usage);
    tcase_add_test (tc, test_proxy_same_state);
    tcase_add_test (tc, test_watch_behind_proxy_of_two);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    tt_pg_destroy (&s_pg);
    return failed ? 1 : 0;
}
