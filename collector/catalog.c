/*  catalog.c — the regions and metrics the collector accepts reports for.

    Two hash tables keyed by code and metric key; entries are owned here.
*/
#include "catalog.h"

#include <czmq.h>
#include <inttypes.h>

struct catalog_t {
    zhashx_t *regions;          //  code -> catalog_region_t
    zhashx_t *metrics;          //  key -> catalog_metric_t
};

static void
s_region_destroy (void **item_p)
{
    catalog_region_t *region = (catalog_region_t *) *item_p;
    if (region) {
        free (region->code);
        free (region->name);
        free (region->level);
        free (region->parent);
        free (region);
        *item_p = NULL;
    }
}

static void
s_metric_destroy (void **item_p)
{
    catalog_metric_t *metric = (catalog_metric_t *) *item_p;
    if (metric) {
        free (metric->key);
        free (metric);
        *item_p = NULL;
    }
}

catalog_t *
catalog_new (void)
{
    catalog_t *self = (catalog_t *) zmalloc (sizeof (catalog_t));
    self->regions = zhashx_new ();
    zhashx_set_destructor (self->regions, s_region_destroy);
    self->metrics = zhashx_new ();
    zhashx_set_destructor (self->metrics, s_metric_destroy);
    return self;
}

void
catalog_destroy (catalog_t **self_p)
{
    if (self_p && *self_p) {
        catalog_t *self = *self_p;
        zhashx_destroy (&self->regions);
        zhashx_destroy (&self->metrics);
        free (self);
        *self_p = NULL;
    }
}

void
catalog_add_region (catalog_t *self, const char *code, const char *name,
                    const char *level, const char *parent)
{
    catalog_region_t *region = (catalog_region_t *) zmalloc (sizeof (catalog_region_t));
    region->code = strdup (code);
    region->name = strdup (name);
    region->level = strdup (level);
    region->parent = parent && *parent ? strdup (parent) : NULL;
    zhashx_update (self->regions, code, region);
}

void
catalog_add_metric (catalog_t *self, const char *key, bool sum,
                    int64_t min_value, int64_t max_value)
{
    catalog_metric_t *metric = (catalog_metric_t *) zmalloc (sizeof (catalog_metric_t));
    metric->key = strdup (key);
    metric->sum = sum;
    metric->min_value = min_value;
    metric->max_value = max_value;
    zhashx_update (self->metrics, key, metric);
}

const catalog_region_t *
catalog_region (catalog_t *self, const char *code)
{
    return (const catalog_region_t *) zhashx_lookup (self->regions, code);
}

const catalog_metric_t *
catalog_metric (catalog_t *self, const char *key)
{
    return (const catalog_metric_t *) zhashx_lookup (self->metrics, key);
}

size_t
catalog_region_count (catalog_t *self)
{
    return zhashx_size (self->regions);
}

size_t
catalog_metric_count (catalog_t *self)
{
    return zhashx_size (self->metrics);
}

proto_code_t
catalog_check_report (catalog_t *self, const proto_msg_t *report, char *err, size_t err_size)
{
    if (!catalog_region (self, report->region)) {
        snprintf (err, err_size, "region '%s' is not in the collector's region table", report->region);
        return PROTO_UNKNOWN_REGION;
    }
    for (size_t i = 0; i < report->value_count; i++)
        if (!catalog_metric (self, report->values [i].key)) {
            snprintf (err, err_size, "metric '%s' is not in the metric catalog", report->values [i].key);
            return PROTO_UNKNOWN_METRIC;
        }
    for (size_t i = 0; i < report->value_count; i++) {
        const proto_value_t *value = &report->values [i];
        const catalog_metric_t *metric = catalog_metric (self, value->key);
        if (value->value < metric->min_value || value->value > metric->max_value) {
            snprintf (err, err_size, "value %" PRId64 " of metric '%s' is out of its range %"
                      PRId64 "..%" PRId64, value->value, value->key, metric->min_value, metric->max_value);
            return PROTO_INVALID;
        }
    }
    return PROTO_OK;
}
