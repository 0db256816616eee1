/*  test_failover.c — the database fails over under a stream of reports.

    scripts/failover.sh starts a pg_auto_failover formation on this machine
    (a monitor, a primary and a synchronous standby); the collector is given
    the multi-host conninfo it prints (target_session_attrs=read-write). A
    client streams reports; mid-stream the primary's keeper and postgres are
    SIGKILLed. The standby is promoted; the collector, answering
    `unavailable` meanwhile, must find the new primary by itself (its log
    says "reachable again"), and in the end every report that was ever acked
    is on the new primary, none twice, and tally_verify() is empty.

    Exits 77 (skipped) with the reason when pg_auto_failover is not installed.
*/
#include <check.h>
#include <czmq.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "scale_kit.h"
#include "tt.h"

static char s_script [512];
static char *s_dir;                     //  the formation's folder (made and removed by main)

//  A base port in 61000-64999 with it and the next two free.
static int
s_free_base (void)
{
    srand ((unsigned) (getpid () ^ tt_now_ms ()));
    for (int attempt = 0; attempt < 100; attempt++) {
        int base = 61000 + rand () % 3990;
        bool free_ = true;
        for (int p = 0; p < 3 && free_; p++) {
            int fd = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) (base + p)) };
            addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
            free_ = bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
            close (fd);
        }
        if (free_)
            return base;
    }
    return 61000;
}

//  Run failover.sh CMD DIR [ARG...]; returns its exit status and the last
//  line it printed in last (when not NULL).
static int
s_failover (const char *cmd, const char *dir, const char *arg1, const char *arg2,
            int timeout_ms, char *last, size_t size)
{
    const char *argv [] = { "/bin/bash", s_script, cmd, dir, arg1, arg2, NULL };
    char *out = NULL;
    int rc = tt_run (argv, timeout_ms, &out);
    if (rc != 0)
        fprintf (stderr, "failover.sh %s: exit %d:\n%s\n", cmd, rc, out ? out : "");
    if (last && out) {
        char *end = out + strlen (out);
        while (end > out && end [-1] == '\n')
            *--end = 0;
        char *line = strrchr (out, '\n');
        snprintf (last, size, "%s", line ? line + 1 : out);
    }
    free (out);
    return rc;
}

START_TEST (test_failover_under_load)
{
    const char *dir = s_dir;
    char base [16], conninfo [512];
    snprintf (base, sizeof base, "%d", s_free_base ());
    int64_t started = tt_now_ms ();
    ck_assert_int_eq (s_failover ("start", dir, base, NULL, 300000, conninfo, sizeof conninfo), 0);
    ck_assert_msg (strstr (conninfo, "target_session_attrs=read-write"), "unexpected conninfo: %s", conninfo);
    int64_t formed = tt_now_ms ();
    ck_assert_int_eq (tt_migrate (conninfo), 0);
    int old_primary = (int) tt_sql_int (conninfo, "SELECT inet_server_port ()");
    ck_assert_str_eq (tt_sql_text (conninfo, "SELECT current_setting ('synchronous_commit')"), "on");
    char *standbys = tt_sql_text (conninfo, "SELECT current_setting ('synchronous_standby_names')");
    ck_assert_msg (standbys && *standbys, "the primary has no synchronous standby");
    free (standbys);

    tt_collector_t *collector = tt_collector_start (conninfo, NULL, NULL);
    const size_t count = 1500;
    sk_plan_t *plan = (sk_plan_t *) calloc (count, sizeof *plan);
    const char *leaves [] = { "220502", "220503", "220521", "220523", "220524", "220581", "220582" };
    for (size_t i = 0; i < count; i++) {
        int day = (int) (i / 7) % 365;
        struct tm tm = { .tm_year = 2051 - 1900, .tm_mon = 0, .tm_mday = 1 + day };
        time_t when = timegm (&tm);
        gmtime_r (&when, &tm);
        strftime (plan [i].as_of, sizeof plan [i].as_of, "%Y-%m-%d", &tm);
        snprintf (plan [i].region, sizeof plan [i].region, "%s", leaves [i % 7]);
        for (int m = 0; m < SK_METRICS; m++)
            plan [i].values [m] = (int64_t) (i * 13 + (size_t) m) % 10000;
    }
    sk_client_t client = { .plan = plan, .count = count, .endpoint_count = 1, .window = 4,
                           .silence_ms = 20000, .deadline_ms = tt_now_ms () + 240000 };
    snprintf (client.source, sizeof client.source, "failover-%s", base);
    snprintf (client.endpoints [0], sizeof client.endpoints [0], "%s", collector->report_ep);
    sk_client_start (&client);

    //  Kill the primary once 300 reports are acked.
    int64_t deadline = tt_now_ms () + 60000;
    while (sk_client_acked (&client) < 300 && tt_now_ms () < deadline)
        zclock_sleep (5);
    size_t acked_before = sk_client_acked (&client);
    ck_assert_int_ge (acked_before, 300);
    ck_assert_int_eq (s_failover ("kill-primary", dir, NULL, NULL, 30000, NULL, 0), 0);
    int64_t killed = tt_now_ms ();
    char old_port [16], new_port [32];
    snprintf (old_port, sizeof old_port, "%d", old_primary);
    ck_assert_int_eq (s_failover ("wait-failover", dir, old_port, "150", 160000, new_port, sizeof new_port), 0);
    int64_t promoted = tt_now_ms ();

    sk_client_join (&client);
    int64_t done = tt_now_ms ();
    ck_assert_msg (!*client.error, "%s", client.error);
    ck_assert_int_eq (client.stored + client.duplicates, count);

    //  The collector found the new primary by itself.
    char *log = tt_slurp (collector->log_path);
    ck_assert_msg (strstr (log, "database unreachable"), "the collector never lost the database:\n%s", log);
    ck_assert_msg (strstr (log, "reachable again"), "the collector did not reconnect:\n%s", log);
    free (log);
    ck_assert_int_eq (tt_sql_int (conninfo, "SELECT inet_server_port ()"), atoi (new_port));
    ck_assert_int_ne (atoi (new_port), old_primary);

    //  Every acked report is on the new primary, once.
    char *sql = zsys_sprintf ("SELECT string_agg (seq::text, ',' ORDER BY seq) FROM report WHERE source = '%s'",
                              client.source);
    char *seqs = tt_sql_text (conninfo, sql);
    zstr_free (&sql);
    ck_assert_ptr_nonnull (seqs);
    bool *present = (bool *) calloc (count + 1, sizeof *present);
    size_t rows = 0;
    for (char *save = NULL, *item = strtok_r (seqs, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        long long seq = atoll (item);
        ck_assert_msg (seq >= 1 && seq <= (long long) count, "unexpected seq %lld", seq);
        ck_assert_msg (!present [seq], "seq %lld stored twice", seq);
        present [seq] = true;
        rows++;
    }
    size_t acked_missing = 0;
    for (size_t i = 0; i < count; i++)
        if (client.answers [i] != SK_PENDING && !present [i + 1])
            acked_missing++;
    ck_assert_msg (acked_missing == 0, "%zu acked reports are not on the new primary", acked_missing);
    ck_assert_int_eq (rows, count);
    ck_assert_int_eq (tt_sql_int (conninfo, "SELECT count(*) FROM tally_verify ()"), 0);
    printf ("failover: formation up in %.1f s; %zu of %zu reports acked before the primary (port %d) "
            "was killed; port %s promoted %.1f s later; stream done %.1f s after the kill "
            "(%zu unavailable answers, %zu acked as duplicate); all %zu on the new primary once\n",
            (double) (formed - started) / 1000.0, acked_before, count, old_primary, new_port,
            (double) (promoted - killed) / 1000.0, (double) (done - killed) / 1000.0,
            client.unavailable, client.duplicates, rows);
    free (present);
    free (seqs);

    ck_assert_int_eq (tt_collector_stop (&collector, SIGTERM), 0);
    sk_client_free (&client);
    free (plan);
}
END_TEST

int
main (void)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    snprintf (s_script, sizeof s_script, "%s/scripts/failover.sh", tt_source_dir);
    const char *probe [] = { "/bin/sh", "-c", "command -v pg_autoctl || test -x /usr/lib/postgresql/15/bin/pg_autoctl", NULL };
    if (tt_run (probe, 10000, NULL) != 0) {
        printf ("failover: skipped: pg_autoctl is not installed "
                "(apt-get install postgresql-15-auto-failover, or scripts/deps.sh)\n");
        return 77;
    }
    s_dir = tt_tempdir ("failover");
    Suite *suite = suite_create ("failover");
    TCase *tc = tcase_create ("pg_auto_failover");
    tcase_set_timeout (tc, 600);
    tcase_add_test (tc, test_failover_under_load);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    //  Stopped here, so that a failed test leaves nothing running.
    s_failover ("stop", s_dir, NULL, NULL, 120000, NULL, 0);
    if (!getenv ("TALLY_KEEP_TEST_DIRS")) {
        const char *argv [] = { "/bin/rm", "-rf", s_dir, NULL };
        tt_run (argv, 60000, NULL);
    }
    free (s_dir);
    return failed ? 1 : 0;
}
