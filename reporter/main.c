/*  main.c — tally-reporter: the county agent of tally.

    Reads a county's figures (CSV, JSON or --set KEY=VALUE), queues them in a
    durable outbox and delivers them to tally-collector, showing its verdict.
    This file only parses the command line and launches the modules: input
    (reading and checking figures), outbox (the durable queue), deliver (the
    conversation with the collector), dropbox (the watched folder),
    curve_keys (reading CURVE certificates); keygen is common/keygen.

    Options live in one table, s_settings: name, argument, default, which
    commands take it and its help text. The same table drives parsing of
    the command line and of a config file (-c FILE: the keys are the long
    option names) and --help, so a new setting is one line here.
*/
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "curve_keys.h"
#include "deliver.h"
#include "dropbox.h"
#include "input.h"
#include "keygen.h"
#include "outbox.h"

//  Exit codes (documented in --help).
#define EXIT_DELIVERED      0           //  every report acked
#define EXIT_REJECTED       1           //  some report permanently rejected
#define EXIT_USAGE          2           //  usage, input or outbox error: nothing queued
#define EXIT_UNDELIVERED    3           //  some reports still queued

//  Commands, as bits so that a setting can name the commands taking it.
enum { C_SEND = 1, C_FLUSH = 2, C_RUN = 4, C_STATUS = 8, C_ALL = 15, C_KEYGEN = 16 };
#define C_DELIVER (C_SEND | C_FLUSH | C_RUN)

typedef enum { K_TEXT, K_NUMBER, K_FLAG, K_LIST } s_kind_t;

//  Settings, in the order --help lists them.
typedef enum {
    S_COLLECTOR, S_SERVER_KEY, S_KEY, S_OUTBOX, S_REGION, S_AS_OF, S_SET, S_NOTE, S_AGAIN,
    S_TIMEOUT, S_WATCH, S_WINDOW, S_REGIONS, S_DIR, S_CONFIG, S_HELP, S_COUNT
} s_id_t;

typedef struct {
    const char *name;                   //  --name
    const char *arg;                    //  argument name in --help, NULL for a flag
    s_kind_t kind;
    const char *fallback;               //  default, NULL for none
    unsigned commands;                  //  C_* taking it
    const char *help;                   //  one line (or more, with \n)
} s_setting_t;

static const s_setting_t s_settings [S_COUNT] = {
    [S_COLLECTOR] = { "collector", "EP", K_LIST, "tcp://localhost:7701", C_DELIVER,
        "the collector's report endpoint; repeat it for several\n"
        "collectors sharing one database: reports go to one at a\n"
        "time, and to the next when it stops answering" },
    [S_SERVER_KEY] = { "server-key", "FILE", K_TEXT, NULL, C_DELIVER,
        "the collector's public certificate (collector.cert):\n"
        "talk CURVE to it (needs --key too)" },
    [S_KEY] = { "key", "FILE", K_TEXT, NULL, C_DELIVER,
        "this county's certificate, NAME.cert_secret (or NAME.cert\n"
        "beside it) from `tally-reporter keygen` (needs --server-key)" },
    [S_OUTBOX] = { "outbox", "DIR", K_TEXT, NULL, C_ALL,
        "the outbox folder (default $XDG_STATE_HOME/tally/outbox,\n"
        "else ~/.local/state/tally/outbox)" },
    [S_REGION] = { "region", "CODE", K_TEXT, NULL, C_SEND | C_RUN,
        "region code of the figures; with a FILE that has a region\n"
        "column, only that region's rows are queued (a filter)" },
    [S_AS_OF] = { "as-of", "YYYY-MM-DD", K_TEXT, NULL, C_SEND | C_RUN,
        "the day the figures describe; with a FILE that has an as_of\n"
        "column, only rows of that day are queued (a filter)" },
    [S_SET] = { "set", "KEY=VALUE", K_LIST, NULL, C_SEND,
        "one figure, a whole number in the metric's catalog unit\n"
        "(repeat for more; needs --region and --as-of)" },
    [S_NOTE] = { "note", "TEXT", K_TEXT, NULL, C_SEND | C_RUN,
        "free text kept with each report (at most 1024 bytes)" },
    [S_AGAIN] = { "again", NULL, K_FLAG, NULL, C_SEND,
        "queue the input even if the very same input was queued before" },
    [S_TIMEOUT] = { "timeout", "SECONDS", K_NUMBER, "30", C_SEND | C_FLUSH,
        "how long to wait for the collector's verdicts (0: do not wait)" },
    [S_WATCH] = { "watch", "DIR", K_TEXT, NULL, C_RUN,
        "queue CSV/JSON files dropped into DIR, then move each to\n"
        "DIR/done, or to DIR/failed with a .error file beside it" },
    [S_WINDOW] = { "window", "N", K_NUMBER, "64", C_SEND | C_FLUSH | C_RUN,
        "reports awaiting a verdict at once" },
    [S_REGIONS] = { "regions", "LIST", K_TEXT, NULL, C_KEYGEN,
        "the regions the key may report for: codes or prefixes\n"
        "ending in *, comma-separated (220582 or 2205* or 220521,220523)" },
    [S_DIR] = { "dir", "DIR", K_TEXT, ".", C_KEYGEN,
        "where to write NAME.cert and NAME.cert_secret" },
    [S_CONFIG] = { "config", "FILE", K_LIST, NULL, C_ALL | C_KEYGEN,
        "read settings from FILE (also -c FILE): \"key = value\" lines,\n"
        "keys are these options' names; options given here win" },
    [S_HELP] = { "help", NULL, K_FLAG, NULL, C_ALL | C_KEYGEN, "show this help" },
};

typedef struct {
    const char *name;
    unsigned bit;
    const char *synopsis;
    const char *about;
    const char *exits;                  //  its exit statuses, for --help
} s_command_t;

static const s_command_t s_commands [] = {
    { "send", C_SEND, "send [FILE|-] [options]",
      "Queue figures in the outbox, deliver everything queued, and wait for the\n"
      "collector's verdicts (up to --timeout).\n"
      "  tally-reporter send --region 220582 --as-of 2022-02-28 \\\n"
      "      --set projects_started=15 --set cattle_added=1239\n"
      "  tally-reporter send figures.csv      (or figures.json, or - for stdin)\n"
      "CSV (UTF-8, RFC 4180) has a header naming its columns: region, as_of,\n"
      "metric, value (others are ignored; one report per region and day), or\n"
      "just metric,value with --region and --as-of. JSON is one object\n"
      "{\"region\", \"as_of\", \"values\": {KEY: N, ...}, \"note\"} or an array of them.\n"
      "Values are whole numbers in the metric's catalog unit (47.7亿元 is 477000\n"
      "in 万元; 57.4% is 5740 in 0.01%). If any line of the input is wrong, each\n"
      "problem is shown with its line (and column) and nothing is queued.\n"
      "Sending the same input again is recognised (\"already queued at ...\")\n"
      "and not queued twice, unless --again.",
      "exit status: 0 all acked, 1 some rejected, 2 usage, key or input error\n"
      "(nothing queued), 3 some still undelivered (they stay queued)." },
    { "flush", C_FLUSH, "flush [options]",
      "Deliver what is queued and wait for the verdicts (up to --timeout).",
      "exit status: 0 all acked, 1 some rejected, 2 usage or key error, or no\n"
      "outbox at --outbox (nothing sent), 3 some still undelivered (they stay queued)." },
    { "run", C_RUN, "run [--watch DIR] [options]",
      "Deliver the outbox continuously, through collector and network outages\n"
      "of any length, until SIGTERM or SIGINT; with --watch, also queue the\n"
      "files dropped into DIR.",
      "exit status: 0 stopped by a signal, 2 usage, key or --watch error (found\n"
      "before the outbox is created or touched)." },
    { "status", C_STATUS, "status [options]",
      "List what is queued and what the collector rejected (and why).",
      "exit status: 0 listed, 2 usage error or no outbox at --outbox." },
    { "keygen", C_KEYGEN, "keygen NAME --regions LIST [--dir DIR]",
      "Make this county's CURVE key: DIR/NAME.cert (public) and\n"
      "DIR/NAME.cert_secret (mode 0600), with the regions the key may report\n"
      "for in its metadata. Copy NAME.cert to the collector's --clients folder\n"
      "(then SIGHUP it); keep NAME.cert_secret on this machine and give it to\n"
      "send, flush and run as --key, with --server-key collector.cert.\n"
      "  tally-reporter keygen jian --regions 220582 --dir keys\n"
      "  tally-reporter keygen tonghua --regions '2205*' --dir keys\n"
      "Each entry of LIST is a region code as the catalog spells it, 6 to 64\n"
      "letters or digits (GB/T 2260: 220582; a township 220582101), or a prefix\n"
      "followed by * (2205* is every region whose code starts with 2205).",
      "exit status: 0 written, 2 nothing written (bad NAME or LIST, the files\n"
      "exist already, or the folder cannot be written)." },
};
#define S_COMMAND_COUNT (sizeof s_commands / sizeof s_commands [0])

//  The values a list setting (--set, --collector) was given.
typedef struct {
    const char **items;                 //  borrowed from argv or s_config_t.owned
    size_t count;
    size_t cap;
} s_list_t;

typedef struct {
    const char *value [S_COUNT];        //  value of each setting (borrowed)
    s_list_t list [S_COUNT];            //  all values of each K_LIST setting
    bool from_file [S_COUNT];           //  the value came from the config file
    const char *source [S_COUNT];       //  and from which one (borrowed from argv)
    const char *loading;                //  the config file being read, NULL after
    const s_command_t *command;         //  the command being parsed
    zlist_t *owned;                     //  copies of the config file's values
    const char *file;                   //  the FILE argument of send, NAME of keygen
} s_config_t;

#define S_LIST_MAX 1024                 //  values of one list setting

//  How send, flush and run reach the collectors, checked up front.
typedef struct {
    curve_keys_t keys;                  //  read from --key and --server-key
    deliver_options_t options;          //  for deliver_new_with; keys point into keys
} s_delivery_t;

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signal)
{
    (void) signal;
    s_stop = 1;
}

static void
s_print_usage (FILE *out)
{
    fprintf (out,
        "usage: tally-reporter COMMAND [options]\n\n"
        "The county agent of tally: queues a county's figures in a durable outbox\n"
        "and delivers them to tally-collector.\n\ncommands:\n");
    for (size_t i = 0; i < S_COMMAND_COUNT; i++)
        fprintf (out, "  tally-reporter %s\n", s_commands [i].synopsis);
    fprintf (out,
        "\nRun `tally-reporter COMMAND --help` for each command's options.\n\n"
        "Every option can also come from a config file, -c FILE (or --config FILE):\n"
        "one \"key = value\" per line, keys being the long option names without --\n"
        "(collector and set may repeat; flags take yes or no; # starts a comment).\n"
        "Options on the command line override the file, which overrides the\n"
        "defaults; one file can serve every command. See deploy/tally-reporter.conf.\n\n"
        "With --server-key and --key the reporter talks CURVE: the collector then\n"
        "knows which county's key sent each report and refuses (nack forbidden)\n"
        "reports for regions outside the key's. A collector with CURVE never\n"
        "answers a client without keys, or with a key it does not know.\n"
        "Given several --collector endpoints (collectors sharing one database), the\n"
        "reporter talks to the first; when it falls silent (a report got no reply,\n"
        "and nothing at all came back, within 3 s) it resends everything in flight\n"
        "to the next, and so on round the list. Resending is safe: (source, seq)\n"
        "makes a report idempotent in the shared database (`duplicate`).\n\n"
        "Every report is written to the outbox and made durable (fsync) before it\n"
        "is sent, as the exact message sent, under a seq that is never reused.\n"
        "What one send is given is queued all or nothing, and the same input sent\n"
        "twice is queued once (\"already queued at ...\"; --again to resend it).\n"
        "Reports go out in seq order, at most --window awaiting a verdict. A\n"
        "report leaves the outbox when the collector acks it (stored, or\n"
        "duplicate: stored before) or rejects it for good: then it is shown\n"
        "(region, as_of, code, reason) and kept in OUTBOX/rejected with the\n"
        "reason. No reply within 3 s, or `unavailable`, means resending with\n"
        "exponential back-off and jitter (at most 30 s apart, never sooner than\n"
        "the collector's retry_ms); the connection is re-established by itself.\n"
        "SIGINT/SIGTERM stop cleanly; the outbox survives any crash.\n\n"
        "Every usage error (a bad option, key file or endpoint, or half a CURVE\n"
        "pair) is found before the outbox is touched. send and run create the\n"
        "outbox; flush and status only use one that exists (exit 2 if none).\n\n"
        "exit status of send and flush:\n"
        "  0  every report was acked\n"
        "  1  some report was permanently rejected (see the message or `status`)\n"
        "  2  usage, key, input or outbox error, or (flush) no outbox at --outbox:\n"
        "     nothing was queued or sent\n"
        "  3  some reports are still undelivered: they stay queued and go with\n"
        "     the next send, flush or run\n"
        "(1 wins over 3. send and flush deliver everything queued, not only the\n"
        "new input.)\n");
}

static void
s_print_command_help (const s_command_t *command)
{
    printf ("usage: tally-reporter %s\n\n%s\n\noptions:\n", command->synopsis, command->about);
    for (int i = 0; i < S_COUNT; i++) {
        const s_setting_t *setting = &s_settings [i];
        if (!(setting->commands & command->bit))
            continue;
        char head [64];
        snprintf (head, sizeof head, "--%s%s%s", setting->name, setting->arg ? " " : "",
                  setting->arg ? setting->arg : "");
        const char *text = setting->help;
        bool first = true;
        while (*text) {
            size_t length = strcspn (text, "\n");
            printf ("  %-24s %.*s\n", first ? head : "", (int) length, text);
            text += length + (text [length] == '\n');
            first = false;
        }
        if (setting->fallback)
            printf ("  %-24s (default %s)\n", "", setting->fallback);
    }
    printf ("\n%s\n", command->exits);
}

//  The setting called name (name_length bytes), or -1.
static int
s_lookup (const char *name, size_t name_length)
{
    for (int i = 0; i < S_COUNT; i++)
        if (strlen (s_settings [i].name) == name_length
        &&  strncmp (s_settings [i].name, name, name_length) == 0)
            return i;
    return -1;
}

//  Check value for setting id and keep it; a list setting collects every
//  value, and the command line's values replace the file's. Returns 0, or
//  -1 with one sentence in err.
static int
s_assign (s_config_t *config, int id, const char *value, bool from_file, char *err, size_t err_size)
{
    const s_setting_t *setting = &s_settings [id];
    if (setting->kind == K_NUMBER) {
        char *end;
        long number = strtol (value, &end, 10);
        if (!*value || *end || number < 0 || number > 1000000) {
            snprintf (err, err_size, "--%s wants a whole number, not \"%s\"", setting->name, value);
            return -1;
        }
    }
    if (setting->kind == K_LIST) {
        s_list_t *list = &config->list [id];
        if (!from_file && config->from_file [id])
            list->count = 0;
        if (list->count == S_LIST_MAX) {
            snprintf (err, err_size, "too many --%s (at most %d)", setting->name, S_LIST_MAX);
            return -1;
        }
        if (list->count == list->cap) {
            list->cap = list->cap ? list->cap * 2 : 8;
            list->items = (const char **) realloc (list->items, list->cap * sizeof (char *));
            assert (list->items);
        }
        list->items [list->count++] = value;
    }
    config->value [id] = value;
    config->from_file [id] = from_file;
    return 0;
}

//  conf_load callback: one "key = value" line of the config file. Keys of
//  other commands are checked and kept (one file serves every command), and
//  only the commands taking them look at them.
static int
s_from_file (void *arg, const char *key, const char *value, char *err, size_t err_size)
{
    s_config_t *config = (s_config_t *) arg;
    int id = s_lookup (key, strlen (key));
    if (id < 0 || id == S_HELP || id == S_CONFIG) {
        snprintf (err, err_size, "unknown setting (the keys are the option names of "
                  "tally-reporter COMMAND --help, without --)");
        return -1;
    }
    if (s_settings [id].kind == K_FLAG) {
        int flag = conf_flag (value);
        if (flag < 0) {
            snprintf (err, err_size, "'%s' is not yes or no", value);
            return -1;
        }
        config->value [id] = flag ? "1" : NULL;
        config->from_file [id] = true;
        return 0;
    }
    //  The form of a figure is checked here, where the line is known; the
    //  key and number are checked with the catalog's rules when sending.
    if (id == S_SET && (!strchr (value, '=') || *value == '=')) {
        snprintf (err, err_size, "'%s' is not KEY=VALUE (e.g. set = projects_started=15)", value);
        return -1;
    }
    zlist_append (config->owned, (void *) value);
    config->source [id] = config->loading;
    return s_assign (config, id, (const char *) zlist_tail (config->owned), true, err, err_size);
}

//  Parse argv[2..] for command, after the config files it names; returns 0,
//  or -1 after telling the user.
static int
s_parse (int argc, char **argv, const s_command_t *command, s_config_t *config)
{
    config->command = command;
    config->owned = zlist_new ();
    zlist_autofree (config->owned);
    char err [1200];
    //  The files first, so that the command line overrides them.
    for (int at = 2; at < argc; at++) {
        const char *path = NULL;
        if ((strcmp (argv [at], "-c") == 0 || strcmp (argv [at], "--config") == 0) && at + 1 < argc)
            path = argv [++at];
        else
        if (strncmp (argv [at], "--config=", 9) == 0)
            path = argv [at] + 9;
        if (!path)
            continue;
        config->loading = path;
        int rc = conf_load (path, s_from_file, config, err, sizeof err);
        config->loading = NULL;
        if (rc || s_assign (config, S_CONFIG, path, false, err, sizeof err)) {
            fprintf (stderr, "tally-reporter %s: %s\n", command->name, err);
            return -1;
        }
    }
    for (int at = 2; at < argc; at++) {
        const char *arg = argv [at];
        if (strcmp (arg, "-h") == 0)
            arg = "--help";
        if (strcmp (arg, "-c") == 0)
            arg = "--config";
        if (strncmp (arg, "--", 2) != 0 || strlen (arg) == 2) {
            if ((command->bit & (C_SEND | C_KEYGEN)) && !config->file) {
                config->file = arg;
                continue;
            }
            fprintf (stderr, "tally-reporter %s: unexpected argument \"%s\" (see tally-reporter %s --help)\n",
                     command->name, arg, command->name);
            return -1;
        }
        const char *name = arg + 2;
        const char *equals = strchr (name, '=');
        size_t name_length = equals ? (size_t) (equals - name) : strlen (name);
        int found = s_lookup (name, name_length);
        if (found < 0 || !(s_settings [found].commands & command->bit)) {
            fprintf (stderr, "tally-reporter %s: unknown option --%.*s (see tally-reporter %s --help)\n",
                     command->name, (int) name_length, name, command->name);
            return -1;
        }
        const s_setting_t *setting = &s_settings [found];
        const char *value;
        if (setting->kind == K_FLAG) {
            if (equals) {
                fprintf (stderr, "tally-reporter %s: --%s takes no value\n", command->name, setting->name);
                return -1;
            }
            value = "1";
        }
        else
        if (equals)
            value = equals + 1;
        else
        if (at + 1 < argc)
            value = argv [++at];
        else {
            fprintf (stderr, "tally-reporter %s: --%s needs a value (%s)\n",
                     command->name, setting->name, setting->arg);
            return -1;
        }
        if (found == S_CONFIG)
            continue;                   //  read and recorded above
        if (s_assign (config, found, value, false, err, sizeof err)) {
            fprintf (stderr, "tally-reporter %s: %s\n", command->name, err);
            return -1;
        }
    }
    //  Defaults last: a list's default stands only when nothing was given.
    for (int i = 0; i < S_COUNT; i++)
        if (s_settings [i].fallback && !config->value [i])
            s_assign (config, i, s_settings [i].fallback, false, err, sizeof err);
    return 0;
}

static void
s_config_free (s_config_t *config)
{
    for (int i = 0; i < S_COUNT; i++)
        free (config->list [i].items);
    zlist_destroy (&config->owned);
}

//  Read the CURVE keys when --server-key and --key are given (both or
//  neither). Returns 0 (*keys filled, or NULL for plaintext), or -1 after
//  telling the user.
static int
s_read_keys (s_config_t *config, curve_keys_t *keys, curve_keys_t **keys_p)
{
    *keys_p = NULL;
    const char *server = config->value [S_SERVER_KEY], *key = config->value [S_KEY];
    if (!server && !key)
        return 0;
    if (!server || !key) {
        fprintf (stderr, "tally-reporter %s: CURVE needs both --server-key (the collector's "
                 "collector.cert) and --key (this county's NAME.cert_secret)\n", config->command->name);
        return -1;
    }
    char err [1200];
    if (curve_keys_load (keys, key, server, err, sizeof err)) {
        fprintf (stderr, "tally-reporter %s: %s\n", config->command->name, err);
        return -1;
    }
    *keys_p = keys;
    return 0;
}

//  Read the keys and check the collectors' endpoints, before the outbox is
//  touched: a usage error must leave nothing queued. Fills *delivery (its
//  options point into it, so it must stay where it is). Returns 0, or -1
//  after telling the user.
static int
s_delivery_prepare (s_config_t *config, s_delivery_t *delivery)
{
    memset (delivery, 0, sizeof *delivery);
    curve_keys_t *curve;
    if (s_read_keys (config, &delivery->keys, &curve))
        return -1;
    deliver_options_t options = {
        .endpoints = config->list [S_COLLECTOR].items,
        .endpoint_count = config->list [S_COLLECTOR].count,
        .window = (size_t) atol (config->value [S_WINDOW]),
        .public_key = curve ? curve->public_key : NULL,
        .secret_key = curve ? curve->secret_key : NULL,
        .server_key = curve ? curve->server_key : NULL
    };
    delivery->options = options;
    char err [700];
    if (deliver_check (&delivery->options, err, sizeof err)) {
        fprintf (stderr, "tally-reporter %s: %s\n", config->command->name, err);
        return -1;
    }
    return 0;
}

//  Connect to the collectors as prepared. NULL after telling the user.
static deliver_t *
s_deliver_new (outbox_t *outbox, s_delivery_t *delivery)
{
    char err [700];
    deliver_t *deliver = deliver_new_with (outbox, &delivery->options, stderr, err, sizeof err);
    if (!deliver)
        fprintf (stderr, "tally-reporter: %s\n", err);
    return deliver;
}

//  The collectors' endpoints, comma-separated, for messages (caller frees).
static char *
s_collectors_text (s_config_t *config)
{
    char *text = strdup ("");
    for (size_t i = 0; i < config->list [S_COLLECTOR].count; i++) {
        char *next = zsys_sprintf ("%s%s%s", text, i ? ", " : "", config->list [S_COLLECTOR].items [i]);
        free (text);
        text = next;
    }
    return text;
}

//  Open the outbox; only send and run create it (create true), so that
//  status or flush on a mistyped --outbox makes nothing. NULL after telling
//  the user.
static outbox_t *
s_open_outbox (s_config_t *config, bool create)
{
    char *fallback = NULL;
    const char *dir = config->value [S_OUTBOX];
    if (!dir)
        dir = fallback = outbox_default_dir ();
    char err [600];
    outbox_t *outbox = create ? outbox_new (dir, err, sizeof err)
                              : outbox_open (dir, err, sizeof err);
    if (!outbox)
        fprintf (stderr, "tally-reporter %s: %s\n", config->command->name, err);
    zstr_free (&fallback);
    return outbox;
}

static void
s_format_time (int64_t ms, char *buffer, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm local;
    localtime_r (&seconds, &local);
    strftime (buffer, size, "%Y-%m-%d %H:%M:%S", &local);
}

//  Deliver what is queued until done or the timeout; say how it went and
//  return the exit status.
static int
s_deliver (outbox_t *outbox, s_config_t *config, s_delivery_t *delivery)
{
    deliver_t *deliver = s_deliver_new (outbox, delivery);
    if (!deliver)
        return EXIT_USAGE;
    size_t queued = deliver_reload (deliver);
    int64_t timeout_ms = (int64_t) atol (config->value [S_TIMEOUT]) * 1000;
    size_t left = queued;
    if (queued && timeout_ms > 0)
        left = deliver_until_done (deliver, zclock_mono () + timeout_ms, &s_stop);
    const deliver_stats_t *stats = deliver_stats (deliver);
    size_t acked = stats->stored + stats->duplicate;
    if (queued == 0)
        printf ("nothing queued: the outbox is empty\n");
    else
        printf ("delivered %zu of %zu report%s (%zu stored, %zu already stored), %zu rejected, "
                "%zu still queued\n", acked, queued, queued == 1 ? "" : "s", stats->stored,
                stats->duplicate, stats->rejected, left);
    if (left)
        printf ("the undelivered reports stay in the outbox %s and go with the next "
                "send, flush or run\n", outbox_dir (outbox));
    if (left && timeout_ms > 0 && stats->replies == 0) {
        //  A collector with CURVE never answers a plaintext client (nor one
        //  with a key it does not know): say so, as nothing else will.
        char *where = s_collectors_text (config);
        if (config->value [S_KEY])
            fprintf (stderr, "tally-reporter: no reply from %s: is the collector running, does it "
                     "know this key (its .cert in the collector's --clients folder), and is "
                     "--server-key its public key?\n", where);
        else
            fprintf (stderr, "tally-reporter: no reply from %s: is the collector running, and do "
                     "you need --server-key/--key?\n", where);
        free (where);
    }
    int status = stats->rejected ? EXIT_REJECTED : left ? EXIT_UNDELIVERED : EXIT_DELIVERED;
    deliver_destroy (&deliver);
    return status;
}

static input_options_t
s_input_options (s_config_t *config)
{
    input_options_t options = {
        .region = config->value [S_REGION],
        .as_of = config->value [S_AS_OF],
        .note = config->value [S_NOTE]
    };
    return options;
}

static int
s_send (s_config_t *config)
{
    size_t set_count = config->list [S_SET].count;
    if (config->file && set_count) {
        fprintf (stderr, "tally-reporter send: give either FILE or --set KEY=VALUE, not both\n");
        return EXIT_USAGE;
    }
    if (!config->file && !set_count) {
        fprintf (stderr, "tally-reporter send: nothing to send: give a FILE (or - for stdin) or "
                 "--region CODE --as-of YYYY-MM-DD --set KEY=VALUE (see --help)\n");
        return EXIT_USAGE;
    }
    s_delivery_t delivery;
    if (s_delivery_prepare (config, &delivery))
        return EXIT_USAGE;
    input_options_t options = s_input_options (config);
    //  Figures from set = lines are blamed on their file, not the command line.
    char from_file [1100] = "config file, key 'set'";
    if (!config->file && config->from_file [S_SET] && config->source [S_SET])
        snprintf (from_file, sizeof from_file, "%s, key 'set'", config->source [S_SET]);
    const char *name = config->file ? (strcmp (config->file, "-") == 0 ? "<stdin>" : config->file)
                     : config->from_file [S_SET] ? from_file
                     : "command line";
    input_t *input = input_new (name, &options);
    if (config->file)
        input_read_file (input, config->file);
    else
        input_read_sets (input, config->list [S_SET].items, set_count);
    if (input_finish (input) != 0) {
        input_print_errors (input, stderr);
        fprintf (stderr, "tally-reporter: %zu error%s in %s: nothing was queued\n",
                 input_error_count (input), input_error_count (input) == 1 ? "" : "s", name);
        input_destroy (&input);
        return EXIT_USAGE;
    }
    outbox_t *outbox = s_open_outbox (config, true);
    if (!outbox) {
        input_destroy (&input);
        return EXIT_USAGE;
    }
    size_t count = input_report_count (input);
    proto_msg_t **reports = (proto_msg_t **) malloc (count * sizeof (proto_msg_t *));
    for (size_t i = 0; i < count; i++)
        reports [i] = input_report_at (input, i);
    outbox_receipt_t receipt;
    char err [600], when [32];
    int rc = outbox_queue (outbox, reports, count, input_digest (input),
                           config->value [S_AGAIN] != NULL, &receipt, err, sizeof err);
    free (reports);
    int status;
    if (rc == -1) {
        fprintf (stderr, "tally-reporter: cannot queue %s: %s; nothing was queued\n", name, err);
        status = EXIT_USAGE;
    }
    else {
        s_format_time (receipt.queued_at, when, sizeof when);
        if (rc == OUTBOX_ALREADY)
            printf ("%s: already queued at %s (%zu report%s, seq %" PRId64 "-%" PRId64 "); "
                    "not queued again (use --again to send it anew)\n", name, when, receipt.count,
                    receipt.count == 1 ? "" : "s", receipt.first_seq,
                    receipt.first_seq + (int64_t) receipt.count - 1);
        else
            printf ("%s: queued %zu report%s (seq %" PRId64 "-%" PRId64 ")\n", name, receipt.count,
                    receipt.count == 1 ? "" : "s", receipt.first_seq,
                    receipt.first_seq + (int64_t) receipt.count - 1);
        fflush (stdout);
        status = s_deliver (outbox, config, &delivery);
    }
    outbox_destroy (&outbox);
    input_destroy (&input);
    return status;
}

static int
s_flush (s_config_t *config)
{
    s_delivery_t delivery;
    if (s_delivery_prepare (config, &delivery))
        return EXIT_USAGE;
    outbox_t *outbox = s_open_outbox (config, false);
    if (!outbox)
        return EXIT_USAGE;
    int status = s_deliver (outbox, config, &delivery);
    outbox_destroy (&outbox);
    return status;
}

static int
s_status (s_config_t *config)
{
    outbox_t *outbox = s_open_outbox (config, false);
    if (!outbox)
        return EXIT_USAGE;
    outbox_print_status (outbox, stdout);
    outbox_destroy (&outbox);
    return 0;
}

//  One line of the settings in effect for a command, from the settings table
//  (what the operator sees at the start of `run`).
static void
s_log_settings (s_config_t *config, unsigned command, FILE *out)
{
    fprintf (out, "tally-reporter: settings:");
    for (int id = 0; id < S_COUNT; id++) {
        const s_setting_t *setting = &s_settings [id];
        if (!(setting->commands & command) || id == S_HELP)
            continue;
        fprintf (out, " %s=", setting->name);
        if (setting->kind == K_LIST && config->list [id].count > 0)
            for (size_t i = 0; i < config->list [id].count; i++)
                fprintf (out, "%s%s", i ? "," : "", config->list [id].items [i]);
        else
        if (setting->kind == K_FLAG)
            fprintf (out, "%s", config->value [id] ? "yes" : "no");
        else {
            const char *value = config->value [id] ? config->value [id] : setting->fallback;
            fprintf (out, "'%s'", value ? value : "");
        }
    }
    fprintf (out, "\n");
}

static int
s_run (s_config_t *config)
{
    //  Every usage error before the outbox is created or touched.
    s_delivery_t delivery;
    if (s_delivery_prepare (config, &delivery))
        return EXIT_USAGE;
    const char *watch = config->value [S_WATCH];
    char err [600];
    if (watch && dropbox_prepare (watch, err, sizeof err) == -1) {
        fprintf (stderr, "tally-reporter run: %s\n", err);
        return EXIT_USAGE;
    }
    outbox_t *outbox = s_open_outbox (config, true);
    if (!outbox)
        return EXIT_USAGE;
    deliver_t *deliver = s_deliver_new (outbox, &delivery);
    if (!deliver) {
        outbox_destroy (&outbox);
        return EXIT_USAGE;
    }
    char *where = s_collectors_text (config);
    fprintf (stderr, "tally-reporter: delivering outbox %s (source %s) to %s%s%s%s\n",
             outbox_dir (outbox), outbox_source (outbox), where,
             config->value [S_KEY] ? " with CURVE" : "", watch ? ", watching " : "", watch ? watch : "");
    free (where);
    s_log_settings (config, C_RUN, stderr);
    input_options_t options = s_input_options (config);
    int64_t next_scan = 0;
    bool was_busy = false;
    while (!s_stop) {
        int64_t now = zclock_mono ();
        if (now >= next_scan) {
            //  Pick up files dropped in, and reports queued by `send` elsewhere.
            if (watch)
                dropbox_scan (watch, outbox, &options, stderr);
            deliver_reload (deliver);
            next_scan = now + 1000;
        }
        deliver_step (deliver, 200);
        bool busy = deliver_pending (deliver) > 0;
        if (was_busy && !busy)
            outbox_tidy (outbox);
        was_busy = busy;
    }
    const deliver_stats_t *stats = deliver_stats (deliver);
    fprintf (stderr, "tally-reporter: stopping: %zu stored, %zu already stored, %zu rejected, "
             "%zu still queued in %s\n", stats->stored, stats->duplicate, stats->rejected,
             deliver_pending (deliver), outbox_dir (outbox));
    deliver_destroy (&deliver);
    outbox_destroy (&outbox);
    return 0;
}

static int
s_keygen (s_config_t *config)
{
    const char *name = config->file, *regions = config->value [S_REGIONS];
    const char *dir = config->value [S_DIR];
    char err [1200];
    if (!name) {
        fprintf (stderr, "tally-reporter keygen: give the key's NAME, e.g. "
                 "tally-reporter keygen jian --regions 220582\n");
        return EXIT_USAGE;
    }
    if (!regions) {
        fprintf (stderr, "tally-reporter keygen: --regions LIST is required: the region codes or "
                 "prefixes ending in * this key may report for (e.g. 220582 or 2205*)\n");
        return EXIT_USAGE;
    }
    if (keygen_check_regions (regions, err, sizeof err)
    ||  keygen_write (dir, name, regions, err, sizeof err)) {
        fprintf (stderr, "tally-reporter keygen: %s; nothing was written\n", err);
        return EXIT_USAGE;
    }
    printf ("wrote %s/%s.cert (public) and %s/%s.cert_secret (secret, mode 0600),\n"
            "a key that may report for %s.\n"
            "- copy %s/%s.cert to the collector's --clients folder, then send the\n"
            "  collector SIGHUP (or restart it) so that it knows the key;\n"
            "- keep %s/%s.cert_secret on this machine only, and deliver with\n"
            "  tally-reporter send FILE --key %s/%s.cert_secret --server-key collector.cert\n"
            "  (collector.cert: the collector's public certificate).\n",
            dir, name, dir, name, regions, dir, name, dir, name, dir, name);
    return 0;
}

int
main (int argc, char **argv)
{
    //  We handle SIGINT/SIGTERM ourselves: finish the step, keep the outbox intact.
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    if (argc < 2 || strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0
    ||  strcmp (argv [1], "help") == 0) {
        if (argc >= 3 && strcmp (argv [1], "help") == 0) {
            for (size_t i = 0; i < S_COMMAND_COUNT; i++)
                if (strcmp (argv [2], s_commands [i].name) == 0) {
                    s_print_command_help (&s_commands [i]);
                    return 0;
                }
        }
        s_print_usage (argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const s_command_t *command = NULL;
    for (size_t i = 0; i < S_COMMAND_COUNT; i++)
        if (strcmp (argv [1], s_commands [i].name) == 0)
            command = &s_commands [i];
    if (!command) {
        fprintf (stderr, "tally-reporter: unknown command \"%s\" (commands: send, flush, run, "
                 "status, keygen; see tally-reporter --help)\n", argv [1]);
        return EXIT_USAGE;
    }
    s_config_t config;
    memset (&config, 0, sizeof config);
    if (s_parse (argc, argv, command, &config) != 0) {
        s_config_free (&config);
        return EXIT_USAGE;
    }
    if (config.value [S_HELP] && !config.from_file [S_HELP]) {
        s_print_command_help (command);
        s_config_free (&config);
        return 0;
    }
    int status;
    switch (command->bit) {
        case C_SEND:   status = s_send (&config); break;
        case C_FLUSH:  status = s_flush (&config); break;
        case C_RUN:    status = s_run (&config); break;
        case C_KEYGEN: status = s_keygen (&config); break;
        default:       status = s_status (&config); break;
    }
    s_config_free (&config);
    fflush (stdout);
    return status;
}
