/*  bulletin_data.h — the figures of one monthly bulletin (月通报), read from PostgreSQL.

    Everything comes from the analysts' functions of 003_views.sql, with
    parameters only: totals_as_of (month end and previous month end),
    progress_as_of, ranking_on, reporting_on and reconciliation_as_of. The
    values are kept as PostgreSQL's text, so that the bulletin prints exactly
    what the views say (no floating point on the way).
*/
#ifndef BULLETIN_DATA_H_INCLUDED
#define BULLETIN_DATA_H_INCLUDED

#include <libpq-fe.h>

typedef struct {
    char month [8];             //  "YYYY-MM"
    char month_end [11];        //  last day of the month, "YYYY-MM-DD"
    char prev_end [11];         //  last day of the previous month
    int year, mon;              //  of month
    char region [65];           //  the city's code
    char *region_name;          //  its name (heap)
    //  Query results, owned (PQclear on destroy); columns are documented
    //  beside each query in bulletin_data.c.
    PGresult *totals;           //  metric, name_zh, unit, start, end, change
    PGresult *progress;         //  the city's indicators at month end (0 or 1 row)
    PGresult *ranking;          //  rank, county, name, rates, prev_rank, rank_change
    PGresult *reporting;        //  counties not on time at month end
    PGresult *reconciliation;   //  the city's own figures against its counties'
} bulletin_data_t;

//  Read the bulletin of month ("YYYY-MM", already validated) for region
//  (NULL: the single city in the region table). Returns NULL with a one-line
//  message in err when the region is unknown or ambiguous or a query fails.
bulletin_data_t *
    bulletin_data_new (PGconn *conn, const char *month, const char *region, char *err, size_t err_size);

//  Free the data and null the caller's pointer; harmless on NULL.
void
    bulletin_data_destroy (bulletin_data_t **self_p);

//  Parse "YYYY-MM" into year and month; 0 on success, -1 if malformed.
int
    bulletin_parse_month (const char *text, int *year, int *mon);

#endif
