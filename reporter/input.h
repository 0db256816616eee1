/*  input.h — the reports one `send` was given, read and checked.

    An input_t collects the reports read from one source of figures: a CSV
    file, a JSON file, or `--set KEY=VALUE` arguments. Rows are grouped into
    one report per (region, as_of). Everything the reporter can know locally is
    checked here (real dates, whole-number values, metric key syntax, at most
    256 values, note length and UTF-8); whether a region or metric exists is
    the collector's verdict. Every problem becomes one message naming the file,
    line (and column for CSV) and what is wrong; an input with any error must
    not be queued at all.

    `--region` and `--as-of` (input_options_t) fill in what a file does not
    say, and filter what it does: a file with a region column and --region
    keeps only that region's rows.
*/
#ifndef INPUT_H_INCLUDED
#define INPUT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto_msg.h"

#define INPUT_MAX_ERRORS    100         //  stop collecting after this many

//  Settings that apply to every report of an input (borrowed strings, may be NULL).
typedef struct {
    const char *region;                 //  default region, or filter on a region column
    const char *as_of;                  //  default as_of, or filter on an as_of column
    const char *note;                   //  note for reports that carry none
} input_options_t;

typedef struct _input_t input_t;

//  Create an empty input called `name` in messages ("data.csv", "<stdin>").
input_t *
    input_new (const char *name, const input_options_t *options);

//  Destroy an input and its reports; nulls the pointer.
void
    input_destroy (input_t **self_p);

//  Read a file ("-" is stdin); CSV or JSON by extension (.csv, .json) or,
//  failing that, by content (JSON starts with '{' or '['). Returns 0, or -1
//  when it recorded errors.
int
    input_read_file (input_t *self, const char *path);

//  Read CSV text (RFC 4180, UTF-8, optional BOM). See input_csv.c.
int
    input_read_csv (input_t *self, const char *data, size_t size);

//  Read JSON text: one report object or an array of them. See input_json.c.
int
    input_read_json (input_t *self, const char *data, size_t size);

//  Read `KEY=VALUE` settings given with --set (region and as_of come from
//  the options).
int
    input_read_sets (input_t *self, const char *const *sets, size_t count);

//  Final checks once everything is read: at least one report, each with at
//  least one value, and the --note applied. Returns 0, or -1 on any error
//  (including errors recorded while reading).
int
    input_finish (input_t *self);

//  Number of errors recorded, and the n-th message (borrowed).
size_t
    input_error_count (input_t *self);
const char *
    input_error_text (input_t *self, size_t index);

//  Print every error, one a line, to `out`.
void
    input_print_errors (input_t *self, FILE *out);

//  The reports, in the order they first appeared (borrowed).
size_t
    input_report_count (input_t *self);
proto_msg_t *
    input_report_at (input_t *self, size_t index);

//  Hex SHA-1 of the normalized reports (order of rows and values does not
//  matter), used by the outbox to recognise an input queued before. Valid
//  after input_finish; borrowed.
const char *
    input_digest (input_t *self);

//  The name used in messages.
const char *
    input_name (input_t *self);

//  -------------------------------------------------------------------------
//  For the readers (input_csv.c, input_json.c): record facts and errors.
//  `line`/`column` are 1-based; 0 means unknown and is left out of the message;
//  `what` names the column or key ("value", "as_of") and may be NULL.

void
    input_error (input_t *self, size_t line, size_t column, const char *what,
                 const char *format, ...) __attribute__ ((format (printf, 5, 6)));

//  Resolve a row's region and as_of (NULL when the file has none) against the
//  options: returns 1 when the row is kept (*region_p and *as_of_p set),
//  0 when --region/--as-of filter it out, -1 on an error (recorded).
int
    input_resolve (input_t *self, size_t line, size_t column_region, size_t column_as_of,
                   const char *region, const char *as_of,
                   const char **region_p, const char **as_of_p);

//  The report for (region, as_of), created on first use; NULL on error.
//  Region and as_of must already be resolved by input_resolve.
proto_msg_t *
    input_report (input_t *self, const char *region, const char *as_of);

//  Add a value given as text (whole number, optional sign); checks the key
//  syntax, the number, duplicates and the 256-value limit. 0 or -1.
int
    input_add_text (input_t *self, proto_msg_t *report, size_t line,
                    size_t key_column, size_t value_column, const char *key, const char *text);

//  Add a value already read as an integer (JSON); column is the key's. 0 or -1.
int
    input_add_value (input_t *self, proto_msg_t *report, size_t line, size_t column,
                     const char *key, int64_t value);

//  Set a report's note from the file; conflicting notes for one report are
//  an error. 0 or -1.
int
    input_set_note (input_t *self, proto_msg_t *report, size_t line, size_t column,
                    const char *note);

//  True when text is a metric key: 1-64 of [a-z0-9_], starting with a letter.
bool
    input_key_valid (const char *text);

//  Parse a whole number (optional sign, digits, surrounding blanks allowed)
//  into *value; false if it is not one or does not fit in int64.
bool
    input_parse_int (const char *text, int64_t *value);

#endif
