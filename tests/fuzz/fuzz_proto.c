/*  fuzz_proto.c — libFuzzer target for proto_msg_decode.

    Feeds arbitrary bytes to the decoder, which must never crash, leak or
    read out of bounds (run under ASan/UBSan). Whatever it accepts must
    survive a round trip: encoding the decoded message has to succeed, and
    decoding that again has to give back the same message; a mismatch is
    reported by abort() so that libFuzzer keeps the input. Built by run.sh.
*/
#include "proto_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_mismatch (const char *what)
{
    fprintf (stderr, "fuzz_proto: round trip changed %s\n", what);
    abort ();
}

static void
s_same_text (const char *a, const char *b, const char *what)
{
    if ((a == NULL) != (b == NULL) || (a && strcmp (a, b) != 0))
        s_mismatch (what);
}

static void
s_same_values (const proto_value_t *a, size_t a_count,
               const proto_value_t *b, size_t b_count, const char *what)
{
    if (a_count != b_count)
        s_mismatch (what);
    for (size_t i = 0; i < a_count; i++)
        if (strcmp (a [i].key, b [i].key) != 0 || a [i].value != b [i].value)
            s_mismatch (what);
}

//  Every field of the record, whatever the type: decode leaves the ones a
//  type does not use at zero, so they must match too.
static void
s_same_message (const proto_msg_t *a, const proto_msg_t *b)
{
    if (a->type != b->type)                 s_mismatch ("type");
    if (a->has_source != b->has_source)     s_mismatch ("has_source");
    s_same_text (a->source, b->source, "source");
    if (a->has_seq != b->has_seq || a->seq != b->seq)
        s_mismatch ("seq");
    s_same_text (a->region, b->region, "region");
    s_same_text (a->as_of, b->as_of, "as_of");
    s_same_values (a->values, a->value_count, b->values, b->value_count, "values");
    if (a->has_sent_at != b->has_sent_at || a->sent_at != b->sent_at)
        s_mismatch ("sent_at");
    s_same_text (a->note, b->note, "note");
    s_same_text (a->status, b->status, "status");
    if (a->code != b->code)                 s_mismatch ("code");
    s_same_text (a->error, b->error, "error");
    if (a->has_retry_ms != b->has_retry_ms || a->retry_ms != b->retry_ms)
        s_mismatch ("retry_ms");
    s_same_text (a->name, b->name, "name");
    s_same_text (a->level, b->level, "level");
    if (a->year != b->year || a->has_year != b->has_year)
        s_mismatch ("year");
    if (a->has_own != b->has_own)           s_mismatch ("has_own");
    s_same_values (a->own, a->own_count, b->own, b->own_count, "own");
    if (a->reported != b->reported || a->expected != b->expected)
        s_mismatch ("reported/expected");
    if (a->updated_at != b->updated_at)     s_mismatch ("updated_at");
    if (a->has_version != b->has_version || a->version != b->version)
        s_mismatch ("version");
    if (a->at != b->at)                     s_mismatch ("at");
    s_same_text (a->prefix, b->prefix, "prefix");
    if (a->count != b->count)               s_mismatch ("count");
    s_same_text (a->db, b->db, "db");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    proto_error_t err;
    proto_msg_t *msg = proto_msg_decode (data, size, 0, &err);
    if (!msg) {
        //  A rejection must be a real nack code with a sentence.
        if (err.code == PROTO_OK || err.text [0] == 0
        ||  !proto_utf8_valid (err.text, strlen (err.text)))
            abort ();
        return 0;
    }
    size_t encoded_size;
    uint8_t *encoded = proto_msg_encode (msg, &encoded_size, &err);
    if (!encoded) {
        fprintf (stderr, "fuzz_proto: decoded message does not encode: %s\n", err.text);
        abort ();
    }
    proto_msg_t *again = proto_msg_decode (encoded, encoded_size, SIZE_MAX, &err);
    if (!again) {
        fprintf (stderr, "fuzz_proto: encoded message does not decode: %s\n", err.text);
        abort ();
    }
    s_same_message (msg, again);
    proto_msg_destroy (&again);
    proto_msg_destroy (&msg);
    free (encoded);
    return 0;
}
