/*  watch_json.h — totals messages as JSON lines, for scripts and dashboards.

    `tally-watch --json` writes one JSON object per totals message the store
    accepted: the feed body with all its keys (v, type, seq, region, name,
    level, year, as_of, values, own when present, reported, expected,
    updated_at, version when present), one object per line, flushed at once,
    so `tally-watch --json | jq` sees each update as it happens.
*/
#ifndef WATCH_JSON_H_INCLUDED
#define WATCH_JSON_H_INCLUDED

#include <stdio.h>
#include "proto_msg.h"

//  The totals message as one line of compact JSON ending in "\n"; malloc'd,
//  the caller's to free. NULL only if memory runs out.
char *
    watch_json_line (const proto_msg_t *totals);

//  Write watch_json_line to file and flush. Returns 0, or -1 on a write
//  error (e.g. the reader of a pipe went away).
int
    watch_json_print (FILE *file, const proto_msg_t *totals);

#endif
