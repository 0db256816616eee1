/*  watch_fixture.h — fixed totals for the watch's unit suites.

    Builds totals messages by hand, and the totals the collector would
    publish for the seed (tests/data/tonghua-2022-02-28.csv): each county's
    newest figures, the city as the sum of its counties (own figures kept
    apart), so the table can be checked over the campaign's real numbers
    without a collector.
*/
#ifndef WATCH_FIXTURE_H_INCLUDED
#define WATCH_FIXTURE_H_INCLUDED

#include <stdint.h>
#include "proto_msg.h"
#include "watch_state.h"

//  A totals message; then key, value pairs (const char *, long long) ending in NULL.
proto_msg_t *
    fixture_totals (const char *region, const char *name, const char *level,
                    int64_t seq, ...);

//  Fill the store with the seed's totals as one snapshot ending at seq 100.
//  Returns the number of regions stored, -1 if the seed cannot be read.
int
    fixture_seed (watch_state_t *state, const char *csv_path);

#endif
