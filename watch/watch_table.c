/*  watch_table.c — the city leaders' table: totals as aligned CJK text.

    See watch_table.h. A frame is built in four steps: pick the rows (each
    city, then its counties in rank order), format every cell, compare the
    cells with what was drawn last to find the changed ones, then measure
    the columns in display cells and drop the least important ones until the
    table fits the screen.
*/
#define _XOPEN_SOURCE 700               //  wcwidth
#include "watch_table.h"

#include <assert.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define S_CELL      128                 //  bytes of one cell's text
#define S_GAP       2                   //  spaces between columns
#define S_MISSING   "—"                 //  a figure nobody reported

//  The columns, in display order.
typedef enum {
    S_RANK, S_NAME, S_RATE, S_PLANNED, S_STARTED, S_INVEST, S_ANNUAL,
    S_DEALS, S_REPORTED, S_COLUMNS
} s_column_id_t;

typedef struct {
    const char *heading;                //  Chinese heading
    bool left;                          //  left-aligned (text) or right (numbers)
    int keep;                           //  narrow screens drop the lowest first
} s_column_t;

static const s_column_t s_columns [S_COLUMNS] = {
    [S_RANK]     = { "排名",               true,   7 },
    [S_NAME]     = { "地区",               true,  99 },
    [S_RATE]     = { "开复工率",           false,  9 },
    [S_PLANNED]  = { "计划项目",           false,  5 },
    [S_STARTED]  = { "开工项目",           false,  4 },
    [S_INVEST]   = { "计划总投资(亿元)",   false,  2 },
    [S_ANNUAL]   = { "年度计划投资(亿元)", false,  1 },
    [S_DEALS]    = { "签约/落地",          false,  3 },
    [S_REPORTED] = { "已报/应报",          false,  6 },
};

//  What the table remembers about one region between frames.
typedef struct {
    char region [PROTO_MAX_NAME + 1];   //  region code
    int baseline;                       //  rank when first ranked; 0 = never ranked
    bool drawn;                         //  drawn in an earlier frame
    char cells [S_COLUMNS][S_CELL];     //  the texts drawn last
    int64_t changed_at [S_COLUMNS];     //  when each cell last changed (ms); 0 = never
} s_history_t;

struct _watch_table_t {
    s_history_t *history;               //  one per region ever drawn
    size_t size;                        //  entries used
    size_t cap;                         //  entries allocated
};

//  One row of a frame.
typedef struct {
    const proto_msg_t *totals;          //  borrowed from the store
    int rank;                           //  rank among its group; 0 = not ranked
    int64_t rate;                       //  开复工率 in 0.1 %; -1 = none
    bool marked;                        //  rate from projects_started
    char cells [S_COLUMNS][S_CELL];     //  formatted texts
    bool highlight [S_COLUMNS];         //  changed recently
} s_row_t;

//  A growing string.
typedef struct {
    char *data;
    size_t size;
    size_t cap;
} s_buf_t;

static void
s_buf_add (s_buf_t *buf, const char *text, size_t len)
{
    if (buf->size + len + 1 > buf->cap) {
        while (buf->size + len + 1 > buf->cap)
            buf->cap = buf->cap ? buf->cap * 2 : 1024;
        buf->data = realloc (buf->data, buf->cap);
        assert (buf->data);
    }
    memcpy (buf->data + buf->size, text, len);
    buf->size += len;
    buf->data [buf->size] = 0;
}

static void
s_buf_puts (s_buf_t *buf, const char *text)
{
    s_buf_add (buf, text, strlen (text));
}

static void
s_buf_printf (s_buf_t *buf, const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    int len = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (len > 0)
        s_buf_add (buf, text, (size_t) len < sizeof text ? (size_t) len : sizeof text - 1);
}

static void
s_buf_reset (s_buf_t *buf)
{
    buf->size = 0;
    if (buf->data)
        buf->data [0] = 0;
}

static void
s_buf_pad (s_buf_t *buf, int cells)
{
    for (int i = 0; i < cells; i++)
        s_buf_add (buf, " ", 1);
}

//  Length in bytes of the ANSI escape sequence at text (0 if none).
static size_t
s_escape_len (const char *text)
{
    if (text [0] != '\033')
        return 0;
    if (text [1] != '[')
        return text [1] ? 2 : 1;
    size_t len = 2;
    while (text [len] && !(text [len] >= 0x40 && text [len] <= 0x7e))
        len++;
    return text [len] ? len + 1 : len;
}

//  Decode one UTF-8 character; returns its length (1 for a bad byte, *cp = -1).
static size_t
s_utf8_next (const char *text, long *cp)
{
    const unsigned char *s = (const unsigned char *) text;
    size_t len = s [0] < 0x80 ? 1 : s [0] >= 0xf0 ? 4 : s [0] >= 0xe0 ? 3 : s [0] >= 0xc0 ? 2 : 0;
    if (len == 0) {
        *cp = -1;
        return 1;
    }
    long value = len == 1 ? s [0] : s [0] & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s [i] & 0xc0) != 0x80) {
            *cp = -1;
            return 1;
        }
        value = (value << 6) | (s [i] & 0x3f);
    }
    *cp = value;
    return len;
}

//  Cells taken by one code point (a bad byte counts as one).
static int
s_cp_width (long cp)
{
    if (cp < 0)
        return 1;
    int width = wcwidth ((wchar_t) cp);
    return width < 0 ? 0 : width;
}

int
watch_table_width (const char *text)
{
    assert (text);
    int width = 0;
    while (*text) {
        size_t esc = s_escape_len (text);
        if (esc) {
            text += esc;
            continue;
        }
        long cp;
        text += s_utf8_next (text, &cp);
        width += s_cp_width (cp);
    }
    return width;
}

//  Append line cut to at most width cells (0 = no limit); escape sequences
//  are kept, and with ansi attributes are reset where the cut falls.
static void
s_buf_add_cut (s_buf_t *buf, const char *line, int width, bool ansi)
{
    if (width <= 0 || watch_table_width (line) <= width) {
        s_buf_puts (buf, line);
        return;
    }
    int used = 0;
    while (*line) {
        size_t esc = s_escape_len (line);
        if (esc) {
            s_buf_add (buf, line, esc);
            line += esc;
            continue;
        }
        long cp;
        size_t len = s_utf8_next (line, &cp);
        int w = s_cp_width (cp);
        if (used + w > width)
            break;
        s_buf_add (buf, line, len);
        used += w;
        line += len;
    }
    if (ansi)
        s_buf_puts (buf, "\033[0m");
}

int
watch_table_locale (void)
{
    const char *chosen = setlocale (LC_CTYPE, "");
    if (chosen && strcmp (nl_langinfo (CODESET), "UTF-8") == 0)
        return 0;
    if (setlocale (LC_CTYPE, "C.UTF-8") || setlocale (LC_CTYPE, "C.utf8")
    ||  setlocale (LC_CTYPE, "en_US.UTF-8"))
        return 0;
    return -1;
}

void
watch_table_format_yi (int64_t wan, char *buffer, size_t size)
{
    //  亿元 = 万元 / 10000; two decimals are hundredths of 亿, i.e. wan / 100.
    bool negative = wan < 0;
    uint64_t magnitude = negative ? (uint64_t) 0 - (uint64_t) wan : (uint64_t) wan;
    uint64_t hundredths = magnitude / 100 + (magnitude % 100 >= 50);
    snprintf (buffer, size, "%s%llu.%02llu", negative ? "-" : "",
              (unsigned long long) (hundredths / 100), (unsigned long long) (hundredths % 100));
}

//  part / whole in 0.1 %, rounded; -1 when whole <= 0 or part < 0.
static int64_t
s_permille (int64_t part, int64_t whole)
{
    if (whole <= 0 || part < 0)
        return -1;
    return (int64_t) llroundl ((long double) part * 1000.0L / (long double) whole);
}

static void
s_format_permille (int64_t permille, char *buffer, size_t size)
{
    if (permille < 0)
        snprintf (buffer, size, "%s", S_MISSING);
    else
        snprintf (buffer, size, "%lld.%lld%%", (long long) (permille / 10), (long long) (permille % 10));
}

void
watch_table_format_rate (int64_t part, int64_t whole, char *buffer, size_t size)
{
    s_format_permille (s_permille (part, whole), buffer, size);
}

//  开复工率 of one region (see watch_table.h for the fallback).
static int64_t
s_rate (const proto_msg_t *totals, bool *marked)
{
    int64_t planned, part;
    *marked = false;
    if (!proto_msg_value (totals, false, "projects_planned", &planned))
        return -1;
    if (proto_msg_value (totals, false, "projects_active", &part))
        return s_permille (part, planned);
    if (proto_msg_value (totals, false, "projects_started", &part)) {
        *marked = true;
        return s_permille (part, planned);
    }
    return -1;
}

static void
s_format_count (const proto_msg_t *totals, const char *key, char *buffer, size_t size)
{
    int64_t value;
    if (proto_msg_value (totals, false, key, &value))
        snprintf (buffer, size, "%lld", (long long) value);
    else
        snprintf (buffer, size, "%s", S_MISSING);
}

static void
s_format_amount (const proto_msg_t *totals, const char *key, char *buffer, size_t size)
{
    int64_t value;
    if (proto_msg_value (totals, false, key, &value))
        watch_table_format_yi (value, buffer, size);
    else
        snprintf (buffer, size, "%s", S_MISSING);
}

//  "done/target" with — for either when missing.
static void
s_format_against (const proto_msg_t *totals, const char *key, char *buffer, size_t size)
{
    char target_key [PROTO_MAX_NAME + 8], done [24], target [24];
    snprintf (target_key, sizeof target_key, "%s_target", key);
    s_format_count (totals, key, done, sizeof done);
    s_format_count (totals, target_key, target, sizeof target);
    snprintf (buffer, size, "%s/%s", done, target);
}

//  Local wall-clock time of ms since the epoch as HH:MM:SS.
static void
s_format_clock (int64_t ms, char *buffer, size_t size)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r (&secs, &tm))
        snprintf (buffer, size, "--:--:--");
    else
        strftime (buffer, size, "%H:%M:%S", &tm);
}

//  Copy as many whole UTF-8 characters of text as fit in size bytes.
static void
s_copy_utf8 (char *buffer, size_t size, const char *text)
{
    size_t used = 0;
    while (*text) {
        long cp;
        size_t len = s_utf8_next (text, &cp);
        if (used + len + 1 > size)
            break;
        memcpy (buffer + used, text, len);
        used += len;
        text += len;
    }
    buffer [used] = 0;
}

//  Format every cell but the rank.
static void
s_row_format (s_row_t *row)
{
    const proto_msg_t *t = row->totals;
    row->rate = s_rate (t, &row->marked);
    s_copy_utf8 (row->cells [S_NAME], S_CELL, t->name ? t->name : t->region);
    char rate [24];
    s_format_permille (row->rate, rate, sizeof rate);
    //  Marked and unmarked rates end in the same column.
    snprintf (row->cells [S_RATE], S_CELL, "%s%s", rate, row->marked ? "*" : " ");
    s_format_count (t, "projects_planned", row->cells [S_PLANNED], S_CELL);
    s_format_count (t, "projects_started", row->cells [S_STARTED], S_CELL);
    s_format_amount (t, "projects_planned_investment", row->cells [S_INVEST], S_CELL);
    s_format_amount (t, "projects_planned_annual", row->cells [S_ANNUAL], S_CELL);
    char signed_ [24 * 2 + 2], landed [24 * 2 + 2];
    s_format_against (t, "attraction_signed", signed_, sizeof signed_);
    s_format_against (t, "attraction_landed", landed, sizeof landed);
    snprintf (row->cells [S_DEALS], S_CELL, "%s %s", signed_, landed);
    snprintf (row->cells [S_REPORTED], S_CELL, "%lld/%lld",
              (long long) t->reported, (long long) t->expected);
}

//  Ranking order: higher rate first, missing rates last, then by code.
static int
s_rank_compare (const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    return strcmp (x->totals->region, y->totals->region);
}

static s_history_t *
s_history (watch_table_t *self, const char *region)
{
    for (size_t i = 0; i < self->size; i++)
        if (strcmp (self->history [i].region, region) == 0)
            return &self->history [i];
    if (self->size == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->history = realloc (self->history, self->cap * sizeof *self->history);
        assert (self->history);
    }
    s_history_t *history = &self->history [self->size++];
    memset (history, 0, sizeof *history);
    snprintf (history->region, sizeof history->region, "%s", region);
    return history;
}

//  Rank a group of county rows in place and fill their rank cells.
static void
s_rank_group (watch_table_t *self, s_row_t *rows, size_t count)
{
    qsort (rows, count, sizeof *rows, s_rank_compare);
    for (size_t i = 0; i < count; i++) {
        rows [i].rank = (int) i + 1;
        s_history_t *history = s_history (self, rows [i].totals->region);
        if (history->baseline == 0)
            history->baseline = rows [i].rank;
        int moved = history->baseline - rows [i].rank;
        if (moved > 0)
            snprintf (rows [i].cells [S_RANK], S_CELL, "%2d ↑%d", rows [i].rank, moved);
        else
        if (moved < 0)
            snprintf (rows [i].cells [S_RANK], S_CELL, "%2d ↓%d", rows [i].rank, -moved);
        else
            snprintf (rows [i].cells [S_RANK], S_CELL, "%2d –", rows [i].rank);
    }
}

static bool
s_is_county (const proto_msg_t *totals)
{
    return strcmp (totals->level, "county") == 0;
}

//  The rows of one year in display order: each region above county level in
//  code order, a city followed by its counties (same first four digits)
//  ranked; counties with no city shown form a last ranked group.
static s_row_t *
s_pick_rows (watch_table_t *self, watch_state_t *state, int64_t year, size_t *count)
{
    size_t total = watch_state_size (state);
    s_row_t *rows = calloc (total ? total : 1, sizeof *rows);
    bool *placed = calloc (total ? total : 1, sizeof *placed);
    assert (rows && placed);
    size_t used = 0;
    for (size_t i = 0; i < total; i++) {
        const proto_msg_t *parent = watch_state_at (state, i);
        if (parent->year != year || s_is_county (parent))
            continue;
        rows [used].totals = parent;
        s_row_format (&rows [used++]);
        placed [i] = true;
        if (strcmp (parent->level, "city") != 0)
            continue;
        size_t first = used;
        for (size_t j = 0; j < total; j++) {
            const proto_msg_t *county = watch_state_at (state, j);
            if (county->year == year && s_is_county (county) && !placed [j]
            &&  strncmp (county->region, parent->region, 4) == 0) {
                rows [used].totals = county;
                s_row_format (&rows [used++]);
                placed [j] = true;
            }
        }
        s_rank_group (self, rows + first, used - first);
    }
    size_t first = used;
    for (size_t j = 0; j < total; j++) {
        const proto_msg_t *county = watch_state_at (state, j);
        if (!placed [j] && county->year == year && s_is_county (county)) {
            rows [used].totals = county;
            s_row_format (&rows [used++]);
        }
    }
    s_rank_group (self, rows + first, used - first);
    free (placed);
    *count = used;
    return rows;
}

//  Compare each cell with what was drawn last; mark the recent changes.
static void
s_mark_changes (watch_table_t *self, s_row_t *rows, size_t count, int64_t now_ms)
{
    for (size_t i = 0; i < count; i++) {
        s_history_t *history = s_history (self, rows [i].totals->region);
        for (int c = 0; c < S_COLUMNS; c++) {
            if (history->drawn && strcmp (history->cells [c], rows [i].cells [c]) != 0)
                history->changed_at [c] = now_ms;
            memcpy (history->cells [c], rows [i].cells [c], S_CELL);
            rows [i].highlight [c] = history->changed_at [c] > 0
                && now_ms - history->changed_at [c] < WATCH_TABLE_HIGHLIGHT_MS;
        }
        history->drawn = true;
    }
}

//  Choose the columns that fit width; fills show[] and returns the table width.
static int
s_fit_columns (const int *widths, int width, bool *show)
{
    int total = 0;
    for (int c = 0; c < S_COLUMNS; c++) {
        show [c] = true;
        total += widths [c] + (c ? S_GAP : 0);
    }
    while (width > 0 && total > width) {
        int drop = -1;
        for (int c = 0; c < S_COLUMNS; c++)
            if (show [c] && s_columns [c].keep < 99
            &&  (drop < 0 || s_columns [c].keep < s_columns [drop].keep))
                drop = c;
        if (drop < 0)
            break;              //  only the name is left: lines will be cut
        show [drop] = false;
        total -= widths [drop] + S_GAP;
    }
    return total;
}

//  Append one cell padded to width, highlighted if asked.
static void
s_add_cell (s_buf_t *line, const char *text, int width, bool left, bool highlight)
{
    int pad = width - watch_table_width (text);
    if (!left)
        s_buf_pad (line, pad);
    if (highlight)
        s_buf_puts (line, "\033[7m");
    s_buf_puts (line, text);
    if (highlight)
        s_buf_puts (line, "\033[27m");
    if (left)
        s_buf_pad (line, pad);
}

//  Append a finished line to the frame.
static void
s_frame_line (s_buf_t *frame, const char *line, const watch_table_opts_t *opts)
{
    s_buf_add_cut (frame, line, opts->width, opts->ansi);
    s_buf_puts (frame, opts->ansi ? "\033[K\n" : "\n");
}

//  The title: the first city's name, the year, the newest as_of, the last
//  update. Where it does not fit width (0: no limit) parts are shortened or
//  dropped whole, never cut: first the label 最后更新, then the as_of date's
//  year (the title has it), then the time, then 截至, then 重点项目建设. With
//  no rows: empty says why (NULL: the collector has no totals yet).
static void
s_title (s_buf_t *line, s_row_t *rows, size_t count, int64_t year, int width, const char *empty)
{
    if (count == 0) {
        if (empty)
            s_buf_printf (line, "tally-watch  无匹配数据  %s", empty);
        else
            s_buf_puts (line, "tally-watch  尚无数据 (no totals yet)");
        return;
    }
    const char *place = rows [0].cells [S_NAME];
    for (size_t i = 0; i < count; i++)
        if (strcmp (rows [i].totals->level, "city") == 0) {
            place = rows [i].cells [S_NAME];
            break;
        }
    const char *as_of = "";
    int64_t updated = 0;
    for (size_t i = 0; i < count; i++) {
        if (strcmp (rows [i].totals->as_of, as_of) > 0)
            as_of = rows [i].totals->as_of;
        if (rows [i].totals->updated_at > updated)
            updated = rows [i].totals->updated_at;
    }
    char clock [16], year_dash [24];
    s_format_clock (updated, clock, sizeof clock);
    snprintf (year_dash, sizeof year_dash, "%lld-", (long long) year);
    const char *day = strncmp (as_of, year_dash, strlen (year_dash)) == 0
                    ? as_of + strlen (year_dash) : as_of;
    char forms [6][S_CELL * 2 + 128];
    const char *heading = "年重点项目建设";
    snprintf (forms [0], sizeof forms [0], "%s %lld%s  截至 %s  最后更新 %s",
              place, (long long) year, heading, as_of, clock);
    snprintf (forms [1], sizeof forms [1], "%s %lld%s  截至 %s  %s",
              place, (long long) year, heading, as_of, clock);
    snprintf (forms [2], sizeof forms [2], "%s %lld%s  截至 %s  %s",
              place, (long long) year, heading, day, clock);
    snprintf (forms [3], sizeof forms [3], "%s %lld%s  截至 %s", place, (long long) year, heading, day);
    snprintf (forms [4], sizeof forms [4], "%s %lld%s", place, (long long) year, heading);
    snprintf (forms [5], sizeof forms [5], "%s %lld年", place, (long long) year);
    size_t pick = 0;
    while (width > 0 && pick < 5 && watch_table_width (forms [pick]) > width)
        pick++;
    s_buf_puts (line, forms [pick]);
}

watch_table_t *
watch_table_new (void)
{
    watch_table_t *self = calloc (1, sizeof *self);
    assert (self);
    return self;
}

void
watch_table_destroy (watch_table_t **self_p)
{
    assert (self_p);
    watch_table_t *self = *self_p;
    if (!self)
        return;
    free (self->history);
    free (self);
    *self_p = NULL;
}

char *
watch_table_frame (watch_table_t *self, watch_state_t *state, const watch_table_opts_t *opts)
{
    assert (self && state && opts);
    int64_t year = opts->year ? opts->year : watch_state_newest_year (state);
    size_t count;
    s_row_t *rows = s_pick_rows (self, state, year, &count);
    s_mark_changes (self, rows, count, opts->now_ms);

    int widths [S_COLUMNS];
    for (int c = 0; c < S_COLUMNS; c++) {
        widths [c] = watch_table_width (s_columns [c].heading);
        for (size_t i = 0; i < count; i++) {
            int width = watch_table_width (rows [i].cells [c]);
            if (width > widths [c])
                widths [c] = width;
        }
    }
    bool show [S_COLUMNS];
    s_fit_columns (widths, opts->width, show);

    s_buf_t frame = { NULL, 0, 0 };
    s_buf_t line = { NULL, 0, 0 };
    s_buf_puts (&frame, opts->ansi ? "\033[H" : "");
    s_title (&line, rows, count, year, opts->width, opts->empty);
    s_frame_line (&frame, line.data, opts);

    //  Headings over nothing only while nothing has arrived yet.
    bool first = true;
    if (count || !opts->empty) {
        s_buf_reset (&line);
        for (int c = 0; c < S_COLUMNS; c++) {
            if (!show [c])
                continue;
            s_buf_pad (&line, first ? 0 : S_GAP);
            s_add_cell (&line, s_columns [c].heading, widths [c], s_columns [c].left, false);
            first = false;
        }
        s_frame_line (&frame, line.data, opts);
    }

    bool any_marked = false;
    for (size_t i = 0; i < count; i++) {
        s_buf_reset (&line);
        first = true;
        for (int c = 0; c < S_COLUMNS; c++) {
            if (!show [c])
                continue;
            s_buf_pad (&line, first ? 0 : S_GAP);
            s_add_cell (&line, rows [i].cells [c], widths [c], s_columns [c].left,
                        opts->ansi && rows [i].highlight [c]);
            first = false;
        }
        any_marked |= rows [i].marked && show [S_RATE];
        s_frame_line (&frame, line.data, opts);
    }
    if (any_marked)
        s_frame_line (&frame, "* 未报开复工项目数，按 开工项目/计划项目 计算", opts);
    if (opts->status)
        s_frame_line (&frame, opts->status, opts);
    if (opts->ansi)
        s_buf_puts (&frame, "\033[J");
    free (line.data);
    free (rows);
    return frame.data;
}

char *
watch_table_line (const proto_msg_t *totals)
{
    assert (totals);
    s_row_t row = { .totals = totals };
    s_row_format (&row);
    char clock [16], signed_ [64], landed [64];
    s_format_clock (totals->updated_at, clock, sizeof clock);
    s_format_against (totals, "attraction_signed", signed_, sizeof signed_);
    s_format_against (totals, "attraction_landed", landed, sizeof landed);
    //  The rate cell keeps a trailing space for alignment; not wanted here.
    char *rate = row.cells [S_RATE];
    size_t len = strlen (rate);
    if (len && rate [len - 1] == ' ')
        rate [len - 1] = 0;
    s_buf_t line = { NULL, 0, 0 };
    s_buf_printf (&line, "%s seq=%lld %s %s %lld as_of=%s 开复工率=%s 计划项目=%s 开工项目=%s",
                  clock, (long long) totals->seq, totals->region, row.cells [S_NAME],
                  (long long) totals->year, totals->as_of, rate,
                  row.cells [S_PLANNED], row.cells [S_STARTED]);
    s_buf_printf (&line, " 计划总投资=%s亿元 年度计划投资=%s亿元 签约=%s 落地=%s 已报/应报=%s\n",
                  row.cells [S_INVEST], row.cells [S_ANNUAL], signed_, landed,
                  row.cells [S_REPORTED]);
    return line.data;
}

int
watch_table_no_match (watch_state_t *all, const char *prefix, int64_t year,
                      char *buffer, size_t size)
{
    assert (all && prefix && buffer && size);
    buffer [0] = 0;
    size_t total = watch_state_size (all);
    if (total == 0)
        return -1;
    bool prefix_found = false;
    for (size_t i = 0; i < total && !prefix_found; i++)
        prefix_found = strncmp (watch_state_at (all, i)->region, prefix, strlen (prefix)) == 0;
    if (!prefix_found) {
        //  Name the regions above county level (or the first few), in code order.
        s_buf_t list = { NULL, 0, 0 };
        size_t shown = 0, wanted = 4;
        for (int pass = 0; pass < 2 && shown == 0; pass++)
            for (size_t i = 0; i < total && shown < wanted; i++) {
                const proto_msg_t *totals = watch_state_at (all, i);
                if (pass == 0 && s_is_county (totals))
                    continue;
                s_buf_printf (&list, "%s%s%s%s", shown ? ", " : "", totals->region,
                              totals->name ? " " : "", totals->name ? totals->name : "");
                shown++;
            }
        snprintf (buffer, size, "no totals for regions starting with %s in %lld, the newest year "
                  "with totals (regions with totals: %s%s); check --prefix", prefix,
                  (long long) watch_state_newest_year (all), list.data, shown < total ? ", …" : "");
        free (list.data);
        return 0;
    }
    int64_t newest = watch_state_newest_year (all);
    if (year && year != newest) {
        snprintf (buffer, size, "no totals for %lld%s%s (the newest year with totals is %lld); "
                  "check --year or leave it out", (long long) year,
                  *prefix ? " for regions starting with " : "", prefix, (long long) newest);
        return 0;
    }
    return -1;
}
