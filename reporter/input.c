/*  input.c — the reports one `send` was given, read and checked.

    See input.h. The readers (input_csv.c, input_json.c and the --set reader
    here) only tokenise; the checks every reader shares live here, so that a
    bad value reads the same whether it came from CSV, JSON or the command
    line.
*/
#include "input.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

struct _input_t {
    char *name;                         //  file name used in messages
    input_options_t options;            //  --region, --as-of, --note (copied)
    char *region;                       //  owned copies of the option strings
    char *as_of;
    char *note;
    proto_msg_t **reports;              //  reports in order of first appearance
    size_t report_count;
    size_t report_cap;
    zhashx_t *by_key;                   //  "region\tas_of" -> index + 1 (as pointer)
    zhashx_t *value_lines;              //  "region\tas_of\tkey" -> line + 1 (as pointer)
    zhashx_t *full_reported;            //  reports already told they have too many values
    zlistx_t *errors;                   //  char * messages
    size_t error_total;                 //  errors seen, including those not kept
    char digest [41];                   //  hex SHA-1 of the normalized reports
};

input_t *
input_new (const char *name, const input_options_t *options)
{
    input_t *self = (input_t *) zmalloc (sizeof (input_t));
    assert (self);
    self->name = strdup (name && *name ? name : "<input>");
    if (options) {
        self->region = options->region ? strdup (options->region) : NULL;
        self->as_of = options->as_of ? strdup (options->as_of) : NULL;
        self->note = options->note ? strdup (options->note) : NULL;
    }
    self->options.region = self->region;
    self->options.as_of = self->as_of;
    self->options.note = self->note;
    self->by_key = zhashx_new ();
    self->value_lines = zhashx_new ();
    self->full_reported = zhashx_new ();
    self->errors = zlistx_new ();
    zlistx_set_destructor (self->errors, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
input_destroy (input_t **self_p)
{
    assert (self_p);
    input_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->report_count; i++)
        proto_msg_destroy (&self->reports [i]);
    free (self->reports);
    zhashx_destroy (&self->by_key);
    zhashx_destroy (&self->value_lines);
    zhashx_destroy (&self->full_reported);
    zlistx_destroy (&self->errors);
    free (self->name);
    free (self->region);
    free (self->as_of);
    free (self->note);
    free (self);
    *self_p = NULL;
}

//  Read all of a stream into a malloc'd, NUL-terminated buffer.
static char *
s_read_stream (FILE *file, size_t *size)
{
    size_t cap = 65536, used = 0;
    char *data = (char *) malloc (cap);
    assert (data);
    while (true) {
        if (cap - used < 2) {
            cap *= 2;
            data = (char *) realloc (data, cap);
            assert (data);
        }
        size_t got = fread (data + used, 1, cap - used - 1, file);
        used += got;
        if (got == 0)
            break;
    }
    if (ferror (file)) {
        free (data);
        return NULL;
    }
    data [used] = 0;
    *size = used;
    return data;
}

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t length = strlen (text), suffix_length = strlen (suffix);
    return length >= suffix_length
        && strcasecmp (text + length - suffix_length, suffix) == 0;
}

int
input_read_file (input_t *self, const char *path)
{
    assert (self);
    bool from_stdin = strcmp (path, "-") == 0;
    FILE *file = from_stdin ? stdin : fopen (path, "rb");
    if (!file) {
        input_error (self, 0, 0, NULL, "cannot open the file: %s", strerror (errno));
        return -1;
    }
    size_t size = 0;
    char *data = s_read_stream (file, &size);
    int saved_errno = errno;
    if (!from_stdin)
        fclose (file);
    if (!data) {
        input_error (self, 0, 0, NULL, "cannot read the file: %s", strerror (saved_errno));
        return -1;
    }
    bool json;
    if (!from_stdin && s_ends_with (path, ".json"))
        json = true;
    else
    if (!from_stdin && s_ends_with (path, ".csv"))
        json = false;
    else {
        const char *scan = data;
        if (size >= 3 && memcmp (scan, "\xEF\xBB\xBF", 3) == 0)
            scan += 3;
        while (*scan && isspace ((unsigned char) *scan))
            scan++;
        json = *scan == '{' || *scan == '[';
    }
    int rc = json ? input_read_json (self, data, size) : input_read_csv (self, data, size);
    free (data);
    return rc;
}

int
input_read_sets (input_t *self, const char *const *sets, size_t count)
{
    assert (self);
    const char *region, *as_of;
    int kept = input_resolve (self, 0, 0, 0, NULL, NULL, &region, &as_of);
    //  Even without a usable region or date, check the figures, so that one
    //  run shows every mistake.
    proto_msg_t *scratch = kept <= 0 ? proto_msg_new (PROTO_REPORT) : NULL;
    proto_msg_t *report = scratch ? scratch : input_report (self, region, as_of);
    int rc = kept <= 0 ? -1 : 0;
    for (size_t i = 0; i < count; i++) {
        const char *equals = strchr (sets [i], '=');
        if (!equals || equals == sets [i]) {
            input_error (self, 0, 0, NULL,
                         "--set \"%s\" is not KEY=VALUE (e.g. --set projects_started=15)", sets [i]);
            rc = -1;
            continue;
        }
        char key [PROTO_MAX_NAME + 2];
        size_t key_length = (size_t) (equals - sets [i]);
        if (key_length > PROTO_MAX_NAME)
            key_length = PROTO_MAX_NAME + 1;      //  too long: the key check says so
        memcpy (key, sets [i], key_length);
        key [key_length] = 0;
        if (input_add_text (self, report, 0, 0, 0, key, equals + 1))
            rc = -1;
    }
    proto_msg_destroy (&scratch);
    return rc;
}

int
input_finish (input_t *self)
{
    assert (self);
    if (self->report_count == 0 && self->error_total == 0) {
        if (self->options.region || self->options.as_of)
            input_error (self, 0, 0, NULL, "no figures%s%s%s%s: nothing to send",
                         self->options.region ? " for region " : "",
                         self->options.region ? self->options.region : "",
                         self->options.as_of ? " as of " : "",
                         self->options.as_of ? self->options.as_of : "");
        else
            input_error (self, 0, 0, NULL, "no figures found: nothing to send");
    }
    for (size_t i = 0; i < self->report_count; i++) {
        proto_msg_t *report = self->reports [i];
        if (!report->note && self->options.note)
            input_set_note (self, report, 0, 0, self->options.note);
    }
    if (self->error_total)
        return -1;

    //  The digest: each report as one canonical line, lines sorted, so that
    //  the order of rows, objects or values does not change it.
    zlistx_t *lines = zlistx_new ();
    zlistx_set_destructor (lines, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (lines, (zlistx_comparator_fn *) strcmp);
    for (size_t i = 0; i < self->report_count; i++) {
        proto_msg_t *report = self->reports [i];
        zlistx_t *values = zlistx_new ();
        zlistx_set_destructor (values, (zlistx_destructor_fn *) zstr_free);
        zlistx_set_comparator (values, (zlistx_comparator_fn *) strcmp);
        for (size_t v = 0; v < report->value_count; v++)
            zlistx_add_end (values, zsys_sprintf ("%s=%" PRId64 "\x1e",
                            report->values [v].key, report->values [v].value));
        zlistx_sort (values);
        char *line = zsys_sprintf ("%s\x1f%s\x1f%s\x1f", report->region, report->as_of,
                                   report->note ? report->note : "");
        for (char *value = (char *) zlistx_first (values); value; value = (char *) zlistx_next (values)) {
            char *longer = zsys_sprintf ("%s%s", line, value);
            zstr_free (&line);
            line = longer;
        }
        zlistx_destroy (&values);
        zlistx_add_end (lines, line);
    }
    zlistx_sort (lines);
    zdigest_t *digest = zdigest_new ();
    for (char *line = (char *) zlistx_first (lines); line; line = (char *) zlistx_next (lines))
        zdigest_update (digest, (const byte *) line, strlen (line) + 1);
    snprintf (self->digest, sizeof self->digest, "%s", zdigest_string (digest));
    for (char *c = self->digest; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    zdigest_destroy (&digest);
    zlistx_destroy (&lines);
    return 0;
}

size_t
input_error_count (input_t *self)
{
    assert (self);
    return self->error_total;
}

const char *
input_error_text (input_t *self, size_t index)
{
    assert (self);
    size_t at = 0;
    for (char *text = (char *) zlistx_first (self->errors); text;
         text = (char *) zlistx_next (self->errors), at++)
        if (at == index)
            return text;
    return NULL;
}

void
input_print_errors (input_t *self, FILE *out)
{
    assert (self);
    for (char *text = (char *) zlistx_first (self->errors); text;
         text = (char *) zlistx_next (self->errors))
        fprintf (out, "%s\n", text);
    if (self->error_total > zlistx_size (self->errors))
        fprintf (out, "%s: ... and %zu more errors\n", self->name,
                 self->error_total - zlistx_size (self->errors));
}

size_t
input_report_count (input_t *self)
{
    assert (self);
    return self->report_count;
}

proto_msg_t *
input_report_at (input_t *self, size_t index)
{
    assert (self);
    return index < self->report_count ? self->reports [index] : NULL;
}

const char *
input_digest (input_t *self)
{
    assert (self);
    return self->digest;
}

const char *
input_name (input_t *self)
{
    assert (self);
    return self->name;
}

void
input_error (input_t *self, size_t line, size_t column, const char *what,
             const char *format, ...)
{
    assert (self);
    self->error_total++;
    if (zlistx_size (self->errors) >= INPUT_MAX_ERRORS)
        return;
    char where [256];
    int used = snprintf (where, sizeof where, "%s", self->name);
    if (line && used < (int) sizeof where)
        used += snprintf (where + used, sizeof where - used, ", line %zu", line);
    if (column && used < (int) sizeof where)
        used += snprintf (where + used, sizeof where - used, ", column %zu", column);
    if (what && used < (int) sizeof where)
        snprintf (where + used, sizeof where - used, " (%s)", what);
    va_list args;
    va_start (args, format);
    char message [1024];
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    zlistx_add_end (self->errors, zsys_sprintf ("%s: %s", where, message));
}

//  A region code as the wire allows it: 1-64 of [A-Za-z0-9._:-].
static bool
s_region_valid (const char *text)
{
    return proto_source_valid (text);
}

int
input_resolve (input_t *self, size_t line, size_t column_region, size_t column_as_of,
               const char *region, const char *as_of,
               const char **region_p, const char **as_of_p)
{
    assert (self);
    if (region && *region) {
        if (self->options.region && strcmp (region, self->options.region) != 0)
            return 0;
    }
    else
    if (self->options.region)
        region = self->options.region;
    else {
        input_error (self, line, column_region, column_region ? "region" : NULL,
                     column_region ? "the region is empty"
                                   : "no region given: the input has no region, so add --region CODE");
        return -1;
    }
    if (as_of && *as_of) {
        if (self->options.as_of && strcmp (as_of, self->options.as_of) != 0)
            return 0;
    }
    else
    if (self->options.as_of)
        as_of = self->options.as_of;
    else {
        input_error (self, line, column_as_of, column_as_of ? "as_of" : NULL,
                     column_as_of ? "the as_of date is empty"
                                  : "no as_of date given: the input has none, so add --as-of YYYY-MM-DD");
        return -1;
    }
    int rc = 1;
    if (!s_region_valid (region)) {
        input_error (self, line, column_region, column_region ? "region" : NULL,
                     "\"%.80s\" is not a region code (1-64 letters, digits or ._:- e.g. 220582)", region);
        rc = -1;
    }
    const char *problem = proto_date_problem (as_of);
    if (problem) {
        input_error (self, line, column_as_of, column_as_of ? "as_of" : NULL,
                     "\"%.80s\" %s", as_of, problem);
        rc = -1;
    }
    if (rc == 1) {
        *region_p = region;
        *as_of_p = as_of;
    }
    return rc;
}

proto_msg_t *
input_report (input_t *self, const char *region, const char *as_of)
{
    assert (self);
    char key [PROTO_MAX_NAME * 2 + 4];
    snprintf (key, sizeof key, "%s\t%s", region, as_of);
    uintptr_t index = (uintptr_t) zhashx_lookup (self->by_key, key);
    if (index)
        return self->reports [index - 1];
    if (self->report_count == self->report_cap) {
        self->report_cap = self->report_cap ? self->report_cap * 2 : 16;
        self->reports = (proto_msg_t **) realloc (self->reports,
                                                  self->report_cap * sizeof (proto_msg_t *));
        assert (self->reports);
    }
    proto_msg_t *report = proto_msg_new (PROTO_REPORT);
    snprintf (report->region, sizeof report->region, "%s", region);
    snprintf (report->as_of, sizeof report->as_of, "%s", as_of);
    self->reports [self->report_count++] = report;
    zhashx_insert (self->by_key, key, (void *) (uintptr_t) self->report_count);
    return report;
}

bool
input_key_valid (const char *text)
{
    size_t length = strlen (text);
    if (length < 1 || length > PROTO_MAX_NAME || !(text [0] >= 'a' && text [0] <= 'z'))
        return false;
    for (const char *c = text; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

bool
input_parse_int (const char *text, int64_t *value)
{
    while (*text == ' ' || *text == '\t')
        text++;
    const char *start = text;
    if (*text == '+' || *text == '-')
        text++;
    if (!(*text >= '0' && *text <= '9'))
        return false;
    while (*text >= '0' && *text <= '9')
        text++;
    const char *end = text;
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text)
        return false;
    char digits [32];
    if ((size_t) (end - start) >= sizeof digits)
        return false;
    memcpy (digits, start, (size_t) (end - start));
    digits [end - start] = 0;
    errno = 0;
    long long parsed = strtoll (digits, NULL, 10);
    if (errno == ERANGE)
        return false;
    *value = (int64_t) parsed;
    return true;
}

//  Why text is not a whole number, in words a county officer can act on.
static const char *
s_number_hint (const char *text)
{
    if (strchr (text, '.') || strchr (text, 'e') || strchr (text, 'E'))
        return "values are whole numbers in the metric's catalog unit "
               "(e.g. 47.7亿元 is written 477000 in 万元; 57.4% is 5740 in 0.01%)";
    if (strchr (text, ','))
        return "write the number without thousands separators";
    if (!*text)
        return "the value is empty";
    return "values are whole numbers in the metric's catalog unit, without units or other text";
}

//  Key "region\tas_of\tmetric" of one value, for duplicate detection.
static void
s_value_key (char *key, size_t size, proto_msg_t *report, const char *metric)
{
    snprintf (key, size, "%s\t%s\t%s", report->region, report->as_of, metric);
}

int
input_add_value (input_t *self, proto_msg_t *report, size_t line, size_t column,
                 const char *key, int64_t value)
{
    assert (self);
    assert (report);
    if (!input_key_valid (key)) {
        input_error (self, line, column, line ? "metric" : NULL,
                     "\"%.80s\" is not a metric key (1-64 of a-z, 0-9 and _, starting with a letter, "
                     "e.g. projects_started)", key);
        return -1;
    }
    char value_key [PROTO_MAX_NAME * 3 + 4];
    s_value_key (value_key, sizeof value_key, report, key);
    uintptr_t first = (uintptr_t) zhashx_lookup (self->value_lines, value_key);
    if (first) {
        if (first > 1)
            input_error (self, line, column, line ? "metric" : NULL,
                         "%s is given twice for region %s as of %s (first on line %zu)",
                         key, report->region, report->as_of, (size_t) (first - 1));
        else
            input_error (self, line, column, line ? "metric" : NULL, "%s is given twice for region %s as of %s",
                         key, report->region, report->as_of);
        return -1;
    }
    if (report->value_count >= PROTO_MAX_VALUES) {
        char report_key [PROTO_MAX_NAME * 2 + 4];
        snprintf (report_key, sizeof report_key, "%s\t%s", report->region, report->as_of);
        if (!zhashx_lookup (self->full_reported, report_key)) {
            zhashx_insert (self->full_reported, report_key, (void *) 1);
            input_error (self, line, column, line ? "metric" : NULL,
                         "region %s as of %s has more than %d values; split it into several reports",
                         report->region, report->as_of, PROTO_MAX_VALUES);
        }
        else
            self->error_total++;        //  counted, not repeated
        return -1;
    }
    int rc = proto_msg_add_value (report, false, key, value);
    assert (rc == 0);
    zhashx_insert (self->value_lines, value_key, (void *) (uintptr_t) (line + 1));
    return 0;
}

int
input_add_text (input_t *self, proto_msg_t *report, size_t line,
                size_t key_column, size_t value_column, const char *key, const char *text)
{
    int64_t value;
    if (!input_parse_int (text, &value)) {
        input_error (self, line, value_column, line ? "value" : NULL,
                     "%s%s value \"%.80s\" is not a whole number: %s",
                     line ? "" : "--set ", key, text, s_number_hint (text));
        return -1;
    }
    return input_add_value (self, report, line, key_column, key, value);
}

int
input_set_note (input_t *self, proto_msg_t *report, size_t line, size_t column,
                const char *note)
{
    assert (self);
    size_t length = strlen (note);
    if (!proto_utf8_valid (note, length)) {
        input_error (self, line, column, "note", "the note is not valid UTF-8");
        return -1;
    }
    if (length > PROTO_MAX_NOTE) {
        input_error (self, line, column, "note", "the note is %zu bytes long; at most %d are allowed",
                     length, PROTO_MAX_NOTE);
        return -1;
    }
    if (report->note && strcmp (report->note, note) != 0) {
        input_error (self, line, column, "note",
                     "region %s as of %s already has a different note; give one note per report",
                     report->region, report->as_of);
        return -1;
    }
    if (length)
        proto_msg_set_note (report, note);
    return 0;
}
