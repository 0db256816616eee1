/*  watch_view.h — where the totals go: a live table, plain lines, or JSON.

    A watch_view_t is the store's listener (watch_view_store is a
    watch_state_fn) and the feed's redraw hook. Three modes:
    - table: the whole table redrawn in place on a terminal (one write per
      frame, only when the frame changed), or printed once for --once;
    - lines: one plain line per totals stored, for logs and pipes;
    - json: one JSON object per totals stored (watch_json.h).
*/
#ifndef WATCH_VIEW_H_INCLUDED
#define WATCH_VIEW_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "watch_state.h"

typedef struct _watch_view_t watch_view_t;

typedef enum {
    WATCH_VIEW_TABLE,                   //  the table (in place when fd is a terminal)
    WATCH_VIEW_LINES,                   //  one plain line per update
    WATCH_VIEW_JSON                     //  one JSON object per update
} watch_view_mode_t;

//  Create a view writing to fd (borrowed). year: the year the table shows,
//  0 = the newest held. once: the table is printed once (--once), so even
//  on a terminal it is written as plain text, only fitted to the width.
watch_view_t *
    watch_view_new (watch_view_mode_t mode, int fd, int64_t year, bool once);

//  Restore the terminal if the view took it over, free the view, null the pointer.
void
    watch_view_destroy (watch_view_t **self_p);

//  The store's listener: lines and JSON are written here, at once.
void
    watch_view_store (void *self, const proto_msg_t *totals);

//  Table mode: draw the store with a status line (NULL for none) if the
//  frame differs from the last one written; when no row matches, empty says
//  why in the title (NULL: "no totals yet"). Other modes: nothing.
void
    watch_view_show (watch_view_t *self, watch_state_t *state, const char *status,
                     const char *empty);

//  True once a write failed (the reader went away): time to stop.
bool
    watch_view_failed (watch_view_t *self);

#endif
