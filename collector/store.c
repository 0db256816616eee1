/*  store.c — the collector's PostgreSQL connection: batches in, totals out.

    Every statement is parameterised: nothing from the wire is spliced into
    SQL. Arrays travel as PostgreSQL array literals with every element
    quoted, which is how a whole batch reaches tally_lock() and its changes
    tally_write() in one call each; BEGIN goes with the first and COMMIT
    with the second (libpq's pipeline mode), two round trips a batch.
    The store keeps the rows it wrote last (`known`, with their versions):
    a batch whose rows it knows is worked out first and goes with BEGIN and
    COMMIT in one call of tally_apply(), one round trip, which checks that
    the rows are still as known (deploy/migrations/011) and else stores
    nothing; the batch then takes the two round trips.
    Connection state is explicit: UP, or DOWN with the time of the next
    attempt; the outage is logged when it starts and when it ends.
*/
#include "store.h"
#include "figures.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>

#define BACKOFF_MIN_MS   250
#define BACKOFF_MAX_MS   30000

typedef enum { STORE_DOWN, STORE_UP } s_state_t;

struct store_t {
    char *conninfo;             //  as given ("" = environment)
    PGconn *conn;               //  NULL when down
    s_state_t state;
    int64_t next_attempt;       //  zclock_mono time of the next connection attempt
    int64_t backoff_ms;         //  current back-off
    int64_t down_since;         //  zclock_mono when the outage started (0: never down)
    int attempts;               //  failed attempts in this outage
    bool ever_up;               //  connected at least once
    int reconnects;             //  reconnections since store_take_reconnects
    bool quiet;                 //  leave outage and connection messages to another store
    char last_error [256];      //  why the connection was last dropped
    char apply_error [256];     //  tally_apply's last unexpected error, logged once
    catalog_t *catalog;         //  last catalog loaded
    store_timing_t timing;      //  the last batch's
    figures_t *known;           //  rows as this store last wrote them, or NULL
    char *known_metrics;        //  their metrics, as figures_metric_signature says
    int64_t known_commits;      //  s_commits after this store's last commit
    int refusals;               //  tally_apply's refusals in a row
    int skip;                   //  batches to store in two round trips before trying again
    store_wait_fn *wait_hook;   //  called while a result is awaited, or NULL
    void *wait_arg;
};

//  Over every store of the process: batches being stored now, and commits.
//  A store tries a batch in one call only when no other store has committed
//  since its own last commit and none is storing now; else the rows it
//  knows are likely out of date and the try would cost a round trip.
static atomic_int s_storing;
static atomic_llong s_commits;

//  Refused twice in a row (another collector writes the same rows), a store
//  stops trying for 2, 4, ... up to this many batches.
#define S_SKIP_MAX 64
//  The most reports of a batch tried in one round trip. Larger batches come
//  under load, when the round trips are a small part of their time: they
//  take the two, and the store forgets its rows rather than keep them up
//  to date (copying a few hundred rows a batch).
#define S_APPLY_MAX 32
//  The most rows a store keeps (about 1.2 KB each); past it they are dropped.
#define S_KNOWN_MAX 2048
//  tally_apply's stand-in for the id of the batch's report i (1-based): 2^62 + i.
#define S_PSEUDO_ID ((int64_t) 1 << 62)
//  What tally_apply raises when the rows or the catalog are not as the store
//  knows them, and when a report of the batch was stored before.
#define S_STALE_STATE "TL001"
#define S_RESENT_STATE "TL002"

//  A growable text buffer for array literals.
typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static void
s_buf_put (s_buf_t *buf, const char *text, size_t len)
{
    if (buf->len + len + 1 > buf->cap) {
        buf->cap = (buf->len + len + 1) * 2 + 256;
        buf->data = (char *) realloc (buf->data, buf->cap);
        assert (buf->data);
    }
    memcpy (buf->data + buf->len, text, len);
    buf->len += len;
    buf->data [buf->len] = 0;
}

static void
s_buf_start (s_buf_t *buf)
{
    buf->len = 0;
    s_buf_put (buf, "{", 1);
}

//  Append one array element; NULL becomes SQL NULL. Elements are always
//  double-quoted with " and \ escaped, so any text is safe.
static void
s_buf_elem (s_buf_t *buf, const char *text)
{
    if (buf->len > 1)
        s_buf_put (buf, ",", 1);
    if (!text) {
        s_buf_put (buf, "NULL", 4);
        return;
    }
    s_buf_put (buf, "\"", 1);
    //  Runs without a quote or a backslash go in whole.
    while (*text) {
        size_t run = strcspn (text, "\"\\");
        s_buf_put (buf, text, run);
        text += run;
        if (*text) {
            char escaped [2] = { '\\', *text++ };
            s_buf_put (buf, escaped, 2);
        }
    }
    s_buf_put (buf, "\"", 1);
}

//  An integer element, written out by hand: snprintf was a tenth of the
//  collector's time under load (perf).
static void
s_buf_elem_int (s_buf_t *buf, int64_t value)
{
    char text [24];
    char *end = text + sizeof text, *p = end;
    //  Negated as unsigned, so that INT64_MIN has its digits too.
    uint64_t magnitude = value < 0 ? 0 - (uint64_t) value : (uint64_t) value;
    do
        *--p = (char) ('0' + magnitude % 10);
    while ((magnitude /= 10) > 0);
    if (value < 0)
        *--p = '-';
    if (buf->len > 1)
        s_buf_put (buf, ",", 1);
    s_buf_put (buf, p, (size_t) (end - p));
}

static void
s_buf_end (s_buf_t *buf)
{
    s_buf_put (buf, "}", 1);
}

//  Split a PostgreSQL array literal of simple elements ("{a,b,c}", elements
//  possibly double-quoted) into a zlistx of strings.
static zlistx_t *
s_array_parse (const char *text)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    if (!text || *text != '{')
        return list;
    const char *p = text + 1;
    while (*p && *p != '}') {
        char item [PROTO_MAX_TEXT];
        size_t len = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p [1])
                    p++;
                if (len < sizeof item - 1)
                    item [len++] = *p;
            }
            if (*p == '"')
                p++;
        }
        else
            for (; *p && *p != ',' && *p != '}'; p++)
                if (len < sizeof item - 1)
                    item [len++] = *p;
        item [len] = 0;
        zlistx_add_end (list, strdup (item));
        if (*p == ',')
            p++;
    }
    return list;
}

store_reject_t *
store_reject_new (proto_code_t code, const char *reason, const proto_error_t *echo,
                  const char *peer, const char *key_id, const void *raw, size_t raw_size)
{
    store_reject_t *self = (store_reject_t *) zmalloc (sizeof (store_reject_t));
    self->code = code;
    self->reason = strdup (reason);
    if (echo && echo->has_source) {
        self->has_source = true;
        snprintf (self->source, sizeof self->source, "%s", echo->source);
    }
    if (echo && echo->has_seq) {
        self->has_seq = true;
        self->seq = echo->seq;
    }
    self->peer = peer ? strdup (peer) : NULL;
    self->key_id = key_id ? strdup (key_id) : NULL;
    self->raw = (uint8_t *) malloc (raw_size ? raw_size : 1);
    if (raw_size)
        memcpy (self->raw, raw, raw_size);
    self->raw_size = raw_size;
    return self;
}

void
store_reject_destroy (store_reject_t **self_p)
{
    if (self_p && *self_p) {
        store_reject_t *self = *self_p;
        free (self->reason);
        free (self->peer);
        free (self->key_id);
        free (self->raw);
        free (self);
        *self_p = NULL;
    }
}

static void s_mark_down (store_t *self, const char *why);

//  Forget the rows known, and their metrics.
static void
s_forget_known (store_t *self)
{
    figures_destroy (&self->known);
    zstr_free (&self->known_metrics);
}

store_t *
store_new (const char *conninfo)
{
    store_t *self = (store_t *) zmalloc (sizeof (store_t));
    self->conninfo = strdup (conninfo ? conninfo : "");
    self->state = STORE_DOWN;
    self->backoff_ms = BACKOFF_MIN_MS;
    return self;
}

void
store_set_quiet (store_t *self, bool quiet)
{
    self->quiet = quiet;
}

void
store_mark_down (store_t *self, const char *why)
{
    if (self->quiet) {
        //  Drop the connection and try a new one at the next use: the main
        //  store paces the attempts, and only uses this one when it is up.
        if (self->conn) {
            PQfinish (self->conn);
            self->conn = NULL;
        }
        self->state = STORE_DOWN;
        self->next_attempt = 0;
        return;
    }
    if (self->state == STORE_UP)
        s_mark_down (self, why);
}

const char *
store_last_error (store_t *self)
{
    return self->last_error;
}

void
store_destroy (store_t **self_p)
{
    if (self_p && *self_p) {
        store_t *self = *self_p;
        if (self->conn)
            PQfinish (self->conn);
        catalog_destroy (&self->catalog);
        s_forget_known (self);
        free (self->conninfo);
        free (self);
        *self_p = NULL;
    }
}

//  One line of libpq's error message, without the trailing newline.
static const char *
s_pq_error (PGconn *conn, char *buf, size_t size)
{
    snprintf (buf, size, "%s", conn ? PQerrorMessage (conn) : "out of memory");
    char *nl = strchr (buf, '\n');
    if (nl)
        *nl = 0;
    return buf;
}

//  The connection failed or broke: drop it and schedule the next attempt.
static void
s_mark_down (store_t *self, const char *why)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    snprintf (self->last_error, sizeof self->last_error, "%s", why);
    int64_t now = zclock_mono ();
    if (self->state == STORE_UP || self->down_since == 0) {
        //  The outage starts: say it once.
        self->down_since = now;
        self->attempts = 0;
        self->backoff_ms = BACKOFF_MIN_MS;
        if (!self->quiet)
            log_error ("store: database unreachable (%s); answering reports 'unavailable' "
                        "and reconnecting with back-off up to %d s", why, BACKOFF_MAX_MS / 1000);
    }
    self->state = STORE_DOWN;
    self->attempts++;
    if (self->quiet) {
        self->next_attempt = 0;         //  paced by the main store, see store_mark_down
        return;
    }
    //  Jitter keeps several collectors from hammering a recovering server in step.
    int64_t jitter = (int64_t) (randof (self->backoff_ms / 4 + 1));
    self->next_attempt = now + self->backoff_ms + jitter;
    self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
}

//  Connected, but the database cannot be used as it is (no schema, an older
//  one): said once as the outage's start, again only when the reason
//  changes; the attempts back off as for any outage.
static void
s_refuse (store_t *self, const char *why)
{
    if (!streq (self->last_error, why))
        self->state = STORE_UP;       //  so that it is logged as an outage starting now
    s_mark_down (self, why);
}

void
store_set_wait_hook (store_t *self, store_wait_fn *hook, void *arg)
{
    self->wait_hook = hook;
    self->wait_arg = arg;
}

//  Before reading a result that may be long in coming (a row lock held
//  elsewhere, a slow COMMIT): with a wait hook, wait for the connection's
//  socket at most STORE_WAIT_SLICE_MS at a time and call the hook each time
//  that much has passed without the result. Input is read after every
//  wait, also one that found the socket quiet: libpq's TLS layer may hold
//  the rest of a reply, which poll() cannot see. Whatever goes wrong is
//  left for PQgetResult to say.
static void
s_await (store_t *self)
{
    PGconn *conn = self->conn;
    if (!self->wait_hook || PQflush (conn) != 0 || PQsocket (conn) < 0)
        return;
    int64_t hook_at = zclock_mono () + STORE_WAIT_SLICE_MS;
    while (PQisBusy (conn)) {
        int64_t now = zclock_mono ();
        if (now >= hook_at) {
            self->wait_hook (self->wait_arg);
            now = zclock_mono ();
            hook_at = now + STORE_WAIT_SLICE_MS;
        }
        struct pollfd item = { PQsocket (conn), POLLIN, 0 };
        if ((poll (&item, 1, (int) (hook_at - now)) < 0 && errno != EINTR)
        ||  !PQconsumeInput (conn))
            return;
    }
}

static PGresult *
s_get_result (store_t *self)
{
    s_await (self);
    return PQgetResult (self->conn);
}

//  The last result of a statement sent, as PQexec returns it.
static PGresult *
s_last_result (store_t *self)
{
    PGresult *last = NULL, *res;
    while ((res = s_get_result (self))) {
        PQclear (last);
        last = res;
    }
    return last ? last : PQmakeEmptyPGresult (self->conn, PGRES_FATAL_ERROR);
}

//  PQexec and PQexecParams, sent and then read through the wait hook (a
//  plain wait without one).
static PGresult *
s_exec (store_t *self, const char *sql)
{
    if (!PQsendQuery (self->conn, sql))
        return PQmakeEmptyPGresult (self->conn, PGRES_FATAL_ERROR);
    return s_last_result (self);
}

static PGresult *
s_exec_params (store_t *self, const char *sql, int count, const char *const *values,
               const int *lengths, const int *formats)
{
    if (!PQsendQueryParams (self->conn, sql, count, NULL, values, lengths, formats, 0))
        return PQmakeEmptyPGresult (self->conn, PGRES_FATAL_ERROR);
    return s_last_result (self);
}

static bool
s_ok (PGresult *res)
{
    ExecStatusType status = PQresultStatus (res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

//  Run a statement that returns nothing of interest; 0 or -1.
static int
s_run (store_t *self, const char *sql)
{
    PGresult *res = s_exec (self, sql);
    int rc = s_ok (res) ? 0 : -1;
    PQclear (res);
    return rc;
}

static catalog_t *
s_catalog_load (store_t *self, char *err, size_t err_size)
{
    PGresult *regions = s_exec (self, "SELECT code, name, level, coalesce (parent, '') FROM region");
    PGresult *metrics = s_exec (self, "SELECT key, rollup = 'sum', min_value, max_value FROM metric");
    catalog_t *catalog = NULL;
    if (s_ok (regions) && s_ok (metrics)) {
        catalog = catalog_new ();
        for (int row = 0; row < PQntuples (regions); row++)
            catalog_add_region (catalog, PQgetvalue (regions, row, 0), PQgetvalue (regions, row, 1),
                                PQgetvalue (regions, row, 2), PQgetvalue (regions, row, 3));
        for (int row = 0; row < PQntuples (metrics); row++)
            catalog_add_metric (catalog, PQgetvalue (metrics, row, 0),
                                streq (PQgetvalue (metrics, row, 1), "t"),
                                strtoll (PQgetvalue (metrics, row, 2), NULL, 10),
                                strtoll (PQgetvalue (metrics, row, 3), NULL, 10));
    }
    else
        s_pq_error (self->conn, err, err_size);
    PQclear (regions);
    PQclear (metrics);
    return catalog;
}

int
store_reload_catalog (store_t *self)
{
    if (self->state != STORE_UP)
        return -1;
    char err [256];
    catalog_t *catalog = s_catalog_load (self, err, sizeof err);
    if (!catalog) {
        log_error ("store: cannot read the catalog (%s); keeping the one loaded before", err);
        return -1;
    }
    catalog_destroy (&self->catalog);
    self->catalog = catalog;
    s_forget_known (self);
    return 0;
}

//  The oldest schema (deploy/migrations) this collector works with.
#define STORE_SCHEMA_VERSION 11

//  The statements of a batch, prepared on each new connection.
#define S_LOCK_STMT "tally_lock"
#define S_LOCK_SQL \
    "SELECT * FROM tally_lock (" \
    "$1::text[], $2::bigint[], $3::text[], $4::date[], $5::text[], $6::bigint[], " \
    "$7::text[], $8::text[], $9::int[], $10::text[], $11::bigint[])"
#define S_WRITE_STMT "tally_write"
#define S_WRITE_SQL \
    "SELECT * FROM tally_write ($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], " \
    "$6::text[], $7::text[], $8::date[], $9::bool[])"
#define S_APPLY_STMT "tally_apply"
#define S_APPLY_SQL \
    "SELECT * FROM tally_apply (" \
    "$1::text[], $2::bigint[], $3::text[], $4::date[], $5::text[], $6::bigint[], " \
    "$7::text[], $8::text[], $9::int[], $10::text[], $11::bigint[], " \
    "$12::text[], $13::int[], $14::bigint[], $15::text[], $16::int[], $17::text[], $18::text[], " \
    "$19::bool[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::date[], " \
    "$26::text)"

static bool
s_prepare (store_t *self, const char *name, const char *sql, int params)
{
    PGresult *res = PQprepare (self->conn, name, sql, params, NULL);
    if (PQresultStatus (res) == PGRES_COMMAND_OK) {
        PQclear (res);
        return true;
    }
    char why [400];
    snprintf (why, sizeof why, "preparing %s failed (%s); run 'tally-collector migrate'",
              name, PQresultErrorMessage (res));
    PQclear (res);
    //  Drop trailing newlines libpq leaves in the message.
    char *end = why + strlen (why);
    while (end > why && (end [-1] == '\n' || end [-1] == ' '))
        *--end = '\0';
    s_mark_down (self, why);
    return false;
}

bool
store_ensure (store_t *self)
{
    if (self->state == STORE_UP) {
        if (PQstatus (self->conn) == CONNECTION_OK)
            return true;
        s_mark_down (self, "the connection was lost");
    }
    if (zclock_mono () < self->next_attempt)
        return false;

    char err [256];
    //  A new connection may reach another server (after a failover, a
    //  restore): no row is known from before. (Every connection that was
    //  dropped comes back through here.)
    s_forget_known (self);
    self->conn = PQconnectdb (self->conninfo);
    if (PQstatus (self->conn) != CONNECTION_OK) {
        s_mark_down (self, s_pq_error (self->conn, err, sizeof err));
        return false;
    }
    //  Notices (e.g. from CREATE TEMP TABLE IF NOT EXISTS) are not for the log.
    s_run (self, "SET client_min_messages = warning");
    s_run (self, "SET datestyle = ISO");
    //  A database without the schema is an operator's mistake: say how to fix it.
    catalog_t *catalog = s_catalog_load (self, err, sizeof err);
    if (!catalog || catalog_region_count (catalog) == 0) {
        char why [400];
        snprintf (why, sizeof why, "the database has no tally schema or no regions (%s); "
                  "run 'tally-collector migrate'", catalog ? "empty catalog" : err);
        catalog_destroy (&catalog);
        s_refuse (self, why);
        return false;
    }
    //  An older schema would prepare but not behave: 009's tally_lock says
    //  which rows a batch created, and `reported` is recounted only there;
    //  011 brings tally_apply.
    PGresult *res = s_exec (self, "SELECT coalesce (max (version), 0) FROM schema_migration");
    int64_t version = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1
                    ? strtoll (PQgetvalue (res, 0, 0), NULL, 10) : -1;
    PQclear (res);
    if (version < STORE_SCHEMA_VERSION) {
        char why [400];
        if (version < 0)
            snprintf (why, sizeof why, "cannot read the schema's version (%s); "
                      "run 'tally-collector migrate'", s_pq_error (self->conn, err, sizeof err));
        else
            snprintf (why, sizeof why, "the database's schema is at version %" PRId64 ", this "
                      "collector needs %d; run 'tally-collector migrate'", version, STORE_SCHEMA_VERSION);
        catalog_destroy (&catalog);
        s_refuse (self, why);
        return false;
    }
    //  The statements of every batch are planned once per connection:
    //  planning them each time cost 0.8 ms a batch, a fifth of a small one.
    if (!s_prepare (self, S_LOCK_STMT, S_LOCK_SQL, 11)
    ||  !s_prepare (self, S_WRITE_STMT, S_WRITE_SQL, 9)
    ||  !s_prepare (self, S_APPLY_STMT, S_APPLY_SQL, 26)) {
        catalog_destroy (&catalog);
        return false;
    }
    catalog_destroy (&self->catalog);
    self->catalog = catalog;
    if (self->down_since && self->ever_up) {
        self->reconnects++;
        if (!self->quiet)
            log_info ("store: database reachable again after %.1f s (%d failed attempts)",
                       (double) (zclock_mono () - self->down_since) / 1000.0, self->attempts);
    }
    else
    if (self->down_since && !self->quiet)
        log_info ("store: database reachable after %.1f s (%d failed attempts)",
                   (double) (zclock_mono () - self->down_since) / 1000.0, self->attempts);
    if (!self->quiet)
        log_info ("store: connected to database '%s' on %s:%s; catalog has %zu regions and %zu metrics",
                   PQdb (self->conn), PQhost (self->conn), PQport (self->conn),
                   catalog_region_count (catalog), catalog_metric_count (catalog));
    self->state = STORE_UP;
    self->ever_up = true;
    self->down_since = 0;
    self->attempts = 0;
    self->backoff_ms = BACKOFF_MIN_MS;
    return true;
}

bool
store_up (store_t *self)
{
    return self->state == STORE_UP;
}

bool
store_alive (store_t *self)
{
    if (self->state != STORE_UP)
        return false;
    //  A server that ends a connection sends a FATAL message, then closes
    //  it: libpq keeps an idle connection's status until it reads the end,
    //  so read while there is something (a few times: the message and the
    //  end can come in separate reads). A connection in a transaction is
    //  in use by this thread, and its next result tells.
    for (int reads = 0; reads < 4; reads++) {
        if (PQtransactionStatus (self->conn) != PQTRANS_IDLE)
            break;
        struct pollfd readable = { .fd = PQsocket (self->conn), .events = POLLIN };
        if (readable.fd < 0 || poll (&readable, 1, 0) <= 0)
            break;
        if (!PQconsumeInput (self->conn) || PQstatus (self->conn) != CONNECTION_OK) {
            char err [256];
            s_mark_down (self, s_pq_error (self->conn, err, sizeof err));
            return false;
        }
    }
    if (PQstatus (self->conn) != CONNECTION_OK) {
        s_mark_down (self, "the connection was lost");
        return false;
    }
    return true;
}

int64_t
store_retry_ms (store_t *self)
{
    int64_t wait = self->next_attempt - zclock_mono ();
    return wait < 500 ? 500 : wait;
}

int
store_take_reconnects (store_t *self)
{
    int count = self->reconnects;
    self->reconnects = 0;
    return count;
}

catalog_t *
store_catalog (store_t *self)
{
    return self->catalog;
}

//  Whether a failed statement ended the session: the connection is closed,
//  or the server said FATAL or PANIC (a terminated backend, a shutdown, a
//  postmaster gone: the server closes the session after it), although libpq
//  may not have seen the socket close yet. An ERROR, whatever its SQLSTATE,
//  fails only the statement.
static bool
s_session_over (PGconn *conn, const PGresult *res)
{
    if (PQstatus (conn) != CONNECTION_OK)
        return true;
    const char *severity = res ? PQresultErrorField (res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    return severity && (streq (severity, "FATAL") || streq (severity, "PANIC"));
}

//  A statement failed: if the connection is gone, mark the store down (-1);
//  otherwise log the error (-2). Either way the transaction is abandoned.
static int
s_failed (store_t *self, PGresult *res, const char *what)
{
    char err [512];
    snprintf (err, sizeof err, "%s", res && *PQresultErrorMessage (res)
                                     ? PQresultErrorMessage (res) : "no result");
    char *nl = strchr (err, '\n');
    if (nl)
        *nl = 0;
    bool over = s_session_over (self->conn, res);
    PQclear (res);
    if (over) {
        s_mark_down (self, err);
        return -1;
    }
    log_error ("store: %s failed: %s", what, err);
    if (PQtransactionStatus (self->conn) != PQTRANS_IDLE)
        s_run (self, "ROLLBACK");
    return -2;
}

//  Turn a row of tally_totals() into a totals message appended to `totals`.
static void
s_totals_row (PGresult *res, int row, zlistx_t *totals)
{
    proto_msg_t *msg = proto_msg_new (PROTO_TOTALS);
    snprintf (msg->region, sizeof msg->region, "%s", PQgetvalue (res, row, 0));
    proto_msg_set_name (msg, PQgetvalue (res, row, 1));
    snprintf (msg->level, sizeof msg->level, "%s", PQgetvalue (res, row, 2));
    msg->year = strtoll (PQgetvalue (res, row, 3), NULL, 10);
    snprintf (msg->as_of, sizeof msg->as_of, "%s", PQgetvalue (res, row, 4));
    msg->reported = strtoll (PQgetvalue (res, row, 5), NULL, 10);
    msg->expected = strtoll (PQgetvalue (res, row, 6), NULL, 10);
    msg->has_version = true;
    msg->version = strtoll (PQgetvalue (res, row, 7), NULL, 10);
    msg->has_seq = true;
    msg->seq = msg->version;
    msg->updated_at = strtoll (PQgetvalue (res, row, 8), NULL, 10);
    for (int own = 0; own < 2; own++) {
        int col = own ? 11 : 9;
        if (PQgetisnull (res, row, col))
            continue;
        zlistx_t *keys = s_array_parse (PQgetvalue (res, row, col));
        zlistx_t *vals = s_array_parse (PQgetvalue (res, row, col + 1));
        const char *key = (const char *) zlistx_first (keys);
        const char *val = (const char *) zlistx_first (vals);
        while (key && val) {
            proto_msg_add_value (msg, own, key, strtoll (val, NULL, 10));
            key = (const char *) zlistx_next (keys);
            val = (const char *) zlistx_next (vals);
        }
        if (own && msg->own_count > 0)
            msg->has_own = true;
        zlistx_destroy (&keys);
        zlistx_destroy (&vals);
    }
    zlistx_add_end (totals, msg);
}

//  Write the rejects waiting in the list, inside the open transaction.
static int
s_write_rejects (store_t *self, zlistx_t *rejects)
{
    store_reject_t *reject = (store_reject_t *) zlistx_first (rejects);
    while (reject) {
        char seq [32];
        snprintf (seq, sizeof seq, "%" PRId64, reject->seq);
        const char *values [7] = {
            reject->peer, reject->key_id, proto_code_name (reject->code), reject->reason,
            reject->has_source ? reject->source : NULL, reject->has_seq ? seq : NULL,
            (const char *) reject->raw };
        int lengths [7] = { 0, 0, 0, 0, 0, 0, (int) reject->raw_size };
        int formats [7] = { 0, 0, 0, 0, 0, 0, 1 };
        PGresult *res = s_exec_params (self,
            "INSERT INTO rejected_report (peer, key_id, code, reason, source, seq, raw) "
            "VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bytea)",
            7, values, lengths, formats);
        if (!s_ok (res))
            return s_failed (self, res, "recording a rejected report");
        PQclear (res);
        reject = (store_reject_t *) zlistx_next (rejects);
    }
    return 0;
}

static int
    s_commit (store_t *self, store_item_t *items, size_t count, zlistx_t *rejects,
              zlistx_t *conflicts, zlistx_t *totals);

static int s_apply (store_t *self, store_item_t *items, size_t count, zlistx_t *totals);

int
store_commit (store_t *self, store_item_t *items, size_t count, zlistx_t *rejects, zlistx_t *totals)
{
    memset (&self->timing, 0, sizeof self->timing);
    if (!store_ensure (self))
        return -1;
    atomic_fetch_add (&s_storing, 1);
    int rc = 1;
    if (count > 0 && count <= S_APPLY_MAX && zlistx_size (rejects) == 0 && self->known
    &&  atomic_load (&s_storing) == 1 && atomic_load (&s_commits) == self->known_commits) {
        if (self->skip > 0)
            self->skip--;
        else
            rc = s_apply (self, items, count, totals);
    }
    if (rc == 1) {
        //  Conflicts found now are recorded in this same transaction, or not at all.
        zlistx_t *conflicts = zlistx_new ();
        zlistx_set_destructor (conflicts, (zlistx_destructor_fn *) store_reject_destroy);
        rc = s_commit (self, items, count, rejects, conflicts, totals);
        zlistx_destroy (&conflicts);
    }
    if (rc == 0)
        self->known_commits = atomic_fetch_add (&s_commits, 1) + 1;
    atomic_fetch_sub (&s_storing, 1);
    return rc;
}

void
store_last_timing (store_t *self, store_timing_t *timing)
{
    *timing = self->timing;
}

//  Append one array literal of the figures at positions 1 .. npos, as an
//  element of `buf` (NULL when `has` is NULL).
static void
s_buf_figures (s_buf_t *buf, int npos, const bool *has, const int64_t *ints,
               const char (*dates) [FIGURES_DATE])
{
    if (!has) {
        s_buf_elem (buf, NULL);
        return;
    }
    s_buf_t inner = { 0 };
    s_buf_start (&inner);
    for (int pos = 1; pos <= npos; pos++)
        if (!has [pos])
            s_buf_elem (&inner, NULL);
        else
        if (dates)
            s_buf_elem (&inner, dates [pos]);
        else
            s_buf_elem_int (&inner, ints [pos]);
    s_buf_end (&inner);
    s_buf_elem (buf, inner.data);
    free (inner.data);
}

//  The report's statuses from tally_lock's reply, conflicts recorded for
//  the transaction; the stored reports' ids in ids.
static size_t
s_read_statuses (PGresult *res, store_item_t *items, size_t count, int64_t *ids,
                 zlistx_t *conflicts)
{
    size_t answered = 0;
    for (int row = 0; row < PQntuples (res); row++) {
        if (!streq (PQgetvalue (res, row, 0), "report"))
            continue;
        long idx = strtol (PQgetvalue (res, row, 1), NULL, 10) - 1;
        if (idx < 0 || (size_t) idx >= count)
            continue;
        const char *status = PQgetvalue (res, row, 2);
        store_item_t *item = &items [idx];
        answered++;
        item->status = streq (status, "stored") ? STORE_STORED
                     : streq (status, "duplicate") ? STORE_DUPLICATE : STORE_CONFLICT;
        if (item->status == STORE_STORED)
            ids [idx] = strtoll (PQgetvalue (res, row, 3), NULL, 10);
        if (item->status == STORE_CONFLICT) {
            char reason [PROTO_MAX_TEXT];
            snprintf (reason, sizeof reason, "source '%s' seq %" PRId64
                      " was already stored with different content", item->report->source,
                      item->report->seq);
            proto_error_t echo = { .has_source = true, .has_seq = true, .seq = item->report->seq };
            snprintf (echo.source, sizeof echo.source, "%s", item->report->source);
            size_t raw_size = 0;
            uint8_t *raw = proto_msg_encode (item->report, &raw_size, NULL);
            zlistx_add_end (conflicts, store_reject_new (PROTO_CONFLICT, reason, &echo,
                            item->peer, item->key_id, raw, raw_size));
            free (raw);
        }
    }
    return answered;
}

//  The metrics and locked rows of tally_lock's reply, and the stored
//  reports' values, merged. Returns 0, or -1 with a sentence in err.
static int
s_merge (PGresult *res, store_item_t *items, size_t count, const int64_t *ids,
         figures_t *figures, char *err, size_t err_size)
{
    for (int row = 0; row < PQntuples (res); row++)
        if (streq (PQgetvalue (res, row, 0), "metric")
        &&  figures_add_metric (figures, PQgetvalue (res, row, 4),
                                (int) strtol (PQgetvalue (res, row, 5), NULL, 10),
                                streq (PQgetvalue (res, row, 6), "t"))) {
            snprintf (err, err_size, "metric %s has position %s", PQgetvalue (res, row, 4),
                      PQgetvalue (res, row, 5));
            return -1;
        }
    for (int row = 0; row < PQntuples (res); row++) {
        if (!streq (PQgetvalue (res, row, 0), "row"))
            continue;
        const char *arrays [5];
        for (int col = 13; col <= 17; col++)
            arrays [col - 13] = PQgetisnull (res, row, col) ? NULL : PQgetvalue (res, row, col);
        if (figures_add_row (figures, PQgetvalue (res, row, 7),
                             (int) strtol (PQgetvalue (res, row, 8), NULL, 10),
                             PQgetisnull (res, row, 9) ? NULL : PQgetvalue (res, row, 9),
                             (int) strtol (PQgetvalue (res, row, 10), NULL, 10),
                             PQgetvalue (res, row, 11), PQgetvalue (res, row, 12),
                             streq (PQgetvalue (res, row, 2), "new"),
                             arrays [0], arrays [1], arrays [2], arrays [3], arrays [4], err, err_size))
            return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (items [i].status != STORE_STORED)
            continue;
        const proto_msg_t *report = items [i].report;
        int year = (int) strtol (report->as_of, NULL, 10);
        for (size_t v = 0; v < report->value_count; v++)
            if (figures_offer (figures, report->region, year, report->as_of, ids [i],
                               report->values [v].key, report->values [v].value, err, err_size))
                return -1;
    }
    return figures_merge (figures, err, err_size);
}

//  The totals messages of the rows tally_write wrote (its rows: region,
//  year, as_of, reported, version, updated_at_ms), their figures from the
//  merge: exactly what was written.
static void
s_totals_written (PGresult *res, figures_t *figures, zlistx_t *totals)
{
    size_t metrics;
    const int *by_key = figures_by_key (figures, &metrics);
    for (int row = 0; row < PQntuples (res); row++) {
        if (PQgetisnull (res, row, 0))
            continue;           //  tally_apply's rows of reports
        const figures_row_t *fig = figures_find (figures, PQgetvalue (res, row, 0),
                                                 (int) strtol (PQgetvalue (res, row, 1), NULL, 10));
        if (!fig)
            continue;           //  never: tally_write wrote only rows it was given
        proto_msg_t *msg = proto_msg_new (PROTO_TOTALS);
        snprintf (msg->region, sizeof msg->region, "%s", fig->region);
        proto_msg_set_name (msg, fig->name);
        snprintf (msg->level, sizeof msg->level, "%s", fig->level);
        msg->year = fig->year;
        snprintf (msg->as_of, sizeof msg->as_of, "%s", PQgetvalue (res, row, 2));
        msg->reported = strtoll (PQgetvalue (res, row, 3), NULL, 10);
        msg->expected = fig->children ? fig->children : 1;
        msg->has_version = msg->has_seq = true;
        msg->version = msg->seq = strtoll (PQgetvalue (res, row, 4), NULL, 10);
        msg->updated_at = strtoll (PQgetvalue (res, row, 5), NULL, 10);
        for (size_t m = 0; m < metrics; m++) {
            int pos = by_key [m];
            if (fig->has_total [pos])
                proto_msg_add_value (msg, false, figures_key (figures, pos), fig->total [pos]);
            if (fig->children && fig->has_own [pos])
                proto_msg_add_value (msg, true, figures_key (figures, pos), fig->own [pos]);
        }
        msg->has_own = msg->own_count > 0;
        zlistx_add_end (totals, msg);
    }
}

//  A statement of a pipeline: a prepared one with parameters, or plain SQL.
typedef struct {
    const char *name;           //  prepared statement, or NULL
    const char *sql;            //  when name is NULL
    int nparams;
    const char *const *params;
    const char *tag;            //  the command tag it must answer ("BEGIN",
                                //  "COMMIT": a COMMIT of a failed transaction
                                //  says ROLLBACK), unless its result is wanted
} s_step_t;

//  Run statements in one round trip (libpq's pipeline mode, one Sync at the
//  end; inside a transaction the Sync commits nothing). Every result is
//  read, up to the Sync. Returns the result of step `want` when all
//  succeeded and the others answered their tags, else the first failure; a
//  statement whose result never came is a failure too (PQmakeEmptyPGresult
//  carries the connection's message): a COMMIT whose result is missing may
//  not have happened.
static PGresult *
s_pipeline (store_t *self, const s_step_t *steps, int count, int want)
{
    PGconn *conn = self->conn;
    if (!PQenterPipelineMode (conn))
        return PQmakeEmptyPGresult (conn, PGRES_FATAL_ERROR);
    bool sent = true;
    for (int i = 0; i < count && sent; i++)
        sent = steps [i].name
             ? PQsendQueryPrepared (conn, steps [i].name, steps [i].nparams, steps [i].params,
                                    NULL, NULL, 0)
             : PQsendQueryParams (conn, steps [i].sql, 0, NULL, NULL, NULL, NULL, 0);
    sent = sent && PQpipelineSync (conn);
    PGresult *kept = NULL, *failure = NULL;
    int answered = 0;
    const char *untold = NULL;      //  a tag that did not come
    //  Each statement's results end with a NULL; the Sync's result ends the
    //  pipeline. A broken connection ends it early.
    for (int step = 0; sent && step < count; step++) {
        PGresult *res = s_get_result (self);
        if (!res)
            break;
        answered++;
        if (!failure && !s_ok (res))
            failure = res;
        else
        if (!failure && step == want)
            kept = res;
        else {
            if (!failure && !untold && !streq (PQcmdStatus (res), steps [step].tag))
                untold = steps [step].tag;
            PQclear (res);
        }
        while ((res = s_get_result (self)))
            PQclear (res);
    }
    PGresult *sync;
    while (sent && (sync = s_get_result (self))) {
        bool end = PQresultStatus (sync) == PGRES_PIPELINE_SYNC;
        PQclear (sync);
        if (end)
            break;
    }
    if (!PQexitPipelineMode (conn) && PQstatus (conn) == CONNECTION_OK) {
        //  Results are still due: the connection is of no further use.
        PQclear (kept);
        PQclear (failure);
        s_mark_down (self, "a pipeline did not end");
        return NULL;
    }
    if (!failure && answered < count)
        failure = PQmakeEmptyPGresult (conn, PGRES_FATAL_ERROR);
    else
    if (!failure && untold) {
        log_error ("store: %s did not happen in a batch's pipeline", untold);
        failure = PQmakeEmptyPGresult (conn, PGRES_FATAL_ERROR);
    }
    if (failure) {
        PQclear (kept);
        return failure;
    }
    return kept;
}

#define S_MAX_ARRAYS 25          //  array parameters of tally_apply, the most of all

//  Close the array literals bufs [0 .. count) and run the pipeline whose
//  step `want` is the prepared statement taking them as its parameters,
//  and `last` after them when not NULL; the round trip's time goes to
//  *took_us. The buffers are freed.
static PGresult *
s_pipeline_arrays (store_t *self, s_buf_t *bufs, int count, const char *last,
                   s_step_t *steps, int nsteps, int want, int64_t *took_us)
{
    const char *params [S_MAX_ARRAYS + 1];
    for (int b = 0; b < count; b++) {
        s_buf_end (&bufs [b]);
        params [b] = bufs [b].data;
    }
    if (last)
        params [count] = last;
    steps [want].nparams = count + (last ? 1 : 0);
    steps [want].params = params;
    int64_t started = zclock_usecs ();
    PGresult *res = s_pipeline (self, steps, nsteps, want);
    *took_us = zclock_usecs () - started;
    for (int b = 0; b < count; b++)
        free (bufs [b].data);
    return res;
}

//  A changed row's figures as tally_write and tally_apply take them: own,
//  own_as_of, own_report, own_previous (NULL when no own figure won),
//  total, and as_of, into bufs [0 .. 6).
static void
s_buf_row (s_buf_t *bufs, const figures_row_t *row, int npos)
{
    bool own = row->own_changed;
    s_buf_figures (&bufs [0], npos, own ? row->has_own : NULL, row->own, NULL);
    s_buf_figures (&bufs [1], npos, own ? row->has_own : NULL, NULL, row->own_as_of);
    s_buf_figures (&bufs [2], npos, own ? row->has_own : NULL, row->own_report, NULL);
    s_buf_figures (&bufs [3], npos, own ? row->has_previous : NULL, row->previous, NULL);
    s_buf_figures (&bufs [4], npos, row->has_total, row->total, NULL);
    //  A row written only because one below it was created has no new
    //  as_of: NULL keeps its own.
    s_buf_elem (&bufs [5], *row->as_of ? row->as_of : NULL);
}

//  tally_write with the changed rows, and COMMIT, in one round trip.
static PGresult *
s_write_commit (store_t *self, figures_t *figures)
{
    s_buf_t bufs [S_MAX_ARRAYS] = { { 0 } };
    for (int b = 0; b < 9; b++)
        s_buf_start (&bufs [b]);
    int npos = figures_npos (figures);
    for (size_t i = 0; i < figures_row_count (figures); i++) {
        const figures_row_t *row = figures_row (figures, i);
        if (!row->changed)
            continue;
        s_buf_elem (&bufs [0], row->region);
        s_buf_elem_int (&bufs [1], row->year);
        s_buf_row (bufs + 2, row, npos);
        s_buf_elem (&bufs [8], row->above ? "t" : "f");
    }
    s_step_t steps [2] = { { .name = S_WRITE_STMT }, { .sql = "COMMIT", .tag = "COMMIT" } };
    return s_pipeline_arrays (self, bufs, 9, NULL, steps, 2, 0, &self->timing.write_us);
}

//  The batch's reports and values as tally_lock and tally_apply take them,
//  into bufs [0 .. 11).
static void
s_buf_reports (s_buf_t *bufs, store_item_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const proto_msg_t *report = items [i].report;
        s_buf_elem (&bufs [0], report->source);
        s_buf_elem_int (&bufs [1], report->seq);
        s_buf_elem (&bufs [2], report->region);
        s_buf_elem (&bufs [3], report->as_of);
        s_buf_elem (&bufs [4], report->note);
        if (report->has_sent_at)
            s_buf_elem_int (&bufs [5], report->sent_at);
        else
            s_buf_elem (&bufs [5], NULL);
        s_buf_elem (&bufs [6], items [i].peer);
        s_buf_elem (&bufs [7], items [i].key_id);
        for (size_t v = 0; v < report->value_count; v++) {
            s_buf_elem_int (&bufs [8], (int64_t) i + 1);
            s_buf_elem (&bufs [9], report->values [v].key);
            s_buf_elem_int (&bufs [10], report->values [v].value);
        }
    }
}

//  BEGIN and tally_lock with the batch's reports, in one round trip.
static PGresult *
s_begin_lock (store_t *self, store_item_t *items, size_t count)
{
    s_buf_t bufs [S_MAX_ARRAYS] = { { 0 } };
    for (int b = 0; b < 11; b++)
        s_buf_start (&bufs [b]);
    s_buf_reports (bufs, items, count);
    s_step_t steps [2] = { { .sql = "BEGIN", .tag = "BEGIN" }, { .name = S_LOCK_STMT } };
    return s_pipeline_arrays (self, bufs, 11, NULL, steps, 2, 1, &self->timing.lock_us);
}

//  After a commit: the rows written (the reply's region, year and, in
//  column 4, version) are known as figures has them now.
static void
s_remember (store_t *self, PGresult *res, figures_t *figures)
{
    for (int row = 0; row < PQntuples (res); row++)
        if (!PQgetisnull (res, row, 0))
            figures_keep (self->known, figures, PQgetvalue (res, row, 0),
                          (int) strtol (PQgetvalue (res, row, 1), NULL, 10),
                          strtoll (PQgetvalue (res, row, 4), NULL, 10));
}

//  After the two round trips: the rows written are known as written; the
//  rows locked but not written are forgotten (their versions were not
//  read). Known rows of other metrics, or too many, are dropped first; after
//  a batch of more than S_APPLY_MAX reports, all of them.
static void
s_learn (store_t *self, PGresult *res, figures_t *figures, size_t count)
{
    if (figures_row_count (figures) == 0)
        return;                 //  only resends: nothing locked, nothing written
    if (count > S_APPLY_MAX) {
        s_forget_known (self);
        return;
    }
    char *metrics = figures_metric_signature (figures);
    if (self->known && (!streq (self->known_metrics, metrics)
                        || figures_row_count (self->known) >= S_KNOWN_MAX))
        s_forget_known (self);
    if (!self->known) {
        self->known = figures_new_like (figures);
        self->known_metrics = metrics;
    }
    else
        free (metrics);
    for (size_t i = 0; i < figures_row_count (figures); i++) {
        const figures_row_t *row = figures_row (figures, i);
        if (!row->changed)
            figures_forget (self->known, row->region, row->year);
    }
    s_remember (self, res, figures);
}

//  The batch in one round trip when every row it touches is known (each
//  report's region and year once: two reports of one row would need the
//  order of their ids): its figures worked out from the known rows go with
//  the reports to tally_apply, between BEGIN and COMMIT. Returns 0 when
//  committed; 1 when the batch must take the two round trips (a row not
//  known, or not as known: nothing stored); -1 or -2 as store_commit.
static int
s_apply (store_t *self, store_item_t *items, size_t count, zlistx_t *totals)
{
    figures_t *figures = figures_new_like (self->known);
    char err [300];
    bool known = true;
    for (size_t i = 0; i < count && known; i++) {
        const proto_msg_t *report = items [i].report;
        int year = (int) strtol (report->as_of, NULL, 10);
        known = !figures_find (figures, report->region, year)
             && figures_copy_branch (figures, self->known, report->region, year) == 0;
    }
    for (size_t i = 0; i < count && known; i++) {
        const proto_msg_t *report = items [i].report;
        int year = (int) strtol (report->as_of, NULL, 10);
        for (size_t v = 0; v < report->value_count && known; v++)
            known = figures_offer (figures, report->region, year, report->as_of,
                                   S_PSEUDO_ID + (int64_t) i + 1, report->values [v].key,
                                   report->values [v].value, err, sizeof err) == 0;
    }
    //  A figure beyond bigint is the two round trips' to report.
    if (!known || figures_merge (figures, err, sizeof err)) {
        figures_destroy (&figures);
        return 1;
    }
    s_buf_t bufs [S_MAX_ARRAYS] = { { 0 } };
    for (int b = 0; b < 25; b++)
        s_buf_start (&bufs [b]);
    s_buf_reports (bufs, items, count);
    s_buf_t *w = bufs + 11;
    int npos = figures_npos (figures);
    for (size_t r = 0; r < figures_row_count (figures); r++) {
        const figures_row_t *row = figures_row (figures, r);
        s_buf_elem (&w [0], row->region);
        s_buf_elem_int (&w [1], row->year);
        s_buf_elem_int (&w [2], row->version);
        s_buf_elem (&w [3], figures_parent_code (figures, r));
        s_buf_elem_int (&w [4], row->children);
        s_buf_elem (&w [5], row->name);
        s_buf_elem (&w [6], row->level);
        s_buf_elem (&w [7], row->changed ? "t" : "f");
        if (row->changed)
            s_buf_row (w + 8, row, npos);
        else
            for (int b = 8; b < 14; b++)
                s_buf_elem (&w [b], NULL);
    }
    s_step_t steps [3] = { { .sql = "BEGIN", .tag = "BEGIN" }, { .name = S_APPLY_STMT },
                           { .sql = "COMMIT", .tag = "COMMIT" } };
    PGresult *res = s_pipeline_arrays (self, bufs, 25, self->known_metrics, steps, 3, 1,
                                       &self->timing.apply_us);
    if (!self->conn) {
        figures_destroy (&figures);
        return -1;              //  marked down: the pipeline did not end
    }
    if (!s_ok (res)) {
        figures_destroy (&figures);
        if (s_session_over (self->conn, res))
            return s_failed (self, res, "storing a batch in one call");
        //  Nothing was stored: the two round trips store the batch, and
        //  bring the rows up to date. A resend says nothing about them; a
        //  row or the catalog changed, or any other error, counts towards
        //  the back-off, and an unexpected error is logged (once while it
        //  repeats), since the two round trips may well succeed without it.
        const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
        bool stale = state && streq (state, S_STALE_STATE);
        bool resent = state && streq (state, S_RESENT_STATE);
        if (!stale && !resent) {
            char err [256];
            snprintf (err, sizeof err, "%s", *PQresultErrorMessage (res)
                                             ? PQresultErrorMessage (res) : "no result");
            char *nl = strchr (err, '\n');
            if (nl)
                *nl = 0;
            if (!streq (err, self->apply_error))
                log_error ("store: tally_apply failed (%s); storing batches in two round trips "
                           "meanwhile", err);
            snprintf (self->apply_error, sizeof self->apply_error, "%s", err);
        }
        PQclear (res);
        if (PQtransactionStatus (self->conn) != PQTRANS_IDLE)
            s_run (self, "ROLLBACK");
        self->timing.missed = true;
        if (!resent) {
            self->refusals++;
            if (self->refusals >= 2)
                self->skip = self->refusals - 1 >= 6 ? S_SKIP_MAX : 1 << (self->refusals - 1);
        }
        return 1;
    }
    //  Committed: every report is stored (tally_apply refuses a batch
    //  otherwise), and its id takes the place of its stand-in.
    int64_t *ids = (int64_t *) zmalloc (count * sizeof (int64_t));
    for (int row = 0; row < PQntuples (res); row++) {
        long idx = PQgetisnull (res, row, 6) ? 0 : strtol (PQgetvalue (res, row, 6), NULL, 10);
        if (idx >= 1 && (size_t) idx <= count)
            ids [idx - 1] = strtoll (PQgetvalue (res, row, 7), NULL, 10);
    }
    for (size_t i = 0; i < count; i++)
        items [i].status = STORE_STORED;
    figures_map_reports (figures, S_PSEUDO_ID, ids, count);
    free (ids);
    s_totals_written (res, figures, totals);
    s_remember (self, res, figures);
    PQclear (res);
    figures_destroy (&figures);
    self->timing.trips = 1;
    self->refusals = 0;
    if (*self->apply_error) {
        log_info ("store: tally_apply works again");
        *self->apply_error = 0;
    }
    return 0;
}

//  Store the batch in two round trips: BEGIN with tally_lock (reports,
//  values, the rows they touch, locked); the changes worked out here; the
//  rejects; tally_write (each changed row once, and what the totals to
//  publish need) with COMMIT. Only rejects: BEGIN, the rejects, COMMIT.
static int
s_commit (store_t *self, store_item_t *items, size_t count, zlistx_t *rejects,
          zlistx_t *conflicts, zlistx_t *totals)
{
    if (count == 0) {
        PGresult *res = s_exec (self, "BEGIN");
        if (!s_ok (res))
            return s_failed (self, res, "BEGIN");
        PQclear (res);
        int rc = s_write_rejects (self, rejects);
        if (rc)
            return rc;
        res = s_exec (self, "COMMIT");
        if (!s_ok (res))
            return s_failed (self, res, "COMMIT");
        PQclear (res);
        zlistx_purge (rejects);
        return 0;
    }
    PGresult *res = s_begin_lock (self, items, count);
    if (!self->conn)
        return -1;              //  marked down: the pipeline did not end
    if (!s_ok (res))
        return s_failed (self, res, "storing a batch");
    int64_t *ids = (int64_t *) zmalloc (count * sizeof (int64_t));
    size_t answered = s_read_statuses (res, items, count, ids, conflicts);
    figures_t *figures = figures_new ();
    char err [300];
    int rc = 0;
    if (answered != count) {
        snprintf (err, sizeof err, "tally_lock answered %zu of %zu reports", answered, count);
        rc = -1;
    }
    else
        rc = s_merge (res, items, count, ids, figures, err, sizeof err);
    PQclear (res);
    free (ids);
    if (rc) {
        figures_destroy (&figures);
        log_error ("store: a batch could not be rolled up: %s", err);
        s_run (self, "ROLLBACK");
        return -2;
    }
    rc = s_write_rejects (self, rejects);
    if (rc == 0)
        rc = s_write_rejects (self, conflicts);
    if (rc) {
        figures_destroy (&figures);
        return rc;
    }
    res = s_write_commit (self, figures);
    if (!self->conn) {
        figures_destroy (&figures);
        return -1;
    }
    if (!s_ok (res)) {
        figures_destroy (&figures);
        return s_failed (self, res, "writing and committing a batch");
    }
    s_totals_written (res, figures, totals);
    s_learn (self, res, figures, count);
    figures_destroy (&figures);
    PQclear (res);
    zlistx_purge (rejects);
    self->timing.trips = 2;
    return 0;
}

int
store_snapshot (store_t *self, const char *prefix, int64_t year, zlistx_t *totals, int64_t *seq)
{
    if (!store_ensure (self))
        return -1;
    //  One snapshot for both statements: the totals and the seq they reflect.
    PGresult *res = s_exec (self, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!s_ok (res)) {
        s_failed (self, res, "BEGIN");
        return -1;
    }
    PQclear (res);
    char year_text [32];
    snprintf (year_text, sizeof year_text, "%" PRId64, year);
    const char *params [2] = { prefix, year > 0 ? year_text : NULL };
    res = s_exec_params (self, "SELECT * FROM tally_totals (NULL, NULL, $1, $2::int)",
                         2, params, NULL, NULL);
    if (!s_ok (res)) {
        s_failed (self, res, "reading a snapshot");
        return -1;
    }
    for (int row = 0; row < PQntuples (res); row++)
        s_totals_row (res, row, totals);
    PQclear (res);
    res = s_exec (self, "SELECT coalesce (max (version), 0) FROM region_year");
    if (!s_ok (res)) {
        zlistx_purge (totals);
        s_failed (self, res, "reading the feed seq");
        return -1;
    }
    *seq = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    s_run (self, "COMMIT");
    return 0;
}

int64_t
store_last_seq (store_t *self)
{
    if (!store_ensure (self))
        return -1;
    PGresult *res = s_exec (self, "SELECT coalesce (max (version), 0) FROM region_year");
    if (!s_ok (res)) {
        s_failed (self, res, "reading the feed seq");
        return -1;
    }
    int64_t seq = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    return seq;
}
