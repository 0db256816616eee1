/*  proto_check.h — private to proto/: the checks that run on raw bytes.

    proto_check_body is the bounded scan that runs before msgpack-c ever sees
    a body; the other two build the one-sentence errors every check returns.
    Not installed, not for use outside proto/.
*/
#ifndef PROTO_CHECK_H_INCLUDED
#define PROTO_CHECK_H_INCLUDED

#include "proto_msg.h"

//  How much of a string from the wire an error sentence quotes (bytes).
#define PROTO_CHECK_QUOTE   64

//  Walk size bytes without trusting any declared length: 0 if they are one
//  MessagePack map with string keys, at most 16 levels deep, valid UTF-8 in
//  every string and nothing after it; else -1 with err filled (malformed).
int
    proto_check_body (const uint8_t *data, size_t size, proto_error_t *err);

//  Set err's code and text (printf-style, cut to a whole UTF-8 character)
//  and return -1, so a check can `return proto_check_fail (...)`.
int
    proto_check_fail (proto_error_t *err, proto_code_t code, const char *format, ...)
#if defined (__GNUC__)
    __attribute__ ((format (printf, 3, 4)))     //  let -Wformat check callers
#endif
    ;

//  The longest prefix of text (size bytes of valid UTF-8) of at most max
//  bytes that does not cut a character, as an int for "%.*s".
int
    proto_check_quote_len (const char *text, size_t size, size_t max);

#endif
