/*  settings.c — tally-collector's settings table.

    The table below is the only list of settings: parsing, --help and the
    effective-settings log line all walk it, so they cannot drift apart.
*/
#include "settings.h"

#include <errno.h>
#include "conf.h"
#include "log.h"
#include "slice.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_TEXT, S_INT, S_FLAG } s_kind_t;

//  A further check of a value (its text, and its number for S_INT) run
//  before it is kept, wherever it comes from: 0, or -1 with one sentence in
//  err. Checking as the value is read lets the complaint name FILE:LINE and
//  the key, or the option.
typedef int (s_check_fn) (const char *text, long number, char *err, size_t err_size);

typedef struct {
    const char *name;           //  long option, without "--"
    s_kind_t kind;
    size_t offset;              //  where the value lives in settings_t
    const char *fallback;       //  default, as text
    int min, max;               //  S_INT bounds
    const char *help;
    s_check_fn *check;          //  further check of the value, NULL for none
} s_setting_t;

static int
s_check_log_level (const char *text, long number, char *err, size_t err_size)
{
    (void) number;
    if (log_level_known (text))
        return 0;
    snprintf (err, err_size, "'%s' is not error, warning, info or debug", text);
    return -1;
}

static int
s_check_slice (const char *text, long number, char *err, size_t err_size)
{
    (void) text;
    if (number == 0 || number >= SLICE_MIN_US)
        return 0;
    snprintf (err, err_size, "%ld is below the kernel's least, %d (0 keeps the kernel's default)",
              number, SLICE_MIN_US);
    return -1;
}

#define S_AT(field) offsetof (settings_t, field)

static const s_setting_t s_table [] = {
    { "db", S_TEXT, S_AT (db), "", 0, 0,
      "PostgreSQL conninfo or URI (default: libpq's PGHOST, PGDATABASE, ... environment)", NULL },
    { "report", S_TEXT, S_AT (report), "tcp://*:7701", 0, 0,
      "endpoint for reports (ROUTER; reporters connect with DEALER or REQ)", NULL },
    { "feed", S_TEXT, S_AT (feed), "tcp://*:7702", 0, 0,
      "endpoint for the totals feed (PUB)", NULL },
    { "query", S_TEXT, S_AT (query), "tcp://*:7703", 0, 0,
      "endpoint for snapshot and ping requests (ROUTER)", NULL },
    { "share", S_TEXT, S_AT (share), "", 0, 0,
      "folder holding migrations/ and catalog/, read by 'tally-collector migrate' (default: the installed one, "
      "else the source tree's deploy/); the daemon's SIGHUP rereads the catalog from the database, not the CSVs", NULL },
    { "ready-file", S_TEXT, S_AT (ready_file), "", 0, 0,
      "once bound, write 'report|feed|query ENDPOINT' lines to this file (for scripts and tests)", NULL },
    { "log-level", S_TEXT, S_AT (log_level), "info", 0, 0,
      "error, warning, info or debug (SIGHUP rereads it from the config file)", s_check_log_level },
    { "max-body", S_INT, S_AT (max_body), "65536", 256, 1048576,
      "largest report body in bytes; larger ones get nack too_large", NULL },
    { "max-frame", S_INT, S_AT (max_frame), "1048576", 1024, 67108864,
      "hard transport limit in bytes (ZMQ_MAXMSGSIZE): a larger frame drops the connection", NULL },
    { "batch-max", S_INT, S_AT (batch_max), "1000", 1, 100000,
      "most reports committed in one transaction (group commit)", NULL },
    { "db-connections", S_INT, S_AT (db_connections), "2", 1, 8,
      "database connections committing batches at once (while one commits, the next batch is stored on another)", NULL },
    { "heartbeat-ms", S_INT, S_AT (heartbeat_ms), "900", 50, 1000,
      "feed heartbeat period in milliseconds (at most 1000; the default leaves room so that subscribers get "
      "one at least once a second, as PROTOCOL.md promises, even when the machine is busy)", NULL },
    { "stats-interval", S_INT, S_AT (stats_interval), "60", 1, 86400,
      "seconds between statistics lines (reports stored and rejected, batches, those stored by the main loop and in one trip, ack and database latency)", NULL },
    { "sched-slice-us", S_INT, S_AT (sched_slice_us), "100", 0, 100000,
      "CPU time slice in microseconds asked of the kernel for the collector's threads (100 to 100000, Linux 6.12 or later): "
      "with a short one they run as soon as a report or an answer arrives, ahead of longer work such as PostgreSQL's "
      "backends on the same machine; 0 keeps the kernel's default", s_check_slice },
    { "curve-secret", S_TEXT, S_AT (curve_secret), "", 0, 0,
      "the collector's secret certificate (from 'tally-collector keygen'): CURVE on report and query", NULL },
    { "clients", S_TEXT, S_AT (clients), "", 0, 0,
      "folder of client certificates (NAME.cert from 'tally-reporter keygen'); only these keys get in", NULL },
    { "feed-curve", S_FLAG, S_AT (feed_curve), "no", 0, 0,
      "CURVE on the feed too: subscribers need a certificate in the clients folder", NULL },
    { "syslog", S_FLAG, S_AT (syslog), "no", 0, 0,
      "log to syslog instead of stderr", NULL },
    { "allow-plaintext", S_FLAG, S_AT (allow_plaintext), "no", 0, 0,
      "accept plaintext connections on non-loopback endpoints (anyone who can reach them can report, "
      "and read figures by snapshot and on the feed)", NULL },
};
#define S_COUNT (sizeof s_table / sizeof s_table [0])

//  Set one setting from text; on a bad value, one sentence in err.
static int
s_assign (settings_t *self, const s_setting_t *s, const char *value, char *err, size_t err_size)
{
    void *slot = (char *) self + s->offset;
    if (s->kind == S_TEXT) {
        if (s->check && s->check (value, 0, err, err_size))
            return -1;
        free (*(char **) slot);
        *(char **) slot = strdup (value);
    }
    else
    if (s->kind == S_INT) {
        char *end;
        errno = 0;
        long number = strtol (value, &end, 10);
        if (errno || end == value || *end || number < s->min || number > s->max) {
            snprintf (err, err_size, "'%s' is not a whole number from %d to %d", value, s->min, s->max);
            return -1;
        }
        if (s->check && s->check (value, number, err, err_size))
            return -1;
        *(int *) slot = (int) number;
    }
    else {
        int flag = conf_flag (value);
        if (flag < 0) {
            snprintf (err, err_size, "'%s' is not yes or no", value);
            return -1;
        }
        *(bool *) slot = flag == 1;
    }
    return 0;
}

static const s_setting_t *
s_lookup (const char *name, size_t name_len)
{
    for (size_t k = 0; k < S_COUNT; k++)
        if (strlen (s_table [k].name) == name_len && strncmp (s_table [k].name, name, name_len) == 0)
            return &s_table [k];
    return NULL;
}

//  conf_load callback: one line of the config file.
static int
s_from_file (void *arg, const char *key, const char *value, char *err, size_t err_size)
{
    const s_setting_t *s = s_lookup (key, strlen (key));
    if (!s) {
        snprintf (err, err_size, "unknown setting (see tally-collector --help for the list)");
        return -1;
    }
    return s_assign ((settings_t *) arg, s, value, err, err_size);
}

void
settings_init (settings_t *self)
{
    memset (self, 0, sizeof *self);
    self->config = strdup ("");
    char err [128];
    for (size_t i = 0; i < S_COUNT; i++)
        s_assign (self, &s_table [i], s_table [i].fallback, err, sizeof err);
}

void
settings_free (settings_t *self)
{
    free (self->config);
    self->config = NULL;
    for (size_t i = 0; i < S_COUNT; i++)
        if (s_table [i].kind == S_TEXT) {
            char **slot = (char **) ((char *) self + s_table [i].offset);
            free (*slot);
            *slot = NULL;
        }
}

void
settings_usage (FILE *out)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_table [i];
        char left [48];
        snprintf (left, sizeof left, "--%s%s", s->name,
                  s->kind == S_TEXT ? " TEXT" : s->kind == S_INT ? " N" : "");
        fprintf (out, "  %-22s %s", left, s->help);
        if (s->kind != S_FLAG && *s->fallback)
            fprintf (out, " [%s]", s->fallback);
        fprintf (out, "\n");
    }
}

int
settings_read_file (settings_t *self, const char *path, char *err, size_t err_size)
{
    if (conf_load (path, s_from_file, self, err, err_size))
        return -1;
    free (self->config);
    self->config = strdup (path);
    return 0;
}

int
settings_load_file (settings_t *self, const char *path)
{
    char err [1024];
    if (settings_read_file (self, path, err, sizeof err)) {
        fprintf (stderr, "tally-collector: %s\n", err);
        return -1;
    }
    return 0;
}

int
settings_parse (settings_t *self, int argc, char **argv, int first)
{
    //  The file first, so that options on the command line override it.
    for (int i = first; i < argc; i++)
        if (strcmp (argv [i], "-c") == 0 || strcmp (argv [i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf (stderr, "tally-collector: option '%s' needs a file\n", argv [i]);
                return -1;
            }
            if (settings_load_file (self, argv [i + 1]))
                return -1;
        }
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0)
            return 1;
        if (strcmp (arg, "-c") == 0 || strcmp (arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp (arg, "--", 2) != 0) {
            fprintf (stderr, "tally-collector: unexpected argument '%s' (see --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t name_len = eq ? (size_t) (eq - name) : strlen (name);
        const s_setting_t *s = s_lookup (name, name_len);
        if (!s) {
            fprintf (stderr, "tally-collector: unknown option '%.*s' (see --help)\n",
                     (int) name_len + 2, arg);
            return -1;
        }
        const char *value;
        if (s->kind == S_FLAG)
            value = eq ? eq + 1 : "yes";
        else
        if (eq)
            value = eq + 1;
        else
        if (i + 1 < argc)
            value = argv [++i];
        else {
            fprintf (stderr, "tally-collector: option '--%s' needs a value\n", s->name);
            return -1;
        }
        char err [256];
        if (s_assign (self, s, value, err, sizeof err)) {
            fprintf (stderr, "tally-collector: option --%s: %s\n", s->name, err);
            return -1;
        }
    }
    //  Known: s_check_log_level passed it, from the file or the command line.
    log_set_level (self->log_level);
    return 0;
}

//  Hide password=... in a conninfo and the password of a URI.
static void
s_hide_password (char *text)
{
    char *at = strstr (text, "password=");
    if (at)
        for (at += 9; *at && *at != ' '; at++)
            *at = '*';
    char *scheme = strstr (text, "://");
    char *end = scheme ? strchr (scheme + 3, '@') : NULL;
    char *colon = scheme ? strchr (scheme + 3, ':') : NULL;
    if (end && colon && colon < end)
        for (colon++; colon < end; colon++)
            *colon = '*';
}

char *
settings_describe (const settings_t *self)
{
    size_t cap = 1024, len = 0;
    char *line = malloc (cap);
    line [0] = 0;
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_table [i];
        const void *slot = (const char *) self + s->offset;
        char value [512];
        if (s->kind == S_TEXT)
            snprintf (value, sizeof value, "%s", *(char *const *) slot);
        else
        if (s->kind == S_INT)
            snprintf (value, sizeof value, "%d", *(const int *) slot);
        else
            snprintf (value, sizeof value, "%s", *(const bool *) slot ? "yes" : "no");
        if (strcmp (s->name, "db") == 0)
            s_hide_password (value);
        size_t need = strlen (s->name) + strlen (value) + 8;
        if (len + need >= cap) {
            cap = (cap + need) * 2;
            line = realloc (line, cap);
        }
        len += (size_t) snprintf (line + len, cap - len, "%s%s='%s'", len ? " " : "", s->name, value);
    }
    return line;
}
