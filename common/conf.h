/*  conf.h — tally's config files: one "key = value" per line.

    The format every tally program reads with -c FILE:

        # comment (also after a value, when preceded by a space)
        db = host=127.0.0.1 dbname=tally
        report = tcp://0.0.0.0:7701
        allow-plaintext = yes

    Keys are the long option names (without "--"). A value may be written in
    double quotes to keep leading or trailing spaces or a " #". Flags take
    yes/no, true/false, on/off or 1/0. A key may repeat where its option may.
    Each program checks keys and values against its own settings table and
    names file, line and key in every complaint.
*/
#ifndef CONF_H_INCLUDED
#define CONF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Called once per "key = value" line; returns 0, or -1 after writing one
//  sentence (without the file and line, which the caller adds) in err.
typedef int (conf_fn) (void *arg, const char *key, const char *value,
                       char *err, size_t err_size);

//  Read path and call fn for each setting. Returns 0, or -1 with
//  "FILE:LINE: what is wrong" in err. A path that cannot be opened, or is
//  not a regular file (a folder, a device, a FIFO), is refused with
//  "FILE: cannot read the config file..." rather than read as empty.
int conf_load (const char *path, conf_fn *fn, void *arg, char *err, size_t err_size);

//  Read a flag value: 1 true, 0 false, -1 not a flag value.
int conf_flag (const char *value);

#endif
