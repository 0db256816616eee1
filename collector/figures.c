/*  figures.c — a batch's changes to the figures of the rows it locked.

    Rows are found by "region year" in a hash table; each keeps, besides its
    figures, the best value offered per metric position (the candidate).
*/
#include "figures.h"

#include <czmq.h>
#include <inttypes.h>

typedef struct {
    bool set;
    int64_t value;
    char as_of [FIGURES_DATE];
    int64_t report;
} s_candidate_t;

typedef struct {
    figures_row_t pub;
    char *parent_code;          //  NULL at the top
    s_candidate_t *candidates;  //  by position (NULL until a value is offered)
} s_row_t;

typedef struct {
    int pos;
    bool summed;
} s_metric_t;

struct figures_t {
    zhashx_t *metrics;          //  key -> s_metric_t
    bool *summed;               //  by position
    char **keys;                //  by position (NULL: no metric there)
    int npos;
    int *by_key;                //  positions in key order
    size_t metric_count;
    s_row_t **rows;
    size_t row_count, row_cap;
    zhashx_t *row_index;        //  "region year" -> row number + 1
    int last_found;             //  the row s_find_row found last, or -1
};

static void
s_metric_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

figures_t *
figures_new (void)
{
    figures_t *self = (figures_t *) zmalloc (sizeof (figures_t));
    self->metrics = zhashx_new ();
    zhashx_set_destructor (self->metrics, s_metric_destroy);
    self->row_index = zhashx_new ();
    self->last_found = -1;
    return self;
}

static void
s_row_destroy (s_row_t **row_p)
{
    s_row_t *row = *row_p;
    if (!row)
        return;
    free (row->pub.region);
    free (row->pub.name);
    free (row->pub.level);
    free (row->parent_code);
    free (row->pub.has_own);
    free (row->pub.own);
    free (row->pub.own_as_of);
    free (row->pub.own_report);
    free (row->pub.has_previous);
    free (row->pub.previous);
    free (row->pub.has_total);
    free (row->pub.total);
    free (row->candidates);
    free (row);
    *row_p = NULL;
}

void
figures_destroy (figures_t **self_p)
{
    figures_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->row_count; i++)
        s_row_destroy (&self->rows [i]);
    free (self->rows);
    free (self->summed);
    for (int pos = 0; self->keys && pos <= self->npos; pos++)
        free (self->keys [pos]);
    free (self->keys);
    free (self->by_key);
    zhashx_destroy (&self->metrics);
    zhashx_destroy (&self->row_index);
    free (self);
    *self_p = NULL;
}

int
figures_add_metric (figures_t *self, const char *key, int pos, bool summed)
{
    if (pos < 1 || pos > 100000 || self->row_count > 0 || zhashx_lookup (self->metrics, key)
    ||  (pos <= self->npos && self->keys [pos]))
        return -1;
    s_metric_t *metric = (s_metric_t *) zmalloc (sizeof (s_metric_t));
    metric->pos = pos;
    metric->summed = summed;
    zhashx_insert (self->metrics, key, metric);
    if (pos > self->npos) {
        size_t n = (size_t) pos + 1;
        self->summed = (bool *) realloc (self->summed, n * sizeof (bool));
        self->keys = (char **) realloc (self->keys, n * sizeof (char *));
        assert (self->summed && self->keys);
        for (int p = self->npos + 1; p <= pos; p++) {
            self->summed [p] = false;
            self->keys [p] = NULL;
        }
        if (self->npos == 0)
            self->keys [0] = NULL;
        self->npos = pos;
    }
    self->summed [pos] = summed;
    self->keys [pos] = strdup (key);
    self->metric_count++;
    free (self->by_key);
    self->by_key = NULL;
    return 0;
}

//  Read the elements of a one-dimensional array literal into text pieces:
//  calls put (index, element or NULL for NULL) for index 1, 2, ... Returns
//  0, or -1 when the literal is not of the form "{a,b,NULL}".
typedef int (s_put_fn) (void *dest, int index, const char *text);

static int
s_read_array (const char *literal, s_put_fn *put, void *dest, int max)
{
    if (!literal)
        return 0;
    size_t len = strlen (literal);
    if (len < 2 || literal [0] != '{' || literal [len - 1] != '}')
        return -1;
    if (len == 2)
        return 0;
    char element [64];
    int index = 1;
    const char *p = literal + 1;
    while (true) {
        const char *end = p;
        while (*end && *end != ',' && *end != '}')
            end++;
        size_t size = (size_t) (end - p);
        if (size == 0 || size >= sizeof element || index > max)
            return -1;
        memcpy (element, p, size);
        element [size] = 0;
        if (put (dest, index, streq (element, "NULL") ? NULL : element))
            return -1;
        index++;
        if (*end == '}')
            return end [1] == 0 ? 0 : -1;
        p = end + 1;
    }
}

typedef struct {
    bool *has;
    int64_t *values;
} s_ints_t;

static int
s_put_int (void *dest, int index, const char *text)
{
    s_ints_t *ints = (s_ints_t *) dest;
    if (!text)
        return 0;
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (*end || errno)
        return -1;
    ints->values [index] = (int64_t) value;
    if (ints->has)
        ints->has [index] = true;
    return 0;
}

static int
s_put_date (void *dest, int index, const char *text)
{
    char (*dates) [FIGURES_DATE] = (char (*) [FIGURES_DATE]) dest;
    if (!text)
        return 0;
    if (strlen (text) != FIGURES_DATE - 1)
        return -1;
    memcpy (dates [index], text, FIGURES_DATE);
    return 0;
}

//  A row with its arrays allocated and empty.
static s_row_t *
s_row_new (figures_t *self, const char *region, int year, const char *parent,
           int children, const char *name, const char *level)
{
    size_t n = (size_t) self->npos + 1;
    s_row_t *row = (s_row_t *) zmalloc (sizeof (s_row_t));
    row->pub.region = strdup (region);
    row->pub.year = year;
    row->pub.name = strdup (name ? name : "");
    row->pub.level = strdup (level ? level : "");
    row->pub.children = children;
    row->pub.leaf = children == 0;
    row->pub.parent = -1;
    row->parent_code = parent && *parent ? strdup (parent) : NULL;
    row->pub.has_own = (bool *) zmalloc (n * sizeof (bool));
    row->pub.own = (int64_t *) zmalloc (n * sizeof (int64_t));
    row->pub.own_as_of = (char (*) [FIGURES_DATE]) zmalloc (n * FIGURES_DATE);
    row->pub.own_report = (int64_t *) zmalloc (n * sizeof (int64_t));
    row->pub.has_previous = (bool *) zmalloc (n * sizeof (bool));
    row->pub.previous = (int64_t *) zmalloc (n * sizeof (int64_t));
    row->pub.has_total = (bool *) zmalloc (n * sizeof (bool));
    row->pub.total = (int64_t *) zmalloc (n * sizeof (int64_t));
    return row;                 //  candidates come with the first value offered
}

static void
s_row_insert (figures_t *self, s_row_t *row)
{
    if (self->row_count == self->row_cap) {
        self->row_cap = self->row_cap ? self->row_cap * 2 : 64;
        self->rows = (s_row_t **) realloc (self->rows, self->row_cap * sizeof (s_row_t *));
        assert (self->rows);
    }
    self->rows [self->row_count++] = row;
    char key [128];
    snprintf (key, sizeof key, "%s %d", row->pub.region, row->pub.year);
    zhashx_update (self->row_index, key, (void *) (uintptr_t) self->row_count);
}

int
figures_add_row (figures_t *self, const char *region, int year, const char *parent,
                 int children, const char *name, const char *level, bool created,
                 const char *own, const char *own_as_of, const char *own_report,
                 const char *previous, const char *total, char *err, size_t err_size)
{
    s_row_t *row = s_row_new (self, region, year, parent, children, name, level);
    row->pub.created = created;
    s_ints_t own_ints = { row->pub.has_own, row->pub.own };
    s_ints_t report_ints = { NULL, row->pub.own_report };
    s_ints_t previous_ints = { row->pub.has_previous, row->pub.previous };
    s_ints_t total_ints = { row->pub.has_total, row->pub.total };
    const char *bad = s_read_array (own, s_put_int, &own_ints, self->npos) ? "own"
                    : s_read_array (own_as_of, s_put_date, row->pub.own_as_of, self->npos) ? "own_as_of"
                    : s_read_array (own_report, s_put_int, &report_ints, self->npos) ? "own_report"
                    : s_read_array (previous, s_put_int, &previous_ints, self->npos) ? "own_previous"
                    : s_read_array (total, s_put_int, &total_ints, self->npos) ? "total" : NULL;
    //  A figure needs its as_of: that is what decides which one wins.
    for (int pos = 1; !bad && pos <= self->npos; pos++)
        if (row->pub.has_own [pos] && !*row->pub.own_as_of [pos])
            bad = "own_as_of";
    if (bad) {
        snprintf (err, err_size, "region_year %s %d: column %s is not an array of %d figures",
                  region, year, bad, self->npos);
        s_row_destroy (&row);
        return -1;
    }
    s_row_insert (self, row);
    return 0;
}

//  The row's number, or -1. A report's values come one after another, so
//  the row found last is tried first.
static int
s_find_row (figures_t *self, const char *region, int year)
{
    if (self->last_found >= 0) {
        const figures_row_t *last = &self->rows [self->last_found]->pub;
        if (last->year == year && streq (last->region, region))
            return self->last_found;
    }
    char key [128];
    snprintf (key, sizeof key, "%s %d", region, year);
    uintptr_t number = (uintptr_t) zhashx_lookup (self->row_index, key);
    if (number > 0)
        self->last_found = (int) number - 1;
    return (int) number - 1;
}

int
figures_offer (figures_t *self, const char *region, int year, const char *as_of,
               int64_t report_id, const char *metric, int64_t value,
               char *err, size_t err_size)
{
    int number = s_find_row (self, region, year);
    s_row_t *row = number >= 0 ? self->rows [number] : NULL;
    s_metric_t *known = (s_metric_t *) zhashx_lookup (self->metrics, metric);
    if (!row || !known || strlen (as_of) != FIGURES_DATE - 1) {
        snprintf (err, err_size, "report %" PRId64 ": %s not returned by tally_lock", report_id,
                  !row ? "its region and year were" : !known ? "its metric was" : "its as_of was");
        return -1;
    }
    if (!row->candidates)
        row->candidates = (s_candidate_t *) zmalloc (((size_t) self->npos + 1) * sizeof (s_candidate_t));
    s_candidate_t *candidate = &row->candidates [known->pos];
    int newer = candidate->set ? strcmp (as_of, candidate->as_of) : 1;
    if (newer > 0 || (newer == 0 && report_id > candidate->report)) {
        candidate->set = true;
        candidate->value = value;
        memcpy (candidate->as_of, as_of, FIGURES_DATE);
        candidate->report = report_id;
    }
    return 0;
}

static void
s_newest (char *as_of, const char *other)
{
    if (strcmp (other, as_of) > 0)
        memcpy (as_of, other, FIGURES_DATE);
}

int
figures_merge (figures_t *self, char *err, size_t err_size)
{
    for (size_t i = 0; i < self->row_count; i++) {
        s_row_t *row = self->rows [i];
        if (!row->parent_code)
            continue;
        row->pub.parent = s_find_row (self, row->parent_code, row->pub.year);
        if (row->pub.parent < 0) {
            snprintf (err, err_size, "region_year %s %d: its parent %s was not locked",
                      row->pub.region, row->pub.year, row->parent_code);
            return -1;
        }
    }
    //  A created row is written; above it, and in it when it has children,
    //  the count of children with a row may have changed.
    for (size_t i = 0; i < self->row_count; i++) {
        figures_row_t *fig = &self->rows [i]->pub;
        if (!fig->created)
            continue;
        fig->changed = true;
        fig->above = !fig->leaf;        //  a region with children counts them
        size_t steps = 0;               //  a cycle in the catalog ends here
        for (int up = fig->parent; up >= 0 && steps++ < self->row_count;
             up = self->rows [up]->pub.parent)
            self->rows [up]->pub.changed = self->rows [up]->pub.above = true;
    }
    for (size_t i = 0; i < self->row_count; i++) {
        s_row_t *row = self->rows [i];
        figures_row_t *fig = &row->pub;
        for (int pos = 1; row->candidates && pos <= self->npos; pos++) {
            s_candidate_t *candidate = &row->candidates [pos];
            if (!candidate->set)
                continue;
            int newer = fig->has_own [pos] ? strcmp (candidate->as_of, fig->own_as_of [pos]) : 1;
            if (newer < 0 || (newer == 0 && candidate->report <= fig->own_report [pos]))
                continue;
            int64_t old = fig->has_own [pos] ? fig->own [pos] : 0;
            int64_t delta;
            if (__builtin_sub_overflow (candidate->value, old, &delta)) {
                snprintf (err, err_size, "region %s %d: a change beyond bigint", fig->region, fig->year);
                return -1;
            }
            fig->has_previous [pos] = fig->has_own [pos];
            fig->previous [pos] = old;
            fig->has_own [pos] = true;
            fig->own [pos] = candidate->value;
            memcpy (fig->own_as_of [pos], candidate->as_of, FIGURES_DATE);
            fig->own_report [pos] = candidate->report;
            fig->changed = fig->own_changed = true;
            s_newest (fig->as_of, candidate->as_of);
            bool summed = self->summed [pos];
            if (fig->leaf || !summed) {
                fig->has_total [pos] = true;
                fig->total [pos] = candidate->value;
            }
            size_t steps = 0;           //  a cycle in the catalog ends here
            for (int up = fig->parent; up >= 0 && steps++ < self->row_count;
                 up = self->rows [up]->pub.parent) {
                figures_row_t *above = &self->rows [up]->pub;
                above->changed = true;
                s_newest (above->as_of, candidate->as_of);
                if (!(fig->leaf && summed))
                    continue;
                int64_t sum;
                if (__builtin_add_overflow (above->has_total [pos] ? above->total [pos] : 0, delta, &sum)) {
                    snprintf (err, err_size, "region %s %d: a total beyond bigint (out of range)",
                              above->region, above->year);
                    return -1;
                }
                above->has_total [pos] = true;
                above->total [pos] = sum;
            }
        }
    }
    return 0;
}

int
figures_npos (figures_t *self)
{
    return self->npos;
}

size_t
figures_row_count (figures_t *self)
{
    return self->row_count;
}

const figures_row_t *
figures_row (figures_t *self, size_t index)
{
    return index < self->row_count ? &self->rows [index]->pub : NULL;
}

const figures_row_t *
figures_find (figures_t *self, const char *region, int year)
{
    int number = s_find_row (self, region, year);
    return number >= 0 ? &self->rows [number]->pub : NULL;
}

const int *
figures_by_key (figures_t *self, size_t *count)
{
    if (!self->by_key && self->metric_count > 0) {
        self->by_key = (int *) malloc (self->metric_count * sizeof (int));
        assert (self->by_key);
        //  An insertion sort: metrics are a few dozen.
        size_t n = 0;
        for (int pos = 1; pos <= self->npos; pos++) {
            if (!self->keys [pos])
                continue;
            size_t at = n++;
            while (at > 0 && strcmp (self->keys [self->by_key [at - 1]], self->keys [pos]) > 0) {
                self->by_key [at] = self->by_key [at - 1];
                at--;
            }
            self->by_key [at] = pos;
        }
    }
    *count = self->metric_count;
    return self->by_key;
}

const char *
figures_key (figures_t *self, int pos)
{
    return pos >= 1 && pos <= self->npos ? self->keys [pos] : NULL;
}

const char *
figures_parent_code (figures_t *self, size_t index)
{
    return index < self->row_count ? self->rows [index]->parent_code : NULL;
}

figures_t *
figures_new_like (figures_t *from)
{
    figures_t *self = figures_new ();
    for (int pos = 1; pos <= from->npos; pos++)
        if (from->keys [pos])
            figures_add_metric (self, from->keys [pos], pos, from->summed [pos]);
    return self;
}

char *
figures_metric_signature (figures_t *self)
{
    size_t size = 1;
    for (int pos = 1; pos <= self->npos; pos++)
        if (self->keys [pos])
            size += strlen (self->keys [pos]) + 20;
    char *text = (char *) zmalloc (size);
    size_t len = 0;
    for (int pos = 1; pos <= self->npos; pos++)
        if (self->keys [pos])
            len += (size_t) snprintf (text + len, size - len, "%s%s:%d:%s", len ? "," : "",
                                      self->keys [pos], pos, self->summed [pos] ? "true" : "false");
    return text;
}

//  A copy of row `from` (of a figures_t with the same metrics): its
//  figures, none of a batch's working state.
static s_row_t *
s_row_copy (figures_t *self, const s_row_t *from)
{
    const figures_row_t *pub = &from->pub;
    s_row_t *row = s_row_new (self, pub->region, pub->year, from->parent_code, pub->children,
                              pub->name, pub->level);
    size_t n = (size_t) self->npos + 1;
    memcpy (row->pub.has_own, pub->has_own, n * sizeof (bool));
    memcpy (row->pub.own, pub->own, n * sizeof (int64_t));
    memcpy (row->pub.own_as_of, pub->own_as_of, n * FIGURES_DATE);
    memcpy (row->pub.own_report, pub->own_report, n * sizeof (int64_t));
    memcpy (row->pub.has_previous, pub->has_previous, n * sizeof (bool));
    memcpy (row->pub.previous, pub->previous, n * sizeof (int64_t));
    memcpy (row->pub.has_total, pub->has_total, n * sizeof (bool));
    memcpy (row->pub.total, pub->total, n * sizeof (int64_t));
    row->pub.version = pub->version;
    return row;
}

int
figures_copy_branch (figures_t *self, figures_t *from, const char *region, int year)
{
    if (self->npos != from->npos)
        return -1;
    const char *code = region;
    size_t steps = 0;                   //  a cycle in the catalog ends here
    while (code && steps++ <= from->row_count) {
        if (s_find_row (self, code, year) >= 0)
            return 0;                   //  here already, and so is everything above it
        int number = s_find_row (from, code, year);
        if (number < 0)
            return -1;
        s_row_insert (self, s_row_copy (self, from->rows [number]));
        code = from->rows [number]->parent_code;
    }
    return code ? -1 : 0;
}

void
figures_forget (figures_t *self, const char *region, int year)
{
    int number = s_find_row (self, region, year);
    if (number < 0)
        return;
    char key [128];
    snprintf (key, sizeof key, "%s %d", region, year);
    zhashx_delete (self->row_index, key);
    s_row_destroy (&self->rows [number]);
    //  The last row takes its place.
    size_t last = self->row_count - 1;
    if ((size_t) number != last) {
        self->rows [number] = self->rows [last];
        snprintf (key, sizeof key, "%s %d", self->rows [number]->pub.region,
                  self->rows [number]->pub.year);
        zhashx_update (self->row_index, key, (void *) (uintptr_t) (number + 1));
    }
    self->row_count--;
    self->last_found = -1;
}

int
figures_keep (figures_t *self, figures_t *batch, const char *region, int year, int64_t version)
{
    int number = s_find_row (batch, region, year);
    if (number < 0 || self->npos != batch->npos)
        return -1;
    figures_forget (self, region, year);
    s_row_t *row = s_row_copy (self, batch->rows [number]);
    row->pub.version = version;
    s_row_insert (self, row);
    return 0;
}

void
figures_map_reports (figures_t *self, int64_t base, const int64_t *ids, size_t count)
{
    for (size_t i = 0; i < self->row_count; i++) {
        figures_row_t *fig = &self->rows [i]->pub;
        for (int pos = 1; pos <= self->npos; pos++)
            if (fig->has_own [pos] && fig->own_report [pos] >= base) {
                int64_t at = fig->own_report [pos] - base - 1;
                fig->own_report [pos] = at >= 0 && (size_t) at < count ? ids [at] : 0;
            }
    }
}
