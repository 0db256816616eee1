/*  slice.h — ask the kernel for a short CPU time slice.

    On Linux 6.12 and later the fair scheduler (EEVDF) lets a thread ask for
    a slice shorter than its default (sched_setattr's sched_runtime on
    SCHED_OTHER; no privilege needed). A thread with a shorter slice gets
    an earlier deadline, so when it wakes — a report or a database answer
    has arrived — it runs at once instead of waiting for a busy thread's
    slice to end. Threads created afterwards inherit it.
*/
#ifndef SLICE_H_INCLUDED
#define SLICE_H_INCLUDED

#include <stddef.h>

#define SLICE_MIN_US     100            //  the kernel's bounds
#define SLICE_MAX_US     100000

//  Set the calling thread's slice to usecs (SLICE_MIN_US..SLICE_MAX_US),
//  keeping its policy and nice value. Returns 0 when the kernel took it;
//  otherwise -1 with one sentence in why (an older kernel, a real-time
//  policy, a refusal).
int slice_request (int usecs, char *why, size_t why_size);

#endif
