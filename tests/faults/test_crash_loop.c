/*  test_crash_loop.c — reporters keep sending while the collector is killed
    with SIGKILL again and again.

    Eight tally-reporter processes, each with its own outbox and a generated
    CSV of 500 reports, send at once to a collector that is killed (SIGKILL,
    no chance to flush or ack) at random moments and restarted on the same
    endpoints, at least ten times while reports are in flight. A reporter
    that gives up (exit 3, undelivered) is run again with `flush`. At the end
    every report is stored exactly once, every outbox is empty, and the
    roll-ups equal a recomputation from the current figures: exactly-once
    effect over at-least-once delivery (README, "Reliability").
*/
#include <check.h>
#include <inttypes.h>
#include <signal.h>

#include "fault_kit.h"

enum {
    REPORTERS = 8,
    REPORTS = 1000,             //  per reporter
    METRICS = 3,                //  values per report
    KILLS = 12,                 //  SIGKILLs while reports are in flight
    MAX_STEP = 200,             //  most reports stored between two kills
    //  A restarted collector receives every reporter's whole window at once
    //  and may commit it in one batch; small windows and batches keep each
    //  step near MAX_STEP, so 12 kills land well before the 8000th report.
    WINDOW = 8,
    BATCH_MAX = 32
};

typedef struct {
    char *file;                 //  its CSV
    char *outbox;
    char *log;
    pid_t pid;                  //  running send/flush, 0 when done
    int runs;                   //  send + flush runs
} s_reporter_t;

static void
s_spawn (s_reporter_t *r, const char *endpoint, bool first)
{
    char window [16];
    snprintf (window, sizeof window, "%d", WINDOW);
    const char *send [] = { tt_reporter_bin, "send", r->file, "--outbox", r->outbox,
                            "--collector", endpoint, "--timeout", "60",
                            "--window", window, NULL };
    const char *flush [] = { tt_reporter_bin, "flush", "--outbox", r->outbox,
                             "--collector", endpoint, "--timeout", "60",
                             "--window", window, NULL };
    r->pid = tt_spawn (first ? send : flush, r->log);
    r->runs++;
}

//  Reap a reporter that has exited: 0 done, 3 undelivered (run flush
//  again), anything else fails the test.
static void
s_reap (s_reporter_t *r, int index, const char *endpoint, int timeout_ms)
{
    if (!r->pid)
        return;
    int rc = tt_wait (r->pid, timeout_ms);
    if (rc == -1)
        return;
    if (rc == 3) {
        s_spawn (r, endpoint, false);
        return;
    }
    char *log = tt_slurp (r->log);
    ck_assert_msg (rc == 0, "reporter %d exited %d: %s", index, rc, log);
    free (log);
    r->pid = 0;
}

START_TEST (test_crash_loop)
{
    unsigned seed = (unsigned) time (NULL) ^ (unsigned) getpid ();
    srandom (seed);
    int64_t started = tt_now_ms ();
    tt_pg_t *pg = tt_pg_start ();
    ck_assert_int_eq (tt_migrate (pg->conninfo), 0);
    tt_collector_t ports;
    tt_quiet_ports (&ports);
    char batch [16];
    snprintf (batch, sizeof batch, "%d", BATCH_MAX);
    const char *extra [] = { "--batch-max", batch, NULL };
    tt_collector_t *collector = tt_collector_start (pg->conninfo, extra, &ports);

    //  Reporters 0 and 7 report for the same county over overlapping days,
    //  so that "newest as_of wins" is decided between sources too.
    char *dir = tt_tempdir ("crash");
    s_reporter_t reporters [REPORTERS];
    for (int i = 0; i < REPORTERS; i++) {
        char name [32];
        snprintf (name, sizeof name, "r%d.csv", i);
        reporters [i].file = fk_write_csv (dir, name, fk_counties [i % 7], 8000 + i * 37,
                                           REPORTS, METRICS, i);
        reporters [i].outbox = tt_tempdir ("crash-outbox");
        reporters [i].log = zsys_sprintf ("%s/r%d.log", dir, i);
        reporters [i].runs = 0;
        s_spawn (&reporters [i], ports.report_ep, true);
    }

    //  Kill whenever the restarted collector has stored something and then
    //  either a random moment has passed or a random number of reports were
    //  stored, whichever comes first: every kill hits a collector that is
    //  busy, and at most MAX_STEP reports get through between two kills.
    const int64_t total = REPORTERS * REPORTS;
    int kills = 0;
    while (kills < KILLS) {
        int64_t base = fk_sql_int (pg, "SELECT count(*) FROM report");
        ck_assert_msg (base < total, "all reports were stored after only %d kills", kills);
        int64_t step = 1 + randof (MAX_STEP);
        int64_t now = fk_wait_reports (pg, "%", base + 1, 90000);
        ck_assert_msg (now > base, "no progress for 90 s after restart %d", kills);
        int64_t kill_at = tt_now_ms () + randof (600);
        while (tt_now_ms () < kill_at && fk_sql_int (pg, "SELECT count(*) FROM report") < base + step)
            zclock_sleep (10);
        ck_assert_int_eq (tt_collector_stop (&collector, SIGKILL), 128 + SIGKILL);
        kills++;
        //  Reporters that gave up meanwhile go again, as an officer would.
        for (int i = 0; i < REPORTERS; i++)
            s_reap (&reporters [i], i, ports.report_ep, 0);
        zclock_sleep (randof (400));    //  down for a moment (pacing, not synchronisation)
        collector = tt_collector_start (pg->conninfo, extra, &ports);
    }
    int64_t at_last_kill = fk_sql_int (pg, "SELECT count(*) FROM report");

    //  Now let them finish, rerunning `flush` for whoever exits 3.
    int64_t deadline = tt_now_ms () + 240000;
    bool running = true;
    while (running && tt_now_ms () < deadline) {
        running = false;
        for (int i = 0; i < REPORTERS; i++) {
            s_reap (&reporters [i], i, ports.report_ep, 50);
            running |= reporters [i].pid != 0;
        }
    }
    ck_assert_msg (!running, "reporters still running after 240 s");

    //  Exactly once, per source; every outbox empty.
    int64_t lost = 0, duplicated = 0, stored = 0;
    int runs = 0;
    for (int i = 0; i < REPORTERS; i++) {
        s_reporter_t *r = &reporters [i];
        char *source = fk_source_of (r->outbox);
        ck_assert_ptr_nonnull (source);
        int64_t count = fk_sql_int (pg, "SELECT count(*) FROM report WHERE source = '%s'", source);
        int64_t distinct = fk_sql_int (pg, "SELECT count(DISTINCT seq) FROM report WHERE source = '%s'", source);
        stored += count;
        lost += REPORTS - distinct;
        duplicated += count - distinct;
        ck_assert_int_eq (count, REPORTS);
        ck_assert_int_eq (distinct, REPORTS);
        ck_assert_int_eq (fk_sql_int (pg, "SELECT count(DISTINCT (region, as_of)) FROM report "
                                          "WHERE source = '%s'", source), REPORTS);
        ck_assert_int_eq (fk_sql_int (pg, "SELECT min(seq) FROM report WHERE source = '%s'", source), 1);
        ck_assert_int_eq (fk_sql_int (pg, "SELECT max(seq) FROM report WHERE source = '%s'", source), REPORTS);
        ck_assert_int_eq (fk_sql_int (pg, "SELECT count(*) FROM report_value v JOIN report r "
                                          "ON r.id = v.report_id WHERE r.source = '%s'", source),
                          REPORTS * METRICS);
        ck_assert_int_eq (fk_sql_int (pg, "SELECT count(*) FROM rejected_report WHERE source = '%s'",
                                      source), 0);
        ck_assert_int_eq (fk_queued (r->outbox), 0);
        runs += r->runs;
        free (source);
    }
    //  Roll-ups exact, and each current figure is the newest report's.
    ck_assert_int_eq (fk_sql_int (pg, "SELECT count(*) FROM tally_verify()"), 0);
    ck_assert_int_eq (fk_sql_int (pg,
        "SELECT count(*) FROM current_value c WHERE c.value IS DISTINCT FROM ("
        "  SELECT v.value FROM report r JOIN report_value v ON v.report_id = r.id"
        "   WHERE r.region = c.region AND r.year = c.year AND v.metric = c.metric"
        "   ORDER BY r.as_of DESC, r.id DESC LIMIT 1)"), 0);
    ck_assert_int_gt (fk_sql_int (pg, "SELECT count(*) FROM current_value"), 0);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);

    printf ("faults: crash_loop reporters=%d reports=%" PRId64 " stored=%" PRId64 " kills=%d "
            "stored_at_last_kill=%" PRId64 " reporter_runs=%d lost=%" PRId64 " duplicated=%" PRId64
            " seconds=%.0f seed=%u\n", REPORTERS, total, stored, kills, at_last_kill, runs, lost,
            duplicated, (tt_now_ms () - started) / 1000.0, seed);
    fflush (stdout);
    for (int i = 0; i < REPORTERS; i++) {
        const char *rm [] = { "/bin/rm", "-rf", reporters [i].outbox, NULL };
        tt_run (rm, 30000, NULL);
        free (reporters [i].outbox);
        free (reporters [i].file);
        zstr_free (&reporters [i].log);
    }
    const char *rm [] = { "/bin/rm", "-rf", dir, NULL };
    if (!getenv ("TALLY_KEEP_TEST_DIRS"))
        tt_run (rm, 30000, NULL);
    free (dir);
    tt_pg_destroy (&pg);
}
END_TEST

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    Suite *suite = suite_create ("faults_crash_loop");
    TCase *tc = tcase_create ("collector killed");
    tcase_set_timeout (tc, 420);
    tcase_add_test (tc, test_crash_loop);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_set_fork_status (runner, CK_NOFORK);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
