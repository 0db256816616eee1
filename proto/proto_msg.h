/*  proto_msg.h — one message of the tally wire protocol, version 1.

    PROTOCOL.md (../shared/PROTOCOL.md, mirrored in proto/PROTOCOL.md) is the
    contract; this module is its only implementation in C and the only code
    in the project that knows MessagePack. A proto_msg_t is a plain record:
    which fields mean something depends on `type` (see the table beside each
    field). Decoding is strict and never trusts a length from the wire; on
    failure it returns NULL and fills a proto_error_t whose code is the nack
    code PROTOCOL.md prescribes and whose text is one sentence naming the key.
*/
#ifndef PROTO_MSG_H_INCLUDED
#define PROTO_MSG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION       1
#define PROTO_MAX_BODY      (64 * 1024)   //  default body limit (too_large above)
#define PROTO_MAX_VALUES    256           //  values per report (too_large above)
#define PROTO_MAX_SOURCE    64            //  source: 1..64 of [A-Za-z0-9._:-]
#define PROTO_MAX_NAME      64            //  region codes, metric keys, prefix (bytes)
#define PROTO_MAX_NOTE      1024          //  note (bytes)
#define PROTO_MAX_TEXT      512           //  error sentences, display names (bytes)
#define PROTO_DATE_LEN      10            //  "YYYY-MM-DD"

//  Result codes: the nack codes of PROTOCOL.md, plus PROTO_OK.
typedef enum {
    PROTO_OK = 0,
    PROTO_MALFORMED,
    PROTO_INVALID,
    PROTO_UNSUPPORTED_VERSION,
    PROTO_TOO_LARGE,
    PROTO_UNKNOWN_REGION,
    PROTO_UNKNOWN_METRIC,
    PROTO_FORBIDDEN,
    PROTO_CONFLICT,
    PROTO_UNAVAILABLE
} proto_code_t;

typedef enum {
    PROTO_REPORT = 1,
    PROTO_ACK,
    PROTO_NACK,
    PROTO_TOTALS,
    PROTO_HEARTBEAT,
    PROTO_SNAPSHOT,
    PROTO_SNAPSHOT_END,
    PROTO_PING,
    PROTO_PONG
} proto_type_t;

//  Why a message could not be decoded. source/seq are filled when they could
//  be read, so that a nack can echo them.
typedef struct {
    proto_code_t code;                      //  nack code
    char text [PROTO_MAX_TEXT];             //  one sentence naming the key or value
    bool has_source;                        //  source could be read
    char source [PROTO_MAX_SOURCE + 1];
    bool has_seq;                           //  seq could be read
    int64_t seq;
} proto_error_t;

//  One metric key and its value.
typedef struct {
    char key [PROTO_MAX_NAME + 1];
    int64_t value;
} proto_value_t;

//  One message. Strings are NUL-terminated; heap fields are owned by the
//  message and freed by proto_msg_destroy.
typedef struct {
    proto_type_t type;
    //  report, ack, nack (nack: when known)
    bool has_source;
    char source [PROTO_MAX_SOURCE + 1];
    bool has_seq;
    int64_t seq;                            //  report/ack/nack: report seq;
                                            //  totals/heartbeat/snapshot_end: feed seq
    //  report, totals
    char region [PROTO_MAX_NAME + 1];
    char as_of [PROTO_DATE_LEN + 1];        //  "YYYY-MM-DD"
    proto_value_t *values;                  //  report, totals (heap, value_count)
    size_t value_count;
    //  report
    bool has_sent_at;
    int64_t sent_at;                        //  ms since epoch
    char *note;                             //  NULL when absent (heap)
    //  ack
    char status [16];                       //  "stored" or "duplicate"
    //  nack
    proto_code_t code;
    char *error;                            //  heap
    bool has_retry_ms;
    int64_t retry_ms;
    //  totals
    char *name;                             //  display name (heap)
    char level [16];                        //  "province", "city", "county", ...
    int64_t year;                           //  totals; snapshot when has_year
    proto_value_t *own;                     //  totals: the region's own figures (heap)
    size_t own_count;
    bool has_own;                           //  encode/decoded `own` key present
    int64_t reported;
    int64_t expected;
    int64_t updated_at;                     //  ms since epoch
    bool has_version;                       //  totals: optional extension `version`
    int64_t version;                        //  per (region, year), from the database
    //  heartbeat
    int64_t at;                             //  ms since epoch
    //  snapshot
    char prefix [PROTO_MAX_NAME + 1];       //  "" = every region
    bool has_year;
    //  snapshot_end
    int64_t count;
    //  pong (`version` above holds the protocol version)
    char db [8];                            //  "up" or "down"
} proto_msg_t;

//  Create an empty message of the given type; never NULL.
proto_msg_t *
    proto_msg_new (proto_type_t type);

//  Free a message and null the caller's pointer; harmless on NULL.
void
    proto_msg_destroy (proto_msg_t **self_p);

//  Append a value to `values` (own == false) or `own` (own == true).
//  Returns 0, or -1 if the key is longer than PROTO_MAX_NAME or the list is
//  full (PROTO_MAX_VALUES for a report).
int
    proto_msg_add_value (proto_msg_t *self, bool own, const char *key, int64_t value);

//  Replace a heap string field (note, error, name) with a copy of text (NULL clears).
void
    proto_msg_set_note (proto_msg_t *self, const char *text);
void
    proto_msg_set_error (proto_msg_t *self, const char *text);
void
    proto_msg_set_name (proto_msg_t *self, const char *text);

//  Look up a value by key; returns true and sets *value when present.
bool
    proto_msg_value (const proto_msg_t *self, bool own, const char *key, int64_t *value);

//  Encode to one MessagePack map. Returns a malloc'd buffer (the caller's to
//  free) and its size, or NULL if the message breaks the protocol's rules
//  (the reason is in err when err is not NULL).
uint8_t *
    proto_msg_encode (const proto_msg_t *self, size_t *size, proto_error_t *err);

//  Decode and strictly validate one body of at most max_body bytes (0 means
//  PROTO_MAX_BODY). Returns a new message, or NULL with err filled, checked
//  in PROTOCOL.md's order: too_large, malformed, unsupported_version,
//  invalid (too_large for more than PROTO_MAX_VALUES values).
proto_msg_t *
    proto_msg_decode (const void *data, size_t size, size_t max_body, proto_error_t *err);

//  Names used on the wire.
const char *
    proto_code_name (proto_code_t code);        //  "malformed", ... ("ok" for PROTO_OK)
int
    proto_code_from_name (const char *name, proto_code_t *code);  //  0 or -1
bool
    proto_code_is_permanent (proto_code_t code);  //  every code but unavailable
const char *
    proto_type_name (proto_type_t type);        //  "report", ...

//  Field checks, shared with programs that read figures from files.
//  A real calendar date "YYYY-MM-DD" (years 1000..9999); *year set if not NULL.
bool
    proto_date_valid (const char *text, int *year);
//  Why text is not such a date, as the end of a sentence that starts with
//  the date ("is before the year 1000 (...)", "is not a real calendar
//  date"), or NULL when it is one. For messages that name what is wrong.
const char *
    proto_date_problem (const char *text);
//  1..64 characters of [A-Za-z0-9._:-].
bool
    proto_source_valid (const char *text);
//  Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool
    proto_utf8_valid (const char *text, size_t size);

#endif
