/*  test_proto.c — the proto module's Check suite, written as examples of use.

    Each test shows one thing a caller does with proto: build a message and
    encode it, decode what a peer sent, or turn a bad body into the nack code
    and sentence PROTOCOL.md prescribes. Bodies a real encoder would never
    produce are written out as byte arrays; bodies that are valid MessagePack
    but break the schema are built field by field with a small writer
    (s_body_*), because only proto itself may use msgpack-c.
*/
#include "proto_msg.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The figures 集安市 (220582) reported for 2022-02-28, from
//  shared/data/tonghua-2022-02-28.csv.
static const proto_value_t s_jian_figures [] = {
    { "projects_started", 15 },
    { "projects_started_investment", 477000 },
    { "projects_started_annual", 113000 },
    { "projects_planned", 33 },
    { "projects_planned_investment", 1663000 },
    { "projects_planned_annual", 417000 },
    { "projects_new", 16 },
    { "projects_continued", 17 },
    { "attraction_planned", 16 },
    { "attraction_planned_amount", 445000 },
    { "attraction_signed", 5 },
    { "attraction_signed_amount", 103000 },
    { "attraction_landed", 3 },
    { "attraction_landed_amount", 49200 },
    { "cattle_added", 1239 },
    { "cattle_households_added", 334 },
};
#define JIAN_FIGURES (sizeof (s_jian_figures) / sizeof (s_jian_figures [0]))

//  ---------------------------------------------------------------------------
//  Helpers

//  A report as a county reporter builds it.
static proto_msg_t *
s_jian_report (void)
{
    proto_msg_t *report = proto_msg_new (PROTO_REPORT);
    strcpy (report->source, "3f1c9a2e-0b7d-4c55-9e61-2a8d0f4b7c13");
    report->seq = 1;
    strcpy (report->region, "220582");
    strcpy (report->as_of, "2022-02-28");
    for (size_t i = 0; i < JIAN_FIGURES; i++)
        ck_assert_int_eq (proto_msg_add_value (report, false,
            s_jian_figures [i].key, s_jian_figures [i].value), 0);
    report->has_sent_at = true;
    report->sent_at = 1646035200000;
    proto_msg_set_note (report, "集安市 2022年2月28日 重点项目集中开工");
    return report;
}

//  Encode a message, decode the bytes, and hand back the decoded copy.
static proto_msg_t *
s_round_trip (const proto_msg_t *msg)
{
    proto_error_t err;
    size_t size;
    uint8_t *bytes = proto_msg_encode (msg, &size, &err);
    ck_assert_msg (bytes, "encode failed: %s", err.text);
    proto_msg_t *copy = proto_msg_decode (bytes, size, 0, &err);
    ck_assert_msg (copy, "decode failed: %s", err.text);
    ck_assert_int_eq (copy->type, msg->type);
    free (bytes);
    return copy;
}

//  Decode bytes that must fail; return the error.
static proto_error_t
s_reject (const void *data, size_t size)
{
    proto_error_t err;
    proto_msg_t *msg = proto_msg_decode (data, size, 0, &err);
    ck_assert_msg (msg == NULL, "decode accepted a bad body");
    ck_assert_int_ne (err.code, PROTO_OK);
    ck_assert_msg (proto_utf8_valid (err.text, strlen (err.text)), "error text is not UTF-8");
    return err;
}

#define ASSERT_REJECTED(bytes, want_code)                                   \
    do {                                                                    \
        proto_error_t e_ = s_reject (bytes, sizeof (bytes));                \
        ck_assert_msg (e_.code == (want_code), "got %s (%s), want %s",      \
            proto_code_name (e_.code), e_.text, proto_code_name (want_code)); \
    } while (0)

//  A MessagePack writer for schema-breaking bodies: just the formats the
//  tests need, always in their longest form, which decoders must accept.
typedef struct {
    uint8_t data [80 * 1024];
    size_t size;
} s_body_t;

static void
s_body_byte (s_body_t *b, uint8_t byte)
{
    ck_assert_uint_lt (b->size, sizeof (b->data));
    b->data [b->size++] = byte;
}

static void
s_body_be (s_body_t *b, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        s_body_byte (b, (uint8_t) (value >> (8 * i)));
}

static void
s_body_map (s_body_t *b, uint32_t count)
{
    s_body_byte (b, 0xdf);
    s_body_be (b, count, 4);
}

static void
s_body_raw (s_body_t *b, const void *text, size_t len)
{
    s_body_byte (b, 0xdb);                  //  str 32
    s_body_be (b, len, 4);
    for (size_t i = 0; i < len; i++)
        s_body_byte (b, ((const uint8_t *) text) [i]);
}

static void
s_body_str (s_body_t *b, const char *text)
{
    s_body_raw (b, text, strlen (text));
}

static void
s_body_int (s_body_t *b, int64_t value)
{
    s_body_byte (b, 0xd3);                  //  int 64
    s_body_be (b, (uint64_t) value, 8);
}

//  One key of a test report and what to write for it.
typedef enum { OMIT, STR, INT, UINT, FLOAT, VALUES, NIL } s_kind_t;
typedef struct {
    s_kind_t kind;
    const char *text;           //  STR
    int64_t number;             //  INT, UINT (as uint64), VALUES (entry count),
                                //  STR (length, when not 0)
} s_field_t;

#define S_STR(t)    ((s_field_t) { STR, (t), 0 })
#define S_RAW(t, n) ((s_field_t) { STR, (t), (n) })     //  n bytes, NULs and all
#define S_INT(n)    ((s_field_t) { INT, NULL, (n) })
#define S_VALUES(n) ((s_field_t) { VALUES, NULL, (n) })
#define S_UINT(n)   ((s_field_t) { UINT, NULL, (int64_t) (n) })
#define S_OMIT      ((s_field_t) { OMIT, NULL, 0 })
#define S_FLOAT     ((s_field_t) { FLOAT, NULL, 0 })
#define S_NIL       ((s_field_t) { NIL, NULL, 0 })

static const char *const s_report_keys [] = {
    "v", "type", "source", "seq", "region", "as_of", "note", "values"
};
#define REPORT_KEYS 8

static void
s_body_field (s_body_t *b, s_field_t field)
{
    switch (field.kind) {
        case STR:   s_body_raw (b, field.text, field.number ? (size_t) field.number
                                                        : strlen (field.text)); break;
        case INT:   s_body_int (b, field.number); break;
        case UINT:  s_body_byte (b, 0xcf); s_body_be (b, (uint64_t) field.number, 8); break;
        case FLOAT: s_body_byte (b, 0xcb); s_body_be (b, 0x4000000000000000, 8); break;  //  2.0
        case NIL:   s_body_byte (b, 0xc0); break;
        case VALUES:
            s_body_map (b, (uint32_t) field.number);
            for (int64_t i = 0; i < field.number; i++) {
                char key [32];
                snprintf (key, sizeof (key), "metric_%03" PRId64, i);
                s_body_str (b, key);
                s_body_int (b, i);
            }
            break;
        case OMIT:  break;
    }
}

//  A valid report body, except that `key` gets `field` instead.
static void
s_body_report (s_body_t *b, const char *key, s_field_t field)
{
    s_field_t fields [REPORT_KEYS] = {
        S_INT (1), S_STR ("report"), S_STR ("jian-01"), S_INT (7), S_STR ("220582"),
        S_STR ("2022-02-28"), S_STR ("ok"), S_VALUES (3)
    };
    uint32_t count = 0;
    for (int i = 0; i < REPORT_KEYS; i++) {
        if (key && strcmp (key, s_report_keys [i]) == 0)
            fields [i] = field;
        count += fields [i].kind != OMIT;
    }
    b->size = 0;
    s_body_map (b, count);
    for (int i = 0; i < REPORT_KEYS; i++)
        if (fields [i].kind != OMIT) {
            s_body_str (b, s_report_keys [i]);
            s_body_field (b, fields [i]);
        }
}

//  Decode a report with one key replaced; returns the error.
static proto_error_t
s_reject_report (const char *key, s_field_t field)
{
    static s_body_t body;
    s_body_report (&body, key, field);
    return s_reject (body.data, body.size);
}

//  A report body without values, whose values map (of `entries` entries) the
//  caller writes next, entry by entry.
static void
s_body_report_open_values (s_body_t *b, uint32_t entries)
{
    s_body_report (b, "values", S_OMIT);
    b->data [4]++;                      //  low byte of the map 32 count
    s_body_str (b, "values");
    s_body_map (b, entries);
}

#define ASSERT_REPORT_INVALID(key, field, sentence)                         \
    do {                                                                    \
        proto_error_t e_ = s_reject_report (key, field);                    \
        ck_assert_str_eq (proto_code_name (e_.code), "invalid");            \
        ck_assert_str_eq (e_.text, sentence);                               \
    } while (0)

//  ---------------------------------------------------------------------------
//  Round trips: build, encode, decode, compare

START_TEST (test_report_round_trip)
{
    proto_msg_t *report = s_jian_report ();
    proto_msg_t *copy = s_round_trip (report);
    ck_assert (copy->has_source && copy->has_seq);
    ck_assert_str_eq (copy->source, report->source);
    ck_assert_int_eq (copy->seq, 1);
    ck_assert_str_eq (copy->region, "220582");
    ck_assert_str_eq (copy->as_of, "2022-02-28");
    ck_assert_uint_eq (copy->value_count, JIAN_FIGURES);
    for (size_t i = 0; i < JIAN_FIGURES; i++) {
        int64_t value;
        ck_assert (proto_msg_value (copy, false, s_jian_figures [i].key, &value));
        ck_assert_int_eq (value, s_jian_figures [i].value);
    }
    ck_assert (!proto_msg_value (copy, false, "prep_completion_pct", NULL));
    ck_assert (copy->has_sent_at);
    ck_assert_int_eq (copy->sent_at, 1646035200000);
    ck_assert_str_eq (copy->note, report->note);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&report);
    ck_assert_ptr_null (report);
    proto_msg_destroy (&report);        //  harmless twice
}
END_TEST

START_TEST (test_report_optional_keys_absent)
{
    proto_msg_t *report = s_jian_report ();
    report->has_sent_at = false;
    proto_msg_set_note (report, NULL);
    proto_msg_t *copy = s_round_trip (report);
    ck_assert (!copy->has_sent_at);
    ck_assert_ptr_null (copy->note);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_encode_puts_v_then_type_first)
{
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    size_t size;
    uint8_t *bytes = proto_msg_encode (ping, &size, NULL);
    const uint8_t expect [] = {
        0x82, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'
    };
    ck_assert_uint_eq (size, sizeof (expect));
    ck_assert_mem_eq (bytes, expect, sizeof (expect));
    free (bytes);
    proto_msg_destroy (&ping);
}
END_TEST

START_TEST (test_ack_round_trip)
{
    const char *statuses [] = { "stored", "duplicate" };
    for (int i = 0; i < 2; i++) {
        proto_msg_t *ack = proto_msg_new (PROTO_ACK);
        strcpy (ack->source, "jian-01");
        ack->seq = 42;
        strcpy (ack->status, statuses [i]);
        proto_msg_t *copy = s_round_trip (ack);
        ck_assert_str_eq (copy->source, "jian-01");
        ck_assert_int_eq (copy->seq, 42);
        ck_assert_str_eq (copy->status, statuses [i]);
        proto_msg_destroy (&copy);
        proto_msg_destroy (&ack);
    }
}
END_TEST

START_TEST (test_ack_status_must_be_known)
{
    proto_msg_t *ack = proto_msg_new (PROTO_ACK);
    strcpy (ack->source, "jian-01");
    ack->seq = 42;
    strcpy (ack->status, "maybe");
    proto_error_t err;
    size_t size;
    ck_assert_ptr_null (proto_msg_encode (ack, &size, &err));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text, "ack key 'status' must be \"stored\" or \"duplicate\", got 'maybe'");
    proto_msg_destroy (&ack);
}
END_TEST

//  Every code, including the ones only the collector produces, can travel
//  in a nack; only unavailable carries retry_ms in practice.
START_TEST (test_nack_round_trip_every_code)
{
    for (proto_code_t code = PROTO_MALFORMED; code <= PROTO_UNAVAILABLE; code++) {
        proto_msg_t *nack = proto_msg_new (PROTO_NACK);
        nack->has_source = true;
        strcpy (nack->source, "jian-01");
        nack->has_seq = true;
        nack->seq = 9;
        nack->code = code;
        proto_msg_set_error (nack, "report key 'as_of' is missing");
        nack->has_retry_ms = code == PROTO_UNAVAILABLE;
        nack->retry_ms = 500;
        proto_msg_t *copy = s_round_trip (nack);
        ck_assert_int_eq (copy->code, code);
        ck_assert_str_eq (copy->error, "report key 'as_of' is missing");
        ck_assert_str_eq (copy->source, "jian-01");
        ck_assert_int_eq (copy->seq, 9);
        ck_assert_int_eq (copy->has_retry_ms, code == PROTO_UNAVAILABLE);
        if (copy->has_retry_ms)
            ck_assert_int_eq (copy->retry_ms, 500);
        proto_msg_destroy (&copy);
        proto_msg_destroy (&nack);
    }
}
END_TEST

//  A nack for a body so broken that neither source nor seq could be read.
START_TEST (test_nack_without_identity)
{
    proto_msg_t *nack = proto_msg_new (PROTO_NACK);
    nack->code = PROTO_MALFORMED;
    proto_msg_set_error (nack, "message body is empty");
    proto_msg_t *copy = s_round_trip (nack);
    ck_assert (!copy->has_source && !copy->has_seq && !copy->has_retry_ms);
    proto_msg_destroy (&copy);

    nack->code = PROTO_OK;              //  not a nack code
    proto_error_t err;
    size_t size;
    ck_assert_ptr_null (proto_msg_encode (nack, &size, &err));
    ck_assert_str_eq (err.text, "nack key 'code' must be a nack code name, got 'ok'");
    proto_msg_destroy (&nack);
}
END_TEST

START_TEST (test_totals_round_trip)
{
    proto_msg_t *totals = proto_msg_new (PROTO_TOTALS);
    totals->seq = 1001;
    strcpy (totals->region, "220500");
    proto_msg_set_name (totals, "通化市");
    strcpy (totals->level, "city");
    totals->year = 2022;
    strcpy (totals->as_of, "2022-03-01");
    ck_assert_int_eq (proto_msg_add_value (totals, false, "projects_planned", 151), 0);
    ck_assert_int_eq (proto_msg_add_value (totals, false, "cattle_added", 1239), 0);
    ck_assert_int_eq (proto_msg_add_value (totals, true, "projects_planned", 150), 0);
    ck_assert (totals->has_own);
    totals->reported = 6;
    totals->expected = 7;
    totals->updated_at = 1646121600123;
    totals->has_version = true;
    totals->version = 17;
    proto_msg_t *copy = s_round_trip (totals);
    ck_assert_int_eq (copy->seq, 1001);
    ck_assert_str_eq (copy->region, "220500");
    ck_assert_str_eq (copy->name, "通化市");
    ck_assert_str_eq (copy->level, "city");
    ck_assert_int_eq (copy->year, 2022);
    ck_assert_str_eq (copy->as_of, "2022-03-01");
    int64_t value;
    ck_assert (proto_msg_value (copy, false, "projects_planned", &value) && value == 151);
    ck_assert (proto_msg_value (copy, true, "projects_planned", &value) && value == 150);
    ck_assert (!proto_msg_value (copy, true, "cattle_added", &value));
    ck_assert_int_eq (copy->reported, 6);
    ck_assert_int_eq (copy->expected, 7);
    ck_assert_int_eq (copy->updated_at, 1646121600123);
    ck_assert (copy->has_version);
    ck_assert_int_eq (copy->version, 17);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&totals);
}
END_TEST

//  A region with no figures yet publishes empty values, and no own/version.
START_TEST (test_totals_with_no_values)
{
    proto_msg_t *totals = proto_msg_new (PROTO_TOTALS);
    totals->seq = 1;
    strcpy (totals->region, "220503");
    proto_msg_set_name (totals, "二道江区");
    strcpy (totals->level, "county");
    totals->year = 2022;
    strcpy (totals->as_of, "2022-01-01");
    totals->expected = 1;
    proto_msg_t *copy = s_round_trip (totals);
    ck_assert_uint_eq (copy->value_count, 0);
    ck_assert (!copy->has_own && !copy->has_version);
    proto_msg_destroy (&copy);

    proto_msg_set_name (totals, NULL);  //  a required key left out
    proto_error_t err;
    size_t size;
    ck_assert_ptr_null (proto_msg_encode (totals, &size, &err));
    ck_assert_str_eq (err.text, "totals key 'name' is missing");
    proto_msg_destroy (&totals);
}
END_TEST

START_TEST (test_heartbeat_round_trip)
{
    proto_msg_t *heartbeat = proto_msg_new (PROTO_HEARTBEAT);
    heartbeat->seq = 1001;
    heartbeat->at = 1646121601000;
    proto_msg_t *copy = s_round_trip (heartbeat);
    ck_assert_int_eq (copy->seq, 1001);
    ck_assert_int_eq (copy->at, 1646121601000);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&heartbeat);
}
END_TEST

START_TEST (test_snapshot_round_trip)
{
    proto_msg_t *snapshot = proto_msg_new (PROTO_SNAPSHOT);
    strcpy (snapshot->prefix, "2205");
    snapshot->has_year = true;
    snapshot->year = 2022;
    proto_msg_t *copy = s_round_trip (snapshot);
    ck_assert_str_eq (copy->prefix, "2205");
    ck_assert (copy->has_year);
    ck_assert_int_eq (copy->year, 2022);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&snapshot);

    //  {v:1, type:"snapshot"}: no prefix means every region, newest year.
    const uint8_t bare [] = {
        0x82, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e',
        0xa8, 's', 'n', 'a', 'p', 's', 'h', 'o', 't'
    };
    proto_msg_t *all = proto_msg_decode (bare, sizeof (bare), 0, NULL);
    ck_assert_ptr_nonnull (all);
    ck_assert_str_eq (all->prefix, "");
    ck_assert (!all->has_year);
    proto_msg_destroy (&all);
}
END_TEST

START_TEST (test_snapshot_end_round_trip)
{
    proto_msg_t *end = proto_msg_new (PROTO_SNAPSHOT_END);
    end->seq = 1001;
    end->count = 8;
    proto_msg_t *copy = s_round_trip (end);
    ck_assert_int_eq (copy->seq, 1001);
    ck_assert_int_eq (copy->count, 8);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&end);
}
END_TEST

START_TEST (test_ping_pong_round_trip)
{
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    proto_msg_t *copy = s_round_trip (ping);
    proto_msg_destroy (&copy);
    proto_msg_destroy (&ping);

    proto_msg_t *pong = proto_msg_new (PROTO_PONG);
    pong->version = PROTO_VERSION;
    strcpy (pong->db, "down");
    copy = s_round_trip (pong);
    ck_assert_int_eq (copy->version, PROTO_VERSION);
    ck_assert_str_eq (copy->db, "down");
    proto_msg_destroy (&copy);

    strcpy (pong->db, "maybe");
    proto_error_t err;
    size_t size;
    ck_assert_ptr_null (proto_msg_encode (pong, &size, &err));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    proto_msg_destroy (&pong);
}
END_TEST

//  ---------------------------------------------------------------------------
//  Building messages: what the API refuses

START_TEST (test_report_needs_values_to_encode)
{
    proto_msg_t *report = proto_msg_new (PROTO_REPORT);
    strcpy (report->source, "jian-01");
    report->seq = 1;
    strcpy (report->region, "220582");
    strcpy (report->as_of, "2022-02-28");
    proto_error_t err;
    size_t size;
    ck_assert_ptr_null (proto_msg_encode (report, &size, &err));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text, "report key 'values' must have 1 to 256 entries, got 0");
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_add_value_limits)
{
    proto_msg_t *report = proto_msg_new (PROTO_REPORT);
    char long_key [PROTO_MAX_NAME + 2];
    memset (long_key, 'k', sizeof (long_key) - 1);
    long_key [sizeof (long_key) - 1] = 0;
    ck_assert_int_eq (proto_msg_add_value (report, false, long_key, 1), -1);
    ck_assert_int_eq (proto_msg_add_value (report, false, "", 1), -1);
    long_key [PROTO_MAX_NAME] = 0;      //  exactly 64 bytes is fine
    ck_assert_int_eq (proto_msg_add_value (report, false, long_key, 1), 0);
    for (int i = 1; i < PROTO_MAX_VALUES; i++) {
        char key [16];
        snprintf (key, sizeof (key), "m%d", i);
        ck_assert_int_eq (proto_msg_add_value (report, false, key, i), 0);
    }
    ck_assert_int_eq (proto_msg_add_value (report, false, "one_too_many", 1), -1);
    ck_assert_uint_eq (report->value_count, PROTO_MAX_VALUES);
    proto_msg_destroy (&report);
}
END_TEST

//  ---------------------------------------------------------------------------
//  Names and field checks

START_TEST (test_code_names)
{
    const char *names [] = {
        "ok", "malformed", "invalid", "unsupported_version", "too_large",
        "unknown_region", "unknown_metric", "forbidden", "conflict", "unavailable"
    };
    for (proto_code_t code = PROTO_OK; code <= PROTO_UNAVAILABLE; code++) {
        ck_assert_str_eq (proto_code_name (code), names [code]);
        proto_code_t back;
        ck_assert_int_eq (proto_code_from_name (names [code], &back), 0);
        ck_assert_int_eq (back, code);
        ck_assert (proto_code_is_permanent (code) == (code != PROTO_UNAVAILABLE));
    }
    proto_code_t back = PROTO_OK;
    ck_assert_int_eq (proto_code_from_name ("Invalid", &back), -1);
    ck_assert_int_eq (proto_code_from_name ("", &back), -1);
    ck_assert_int_eq (proto_code_from_name (NULL, &back), -1);
    ck_assert_int_eq (back, PROTO_OK);

    ck_assert_str_eq (proto_type_name (PROTO_REPORT), "report");
    ck_assert_str_eq (proto_type_name (PROTO_SNAPSHOT_END), "snapshot_end");
    ck_assert_str_eq (proto_type_name (PROTO_PONG), "pong");
}
END_TEST

START_TEST (test_date_valid)
{
    int year = 0;
    ck_assert (proto_date_valid ("2022-02-28", &year));
    ck_assert_int_eq (year, 2022);
    ck_assert (proto_date_valid ("2024-02-29", NULL));     //  leap year
    ck_assert (proto_date_valid ("2000-02-29", NULL));     //  divisible by 400
    ck_assert (!proto_date_valid ("1900-02-29", NULL));    //  by 100, not 400
    ck_assert (!proto_date_valid ("2023-02-29", NULL));
    ck_assert (!proto_date_valid ("2022-02-30", NULL));
    ck_assert (!proto_date_valid ("2022-04-31", NULL));
    ck_assert (!proto_date_valid ("2022-13-01", NULL));
    ck_assert (!proto_date_valid ("2022-00-10", NULL));
    ck_assert (!proto_date_valid ("2022-01-00", NULL));
    ck_assert (!proto_date_valid ("2022-2-28", NULL));
    ck_assert (!proto_date_valid ("2022/02/28", NULL));
    ck_assert (!proto_date_valid ("2022-02-28T00", NULL));
    ck_assert (!proto_date_valid ("0999-01-01", NULL));
    ck_assert (!proto_date_valid ("", NULL));
    ck_assert (!proto_date_valid (NULL, NULL));
}
END_TEST

START_TEST (test_source_valid)
{
    ck_assert (proto_source_valid ("3f1c9a2e-0b7d-4c55-9e61-2a8d0f4b7c13"));
    ck_assert (proto_source_valid ("county:jian_1.outbox"));
    char longest [PROTO_MAX_SOURCE + 2];
    memset (longest, 'a', sizeof (longest) - 1);
    longest [PROTO_MAX_SOURCE] = 0;
    ck_assert (proto_source_valid (longest));
    longest [PROTO_MAX_SOURCE] = 'a';
    longest [PROTO_MAX_SOURCE + 1] = 0;
    ck_assert (!proto_source_valid (longest));
    ck_assert (!proto_source_valid ("jian 01"));
    ck_assert (!proto_source_valid ("集安"));
    ck_assert (!proto_source_valid (""));
    ck_assert (!proto_source_valid (NULL));
}
END_TEST

START_TEST (test_utf8_valid)
{
    ck_assert (proto_utf8_valid ("", 0));
    ck_assert (proto_utf8_valid ("集安市", strlen ("集安市")));
    ck_assert (proto_utf8_valid ("\xf0\x9f\x90\x84", 4));       //  U+1F404
    ck_assert (!proto_utf8_valid ("\xc0\xaf", 2));              //  overlong '/'
    ck_assert (!proto_utf8_valid ("\xe0\x80\xaf", 3));          //  overlong
    ck_assert (!proto_utf8_valid ("\xed\xa0\x80", 3));          //  surrogate
    ck_assert (!proto_utf8_valid ("\xf4\x90\x80\x80", 4));      //  above U+10FFFF
    ck_assert (!proto_utf8_valid ("\xe9\x9b", 2));              //  cut short
    ck_assert (!proto_utf8_valid ("\x80", 1));                  //  lone continuation
    ck_assert (!proto_utf8_valid ("\xff", 1));
}
END_TEST

//  ---------------------------------------------------------------------------
//  too_large

START_TEST (test_too_large_body)
{
    size_t size = PROTO_MAX_BODY + 1;
    uint8_t *body = calloc (1, size);
    proto_error_t err;
    ck_assert_ptr_null (proto_msg_decode (body, size, 0, &err));
    ck_assert_str_eq (proto_code_name (err.code), "too_large");
    ck_assert_str_eq (err.text, "message body is 65537 bytes, more than the limit of 65536");
    //  The limit is the caller's: a collector configured for 1 KiB.
    ck_assert_ptr_null (proto_msg_decode (body, 1025, 1024, &err));
    ck_assert_int_eq (err.code, PROTO_TOO_LARGE);
    free (body);

    //  A valid report within a small limit is fine.
    proto_msg_t *report = s_jian_report ();
    size_t encoded;
    uint8_t *bytes = proto_msg_encode (report, &encoded, NULL);
    proto_msg_t *copy = proto_msg_decode (bytes, encoded, encoded, &err);
    ck_assert_ptr_nonnull (copy);
    proto_msg_destroy (&copy);
    ck_assert_ptr_null (proto_msg_decode (bytes, encoded, encoded - 1, &err));
    ck_assert_int_eq (err.code, PROTO_TOO_LARGE);
    free (bytes);
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_too_large_values)
{
    proto_error_t err = s_reject_report ("values", S_VALUES (257));
    ck_assert_str_eq (proto_code_name (err.code), "too_large");
    ck_assert_str_eq (err.text, "report key 'values' has 257 entries, more than the limit of 256");
    ck_assert (err.has_source && err.has_seq);
    ck_assert_str_eq (err.source, "jian-01");
    ck_assert_int_eq (err.seq, 7);

    static s_body_t body;
    s_body_report (&body, "values", S_VALUES (256));
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, &err);
    ck_assert_ptr_nonnull (report);
    ck_assert_uint_eq (report->value_count, 256);
    proto_msg_destroy (&report);
}
END_TEST

//  ---------------------------------------------------------------------------
//  malformed

START_TEST (test_malformed_empty_body)
{
    proto_error_t err = s_reject ("", 0);
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "message body is empty");
}
END_TEST

START_TEST (test_malformed_random_bytes)
{
    const uint8_t noise [] = { 0xc1, 0x7e, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef };
    ASSERT_REJECTED (noise, PROTO_MALFORMED);
    const uint8_t text [] = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_REJECTED (text, PROTO_MALFORMED);
    //  0xc1 is never used by MessagePack, even inside a map.
    const uint8_t unused [] = { 0x81, 0xa1, 'v', 0xc1 };
    ASSERT_REJECTED (unused, PROTO_MALFORMED);
}
END_TEST

START_TEST (test_malformed_not_a_map)
{
    const uint8_t array [] = { 0x92, 0xa1, 'v', 0x01 };        //  ["v", 1]
    const uint8_t integer [] = { 0x01 };                        //  1
    const uint8_t string [] = { 0xa6, 'r', 'e', 'p', 'o', 'r', 't' };
    const uint8_t nil [] = { 0xc0 };
    ASSERT_REJECTED (array, PROTO_MALFORMED);
    ASSERT_REJECTED (integer, PROTO_MALFORMED);
    ASSERT_REJECTED (string, PROTO_MALFORMED);
    ASSERT_REJECTED (nil, PROTO_MALFORMED);
    ck_assert_str_eq (s_reject (array, sizeof (array)).text,
        "message body is not a MessagePack map");
}
END_TEST

START_TEST (test_malformed_trailing_bytes)
{
    //  {v:1, type:"ping"} followed by one more byte: msgpack would happily
    //  decode the prefix.
    const uint8_t trailing [] = {
        0x82, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0x00
    };
    proto_error_t err = s_reject (trailing, sizeof (trailing));
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "1 trailing bytes after the message map");
    //  Two maps back to back are trailing bytes too.
    const uint8_t two [] = { 0x80, 0x80 };
    ASSERT_REJECTED (two, PROTO_MALFORMED);
}
END_TEST

START_TEST (test_malformed_truncated)
{
    //  {v:1, type:"ping"} cut off inside "ping".
    const uint8_t cut [] = { 0x82, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i' };
    ASSERT_REJECTED (cut, PROTO_MALFORMED);
    //  A map promising two entries that holds one.
    const uint8_t short_map [] = { 0x82, 0xa1, 'v', 0x01 };
    ASSERT_REJECTED (short_map, PROTO_MALFORMED);
    //  An int 64 with three of its eight bytes.
    const uint8_t short_int [] = { 0x81, 0xa1, 'v', 0xd3, 0x00, 0x00, 0x00 };
    ASSERT_REJECTED (short_int, PROTO_MALFORMED);
}
END_TEST

//  Declared lengths are never trusted: these would make msgpack-c reserve
//  gigabytes before noticing that the bytes are not there.
START_TEST (test_malformed_huge_declared_lengths)
{
    //  map 32 declaring 4,000,000,000 entries, in 10 bytes.
    const uint8_t map32 [] = { 0xdf, 0xee, 0x6b, 0x28, 0x00, 0xa1, 'v', 0x01, 0xa1, 't' };
    proto_error_t err = s_reject (map32, sizeof (map32));
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "a map declares 4000000000 entries but only 5 bytes are left");
    //  {v:1, values: array 32 of 0xffffffff elements}
    const uint8_t array32 [] = {
        0x82, 0xa1, 'v', 0x01, 0xa6, 'v', 'a', 'l', 'u', 'e', 's',
        0xdd, 0xff, 0xff, 0xff, 0xff, 0x01
    };
    ASSERT_REJECTED (array32, PROTO_MALFORMED);
    //  {v:1, note: str 32 of 0xffffffff bytes}
    const uint8_t str32 [] = {
        0x82, 0xa1, 'v', 0x01, 0xa4, 'n', 'o', 't', 'e',
        0xdb, 0xff, 0xff, 0xff, 0xff, 'h', 'i'
    };
    ASSERT_REJECTED (str32, PROTO_MALFORMED);
    //  bin 32 and ext 32 the same way.
    const uint8_t bin32 [] = { 0x81, 0xa1, 'x', 0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00 };
    ASSERT_REJECTED (bin32, PROTO_MALFORMED);
    const uint8_t ext32 [] = { 0x81, 0xa1, 'x', 0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x00 };
    ASSERT_REJECTED (ext32, PROTO_MALFORMED);
}
END_TEST

START_TEST (test_malformed_too_deep)
{
    //  {x: [[[...[1]...]]]} with 16 arrays in the map: 17 levels.
    uint8_t deep [64];
    size_t size = 0;
    deep [size++] = 0x81;
    deep [size++] = 0xa1;
    deep [size++] = 'x';
    for (int i = 0; i < 16; i++)
        deep [size++] = 0x91;
    deep [size++] = 0x01;
    proto_error_t err = s_reject (deep, size);
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "message nests containers deeper than 16 levels");
    //  Maps count as levels too.
    size = 0;
    for (int i = 0; i < 17; i++) {
        deep [size++] = 0x81;
        deep [size++] = 0xa1;
        deep [size++] = 'k';
    }
    deep [size++] = 0x01;
    err = s_reject (deep, size);
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    //  Within the limit, a map where `values` wants an integer is a wrong
    //  type that names its key: {v:1, type:"report", ..., values: {a: {b: 1}}}.
    s_body_t body;
    s_body_report (&body, "values", S_OMIT);
    body.data [4]++;                            //  map 32's count: one more entry, values
    s_body_str (&body, "values");
    s_body_map (&body, 1);
    s_body_str (&body, "a");
    s_body_map (&body, 1);
    s_body_str (&body, "b");
    s_body_int (&body, 1);
    err = s_reject (body.data, body.size);
    ck_assert_int_eq (err.code, PROTO_INVALID);
}
END_TEST

START_TEST (test_malformed_invalid_utf8)
{
    //  {v:1, type:"report", note:"\xc0\xaf"} — an overlong '/'.
    const uint8_t in_value [] = {
        0x83, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa6, 'r', 'e', 'p', 'o', 'r', 't',
        0xa4, 'n', 'o', 't', 'e', 0xa2, 0xc0, 0xaf
    };
    proto_error_t err = s_reject (in_value, sizeof (in_value));
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "key 'note' holds a string that is not valid UTF-8");
    //  {v:1, "\xff":1}
    const uint8_t in_key [] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 0xff, 0x01 };
    err = s_reject (in_key, sizeof (in_key));
    ck_assert_int_eq (err.code, PROTO_MALFORMED);
    ck_assert_str_eq (err.text, "a map key is not valid UTF-8");
    //  {v:1, values:{"\xed\xa0\x80":1}} — a surrogate as a metric key.
    const uint8_t in_metric [] = {
        0x82, 0xa1, 'v', 0x01, 0xa6, 'v', 'a', 'l', 'u', 'e', 's',
        0x81, 0xa3, 0xed, 0xa0, 0x80, 0x01
    };
    ASSERT_REJECTED (in_metric, PROTO_MALFORMED);
    //  Under a key nobody knows, too: every string must be UTF-8.
    const uint8_t unknown_key [] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 'z', 0xa1, 0x80 };
    ASSERT_REJECTED (unknown_key, PROTO_MALFORMED);
}
END_TEST

//  Bodies are maps with string keys; any other key is an encoding error.
START_TEST (test_malformed_non_string_key)
{
    const uint8_t int_key [] = { 0x82, 0xa1, 'v', 0x01, 0x07, 0x01 };      //  {v:1, 7:1}
    ASSERT_REJECTED (int_key, PROTO_MALFORMED);
    const uint8_t bin_key [] = { 0x81, 0xc4, 0x01, 'v', 0x01 };            //  {bin"v":1}
    ASSERT_REJECTED (bin_key, PROTO_MALFORMED);
    const uint8_t in_values [] = {
        0x82, 0xa1, 'v', 0x01, 0xa6, 'v', 'a', 'l', 'u', 'e', 's', 0x81, 0x01, 0x01
    };
    ASSERT_REJECTED (in_values, PROTO_MALFORMED);
}
END_TEST

//  ---------------------------------------------------------------------------
//  unsupported_version

START_TEST (test_unsupported_version)
{
    proto_error_t err = s_reject_report ("v", S_INT (2));
    ck_assert_str_eq (proto_code_name (err.code), "unsupported_version");
    ck_assert_str_eq (err.text, "protocol version 2 is not supported (this side speaks 1)");
    //  The nack can still name the report it answers.
    ck_assert (err.has_source && err.has_seq);
    ck_assert_str_eq (err.source, "jian-01");
    ck_assert_int_eq (err.seq, 7);
    ck_assert (proto_code_is_permanent (err.code));
    err = s_reject_report ("v", S_INT (0));
    ck_assert_int_eq (err.code, PROTO_UNSUPPORTED_VERSION);
}
END_TEST

START_TEST (test_version_missing_or_not_int)
{
    ASSERT_REPORT_INVALID ("v", S_OMIT, "message key 'v' is missing");
    ASSERT_REPORT_INVALID ("v", S_STR ("1"), "message key 'v' must be an integer, got a string");
    ASSERT_REPORT_INVALID ("v", S_FLOAT, "message key 'v' must be an integer, got a float");
}
END_TEST

//  ---------------------------------------------------------------------------
//  invalid

START_TEST (test_invalid_missing_required_keys)
{
    const char *required [] = { "type", "source", "seq", "region", "as_of", "values" };
    for (size_t i = 0; i < sizeof (required) / sizeof (required [0]); i++) {
        proto_error_t err = s_reject_report (required [i], S_OMIT);
        ck_assert_int_eq (err.code, PROTO_INVALID);
        char sentence [128];
        snprintf (sentence, sizeof (sentence), "%s key '%s' is missing",
            strcmp (required [i], "type") ? "report" : "message", required [i]);
        ck_assert_str_eq (err.text, sentence);
    }
    //  note is optional.
    static s_body_t body;
    s_body_report (&body, "note", S_OMIT);
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, NULL);
    ck_assert_ptr_nonnull (report);
    ck_assert_ptr_null (report->note);
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_invalid_wrong_types)
{
    ASSERT_REPORT_INVALID ("type", S_INT (1), "message key 'type' must be a string, got an integer");
    ASSERT_REPORT_INVALID ("source", S_INT (1), "report key 'source' must be a string, got an integer");
    ASSERT_REPORT_INVALID ("seq", S_STR ("7"), "report key 'seq' must be an integer, got a string");
    ASSERT_REPORT_INVALID ("seq", S_NIL, "report key 'seq' must be an integer, got nil");
    ASSERT_REPORT_INVALID ("region", S_INT (220582), "report key 'region' must be a string, got an integer");
    ASSERT_REPORT_INVALID ("values", S_STR ("15"),
        "report key 'values' must be a map of metric keys to integers, got a string");
    ASSERT_REPORT_INVALID ("note", S_INT (1), "report key 'note' must be a string, got an integer");
}
END_TEST

START_TEST (test_invalid_unknown_type)
{
    ASSERT_REPORT_INVALID ("type", S_STR ("reprot"), "unknown message type 'reprot'");
}
END_TEST

//  Floats are never integers, even 2.0.
START_TEST (test_invalid_float_value)
{
    ASSERT_REPORT_INVALID ("seq", S_FLOAT, "report key 'seq' must be an integer, got a float");
    //  values: {projects_started: 15.0}
    static s_body_t body;
    s_body_report_open_values (&body, 1);
    s_body_str (&body, "projects_started");
    s_body_byte (&body, 0xca);          //  float 32 15.0
    s_body_be (&body, 0x41700000, 4);
    proto_error_t err = s_reject (body.data, body.size);
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text,
        "metric 'projects_started' in 'values' must be an integer that fits in int64, got a float");
}
END_TEST

START_TEST (test_invalid_uint64_above_int64)
{
    ASSERT_REPORT_INVALID ("seq", S_UINT (UINT64_MAX),
        "report key 'seq' must fit in a signed 64-bit integer, got 18446744073709551615");
    //  INT64_MAX itself, sent as uint 64, is an integer like any other.
    static s_body_t body;
    s_body_report (&body, "seq", S_UINT (INT64_MAX));
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, NULL);
    ck_assert_ptr_nonnull (report);
    ck_assert_int_eq (report->seq, INT64_MAX);
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_invalid_dates)
{
    ASSERT_REPORT_INVALID ("as_of", S_STR ("2022-02-30"), "as_of '2022-02-30' is not a real calendar date");
    ASSERT_REPORT_INVALID ("as_of", S_STR ("2023-02-29"), "as_of '2023-02-29' is not a real calendar date");
    ASSERT_REPORT_INVALID ("as_of", S_STR ("2022-13-01"), "as_of '2022-13-01' is not a real calendar date");
    ASSERT_REPORT_INVALID ("as_of", S_STR ("0999-12-31"),
                           "as_of '0999-12-31' is before the year 1000 (dates run from 1000-01-01 to 9999-12-31)");
    ASSERT_REPORT_INVALID ("as_of", S_STR ("2022-2-28"),
        "report key 'as_of' must be a date \"YYYY-MM-DD\", got '2022-2-28'");
    ASSERT_REPORT_INVALID ("as_of", S_INT (20220228),
        "report key 'as_of' must be a string, got an integer");

    static s_body_t body;
    s_body_report (&body, "as_of", S_STR ("2024-02-29"));
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, NULL);
    ck_assert_ptr_nonnull (report);
    ck_assert_str_eq (report->as_of, "2024-02-29");
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_invalid_source)
{
    ASSERT_REPORT_INVALID ("source", S_STR ("jian 01"),
        "report key 'source' must be 1 to 64 characters of [A-Za-z0-9._:-], got 'jian 01'");
    char longer [PROTO_MAX_SOURCE + 2];
    memset (longer, 's', PROTO_MAX_SOURCE + 1);
    longer [PROTO_MAX_SOURCE + 1] = 0;
    proto_error_t err = s_reject_report ("source", S_STR (longer));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert (!err.has_source);        //  nothing a nack could echo
    ck_assert (err.has_seq);
    ASSERT_REPORT_INVALID ("source", S_STR (""),
        "report key 'source' must be 1 to 64 characters of [A-Za-z0-9._:-], got ''");
}
END_TEST

START_TEST (test_invalid_seq)
{
    ASSERT_REPORT_INVALID ("seq", S_INT (0), "report key 'seq' must be an integer >= 1, got 0");
    proto_error_t err = s_reject_report ("seq", S_INT (-3));
    ck_assert_str_eq (err.text, "report key 'seq' must be an integer >= 1, got -3");
    ck_assert (err.has_source && !err.has_seq);
}
END_TEST

START_TEST (test_invalid_note_too_long)
{
    char note [PROTO_MAX_NOTE + 2];
    memset (note, 'n', PROTO_MAX_NOTE + 1);
    note [PROTO_MAX_NOTE + 1] = 0;
    ASSERT_REPORT_INVALID ("note", S_STR (note), "report key 'note' must be at most 1024 bytes, got 1025");
    note [PROTO_MAX_NOTE] = 0;          //  1024 bytes is the limit, not over it
    static s_body_t body;
    s_body_report (&body, "note", S_STR (note));
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, NULL);
    ck_assert_ptr_nonnull (report);
    ck_assert_uint_eq (strlen (report->note), PROTO_MAX_NOTE);
    proto_msg_destroy (&report);
}
END_TEST

START_TEST (test_invalid_names)
{
    char region [PROTO_MAX_NAME + 2];
    memset (region, '2', PROTO_MAX_NAME + 1);
    region [PROTO_MAX_NAME + 1] = 0;
    ASSERT_REPORT_INVALID ("region", S_STR (region), "report key 'region' must be 1 to 64 bytes, got 65");
    ASSERT_REPORT_INVALID ("region", S_STR (""), "report key 'region' must be 1 to 64 bytes, got 0");

    //  values: {"": 1}
    static s_body_t body;
    s_body_report_open_values (&body, 1);
    s_body_str (&body, "");
    s_body_int (&body, 1);
    proto_error_t err = s_reject (body.data, body.size);
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text, "metric key '' in 'values' must be 1 to 64 bytes, got 0");

    //  A NUL byte could not survive as a C string.
    err = s_reject_report ("note", S_RAW ("x\0y", 3));
    ck_assert_str_eq (err.text, "report key 'note' must not contain a NUL byte");
}
END_TEST

START_TEST (test_invalid_values_counts)
{
    ASSERT_REPORT_INVALID ("values", S_VALUES (0), "report key 'values' must have 1 to 256 entries, got 0");
}
END_TEST

START_TEST (test_invalid_duplicate_keys)
{
    //  {v:1, type:"ping", type:"ping"}
    const uint8_t twice [] = {
        0x83, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g',
        0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'
    };
    proto_error_t err = s_reject (twice, sizeof (twice));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text, "ping key 'type' appears more than once");

    //  values: {cattle_added: 1, cattle_added: 2}
    static s_body_t body;
    s_body_report_open_values (&body, 2);
    s_body_str (&body, "cattle_added");
    s_body_int (&body, 1);
    s_body_str (&body, "cattle_added");
    s_body_int (&body, 2);
    err = s_reject (body.data, body.size);
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert_str_eq (err.text, "metric key 'cattle_added' appears more than once in 'values'");
}
END_TEST

//  Unknown keys are ignored, so a newer peer can add optional keys.
START_TEST (test_unknown_keys_ignored)
{
    //  {v:1, type:"ping", future:[1, 2.0], stamp: ext -1 (a timestamp)}
    const uint8_t future [] = {
        0x84, 0xa1, 'v', 0x01, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g',
        0xa6, 'f', 'u', 't', 'u', 'r', 'e', 0x92, 0x01,
        0xcb, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xa5, 's', 't', 'a', 'm', 'p', 0xd6, 0xff, 0x62, 0x1c, 0x4f, 0x00
    };
    proto_msg_t *ping = proto_msg_decode (future, sizeof (future), 0, NULL);
    ck_assert_ptr_nonnull (ping);
    ck_assert_int_eq (ping->type, PROTO_PING);
    proto_msg_destroy (&ping);
    //  Whatever an unknown key holds, nested maps and arrays too (16 levels
    //  in all): a report with {extra: {a: {b: [[1]]}}} is decoded.
    s_body_t body;
    s_body_report (&body, NULL, S_OMIT);
    body.data [4]++;                            //  map 32's count: one more entry, extra
    s_body_str (&body, "extra");
    s_body_map (&body, 1);
    s_body_str (&body, "a");
    s_body_map (&body, 1);
    s_body_str (&body, "b");
    s_body_byte (&body, 0x91);
    s_body_byte (&body, 0x91);
    s_body_int (&body, 1);
    proto_error_t err;
    proto_msg_t *report = proto_msg_decode (body.data, body.size, 0, &err);
    ck_assert_msg (report, "decode failed: %s", err.text);
    ck_assert_int_eq (report->type, PROTO_REPORT);
    ck_assert_int_eq (report->seq, 7);
    proto_msg_destroy (&report);
}
END_TEST

//  Source and seq reach the error whenever they could be read, so the
//  collector's nack can name the report even when a later key is bad.
START_TEST (test_error_echoes_source_and_seq)
{
    proto_error_t err = s_reject_report ("as_of", S_OMIT);
    ck_assert_str_eq (err.text, "report key 'as_of' is missing");
    ck_assert (err.has_source && err.has_seq);
    ck_assert_str_eq (err.source, "jian-01");
    ck_assert_int_eq (err.seq, 7);

    proto_msg_t *nack = proto_msg_new (PROTO_NACK);
    nack->code = err.code;
    proto_msg_set_error (nack, err.text);
    nack->has_source = err.has_source;
    strcpy (nack->source, err.source);
    nack->has_seq = err.has_seq;
    nack->seq = err.seq;
    proto_msg_t *copy = s_round_trip (nack);
    ck_assert_str_eq (copy->error, "report key 'as_of' is missing");
    proto_msg_destroy (&copy);
    proto_msg_destroy (&nack);
}
END_TEST

//  Long wire text is quoted only in part, never cut inside a character.
START_TEST (test_error_text_stays_utf8)
{
    char type [200] = "";
    for (int i = 0; i < 60; i++)
        strcat (type, "集");
    proto_error_t err = s_reject_report ("type", S_STR (type));
    ck_assert_int_eq (err.code, PROTO_INVALID);
    ck_assert (proto_utf8_valid (err.text, strlen (err.text)));
    ck_assert_uint_lt (strlen (err.text), 100);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("proto");
    TCase *tc = tcase_create ("round_trip");
    tcase_add_test (tc, test_report_round_trip);
    tcase_add_test (tc, test_report_optional_keys_absent);
    tcase_add_test (tc, test_encode_puts_v_then_type_first);
    tcase_add_test (tc, test_ack_round_trip);
    tcase_add_test (tc, test_ack_status_must_be_known);
    tcase_add_test (tc, test_nack_round_trip_every_code);
    tcase_add_test (tc, test_nack_without_identity);
    tcase_add_test (tc, test_totals_round_trip);
    tcase_add_test (tc, test_totals_with_no_values);
    tcase_add_test (tc, test_heartbeat_round_trip);
    tcase_add_test (tc, test_snapshot_round_trip);
    tcase_add_test (tc, test_snapshot_end_round_trip);
    tcase_add_test (tc, test_ping_pong_round_trip);
    tcase_add_test (tc, test_report_needs_values_to_encode);
    tcase_add_test (tc, test_add_value_limits);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("names_and_checks");
    tcase_add_test (tc, test_code_names);
    tcase_add_test (tc, test_date_valid);
    tcase_add_test (tc, test_source_valid);
    tcase_add_test (tc, test_utf8_valid);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("rejected");
    tcase_add_test (tc, test_too_large_body);
    tcase_add_test (tc, test_too_large_values);
    tcase_add_test (tc, test_malformed_empty_body);
    tcase_add_test (tc, test_malformed_random_bytes);
    tcase_add_test (tc, test_malformed_not_a_map);
    tcase_add_test (tc, test_malformed_trailing_bytes);
    tcase_add_test (tc, test_malformed_truncated);
    tcase_add_test (tc, test_malformed_huge_declared_lengths);
    tcase_add_test (tc, test_malformed_too_deep);
    tcase_add_test (tc, test_malformed_invalid_utf8);
    tcase_add_test (tc, test_malformed_non_string_key);
    tcase_add_test (tc, test_unsupported_version);
    tcase_add_test (tc, test_version_missing_or_not_int);
    tcase_add_test (tc, test_invalid_missing_required_keys);
    tcase_add_test (tc, test_invalid_wrong_types);
    tcase_add_test (tc, test_invalid_unknown_type);
    tcase_add_test (tc, test_invalid_float_value);
    tcase_add_test (tc, test_invalid_uint64_above_int64);
    tcase_add_test (tc, test_invalid_dates);
    tcase_add_test (tc, test_invalid_source);
    tcase_add_test (tc, test_invalid_seq);
    tcase_add_test (tc, test_invalid_note_too_long);
    tcase_add_test (tc, test_invalid_names);
    tcase_add_test (tc, test_invalid_values_counts);
    tcase_add_test (tc, test_invalid_duplicate_keys);
    tcase_add_test (tc, test_unknown_keys_ignored);
    tcase_add_test (tc, test_error_echoes_source_and_seq);
    tcase_add_test (tc, test_error_text_stays_utf8);
    suite_add_tcase (suite, tc);
    return suite;
}

int
main (void)
{
    SRunner *runner = srunner_create (s_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
