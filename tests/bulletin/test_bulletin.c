/*  test_bulletin.c — tally-bulletin against the analytics suite's database.

    The bulletin prints what the views say: each test builds the lines it
    expects from the functions of 003_views.sql (or from the fixture's own
    model) and looks for them in the program's output. The HTML form is
    loaded in headless Chromium when it is installed: the DOM must hold the
    SVG chart with one bar per county that has a rate, and the screenshot
    must show the bars' colour.
*/
#include <czmq.h>
#include <zlib.h>

#include "analytics_fixture.h"
#include "analytics_suite.h"

#define S_CHROMIUM "/usr/bin/chromium"

//  Run tally-bulletin with the given arguments (NULL-terminated, --db is
//  added); returns its exit status, output in *output (caller frees).
static int
s_bulletin (char **output, const char *arg, ...)
{
    const char *argv [16] = { TALLY_BULLETIN_BIN };
    int argc = 1;
    va_list args;
    va_start (args, arg);
    for (; arg; arg = va_arg (args, const char *))
        argv [argc++] = arg;
    va_end (args);
    argv [argc++] = "--db";
    argv [argc++] = as_pg->conninfo;
    argv [argc] = NULL;
    return tt_run (argv, 30000, output);
}

static void
s_expect_line (const char *output, const char *line)
{
    ck_assert_msg (strstr (output, line) != NULL, "the bulletin lacks the line\n%s\n--- bulletin:\n%s", line, output);
}

static int
s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

START_TEST (test_bulletin_figures_equal_views)
{
    char *md = NULL;
    ck_assert_int_eq (s_bulletin (&md, "--month", "2024-02", NULL), 0);
    s_expect_line (md, "# 通化市 2024年2月 项目建设月通报");
    //  Totals: totals_as_of of the two month ends, change = end - start.
    PGresult *res = as_query ("SELECT '| ' || m.name_zh || ' | ' || m.key || ' | ' || m.unit || ' | ' "
                              "|| coalesce (s.value::text, '—') || ' | ' || e.value || ' | ' "
                              "|| CASE WHEN e.value - coalesce (s.value, 0) > 0 THEN '+' ELSE '' END "
                              "|| (e.value - coalesce (s.value, 0)) || ' |' "
                              "FROM totals_as_of ('2024-02-29') e JOIN metric m ON m.key = e.metric "
                              "LEFT JOIN totals_as_of ('2024-01-31') s ON s.region = e.region AND s.metric = e.metric "
                              "WHERE e.region = '220500'", 0, NULL);
    ck_assert_int_eq (PQntuples (res), 4);
    for (int i = 0; i < PQntuples (res); i++)
        s_expect_line (md, PQgetvalue (res, i, 0));
    PQclear (res);
    //  By hand: planned 125 both month ends; active 9+6+7+7+10+5 = 44 on 01-31, 79 on 02-29.
    s_expect_line (md, "| 计划实施重点项目 | projects_planned | 个 | 125 | 125 | 0 |");
    s_expect_line (md, "| 开复工项目 | projects_active | 个 | 44 | 79 | +35 |");
    //  Progress: progress_as_of at month end.
    res = as_query ("SELECT '- 开复工率 active rate: ' || active_rate_pct || '%', "
                    "'- 序时进度 completion against the elapsed share: ' || schedule_pct || '%' "
                    "FROM progress_as_of ('2024-02-29') WHERE region = '220500'", 0, NULL);
    s_expect_line (md, PQgetvalue (res, 0, 0));
    s_expect_line (md, PQgetvalue (res, 0, 1));
    PQclear (res);
    //  Ranking: ranking_on (month end, previous month end), and the model's order.
    res = as_query ("SELECT '| ' || rank || ' | ' || county_name || ' (' || county || ') | ' "
                    "|| coalesce (active_rate_pct || '%', '—') || ' | ' || coalesce (investment_pct || '%', '—') "
                    "|| ' | ' || coalesce (prev_rank::text, '—') || ' | ' "
                    "|| coalesce (CASE WHEN rank_change > 0 THEN '+' ELSE '' END || rank_change, '—') || ' |', county "
                    "FROM ranking_on ('2024-02-29', '2024-01-31') WHERE city = '220500' ORDER BY rank", 0, NULL);
    int order [AF_COUNTIES];
    ck_assert (af_ranking ("2024-02-29", order));
    ck_assert_int_eq (PQntuples (res), AF_COUNTIES);
    for (int i = 0; i < PQntuples (res); i++) {
        s_expect_line (md, PQgetvalue (res, i, 0));
        ck_assert_str_eq (PQgetvalue (res, i, 1), af_county [order [i]]);
    }
    PQclear (res);
    s_expect_line (md, "| 1 | 柳河县 (220524) | 80.00% | 54.00% | 2 | +1 |");
    s_expect_line (md, "| 6 | 东昌区 (220502) | 45.00% | 48.00% | 1 | -5 |");
    //  Reporting on the month's last day: 220503 stopped on 02-20; 220581 never reported.
    s_expect_line (md, "| 二道江区 (220503) | 逾期 (late) | 2024-02-20 | 9 |");
    s_expect_line (md, "| 梅河口市 (220581) | 未报 (missing) | — | — |");
    ck_assert_int_eq (s_count (md, "(late)") + s_count (md, "(missing)"), 2);
    //  Reconciliation: the city's own 130 planned and 100 active.
    s_expect_line (md, "| 计划实施重点项目 | projects_planned | 130 | 125 | 5 | 6/7 | 2024-02-29 |");
    s_expect_line (md, "| 开复工项目 | projects_active | 100 | 79 | 21 | 6/7 | 2024-02-29 |");
    free (md);

    //  January: figures are per year, so nothing to compare with.
    ck_assert_int_eq (s_bulletin (&md, "--month", "2024-01", "--region", "220500", NULL), 0);
    s_expect_line (md, "| 开复工项目 | projects_active | 个 | — | 44 | +44 |");
    s_expect_line (md, "| 计划实施重点项目 | projects_planned | 125 | 125 | 0 | 6/7 | 2024-01-01 |");
    s_expect_line (md, "| 开复工项目 | projects_active | 0 | 44 | -44 | 6/7 | 2024-01-01 |");
    free (md);
}
END_TEST

START_TEST (test_bulletin_seed)
{
    //  The seed's story month by month: 80 started on 02-28, 84 by 03-01,
    //  against the counties' 42.
    char *md = NULL;
    ck_assert_int_eq (s_bulletin (&md, "--month", "2022-02", NULL), 0);
    s_expect_line (md, "| 开工项目 | projects_started | 80 | 42 | 38 | 3/7 | 2022-02-28 |");
    s_expect_line (md, "| 开工项目 | projects_started | 个 | — | 42 | +42 |");
    s_expect_line (md, "- 开工率 start rate: 22.70%");
    free (md);
    ck_assert_int_eq (s_bulletin (&md, "--month", "2022-03", NULL), 0);
    s_expect_line (md, "| 开工项目 | projects_started | 84 | 42 | 42 | 3/7 | 2022-03-01 |");
    s_expect_line (md, "| 开工项目 | projects_started | 个 | 42 | 42 | 0 |");
    free (md);
}
END_TEST

START_TEST (test_bulletin_arguments)
{
    char *out = NULL;
    const char *help [] = { TALLY_BULLETIN_BIN, "--help", NULL };
    ck_assert_int_eq (tt_run (help, 10000, &out), 0);
    ck_assert_ptr_nonnull (strstr (out, "--month YYYY-MM"));
    ck_assert_ptr_nonnull (strstr (out, "--format md|html"));
    free (out);
    //  Bad arguments: one line, exit 2.
    const char *bad [][4] = {
        { "--month", "2024-13", NULL }, { "--month", "24-02", NULL }, { "--bogus", NULL },
        { "--month", "2024-02", "--format", NULL }, { "--region", "220500", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        const char *argv [8] = { TALLY_BULLETIN_BIN };
        int argc = 1;
        for (int k = 0; bad [i][k]; k++)
            argv [argc++] = bad [i][k];
        ck_assert_int_eq (tt_run (argv, 10000, &out), 2);
        ck_assert_msg (s_count (out, "\n") == 1 && strncmp (out, "tally-bulletin: ", 16) == 0, "%s", out);
        free (out);
    }
    const char *format [] = { TALLY_BULLETIN_BIN, "--month", "2024-02", "--format", "pdf", NULL };
    ck_assert_int_eq (tt_run (format, 10000, &out), 2);
    free (out);
    ck_assert_int_eq (s_bulletin (&out, "--month", "2024-02", "--region", "999999", NULL), 2);
    ck_assert_ptr_nonnull (strstr (out, "no region 999999"));
    free (out);
    //  Database unreachable: one line, exit 1.
    const char *down [] = { TALLY_BULLETIN_BIN, "--month", "2024-02", "--db",
                            "host=127.0.0.1 port=1 dbname=tally connect_timeout=5", NULL };
    ck_assert_int_eq (tt_run (down, 20000, &out), 1);
    ck_assert_int_eq (s_count (out, "\n"), 1);
    ck_assert_ptr_nonnull (strstr (out, "cannot connect to the database"));
    free (out);
    //  Two cities: the default region is ambiguous, --region picks one.
    PQclear (as_query ("INSERT INTO region (code, name, level, parent) VALUES ('220600', '白山市', 'city', '220000')",
                       0, NULL));
    int rc = s_bulletin (&out, "--month", "2024-02", NULL);
    char *picked = NULL;
    int rc_picked = s_bulletin (&picked, "--month", "2024-02", "--region", "220500", NULL);
    PQclear (as_query ("DELETE FROM region WHERE code = '220600'", 0, NULL));
    ck_assert_int_eq (rc, 2);
    ck_assert_ptr_nonnull (strstr (out, "give --region"));
    ck_assert_int_eq (rc_picked, 0);
    free (out);
    free (picked);
}
END_TEST

//  A tiny PNG reader: 8-bit RGB or RGBA, non-interlaced (what Chromium
//  writes). Returns how many pixels are within 8 of (r, g, b), or -1.
static long
s_png_count_colour (const char *path, int r, int g, int b)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return -1;
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    unsigned char *png = malloc ((size_t) size);
    bool read_ok = fread (png, 1, (size_t) size, file) == (size_t) size;
    fclose (file);
    if (!read_ok || size < 8 || memcmp (png, "\x89PNG\r\n\x1a\n", 8) != 0) {
        free (png);
        return -1;
    }
    uint32_t width = 0, height = 0;
    int channels = 0;
    unsigned char *idat = NULL;
    size_t idat_size = 0;
    for (long at = 8; at + 12 <= size;) {
        uint32_t len = (uint32_t) png [at] << 24 | png [at + 1] << 16 | png [at + 2] << 8 | png [at + 3];
        const unsigned char *type = png + at + 4, *body = png + at + 8;
        if (at + 12 + (long) len > size)
            break;
        if (memcmp (type, "IHDR", 4) == 0) {
            width = (uint32_t) body [0] << 24 | body [1] << 16 | body [2] << 8 | body [3];
            height = (uint32_t) body [4] << 24 | body [5] << 16 | body [6] << 8 | body [7];
            channels = body [8] == 8 && body [12] == 0 ? (body [9] == 2 ? 3 : body [9] == 6 ? 4 : 0) : 0;
        }
        else if (memcmp (type, "IDAT", 4) == 0) {
            idat = realloc (idat, idat_size + len);
            memcpy (idat + idat_size, body, len);
            idat_size += len;
        }
        at += 12 + (long) len;
    }
    free (png);
    long count = -1;
    size_t stride = (size_t) width * (size_t) channels;
    uLongf raw_size = (uLongf) ((stride + 1) * height);
    unsigned char *raw = channels ? malloc (raw_size) : NULL;
    if (raw && uncompress (raw, &raw_size, idat, idat_size) == Z_OK && raw_size == (stride + 1) * height) {
        count = 0;
        unsigned char *prev = calloc (stride, 1);
        for (uint32_t y = 0; y < height; y++) {
            unsigned char *row = raw + y * (stride + 1) + 1;
            int filter = row [-1];
            for (size_t x = 0; x < stride; x++) {
                int left = x >= (size_t) channels ? row [x - channels] : 0;
                int up = prev [x], corner = x >= (size_t) channels ? prev [x - channels] : 0;
                int p = left + up - corner, pa = abs (p - left), pb = abs (p - up), pc = abs (p - corner);
                int paeth = pa <= pb && pa <= pc ? left : pb <= pc ? up : corner;
                int add = filter == 1 ? left : filter == 2 ? up : filter == 3 ? (left + up) / 2
                        : filter == 4 ? paeth : 0;
                row [x] = (unsigned char) (row [x] + add);
            }
            for (size_t x = 0; x + 2 < stride; x += (size_t) channels)
                if (abs (row [x] - r) <= 8 && abs (row [x + 1] - g) <= 8 && abs (row [x + 2] - b) <= 8)
                    count++;
            memcpy (prev, row, stride);
        }
        free (prev);
    }
    free (raw);
    free (idat);
    return count;
}

START_TEST (test_bulletin_html)
{
    //  Every text from the database is escaped: give a county a hostile name.
    PQclear (as_query ("UPDATE region SET name = '梅河口<script>&\"' WHERE code = '220581'", 0, NULL));
    char *html = NULL;
    int rc = s_bulletin (&html, "--month", "2024-02", "--format", "html", NULL);
    PQclear (as_query ("UPDATE region SET name = '梅河口市' WHERE code = '220581'", 0, NULL));
    ck_assert_int_eq (rc, 0);
    ck_assert_ptr_nonnull (strstr (html, "梅河口&lt;script&gt;&amp;&quot;"));
    ck_assert_ptr_null (strstr (html, "<script"));
    //  Self-contained: the only URL is the SVG namespace.
    ck_assert_int_eq (s_count (html, "http"), s_count (html, "http://www.w3.org/2000/svg"));
    ck_assert_int_eq (s_count (html, "src="), 0);
    //  The chart: one bar per county with a rate (220581 has none).
    ck_assert_int_eq (s_count (html, "<svg id=\"chart\""), 1);
    ck_assert_int_eq (s_count (html, "<rect class=\"bar\""), AF_COUNTIES - 1);
    ck_assert_ptr_nonnull (strstr (html, "<td class=\"n\">80.00%</td>"));
    free (html);

    //  In a browser.
    if (access (S_CHROMIUM, X_OK) != 0) {
        printf ("analytics: %s is not installed; the browser check is skipped (apt-get install chromium)\n", S_CHROMIUM);
        return;
    }
    char *dir = tt_tempdir ("bulletin");
    char page [512], shot [512], profile [512];
    snprintf (page, sizeof page, "%s/bulletin.html", dir);
    snprintf (shot, sizeof shot, "%s/bulletin.png", dir);
    snprintf (profile, sizeof profile, "--user-data-dir=%s/profile", dir);
    ck_assert_int_eq (s_bulletin (&html, "--month", "2024-02", "--format", "html", NULL), 0);
    FILE *file = fopen (page, "w");
    ck_assert_ptr_nonnull (file);
    fputs (html, file);
    fclose (file);
    free (html);
    char url [600], screenshot [600];
    snprintf (url, sizeof url, "file://%s", page);
    snprintf (screenshot, sizeof screenshot, "--screenshot=%s", shot);
    const char *dump [] = { S_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", profile, "--dump-dom", url, NULL };
    char *dom = NULL;
    ck_assert_int_eq (tt_run (dump, 120000, &dom), 0);
    ck_assert_int_eq (s_count (dom, "<svg id=\"chart\""), 1);
    ck_assert_int_eq (s_count (dom, "<rect class=\"bar\""), AF_COUNTIES - 1);
    free (dom);
    const char *take [] = { S_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", profile, screenshot, "--window-size=1200,1600", url, NULL };
    char *log = NULL;
    ck_assert_int_eq (tt_run (take, 120000, &log), 0);
    free (log);
    //  The bars are BULLETIN_BAR_COLOUR #c0392b: several thousand pixels of it.
    long pixels = s_png_count_colour (shot, 0xc0, 0x39, 0x2b);
    printf ("analytics: the screenshot of the HTML bulletin has %ld bar-coloured pixels\n", pixels);
    ck_assert_int_gt (pixels, 2000);
    const char *clean [] = { "/bin/rm", "-rf", dir, NULL };
    tt_run (clean, 30000, NULL);
    free (dir);
}
END_TEST

void
as_add_bulletin_tests (Suite *suite)
{
    TCase *tc = tcase_create ("bulletin");
    tcase_set_timeout (tc, 300);
    tcase_add_test (tc, test_bulletin_figures_equal_views);
    tcase_add_test (tc, test_bulletin_seed);
    tcase_add_test (tc, test_bulletin_arguments);
    tcase_add_test (tc, test_bulletin_html);
    suite_add_tcase (suite, tc);
}
