/*  figures.h — a batch's changes to the figures of the rows it locked.

    tally_lock() returns the region_year rows a batch touches (its regions
    and all their ancestors, locked) with their figures by metric position,
    and the metrics with their positions and rules. The stored reports' values
    are offered; figures_merge() then applies the rules of docs/sql.md:
    per region, metric and year the newest as_of wins (ties: the higher
    report id); a leaf's figure, or any region's figure of a rule-`none`
    metric, is its own total; a leaf's change of a `sum` figure is added to
    every ancestor's total. A row the batch created is written, and every row
    above it too, with its count of children that have a row recounted
    (`above`). The changed rows go back with tally_write().
    Nothing here talks to the database.
*/
#ifndef FIGURES_H_INCLUDED
#define FIGURES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIGURES_DATE 11         //  "YYYY-MM-DD" and its terminator

typedef struct figures_t figures_t;

//  One locked row. Arrays are indexed by metric position, 1 .. npos.
typedef struct {
    char *region;
    int year;
    char *name;                 //  display name and level, for the feed
    char *level;
    int children;               //  regions below it (0: a leaf)
    bool leaf;                  //  a region without children
    bool created;               //  created by this batch (tally_lock's status 'new')
    int parent;                 //  the parent's row (same year), or -1 at the top
    bool *has_own;              //  own figures: present?
    int64_t *own;
    char (*own_as_of) [FIGURES_DATE];
    int64_t *own_report;
    bool *has_previous;         //  the figure each replaced (absent: it was the first)
    int64_t *previous;
    bool *has_total;            //  totals: present?
    int64_t *total;
    //  Set by figures_merge
    bool changed;               //  to be written
    bool own_changed;           //  some own figure won
    bool above;                 //  a created row with children, or an ancestor of a
                                //  created row: its `reported` (children with a
                                //  row) is recounted
    char as_of [FIGURES_DATE];  //  newest winning as_of here or below ("" none)
    int64_t version;            //  region_year.version, when the caller knows it (0 not)
} figures_row_t;

figures_t *figures_new (void);
void figures_destroy (figures_t **self_p);

//  A metric from tally_lock's reply. Returns 0, or -1 (position out of range).
int figures_add_metric (figures_t *self, const char *key, int pos, bool summed);

//  A locked row from tally_lock's reply (`created`: this batch created it);
//  arrays as PostgreSQL array literals ("{1,NULL,3}"), NULL for a NULL
//  column. Call after every metric. Returns 0, or -1 with a sentence in err
//  (a literal it cannot read).
int figures_add_row (figures_t *self, const char *region, int year, const char *parent,
                     int children, const char *name, const char *level, bool created,
                     const char *own, const char *own_as_of, const char *own_report,
                     const char *previous, const char *total, char *err, size_t err_size);

//  A value of a report stored in this batch. Returns 0, or -1 with a sentence
//  in err (a row or metric tally_lock did not return).
int figures_offer (figures_t *self, const char *region, int year, const char *as_of,
                   int64_t report_id, const char *metric, int64_t value,
                   char *err, size_t err_size);

//  Apply the offered values. Returns 0, or -1 with a sentence in err (a total
//  beyond bigint, a parent that was not locked).
int figures_merge (figures_t *self, char *err, size_t err_size);

//  Metric positions run 1 .. npos.
int figures_npos (figures_t *self);
size_t figures_row_count (figures_t *self);
const figures_row_t *figures_row (figures_t *self, size_t index);
//  The row of a region and year, or NULL.
const figures_row_t *figures_find (figures_t *self, const char *region, int year);
//  The metrics' positions in the order of their keys (strcmp), *count of
//  them, and the key at a position (NULL when none).
const int *figures_by_key (figures_t *self, size_t *count);
const char *figures_key (figures_t *self, int pos);
//  The parent's region code of a row, or NULL at the top.
const char *figures_parent_code (figures_t *self, size_t index);

//  Figures kept from batch to batch (the store's rows as last written):

//  An empty figures_t with the metrics of `from`.
figures_t *figures_new_like (figures_t *from);
//  The metrics as "key:pos:true,key:pos:false,..." in position order (true:
//  summed), as tally_apply() compares them. Freshly allocated.
char *figures_metric_signature (figures_t *self);
//  Copy the row of region and year from `from`, and each row above it, as
//  they are there (nothing changed, no candidates); rows already here are
//  left alone. Returns 0, or -1 when `from` lacks one of them.
int figures_copy_branch (figures_t *self, figures_t *from, const char *region, int year);
//  Put a copy of batch's row of region and year here with `version`,
//  replacing the row of the same region and year. Returns 0, or -1 when
//  batch has no such row or other metrics.
int figures_keep (figures_t *self, figures_t *batch, const char *region, int year,
                  int64_t version);
//  Drop the row of region and year, if here.
void figures_forget (figures_t *self, const char *region, int year);
//  Replace every own_report at or above `base` by ids [own_report - base - 1]
//  (ids of count reports; one out of range becomes 0).
void figures_map_reports (figures_t *self, int64_t base, const int64_t *ids, size_t count);

#endif
