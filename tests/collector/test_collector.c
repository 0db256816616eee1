/*  test_collector.c — unit tests of the collector's modules that need no
    database: the catalog check, the settings table and the roll-up rules
    (figures).
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "figures.h"
#include "settings.h"
#include "slice.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>

//  The calling thread's slice in ns as sched_getattr reports it (its
//  sched_runtime, 0 before Linux 6.12), read without slice.c's code.
static uint64_t
s_slice_ns (void)
{
    uint32_t attr [14] = { 0 };     //  struct sched_attr, 56 bytes
    if (syscall (SYS_sched_getattr, 0, attr, (unsigned int) sizeof attr, 0))
        return UINT64_MAX;
    uint64_t runtime;
    memcpy (&runtime, &attr [6], sizeof runtime);   //  after size, policy, flags, nice, priority
    return runtime;
}

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
    //  0 keeps the kernel's slice; 1..99 are below what the kernel takes.
    char *short_slice [] = { "tally-collector", "--sched-slice-us", "50", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, short_slice, 1), -1);
    char *long_slice [] = { "tally-collector", "--sched-slice-us", "100001", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, long_slice, 1), -1);
    char *no_slice [] = { "tally-collector", "--sched-slice-us", "0", NULL };
    ck_assert_int_eq (settings_parse (&settings, 3, no_slice, 1), 0);
    ck_assert_int_eq (settings.sched_slice_us, 0);
    settings_free (&settings);
}
END_TEST

//  Runs in a thread started after the slice was asked for.
static void *
s_read_slice (void *arg)
{
    *(uint64_t *) arg = s_slice_ns ();
    return NULL;
}

START_TEST (test_slice_request)
{
    char why [160] = "";
    ck_assert_int_eq (slice_request (99, why, sizeof why), -1);
    ck_assert_ptr_nonnull (strstr (why, "99 us"));
    ck_assert_int_eq (slice_request (100001, why, sizeof why), -1);
    //  The nice value stays (Check runs each test in a process of its own).
    errno = 0;
    int niced = nice (3);
    ck_assert (niced != -1 || errno == 0);
    why [0] = 0;
    if (slice_request (300, why, sizeof why)) {
        //  An older kernel: nothing changed, and the reason is given.
        ck_assert_msg (strstr (why, "6.12") || strstr (why, "sched_"), "unexpected reason: %s", why);
        ck_assert_uint_eq (s_slice_ns (), 0);
        return;
    }
    ck_assert_uint_eq (s_slice_ns (), 300000);
    errno = 0;
    ck_assert_int_eq (nice (0), niced);
    //  Threads started afterwards (ZeroMQ's, the committers) inherit it.
    uint64_t in_thread = 0;
    pthread_t thread;
    ck_assert_int_eq (pthread_create (&thread, NULL, s_read_slice, &in_thread), 0);
    pthread_join (thread, NULL);
    ck_assert_uint_eq (in_thread, 300000);
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
    //  Values checked beyond their type are checked as the file is read too.
    s_expect_bad_config ("\nlog-level = verbose\n",
                         "2: key 'log-level': 'verbose' is not error, warning, info or debug");
    s_expect_bad_config ("sched-slice-us = 50\n", "1: key 'sched-slice-us': 50 is below the kernel's least");
}
END_TEST

//  On the command line the same values name the option.
static void
s_expect_bad_option (const char *option, const char *value, const char *words)
{
    settings_t settings;
    settings_init (&settings);
    char *argv [] = { "tally-collector", (char *) option, (char *) value, NULL };
    FILE *saved = stderr;
    char buffer [1024] = "";
    stderr = fmemopen (buffer, sizeof buffer, "w");
    int rc = settings_parse (&settings, 3, argv, 1);
    fclose (stderr);
    stderr = saved;
    ck_assert_int_eq (rc, -1);
    ck_assert_msg (strstr (buffer, words), "'%s' does not say '%s'", buffer, words);
    settings_free (&settings);
}

START_TEST (test_option_value_errors)
{
    s_expect_bad_option ("--log-level", "verbose",
                         "option --log-level: 'verbose' is not error, warning, info or debug");
    s_expect_bad_option ("--sched-slice-us", "50", "option --sched-slice-us: 50 is below the kernel's least, 100");
}
END_TEST

//  A folder, or anything else that is not a regular file, is refused like a
//  missing file rather than read as an empty one (which meant the defaults).
START_TEST (test_config_not_a_file)
{
    char dir [] = "/tmp/tally-conf-dir-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    const char *paths [] = { dir, "/dev/null", "/nonexistent/tally.conf" };
    for (size_t i = 0; i < 3; i++) {
        settings_t settings;
        settings_init (&settings);
        char err [1024] = "";
        ck_assert_int_eq (settings_read_file (&settings, paths [i], err, sizeof err), -1);
        char want [300];
        snprintf (want, sizeof want, "%s: cannot read the config file", paths [i]);
        ck_assert_msg (strstr (err, want), "'%s' does not say '%s'", err, want);
        ck_assert_str_eq (settings.config, "");
        settings_free (&settings);
    }
    ck_assert_int_eq (rmdir (dir), 0);
}
END_TEST

//  --------------------------------------------------------------------------
//  figures: rows as tally_lock returns them (province 22 > city 2205 >
//  counties 220502, 220503); metrics 1 (sum), 2 (none).

static figures_t *
s_figures (const char *county_own, const char *county_as_of, const char *county_report,
           const char *city_total)
{
    figures_t *figures = figures_new ();
    ck_assert_int_eq (figures_add_metric (figures, "projects_planned", 1, true), 0);
    ck_assert_int_eq (figures_add_metric (figures, "prep_completion_pct", 2, false), 0);
    char err [200];
    ck_assert_int_eq (figures_add_row (figures, "22", 2022, NULL, 1, "吉林省", "province", false, NULL, NULL,
                                       NULL, NULL, city_total, err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "2205", 2022, "22", 2, "通化市", "city", false, NULL, NULL,
                                       NULL, NULL, city_total, err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "220502", 2022, "2205", 0, "东昌区", "county", false,
                                       county_own, county_as_of, county_report, NULL, county_own,
                                       err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "220503", 2022, "2205", 0, "二道江区", "county", false,
                                       NULL, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    return figures;
}

static const figures_row_t *
s_row (figures_t *figures, const char *region)
{
    for (size_t i = 0; i < figures_row_count (figures); i++)
        if (strcmp (figures_row (figures, i)->region, region) == 0)
            return figures_row (figures, i);
    ck_abort_msg ("no row %s", region);
    return NULL;
}

START_TEST (test_figures_roll_up)
{
    //  220502 had 10 (as of 02-20, report 5); the city and province 10.
    figures_t *figures = s_figures ("{10,NULL}", "{2022-02-20,NULL}", "{5,NULL}", "{10,NULL}");
    char err [200];
    //  Two reports of 220502 in the batch: the newer as_of wins (12, not 40).
    ck_assert_int_eq (figures_offer (figures, "220502", 2022, "2022-02-28", 7, "projects_planned", 12,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_offer (figures, "220502", 2022, "2022-02-27", 9, "projects_planned", 40,
                                     err, sizeof err), 0);
    //  220503's first figure, and a rate (rule none) of its own.
    ck_assert_int_eq (figures_offer (figures, "220503", 2022, "2022-02-28", 8, "projects_planned", 3,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_offer (figures, "220503", 2022, "2022-02-28", 8, "prep_completion_pct",
                                     7000, err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);

    const figures_row_t *county = s_row (figures, "220502");
    ck_assert (county->changed && county->own_changed && !county->above);
    ck_assert_int_eq (county->own [1], 12);
    ck_assert_int_eq (county->own_report [1], 7);
    ck_assert_str_eq (county->own_as_of [1], "2022-02-28");
    ck_assert (county->has_previous [1]);
    ck_assert_int_eq (county->previous [1], 10);
    ck_assert_int_eq (county->total [1], 12);
    const figures_row_t *other = s_row (figures, "220503");
    ck_assert (!other->has_previous [1]);
    ck_assert_int_eq (other->total [2], 7000);
    //  Sums: 10 + (12 - 10) + 3; the rate stays with its county.
    const figures_row_t *city = s_row (figures, "2205");
    //  No row was created: nothing to recount above.
    ck_assert (city->changed && !city->above && !city->own_changed);
    ck_assert_int_eq (city->total [1], 15);
    ck_assert (!city->has_total [2]);
    ck_assert_str_eq (city->as_of, "2022-02-28");
    ck_assert_int_eq (s_row (figures, "22")->total [1], 15);
    //  For the feed: metrics in key order, rows by region and year.
    size_t metrics;
    const int *by_key = figures_by_key (figures, &metrics);
    ck_assert_int_eq (metrics, 2);
    ck_assert_str_eq (figures_key (figures, by_key [0]), "prep_completion_pct");
    ck_assert_str_eq (figures_key (figures, by_key [1]), "projects_planned");
    ck_assert_ptr_eq (figures_find (figures, "2205", 2022), city);
    ck_assert_ptr_null (figures_find (figures, "2205", 2021));
    ck_assert_int_eq (city->children, 2);
    ck_assert_str_eq (city->name, "通化市");
    figures_destroy (&figures);
}
END_TEST

START_TEST (test_figures_older_and_ties)
{
    figures_t *figures = s_figures ("{10,NULL}", "{2022-02-20,NULL}", "{5,NULL}", "{10,NULL}");
    char err [200];
    //  Older than the stored figure: changes nothing.
    ck_assert_int_eq (figures_offer (figures, "220502", 2022, "2022-02-19", 9, "projects_planned", 99,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);
    ck_assert (!s_row (figures, "220502")->changed);
    ck_assert (!s_row (figures, "2205")->changed);
    figures_destroy (&figures);

    //  Same as_of: the later-stored report (higher id) wins.
    figures = s_figures ("{10,NULL}", "{2022-02-20,NULL}", "{5,NULL}", "{10,NULL}");
    ck_assert_int_eq (figures_offer (figures, "220502", 2022, "2022-02-20", 4, "projects_planned", 1,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);
    ck_assert (!s_row (figures, "220502")->changed);
    figures_destroy (&figures);
    figures = s_figures ("{10,NULL}", "{2022-02-20,NULL}", "{5,NULL}", "{10,NULL}");
    ck_assert_int_eq (figures_offer (figures, "220502", 2022, "2022-02-20", 6, "projects_planned", 1,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);
    ck_assert_int_eq (s_row (figures, "22")->total [1], 1);
    figures_destroy (&figures);
}
END_TEST

//  The rows a store keeps from batch to batch: a branch copied from them
//  is worked on apart (the kept rows do not change), the rows written are
//  kept with their versions, a forgotten row is gone and the others are
//  still found, and the batch's stand-in report ids become the real ones.
START_TEST (test_figures_kept)
{
    figures_t *batch = s_figures ("{10,NULL}", "{2022-02-20,NULL}", "{5,NULL}", "{10,NULL}");
    figures_t *known = figures_new_like (batch);
    char *signature = figures_metric_signature (known);
    ck_assert_str_eq (signature, "projects_planned:1:true,prep_completion_pct:2:false");
    free (signature);
    for (size_t i = 0; i < figures_row_count (batch); i++)
        ck_assert_int_eq (figures_keep (known, batch, figures_row (batch, i)->region, 2022,
                                        100 + (int64_t) i), 0);
    ck_assert_int_eq (figures_keep (known, batch, "220502", 2021, 1), -1);
    figures_destroy (&batch);
    ck_assert_int_eq (figures_row_count (known), 4);

    figures_t *work = figures_new_like (known);
    ck_assert_int_eq (figures_copy_branch (work, known, "220502", 2022), 0);
    ck_assert_int_eq (figures_row_count (work), 3);          //  the county, city, province
    ck_assert_int_eq (figures_copy_branch (work, known, "220503", 2022), 0);
    ck_assert_int_eq (figures_row_count (work), 4);          //  its parents were there
    ck_assert_int_eq (figures_copy_branch (work, known, "220502", 2021), -1);
    const int64_t stand_in = (int64_t) 1 << 62;
    char err [200];
    ck_assert_int_eq (figures_offer (work, "220502", 2022, "2022-02-28", stand_in + 2,
                                     "projects_planned", 12, err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (work, err, sizeof err), 0);
    ck_assert_int_eq (s_row (work, "2205")->total [1], 12);
    ck_assert_int_eq (s_row (work, "2205")->version, 101);
    ck_assert_str_eq (figures_parent_code (work, 0), "2205");
    //  The kept rows are as they were.
    ck_assert_int_eq (s_row (known, "2205")->total [1], 10);
    ck_assert_int_eq (s_row (known, "220502")->own_report [1], 5);

    int64_t ids [2] = { 41, 42 };
    figures_map_reports (work, stand_in, ids, 2);
    ck_assert_int_eq (s_row (work, "220502")->own_report [1], 42);
    ck_assert_int_eq (figures_keep (known, work, "220502", 2022, 200), 0);
    ck_assert_int_eq (figures_keep (known, work, "2205", 2022, 201), 0);
    ck_assert_int_eq (figures_row_count (known), 4);
    const figures_row_t *county = figures_find (known, "220502", 2022);
    ck_assert (county && county->version == 200 && county->own [1] == 12 && county->own_report [1] == 42);
    ck_assert (!county->changed && !county->own_changed);
    ck_assert_int_eq (figures_find (known, "2205", 2022)->total [1], 12);

    //  Forgetting a row moves the last one into its place: all still found.
    figures_forget (known, "22", 2022);
    figures_forget (known, "22", 2022);
    ck_assert_int_eq (figures_row_count (known), 3);
    ck_assert_ptr_null (figures_find (known, "22", 2022));
    ck_assert_ptr_nonnull (figures_find (known, "220503", 2022));
    ck_assert_ptr_nonnull (figures_find (known, "220502", 2022));
    ck_assert_ptr_nonnull (figures_find (known, "2205", 2022));
    //  Without the province the branch is incomplete.
    figures_t *again = figures_new_like (known);
    ck_assert_int_eq (figures_copy_branch (again, known, "220503", 2022), -1);
    figures_destroy (&again);
    figures_destroy (&work);
    figures_destroy (&known);
}
END_TEST

START_TEST (test_figures_created)
{
    //  The batch created 220503's row (a report with no values): it is
    //  written, and every row above it, with `reported` recounted there.
    figures_t *figures = figures_new ();
    char err [200];
    ck_assert_int_eq (figures_add_metric (figures, "projects_planned", 1, true), 0);
    ck_assert_int_eq (figures_add_row (figures, "22", 2022, NULL, 1, "吉林省", "province", false,
                                       NULL, NULL, NULL, NULL, "{10}", err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "2205", 2022, "22", 2, "通化市", "city", false,
                                       NULL, NULL, NULL, NULL, "{10}", err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "220502", 2022, "2205", 0, "东昌区", "county", false,
                                       "{10}", "{2022-02-20}", "{5}", NULL, "{10}", err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "220503", 2022, "2205", 0, "二道江区", "county", true,
                                       NULL, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);
    const figures_row_t *created = s_row (figures, "220503");
    ck_assert (created->created && created->changed && !created->above && !created->own_changed);
    const figures_row_t *city = s_row (figures, "2205");
    ck_assert (city->changed && city->above && !city->own_changed);
    ck_assert_str_eq (city->as_of, "");
    ck_assert_int_eq (city->total [1], 10);
    ck_assert (s_row (figures, "22")->changed && s_row (figures, "22")->above);
    ck_assert (!s_row (figures, "220502")->changed);
    figures_destroy (&figures);

    //  A city's own report creates the city's row: it counts its children.
    figures = figures_new ();
    ck_assert_int_eq (figures_add_metric (figures, "projects_planned", 1, true), 0);
    ck_assert_int_eq (figures_add_row (figures, "22", 2023, NULL, 1, "吉林省", "province", false,
                                       NULL, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq (figures_add_row (figures, "2205", 2023, "22", 2, "通化市", "city", true,
                                       NULL, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq (figures_offer (figures, "2205", 2023, "2023-01-31", 11, "projects_planned", 4,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), 0);
    city = s_row (figures, "2205");
    ck_assert (city->changed && city->own_changed && city->above);
    ck_assert (s_row (figures, "22")->changed && s_row (figures, "22")->above);
    figures_destroy (&figures);
}
END_TEST

START_TEST (test_figures_bad_input)
{
    figures_t *figures = figures_new ();
    char err [200];
    ck_assert_int_eq (figures_add_metric (figures, "projects_planned", 0, true), -1);
    ck_assert_int_eq (figures_add_metric (figures, "projects_planned", 1, true), 0);
    //  Literals it cannot read are refused with the column named.
    ck_assert_int_eq (figures_add_row (figures, "22", 2022, NULL, 0, "", "", false, "{1,x}",
                                       "{2022-01-01,NULL}", "{1}", NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "column own "));
    ck_assert_int_eq (figures_add_row (figures, "22", 2022, NULL, 0, "", "", false, "{1}", NULL, "{1}",
                                       NULL, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "own_as_of"));
    ck_assert_int_eq (figures_add_row (figures, "22", 2022, NULL, 0, "", "", false, "[0:1]={1,2}", NULL,
                                       NULL, NULL, NULL, err, sizeof err), -1);
    //  A value for a row or metric tally_lock did not return.
    ck_assert_int_eq (figures_offer (figures, "22", 2022, "2022-01-01", 1, "projects_planned", 1,
                                     err, sizeof err), -1);
    ck_assert_int_eq (figures_add_row (figures, "2205", 2022, "22", 0, "", "", false, NULL, NULL, NULL,
                                       NULL, NULL, err, sizeof err), 0);
    ck_assert_int_eq (figures_offer (figures, "2205", 2022, "2022-01-01", 1, "cattle", 1,
                                     err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "metric"));
    //  Its parent not locked.
    ck_assert_int_eq (figures_offer (figures, "2205", 2022, "2022-01-01", 1, "projects_planned", 1,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "parent 22 was not locked"));
    figures_destroy (&figures);

    //  A total beyond bigint.
    figures = s_figures ("{9223372036854775807,NULL}", "{2022-02-20,NULL}", "{5,NULL}",
                         "{9223372036854775807,NULL}");
    ck_assert_int_eq (figures_offer (figures, "220503", 2022, "2022-02-28", 8, "projects_planned", 1,
                                     err, sizeof err), 0);
    ck_assert_int_eq (figures_merge (figures, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "out of range"));
    figures_destroy (&figures);
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
    tcase_add_test (tc, test_slice_request);
    tcase_add_test (tc, test_config_file_and_precedence);
    tcase_add_test (tc, test_config_file_errors);
    tcase_add_test (tc, test_option_value_errors);
    tcase_add_test (tc, test_config_not_a_file);
    tcase_add_test (tc, test_figures_roll_up);
    tcase_add_test (tc, test_figures_older_and_ties);
    tcase_add_test (tc, test_figures_created);
    tcase_add_test (tc, test_figures_kept);
    tcase_add_test (tc, test_figures_bad_input);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
