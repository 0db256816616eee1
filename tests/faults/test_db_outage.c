/*  test_db_outage.c — PostgreSQL goes away while reports arrive.

    The collector's database is stopped for ten seconds mid-stream, its
    connection is cut with pg_terminate_backend, and PostgreSQL is killed
    (immediate shutdown, as a crash) while a large batch is being stored.
    Meanwhile the collector answers `unavailable` with retry_ms (seen by a
    raw DEALER client), reconnects by itself, and logs each outage once when
    it starts and once when it ends; reporters lose nothing and store nothing
    twice. A transaction that fails half-way leaves nothing of its batch:
    shown by calling tally_ingest() directly with batches that fail at its
    third and fifth step, by a connection dropped before COMMIT, and by the
    crash, after which every report is fully present (all its values) or
    absent, and every acked report is present.
*/
#include <check.h>
#include <stdarg.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>

#include "fault_kit.h"

static tt_pg_t *s_pg;

//  --------------------------------------------------------------------------
//  Helpers

//  The collector with a conninfo naming it, so that its backend can be found.
static tt_collector_t *
s_collector_start (const char *application_name)
{
    char conninfo [400];
    snprintf (conninfo, sizeof conninfo, "%s application_name=%s", s_pg->conninfo, application_name);
    return tt_collector_start (conninfo, NULL, NULL);
}

typedef struct {
    char *file;
    char *outbox;
    char *log;
    pid_t pid;
    char *source;               //  once done
} s_reporter_t;

//  Start `count` reporters of `reports` reports each, for year `year`.
static s_reporter_t *
s_reporters_start (const char *dir, int count, int reports, int first_day, const char *endpoint)
{
    s_reporter_t *reporters = (s_reporter_t *) calloc ((size_t) count, sizeof (s_reporter_t));
    for (int i = 0; i < count; i++) {
        char name [32];
        snprintf (name, sizeof name, "r%d.csv", i);
        reporters [i].file = fk_write_csv (dir, name, fk_counties [i % 7], first_day, reports, 2, i);
        reporters [i].outbox = tt_tempdir ("outage-outbox");
        reporters [i].log = zsys_sprintf ("%s/r%d.log", dir, i);
        const char *argv [] = { tt_reporter_bin, "send", reporters [i].file, "--outbox",
                                reporters [i].outbox, "--collector", endpoint, "--timeout", "120", NULL };
        reporters [i].pid = tt_spawn (argv, reporters [i].log);
    }
    return reporters;
}

//  Wait for every reporter (flush again on exit 3), then check that each
//  stored its reports exactly once and has an empty outbox. Returns the
//  number of reports stored by them; frees the reporters.
static int64_t
s_reporters_finish (s_reporter_t *reporters, int count, int reports, const char *endpoint,
                    int64_t *lost, int64_t *duplicated)
{
    int64_t stored = 0;
    for (int i = 0; i < count; i++) {
        s_reporter_t *r = &reporters [i];
        int rc;
        for (int run = 0; (rc = tt_wait (r->pid, 180000)) == 3 && run < 5; run++) {
            const char *argv [] = { tt_reporter_bin, "flush", "--outbox", r->outbox,
                                    "--collector", endpoint, "--timeout", "60", NULL };
            r->pid = tt_spawn (argv, r->log);
        }
        char *log = tt_slurp (r->log);
        ck_assert_msg (rc == 0, "reporter %d exited %d: %s", i, rc, log);
        free (log);
        char *source = fk_source_of (r->outbox);
        int64_t rows = fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = '%s'", source);
        int64_t distinct = fk_sql_int (s_pg, "SELECT count(DISTINCT seq) FROM report WHERE source = '%s'", source);
        *lost += reports - distinct;
        *duplicated += rows - distinct;
        stored += rows;
        ck_assert_int_eq (rows, reports);
        ck_assert_int_eq (distinct, reports);
        ck_assert_int_eq (fk_sql_int (s_pg, "SELECT max(seq) FROM report WHERE source = '%s'", source), reports);
        ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report_value v JOIN report r "
                                            "ON r.id = v.report_id WHERE r.source = '%s'", source), reports * 2);
        ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM rejected_report WHERE source = '%s'", source), 0);
        ck_assert_int_eq (fk_queued (r->outbox), 0);
        const char *rm [] = { "/bin/rm", "-rf", r->outbox, NULL };
        tt_run (rm, 30000, NULL);
        free (source);
        free (r->outbox);
        free (r->file);
        zstr_free (&r->log);
    }
    free (reporters);
    return stored;
}

//  Send one report from a raw DEALER and return its reply (NULL on timeout).
static proto_msg_t *
s_exchange (zsock_t *dealer, const proto_msg_t *report)
{
    ck_assert_int_eq (fk_send_msg (dealer, report), 0);
    return fk_recv_msg (dealer);
}

//  Resend until acked (stored or duplicate), sleeping retry_ms between tries.
static void
s_resend_until_acked (zsock_t *dealer, const proto_msg_t *report, int timeout_ms)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    while (true) {
        proto_msg_t *reply = s_exchange (dealer, report);
        bool acked = reply && reply->type == PROTO_ACK;
        ck_assert_msg (!reply || acked || reply->code == PROTO_UNAVAILABLE,
                       "unexpected nack %s", reply ? proto_code_name (reply->code) : "");
        int64_t wait = reply && reply->has_retry_ms ? reply->retry_ms : 100;
        proto_msg_destroy (&reply);
        if (acked)
            return;
        ck_assert_msg (tt_now_ms () < deadline, "report %" PRId64 " not acked in time", report->seq);
        zclock_sleep ((int) (wait < 1000 ? wait : 1000));
    }
}

static int64_t
s_terminate_backend (const char *application_name)
{
    return fk_sql_int (s_pg, "SELECT count(*) FILTER (WHERE pg_terminate_backend (pid)) "
                             "FROM pg_stat_activity WHERE application_name = '%s'", application_name);
}

//  --------------------------------------------------------------------------

START_TEST (test_pg_stopped)
{
    int64_t started = tt_now_ms ();
    tt_collector_t *collector = s_collector_start ("faults-stopped");
    char *dir = tt_tempdir ("pg-stopped");
    //  Enough that no reporter is done before the stop: with 300 each, one
    //  reporter sometimes finished in the fraction of a second the stop takes.
    enum { COUNT = 4, REPORTS = 1500 };
    int64_t base = fk_sql_int (s_pg, "SELECT count(*) FROM report");
    s_reporter_t *reporters = s_reporters_start (dir, COUNT, REPORTS, 9000, collector->report_ep);
    int64_t before = fk_wait_reports (s_pg, "%", base + 100, 60000) - base;
    ck_assert_int_ge (before, 100);

    tt_pg_stop (s_pg);
    int64_t down_at = tt_now_ms ();
    //  A raw client sees `unavailable` with retry_ms, during the whole outage.
    zsock_t *dealer = fk_dealer (collector->report_ep, 10000);
    proto_msg_t *raw = fk_report ("stopped-raw", 1, "220581", "2030-06-01", 5);
    int unavailable = 0;
    while (tt_now_ms () < down_at + 10000) {
        proto_msg_t *reply = s_exchange (dealer, raw);
        ck_assert_msg (reply != NULL, "no reply while the database is down");
        ck_assert_int_eq (reply->type, PROTO_NACK);
        ck_assert_str_eq (proto_code_name (reply->code), "unavailable");
        ck_assert (reply->has_retry_ms && reply->retry_ms > 0);
        ck_assert (reply->has_seq && reply->seq == 1);
        unavailable++;
        proto_msg_destroy (&reply);
        //  Reporters wait; they neither give up nor crash.
        for (int i = 0; i < COUNT; i++) {
            int rc = tt_wait (reporters [i].pid, 0);
            ck_assert_msg (rc == -1, "reporter %d exited (status %d) during the outage", i, rc);
        }
        zclock_sleep (500);             //  pace the probes
    }
    tt_pg_restart (s_pg);
    int64_t up_at = tt_now_ms ();
    s_resend_until_acked (dealer, raw, 60000);
    double recovered_s = (tt_now_ms () - up_at) / 1000.0;
    proto_msg_destroy (&raw);
    zsock_destroy (&dealer);

    int64_t lost = 0, duplicated = 0;
    int64_t stored = s_reporters_finish (reporters, COUNT, REPORTS, collector->report_ep, &lost, &duplicated);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'stopped-raw'"), 1);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM tally_verify()"), 0);
    int down_logged = tt_count_text (collector->log_path, "database unreachable");
    int up_logged = tt_count_text (collector->log_path, "reachable again");
    ck_assert_int_eq (down_logged, 1);
    ck_assert_int_eq (up_logged, 1);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
    printf ("faults: pg_stopped reports=%d stored=%" PRId64 " stored_before_stop=%" PRId64
            " down_seconds=%.1f raw_unavailable=%d raw_acked_after_s=%.1f lost=%" PRId64
            " duplicated=%" PRId64 " unreachable_logged=%d reachable_again_logged=%d seconds=%.0f\n",
            COUNT * REPORTS, stored, before, (up_at - down_at) / 1000.0, unavailable, recovered_s,
            lost, duplicated, down_logged, up_logged, (tt_now_ms () - started) / 1000.0);
    fflush (stdout);
    const char *rm [] = { "/bin/rm", "-rf", dir, NULL };
    tt_run (rm, 30000, NULL);
    free (dir);
}
END_TEST

//  `tally-collector ping` against the collector: its exit status, and its
//  output in *output (malloc'd).
static int
s_ping (tt_collector_t *collector, char **output)
{
    const char *argv [] = { tt_collector_bin, "ping", "--query", collector->query_ep,
                            "--timeout", "5", NULL };
    return tt_run (argv, 15000, output);
}

//  An idle collector (no report arrives) notices PostgreSQL stopping within
//  a heartbeat: it logs the outage as it starts, and `tally-collector ping`
//  says the database is down (exit 1), which the systemd and Docker health
//  checks rely on. After the restart it reconnects by itself and ping says
//  up again.
START_TEST (test_idle_collector_sees_stop)
{
    tt_collector_t *collector = s_collector_start ("faults-idle");
    char *out = NULL;
    ck_assert_int_eq (s_ping (collector, &out), 0);
    ck_assert_ptr_nonnull (strstr (out, "database up"));
    free (out);

    tt_pg_stop (s_pg);
    int64_t down_at = tt_now_ms ();
    char *log = tt_wait_for_text (collector->log_path, "database unreachable", 5000);
    ck_assert_msg (log != NULL, "the idle collector did not log the outage within 5 s");
    free (log);
    double logged_s = (tt_now_ms () - down_at) / 1000.0;
    ck_assert_int_eq (s_ping (collector, &out), 1);
    ck_assert_msg (strstr (out, "database down"), "ping said: %s", out);
    free (out);

    tt_pg_restart (s_pg);
    int64_t up_at = tt_now_ms ();
    int rc;
    while ((rc = s_ping (collector, &out)) != 0 && tt_now_ms () < up_at + 45000) {
        free (out);
        zclock_sleep (250);
    }
    ck_assert_msg (rc == 0, "ping did not say up within 45 s of the restart: %s", out);
    free (out);
    double up_s = (tt_now_ms () - up_at) / 1000.0;
    ck_assert_int_eq (tt_count_text (collector->log_path, "database unreachable"), 1);
    ck_assert_int_eq (tt_count_text (collector->log_path, "reachable again"), 1);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
    printf ("faults: idle_stop outage_logged_after_s=%.1f ping_up_after_restart_s=%.1f\n",
            logged_s, up_s);
    fflush (stdout);
}
END_TEST

static void s_fail_with_log (tt_collector_t *collector, const char *format, ...);

START_TEST (test_backend_terminated)
{
    int64_t started = tt_now_ms ();
    tt_collector_t *collector = s_collector_start ("faults-terminated");
    zsock_t *dealer = fk_dealer (collector->report_ep, 10000);

    //  Outage 1, quiet: the cut is found by the next transaction, which is
    //  answered `unavailable`; the resend is stored.
    proto_msg_t *first = fk_report ("terminated-raw", 1, "220582", "2031-01-05", 4);
    proto_msg_t *reply = s_exchange (dealer, first);
    ck_assert (reply && reply->type == PROTO_ACK);
    proto_msg_destroy (&reply);
    ck_assert_int_ge (s_terminate_backend ("faults-terminated"), 1);
    proto_msg_t *second = fk_report ("terminated-raw", 2, "220582", "2031-01-06", 4);
    reply = s_exchange (dealer, second);
    ck_assert_msg (reply != NULL, "no reply after the connection was cut");
    ck_assert_int_eq (reply->type, PROTO_NACK);
    ck_assert_str_eq (proto_code_name (reply->code), "unavailable");
    ck_assert (reply->has_retry_ms && reply->retry_ms > 0);
    proto_msg_destroy (&reply);
    int64_t cut_at = tt_now_ms ();
    s_resend_until_acked (dealer, second, 30000);
    double quiet_recovery_s = (tt_now_ms () - cut_at) / 1000.0;
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'terminated-raw'"), 2);
    ck_assert_int_eq (tt_count_text (collector->log_path, "database unreachable"), 1);
    ck_assert_int_eq (tt_count_text (collector->log_path, "reachable again"), 1);

    //  Outage 2, mid-stream: reporters keep going; nothing lost or doubled.
    char *dir = tt_tempdir ("pg-terminated");
    enum { COUNT = 4, REPORTS = 300 };
    int64_t base = fk_sql_int (s_pg, "SELECT count(*) FROM report");
    s_reporter_t *reporters = s_reporters_start (dir, COUNT, REPORTS, 11000, collector->report_ep);
    int64_t before = fk_wait_reports (s_pg, "%", base + 100, 60000) - base;
    ck_assert_int_ge (before, 100);
    ck_assert_int_ge (s_terminate_backend ("faults-terminated"), 1);
    int64_t lost = 0, duplicated = 0;
    int64_t stored = s_reporters_finish (reporters, COUNT, REPORTS, collector->report_ep, &lost, &duplicated);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM tally_verify()"), 0);
    int down_logged = tt_count_text (collector->log_path, "database unreachable");
    int up_logged = tt_count_text (collector->log_path, "reachable again");
    if (down_logged != 2 || up_logged != 2)
        s_fail_with_log (collector, "two outages logged as %d starts and %d ends", down_logged, up_logged);
    //  Connections again, under the same name, and none leaked: the main
    //  one and at most one per committer (db-connections, 2 by default).
    int64_t connections = fk_sql_int (s_pg, "SELECT count(*) FROM pg_stat_activity "
                                            "WHERE application_name = 'faults-terminated'");
    ck_assert_int_ge (connections, 1);
    ck_assert_int_le (connections, 3);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
    printf ("faults: pg_terminated cuts=2 reports=%d stored=%" PRId64 " stored_before_cut=%" PRId64
            " quiet_recovery_s=%.2f lost=%" PRId64 " duplicated=%" PRId64
            " unreachable_logged=%d reachable_again_logged=%d seconds=%.0f\n",
            COUNT * REPORTS, stored, before, quiet_recovery_s, lost, duplicated, down_logged, up_logged,
            (tt_now_ms () - started) / 1000.0);
    fflush (stdout);
    proto_msg_destroy (&first);
    proto_msg_destroy (&second);
    zsock_destroy (&dealer);
    const char *rm [] = { "/bin/rm", "-rf", dir, NULL };
    tt_run (rm, 30000, NULL);
    free (dir);
}
END_TEST

//  Nothing of source 'half' and year 2032 anywhere.
static void
s_assert_nothing_of_half (void)
{
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'half'"), 0);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report_value v JOIN report r "
                                        "ON r.id = v.report_id WHERE r.year = 2032"), 0);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM current_value WHERE year = 2032"), 0);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM region_total WHERE year = 2032"), 0);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM region_year WHERE year = 2032"), 0);
}

//  Run tally_ingest in a transaction on conn; returns the error text
//  (malloc'd) or NULL if it succeeded. The transaction stays open.
static char *
s_ingest (PGconn *conn, const char *metrics, const char *values)
{
    PGresult *res = PQexec (conn, "BEGIN");
    ck_assert_int_eq (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    const char *params [2] = { metrics, values };
    res = PQexecParams (conn,
        "SELECT * FROM tally_ingest ('{half,half,half}', '{1,2,3}', '{220502,220503,220521}', "
        "'{2032-01-10,2032-01-10,2032-01-10}', '{NULL,NULL,NULL}', '{NULL,NULL,NULL}', "
        "'{NULL,NULL,NULL}', '{NULL,NULL,NULL}', '{1,2,3}', $1::text[], $2::bigint[])",
        2, NULL, params, NULL, NULL, 0);
    char *error = PQresultStatus (res) == PGRES_TUPLES_OK ? NULL : strdup (PQresultErrorMessage (res));
    PQclear (res);
    return error;
}

START_TEST (test_failed_ingest_leaves_nothing)
{
    PGconn *conn = PQconnectdb (s_pg->conninfo);
    ck_assert_int_eq (PQstatus (conn), CONNECTION_OK);
    //  Fails at step 3 (the values), after step 1 inserted the three reports:
    //  a NULL metric key, which the collector's validation never lets through.
    char *error = s_ingest (conn, "{projects_started,projects_started,NULL}", "{1,2,3}");
    ck_assert_ptr_nonnull (error);
    ck_assert_msg (strstr (error, "null value"), "unexpected error: %s", error);
    free (error);
    PQclear (PQexec (conn, "ROLLBACK"));
    s_assert_nothing_of_half ();

    //  Fails at step 5 (the roll-up), after reports, values, current
    //  figures and the leaves' totals were written: the city's sum of two
    //  counties' figures overflows bigint.
    error = s_ingest (conn, "{cattle_added,cattle_added,cattle_added}",
                      "{9000000000000000000,9000000000000000000,1}");
    ck_assert_ptr_nonnull (error);
    ck_assert_msg (strstr (error, "out of range"), "unexpected error: %s", error);
    free (error);
    PQclear (PQexec (conn, "ROLLBACK"));
    s_assert_nothing_of_half ();

    //  A batch stored completely, but the connection dies before COMMIT.
    error = s_ingest (conn, "{cattle_added,cattle_added,cattle_added}", "{10,20,30}");
    ck_assert_msg (error == NULL, "valid batch failed: %s", error);
    int pid = PQbackendPID (conn);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FILTER (WHERE pg_terminate_backend (%d)) "
                                        "FROM pg_stat_activity WHERE pid = %d", pid, pid), 1);
    PGresult *res = PQexec (conn, "COMMIT");
    ck_assert_int_ne (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (conn);
    s_assert_nothing_of_half ();
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM tally_verify()"), 0);
    printf ("faults: half_way failed_at_step3=nothing_left failed_at_step5=nothing_left "
            "dropped_before_commit=nothing_left\n");
    fflush (stdout);
}
END_TEST

//  Fail with the message and the end of the collector's log. This suite
//  failed twice in full-suite runs on 2026-11-26 after 128 s, its output not
//  kept; the waits below are the only ones long enough for that, and only
//  the collector's log could say what it was doing.
static void
s_fail_with_log (tt_collector_t *collector, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *what = zsys_vprintf (format, args);
    va_end (args);
    char *log = tt_slurp (collector->log_path);
    size_t len = log ? strlen (log) : 0;
    ck_abort_msg ("%s; the collector's log ends:\n%s", what, log ? log + (len > 3000 ? len - 3000 : 0) : "");
    free (log);
    zstr_free (&what);
}

//  PostgreSQL killed (immediate shutdown) while large batches are stored.
START_TEST (test_pg_killed_mid_batch)
{
    int64_t started = tt_now_ms ();
    tt_collector_t *collector = s_collector_start ("faults-killed");
    zsock_t *dealer = fk_dealer (collector->report_ep, 10000);
    zsock_set_sndhwm (dealer, 5000);
    zsock_set_rcvhwm (dealer, 5000);
    //  The last HELD reports go out only after the kill: on a loaded machine
    //  the collector could otherwise store every report before this thread
    //  sees KILL_AFTER acks, and never meet the crash.
    enum { REPORTS = 3000, VALUES = 25, KILL_AFTER = 400, HELD = 1000 };
    proto_msg_t *reports [REPORTS];
    int state [REPORTS];                //  0 no reply, 1 acked, 2 unavailable
    for (int i = 0; i < REPORTS; i++) {
        char date [16];
        snprintf (date, sizeof date, "2033-%02d-%02d", 1 + i % 12, 1 + (i / 12) % 28);
        reports [i] = fk_report ("killed-batch", i + 1, fk_counties [i % 7], date, VALUES);
        state [i] = 0;
    }
    //  Pump: send as fast as the socket takes them, read replies as they come.
    int sent = 0, acked = 0, unavailable = 0, sent_at_kill = 0, acked_at_kill = 0;
    bool killed = false;
    int64_t killed_at = 0;
    void *handle = zsock_resolve (dealer);
    while (true) {
        int sendable = killed ? REPORTS : REPORTS - HELD;
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN | (sent < sendable ? ZMQ_POLLOUT : 0), 0 };
        zmq_poll (&item, 1, 200);
        if ((item.revents & ZMQ_POLLOUT) && sent < sendable)
            ck_assert_int_eq (fk_send_msg (dealer, reports [sent++]), 0);
        while (zsock_events (dealer) & ZMQ_POLLIN) {
            proto_msg_t *reply = fk_recv_msg (dealer);
            ck_assert_ptr_nonnull (reply);
            ck_assert (reply->has_seq && reply->seq >= 1 && reply->seq <= REPORTS);
            int at = (int) reply->seq - 1;
            if (reply->type == PROTO_ACK) {
                ck_assert_msg (state [at] != 1, "seq %d acked twice", at + 1);
                state [at] = 1;
                acked++;
            }
            else {
                ck_assert_str_eq (proto_code_name (reply->code), "unavailable");
                state [at] = 2;
                unavailable++;
            }
            proto_msg_destroy (&reply);
        }
        if (!killed && acked >= KILL_AFTER) {
            tt_pg_kill (s_pg);
            sent_at_kill = sent;
            acked_at_kill = acked;
            killed = true;
            killed_at = tt_now_ms ();
        }
        //  After the kill, read replies for a while, then stop.
        if (killed && tt_now_ms () > killed_at + 3000)
            break;
        if (tt_now_ms () >= started + 120000)
            s_fail_with_log (collector, "pump did not finish: %d sent, %d acked, %d unavailable",
                             sent, acked, unavailable);
    }
    int acked_before = acked;
    tt_pg_restart (s_pg);

    //  After crash recovery: every report fully there or absent; every ack kept.
    int64_t present = fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'killed-batch'");
    int64_t partial = fk_sql_int (s_pg,
        "SELECT count(*) FROM report r WHERE r.source = 'killed-batch' AND "
        "(SELECT count(*) FROM report_value v WHERE v.report_id = r.id) <> %d", VALUES);
    char *acked_list = malloc ((size_t) REPORTS * 8 + 16);
    size_t len = (size_t) sprintf (acked_list, "{0");
    for (int i = 0; i < REPORTS; i++)
        if (state [i] == 1)
            len += (size_t) sprintf (acked_list + len, ",%d", i + 1);
    sprintf (acked_list + len, "}");
    int64_t acked_present = fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'killed-batch' "
                                              "AND seq = ANY ('%s'::bigint[])", acked_list);
    free (acked_list);
    ck_assert_int_eq (partial, 0);
    ck_assert_int_eq (acked_present, acked);
    ck_assert_int_ge (present, acked);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM tally_verify()"), 0);

    //  Resend everything not acked, as a reporter would, round after round
    //  until all are acked: all stored once. Late replies of the pump may
    //  still arrive; a reply counts for the seq it names.
    int duplicates = 0, rounds = 0;
    int64_t deadline = tt_now_ms () + 90000;
    while (true) {
        int pending = 0;
        for (int i = 0; i < REPORTS; i++)
            if (state [i] != 1) {
                ck_assert_int_eq (fk_send_msg (dealer, reports [i]), 0);
                state [i] = 0;
                pending++;
            }
        if (pending == 0)
            break;
        rounds++;
        if (tt_now_ms () >= deadline)
            s_fail_with_log (collector, "%d reports not stored 90 s after the restart (%d rounds)",
                             pending, rounds);
        proto_msg_t *reply;
        while (pending > 0 && (reply = fk_recv_msg (dealer))) {
            int at = (int) reply->seq - 1;
            if (reply->type == PROTO_ACK && state [at] != 1) {
                duplicates += streq (reply->status, "duplicate");
                state [at] = 1;
                pending--;
            }
            else
            if (reply->type == PROTO_NACK) {
                ck_assert_str_eq (proto_code_name (reply->code), "unavailable");
                if (state [at] == 0) {
                    state [at] = 2;
                    pending--;
                }
            }
            proto_msg_destroy (&reply);
        }
        zclock_sleep (200);             //  pace the rounds, as retry_ms asks
    }
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report WHERE source = 'killed-batch'"), REPORTS);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM report_value v JOIN report r "
                                        "ON r.id = v.report_id WHERE r.source = 'killed-batch'"),
                      REPORTS * VALUES);
    ck_assert_int_eq (fk_sql_int (s_pg, "SELECT count(*) FROM tally_verify()"), 0);
    int down_logged = tt_count_text (collector->log_path, "database unreachable");
    int up_logged = tt_count_text (collector->log_path, "reachable again");
    if (down_logged != 1 || up_logged != 1)
        s_fail_with_log (collector, "the crash logged as %d outage starts and %d ends", down_logged, up_logged);
    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
    printf ("faults: pg_killed reports=%d values_each=%d sent_before_kill=%d acked_before_kill=%d "
            "acked_before_restart=%d present_after_recovery=%" PRId64 " partial=%" PRId64 " acked_missing=%" PRId64
            " answered_unavailable=%d committed_but_unacked=%d seconds=%.0f\n",
            REPORTS, VALUES, sent_at_kill, acked_at_kill, acked_before, present, partial, acked - acked_present, unavailable,
            duplicates, (tt_now_ms () - started) / 1000.0);
    fflush (stdout);
    for (int i = 0; i < REPORTS; i++)
        proto_msg_destroy (&reports [i]);
    zsock_destroy (&dealer);
}
END_TEST

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    s_pg = tt_pg_start ();
    if (tt_migrate (s_pg->conninfo) != 0)
        return 1;
    Suite *suite = suite_create ("faults_db_outage");
    TCase *tc = tcase_create ("database outages");
    tcase_set_timeout (tc, 300);
    tcase_add_test (tc, test_failed_ingest_leaves_nothing);
    tcase_add_test (tc, test_backend_terminated);
    tcase_add_test (tc, test_pg_stopped);
    tcase_add_test (tc, test_idle_collector_sees_stop);
    tcase_add_test (tc, test_pg_killed_mid_batch);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_set_fork_status (runner, CK_NOFORK);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    tt_pg_destroy (&s_pg);
    return failed ? 1 : 0;
}
