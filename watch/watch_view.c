/*  watch_view.c — where the totals go: a live table, plain lines, or JSON.

    See watch_view.h. On a terminal the view hides the cursor, clears the
    screen once, and from then on only overwrites: each frame starts at the
    cursor's home position, ends every line with clear-to-end-of-line and
    goes out in a single write(), so nothing flickers.
*/
#include "watch_view.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>
#include "watch_json.h"
#include "watch_table.h"

struct _watch_view_t {
    watch_view_mode_t mode;             //  table, lines or json
    int fd;                             //  where to write (borrowed)
    bool terminal;                      //  fd is a terminal: fit its width
    bool in_place;                      //  redraw in place (a live terminal)
    bool started;                       //  the terminal was taken over
    bool failed;                        //  a write failed
    int64_t year;                       //  year shown; 0 = newest
    watch_table_t *table;               //  table mode: what was drawn
    char *last_frame;                   //  the last frame written
};

//  Write all of text, retrying short writes. Returns 0 or -1.
static int
s_write_all (watch_view_t *self, const char *text, size_t size)
{
    while (size > 0 && !self->failed) {
        ssize_t done = write (self->fd, text, size);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0) {
            self->failed = true;
            return -1;
        }
        text += done;
        size -= (size_t) done;
    }
    return self->failed ? -1 : 0;
}

static int64_t
s_wall_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

//  The terminal's width, or 0 when unknown.
static int
s_columns (int fd)
{
    struct winsize size;
    if (ioctl (fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return 0;
}

watch_view_t *
watch_view_new (watch_view_mode_t mode, int fd, int64_t year, bool once)
{
    watch_view_t *self = calloc (1, sizeof *self);
    assert (self);
    self->mode = mode;
    self->fd = fd;
    self->year = year;
    self->terminal = isatty (fd);
    self->in_place = self->terminal && !once;
    if (mode == WATCH_VIEW_TABLE)
        self->table = watch_table_new ();
    return self;
}

void
watch_view_destroy (watch_view_t **self_p)
{
    assert (self_p);
    watch_view_t *self = *self_p;
    if (!self)
        return;
    if (self->started)
        s_write_all (self, "\033[0m\033[?25h", 10);      //  attributes off, cursor back
    watch_table_destroy (&self->table);
    free (self->last_frame);
    free (self);
    *self_p = NULL;
}

void
watch_view_store (void *arg, const proto_msg_t *totals)
{
    watch_view_t *self = arg;
    assert (self && totals);
    if (self->failed)
        return;
    if (self->mode == WATCH_VIEW_JSON) {
        char *line = watch_json_line (totals);
        if (!line || s_write_all (self, line, strlen (line)))
            self->failed = true;
        free (line);
    }
    else
    if (self->mode == WATCH_VIEW_LINES) {
        char *line = watch_table_line (totals);
        s_write_all (self, line, strlen (line));
        free (line);
    }
}

void
watch_view_show (watch_view_t *self, watch_state_t *state, const char *status, const char *empty)
{
    assert (self && state);
    if (self->mode != WATCH_VIEW_TABLE || self->failed)
        return;
    watch_table_opts_t opts = {
        .width = self->terminal ? s_columns (self->fd) : 0,
        .ansi = self->in_place,
        .now_ms = s_wall_ms (),
        .year = self->year,
        .status = status,
        .empty = empty
    };
    char *frame = watch_table_frame (self->table, state, &opts);
    if (self->last_frame && strcmp (frame, self->last_frame) == 0) {
        free (frame);
        return;
    }
    if (self->in_place && !self->started) {
        s_write_all (self, "\033[?25l\033[2J", 10);     //  hide the cursor, clear once
        self->started = true;
    }
    s_write_all (self, frame, strlen (frame));
    free (self->last_frame);
    self->last_frame = frame;
}

bool
watch_view_failed (watch_view_t *self)
{
    assert (self);
    return self->failed;
}
