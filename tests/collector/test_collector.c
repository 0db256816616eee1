/*  test_collector.c — unit tests of the collector's modules that need no
    database: the catalog check and the settings table.
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "settings.h"

static catalog_t *
s_tonghua (void)
{
    catalog_t *catalog = catalog_new ();
    catalog_add_region (catalog, "220500", "通化市", "city", "220000");
    catalog_add_region (catalog, "220582", "集安市", "county", "220500");
    catalog_add_metric (catalog, "projects_planned", true, 0, 1000000);
    catalog_add_metric (catalog, "prep_completion_pct", false, 0, 10000);
    return catalog;
}

static proto_msg_t *
s_report (const char *region)
{
    proto_msg_t *report = proto_msg_new (PROTO_REPORT);
    snprintf (report->region, sizeof report->region, "%s", region);
    return report;
}

START_TEST (test_catalog_accepts_known_figures)
{
    catalog_t *catalog = s_tonghua ();
    proto_msg_t *report = s_report ("220582");
    proto_msg_add_value (report, false, "projects_planned", 33);
    proto_msg_add_value (report, false, "prep_completion_pct", 5740);
    char err [256] = "";
    ck_assert_int_eq (catalog_check_report (catalog, report, err, sizeof err), PROTO_OK);
    ck_assert_ptr_nonnull (catalog_region (catalog, "220500"));
    ck_assert_str_eq (catalog_region (catalog, "220582")->parent, "220500");
    ck_assert (!catalog_metric (catalog, "prep_completion_pct")->sum);
    proto_msg_destroy (&report);
    catalog_destroy (&catalog);
    catalog_destroy (&catalog);     //  harmless twice
}
END_TEST

START_TEST (test_catalog_rejects_in_protocol_order)
{
    catalog_t *catalog = s_tonghua ();
    char err [256];
    //  An unknown region is reported before an unknown metric.
    proto_msg_t *report = s_report ("999999");
    proto_msg_add_value (report, false, "unicorns", 1);
    ck_assert_int_eq (catalog_check_report (catalog, report, err, sizeof err), PROTO_UNKNOWN_REGION);
    ck_assert_ptr_nonnull (strstr (err, "999999"));
    snprintf (report->region, sizeof report->region, "220582");
    ck_assert_int_eq (catalog_check_report (catalog, report, err, sizeof err), PROTO_UNKNOWN_METRIC);
    ck_assert_ptr_nonnull (strstr (err, "unicorns"));
    proto_msg_destroy (&report);
    //  A value outside the metric's range is invalid and names the metric.
    report = s_report ("220582");
    proto_msg_add_value (report, false, "prep_completion_pct", 10001);
    ck_assert_int_eq (catalog_check_report (catalog, report, err, sizeof err), PROTO_INVALID);
    ck_assert_ptr_nonnull (strstr (err, "prep_completion_pct"));
    ck_assert_ptr_nonnull (strstr (err, "10001"));
    proto_msg_destroy (&report);
    catalog_destroy (&catalog);
}
END_TEST

START_TEST (test_settings_defaults_and_overrides)
{
    settings_t settings;
    settings_init (&settings);
    ck_assert_str_eq (settings.report, "tcp://*:7701");
    ck_assert_str_eq (settings.feed, "tcp://*:7702");
    ck_assert_str_eq (settings.query, "tcp://*:7703");
    ck_assert_int_eq (settings.max_body, 65536);
    char *argv [] = { "tally-collector", "--db", "host=x password=hunter2", "--batch-max=50",
                      "--allow-plaintext", NULL };
    ck_assert_int_eq (settings_parse (&settings, 5, argv, 1), 0);
    ck_assert_str_eq (settings.db, "host=x password=hunter2");
    ck_assert_int_eq (settings.batch_max, 50);
    ck_assert (settings.allow_plaintext);
    char *line = settings_describe (&settings);
    ck_assert_ptr_null (strstr (line, "hunter2"));      //  never logged
    ck_assert_ptr_nonnull (strstr (line, "batch-max='50'"));
    free (line);
    settings_free (&settings);
}
END_TEST

START_TEST (test_settings_bad_input)
{
    settings_t settings;
    settings_init (&settings);
    char *unknown [] = { "tally-collector", "--colour", "red", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, unknown, 1), -1);
    char *range [] = { "tally-collector", "--batch-max", "0", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, range, 1), -1);
    char *number [] = { "tally-collector", "--max-body", "64k", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, number, 1), -1);
    char *missing [] = { "tally-collector", "--db", NULL };
    ck_assert_int_eq (settings_parse (&settings, 2, missing, 1), -1);
    char *help [] = { "tally-collector", "--help", NULL };
    ck_assert_int_eq (settings_parse (&settings, 2, help, 1), 1);
    settings_free (&settings);
}
END_TEST

//  Write text to a fresh temp file; returns its malloc'd path.
static char *
s_temp_file (const char *text)
{
    char *path = strdup ("/tmp/tally-conf-XXXXXX");
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    return path;
}

START_TEST (test_config_file_and_precedence)
{
    char *path = s_temp_file (
        "# tally-collector settings\n"
        "db = host=db.example dbname=tally\n"
        "batch-max = 200   # smaller batches\n"
        "report = \"tcp://127.0.0.1:9701\"\n"
        "allow-plaintext = yes\n");
    settings_t settings;
    settings_init (&settings);
    //  The file overrides the defaults; the command line overrides the file.
    char *argv [] = { "tally-collector", "-c", path, "--batch-max", "300", NULL };
    ck_assert_int_eq (settings_parse (&settings, 5, argv, 1), 0);
    ck_assert_str_eq (settings.db, "host=db.example dbname=tally");
    ck_assert_int_eq (settings.batch_max, 300);
    ck_assert_str_eq (settings.report, "tcp://127.0.0.1:9701");
    ck_assert_str_eq (settings.feed, "tcp://*:7702");
    ck_assert (settings.allow_plaintext);
    settings_free (&settings);
    unlink (path);
    free (path);
}
END_TEST

//  Bad config files are refused with file, line and key named.
static void
s_expect_bad_config (const char *text, const char *words)
{
    char *path = s_temp_file (text);
    settings_t settings;
    settings_init (&settings);
    char *argv [] = { "tally-collector", "--config", path, NULL };
    FILE *saved = stderr;
    char buffer [1024] = "";
    stderr = fmemopen (buffer, sizeof buffer, "w");
    int rc = settings_parse (&settings, 3, argv, 1);
    fclose (stderr);
    stderr = saved;
    ck_assert_int_eq (rc, -1);
    char where [300];
    snprintf (where, sizeof where, "%s:%s", path, words);
    ck_assert_msg (strstr (buffer, where), "'%s' does not say '%s'", buffer, where);
    settings_free (&settings);
    unlink (path);
    free (path);
}

START_TEST (test_config_file_errors)
{
    s_expect_bad_config ("db = x\ncolour = red\n", "2: key 'colour': unknown setting");
    s_expect_bad_config ("\n\nbatch-max = lots\n", "3: key 'batch-max': 'lots' is not a whole number");
    s_expect_bad_config ("feed-curve = maybe\n", "1: key 'feed-curve': 'maybe' is not yes or no");
    s_expect_bad_config ("just words\n", "1: expected 'key = value'");
    s_expect_bad_config ("db = \"open quote\n", "1: key 'db': unterminated");
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("collector");
    TCase *tc = tcase_create ("modules");
    tcase_add_test (tc, test_catalog_accepts_known_figures);
    tcase_add_test (tc, test_catalog_rejects_in_protocol_order);
    tcase_add_test (tc, test_settings_defaults_and_overrides);
    tcase_add_test (tc, test_settings_bad_input);
    tcase_add_test (tc, test_config_file_and_precedence);
    tcase_add_test (tc, test_config_file_errors);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
