/*  test_bulletin.c — tally-bulletin against the analytics suite's database. */
#include "analytics_suite.h"

void
as_add_bulletin_tests (Suite *suite)
{
    (void) suite;
}
