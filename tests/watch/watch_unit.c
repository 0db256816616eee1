/*  watch_unit.c — runs the watch's unit suites: store, table, JSON. */
#include <check.h>
#include <stdlib.h>

Suite *watch_state_suite (void);
Suite *watch_table_suite (void);
Suite *watch_json_suite (void);

int
main (void)
{
    SRunner *runner = srunner_create (watch_state_suite ());
    srunner_add_suite (runner, watch_table_suite ());
    srunner_add_suite (runner, watch_json_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
