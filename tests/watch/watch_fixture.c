/*  watch_fixture.c — fixed totals for the watch's unit suites. See the header. */
#include "watch_fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

proto_msg_t *
fixture_totals (const char *region, const char *name, const char *level, int64_t seq, ...)
{
    proto_msg_t *msg = proto_msg_new (PROTO_TOTALS);
    msg->has_seq = true;
    msg->seq = seq;
    snprintf (msg->region, sizeof msg->region, "%s", region);
    proto_msg_set_name (msg, name);
    snprintf (msg->level, sizeof msg->level, "%s", level);
    msg->year = 2022;
    snprintf (msg->as_of, sizeof msg->as_of, "2022-02-28");
    msg->reported = 1;
    msg->expected = 1;
    msg->updated_at = 1646035200000;        //  2022-02-28 08:00:00 UTC
    va_list args;
    va_start (args, seq);
    const char *key;
    while ((key = va_arg (args, const char *)))
        proto_msg_add_value (msg, false, key, (int64_t) va_arg (args, long long));
    va_end (args);
    return msg;
}

#define S_REGIONS 8
#define S_METRICS 32

typedef struct {
    const char *code, *name, *level;
    char as_of [11];
    proto_value_t values [S_METRICS];
    size_t count;
} s_region_t;

static void
s_set (s_region_t *region, const char *key, int64_t value, const char *as_of)
{
    if (strcmp (as_of, region->as_of) > 0)
        snprintf (region->as_of, sizeof region->as_of, "%.10s", as_of);
    for (size_t i = 0; i < region->count; i++)
        if (strcmp (region->values [i].key, key) == 0) {
            region->values [i].value = value;
            return;
        }
    snprintf (region->values [region->count].key, PROTO_MAX_NAME + 1, "%s", key);
    region->values [region->count++].value = value;
}

int
fixture_seed (watch_state_t *state, const char *csv_path)
{
    s_region_t regions [S_REGIONS] = {
        { .code = "220500", .name = "通化市", .level = "city" },     { .code = "220502", .name = "东昌区", .level = "county" },
        { .code = "220503", .name = "二道江区", .level = "county" }, { .code = "220521", .name = "通化县", .level = "county" },
        { .code = "220523", .name = "辉南县", .level = "county" },   { .code = "220524", .name = "柳河县", .level = "county" },
        { .code = "220581", .name = "梅河口市", .level = "county" }, { .code = "220582", .name = "集安市", .level = "county" },
    };
    s_region_t city_own = { .code = "220500", .name = "通化市", .level = "city" };
    FILE *file = fopen (csv_path, "r");
    if (!file)
        return -1;
    char line [1024];
    //  The seed is in as_of order within each region, so later rows win.
    while (fgets (line, sizeof line, file)) {
        char code [16], name [64], as_of [16], metric [64];
        long long value;
        if (sscanf (line, "%15[^,],%63[^,],%15[^,],%63[^,],%lld", code, name, as_of, metric, &value) != 5)
            continue;
        for (int i = 1; i < S_REGIONS; i++)
            if (strcmp (regions [i].code, code) == 0)
                s_set (&regions [i], metric, value, as_of);
        if (strcmp (code, "220500") == 0)
            s_set (&city_own, metric, value, as_of);
    }
    fclose (file);
    //  The city: the sum of its counties; rates (prep_completion_pct) are its own.
    int reported = 0;
    for (int i = 1; i < S_REGIONS; i++) {
        reported += regions [i].count > 0;
        for (size_t v = 0; v < regions [i].count; v++)
            if (strcmp (regions [i].values [v].key, "prep_completion_pct") != 0) {
                int64_t sum = regions [i].values [v].value, now;
                proto_msg_t probe = { 0 };
                probe.values = regions [0].values;
                probe.value_count = regions [0].count;
                if (proto_msg_value (&probe, false, regions [i].values [v].key, &now))
                    sum += now;
                s_set (&regions [0], regions [i].values [v].key, sum, regions [i].as_of);
            }
    }
    for (size_t v = 0; v < city_own.count; v++)
        if (strcmp (city_own.values [v].key, "prep_completion_pct") == 0)
            s_set (&regions [0], "prep_completion_pct", city_own.values [v].value, city_own.as_of);
    if (strcmp (city_own.as_of, regions [0].as_of) > 0)
        snprintf (regions [0].as_of, sizeof regions [0].as_of, "%s", city_own.as_of);

    watch_state_snapshot_begin (state);
    int stored = 0;
    for (int i = 0; i < S_REGIONS; i++) {
        if (regions [i].count == 0)
            continue;
        proto_msg_t *msg = fixture_totals (regions [i].code, regions [i].name, regions [i].level,
                                           90 + i, NULL);
        snprintf (msg->as_of, sizeof msg->as_of, "%s", regions [i].as_of);
        for (size_t v = 0; v < regions [i].count; v++)
            proto_msg_add_value (msg, false, regions [i].values [v].key, regions [i].values [v].value);
        if (i == 0) {
            msg->reported = reported;
            msg->expected = S_REGIONS - 1;
            msg->has_own = true;
            for (size_t v = 0; v < city_own.count; v++)
                proto_msg_add_value (msg, true, city_own.values [v].key, city_own.values [v].value);
        }
        watch_state_snapshot_row (state, &msg);
        stored++;
    }
    watch_state_snapshot_end (state, 100);
    return stored;
}
