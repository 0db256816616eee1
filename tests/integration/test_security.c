/*  test_security.c — CURVE: each county's key reports for its county only,
    strangers get nothing.

    A private PostgreSQL and a collector started with --curve-secret and
    --clients over a folder of real certificate files (made with the same
    keygen code as `tally-reporter keygen`); clients are real CURVE DEALER
    sockets.
*/
#include <check.h>
#include <czmq.h>
#include <signal.h>

#include "keygen.h"
#include "proto_msg.h"
#include "tt.h"

static tt_pg_t *s_pg;
static tt_collector_t *s_collector;
static char *s_keys;            //  holds collector.cert and the clients' secrets
static char *s_clients;         //  the collector's --clients folder (public certs only)

//  Runs before the suite (no ck_assert here): a failure aborts with a message.
static void
s_make_key (const char *name, const char *regions)
{
    char err [256];
    if (keygen_write (s_keys, name, regions, err, sizeof err)) {
        fprintf (stderr, "keygen %s: %s\n", name, err);
        abort ();
    }
    //  The public half goes to the collector, as an operator would copy it.
    char from [512], to [512];
    snprintf (from, sizeof from, "%s/%s.cert", s_keys, name);
    snprintf (to, sizeof to, "%s/%s.cert", s_clients, name);
    char *text = tt_slurp (from);
    FILE *out = fopen (to, "wb");
    if (!text || !out)
        abort ();
    fputs (text, out);
    fclose (out);
    free (text);
}

//  A DEALER using the key NAME (NULL: plaintext), talking to endpoint.
static zsock_t *
s_client (const char *name, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (name) {
        char path [512];
        snprintf (path, sizeof path, "%s/%s.cert", s_keys, name);
        zcert_t *mine = zcert_load (path);
        ck_assert_ptr_nonnull (mine);
        zcert_apply (mine, sock);
        zcert_destroy (&mine);
        snprintf (path, sizeof path, "%s/collector.cert", s_keys);
        zcert_t *server = zcert_load (path);
        zsock_set_curve_serverkey (sock, zcert_public_txt (server));
        zcert_destroy (&server);
    }
    zsock_set_rcvtimeo (sock, 3000);
    zsock_connect (sock, "%s", endpoint);
    return sock;
}

//  Send a report; returns the reply (NULL when none came within 3 s).
static proto_msg_t *
s_report (zsock_t *sock, const char *source, int64_t seq, const char *region)
{
    proto_msg_t *msg = proto_msg_new (PROTO_REPORT);
    msg->has_source = msg->has_seq = true;
    snprintf (msg->source, sizeof msg->source, "%s", source);
    msg->seq = seq;
    snprintf (msg->region, sizeof msg->region, "%s", region);
    snprintf (msg->as_of, sizeof msg->as_of, "2022-03-07");
    proto_msg_add_value (msg, false, "projects_started", seq);
    size_t size;
    uint8_t *body = proto_msg_encode (msg, &size, NULL);
    proto_msg_destroy (&msg);
    zframe_t *frame = zframe_new (body, size);
    free (body);
    zframe_send (&frame, sock, 0);
    frame = zframe_recv (sock);
    if (!frame)
        return NULL;
    proto_error_t err;
    proto_msg_t *reply = proto_msg_decode (zframe_data (frame), zframe_size (frame), 0, &err);
    zframe_destroy (&frame);
    ck_assert_ptr_nonnull (reply);
    return reply;
}

static int64_t
s_stored (const char *source)
{
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM report WHERE source = '%s'", source);
    return tt_sql_int (s_pg->conninfo, sql);
}

START_TEST (test_own_county_acked)
{
    zsock_t *jian = s_client ("jian", s_collector->report_ep);
    proto_msg_t *reply = s_report (jian, "jian-agent", 1, "220582");
    ck_assert_ptr_nonnull (reply);
    ck_assert_int_eq (reply->type, PROTO_ACK);
    proto_msg_destroy (&reply);
    //  The report carries the key that sent it.
    char *key = tt_sql_text (s_pg->conninfo, "SELECT key_id FROM report WHERE source = 'jian-agent'");
    char path [512];
    snprintf (path, sizeof path, "%s/jian.cert", s_clients);
    zcert_t *cert = zcert_load (path);
    ck_assert_str_eq (key, zcert_public_txt (cert));
    zcert_destroy (&cert);
    free (key);
    zsock_destroy (&jian);
}
END_TEST

START_TEST (test_other_county_forbidden)
{
    zsock_t *jian = s_client ("jian", s_collector->report_ep);
    //  集安市's key reporting for 柳河县.
    proto_msg_t *reply = s_report (jian, "jian-agent-2", 1, "220524");
    ck_assert_ptr_nonnull (reply);
    ck_assert_int_eq (reply->type, PROTO_NACK);
    ck_assert_int_eq (reply->code, PROTO_FORBIDDEN);
    ck_assert_ptr_nonnull (strstr (reply->error, "220524"));
    ck_assert_ptr_nonnull (strstr (reply->error, "jian"));
    proto_msg_destroy (&reply);
    ck_assert_int_eq (s_stored ("jian-agent-2"), 0);
    //  Recorded with the key that tried (written with the next commit).
    reply = s_report (jian, "jian-agent-2", 2, "220582");
    proto_msg_destroy (&reply);
    ck_assert_int_eq (tt_sql_int (s_pg->conninfo, "SELECT count(*) FROM rejected_report "
                                  "WHERE code = 'forbidden' AND source = 'jian-agent-2' AND key_id IS NOT NULL"), 1);
    zsock_destroy (&jian);
}
END_TEST

START_TEST (test_city_prefix_key)
{
    zsock_t *city = s_client ("tonghua", s_collector->report_ep);
    const char *counties [] = { "220502", "220521", "220524", "220500" };
    for (int i = 0; i < 4; i++) {
        proto_msg_t *reply = s_report (city, "city-agent", i + 1, counties [i]);
        ck_assert_ptr_nonnull (reply);
        ck_assert_int_eq (reply->type, PROTO_ACK);
        proto_msg_destroy (&reply);
    }
    //  ...but not outside Tonghua: the province's own figures.
    proto_msg_t *reply = s_report (city, "city-agent", 5, "220000");
    ck_assert_int_eq (reply->code, PROTO_FORBIDDEN);
    proto_msg_destroy (&reply);
    zsock_destroy (&city);
}
END_TEST

START_TEST (test_strangers_refused)
{
    //  A key the collector does not know: refused at the handshake, no reply.
    char err [256];
    char *elsewhere = tt_tempdir ("stranger");
    ck_assert_int_eq (keygen_write (elsewhere, "stranger", "220582", err, sizeof err), 0);
    zsock_t *stranger = zsock_new (ZMQ_DEALER);
    char path [512];
    snprintf (path, sizeof path, "%s/stranger.cert", elsewhere);
    zcert_t *cert = zcert_load (path);
    zcert_apply (cert, stranger);
    zcert_destroy (&cert);
    snprintf (path, sizeof path, "%s/collector.cert", s_keys);
    cert = zcert_load (path);
    zsock_set_curve_serverkey (stranger, zcert_public_txt (cert));
    zcert_destroy (&cert);
    free (elsewhere);
    zsock_set_rcvtimeo (stranger, 2000);
    zsock_connect (stranger, "%s", s_collector->report_ep);
    proto_msg_t *reply = s_report (stranger, "stranger", 1, "220582");
    ck_assert_ptr_null (reply);
    ck_assert_int_eq (s_stored ("stranger"), 0);
    char *log = tt_slurp (s_collector->log_path);
    ck_assert_ptr_nonnull (strstr (log, "refused a connection"));
    free (log);
    zsock_destroy (&stranger);

    //  A plaintext client against the CURVE collector: nothing either.
    zsock_t *plain = s_client (NULL, s_collector->report_ep);
    reply = s_report (plain, "plain", 1, "220582");
    ck_assert_ptr_null (reply);
    ck_assert_int_eq (s_stored ("plain"), 0);
    zsock_destroy (&plain);
    //  Nor can it ask for a snapshot.
    zsock_t *query = s_client (NULL, s_collector->query_ep);
    zstr_send (query, "ping");
    zsock_set_rcvtimeo (query, 1500);
    char *answer = zstr_recv (query);
    ck_assert_ptr_null (answer);
    zsock_destroy (&query);
}
END_TEST

START_TEST (test_revocation_by_sighup)
{
    zsock_t *huinan = s_client ("huinan", s_collector->report_ep);
    proto_msg_t *reply = s_report (huinan, "huinan-agent", 1, "220523");
    ck_assert_ptr_nonnull (reply);
    ck_assert_int_eq (reply->type, PROTO_ACK);
    proto_msg_destroy (&reply);

    char path [512];
    snprintf (path, sizeof path, "%s/huinan.cert", s_clients);
    ck_assert_int_eq (unlink (path), 0);
    kill (s_collector->pid, SIGHUP);
    //  Wait until the collector says it revoked the key.
    char *log = tt_wait_for_text (s_collector->log_path, "key 'huinan'", 10000);
    ck_assert_ptr_nonnull (log);
    ck_assert_ptr_nonnull (strstr (log, "revoked"));
    free (log);
    //  The open connection is dropped and cannot come back.
    reply = s_report (huinan, "huinan-agent", 2, "220523");
    ck_assert_ptr_null (reply);
    ck_assert_int_eq (s_stored ("huinan-agent"), 1);
    zsock_destroy (&huinan);
    //  Others reconnect by themselves and go on.
    zsock_t *jian = s_client ("jian", s_collector->report_ep);
    reply = s_report (jian, "jian-after", 1, "220582");
    ck_assert_ptr_nonnull (reply);
    ck_assert_int_eq (reply->type, PROTO_ACK);
    proto_msg_destroy (&reply);
    zsock_destroy (&jian);
}
END_TEST

START_TEST (test_plaintext_bind_refused)
{
    //  Without keys, a non-loopback endpoint needs --allow-plaintext.
    const char *argv [] = { tt_collector_bin, "--db", s_pg->conninfo, "--report", "tcp://0.0.0.0:*",
                            NULL };
    char *out = NULL;
    ck_assert_int_eq (tt_run (argv, 10000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "--allow-plaintext"));
    free (out);
    //  CURVE half-configured is refused too.
    const char *half [] = { tt_collector_bin, "--db", s_pg->conninfo, "--clients", s_clients, NULL };
    ck_assert_int_eq (tt_run (half, 10000, &out), 2);
    ck_assert_ptr_nonnull (strstr (out, "--curve-secret"));
    free (out);
}
END_TEST

START_TEST (test_curve_feed)
{
    char secret [512];
    snprintf (secret, sizeof secret, "%s/collector.cert_secret", s_keys);
    const char *extra [] = { "--curve-secret", secret, "--clients", s_clients, "--feed-curve", NULL };
    tt_collector_t *own = tt_collector_start (s_pg->conninfo, extra, NULL);
    //  A subscriber with a known key hears heartbeats; a plaintext one does not.
    zsock_t *member = s_client ("tonghua", own->feed_ep);
    zsock_destroy (&member);
    member = zsock_new (ZMQ_SUB);
    char path [512];
    snprintf (path, sizeof path, "%s/tonghua.cert", s_keys);
    zcert_t *cert = zcert_load (path);
    zcert_apply (cert, member);
    zcert_destroy (&cert);
    snprintf (path, sizeof path, "%s/collector.cert", s_keys);
    cert = zcert_load (path);
    zsock_set_curve_serverkey (member, zcert_public_txt (cert));
    zcert_destroy (&cert);
    zsock_set_subscribe (member, "$hb");
    zsock_set_rcvtimeo (member, 3000);
    zsock_connect (member, "%s", own->feed_ep);
    zsock_t *outsider = zsock_new_sub (own->feed_ep, "$hb");
    zsock_set_rcvtimeo (outsider, 3000);
    char *topic = zstr_recv (member);
    ck_assert_ptr_nonnull (topic);
    ck_assert_str_eq (topic, "$hb");
    zstr_free (&topic);
    topic = zstr_recv (outsider);
    ck_assert_ptr_null (topic);
    zsock_destroy (&member);
    zsock_destroy (&outsider);
    ck_assert_int_eq (tt_collector_stop (&own, SIGTERM), 0);
}
END_TEST

int
main (void)
{
    //  No czmq before the tests fork: each test starts (and, at its exit,
    //  shuts down) czmq in its own process, which keeps LeakSanitizer quiet.
    s_keys = tt_tempdir ("keys");
    s_clients = tt_tempdir ("clients");
    char err [256];
    if (keygen_write (s_keys, "collector", NULL, err, sizeof err)) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    //  Keys made before the collector starts; one per county, and the city's prefix key.
    s_make_key ("jian", "220582");
    s_make_key ("huinan", "220523");
    s_make_key ("tonghua", "2205*");

    s_pg = tt_pg_start ();
    if (tt_migrate (s_pg->conninfo) != 0)
        return 1;
    char secret [512];
    snprintf (secret, sizeof secret, "%s/collector.cert_secret", s_keys);
    const char *extra [] = { "--curve-secret", secret, "--clients", s_clients, NULL };
    s_collector = tt_collector_start (s_pg->conninfo, extra, NULL);

    Suite *suite = suite_create ("security");
    TCase *tc = tcase_create ("curve");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_own_county_acked);
    tcase_add_test (tc, test_other_county_forbidden);
    tcase_add_test (tc, test_city_prefix_key);
    tcase_add_test (tc, test_strangers_refused);
    tcase_add_test (tc, test_plaintext_bind_refused);
    tcase_add_test (tc, test_curve_feed);
    tcase_add_test (tc, test_revocation_by_sighup);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);

    tt_collector_stop (&s_collector, SIGTERM);
    tt_pg_destroy (&s_pg);
    return failed ? 1 : 0;
}
