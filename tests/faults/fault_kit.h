/*  fault_kit.h — what the fault suites share: quiet ports, generated report
    files, reporter runs, a raw DEALER client, and the figures they print.

    The fault suites (crash loop, database outage, hostile input) drive the
    real programs through tt.h; these helpers only spare each suite the same
    plumbing. Everything waits by polling with a deadline.
*/
#ifndef FAULT_KIT_H_INCLUDED
#define FAULT_KIT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto_msg.h"
#include "tt.h"

//  The seven county-level (leaf) regions of the catalog.
extern const char *fk_counties [7];

//  Write DIR/NAME: a CSV of `count` reports for region, one per day from
//  first_day (days since 2000-01-01), each with `metrics` values (1..4)
//  derived from salt and the day. Returns the malloc'd path.
char *fk_write_csv (const char *dir, const char *name, const char *region,
                    int first_day, int count, int metrics, int salt);

//  The source id of an outbox (malloc'd).
char *fk_source_of (const char *outbox);

//  Reports still queued in an outbox, from `tally-reporter status`; -1 if unreadable.
int fk_queued (const char *outbox);

//  A query's integer, the SQL given printf-style.
int64_t fk_sql_int (const tt_pg_t *pg, const char *format, ...);

//  Poll until the count of rows in `report` for sources LIKE pattern reaches
//  at least want, or timeout; returns the last count.
int64_t fk_wait_reports (const tt_pg_t *pg, const char *pattern, int64_t want, int timeout_ms);

//  VmRSS and VmHWM of a process in KiB (0 when unreadable).
void fk_memory_kib (pid_t pid, int64_t *rss, int64_t *hwm);

//  A report with `values` values (1..25 metrics of the catalog, in catalog
//  order), each derived from seq.
proto_msg_t *fk_report (const char *source, int64_t seq, const char *region,
                        const char *as_of, size_t values);

//  A DEALER connected to endpoint with a receive timeout.
zsock_t *fk_dealer (const char *endpoint, int rcvtimeo_ms);

//  Send one encoded message as one frame; 0 or -1.
int fk_send_msg (zsock_t *sock, const proto_msg_t *msg);

//  Receive and decode one reply (NULL on timeout or an undecodable reply).
proto_msg_t *fk_recv_msg (zsock_t *sock);

//  Percentile (0..100) of n sorted values.
int64_t fk_percentile (const int64_t *sorted, size_t n, int percent);

//  Sort int64 values ascending.
void fk_sort (int64_t *values, size_t n);

#endif
