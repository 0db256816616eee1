/*  backoff.h — how long to wait before resending a report.

    Exponential back-off with jitter: the n-th consecutive failure waits about
    base * 2^(n-1), capped, with the upper half of that drawn at random so
    that many reporters coming back after an outage do not resend in step.
    A collector's `retry_ms` (sent with `unavailable`) is a floor: we never
    come back sooner than it asked.
*/
#ifndef BACKOFF_H_INCLUDED
#define BACKOFF_H_INCLUDED

#include <stdint.h>

#define BACKOFF_BASE_MS     250         //  first wait (before jitter)
#define BACKOFF_CAP_MS      30000       //  never wait longer than this...
                                        //  ...unless retry_ms asks for more

//  Delay in ms before attempt number `failures + 1`, after `failures` (>= 1)
//  consecutive failures. The result lies in [d/2, d] where
//  d = min (cap_ms, base_ms * 2^(failures-1)), and is at least retry_ms
//  (pass 0 when the collector gave none). *seed is a caller-owned random
//  state (any value to start), advanced on each call.
int64_t
    backoff_delay (int failures, int64_t base_ms, int64_t cap_ms,
                   int64_t retry_ms, uint32_t *seed);

#endif
