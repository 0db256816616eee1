/*  proto_msg.c — one message of the tally wire protocol: encode and decode.

    The only code in tally that includes msgpack.h. Decoding runs in three
    steps, in the order PROTOCOL.md fixes for the nack codes:

    1. size: more than max_body bytes is too_large, before anything is read;
    2. scan: a bounded walk over the raw bytes (s_scan_*) that proves the body
       is one map with string keys, at most two levels deep, whose declared
       lengths all fit in the bytes that are actually there, with valid UTF-8
       in every string and nothing after it; anything else is malformed. Only
       then does msgpack-c see the bytes, because msgpack_unpack_next
       preallocates memory for whatever element count the wire declares;
    3. fields: `v`, `type`, duplicate keys, then each key of the message type
       with its type and range (s_get_*), giving unsupported_version, invalid
       or too_large with one sentence naming the key.

    Encoding packs the keys PROTOCOL.md lists, `v` first, then checks its own
    output with the decoder, so that encode and decode can never disagree on
    what a valid message is.
*/
#include "proto_msg.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The schema's deepest container: the top-level map holding `values`/`own`.
#define S_MAX_DEPTH     2
//  How much of a string from the wire an error sentence quotes.
#define S_QUOTE_MAX     64

//  ---------------------------------------------------------------------------
//  Names on the wire

static const char *const s_code_names [] = {
    "ok", "malformed", "invalid", "unsupported_version", "too_large",
    "unknown_region", "unknown_metric", "forbidden", "conflict", "unavailable"
};
#define S_CODE_COUNT    (sizeof (s_code_names) / sizeof (s_code_names [0]))

static const char *const s_type_names [] = {
    NULL, "report", "ack", "nack", "totals", "heartbeat",
    "snapshot", "snapshot_end", "ping", "pong"
};
#define S_TYPE_COUNT    (sizeof (s_type_names) / sizeof (s_type_names [0]))

const char *
proto_code_name (proto_code_t code)
{
    if ((unsigned) code < S_CODE_COUNT)
        return s_code_names [code];
    return "unknown";
}

int
proto_code_from_name (const char *name, proto_code_t *code)
{
    for (size_t i = 0; name && i < S_CODE_COUNT; i++)
        if (strcmp (name, s_code_names [i]) == 0) {
            if (code)
                *code = (proto_code_t) i;
            return 0;
        }
    return -1;
}

//  Only an unreachable database is worth resending; every other verdict
//  would be the same the next time.
bool
proto_code_is_permanent (proto_code_t code)
{
    return code != PROTO_UNAVAILABLE;
}

const char *
proto_type_name (proto_type_t type)
{
    if ((unsigned) type >= PROTO_REPORT && (unsigned) type < S_TYPE_COUNT)
        return s_type_names [type];
    return "unknown";
}

//  ---------------------------------------------------------------------------
//  Messages

proto_msg_t *
proto_msg_new (proto_type_t type)
{
    proto_msg_t *self = calloc (1, sizeof (proto_msg_t));
    if (!self)
        abort ();                   //  as czmq does: out of memory is fatal
    self->type = type;
    return self;
}

void
proto_msg_destroy (proto_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proto_msg_t *self = *self_p;
    free (self->values);
    free (self->own);
    free (self->note);
    free (self->error);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  Every list is capped at PROTO_MAX_VALUES, the most a decoder accepts, so
//  that whatever is built here can be sent.
int
proto_msg_add_value (proto_msg_t *self, bool own, const char *key, int64_t value)
{
    if (!self || !key)
        return -1;
    size_t len = strnlen (key, PROTO_MAX_NAME + 1);
    proto_value_t **list = own ? &self->own : &self->values;
    size_t *count = own ? &self->own_count : &self->value_count;
    if (len == 0 || len > PROTO_MAX_NAME || *count >= PROTO_MAX_VALUES)
        return -1;
    proto_value_t *grown = realloc (*list, (*count + 1) * sizeof (proto_value_t));
    if (!grown)
        abort ();
    *list = grown;
    memcpy (grown [*count].key, key, len + 1);
    grown [*count].value = value;
    (*count)++;
    if (own)
        self->has_own = true;
    return 0;
}

static void
s_set_text (char **field, const char *text)
{
    free (*field);
    *field = NULL;
    if (text) {
        *field = strdup (text);
        if (!*field)
            abort ();
    }
}

void
proto_msg_set_note (proto_msg_t *self, const char *text)
{
    if (self)
        s_set_text (&self->note, text);
}

void
proto_msg_set_error (proto_msg_t *self, const char *text)
{
    if (self)
        s_set_text (&self->error, text);
}

void
proto_msg_set_name (proto_msg_t *self, const char *text)
{
    if (self)
        s_set_text (&self->name, text);
}

bool
proto_msg_value (const proto_msg_t *self, bool own, const char *key, int64_t *value)
{
    if (!self || !key)
        return false;
    const proto_value_t *list = own ? self->own : self->values;
    size_t count = own ? self->own_count : self->value_count;
    for (size_t i = 0; i < count; i++)
        if (strcmp (list [i].key, key) == 0) {
            if (value)
                *value = list [i].value;
            return true;
        }
    return false;
}

//  ---------------------------------------------------------------------------
//  Errors

//  The longest prefix of at most max bytes of valid UTF-8 that does not cut
//  a character in two, so quoted wire text keeps an error sentence valid.
static int
s_quote_len (const char *text, size_t size, size_t max)
{
    if (size <= max)
        return (int) size;
    size_t len = max;
    while (len > 0 && ((unsigned char) text [len] & 0xC0) == 0x80)
        len--;
    return (int) len;
}

static int
s_fail (proto_error_t *err, proto_code_t code, const char *format, ...)
{
    err->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (err->text, sizeof (err->text), format, args);
    va_end (args);
    //  A sentence cut at the buffer's end may end inside a character;
    //  everything quoted in it is valid UTF-8, so only the tail can be bad.
    size_t len = strlen (err->text);
    while (len > 0 && !proto_utf8_valid (err->text, len))
        err->text [--len] = 0;
    return -1;
}

//  ---------------------------------------------------------------------------
//  Scan: the bounded walk over raw bytes that runs before msgpack-c

typedef struct {
    const uint8_t *data;            //  the body
    size_t size;                    //  its length
    size_t pos;                     //  next byte to read
    const char *key;                //  last top-level key read, for messages
    size_t key_len;
    proto_error_t *err;
} s_scan_t;

static size_t
s_left (const s_scan_t *scan)
{
    return scan->size - scan->pos;
}

//  Read an n-byte big-endian length; -1 when the bytes are not there.
static int
s_scan_length (s_scan_t *scan, size_t n, uint64_t *value)
{
    if (s_left (scan) < n)
        return s_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    *value = 0;
    for (size_t i = 0; i < n; i++)
        *value = (*value << 8) | scan->data [scan->pos++];
    return 0;
}

static int
s_scan_skip (s_scan_t *scan, uint64_t n)
{
    if (s_left (scan) < n)
        return s_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    scan->pos += (size_t) n;
    return 0;
}

static int s_scan_value (s_scan_t *scan, int depth);

//  A string of len bytes at the current position, which must be UTF-8.
static int
s_scan_string_body (s_scan_t *scan, uint64_t len, bool is_key, int depth)
{
    if (s_left (scan) < len)
        return s_fail (scan->err, PROTO_MALFORMED,
            "a string declares %" PRIu64 " bytes but only %zu are left", len, s_left (scan));
    const char *text = (const char *) scan->data + scan->pos;
    if (!proto_utf8_valid (text, (size_t) len)) {
        if (is_key || !scan->key)
            return s_fail (scan->err, PROTO_MALFORMED, "a map key is not valid UTF-8");
        return s_fail (scan->err, PROTO_MALFORMED,
            "key '%.*s' holds a string that is not valid UTF-8",
            s_quote_len (scan->key, scan->key_len, S_QUOTE_MAX), scan->key);
    }
    if (is_key && depth == 1) {
        scan->key = text;
        scan->key_len = (size_t) len;
    }
    scan->pos += (size_t) len;
    return 0;
}

//  Map keys must be strings: the body is "a map with string keys", so any
//  other key is an encoding error (malformed), at every level.
static int
s_scan_key (s_scan_t *scan, int depth)
{
    if (s_left (scan) < 1)
        return s_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    uint8_t b = scan->data [scan->pos++];
    uint64_t len;
    if (b >= 0xa0 && b <= 0xbf)
        len = b & 0x1f;
    else
    if (b == 0xd9 || b == 0xda || b == 0xdb) {
        if (s_scan_length (scan, (size_t) 1 << (b - 0xd9), &len))
            return -1;
    }
    else
        return s_fail (scan->err, PROTO_MALFORMED, "a map key is not a string");
    return s_scan_string_body (scan, len, true, depth);
}

//  count entries of a map (or elements of an array) at the given depth. Each
//  takes at least one byte per key and value, which bounds any count the wire
//  declares by the bytes that are left.
static int
s_scan_container (s_scan_t *scan, uint64_t count, bool is_map, int depth)
{
    if (depth > S_MAX_DEPTH)
        return s_fail (scan->err, PROTO_MALFORMED,
            "message nests containers deeper than %d levels", S_MAX_DEPTH);
    uint64_t least = is_map ? count * 2 : count;
    if (least > s_left (scan))
        return s_fail (scan->err, PROTO_MALFORMED,
            "%s declares %" PRIu64 " entries but only %zu bytes are left",
            is_map ? "a map" : "an array", count, s_left (scan));
    for (uint64_t i = 0; i < count; i++) {
        if (is_map && s_scan_key (scan, depth))
            return -1;
        if (s_scan_value (scan, depth))
            return -1;
    }
    return 0;
}

//  One value whose container is at the given depth (0 for the body itself).
static int
s_scan_value (s_scan_t *scan, int depth)
{
    if (s_left (scan) < 1)
        return s_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    uint8_t b = scan->data [scan->pos++];
    uint64_t len;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;                               //  fixint, nil, bool
    if (b >= 0x80 && b <= 0x8f)
        return s_scan_container (scan, b & 0x0f, true, depth + 1);
    if (b >= 0x90 && b <= 0x9f)
        return s_scan_container (scan, b & 0x0f, false, depth + 1);
    if (b >= 0xa0 && b <= 0xbf)
        return s_scan_string_body (scan, b & 0x1f, false, depth);
    switch (b) {
        case 0xc4: case 0xc5: case 0xc6:        //  bin 8/16/32
            if (s_scan_length (scan, (size_t) 1 << (b - 0xc4), &len))
                return -1;
            return s_scan_skip (scan, len);
        case 0xc7: case 0xc8: case 0xc9:        //  ext 8/16/32: length, type, data
            if (s_scan_length (scan, (size_t) 1 << (b - 0xc7), &len))
                return -1;
            return s_scan_skip (scan, len + 1);
        case 0xca: return s_scan_skip (scan, 4);    //  float 32
        case 0xcb: return s_scan_skip (scan, 8);    //  float 64
        case 0xcc: case 0xcd: case 0xce: case 0xcf: //  uint 8..64
            return s_scan_skip (scan, (size_t) 1 << (b - 0xcc));
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: //  int 8..64
            return s_scan_skip (scan, (size_t) 1 << (b - 0xd0));
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:  //  fixext 1..16
            return s_scan_skip (scan, 1 + ((size_t) 1 << (b - 0xd4)));
        case 0xd9: case 0xda: case 0xdb:        //  str 8/16/32
            if (s_scan_length (scan, (size_t) 1 << (b - 0xd9), &len))
                return -1;
            return s_scan_string_body (scan, len, false, depth);
        case 0xdc: case 0xdd:                   //  array 16/32
            if (s_scan_length (scan, (size_t) 2 << (b - 0xdc), &len))
                return -1;
            return s_scan_container (scan, len, false, depth + 1);
        case 0xde: case 0xdf:                   //  map 16/32
            if (s_scan_length (scan, (size_t) 2 << (b - 0xde), &len))
                return -1;
            return s_scan_container (scan, len, true, depth + 1);
        default:                                //  0xc1 is never used
            return s_fail (scan->err, PROTO_MALFORMED,
                "byte 0x%02x at offset %zu is not MessagePack", b, scan->pos - 1);
    }
}

static int
s_scan_body (const uint8_t *data, size_t size, proto_error_t *err)
{
    if (size == 0)
        return s_fail (err, PROTO_MALFORMED, "message body is empty");
    uint8_t b = data [0];
    bool is_map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    if (!is_map)
        return s_fail (err, PROTO_MALFORMED, "message body is not a MessagePack map");
    s_scan_t scan = { .data = data, .size = size, .err = err };
    if (s_scan_value (&scan, 0))
        return -1;
    if (scan.pos != size)
        return s_fail (err, PROTO_MALFORMED,
            "%zu trailing bytes after the message map", size - scan.pos);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Fields: reading the keys of one decoded map, with the type and range each
//  key must have

typedef struct {
    const msgpack_object_map *map;  //  the body's top-level map
    const char *type;               //  message type name, to start sentences
    proto_error_t *err;
} s_body_t;

static const msgpack_object *
s_lookup (const msgpack_object_map *map, const char *key)
{
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  memcmp (k->via.str.ptr, key, len) == 0)
            return &map->ptr [i].val;
    }
    return NULL;
}

//  What a value is, for "must be an integer, got a float".
static const char *
s_kind (const msgpack_object *obj)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:                return "nil";
        case MSGPACK_OBJECT_BOOLEAN:            return "a boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:   return "an integer";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:            return "a float";
        case MSGPACK_OBJECT_STR:                return "a string";
        case MSGPACK_OBJECT_ARRAY:              return "an array";
        case MSGPACK_OBJECT_MAP:                return "a map";
        case MSGPACK_OBJECT_BIN:                return "binary data";
        default:                                return "an extension value";
    }
}

//  Any MessagePack int that fits in int64; -1 for anything else, with *big
//  set for an unsigned int above INT64_MAX.
static int
s_int_of (const msgpack_object *obj, int64_t *value, bool *big)
{
    *big = false;
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = obj->via.i64;
        return 0;
    }
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (obj->via.u64 > INT64_MAX) {
            *big = true;
            return -1;
        }
        *value = (int64_t) obj->via.u64;
        return 0;
    }
    return -1;
}

//  An integer key in [min, max]. *has (when not NULL) says whether it was
//  there; a missing required key is an error.
static int
s_get_int (s_body_t *body, const char *key, bool required,
           int64_t min, int64_t max, int64_t *value, bool *has)
{
    const msgpack_object *obj = s_lookup (body->map, key);
    if (has)
        *has = obj != NULL;
    if (!obj) {
        if (!required)
            return 0;
        return s_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    bool big;
    int64_t v;
    if (s_int_of (obj, &v, &big)) {
        if (big)
            return s_fail (body->err, PROTO_INVALID,
                "%s key '%s' must fit in a signed 64-bit integer, got %" PRIu64,
                body->type, key, obj->via.u64);
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be an integer, got %s", body->type, key, s_kind (obj));
    }
    if (v < min || v > max) {
        if (max == INT64_MAX)
            return s_fail (body->err, PROTO_INVALID,
                "%s key '%s' must be an integer >= %" PRId64 ", got %" PRId64,
                body->type, key, min, v);
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be an integer from %" PRId64 " to %" PRId64 ", got %" PRId64,
            body->type, key, min, max, v);
    }
    *value = v;
    return 0;
}

//  A string key of min..max bytes without NUL bytes (they could not survive
//  as C strings). Points *text into the decoded body; NULL when absent.
static int
s_get_str (s_body_t *body, const char *key, bool required, size_t min, size_t max,
           const char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    const msgpack_object *obj = s_lookup (body->map, key);
    if (!obj) {
        if (!required)
            return 0;
        return s_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a string, got %s", body->type, key, s_kind (obj));
    const char *ptr = obj->via.str.ptr;
    size_t size = obj->via.str.size;
    if (size < min || size > max) {
        if (min == 0)
            return s_fail (body->err, PROTO_INVALID,
                "%s key '%s' must be at most %zu bytes, got %zu", body->type, key, max, size);
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be %zu to %zu bytes, got %zu", body->type, key, min, max, size);
    }
    if (size > 0 && memchr (ptr, 0, size))
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must not contain a NUL byte", body->type, key);
    *text = size > 0 ? ptr : "";         //  msgpack-c may leave ptr NULL for ""
    *len = size;
    return 0;
}

//  A string into a fixed buffer of at least max + 1 bytes ("" when absent).
static int
s_get_fixed (s_body_t *body, const char *key, bool required, size_t min, size_t max,
             char *dest)
{
    const char *text;
    size_t len;
    if (s_get_str (body, key, required, min, max, &text, &len))
        return -1;
    if (len > 0)
        memcpy (dest, text, len);
    dest [len] = 0;
    return 0;
}

//  A string into a new heap copy (NULL when absent).
static int
s_get_heap (s_body_t *body, const char *key, bool required, size_t min, size_t max,
            char **dest)
{
    const char *text;
    size_t len;
    if (s_get_str (body, key, required, min, max, &text, &len))
        return -1;
    if (text) {
        *dest = malloc (len + 1);
        if (!*dest)
            abort ();
        if (len > 0)
            memcpy (*dest, text, len);
        (*dest) [len] = 0;
    }
    return 0;
}

//  A string that must be one of a few words (ack status, pong db).
static int
s_get_word (s_body_t *body, const char *key, const char *first, const char *second,
            char *dest)
{
    const char *text;
    size_t len;
    if (s_get_str (body, key, true, 0, SIZE_MAX, &text, &len))
        return -1;
    const char *words [] = { first, second };
    for (int i = 0; i < 2; i++)
        if (len == strlen (words [i]) && memcmp (text, words [i], len) == 0) {
            strcpy (dest, words [i]);
            return 0;
        }
    return s_fail (body->err, PROTO_INVALID,
        "%s key '%s' must be \"%s\" or \"%s\", got '%.*s'", body->type, key,
        first, second, s_quote_len (text, len, S_QUOTE_MAX), text);
}

static int
s_get_source (s_body_t *body, const char *key, char *dest, bool required, bool *has)
{
    const char *text;
    size_t len;
    if (s_get_str (body, key, required, 0, SIZE_MAX, &text, &len))
        return -1;
    if (has)
        *has = text != NULL;
    if (!text)
        return 0;
    char copy [PROTO_MAX_SOURCE + 1] = "";
    if (len <= PROTO_MAX_SOURCE) {
        memcpy (copy, text, len);
        copy [len] = 0;
    }
    if (len > PROTO_MAX_SOURCE || !proto_source_valid (copy))
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be 1 to %d characters of [A-Za-z0-9._:-], got '%.*s'",
            body->type, key, PROTO_MAX_SOURCE, s_quote_len (text, len, S_QUOTE_MAX), text);
    strcpy (dest, copy);
    return 0;
}

static int
s_get_date (s_body_t *body, const char *key, char *dest)
{
    const char *text;
    size_t len;
    if (s_get_str (body, key, true, 0, SIZE_MAX, &text, &len))
        return -1;
    int quoted = s_quote_len (text, len, S_QUOTE_MAX);
    bool shaped = len == PROTO_DATE_LEN && text [4] == '-' && text [7] == '-';
    for (size_t i = 0; shaped && i < PROTO_DATE_LEN; i++)
        if (i != 4 && i != 7 && (text [i] < '0' || text [i] > '9'))
            shaped = false;
    if (!shaped)
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a date \"YYYY-MM-DD\", got '%.*s'",
            body->type, key, quoted, text);
    memcpy (dest, text, len);
    dest [len] = 0;
    if (!proto_date_valid (dest, NULL))
        return s_fail (body->err, PROTO_INVALID,
            "%s '%s' is not a real calendar date", key, dest);
    return 0;
}

//  Order keys by length then bytes, so that duplicates sort side by side.
static int
s_key_compare (const void *a, const void *b)
{
    const msgpack_object *x = *(const msgpack_object *const *) a;
    const msgpack_object *y = *(const msgpack_object *const *) b;
    if (x->via.str.size != y->via.str.size)
        return x->via.str.size < y->via.str.size ? -1 : 1;
    if (x->via.str.size == 0)
        return 0;
    return memcmp (x->via.str.ptr, y->via.str.ptr, x->via.str.size);
}

//  A key that appears more than once in a map, or NULL. Sorting keeps this
//  O(n log n): a 64 KiB body can hold tens of thousands of keys.
static const msgpack_object *
s_find_duplicate (const msgpack_object_map *map)
{
    if (map->size < 2)
        return NULL;
    const msgpack_object **keys = malloc (map->size * sizeof (msgpack_object *));
    if (!keys)
        abort ();
    for (uint32_t i = 0; i < map->size; i++)
        keys [i] = &map->ptr [i].key;
    qsort (keys, map->size, sizeof (msgpack_object *), s_key_compare);
    const msgpack_object *found = NULL;
    for (uint32_t i = 1; i < map->size && !found; i++)
        if (s_key_compare (&keys [i - 1], &keys [i]) == 0)
            found = keys [i];
    free (keys);
    return found;
}

//  A map of metric key -> int64 with min..PROTO_MAX_VALUES entries. More
//  entries is too_large, as PROTOCOL.md says for reports; it is applied to
//  every values/own map so that any decoded message can be sent again.
static int
s_get_values (s_body_t *body, const char *key, bool required, size_t min,
              proto_value_t **values, size_t *count, bool *has)
{
    const msgpack_object *obj = s_lookup (body->map, key);
    if (has)
        *has = obj != NULL;
    if (!obj) {
        if (!required)
            return 0;
        return s_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    if (obj->type != MSGPACK_OBJECT_MAP)
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a map of metric keys to integers, got %s",
            body->type, key, s_kind (obj));
    const msgpack_object_map *map = &obj->via.map;
    if (map->size > PROTO_MAX_VALUES)
        return s_fail (body->err, PROTO_TOO_LARGE,
            "%s key '%s' has %" PRIu32 " entries, more than the limit of %d",
            body->type, key, map->size, PROTO_MAX_VALUES);
    if (map->size < min)
        return s_fail (body->err, PROTO_INVALID,
            "%s key '%s' must have %zu to %d entries, got %" PRIu32,
            body->type, key, min, PROTO_MAX_VALUES, map->size);
    for (uint32_t i = 0; i < map->size; i++) {
        //  The scan has made sure every key is a string.
        const char *name = map->ptr [i].key.via.str.ptr;
        size_t len = map->ptr [i].key.via.str.size;
        int quoted = s_quote_len (name, len, S_QUOTE_MAX);
        if (len == 0 || len > PROTO_MAX_NAME)
            return s_fail (body->err, PROTO_INVALID,
                "metric key '%.*s' in '%s' must be 1 to %d bytes, got %zu",
                quoted, name, key, PROTO_MAX_NAME, len);
        if (memchr (name, 0, len))
            return s_fail (body->err, PROTO_INVALID,
                "a metric key in '%s' contains a NUL byte", key);
        const msgpack_object *val = &map->ptr [i].val;
        int64_t v;
        bool big;
        if (s_int_of (val, &v, &big))
            return s_fail (body->err, PROTO_INVALID,
                "metric '%.*s' in '%s' must be an integer that fits in int64, got %s",
                quoted, name, key, big ? "a larger one" : s_kind (val));
    }
    const msgpack_object *dup = s_find_duplicate (map);
    if (dup)
        return s_fail (body->err, PROTO_INVALID,
            "metric key '%.*s' appears more than once in '%s'",
            s_quote_len (dup->via.str.ptr, dup->via.str.size, S_QUOTE_MAX),
            dup->via.str.ptr, key);
    *count = map->size;
    if (map->size == 0)
        return 0;
    *values = calloc (map->size, sizeof (proto_value_t));
    if (!*values)
        abort ();
    for (uint32_t i = 0; i < map->size; i++) {
        proto_value_t *entry = &(*values) [i];
        bool big;
        memcpy (entry->key, map->ptr [i].key.via.str.ptr, map->ptr [i].key.via.str.size);
        s_int_of (&map->ptr [i].val, &entry->value, &big);
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Decoding, one function per message type, keys in PROTOCOL.md's order

static int
s_decode_report (s_body_t *b, proto_msg_t *m)
{
    m->has_source = m->has_seq = true;
    return s_get_source (b, "source", m->source, true, NULL)
        || s_get_int (b, "seq", true, 1, INT64_MAX, &m->seq, NULL)
        || s_get_fixed (b, "region", true, 1, PROTO_MAX_NAME, m->region)
        || s_get_date (b, "as_of", m->as_of)
        || s_get_values (b, "values", true, 1, &m->values, &m->value_count, NULL)
        || s_get_int (b, "sent_at", false, INT64_MIN, INT64_MAX, &m->sent_at, &m->has_sent_at)
        || s_get_heap (b, "note", false, 0, PROTO_MAX_NOTE, &m->note) ? -1 : 0;
}

static int
s_decode_ack (s_body_t *b, proto_msg_t *m)
{
    m->has_source = m->has_seq = true;
    return s_get_source (b, "source", m->source, true, NULL)
        || s_get_int (b, "seq", true, 1, INT64_MAX, &m->seq, NULL)
        || s_get_word (b, "status", "stored", "duplicate", m->status) ? -1 : 0;
}

static int
s_decode_nack (s_body_t *b, proto_msg_t *m)
{
    const char *code;
    size_t len;
    if (s_get_source (b, "source", m->source, false, &m->has_source)
    ||  s_get_int (b, "seq", false, 1, INT64_MAX, &m->seq, &m->has_seq)
    ||  s_get_str (b, "code", true, 1, SIZE_MAX, &code, &len))
        return -1;
    char name [32] = "";
    if (len < sizeof (name))
        memcpy (name, code, len);
    if (len >= sizeof (name)
    ||  proto_code_from_name (name, &m->code) || m->code == PROTO_OK)
        return s_fail (b->err, PROTO_INVALID,
            "nack key 'code' must be a nack code name, got '%.*s'",
            s_quote_len (code, len, S_QUOTE_MAX), code);
    return s_get_heap (b, "error", true, 1, PROTO_MAX_TEXT, &m->error)
        || s_get_int (b, "retry_ms", false, 0, INT64_MAX, &m->retry_ms, &m->has_retry_ms) ? -1 : 0;
}

static int
s_decode_totals (s_body_t *b, proto_msg_t *m)
{
    m->has_seq = true;
    return s_get_int (b, "seq", true, 1, INT64_MAX, &m->seq, NULL)
        || s_get_fixed (b, "region", true, 1, PROTO_MAX_NAME, m->region)
        || s_get_heap (b, "name", true, 1, PROTO_MAX_TEXT, &m->name)
        || s_get_fixed (b, "level", true, 1, sizeof (m->level) - 1, m->level)
        || s_get_int (b, "year", true, 1000, 9999, &m->year, NULL)
        || s_get_date (b, "as_of", m->as_of)
        || s_get_values (b, "values", true, 0, &m->values, &m->value_count, NULL)
        || s_get_values (b, "own", false, 0, &m->own, &m->own_count, &m->has_own)
        || s_get_int (b, "reported", true, 0, INT64_MAX, &m->reported, NULL)
        || s_get_int (b, "expected", true, 0, INT64_MAX, &m->expected, NULL)
        || s_get_int (b, "updated_at", true, INT64_MIN, INT64_MAX, &m->updated_at, NULL)
        || s_get_int (b, "version", false, 0, INT64_MAX, &m->version, &m->has_version) ? -1 : 0;
}

static int
s_decode_heartbeat (s_body_t *b, proto_msg_t *m)
{
    //  Feed seq 0: nothing published yet.
    m->has_seq = true;
    return s_get_int (b, "seq", true, 0, INT64_MAX, &m->seq, NULL)
        || s_get_int (b, "at", true, INT64_MIN, INT64_MAX, &m->at, NULL) ? -1 : 0;
}

static int
s_decode_snapshot (s_body_t *b, proto_msg_t *m)
{
    //  A missing prefix asks for every region, like "".
    return s_get_fixed (b, "prefix", false, 0, PROTO_MAX_NAME, m->prefix)
        || s_get_int (b, "year", false, 1000, 9999, &m->year, &m->has_year) ? -1 : 0;
}

static int
s_decode_snapshot_end (s_body_t *b, proto_msg_t *m)
{
    m->has_seq = true;
    return s_get_int (b, "seq", true, 0, INT64_MAX, &m->seq, NULL)
        || s_get_int (b, "count", true, 0, INT64_MAX, &m->count, NULL) ? -1 : 0;
}

static int
s_decode_pong (s_body_t *b, proto_msg_t *m)
{
    return s_get_int (b, "version", true, 1, INT64_MAX, &m->version, NULL)
        || s_get_word (b, "db", "up", "down", m->db) ? -1 : 0;
}

//  Fill err's source and seq from whatever the body holds, before any check
//  can fail, so that even an unsupported_version nack can be matched to the
//  report it answers. Only values a nack may carry are echoed.
static void
s_echo_identity (const msgpack_object_map *map, proto_error_t *err)
{
    const msgpack_object *source = s_lookup (map, "source");
    if (source && source->type == MSGPACK_OBJECT_STR
    &&  source->via.str.size > 0 && source->via.str.size <= PROTO_MAX_SOURCE) {
        char copy [PROTO_MAX_SOURCE + 1];
        memcpy (copy, source->via.str.ptr, source->via.str.size);
        copy [source->via.str.size] = 0;
        if (proto_source_valid (copy)) {
            strcpy (err->source, copy);
            err->has_source = true;
        }
    }
    const msgpack_object *seq = s_lookup (map, "seq");
    int64_t value;
    bool big;
    if (seq && s_int_of (seq, &value, &big) == 0 && value >= 1) {
        err->seq = value;
        err->has_seq = true;
    }
}

//  Steps 3 onwards of decoding, on a body the scan has accepted.
static proto_msg_t *
s_decode_fields (const msgpack_object_map *map, proto_error_t *err)
{
    s_echo_identity (map, err);

    const msgpack_object *v = s_lookup (map, "v");
    int64_t version;
    bool big;
    if (!v) {
        s_fail (err, PROTO_INVALID, "message key 'v' is missing");
        return NULL;
    }
    if (s_int_of (v, &version, &big) && !big) {
        s_fail (err, PROTO_INVALID, "message key 'v' must be an integer, got %s", s_kind (v));
        return NULL;
    }
    if (big || version != PROTO_VERSION) {
        if (big)
            s_fail (err, PROTO_UNSUPPORTED_VERSION,
                "protocol version %" PRIu64 " is not supported (this side speaks %d)",
                v->via.u64, PROTO_VERSION);
        else
            s_fail (err, PROTO_UNSUPPORTED_VERSION,
                "protocol version %" PRId64 " is not supported (this side speaks %d)",
                version, PROTO_VERSION);
        return NULL;
    }
    const msgpack_object *type = s_lookup (map, "type");
    if (!type) {
        s_fail (err, PROTO_INVALID, "message key 'type' is missing");
        return NULL;
    }
    if (type->type != MSGPACK_OBJECT_STR) {
        s_fail (err, PROTO_INVALID, "message key 'type' must be a string, got %s", s_kind (type));
        return NULL;
    }
    proto_type_t which = 0;
    for (size_t i = PROTO_REPORT; i < S_TYPE_COUNT; i++)
        if (type->via.str.size == strlen (s_type_names [i])
        &&  memcmp (type->via.str.ptr, s_type_names [i], type->via.str.size) == 0)
            which = (proto_type_t) i;
    if (!which) {
        s_fail (err, PROTO_INVALID, "unknown message type '%.*s'",
            s_quote_len (type->via.str.ptr, type->via.str.size, S_QUOTE_MAX),
            type->via.str.ptr);
        return NULL;
    }
    const msgpack_object *dup = s_find_duplicate (map);
    if (dup) {
        s_fail (err, PROTO_INVALID, "%s key '%.*s' appears more than once",
            s_type_names [which],
            s_quote_len (dup->via.str.ptr, dup->via.str.size, S_QUOTE_MAX),
            dup->via.str.ptr);
        return NULL;
    }
    proto_msg_t *self = proto_msg_new (which);
    s_body_t body = { .map = map, .type = s_type_names [which], .err = err };
    int rc = 0;
    switch (which) {
        case PROTO_REPORT:       rc = s_decode_report (&body, self); break;
        case PROTO_ACK:          rc = s_decode_ack (&body, self); break;
        case PROTO_NACK:         rc = s_decode_nack (&body, self); break;
        case PROTO_TOTALS:       rc = s_decode_totals (&body, self); break;
        case PROTO_HEARTBEAT:    rc = s_decode_heartbeat (&body, self); break;
        case PROTO_SNAPSHOT:     rc = s_decode_snapshot (&body, self); break;
        case PROTO_SNAPSHOT_END: rc = s_decode_snapshot_end (&body, self); break;
        case PROTO_PING:         break;
        case PROTO_PONG:         rc = s_decode_pong (&body, self); break;
    }
    if (rc)
        proto_msg_destroy (&self);
    return self;
}

proto_msg_t *
proto_msg_decode (const void *data, size_t size, size_t max_body, proto_error_t *err)
{
    proto_error_t scratch;
    if (!err)
        err = &scratch;
    memset (err, 0, sizeof (*err));

    if (max_body == 0)
        max_body = PROTO_MAX_BODY;
    if (size > max_body) {
        s_fail (err, PROTO_TOO_LARGE,
            "message body is %zu bytes, more than the limit of %zu", size, max_body);
        return NULL;
    }
    if (size > 0 && !data) {
        s_fail (err, PROTO_MALFORMED, "message body is missing");
        return NULL;
    }
    if (s_scan_body (data, size, err))
        return NULL;

    //  The scan has bounded every length, so msgpack-c may now allocate.
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    proto_msg_t *self = NULL;
    msgpack_unpack_return rc = msgpack_unpack_next (&unpacked, data, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP)
        s_fail (err, PROTO_MALFORMED, "message body could not be decoded");
    else
        self = s_decode_fields (&unpacked.data.via.map, err);
    msgpack_unpacked_destroy (&unpacked);
    if (self)
        memset (err, 0, sizeof (*err));
    return self;
}

//  ---------------------------------------------------------------------------
//  Encoding

//  A fixed-size string field: at most the whole buffer, even when the caller
//  forgot its terminator; the decoder then rejects what is too long.
static void
s_pack_fixed (msgpack_packer *pk, const char *text, size_t capacity)
{
    size_t len = strnlen (text, capacity);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

static void
s_pack_key (msgpack_packer *pk, const char *key)
{
    s_pack_fixed (pk, key, strlen (key));
}

static void
s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    s_pack_key (pk, key);
    msgpack_pack_int64 (pk, value);
}

static void
s_pack_string (msgpack_packer *pk, const char *key, const char *text, size_t capacity)
{
    s_pack_key (pk, key);
    s_pack_fixed (pk, text, capacity);
}

static void
s_pack_values (msgpack_packer *pk, const char *key, const proto_value_t *values, size_t count)
{
    s_pack_key (pk, key);
    msgpack_pack_map (pk, count);
    for (size_t i = 0; i < count; i++) {
        s_pack_fixed (pk, values [i].key, sizeof (values [i].key));
        msgpack_pack_int64 (pk, values [i].value);
    }
}

//  How many keys the message will have, so the map header can go first.
static size_t
s_key_count (const proto_msg_t *self)
{
    switch (self->type) {
        case PROTO_REPORT:
            return 7 + self->has_sent_at + (self->note != NULL);
        case PROTO_ACK:
            return 5;
        case PROTO_NACK:
            return 2 + self->has_source + self->has_seq + 1 + (self->error != NULL)
                 + self->has_retry_ms;
        case PROTO_TOTALS:
            return 12 + self->has_own + self->has_version - (self->name == NULL);
        case PROTO_HEARTBEAT:
        case PROTO_SNAPSHOT_END:
            return 4;
        case PROTO_SNAPSHOT:
            return 3 + self->has_year;
        case PROTO_PING:
            return 2;
        case PROTO_PONG:
            return 4;
    }
    return 0;
}

static void
s_pack_message (msgpack_packer *pk, const proto_msg_t *self)
{
    msgpack_pack_map (pk, s_key_count (self));
    s_pack_int (pk, "v", PROTO_VERSION);
    s_pack_string (pk, "type", proto_type_name (self->type), SIZE_MAX);
    switch (self->type) {
        case PROTO_REPORT:
            s_pack_string (pk, "source", self->source, sizeof (self->source));
            s_pack_int (pk, "seq", self->seq);
            s_pack_string (pk, "region", self->region, sizeof (self->region));
            s_pack_string (pk, "as_of", self->as_of, sizeof (self->as_of));
            s_pack_values (pk, "values", self->values, self->value_count);
            if (self->has_sent_at)
                s_pack_int (pk, "sent_at", self->sent_at);
            if (self->note)
                s_pack_string (pk, "note", self->note, SIZE_MAX);
            break;
        case PROTO_ACK:
            s_pack_string (pk, "source", self->source, sizeof (self->source));
            s_pack_int (pk, "seq", self->seq);
            s_pack_string (pk, "status", self->status, sizeof (self->status));
            break;
        case PROTO_NACK:
            if (self->has_source)
                s_pack_string (pk, "source", self->source, sizeof (self->source));
            if (self->has_seq)
                s_pack_int (pk, "seq", self->seq);
            s_pack_string (pk, "code", proto_code_name (self->code), SIZE_MAX);
            if (self->error)
                s_pack_string (pk, "error", self->error, SIZE_MAX);
            if (self->has_retry_ms)
                s_pack_int (pk, "retry_ms", self->retry_ms);
            break;
        case PROTO_TOTALS:
            s_pack_int (pk, "seq", self->seq);
            s_pack_string (pk, "region", self->region, sizeof (self->region));
            if (self->name)
                s_pack_string (pk, "name", self->name, SIZE_MAX);
            s_pack_string (pk, "level", self->level, sizeof (self->level));
            s_pack_int (pk, "year", self->year);
            s_pack_string (pk, "as_of", self->as_of, sizeof (self->as_of));
            s_pack_values (pk, "values", self->values, self->value_count);
            if (self->has_own)
                s_pack_values (pk, "own", self->own, self->own_count);
            s_pack_int (pk, "reported", self->reported);
            s_pack_int (pk, "expected", self->expected);
            s_pack_int (pk, "updated_at", self->updated_at);
            if (self->has_version)
                s_pack_int (pk, "version", self->version);
            break;
        case PROTO_HEARTBEAT:
            s_pack_int (pk, "seq", self->seq);
            s_pack_int (pk, "at", self->at);
            break;
        case PROTO_SNAPSHOT:
            s_pack_string (pk, "prefix", self->prefix, sizeof (self->prefix));
            if (self->has_year)
                s_pack_int (pk, "year", self->year);
            break;
        case PROTO_SNAPSHOT_END:
            s_pack_int (pk, "seq", self->seq);
            s_pack_int (pk, "count", self->count);
            break;
        case PROTO_PING:
            break;
        case PROTO_PONG:
            s_pack_int (pk, "version", self->version);
            s_pack_string (pk, "db", self->db, sizeof (self->db));
            break;
    }
}

//  Absent required keys are simply not packed, so the check by decoding
//  names them ("totals key 'name' is missing") as it would for a peer.
uint8_t *
proto_msg_encode (const proto_msg_t *self, size_t *size, proto_error_t *err)
{
    proto_error_t scratch;
    if (!err)
        err = &scratch;
    memset (err, 0, sizeof (*err));
    if (size)
        *size = 0;
    if (!self || !size) {
        s_fail (err, PROTO_INVALID, "nothing to encode");
        return NULL;
    }
    if (!strcmp (proto_type_name (self->type), "unknown")) {
        s_fail (err, PROTO_INVALID, "cannot encode message type %d", (int) self->type);
        return NULL;
    }
    if ((self->value_count && !self->values)
    ||  (self->value_count > PROTO_MAX_VALUES)
    ||  (self->own_count && !self->own)
    ||  (self->own_count > PROTO_MAX_VALUES)) {
        s_fail (err, self->value_count > PROTO_MAX_VALUES || self->own_count > PROTO_MAX_VALUES
                     ? PROTO_TOO_LARGE : PROTO_INVALID,
            "%s has %zu values and %zu own values, more than %d or not allocated",
            proto_type_name (self->type), self->value_count, self->own_count, PROTO_MAX_VALUES);
        return NULL;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    s_pack_message (&pk, self);

    proto_msg_t *check = proto_msg_decode (buffer.data, buffer.size, SIZE_MAX, err);
    if (!check) {
        msgpack_sbuffer_destroy (&buffer);
        return NULL;
    }
    proto_msg_destroy (&check);
    *size = buffer.size;
    return (uint8_t *) msgpack_sbuffer_release (&buffer);
}
