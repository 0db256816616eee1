/*  tt.h — test harness: a private PostgreSQL, the real programs, real sockets.

    Integration suites use these helpers to start a PostgreSQL of their own
    (scripts/pg.sh in a temporary folder), run `tally-collector migrate`, start
    the collector on 127.0.0.1 with ephemeral ports, spawn and kill programs,
    and read the database. Nothing here is a fake: every helper drives the
    programs a user would run.
*/
#ifndef TT_H_INCLUDED
#define TT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

//  Paths of the programs under test (set by CMake).
extern const char *tt_collector_bin;
extern const char *tt_reporter_bin;
extern const char *tt_watch_bin;
extern const char *tt_source_dir;       //  the repository root
extern const char *tt_seed_csv;         //  ../shared/data/tonghua-2022-02-28.csv (or its copy)

//  A private PostgreSQL.
typedef struct {
    char dir [256];                     //  temp folder holding data/, logs, socket
    int port;
    char conninfo [256];                //  "host=127.0.0.1 port=N dbname=tally user=tally"
} tt_pg_t;

//  Start a fresh PostgreSQL in a new temp folder; aborts the test on failure.
tt_pg_t *tt_pg_start (void);
//  Stop (fast), kill (immediate: like a crash) or start it again on the same port.
void tt_pg_stop (tt_pg_t *pg);
void tt_pg_kill (tt_pg_t *pg);
void tt_pg_restart (tt_pg_t *pg);
//  Stop it and remove its folder; nulls the pointer.
void tt_pg_destroy (tt_pg_t **pg_p);

//  Run `tally-collector migrate --db CONNINFO`; returns its exit status.
int tt_migrate (const char *conninfo);

//  A running tally-collector with ephemeral ports on 127.0.0.1.
typedef struct {
    pid_t pid;
    char report_ep [64];                //  tcp://127.0.0.1:N
    char feed_ep [64];
    char query_ep [64];
    char log_path [256];                //  its stderr
    char ready_path [256];
} tt_collector_t;

//  Start the collector against conninfo with extra arguments (NULL-terminated,
//  may be NULL) and wait (up to 10 s; 60 s under TALLY_COLLECTOR_WRAPPER, a
//  program the collector is run through, e.g. a valgrind script) until it has
//  bound its sockets. When ports is not NULL, binds these three endpoints
//  instead of ephemeral ones (used to restart a collector on the same endpoints).
tt_collector_t *tt_collector_start (const char *conninfo, const char *const *extra,
                                    const tt_collector_t *ports);
//  Fill ports with three distinct endpoints on 127.0.0.1 at random free
//  ports in 61000-64999, above the kernel's ephemeral range (32768-60999):
//  while our collector is down nobody else is handed them, so reporters
//  reconnecting can only ever reach our own restart. Aborts the test when
//  none are free.
void tt_quiet_ports (tt_collector_t *ports);
//  Send sig (SIGTERM, SIGKILL...) and wait up to 10 s; returns the exit status
//  (128+signal when killed), or -1. Frees the collector and nulls the pointer.
int tt_collector_stop (tt_collector_t **self_p, int sig);

//  Spawn argv[0] with argv; stdout and stderr go to out_path when not NULL.
pid_t tt_spawn (const char *const *argv, const char *out_path);
//  Wait up to timeout_ms for pid; returns exit status (128+signal), or -1 on timeout.
int tt_wait (pid_t pid, int timeout_ms);
//  Run argv to completion (up to timeout_ms), capturing stdout+stderr in a
//  malloc'd string (*output, may be NULL); returns exit status or -1.
int tt_run (const char *const *argv, int timeout_ms, char **output);

//  One value of a query as a malloc'd string (NULL for SQL NULL or no row);
//  aborts the test if the query fails.
char *tt_sql_text (const char *conninfo, const char *sql);
//  One value of a query as an integer (-1 for NULL or no row).
int64_t tt_sql_int (const char *conninfo, const char *sql);
//  Run a statement; returns 0 or -1.
int tt_sql_exec (const char *conninfo, const char *sql);

//  Wait up to timeout_ms until the file at path contains text; returns the
//  file's malloc'd contents then, or NULL on timeout.
char *tt_wait_for_text (const char *path, const char *text, int timeout_ms);
//  How many times text occurs in the file at path (0 when absent).
int tt_count_text (const char *path, const char *text);

//  Write text to dir/name (replacing it); returns the malloc'd path, or NULL.
char *tt_write_file (const char *dir, const char *name, const char *text);

//  Make a temp folder (mode 0755) and return its malloc'd path.
char *tt_tempdir (const char *tag);
//  Read a whole file into a malloc'd string (NULL if absent).
char *tt_slurp (const char *path);
//  Milliseconds of monotonic time.
int64_t tt_now_ms (void);

#endif
