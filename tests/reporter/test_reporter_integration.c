/*  test_reporter_integration.c — tally-reporter against the real collector.

    Every test drives the tally-reporter binary as a county officer would,
    against a private PostgreSQL and the real tally-collector (tt.h), and
    then reads the database: the seed file's every figure stored; the
    collector killed for seconds while reporters keep sending; reporters
    killed with SIGKILL mid-send and rerun; a permanent nack; bad files
    refused with their line; the `run --watch` agent; keygen and CURVE (own
    county's key acked, another county's forbidden, no keys: a hint); config
    files; two collectors on one database, the first SIGKILLed mid-send;
    usage errors (keys, endpoints, a mistyped --outbox, a bad regions list)
    refused before anything is written.
    Each reporter has its own outbox, hence its own `source`, which scopes
    the SQL checks.
    Synchronisation is by polling with a deadline, never a bare sleep.
*/
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>

#include "input.h"
#include "keygen.h"
#include "tt.h"

static tt_pg_t *s_pg;                   //  one PostgreSQL for the suite
static tt_collector_t *s_collector;     //  the shared collector

static void
s_setup (void)
{
    s_pg = tt_pg_start ();
    ck_assert_int_eq (tt_migrate (s_pg->conninfo), 0);
    s_collector = tt_collector_start (s_pg->conninfo, NULL, NULL);
}

static void
s_teardown (void)
{
    tt_collector_stop (&s_collector, SIGTERM);
    tt_pg_destroy (&s_pg);
}

//  -------------------------------------------------------------------------
//  Helpers

//  Run tally-reporter with the given arguments (NULL-terminated); returns its
//  exit status, output in *output when not NULL (caller frees).
static int
s_reporter (char **output, int timeout_ms, ...)
{
    const char *argv [64];
    int argc = 0;
    argv [argc++] = tt_reporter_bin;
    va_list args;
    va_start (args, timeout_ms);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && argc < 63)
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;
    char *text = NULL;
    int rc = tt_run (argv, timeout_ms, &text);
    if (output)
        *output = text;
    else
        free (text);
    return rc;
}

//  The source id of an outbox (malloc'd).
static char *
s_source_of (const char *outbox)
{
    char path [512];
    snprintf (path, sizeof path, "%s/source", outbox);
    char *text = tt_slurp (path);
    ck_assert_ptr_nonnull (text);
    text [strcspn (text, "\n")] = 0;
    return text;
}

static int64_t
s_sql_int (const char *format, ...)
{
    char sql [2048];
    va_list args;
    va_start (args, format);
    vsnprintf (sql, sizeof sql, format, args);
    va_end (args);
    return tt_sql_int (s_pg->conninfo, sql);
}

//  Poll until the query's integer reaches at least `want`, or timeout.
static int64_t
s_wait_sql_at_least (int64_t want, int timeout_ms, const char *sql)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    int64_t value;
    while ((value = tt_sql_int (s_pg->conninfo, sql)) < want && tt_now_ms () < deadline) {
        struct timespec pause = { 0, 20 * 1000000L };
        nanosleep (&pause, NULL);
    }
    return value;
}

//  Number of entries in a folder, not counting . and ..
static int
s_count_entries (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        count += entry->d_name [0] != '.';
    closedir (dir);
    return count;
}

//  Write a CSV of `count` reports for region, one per day from first_day
//  (days since 2000-01-01), each with two values derived from the day.
static char *
s_write_big_csv (const char *dir, const char *name, const char *region, int first_day, int count)
{
    char *path = malloc (512);
    snprintf (path, 512, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fprintf (file, "region,as_of,metric,value\n");
    for (int i = 0; i < count; i++) {
        time_t when = (time_t) (946684800 + (int64_t) (first_day + i) * 86400);
        struct tm day;
        gmtime_r (&when, &day);
        char date [16];
        strftime (date, sizeof date, "%Y-%m-%d", &day);
        fprintf (file, "%s,%s,projects_started,%d\n", region, date, first_day + i);
        fprintf (file, "%s,%s,cattle_added,%d\n", region, date, 7 * i);
    }
    fclose (file);
    return path;
}

//  Exactly-once check for one source: `count` reports, one per (region,
//  as_of), each with its values, no seq used twice, nothing rejected.
static void
s_assert_stored_once (const char *source, int64_t count, int64_t values_per_report)
{
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), count);
    ck_assert_int_eq (s_sql_int ("SELECT count(DISTINCT (region, as_of)) FROM report WHERE source = '%s'",
                                 source), count);
    ck_assert_int_eq (s_sql_int ("SELECT count(DISTINCT seq) FROM report WHERE source = '%s'", source), count);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report_value v JOIN report r ON r.id = v.report_id "
                                 "WHERE r.source = '%s'", source), count * values_per_report);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM rejected_report WHERE source = '%s'", source), 0);
}

//  -------------------------------------------------------------------------

START_TEST (test_seed_delivered)
{
    //  The seed file, as the README's main job sends it: every figure lands.
    char *outbox = tt_tempdir ("outbox");
    char *output;
    int rc = s_reporter (&output, 60000, "send", tt_seed_csv, "--collector", s_collector->report_ep,
                         "--outbox", outbox, NULL);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, output);
    ck_assert_ptr_nonnull (strstr (output, "queued 8 reports"));
    ck_assert_ptr_nonnull (strstr (output, "8 stored"));
    free (output);
    char *source = s_source_of (outbox);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), 8);
    ck_assert_int_eq (s_sql_int ("SELECT max(seq) FROM report WHERE source = '%s'", source), 8);

    //  Every row of the seed file, found in report_value joined with report.
    input_t *input = input_new (tt_seed_csv, NULL);
    ck_assert_int_eq (input_read_file (input, tt_seed_csv), 0);
    ck_assert_int_eq (input_finish (input), 0);
    size_t figures = 0;
    for (size_t i = 0; i < input_report_count (input); i++) {
        proto_msg_t *report = input_report_at (input, i);
        for (size_t v = 0; v < report->value_count; v++) {
            int64_t stored = s_sql_int (
                "SELECT v.value FROM report_value v JOIN report r ON r.id = v.report_id "
                "WHERE r.source = '%s' AND r.region = '%s' AND r.as_of = '%s' AND v.metric = '%s'",
                source, report->region, report->as_of, report->values [v].key);
            ck_assert_msg (stored == report->values [v].value, "%s %s %s: stored %" PRId64
                           ", file says %" PRId64, report->region, report->as_of,
                           report->values [v].key, stored, report->values [v].value);
            figures++;
        }
    }
    ck_assert_uint_eq (figures, 68);
    input_destroy (&input);

    //  The same command again: recognised, not queued twice.
    rc = s_reporter (&output, 60000, "send", tt_seed_csv, "--collector", s_collector->report_ep,
                     "--outbox", outbox, NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_ptr_nonnull (strstr (output, "already queued at"));
    ck_assert_ptr_nonnull (strstr (output, "(8 reports"));
    free (output);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), 8);
    //  --again sends it anew on purpose (new seqs, stored again).
    rc = s_reporter (NULL, 60000, "send", tt_seed_csv, "--again", "--collector", s_collector->report_ep,
                     "--outbox", outbox, NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), 16);
    free (source);
    free (outbox);
}
END_TEST

START_TEST (test_seed_per_county)
{
    //  One reporter per county, each sending only its region's rows (--region filter).
    const char *regions [] = { "220502", "220503", "220521", "220523", "220524", "220582", "220500" };
    int64_t expected [] = { 11, 8, 6, 10, 8, 16, 9 };
    for (size_t i = 0; i < sizeof regions / sizeof regions [0]; i++) {
        char *outbox = tt_tempdir ("county");
        char *output;
        int rc = s_reporter (&output, 60000, "send", tt_seed_csv, "--region", regions [i],
                             "--collector", s_collector->report_ep, "--outbox", outbox, NULL);
        ck_assert_msg (rc == 0, "send for %s exited %d: %s", regions [i], rc, output);
        free (output);
        char *source = s_source_of (outbox);
        ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s' AND region <> '%s'",
                                     source, regions [i]), 0);
        ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report_value v JOIN report r ON r.id = v.report_id "
                                     "WHERE r.source = '%s'", source), expected [i]);
        free (source);
        free (outbox);
    }
}
END_TEST

START_TEST (test_permanent_nack)
{
    char *outbox = tt_tempdir ("nack");
    char *output;
    int rc = s_reporter (&output, 60000, "send", "--region", "999999", "--as-of", "2022-02-28",
                         "--set", "projects_started=1", "--collector", s_collector->report_ep,
                         "--outbox", outbox, NULL);
    ck_assert_msg (rc == 1, "send exited %d: %s", rc, output);
    //  Shown: region, as_of, code and the collector's sentence.
    ck_assert_ptr_nonnull (strstr (output, "REJECTED region 999999 as of 2022-02-28"));
    ck_assert_ptr_nonnull (strstr (output, "unknown_region: "));
    free (output);
    char *source = s_source_of (outbox);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM rejected_report WHERE source = '%s'", source), 1);
    //  Kept under rejected/ and listed by status...
    rc = s_reporter (&output, 10000, "status", "--outbox", outbox, NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_ptr_nonnull (strstr (output, "queued: 0 reports"));
    ck_assert_ptr_nonnull (strstr (output, "rejected: 1 report"));
    ck_assert_ptr_nonnull (strstr (output, "unknown_region"));
    free (output);
    //  ...and never retried.
    rc = s_reporter (&output, 60000, "flush", "--collector", s_collector->report_ep,
                     "--outbox", outbox, NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_ptr_nonnull (strstr (output, "nothing queued"));
    free (output);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM rejected_report WHERE source = '%s'", source), 1);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), 0);
    free (source);
    free (outbox);
}
END_TEST

START_TEST (test_bad_inputs)
{
    //  Each kind of bad file: refused with its line, nothing queued.
    char *dir = tt_tempdir ("bad");
    struct { const char *name; const char *text; const char *where; } cases [] = {
        { "decimal.csv", "region,as_of,metric,value\n220582,2022-02-28,projects_started,15\n"
                         "220582,2022-02-28,projects_started_investment,47.7\n", "decimal.csv, line 3, column 4 (value)" },
        { "date.csv", "region,as_of,metric,value\n220582,2022-02-28,projects_started,15\n"
                      "220582,2022-02-29,projects_new,3\n", "date.csv, line 3, column 2 (as_of)" },
        { "fields.csv", "region,as_of,metric,value\n220582,2022-02-28,projects_started,1,5\n", "fields.csv, line 2" },
        { "quote.csv", "region,as_of,metric,value\n220582,2022-02-28,projects_started,1\n"
                       "220582,2022-02-28,\"projects_new,2\n", "quote.csv, line 3" },
        { "key.csv", "region,as_of,metric,value\n220582,2022-02-28,项目,1\n", "key.csv, line 2, column 3 (metric)" },
        { "header.csv", "地区,日期,指标,数值\n220582,2022-02-28,projects_started,1\n", "header.csv, line 1" },
        { "twice.csv", "region,as_of,metric,value\n220582,2022-02-28,projects_started,1\n"
                       "220582,2022-02-28,projects_started,2\n", "twice.csv, line 3, column 3 (metric)" },
        { "decimal.json", "[{\"region\": \"220582\", \"as_of\": \"2022-02-28\",\n"
                          "  \"values\": {\"projects_started\": 15,\n"
                          "             \"projects_started_investment\": 47.7}}]", "decimal.json, line 3" },
        { "syntax.json", "{\"region\": \"220582\",\n \"as_of\": \"2022-02-28\",\n \"values\": {\"a\": 1,}}",
                         "syntax.json, line 3" },
        { "empty.csv", "", "empty.csv: the file is empty" },
    };
    char *outbox = tt_tempdir ("bad-outbox");
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char path [512];
        snprintf (path, sizeof path, "%s/%s", dir, cases [i].name);
        FILE *file = fopen (path, "w");
        fputs (cases [i].text, file);
        fclose (file);
        char *output;
        int rc = s_reporter (&output, 30000, "send", path, "--collector", s_collector->report_ep,
                             "--outbox", outbox, NULL);
        ck_assert_msg (rc == 2, "%s: exited %d: %s", cases [i].name, rc, output);
        ck_assert_msg (strstr (output, cases [i].where), "%s: no \"%s\" in: %s", cases [i].name,
                       cases [i].where, output);
        ck_assert_ptr_nonnull (strstr (output, "nothing was queued"));
        free (output);
    }
    //  Nothing queued, nothing sent: the outbox was not even made.
    char *output;
    ck_assert_int_eq (s_reporter (&output, 10000, "status", "--outbox", outbox, NULL), 2);
    ck_assert_ptr_nonnull (strstr (output, "no outbox at"));
    free (output);
    ck_assert_int_eq (s_count_entries (outbox), 0);
    //  A usage error is exit 2 too.
    ck_assert_int_eq (s_reporter (NULL, 10000, "send", "--bogus", NULL), 2);
    ck_assert_int_eq (s_reporter (NULL, 10000, "send", "--outbox", outbox, NULL), 2);
    free (outbox);
    free (dir);
}
END_TEST

START_TEST (test_collector_outage)
{
    //  A collector of its own, killed with SIGKILL while reporters keep
    //  sending, down for seconds, restarted on the same endpoints.
    srand ((unsigned) time (NULL) ^ (unsigned) getpid ());
    tt_collector_t ports;
    tt_quiet_ports (&ports);
    tt_collector_t *collector = tt_collector_start (s_pg->conninfo, NULL, &ports);
    char *dir = tt_tempdir ("outage");
    enum { REPORTERS = 4, REPORTS = 400 };
    const char *regions [REPORTERS] = { "220502", "220503", "220521", "220523" };
    char *outbox [REPORTERS], *files [REPORTERS], *logs [REPORTERS];
    pid_t pids [REPORTERS];
    for (int i = 0; i < REPORTERS; i++) {
        char name [32];
        snprintf (name, sizeof name, "r%d.csv", i);
        files [i] = s_write_big_csv (dir, name, regions [i], 7000, REPORTS);
        outbox [i] = tt_tempdir ("outage-outbox");
        logs [i] = malloc (600);
        snprintf (logs [i], 600, "%s/r%d.log", dir, i);
    }
    //  Three reporters start now; the fourth starts while the collector is down.
    for (int i = 0; i < REPORTERS - 1; i++) {
        const char *argv [] = { tt_reporter_bin, "send", files [i], "--collector", collector->report_ep,
                                "--outbox", outbox [i], "--timeout", "180", NULL };
        pids [i] = tt_spawn (argv, logs [i]);
    }
    char *sources_sql = malloc (4096);
    int64_t stored_before = s_sql_int ("SELECT count(*) FROM report");
    int64_t at_kill = s_wait_sql_at_least (stored_before + 30, 60000, "SELECT count(*) FROM report")
                    - stored_before;
    ck_assert_int_eq (tt_collector_stop (&collector, SIGKILL), 128 + SIGKILL);
    fprintf (stderr, "reporter_integration: collector killed with %" PRId64 " of %d reports stored\n",
             at_kill, REPORTERS * REPORTS);
    ck_assert_int_lt (at_kill, (REPORTERS - 1) * REPORTS);
    {
        const char *argv [] = { tt_reporter_bin, "send", files [REPORTERS - 1], "--collector",
                                ports.report_ep, "--outbox", outbox [REPORTERS - 1], "--timeout", "180", NULL };
        pids [REPORTERS - 1] = tt_spawn (argv, logs [REPORTERS - 1]);
    }
    //  Down for 5 s: meanwhile the reporters must stay alive and keep their outboxes.
    int64_t down_until = tt_now_ms () + 5000;
    while (tt_now_ms () < down_until)
        for (int i = 0; i < REPORTERS; i++)
            ck_assert_msg (tt_wait (pids [i], 50) == -1, "reporter %d gave up during the outage", i);
    int64_t restarted = tt_now_ms ();
    collector = tt_collector_start (s_pg->conninfo, NULL, &ports);
    for (int i = 0; i < REPORTERS; i++) {
        int rc = tt_wait (pids [i], 180000);
        char *log = tt_slurp (logs [i]);
        ck_assert_msg (rc == 0, "reporter %d exited %d: %s", i, rc, log);
        free (log);
    }
    fprintf (stderr, "reporter_integration: all %d reports stored %.1f s after the restart\n",
             REPORTERS * REPORTS, (tt_now_ms () - restarted) / 1000.0);
    for (int i = 0; i < REPORTERS; i++) {
        char *source = s_source_of (outbox [i]);
        s_assert_stored_once (source, REPORTS, 2);
        ck_assert_int_eq (s_sql_int ("SELECT max(seq) FROM report WHERE source = '%s'", source), REPORTS);
        free (source);
        free (outbox [i]);
        free (files [i]);
        free (logs [i]);
    }
    free (sources_sql);
    tt_collector_stop (&collector, SIGTERM);
    free (dir);
}
END_TEST

START_TEST (test_reporter_killed)
{
    //  The same long send killed with SIGKILL at random points, then rerun
    //  to completion: every report stored exactly once, no seq reused.
    char *dir = tt_tempdir ("killed");
    enum { REPORTS = 500 };
    char *file = s_write_big_csv (dir, "long.csv", "220524", 3000, REPORTS);
    char *outbox = tt_tempdir ("killed-outbox");
    char log [512];
    snprintf (log, sizeof log, "%s/log", dir);
    const char *argv [] = { tt_reporter_bin, "send", file, "--collector", s_collector->report_ep,
                            "--outbox", outbox, "--timeout", "120", NULL };
    unsigned seed = (unsigned) time (NULL);
    srand (seed);
    //  Six rounds kill at a random moment (mostly while queueing), six at a
    //  random moment soon after the batch is published (while delivering).
    char published [600];
    snprintf (published, sizeof published, "%s/inputs", outbox);
    int killed = 0, killed_delivering = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = tt_spawn (argv, log);
        bool after_publish = round >= 6;
        int rc = -1;
        if (after_publish) {
            //  Wait (polling) until the outbox records the input as queued.
            int64_t deadline = tt_now_ms () + 30000;
            while (s_count_entries (published) == 0 && tt_now_ms () < deadline
               &&  (rc = tt_wait (pid, 5)) == -1)
                ;
        }
        int delay = after_publish ? rand () % 120 : 30 + rand () % 2000;
        if (rc == -1 && tt_wait (pid, delay) == -1) {
            //  The group, and the process itself in case it has not made
            //  its group yet (a delay of a millisecond or two).
            kill (-pid, SIGKILL);
            kill (pid, SIGKILL);
            //  A run with nothing left to do may be exiting already (0).
            rc = tt_wait (pid, 10000);
            ck_assert_msg (rc == 128 + SIGKILL || rc == 0, "reporter exited %d", rc);
            killed += rc != 0;
            killed_delivering += after_publish && rc != 0;
        }
    }
    char sql [256];
    char *early_source = s_source_of (outbox);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM report WHERE source = '%s'", early_source);
    free (early_source);
    int64_t stored_early = tt_sql_int (s_pg->conninfo, sql);
    fprintf (stderr, "reporter_integration: long send killed %d times (%d after queueing; seed %u); "
             "%" PRId64 " of %d stored before the final run\n", killed, killed_delivering, seed,
             stored_early, REPORTS);
    char *output;
    int rc = s_reporter (&output, 120000, "send", file, "--collector", s_collector->report_ep,
                         "--outbox", outbox, "--timeout", "120", NULL);
    ck_assert_msg (rc == 0, "final send exited %d: %s", rc, output);
    free (output);
    char *source = s_source_of (outbox);
    s_assert_stored_once (source, REPORTS, 2);
    //  Every stored seq was handed out by the outbox (below next_seq), once.
    char path [600];
    snprintf (path, sizeof path, "%s/next_seq", outbox);
    char *next_text = tt_slurp (path);
    int64_t next_seq = strtoll (next_text, NULL, 10);
    free (next_text);
    ck_assert_int_lt (s_sql_int ("SELECT max(seq) FROM report WHERE source = '%s'", source), next_seq);
    fprintf (stderr, "reporter_integration: %d reports, seqs used up to %" PRId64 "\n", REPORTS,
             next_seq - 1);
    free (source);
    free (outbox);
    free (file);
    free (dir);
}
END_TEST

START_TEST (test_flush_after_outage)
{
    //  Collector unreachable: exit 3, reports stay queued; flush delivers them later.
    char *outbox = tt_tempdir ("flush");
    char *output;
    int rc = s_reporter (&output, 30000, "send", tt_seed_csv, "--region", "220582",
                         "--collector", "tcp://127.0.0.1:1", "--outbox", outbox, "--timeout", "1", NULL);
    ck_assert_msg (rc == 3, "send exited %d: %s", rc, output);
    ck_assert_ptr_nonnull (strstr (output, "1 still queued"));
    free (output);
    rc = s_reporter (&output, 10000, "status", "--outbox", outbox, NULL);
    ck_assert_ptr_nonnull (strstr (output, "queued: 1 report"));
    free (output);
    rc = s_reporter (&output, 60000, "flush", "--collector", s_collector->report_ep,
                     "--outbox", outbox, NULL);
    ck_assert_msg (rc == 0, "flush exited %d: %s", rc, output);
    free (output);
    char *source = s_source_of (outbox);
    s_assert_stored_once (source, 1, 16);
    free (source);
    free (outbox);
}
END_TEST

START_TEST (test_run_watch)
{
    //  The agent: files dropped into the folder are queued and delivered;
    //  a bad one goes to failed/ with a .error; SIGTERM stops it cleanly.
    char *watch = tt_tempdir ("watch");
    char *outbox = tt_tempdir ("watch-outbox");
    char log [512];
    snprintf (log, sizeof log, "%s.log", watch);
    const char *argv [] = { tt_reporter_bin, "run", "--watch", watch, "--collector",
                            s_collector->report_ep, "--outbox", outbox, NULL };
    pid_t pid = tt_spawn (argv, log);
    //  Drop files the safe way: write under a dot-name, then rename.
    const char *good = "{\"region\": \"220581\", \"as_of\": \"2022-02-28\", \"values\": {\"projects_started\": 9}}";
    const char *bad = "region,as_of,metric,value\n220581,2022-02-28,projects_started,nine\n";
    const char *names [] = { "good.json", "bad.csv" };
    const char *texts [] = { good, bad };
    for (int i = 0; i < 2; i++) {
        char temp [600], final [600];
        snprintf (temp, sizeof temp, "%s/.%s", watch, names [i]);
        snprintf (final, sizeof final, "%s/%s", watch, names [i]);
        FILE *file = fopen (temp, "w");
        fputs (texts [i], file);
        fclose (file);
        ck_assert_int_eq (rename (temp, final), 0);
    }
    char done [600], failed [600];
    snprintf (done, sizeof done, "%s/done/good.json", watch);
    snprintf (failed, sizeof failed, "%s/failed/bad.csv.error", watch);
    int64_t deadline = tt_now_ms () + 20000;
    while ((access (done, F_OK) || access (failed, F_OK)) && tt_now_ms () < deadline)
        ck_assert_int_eq (tt_wait (pid, 50), -1);
    ck_assert_int_eq (access (done, F_OK), 0);
    char *error = tt_slurp (failed);
    ck_assert_ptr_nonnull (error);
    ck_assert_ptr_nonnull (strstr (error, "line 2, column 4 (value)"));
    free (error);
    char *source = s_source_of (outbox);
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM report WHERE source = '%s'", source);
    ck_assert_int_eq (s_wait_sql_at_least (1, 20000, sql), 1);
    kill (pid, SIGTERM);
    ck_assert_int_eq (tt_wait (pid, 10000), 0);
    char *output;
    s_reporter (&output, 10000, "status", "--outbox", outbox, NULL);
    ck_assert_ptr_nonnull (strstr (output, "queued: 0 reports"));
    free (output);
    free (source);
    free (outbox);
    free (watch);
}
END_TEST


//  -------------------------------------------------------------------------
//  Keys, config files, several collectors

//  A CURVE collector of its own, with keys made by `tally-reporter keygen`:
//  jian (220582) and liuhe (220524) in keys/, their public halves copied to
//  clients/ as the README says.
typedef struct {
    char *keys;                         //  collector.cert(_secret), NAME.cert(_secret)
    char *clients;                      //  the collector's --clients
    char server_key [600];              //  keys/collector.cert
    tt_collector_t *collector;
} s_secure_t;

static void
s_copy_file (const char *from, const char *to)
{
    char *text = tt_slurp (from);
    ck_assert_ptr_nonnull (text);
    FILE *out = fopen (to, "w");
    ck_assert_ptr_nonnull (out);
    fputs (text, out);
    fclose (out);
    free (text);
}

static s_secure_t *
s_secure_start (void)
{
    s_secure_t *self = calloc (1, sizeof *self);
    self->keys = tt_tempdir ("keys");
    self->clients = tt_tempdir ("clients");
    char err [256];
    ck_assert_int_eq (keygen_write (self->keys, "collector", NULL, err, sizeof err), 0);
    const char *names [] = { "jian", "liuhe" }, *regions [] = { "220582", "220524" };
    for (int i = 0; i < 2; i++) {
        char *out;
        int rc = s_reporter (&out, 10000, "keygen", names [i], "--regions", regions [i],
                             "--dir", self->keys, NULL);
        ck_assert_msg (rc == 0, "keygen exited %d: %s", rc, out);
        free (out);
        char from [600], to [600];
        snprintf (from, sizeof from, "%s/%s.cert", self->keys, names [i]);
        snprintf (to, sizeof to, "%s/%s.cert", self->clients, names [i]);
        s_copy_file (from, to);
    }
    snprintf (self->server_key, sizeof self->server_key, "%s/collector.cert", self->keys);
    char secret [600];
    snprintf (secret, sizeof secret, "%s/collector.cert_secret", self->keys);
    const char *extra [] = { "--curve-secret", secret, "--clients", self->clients, NULL };
    self->collector = tt_collector_start (s_pg->conninfo, extra, NULL);
    return self;
}

static void
s_secure_stop (s_secure_t **self_p)
{
    s_secure_t *self = *self_p;
    tt_collector_stop (&self->collector, SIGTERM);
    free (self->keys);
    free (self->clients);
    free (self);
    *self_p = NULL;
}

START_TEST (test_keygen)
{
    char *dir = tt_tempdir ("keygen");
    char keys [600];
    snprintf (keys, sizeof keys, "%s/keys", dir);
    char *out;
    int rc = s_reporter (&out, 10000, "keygen", "tonghua", "--regions", "2205*,220000",
                         "--dir", keys, NULL);
    ck_assert_msg (rc == 0, "keygen exited %d: %s", rc, out);
    //  Says where the files are and what to do with each.
    ck_assert_ptr_nonnull (strstr (out, "tonghua.cert (public)"));
    ck_assert_ptr_nonnull (strstr (out, "--clients folder"));
    ck_assert_ptr_nonnull (strstr (out, "--key"));
    free (out);
    char cert [700], secret [700];
    snprintf (cert, sizeof cert, "%s/tonghua.cert", keys);
    snprintf (secret, sizeof secret, "%s/tonghua.cert_secret", keys);
    struct stat info;
    ck_assert_int_eq (stat (secret, &info), 0);
    ck_assert_int_eq (info.st_mode & 0777, 0600);
    ck_assert_int_eq (stat (cert, &info), 0);
    ck_assert_int_eq (info.st_mode & 0777, 0644);
    //  The public file alone carries the regions; the secret holds the pair.
    char *text = tt_slurp (cert);
    ck_assert_ptr_null (strstr (text, "secret-key"));
    free (text);
    zcert_t *loaded = zcert_load (cert);
    ck_assert_ptr_nonnull (loaded);
    ck_assert_str_eq (zcert_meta (loaded, "regions"), "2205*,220000");
    ck_assert_str_eq (zcert_meta (loaded, "name"), "tonghua");
    ck_assert_str_ne (zcert_secret_txt (loaded), "0000000000000000000000000000000000000000");
    zcert_destroy (&loaded);

    //  A bad list: one line, exit 2, nothing written.
    rc = s_reporter (&out, 10000, "keygen", "bad", "--regions", "2205*,22*05", "--dir", keys, NULL);
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "'22*05'"));
    ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
    free (out);
    snprintf (cert, sizeof cert, "%s/bad.cert", keys);
    ck_assert_int_ne (access (cert, F_OK), 0);
    ck_assert_int_eq (s_reporter (NULL, 10000, "keygen", "bad", "--dir", keys, NULL), 2);
    ck_assert_int_eq (s_reporter (NULL, 10000, "keygen", "--regions", "220582", NULL), 2);
    //  Never overwrites a key.
    rc = s_reporter (&out, 10000, "keygen", "tonghua", "--regions", "2205*", "--dir", keys, NULL);
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "already exists"));
    free (out);
    free (dir);
}
END_TEST

START_TEST (test_curve_keys)
{
    s_secure_t *secure = s_secure_start ();
    const char *ep = secure->collector->report_ep;
    char jian [600], liuhe_public [600];
    snprintf (jian, sizeof jian, "%s/jian.cert_secret", secure->keys);
    snprintf (liuhe_public, sizeof liuhe_public, "%s/liuhe.cert", secure->keys);

    //  Its own county's key: acked, and the report carries the key.
    char *outbox = tt_tempdir ("curve");
    char *out;
    int rc = s_reporter (&out, 30000, "send", "--region", "220582", "--as-of", "2022-03-10",
                         "--set", "projects_started=16", "--collector", ep, "--outbox", outbox,
                         "--server-key", secure->server_key, "--key", jian, NULL);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, out);
    ck_assert_ptr_nonnull (strstr (out, "1 stored"));
    free (out);
    char *source = s_source_of (outbox);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s' AND key_id IS NOT NULL",
                                 source), 1);
    free (source);

    //  Another county's key (given as NAME.cert, the secret beside it):
    //  rejected as forbidden, shown, and kept in rejected/.
    rc = s_reporter (&out, 30000, "send", "--region", "220582", "--as-of", "2022-03-11",
                     "--set", "projects_started=17", "--collector", ep, "--outbox", outbox,
                     "--server-key", secure->server_key, "--key", liuhe_public, NULL);
    ck_assert_msg (rc == 1, "send exited %d: %s", rc, out);
    ck_assert_ptr_nonnull (strstr (out, "REJECTED region 220582 as of 2022-03-11"));
    ck_assert_ptr_nonnull (strstr (out, "forbidden"));
    free (out);
    char rejected [600];
    snprintf (rejected, sizeof rejected, "%s/rejected", outbox);
    ck_assert_int_eq (s_count_entries (rejected), 2);      //  <seq>.msg and <seq>.txt
    rc = s_reporter (&out, 10000, "status", "--outbox", outbox, NULL);
    ck_assert_ptr_nonnull (strstr (out, "rejected: 1 report"));
    ck_assert_ptr_nonnull (strstr (out, "forbidden"));
    free (out);

    //  No keys: the collector never answers; exit 3 and a hint.
    char *plain = tt_tempdir ("plain");
    rc = s_reporter (&out, 30000, "send", "--region", "220582", "--as-of", "2022-03-12",
                     "--set", "projects_started=18", "--collector", ep, "--outbox", plain,
                     "--timeout", "2", NULL);
    ck_assert_msg (rc == 3, "send exited %d: %s", rc, out);
    char hint [300];
    snprintf (hint, sizeof hint, "no reply from %s: is the collector running, and do you need "
              "--server-key/--key?", ep);
    ck_assert_msg (strstr (out, hint), "no hint in: %s", out);
    free (out);

    //  Key files that cannot be read: usage errors naming the file.
    rc = s_reporter (&out, 10000, "flush", "--collector", ep, "--outbox", plain,
                     "--server-key", secure->server_key, "--key", "/nonexistent/x.cert_secret", NULL);
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "/nonexistent/x.cert_secret"));
    free (out);
    rc = s_reporter (&out, 10000, "flush", "--collector", ep, "--outbox", plain,
                     "--server-key", "/nonexistent/collector.cert", "--key", jian, NULL);
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "/nonexistent/collector.cert"));
    free (out);
    //  The collector's public copy has no secret: not a --key.
    char public_copy [600];
    snprintf (public_copy, sizeof public_copy, "%s/jian.cert", secure->clients);
    rc = s_reporter (&out, 10000, "flush", "--collector", ep, "--outbox", plain,
                     "--server-key", secure->server_key, "--key", public_copy, NULL);
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "jian.cert_secret"));
    free (out);
    ck_assert_int_eq (s_reporter (NULL, 10000, "flush", "--collector", ep, "--outbox", plain,
                                  "--key", jian, NULL), 2);
    //  With the key, what waited goes.
    rc = s_reporter (&out, 30000, "flush", "--collector", ep, "--outbox", plain,
                     "--server-key", secure->server_key, "--key", jian, NULL);
    ck_assert_msg (rc == 0, "flush exited %d: %s", rc, out);
    free (out);
    free (plain);
    free (outbox);
    s_secure_stop (&secure);
}
END_TEST

START_TEST (test_config_file)
{
    char *dir = tt_tempdir ("conf");
    char *outbox = tt_tempdir ("conf-outbox");
    //  The file names a collector nobody listens on, the outbox, the region
    //  and day, and two figures; the command line names the real collector.
    char *text = zsys_sprintf (
        "# a county's agent\n"
        "collector = tcp://127.0.0.1:1\n"
        "outbox = %s   # where reports wait\n"
        "region = 220582\n"
        "as-of = 2022-03-20\n"
        "set = projects_started=19\n"
        "set = cattle_added=1300\n"
        "again = yes\n"
        "timeout = 20\n"
        "watch = /nonexistent   # a run-only key: ignored by send\n", outbox);
    char *conf = tt_write_file (dir, "reporter.conf", text);
    ck_assert_ptr_nonnull (conf);
    free (text);
    char *out;
    int rc = s_reporter (&out, 30000, "send", "-c", conf, "--collector", s_collector->report_ep, NULL);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, out);
    free (out);
    //  The file's outbox, region and figures; the command line's collector.
    char *source = s_source_of (outbox);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report_value v JOIN report r ON r.id = v.report_id "
                                 "WHERE r.source = '%s' AND r.region = '220582' AND r.as_of = '2022-03-20'",
                                 source), 2);
    //  --set on the command line replaces the file's list (again = yes: queued anew).
    rc = s_reporter (&out, 30000, "send", "--config", conf, "--collector", s_collector->report_ep,
                     "--set", "projects_started=20", NULL);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, out);
    free (out);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report_value v JOIN report r ON r.id = v.report_id "
                                 "WHERE r.source = '%s' AND r.seq = 2", source), 1);
    //  Without --collector, the file's (nobody listens there): queued, exit 3;
    //  then flushed to the real one.
    rc = s_reporter (&out, 30000, "send", "-c", conf, "--timeout", "1", NULL);
    ck_assert_msg (rc == 3, "send exited %d: %s", rc, out);
    ck_assert_ptr_nonnull (strstr (out, "no reply from tcp://127.0.0.1:1"));
    free (out);
    rc = s_reporter (&out, 30000, "flush", "-c", conf, "--collector", s_collector->report_ep, NULL);
    ck_assert_msg (rc == 0, "flush exited %d: %s", rc, out);
    free (out);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = '%s'", source), 3);
    free (source);

    //  Unknown key, bad value: one line naming file, line and key; exit 2.
    char *bad = tt_write_file (dir, "bad.conf", "outbox = /tmp\n\nwindw = 8\n");
    ck_assert_ptr_nonnull (bad);
    rc = s_reporter (&out, 10000, "flush", "-c", bad, NULL);
    ck_assert_int_eq (rc, 2);
    char want [700];
    snprintf (want, sizeof want, "%s:3: key 'windw'", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
    free (out);
    free (bad);
    bad = tt_write_file (dir, "bad2.conf", "window = many\n");
    ck_assert_ptr_nonnull (bad);
    rc = s_reporter (&out, 10000, "status", "-c", bad, NULL);
    ck_assert_int_eq (rc, 2);
    snprintf (want, sizeof want, "%s:1: key 'window'", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    free (out);
    free (bad);
    ck_assert_int_eq (s_reporter (NULL, 10000, "status", "-c", "/nonexistent.conf", NULL), 2);
    //  A folder is no config file: refused like a missing one, not read as empty.
    rc = s_reporter (&out, 10000, "status", "-c", dir, NULL);
    ck_assert_int_eq (rc, 2);
    snprintf (want, sizeof want, "%s: cannot read the config file", dir);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    free (out);
    //  A figure of the file that is not KEY=VALUE is blamed on its file and
    //  line, not on the command line; one with a bad number on its file.
    bad = tt_write_file (dir, "bad3.conf", "region = 220582\nas-of = 2022-03-20\nset = garbage\n");
    ck_assert_ptr_nonnull (bad);
    rc = s_reporter (&out, 10000, "send", "-c", bad, "--outbox", outbox, "--timeout", "0", NULL);
    ck_assert_int_eq (rc, 2);
    snprintf (want, sizeof want, "%s:3: key 'set': 'garbage' is not KEY=VALUE", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    ck_assert_msg (!strstr (out, "command line"), "%s", out);
    free (out);
    free (bad);
    bad = tt_write_file (dir, "bad4.conf", "region = 220582\nas-of = 2022-03-20\nset = projects_started=abc\n");
    ck_assert_ptr_nonnull (bad);
    rc = s_reporter (&out, 10000, "send", "-c", bad, "--outbox", outbox, "--timeout", "0", NULL);
    ck_assert_int_eq (rc, 2);
    snprintf (want, sizeof want, "1 error in %s, key 'set'", bad);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    ck_assert_msg (!strstr (out, "command line"), "%s", out);
    free (out);
    free (bad);
    //  The example file in deploy/ is read without complaint.
    char example [600];
    snprintf (example, sizeof example, "%s/deploy/tally-reporter.conf", tt_source_dir);
    rc = s_reporter (&out, 10000, "status", "-c", example, "--outbox", outbox, NULL);
    ck_assert_msg (rc == 0, "status with %s exited %d: %s", example, rc, out);
    free (out);
    free (conf);
    free (outbox);
    free (dir);
}
END_TEST

//  Whether path exists (a file or folder).
static bool
s_exists (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0;
}

//  Every usage error of send and run is found before the outbox is touched:
//  exit 2, one line, nothing queued, no outbox made.
START_TEST (test_usage_errors_queue_nothing)
{
    char *keys = tt_tempdir ("usage-keys");
    char err [256], server_key [600], jian [600];
    ck_assert_int_eq (keygen_write (keys, "collector", NULL, err, sizeof err), 0);
    ck_assert_int_eq (keygen_write (keys, "jian", "220582", err, sizeof err), 0);
    snprintf (server_key, sizeof server_key, "%s/collector.cert", keys);
    snprintf (jian, sizeof jian, "%s/jian.cert_secret", keys);
    char *dir = tt_tempdir ("usage");
    char fresh [600], existing [600];
    snprintf (fresh, sizeof fresh, "%s/fresh-outbox", dir);
    snprintf (existing, sizeof existing, "%s/outbox", dir);
    //  One report queued in an outbox that exists already (nobody listens).
    char *out;
    int rc = s_reporter (&out, 10000, "send", "--region", "220582", "--as-of", "2022-03-16",
                         "--set", "projects_started=30", "--outbox", existing,
                         "--collector", "tcp://127.0.0.1:1", "--timeout", "0", NULL);
    ck_assert_msg (rc == 3, "send exited %d: %s", rc, out);
    free (out);

    //  Each a usage error, as the line naming what is wrong says.
    const char *cases [][5] = {
        { "--key", "nope.cert_secret", "--server-key", server_key, "--key nope.cert_secret" },
        { "--key", jian, "--server-key", "/nonexistent/collector.cert", "/nonexistent/collector.cert" },
        { "--key", jian, NULL, NULL, "CURVE needs both" },
        { "--server-key", server_key, NULL, NULL, "CURVE needs both" },
        { "--collector", "tcp://nohost", NULL, NULL, "\"tcp://nohost\"" },
        { "--collector", "nonsense", NULL, NULL, "\"nonsense\"" }
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char **c = cases [i];
        for (int o = 0; o < 2; o++) {
            const char *outbox = o ? existing : fresh;
            rc = s_reporter (&out, 10000, "send", "--region", "220582", "--as-of", "2022-03-17",
                             "--set", "projects_started=31", "--outbox", outbox, "--timeout", "0",
                             c [0], c [1], c [2], c [3], NULL);
            ck_assert_msg (rc == 2, "send with %s %s exited %d: %s", c [0], c [1], rc, out);
            ck_assert_msg (strstr (out, c [4]), "no \"%s\" in: %s", c [4], out);
            ck_assert_msg (!strstr (out, "queued"), "queued with %s %s: %s", c [0], c [1], out);
            ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
            free (out);
            ck_assert_msg (!s_exists (fresh), "send with %s %s made an outbox", c [0], c [1]);
            //  run (the daemon) refuses to start, before the outbox too.
            rc = s_reporter (&out, 10000, "run", "--outbox", outbox, c [0], c [1], c [2], c [3], NULL);
            ck_assert_msg (rc == 2, "run with %s %s exited %d: %s", c [0], c [1], rc, out);
            ck_assert_msg (strstr (out, c [4]), "no \"%s\" in: %s", c [4], out);
            free (out);
            ck_assert_msg (!s_exists (fresh), "run with %s %s made an outbox", c [0], c [1]);
        }
    }
    rc = s_reporter (&out, 10000, "status", "--outbox", existing, NULL);
    ck_assert_msg (rc == 0, "status exited %d: %s", rc, out);
    ck_assert_msg (strstr (out, "next seq 2") && strstr (out, "queued: 1 report"), "%s", out);
    free (out);
    free (dir);
    free (keys);
}
END_TEST

//  status and flush only read or deliver an outbox that exists: a mistyped
//  --outbox is named, exit 2, and nothing is created.
START_TEST (test_no_outbox)
{
    char *dir = tt_tempdir ("no-outbox");
    char typo [600], want [800];
    snprintf (typo, sizeof typo, "%s/typo-outbox", dir);
    snprintf (want, sizeof want, "no outbox at %s (send or run creates one; check --outbox)", typo);
    const char *commands [] = { "status", "flush" };
    for (int i = 0; i < 2; i++) {
        char *out;
        //  (status takes no --collector: the list ends there for it.)
        const char *collector = i ? "--collector" : NULL;
        int rc = s_reporter (&out, 10000, commands [i], "--outbox", typo,
                             collector, s_collector->report_ep, NULL);
        ck_assert_msg (rc == 2, "%s exited %d: %s", commands [i], rc, out);
        ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
        ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
        free (out);
        ck_assert_msg (!s_exists (typo), "%s created %s", commands [i], typo);
        //  A folder that is there but holds no outbox: the same, left alone.
        rc = s_reporter (&out, 10000, commands [i], "--outbox", dir,
                         collector, s_collector->report_ep, NULL);
        ck_assert_msg (rc == 2, "%s exited %d: %s", commands [i], rc, out);
        ck_assert_ptr_nonnull (strstr (out, "no outbox at"));
        free (out);
        ck_assert_int_eq (s_count_entries (dir), 0);
    }
    //  send creates it; then both work.
    char *out;
    int rc = s_reporter (&out, 30000, "send", "--region", "220582", "--as-of", "2022-03-18",
                         "--set", "projects_started=32", "--outbox", typo,
                         "--collector", s_collector->report_ep, NULL);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, out);
    free (out);
    ck_assert_int_eq (s_reporter (NULL, 10000, "status", "--outbox", typo, NULL), 0);
    rc = s_reporter (&out, 30000, "flush", "--outbox", typo, "--collector", s_collector->report_ep, NULL);
    ck_assert_msg (rc == 0, "flush exited %d: %s", rc, out);
    ck_assert_ptr_nonnull (strstr (out, "nothing queued"));
    free (out);
    free (dir);
}
END_TEST

//  keygen takes only entries the collector matches as meant: 6-digit codes
//  and prefixes of 1-5 digits then *. Anything else: one line naming the
//  entry and the forms, exit 2, no files.
START_TEST (test_keygen_bad_regions)
{
    char *dir = tt_tempdir ("keygen-regions");
    char keys [600], cert [700];
    snprintf (keys, sizeof keys, "%s/keys", dir);
    snprintf (cert, sizeof cert, "%s/bad.cert", keys);
    const char *bad [] = { "abc", "2205-82", "2205", "220582,22058", "*", "2205**", "220582," };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *out;
        int rc = s_reporter (&out, 10000, "keygen", "bad", "--regions", bad [i], "--dir", keys, NULL);
        ck_assert_msg (rc == 2, "keygen --regions '%s' exited %d: %s", bad [i], rc, out);
        ck_assert_msg (strstr (out, "6 to 64 letters or digits") && strstr (out, "2205*")
                       && strstr (out, "nothing was written"),
                       "no accepted forms in: %s", out);
        ck_assert_ptr_eq (strchr (out, '\n'), out + strlen (out) - 1);
        free (out);
        ck_assert_msg (!s_exists (cert), "keygen --regions '%s' wrote %s", bad [i], cert);
    }
    char *out;
    ck_assert_int_eq (s_reporter (&out, 10000, "keygen", "bad", "--regions", "2205", "--dir", keys, NULL), 2);
    ck_assert_ptr_nonnull (strstr (out, "'2205' (did you mean 2205*?)"));
    free (out);
    int rc = s_reporter (&out, 10000, "keygen", "good", "--regions", "220521, 220523,22*", "--dir", keys, NULL);
    ck_assert_msg (rc == 0, "keygen exited %d: %s", rc, out);
    free (out);
    free (dir);
}
END_TEST

//  `run -c FILE` names the file it read in its settings line.
START_TEST (test_run_logs_config)
{
    char *dir = tt_tempdir ("run-config");
    char *text = zsys_sprintf ("outbox = %s/outbox\ncollector = %s\n", dir, s_collector->report_ep);
    char *conf = tt_write_file (dir, "reporter.conf", text);
    ck_assert_ptr_nonnull (conf);
    free (text);
    char log [600];
    snprintf (log, sizeof log, "%s/run.log", dir);
    const char *argv [] = { tt_reporter_bin, "run", "-c", conf, NULL };
    pid_t pid = tt_spawn (argv, log);
    char *started = tt_wait_for_text (log, "settings:", 10000);
    ck_assert_msg (started, "no settings line");
    free (started);
    kill (pid, SIGTERM);
    ck_assert_int_eq (tt_wait (pid, 10000), 0);
    char *out = tt_slurp (log);
    char want [700];
    snprintf (want, sizeof want, " config=%s\n", conf);
    ck_assert_msg (strstr (out, want), "no \"%s\" in: %s", want, out);
    free (out);
    free (conf);
    free (dir);
}
END_TEST

START_TEST (test_two_collectors)
{
    //  Two collectors on one database; the reporter knows both. The first is
    //  SIGKILLed mid-send: the rest goes to the second, each report stored once.
    tt_collector_t *first = tt_collector_start (s_pg->conninfo, NULL, NULL);
    tt_collector_t *second = tt_collector_start (s_pg->conninfo, NULL, NULL);
    char *dir = tt_tempdir ("two");
    enum { REPORTS = 600 };
    char *file = s_write_big_csv (dir, "long.csv", "220503", 9000, REPORTS);
    char *outbox = tt_tempdir ("two-outbox");
    char log [600];
    snprintf (log, sizeof log, "%s/log", dir);
    const char *argv [] = { tt_reporter_bin, "send", file, "--collector", first->report_ep,
                            "--collector", second->report_ep, "--outbox", outbox,
                            "--window", "16", "--timeout", "120", NULL };
    pid_t pid = tt_spawn (argv, log);
    char *source = NULL;
    char sql [256] = "";
    int64_t deadline = tt_now_ms () + 30000;
    while (!source && tt_now_ms () < deadline) {
        char path [600];
        snprintf (path, sizeof path, "%s/source", outbox);
        if (access (path, F_OK) == 0)
            source = s_source_of (outbox);
        else
            tt_wait (pid, 20);
    }
    ck_assert_ptr_nonnull (source);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM report WHERE source = '%s'", source);
    int64_t at_kill = s_wait_sql_at_least (50, 60000, sql);
    ck_assert_int_eq (tt_collector_stop (&first, SIGKILL), 128 + SIGKILL);
    int64_t killed = tt_now_ms ();
    ck_assert_int_lt (at_kill, REPORTS);
    int rc = tt_wait (pid, 120000);
    char *output = tt_slurp (log);
    ck_assert_msg (rc == 0, "send exited %d: %s", rc, output);
    ck_assert_ptr_nonnull (strstr (output, second->report_ep));
    ck_assert_ptr_nonnull (strstr (output, "trying"));
    fprintf (stderr, "reporter_integration: first collector killed with %" PRId64 " of %d stored; "
             "the rest through the second %.1f s later\n", at_kill, REPORTS,
             (tt_now_ms () - killed) / 1000.0);
    free (output);
    s_assert_stored_once (source, REPORTS, 2);
    ck_assert_int_eq (s_sql_int ("SELECT max(seq) FROM report WHERE source = '%s'", source), REPORTS);
    tt_collector_stop (&second, SIGTERM);
    free (source);
    free (outbox);
    free (file);
    free (dir);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("reporter_integration");
    TCase *tcase = tcase_create ("pipeline");
    tcase_set_timeout (tcase, 600);
    tcase_add_unchecked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_seed_delivered);
    tcase_add_test (tcase, test_seed_per_county);
    tcase_add_test (tcase, test_permanent_nack);
    tcase_add_test (tcase, test_bad_inputs);
    tcase_add_test (tcase, test_flush_after_outage);
    tcase_add_test (tcase, test_run_watch);
    tcase_add_test (tcase, test_reporter_killed);
    tcase_add_test (tcase, test_collector_outage);
    tcase_add_test (tcase, test_keygen);
    tcase_add_test (tcase, test_curve_keys);
    tcase_add_test (tcase, test_config_file);
    tcase_add_test (tcase, test_two_collectors);
    tcase_add_test (tcase, test_usage_errors_queue_nothing);
    tcase_add_test (tcase, test_no_outbox);
    tcase_add_test (tcase, test_keygen_bad_regions);
    tcase_add_test (tcase, test_run_logs_config);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    //  No fork: the PostgreSQL and collector of the fixture live in this process.
    srunner_set_fork_status (runner, CK_NOFORK);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
