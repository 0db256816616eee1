/*  make_corpus.c — writes the fuzzer's seed corpus: one real encoded message
    of every type, from the proto API itself.

    Usage: make_corpus DIR. The seeds are committed in tests/fuzz/corpus/;
    rerun this only when the protocol changes, e.g.
        cc -std=c11 -Iproto tests/fuzz/make_corpus.c proto/proto_msg.c \
           proto/proto_decode.c proto/proto_check.c -lmsgpackc -o /tmp/make_corpus
        /tmp/make_corpus tests/fuzz/corpus
*/
#include "proto_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_dir;

static void
s_write (const char *name, proto_msg_t **msg_p)
{
    proto_error_t err;
    size_t size;
    uint8_t *bytes = proto_msg_encode (*msg_p, &size, &err);
    if (!bytes) {
        fprintf (stderr, "make_corpus: %s: %s\n", name, err.text);
        exit (EXIT_FAILURE);
    }
    char path [512];
    snprintf (path, sizeof (path), "%s/%s", s_dir, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (bytes, 1, size, file) != size || fclose (file)) {
        perror (path);
        exit (EXIT_FAILURE);
    }
    free (bytes);
    proto_msg_destroy (msg_p);
}

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: make_corpus DIR\n");
        return EXIT_FAILURE;
    }
    s_dir = argv [1];

    //  集安市 (220582), 2022-02-28, from shared/data/tonghua-2022-02-28.csv.
    static const proto_value_t jian [] = {
        { "projects_started", 15 }, { "projects_started_investment", 477000 },
        { "projects_started_annual", 113000 }, { "projects_planned", 33 },
        { "projects_planned_investment", 1663000 }, { "projects_planned_annual", 417000 },
        { "projects_new", 16 }, { "projects_continued", 17 },
        { "attraction_planned", 16 }, { "attraction_planned_amount", 445000 },
        { "attraction_signed", 5 }, { "attraction_signed_amount", 103000 },
        { "attraction_landed", 3 }, { "attraction_landed_amount", 49200 },
        { "cattle_added", 1239 }, { "cattle_households_added", 334 },
    };
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    strcpy (msg->source, "3f1c9a2e-0b7d-4c55-9e61-2a8d0f4b7c13");
    msg->seq = 1;
    strcpy (msg->region, "220582");
    strcpy (msg->as_of, "2022-02-28");
    for (size_t i = 0; i < sizeof (jian) / sizeof (jian [0]); i++)
        proto_msg_add_value (msg, false, jian [i].key, jian [i].value);
    msg->has_sent_at = true;
    msg->sent_at = 1646035200000;
    proto_msg_set_note (msg, "集安市此次集中开工的重点项目共15个");
    s_write ("report-220582", &msg);

    msg = proto_msg_new (PROTO_REPORT);
    strcpy (msg->source, "liuhe-01");
    msg->seq = 2;
    strcpy (msg->region, "220524");
    strcpy (msg->as_of, "2022-02-28");
    proto_msg_add_value (msg, false, "projects_planned", 33);
    s_write ("report-minimal", &msg);

    msg = proto_msg_new (PROTO_ACK);
    strcpy (msg->source, "liuhe-01");
    msg->seq = 2;
    strcpy (msg->status, "stored");
    s_write ("ack-stored", &msg);

    msg = proto_msg_new (PROTO_ACK);
    strcpy (msg->source, "liuhe-01");
    msg->seq = 2;
    strcpy (msg->status, "duplicate");
    s_write ("ack-duplicate", &msg);

    msg = proto_msg_new (PROTO_NACK);
    msg->has_source = msg->has_seq = true;
    strcpy (msg->source, "liuhe-01");
    msg->seq = 3;
    msg->code = PROTO_INVALID;
    proto_msg_set_error (msg, "as_of '2022-02-30' is not a real calendar date");
    s_write ("nack-invalid", &msg);

    msg = proto_msg_new (PROTO_NACK);
    msg->code = PROTO_UNAVAILABLE;
    proto_msg_set_error (msg, "the database cannot be reached");
    msg->has_retry_ms = true;
    msg->retry_ms = 1000;
    s_write ("nack-unavailable", &msg);

    msg = proto_msg_new (PROTO_TOTALS);
    msg->seq = 17;
    strcpy (msg->region, "220500");
    proto_msg_set_name (msg, "通化市");
    strcpy (msg->level, "city");
    msg->year = 2022;
    strcpy (msg->as_of, "2022-03-01");
    proto_msg_add_value (msg, false, "projects_planned", 151);
    proto_msg_add_value (msg, false, "prep_completion_pct", 5740);
    proto_msg_add_value (msg, true, "projects_planned", 150);
    msg->reported = 6;
    msg->expected = 7;
    msg->updated_at = 1646121600123;
    msg->has_version = true;
    msg->version = 4;
    s_write ("totals-220500", &msg);

    msg = proto_msg_new (PROTO_TOTALS);
    msg->seq = 18;
    strcpy (msg->region, "220503");
    proto_msg_set_name (msg, "二道江区");
    strcpy (msg->level, "county");
    msg->year = 2022;
    strcpy (msg->as_of, "2022-01-01");
    msg->expected = 1;
    s_write ("totals-empty", &msg);

    msg = proto_msg_new (PROTO_HEARTBEAT);
    msg->seq = 18;
    msg->at = 1646121601000;
    s_write ("heartbeat", &msg);

    msg = proto_msg_new (PROTO_SNAPSHOT);
    strcpy (msg->prefix, "2205");
    msg->has_year = true;
    msg->year = 2022;
    s_write ("snapshot", &msg);

    msg = proto_msg_new (PROTO_SNAPSHOT_END);
    msg->seq = 18;
    msg->count = 8;
    s_write ("snapshot_end", &msg);

    msg = proto_msg_new (PROTO_PING);
    s_write ("ping", &msg);

    msg = proto_msg_new (PROTO_PONG);
    msg->version = PROTO_VERSION;
    strcpy (msg->db, "up");
    s_write ("pong", &msg);
    return EXIT_SUCCESS;
}
