/*  proto_decode.c — proto_msg_decode: from bytes to a validated message.

    Decoding runs in three steps, in the order PROTOCOL.md fixes for the nack
    codes:

    1. size: more than max_body bytes is too_large, before anything is read;
    2. scan (proto_check_body): a bounded walk over the raw bytes that proves
       the body is one map with string keys, at most 16 levels deep, whose
       declared lengths all fit in the bytes that are actually there, with
       valid UTF-8 in every string and nothing after it; anything else is
       malformed. Only then does msgpack-c see the bytes, because
       msgpack_unpack_next preallocates memory for whatever element count the
       wire declares;
    3. fields: `v`, `type`, duplicate keys, then each key of the message type
       with its type and range (s_get_*), giving unsupported_version, invalid
       or too_large with one sentence naming the key.
*/
#include "proto_msg.h"
#include "proto_check.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  The keys of one decoded map, read with the type and range each must have.
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
        return proto_check_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    bool big;
    int64_t v;
    if (s_int_of (obj, &v, &big)) {
        if (big)
            return proto_check_fail (body->err, PROTO_INVALID,
                "%s key '%s' must fit in a signed 64-bit integer, got %" PRIu64,
                body->type, key, obj->via.u64);
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be an integer, got %s", body->type, key, s_kind (obj));
    }
    if (v < min || v > max) {
        if (max == INT64_MAX)
            return proto_check_fail (body->err, PROTO_INVALID,
                "%s key '%s' must be an integer >= %" PRId64 ", got %" PRId64,
                body->type, key, min, v);
        return proto_check_fail (body->err, PROTO_INVALID,
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
        return proto_check_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    if (obj->type != MSGPACK_OBJECT_STR)
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a string, got %s", body->type, key, s_kind (obj));
    const char *ptr = obj->via.str.ptr;
    size_t size = obj->via.str.size;
    if (size < min || size > max) {
        if (min == 0)
            return proto_check_fail (body->err, PROTO_INVALID,
                "%s key '%s' must be at most %zu bytes, got %zu", body->type, key, max, size);
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be %zu to %zu bytes, got %zu", body->type, key, min, max, size);
    }
    if (size > 0 && memchr (ptr, 0, size))
        return proto_check_fail (body->err, PROTO_INVALID,
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
    return proto_check_fail (body->err, PROTO_INVALID,
        "%s key '%s' must be \"%s\" or \"%s\", got '%.*s'", body->type, key,
        first, second, proto_check_quote_len (text, len, PROTO_CHECK_QUOTE), text);
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
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be 1 to %d characters of [A-Za-z0-9._:-], got '%.*s'",
            body->type, key, PROTO_MAX_SOURCE, proto_check_quote_len (text, len, PROTO_CHECK_QUOTE), text);
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
    int quoted = proto_check_quote_len (text, len, PROTO_CHECK_QUOTE);
    bool shaped = len == PROTO_DATE_LEN && text [4] == '-' && text [7] == '-';
    for (size_t i = 0; shaped && i < PROTO_DATE_LEN; i++)
        if (i != 4 && i != 7 && (text [i] < '0' || text [i] > '9'))
            shaped = false;
    if (!shaped)
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a date \"YYYY-MM-DD\", got '%.*s'",
            body->type, key, quoted, text);
    memcpy (dest, text, len);
    dest [len] = 0;
    const char *problem = proto_date_problem (dest);
    if (problem)
        return proto_check_fail (body->err, PROTO_INVALID, "%s '%s' %s", key, dest, problem);
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
        return proto_check_fail (body->err, PROTO_INVALID, "%s key '%s' is missing", body->type, key);
    }
    if (obj->type != MSGPACK_OBJECT_MAP)
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must be a map of metric keys to integers, got %s",
            body->type, key, s_kind (obj));
    const msgpack_object_map *map = &obj->via.map;
    if (map->size > PROTO_MAX_VALUES)
        return proto_check_fail (body->err, PROTO_TOO_LARGE,
            "%s key '%s' has %" PRIu32 " entries, more than the limit of %d",
            body->type, key, map->size, PROTO_MAX_VALUES);
    if (map->size < min)
        return proto_check_fail (body->err, PROTO_INVALID,
            "%s key '%s' must have %zu to %d entries, got %" PRIu32,
            body->type, key, min, PROTO_MAX_VALUES, map->size);
    for (uint32_t i = 0; i < map->size; i++) {
        //  The scan has made sure every key is a string.
        const char *name = map->ptr [i].key.via.str.ptr;
        size_t len = map->ptr [i].key.via.str.size;
        int quoted = proto_check_quote_len (name, len, PROTO_CHECK_QUOTE);
        if (len == 0 || len > PROTO_MAX_NAME)
            return proto_check_fail (body->err, PROTO_INVALID,
                "metric key '%.*s' in '%s' must be 1 to %d bytes, got %zu",
                quoted, name, key, PROTO_MAX_NAME, len);
        if (memchr (name, 0, len))
            return proto_check_fail (body->err, PROTO_INVALID,
                "a metric key in '%s' contains a NUL byte", key);
        const msgpack_object *val = &map->ptr [i].val;
        int64_t v;
        bool big;
        if (s_int_of (val, &v, &big))
            return proto_check_fail (body->err, PROTO_INVALID,
                "metric '%.*s' in '%s' must be an integer that fits in int64, got %s",
                quoted, name, key, big ? "a larger one" : s_kind (val));
    }
    const msgpack_object *dup = s_find_duplicate (map);
    if (dup)
        return proto_check_fail (body->err, PROTO_INVALID,
            "metric key '%.*s' appears more than once in '%s'",
            proto_check_quote_len (dup->via.str.ptr, dup->via.str.size, PROTO_CHECK_QUOTE),
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
        return proto_check_fail (b->err, PROTO_INVALID,
            "nack key 'code' must be a nack code name, got '%.*s'",
            proto_check_quote_len (code, len, PROTO_CHECK_QUOTE), code);
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

//  `v` must be there and an integer (else invalid), and 1 (else
//  unsupported_version): checked before anything else about the keys.
static int
s_check_version (const msgpack_object_map *map, proto_error_t *err)
{
    const msgpack_object *v = s_lookup (map, "v");
    if (!v)
        return proto_check_fail (err, PROTO_INVALID, "message key 'v' is missing");
    int64_t version;
    bool big;
    if (s_int_of (v, &version, &big) == 0 && version == PROTO_VERSION)
        return 0;
    if (big)
        return proto_check_fail (err, PROTO_UNSUPPORTED_VERSION,
            "protocol version %" PRIu64 " is not supported (this side speaks %d)",
            v->via.u64, PROTO_VERSION);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER && v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return proto_check_fail (err, PROTO_INVALID,
            "message key 'v' must be an integer, got %s", s_kind (v));
    return proto_check_fail (err, PROTO_UNSUPPORTED_VERSION,
        "protocol version %" PRId64 " is not supported (this side speaks %d)",
        version, PROTO_VERSION);
}

static int
s_read_type (const msgpack_object_map *map, proto_type_t *which, proto_error_t *err)
{
    const msgpack_object *type = s_lookup (map, "type");
    if (!type)
        return proto_check_fail (err, PROTO_INVALID, "message key 'type' is missing");
    if (type->type != MSGPACK_OBJECT_STR)
        return proto_check_fail (err, PROTO_INVALID,
            "message key 'type' must be a string, got %s", s_kind (type));
    for (proto_type_t t = PROTO_REPORT; t <= PROTO_PONG; t++) {
        const char *name = proto_type_name (t);
        if (type->via.str.size == strlen (name)
        &&  memcmp (type->via.str.ptr, name, type->via.str.size) == 0) {
            *which = t;
            return 0;
        }
    }
    return proto_check_fail (err, PROTO_INVALID, "unknown message type '%.*s'",
        proto_check_quote_len (type->via.str.ptr, type->via.str.size, PROTO_CHECK_QUOTE),
        type->via.str.ptr);
}

//  Steps 3 onwards of decoding, on a body the scan has accepted.
static proto_msg_t *
s_decode_fields (const msgpack_object_map *map, proto_error_t *err)
{
    s_echo_identity (map, err);
    proto_type_t which = PROTO_PING;   //  set by s_read_type
    if (s_check_version (map, err) || s_read_type (map, &which, err))
        return NULL;
    const msgpack_object *dup = s_find_duplicate (map);
    if (dup) {
        proto_check_fail (err, PROTO_INVALID, "%s key '%.*s' appears more than once",
            proto_type_name (which),
            proto_check_quote_len (dup->via.str.ptr, dup->via.str.size, PROTO_CHECK_QUOTE),
            dup->via.str.ptr);
        return NULL;
    }
    proto_msg_t *self = proto_msg_new (which);
    s_body_t body = { .map = map, .type = proto_type_name (which), .err = err };
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
        proto_check_fail (err, PROTO_TOO_LARGE,
            "message body is %zu bytes, more than the limit of %zu", size, max_body);
        return NULL;
    }
    if (size > 0 && !data) {
        proto_check_fail (err, PROTO_MALFORMED, "message body is missing");
        return NULL;
    }
    if (proto_check_body (data, size, err))
        return NULL;

    //  The scan has bounded every length, so msgpack-c may now allocate.
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    proto_msg_t *self = NULL;
    msgpack_unpack_return rc = msgpack_unpack_next (&unpacked, data, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size
    ||  unpacked.data.type != MSGPACK_OBJECT_MAP)
        proto_check_fail (err, PROTO_MALFORMED, "message body could not be decoded");
    else
        self = s_decode_fields (&unpacked.data.via.map, err);
    msgpack_unpacked_destroy (&unpacked);
    if (self)
        memset (err, 0, sizeof (*err));
    return self;
}
