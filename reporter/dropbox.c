/*  dropbox.c — a folder watched by `tally-reporter run --watch DIR`.

    See dropbox.h. A file is queued first and moved to done/ after: a crash in
    between leaves it in place, and the next scan finds its input already
    queued (by digest) and just moves it.
*/
#include "dropbox.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
dropbox_prepare (const char *dir, char *err, size_t err_size)
{
    struct stat info;
    if (stat (dir, &info) == -1 || !S_ISDIR (info.st_mode)) {
        snprintf (err, err_size, "--watch %s: not a folder", dir);
        return -1;
    }
    const char *subfolders [] = { "done", "failed" };
    for (int i = 0; i < 2; i++) {
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, subfolders [i]);
        if (mkdir (path, 0755) == -1 && errno != EEXIST) {
            snprintf (err, err_size, "cannot create %s: %s", path, strerror (errno));
            return -1;
        }
    }
    return 0;
}

static bool
s_wanted (const char *name)
{
    size_t length = strlen (name);
    if (name [0] == '.')
        return false;
    return (length > 4 && strcasecmp (name + length - 4, ".csv") == 0)
        || (length > 5 && strcasecmp (name + length - 5, ".json") == 0);
}

//  Move dir/name to dir/folder/name, not overwriting an earlier file of the
//  same name (a time stamp is added then). Returns the new path (caller frees).
static char *
s_move (const char *dir, const char *name, const char *folder)
{
    char *from = zsys_sprintf ("%s/%s", dir, name);
    char *to = zsys_sprintf ("%s/%s/%s", dir, folder, name);
    if (access (to, F_OK) == 0) {
        zstr_free (&to);
        to = zsys_sprintf ("%s/%s/%" PRId64 "-%s", dir, folder, zclock_time (), name);
    }
    if (rename (from, to) == -1)
        zsys_warning ("cannot move %s to %s: %s", from, to, strerror (errno));
    zstr_free (&from);
    return to;
}

static int
s_handle_file (const char *dir, const char *name, outbox_t *outbox,
               const input_options_t *options, FILE *log)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    input_t *input = input_new (path, options);
    int queued = 0;
    if (input_read_file (input, path) == 0 && input_finish (input) == 0) {
        outbox_receipt_t receipt;
        char err [512];
        size_t count = input_report_count (input);
        proto_msg_t **reports = (proto_msg_t **) malloc (count * sizeof (proto_msg_t *));
        for (size_t i = 0; i < count; i++)
            reports [i] = input_report_at (input, i);
        int rc = outbox_queue (outbox, reports, count, input_digest (input), false,
                               &receipt, err, sizeof err);
        free (reports);
        if (rc == -1)
            fprintf (log, "tally-reporter: %s: cannot queue: %s (left in place)\n", path, err);
        else {
            if (rc == OUTBOX_QUEUED)
                fprintf (log, "tally-reporter: %s: queued %zu report%s\n", path, receipt.count,
                         receipt.count == 1 ? "" : "s");
            else
                fprintf (log, "tally-reporter: %s: already queued before (%zu reports); not queued again\n",
                         path, receipt.count);
            char *moved = s_move (dir, name, "done");
            zstr_free (&moved);
            queued = 1;
        }
    }
    else {
        fprintf (log, "tally-reporter: %s: not queued, %zu error%s:\n", path,
                 input_error_count (input), input_error_count (input) == 1 ? "" : "s");
        input_print_errors (input, log);
        char *moved = s_move (dir, name, "failed");
        char *report_path = zsys_sprintf ("%s.error", moved);
        FILE *report = fopen (report_path, "w");
        if (report) {
            input_print_errors (input, report);
            fclose (report);
        }
        zstr_free (&report_path);
        zstr_free (&moved);
    }
    fflush (log);
    input_destroy (&input);
    zstr_free (&path);
    return queued;
}

int
dropbox_scan (const char *dir, outbox_t *outbox, const input_options_t *options, FILE *log)
{
    DIR *folder = opendir (dir);
    if (!folder)
        return 0;
    zlistx_t *names = zlistx_new ();
    zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (names, (zlistx_comparator_fn *) strcmp);
    time_t now = time (NULL);
    struct dirent *entry;
    while ((entry = readdir (folder))) {
        if (!s_wanted (entry->d_name))
            continue;
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat info;
        if (stat (path, &info) == -1 || !S_ISREG (info.st_mode) || now - info.st_mtime < 1)
            continue;
        zlistx_add_end (names, strdup (entry->d_name));
    }
    closedir (folder);
    zlistx_sort (names);
    int queued = 0;
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
        queued += s_handle_file (dir, name, outbox, options, log);
    zlistx_destroy (&names);
    return queued;
}
