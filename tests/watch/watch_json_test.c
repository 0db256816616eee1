/*  watch_json_test.c — totals as JSON lines: every key, valid for jq. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "watch_fixture.h"
#include "watch_json.h"

START_TEST (test_json_line)
{
    proto_msg_t *msg = fixture_totals ("220500", "通化市", "city", 42,
                                       "projects_planned", 185LL,
                                       "projects_planned_investment", 5528300LL, NULL);
    msg->reported = 6;
    msg->expected = 7;
    msg->has_own = true;
    proto_msg_add_value (msg, true, "projects_planned", 220);
    msg->has_version = true;
    msg->version = 42;
    char *line = watch_json_line (msg);
    size_t len = strlen (line);
    ck_assert_int_eq (line [len - 1], '\n');
    ck_assert_ptr_eq (strchr (line, '\n'), line + len - 1);     //  one line

    json_error_t error;
    json_t *root = json_loads (line, 0, &error);
    ck_assert_msg (root != NULL, "not JSON: %s", error.text);
    ck_assert_int_eq (json_integer_value (json_object_get (root, "v")), 1);
    ck_assert_str_eq (json_string_value (json_object_get (root, "type")), "totals");
    ck_assert_int_eq (json_integer_value (json_object_get (root, "seq")), 42);
    ck_assert_str_eq (json_string_value (json_object_get (root, "region")), "220500");
    ck_assert_str_eq (json_string_value (json_object_get (root, "name")), "通化市");
    ck_assert_str_eq (json_string_value (json_object_get (root, "level")), "city");
    ck_assert_int_eq (json_integer_value (json_object_get (root, "year")), 2022);
    ck_assert_str_eq (json_string_value (json_object_get (root, "as_of")), "2022-02-28");
    json_t *values = json_object_get (root, "values");
    ck_assert_int_eq (json_object_size (values), 2);
    ck_assert_int_eq (json_integer_value (json_object_get (values, "projects_planned_investment")), 5528300);
    ck_assert_int_eq (json_integer_value (json_object_get (json_object_get (root, "own"), "projects_planned")), 220);
    ck_assert_int_eq (json_integer_value (json_object_get (root, "reported")), 6);
    ck_assert_int_eq (json_integer_value (json_object_get (root, "expected")), 7);
    ck_assert_int_eq (json_integer_value (json_object_get (root, "updated_at")), 1646035200000);
    ck_assert_int_eq (json_integer_value (json_object_get (root, "version")), 42);
    json_decref (root);
    free (line);

    //  Optional keys stay out when absent.
    msg->has_own = false;
    msg->has_version = false;
    line = watch_json_line (msg);
    root = json_loads (line, 0, &error);
    ck_assert_ptr_null (json_object_get (root, "own"));
    ck_assert_ptr_null (json_object_get (root, "version"));
    json_decref (root);
    free (line);
    proto_msg_destroy (&msg);
}
END_TEST

Suite *
watch_json_suite (void)
{
    Suite *suite = suite_create ("watch_json");
    TCase *tc = tcase_create ("lines");
    tcase_add_test (tc, test_json_line);
    suite_add_tcase (suite, tc);
    return suite;
}
