/*  keygen.h — make a CURVE certificate pair for tally (czmq zcert format).

    Writes DIR/NAME.cert (public: safe to copy to the collector) and
    DIR/NAME.cert_secret (mode 0600: stays on the machine that uses it),
    with metadata `name` and, for a client, `regions`. Shared by
    `tally-collector keygen` and `tally-reporter keygen`.
*/
#ifndef KEYGEN_H_INCLUDED
#define KEYGEN_H_INCLUDED

#include <stddef.h>

//  regions may be NULL (the collector's own pair). Refuses to overwrite an
//  existing pair. Returns 0, or -1 with one sentence in err.
int keygen_write (const char *dir, const char *name, const char *regions,
                  char *err, size_t err_size);

#define KEYGEN_CODE_MIN 6                //  a region code: 6 digits (GB/T 2260) or more
#define KEYGEN_CODE_MAX 64               //  the schema's longest code

//  Check a regions list the way the collector will read it: comma-separated
//  entries (spaces around them allowed), each a region code of 6 to 64
//  letters or digits (220582, a township's 220582101) or a prefix of them
//  followed by '*' (2205*). Returns 0,
//  or -1 with one sentence naming the bad entry and the accepted forms in err.
int keygen_check_regions (const char *regions, char *err, size_t err_size);

#endif
