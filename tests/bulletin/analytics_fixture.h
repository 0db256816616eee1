/*  analytics_fixture.h — fixed data for the analytics suite, sent through the real collector.

    The suite's database holds the seed (Tonghua, 2022-02-28/03-01) and a
    generated two-month history (2024-01-01 .. 2024-02-29, one report per
    county and day, plus a same-day correction, a back-dated correction, the
    city's own figures, and one report dated today). Every report goes through
    a real tally-collector over a DEALER socket, so report, current_value,
    region_total and region_year are filled exactly as in production.

    The fixture also keeps every history report in memory and answers "what
    was county X's figure for metric M at the end of day D" by its own rules
    (newest as_of <= D in D's year, ties to the later-sent report), so that the
    views can be checked against an independent computation.
*/
#ifndef ANALYTICS_FIXTURE_H_INCLUDED
#define ANALYTICS_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define AF_YEAR         2024
#define AF_DAYS         60              //  2024-01-01 .. 2024-02-29
#define AF_COUNTIES     7               //  the city's counties, in code order
#define AF_CITY         "220500"

//  The city's counties in code order; 220581 never reports.
extern const char *const af_county [AF_COUNTIES];

//  Send the seed CSV, then the 2024 history, then a report dated today
//  ("YYYY-MM-DD" as the database's current_date; 220521, projects_planned =
//  30), to the collector's report endpoint. Returns the number of reports
//  acked as stored.
int af_send_all (const char *report_ep, const char *today);

//  Day n of 2024 (1 = Jan 1) as "YYYY-MM-DD" into buf (at least 11 bytes).
const char *af_day (int n, char *buf);

//  The model: region's own figure for metric at the end of day ("YYYY-MM-DD")
//  from the history reports; false when there is none.
bool af_figure (const char *region, const char *metric, const char *day, int64_t *value);

//  The model's ranking of the city's counties at the end of day: order [0]
//  is the index (into af_county) of rank 1, and so on. Returns false when no
//  county has any ranking figure.
bool af_ranking (const char *day, int order [AF_COUNTIES]);

#endif
