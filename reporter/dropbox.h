/*  dropbox.h — a folder watched by `tally-reporter run --watch DIR`.

    CSV and JSON files dropped into the folder are read like `send FILE`:
    when every figure is good the file is queued in the outbox and moved to
    DIR/done/; when any is bad nothing of it is queued and it is moved to
    DIR/failed/ with a NAME.error file beside it listing each problem with
    its line. Files whose name starts with '.' or that changed in the last
    second are left for the next scan, so a file still being copied in is
    not read half-written (writing under a dot-name and renaming is best).
*/
#ifndef DROPBOX_H_INCLUDED
#define DROPBOX_H_INCLUDED

#include <stdio.h>

#include "input.h"
#include "outbox.h"

//  Create DIR/done and DIR/failed if needed. 0, or -1 with err filled.
int
    dropbox_prepare (const char *dir, char *err, size_t err_size);

//  Handle every file ready in dir; tell what happened on log. Returns how
//  many files were queued (or found already queued).
int
    dropbox_scan (const char *dir, outbox_t *outbox, const input_options_t *options, FILE *log);

#endif
