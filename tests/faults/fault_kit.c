/*  fault_kit.c — shared plumbing of the fault suites; see fault_kit.h.
*/
#include "fault_kit.h"

#include <stdarg.h>
#include <time.h>

const char *fk_counties [7] = { "220502", "220503", "220521", "220523", "220524", "220581", "220582" };

//  Metrics used by generated reports, with values well inside their ranges.
static const char *s_metrics [] = {
    "projects_planned", "projects_planned_investment", "projects_planned_annual",
    "projects_started", "projects_started_investment", "projects_started_annual",
    "projects_active", "projects_new", "projects_continued", "investment_completed",
    "attraction_planned", "attraction_planned_amount", "attraction_planned_target",
    "attraction_signed", "attraction_signed_amount", "attraction_signed_target",
    "attraction_landed", "attraction_landed_amount", "attraction_landed_target",
    "attraction_started", "attraction_started_amount", "attraction_started_target",
    "cattle_added", "cattle_households_added", "prep_completion_pct"
};
#define S_METRIC_COUNT (sizeof s_metrics / sizeof s_metrics [0])

char *
fk_write_csv (const char *dir, const char *name, const char *region,
              int first_day, int count, int metrics, int salt)
{
    static const char *csv_metrics [4] = {
        "projects_started", "cattle_added", "investment_completed", "prep_completion_pct" };
    char *path = zsys_sprintf ("%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    assert (file);
    fprintf (file, "region,as_of,metric,value\n");
    for (int i = 0; i < count; i++) {
        time_t when = (time_t) (946684800 + (int64_t) (first_day + i) * 86400);
        struct tm day;
        gmtime_r (&when, &day);
        char date [16];
        strftime (date, sizeof date, "%Y-%m-%d", &day);
        for (int m = 0; m < metrics && m < 4; m++)
            fprintf (file, "%s,%s,%s,%d\n", region, date, csv_metrics [m],
                     (salt * 7919 + (first_day + i) * (m + 3)) % 10000);
    }
    fclose (file);
    return path;
}

char *
fk_source_of (const char *outbox)
{
    char path [512];
    snprintf (path, sizeof path, "%s/source", outbox);
    char *text = tt_slurp (path);
    if (text)
        text [strcspn (text, "\n")] = 0;
    return text;
}

int
fk_queued (const char *outbox)
{
    const char *argv [] = { tt_reporter_bin, "status", "--outbox", outbox, NULL };
    char *out = NULL;
    int rc = tt_run (argv, 30000, &out);
    int queued = -1;
    const char *at = out ? strstr (out, "queued: ") : NULL;
    if (rc == 0 && at)
        queued = atoi (at + 8);
    free (out);
    return queued;
}

int64_t
fk_sql_int (const tt_pg_t *pg, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sql = zsys_vprintf (format, args);
    va_end (args);
    int64_t value = tt_sql_int (pg->conninfo, sql);
    zstr_free (&sql);
    return value;
}

int64_t
fk_wait_reports (const tt_pg_t *pg, const char *pattern, int64_t want, int timeout_ms)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    int64_t count;
    while ((count = fk_sql_int (pg, "SELECT count(*) FROM report WHERE source LIKE '%s'", pattern)) < want
       &&  tt_now_ms () < deadline)
        zclock_sleep (20);
    return count;
}

void
fk_memory_kib (pid_t pid, int64_t *rss, int64_t *hwm)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    char *text = tt_slurp (path);
    *rss = *hwm = 0;
    const char *at;
    if (text && (at = strstr (text, "VmRSS:")))
        *rss = strtoll (at + 6, NULL, 10);
    if (text && (at = strstr (text, "VmHWM:")))
        *hwm = strtoll (at + 6, NULL, 10);
    free (text);
}

proto_msg_t *
fk_report (const char *source, int64_t seq, const char *region, const char *as_of, size_t values)
{
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    msg->has_source = msg->has_seq = true;
    snprintf (msg->source, sizeof msg->source, "%s", source);
    msg->seq = seq;
    snprintf (msg->region, sizeof msg->region, "%s", region);
    snprintf (msg->as_of, sizeof msg->as_of, "%s", as_of);
    for (size_t m = 0; m < values && m < S_METRIC_COUNT; m++)
        proto_msg_add_value (msg, false, s_metrics [m], (seq * 31 + (int64_t) m * 17) % 10000);
    return msg;
}

zsock_t *
fk_dealer (const char *endpoint, int rcvtimeo_ms)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    zsock_set_rcvtimeo (sock, rcvtimeo_ms);
    zsock_set_linger (sock, 0);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    return sock;
}

int
fk_send_msg (zsock_t *sock, const proto_msg_t *msg)
{
    size_t size;
    uint8_t *body = proto_msg_encode (msg, &size, NULL);
    if (!body)
        return -1;
    zframe_t *frame = zframe_new (body, size);
    free (body);
    return zframe_send (&frame, sock, 0);
}

proto_msg_t *
fk_recv_msg (zsock_t *sock)
{
    zframe_t *frame = zframe_recv (sock);
    if (!frame)
        return NULL;
    proto_error_t err;
    proto_msg_t *msg = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
    zframe_destroy (&frame);
    return msg;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

void
fk_sort (int64_t *values, size_t n)
{
    qsort (values, n, sizeof *values, s_compare);
}

int64_t
fk_percentile (const int64_t *sorted, size_t n, int percent)
{
    if (n == 0)
        return 0;
    size_t at = (n * (size_t) percent + 99) / 100;
    return sorted [at ? at - 1 : 0];
}
