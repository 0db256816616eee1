/*  bulletin_render.h — a monthly bulletin as Markdown or as one self-contained HTML page.

    Both forms carry the same sections and the same figures, printed exactly
    as PostgreSQL returned them: city totals at month end and their change
    over the month, the city's derived indicators, the county ranking, who
    reported late, and reconciliation notes. The HTML form adds an inline SVG
    bar chart of 开复工率 by county; it loads nothing from outside and
    escapes every text taken from the database.
*/
#ifndef BULLETIN_RENDER_H_INCLUDED
#define BULLETIN_RENDER_H_INCLUDED

#include <stdio.h>

#include "bulletin_data.h"

//  The fill colour of the chart's bars (tests look for it in screenshots).
#define BULLETIN_BAR_COLOUR "#c0392b"

//  Write the bulletin as Markdown to out.
void
    bulletin_render_md (const bulletin_data_t *data, FILE *out);

//  Write the bulletin as a complete HTML document to out.
void
    bulletin_render_html (const bulletin_data_t *data, FILE *out);

#endif
