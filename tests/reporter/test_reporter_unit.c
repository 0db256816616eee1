/*  test_reporter_unit.c — unit suite of tally-reporter's modules.

    Reads as a tour of the modules: input (CSV, JSON and --set figures, and
    the errors a county officer sees), outbox (durable, all-or-nothing
    queueing, checked by crashing a child process at every step), deliver
    (against an in-process fake collector: acks, permanent nacks, silence,
    `unavailable`, a collector that is down and comes back), backoff, and
    the regions list keygen puts in a county's key.
*/
#include <check.h>
#include <czmq.h>
#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff.h"
#include "deliver.h"
#include "input.h"
#include "keygen.h"
#include "outbox.h"

//  -------------------------------------------------------------------------
//  Helpers

static input_t *
s_csv (const char *text, const char *region, const char *as_of)
{
    input_options_t options = { .region = region, .as_of = as_of };
    input_t *input = input_new ("t.csv", &options);
    input_read_csv (input, text, strlen (text));
    input_finish (input);
    return input;
}

static input_t *
s_json (const char *text, const char *region, const char *as_of)
{
    input_options_t options = { .region = region, .as_of = as_of };
    input_t *input = input_new ("t.json", &options);
    input_read_json (input, text, strlen (text));
    input_finish (input);
    return input;
}

//  True when some error message contains every one of the given fragments.
static bool
s_has_error (input_t *input, const char *first, const char *second)
{
    for (size_t i = 0; i < input_error_count (input); i++) {
        const char *text = input_error_text (input, i);
        if (text && strstr (text, first) && (!second || strstr (text, second)))
            return true;
    }
    return false;
}

static void
s_dump_errors (input_t *input)
{
    for (size_t i = 0; i < input_error_count (input); i++)
        if (input_error_text (input, i))
            fprintf (stderr, "  error: %s\n", input_error_text (input, i));
}

#define ck_assert_error(input, first, second) \
    do { if (!s_has_error (input, first, second)) s_dump_errors (input); \
         ck_assert_msg (s_has_error (input, first, second), "no error with \"%s\" / \"%s\"", \
                        first, second ? second : ""); } while (0)

static proto_msg_t *
s_find (input_t *input, const char *region, const char *as_of)
{
    for (size_t i = 0; i < input_report_count (input); i++) {
        proto_msg_t *report = input_report_at (input, i);
        if (strcmp (report->region, region) == 0 && strcmp (report->as_of, as_of) == 0)
            return report;
    }
    return NULL;
}

static int64_t
s_value (proto_msg_t *report, const char *key)
{
    int64_t value = -1;
    ck_assert_msg (proto_msg_value (report, false, key, &value), "no %s", key);
    return value;
}

static char *
s_tempdir (void)
{
    char path [] = "/tmp/tally-reporter-unit-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (path));
    return strdup (path);
}

static void
s_remove (const char *path)
{
    char *command = zsys_sprintf ("rm -rf '%s'", path);
    ck_assert_int_eq (system (command), 0);
    zstr_free (&command);
}

//  Reports for region/as_of days starting at 2022-01-01, one value each.
static proto_msg_t **
s_make_reports (size_t count, const char *region)
{
    proto_msg_t **reports = (proto_msg_t **) calloc (count, sizeof (proto_msg_t *));
    for (size_t i = 0; i < count; i++) {
        reports [i] = proto_msg_new (PROTO_REPORT);
        snprintf (reports [i]->region, sizeof reports [i]->region, "%s", region);
        snprintf (reports [i]->as_of, sizeof reports [i]->as_of, "2022-%02zu-%02zu",
                  1 + i / 28 % 12, 1 + i % 28);
        proto_msg_add_value (reports [i], false, "projects_started", (int64_t) i);
    }
    return reports;
}

static void
s_free_reports (proto_msg_t **reports, size_t count)
{
    for (size_t i = 0; i < count; i++)
        proto_msg_destroy (&reports [i]);
    free (reports);
}

static size_t
s_count_files (const char *folder, const char *suffix)
{
    size_t count = 0;
    DIR *dir = opendir (folder);
    if (!dir)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t length = strlen (entry->d_name);
        if (length > strlen (suffix) && strcmp (entry->d_name + length - strlen (suffix), suffix) == 0)
            count++;
    }
    closedir (dir);
    return count;
}

//  -------------------------------------------------------------------------
//  CSV

START_TEST (test_csv_seed_file)
{
    //  The seed file as is: one report per (region, as_of), other columns ignored.
    input_options_t options = { 0 };
    input_t *input = input_new (TEST_SEED_CSV, &options);
    ck_assert_int_eq (input_read_file (input, TEST_SEED_CSV), 0);
    ck_assert_int_eq (input_finish (input), 0);
    ck_assert_uint_eq (input_report_count (input), 8);
    size_t values = 0;
    for (size_t i = 0; i < input_report_count (input); i++)
        values += input_report_at (input, i)->value_count;
    ck_assert_uint_eq (values, 68);
    ck_assert_int_eq (s_value (s_find (input, "220524", "2022-02-28"), "projects_planned_investment"), 1090500);
    ck_assert_int_eq (s_value (s_find (input, "220524", "2022-02-28"), "prep_completion_pct"), 5740);
    ck_assert_int_eq (s_value (s_find (input, "220500", "2022-03-01"), "projects_started"), 84);
    ck_assert_uint_eq (strlen (input_digest (input)), 40);
    input_destroy (&input);
}
END_TEST

START_TEST (test_csv_region_filter)
{
    //  --region on a file with a region column keeps only that region's rows.
    input_options_t options = { .region = "220582" };
    input_t *input = input_new (TEST_SEED_CSV, &options);
    ck_assert_int_eq (input_read_file (input, TEST_SEED_CSV), 0);
    ck_assert_int_eq (input_finish (input), 0);
    ck_assert_uint_eq (input_report_count (input), 1);
    ck_assert_uint_eq (input_report_at (input, 0)->value_count, 16);
    input_destroy (&input);

    options.region = "220500";
    input = input_new (TEST_SEED_CSV, &options);
    input_read_file (input, TEST_SEED_CSV);
    ck_assert_int_eq (input_finish (input), 0);
    ck_assert_uint_eq (input_report_count (input), 2);
    input_destroy (&input);

    options.as_of = "2022-03-01";
    input = input_new (TEST_SEED_CSV, &options);
    input_read_file (input, TEST_SEED_CSV);
    ck_assert_int_eq (input_finish (input), 0);
    ck_assert_uint_eq (input_report_count (input), 1);
    ck_assert_uint_eq (input_report_at (input, 0)->value_count, 3);
    input_destroy (&input);

    //  A filter that matches nothing is an error, not an empty send.
    options.region = "220599";
    options.as_of = NULL;
    input = input_new (TEST_SEED_CSV, &options);
    input_read_file (input, TEST_SEED_CSV);
    ck_assert_int_eq (input_finish (input), -1);
    ck_assert_error (input, "no figures for region 220599", NULL);
    input_destroy (&input);
}
END_TEST

START_TEST (test_csv_metric_value)
{
    input_t *input = s_csv ("metric,value\nprojects_started,15\ncattle_added, 1239\n",
                            "220582", "2022-02-28");
    ck_assert_uint_eq (input_error_count (input), 0);
    ck_assert_uint_eq (input_report_count (input), 1);
    proto_msg_t *report = input_report_at (input, 0);
    ck_assert_str_eq (report->region, "220582");
    ck_assert_str_eq (report->as_of, "2022-02-28");
    ck_assert_int_eq (s_value (report, "cattle_added"), 1239);
    input_destroy (&input);

    //  Without a header, when every row is just metric,value.
    input = s_csv ("projects_started,15\r\ncattle_added,-3\r\n", "220582", "2022-02-28");
    ck_assert_uint_eq (input_error_count (input), 0);
    ck_assert_int_eq (s_value (input_report_at (input, 0), "cattle_added"), -3);
    input_destroy (&input);

    //  ...but then region and as_of must come from somewhere.
    input = s_csv ("metric,value\nprojects_started,15\n", NULL, "2022-02-28");
    ck_assert_error (input, "line 2", "--region");
    input_destroy (&input);
    input = s_csv ("metric,value\nprojects_started,15\n", "220582", NULL);
    ck_assert_error (input, "line 2", "--as-of");
    input_destroy (&input);
}
END_TEST

START_TEST (test_csv_rfc4180)
{
    //  BOM, CRLF, quoted fields with commas, quotes and a line break: the
    //  line numbers after the multi-line field are still right.
    const char *text =
        "\xEF\xBB\xBFregion,as_of,metric,value,source\r\n"
        "220582,2022-02-28,projects_started,15,\"集安市, \"\"15个\"\"\"\r\n"
        "220582,2022-02-28,cattle_added,1239,\"two\r\nlines\"\r\n"
        "\r\n"
        "220582,2022-02-28,projects_new,1.5,x\r\n";
    input_t *input = s_csv (text, NULL, NULL);
    ck_assert_uint_eq (input_error_count (input), 1);
    ck_assert_error (input, "t.csv, line 6, column 4 (value)", "not a whole number");
    ck_assert_uint_eq (s_find (input, "220582", "2022-02-28")->value_count, 2);
    input_destroy (&input);
}
END_TEST

START_TEST (test_csv_errors)
{
    const char *header = "region,as_of,metric,value\n";
    struct { const char *rows; const char *first; const char *second; } cases [] = {
        { "220582,2022-02-28,projects_started,47.7\n", "line 2, column 4 (value)", "47.7亿元 is written 477000" },
        { "220582,2022-02-28,projects_started,15个\n", "line 2, column 4 (value)", "not a whole number" },
        { "220582,2022-02-28,projects_started,1,000\n", "line 2", "has 5 fields but the header has 4" },
        { "220582,2022-02-28,projects_started,\n", "line 2, column 4 (value)", "empty" },
        { "220582,2022-02-28,projects_started,99999999999999999999\n", "line 2, column 4", "not a whole number" },
        { "220582,2022-02-30,projects_started,1\n", "line 2, column 2 (as_of)", "not a real calendar date" },
        { "220582,0999-12-31,projects_started,1\n", "line 2, column 2 (as_of)", "is before the year 1000" },
        { "220582,2022/02/28,projects_started,1\n", "line 2, column 2 (as_of)", "is not a date written YYYY-MM-DD" },
        { "220582,28/02/2022,projects_started,1\n", "line 2, column 2 (as_of)", "YYYY-MM-DD" },
        { "220582,2022-02-28,Projects Started,1\n", "line 2, column 3 (metric)", "not a metric key" },
        { "220582,,projects_started,1\n", "line 2, column 2 (as_of)", "empty" },
        { "22 05,2022-02-28,projects_started,1\n", "line 2, column 1 (region)", "not a region code" },
        { "220582,2022-02-28,projects_started,1\n220582,2022-02-28,projects_started,2\n",
          "line 3, column 3 (metric)", "given twice for region 220582 as of 2022-02-28 (first on line 2)" },
        { "220582,2022-02-28,projects_started,\"1\n", "line 2", "never closed" },
        { "220582,2022-02-28,projects\"started,1\n", "line 2, column 3", "malformed CSV quoting" },
        { "220582,2022-02-28,projects_started,\"1\"x\n", "line 2, column 4", "malformed CSV quoting" },
        { "220582,2022-02-28,projects_\xff,1\n", "line 2, column 3 (metric)", "UTF-8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *text = zsys_sprintf ("%s%s", header, cases [i].rows);
        input_t *input = s_csv (text, NULL, NULL);
        ck_assert_msg (input_error_count (input) > 0, "case %zu gave no error", i);
        ck_assert_error (input, cases [i].first, cases [i].second);
        input_destroy (&input);
        zstr_free (&text);
    }
    //  Header and file-level problems.
    input_t *input = s_csv ("", NULL, NULL);
    ck_assert_error (input, "t.csv: ", "empty");
    input_destroy (&input);
    input = s_csv ("region,as_of,metric,amount\n220582,2022-02-28,x,1\n", NULL, NULL);
    ck_assert_error (input, "line 1", "not including value");
    input_destroy (&input);

    //  Every error is reported, not just the first; a good row does not
    //  make a file with bad rows acceptable.
    input = s_csv ("region,as_of,metric,value\n"
                   "220582,2022-02-28,projects_started,15\n"
                   "220582,2022-02-28,projects_new,x\n"
                   "220582,2022-13-01,projects_new,1\n", NULL, NULL);
    ck_assert_uint_eq (input_error_count (input), 2);
    ck_assert_int_eq (input_finish (input), -1);
    ck_assert_error (input, "line 3", "\"x\"");
    ck_assert_error (input, "line 4", "2022-13-01");
    input_destroy (&input);
}
END_TEST

START_TEST (test_csv_limits)
{
    //  At most 256 values per report; a note of at most 1024 bytes.
    char *text = strdup ("metric,value\n");
    for (int i = 0; i < 257; i++) {
        char *longer = zsys_sprintf ("%sm%d,%d\n", text, i, i);
        free (text);
        text = longer;
    }
    input_t *input = s_csv (text, "220582", "2022-02-28");
    ck_assert_error (input, "line 258", "more than 256 values");
    input_destroy (&input);
    free (text);

    char note [1100];
    memset (note, 'n', 1025);
    note [1025] = 0;
    text = zsys_sprintf ("metric,value,note\nprojects_started,1,%s\n", note);
    input = s_csv (text, "220582", "2022-02-28");
    ck_assert_error (input, "line 2, column 3 (note)", "1025 bytes");
    input_destroy (&input);
    zstr_free (&text);

    input = s_csv ("metric,value,note\nprojects_started,1,新建项目\n", "220582", "2022-02-28");
    ck_assert_uint_eq (input_error_count (input), 0);
    ck_assert_str_eq (input_report_at (input, 0)->note, "新建项目");
    input_destroy (&input);
}
END_TEST

//  -------------------------------------------------------------------------
//  JSON

START_TEST (test_json_reports)
{
    input_t *input = s_json ("{\"region\": \"220582\", \"as_of\": \"2022-02-28\",\n"
                             " \"values\": {\"projects_started\": 15, \"cattle_added\": 1239},\n"
                             " \"note\": \"集中开工\"}", NULL, NULL);
    ck_assert_uint_eq (input_error_count (input), 0);
    ck_assert_uint_eq (input_report_count (input), 1);
    ck_assert_int_eq (s_value (input_report_at (input, 0), "cattle_added"), 1239);
    ck_assert_str_eq (input_report_at (input, 0)->note, "集中开工");
    input_destroy (&input);

    input = s_json ("[{\"region\": \"220582\", \"as_of\": \"2022-02-28\", \"values\": {\"projects_started\": 15}},\n"
                    " {\"region\": \"220524\", \"as_of\": \"2022-02-28\", \"values\": {\"projects_started\": 3}}]",
                    "220524", NULL);
    ck_assert_uint_eq (input_error_count (input), 0);
    ck_assert_uint_eq (input_report_count (input), 1);
    ck_assert_str_eq (input_report_at (input, 0)->region, "220524");
    input_destroy (&input);

    //  The same figures in CSV and JSON, in any order, are the same input.
    input_t *csv = s_csv ("region,as_of,metric,value\n220582,2022-02-28,cattle_added,1239\n"
                          "220582,2022-02-28,projects_started,15\n", NULL, NULL);
    input_t *json = s_json ("{\"region\": \"220582\", \"as_of\": \"2022-02-28\","
                            " \"values\": {\"projects_started\": 15, \"cattle_added\": 1239}}", NULL, NULL);
    ck_assert_str_eq (input_digest (csv), input_digest (json));
    input_t *other = s_json ("{\"region\": \"220582\", \"as_of\": \"2022-02-28\","
                             " \"values\": {\"projects_started\": 16, \"cattle_added\": 1239}}", NULL, NULL);
    ck_assert_str_ne (input_digest (csv), input_digest (other));
    input_destroy (&csv);
    input_destroy (&json);
    input_destroy (&other);
}
END_TEST

START_TEST (test_json_errors)
{
    struct { const char *text; const char *first; const char *second; } cases [] = {
        { "{\"region\": \"220582\",\n \"as_of\": \"2022-02-28\",\n \"values\": {\n   \"projects_started\": 1.5}}",
          "line 4, column 4", "not a whole number" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-28\",\n \"values\": {\"projects_started\": \"15\"}}",
          "line 2", "without quotes" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-28\"}", "line 1", "no \"values\"" },
        { "{\"region\": 220582, \"as_of\": \"2022-02-28\", \"values\": {\"a\": 1}}", "line 1, column 12", "must be a string" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-29\", \"values\": {\"a\": 1}}", "line 1, column 31 (as_of)", "not a real calendar date" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-28\", \"value\": {\"a\": 1}}", "line 1", "unknown key \"value\"" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-28\", \"values\": {}}", "line 1", "non-empty object" },
        { "[{\"region\": \"220582\", \"as_of\": \"2022-02-28\", \"values\": {\"a\": 1}},\n 42]", "line 2, column 2", "element 2" },
        { "{\"region\": \"220582\",\n \"as_of\": \"2022-02-28\"\n \"values\": {}}", "line 3", "invalid JSON" },
        { "{\"region\": \"220582\", \"region\": \"220583\"}", "line 1", "duplicate" },
        { "[]", "line 1", "no reports" },
        { "{\"region\": \"220582\", \"as_of\": \"2022-02-28\", \"values\": {\"Bad Key\": 1}}", "line 1", "not a metric key" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        input_t *input = s_json (cases [i].text, NULL, NULL);
        ck_assert_msg (input_error_count (input) > 0, "case %zu gave no error", i);
        ck_assert_error (input, cases [i].first, cases [i].second);
        ck_assert_error (input, "t.json, line", NULL);
        input_destroy (&input);
    }
}
END_TEST

//  -------------------------------------------------------------------------
//  --set

START_TEST (test_sets)
{
    input_options_t options = { .region = "220582", .as_of = "2022-02-28", .note = "by hand" };
    input_t *input = input_new ("command line", &options);
    const char *good [] = { "projects_started=15", "cattle_added=1239" };
    ck_assert_int_eq (input_read_sets (input, good, 2), 0);
    ck_assert_int_eq (input_finish (input), 0);
    ck_assert_str_eq (input_report_at (input, 0)->note, "by hand");
    input_destroy (&input);

    //  A bad date does not hide bad figures: every problem is told at once.
    options.as_of = "2022-02-30";
    input = input_new ("command line", &options);
    const char *bad [] = { "projects_started=1.5", "novalue", "Bad=1" };
    ck_assert_int_eq (input_read_sets (input, bad, 3), -1);
    ck_assert_error (input, "2022-02-30", "not a real calendar date");
    ck_assert_error (input, "projects_started", "not a whole number");
    ck_assert_error (input, "\"novalue\"", "KEY=VALUE");
    ck_assert_error (input, "\"Bad\"", "not a metric key");
    input_destroy (&input);
}
END_TEST

//  -------------------------------------------------------------------------
//  Outbox

START_TEST (test_outbox_queue)
{
    char *dir = s_tempdir ();
    char *folder = zsys_sprintf ("%s/outbox/deep", dir);
    char err [512];
    outbox_t *outbox = outbox_new (folder, err, sizeof err);
    ck_assert_ptr_nonnull (outbox);
    char source [PROTO_MAX_SOURCE + 1];
    snprintf (source, sizeof source, "%s", outbox_source (outbox));
    ck_assert (proto_source_valid (source));
    ck_assert_uint_eq (strlen (source), 36);           //  a canonical UUID

    proto_msg_t **reports = s_make_reports (3, "220582");
    outbox_receipt_t receipt;
    ck_assert_int_eq (outbox_queue (outbox, reports, 3, "aaaa", false, &receipt, err, sizeof err),
                      OUTBOX_QUEUED);
    ck_assert_int_eq (receipt.first_seq, 1);
    ck_assert_uint_eq (receipt.count, 3);

    //  Each report is its exact wire body, named by its seq.
    size_t count;
    outbox_entry_t *entries = outbox_pending (outbox, &count);
    ck_assert_uint_eq (count, 3);
    for (size_t i = 0; i < count; i++) {
        ck_assert_int_eq (entries [i].seq, (int64_t) i + 1);
        size_t size;
        uint8_t *body = outbox_load (outbox, &entries [i], &size);
        proto_error_t error;
        proto_msg_t *decoded = proto_msg_decode (body, size, 0, &error);
        ck_assert_ptr_nonnull (decoded);
        ck_assert_str_eq (decoded->source, source);
        ck_assert_int_eq (decoded->seq, (int64_t) i + 1);
        ck_assert_str_eq (decoded->as_of, reports [i]->as_of);
        proto_msg_destroy (&decoded);
        free (body);
    }

    //  The same input again is recognised; --again queues it anew.
    ck_assert_int_eq (outbox_queue (outbox, reports, 3, "aaaa", false, &receipt, err, sizeof err),
                      OUTBOX_ALREADY);
    ck_assert_int_eq (receipt.first_seq, 1);
    ck_assert_uint_eq (receipt.count, 3);
    ck_assert_int_eq (outbox_queue (outbox, reports, 3, "aaaa", true, &receipt, err, sizeof err),
                      OUTBOX_QUEUED);
    ck_assert_int_eq (receipt.first_seq, 4);

    //  Ack and permanent nack: the report leaves queue/; a rejected one is kept with why.
    ck_assert_int_eq (outbox_delivered (outbox, &entries [0]), 0);
    ck_assert_int_eq (outbox_rejected (outbox, &entries [1], "region 220582: unknown_region: no"), 0);
    ck_assert_uint_eq (outbox_rejected_count (outbox), 1);
    char *rejected = zsys_sprintf ("%s/rejected", folder);
    ck_assert_uint_eq (s_count_files (rejected, ".txt"), 1);
    zstr_free (&rejected);
    free (entries);
    outbox_destroy (&outbox);

    //  Reopen: same source, seqs continue, memory of inputs kept.
    outbox = outbox_new (folder, err, sizeof err);
    ck_assert_str_eq (outbox_source (outbox), source);
    entries = outbox_pending (outbox, &count);
    ck_assert_uint_eq (count, 4);
    for (size_t i = 0; i < count; i++)
        outbox_delivered (outbox, &entries [i]);
    free (entries);
    outbox_tidy (outbox);
    char *queue = zsys_sprintf ("%s/queue", folder);
    ck_assert_uint_eq (s_count_files (queue, ""), 2);    //  only . and ..
    zstr_free (&queue);
    ck_assert_int_eq (outbox_queue (outbox, reports, 3, "aaaa", false, &receipt, err, sizeof err),
                      OUTBOX_ALREADY);
    ck_assert_int_eq (outbox_queue (outbox, reports, 2, "bbbb", false, &receipt, err, sizeof err),
                      OUTBOX_QUEUED);
    ck_assert_int_eq (receipt.first_seq, 7);
    outbox_destroy (&outbox);

    s_free_reports (reports, 3);
    zstr_free (&folder);
    s_remove (dir);
    free (dir);
}
END_TEST

//  status and flush open an outbox with outbox_open: a mistyped folder is
//  refused and nothing is created; only outbox_new (send, run) makes one.
START_TEST (test_outbox_open_existing)
{
    char *dir = s_tempdir ();
    char *typo = zsys_sprintf ("%s/typo/outbox", dir);
    char err [512];
    ck_assert_ptr_null (outbox_open (typo, err, sizeof err));
    char *want = zsys_sprintf ("no outbox at %s (send or run creates one; check --outbox)", typo);
    ck_assert_str_eq (err, want);
    struct stat info;
    ck_assert_int_ne (stat (typo, &info), 0);
    char *parent = zsys_sprintf ("%s/typo", dir);
    ck_assert_int_ne (stat (parent, &info), 0);
    //  A folder that exists but is no outbox is refused too, and left as is.
    ck_assert_ptr_null (outbox_open (dir, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "no outbox at"));
    char *queue = zsys_sprintf ("%s/queue", dir);
    ck_assert_int_ne (stat (queue, &info), 0);

    outbox_t *made = outbox_new (typo, err, sizeof err);
    ck_assert_ptr_nonnull (made);
    char source [PROTO_MAX_SOURCE + 1];
    snprintf (source, sizeof source, "%s", outbox_source (made));
    outbox_destroy (&made);
    outbox_t *opened = outbox_open (typo, err, sizeof err);
    ck_assert_ptr_nonnull (opened);
    ck_assert_str_eq (outbox_source (opened), source);
    outbox_destroy (&opened);
    s_remove (dir);
    zstr_free (&queue);
    zstr_free (&parent);
    zstr_free (&want);
    zstr_free (&typo);
    free (dir);
}
END_TEST

START_TEST (test_outbox_crash)
{
    //  Kill the writer (as kill -9 would) at every step of queueing: the batch
    //  is then either all there or not at all, its digest is known exactly
    //  when it is there, and no seq is ever handed out twice.
    char *dir = s_tempdir ();
    char err [512];
    zhashx_t *seen = zhashx_new ();
    int64_t last_next = 0;
    for (int round = 0; round < 2; round++)
    for (int point = 1; point <= OUTBOX_CRASH_POINTS; point++) {
        char digest [32];
        snprintf (digest, sizeof digest, "d%d-%d", round, point);
        proto_msg_t **reports = s_make_reports (5, "220582");
        pid_t pid = fork ();
        ck_assert_int_ge (pid, 0);
        if (pid == 0) {
            outbox_t *outbox = outbox_new (dir, err, sizeof err);
            if (!outbox)
                _exit (3);
            outbox_set_crash_point (outbox, point);
            outbox_queue (outbox, reports, 5, digest, false, NULL, err, sizeof err);
            _exit (0);
        }
        int status;
        waitpid (pid, &status, 0);
        ck_assert (WIFEXITED (status));
        ck_assert_int_eq (WEXITSTATUS (status), 77);

        outbox_t *outbox = outbox_new (dir, err, sizeof err);
        ck_assert_ptr_nonnull (outbox);
        size_t count;
        outbox_entry_t *entries = outbox_pending (outbox, &count);
        ck_assert_msg (count == 0 || count == 5, "crash at %d left %zu of 5 reports", point, count);
        ck_assert_msg ((count == 5) == (point >= 5), "crash at %d: %zu queued", point, count);
        for (size_t i = 0; i < count; i++) {
            char key [32];
            snprintf (key, sizeof key, "%" PRId64, entries [i].seq);
            ck_assert_msg (!zhashx_lookup (seen, key), "seq %s reused", key);
            zhashx_insert (seen, key, (void *) 1);
            ck_assert_int_ge (entries [i].seq, last_next);
            outbox_delivered (outbox, &entries [i]);
        }
        free (entries);

        //  Running the same input again: queued once in all.
        outbox_receipt_t receipt;
        int rc = outbox_queue (outbox, reports, 5, digest, false, &receipt, err, sizeof err);
        ck_assert_int_eq (rc, count == 5 ? OUTBOX_ALREADY : OUTBOX_QUEUED);
        entries = outbox_pending (outbox, &count);
        for (size_t i = 0; i < count; i++) {
            char key [32];
            snprintf (key, sizeof key, "%" PRId64, entries [i].seq);
            ck_assert_msg (!zhashx_lookup (seen, key), "seq %s reused", key);
            zhashx_insert (seen, key, (void *) 1);
            last_next = entries [i].seq + 1;
            outbox_delivered (outbox, &entries [i]);
        }
        free (entries);
        outbox_tidy (outbox);
        outbox_destroy (&outbox);
        s_free_reports (reports, 5);
    }
    //  No debris left in staging/.
    char *staging = zsys_sprintf ("%s/staging", dir);
    ck_assert_uint_eq (s_count_files (staging, ""), 2);
    zstr_free (&staging);
    zhashx_destroy (&seen);
    s_remove (dir);
    free (dir);
}
END_TEST

//  -------------------------------------------------------------------------
//  Back-off

START_TEST (test_backoff)
{
    uint32_t seed = 42;
    for (int round = 0; round < 200; round++) {
        for (int failures = 1; failures <= 20; failures++) {
            int64_t full = 250;
            for (int i = 1; i < failures && full < 30000; i++)
                full *= 2;
            if (full > 30000)
                full = 30000;
            int64_t delay = backoff_delay (failures, 250, 30000, 0, &seed);
            ck_assert_int_ge (delay, full / 2);
            ck_assert_int_le (delay, full);
        }
    }
    //  Capped at 30 s, however long the outage.
    ck_assert_int_le (backoff_delay (1000, 250, 30000, 0, &seed), 30000);
    //  The collector's retry_ms is a floor.
    ck_assert_int_ge (backoff_delay (1, 250, 30000, 5000, &seed), 5000);
    //  Jitter: the delays are not all the same.
    int64_t first = backoff_delay (5, 250, 30000, 0, &seed);
    bool differs = false;
    for (int i = 0; i < 20; i++)
        differs |= backoff_delay (5, 250, 30000, 0, &seed) != first;
    ck_assert (differs);
}
END_TEST

//  -------------------------------------------------------------------------
//  Delivery, against a fake collector in a thread

typedef struct {
    char endpoint [64];                 //  in: bind here ("" = ephemeral); out: bound
    int silent_first;                   //  ignore this many reports
    int unavailable_first;              //  then answer `unavailable` to this many
    int received;                       //  out: reports received
    int stored;                         //  out: distinct (seq) stored
    int refused;                        //  out: permanent nacks sent
    bool bound;                         //  out: the bind succeeded
} s_fake_t;

static void
s_fake_actor (zsock_t *pipe, void *args)
{
    s_fake_t *fake = (s_fake_t *) args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (router, 0);
    int port = zsock_bind (router, "%s", *fake->endpoint ? fake->endpoint : "tcp://127.0.0.1:*");
    if (!*fake->endpoint)
        snprintf (fake->endpoint, sizeof fake->endpoint, "tcp://127.0.0.1:%d", port);
    fake->bound = port > 0;
    zsock_signal (pipe, fake->bound ? 0 : 1);
    if (!fake->bound) {
        zsock_destroy (&router);
        return;
    }
    zhashx_t *stored = zhashx_new ();
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;                      //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *id = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        proto_error_t error;
        proto_msg_t *report = proto_msg_decode (zframe_data (body), zframe_size (body), 0, &error);
        fake->received++;
        proto_msg_t *reply = NULL;
        if (fake->silent_first > 0)
            fake->silent_first--;
        else
        if (fake->unavailable_first > 0) {
            fake->unavailable_first--;
            reply = proto_msg_new (PROTO_NACK);
            reply->code = PROTO_UNAVAILABLE;
            reply->has_retry_ms = true;
            reply->retry_ms = 20;
            proto_msg_set_error (reply, "the database is down.");
        }
        else
        if (report && strcmp (report->region, "999999") == 0) {
            reply = proto_msg_new (PROTO_NACK);
            reply->code = PROTO_UNKNOWN_REGION;
            proto_msg_set_error (reply, "region '999999' is not in the collector's region table");
            fake->refused++;
        }
        else
        if (report) {
            char key [32];
            snprintf (key, sizeof key, "%" PRId64, report->seq);
            reply = proto_msg_new (PROTO_ACK);
            snprintf (reply->status, sizeof reply->status, "%s",
                      zhashx_lookup (stored, key) ? "duplicate" : "stored");
            if (!zhashx_lookup (stored, key)) {
                zhashx_insert (stored, key, (void *) 1);
                fake->stored++;
            }
        }
        if (reply && report) {
            reply->has_source = true;
            snprintf (reply->source, sizeof reply->source, "%s", report->source);
            reply->has_seq = true;
            reply->seq = report->seq;
            size_t size;
            uint8_t *data = proto_msg_encode (reply, &size, NULL);
            zmsg_t *out = zmsg_new ();
            zmsg_append (out, &id);
            zmsg_addmem (out, data, size);
            zmsg_send (&out, router);
            free (data);
        }
        proto_msg_destroy (&reply);
        proto_msg_destroy (&report);
        zframe_destroy (&id);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zhashx_destroy (&stored);
    zsock_destroy (&router);
}

//  An outbox in a new temp folder with count reports for region queued.
static outbox_t *
s_filled_outbox (char **dir_p, size_t count, const char *region)
{
    *dir_p = s_tempdir ();
    char err [512];
    outbox_t *outbox = outbox_new (*dir_p, err, sizeof err);
    ck_assert_ptr_nonnull (outbox);
    proto_msg_t **reports = s_make_reports (count, region);
    ck_assert_int_eq (outbox_queue (outbox, reports, count, region, false, NULL, err, sizeof err),
                      OUTBOX_QUEUED);
    s_free_reports (reports, count);
    return outbox;
}

START_TEST (test_deliver_acks)
{
    s_fake_t fake = { .endpoint = "" };
    zactor_t *collector = zactor_new (s_fake_actor, &fake);
    char *dir;
    outbox_t *outbox = s_filled_outbox (&dir, 300, "220582");
    char err [512];
    deliver_t *deliver = deliver_new (outbox, fake.endpoint, 16, stderr, err, sizeof err);
    ck_assert_ptr_nonnull (deliver);
    ck_assert_uint_eq (deliver_reload (deliver), 300);
    ck_assert_uint_eq (deliver_until_done (deliver, zclock_mono () + 20000, NULL), 0);
    ck_assert_uint_eq (deliver_stats (deliver)->stored, 300);
    size_t count;
    free (outbox_pending (outbox, &count));
    ck_assert_uint_eq (count, 0);
    deliver_destroy (&deliver);
    zactor_destroy (&collector);
    ck_assert_int_eq (fake.stored, 300);
    ck_assert_int_eq (fake.received, 300);          //  nothing resent when all goes well
    outbox_destroy (&outbox);
    s_remove (dir);
    free (dir);
}
END_TEST

START_TEST (test_deliver_permanent_nack)
{
    s_fake_t fake = { .endpoint = "" };
    zactor_t *collector = zactor_new (s_fake_actor, &fake);
    char *dir;
    outbox_t *outbox = s_filled_outbox (&dir, 1, "999999");
    char err [512];
    FILE *log = tmpfile ();
    deliver_t *deliver = deliver_new (outbox, fake.endpoint, 0, log, err, sizeof err);
    deliver_set_timing (deliver, 300, 20);
    deliver_reload (deliver);
    ck_assert_uint_eq (deliver_until_done (deliver, zclock_mono () + 5000, NULL), 0);
    ck_assert_uint_eq (deliver_stats (deliver)->rejected, 1);
    //  Not retried: wait past a reply timeout, nothing more arrives.
    int64_t until = zclock_mono () + 600;
    while (zclock_mono () < until)
        deliver_step (deliver, 100);
    deliver_destroy (&deliver);
    zactor_destroy (&collector);
    ck_assert_int_eq (fake.received, 1);
    ck_assert_uint_eq (outbox_rejected_count (outbox), 1);
    //  The user is told region, as_of, code and the collector's sentence.
    char told [1024] = "";
    rewind (log);
    size_t got = fread (told, 1, sizeof told - 1, log);
    told [got] = 0;
    fclose (log);
    ck_assert_ptr_nonnull (strstr (told, "region 999999 as of 2022-01-01"));
    ck_assert_ptr_nonnull (strstr (told, "unknown_region: region '999999' is not in"));
    outbox_destroy (&outbox);
    s_remove (dir);
    free (dir);
}
END_TEST

START_TEST (test_deliver_silence_and_unavailable)
{
    s_fake_t fake = { .endpoint = "", .silent_first = 3, .unavailable_first = 4 };
    zactor_t *collector = zactor_new (s_fake_actor, &fake);
    char *dir;
    outbox_t *outbox = s_filled_outbox (&dir, 20, "220582");
    char err [512];
    deliver_t *deliver = deliver_new (outbox, fake.endpoint, 4, stderr, err, sizeof err);
    deliver_set_timing (deliver, 200, 20);
    deliver_reload (deliver);
    ck_assert_uint_eq (deliver_until_done (deliver, zclock_mono () + 20000, NULL), 0);
    ck_assert_uint_ge (deliver_stats (deliver)->resent, 7);
    deliver_destroy (&deliver);
    zactor_destroy (&collector);
    ck_assert_int_eq (fake.stored, 20);
    outbox_destroy (&outbox);
    s_remove (dir);
    free (dir);
}
END_TEST

START_TEST (test_deliver_collector_down)
{
    //  A port above the kernel's ephemeral range, so that while our fake is
    //  down no other program is handed it; learn it, then take the fake away.
    s_fake_t fake = { .endpoint = "" };
    zactor_t *collector = NULL;
    srand ((unsigned) getpid ());
    for (int attempt = 0; attempt < 100 && !collector; attempt++) {
        snprintf (fake.endpoint, sizeof fake.endpoint, "tcp://127.0.0.1:%d", 61000 + rand () % 4000);
        collector = zactor_new (s_fake_actor, &fake);
        if (!fake.bound)
            zactor_destroy (&collector);
    }
    ck_assert_ptr_nonnull (collector);
    zactor_destroy (&collector);
    char *dir;
    outbox_t *outbox = s_filled_outbox (&dir, 10, "220582");
    char err [512];
    deliver_t *deliver = deliver_new (outbox, fake.endpoint, 0, stderr, err, sizeof err);
    deliver_set_timing (deliver, 200, 20);
    deliver_reload (deliver);
    //  Nobody answers: everything stays queued.
    ck_assert_uint_eq (deliver_until_done (deliver, zclock_mono () + 1000, NULL), 10);
    size_t count;
    free (outbox_pending (outbox, &count));
    ck_assert_uint_eq (count, 10);
    //  The collector comes back on the same endpoint: the socket reconnects
    //  by itself and everything goes, once.
    s_fake_t back = { .endpoint = "" };
    snprintf (back.endpoint, sizeof back.endpoint, "%s", fake.endpoint);
    collector = zactor_new (s_fake_actor, &back);
    ck_assert (back.bound);
    ck_assert_uint_eq (deliver_until_done (deliver, zclock_mono () + 20000, NULL), 0);
    deliver_destroy (&deliver);
    zactor_destroy (&collector);
    ck_assert_int_eq (back.stored, 10);
    free (outbox_pending (outbox, &count));
    ck_assert_uint_eq (count, 0);
    outbox_destroy (&outbox);
    s_remove (dir);
    free (dir);
}
END_TEST

//  deliver_check finds what would stop delivery before any outbox exists,
//  so that a command can refuse before it queues anything.
START_TEST (test_deliver_check)
{
    char err [700];
    const char *good [] = { "tcp://127.0.0.1:7701", "tcp://collector-b:7701" };
    deliver_options_t options = { .endpoints = good, .endpoint_count = 2 };
    ck_assert_int_eq (deliver_check (&options, err, sizeof err), 0);

    const char *bad [] = { "tcp://127.0.0.1:7701", "tcp://nohost" };
    options.endpoints = bad;
    ck_assert_int_eq (deliver_check (&options, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "\"tcp://nohost\""));
    ck_assert_ptr_nonnull (strstr (err, "tcp://host:7701"));

    options.endpoint_count = 0;
    ck_assert_int_eq (deliver_check (&options, err, sizeof err), -1);

    options.endpoints = good;
    options.endpoint_count = 1;
    options.public_key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    ck_assert_int_eq (deliver_check (&options, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "CURVE"));
}
END_TEST

//  -------------------------------------------------------------------------
//  keygen's regions list: only entries the collector will match as meant.

START_TEST (test_keygen_regions)
{
    char err [512];
    const char *good [] = { "220582", "2205*", "22*", "2*", "220521,220523", "2205*,220000",
                            "220521, 220523", "220582101", "220582*", "99999999999999" };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        ck_assert_msg (keygen_check_regions (good [i], err, sizeof err) == 0,
                       "'%s' refused: %s", good [i], err);
    //  Each bad list, and the entry its message must name.
    const char *bad [][2] = {
        { "abc", "'abc'" }, { "2205-82", "'2205-82'" },
        { "2205", "'2205' (did you mean 2205*?)" }, { "220582,2205", "'2205'" },
        { "22*05", "'22*05'" }, { "*", "'*'" }, { "2205**", "'2205**'" },
        { "22058", "'22058'" }, { "220582,", "empty entry" }, { "", "at least one" }
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        ck_assert_msg (keygen_check_regions (bad [i][0], err, sizeof err) == -1,
                       "'%s' accepted", bad [i][0]);
        ck_assert_msg (strstr (err, bad [i][1]), "no \"%s\" in: %s", bad [i][1], err);
        ck_assert_msg (strstr (err, "6 to 64 letters or digits") && strstr (err, "2205*"),
                       "no accepted forms in: %s", err);
        ck_assert_ptr_null (strchr (err, '\n'));
    }
    //  keygen_write checks too, and writes nothing for a bad list.
    char *dir = s_tempdir ();
    ck_assert_int_eq (keygen_write (dir, "bad", "abc", err, sizeof err), -1);
    char *cert = zsys_sprintf ("%s/bad.cert", dir);
    ck_assert_int_ne (access (cert, F_OK), 0);
    s_remove (dir);
    zstr_free (&cert);
    free (dir);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("reporter");
    TCase *input = tcase_create ("input");
    tcase_add_test (input, test_csv_seed_file);
    tcase_add_test (input, test_csv_region_filter);
    tcase_add_test (input, test_csv_metric_value);
    tcase_add_test (input, test_csv_rfc4180);
    tcase_add_test (input, test_csv_errors);
    tcase_add_test (input, test_csv_limits);
    tcase_add_test (input, test_json_reports);
    tcase_add_test (input, test_json_errors);
    tcase_add_test (input, test_sets);
    suite_add_tcase (suite, input);
    TCase *outbox = tcase_create ("outbox");
    tcase_set_timeout (outbox, 60);
    tcase_add_test (outbox, test_outbox_queue);
    tcase_add_test (outbox, test_outbox_open_existing);
    tcase_add_test (outbox, test_outbox_crash);
    suite_add_tcase (suite, outbox);
    TCase *backoff = tcase_create ("backoff");
    tcase_add_test (backoff, test_backoff);
    suite_add_tcase (suite, backoff);
    TCase *deliver = tcase_create ("deliver");
    tcase_set_timeout (deliver, 60);
    tcase_add_test (deliver, test_deliver_acks);
    tcase_add_test (deliver, test_deliver_permanent_nack);
    tcase_add_test (deliver, test_deliver_silence_and_unavailable);
    tcase_add_test (deliver, test_deliver_collector_down);
    tcase_add_test (deliver, test_deliver_check);
    suite_add_tcase (suite, deliver);
    TCase *keygen = tcase_create ("keygen");
    tcase_add_test (keygen, test_keygen_regions);
    suite_add_tcase (suite, keygen);
    return suite;
}

int
main (void)
{
    zsys_handler_set (NULL);
    SRunner *runner = srunner_create (s_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
