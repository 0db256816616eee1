/*  analytics_suite.h — what the analytics suite's test files share.

    test_analytics.c owns the database (filled by analytics_fixture.c) and
    a connection to it; test_bulletin.c adds its tests to the same suite.
*/
#ifndef ANALYTICS_SUITE_H_INCLUDED
#define ANALYTICS_SUITE_H_INCLUDED

#include <check.h>
#include <libpq-fe.h>

#include "tt.h"

//  The suite's private PostgreSQL, seeded before any test runs.
extern tt_pg_t *as_pg;

//  Run a query with text parameters on the suite's connection; fails the
//  test if it does not succeed. The result is the caller's to PQclear.
PGresult *as_query (const char *sql, int nparams, const char *const *params);

//  The first value of a query with at most one parameter (param NULL: none);
//  "" for SQL NULL, NULL when there is no row. The caller frees it.
char *as_value (const char *sql, const char *param);

//  base ("YYYY-MM-DD") plus days, into out (11 bytes); returns out.
const char *as_date_add (const char *base, int days, char *out);

//  Add the tally-bulletin tests (test_bulletin.c) to the suite.
void as_add_bulletin_tests (Suite *suite);

#endif
