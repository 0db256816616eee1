/*  test_pipeline.c — the core pipeline end to end, with real parts.

    A private PostgreSQL (initdb'd in a temp folder), `tally-collector
    migrate`, the collector on 127.0.0.1 ephemeral ports, and real DEALER,
    REQ, SUB clients. Each test uses its own year or source so that the
    tests can share one database and read as independent examples.
*/
#include <check.h>
#include <czmq.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>

#include "proto_msg.h"
#include "tt.h"

static tt_pg_t *s_pg;
static tt_collector_t *s_collector;

//  --------------------------------------------------------------------------
//  Client helpers

static zsock_t *
s_dealer (void)
{
    zsock_t *sock = zsock_new_dealer (s_collector->report_ep);
    ck_assert_ptr_nonnull (sock);
    zsock_set_rcvtimeo (sock, 10000);
    return sock;
}

static proto_msg_t *
s_report (const char *source, int64_t seq, const char *region, const char *as_of)
{
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    msg->has_source = msg->has_seq = true;
    snprintf (msg->source, sizeof msg->source, "%s", source);
    msg->seq = seq;
    snprintf (msg->region, sizeof msg->region, "%s", region);
    snprintf (msg->as_of, sizeof msg->as_of, "%.10s", as_of);
    return msg;
}

static void
s_send_raw (zsock_t *sock, const void *data, size_t size)
{
    zframe_t *frame = zframe_new (data, size);
    ck_assert_int_eq (zframe_send (&frame, sock, 0), 0);
}

static void
s_send (zsock_t *sock, const proto_msg_t *msg)
{
    size_t size;
    uint8_t *body = proto_msg_encode (msg, &size, NULL);
    ck_assert_ptr_nonnull (body);
    s_send_raw (sock, body, size);
    free (body);
}

//  Receive one reply (DEALER: one frame); fails the test on timeout.
static proto_msg_t *
s_recv (zsock_t *sock)
{
    zframe_t *frame = zframe_recv (sock);
    ck_assert_msg (frame != NULL, "no reply from the collector within the timeout");
    proto_error_t err;
    proto_msg_t *msg = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
    ck_assert_msg (msg != NULL, "undecodable reply: %s", err.text);
    zframe_destroy (&frame);
    return msg;
}

//  Send a ping on a query socket and return the pong (fails the test on
//  timeout or any other reply).
static proto_msg_t *
s_ping (zsock_t *query)
{
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    s_send (query, ping);
    proto_msg_destroy (&ping);
    proto_msg_t *pong = s_recv (query);
    ck_assert_int_eq (pong->type, PROTO_PONG);
    return pong;
}

//  Send one report and return the code it got: PROTO_OK for ack (status in
//  *status when not NULL), else the nack code.
static proto_code_t
s_exchange (zsock_t *sock, const proto_msg_t *report, char *status)
{
    s_send (sock, report);
    proto_msg_t *reply = s_recv (sock);
    proto_code_t code = PROTO_OK;
    if (reply->type == PROTO_ACK) {
        ck_assert_str_eq (reply->source, report->source);
        ck_assert_int_eq (reply->seq, report->seq);
        if (status)
            strcpy (status, reply->status);
    }
    else {
        ck_assert_int_eq (reply->type, PROTO_NACK);
        code = reply->code;
        ck_assert_ptr_nonnull (reply->error);
    }
    proto_msg_destroy (&reply);
    return code;
}

static int64_t
s_sql_int (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sql = zsys_vprintf (format, args);
    va_end (args);
    int64_t value = tt_sql_int (s_pg->conninfo, sql);
    zstr_free (&sql);
    return value;
}

//  --------------------------------------------------------------------------
//  The seed: every county's figures of 2022-02-28, one report per (region, as_of)

typedef struct {
    char region [16];
    char as_of [16];
    proto_msg_t *report;
} s_seed_report_t;

//  Read the seed CSV (region,region_name,as_of,metric,value,unit,source) into
//  one report per (region, as_of). The source sentences hold no ASCII comma.
static size_t
s_seed_reports (s_seed_report_t *out, size_t max, const char *source)
{
    char *text = tt_slurp (tt_seed_csv);
    ck_assert_ptr_nonnull (text);
    size_t count = 0;
    char *save = NULL;
    char *line = strtok_r (text, "\n", &save);
    line = strtok_r (NULL, "\n", &save);        //  header
    while (line) {
        char region [16], name [64], as_of [16], metric [64];
        long long value;
        if (sscanf (line, "%15[^,],%63[^,],%15[^,],%63[^,],%lld", region, name, as_of, metric, &value) == 5) {
            size_t i;
            for (i = 0; i < count; i++)
                if (streq (out [i].region, region) && streq (out [i].as_of, as_of))
                    break;
            if (i == count) {
                ck_assert (count < max);
                snprintf (out [i].region, sizeof out [i].region, "%s", region);
                snprintf (out [i].as_of, sizeof out [i].as_of, "%s", as_of);
                out [i].report = s_report (source, (int64_t) i + 1, region, as_of);
                count++;
            }
            ck_assert_int_eq (proto_msg_add_value (out [i].report, false, metric, value), 0);
        }
        line = strtok_r (NULL, "\n", &save);
    }
    free (text);
    return count;
}

START_TEST (test_seed_end_to_end)
{
    //  A subscriber that joined before anything was sent sees every change.
    zsock_t *sub = zsock_new_sub (s_collector->feed_ep, "2205");
    zsock_set_rcvtimeo (sub, 5000);
    zsock_t *dealer = s_dealer ();
    //  PUB/SUB joins asynchronously: wait for the first heartbeat-free moment
    //  by polling a ping on the query port, then give the subscription a
    //  heartbeat to prove it is live.
    zsock_t *hb = zsock_new_sub (s_collector->feed_ep, "$hb");
    zsock_set_rcvtimeo (hb, 3000);
    char *topic = zstr_recv (hb);
    ck_assert_str_eq (topic, "$hb");
    zstr_free (&topic);
    zsock_destroy (&hb);

    s_seed_report_t seed [16];
    size_t count = s_seed_reports (seed, 16, "seed-2022");
    ck_assert_int_eq (count, 8);        //  6 counties, the city on two days
    for (size_t i = 0; i < count; i++) {
        char status [16] = "";
        ck_assert_int_eq (s_exchange (dealer, seed [i].report, status), PROTO_OK);
        ck_assert_str_eq (status, "stored");
    }
    //  Every figure of the CSV is in the database.
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report_value v JOIN report r ON r.id = v.report_id "
                                 "WHERE r.source = 'seed-2022'"), 68);
    //  Totals: the city is the sum of its counties; its own figures stay apart.
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'projects_planned' AND year = 2022"), 33 + 33 + 33 + 25 + 33 + 28);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'projects_started' AND year = 2022"), 15 + 11 + 16);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM current_value WHERE region = '220500' "
                                 "AND metric = 'projects_started' AND year = 2022"), 84);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220000' "
                                 "AND metric = 'projects_planned_investment' AND year = 2022"),
                      1663000 + 1090500 + 1368000 + 620000 + 786800);
    //  A rate is never summed: the city's total is its own figure.
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'prep_completion_pct' AND year = 2022"), 6920);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM region_total WHERE region = '220000' "
                                 "AND metric = 'prep_completion_pct'"), 0);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM tally_verify()"), 0);
    ck_assert_int_eq (s_sql_int ("SELECT reported FROM region_year WHERE region = '220500' AND year = 2022"), 6);
    //  Every row above others counts its children that have a row.
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM region_year p JOIN LATERAL "
                                 "(SELECT count(*) AS n FROM region c JOIN region_year cy "
                                 "ON cy.region = c.code AND cy.year = p.year WHERE c.parent = p.region) c "
                                 "ON c.n > 0 WHERE p.reported <> c.n"), 0);

    //  The feed's newest totals of each region equal the database.
    zhashx_t *latest = zhashx_new ();
    zhashx_set_destructor (latest, (zhashx_destructor_fn *) proto_msg_destroy);
    int64_t last_seq = 0;
    while (true) {
        char *region = zstr_recv (sub);
        if (!region)
            break;
        zframe_t *body = zframe_recv (sub);
        proto_error_t err;
        proto_msg_t *totals = proto_msg_decode (zframe_data (body), zframe_size (body), 0, &err);
        ck_assert_msg (totals != NULL, "bad feed message: %s", err.text);
        ck_assert_str_eq (totals->region, region);
        ck_assert_int_gt (totals->seq, last_seq);       //  strictly increasing
        last_seq = totals->seq;
        zhashx_update (latest, region, totals);
        zstr_free (&region);
        zframe_destroy (&body);
        if (zhashx_size (latest) == 7) {
            proto_msg_t *city = (proto_msg_t *) zhashx_lookup (latest, "220500");
            int64_t started = 0;
            if (city && proto_msg_value (city, true, "projects_started", &started) && started == 84)
                break;
        }
    }
    ck_assert_int_eq (zhashx_size (latest), 7);         //  6 counties and the city
    proto_msg_t *city = (proto_msg_t *) zhashx_lookup (latest, "220500");
    int64_t value;
    ck_assert (proto_msg_value (city, false, "projects_planned", &value) && value == 185);
    ck_assert (proto_msg_value (city, true, "projects_planned", &value) && value == 220);
    ck_assert_int_eq (city->reported, 6);
    ck_assert_int_eq (city->expected, 7);
    ck_assert_str_eq (city->name, "通化市");
    ck_assert_str_eq (city->level, "city");
    ck_assert_str_eq (city->as_of, "2022-03-01");
    proto_msg_t *county = (proto_msg_t *) zhashx_lookup (latest, "220524");
    ck_assert_int_eq (county->reported, 1);
    ck_assert_int_eq (county->expected, 1);
    ck_assert (!county->has_own);

    //  A late joiner's snapshot equals the database too.
    zsock_t *query = zsock_new_dealer (s_collector->query_ep);
    zsock_set_rcvtimeo (query, 10000);
    proto_msg_t *ask = proto_msg_new (PROTO_SNAPSHOT);
    snprintf (ask->prefix, sizeof ask->prefix, "2205");
    ask->has_year = true;
    ask->year = 2022;
    s_send (query, ask);
    proto_msg_destroy (&ask);
    size_t rows = 0;
    while (true) {
        proto_msg_t *msg = s_recv (query);
        if (msg->type == PROTO_SNAPSHOT_END) {
            ck_assert_int_eq (msg->count, (int64_t) rows);
            ck_assert_int_ge (msg->seq, last_seq);
            proto_msg_destroy (&msg);
            break;
        }
        ck_assert_int_eq (msg->type, PROTO_TOTALS);
        for (size_t v = 0; v < msg->value_count; v++)
            ck_assert_int_eq (msg->values [v].value,
                s_sql_int ("SELECT value FROM region_total WHERE region = '%s' AND metric = '%s' "
                           "AND year = 2022", msg->region, msg->values [v].key));
        ck_assert_int_eq ((int64_t) msg->value_count,
            s_sql_int ("SELECT count(*) FROM region_total WHERE region = '%s' AND year = 2022", msg->region));
        rows++;
        proto_msg_destroy (&msg);
    }
    ck_assert_int_eq (rows, 7);
    zsock_destroy (&query);

    //  Sending the seed again changes nothing: every report is a duplicate.
    for (size_t i = 0; i < count; i++) {
        char status [16] = "";
        ck_assert_int_eq (s_exchange (dealer, seed [i].report, status), PROTO_OK);
        ck_assert_str_eq (status, "duplicate");
        proto_msg_destroy (&seed [i].report);
    }
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'seed-2022'"), 8);
    zhashx_destroy (&latest);
    zsock_destroy (&sub);
    zsock_destroy (&dealer);
}
END_TEST

START_TEST (test_newest_as_of_wins)
{
    zsock_t *dealer = s_dealer ();
    proto_msg_t *march = s_report ("asof", 1, "220582", "2023-03-31");
    proto_msg_add_value (march, false, "cattle_added", 500);
    proto_msg_t *feb = s_report ("asof", 2, "220582", "2023-02-28");
    proto_msg_add_value (feb, false, "cattle_added", 300);
    proto_msg_add_value (feb, false, "cattle_households_added", 12);
    proto_msg_t *april = s_report ("asof", 3, "220582", "2023-04-30");
    proto_msg_add_value (april, false, "cattle_added", 800);
    proto_msg_t *other = s_report ("asof", 4, "220523", "2023-04-01");
    proto_msg_add_value (other, false, "cattle_added", 40);

    ck_assert_int_eq (s_exchange (dealer, march, NULL), PROTO_OK);
    //  An older report is kept in history and changes nothing it is older for...
    ck_assert_int_eq (s_exchange (dealer, feb, NULL), PROTO_OK);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM current_value WHERE region = '220582' "
                                 "AND metric = 'cattle_added' AND year = 2023"), 500);
    //  ...but a metric the region had no figure for is taken.
    ck_assert_int_eq (s_sql_int ("SELECT value FROM current_value WHERE region = '220582' "
                                 "AND metric = 'cattle_households_added' AND year = 2023"), 12);
    //  A newer report replaces the figure; it never adds to it.
    ck_assert_int_eq (s_exchange (dealer, april, NULL), PROTO_OK);
    ck_assert_int_eq (s_exchange (dealer, other, NULL), PROTO_OK);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'cattle_added' AND year = 2023"), 840);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220000' "
                                 "AND metric = 'cattle_added' AND year = 2023"), 840);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'asof'"), 4);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM tally_verify()"), 0);
    proto_msg_destroy (&march);
    proto_msg_destroy (&feb);
    proto_msg_destroy (&april);
    proto_msg_destroy (&other);
    zsock_destroy (&dealer);
}
END_TEST

START_TEST (test_duplicate_and_conflict)
{
    zsock_t *dealer = s_dealer ();
    proto_msg_t *report = s_report ("dup", 1, "220521", "2024-01-15");
    proto_msg_add_value (report, false, "projects_started", 3);
    proto_msg_set_note (report, "first week");
    char status [16];
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    ck_assert_str_eq (status, "stored");
    //  sent_at is not part of the content.
    report->has_sent_at = true;
    report->sent_at = 1700000000000;
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    ck_assert_str_eq (status, "duplicate");
    //  The same (source, seq) with another note or value is a conflict.
    proto_msg_set_note (report, "changed my mind");
    ck_assert_int_eq (s_exchange (dealer, report, NULL), PROTO_CONFLICT);
    proto_msg_set_note (report, "first week");
    report->values [0].value = 4;
    ck_assert_int_eq (s_exchange (dealer, report, NULL), PROTO_CONFLICT);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM rejected_report WHERE code = 'conflict' "
                                 "AND source = 'dup' AND seq = 1"), 2);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM current_value WHERE region = '220521' "
                                 "AND metric = 'projects_started' AND year = 2024"), 3);
    //  Two copies in flight at once: one stored, one duplicate, never two rows.
    proto_msg_t *twice = s_report ("dup", 2, "220521", "2024-01-22");
    proto_msg_add_value (twice, false, "projects_started", 5);
    s_send (dealer, twice);
    s_send (dealer, twice);
    proto_msg_t *a = s_recv (dealer), *b = s_recv (dealer);
    ck_assert_int_eq (a->type, PROTO_ACK);
    ck_assert_int_eq (b->type, PROTO_ACK);
    ck_assert (streq (a->status, "stored") != streq (b->status, "stored"));
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'dup'"), 2);
    proto_msg_destroy (&a);
    proto_msg_destroy (&b);
    proto_msg_destroy (&twice);
    proto_msg_destroy (&report);
    zsock_destroy (&dealer);
}
END_TEST

//  Each bad input gets the nack code PROTOCOL.md gives it, a sentence
//  naming what is wrong, and a rejected_report row with its raw bytes.
static void
s_expect_nack_raw (zsock_t *dealer, const void *data, size_t size, proto_code_t code, const char *word)
{
    int64_t before = s_sql_int ("SELECT count(*) FROM rejected_report WHERE code = '%s'", proto_code_name (code));
    s_send_raw (dealer, data, size);
    proto_msg_t *reply = s_recv (dealer);
    ck_assert_int_eq (reply->type, PROTO_NACK);
    ck_assert_msg (reply->code == code, "expected %s, got %s: %s", proto_code_name (code),
                   proto_code_name (reply->code), reply->error);
    ck_assert_msg (strstr (reply->error, word), "'%s' does not name '%s'", reply->error, word);
    proto_msg_destroy (&reply);
    //  The row is written with the next commit: poll for it.
    int64_t deadline = zclock_mono () + 5000;
    while (s_sql_int ("SELECT count(*) FROM rejected_report WHERE code = '%s'",
                      proto_code_name (code)) == before && zclock_mono () < deadline) {
        //  A good report makes the collector commit.
        static int64_t seq = 1;
        proto_msg_t *nudge = s_report ("nudge", seq++, "220502", "2025-01-01");
        proto_msg_add_value (nudge, false, "projects_new", 1);
        ck_assert_int_eq (s_exchange (dealer, nudge, NULL), PROTO_OK);
        proto_msg_destroy (&nudge);
    }
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM rejected_report WHERE code = '%s'",
                                 proto_code_name (code)), before + 1);
    ck_assert_int_eq (s_sql_int ("SELECT length(raw) FROM rejected_report WHERE code = '%s' "
                                 "ORDER BY id DESC LIMIT 1", proto_code_name (code)), (int64_t) size);
}

static void
s_expect_nack (zsock_t *dealer, const proto_msg_t *report, proto_code_t code, const char *word)
{
    size_t size;
    uint8_t *body = proto_msg_encode (report, &size, NULL);
    ck_assert_ptr_nonnull (body);
    s_expect_nack_raw (dealer, body, size, code, word);
    free (body);
}

START_TEST (test_bad_input)
{
    zsock_t *dealer = s_dealer ();
    s_expect_nack_raw (dealer, "\x93\x01\x02", 3, PROTO_MALFORMED, "map");
    s_expect_nack_raw (dealer, "garbage that is not msgpack", 27, PROTO_MALFORMED, "");

    size_t big = 70 * 1024;
    char *huge = (char *) calloc (1, big);
    s_expect_nack_raw (dealer, huge, big, PROTO_TOO_LARGE, "65536");
    free (huge);
    //  {"v": 2, "type": "report"}
    s_expect_nack_raw (dealer, "\x82\xa1v\x02\xa4type\xa6report", 16, PROTO_UNSUPPORTED_VERSION, "2");
    //  {"v": 1, "type": "report"}: keys missing
    s_expect_nack_raw (dealer, "\x82\xa1v\x01\xa4type\xa6report", 16, PROTO_INVALID, "source");

    proto_msg_t *report = s_report ("bad", 1, "999999", "2025-02-01");
    proto_msg_add_value (report, false, "projects_new", 1);
    s_expect_nack (dealer, report, PROTO_UNKNOWN_REGION, "999999");
    snprintf (report->region, sizeof report->region, "220502");
    proto_msg_add_value (report, false, "unicorns_seen", 1);
    s_expect_nack (dealer, report, PROTO_UNKNOWN_METRIC, "unicorns_seen");
    report->value_count = 1;
    report->values [0].value = -5;
    s_expect_nack (dealer, report, PROTO_INVALID, "projects_new");
    proto_msg_destroy (&report);

    //  A ping on the report port is not a report.
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    s_expect_nack (dealer, ping, PROTO_INVALID, "ping");
    proto_msg_destroy (&ping);

    //  An empty frame, and three frames, are malformed.
    s_expect_nack_raw (dealer, "", 0, PROTO_MALFORMED, "empty");
    zmsg_t *three = zmsg_new ();
    zmsg_addstr (three, "a");
    zmsg_addstr (three, "b");
    zmsg_addstr (three, "c");
    zmsg_send (&three, dealer);
    proto_msg_t *reply = s_recv (dealer);
    ck_assert_int_eq (reply->code, PROTO_MALFORMED);
    proto_msg_destroy (&reply);

    //  Nothing of the bad reports reached the figures.
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'bad'"), 0);
    zsock_destroy (&dealer);
}
END_TEST

START_TEST (test_req_peer_and_query)
{
    //  A plain REQ client works: the delimiter is echoed.
    zsock_t *req = zsock_new_req (s_collector->report_ep);
    zsock_set_rcvtimeo (req, 10000);
    proto_msg_t *report = s_report ("req", 1, "220503", "2025-03-01");
    proto_msg_add_value (report, false, "attraction_signed", 3);
    char status [16];
    ck_assert_int_eq (s_exchange (req, report, status), PROTO_OK);
    ck_assert_str_eq (status, "stored");
    proto_msg_destroy (&report);
    //  A REQ peer's message of two frames is malformed, and the nack still
    //  carries the delimiter back (REQ drops a reply without it).
    zmsg_t *two = zmsg_new ();
    zmsg_addstr (two, "a");
    zmsg_addstr (two, "b");
    zmsg_send (&two, req);
    proto_msg_t *reply = s_recv (req);
    ck_assert_int_eq (reply->type, PROTO_NACK);
    ck_assert_int_eq (reply->code, PROTO_MALFORMED);
    proto_msg_destroy (&reply);
    zsock_destroy (&req);

    zsock_t *query = zsock_new_req (s_collector->query_ep);
    zsock_set_rcvtimeo (query, 10000);
    proto_msg_t *pong = s_ping (query);
    ck_assert_str_eq (pong->db, "up");
    ck_assert_int_eq (pong->version, 1);
    proto_msg_destroy (&pong);
    //  Anything else on the query port is answered with a nack.
    proto_msg_t *ack = proto_msg_new (PROTO_ACK);
    ack->has_source = ack->has_seq = true;
    strcpy (ack->source, "x");
    ack->seq = 1;
    strcpy (ack->status, "stored");
    s_send (query, ack);
    proto_msg_destroy (&ack);
    proto_msg_t *nack = s_recv (query);
    ck_assert_int_eq (nack->type, PROTO_NACK);
    ck_assert_int_eq (nack->code, PROTO_INVALID);
    proto_msg_destroy (&nack);
    zsock_destroy (&query);
}
END_TEST

//  PostgreSQL stops mid-run: reports are answered `unavailable` with
//  retry_ms, the outage is logged once, and after the restart the very same
//  reports are stored exactly once.
START_TEST (test_database_restart)
{
    zsock_t *dealer = s_dealer ();
    proto_msg_t *before = s_report ("outage", 1, "220524", "2026-01-10");
    proto_msg_add_value (before, false, "investment_completed", 1000);
    ck_assert_int_eq (s_exchange (dealer, before, NULL), PROTO_OK);

    tt_pg_stop (s_pg);
    proto_msg_t *during [5];
    for (int i = 0; i < 5; i++) {
        during [i] = s_report ("outage", 2 + i, "220524", "2026-01-11");
        proto_msg_add_value (during [i], false, "investment_completed", 2000 + i);
        s_send (dealer, during [i]);
        proto_msg_t *reply = s_recv (dealer);
        ck_assert_int_eq (reply->type, PROTO_NACK);
        ck_assert_int_eq (reply->code, PROTO_UNAVAILABLE);
        ck_assert (reply->has_retry_ms && reply->retry_ms > 0);
        ck_assert_int_eq (reply->seq, 2 + i);
        proto_msg_destroy (&reply);
    }
    //  Queries say so too.
    zsock_t *query = zsock_new_dealer (s_collector->query_ep);
    zsock_set_rcvtimeo (query, 10000);
    proto_msg_t *ping = proto_msg_new (PROTO_PING);
    s_send (query, ping);
    proto_msg_t *pong = s_recv (query);
    ck_assert_str_eq (pong->db, "down");
    proto_msg_destroy (&pong);
    //  The health command says so by its exit status.
    const char *check [] = { tt_collector_bin, "ping", "--query", s_collector->query_ep, NULL };
    ck_assert_int_eq (tt_run (check, 10000, NULL), 1);

    tt_pg_restart (s_pg);
    //  Resend, as a reporter does on `unavailable`, until all are stored.
    int64_t deadline = zclock_mono () + 40000;
    for (int i = 0; i < 5; i++) {
        proto_code_t code;
        while ((code = s_exchange (dealer, during [i], NULL)) == PROTO_UNAVAILABLE
           &&  zclock_mono () < deadline)
            zclock_sleep (100);
        ck_assert_int_eq (code, PROTO_OK);
        proto_msg_destroy (&during [i]);
    }
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'outage'"), 6);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'investment_completed' AND year = 2026"), 2004);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM tally_verify()"), 0);
    s_send (query, ping);
    pong = s_recv (query);
    ck_assert_str_eq (pong->db, "up");
    proto_msg_destroy (&pong);
    proto_msg_destroy (&ping);
    ck_assert_int_eq (tt_run (check, 10000, NULL), 0);

    //  The outage was logged once when it started and once when it ended.
    ck_assert_int_eq (tt_count_text (s_collector->log_path, "database unreachable"), 1);
    char *log = tt_slurp (s_collector->log_path);
    ck_assert_ptr_nonnull (strstr (log, "reachable again"));
    free (log);
    proto_msg_destroy (&before);
    zsock_destroy (&query);
    zsock_destroy (&dealer);
}
END_TEST

//  SIGTERM: the collector exits 0; what it acked is stored.
START_TEST (test_sigterm)
{
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, NULL, NULL);
    zsock_t *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_rcvtimeo (dealer, 10000);
    int acked = 0;
    for (int i = 1; i <= 50; i++) {
        proto_msg_t *report = s_report ("term", i, "220502", "2027-01-01");
        proto_msg_add_value (report, false, "projects_active", i);
        s_send (dealer, report);
        proto_msg_destroy (&report);
    }
    for (int i = 0; i < 50; i++) {
        proto_msg_t *reply = s_recv (dealer);
        acked += reply->type == PROTO_ACK;
        proto_msg_destroy (&reply);
    }
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
    ck_assert_int_eq (acked, 50);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'term'"), 50);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM current_value WHERE region = '220502' "
                                 "AND metric = 'projects_active' AND year = 2027"), 50);
    zsock_destroy (&dealer);
}
END_TEST

//  SIGTERM while batches are in flight on both connections: the collector
//  finishes them, answers, and exits 0 in time; every acked report is stored.
START_TEST (test_sigterm_under_load)
{
    enum { REPORTS = 3000 };
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, NULL, NULL);
    zsock_t *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_sndhwm (dealer, REPORTS);
    zsock_set_rcvhwm (dealer, REPORTS);
    zsock_set_rcvtimeo (dealer, 10000);
    for (int i = 1; i <= REPORTS; i++) {
        proto_msg_t *report = s_report ("term-load", i, i % 2 ? "220502" : "220521", "2027-02-01");
        proto_msg_add_value (report, false, "projects_active", i);
        proto_msg_add_value (report, false, "investment_completed", 10 * i);
        s_send (dealer, report);
        proto_msg_destroy (&report);
    }
    //  Stop as soon as the first batch is answered: more are being stored.
    proto_msg_t *reply = s_recv (dealer);
    ck_assert_int_eq (reply->type, PROTO_ACK);
    proto_msg_destroy (&reply);
    int acked = 1;
    ck_assert_msg (s_sql_int ("SELECT count(*) FROM report WHERE source = 'term-load'") < REPORTS,
                   "all reports were stored before SIGTERM: nothing was in flight");
    int64_t stop_started = zclock_mono ();
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
    int64_t stop_ms = zclock_mono () - stop_started;
    //  Replies sent before exiting are still queued here; one query checks
    //  that every acked seq is stored.
    zsock_set_rcvtimeo (dealer, 500);
    int64_t stored = s_sql_int ("SELECT count(*) FROM report WHERE source = 'term-load'");
    char *seqs = (char *) malloc ((size_t) REPORTS * 8 + 16);
    size_t len = (size_t) sprintf (seqs, "{0");
    zmsg_t *msg;
    while ((msg = zmsg_recv (dealer))) {
        zframe_t *body = zmsg_last (msg);
        proto_msg_t *answer = proto_msg_decode (zframe_data (body), zframe_size (body), 65536, NULL);
        ck_assert_ptr_nonnull (answer);
        if (answer->type == PROTO_ACK && acked < REPORTS) {
            acked++;
            len += (size_t) sprintf (seqs + len, ",%" PRId64, answer->seq);
        }
        proto_msg_destroy (&answer);
        zmsg_destroy (&msg);
    }
    sprintf (seqs + len, "}");
    ck_assert_int_le (acked, stored);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'term-load' "
                                 "AND seq = ANY ('%s'::bigint[])", seqs), acked - 1);
    free (seqs);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM tally_verify()"), 0);
    printf ("pipeline: sigterm_under_load sent=%d stored=%" PRId64 " acked_before_exit=%d "
            "stop_ms=%" PRId64 "\n", REPORTS, stored, acked, stop_ms);
    fflush (stdout);
    zsock_destroy (&dealer);
}
END_TEST

//  A collector whose database is unreachable from the start stays up,
//  answers `unavailable` with retry_ms, and says so once in its log.
START_TEST (test_database_unreachable_at_start)
{
    const char *nowhere = "host=127.0.0.1 port=9 dbname=tally user=tally connect_timeout=2";
    tt_collector_t *own = tt_collector_start (nowhere, NULL, NULL);
    zsock_t *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_rcvtimeo (dealer, 10000);
    for (int i = 1; i <= 3; i++) {
        proto_msg_t *report = s_report ("early", i, "220502", "2025-05-01");
        proto_msg_add_value (report, false, "projects_new", i);
        s_send (dealer, report);
        proto_msg_t *reply = s_recv (dealer);
        ck_assert_int_eq (reply->type, PROTO_NACK);
        ck_assert_int_eq (reply->code, PROTO_UNAVAILABLE);
        ck_assert (reply->has_retry_ms && reply->retry_ms >= 500);
        proto_msg_destroy (&reply);
        proto_msg_destroy (&report);
    }
    //  Garbage still gets its precise verdict.
    s_send_raw (dealer, "\xc1", 1);
    proto_msg_t *reply = s_recv (dealer);
    ck_assert_int_eq (reply->code, PROTO_MALFORMED);
    proto_msg_destroy (&reply);
    const char *check [] = { tt_collector_bin, "ping", "--query", own->query_ep, NULL };
    ck_assert_int_eq (tt_run (check, 10000, NULL), 1);
    ck_assert_int_eq (tt_count_text (own->log_path, "database unreachable"), 1);
    zsock_destroy (&dealer);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

//  A database migrated by an older collector: refused with the way out,
//  reports answered `unavailable`, nothing stored.
START_TEST (test_old_schema_refused)
{
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, "DELETE FROM schema_migration WHERE version >= 9"), 0);
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, NULL, NULL);
    char *text = tt_wait_for_text (own->log_path, "collector needs 11", 10000);
    ck_assert_msg (text, "no line saying the schema is too old");
    ck_assert (strstr (text, "schema is at version 8") && strstr (text, "run 'tally-collector migrate'"));
    free (text);
    zsock_t *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_rcvtimeo (dealer, 10000);
    proto_msg_t *report = s_report ("old-schema", 1, "220502", "2025-05-01");
    proto_msg_add_value (report, false, "projects_new", 1);
    s_send (dealer, report);
    proto_msg_t *reply = s_recv (dealer);
    ck_assert_int_eq (reply->type, PROTO_NACK);
    ck_assert_int_eq (reply->code, PROTO_UNAVAILABLE);
    proto_msg_destroy (&reply);
    proto_msg_destroy (&report);
    zsock_destroy (&dealer);
    //  Said once, though the collector keeps trying (with back-off).
    zclock_sleep (1500);
    ck_assert_int_eq (tt_count_text (own->log_path, "collector needs 11"), 1);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
    //  migrate brings it back (009 and later are idempotent).
    ck_assert_int_eq (tt_migrate (s_pg->conninfo), 0);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM schema_migration WHERE version >= 9"), 3);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'old-schema'"), 0);
}
END_TEST

//  Health check against nobody: exit 2 with a message.
START_TEST (test_ping_nobody)
{
    const char *check [] = { tt_collector_bin, "ping", "--query", "tcp://127.0.0.1:9", "--timeout", "1", NULL };
    char *out = NULL;
    ck_assert_int_eq (tt_run (check, 10000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "no answer"));
    free (out);
}
END_TEST

//  SIGHUP rereads the log level from the config file and says what changed.
START_TEST (test_sighup_reload)
{
    char *dir = tt_tempdir ("conf");
    char path [300];
    snprintf (path, sizeof path, "%s/collector.conf", dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "log-level = info\nbatch-max = 500\n");
    fclose (file);
    const char *extra [] = { "-c", path, NULL };
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, extra, NULL);
    file = fopen (path, "w");
    fprintf (file, "log-level = warning\nbatch-max = 500\n");
    fclose (file);
    kill (own->pid, SIGHUP);
    char *log = tt_wait_for_text (own->log_path, "log level is now warning (was info)", 10000);
    ck_assert_ptr_nonnull (log);
    ck_assert_ptr_nonnull (strstr (log, "catalog has 9 regions"));
    ck_assert_ptr_nonnull (strstr (log, "batch-max='500'"));      //  the file was read at start
    free (log);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
    unlink (path);
    rmdir (dir);
    free (dir);
}
END_TEST

//  A collector of its own with extra arguments, sent `count` reports from
//  source for region (seqs 1 .. count, projects_new = seq), one at a time so
//  that each is a batch of its own, every one acked.
static tt_collector_t *
s_collector_fed (const char *const *extra, const char *source, int count, const char *region,
                 const char *as_of)
{
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, extra, NULL);
    zsock_t *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_rcvtimeo (dealer, 10000);
    for (int seq = 1; seq <= count; seq++) {
        proto_msg_t *report = s_report (source, seq, region, as_of);
        proto_msg_add_value (report, false, "projects_new", seq);
        s_send (dealer, report);
        proto_msg_t *reply = s_recv (dealer);
        ck_assert_int_eq (reply->type, PROTO_ACK);
        proto_msg_destroy (&reply);
        proto_msg_destroy (&report);
    }
    zsock_destroy (&dealer);
    return own;
}

//  The statistics line (every --stats-interval seconds) counts what was
//  stored, the batches the loop stored itself (sent one at a time, all but
//  the first, whose committer had no connection yet), those stored in one
//  round trip (all but the first), and gives p50/p99 of the batches' ack and database latency;
//  an interval without batches has no latency to give.
START_TEST (test_stats_line)
{
    const char *extra [] = { "--stats-interval", "1", NULL };
    tt_collector_t *own = s_collector_fed (extra, "stats-line", 5, "220521", "2024-04-01");
    //  Lines until all 5 are counted and one more, idle, has come.
    int stored = 0, with_latency = 0, idle = 0, in_loop = 0, one_trip = 0, refused = 0;
    for (int tries = 0; tries < 100 && (stored < 5 || idle == 0); tries++) {
        zclock_sleep (100);
        char *log = tt_slurp (own->log_path);
        ck_assert_ptr_nonnull (log);
        stored = with_latency = idle = in_loop = one_trip = refused = 0;
        for (const char *at = strstr (log, "stats: last 1 s: "); at; at = strstr (at + 1, "stats: last 1 s: ")) {
            int n = 0, loop = 0, one = 0, no = 0;
            ck_assert_int_eq (sscanf (at, "stats: last 1 s: stored=%d", &n), 1);
            stored += n;
            const char *trips = strstr (at, " inline=");
            ck_assert_ptr_nonnull (trips);
            ck_assert_int_eq (sscanf (trips, " inline=%d one_trip=%d refused=%d", &loop, &one, &no), 3);
            in_loop += loop;
            one_trip += one;
            refused += no;
            const char *end = strchr (at, '\n');
            const char *fields = strstr (at, " ack_ms_p50=");
            if (fields && (!end || fields < end)) {
                double ack50, ack99, db50, db99;
                ck_assert_int_eq (sscanf (fields, " ack_ms_p50=%lf ack_ms_p99=%lf db_ms_p50=%lf "
                                          "db_ms_p99=%lf", &ack50, &ack99, &db50, &db99), 4);
                ck_assert (n > 0);
                ck_assert (db50 > 0 && db50 <= db99 && ack50 <= ack99);
                ck_assert_msg (ack50 >= db50 && ack99 >= db99, "a batch's ack came before its "
                               "round trips ended: ack %.2f/%.2f, database %.2f/%.2f",
                               ack50, ack99, db50, db99);
                with_latency++;
            }
            else
            if (n == 0)
                idle++;
        }
        free (log);
    }
    ck_assert_int_eq (stored, 5);
    ck_assert_int_eq (in_loop, 4);
    ck_assert_int_eq (one_trip, 4);
    ck_assert_int_eq (refused, 0);
    ck_assert_int_ge (with_latency, 1);
    ck_assert_int_ge (idle, 1);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

//  The batch goes to PostgreSQL as array literals: quotes, backslashes,
//  commas and braces in text, the largest integers and negative ones,
//  arrive as sent.
START_TEST (test_literals_round_trip)
{
    zsock_t *dealer = s_dealer ();
    proto_msg_t *report = s_report ("literal", INT64_MAX, "220521", "2024-03-01");
    proto_msg_add_value (report, false, "investment_completed", 100000000000);
    proto_msg_add_value (report, false, "projects_started", 0);
    proto_msg_set_note (report, "say \"hi\", {NULL} \\ back\\slash, 县");
    report->has_sent_at = true;
    report->sent_at = -86400000;        //  1969-12-31: any int64 is taken as sent
    char status [16];
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    ck_assert_str_eq (status, "stored");
    char *note = tt_sql_text (s_pg->conninfo, "SELECT note FROM report WHERE source = 'literal' "
                              "AND seq = 9223372036854775807");
    ck_assert_ptr_nonnull (note);
    ck_assert_str_eq (note, "say \"hi\", {NULL} \\ back\\slash, 县");
    free (note);
    ck_assert_int_eq (s_sql_int ("SELECT v.value FROM report r JOIN report_value v ON v.report_id = r.id "
                                 "WHERE r.source = 'literal' AND v.metric = 'investment_completed'"),
                      100000000000);
    ck_assert_int_eq (s_sql_int ("SELECT v.value FROM report r JOIN report_value v ON v.report_id = r.id "
                                 "WHERE r.source = 'literal' AND v.metric = 'projects_started'"), 0);
    ck_assert_int_eq (s_sql_int ("SELECT extract (epoch FROM sent_at)::bigint FROM report "
                                 "WHERE source = 'literal'"), -86400);
    //  The same again is a duplicate: the content compared is what was stored.
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    ck_assert_str_eq (status, "duplicate");
    proto_msg_destroy (&report);
    zsock_destroy (&dealer);
}
END_TEST

//  A collector of its own logging a line per batch (--log-level debug),
//  and a DEALER to it that waits up to 10 s for a reply.
static tt_collector_t *
s_debug_collector (zsock_t **dealer)
{
    const char *extra [] = { "--log-level", "debug", NULL };
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, extra, NULL);
    *dealer = zsock_new_dealer (own->report_ep);
    zsock_set_rcvtimeo (*dealer, 10000);
    return own;
}

//  trips= and refused= of the debug log's batch lines, in order; their number.
static int
s_batch_trips (const char *log_path, int *trips, int *refused, int max)
{
    char *log = tt_slurp (log_path);
    ck_assert_ptr_nonnull (log);
    int lines = 0;
    for (const char *at = strstr (log, " batch: "); at && lines < max; at = strstr (at + 1, " batch: ")) {
        int reports, in_loop;
        ck_assert_int_eq (sscanf (at, " batch: reports=%d inline=%d trips=%d refused=%d", &reports,
                                  &in_loop, &trips [lines], &refused [lines]), 4);
        lines++;
    }
    free (log);
    return lines;
}

//  Send report seq of source for region (projects_new = value) and wait
//  for its batch line; returns the ack's status in status.
static void
s_one_batch (tt_collector_t *own, zsock_t *dealer, int64_t seq, const char *region,
             const char *as_of, int64_t value, char *status)
{
    int before = tt_count_text (own->log_path, " batch: ");
    proto_msg_t *report = s_report ("one-trip", seq, region, as_of);
    proto_msg_add_value (report, false, "projects_new", value);
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    proto_msg_destroy (&report);
    for (int tries = 0; tries < 100 && tt_count_text (own->log_path, " batch: ") == before; tries++)
        zclock_sleep (20);
}

//  A batch goes in one round trip when the collector knows its rows as it
//  wrote them; when they changed behind its back (another writer, a
//  renamed region), when a report was stored before, or when tally_apply
//  fails otherwise, nothing is stored twice and the two round trips store
//  the batch exactly. Refused twice in a row for changed rows, the
//  collector waits before trying again.
START_TEST (test_one_trip_refused_when_rows_changed)
{
    zsock_t *dealer;
    tt_collector_t *own = s_debug_collector (&dealer);
    char status [32];
    int trips [32], refused [32];

    //  Another writer: tally_ingest for 220521, as another collector would
    //  store it, changing the city's and the province's rows too.
    const char *other = "SELECT * FROM tally_ingest (ARRAY ['other-writer'], ARRAY [%d::bigint], "
                        "ARRAY ['220521'], ARRAY ['2019-03-0%d'::date], ARRAY [NULL::text], "
                        "ARRAY [NULL::bigint], ARRAY [NULL::text], ARRAY [NULL::text], ARRAY [1], "
                        "ARRAY ['projects_new'], ARRAY [%d::bigint])";
    char sql [600];
    s_one_batch (own, dealer, 1, "220502", "2019-03-01", 101, status);
    s_one_batch (own, dealer, 2, "220502", "2019-03-08", 102, status);
    ck_assert_str_eq (status, "stored");
    //  The rows changed behind its back: refused, then not.
    snprintf (sql, sizeof sql, other, 1, 2, 5);
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, sql), 0);
    s_one_batch (own, dealer, 3, "220502", "2019-03-15", 103, status);
    ck_assert_str_eq (status, "stored");
    s_one_batch (own, dealer, 4, "220502", "2019-03-22", 104, status);
    //  The city renamed: the same.
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo,
        "UPDATE region SET name = '通化市 (renamed)' WHERE code = '220500'"), 0);
    s_one_batch (own, dealer, 5, "220502", "2019-03-29", 105, status);
    s_one_batch (own, dealer, 6, "220502", "2019-04-05", 106, status);
    //  A report stored before: refused, then a duplicate; resends do not
    //  make the collector stop trying.
    for (int twice = 0; twice < 2; twice++) {
        s_one_batch (own, dealer, 6, "220502", "2019-04-05", 106, status);
        ck_assert_str_eq (status, "duplicate");
    }
    s_one_batch (own, dealer, 7, "220502", "2019-04-12", 107, status);
    //  Refused twice in a row for changed rows, it stops trying for two
    //  batches.
    snprintf (sql, sizeof sql, other, 2, 3, 6);
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, sql), 0);
    s_one_batch (own, dealer, 8, "220502", "2019-04-19", 108, status);
    snprintf (sql, sizeof sql, other, 3, 4, 7);
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, sql), 0);
    s_one_batch (own, dealer, 9, "220502", "2019-04-26", 109, status);
    s_one_batch (own, dealer, 10, "220502", "2019-05-03", 110, status);
    s_one_batch (own, dealer, 11, "220502", "2019-05-10", 111, status);
    s_one_batch (own, dealer, 12, "220502", "2019-05-17", 112, status);
    //  tally_apply failing otherwise: the batch is stored in two round
    //  trips, the error logged once, and its end.
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, "ALTER FUNCTION tally_apply RENAME TO tally_apply_away"), 0);
    s_one_batch (own, dealer, 13, "220502", "2019-05-24", 113, status);
    ck_assert_str_eq (status, "stored");
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo, "ALTER FUNCTION tally_apply_away RENAME TO tally_apply"), 0);
    s_one_batch (own, dealer, 14, "220502", "2019-05-31", 114, status);
    ck_assert_int_eq (tt_sql_exec (s_pg->conninfo,
        "UPDATE region SET name = '通化市' WHERE code = '220500'"), 0);
    ck_assert_int_eq (tt_count_text (own->log_path, "tally_apply failed"), 1);
    ck_assert_int_eq (tt_count_text (own->log_path, "tally_apply works again"), 1);

    ck_assert_int_eq (s_batch_trips (own->log_path, trips, refused, 32), 16);
    int want_trips [16] = { 2, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 2, 2, 1, 2, 1 };
    int want_refused [16] = { 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0 };
    for (int i = 0; i < 16; i++) {
        ck_assert_msg (trips [i] == want_trips [i] && refused [i] == want_refused [i],
                       "batch %d: trips=%d refused=%d, expected trips=%d refused=%d", i + 1,
                       trips [i], refused [i], want_trips [i], want_refused [i]);
    }
    //  Each report once, and the roll-up exact.
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'one-trip'"), 14);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220500' "
                                 "AND metric = 'projects_new' AND year = 2019"), 114 + 7);
    ck_assert_int_eq (s_sql_int ("SELECT value FROM region_total WHERE region = '220000' "
                                 "AND metric = 'projects_new' AND year = 2019"), 114 + 7);
    ck_assert_int_eq (s_sql_int ("SELECT previous FROM current_value WHERE region = '220502' "
                                 "AND metric = 'projects_new' AND year = 2019"), 113);
    //  The figure's report is the real one, not tally_apply's stand-in.
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM current_value c JOIN report r "
                                 "ON r.id = c.report_id WHERE c.region = '220502' AND c.year = 2019 "
                                 "AND r.source = 'one-trip' AND r.seq = 14"), 1);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM tally_verify ()"), 0);
    zsock_destroy (&dealer);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

//  At debug level each committed batch gets one line saying where its time
//  went; a batch of one report says reports=1, and the parts of its oldest
//  report's stay (arrival to ack) add up to no more than the whole. The
//  first batch takes two round trips (the collector knows no rows yet), on
//  a committer's thread, which makes the connection; the next ones, on the
//  rows it wrote, one. Each is alone in flight and small, so from the
//  second on the loop stores it itself: no hand-off to a thread.
START_TEST (test_debug_batch_line)
{
    const char *extra [] = { "--log-level", "debug", NULL };
    tt_collector_t *own = s_collector_fed (extra, "debug-line", 3, "220502", "2025-05-01");
    //  The line is written right after the acks went out.
    for (int tries = 0; tries < 100 && tt_count_text (own->log_path, " batch: ") < 3; tries++)
        zclock_sleep (50);
    char *log = tt_slurp (own->log_path);
    ck_assert_ptr_nonnull (log);
    int lines = 0;
    for (const char *at = strstr (log, " batch: "); at; at = strstr (at + 1, " batch: ")) {
        int reports, in_loop, trips, refused;
        double waited, apply, lock, write, work, handoff, acked;
        ck_assert_int_eq (sscanf (at, " batch: reports=%d inline=%d trips=%d refused=%d waited_ms=%lf "
                                  "apply_ms=%lf lock_ms=%lf write_ms=%lf work_ms=%lf "
                                  "handoff_ms=%lf acked_ms=%lf", &reports, &in_loop, &trips, &refused,
                                  &waited, &apply, &lock, &write, &work, &handoff, &acked), 11);
        ck_assert_int_eq (reports, 1);
        ck_assert_int_eq (in_loop, lines == 0 ? 0 : 1);
        ck_assert_int_eq (refused, 0);
        ck_assert (waited >= 0 && work >= 0 && handoff >= 0);
        if (in_loop)
            ck_assert_msg (handoff == 0, "a batch stored by the loop was handed off for %.2f ms",
                           handoff);
        if (lines == 0) {
            ck_assert_int_eq (trips, 2);
            ck_assert (lock > 0 && write > 0 && apply == 0);
        }
        else {
            ck_assert_int_eq (trips, 1);
            ck_assert (apply > 0 && lock == 0 && write == 0);
        }
        //  Each figure is rounded to 0.01 ms.
        double parts = waited + apply + lock + write + work + handoff;
        ck_assert_msg (acked + 0.04 >= parts, "acked_ms %.2f < the sum of its parts %.2f",
                       acked, parts);
        lines++;
    }
    ck_assert_int_eq (lines, 3);
    free (log);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

//  A report sent alone, once the committer's connection is made (by the
//  first), is stored by the loop (inline=1); reports sent in a burst gather
//  into larger batches, which go to a committer's thread (inline=0): the
//  loop stores only batches of at most 8 reports. Every report is acked and
//  stored once, whichever way its batch went.
START_TEST (test_large_batches_go_to_a_thread)
{
    zsock_t *dealer;
    tt_collector_t *own = s_debug_collector (&dealer);
    //  Two reports alone, then the rest at once.
    const int count = 200;
    for (int seq = 1; seq <= count; seq++) {
        proto_msg_t *report = s_report ("burst", seq, seq % 2 ? "220502" : "220521", "2018-07-01");
        proto_msg_add_value (report, false, "projects_new", seq);
        s_send (dealer, report);
        proto_msg_destroy (&report);
        if (seq <= 2) {
            proto_msg_t *reply = s_recv (dealer);
            ck_assert_int_eq (reply->type, PROTO_ACK);
            ck_assert_str_eq (reply->status, "stored");
            proto_msg_destroy (&reply);
        }
    }
    for (int i = 2; i < count; i++) {
        proto_msg_t *reply = s_recv (dealer);
        ck_assert_int_eq (reply->type, PROTO_ACK);
        ck_assert_str_eq (reply->status, "stored");
        proto_msg_destroy (&reply);
    }
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'burst'"), count);
    //  The lines are written after the acks: wait until all are there.
    int in_loop_batches = 0, large_on_thread = 0, reported = 0;
    for (int tries = 0; tries < 100 && reported < count; tries++) {
        zclock_sleep (50);
        char *log = tt_slurp (own->log_path);
        ck_assert_ptr_nonnull (log);
        in_loop_batches = large_on_thread = reported = 0;
        for (const char *at = strstr (log, " batch: "); at; at = strstr (at + 1, " batch: ")) {
            int reports, in_loop;
            ck_assert_int_eq (sscanf (at, " batch: reports=%d inline=%d", &reports, &in_loop), 2);
            if (in_loop) {
                ck_assert_int_le (reports, 8);
                in_loop_batches++;
            }
            else
            if (reports > 8)
                large_on_thread++;
            reported += reports;
        }
        free (log);
    }
    ck_assert_int_eq (reported, count);
    ck_assert_int_ge (in_loop_batches, 1);
    ck_assert_int_ge (large_on_thread, 1);
    zsock_destroy (&dealer);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

//  A batch the loop stores itself may wait for the database, here for a
//  row lock another session holds: meanwhile the collector still answers
//  pings, sends its heartbeats and refuses a bad report at once, and the
//  report is acked once the lock is gone.
START_TEST (test_loop_answers_while_a_batch_waits)
{
    zsock_t *dealer;
    tt_collector_t *own = s_debug_collector (&dealer);
    zsock_t *hb = zsock_new_sub (own->feed_ep, "$hb");
    zsock_set_rcvtimeo (hb, 3000);
    char *topic = NULL;                 //  the subscription is live
    zframe_t *beat = NULL;
    ck_assert_int_eq (zsock_recv (hb, "sf", &topic, &beat), 0);
    ck_assert_str_eq (topic, "$hb");
    zstr_free (&topic);
    zframe_destroy (&beat);
    //  A first report: the connection is made and its rows known.
    char status [16] = "";
    proto_msg_t *report = s_report ("held", 1, "220502", "2017-03-01");
    proto_msg_add_value (report, false, "projects_new", 1);
    ck_assert_int_eq (s_exchange (dealer, report, status), PROTO_OK);
    proto_msg_destroy (&report);

    PGconn *other = PQconnectdb (s_pg->conninfo);
    ck_assert_int_eq (PQstatus (other), CONNECTION_OK);
    PQclear (PQexec (other, "BEGIN"));
    PGresult *res = PQexec (other, "SELECT 1 FROM region_year WHERE region = '220502' "
                                   "AND year = 2017 FOR UPDATE");
    ck_assert_int_eq (PQntuples (res), 1);
    PQclear (res);
    report = s_report ("held", 2, "220502", "2017-03-02");
    proto_msg_add_value (report, false, "projects_new", 2);
    s_send (dealer, report);
    proto_msg_destroy (&report);
    //  No ack while the lock is held...
    zsock_set_rcvtimeo (dealer, 300);
    zframe_t *early = zframe_recv (dealer);
    ck_assert_msg (early == NULL, "a report was acked while its row was locked");
    //  ...but a ping is answered, and the heartbeats go on (those sent
    //  before the wait began are dropped first).
    zsock_set_rcvtimeo (hb, 0);
    while (zsock_recv (hb, "sf", &topic, &beat) == 0) {
        zstr_free (&topic);
        zframe_destroy (&beat);
    }
    zsock_set_rcvtimeo (hb, 3000);
    zsock_t *query = zsock_new_req (own->query_ep);
    zsock_set_rcvtimeo (query, 2000);
    proto_msg_t *pong = s_ping (query);
    proto_msg_destroy (&pong);
    int beats = 0;
    for (int i = 0; i < 2; i++) {
        if (zsock_recv (hb, "sf", &topic, &beat) == 0 && topic && streq (topic, "$hb"))
            beats++;
        zstr_free (&topic);
        zframe_destroy (&beat);
    }
    ck_assert_int_eq (beats, 2);
    //  A report for a region that does not exist is refused at once.
    proto_msg_t *stray = s_report ("held", 3, "999999", "2017-03-02");
    proto_msg_add_value (stray, false, "projects_new", 3);
    s_send (dealer, stray);
    proto_msg_destroy (&stray);
    zsock_set_rcvtimeo (dealer, 2000);
    proto_msg_t *nack = s_recv (dealer);
    ck_assert_int_eq (nack->type, PROTO_NACK);
    ck_assert_int_eq (nack->seq, 3);
    proto_msg_destroy (&nack);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'held'"), 1);

    PQclear (PQexec (other, "ROLLBACK"));
    PQfinish (other);
    zsock_set_rcvtimeo (dealer, 10000);
    proto_msg_t *ack = s_recv (dealer);
    ck_assert_int_eq (ack->type, PROTO_ACK);
    ck_assert_str_eq (ack->status, "stored");
    ck_assert_int_eq (ack->seq, 2);
    proto_msg_destroy (&ack);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM report WHERE source = 'held'"), 2);
    //  It was the loop that waited.
    for (int tries = 0; tries < 100 && tt_count_text (own->log_path, " batch: ") < 2; tries++)
        zclock_sleep (20);
    char *log = tt_slurp (own->log_path);
    ck_assert_ptr_nonnull (log);
    const char *last = NULL;
    for (const char *at = strstr (log, " batch: "); at; at = strstr (at + 1, " batch: "))
        last = at;
    ck_assert_ptr_nonnull (last);
    int reports, in_loop;
    ck_assert_int_eq (sscanf (last, " batch: reports=%d inline=%d", &reports, &in_loop), 2);
    ck_assert_int_eq (in_loop, 1);
    free (log);
    zsock_destroy (&query);
    zsock_destroy (&hb);
    zsock_destroy (&dealer);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

START_TEST (test_migrate_twice)
{
    ck_assert_int_eq (tt_migrate (s_pg->conninfo), 0);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM region"), 9);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM metric WHERE rollup = 'none'"), 1);
    ck_assert_int_eq (s_sql_int ("SELECT count(*) FROM region_ancestor WHERE ancestor = '220000'"), 8);
}
END_TEST

int
main (void)
{
    //  No czmq before the tests fork: each test starts (and, at its exit,
    //  shuts down) czmq in its own process, which keeps LeakSanitizer quiet.
    s_pg = tt_pg_start ();
    if (tt_migrate (s_pg->conninfo) != 0)
        return 1;
    s_collector = tt_collector_start (s_pg->conninfo, NULL, NULL);

    Suite *suite = suite_create ("pipeline");
    TCase *tc = tcase_create ("end to end");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_seed_end_to_end);
    tcase_add_test (tc, test_newest_as_of_wins);
    tcase_add_test (tc, test_duplicate_and_conflict);
    tcase_add_test (tc, test_bad_input);
    tcase_add_test (tc, test_req_peer_and_query);
    tcase_add_test (tc, test_sigterm);
    tcase_add_test (tc, test_sigterm_under_load);
    tcase_add_test (tc, test_stats_line);
    tcase_add_test (tc, test_literals_round_trip);
    tcase_add_test (tc, test_debug_batch_line);
    tcase_add_test (tc, test_migrate_twice);
    tcase_add_test (tc, test_old_schema_refused);
    tcase_add_test (tc, test_one_trip_refused_when_rows_changed);
    tcase_add_test (tc, test_large_batches_go_to_a_thread);
    tcase_add_test (tc, test_loop_answers_while_a_batch_waits);
    tcase_add_test (tc, test_ping_nobody);
    tcase_add_test (tc, test_database_unreachable_at_start);
    tcase_add_test (tc, test_sighup_reload);
    tcase_add_test (tc, test_database_restart);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);

    tt_collector_stop (&s_collector, SIGTERM);
    tt_pg_destroy (&s_pg);
    return failed ? 1 : 0;
}
