/*  migrate.c — `tally-collector migrate`: schema migrations and catalogs.

    Catalog files are CSV read by PostgreSQL's own COPY, so their errors come
    back naming the line; the C code never parses them.
*/
#include "migrate.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <unistd.h>

//  Migrations are named NNN_what.sql; NNN is the version.
static int
s_version_of (const char *name)
{
    if (strlen (name) < 8 || !isdigit ((unsigned char) name [0])
    ||  strcmp (name + strlen (name) - 4, ".sql") != 0)
        return -1;
    return atoi (name);
}

static bool
s_has_layout (const char *dir)
{
    char path [1200];
    snprintf (path, sizeof path, "%s/migrations", dir);
    return zsys_file_exists (path);
}

char *
migrate_find_share (const char *configured)
{
    if (configured && *configured) {
        if (s_has_layout (configured))
            return strdup (configured);
        fprintf (stderr, "tally-collector: --share %s has no migrations/ folder\n", configured);
        return NULL;
    }
    //  Installed: PREFIX/bin/tally-collector finds PREFIX/share/tally, wherever
    //  the prefix was moved to (cmake --install --prefix, DESTDIR, containers).
    char exe [1024];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe [len] = 0;
        char *slash = strrchr (exe, '/');
        if (slash) {
            *slash = 0;
            char beside [1100];
            snprintf (beside, sizeof beside, "%s/../share/tally", exe);
            if (s_has_layout (beside))
                return strdup (beside);
        }
    }
    if (s_has_layout (TALLY_SHARE_DIR))
        return strdup (TALLY_SHARE_DIR);
    if (s_has_layout (TALLY_SOURCE_SHARE_DIR))
        return strdup (TALLY_SOURCE_SHARE_DIR);
    fprintf (stderr, "tally-collector: no migrations found in %s or %s; give --share DIR\n",
             TALLY_SHARE_DIR, TALLY_SOURCE_SHARE_DIR);
    return NULL;
}

static int
s_exec_ok (PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    ExecStatusType status = PQresultStatus (res);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        fprintf (stderr, "tally-collector migrate: %s: %s", what, PQerrorMessage (conn));
    PQclear (res);
    return rc;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
s_apply_migrations (PGconn *conn, const char *share)
{
    char dir_path [1024];
    snprintf (dir_path, sizeof dir_path, "%s/migrations", share);
    zdir_t *dir = zdir_new (dir_path, NULL);
    if (!dir) {
        fprintf (stderr, "tally-collector migrate: cannot read %s\n", dir_path);
        return -1;
    }
    zlist_t *files = zdir_list (dir);
    size_t count = 0;
    char **names = (char **) calloc (zlist_size (files) + 1, sizeof (char *));
    for (zfile_t *file = (zfile_t *) zlist_first (files); file; file = (zfile_t *) zlist_next (files)) {
        const char *name = strrchr (zfile_filename (file, NULL), '/');
        name = name ? name + 1 : zfile_filename (file, NULL);
        if (s_version_of (name) >= 0)
            names [count++] = strdup (name);
    }
    zlist_destroy (&files);
    zdir_destroy (&dir);
    qsort (names, count, sizeof (char *), s_compare_names);

    int rc = 0, applied = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        char version [16];
        snprintf (version, sizeof version, "%d", s_version_of (names [i]));
        const char *params [1] = { version };
        PGresult *res = PQexecParams (conn, "SELECT 1 FROM schema_migration WHERE version = $1::int",
                                      1, NULL, params, NULL, NULL, 0);
        bool done = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) > 0;
        PQclear (res);
        if (done)
            continue;
        char path [1200];
        snprintf (path, sizeof path, "%s/%s", dir_path, names [i]);
        char *sql = NULL;
        zfile_t *file = zfile_new (NULL, path);
        if (file && zfile_input (file) == 0) {
            zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
            if (chunk) {
                sql = (char *) malloc (zchunk_size (chunk) + 1);
                memcpy (sql, zchunk_data (chunk), zchunk_size (chunk));
                sql [zchunk_size (chunk)] = 0;
                zchunk_destroy (&chunk);
            }
        }
        zfile_destroy (&file);
        if (!sql) {
            fprintf (stderr, "tally-collector migrate: cannot read %s\n", path);
            rc = -1;
            break;
        }
        char what [1300];
        snprintf (what, sizeof what, "migration %s", path);
        //  The file and its record commit together, or neither does.
        rc = s_exec_ok (conn, "BEGIN", what);
        if (rc == 0)
            rc = s_exec_ok (conn, sql, what);
        if (rc == 0) {
            const char *record [2] = { version, names [i] };
            res = PQexecParams (conn, "INSERT INTO schema_migration (version, name) VALUES ($1::int, $2)",
                                2, NULL, record, NULL, NULL, 0);
            if (PQresultStatus (res) != PGRES_COMMAND_OK) {
                fprintf (stderr, "tally-collector migrate: recording %s: %s", names [i], PQerrorMessage (conn));
                rc = -1;
            }
            PQclear (res);
        }
        rc = rc == 0 ? s_exec_ok (conn, "COMMIT", what) : (s_exec_ok (conn, "ROLLBACK", what), -1);
        if (rc == 0) {
            printf ("applied %s\n", names [i]);
            applied++;
        }
        free (sql);
    }
    if (rc == 0 && applied == 0)
        printf ("schema is up to date (%zu migrations)\n", count);
    for (size_t i = 0; i < count; i++)
        free (names [i]);
    free (names);
    return rc;
}

//  COPY one catalog file into a temporary table; errors name the line.
static int
s_copy_file (PGconn *conn, const char *table, const char *path)
{
    zfile_t *file = zfile_new (NULL, path);
    if (!file || zfile_input (file)) {
        fprintf (stderr, "tally-collector migrate: cannot read catalog %s\n", path);
        zfile_destroy (&file);
        return -1;
    }
    char sql [128];
    snprintf (sql, sizeof sql, "COPY %s FROM STDIN WITH (FORMAT csv, HEADER true)", table);
    PGresult *res = PQexec (conn, sql);
    int rc = PQresultStatus (res) == PGRES_COPY_IN ? 0 : -1;
    PQclear (res);
    zchunk_t *chunk = rc == 0 ? zfile_read (file, zfile_cursize (file), 0) : NULL;
    if (chunk) {
        if (PQputCopyData (conn, (const char *) zchunk_data (chunk), (int) zchunk_size (chunk)) != 1)
            rc = -1;
        zchunk_destroy (&chunk);
    }
    if (rc == 0 && PQputCopyEnd (conn, NULL) != 1)
        rc = -1;
    while ((res = PQgetResult (conn))) {
        if (PQresultStatus (res) != PGRES_COMMAND_OK)
            rc = -1;
        PQclear (res);
    }
    if (rc)
        fprintf (stderr, "tally-collector migrate: catalog %s: %s", path, PQerrorMessage (conn));
    zfile_destroy (&file);
    return rc;
}

static int
s_load_catalogs (PGconn *conn, const char *share)
{
    char regions [1024], metrics [1024];
    snprintf (regions, sizeof regions, "%s/catalog/regions.csv", share);
    snprintf (metrics, sizeof metrics, "%s/catalog/metrics.csv", share);
    if (s_exec_ok (conn, "BEGIN", "loading catalogs")
    ||  s_exec_ok (conn, "CREATE TEMP TABLE region_in (code text, name text, level text, parent text) "
                         "ON COMMIT DROP", "loading catalogs")
    ||  s_exec_ok (conn, "CREATE TEMP TABLE metric_in (key text, name_zh text, unit text, rollup text, "
                         "min_value bigint, max_value bigint, description text) ON COMMIT DROP",
                   "loading catalogs")
    ||  s_copy_file (conn, "region_in", regions)
    ||  s_copy_file (conn, "metric_in", metrics)) {
        s_exec_ok (conn, "ROLLBACK", "loading catalogs");
        return -1;
    }
    PGresult *res = PQexec (conn, "SELECT regions, metrics FROM tally_apply_catalog ()");
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        fprintf (stderr, "tally-collector migrate: catalogs in %s/catalog: %s", share, PQerrorMessage (conn));
        PQclear (res);
        s_exec_ok (conn, "ROLLBACK", "loading catalogs");
        return -1;
    }
    printf ("catalog: %s regions, %s metrics\n", PQgetvalue (res, 0, 0), PQgetvalue (res, 0, 1));
    PQclear (res);
    return s_exec_ok (conn, "COMMIT", "loading catalogs");
}

int
migrate_run (const char *conninfo, const char *share)
{
    PGconn *conn = PQconnectdb (conninfo ? conninfo : "");
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "tally-collector migrate: cannot connect to the database: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return -1;
    }
    int rc = s_exec_ok (conn, "SET client_min_messages = warning", "setting up")
          || s_exec_ok (conn, "SELECT pg_advisory_lock (7701)", "waiting for another migrate")
          || s_exec_ok (conn, "CREATE TABLE IF NOT EXISTS schema_migration ("
                              "version int PRIMARY KEY, name text NOT NULL, "
                              "applied_at timestamptz NOT NULL DEFAULT now ())", "creating schema_migration")
          || s_apply_migrations (conn, share)
          || s_load_catalogs (conn, share) ? -1 : 0;
    PQfinish (conn);
    return rc;
}
