/*  scale_kit.h — load clients and feed recorders for the scale suites.

    A scale client is a thread with a raw DEALER socket that sends a planned
    list of reports (one source, seq 1..count) with a window of reports in
    flight, resends on `unavailable` after retry_ms, and on silence moves to
    the next collector endpoint and resends what is in flight: the behaviour
    any reporter must have. It records how each report was answered, so a
    test can check that every report was acked exactly once. A feed recorder
    is a thread that keeps every totals message of one or more feeds.
*/
#ifndef SCALE_KIT_H_INCLUDED
#define SCALE_KIT_H_INCLUDED

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define SK_METRICS      4           //  values per report (see sk_metric_keys)
#define SK_MAX_ENDPOINTS 4

//  The metric keys every planned report carries: three `sum` metrics and
//  one rule-`none` rate.
extern const char *sk_metric_keys [SK_METRICS];

//  One planned report.
typedef struct {
    char region [16];
    char as_of [11];
    int64_t values [SK_METRICS];
} sk_plan_t;

//  How a report was answered.
typedef enum {
    SK_PENDING = 0,
    SK_STORED,
    SK_DUPLICATE
} sk_answer_t;

typedef struct {
    //  set by the caller before sk_client_start
    char source [48];               //  the source; seq = index + 1
    const sk_plan_t *plan;          //  count planned reports (borrowed)
    size_t count;
    char endpoints [SK_MAX_ENDPOINTS][64];  //  report endpoints, tried in turn
    int endpoint_count;
    int endpoint;                   //  the one to start with
    int window;                     //  reports in flight at most
    int silence_ms;                 //  no reply this long: next endpoint, resend
    int64_t deadline_ms;            //  tt_now_ms time after which it gives up
    //  filled by the thread
    sk_answer_t *answers;           //  count entries
    int64_t *acked_at;              //  tt_now_ms of each ack
    size_t stored, duplicates, unavailable, failovers;
    char error [256];               //  first unexpected reply, or ""
    pthread_t thread;
} sk_client_t;

//  Allocate answers and start the thread.
void sk_client_start (sk_client_t *self);
//  Wait for the thread; frees nothing but the thread.
void sk_client_join (sk_client_t *self);
//  Free answers.
void sk_client_free (sk_client_t *self);
//  Number of reports acked (stored or duplicate) so far (read without a lock:
//  a progress figure only).
size_t sk_client_acked (const sk_client_t *self);

//  One totals message as recorded from a feed.
typedef struct {
    int feed;                       //  index of the feed it came from
    char region [65];
    int64_t year;
    int64_t seq;
    int64_t version;
    int64_t values [SK_METRICS];    //  -1 when absent
    uint8_t *body;                  //  the body exactly as received (heap)
    size_t body_size;
} sk_totals_t;

typedef struct sk_recorder_t sk_recorder_t;

//  Subscribe to every feed endpoint (topic prefix `topic`) and record each
//  totals message; returns once a heartbeat has arrived from every feed, so
//  nothing published afterwards is missed. NULL when that takes over 10 s.
sk_recorder_t *sk_recorder_new (const char *const *feeds, int feed_count, const char *topic);
//  Stop the thread and free everything.
void sk_recorder_destroy (sk_recorder_t **self_p);
//  Copy out the messages recorded so far (caller frees with sk_totals_free).
sk_totals_t *sk_recorder_take (sk_recorder_t *self, size_t *count);
void sk_totals_free (sk_totals_t *list, size_t count);
//  The highest version recorded for region (0 when none).
int64_t sk_recorder_version (sk_recorder_t *self, const char *region);

#endif
