/*  tt.c — test harness: a private PostgreSQL, the real programs, real sockets.

    See tt.h. Failures of the harness itself (PostgreSQL will not start, a
    program is missing) abort the test with a message saying what to look at:
    they are not the behaviour under test.
*/
#include "tt.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tt_collector_bin = TT_COLLECTOR_BIN;
const char *tt_reporter_bin = TT_REPORTER_BIN;
const char *tt_watch_bin = TT_WATCH_BIN;
const char *tt_source_dir = TT_SOURCE_DIR;
const char *tt_seed_csv = TT_SEED_CSV;

static void
s_fail (const char *what)
{
    fprintf (stderr, "test harness: %s\n", what);
    abort ();
}

int64_t
tt_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

char *
tt_tempdir (const char *tag)
{
    char path [256];
    const char *base = getenv ("TMPDIR");
    snprintf (path, sizeof path, "%s/tally-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp (path))
        s_fail ("cannot make a temp folder");
    chmod (path, 0755);
    return strdup (path);
}

char *
tt_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    size_t size = 0, cap = 4096;
    char *text = malloc (cap);
    size_t got;
    while ((got = fread (text + size, 1, cap - size - 1, file)) > 0) {
        size += got;
        if (cap - size < 2) {
            cap *= 2;
            text = realloc (text, cap);
        }
    }
    text [size] = 0;
    fclose (file);
    return text;
}

char *
tt_write_file (const char *dir, const char *name, const char *text)
{
    size_t size = strlen (dir) + strlen (name) + 2;
    char *path = malloc (size);
    snprintf (path, size, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    if (!file || fputs (text, file) < 0) {
        if (file)
            fclose (file);
        free (path);
        return NULL;
    }
    fclose (file);
    return path;
}

char *
tt_wait_for_text (const char *path, const char *text, int timeout_ms)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    while (true) {
        char *content = tt_slurp (path);
        if (content && strstr (content, text))
            return content;
        free (content);
        if (tt_now_ms () > deadline)
            return NULL;
        s_sleep_ms (50);
    }
}

int
tt_count_text (const char *path, const char *text)
{
    char *content = tt_slurp (path);
    int count = 0;
    for (char *p = content; p && (p = strstr (p, text)); p += strlen (text))
        count++;
    free (content);
    return count;
}

//  Ask the kernel for a free TCP port on 127.0.0.1.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr)
    ||  getsockname (fd, (struct sockaddr *) &addr, &len))
        s_fail ("cannot find a free TCP port");
    int port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

pid_t
tt_spawn (const char *const *argv, const char *out_path)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0)
        s_fail ("fork failed");
    if (pid == 0) {
        //  A test that fails stops where it is: what it started gets
        //  SIGTERM when it is gone, instead of running on as an orphan.
        if (prctl (PR_SET_PDEATHSIG, SIGTERM) || getppid () != parent)
            _exit (127);
        if (out_path) {
            int fd = open (out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2 (fd, 1);
                dup2 (fd, 2);
                close (fd);
            }
        }
        setpgid (0, 0);
        execv (argv [0], (char *const *) argv);
        fprintf (stderr, "test harness: cannot run %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    return pid;
}

int
tt_wait (pid_t pid, int timeout_ms)
{
    int64_t deadline = tt_now_ms () + timeout_ms;
    while (true) {
        int status;
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid) {
            if (WIFEXITED (status))
                return WEXITSTATUS (status);
            return 128 + WTERMSIG (status);
        }
        if (done < 0)
            return -1;
        if (tt_now_ms () > deadline)
            return -1;
        s_sleep_ms (5);
    }
}

int
tt_run (const char *const *argv, int timeout_ms, char **output)
{
    char *dir = tt_tempdir ("run");
    char path [300];
    snprintf (path, sizeof path, "%s/out", dir);
    pid_t pid = tt_spawn (argv, path);
    int rc = tt_wait (pid, timeout_ms);
    if (rc < 0) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
    }
    if (output)
        *output = tt_slurp (path);
    unlink (path);
    rmdir (dir);
    free (dir);
    return rc;
}

static int
s_pg_script (tt_pg_t *pg, const char *cmd)
{
    char script [512], port [16];
    snprintf (script, sizeof script, "%s/scripts/pg.sh", tt_source_dir);
    snprintf (port, sizeof port, "%d", pg->port);
    const char *argv [] = { "/bin/bash", script, cmd, pg->dir, port, NULL };
    char *out = NULL;
    int rc = tt_run (argv, 120000, &out);
    if (rc != 0)
        fprintf (stderr, "test harness: pg.sh %s failed (%d): %s\n", cmd, rc, out ? out : "");
    free (out);
    return rc;
}

tt_pg_t *
tt_pg_start (void)
{
    tt_pg_t *pg = calloc (1, sizeof *pg);
    char *dir = tt_tempdir ("pg");
    snprintf (pg->dir, sizeof pg->dir, "%s", dir);
    free (dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        pg->port = s_free_port ();
        if (s_pg_script (pg, "start") == 0) {
            snprintf (pg->conninfo, sizeof pg->conninfo,
                      "host=127.0.0.1 port=%d dbname=tally user=tally connect_timeout=5", pg->port);
            return pg;
        }
    }
    s_fail ("PostgreSQL did not start; see the pg.sh message above");
    return NULL;
}

void
tt_pg_stop (tt_pg_t *pg)
{
    s_pg_script (pg, "stop");
}

void
tt_pg_kill (tt_pg_t *pg)
{
    s_pg_script (pg, "kill");
}

void
tt_pg_restart (tt_pg_t *pg)
{
    if (s_pg_script (pg, "start") != 0)
        s_fail ("PostgreSQL did not restart");
}

void
tt_pg_destroy (tt_pg_t **pg_p)
{
    if (!pg_p || !*pg_p)
        return;
    tt_pg_t *pg = *pg_p;
    tt_pg_stop (pg);
    if (!getenv ("TALLY_KEEP_TEST_DIRS")) {
        const char *argv [] = { "/bin/rm", "-rf", pg->dir, NULL };
        tt_run (argv, 60000, NULL);
    }
    free (pg);
    *pg_p = NULL;
}

int
tt_migrate (const char *conninfo)
{
    const char *argv [] = { tt_collector_bin, "migrate", "--db", conninfo, NULL };
    char *out = NULL;
    int rc = tt_run (argv, 60000, &out);
    if (rc != 0)
        fprintf (stderr, "test harness: migrate failed (%d): %s\n", rc, out ? out : "");
    free (out);
    return rc;
}

//  The collector writes "name endpoint" lines to its --ready-file once bound.
static bool
s_read_ready (tt_collector_t *self)
{
    char *text = tt_slurp (self->ready_path);
    if (!text)
        return false;
    bool complete = strstr (text, "query ") != NULL;
    if (complete) {
        char *line = strtok (text, "\n");
        while (line) {
            char name [16], endpoint [64];
            if (sscanf (line, "%15s %63s", name, endpoint) == 2) {
                if ((strcmp (name, "report") == 0))
                    snprintf (self->report_ep, sizeof self->report_ep, "%s", endpoint);
                else
                if ((strcmp (name, "feed") == 0))
                    snprintf (self->feed_ep, sizeof self->feed_ep, "%s", endpoint);
                else
                if ((strcmp (name, "query") == 0))
                    snprintf (self->query_ep, sizeof self->query_ep, "%s", endpoint);
            }
            line = strtok (NULL, "\n");
        }
    }
    free (text);
    return complete;
}

tt_collector_t *
tt_collector_start (const char *conninfo, const char *const *extra, const tt_collector_t *ports)
{
    tt_collector_t *self = calloc (1, sizeof *self);
    char *dir = tt_tempdir ("collector");
    snprintf (self->log_path, sizeof self->log_path, "%s/collector.log", dir);
    snprintf (self->ready_path, sizeof self->ready_path, "%s/ready", dir);
    free (dir);

    const char *argv [64];
    int argc = 0;
    //  TALLY_COLLECTOR_WRAPPER runs the collector under a tool (valgrind).
    const char *wrapper = getenv ("TALLY_COLLECTOR_WRAPPER");
    if (wrapper && *wrapper)
        argv [argc++] = wrapper;
    argv [argc++] = tt_collector_bin;
    argv [argc++] = "--db";
    argv [argc++] = conninfo;
    argv [argc++] = "--report";
    argv [argc++] = ports ? ports->report_ep : "tcp://127.0.0.1:*";
    argv [argc++] = "--feed";
    argv [argc++] = ports ? ports->feed_ep : "tcp://127.0.0.1:*";
    argv [argc++] = "--query";
    argv [argc++] = ports ? ports->query_ep : "tcp://127.0.0.1:*";
    argv [argc++] = "--ready-file";
    argv [argc++] = self->ready_path;
    while (extra && *extra && argc < 62)
        argv [argc++] = *extra++;
    argv [argc] = NULL;
    self->pid = tt_spawn (argv, self->log_path);

    int64_t deadline = tt_now_ms () + (wrapper && *wrapper ? 60000 : 10000);
    while (!s_read_ready (self)) {
        if (tt_now_ms () > deadline || tt_wait (self->pid, 0) >= 0) {
            char *log = tt_slurp (self->log_path);
            fprintf (stderr, "test harness: collector did not get ready; its log:\n%s\n", log ? log : "");
            free (log);
            s_fail ("collector did not start");
        }
        s_sleep_ms (10);
    }
    return self;
}

void
tt_quiet_ports (tt_collector_t *ports)
{
    //  Each port stays bound until all three are found: no two are the same.
    int fds [3], found [3], count = 0;
    for (int attempt = 0; attempt < 1000 && count < 3; attempt++) {
        int port = 61000 + rand () % 4000;
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
            fds [count] = fd;
            found [count++] = port;
        }
        else
        if (fd >= 0)
            close (fd);
    }
    for (int i = 0; i < count; i++)
        close (fds [i]);
    if (count < 3)
        s_fail ("no 3 free TCP ports in 61000-64999");
    memset (ports, 0, sizeof *ports);
    snprintf (ports->report_ep, sizeof ports->report_ep, "tcp://127.0.0.1:%d", found [0]);
    snprintf (ports->feed_ep, sizeof ports->feed_ep, "tcp://127.0.0.1:%d", found [1]);
    snprintf (ports->query_ep, sizeof ports->query_ep, "tcp://127.0.0.1:%d", found [2]);
}

int
tt_collector_stop (tt_collector_t **self_p, int sig)
{
    if (!self_p || !*self_p)
        return -1;
    tt_collector_t *self = *self_p;
    kill (self->pid, sig);
    const char *wrapper = getenv ("TALLY_COLLECTOR_WRAPPER");
    int rc = tt_wait (self->pid, wrapper && *wrapper ? 60000 : 10000);
    if (rc < 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    unlink (self->ready_path);
    if (!getenv ("TALLY_KEEP_TEST_DIRS")) {
        unlink (self->log_path);
        char *slash = strrchr (self->log_path, '/');
        if (slash) {
            *slash = 0;
            rmdir (self->log_path);
        }
    }
    free (self);
    *self_p = NULL;
    return rc;
}

static PGresult *
s_query (const char *conninfo, const char *sql, PGconn **conn_p)
{
    PGconn *conn = PQconnectdb (conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "test harness: cannot connect: %s", PQerrorMessage (conn));
        PQfinish (conn);
        *conn_p = NULL;
        return NULL;
    }
    *conn_p = conn;
    return PQexec (conn, sql);
}

char *
tt_sql_text (const char *conninfo, const char *sql)
{
    PGconn *conn;
    PGresult *res = s_query (conninfo, sql, &conn);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        fprintf (stderr, "test harness: query failed: %s\n  %s\n",
                 conn ? PQerrorMessage (conn) : "no connection", sql);
        s_fail ("query failed");
    }
    char *text = NULL;
    if (PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
        text = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    PQfinish (conn);
    return text;
}

int64_t
tt_sql_int (const char *conninfo, const char *sql)
{
    char *text = tt_sql_text (conninfo, sql);
    int64_t value = text ? strtoll (text, NULL, 10) : -1;
    free (text);
    return value;
}

int
tt_sql_exec (const char *conninfo, const char *sql)
{
    PGconn *conn;
    PGresult *res = s_query (conninfo, sql, &conn);
    int rc = res && (PQresultStatus (res) == PGRES_COMMAND_OK
                  || PQresultStatus (res) == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc)
        fprintf (stderr, "test harness: statement failed: %s", conn ? PQerrorMessage (conn) : "");
    PQclear (res);
    PQfinish (conn);
    return rc;
}
