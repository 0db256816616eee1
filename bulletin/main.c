/*  main.c — tally-bulletin: the monthly bulletin (月通报) from PostgreSQL to stdout.

    Parses the command line, connects, reads the month's figures
    (bulletin_data.c) and writes them as Markdown or HTML (bulletin_render.c).
    Exit status: 0 written, 1 database unreachable or a query failed, 2 bad
    arguments (one line on stderr each time).
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulletin_data.h"
#include "bulletin_render.h"

static void
s_help (void)
{
    fputs (
        "Usage: tally-bulletin --month YYYY-MM [--region CODE] [--format md|html] [--db CONNINFO]\n"
        "\n"
        "Writes tally's monthly bulletin (月通报) for a city to stdout:\n"
        "  - the city's totals at the end of the month and their change over the month\n"
        "    (totals_as_of(last day) against totals_as_of(last day of the previous month);\n"
        "    figures are per calendar year, so January's change is counted from nothing);\n"
        "  - its derived indicators at month end (开复工率, 投资完成率, 序时进度, ...: progress_as_of);\n"
        "  - its counties ranked by 开复工率 then 投资完成率 at month end, with the change\n"
        "    against the previous month end (ranking_on);\n"
        "  - the counties not on time on the month's last day (reporting_on);\n"
        "  - the city's own reported figures against its counties' sum (reconciliation_as_of).\n"
        "The HTML form is one self-contained page with an inline SVG bar chart of 开复工率.\n"
        "\n"
        "Options:\n"
        "  --month YYYY-MM     the month (required)\n"
        "  --region CODE       the city (default: the single region of level 'city')\n"
        "  --format md|html    Markdown (default) or HTML\n"
        "  --db CONNINFO       PostgreSQL conninfo or URI (default: libpq's PGHOST, PGDATABASE, ...)\n"
        "  -h, --help          show this help\n"
        "\n"
        "Exit status: 0 written, 1 database unreachable or query failed, 2 bad arguments.\n"
        "Example: tally-bulletin --month 2024-02 --format html --db 'host=127.0.0.1 dbname=tally' > 2024-02.html\n",
        stdout);
}

static int
s_usage_error (const char *message, const char *detail)
{
    fprintf (stderr, "tally-bulletin: %s%s%s (see --help)\n", message, detail ? " " : "", detail ? detail : "");
    return 2;
}

int
main (int argc, char **argv)
{
    const char *month = NULL, *region = NULL, *format = "md", *db = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            s_help ();
            return 0;
        }
        const char **target = strcmp (arg, "--month") == 0 ? &month
                            : strcmp (arg, "--region") == 0 ? &region
                            : strcmp (arg, "--format") == 0 ? &format
                            : strcmp (arg, "--db") == 0 ? &db : NULL;
        if (!target)
            return s_usage_error ("unknown argument", arg);
        if (i + 1 >= argc)
            return s_usage_error (arg, "needs a value");
        *target = argv [++i];
    }
    int year, mon;
    if (!month)
        return s_usage_error ("--month YYYY-MM is required", NULL);
    if (bulletin_parse_month (month, &year, &mon))
        return s_usage_error ("--month must be YYYY-MM, got", month);
    if (strcmp (format, "md") != 0 && strcmp (format, "html") != 0)
        return s_usage_error ("--format must be md or html, got", format);
    if (region && (strlen (region) == 0 || strlen (region) > 64))
        return s_usage_error ("--region must be a region code, got", region);

    PGconn *conn = PQconnectdb (db ? db : "");
    if (PQstatus (conn) != CONNECTION_OK) {
        const char *message = PQerrorMessage (conn);
        fprintf (stderr, "tally-bulletin: cannot connect to the database: %.*s\n",
                 (int) strcspn (message, "\n"), message);
        PQfinish (conn);
        return 1;
    }
    char err [512] = "";
    bulletin_data_t *data = bulletin_data_new (conn, month, region, err, sizeof err);
    PQfinish (conn);
    if (!data) {
        fprintf (stderr, "tally-bulletin: %s\n", err);
        //  An unknown or ambiguous region is the caller's to fix: a usage error.
        return strncmp (err, "reading ", 8) == 0 ? 1 : 2;
    }
    if (strcmp (format, "html") == 0)
        bulletin_render_html (data, stdout);
    else
        bulletin_render_md (data, stdout);
    bulletin_data_destroy (&data);
    if (fflush (stdout) != 0 || ferror (stdout)) {
        fprintf (stderr, "tally-bulletin: cannot write the bulletin\n");
        return 1;
    }
    return 0;
}
