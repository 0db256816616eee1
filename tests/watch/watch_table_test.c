/*  watch_table_test.c — the table: number formats, CJK alignment, ranking,
    the title on narrow screens, and what an empty filtered view says.

    Frames are drawn over fixed inputs (the seed's figures, or a few counties
    made up for the ranking) with TZ=UTC and a UTF-8 LC_CTYPE.
*/
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "watch_fixture.h"
#include "watch_table.h"

#ifndef WATCH_SEED_CSV
#   define WATCH_SEED_CSV "tests/data/tonghua-2022-02-28.csv"
#endif

static void
s_setup (void)
{
    setenv ("TZ", "UTC", 1);
    ck_assert_int_eq (watch_table_locale (), 0);
}

//  Split a frame into lines (the caller frees the array and the copy).
static char **
s_lines (const char *frame, int *count, char **copy)
{
    *copy = strdup (frame);
    char **lines = calloc (strlen (frame) + 1, sizeof *lines);
    *count = 0;
    char *save, *line = strtok_r (*copy, "\n", &save);
    while (line) {
        lines [(*count)++] = line;
        line = strtok_r (NULL, "\n", &save);
    }
    return lines;
}

//  The display column where needle ends in line, or -1.
static int
s_end_column (const char *line, const char *needle)
{
    const char *at = strstr (line, needle);
    if (!at)
        return -1;
    char *head = strndup (line, (size_t) (at - line) + strlen (needle));
    int column = watch_table_width (head);
    free (head);
    return column;
}

//  The text of line from display column `column` on (borrowed), or NULL.
static const char *
s_at_column (const char *line, int column)
{
    for (const char *p = line; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        char *head = strndup (line, (size_t) (p - line));
        int width = watch_table_width (head);
        free (head);
        if (width == column)
            return p;
        if (width > column)
            return NULL;
    }
    return NULL;
}

START_TEST (test_format_yi)
{
    char text [32];
    struct { int64_t wan; const char *yi; } cases [] = {
        { 1090500, "109.05" }, { 10235000, "1023.50" }, { 49200, "4.92" }, { 4200, "0.42" },
        { 0, "0.00" }, { 49, "0.00" }, { 50, "0.01" }, { 155, "0.02" }, { -1090500, "-109.05" },
        { 100000000000LL, "10000000.00" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        watch_table_format_yi (cases [i].wan, text, sizeof text);
        ck_assert_str_eq (text, cases [i].yi);
    }
}
END_TEST

START_TEST (test_format_rate_and_width)
{
    char text [32];
    watch_table_format_rate (15, 33, text, sizeof text);
    ck_assert_str_eq (text, "45.5%");
    watch_table_format_rate (2, 3, text, sizeof text);
    ck_assert_str_eq (text, "66.7%");
    watch_table_format_rate (33, 33, text, sizeof text);
    ck_assert_str_eq (text, "100.0%");
    watch_table_format_rate (1, 0, text, sizeof text);
    ck_assert_str_eq (text, "—");
    ck_assert_int_eq (watch_table_width ("通化市"), 6);
    ck_assert_int_eq (watch_table_width ("计划总投资(亿元)"), 16);
    ck_assert_int_eq (watch_table_width ("abc"), 3);
    ck_assert_int_eq (watch_table_width ("\033[7m通化\033[27m"), 4);
    ck_assert_int_eq (watch_table_width ("—"), 1);
}
END_TEST

START_TEST (test_seed_frame_alignment)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    ck_assert_int_eq (fixture_seed (state, WATCH_SEED_CSV), 7);
    watch_table_t *table = watch_table_new ();
    watch_table_opts_t opts = { .now_ms = 1646035200000, .status = "实时  live" };
    char *frame = watch_table_frame (table, state, &opts);
    ck_assert_ptr_null (strchr (frame, '\033'));        //  no escapes off a terminal
    int count;
    char *copy;
    char **lines = s_lines (frame, &count, &copy);
    //  title, heading, city + 6 counties, footnote, status
    ck_assert_int_eq (count, 11);
    ck_assert_ptr_nonnull (strstr (lines [0], "通化市 2022年"));
    ck_assert_ptr_nonnull (strstr (lines [0], "截至 2022-03-01"));
    ck_assert_ptr_nonnull (strstr (lines [0], "最后更新 08:00:00"));
    //  The city first, then its counties.
    ck_assert_ptr_nonnull (strstr (lines [2], "通化市"));
    ck_assert_ptr_nonnull (strstr (lines [2], "185"));        //  33+28+33+33+25+33 planned
    ck_assert_ptr_nonnull (strstr (lines [2], "6/7"));        //  梅河口市 has not reported
    ck_assert_ptr_nonnull (strstr (lines [1], "计划总投资(亿元)"));

    //  Every table row is as wide as the heading, and every heading ends
    //  (or, for the text columns, starts) in the same column as its cells.
    int width = watch_table_width (lines [1]);
    const char *right [] = { "开复工率", "计划项目", "开工项目", "计划总投资(亿元)",
                             "年度计划投资(亿元)", "签约/落地", "已报/应报" };
    int name_at = s_end_column (lines [1], "地区") - 4;
    for (int i = 2; i < 9; i++) {
        ck_assert_int_eq (watch_table_width (lines [i]), width);
        const char *name = s_at_column (lines [i], name_at);
        ck_assert_ptr_nonnull (name);
        ck_assert_msg ((unsigned char) name [0] >= 0xe0, "row %d: name not under 地区: %s", i, lines [i]);
        for (size_t c = 0; c < sizeof right / sizeof right [0]; c++) {
            int end = s_end_column (lines [1], right [c]);
            const char *after = s_at_column (lines [i], end);
            //  A rate keeps one column for its `*` mark, so that the % signs line up.
            bool rate = c == 0;
            const char *last = s_at_column (lines [i], end - 1 - rate);
            ck_assert_msg (last && *last != ' ', "row %d: nothing ends under %s: %s", i, right [c], lines [i]);
            if (rate)
                ck_assert (*s_at_column (lines [i], end - 1) == '*' || *s_at_column (lines [i], end - 1) == ' ');
            ck_assert_msg (!after || *after == ' ', "row %d: a cell runs past %s: %s", i, right [c], lines [i]);
        }
    }
    //  Figures: 柳河县 planned 1090500 万元 = 109.05 亿元, annual 36.07;
    //  集安市 15 started of 33 planned = 45.5% (from 开工, marked).
    ck_assert_ptr_nonnull (strstr (frame, "109.05"));
    ck_assert_ptr_nonnull (strstr (frame, "36.07"));
    ck_assert_ptr_nonnull (strstr (frame, "45.5%*"));
    ck_assert_ptr_nonnull (strstr (frame, "6/8 3/5"));        //  东昌区 signed and landed vs target
    ck_assert_ptr_nonnull (strstr (lines [9], "* "));         //  the footnote explains the mark
    ck_assert_str_eq (lines [10], "实时  live");
    free (lines);
    free (copy);
    free (frame);
    watch_table_destroy (&table);
    watch_state_destroy (&state);
}
END_TEST

//  The order in which the counties appear in the frame, as a string of letters.
static void
s_order (const char *frame, char *order)
{
    const char *names [] = { "甲县", "乙县", "丙县", "丁县" };
    int at [4];
    for (int i = 0; i < 4; i++) {
        const char *p = strstr (frame, names [i]);
        at [i] = p ? (int) (p - frame) : 1 << 30;
    }
    for (int n = 0; n < 4; n++) {
        int best = -1;
        for (int i = 0; i < 4; i++)
            if (at [i] < (1 << 30) && (best < 0 || at [i] < at [best]))
                best = i;
        order [n] = best < 0 ? 0 : (char) ('A' + best);
        if (best >= 0)
            at [best] = 1 << 30;
    }
    order [4] = 0;
}

//  The line holding name.
static char *
s_line_of (const char *frame, const char *name)
{
    const char *at = strstr (frame, name);
    ck_assert_ptr_nonnull (at);
    const char *start = at, *end = strchr (at, '\n');
    while (start > frame && start [-1] != '\n')
        start--;
    return strndup (start, (size_t) (end - start));
}

static void
s_county (watch_state_t *state, const char *code, const char *name, int64_t seq,
          long long active, long long planned)
{
    proto_msg_t *msg = active >= 0
        ? fixture_totals (code, name, "county", seq, "projects_active", active,
                          "projects_planned", planned, NULL)
        : fixture_totals (code, name, "county", seq, "projects_planned", planned, NULL);
    ck_assert_int_ne (watch_state_feed (state, &msg), WATCH_REJECTED);
}

START_TEST (test_ranking_and_movement)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    watch_state_snapshot_begin (state);
    watch_state_snapshot_end (state, 0);
    proto_msg_t *city = fixture_totals ("990100", "某市", "city", 1, "projects_planned", 40LL, NULL);
    watch_state_feed (state, &city);
    s_county (state, "990101", "甲县", 2, 5, 10);      //  50.0%
    s_county (state, "990102", "乙县", 3, 4, 10);      //  40.0%
    s_county (state, "990103", "丙县", 4, 2, 5);       //  40.0%: tie, code after 乙县
    s_county (state, "990104", "丁县", 5, -1, 10);     //  no rate: last
    watch_table_t *table = watch_table_new ();
    watch_table_opts_t opts = { .now_ms = 1000 };
    char *frame = watch_table_frame (table, state, &opts);
    char order [5];
    s_order (frame, order);
    ck_assert_str_eq (order, "ABCD");
    char *line = s_line_of (frame, "甲县");
    ck_assert_ptr_nonnull (strstr (line, " 1 –"));
    ck_assert_ptr_nonnull (strstr (line, "50.0%"));
    free (line);
    line = s_line_of (frame, "丁县");
    ck_assert_ptr_nonnull (strstr (line, " 4 –"));
    ck_assert_ptr_nonnull (strstr (line, "—"));
    free (line);
    free (frame);

    //  丙县 starts everything: 100%, from third to first.
    s_county (state, "990103", "丙县", 6, 5, 5);
    opts.now_ms = 2000;
    frame = watch_table_frame (table, state, &opts);
    s_order (frame, order);
    ck_assert_str_eq (order, "CABD");
    line = s_line_of (frame, "丙县");
    ck_assert_ptr_nonnull (strstr (line, " 1 ↑2"));
    free (line);
    line = s_line_of (frame, "甲县");
    ck_assert_ptr_nonnull (strstr (line, " 2 ↓1"));
    free (line);
    line = s_line_of (frame, "乙县");
    ck_assert_ptr_nonnull (strstr (line, " 3 ↓1"));
    free (line);
    line = s_line_of (frame, "丁县");
    ck_assert_ptr_nonnull (strstr (line, " 4 –"));
    free (line);
    free (frame);
    watch_table_destroy (&table);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_terminal_frame_and_highlight)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    ck_assert_int_eq (fixture_seed (state, WATCH_SEED_CSV), 7);
    watch_table_t *table = watch_table_new ();
    watch_table_opts_t opts = { .ansi = true, .now_ms = 1646035200000 };
    char *frame = watch_table_frame (table, state, &opts);
    //  Home, overwrite, clear each line's tail, clear below; never a full clear.
    ck_assert (strncmp (frame, "\033[H", 3) == 0);
    ck_assert_ptr_nonnull (strstr (frame, "\033[K\n"));
    ck_assert (strcmp (frame + strlen (frame) - 3, "\033[J") == 0);
    ck_assert_ptr_null (strstr (frame, "\033[2J"));
    ck_assert_ptr_null (strstr (frame, "\033[7m"));      //  nothing changed yet
    free (frame);

    //  柳河县 reports more planned investment: that cell is highlighted...
    proto_msg_t *msg = fixture_totals ("220524", "柳河县", "county", 101, "projects_planned", 33LL,
                                       "projects_planned_investment", 1100000LL, NULL);
    watch_state_feed (state, &msg);
    opts.now_ms += 500;
    frame = watch_table_frame (table, state, &opts);
    ck_assert_ptr_nonnull (strstr (frame, "\033[7m110.00\033[27m"));
    free (frame);
    //  ...for two seconds.
    opts.now_ms += WATCH_TABLE_HIGHLIGHT_MS;
    frame = watch_table_frame (table, state, &opts);
    ck_assert_ptr_null (strstr (frame, "\033[7m"));
    free (frame);
    watch_table_destroy (&table);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_narrow_terminal)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    fixture_seed (state, WATCH_SEED_CSV);
    watch_table_t *table = watch_table_new ();
    int widths [] = { 60, 40, 24, 12 };
    for (size_t w = 0; w < sizeof widths / sizeof widths [0]; w++) {
        watch_table_opts_t opts = { .width = widths [w], .now_ms = 1646035200000 };
        char *frame = watch_table_frame (table, state, &opts);
        int count;
        char *copy;
        char **lines = s_lines (frame, &count, &copy);
        for (int i = 0; i < count; i++)
            ck_assert_msg (watch_table_width (lines [i]) <= widths [w],
                           "width %d: line too wide: %s", widths [w], lines [i]);
        if (widths [w] >= 24) {
            //  Whole columns go, least important first; the rows stay aligned.
            ck_assert_ptr_null (strstr (lines [1], "年度计划投资"));
            ck_assert_ptr_nonnull (strstr (lines [1], "地区"));
            ck_assert_ptr_nonnull (strstr (lines [1], "开复工率"));
            for (int i = 2; i < 9; i++)
                ck_assert_int_eq (watch_table_width (lines [i]), watch_table_width (lines [1]));
        }
        free (lines);
        free (copy);
        free (frame);
    }
    watch_table_destroy (&table);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_narrow_title)
{
    //  The title loses whole parts as the screen narrows, never half a time
    //  or half a date: the label 最后更新, the date's year, the time, 截至.
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    fixture_seed (state, WATCH_SEED_CSV);
    watch_table_t *table = watch_table_new ();
    struct { int width; const char *title; } cases [] = {
        { 0,  "通化市 2022年重点项目建设  截至 2022-03-01  最后更新 08:00:00" },
        { 61, "通化市 2022年重点项目建设  截至 2022-03-01  最后更新 08:00:00" },
        { 60, "通化市 2022年重点项目建设  截至 2022-03-01  08:00:00" },
        { 50, "通化市 2022年重点项目建设  截至 03-01  08:00:00" },
        { 40, "通化市 2022年重点项目建设  截至 03-01" },
        { 30, "通化市 2022年重点项目建设" },
        { 24, "通化市 2022年" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        watch_table_opts_t opts = { .width = cases [i].width, .now_ms = 1646035200000 };
        char *frame = watch_table_frame (table, state, &opts);
        int count;
        char *copy;
        char **lines = s_lines (frame, &count, &copy);
        ck_assert_msg (strcmp (lines [0], cases [i].title) == 0, "width %d: title '%s', wanted '%s'",
                       cases [i].width, lines [0], cases [i].title);
        free (lines);
        free (copy);
        free (frame);
    }
    watch_table_destroy (&table);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_no_match)
{
    //  What an empty filtered snapshot means, from an unfiltered one.
    watch_state_t *all = watch_state_new (false, NULL, NULL);
    char why [512];
    ck_assert_int_eq (watch_table_no_match (all, "9999", 0, why, sizeof why), -1);
    fixture_seed (all, WATCH_SEED_CSV);
    ck_assert_int_eq (watch_table_no_match (all, "9999", 0, why, sizeof why), 0);
    ck_assert_str_eq (why, "no totals for regions starting with 9999 in 2022, the newest year "
                           "with totals (regions with totals: 220500 通化市, …); check --prefix");
    ck_assert_int_eq (watch_table_no_match (all, "2205", 2019, why, sizeof why), 0);
    ck_assert_str_eq (why, "no totals for 2019 for regions starting with 2205 (the newest year "
                           "with totals is 2022); check --year or leave it out");
    ck_assert_int_eq (watch_table_no_match (all, "", 2019, why, sizeof why), 0);
    ck_assert_str_eq (why, "no totals for 2019 (the newest year with totals is 2022); "
                           "check --year or leave it out");
    ck_assert_int_eq (watch_table_no_match (all, "220582", 2022, why, sizeof why), -1);

    //  The table says it in the title, with no headings over nothing;
    //  with nothing to explain it is still "no totals yet", headings and all.
    watch_state_t *none = watch_state_new (true, NULL, NULL);
    watch_table_t *table = watch_table_new ();
    watch_table_opts_t opts = { .now_ms = 1646035200000, .status = "实时  live",
                                .empty = "no totals for 2019 (the newest year with totals is 2022)" };
    char *frame = watch_table_frame (table, none, &opts);
    ck_assert_str_eq (frame, "tally-watch  无匹配数据  no totals for 2019 "
                             "(the newest year with totals is 2022)\n实时  live\n");
    free (frame);
    opts.empty = NULL;
    frame = watch_table_frame (table, none, &opts);
    ck_assert_ptr_nonnull (strstr (frame, "tally-watch  尚无数据 (no totals yet)\n"));
    ck_assert_ptr_nonnull (strstr (frame, "地区"));
    free (frame);
    watch_table_destroy (&table);
    watch_state_destroy (&none);
    watch_state_destroy (&all);
}
END_TEST

START_TEST (test_plain_line)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    fixture_seed (state, WATCH_SEED_CSV);
    char *line = watch_table_line (watch_state_lookup (state, "220524", 2022));
    ck_assert_ptr_null (strchr (line, '\033'));
    ck_assert_int_eq (line [strlen (line) - 1], '\n');
    ck_assert_ptr_null (strchr (line, '\n') + 1 == line + strlen (line) ? NULL : "two lines");
    ck_assert_ptr_nonnull (strstr (line, "220524 柳河县 2022"));
    ck_assert_ptr_nonnull (strstr (line, "计划总投资=109.05亿元"));
    ck_assert_ptr_nonnull (strstr (line, "签约=4/— 落地=3/—"));
    free (line);
    watch_state_destroy (&state);
}
END_TEST

Suite *
watch_table_suite (void)
{
    Suite *suite = suite_create ("watch_table");
    TCase *tc = tcase_create ("render");
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_add_test (tc, test_format_yi);
    tcase_add_test (tc, test_format_rate_and_width);
    tcase_add_test (tc, test_seed_frame_alignment);
    tcase_add_test (tc, test_ranking_and_movement);
    tcase_add_test (tc, test_terminal_frame_and_highlight);
    tcase_add_test (tc, test_narrow_terminal);
    tcase_add_test (tc, test_narrow_title);
    tcase_add_test (tc, test_no_match);
    tcase_add_test (tc, test_plain_line);
    suite_add_tcase (suite, tc);
    return suite;
}
