/*  outbox.c — the durable on-disk queue of reports waiting for the collector.

    See outbox.h for the layout and the guarantees. Every change that must
    survive a crash goes through s_write_durable (temporary name, fsync,
    rename, fsync of the folder). Changes that may be lost harmlessly are not
    synced: an acked report that reappears after a power cut is resent and
    acked as `duplicate`.

    Processes share an outbox (a `run` agent and a `send` at once): changes to
    next_seq, staging/, queue/ batches and inputs/ happen under flock on
    `lock`; removing a delivered report needs no lock (unlink is atomic, and
    a second unlink of the same file is harmless).
*/
#include "outbox.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_PATH_MAX  512
#define S_SYNC_GROUP 128                //  report files written before syncing them

struct _outbox_t {
    char *dir;                          //  the outbox folder
    char source [PROTO_MAX_SOURCE + 1]; //  our source id
    int lock_fd;                        //  open on dir/lock, for flock
    int crash_point;                    //  test hook: _exit at this step (0 = off)
};

static void
s_err (char *err, size_t err_size, const char *format, ...)
{
    if (!err || !err_size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, err_size, format, args);
    va_end (args);
}

static void
s_maybe_crash (outbox_t *self, int point)
{
    if (self->crash_point == point)
        _exit (77);
}

static int
s_lock (outbox_t *self)
{
    while (flock (self->lock_fd, LOCK_EX) == -1)
        if (errno != EINTR)
            return -1;
    return 0;
}

static void
s_unlock (outbox_t *self)
{
    flock (self->lock_fd, LOCK_UN);
}

static int
s_fsync_path (const char *path)
{
    int fd = open (path, O_RDONLY | O_DIRECTORY);
    if (fd == -1)
        fd = open (path, O_RDONLY);
    if (fd == -1)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

//  Write all of data to fd; 0 or -1 (errno kept).
static int
s_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    size_t done = 0;
    while (done < size) {
        ssize_t wrote = write (fd, bytes + done, size - done);
        if (wrote < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t) wrote;
    }
    return 0;
}

//  Write data to path and fsync it (no rename); 0 or -1 (errno kept).
static int
s_write_synced (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1)
        return -1;
    if (s_write_all (fd, data, size) == -1 || fsync (fd) == -1) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    return close (fd);
}

//  Replace folder/name durably: write folder/.name.tmp, fsync, rename, fsync folder.
static int
s_write_durable (const char *folder, const char *name, const void *data, size_t size)
{
    char path [S_PATH_MAX], temp [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", folder, name);
    snprintf (temp, sizeof temp, "%s/.%s.tmp", folder, name);
    if (s_write_synced (temp, data, size) == -1
    ||  rename (temp, path) == -1
    ||  s_fsync_path (folder) == -1)
        return -1;
    return 0;
}

//  Read a small file into a NUL-terminated malloc'd buffer; NULL if absent.
static char *
s_read_text (const char *path, size_t *size_p)
{
    int fd = open (path, O_RDONLY);
    if (fd == -1)
        return NULL;
    struct stat info;
    if (fstat (fd, &info) == -1) {
        close (fd);
        return NULL;
    }
    size_t size = (size_t) info.st_size;
    char *data = (char *) malloc (size + 1);
    assert (data);
    size_t done = 0;
    while (done < size) {
        ssize_t got = read (fd, data + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        done += (size_t) got;
    }
    close (fd);
    data [done] = 0;
    if (size_p)
        *size_p = done;
    return data;
}

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0755) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

//  mkdir -p
static int
s_mkdir_parents (const char *path)
{
    char buffer [S_PATH_MAX];
    snprintf (buffer, sizeof buffer, "%s", path);
    for (char *slash = strchr (buffer + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (s_mkdir (buffer) == -1)
            return -1;
        *slash = '/';
    }
    return s_mkdir (buffer);
}

static void
s_remove_tree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char child [S_PATH_MAX];
            snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
            struct stat info;
            if (lstat (child, &info) == 0 && S_ISDIR (info.st_mode))
                s_remove_tree (child);
            else
                unlink (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Parse "<digits>.msg" into a seq; 0 if the name is not a report.
static int64_t
s_seq_of (const char *name)
{
    const char *dot = strrchr (name, '.');
    if (!dot || strcmp (dot, ".msg") != 0 || dot == name)
        return 0;
    int64_t seq = 0;
    for (const char *c = name; c < dot; c++) {
        if (*c < '0' || *c > '9' || seq > INT64_MAX / 10 - 10)
            return 0;
        seq = seq * 10 + (*c - '0');
    }
    return seq;
}

//  The highest seq of any report file in folder (0 if none).
static int64_t
s_max_seq_in (const char *folder)
{
    int64_t max = 0;
    DIR *dir = opendir (folder);
    if (!dir)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        int64_t seq = s_seq_of (entry->d_name);
        if (seq > max)
            max = seq;
    }
    closedir (dir);
    return max;
}

//  Record a batch's digest in inputs/ unless it is there already.
//  batch_file holds "digest queued_at count first_seq".
static int
s_record_input (outbox_t *self, const char *batch_file, bool overwrite)
{
    char *text = s_read_text (batch_file, NULL);
    if (!text)
        return -1;
    char digest [64];
    long long queued_at, count, first;
    int rc = -1;
    if (sscanf (text, "%63s %lld %lld %lld", digest, &queued_at, &count, &first) == 4) {
        char folder [S_PATH_MAX], path [S_PATH_MAX + 64];
        snprintf (folder, sizeof folder, "%s/inputs", self->dir);
        snprintf (path, sizeof path, "%s/%s", folder, digest);
        if (!overwrite && access (path, F_OK) == 0)
            rc = 0;
        else {
            char line [128];
            int size = snprintf (line, sizeof line, "%lld %lld %lld\n", queued_at, count, first);
            rc = s_write_durable (folder, digest, line, (size_t) size);
        }
    }
    free (text);
    return rc;
}

//  True when a batch folder still holds a report.
static bool
s_batch_has_reports (const char *batch)
{
    DIR *dir = opendir (batch);
    if (!dir)
        return false;
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir (dir)))
        found = s_seq_of (entry->d_name) > 0;
    closedir (dir);
    return found;
}

//  Under the lock: drop staging debris, make sure every published batch's
//  digest is recorded, remove batches that have emptied. Returns the highest
//  seq found anywhere, so that next_seq can be checked against it.
static int64_t
s_recover (outbox_t *self)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/staging", self->dir);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char child [S_PATH_MAX + 256];
            snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
            s_remove_tree (child);
        }
        closedir (dir);
    }
    int64_t max_seq = 0;
    snprintf (path, sizeof path, "%s/queue", self->dir);
    dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name [0] != 'B')
                continue;
            char batch [S_PATH_MAX + 256], batch_file [S_PATH_MAX + 300];
            snprintf (batch, sizeof batch, "%s/%s", path, entry->d_name);
            snprintf (batch_file, sizeof batch_file, "%s/batch", batch);
            s_record_input (self, batch_file, false);
            int64_t seq = s_max_seq_in (batch);
            if (seq > max_seq)
                max_seq = seq;
            if (!s_batch_has_reports (batch))
                s_remove_tree (batch);
        }
        closedir (dir);
    }
    snprintf (path, sizeof path, "%s/rejected", self->dir);
    int64_t seq = s_max_seq_in (path);
    return seq > max_seq ? seq : max_seq;
}

static int64_t
s_read_next_seq (outbox_t *self)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/next_seq", self->dir);
    char *text = s_read_text (path, NULL);
    int64_t next = 1;
    if (text) {
        long long value = strtoll (text, NULL, 10);
        if (value > 1)
            next = value;
        free (text);
    }
    return next;
}

static int
s_write_next_seq (outbox_t *self, int64_t next)
{
    char line [32];
    int size = snprintf (line, sizeof line, "%" PRId64 "\n", next);
    return s_write_durable (self->dir, "next_seq", line, (size_t) size);
}

char *
outbox_default_dir (void)
{
    const char *state = getenv ("XDG_STATE_HOME");
    if (state && *state == '/')
        return zsys_sprintf ("%s/tally/outbox", state);
    const char *home = getenv ("HOME");
    return zsys_sprintf ("%s/.local/state/tally/outbox", home && *home ? home : ".");
}

//  Open the outbox in dir; create it only when create is true, so that a
//  mistyped --outbox of a command that reads the outbox makes nothing.
static outbox_t *
s_open (const char *dir, bool create, char *err, size_t err_size)
{
    assert (dir);
    if (strlen (dir) > S_PATH_MAX - 100) {
        s_err (err, err_size, "the outbox path %s is too long", dir);
        return NULL;
    }
    if (!create) {
        //  An outbox is a folder holding its source id, made on creation.
        char path [S_PATH_MAX];
        snprintf (path, sizeof path, "%s/source", dir);
        struct stat info;
        if (stat (path, &info) == -1) {
            s_err (err, err_size, "no outbox at %s (send or run creates one; check --outbox)", dir);
            return NULL;
        }
    }
    if (s_mkdir_parents (dir) == -1) {
        s_err (err, err_size, "cannot create the outbox folder %s: %s", dir, strerror (errno));
        return NULL;
    }
    outbox_t *self = (outbox_t *) zmalloc (sizeof (outbox_t));
    assert (self);
    self->dir = strdup (dir);
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/lock", dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT, 0644);
    if (self->lock_fd == -1 || s_lock (self) == -1) {
        s_err (err, err_size, "cannot open the outbox lock %s: %s", path, strerror (errno));
        outbox_destroy (&self);
        return NULL;
    }
    const char *subfolders [] = { "staging", "queue", "inputs", "rejected" };
    for (size_t i = 0; i < sizeof subfolders / sizeof subfolders [0]; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, subfolders [i]);
        if (s_mkdir (path) == -1) {
            s_err (err, err_size, "cannot create %s: %s", path, strerror (errno));
            s_unlock (self);
            outbox_destroy (&self);
            return NULL;
        }
    }
    snprintf (path, sizeof path, "%s/source", dir);
    char *source = s_read_text (path, NULL);
    if (!source) {
        //  A new outbox: its identity is made once and kept for good.
        zuuid_t *uuid = zuuid_new ();
        char line [64];
        int size = snprintf (line, sizeof line, "%s\n", zuuid_str_canonical (uuid));
        zuuid_destroy (&uuid);
        if (s_fsync_path (dir) == -1
        ||  s_write_durable (dir, "source", line, (size_t) size) == -1) {
            s_err (err, err_size, "cannot write %s: %s", path, strerror (errno));
            s_unlock (self);
            outbox_destroy (&self);
            return NULL;
        }
        source = strdup (line);
    }
    source [strcspn (source, "\r\n")] = 0;
    snprintf (self->source, sizeof self->source, "%s", source);
    free (source);
    if (!proto_source_valid (self->source)) {
        s_err (err, err_size, "%s/source does not hold a valid source id", dir);
        s_unlock (self);
        outbox_destroy (&self);
        return NULL;
    }
    s_recover (self);
    s_unlock (self);
    return self;
}

outbox_t *
outbox_new (const char *dir, char *err, size_t err_size)
{
    return s_open (dir, true, err, err_size);
}

outbox_t *
outbox_open (const char *dir, char *err, size_t err_size)
{
    return s_open (dir, false, err, err_size);
}

void
outbox_destroy (outbox_t **self_p)
{
    assert (self_p);
    outbox_t *self = *self_p;
    if (!self)
        return;
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

const char *
outbox_source (outbox_t *self)
{
    assert (self);
    return self->source;
}

const char *
outbox_dir (outbox_t *self)
{
    assert (self);
    return self->dir;
}

void
outbox_set_crash_point (outbox_t *self, int point)
{
    assert (self);
    self->crash_point = point;
}

//  Read inputs/<digest> into a receipt; true if it exists.
static bool
s_lookup_input (outbox_t *self, const char *digest, outbox_receipt_t *receipt)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof path, "%s/inputs/%s", self->dir, digest);
    char *text = s_read_text (path, NULL);
    if (!text)
        return false;
    long long queued_at = 0, count = 0, first = 0;
    bool ok = sscanf (text, "%lld %lld %lld", &queued_at, &count, &first) == 3;
    free (text);
    if (ok && receipt) {
        receipt->queued_at = queued_at;
        receipt->count = (size_t) count;
        receipt->first_seq = first;
    }
    return ok;
}

//  fsync and close a group of files; 0, or -1 if any sync failed (all are closed).
static int
s_sync_group (int *fds, size_t *count)
{
    int rc = 0;
    for (size_t i = 0; i < *count; i++) {
        if (fsync (fds [i]) == -1)
            rc = -1;
        close (fds [i]);
    }
    *count = 0;
    return rc;
}

//  Under the lock: write the batch under staging/ and publish it.
static int
s_queue_locked (outbox_t *self, proto_msg_t **reports, size_t count, const char *digest,
                int64_t found, outbox_receipt_t *receipt, char *err, size_t err_size)
{
    //  1. Hand out seqs and make the counter durable before any report
    //     carrying them can exist: a crash from here on wastes them, never
    //     reuses them.
    int64_t first = s_read_next_seq (self);
    if (found >= first)
        first = found + 1;
    s_maybe_crash (self, 1);
    if (s_write_next_seq (self, first + (int64_t) count) == -1) {
        s_err (err, err_size, "cannot write %s/next_seq: %s", self->dir, strerror (errno));
        return -1;
    }
    s_maybe_crash (self, 2);

    //  2. Write every report and the batch record under staging/.
    char staging [S_PATH_MAX], path [S_PATH_MAX + 128];
    snprintf (staging, sizeof staging, "%s/staging/B%020" PRId64, self->dir, first);
    s_remove_tree (staging);
    if (s_mkdir (staging) == -1) {
        s_err (err, err_size, "cannot create %s: %s", staging, strerror (errno));
        return -1;
    }
    //  Write every file first and sync them after, so that the disk sees
    //  one stream of writes rather than a flush per report.
    int64_t now = s_now_ms ();
    int fds [S_SYNC_GROUP];
    size_t opened = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (opened == S_SYNC_GROUP)
            rc = s_sync_group (fds, &opened);
        if (rc == -1) {
            s_err (err, err_size, "cannot sync a report under %s: %s", staging, strerror (errno));
            break;
        }
        proto_msg_t *report = reports [i];
        report->has_source = true;
        snprintf (report->source, sizeof report->source, "%s", self->source);
        report->has_seq = true;
        report->seq = first + (int64_t) i;
        proto_error_t error;
        size_t size;
        uint8_t *body = proto_msg_encode (report, &size, &error);
        if (!body) {
            s_err (err, err_size, "cannot encode the report for region %s as of %s: %s",
                   report->region, report->as_of, error.text);
            rc = -1;
            break;
        }
        snprintf (path, sizeof path, "%s/%020" PRId64 ".msg", staging, report->seq);
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd == -1 || s_write_all (fd, body, size) == -1) {
            s_err (err, err_size, "cannot write %s: %s", path, strerror (errno));
            rc = -1;
        }
        if (fd != -1)
            fds [opened++] = fd;
        free (body);
        if (i == count / 2)
            s_maybe_crash (self, 3);
    }
    if (s_sync_group (fds, &opened) == -1 && rc == 0) {
        s_err (err, err_size, "cannot sync a report under %s: %s", staging, strerror (errno));
        rc = -1;
    }
    if (rc == -1) {
        s_remove_tree (staging);
        return -1;
    }
    char line [160];
    int size = snprintf (line, sizeof line, "%s %" PRId64 " %zu %" PRId64 "\n",
                         digest, now, count, first);
    snprintf (path, sizeof path, "%s/batch", staging);
    if (s_write_synced (path, line, (size_t) size) == -1 || s_fsync_path (staging) == -1) {
        s_err (err, err_size, "cannot write %s: %s", path, strerror (errno));
        s_remove_tree (staging);
        return -1;
    }
    s_maybe_crash (self, 4);

    //  3. Publish: one rename makes the whole batch visible, or none of it.
    char queue [S_PATH_MAX], published [S_PATH_MAX + 64];
    snprintf (queue, sizeof queue, "%s/queue", self->dir);
    snprintf (published, sizeof published, "%s/B%020" PRId64, queue, first);
    if (rename (staging, published) == -1) {
        s_err (err, err_size, "cannot publish %s: %s", published, strerror (errno));
        s_remove_tree (staging);
        return -1;
    }
    s_maybe_crash (self, 5);
    if (s_fsync_path (queue) == -1) {
        s_err (err, err_size, "cannot sync %s: %s", queue, strerror (errno));
        return -1;
    }
    s_maybe_crash (self, 6);

    //  4. Remember the input; if we die before this, s_recover does it.
    snprintf (path, sizeof path, "%s/batch", published);
    s_record_input (self, path, true);
    s_maybe_crash (self, 7);
    receipt->first_seq = first;
    receipt->count = count;
    receipt->queued_at = now;
    return 0;
}

int
outbox_queue (outbox_t *self, proto_msg_t **reports, size_t count, const char *digest,
              bool again, outbox_receipt_t *receipt, char *err, size_t err_size)
{
    assert (self);
    assert (digest && *digest);
    if (count == 0) {
        s_err (err, err_size, "nothing to queue");
        return -1;
    }
    outbox_receipt_t scratch;
    if (!receipt)
        receipt = &scratch;
    if (s_lock (self) == -1) {
        s_err (err, err_size, "cannot lock the outbox: %s", strerror (errno));
        return -1;
    }
    int rc;
    int64_t found = s_recover (self);
    if (!again && s_lookup_input (self, digest, receipt))
        rc = OUTBOX_ALREADY;
    else
        rc = s_queue_locked (self, reports, count, digest, found, receipt, err, err_size);
    s_maybe_crash (self, 8);
    s_unlock (self);
    return rc;
}

static int
s_compare_entries (const void *a, const void *b)
{
    int64_t left = ((const outbox_entry_t *) a)->seq;
    int64_t right = ((const outbox_entry_t *) b)->seq;
    return left < right ? -1 : left > right;
}

outbox_entry_t *
outbox_pending (outbox_t *self, size_t *count)
{
    assert (self);
    size_t used = 0, cap = 64;
    outbox_entry_t *entries = (outbox_entry_t *) malloc (cap * sizeof (outbox_entry_t));
    assert (entries);
    char queue [S_PATH_MAX];
    snprintf (queue, sizeof queue, "%s/queue", self->dir);
    DIR *dir = opendir (queue);
    if (dir) {
        struct dirent *batch_entry;
        while ((batch_entry = readdir (dir))) {
            if (batch_entry->d_name [0] != 'B')
                continue;
            char batch [S_PATH_MAX + 256];
            snprintf (batch, sizeof batch, "%s/%s", queue, batch_entry->d_name);
            DIR *batch_dir = opendir (batch);
            if (!batch_dir)
                continue;
            struct dirent *entry;
            while ((entry = readdir (batch_dir))) {
                int64_t seq = s_seq_of (entry->d_name);
                if (seq <= 0)
                    continue;
                if (used == cap) {
                    cap *= 2;
                    entries = (outbox_entry_t *) realloc (entries, cap * sizeof (outbox_entry_t));
                    assert (entries);
                }
                entries [used].seq = seq;
                snprintf (entries [used].path, sizeof entries [used].path, "%s/%s",
                          batch, entry->d_name);
                used++;
            }
            closedir (batch_dir);
        }
        closedir (dir);
    }
    qsort (entries, used, sizeof (outbox_entry_t), s_compare_entries);
    *count = used;
    return entries;
}

uint8_t *
outbox_load (outbox_t *self, const outbox_entry_t *entry, size_t *size)
{
    assert (self);
    return (uint8_t *) s_read_text (entry->path, size);
}

int
outbox_delivered (outbox_t *self, const outbox_entry_t *entry)
{
    assert (self);
    if (unlink (entry->path) == -1 && errno != ENOENT)
        return -1;
    return 0;
}

int
outbox_rejected (outbox_t *self, const outbox_entry_t *entry, const char *reason)
{
    assert (self);
    char folder [S_PATH_MAX], name [64], path [S_PATH_MAX + 64];
    snprintf (folder, sizeof folder, "%s/rejected", self->dir);
    snprintf (name, sizeof name, "%020" PRId64 ".txt", entry->seq);
    char *line = zsys_sprintf ("%s\n", reason);
    int rc = s_write_durable (folder, name, line, strlen (line));
    zstr_free (&line);
    if (rc == -1)
        return -1;
    snprintf (path, sizeof path, "%s/%020" PRId64 ".msg", folder, entry->seq);
    if (rename (entry->path, path) == -1)
        return errno == ENOENT ? 0 : -1;
    return s_fsync_path (folder);
}

void
outbox_tidy (outbox_t *self)
{
    assert (self);
    if (s_lock (self) == 0) {
        s_recover (self);
        s_unlock (self);
    }
}

size_t
outbox_rejected_count (outbox_t *self)
{
    assert (self);
    char folder [S_PATH_MAX];
    snprintf (folder, sizeof folder, "%s/rejected", self->dir);
    size_t count = 0;
    DIR *dir = opendir (folder);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (s_seq_of (entry->d_name) > 0)
                count++;
        closedir (dir);
    }
    return count;
}

static void
s_format_time (int64_t ms, char *buffer, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm local;
    localtime_r (&seconds, &local);
    strftime (buffer, size, "%Y-%m-%d %H:%M:%S", &local);
}

//  One report file as a line: seq, region, as_of, number of values.
static void
s_print_report (FILE *out, const char *path, int64_t seq, const char *tail)
{
    size_t size;
    char *body = s_read_text (path, &size);
    proto_error_t error;
    proto_msg_t *report = body ? proto_msg_decode (body, size, 0, &error) : NULL;
    if (report)
        fprintf (out, "  seq %-6" PRId64 " region %-8s as of %s  %3zu value%s%s\n", seq,
                 report->region, report->as_of, report->value_count,
                 report->value_count == 1 ? " " : "s", tail);
    else
        fprintf (out, "  seq %-6" PRId64 " (unreadable: %s)%s\n", seq, path, tail);
    proto_msg_destroy (&report);
    free (body);
}

size_t
outbox_print_status (outbox_t *self, FILE *out)
{
    assert (self);
    fprintf (out, "outbox %s\nsource %s, next seq %" PRId64 "\n", self->dir, self->source,
             s_read_next_seq (self));
    size_t count;
    outbox_entry_t *entries = outbox_pending (self, &count);
    fprintf (out, "queued: %zu report%s\n", count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        //  The batch record says when it was queued.
        char batch_file [sizeof entries [i].path + 16], tail [64] = "";
        snprintf (batch_file, sizeof batch_file, "%s", entries [i].path);
        char *slash = strrchr (batch_file, '/');
        if (slash) {
            strcpy (slash, "/batch");
            char *text = s_read_text (batch_file, NULL);
            long long queued_at;
            char digest [64];
            if (text && sscanf (text, "%63s %lld", digest, &queued_at) == 2) {
                char when [32];
                s_format_time (queued_at, when, sizeof when);
                snprintf (tail, sizeof tail, "  queued %s", when);
            }
            free (text);
        }
        s_print_report (out, entries [i].path, entries [i].seq, tail);
    }
    free (entries);

    char folder [S_PATH_MAX];
    snprintf (folder, sizeof folder, "%s/rejected", self->dir);
    size_t rejected = outbox_rejected_count (self);
    fprintf (out, "rejected: %zu report%s%s%s%s\n", rejected, rejected == 1 ? "" : "s",
             rejected ? " (kept in " : "", rejected ? folder : "", rejected ? ")" : "");
    if (rejected)
        fprintf (out, "  (bodies and reasons are in that folder; fix the figures and send them again)\n");
    DIR *dir = opendir (folder);
    if (dir) {
        zlistx_t *names = zlistx_new ();
        zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
        zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (s_seq_of (entry->d_name) > 0)
                zlistx_add_end (names, strdup (entry->d_name));
        closedir (dir);
        zlistx_sort (names);
        for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names)) {
            char path [S_PATH_MAX + 64], reason_path [S_PATH_MAX + 64];
            snprintf (path, sizeof path, "%s/%s", folder, name);
            snprintf (reason_path, sizeof reason_path, "%s", path);
            strcpy (strrchr (reason_path, '.'), ".txt");
            char *reason = s_read_text (reason_path, NULL);
            if (reason)
                reason [strcspn (reason, "\n")] = 0;
            char tail [S_PATH_MAX];
            snprintf (tail, sizeof tail, "\n      %s", reason ? reason : "(no reason recorded)");
            s_print_report (out, path, s_seq_of (name), tail);
            free (reason);
        }
        zlistx_destroy (&names);
    }
    return count;
}
