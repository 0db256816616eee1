/*  main.c — tally-reporter: the county agent of tally.

    Reads a county's figures (CSV, JSON or --set KEY=VALUE), queues them in a
    durable outbox and delivers them to tally-collector, showing its verdict.
    This file only parses the command line and launches the modules: input
    (reading and checking figures), outbox (the durable queue), deliver (the
    conversation with the collector) and dropbox (the watched folder).

    Options live in one table, s_settings: name, argument, default, which
    commands take it and its help text. The same table drives parsing and
    --help, so a new setting is one line here.
*/
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "dropbox.h"
#include "input.h"
#include "outbox.h"

//  Exit codes (documented in --help).
#define EXIT_DELIVERED      0           //  every report acked
#define EXIT_REJECTED       1           //  some report permanently rejected
#define EXIT_USAGE          2           //  usage, input or outbox error: nothing queued
#define EXIT_UNDELIVERED    3           //  some reports still queued

//  Commands, as bits so that a setting can name the commands taking it.
enum { C_SEND = 1, C_FLUSH = 2, C_RUN = 4, C_STATUS = 8, C_ALL = 15 };

typedef enum { K_TEXT, K_NUMBER, K_FLAG, K_LIST } s_kind_t;

//  Settings, in the order --help lists them.
typedef enum {
    S_COLLECTOR, S_OUTBOX, S_REGION, S_AS_OF, S_SET, S_NOTE, S_AGAIN, S_TIMEOUT,
    S_WATCH, S_WINDOW, S_HELP, S_COUNT
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
    [S_COLLECTOR] = { "collector", "EP", K_TEXT, "tcp://localhost:7701", C_SEND | C_FLUSH | C_RUN,
        "the collector's report endpoint" },
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
    [S_HELP] = { "help", NULL, K_FLAG, NULL, C_ALL, "show this help" },
};

typedef struct {
    const char *name;
    unsigned bit;
    const char *synopsis;
    const char *about;
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
      "and not queued twice, unless --again." },
    { "flush", C_FLUSH, "flush [options]",
      "Deliver what is queued and wait for the verdicts (up to --timeout)." },
    { "run", C_RUN, "run [--watch DIR] [options]",
      "Deliver the outbox continuously, through collector and network outages\n"
      "of any length, until SIGTERM or SIGINT; with --watch, also queue the\n"
      "files dropped into DIR." },
    { "status", C_STATUS, "status [options]",
      "List what is queued and what the collector rejected (and why)." },
};
#define S_COMMAND_COUNT (sizeof s_commands / sizeof s_commands [0])

typedef struct {
    const char *value [S_COUNT];        //  value of each setting (borrowed from argv)
    const char *sets [256 * 4];         //  --set values
    size_t set_count;
    const char *file;                   //  the FILE argument of send
} s_config_t;

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
        "exit status of send and flush:\n"
        "  0  every report was acked\n"
        "  1  some report was permanently rejected (see the message or `status`)\n"
        "  2  usage, input or outbox error (nothing was queued)\n"
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
    if (command->bit & (C_SEND | C_FLUSH))
        printf ("\nexit status: 0 all acked, 1 some rejected, 2 usage/input error\n"
                "(nothing queued), 3 some still undelivered (they stay queued).\n");
}

//  Parse argv[2..] for command; returns 0, or -1 after telling the user.
static int
s_parse (int argc, char **argv, const s_command_t *command, s_config_t *config)
{
    for (int i = 0; i < S_COUNT; i++)
        config->value [i] = s_settings [i].fallback;
    for (int at = 2; at < argc; at++) {
        const char *arg = argv [at];
        if (strcmp (arg, "-h") == 0)
            arg = "--help";
        if (strncmp (arg, "--", 2) != 0 || strlen (arg) == 2) {
            if (command->bit == C_SEND && !config->file) {
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
        int found = -1;
        for (int i = 0; i < S_COUNT; i++)
            if (strlen (s_settings [i].name) == name_length
            &&  strncmp (s_settings [i].name, name, name_length) == 0)
                found = i;
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
        if (setting->kind == K_NUMBER) {
            char *end;
            long number = strtol (value, &end, 10);
            if (!*value || *end || number < 0 || number > 1000000) {
                fprintf (stderr, "tally-reporter %s: --%s wants a whole number, not \"%s\"\n",
                         command->name, setting->name, value);
                return -1;
            }
        }
        if (setting->kind == K_LIST) {
            if (config->set_count == sizeof config->sets / sizeof config->sets [0]) {
                fprintf (stderr, "tally-reporter %s: too many --%s\n", command->name, setting->name);
                return -1;
            }
            config->sets [config->set_count++] = value;
        }
        config->value [found] = value;
    }
    return 0;
}

static outbox_t *
s_open_outbox (s_config_t *config)
{
    char *fallback = NULL;
    const char *dir = config->value [S_OUTBOX];
    if (!dir)
        dir = fallback = outbox_default_dir ();
    char err [600];
    outbox_t *outbox = outbox_new (dir, err, sizeof err);
    if (!outbox)
        fprintf (stderr, "tally-reporter: %s\n", err);
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
s_deliver (outbox_t *outbox, s_config_t *config)
{
    char err [600];
    deliver_t *deliver = deliver_new (outbox, config->value [S_COLLECTOR],
                                      (size_t) atol (config->value [S_WINDOW]), stderr,
                                      err, sizeof err);
    if (!deliver) {
        fprintf (stderr, "tally-reporter: %s\n", err);
        return EXIT_USAGE;
    }
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
    if (config->file && config->set_count) {
        fprintf (stderr, "tally-reporter send: give either FILE or --set KEY=VALUE, not both\n");
        return EXIT_USAGE;
    }
    if (!config->file && !config->set_count) {
        fprintf (stderr, "tally-reporter send: nothing to send: give a FILE (or - for stdin) or "
                 "--region CODE --as-of YYYY-MM-DD --set KEY=VALUE (see --help)\n");
        return EXIT_USAGE;
    }
    input_options_t options = s_input_options (config);
    const char *name = config->file ? (strcmp (config->file, "-") == 0 ? "<stdin>" : config->file)
                                    : "command line";
    input_t *input = input_new (name, &options);
    if (config->file)
        input_read_file (input, config->file);
    else
        input_read_sets (input, config->sets, config->set_count);
    if (input_finish (input) != 0) {
        input_print_errors (input, stderr);
        fprintf (stderr, "tally-reporter: %zu error%s in %s: nothing was queued\n",
                 input_error_count (input), input_error_count (input) == 1 ? "" : "s", name);
        input_destroy (&input);
        return EXIT_USAGE;
    }
    outbox_t *outbox = s_open_outbox (config);
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
        status = s_deliver (outbox, config);
    }
    outbox_destroy (&outbox);
    input_destroy (&input);
    return status;
}

static int
s_flush (s_config_t *config)
{
    outbox_t *outbox = s_open_outbox (config);
    if (!outbox)
        return EXIT_USAGE;
    int status = s_deliver (outbox, config);
    outbox_destroy (&outbox);
    return status;
}

static int
s_status (s_config_t *config)
{
    outbox_t *outbox = s_open_outbox (config);
    if (!outbox)
        return EXIT_USAGE;
    outbox_print_status (outbox, stdout);
    outbox_destroy (&outbox);
    return 0;
}

static int
s_run (s_config_t *config)
{
    const char *watch = config->value [S_WATCH];
    char err [600];
    if (watch && dropbox_prepare (watch, err, sizeof err) == -1) {
        fprintf (stderr, "tally-reporter run: %s\n", err);
        return EXIT_USAGE;
    }
    outbox_t *outbox = s_open_outbox (config);
    if (!outbox)
        return EXIT_USAGE;
    deliver_t *deliver = deliver_new (outbox, config->value [S_COLLECTOR],
                                      (size_t) atol (config->value [S_WINDOW]), stderr,
                                      err, sizeof err);
    if (!deliver) {
        fprintf (stderr, "tally-reporter: %s\n", err);
        outbox_destroy (&outbox);
        return EXIT_USAGE;
    }
    fprintf (stderr, "tally-reporter: delivering outbox %s (source %s) to %s%s%s\n",
             outbox_dir (outbox), outbox_source (outbox), config->value [S_COLLECTOR],
             watch ? ", watching " : "", watch ? watch : "");
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
                 "status; see tally-reporter --help)\n", argv [1]);
        return EXIT_USAGE;
    }
    s_config_t config;
    memset (&config, 0, sizeof config);
    if (s_parse (argc, argv, command, &config) != 0)
        return EXIT_USAGE;
    if (config.value [S_HELP]) {
        s_print_command_help (command);
        return 0;
    }
    int status;
    switch (command->bit) {
        case C_SEND:  status = s_send (&config); break;
        case C_FLUSH: status = s_flush (&config); break;
        case C_RUN:   status = s_run (&config); break;
        default:      status = s_status (&config); break;
    }
    fflush (stdout);
    return status;
}
