/*  backoff.c — how long to wait before resending a report.

    See backoff.h. The random draw is a small xorshift generator with the
    state in the caller's hands, so that tests can pin it and so that the
    module holds no global state.
*/
#include "backoff.h"

static uint32_t
s_next_random (uint32_t *seed)
{
    uint32_t x = *seed ? *seed : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    return x;
}

int64_t
backoff_delay (int failures, int64_t base_ms, int64_t cap_ms,
               int64_t retry_ms, uint32_t *seed)
{
    if (failures < 1)
        failures = 1;
    int64_t delay = base_ms;
    for (int i = 1; i < failures && delay < cap_ms; i++)
        delay *= 2;
    if (delay > cap_ms)
        delay = cap_ms;
    //  Equal jitter: keep half, draw the other half.
    int64_t half = delay / 2;
    int64_t result = half + (half > 0 ? (int64_t) (s_next_random (seed) % (uint32_t) (half + 1)) : 0);
    if (result < retry_ms)
        result = retry_ms;
    return result;
}
