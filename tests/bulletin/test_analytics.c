/*  test_analytics.c — the analysts' views and functions (003_views.sql) and tally-bulletin.

    One private PostgreSQL, `tally-collector migrate`, a real collector, and
    the fixed data of analytics_fixture.c sent through it: the seed
    (2022) and a two-month history (2024). Each test reads as an example of
    one view or function: what it returns for the seed, and that it agrees
    with an independent computation over the history. The bulletin tests
    (test_bulletin.c) run tally-bulletin against the same database.
*/
#include <check.h>
#include <czmq.h>
#include <libpq-fe.h>
#include <signal.h>
#include <time.h>

#include "analytics_fixture.h"
#include "analytics_suite.h"
#include "tt.h"

tt_pg_t *as_pg;
static PGconn *s_conn;

//  --------------------------------------------------------------------------
//  Helpers

PGresult *
as_query (const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams (s_conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ck_assert_msg (PQresultStatus (res) == PGRES_TUPLES_OK || PQresultStatus (res) == PGRES_COMMAND_OK,
                   "query failed: %s\n%s", PQerrorMessage (s_conn), sql);
    return res;
}

//  The single value of a one-parameter query ("" for NULL, NULL for no row).
char *
as_value (const char *sql, const char *param)
{
    const char *params [1] = { param };
    PGresult *res = as_query (sql, param ? 1 : 0, params);
    char *value = PQntuples (res) ? strdup (PQgetvalue (res, 0, 0)) : NULL;
    PQclear (res);
    return value;
}

#define ck_value(sql, param, expected) do { \
    char *got_ = as_value ((sql), (param)); \
    ck_assert_msg (got_ && streq (got_, (expected)), "%s [%s]: got '%s', expected '%s'", \
                   (sql), (param) ? (param) : "", got_ ? got_ : "(no row)", (expected)); \
    free (got_); \
} while (0)

//  base + days as "YYYY-MM-DD".
const char *
as_date_add (const char *base, int days, char *out)
{
    struct tm tm = { 0 };
    ck_assert_int_eq (sscanf (base, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday), 3);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm (&tm) + (time_t) days * 86400;
    gmtime_r (&t, &tm);
    strftime (out, 11, "%Y-%m-%d", &tm);
    return out;
}

//  --------------------------------------------------------------------------
//  The seed (2022)

START_TEST (test_seed_totals)
{
    //  The city's total is the sum of its counties; its own report stays beside it.
    const char *sql = "SELECT value || '/' || coalesce (own_value::text, '-') || ' ' || name || ' ' || name_zh "
                      "|| ' ' || unit || ' ' || as_of || ' ' || reported || '/' || expected "
                      "FROM v_totals WHERE region = '220500' AND year = 2022 AND metric = $1";
    ck_value (sql, "projects_planned", "185/220 通化市 计划实施重点项目 个 2022-03-01 6/7");
    ck_value (sql, "projects_started", "42/84 通化市 开工项目 个 2022-03-01 6/7");
    ck_value (sql, "prep_completion_pct", "6920/6920 通化市 前期手续完成率 0.01% 2022-03-01 6/7");
    ck_value (sql, "cattle_added", "2347/- 通化市 新增肉牛 头 2022-03-01 6/7");
    //  A county: its own figure is its total.
    ck_value ("SELECT value || '/' || own_value || ' ' || reported || '/' || expected FROM v_totals "
              "WHERE region = $1 AND year = 2022 AND metric = 'cattle_added'", "220582", "1239/1239 1/1");
    //  One row per region_total row (no region reported a figure none of its leaves has).
    ck_value ("SELECT (SELECT count (*) FROM v_totals WHERE year = 2022) "
              "= (SELECT count (*) FROM region_total WHERE year = 2022)", NULL, "t");
}
END_TEST

START_TEST (test_seed_reconciliation)
{
    //  The seed's own story: the city announced 80, then 84 projects started;
    //  its counties' reports add up to 42.
    PGresult *res = as_query ("SELECT metric, own_value, rollup_value, difference, children_reported, children, own_as_of "
                              "FROM v_reconciliation WHERE region = '220500' AND year = 2022 ORDER BY metric", 0, NULL);
    const char *expected [][7] = {
        { "projects_planned", "220", "185", "35", "6", "7", "2022-02-28" },
        { "projects_planned_investment", "10235000", "5528300", "4706700", "5", "7", "2022-02-28" },
        { "projects_started", "84", "42", "42", "3", "7", "2022-03-01" },
        { "projects_started_annual", "895000", "277000", "618000", "2", "7", "2022-03-01" },
        { "projects_started_investment", "2594000", "477000", "2117000", "1", "7", "2022-03-01" },
    };
    ck_assert_int_eq (PQntuples (res), 5);
    for (int row = 0; row < 5; row++)
        for (int col = 0; col < 7; col++)
            ck_assert_str_eq (PQgetvalue (res, row, col), expected [row][col]);
    PQclear (res);
    //  A rate is never reconciled: prep_completion_pct is `none`.
    ck_value ("SELECT count (*) FROM v_reconciliation WHERE metric = $1", "prep_completion_pct", "0");
    //  As of 2022-02-28 the city's own figure was still 80 (history, not current).
    ck_value ("SELECT v.value FROM report_value v JOIN report r ON r.id = v.report_id "
              "WHERE r.region = '220500' AND r.as_of = $1 AND v.metric = 'projects_started'", "2022-02-28", "80");
}
END_TEST

START_TEST (test_seed_progress)
{
    const char *sql = "SELECT coalesce (active_rate_pct::text, 'NULL') || ' ' || coalesce (start_rate_pct::text, 'NULL') "
                      "|| ' ' || elapsed_pct FROM v_progress WHERE year = 2022 AND region = $1";
    //  No county reported projects_active in the seed: 开复工率 is NULL, not an error.
    ck_value (sql, "220582", "NULL 45.45 16.16");      //  15 of 33 started; 2022-02-28 is day 59 of 365
    ck_value (sql, "220523", "NULL 48.48 16.16");
    ck_value (sql, "220524", "NULL NULL 16.16");
    ck_value (sql, "220500", "NULL 22.70 16.44");      //  42 of 185; as_of 2022-03-01
    //  Attraction completion against each target (东昌区: 18/16, 6/8, 3/5, 2/3).
    ck_value ("SELECT attraction_planned_pct || ' ' || attraction_signed_pct || ' ' || attraction_landed_pct "
              "|| ' ' || attraction_started_pct FROM v_progress WHERE year = 2022 AND region = $1",
              "220502", "112.50 75.00 60.00 66.67");
    //  No investment_completed in the seed: investment and schedule columns are NULL.
    ck_value ("SELECT count (*) FROM v_progress WHERE year = 2022 AND "
              "(investment_pct IS NOT NULL OR schedule_pct IS NOT NULL)", NULL, "0");
}
END_TEST

START_TEST (test_seed_reporting)
{
    //  On 2022-03-01 every county that reported the day before is on time;
    //  梅河口市 (220581) never reported.
    PGresult *res = as_query ("SELECT region, status, coalesce (days_since::text, '-'), parent FROM reporting_on ('2022-03-01') "
                              "ORDER BY region", 0, NULL);
    ck_assert_int_eq (PQntuples (res), 8);      //  every region with a parent
    for (int row = 0; row < 8; row++) {
        const char *region = PQgetvalue (res, row, 0);
        const char *status = PQgetvalue (res, row, 1);
        if (streq (region, "220581"))
            ck_assert_str_eq (status, "missing");
        else
            ck_assert_str_eq (status, "on_time");
        ck_assert_str_eq (PQgetvalue (res, row, 2),
                          streq (region, "220581") ? "-" : streq (region, "220500") ? "0" : "1");
    }
    PQclear (res);
    //  Two days later they are late; before the first report, missing.
    ck_value ("SELECT string_agg (DISTINCT status, ',') FROM reporting_on ('2022-03-03') WHERE region <> $1", "220581", "late");
    ck_value ("SELECT string_agg (DISTINCT status, ',') FROM reporting_on ($1)", "2022-02-27", "missing");
}
END_TEST

START_TEST (test_seed_ranking)
{
    //  The seed has no projects_active nor investment_completed: every rate is
    //  NULL and the ranking falls to the code, deterministically.
    PGresult *res = as_query ("SELECT rank, county, coalesce (active_rate_pct::text, 'NULL') FROM v_ranking "
                              "WHERE city = '220500' AND iso_year = 2022 AND iso_week = 9 ORDER BY rank", 0, NULL);
    ck_assert_int_eq (PQntuples (res), AF_COUNTIES);
    for (int row = 0; row < AF_COUNTIES; row++) {
        ck_assert_int_eq (atoi (PQgetvalue (res, row, 0)), row + 1);
        ck_assert_str_eq (PQgetvalue (res, row, 1), af_county [row]);
        ck_assert_str_eq (PQgetvalue (res, row, 2), "NULL");
    }
    PQclear (res);
    //  Week 8 (ending 2022-02-27) had no figures yet: no rows.
    ck_value ("SELECT count (*) FROM v_ranking WHERE iso_year = 2022 AND iso_week = $1::int", "8", "0");
}
END_TEST

START_TEST (test_seed_totals_as_of)
{
    //  The end of 2022-02-28 and of any later day of 2022 give the same totals
    //  (the city's own 84 of 03-01 is not a total), equal to region_total.
    ck_value ("SELECT value FROM totals_as_of ($1) WHERE region = '220500' AND metric = 'projects_started'",
              "2022-02-28", "42");
    ck_value ("SELECT count (*) FROM (SELECT * FROM totals_as_of ($1) "
              "EXCEPT SELECT * FROM region_total WHERE year = 2022) x", "2022-12-31", "0");
    ck_value ("SELECT count (*) FROM (SELECT * FROM region_total WHERE year = 2022 "
              "EXCEPT SELECT * FROM totals_as_of ($1)) x", "2022-12-31", "0");
    //  The day before: nothing of 2022 yet.
    ck_value ("SELECT count (*) FROM totals_as_of ($1)", "2022-02-27", "0");
}
END_TEST

//  --------------------------------------------------------------------------
//  The 2024 history

START_TEST (test_history_totals_as_of)
{
    //  Every day of the history, every county's figure equals the model's
    //  (newest as_of <= day, ties to the later report), and the city's total
    //  is the sum of its counties.
    const char *metrics [] = { "projects_planned", "projects_planned_annual", "projects_active", "investment_completed" };
    for (int n = 1; n <= AF_DAYS; n++) {
        char day [11];
        af_day (n, day);
        const char *params [1] = { day };
        PGresult *res = as_query ("SELECT region, metric, value FROM totals_as_of ($1) "
                                  "WHERE region LIKE '2205__' AND region <> '220500' ORDER BY 1, 2", 1, params);
        int expected_rows = 0;
        for (int c = 0; c < AF_COUNTIES; c++)
            for (int m = 0; m < 4; m++) {
                int64_t value;
                expected_rows += af_figure (af_county [c], metrics [m], day, &value);
            }
        ck_assert_int_eq (PQntuples (res), expected_rows);
        for (int row = 0; row < PQntuples (res); row++) {
            int64_t value = -1;
            ck_assert (af_figure (PQgetvalue (res, row, 0), PQgetvalue (res, row, 1), day, &value));
            ck_assert_msg (value == atoll (PQgetvalue (res, row, 2)), "%s %s %s: %s, model %lld", day,
                           PQgetvalue (res, row, 0), PQgetvalue (res, row, 1), PQgetvalue (res, row, 2),
                           (long long) value);
        }
        PQclear (res);
        for (int m = 0; m < 4; m++) {
            int64_t sum = 0, value;
            for (int c = 0; c < AF_COUNTIES; c++)
                if (af_figure (af_county [c], metrics [m], day, &value))
                    sum += value;
            const char *both [2] = { day, metrics [m] };
            res = as_query ("SELECT value FROM totals_as_of ($1) WHERE region = '220500' AND metric = $2", 2, both);
            ck_assert_int_eq (PQntuples (res), 1);
            ck_assert_int_eq (atoll (PQgetvalue (res, 0, 0)), sum);
            PQclear (res);
        }
    }
    //  The corrections, by hand: the same-day one wins its day only, the
    //  back-dated one changes its own day's history only.
    const char *sql = "SELECT value FROM totals_as_of ($1) WHERE region = $2 AND metric = 'projects_active'";
    const char *p1 [2] = { "2024-01-21", "220582" }, *p2 [2] = { "2024-01-22", "220582" };
    const char *p3 [2] = { "2024-01-10", "220524" }, *p4 [2] = { "2024-01-11", "220524" };
    const char *const *cases [4] = { p1, p2, p3, p4 };
    const char *want [4] = { "10", "3", "1", "3" };
    for (int i = 0; i < 4; i++) {
        PGresult *res = as_query (sql, 2, cases [i]);
        ck_assert_str_eq (PQgetvalue (res, 0, 0), want [i]);
        PQclear (res);
    }
    //  known_at: before the back-dated correction was received, 01-10 read 3.
    ck_value ("SELECT value FROM totals_as_of ('2024-01-10', "
              "(SELECT received_at - interval '1 microsecond' FROM report WHERE source = 'history' "
              "ORDER BY seq DESC LIMIT 1)) WHERE region = $1 AND metric = 'projects_active'", "220524", "3");
}
END_TEST

START_TEST (test_totals_as_of_equals_region_total)
{
    //  Row by row, both ways: today's recomputation from history is region_total.
    ck_value ("SELECT count (*) FROM (SELECT * FROM totals_as_of (current_date) "
              "EXCEPT SELECT * FROM region_total WHERE year = extract (year FROM current_date)) x", NULL, "0");
    ck_value ("SELECT count (*) FROM (SELECT * FROM region_total WHERE year = extract (year FROM current_date) "
              "EXCEPT SELECT * FROM totals_as_of (current_date)) x", NULL, "0");
    ck_value ("SELECT count (*) > 0 FROM totals_as_of (current_date)", NULL, "t");
    //  And for the end of 2024.
    ck_value ("SELECT count (*) FROM (SELECT * FROM totals_as_of ($1) "
              "EXCEPT SELECT * FROM region_total WHERE year = 2024) x", "2024-12-31", "0");
    ck_value ("SELECT count (*) FROM (SELECT * FROM region_total WHERE year = 2024 "
              "EXCEPT SELECT * FROM totals_as_of ($1)) x", "2024-12-31", "0");
    ck_value ("SELECT count (*) FROM tally_verify ()", NULL, "0");
}
END_TEST

START_TEST (test_history_progress)
{
    //  220502 on 2024-02-29 (day 60 of 366): 9 of 20 active, 48000 of 100000 invested.
    ck_value ("SELECT as_of || ' ' || active_rate_pct || ' ' || investment_pct || ' ' || elapsed_pct "
              "|| ' ' || schedule_pct || ' ' || schedule_gap_pts FROM v_progress WHERE year = 2024 AND region = $1",
              "220502", "2024-02-29 45.00 48.00 16.39 292.80 31.61");
    //  220503 stopped on 02-20 (day 51): its as_of, and its schedule against it.
    ck_value ("SELECT as_of || ' ' || active_rate_pct || ' ' || investment_pct || ' ' || schedule_pct "
              "FROM v_progress WHERE year = 2024 AND region = $1", "220503", "2024-02-20 50.00 61.20 439.20");
    //  The same indicators as of any past day, and as of today equal to v_progress.
    ck_value ("SELECT active_rate_pct FROM progress_as_of ('2024-01-21') WHERE region = $1", "220582", "50.00");
    ck_value ("SELECT count (*) FROM (SELECT * FROM progress_as_of ($1) "
              "EXCEPT SELECT * FROM v_progress WHERE year = 2024) x", "2024-12-31", "0");
    ck_value ("SELECT count (*) FROM (SELECT * FROM v_progress WHERE year = 2024 "
              "EXCEPT SELECT * FROM progress_as_of ($1)) x", "2024-12-31", "0");
    //  A zero denominator is NULL, not an error.
    ck_value ("SELECT coalesce (tally_pct (5, 0)::text, 'NULL') || ' ' || tally_pct (1, 3)", NULL, "NULL 33.33");
}
END_TEST

START_TEST (test_history_reporting)
{
    PGresult *res = as_query ("SELECT region, status, coalesce (last_as_of::text, '-') FROM reporting_on ('2024-02-29') "
                              "ORDER BY region", 0, NULL);
    ck_assert_int_eq (PQntuples (res), 8);
    for (int row = 0; row < 8; row++) {
        const char *region = PQgetvalue (res, row, 0);
        const char *status = PQgetvalue (res, row, 1);
        const char *last = PQgetvalue (res, row, 2);
        if (streq (region, "220581"))
            ck_assert (streq (status, "missing") && streq (last, "-"));
        else if (streq (region, "220503"))
            ck_assert (streq (status, "late") && streq (last, "2024-02-20"));
        else
            ck_assert (streq (status, "on_time") && streq (last, "2024-02-29"));
    }
    PQclear (res);
    ck_value ("SELECT days_since FROM reporting_on ('2024-02-29') WHERE region = $1", "220503", "9");
    //  v_reporting is reporting_on (current_date): 220521 reported today.
    ck_value ("SELECT count (*) FROM (SELECT * FROM v_reporting EXCEPT SELECT * FROM reporting_on (current_date)) x",
              NULL, "0");
    ck_value ("SELECT status || ' ' || days_since FROM v_reporting WHERE region = $1", "220521", "on_time 0");
    ck_value ("SELECT status FROM v_reporting WHERE region = $1", "220502", "late");
}
END_TEST

START_TEST (test_history_ranking)
{
    //  Weeks 1..12 of 2024 (Sundays 01-07 .. 03-24): the order of the
    //  counties and the change against the previous week equal the model's.
    int previous [AF_COUNTIES] = { 0 };
    bool has_previous = false;
    for (int week = 1; week <= 12; week++) {
        char sunday [11], param [8];
        as_date_add ("2024-01-07", 7 * (week - 1), sunday);
        int order [AF_COUNTIES];
        ck_assert (af_ranking (sunday, order));
        snprintf (param, sizeof param, "%d", week);
        const char *params [1] = { param };
        PGresult *res = as_query ("SELECT rank, county, coalesce (rank_change::text, '-'), week_end "
                                  "FROM v_ranking WHERE city = '220500' AND iso_year = 2024 AND iso_week = $1::int "
                                  "ORDER BY rank", 1, params);
        ck_assert_int_eq (PQntuples (res), AF_COUNTIES);
        for (int row = 0; row < AF_COUNTIES; row++) {
            ck_assert_str_eq (PQgetvalue (res, row, 3), sunday);
            ck_assert_msg (streq (PQgetvalue (res, row, 1), af_county [order [row]]),
                           "week %d rank %d: %s, model %s", week, row + 1,
                           PQgetvalue (res, row, 1), af_county [order [row]]);
            char change [16] = "-";
            if (has_previous)
                for (int p = 0; p < AF_COUNTIES; p++)
                    if (previous [p] == order [row])
                        snprintf (change, sizeof change, "%d", p - row);
            ck_assert_str_eq (PQgetvalue (res, row, 2), change);
        }
        PQclear (res);
        memcpy (previous, order, sizeof previous);
        has_previous = true;
    }
    //  By hand. Week 1 (to 01-07): 东昌区 3/20 first, 柳河县 2/25 second;
    //  二道江区, 通化县, 辉南县, 集安市 all 1/20: 二道江区 has invested more
    //  (8400 of 100000), the other three tie on both (7000) and go by code.
    ck_value ("SELECT string_agg (county, ' ' ORDER BY rank) FROM v_ranking "
              "WHERE city = '220500' AND week_end = $1::date", "2024-01-07",
              "220502 220524 220503 220521 220523 220582 220581");
    //  Week 3 (to 01-21): 集安市's same-day correction (10/20) puts it first;
    //  a week later it is back to 4/20.
    ck_value ("SELECT rank || ' ' || rank_change FROM v_ranking WHERE week_end = '2024-01-21' AND county = $1",
              "220582", "1 5");
    ck_value ("SELECT rank || ' ' || rank_change FROM v_ranking WHERE week_end = '2024-01-28' AND county = $1",
              "220582", "6 -5");
    //  ranking_on (day, since) is the same ranking for any pair of days.
    ck_value ("SELECT count (*) FROM (SELECT city, rank, county, prev_rank, rank_change FROM ranking_on ('2024-01-21') "
              "EXCEPT SELECT city, rank, county, prev_rank, rank_change FROM v_ranking WHERE week_end = $1::date) x",
              "2024-01-21", "0");
    ck_value ("SELECT rank || ' ' || prev_rank FROM ranking_on ('2024-02-29', '2024-01-31') WHERE county = $1",
              "220502", "6 1");
}
END_TEST

START_TEST (test_history_reconciliation)
{
    //  The city's own 130 planned against 5 * 20 + 25 from its counties.
    ck_value ("SELECT own_value || ' ' || rollup_value || ' ' || difference || ' ' || children_reported || '/' || children "
              "FROM v_reconciliation WHERE region = '220500' AND year = 2024 AND metric = $1",
              "projects_planned", "130 125 5 6/7");
    //  Active: 9 + 10 + 15 + 15 + 20 + 10 (220503 as of 02-20: 51/5).
    ck_value ("SELECT own_value || ' ' || rollup_value || ' ' || difference "
              "FROM v_reconciliation WHERE region = '220500' AND year = 2024 AND metric = $1",
              "projects_active", "100 79 21");
    //  The same from history, as of any day: on 01-31 the city's own figures were those of 01-01.
    ck_value ("SELECT count (*) FROM (SELECT * FROM reconciliation_as_of ($1) "
              "EXCEPT SELECT * FROM v_reconciliation WHERE year = 2024) x", "2024-12-31", "0");
    ck_value ("SELECT count (*) FROM (SELECT * FROM v_reconciliation WHERE year = 2024 "
              "EXCEPT SELECT * FROM reconciliation_as_of ($1)) x", "2024-12-31", "0");
    ck_value ("SELECT own_value || ' ' || rollup_value || ' ' || own_as_of FROM reconciliation_as_of ('2024-01-31') "
              "WHERE region = '220500' AND metric = $1", "projects_active", "0 44 2024-01-01");
}
END_TEST

//  Years of daily reports: totals_as_of reads one year's reports through the
//  report_as_of index, so its cost does not grow with history. Inside a
//  transaction that is rolled back, so the other tests' data stay as they are.
START_TEST (test_totals_as_of_scales)
{
    PQclear (as_query ("BEGIN", 0, NULL));
    PQclear (as_query ("INSERT INTO report (source, seq, region, as_of) "
                       "SELECT 'scale', row_number () OVER (), c.code, d::date "
                       "FROM generate_series ('2014-01-01'::date, '2018-12-31', '1 day') d "
                       "CROSS JOIN (SELECT code FROM region WHERE level = 'county') c", 0, NULL));
    PQclear (as_query ("INSERT INTO report_value (report_id, metric, value) "
                       "SELECT r.id, m.key, r.id % 1000 FROM report r "
                       "CROSS JOIN (SELECT key FROM metric WHERE key LIKE 'projects%' OR key = 'investment_completed') m "
                       "WHERE r.source = 'scale'", 0, NULL));
    PQclear (as_query ("ANALYZE report", 0, NULL));
    PQclear (as_query ("ANALYZE report_value", 0, NULL));
    char *reports = as_value ("SELECT count (*) FROM report", NULL);
    char *values = as_value ("SELECT count (*) FROM report_value", NULL);
    PGresult *res = as_query ("EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM totals_as_of ('2018-06-30')", 0, NULL);
    bool uses_index = false;
    double ms = -1;
    for (int row = 0; row < PQntuples (res); row++) {
        const char *line = PQgetvalue (res, row, 0);
        uses_index = uses_index || strstr (line, "report_as_of") != NULL;
        const char *at = strstr (line, "Execution Time: ");
        if (at)
            ms = atof (at + strlen ("Execution Time: "));
    }
    PQclear (res);
    res = as_query ("EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM reporting_on ('2018-06-30')", 0, NULL);
    double reporting_ms = -1;
    for (int row = 0; row < PQntuples (res); row++) {
        const char *at = strstr (PQgetvalue (res, row, 0), "Execution Time: ");
        if (at)
            reporting_ms = atof (at + strlen ("Execution Time: "));
    }
    PQclear (res);
    printf ("analytics: %s reports, %s values: totals_as_of('2018-06-30') %.1f ms (index report_as_of: %s), "
            "reporting_on('2018-06-30') %.1f ms\n", reports, values, ms, uses_index ? "yes" : "no", reporting_ms);
    free (reports);
    free (values);
    PQclear (as_query ("ROLLBACK", 0, NULL));
    ck_assert (uses_index);
    ck_assert_msg (ms >= 0 && ms < 1000, "totals_as_of took %.1f ms", ms);
    ck_assert_msg (reporting_ms >= 0 && reporting_ms < 100, "reporting_on took %.1f ms", reporting_ms);
}
END_TEST

//  --------------------------------------------------------------------------

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    as_pg = tt_pg_start ();
    if (tt_migrate (as_pg->conninfo) != 0)
        return 1;
    s_conn = PQconnectdb (as_pg->conninfo);
    if (PQstatus (s_conn) != CONNECTION_OK) {
        fprintf (stderr, "test_analytics: %s", PQerrorMessage (s_conn));
        return 1;
    }
    tt_collector_t *collector = tt_collector_start (as_pg->conninfo, NULL, NULL);
    char *today = tt_sql_text (as_pg->conninfo, "SELECT current_date::text");
    int stored = af_send_all (collector->report_ep, today);
    free (today);
    tt_collector_stop (&collector, SIGTERM);
    if (stored < 300) {
        fprintf (stderr, "test_analytics: only %d reports stored\n", stored);
        return 1;
    }

    Suite *suite = suite_create ("analytics");
    TCase *tc = tcase_create ("views");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_seed_totals);
    tcase_add_test (tc, test_seed_reconciliation);
    tcase_add_test (tc, test_seed_progress);
    tcase_add_test (tc, test_seed_reporting);
    tcase_add_test (tc, test_seed_ranking);
    tcase_add_test (tc, test_seed_totals_as_of);
    tcase_add_test (tc, test_history_totals_as_of);
    tcase_add_test (tc, test_totals_as_of_equals_region_total);
    tcase_add_test (tc, test_history_progress);
    tcase_add_test (tc, test_history_reporting);
    tcase_add_test (tc, test_history_ranking);
    tcase_add_test (tc, test_history_reconciliation);
    tcase_add_test (tc, test_totals_as_of_scales);
    suite_add_tcase (suite, tc);
    as_add_bulletin_tests (suite);
    SRunner *runner = srunner_create (suite);
    srunner_set_fork_status (runner, CK_NOFORK);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);

    PQfinish (s_conn);
    tt_pg_destroy (&as_pg);
    return failed ? 1 : 0;
}
