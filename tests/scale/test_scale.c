/*  test_scale.c — several collectors, one database: exactness under concurrency.

    Two collectors (three in the kill test) run against one private
    PostgreSQL. Client threads with raw DEALER sockets report at once for
    the same regions — the seven counties of 通化市 — so every batch of every
    collector updates the same region_total and region_year rows of the city
    and the province. The suite checks what README promises in "Beyond one
    machine": no deadlock or statement error in any collector's log, every
    report acked exactly once, each region's figures exactly those of its
    newest report (checked against a model the test keeps itself),
    `tally_verify()` empty, and per region a `version` that increases in
    commit order (figures only grow with the day, so both collectors' feeds
    sorted by version must never show a region's figure shrinking, and the
    newest message must be what region_total holds). Then one collector is
    SIGKILLed mid-run while its clients resend to another, and the totals are
    still exact. Each test uses its own year.
*/
#include <check.h>
#include <czmq.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "proto_msg.h"
#include "scale_kit.h"
#include "tt.h"

static tt_pg_t *s_pg;

#define S_PROVINCE  "220000"
#define S_CITY      "220500"
#define S_LEAVES    7
//  Every region of the tree, in code order.
#define S_REGIONS   9
static const char *s_regions [S_REGIONS] = {
    S_PROVINCE, S_CITY, "220502", "220503", "220521", "220523", "220524", "220581", "220582"
};

static int
s_region_index (const char *code)
{
    for (int r = 0; r < S_REGIONS; r++)
        if (streq (s_regions [r], code))
            return r;
    return -1;
}

//  --------------------------------------------------------------------------
//  The plan: what each client reports, and the figures that must win

//  Plan count reports for client `client` of `clients` in `year`. Each
//  report's day is unique per region across all clients (client c uses the
//  days c, c + clients, c + 2 clients, ...), mostly in order, so that the
//  newest report per region is well defined and many reports arrive older
//  than what is stored (and changes nothing). With parents, one report in eight is the city's or
//  the province's own figures.
static void
s_plan (sk_plan_t *plan, size_t count, int client, int clients, int year, bool parents)
{
    unsigned seed = (unsigned) (client * 7919 + year);
    int slots = 365 / clients;
    bool *used = (bool *) calloc ((size_t) S_REGIONS * (size_t) slots, sizeof *used);
    int next [S_REGIONS] = { 0 };
    for (size_t i = 0; i < count; i++) {
        int region = 2 + rand_r (&seed) % S_LEAVES;
        if (parents && rand_r (&seed) % 8 == 0)
            region = rand_r (&seed) % 2;
        //  Mostly the next day (most reports change the totals), sometimes
        //  an earlier day (a late report that changes nothing).
        int slot = rand_r (&seed) % 5 || next [region] == 0 ? next [region]
                                                            : rand_r (&seed) % next [region];
        int tries = 0;
        while (used [region * slots + slot] && tries++ < slots)
            slot = (slot + 1) % slots;
        ck_assert_msg (tries <= slots, "plan: too many reports for the days of a year");
        used [region * slots + slot] = true;
        while (next [region] < slots - 1 && used [region * slots + next [region]])
            next [region]++;
        int day = client + clients * slot;
        struct tm tm = { .tm_year = year - 1900, .tm_mon = 0, .tm_mday = 1 + day };
        time_t when = timegm (&tm);
        gmtime_r (&when, &tm);
        snprintf (plan [i].region, sizeof plan [i].region, "%s", s_regions [region]);
        strftime (plan [i].as_of, sizeof plan [i].as_of, "%Y-%m-%d", &tm);
        //  Figures grow with the day (cumulative figures do), so each
        //  region's current figures only ever grow in commit order.
        for (int m = 0; m < SK_METRICS; m++)
            plan [i].values [m] = m == 3 ? day * 27 + rand_r (&seed) % 27
                                         : (int64_t) day * 1000 + rand_r (&seed) % 1000;
    }
    free (used);
}

//  The figures each region must end with: per region the values of its
//  acked report with the newest as_of (-1: none).
typedef struct {
    char as_of [S_REGIONS][11];
    int64_t own [S_REGIONS][SK_METRICS];
} s_model_t;

static void
s_model (s_model_t *model, sk_client_t *clients, int client_count)
{
    memset (model, 0, sizeof *model);
    for (int r = 0; r < S_REGIONS; r++)
        for (int m = 0; m < SK_METRICS; m++)
            model->own [r][m] = -1;
    for (int c = 0; c < client_count; c++)
        for (size_t i = 0; i < clients [c].count; i++) {
            if (clients [c].answers [i] == SK_PENDING)
                continue;
            const sk_plan_t *plan = &clients [c].plan [i];
            int r = s_region_index (plan->region);
            if (strcmp (plan->as_of, model->as_of [r]) > 0) {
                strcpy (model->as_of [r], plan->as_of);
                memcpy (model->own [r], plan->values, sizeof plan->values);
            }
        }
}

//  Lines "region:metric=value" sorted bytewise, joined by ','.
static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
s_join_sorted (int64_t table [S_REGIONS][SK_METRICS])
{
    char *lines [S_REGIONS * SK_METRICS];
    int count = 0;
    for (int r = 0; r < S_REGIONS; r++)
        for (int m = 0; m < SK_METRICS; m++)
            if (table [r][m] >= 0)
                lines [count++] = zsys_sprintf ("%s:%s=%" PRId64, s_regions [r], sk_metric_keys [m], table [r][m]);
    qsort (lines, (size_t) count, sizeof lines [0], s_cmp);
    size_t size = 1;
    for (int i = 0; i < count; i++)
        size += strlen (lines [i]) + 1;
    char *text = (char *) calloc (1, size);
    for (int i = 0; i < count; i++) {
        if (i)
            strcat (text, ",");
        strcat (text, lines [i]);
        zstr_free (&lines [i]);
    }
    return text;
}

static char *
s_sql_lines (const char *table, int year)
{
    char *sql = zsys_sprintf (
        "SELECT coalesce (string_agg (region || ':' || metric || '=' || value, ',' "
        "ORDER BY (region || ':' || metric || '=' || value) COLLATE \"C\"), '') FROM %s "
        "WHERE year = %d AND region LIKE '2205%%' OR year = %d AND region = '220000'",
        table, year, year);
    char *text = tt_sql_text (s_pg->conninfo, sql);
    zstr_free (&sql);
    return text ? text : strdup ("");
}

//  Check current_value and region_total against the model, and tally_verify.
static void
s_check_database (sk_client_t *clients, int client_count, int year)
{
    s_model_t model;
    s_model (&model, clients, client_count);

    int64_t own [S_REGIONS][SK_METRICS];
    memcpy (own, model.own, sizeof own);
    char *want = s_join_sorted (own);
    char *have = s_sql_lines ("current_value", year);
    ck_assert_msg (streq (want, have), "current_value differs from the newest reports:\n want %s\n have %s", want, have);
    free (want);
    free (have);

    int64_t total [S_REGIONS][SK_METRICS];
    for (int r = 0; r < S_REGIONS; r++)
        for (int m = 0; m < SK_METRICS; m++)
            total [r][m] = r >= 2 || m == 3 ? model.own [r][m] : -1;
    for (int m = 0; m < 3; m++)
        for (int r = 2; r < S_REGIONS; r++)
            if (model.own [r][m] >= 0)
                for (int parent = 0; parent < 2; parent++)
                    total [parent][m] = (total [parent][m] < 0 ? 0 : total [parent][m]) + model.own [r][m];
    want = s_join_sorted (total);
    have = s_sql_lines ("region_total", year);
    ck_assert_msg (streq (want, have), "region_total differs from the model:\n want %s\n have %s", want, have);
    free (want);
    free (have);

    ck_assert_int_eq (tt_sql_int (s_pg->conninfo, "SELECT count(*) FROM tally_verify()"), 0);
}

//  --------------------------------------------------------------------------
//  Helpers

//  The collector's log must show no failed statement: a deadlock would be
//  logged as "store: storing a batch failed: deadlock detected".
static void
s_check_log (const tt_collector_t *collector, const char *name)
{
    char *log = tt_slurp (collector->log_path);
    ck_assert_ptr_nonnull (log);
    ck_assert_msg (!strstr (log, "deadlock"), "collector %s logged a deadlock:\n%s", name, log);
    ck_assert_msg (!strstr (log, " failed: "), "collector %s logged a failed statement:\n%s", name, log);
    ck_assert_msg (!strstr (log, "could not serialize"), "collector %s: serialization failure:\n%s", name, log);
    free (log);
}

static sk_client_t *
s_clients_new (int count, size_t reports, int year, bool parents, const char *tag,
               tt_collector_t **collectors, int collector_count, int silence_ms)
{
    sk_client_t *clients = (sk_client_t *) calloc ((size_t) count, sizeof *clients);
    for (int c = 0; c < count; c++) {
        sk_client_t *client = &clients [c];
        snprintf (client->source, sizeof client->source, "scale-%s-%d-%d", tag, year, c);
        sk_plan_t *plan = (sk_plan_t *) calloc (reports, sizeof *plan);
        s_plan (plan, reports, c, count, year, parents);
        client->plan = plan;
        client->count = reports;
        client->endpoint_count = collector_count;
        for (int e = 0; e < collector_count; e++)
            snprintf (client->endpoints [e], sizeof client->endpoints [e], "%s", collectors [e]->report_ep);
        client->endpoint = c % collector_count;
        client->window = 2;     //  small batches: many transactions contend
        client->silence_ms = silence_ms;
        client->deadline_ms = tt_now_ms () + 60000;
    }
    return clients;
}

static void
s_clients_destroy (sk_client_t **clients_p, int count)
{
    sk_client_t *clients = *clients_p;
    for (int c = 0; c < count; c++) {
        free ((void *) clients [c].plan);
        sk_client_free (&clients [c]);
    }
    free (clients);
    *clients_p = NULL;
}

//  Wait until the recorder has every region's newest version (the feed is
//  asynchronous: the last messages may still be on their way).
static void
s_wait_feed (sk_recorder_t *recorder, int year)
{
    int64_t deadline = tt_now_ms () + 10000;
    for (int r = 0; r < S_REGIONS; r++) {
        char *sql = zsys_sprintf ("SELECT version FROM region_year WHERE region = '%s' AND year = %d",
                                  s_regions [r], year);
        int64_t version = tt_sql_int (s_pg->conninfo, sql);
        zstr_free (&sql);
        while (sk_recorder_version (recorder, s_regions [r]) < version && tt_now_ms () < deadline)
            zclock_sleep (20);
        ck_assert_msg (sk_recorder_version (recorder, s_regions [r]) == version,
                       "feed never published version %" PRId64 " of %s", version, s_regions [r]);
    }
}

static int
s_by_version (const void *a, const void *b)
{
    const sk_totals_t *x = (const sk_totals_t *) a, *y = (const sk_totals_t *) b;
    return x->version < y->version ? -1 : x->version > y->version;
}

//  Check the order of every totals message of both feeds. Versions are
//  unique (one feed_seq); within one feed each region's versions increase;
//  and since every region's figures only grow in commit order, sorting a
//  region's messages by version must give figures that never shrink:
//  otherwise version order is not commit order. The newest message of each
//  region must carry what region_total holds.
static void
s_check_feed_order (sk_totals_t *list, size_t count, int feeds, int year, size_t *kept_p)
{
    //  Each feed numbers its messages one by one (PROTOCOL.md: seq), whatever
    //  the order its collector's connections committed in.
    int64_t last_seq [SK_MAX_ENDPOINTS] = { 0 };
    for (size_t i = 0; i < count; i++) {
        int feed = list [i].feed;
        ck_assert_int_lt (feed, feeds);
        ck_assert_msg (last_seq [feed] == 0 || list [i].seq == last_seq [feed] + 1,
                       "feed %d: seq went from %" PRId64 " to %" PRId64, feed, last_seq [feed],
                       list [i].seq);
        last_seq [feed] = list [i].seq;
    }
    //  per feed, per region: the last version seen, in arrival order
    int64_t last [SK_MAX_ENDPOINTS][S_REGIONS] = { { 0 } };
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (list [i].year != year)
            continue;
        int r = s_region_index (list [i].region);
        ck_assert_int_ge (r, 0);
        ck_assert_int_lt (list [i].feed, feeds);
        ck_assert_msg (list [i].version > last [list [i].feed][r],
                       "feed %d: version of %s went from %" PRId64 " to %" PRId64,
                       list [i].feed, list [i].region, last [list [i].feed][r], list [i].version);
        last [list [i].feed][r] = list [i].version;
        list [kept++] = list [i];
    }
    qsort (list, kept, sizeof *list, s_by_version);
    int64_t state [S_REGIONS][SK_METRICS];
    for (int r = 0; r < S_REGIONS; r++)
        for (int m = 0; m < SK_METRICS; m++)
            state [r][m] = -1;
    for (size_t i = 0; i < kept; i++) {
        if (i > 0)
            ck_assert_msg (list [i].version > list [i - 1].version,
                           "version %" PRId64 " published twice", list [i].version);
        int r = s_region_index (list [i].region);
        for (int m = 0; m < SK_METRICS; m++) {
            ck_assert_msg (list [i].values [m] >= state [r][m],
                           "%s %s shrank from %" PRId64 " to %" PRId64 " at version %" PRId64
                           ": version order is not commit order", list [i].region, sk_metric_keys [m],
                           state [r][m], list [i].values [m], list [i].version);
            state [r][m] = list [i].values [m];
        }
    }
    size_t transactions = 0;        //  each one changed the province
    for (size_t i = 0; i < kept; i++)
        transactions += streq (list [i].region, S_PROVINCE);
    *kept_p = transactions;
    for (int r = 0; r < S_REGIONS; r++)
        for (int m = 0; m < SK_METRICS; m++) {
            char *sql = zsys_sprintf ("SELECT value FROM region_total WHERE region = '%s' AND metric = '%s' "
                                      "AND year = %d", s_regions [r], sk_metric_keys [m], year);
            int64_t stored = tt_sql_int (s_pg->conninfo, sql);
            zstr_free (&sql);
            ck_assert_msg (stored == state [r][m], "%s %s: the feed's newest is %" PRId64 ", region_total %" PRId64,
                           s_regions [r], sk_metric_keys [m], state [r][m], stored);
        }
}

//  --------------------------------------------------------------------------
//  Two collectors, the same counties, at once

static void
s_concurrent (int year, bool parents, const char *tag)
{
    tt_collector_t *collectors [2];
    for (int i = 0; i < 2; i++)
        collectors [i] = tt_collector_start (s_pg->conninfo, NULL, NULL);
    const char *feeds [2] = { collectors [0]->feed_ep, collectors [1]->feed_ep };
    char topic [8];
    snprintf (topic, sizeof topic, "22");
    sk_recorder_t *recorder = sk_recorder_new (feeds, 2, topic);
    ck_assert_msg (recorder, "no heartbeat from the collectors' feeds within 10 s");

    const int client_count = 8;
    const size_t reports = 200;
    sk_client_t *clients = s_clients_new (client_count, reports, year, parents, tag, collectors, 2, 10000);
    int64_t started = tt_now_ms ();
    for (int c = 0; c < client_count; c++)
        sk_client_start (&clients [c]);
    for (int c = 0; c < client_count; c++)
        sk_client_join (&clients [c]);
    int64_t elapsed = tt_now_ms () - started;

    size_t stored = 0, unavailable = 0;
    for (int c = 0; c < client_count; c++) {
        ck_assert_msg (!*clients [c].error, "client %d: %s", c, clients [c].error);
        ck_assert_int_eq (clients [c].stored, reports);          //  each acked once, as stored
        ck_assert_int_eq (clients [c].duplicates, 0);
        ck_assert_int_eq (clients [c].failovers, 0);
        stored += clients [c].stored;
        unavailable += clients [c].unavailable;
    }
    for (int i = 0; i < 2; i++)
        s_check_log (collectors [i], i ? "B" : "A");
    char *sql = zsys_sprintf ("SELECT count(*) FROM report WHERE source LIKE 'scale-%s-%d-%%'", tag, year);
    ck_assert_int_eq (tt_sql_int (s_pg->conninfo, sql), (int64_t) stored);
    zstr_free (&sql);
    s_check_database (clients, client_count, year);

    s_wait_feed (recorder, year);
    size_t count, ordered;
    sk_totals_t *list = sk_recorder_take (recorder, &count);
    s_check_feed_order (list, count, 2, year, &ordered);
    printf ("scale: %s: %zu reports from %d clients through 2 collectors in %.1f s (%.0f/s), "
            "%zu unavailable, %zu transactions checked in version order on both feeds\n",
            tag, stored, client_count, (double) elapsed / 1000.0,
            (double) stored * 1000.0 / (double) (elapsed ? elapsed : 1), unavailable, ordered);
    sk_totals_free (list, count);

    sk_recorder_destroy (&recorder);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq (tt_collector_stop (&collectors [i], SIGTERM), 0);
    s_clients_destroy (&clients, client_count);
}

START_TEST (test_two_collectors_same_counties)
{
    s_concurrent (2031, false, "leaves");
}
END_TEST

//  The same with the city and the province reporting their own figures
//  among the counties' reports: batches then hold rows of several levels.
START_TEST (test_two_collectors_all_levels)
{
    s_concurrent (2032, true, "levels");
}
END_TEST

//  --------------------------------------------------------------------------
//  Lock order across levels, straight at the database
//
//  Three connections call tally_ingest() in loops, as three collectors
//  would: batches holding the province's own figures together with a
//  county's; batches holding only the city's own figures; batches of one
//  county. With 002_ingest.sql as it is, region_year rows are locked level by
//  level (own changes, then ancestors bottom-up), so the first kind takes the
//  province before the city and the second the city before the province:
//  PostgreSQL reported deadlocks (about 3 % of such transactions) until
//  004_ingest_faster.sql locked every region_year row of a batch in key
//  order first; the probe keeps it that way.

typedef struct {
    int kind;                       //  0: province + county, 1: city, 2: county
    int64_t until;                  //  tt_now_ms deadline
    int done, deadlocks, errors;
    char error [256];
} s_prober_t;

static void *
s_probe_run (void *arg)
{
    s_prober_t *self = (s_prober_t *) arg;
    PGconn *conn = PQconnectdb (s_pg->conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        snprintf (self->error, sizeof self->error, "%s", PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    PQclear (PQexec (conn, "SET synchronous_commit = off"));
    PQclear (PQexec (conn, "SET client_min_messages = warning"));
    unsigned seed = (unsigned) self->kind;
    const char *leaves [] = { "220502", "220503", "220521", "220523", "220524", "220581", "220582" };
    for (int64_t seq = 1; tt_now_ms () < self->until; seq++) {
        char sql [1024];
        int value = rand_r (&seed) % 100000;
        if (self->kind == 0)
            snprintf (sql, sizeof sql, "SELECT count(*) FROM tally_ingest (ARRAY['probe-a','probe-a'], "
                "ARRAY[%" PRId64 ", %" PRId64 "]::bigint[], ARRAY['220000','220503'], "
                "'{2035-06-01,2035-06-01}'::date[], '{NULL,NULL}'::text[], '{NULL,NULL}'::bigint[], "
                "'{NULL,NULL}'::text[], '{NULL,NULL}'::text[], ARRAY[1,2,2], "
                "ARRAY['projects_planned','projects_planned','prep_completion_pct'], ARRAY[%d,%d,5]::bigint[])",
                2 * seq, 2 * seq + 1, value, value);
        else
            snprintf (sql, sizeof sql, "SELECT count(*) FROM tally_ingest (ARRAY['probe-%c'], "
                "ARRAY[%" PRId64 "]::bigint[], ARRAY['%s'], '{2035-06-01}'::date[], '{NULL}'::text[], "
                "'{NULL}'::bigint[], '{NULL}'::text[], '{NULL}'::text[], ARRAY[1], "
                "ARRAY['projects_planned'], ARRAY[%d]::bigint[])",
                self->kind == 1 ? 'b' : 'c', seq,
                self->kind == 1 ? S_CITY : leaves [rand_r (&seed) % 7], value);
        PGresult *res = PQexec (conn, sql);
        if (PQresultStatus (res) == PGRES_TUPLES_OK)
            self->done++;
        else {
            const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
            if (state && streq (state, "40P01"))
                self->deadlocks++;
            else {
                self->errors++;
                if (!*self->error)
                    snprintf (self->error, sizeof self->error, "%s", PQresultErrorMessage (res));
            }
        }
        PQclear (res);
    }
    PQfinish (conn);
    return NULL;
}

START_TEST (test_lock_order_probe)
{
    s_prober_t probers [3];
    pthread_t threads [3];
    memset (probers, 0, sizeof probers);
    for (int i = 0; i < 3; i++) {
        probers [i].kind = i;
        probers [i].until = tt_now_ms () + 10000;
        pthread_create (&threads [i], NULL, s_probe_run, &probers [i]);
    }
    int done = 0, deadlocks = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join (threads [i], NULL);
        ck_assert_msg (probers [i].errors == 0, "probe %d: %s", i, probers [i].error);
        done += probers [i].done;
        deadlocks += probers [i].deadlocks;
    }
    printf ("scale: lock-order probe: %d batches stored, %d deadlocks\n", done, deadlocks);
    ck_assert_int_eq (tt_sql_int (s_pg->conninfo, "SELECT count(*) FROM tally_verify()"), 0);
    ck_assert_msg (deadlocks == 0, "%d of %d batches died in a deadlock", deadlocks, done + deadlocks);
}
END_TEST

//  --------------------------------------------------------------------------
//  Three collectors; one is SIGKILLed mid-run, its clients resend elsewhere

START_TEST (test_kill_one_collector)
{
    const int year = 2033;
    tt_collector_t *collectors [3];
    for (int i = 0; i < 3; i++)
        collectors [i] = tt_collector_start (s_pg->conninfo, NULL, NULL);

    const int client_count = 6;
    const size_t reports = 300;
    sk_client_t *clients = s_clients_new (client_count, reports, year, false, "kill", collectors, 3, 1500);
    int64_t started = tt_now_ms ();
    for (int c = 0; c < client_count; c++)
        sk_client_start (&clients [c]);

    //  Kill A once a third of everything is acked.
    int64_t deadline = tt_now_ms () + 30000;
    while (tt_now_ms () < deadline) {
        size_t acked = 0;
        for (int c = 0; c < client_count; c++)
            acked += sk_client_acked (&clients [c]);
        if (acked >= (size_t) client_count * reports / 3)
            break;
        zclock_sleep (5);
    }
    s_check_log (collectors [0], "A");
    pid_t killed = collectors [0]->pid;
    ck_assert_int_eq (tt_collector_stop (&collectors [0], SIGKILL), 128 + SIGKILL);
    int64_t killed_at = tt_now_ms ();

    for (int c = 0; c < client_count; c++)
        sk_client_join (&clients [c]);
    int64_t elapsed = tt_now_ms () - started;

    size_t stored = 0, duplicates = 0, failovers = 0, after = 0;
    for (int c = 0; c < client_count; c++) {
        ck_assert_msg (!*clients [c].error, "client %d: %s", c, clients [c].error);
        ck_assert_int_eq (clients [c].stored + clients [c].duplicates, reports);
        stored += clients [c].stored;
        duplicates += clients [c].duplicates;
        failovers += clients [c].failovers;
        for (size_t i = 0; i < reports; i++)
            if (clients [c].acked_at [i] > killed_at)
                after++;
    }
    ck_assert_msg (failovers >= 1, "no client had to move to another collector");
    ck_assert_msg (after > 0, "every report was acked before the kill: the kill came too late");
    for (int i = 1; i < 3; i++)
        s_check_log (collectors [i], i == 1 ? "B" : "C");
    ck_assert_int_eq (tt_sql_int (s_pg->conninfo,
        "SELECT count(*) FROM report WHERE source LIKE 'scale-kill-2033-%'"), (int64_t) client_count * (int64_t) reports);
    s_check_database (clients, client_count, year);
    printf ("scale: kill: %zu reports from %d clients through 3 collectors in %.1f s; collector A "
            "(pid %d) SIGKILLed, %zu moves to another collector, %zu acked after the kill, "
            "%zu acked as duplicate (stored by A, answer lost)\n",
            stored + duplicates, client_count, (double) elapsed / 1000.0, (int) killed,
            failovers, after, duplicates);

    for (int i = 1; i < 3; i++)
        ck_assert_int_eq (tt_collector_stop (&collectors [i], SIGTERM), 0);
    s_clients_destroy (&clients, client_count);
}
END_TEST

int
main (void)
{
    //  No czmq here: each test runs in a forked child, which starts czmq anew
    //  (state inherited from the parent would be left behind as a leak).
    setvbuf (stdout, NULL, _IOLBF, 0);
    s_pg = tt_pg_start ();
    if (tt_migrate (s_pg->conninfo) != 0)
        return 1;

    Suite *suite = suite_create ("scale");
    TCase *tc = tcase_create ("several collectors");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_two_collectors_same_counties);
    tcase_add_test (tc, test_two_collectors_all_levels);
    tcase_add_test (tc, test_kill_one_collector);
    tcase_add_test (tc, test_lock_order_probe);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);

    tt_pg_destroy (&s_pg);
    return failed ? 1 : 0;
}
