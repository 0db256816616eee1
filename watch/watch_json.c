/*  watch_json.c — totals messages as JSON lines, for scripts and dashboards.

    See watch_json.h. jansson builds the object, so strings are escaped
    correctly whatever a region's name holds; integers stay exact (json_int_t
    is 64-bit).
*/
#include "watch_json.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  A map of metric key → value as a JSON object.
static json_t *
s_values (const proto_value_t *values, size_t count)
{
    json_t *object = json_object ();
    for (size_t i = 0; i < count; i++)
        json_object_set_new (object, values [i].key, json_integer (values [i].value));
    return object;
}

char *
watch_json_line (const proto_msg_t *totals)
{
    assert (totals);
    json_t *root = json_object ();
    json_object_set_new (root, "v", json_integer (PROTO_VERSION));
    json_object_set_new (root, "type", json_string (proto_type_name (totals->type)));
    json_object_set_new (root, "seq", json_integer (totals->seq));
    json_object_set_new (root, "region", json_string (totals->region));
    json_object_set_new (root, "name", json_string (totals->name ? totals->name : totals->region));
    json_object_set_new (root, "level", json_string (totals->level));
    json_object_set_new (root, "year", json_integer (totals->year));
    json_object_set_new (root, "as_of", json_string (totals->as_of));
    json_object_set_new (root, "values", s_values (totals->values, totals->value_count));
    if (totals->has_own)
        json_object_set_new (root, "own", s_values (totals->own, totals->own_count));
    json_object_set_new (root, "reported", json_integer (totals->reported));
    json_object_set_new (root, "expected", json_integer (totals->expected));
    json_object_set_new (root, "updated_at", json_integer (totals->updated_at));
    if (totals->has_version)
        json_object_set_new (root, "version", json_integer (totals->version));
    char *text = json_dumps (root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (root);
    if (!text)
        return NULL;
    size_t len = strlen (text);
    char *line = realloc (text, len + 2);
    if (!line) {
        free (text);
        return NULL;
    }
    line [len] = '\n';
    line [len + 1] = 0;
    return line;
}

int
watch_json_print (FILE *file, const proto_msg_t *totals)
{
    char *line = watch_json_line (totals);
    if (!line)
        return -1;
    int rc = fputs (line, file) < 0 || fflush (file) ? -1 : 0;
    free (line);
    return rc;
}
