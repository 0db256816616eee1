/*  bulletin_render.c — a monthly bulletin as Markdown or as one self-contained HTML page.

    See bulletin_render.h. The two renderers walk the same sections in the
    same order; a section with no rows says so instead of printing an empty
    table. NULL is shown as "—".
*/
#include "bulletin_render.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_NONE "—"

//  A cell's text, or "—" for SQL NULL.
static const char *
s_cell (const PGresult *res, int row, int col)
{
    return PQgetisnull (res, row, col) ? S_NONE : PQgetvalue (res, row, col);
}

//  A signed change: "+5", "-3", "0", or "—".
static const char *
s_signed (const PGresult *res, int row, int col, char *buf, size_t size)
{
    if (PQgetisnull (res, row, col))
        return S_NONE;
    const char *text = PQgetvalue (res, row, col);
    bool positive = text [0] != '-' && strcmp (text, "0") != 0;
    snprintf (buf, size, "%s%s", positive ? "+" : "", text);
    return buf;
}

//  A percentage: "45.00%", or "—".
static const char *
s_pct (const PGresult *res, int row, int col, char *buf, size_t size)
{
    if (PQgetisnull (res, row, col))
        return S_NONE;
    snprintf (buf, size, "%s%%", PQgetvalue (res, row, col));
    return buf;
}

static const char *
s_status_zh (const char *status)
{
    return strcmp (status, "late") == 0 ? "逾期" : strcmp (status, "missing") == 0 ? "未报" : "按时";
}

//  The labels of progress_as_of's columns as read in bulletin_data.c.
static const struct {
    int col;                    //  column in data->progress
    const char *label;          //  Chinese and English name
    bool points;                //  percentage points rather than percent
} s_indicators [] = {
    { 1, "开复工率 active rate", false },
    { 2, "开工率 start rate", false },
    { 3, "投资完成率 investment completion", false },
    { 4, "时间进度 elapsed share of the year", false },
    { 5, "序时进度 completion against the elapsed share", false },
    { 6, "超序时进度 ahead of schedule (points)", true },
    { 7, "招商签约完成率 deals signed against target", false },
    { 8, "招商落地完成率 deals landed against target", false },
};
#define S_INDICATORS (sizeof s_indicators / sizeof s_indicators [0])

//  --------------------------------------------------------------------------
//  Markdown

void
bulletin_render_md (const bulletin_data_t *d, FILE *out)
{
    char a [64], b [64];
    fprintf (out, "# %s %d年%d月 项目建设月通报\n\n", d->region_name, d->year, d->mon);
    fprintf (out, "Monthly bulletin of %s (%s), %s: figures as they stood at the end of %s, "
                  "changes against the end of %s.\n\n", d->region_name, d->region, d->month,
             d->month_end, d->prev_end);

    fprintf (out, "## 一、全市汇总 City totals\n\n");
    if (PQntuples (d->totals) == 0)
        fprintf (out, "No figures by %s.\n\n", d->month_end);
    else {
        fprintf (out, "| 指标 | key | 单位 | %s | %s | 变化 change |\n|---|---|---|---:|---:|---:|\n",
                 d->prev_end, d->month_end);
        for (int i = 0; i < PQntuples (d->totals); i++)
            fprintf (out, "| %s | %s | %s | %s | %s | %s |\n", s_cell (d->totals, i, 1),
                     s_cell (d->totals, i, 0), s_cell (d->totals, i, 2), s_cell (d->totals, i, 3),
                     s_cell (d->totals, i, 4), s_signed (d->totals, i, 5, a, sizeof a));
        fprintf (out, "\n");
    }

    fprintf (out, "## 二、进度指标 Progress\n\n");
    if (PQntuples (d->progress) == 0)
        fprintf (out, "No figures by %s.\n\n", d->month_end);
    else {
        for (size_t k = 0; k < S_INDICATORS; k++) {
            const char *value = s_indicators [k].points ? s_cell (d->progress, 0, s_indicators [k].col)
                              : s_pct (d->progress, 0, s_indicators [k].col, a, sizeof a);
            fprintf (out, "- %s: %s\n", s_indicators [k].label, value);
        }
        fprintf (out, "\n(as of %s)\n\n", s_cell (d->progress, 0, 0));
    }

    fprintf (out, "## 三、县区排名 County ranking (开复工率, then 投资完成率)\n\n");
    if (PQntuples (d->ranking) == 0)
        fprintf (out, "No county figures by %s.\n\n", d->month_end);
    else {
        fprintf (out, "| 名次 rank | 县区 county | 开复工率 | 投资完成率 | %s 名次 | 变化 change |\n"
                      "|---:|---|---:|---:|---:|---:|\n", d->prev_end);
        for (int i = 0; i < PQntuples (d->ranking); i++) {
            char c [32];
            fprintf (out, "| %s | %s (%s) | %s | %s | %s | %s |\n", s_cell (d->ranking, i, 0),
                     s_cell (d->ranking, i, 2), s_cell (d->ranking, i, 1),
                     s_pct (d->ranking, i, 3, a, sizeof a), s_pct (d->ranking, i, 4, b, sizeof b),
                     s_cell (d->ranking, i, 5), s_signed (d->ranking, i, 6, c, sizeof c));
        }
        fprintf (out, "\n");
    }

    fprintf (out, "## 四、报送情况 Reporting on %s\n\n", d->month_end);
    if (PQntuples (d->reporting) == 0)
        fprintf (out, "Every county reported on time.\n\n");
    else {
        fprintf (out, "| 县区 county | 状态 status | 最近填报 last as_of | 天数 days |\n|---|---|---|---:|\n");
        for (int i = 0; i < PQntuples (d->reporting); i++)
            fprintf (out, "| %s (%s) | %s (%s) | %s | %s |\n", s_cell (d->reporting, i, 1),
                     s_cell (d->reporting, i, 0), s_status_zh (PQgetvalue (d->reporting, i, 2)),
                     s_cell (d->reporting, i, 2), s_cell (d->reporting, i, 3), s_cell (d->reporting, i, 4));
        fprintf (out, "\n");
    }

    fprintf (out, "## 五、核对 Reconciliation\n\n");
    if (PQntuples (d->reconciliation) == 0)
        fprintf (out, "%s reported no figure of its own to reconcile.\n", d->region_name);
    else {
        fprintf (out, "| 指标 | key | 本级 own | 县区合计 counties | 差额 difference | 报送县区 reported | 本级日期 own as_of |\n"
                      "|---|---|---:|---:|---:|---:|---|\n");
        for (int i = 0; i < PQntuples (d->reconciliation); i++)
            fprintf (out, "| %s | %s | %s | %s | %s | %s/%s | %s |\n", s_cell (d->reconciliation, i, 1),
                     s_cell (d->reconciliation, i, 0), s_cell (d->reconciliation, i, 3),
                     s_cell (d->reconciliation, i, 4), s_cell (d->reconciliation, i, 5),
                     s_cell (d->reconciliation, i, 6), s_cell (d->reconciliation, i, 7),
                     s_cell (d->reconciliation, i, 8));
    }
}

//  --------------------------------------------------------------------------
//  HTML

//  Text with &, <, >, " and ' escaped: safe in elements and attributes.
static void
s_html (FILE *out, const char *text)
{
    for (; *text; text++)
        switch (*text) {
            case '&':  fputs ("&amp;", out); break;
            case '<':  fputs ("&lt;", out); break;
            case '>':  fputs ("&gt;", out); break;
            case '"':  fputs ("&quot;", out); break;
            case '\'': fputs ("&#39;", out); break;
            default:   fputc (*text, out);
        }
}

//  One table cell (th when head) with escaped text.
static void
s_td (FILE *out, const char *text, bool numeric)
{
    fputs (numeric ? "<td class=\"n\">" : "<td>", out);
    s_html (out, text);
    fputs ("</td>", out);
}

static void
s_heads (FILE *out, const char *const *heads)
{
    fputs ("<table><thead><tr>", out);
    for (; *heads; heads++) {
        fputs ("<th>", out);
        s_html (out, *heads);
        fputs ("</th>", out);
    }
    fputs ("</tr></thead><tbody>\n", out);
}

//  The chart: one horizontal bar per ranked county, its 开复工率 to scale
//  (100 % or the largest rate, whichever is larger, fills the bar area).
static void
s_chart (const bulletin_data_t *d, FILE *out)
{
    const int label_w = 170, bar_w = 520, row_h = 30, top = 40;
    int rows = PQntuples (d->ranking);
    double scale = 100;
    for (int i = 0; i < rows; i++)
        if (!PQgetisnull (d->ranking, i, 3) && atof (PQgetvalue (d->ranking, i, 3)) > scale)
            scale = atof (PQgetvalue (d->ranking, i, 3));
    int height = top + rows * row_h + 10, width = label_w + bar_w + 90;
    fprintf (out, "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"开复工率 by county\">\n",
             width, height, width, height);
    fprintf (out, "<text x=\"0\" y=\"20\" class=\"title\">开复工率 by county, %s</text>\n", d->month_end);
    fprintf (out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
             label_w, top - 6, label_w, top + rows * row_h);
    for (int i = 0; i < rows; i++) {
        int y = top + i * row_h;
        fprintf (out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 17);
        s_html (out, s_cell (d->ranking, i, 2));
        fputs ("</text>\n", out);
        if (PQgetisnull (d->ranking, i, 3)) {
            fprintf (out, "<text x=\"%d\" y=\"%d\">%s</text>\n", label_w + 6, y + 17, S_NONE);
            continue;
        }
        double rate = atof (PQgetvalue (d->ranking, i, 3));
        int w = rate > 0 ? (int) (rate / scale * bar_w + 0.5) : 0;
        fprintf (out, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\">"
                      "<title>", label_w, y + 2, w, BULLETIN_BAR_COLOUR);
        s_html (out, s_cell (d->ranking, i, 2));
        fprintf (out, " %s%%</title></rect>\n", PQgetvalue (d->ranking, i, 3));
        fprintf (out, "<text x=\"%d\" y=\"%d\">", label_w + w + 6, y + 17);
        s_html (out, PQgetvalue (d->ranking, i, 3));
        fputs ("%</text>\n", out);
    }
    fputs ("</svg>\n", out);
}

void
bulletin_render_html (const bulletin_data_t *d, FILE *out)
{
    char a [64], b [64], title [256];
    snprintf (title, sizeof title, "%s %d年%d月 项目建设月通报", d->region_name, d->year, d->mon);
    fputs ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n<title>", out);
    s_html (out, title);
    fputs ("</title>\n<style>\n"
           "body{font-family:\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",sans-serif;margin:24px;color:#222}\n"
           "table{border-collapse:collapse;margin:8px 0 20px}\n"
           "th,td{border:1px solid #bbb;padding:3px 8px}th{background:#eee}td.n{text-align:right}\n"
           "svg text{font-size:14px;fill:#222}svg text.title{font-weight:bold}\n"
           "</style></head><body>\n<h1>", out);
    s_html (out, title);
    fputs ("</h1>\n<p>", out);
    s_html (out, d->region_name);
    fprintf (out, " (%s), %s: figures as they stood at the end of %s, changes against the end of %s.</p>\n",
             d->region, d->month, d->month_end, d->prev_end);

    fputs ("<h2>一、全市汇总 City totals</h2>\n", out);
    if (PQntuples (d->totals) == 0)
        fprintf (out, "<p>No figures by %s.</p>\n", d->month_end);
    else {
        const char *heads [] = { "指标", "key", "单位", d->prev_end, d->month_end, "变化 change", NULL };
        s_heads (out, heads);
        for (int i = 0; i < PQntuples (d->totals); i++) {
            fputs ("<tr>", out);
            s_td (out, s_cell (d->totals, i, 1), false);
            s_td (out, s_cell (d->totals, i, 0), false);
            s_td (out, s_cell (d->totals, i, 2), false);
            s_td (out, s_cell (d->totals, i, 3), true);
            s_td (out, s_cell (d->totals, i, 4), true);
            s_td (out, s_signed (d->totals, i, 5, a, sizeof a), true);
            fputs ("</tr>\n", out);
        }
        fputs ("</tbody></table>\n", out);
    }

    fputs ("<h2>二、进度指标 Progress</h2>\n", out);
    if (PQntuples (d->progress) == 0)
        fprintf (out, "<p>No figures by %s.</p>\n", d->month_end);
    else {
        fputs ("<ul>\n", out);
        for (size_t k = 0; k < S_INDICATORS; k++) {
            fputs ("<li>", out);
            s_html (out, s_indicators [k].label);
            fputs (": ", out);
            s_html (out, s_indicators [k].points ? s_cell (d->progress, 0, s_indicators [k].col)
                                                 : s_pct (d->progress, 0, s_indicators [k].col, a, sizeof a));
            fputs ("</li>\n", out);
        }
        fputs ("</ul>\n", out);
    }

    fputs ("<h2>三、县区排名 County ranking (开复工率, then 投资完成率)</h2>\n", out);
    if (PQntuples (d->ranking) == 0)
        fprintf (out, "<p>No county figures by %s.</p>\n", d->month_end);
    else {
        s_chart (d, out);
        char prev [64];
        snprintf (prev, sizeof prev, "%s 名次", d->prev_end);
        const char *heads [] = { "名次 rank", "县区 county", "开复工率", "投资完成率", prev, "变化 change", NULL };
        s_heads (out, heads);
        for (int i = 0; i < PQntuples (d->ranking); i++) {
            char county [256], c [32];
            snprintf (county, sizeof county, "%s (%s)", s_cell (d->ranking, i, 2), s_cell (d->ranking, i, 1));
            fputs ("<tr>", out);
            s_td (out, s_cell (d->ranking, i, 0), true);
            s_td (out, county, false);
            s_td (out, s_pct (d->ranking, i, 3, a, sizeof a), true);
            s_td (out, s_pct (d->ranking, i, 4, b, sizeof b), true);
            s_td (out, s_cell (d->ranking, i, 5), true);
            s_td (out, s_signed (d->ranking, i, 6, c, sizeof c), true);
            fputs ("</tr>\n", out);
        }
        fputs ("</tbody></table>\n", out);
    }

    fprintf (out, "<h2>四、报送情况 Reporting on %s</h2>\n", d->month_end);
    if (PQntuples (d->reporting) == 0)
        fputs ("<p>Every county reported on time.</p>\n", out);
    else {
        const char *heads [] = { "县区 county", "状态 status", "最近填报 last as_of", "天数 days", NULL };
        s_heads (out, heads);
        for (int i = 0; i < PQntuples (d->reporting); i++) {
            char county [256], status [64];
            snprintf (county, sizeof county, "%s (%s)", s_cell (d->reporting, i, 1), s_cell (d->reporting, i, 0));
            snprintf (status, sizeof status, "%s (%s)", s_status_zh (PQgetvalue (d->reporting, i, 2)),
                      s_cell (d->reporting, i, 2));
            fputs ("<tr>", out);
            s_td (out, county, false);
            s_td (out, status, false);
            s_td (out, s_cell (d->reporting, i, 3), false);
            s_td (out, s_cell (d->reporting, i, 4), true);
            fputs ("</tr>\n", out);
        }
        fputs ("</tbody></table>\n", out);
    }

    fputs ("<h2>五、核对 Reconciliation</h2>\n", out);
    if (PQntuples (d->reconciliation) == 0) {
        fputs ("<p>", out);
        s_html (out, d->region_name);
        fputs (" reported no figure of its own to reconcile.</p>\n", out);
    }
    else {
        const char *heads [] = { "指标", "key", "本级 own", "县区合计 counties", "差额 difference",
                                 "报送县区 reported", "本级日期 own as_of", NULL };
        s_heads (out, heads);
        for (int i = 0; i < PQntuples (d->reconciliation); i++) {
            char reported [64];
            snprintf (reported, sizeof reported, "%s/%s", s_cell (d->reconciliation, i, 6),
                      s_cell (d->reconciliation, i, 7));
            fputs ("<tr>", out);
            s_td (out, s_cell (d->reconciliation, i, 1), false);
            s_td (out, s_cell (d->reconciliation, i, 0), false);
            s_td (out, s_cell (d->reconciliation, i, 3), true);
            s_td (out, s_cell (d->reconciliation, i, 4), true);
            s_td (out, s_cell (d->reconciliation, i, 5), true);
            s_td (out, reported, true);
            s_td (out, s_cell (d->reconciliation, i, 8), false);
            fputs ("</tr>\n", out);
        }
        fputs ("</tbody></table>\n", out);
    }
    fputs ("</body></html>\n", out);
}
