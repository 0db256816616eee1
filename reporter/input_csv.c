/*  input_csv.c — read figures from CSV (RFC 4180, UTF-8, optional BOM).

    Two shapes are accepted, told apart by the header line:
    - `metric,value` (plus any other columns): the figures of one report,
      whose region and as_of come from --region and --as-of; the header may
      be left out when every row is exactly `metric,value`;
    - rows with the columns `region`, `as_of`, `metric`, `value` (in any
      order, other columns ignored, e.g. the seed file's region_name, unit
      and source): one report per (region, as_of). --region and --as-of then
      keep only the matching rows.
    An optional `note` column gives the report's note.

    libcsv does the tokenising in strict mode. It does not say where it is,
    so we feed it one byte at a time and count lines ourselves: a record's
    line is the physical line it starts on, its column the field's position.
*/
#include "input.h"

#include <csv.h>
#include <czmq.h>
#include <ctype.h>
#include <string.h>

//  Columns we know, by position in the header (-1 when absent).
typedef enum { S_REGION, S_AS_OF, S_METRIC, S_VALUE, S_NOTE, S_COLUMNS } s_column_t;
static const char *s_column_names [S_COLUMNS] = { "region", "as_of", "metric", "value", "note" };

typedef struct {
    input_t *input;                     //  where reports and errors go
    char **fields;                      //  fields of the record being read
    size_t field_count;
    size_t field_cap;
    size_t line;                        //  physical line being fed (1-based)
    size_t record_line;                 //  line the current record started on, 0 between records
    size_t records;                     //  records seen so far
    int column [S_COLUMNS];             //  0-based position of each known column, or -1
    size_t header_width;                //  fields in the header
    bool header_bad;                    //  the header was unusable: ignore the rest
    char **header;                      //  header names (for messages)
} s_csv_t;

static void
s_clear_fields (s_csv_t *self)
{
    for (size_t i = 0; i < self->field_count; i++)
        free (self->fields [i]);
    self->field_count = 0;
}

//  libcsv: one field has been read.
static void
s_on_field (void *data, size_t size, void *arg)
{
    s_csv_t *self = (s_csv_t *) arg;
    if (self->field_count == self->field_cap) {
        self->field_cap = self->field_cap ? self->field_cap * 2 : 16;
        self->fields = (char **) realloc (self->fields, self->field_cap * sizeof (char *));
        assert (self->fields);
    }
    char *field = (char *) malloc (size + 1);
    assert (field);
    if (size)
        memcpy (field, data, size);
    field [size] = 0;
    //  A NUL inside a field would silently cut it short; make it visible.
    if (strlen (field) != size) {
        for (size_t i = 0; i < size; i++)
            if (!field [i])
                field [i] = '\x01';
    }
    self->fields [self->field_count++] = field;
}

static char *
s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t length = strlen (text);
    while (length && (text [length - 1] == ' ' || text [length - 1] == '\t'))
        text [--length] = 0;
    return text;
}

//  Does the record look like figures without a header: exactly metric,value?
static bool
s_is_headerless (s_csv_t *self)
{
    int64_t value;
    return self->field_count == 2 && input_parse_int (self->fields [1], &value);
}

//  Learn the columns from the header; false when it is unusable (error recorded).
static bool
s_read_header (s_csv_t *self, size_t line)
{
    for (int c = 0; c < S_COLUMNS; c++)
        self->column [c] = -1;
    self->header_width = self->field_count;
    self->header = (char **) zmalloc (self->field_count * sizeof (char *));
    for (size_t i = 0; i < self->field_count; i++) {
        char *name = s_trim (self->fields [i]);
        for (char *c = name; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        self->header [i] = strdup (name);
        for (int c = 0; c < S_COLUMNS; c++)
            if (strcmp (name, s_column_names [c]) == 0) {
                if (self->column [c] >= 0) {
                    input_error (self->input, line, i + 1, s_column_names [c],
                                 "the header names the column %s twice (also column %d)",
                                 s_column_names [c], self->column [c] + 1);
                    return false;
                }
                self->column [c] = (int) i;
            }
    }
    if (self->column [S_METRIC] < 0 || self->column [S_VALUE] < 0) {
        input_error (self->input, line, 0, NULL,
                     "the first line must be a header naming the columns metric and value "
                     "(and region, as_of unless --region and --as-of give them), e.g. "
                     "\"region,as_of,metric,value\"; found %zu column%s not including %s",
                     self->field_count, self->field_count == 1 ? "" : "s",
                     self->column [S_METRIC] < 0 ? "metric" : "value");
        return false;
    }
    return true;
}

//  One data record: resolve its report and add its value.
static void
s_read_row (s_csv_t *self, size_t line)
{
    input_t *input = self->input;
    if (self->field_count != self->header_width) {
        input_error (input, line, 0, NULL, "this row has %zu field%s but the header has %zu "
                     "(a field containing a comma must be in double quotes)",
                     self->field_count, self->field_count == 1 ? "" : "s", self->header_width);
        return;
    }
    bool ok = true;
    for (size_t i = 0; i < self->field_count; i++) {
        if (!proto_utf8_valid (self->fields [i], strlen (self->fields [i]))
        ||  strchr (self->fields [i], '\x01')) {
            input_error (input, line, i + 1, self->header ? self->header [i] : NULL,
                         "the text is not valid UTF-8 (save the file as UTF-8)");
            ok = false;
        }
    }
    if (!ok)
        return;
    const char *region = NULL, *as_of = NULL;
    int at = self->column [S_REGION];
    if (at >= 0)
        region = s_trim (self->fields [at]);
    at = self->column [S_AS_OF];
    if (at >= 0)
        as_of = s_trim (self->fields [at]);
    if (self->column [S_REGION] >= 0 && !*region)
        region = NULL;
    if (self->column [S_AS_OF] >= 0 && !*as_of)
        as_of = NULL;
    //  An empty region/as_of cell with a column present is an error, not a default.
    if ((self->column [S_REGION] >= 0 && !region) || (self->column [S_AS_OF] >= 0 && !as_of)) {
        bool no_region = self->column [S_REGION] >= 0 && !region;
        input_error (input, line, (size_t) self->column [no_region ? S_REGION : S_AS_OF] + 1,
                     no_region ? "region" : "as_of", "the %s is empty", no_region ? "region" : "as_of date");
        return;
    }
    const char *region_used, *as_of_used;
    int kept = input_resolve (input, line,
                              (size_t) (self->column [S_REGION] + 1),
                              (size_t) (self->column [S_AS_OF] + 1),
                              region, as_of, &region_used, &as_of_used);
    if (kept <= 0)
        return;
    proto_msg_t *report = input_report (input, region_used, as_of_used);
    char *metric = s_trim (self->fields [self->column [S_METRIC]]);
    char *value = s_trim (self->fields [self->column [S_VALUE]]);
    if (!*metric) {
        input_error (input, line, (size_t) self->column [S_METRIC] + 1, "metric", "the metric is empty");
        return;
    }
    input_add_text (input, report, line,
                    (size_t) self->column [S_METRIC] + 1, (size_t) self->column [S_VALUE] + 1,
                    metric, value);
    if (self->column [S_NOTE] >= 0) {
        char *note = s_trim (self->fields [self->column [S_NOTE]]);
        if (*note)
            input_set_note (input, report, line, (size_t) self->column [S_NOTE] + 1, note);
    }
}

//  libcsv: a record has ended.
static void
s_on_record (int terminator, void *arg)
{
    (void) terminator;
    s_csv_t *self = (s_csv_t *) arg;
    size_t line = self->record_line ? self->record_line : self->line;
    self->record_line = 0;
    if (self->header_bad) {
        s_clear_fields (self);
        return;
    }
    if (self->records++ == 0) {
        if (s_is_headerless (self)) {
            //  Bare metric,value rows: as if the header said so.
            self->header_width = 2;
            for (int c = 0; c < S_COLUMNS; c++)
                self->column [c] = -1;
            self->column [S_METRIC] = 0;
            self->column [S_VALUE] = 1;
            s_read_row (self, line);
        }
        else
        if (!s_read_header (self, line))
            self->header_bad = true;
    }
    else
        s_read_row (self, line);
    s_clear_fields (self);
}

int
input_read_csv (input_t *input, const char *data, size_t size)
{
    assert (input);
    size_t errors_before = input_error_count (input);
    if (size >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        size -= 3;
    }
    s_csv_t self = { .input = input, .line = 1 };
    struct csv_parser parser;
    int rc = csv_init (&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    assert (rc == 0);
    bool failed = false;
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = (unsigned char) data [i];
        if (!self.record_line && byte != '\r' && byte != '\n')
            self.record_line = self.line;
        if (csv_parse (&parser, data + i, 1, s_on_field, s_on_record, &self) != 1) {
            if (csv_error (&parser) == CSV_EPARSE)
                input_error (input, self.line, self.field_count + 1, NULL,
                             "malformed CSV quoting: a quote inside an unquoted field or text after "
                             "a closing quote (put the whole field in double quotes and double "
                             "any quote inside it)");
            else
                input_error (input, self.line, 0, NULL, "cannot parse: %s",
                             csv_strerror (csv_error (&parser)));
            failed = true;
            break;
        }
        if (byte == '\n')
            self.line++;
    }
    if (!failed && csv_fini (&parser, s_on_field, s_on_record, &self) != 0)
        input_error (input, self.record_line ? self.record_line : self.line, self.field_count + 1, NULL,
                     "a quoted field is never closed (missing closing double quote)");
    csv_free (&parser);
    s_clear_fields (&self);
    free (self.fields);
    if (self.header) {
        for (size_t i = 0; i < self.header_width; i++)
            free (self.header [i]);
        free (self.header);
    }
    if (self.records == 0 && !failed)
        input_error (input, 0, 0, NULL, "the file is empty");
    return input_error_count (input) > errors_before ? -1 : 0;
}
