/*  main.c — tally-collector: stores county reports, keeps roll-ups exact,
    publishes live totals.

    Only launches the rest: parses the command line, then runs `migrate` or
    the daemon (server.c over store.c).
*/
#include <czmq.h>

#include "health.h"
#include "keygen.h"
#include "log.h"
#include "migrate.h"
#include "server.h"
#include "settings.h"
#include "slice.h"
#include "store.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: tally-collector [OPTIONS]            run the collector daemon\n"
        "       tally-collector migrate [OPTIONS]    create or update the schema and load the catalogs\n"
        "       tally-collector keygen [--dir DIR] [--name NAME]\n"
        "                                            make the collector's CURVE certificate pair\n"
        "                                            (DIR/NAME.cert and NAME.cert_secret; defaults . and collector)\n"
        "       tally-collector ping [--query EP] [--timeout S] [--server-key FILE --key FILE]\n"
        "                                            health check: exit 0 when a running collector\n"
        "                                            answers and its database is up, 1 database down,\n"
        "                                            2 no answer (--check is the same)\n"
        "\n"
        "The collector receives county reports (PROTOCOL.md) on the report endpoint,\n"
        "validates them, stores each batch in PostgreSQL in one transaction, acks only\n"
        "after COMMIT, and publishes the totals of every changed region on the feed.\n"
        "The query endpoint answers snapshot and ping requests.\n"
        "\n"
        "Options:\n");
    settings_usage (out);
    fprintf (out,
        "  -c, --config FILE      read settings from FILE ('key = value' lines, keys as above;\n"
        "                         options given here override it; see deploy/tally-collector.conf)\n"
        "  -h, --help             show this help\n"
        "\n"
        "Without --db, libpq's environment is used (PGHOST, PGPORT, PGDATABASE, PGUSER, ...).\n"
        "Without CURVE keys, endpoints bind to loopback only unless --allow-plaintext is given.\n"
        "\n"
        "SIGHUP rereads the catalog from the database (not the CSVs: to add regions, edit\n"
        "SHARE/catalog/*.csv, run 'tally-collector migrate', then send SIGHUP), the client\n"
        "keys from --clients and log-level from the config file.\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM (the batch in hand is committed and acked first),\n"
        "1 when migrate fails, 2 on a usage error or when an endpoint cannot be bound.\n");
}

//  tally-collector keygen [--dir DIR] [--name NAME]
static int
s_keygen (int argc, char **argv)
{
    const char *usage = "usage: tally-collector keygen [--dir DIR] [--name NAME]";
    const char *dir = ".", *name = "collector";
    for (int i = 2; i < argc; i++) {
        if (streq (argv [i], "-h") || streq (argv [i], "--help")) {
            printf ("%s\n\n"
                    "Make the collector's CURVE certificate pair: DIR/NAME.cert (public; give\n"
                    "it to reporters and subscribers as --server-key) and DIR/NAME.cert_secret\n"
                    "(mode 0600; the collector's --curve-secret). Defaults: DIR . and NAME\n"
                    "collector. Exit status: 0 written, 1 not written (the files exist\n"
                    "already, or the folder cannot be written), 2 on a usage error.\n", usage);
            return 0;
        }
        if ((streq (argv [i], "--dir") || streq (argv [i], "--name")) && i + 1 < argc) {
            if (streq (argv [i], "--dir"))
                dir = argv [++i];
            else
                name = argv [++i];
        }
        else {
            fprintf (stderr, "tally-collector keygen: unexpected '%s'; %s\n", argv [i], usage);
            return 2;
        }
    }
    char err [512];
    if (keygen_write (dir, name, NULL, err, sizeof err)) {
        fprintf (stderr, "tally-collector keygen: %s\n", err);
        return 1;
    }
    printf ("wrote %s/%s.cert (public: give it to reporters as --server-key) and\n"
            "      %s/%s.cert_secret (secret, mode 0600: the collector's --curve-secret)\n",
            dir, name, dir, name);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc > 1 && streq (argv [1], "keygen"))
        return s_keygen (argc, argv);
    if (argc > 1 && (streq (argv [1], "ping") || streq (argv [1], "--check")))
        return health_ping (argc, argv);
    bool migrate = argc > 1 && streq (argv [1], "migrate");
    settings_t settings;
    settings_init (&settings);
    int rc = settings_parse (&settings, argc, argv, migrate ? 2 : 1);
    if (rc) {
        if (rc > 0)
            s_usage (stdout);
        settings_free (&settings);
        return rc > 0 ? 0 : 2;
    }
    if (migrate) {
        char *share = migrate_find_share (settings.share);
        rc = share && migrate_run (settings.db, share) == 0 ? 0 : 1;
        free (share);
        settings_free (&settings);
        return rc;
    }
    //  Before any thread starts, so that ZeroMQ's I/O thread and the
    //  committers inherit it.
    char slice_why [160] = "";
    if (settings.sched_slice_us > 0)
        slice_request (settings.sched_slice_us, slice_why, sizeof slice_why);
    zsys_init ();
    zsys_set_logident ("tally-collector");
    if (settings.syslog)
        log_use_syslog ("tally-collector");
    char *described = settings_describe (&settings);
    log_info ("tally-collector %s starting: %s", TALLY_VERSION, described);
    free (described);
    if (*slice_why)
        log_info ("collector: kept the kernel's time slice, not --sched-slice-us=%d: %s; "
                  "acks may wait longer for a CPU that PostgreSQL keeps busy",
                  settings.sched_slice_us, slice_why);

    store_t *store = store_new (settings.db);
    server_t *server = server_new (&settings, &store);
    if (!server) {
        store_destroy (&store);
        settings_free (&settings);
        return 2;
    }
    rc = server_run (server);
    server_destroy (&server);
    settings_free (&settings);
    return rc ? 1 : 0;
}
