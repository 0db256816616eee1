/*  proto_check.c — the checks proto runs before and beside MessagePack:
    the bounded scan of raw bytes, UTF-8, dates, sources, error sentences.

    None of this knows msgpack-c. The scan (proto_check_body) is what makes
    it safe to hand a body to msgpack_unpack_next at all; the field checks
    are the ones PROTOCOL.md puts on single values, and programs that read
    figures from files (the reporter's CSV and JSON input) use them too, to
    reject a bad date or source before a report is ever built. The field
    checks are declared in proto_msg.h, the rest in the private proto_check.h.
*/
#include "proto_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

//  The deepest nesting accepted. The schema itself needs 2 (the top-level
//  map holding `values`/`own`), but unknown keys are ignored whatever they
//  hold (PROTOCOL.md: forward compatibility), so a newer peer's nested
//  structure must pass; 16 levels bound this scan's recursion and stay
//  well within msgpack-c's own limit (32).
#define S_MAX_DEPTH     16

//  Well-formed UTF-8 as RFC 3629 defines it: shortest form only, no UTF-16
//  surrogates (U+D800..U+DFFF), nothing above U+10FFFF. The second byte's
//  range depends on the first, which is where overlongs and surrogates are
//  caught; later continuation bytes are always 0x80..0xBF.
bool
proto_utf8_valid (const char *text, size_t size)
{
    if (!text)
        return size == 0;
    const unsigned char *s = (const unsigned char *) text;
    size_t pos = 0;
    while (pos < size) {
        unsigned char c = s [pos];
        if (c < 0x80) {
            pos++;
            continue;
        }
        size_t extra;
        unsigned char low = 0x80, high = 0xBF;   //  range of the second byte
        if (c >= 0xC2 && c <= 0xDF)
            extra = 1;
        else
        if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            if (c == 0xE0)
                low = 0xA0;                     //  overlong below U+0800
            else
            if (c == 0xED)
                high = 0x9F;                    //  surrogates
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            if (c == 0xF0)
                low = 0x90;                     //  overlong below U+10000
            else
            if (c == 0xF4)
                high = 0x8F;                    //  above U+10FFFF
        }
        else
            return false;                       //  0x80..0xC1, 0xF5..0xFF
        if (size - pos - 1 < extra)
            return false;                       //  cut short
        if (s [pos + 1] < low || s [pos + 1] > high)
            return false;
        for (size_t i = 2; i <= extra; i++)
            if (s [pos + i] < 0x80 || s [pos + i] > 0xBF)
                return false;
        pos += extra + 1;
    }
    return true;
}

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

static int
s_digits (const char *text, size_t count)
{
    int value = 0;
    for (size_t i = 0; i < count; i++)
        value = value * 10 + (text [i] - '0');
    return value;
}

//  Exactly "YYYY-MM-DD" with a day that exists in that month (Gregorian leap
//  years). Years are limited to four digits so that text and value agree.
bool
proto_date_valid (const char *text, int *year)
{
    if (!text || strlen (text) != PROTO_DATE_LEN)
        return false;
    for (size_t i = 0; i < PROTO_DATE_LEN; i++) {
        bool dash = (i == 4 || i == 7);
        if (dash ? text [i] != '-' : !s_is_digit (text [i]))
            return false;
    }
    int y = s_digits (text, 4);
    int m = s_digits (text + 5, 2);
    int d = s_digits (text + 8, 2);
    if (y < 1000 || m < 1 || m > 12 || d < 1)
        return false;
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int last = days [m - 1] + (m == 2 && leap ? 1 : 0);
    if (d > last)
        return false;
    if (year)
        *year = y;
    return true;
}

const char *
proto_date_problem (const char *text)
{
    if (proto_date_valid (text, NULL))
        return NULL;
    if (!text || strlen (text) != PROTO_DATE_LEN || text [4] != '-' || text [7] != '-'
    ||  strspn (text, "0123456789") != 4)
        return "is not a date written YYYY-MM-DD";
    if (memcmp (text, "1000", 4) < 0)           //  four digits: byte order is number order
        return "is before the year 1000 (dates run from 1000-01-01 to 9999-12-31)";
    return "is not a real calendar date";
}

//  A source is an outbox identity (a UUID in practice); the character set is
//  narrow so it can appear in logs, file names and SQL without quoting worries.
bool
proto_source_valid (const char *text)
{
    if (!text)
        return false;
    size_t len = strnlen (text, PROTO_MAX_SOURCE + 1);
    if (len == 0 || len > PROTO_MAX_SOURCE)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = text [i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
               || s_is_digit (c) || c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

//  ---------------------------------------------------------------------------
//  Errors

//  The longest prefix of at most max bytes of valid UTF-8 that does not cut
//  a character in two, so quoted wire text keeps an error sentence valid.
int
proto_check_quote_len (const char *text, size_t size, size_t max)
{
    if (size <= max)
        return (int) size;
    size_t len = max;
    while (len > 0 && ((unsigned char) text [len] & 0xC0) == 0x80)
        len--;
    return (int) len;
}

int
proto_check_fail (proto_error_t *err, proto_code_t code, const char *format, ...)
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
        return proto_check_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    *value = 0;
    for (size_t i = 0; i < n; i++)
        *value = (*value << 8) | scan->data [scan->pos++];
    return 0;
}

static int
s_scan_skip (s_scan_t *scan, uint64_t n)
{
    if (s_left (scan) < n)
        return proto_check_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    scan->pos += (size_t) n;
    return 0;
}

static int s_scan_value (s_scan_t *scan, int depth);

//  A string of len bytes at the current position, which must be UTF-8.
static int
s_scan_string_body (s_scan_t *scan, uint64_t len, bool is_key, int depth)
{
    if (s_left (scan) < len)
        return proto_check_fail (scan->err, PROTO_MALFORMED,
            "a string declares %" PRIu64 " bytes but only %zu are left", len, s_left (scan));
    const char *text = (const char *) scan->data + scan->pos;
    if (!proto_utf8_valid (text, (size_t) len)) {
        if (is_key || !scan->key)
            return proto_check_fail (scan->err, PROTO_MALFORMED, "a map key is not valid UTF-8");
        return proto_check_fail (scan->err, PROTO_MALFORMED,
            "key '%.*s' holds a string that is not valid UTF-8",
            proto_check_quote_len (scan->key, scan->key_len, PROTO_CHECK_QUOTE), scan->key);
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
        return proto_check_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    uint8_t b = scan->data [scan->pos++];
    uint64_t len = 0;
    if (b >= 0xa0 && b <= 0xbf)
        len = b & 0x1f;
    else
    if (b == 0xd9 || b == 0xda || b == 0xdb) {
        if (s_scan_length (scan, (size_t) 1 << (b - 0xd9), &len))
            return -1;
    }
    else
        return proto_check_fail (scan->err, PROTO_MALFORMED, "a map key is not a string");
    return s_scan_string_body (scan, len, true, depth);
}

//  count entries of a map (or elements of an array) at the given depth. Each
//  takes at least one byte per key and value, which bounds any count the wire
//  declares by the bytes that are left.
static int
s_scan_container (s_scan_t *scan, uint64_t count, bool is_map, int depth)
{
    if (depth > S_MAX_DEPTH)
        return proto_check_fail (scan->err, PROTO_MALFORMED,
            "message nests containers deeper than %d levels", S_MAX_DEPTH);
    uint64_t least = is_map ? count * 2 : count;
    if (least > s_left (scan))
        return proto_check_fail (scan->err, PROTO_MALFORMED,
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
        return proto_check_fail (scan->err, PROTO_MALFORMED, "message is cut short");
    uint8_t b = scan->data [scan->pos++];
    uint64_t len = 0;
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
            return proto_check_fail (scan->err, PROTO_MALFORMED,
                "byte 0x%02x at offset %zu is not MessagePack", b, scan->pos - 1);
    }
}

int
proto_check_body (const uint8_t *data, size_t size, proto_error_t *err)
{
    if (size == 0)
        return proto_check_fail (err, PROTO_MALFORMED, "message body is empty");
    uint8_t b = data [0];
    bool is_map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    if (!is_map)
        return proto_check_fail (err, PROTO_MALFORMED, "message body is not a MessagePack map");
    s_scan_t scan = { .data = data, .size = size, .err = err };
    if (s_scan_value (&scan, 0))
        return -1;
    if (scan.pos != size)
        return proto_check_fail (err, PROTO_MALFORMED,
            "%zu trailing bytes after the message map", size - scan.pos);
    return 0;
}
