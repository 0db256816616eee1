/*  proto_msg.c — one message of the tally wire protocol: the record and its
    encoding.

    Together with proto_decode.c, the only code in tally that includes
    msgpack.h. Here: the wire names of codes and types, building a message,
    and encoding it. Encoding packs the keys PROTOCOL.md lists, `v` first,
    then checks its own output with the decoder, so that encode and decode can
    never disagree on what a valid message is.
*/
#include "proto_msg.h"
#include "proto_check.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        proto_check_fail (err, PROTO_INVALID, "nothing to encode");
        return NULL;
    }
    if (!strcmp (proto_type_name (self->type), "unknown")) {
        proto_check_fail (err, PROTO_INVALID, "cannot encode message type %d", (int) self->type);
        return NULL;
    }
    //  A count without its list is the caller's bug, but packing it would
    //  read through NULL; too many entries the decoder below reports.
    if ((self->value_count && !self->values) || (self->own_count && !self->own)) {
        proto_check_fail (err, PROTO_INVALID, "%s has a value count but no values",
            proto_type_name (self->type));
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
