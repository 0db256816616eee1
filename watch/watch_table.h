/*  watch_table.h — the city leaders' table: totals as aligned CJK text.

    A watch_table_t turns the store's totals for one year into a frame of
    text: a title, a heading row, each city followed by its counties ranked
    by 开复工率, and a status line. Columns are measured in display cells
    (wcwidth, so 通化市 takes six), numbers are right-aligned under right-
    aligned headings, and when the screen is narrow whole columns are dropped,
    least important first. The table remembers what it drew: a cell whose text
    changed is shown in reverse video for two seconds, and each county shows
    how far it moved in the ranking since the watch started.

    It also formats the one-line form used when stdout is not a terminal.

    开复工率 is projects_active / projects_planned. The seed and most county
    reports carry only projects_started, so when projects_active is absent the
    rate falls back to projects_started / projects_planned and is marked `*`
    (explained under the table); with no planned figure it shows `—`.
    Counties are ranked by the rate shown (rounded to 0.1 %), ties and
    missing rates by region code, missing rates last.

    Needs an LC_CTYPE with UTF-8 (see watch_table_locale) for CJK widths.
*/
#ifndef WATCH_TABLE_H_INCLUDED
#define WATCH_TABLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto_msg.h"
#include "watch_state.h"

typedef struct _watch_table_t watch_table_t;

//  How to draw one frame.
typedef struct {
    int width;                  //  screen columns; 0 = no limit
    bool ansi;                  //  terminal: cursor home, highlight, clear to end of line
    int64_t now_ms;             //  wall-clock ms since the epoch (highlight expiry)
    int64_t year;               //  year to show; 0 = the newest year held
    const char *status;         //  status line (borrowed), or NULL
    const char *empty;          //  with no row to show: why (borrowed), shown
                                //  instead of "no totals yet"; NULL: no totals yet
} watch_table_opts_t;

//  How long a changed cell stays highlighted.
#define WATCH_TABLE_HIGHLIGHT_MS 2000

//  Create a table with no history (no ranks seen, nothing drawn).
watch_table_t *
    watch_table_new (void);

//  Destroy the table and null the caller's pointer; harmless on NULL.
void
    watch_table_destroy (watch_table_t **self_p);

//  Draw the store as one frame and remember it (ranks, cell texts). Returns
//  a malloc'd string, the caller's to free. With ansi the frame starts with
//  cursor-home, each line ends with clear-to-end-of-line and the frame with
//  clear-below, so writing it in one write() redraws in place without flicker.
char *
    watch_table_frame (watch_table_t *self, watch_state_t *state,
                       const watch_table_opts_t *opts);

//  One totals message as one plain line (no escape codes, ends with "\n");
//  malloc'd, the caller's to free.
char *
    watch_table_line (const proto_msg_t *totals);

//  Why a filtered snapshot came back empty, from an unfiltered one (all:
//  every region's totals of the newest year): a region prefix no region
//  with totals starts with, or a year other than the newest. Fills buffer with one sentence and
//  returns 0, or returns -1 when all is empty (the collector has no totals
//  yet) or neither explains it.
int
    watch_table_no_match (watch_state_t *all, const char *prefix, int64_t year,
                          char *buffer, size_t size);

//  Make LC_CTYPE a UTF-8 locale: the user's if it is one, else C.UTF-8.
//  Returns 0, or -1 if no UTF-8 locale is available (CJK widths will be off).
int
    watch_table_locale (void);

//  Display width of UTF-8 text in terminal cells, skipping ANSI escape sequences.
int
    watch_table_width (const char *text);

//  万元 as 亿元 with two decimals, rounded half away from zero: 1090500 → "109.05".
void
    watch_table_format_yi (int64_t wan, char *buffer, size_t size);

//  part / whole as a percentage with one decimal ("45.5%"); "—" when whole <= 0.
void
    watch_table_format_rate (int64_t part, int64_t whole, char *buffer, size_t size);

#endif
