/*  main.c — tally-watch: the city leaders' live view of tally's totals.

    Reads the command line through one settings table (which also writes
    --help), then launches the rest: a store (watch_state), the collector's
    sockets (watch_feed) and an output (watch_view). Exit status: 0 done,
    1 bad command line or setup failure, 2 the collector did not answer.
*/
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "watch_feed.h"
#include "watch_state.h"
#include "watch_table.h"
#include "watch_view.h"

#define S_EXIT_USAGE    1
#define S_EXIT_SILENT   2

//  The settings, as parsed.
typedef struct {
    const char *feed;                   //  --feed
    const char *query;                  //  --query
    const char *prefix;                 //  --prefix
    const char *year;                   //  --year (text until checked)
    const char *timeout;                //  --timeout, seconds (text until checked)
    bool json;                          //  --json
    bool once;                          //  --once
    bool help;                          //  --help
} s_settings_t;

typedef enum { S_TEXT, S_FLAG } s_kind_t;

//  One command-line setting: the table drives parsing and --help. CURVE
//  keys (--server-key, --key) will be rows here too.
typedef struct {
    const char *name;                   //  "--feed"
    s_kind_t kind;                      //  takes a value, or a flag
    const char *metavar;                //  value's name in --help
    const char *fallback;               //  default, shown in --help (NULL: none)
    size_t offset;                      //  field in s_settings_t
    const char *help;                   //  one line for --help
} s_setting_t;

#define S_FIELD(name) offsetof (s_settings_t, name)

static const s_setting_t s_table [] = {
    { "--feed",    S_TEXT, "EP",   "tcp://localhost:7702", S_FIELD (feed),
      "collector's totals feed (PUB) to subscribe to" },
    { "--query",   S_TEXT, "EP",   "tcp://localhost:7703", S_FIELD (query),
      "collector's query endpoint (ROUTER) for snapshots" },
    { "--prefix",  S_TEXT, "CODE", "",                     S_FIELD (prefix),
      "only regions whose code starts with CODE, e.g. 2205 (\"\" = all)" },
    { "--year",    S_TEXT, "YEAR", NULL,                   S_FIELD (year),
      "reporting year to show (default: the newest with data)" },
    { "--json",    S_FLAG, NULL,   NULL,                   S_FIELD (json),
      "one JSON object per totals message instead of the table" },
    { "--once",    S_FLAG, NULL,   NULL,                   S_FIELD (once),
      "print the snapshot and exit (2 if the collector does not answer)" },
    { "--timeout", S_TEXT, "S",    "5",                    S_FIELD (timeout),
      "seconds to wait for a snapshot before giving up (--once) or retrying" },
    { "--help",    S_FLAG, NULL,   NULL,                   S_FIELD (help),
      "show this help" },
};
#define S_SETTINGS (sizeof s_table / sizeof s_table [0])

static void
s_usage (FILE *file)
{
    fprintf (file,
        "Usage: tally-watch [OPTION]...\n"
        "Show tally's live region totals: the city and its counties as a table on a\n"
        "terminal, one plain line per update otherwise, or JSON lines with --json.\n\n");
    for (size_t i = 0; i < S_SETTINGS; i++) {
        const s_setting_t *s = &s_table [i];
        char left [40];
        snprintf (left, sizeof left, "%s%s%s", s->name, s->metavar ? " " : "",
                  s->metavar ? s->metavar : "");
        fprintf (file, "  %-16s %s", left, s->help);
        if (s->fallback)
            fprintf (file, " [%s]", *s->fallback ? s->fallback : "\"\"");
        fprintf (file, "\n");
    }
    fprintf (file,
        "\nExit status: 0 done; 1 bad usage; 2 the collector did not answer (--once).\n");
}

//  Parse argv into settings. Returns 0, or -1 with a sentence in err.
static int
s_parse (int argc, char **argv, s_settings_t *settings, char *err, size_t err_size)
{
    for (size_t i = 0; i < S_SETTINGS; i++)
        if (s_table [i].kind == S_TEXT)
            *(const char **) ((char *) settings + s_table [i].offset) = s_table [i].fallback;
    for (int arg = 1; arg < argc; arg++) {
        const char *name = argv [arg];
        const char *value = NULL;
        const char *equals = strchr (name, '=');
        size_t len = equals ? (size_t) (equals - name) : strlen (name);
        const s_setting_t *setting = NULL;
        for (size_t i = 0; i < S_SETTINGS; i++)
            if (strlen (s_table [i].name) == len && strncmp (s_table [i].name, name, len) == 0)
                setting = &s_table [i];
        if (!setting) {
            snprintf (err, err_size, "unknown option '%s' (see tally-watch --help)", name);
            return -1;
        }
        if (setting->kind == S_FLAG) {
            if (equals) {
                snprintf (err, err_size, "option '%s' takes no value", setting->name);
                return -1;
            }
            *(bool *) ((char *) settings + setting->offset) = true;
            continue;
        }
        if (equals)
            value = equals + 1;
        else
        if (arg + 1 < argc)
            value = argv [++arg];
        else {
            snprintf (err, err_size, "option '%s' needs a value: %s %s",
                      setting->name, setting->name, setting->metavar);
            return -1;
        }
        *(const char **) ((char *) settings + setting->offset) = value;
    }
    return 0;
}

//  Check the values that must be numbers; fills year and timeout_ms.
static int
s_check (const s_settings_t *settings, int64_t *year, int *timeout_ms, char *err, size_t err_size)
{
    *year = 0;
    if (settings->year) {
        char *end;
        errno = 0;
        long value = strtol (settings->year, &end, 10);
        if (errno || *end || end == settings->year || value < 1000 || value > 9999) {
            snprintf (err, err_size, "--year must be a four-digit year such as 2022, not '%s'",
                      settings->year);
            return -1;
        }
        *year = value;
    }
    char *end;
    errno = 0;
    double seconds = strtod (settings->timeout, &end);
    if (errno || *end || end == settings->timeout || !(seconds > 0) || seconds > 86400) {
        snprintf (err, err_size, "--timeout must be a number of seconds above 0, such as 5 or 0.5, not '%s'",
                  settings->timeout);
        return -1;
    }
    *timeout_ms = (int) (seconds * 1000 + 0.5);
    if (*timeout_ms < 1)
        *timeout_ms = 1;
    if (strlen (settings->prefix) > PROTO_MAX_NAME) {
        snprintf (err, err_size, "--prefix is longer than %d bytes", PROTO_MAX_NAME);
        return -1;
    }
    return 0;
}

//  The feed's redraw hook: draw the table, stop when the output is gone.
static int
s_on_wake (void *arg, watch_feed_t *feed)
{
    void **pair = arg;
    watch_view_t *view = pair [0];
    watch_state_t *state = pair [1];
    watch_view_show (view, state, watch_feed_status (feed));
    return watch_view_failed (view) ? -1 : 0;
}

int
main (int argc, char **argv)
{
    s_settings_t settings = { 0 };
    char err [512];
    int64_t year;
    int timeout_ms;
    if (s_parse (argc, argv, &settings, err, sizeof err)
    ||  s_check (&settings, &year, &timeout_ms, err, sizeof err)) {
        fprintf (stderr, "tally-watch: %s\n", err);
        return S_EXIT_USAGE;
    }
    if (settings.help) {
        s_usage (stdout);
        return 0;
    }
    if (watch_table_locale ())
        fprintf (stderr, "tally-watch: no UTF-8 locale available; Chinese columns may not line up\n");
    zsys_init ();
    zsys_set_logstream (NULL);

    bool terminal = isatty (STDOUT_FILENO);
    watch_view_mode_t mode = settings.json ? WATCH_VIEW_JSON
                           : terminal || settings.once ? WATCH_VIEW_TABLE : WATCH_VIEW_LINES;
    watch_view_t *view = watch_view_new (mode, STDOUT_FILENO, year, settings.once);
    watch_state_t *state = watch_state_new (*settings.prefix != 0, watch_view_store, view);
    watch_feed_config_t config = {
        .feed_ep = settings.feed, .query_ep = settings.query, .prefix = settings.prefix,
        .year = year, .timeout_ms = timeout_ms, .log = mode != WATCH_VIEW_TABLE
    };
    watch_feed_t *feed = watch_feed_new (&config, state);

    int status = 0;
    if (settings.once) {
        if (watch_feed_snapshot (feed, err, sizeof err)) {
            fprintf (stderr, "tally-watch: %s\n", err);
            status = S_EXIT_SILENT;
        }
        else
            watch_view_show (view, state, NULL);
    }
    else {
        void *pair [2] = { view, state };
        if (watch_feed_run (feed, s_on_wake, pair, err, sizeof err)) {
            fprintf (stderr, "tally-watch: %s\n", err);
            status = S_EXIT_USAGE;
        }
    }
    watch_feed_destroy (&feed);
    watch_state_destroy (&state);
    watch_view_destroy (&view);
    if (terminal && mode == WATCH_VIEW_TABLE && !settings.once)
        fputs ("\n", stdout);
    return status;
}
