/*  input_json.c — read figures from JSON.

    The file holds one report object or an array of them:

        {"region": "220582", "as_of": "2022-02-28",
         "values": {"projects_started": 15, "cattle_added": 1239},
         "note": "optional free text"}

    Values are JSON integers in the metric's catalog unit. A missing region or
    as_of is taken from --region / --as-of; when present, those options keep
    only the matching objects.

    jansson parses and reports syntax errors with line and column, but keeps
    no positions for the values it returns. To say where a wrong value is,
    s_locate walks the (already valid) text again along the path of the value.
*/
#include "input.h"

#include <czmq.h>
#include <jansson.h>
#include <string.h>

//  -------------------------------------------------------------------------
//  Finding a value's line and column in text jansson has already accepted.

typedef struct {
    const char *text;
    size_t size;
    size_t pos;
} s_scan_t;

static void
s_skip_blank (s_scan_t *scan)
{
    while (scan->pos < scan->size
       && (scan->text [scan->pos] == ' ' || scan->text [scan->pos] == '\t'
        || scan->text [scan->pos] == '\n' || scan->text [scan->pos] == '\r'))
        scan->pos++;
}

//  At a '"': move past the closing quote.
static void
s_skip_string (s_scan_t *scan)
{
    scan->pos++;
    while (scan->pos < scan->size && scan->text [scan->pos] != '"')
        scan->pos += scan->text [scan->pos] == '\\' ? 2 : 1;
    scan->pos++;
}

//  At any value: move past it.
static void
s_skip_value (s_scan_t *scan)
{
    s_skip_blank (scan);
    if (scan->pos >= scan->size)
        return;
    char c = scan->text [scan->pos];
    if (c == '"')
        s_skip_string (scan);
    else
    if (c == '{' || c == '[') {
        int depth = 0;
        while (scan->pos < scan->size) {
            c = scan->text [scan->pos];
            if (c == '"') {
                s_skip_string (scan);
                continue;
            }
            scan->pos++;
            if (c == '{' || c == '[')
                depth++;
            else
            if ((c == '}' || c == ']') && --depth == 0)
                return;
        }
    }
    else
        while (scan->pos < scan->size && !strchr (",]} \t\r\n", scan->text [scan->pos]))
            scan->pos++;
}

//  At a '{': find member `key`; leaves pos at the key (at_key) or its value.
static bool
s_find_key (s_scan_t *scan, const char *key, bool at_key)
{
    s_skip_blank (scan);
    if (scan->pos >= scan->size || scan->text [scan->pos] != '{')
        return false;
    scan->pos++;
    size_t key_length = strlen (key);
    while (true) {
        s_skip_blank (scan);
        if (scan->pos >= scan->size || scan->text [scan->pos] != '"')
            return false;
        size_t key_at = scan->pos;
        s_skip_string (scan);
        bool match = scan->pos - key_at - 2 == key_length
                  && memcmp (scan->text + key_at + 1, key, key_length) == 0;
        s_skip_blank (scan);
        scan->pos++;                    //  ':'
        s_skip_blank (scan);
        if (match) {
            if (at_key)
                scan->pos = key_at;
            return true;
        }
        s_skip_value (scan);
        s_skip_blank (scan);
        if (scan->pos >= scan->size || scan->text [scan->pos] != ',')
            return false;
        scan->pos++;
    }
}

//  At a '[': move to element `index`.
static bool
s_find_index (s_scan_t *scan, size_t index)
{
    s_skip_blank (scan);
    if (scan->pos >= scan->size || scan->text [scan->pos] != '[')
        return false;
    scan->pos++;
    for (size_t i = 0; i < index; i++) {
        s_skip_value (scan);
        s_skip_blank (scan);
        if (scan->pos >= scan->size || scan->text [scan->pos] != ',')
            return false;
        scan->pos++;
    }
    s_skip_blank (scan);
    return true;
}

typedef struct {
    input_t *input;
    const char *text;
    size_t size;
    bool is_array;                      //  the top level is an array of reports
} s_json_t;

//  Line and column (in characters) of root[index].key.subkey, or of the
//  deepest part of that path that exists. subkey is located at its key.
static void
s_locate (s_json_t *self, size_t index, const char *key, const char *subkey,
          size_t *line, size_t *column)
{
    s_scan_t scan = { self->text, self->size, 0 };
    size_t best = 0;
    if (!self->is_array || s_find_index (&scan, index)) {
        s_skip_blank (&scan);
        best = scan.pos;
        if (key && s_find_key (&scan, key, false)) {
            best = scan.pos;
            if (subkey && s_find_key (&scan, subkey, true))
                best = scan.pos;
        }
    }
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < best && i < self->size; i++) {
        unsigned char c = (unsigned char) self->text [i];
        if (c == '\n') {
            (*line)++;
            *column = 1;
        }
        else
        if ((c & 0xC0) != 0x80)
            (*column)++;
    }
}

//  One report object, element `index` of the top level (0 for a lone object).
static void
s_read_object (s_json_t *self, json_t *object, size_t index)
{
    input_t *input = self->input;
    size_t line, column;
    const char *key;
    json_t *value;
    bool ok = true;
    json_object_foreach (object, key, value) {
        if (strcmp (key, "region") && strcmp (key, "as_of") && strcmp (key, "values")
        &&  strcmp (key, "note")) {
            s_locate (self, index, key, NULL, &line, &column);
            input_error (input, line, column, NULL, "unknown key \"%.64s\": a report has "
                         "region, as_of, values and (optionally) note", key);
            ok = false;
        }
    }
    const char *region = NULL, *as_of = NULL;
    json_t *region_json = json_object_get (object, "region");
    s_locate (self, index, "region", NULL, &line, &column);
    if (region_json && !json_is_string (region_json)) {
        input_error (input, line, column, "region", "the region must be a string, e.g. \"220582\"");
        ok = false;
    }
    else
    if (region_json) {
        region = json_string_value (region_json);
        if (!proto_source_valid (region)) {
            input_error (input, line, column, "region", "\"%.80s\" is not a region code "
                         "(1-64 letters, digits or ._:- e.g. 220582)", region);
            ok = false;
        }
    }
    json_t *as_of_json = json_object_get (object, "as_of");
    s_locate (self, index, "as_of", NULL, &line, &column);
    if (as_of_json && !json_is_string (as_of_json)) {
        input_error (input, line, column, "as_of", "as_of must be a date string \"YYYY-MM-DD\"");
        ok = false;
    }
    else
    if (as_of_json) {
        as_of = json_string_value (as_of_json);
        const char *problem = proto_date_problem (as_of);
        if (problem) {
            input_error (input, line, column, "as_of", "\"%.80s\" %s", as_of, problem);
            ok = false;
        }
    }
    json_t *values = json_object_get (object, "values");
    s_locate (self, index, values ? "values" : NULL, NULL, &line, &column);
    if (!values) {
        input_error (input, line, column, NULL, "the report has no \"values\" object");
        ok = false;
    }
    else
    if (!json_is_object (values) || json_object_size (values) == 0) {
        input_error (input, line, column, "values", "values must be a non-empty object "
                     "of metric keys and whole numbers, e.g. {\"projects_started\": 15}");
        ok = false;
    }
    json_t *note = json_object_get (object, "note");
    if (note && !json_is_string (note) && !json_is_null (note)) {
        s_locate (self, index, "note", NULL, &line, &column);
        input_error (input, line, column, "note", "the note must be a string");
        ok = false;
    }
    if (!ok)
        return;
    s_locate (self, index, NULL, NULL, &line, &column);
    const char *region_used, *as_of_used;
    if (input_resolve (input, line, 0, 0, region, as_of, &region_used, &as_of_used) <= 0)
        return;
    proto_msg_t *report = input_report (input, region_used, as_of_used);
    json_object_foreach (values, key, value) {
        s_locate (self, index, "values", key, &line, &column);
        if (json_is_integer (value))
            input_add_value (input, report, line, column, key, (int64_t) json_integer_value (value));
        else
        if (json_is_real (value))
            input_error (input, line, column, key, "%g is not a whole number: values are whole "
                         "numbers in the metric's catalog unit (e.g. 47.7亿元 is written 477000 in 万元)",
                         json_real_value (value));
        else
            input_error (input, line, column, key, "the value must be a whole number%s",
                         json_is_string (value) ? " written without quotes" : "");
    }
    if (note && json_is_string (note)) {
        s_locate (self, index, "note", NULL, &line, &column);
        input_set_note (input, report, line, column, json_string_value (note));
    }
}

int
input_read_json (input_t *input, const char *data, size_t size)
{
    assert (input);
    size_t errors_before = input_error_count (input);
    if (size >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        size -= 3;
    }
    json_error_t error;
    json_t *root = json_loadb (data, size, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        input_error (input, error.line > 0 ? (size_t) error.line : 0,
                     error.column > 0 ? (size_t) error.column : 0, NULL,
                     "invalid JSON: %s", error.text);
        return -1;
    }
    s_json_t self = { input, data, size, json_is_array (root) };
    if (json_is_object (root))
        s_read_object (&self, root, 0);
    else
    if (json_array_size (root) == 0)
        input_error (input, 1, 0, NULL, "the array holds no reports");
    else {
        size_t index;
        json_t *element;
        json_array_foreach (root, index, element) {
            if (json_is_object (element))
                s_read_object (&self, element, index);
            else {
                size_t line, column;
                s_locate (&self, index, NULL, NULL, &line, &column);
                input_error (input, line, column, NULL,
                             "element %zu of the array is not a report object", index + 1);
            }
        }
    }
    json_decref (root);
    return input_error_count (input) > errors_before ? -1 : 0;
}
