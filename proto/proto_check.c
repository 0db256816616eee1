/*  proto_check.c — field checks of the wire contract: UTF-8, dates, sources.

    These are the checks PROTOCOL.md puts on single values. They live apart
    from proto_msg.c because they know nothing of MessagePack, and because
    programs that read figures from files (the reporter's CSV and JSON input)
    use them to reject a bad date or source before a report is ever built.
    Declared in proto_msg.h.
*/
#include "proto_msg.h"

#include <string.h>

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
