/*  main.c — tally-watch: the city leaders' live view of tally's totals.

    Reads a config file (-c FILE) and the command line through one settings
    table (which also writes --help), then launches the rest: a store
    (watch_state), the collector's sockets (watch_feed) and an output
    (watch_view). Exit status: 0 done, 1 bad command line, config file or
    setup failure, 2 the collector did not answer.
*/
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf.h"
#include "watch_feed.h"
#include "curve_keys.h"
#include "watch_state.h"
#include "watch_table.h"
#include "watch_view.h"

#define S_EXIT_USAGE    1
#define S_EXIT_SILENT   2

//  The values of a setting that may repeat (--feed, --query).
typedef struct {
    const char *items [WATCH_FEED_MAX]; //  borrowed from argv or s_settings_t.owned
    size_t count;
    bool from_file;                     //  the values came from the config file
} s_list_t;

//  The settings, as parsed.
typedef struct {
    s_list_t feed;                      //  --feed (repeatable)
    s_list_t query;                     //  --query (repeatable)
    const char *prefix;                 //  --prefix
    const char *year;                   //  --year (text until checked)
    const char *timeout;                //  --timeout, seconds (text until checked)
    const char *server_key;             //  --server-key
    const char *key;                    //  --key
    bool feed_curve;                    //  --feed-curve
    bool json;                          //  --json
    bool once;                          //  --once
    const char *config;                 //  --config / -c (read before the rest)
    bool help;                          //  --help
    zlist_t *owned;                     //  copies of the config file's values
} s_settings_t;

typedef enum { S_TEXT, S_LIST, S_FLAG } s_kind_t;

//  True when value is acceptable for a setting.
typedef bool (s_valid_fn) (const char *value);

//  One setting: the table drives the command line, the config file (keys
//  are the names without "--") and --help.
typedef struct {
    const char *name;                   //  "--feed"
    s_kind_t kind;                      //  takes a value, may repeat, or a flag
    const char *metavar;                //  value's name in --help
    const char *fallback;               //  default, shown in --help (NULL: none)
    size_t offset;                      //  field in s_settings_t
    const char *help;                   //  one line for --help (\n: more lines)
    s_valid_fn *valid;                  //  checks the value (NULL: any text)
    const char *must;                   //  what valid accepts, for messages
} s_setting_t;

#define S_STRING(x)   S_STRING_(x)
#define S_STRING_(x)  #x

static bool
s_valid_year (const char *value)
{
    char *end;
    errno = 0;
    long year = strtol (value, &end, 10);
    return !errno && end != value && !*end && year >= 1000 && year <= 9999;
}

static bool
s_valid_seconds (const char *value)
{
    char *end;
    errno = 0;
    double seconds = strtod (value, &end);
    return !errno && end != value && !*end && seconds > 0 && seconds <= 86400;
}

static bool
s_valid_prefix (const char *value)
{
    return strlen (value) <= PROTO_MAX_NAME;
}

#define S_FIELD(name) offsetof (s_settings_t, name)

static const s_setting_t s_table [] = {
    { "--feed",    S_LIST, "EP",   "tcp://localhost:7702", S_FIELD (feed),
      "collector's totals feed (PUB) to subscribe to; repeat it for\n"
      "several collectors sharing one database (see below)", NULL, NULL },
    { "--query",   S_LIST, "EP",   "tcp://localhost:7703", S_FIELD (query),
      "collector's query endpoint (ROUTER) for snapshots; repeat it\n"
      "to try the next when one does not answer", NULL, NULL },
    { "--prefix",  S_TEXT, "CODE", "",                     S_FIELD (prefix),
      "only regions whose code starts with CODE, e.g. 2205 (\"\" = all)",
      s_valid_prefix, "a region code prefix of at most " S_STRING (PROTO_MAX_NAME) " bytes" },
    { "--year",    S_TEXT, "YEAR", NULL,                   S_FIELD (year),
      "reporting year to show (default: the newest with data)",
      s_valid_year, "a four-digit year such as 2022" },
    { "--json",    S_FLAG, NULL,   NULL,                   S_FIELD (json),
      "one JSON object per totals message instead of the table", NULL, NULL },
    { "--once",    S_FLAG, NULL,   NULL,                   S_FIELD (once),
      "print the snapshot and exit (2 if the collector does not answer)", NULL, NULL },
    { "--timeout", S_TEXT, "S",    "5",                    S_FIELD (timeout),
      "seconds to wait for a snapshot before giving up (--once) or retrying",
      s_valid_seconds, "a number of seconds above 0 (at most 86400), such as 5 or 0.5" },
    { "--server-key", S_TEXT, "FILE", NULL,                S_FIELD (server_key),
      "the collector's public certificate (collector.cert): ask for\n"
      "snapshots over CURVE (needs --key)", NULL, NULL },
    { "--key",     S_TEXT, "FILE", NULL,                   S_FIELD (key),
      "our certificate, NAME.cert_secret (or NAME.cert beside it) from\n"
      "tally-reporter keygen, known to the collector (needs --server-key)", NULL, NULL },
    { "--feed-curve", S_FLAG, NULL, NULL,                  S_FIELD (feed_curve),
      "CURVE on the feed too, for a collector run with --feed-curve\n"
      "(a CURVE subscriber cannot hear a plaintext feed)", NULL, NULL },
    { "--config",  S_TEXT, "FILE", NULL,                   S_FIELD (config),
      "read settings from FILE (also -c FILE): \"key = value\" lines, keys\n"
      "are these options' names without --; options given here win", NULL, NULL },
    { "--help",    S_FLAG, NULL,   NULL,                   S_FIELD (help),
      "show this help", NULL, NULL },
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
        const char *text = s->help;
        bool first = true;
        while (*text) {
            size_t length = strcspn (text, "\n");
            fprintf (file, "  %-18s %.*s", first ? left : "", (int) length, text);
            text += length + (text [length] == '\n');
            if (!*text && s->fallback)
                fprintf (file, " [%s]", *s->fallback ? s->fallback : "\"\"");
            fprintf (file, "\n");
            first = false;
        }
    }
    fprintf (file,
        "\nEvery option can come from a config file too (-c FILE): one \"key = value\"\n"
        "per line, keys being the option names without -- (feed and query may\n"
        "repeat; flags take yes or no). The command line overrides the file, the\n"
        "file overrides the defaults. See deploy/tally-watch.conf.\n"
        "\n"
        "Several feeds (collectors sharing one database): the watch subscribes to\n"
        "all of them at once. A totals message's seq counts its collector's feed\n"
        "messages, and its version is the database's feed sequence of its\n"
        "region-year's last change. Each collector numbers its own feed and\n"
        "publishes only its own commits, so seqs from several feeds interleave\n"
        "and say nothing about each other, and versions arrive out of order: the watch\n"
        "keeps each region's copy with the highest version and never goes back to\n"
        "an older one, whatever order the feeds deliver in. A jump in seq is\n"
        "then no loss; a heartbeat announcing a seq beyond the last one seen on\n"
        "its own feed is, and so is a feed coming back after 3 s of silence:\n"
        "either takes a fresh snapshot. The collectors count as silent only\n"
        "when every feed is. If no feed ever delivered anything while the query\n"
        "endpoint answers, the silence message says what to check (such as\n"
        "--feed-curve for a collector run with it).\n"
        "\n"
        "When the collector has totals but none match --prefix and --year, the\n"
        "watch says so instead of \"no totals yet\", naming the regions or the\n"
        "newest year there are: in the table's title, on stderr otherwise (JSON\n"
        "lines stay JSON). Totals that match later are shown as usual.\n"
        "\nExit status: 0 done (--once: also when nothing matched --prefix and\n"
        "--year); 1 bad usage, config file or key file; 2 the collector did not\n"
        "answer (--once).\n");
}

static const s_setting_t *
s_lookup (const char *name, size_t length)
{
    for (size_t i = 0; i < S_SETTINGS; i++)
        if (strlen (s_table [i].name) == length && strncmp (s_table [i].name, name, length) == 0)
            return &s_table [i];
    return NULL;
}

//  Check and keep value for setting; a list collects values, and the
//  command line's replace the file's. Returns 0, or -1 with a sentence in
//  err: for the file without the key (conf_load puts "FILE:LINE: key 'K': "
//  in front), for the command line naming the option.
static int
s_assign (s_settings_t *settings, const s_setting_t *setting, const char *value, bool from_file,
          char *err, size_t err_size)
{
    if (setting->valid && !setting->valid (value)) {
        if (from_file)
            snprintf (err, err_size, "'%s' is not %s", value, setting->must);
        else
            snprintf (err, err_size, "%s must be %s, not '%s'", setting->name, setting->must, value);
        return -1;
    }
    void *slot = (char *) settings + setting->offset;
    if (setting->kind == S_LIST) {
        s_list_t *list = (s_list_t *) slot;
        if (list->from_file != from_file)
            list->count = 0;
        list->from_file = from_file;
        if (list->count == WATCH_FEED_MAX) {
            snprintf (err, err_size, "at most %d %s", WATCH_FEED_MAX, setting->name);
            return -1;
        }
        list->items [list->count++] = value;
    }
    else
        *(const char **) slot = value;
    return 0;
}

//  conf_load callback: one "key = value" line of the config file.
static int
s_from_file (void *arg, const char *key, const char *value, char *err, size_t err_size)
{
    s_settings_t *settings = arg;
    char name [64];
    snprintf (name, sizeof name, "--%s", key);
    const s_setting_t *setting = s_lookup (name, strlen (name));
    if (!setting || setting->offset == S_FIELD (help) || setting->offset == S_FIELD (config)) {
        snprintf (err, err_size, "unknown setting (the keys are the option names of "
                  "tally-watch --help, without --)");
        return -1;
    }
    if (setting->kind == S_FLAG) {
        int flag = conf_flag (value);
        if (flag < 0) {
            snprintf (err, err_size, "'%s' is not yes or no", value);
            return -1;
        }
        *(bool *) ((char *) settings + setting->offset) = flag == 1;
        return 0;
    }
    zlist_append (settings->owned, (void *) value);
    return s_assign (settings, setting, zlist_tail (settings->owned), true, err, err_size);
}

//  Parse the config files named on the command line, then argv, into
//  settings. Returns 0, or -1 with a sentence in err.
static int
s_parse (int argc, char **argv, s_settings_t *settings, char *err, size_t err_size)
{
    settings->owned = zlist_new ();
    zlist_autofree (settings->owned);
    for (int arg = 1; arg < argc; arg++) {
        const char *path = NULL;
        if ((strcmp (argv [arg], "-c") == 0 || strcmp (argv [arg], "--config") == 0) && arg + 1 < argc)
            path = argv [++arg];
        else
        if (strncmp (argv [arg], "--config=", 9) == 0)
            path = argv [arg] + 9;
        if (path && conf_load (path, s_from_file, settings, err, err_size))
            return -1;
    }
    for (int arg = 1; arg < argc; arg++) {
        const char *name = strcmp (argv [arg], "-c") == 0 ? "--config" : argv [arg];
        const char *value = NULL;
        const char *equals = strchr (name, '=');
        size_t len = equals ? (size_t) (equals - name) : strlen (name);
        const s_setting_t *setting = s_lookup (name, len);
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
        if (s_assign (settings, setting, value, false, err, err_size))
            return -1;
    }
    //  Defaults where nothing was given.
    for (size_t i = 0; i < S_SETTINGS; i++) {
        const s_setting_t *setting = &s_table [i];
        void *slot = (char *) settings + setting->offset;
        if (!setting->fallback)
            continue;
        if (setting->kind == S_LIST && ((s_list_t *) slot)->count == 0)
            s_assign (settings, setting, setting->fallback, false, err, err_size);
        else
        if (setting->kind == S_TEXT && !*(const char **) slot)
            *(const char **) slot = setting->fallback;
    }
    return 0;
}

//  The numbers of the settings s_assign has checked: year and timeout_ms.
static void
s_numbers (const s_settings_t *settings, int64_t *year, int *timeout_ms)
{
    *year = settings->year ? strtol (settings->year, NULL, 10) : 0;
    *timeout_ms = (int) (strtod (settings->timeout, NULL) * 1000 + 0.5);
    if (*timeout_ms < 1)
        *timeout_ms = 1;
}

//  The feed's redraw hook: draw the table, stop when the output is gone.
static int
s_on_wake (void *arg, watch_feed_t *feed)
{
    void **pair = arg;
    watch_view_t *view = pair [0];
    watch_state_t *state = pair [1];
    watch_view_show (view, state, watch_feed_status (feed), watch_feed_no_match (feed));
    return watch_view_failed (view) ? -1 : 0;
}

//  Every endpoint of list must be one ZeroMQ can connect to (a typo such as
//  'htp://' or a port that is not a number); tells the user of the first
//  that is not and returns -1.
static int
s_check_endpoints (const char *option, const s_list_t *list, int type)
{
    for (size_t i = 0; i < list->count; i++) {
        zsock_t *probe = zsock_new (type);
        assert (probe);
        zsock_set_linger (probe, 0);
        int rc = zsock_connect (probe, "%s", list->items [i]);
        int error = zmq_errno ();
        zsock_destroy (&probe);
        if (rc) {
            fprintf (stderr, "tally-watch: %s%s '%s' is not an endpoint to connect to (%s); "
                     "give tcp://HOST:PORT\n", option, list->from_file ? " (from the config file)" : "",
                     list->items [i], zmq_strerror (error));
            return -1;
        }
    }
    return 0;
}

int
main (int argc, char **argv)
{
    s_settings_t settings = { 0 };
    char err [1200];
    int64_t year;
    int timeout_ms;
    if (s_parse (argc, argv, &settings, err, sizeof err)) {
        fprintf (stderr, "tally-watch: %s\n", err);
        zlist_destroy (&settings.owned);
        return S_EXIT_USAGE;
    }
    s_numbers (&settings, &year, &timeout_ms);
    if (settings.help) {
        s_usage (stdout);
        zlist_destroy (&settings.owned);
        return 0;
    }
    curve_keys_t keys;
    bool curve = settings.server_key || settings.key;
    if (curve && (!settings.server_key || !settings.key))
        snprintf (err, sizeof err, "CURVE needs both --server-key (the collector's collector.cert) "
                  "and --key (our NAME.cert_secret)");
    else
    if (!curve && settings.feed_curve)
        snprintf (err, sizeof err, "--feed-curve needs --server-key and --key");
    else
    if (!curve || curve_keys_load (&keys, settings.key, settings.server_key, err, sizeof err) == 0)
        err [0] = 0;
    if (err [0]) {
        fprintf (stderr, "tally-watch: %s\n", err);
        zlist_destroy (&settings.owned);
        return S_EXIT_USAGE;
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
    //  Several collectors' feeds interleave their seqs: apply by version.
    watch_state_set_merged (state, settings.feed.count > 1);
    watch_feed_config_t config = {
        .feed_eps = settings.feed.items, .feed_count = settings.feed.count,
        .query_eps = settings.query.items, .query_count = settings.query.count,
        .public_key = curve ? keys.public_key : NULL, .secret_key = curve ? keys.secret_key : NULL,
        .server_key = curve ? keys.server_key : NULL, .feed_curve = settings.feed_curve,
        .prefix = settings.prefix, .year = year, .timeout_ms = timeout_ms,
        .log = mode != WATCH_VIEW_TABLE
    };
    //  A bad endpoint is a usage error (1), found before any waiting, and
    //  with --once too, which reads no feed.
    if (s_check_endpoints ("--feed", &settings.feed, ZMQ_SUB)
    ||  s_check_endpoints ("--query", &settings.query, ZMQ_DEALER)) {
        watch_state_destroy (&state);
        watch_view_destroy (&view);
        zlist_destroy (&settings.owned);
        return S_EXIT_USAGE;
    }
    watch_feed_t *feed = watch_feed_new (&config, state);

    int status = 0;
    if (settings.once) {
        if (watch_feed_snapshot (feed, err, sizeof err)) {
            fprintf (stderr, "tally-watch: %s\n", err);
            status = S_EXIT_SILENT;
        }
        else
            watch_view_show (view, state, NULL, watch_feed_no_match (feed));
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
    zlist_destroy (&settings.owned);
    return status;
}
