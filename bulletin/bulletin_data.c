/*  bulletin_data.c — the figures of one monthly bulletin (月通报), read from PostgreSQL.

    See bulletin_data.h. Every query takes its values as parameters.
*/
#include "bulletin_data.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
bulletin_parse_month (const char *text, int *year, int *mon)
{
    if (strlen (text) != 7 || text [4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit ((unsigned char) text [i]))
            return -1;
    *year = atoi (text);
    *mon = atoi (text + 5);
    return *year >= 1900 && *mon >= 1 && *mon <= 12 ? 0 : -1;
}

static int
s_days_in (int year, int mon)
{
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return mon == 2 && leap ? 29 : days [mon - 1];
}

//  "YYYY-MM-DD", or "YYYY-MM" when day is 0.
static void
s_format_date (char *buf, size_t size, int year, int mon, int day)
{
    unsigned y = (unsigned) year % 10000u, m = (unsigned) mon % 100u, d = (unsigned) day % 100u;
    if (day)
        snprintf (buf, size, "%04u-%02u-%02u", y, m, d);
    else
        snprintf (buf, size, "%04u-%02u", y, m);
}

//  Run a query; on failure fill err with its first line and return NULL.
static PGresult *
s_query (PGconn *conn, const char *sql, int nparams, const char *const *params,
         const char *what, char *err, size_t err_size)
{
    PGresult *res = PQexecParams (conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) == PGRES_TUPLES_OK)
        return res;
    const char *message = PQresultErrorMessage (res);
    int len = (int) strcspn (message, "\n");
    snprintf (err, err_size, "reading %s: %.*s", what, len, message);
    PQclear (res);
    return NULL;
}

//  The region to report on: the one given (it must have children), or the
//  single region of level city.
static int
s_find_region (bulletin_data_t *self, PGconn *conn, const char *region, char *err, size_t err_size)
{
    PGresult *res;
    if (region) {
        const char *params [1] = { region };
        res = s_query (conn, "SELECT r.code, r.name, EXISTS (SELECT 1 FROM region k WHERE k.parent = r.code) "
                             "FROM region r WHERE r.code = $1", 1, params, "the region", err, err_size);
        if (!res)
            return -1;
        if (PQntuples (res) == 0) {
            snprintf (err, err_size, "no region %s in the region table", region);
            PQclear (res);
            return -1;
        }
        if (strcmp (PQgetvalue (res, 0, 2), "t") != 0) {
            snprintf (err, err_size, "region %s has no counties to rank: give a city", region);
            PQclear (res);
            return -1;
        }
    }
    else {
        res = s_query (conn, "SELECT code, name FROM region WHERE level = 'city' ORDER BY code",
                       0, NULL, "the region", err, err_size);
        if (!res)
            return -1;
        if (PQntuples (res) != 1) {
            if (PQntuples (res) == 0)
                snprintf (err, err_size, "no city in the region table: give --region CODE");
            else
                snprintf (err, err_size, "%d cities in the region table (%s, %s%s): give --region CODE",
                          PQntuples (res), PQgetvalue (res, 0, 0), PQgetvalue (res, 1, 0),
                          PQntuples (res) > 2 ? ", ..." : "");
            PQclear (res);
            return -1;
        }
    }
    snprintf (self->region, sizeof self->region, "%s", PQgetvalue (res, 0, 0));
    self->region_name = strdup (PQgetvalue (res, 0, 1));
    PQclear (res);
    return 0;
}

bulletin_data_t *
bulletin_data_new (PGconn *conn, const char *month, const char *region, char *err, size_t err_size)
{
    bulletin_data_t *self = (bulletin_data_t *) calloc (1, sizeof (bulletin_data_t));
    if (!self || bulletin_parse_month (month, &self->year, &self->mon)) {
        snprintf (err, err_size, "bad month '%s'", month);
        free (self);
        return NULL;
    }
    int prev_year = self->mon == 1 ? self->year - 1 : self->year;
    int prev_mon = self->mon == 1 ? 12 : self->mon - 1;
    s_format_date (self->month, sizeof self->month, self->year, self->mon, 0);
    s_format_date (self->month_end, sizeof self->month_end, self->year, self->mon,
                   s_days_in (self->year, self->mon));
    s_format_date (self->prev_end, sizeof self->prev_end, prev_year, prev_mon,
                   s_days_in (prev_year, prev_mon));
    if (s_find_region (self, conn, region, err, err_size)) {
        bulletin_data_destroy (&self);
        return NULL;
    }
    const char *params [3] = { self->region, self->month_end, self->prev_end };

    //  City totals at month end and at the previous month end. Figures are
    //  per calendar year, so January starts from nothing (start is NULL).
    self->totals = s_query (conn,
        "SELECT m.key, m.name_zh, m.unit, s.value, e.value, coalesce (e.value, 0) - coalesce (s.value, 0) "
        "  FROM metric m "
        "  LEFT JOIN totals_as_of ($2::date) e ON e.region = $1 AND e.metric = m.key "
        "  LEFT JOIN totals_as_of ($3::date) s ON s.region = $1 AND s.metric = m.key "
        "       AND s.year = extract (year FROM $2::date) "
        " WHERE e.value IS NOT NULL OR s.value IS NOT NULL "
        " ORDER BY m.key", 3, params, "the totals", err, err_size);
    //  The city's derived indicators at month end.
    if (self->totals)
        self->progress = s_query (conn,
            "SELECT as_of, active_rate_pct, start_rate_pct, investment_pct, elapsed_pct, schedule_pct, "
            "       schedule_gap_pts, attraction_signed_pct, attraction_landed_pct "
            "  FROM progress_as_of ($2::date) WHERE region = $1", 2, params, "the progress", err, err_size);
    //  Its counties ranked at month end, with the change since the previous month end.
    if (self->progress)
        self->ranking = s_query (conn,
            "SELECT rank, county, county_name, active_rate_pct, investment_pct, prev_rank, rank_change, "
            "       projects_active, projects_planned "
            "  FROM ranking_on ($2::date, $3::date) WHERE city = $1 ORDER BY rank",
            3, params, "the ranking", err, err_size);
    //  Who had not reported on time by month end (日调度's status on that day).
    if (self->ranking)
        self->reporting = s_query (conn,
            "SELECT region, name, status, last_as_of, days_since "
            "  FROM reporting_on ($2::date) WHERE parent = $1 AND status <> 'on_time' ORDER BY region",
            2, params, "the reporting", err, err_size);
    //  The city's own figures against its counties' roll-up.
    if (self->reporting)
        self->reconciliation = s_query (conn,
            "SELECT metric, name_zh, unit, own_value, rollup_value, difference, children_reported, children, own_as_of "
            "  FROM reconciliation_as_of ($2::date) WHERE region = $1 ORDER BY metric",
            2, params, "the reconciliation", err, err_size);
    if (!self->reconciliation)
        bulletin_data_destroy (&self);
    return self;
}

void
bulletin_data_destroy (bulletin_data_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bulletin_data_t *self = *self_p;
    PQclear (self->totals);
    PQclear (self->progress);
    PQclear (self->ranking);
    PQclear (self->reporting);
    PQclear (self->reconciliation);
    free (self->region_name);
    free (self);
    *self_p = NULL;
}
