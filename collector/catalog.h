/*  catalog.h — the regions and metrics the collector accepts reports for.

    Loaded from the database (tables region and metric) when the collector
    connects and on SIGHUP; checked against every report before it reaches
    the database, so that unknown regions and metrics are answered at once
    with a precise nack.
*/
#ifndef CATALOG_H_INCLUDED
#define CATALOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto_msg.h"

typedef struct catalog_t catalog_t;

typedef struct {
    char *code;                 //  GB/T 2260 code
    char *name;                 //  display name (Chinese)
    char *level;                //  province, city, county, ...
    char *parent;               //  NULL at the top
} catalog_region_t;

typedef struct {
    char *key;
    bool sum;                   //  rule sum (false: none, a rate)
    int64_t min_value;
    int64_t max_value;
} catalog_metric_t;

catalog_t *catalog_new (void);
void catalog_destroy (catalog_t **self_p);

void catalog_add_region (catalog_t *self, const char *code, const char *name,
                         const char *level, const char *parent);
void catalog_add_metric (catalog_t *self, const char *key, bool sum,
                         int64_t min_value, int64_t max_value);

//  Borrowed; NULL when unknown.
const catalog_region_t *catalog_region (catalog_t *self, const char *code);
const catalog_metric_t *catalog_metric (catalog_t *self, const char *key);
size_t catalog_region_count (catalog_t *self);
size_t catalog_metric_count (catalog_t *self);

//  Check a decoded report against the catalog, in PROTOCOL.md's order:
//  region (unknown_region), then metrics (unknown_metric), then each value
//  against its metric's range (invalid). Returns PROTO_OK or the code, with
//  one sentence in err.
proto_code_t catalog_check_report (catalog_t *self, const proto_msg_t *report,
                                   char *err, size_t err_size);

#endif
