/*  slice.c — ask the kernel for a short CPU time slice (see slice.h).

    glibc has no wrapper for sched_setattr, so the system call is made
    directly with the kernel's struct sched_attr (its first version, 56
    bytes), laid out here to avoid headers that clash across glibc versions.
*/
#include "slice.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined (__linux__)
#include <sys/syscall.h>
#include <unistd.h>

typedef struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;     //  for SCHED_OTHER and SCHED_BATCH: the slice, in ns
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
} s_sched_attr_t;

#define S_SCHED_OTHER           0
#define S_SCHED_BATCH           3
#define S_FLAG_RESET_ON_FORK    0x01

static int
s_get (s_sched_attr_t *attr)
{
    memset (attr, 0, sizeof *attr);
    return (int) syscall (SYS_sched_getattr, 0, attr, (unsigned int) sizeof *attr, 0);
}

int
slice_request (int usecs, char *why, size_t why_size)
{
    if (usecs < SLICE_MIN_US || usecs > SLICE_MAX_US) {
        snprintf (why, why_size, "%d us is outside the kernel's %d to %d us", usecs,
                  SLICE_MIN_US, SLICE_MAX_US);
        return -1;
    }
    s_sched_attr_t attr;
    if (s_get (&attr)) {
        snprintf (why, why_size, "sched_getattr failed: %s", strerror (errno));
        return -1;
    }
    if (attr.sched_policy != S_SCHED_OTHER && attr.sched_policy != S_SCHED_BATCH) {
        snprintf (why, why_size, "the thread runs under a real-time or idle policy (%u), "
                  "which has no such slice", attr.sched_policy);
        return -1;
    }
    //  The policy and nice value stay as they are; only the slice changes.
    attr.size = (uint32_t) sizeof attr;
    attr.sched_flags &= S_FLAG_RESET_ON_FORK;
    attr.sched_runtime = (uint64_t) usecs * 1000;
    attr.sched_deadline = attr.sched_period = 0;
    attr.sched_util_min = attr.sched_util_max = 0;
    if (syscall (SYS_sched_setattr, 0, &attr, 0)) {
        snprintf (why, why_size, "sched_setattr failed: %s", strerror (errno));
        return -1;
    }
    //  Before Linux 6.12 the kernel accepts and ignores it: read it back.
    if (s_get (&attr) || attr.sched_runtime != (uint64_t) usecs * 1000) {
        snprintf (why, why_size, "this kernel has no per-thread slice (Linux 6.12 or later has)");
        return -1;
    }
    return 0;
}

#else

int
slice_request (int usecs, char *why, size_t why_size)
{
    (void) usecs;
    snprintf (why, why_size, "only Linux lets a thread choose its slice");
    return -1;
}

#endif
