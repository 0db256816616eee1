/*  settings.h — tally-collector's settings: one table drives the command
    line, --help, validation and the effective-settings line logged at start.

    Each setting has a name (the long option), a kind, a default and a help
    sentence; values live in a settings_t the rest of the daemon reads.
*/
#ifndef SETTINGS_H_INCLUDED
#define SETTINGS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char *db;                   //  libpq conninfo ("" = libpq's PG* environment)
    char *report;               //  report endpoint (ROUTER, bind)
    char *feed;                 //  feed endpoint (PUB, bind)
    char *query;                //  query endpoint (ROUTER, bind)
    char *share;                //  folder with migrations/ and catalog/ ("" = search)
    char *ready_file;           //  write bound endpoints here once ready ("" = none)
    char *log_level;            //  error, warning, info, debug
    int max_body;               //  largest report body answered (too_large above)
    int max_frame;              //  hard transport limit (ZMQ_MAXMSGSIZE)
    int batch_max;              //  most reports committed in one transaction
    int db_connections;         //  committer threads, each with its connection
    int heartbeat_ms;           //  feed heartbeat period
    int stats_interval;         //  seconds between statistics lines
    int sched_slice_us;         //  CPU slice asked for the threads (0 = kernel's)
    bool allow_plaintext;       //  plaintext on non-loopback endpoints
    char *curve_secret;         //  the collector's certificate ("" = no CURVE)
    char *clients;              //  folder of client certificates
    bool feed_curve;            //  CURVE on the feed too
    bool syslog;                //  log to syslog instead of stderr
    char *config;               //  the config file read (-c), "" when none
} settings_t;

//  Fill with defaults; settings_free releases the strings.
void settings_init (settings_t *self);
void settings_free (settings_t *self);

//  Parse options from argv[first..argc). Returns 0, 1 after printing --help,
//  or -1 after printing to stderr one line naming the bad option or value.
int settings_parse (settings_t *self, int argc, char **argv, int first);

//  Read a config file into self (as -c does). Returns 0, or -1 after one
//  line on stderr naming file, line and key.
int settings_load_file (settings_t *self, const char *path);

//  The same, for a daemon that logs rather than prints: returns 0, or -1
//  with "FILE:LINE: key 'K': what is wrong" (or "FILE: cannot read...") in err.
int settings_read_file (settings_t *self, const char *path, char *err, size_t err_size);

//  Print the option list (used by --help).
void settings_usage (FILE *out);

//  One line "name=value ..." of every setting (the db password is hidden).
char *settings_describe (const settings_t *self);

#endif
