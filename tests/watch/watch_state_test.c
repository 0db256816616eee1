/*  watch_state_test.c — the store: snapshot then updates, gaps, never going back.

    Reads as an example of the late-joiner protocol: begin a snapshot, let
    feed messages arrive meanwhile, end the snapshot, then follow the feed.
*/
#include <check.h>
#include <stdlib.h>
#include "watch_fixture.h"
#include "watch_state.h"

//  Counts the store's notifications.
static int s_stored;
static void
s_on_store (void *arg, const proto_msg_t *totals)
{
    (void) arg;
    (void) totals;
    s_stored++;
}

static watch_verdict_t
s_feed (watch_state_t *state, proto_msg_t *msg)
{
    return watch_state_feed (state, &msg);
}

static proto_msg_t *
s_heartbeat (int64_t seq)
{
    proto_msg_t *msg = proto_msg_new (PROTO_HEARTBEAT);
    msg->has_seq = true;
    msg->seq = seq;
    msg->at = 1646035200000;
    return msg;
}

static int64_t
s_value (watch_state_t *state, const char *region, const char *key)
{
    const proto_msg_t *totals = watch_state_lookup (state, region, 2022);
    int64_t value = -1;
    if (totals)
        proto_msg_value (totals, false, key, &value);
    return value;
}

//  A synced store holding 220524 (planned 33) and 220582 (planned 30) at seq 10.
static watch_state_t *
s_synced_store (bool filtered)
{
    watch_state_t *state = watch_state_new (filtered, s_on_store, NULL);
    watch_state_snapshot_begin (state);
    proto_msg_t *row = fixture_totals ("220524", "柳河县", "county", 7, "projects_planned", 33LL, NULL);
    watch_state_snapshot_row (state, &row);
    row = fixture_totals ("220582", "集安市", "county", 9, "projects_planned", 30LL, NULL);
    watch_state_snapshot_row (state, &row);
    ck_assert_int_eq (watch_state_snapshot_end (state, 10), WATCH_APPLIED);
    return state;
}

START_TEST (test_snapshot_then_updates)
{
    s_stored = 0;
    watch_state_t *state = watch_state_new (false, s_on_store, NULL);
    ck_assert (!watch_state_synced (state));
    watch_state_snapshot_begin (state);
    ck_assert (watch_state_taking (state));

    //  The feed runs ahead of the snapshot: both are held.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 9,
                              "projects_planned", 31LL, NULL)), WATCH_BUFFERED);
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 11,
                              "projects_planned", 34LL, NULL)), WATCH_BUFFERED);
    proto_msg_t *row = fixture_totals ("220524", "柳河县", "county", 10, "projects_planned", 33LL, NULL);
    ck_assert_int_eq (watch_state_snapshot_row (state, &row), WATCH_BUFFERED);
    ck_assert_ptr_null (row);
    ck_assert_int_eq (watch_state_size (state), 0);

    //  At the end only the message after the snapshot (seq 11) is applied.
    ck_assert_int_eq (watch_state_snapshot_end (state, 10), WATCH_APPLIED);
    ck_assert (watch_state_synced (state));
    ck_assert (!watch_state_taking (state));
    ck_assert_int_eq (watch_state_seq (state), 11);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 34);
    ck_assert_int_eq (s_stored, 2);             //  snapshot row, then seq 11

    //  Then the feed in order.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220582", "集安市", "county", 12,
                              "projects_planned", 33LL, NULL)), WATCH_APPLIED);
    ck_assert_int_eq (watch_state_size (state), 2);
    ck_assert_int_eq (watch_state_seq (state), 12);
    watch_state_destroy (&state);
    ck_assert_ptr_null (state);
    watch_state_destroy (&state);               //  harmless twice
}
END_TEST

START_TEST (test_seq_filtering)
{
    watch_state_t *state = s_synced_store (false);
    //  Already covered by the snapshot.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 10,
                              "projects_planned", 1LL, NULL)), WATCH_STALE);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 33);
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 11,
                              "projects_planned", 35LL, NULL)), WATCH_APPLIED);
    //  A duplicate delivery changes nothing.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 11,
                              "projects_planned", 99LL, NULL)), WATCH_STALE);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 35);
    //  A heartbeat at the last seq: all is well.
    ck_assert_int_eq (s_feed (state, s_heartbeat (11)), WATCH_STALE);
    ck_assert (watch_state_synced (state));
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_gap_in_totals)
{
    watch_state_t *state = s_synced_store (false);
    //  seq 11 never arrives: 12 is newer for its region, so it is kept,
    //  but the store is no longer in step.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220582", "集安市", "county", 12,
                              "projects_planned", 40LL, NULL)), WATCH_GAP);
    ck_assert (!watch_state_synced (state));
    ck_assert_int_eq (s_value (state, "220582", "projects_planned"), 40);

    //  The fresh snapshot (taken at 12) brings back what seq 11 changed.
    watch_state_snapshot_begin (state);
    proto_msg_t *row = fixture_totals ("220524", "柳河县", "county", 11, "projects_planned", 36LL, NULL);
    row->has_version = true;
    row->version = 11;
    watch_state_snapshot_row (state, &row);
    ck_assert_int_eq (watch_state_snapshot_end (state, 12), WATCH_APPLIED);
    ck_assert (watch_state_synced (state));
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 36);
    ck_assert_int_eq (s_value (state, "220582", "projects_planned"), 40);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_gap_in_heartbeat)
{
    watch_state_t *state = s_synced_store (false);
    //  A heartbeat says seq 11 was published; we never saw it.
    ck_assert_int_eq (s_feed (state, s_heartbeat (11)), WATCH_GAP);
    ck_assert (!watch_state_synced (state));
    //  A heartbeat behind us (a collector that restarted and has not
    //  published yet) is not a loss.
    watch_state_t *other = s_synced_store (false);
    ck_assert_int_eq (s_feed (other, s_heartbeat (3)), WATCH_STALE);
    ck_assert (watch_state_synced (other));
    watch_state_destroy (&other);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_gap_while_buffered)
{
    watch_state_t *state = watch_state_new (false, NULL, NULL);
    watch_state_snapshot_begin (state);
    s_feed (state, fixture_totals ("220524", "柳河县", "county", 12, "projects_planned", 1LL, NULL));
    //  The snapshot ends at 10; 11 was lost before the buffer saw it.
    ck_assert_int_eq (watch_state_snapshot_end (state, 10), WATCH_GAP);
    ck_assert (!watch_state_synced (state));
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 1);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_never_go_back)
{
    s_stored = 0;
    watch_state_t *state = s_synced_store (false);
    //  A gap, then a late copy of an older change for the same region.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 14,
                              "projects_planned", 44LL, NULL)), WATCH_GAP);
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 13,
                              "projects_planned", 43LL, NULL)), WATCH_STALE);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 44);
    ck_assert_int_eq (watch_state_version (state, "220524", 2022), 14);

    //  A snapshot row with an older version does not replace it either...
    watch_state_snapshot_begin (state);
    proto_msg_t *row = fixture_totals ("220524", "柳河县", "county", 12, "projects_planned", 42LL, NULL);
    row->has_version = true;
    row->version = 12;
    watch_state_snapshot_row (state, &row);
    //  ...nor does a row without a version from a snapshot older than our copy.
    row = fixture_totals ("220582", "集安市", "county", 9, "projects_planned", 1LL, NULL);
    watch_state_snapshot_row (state, &row);
    int before = s_stored;
    watch_state_snapshot_end (state, 8);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 44);
    ck_assert_int_eq (s_value (state, "220582", "projects_planned"), 30);
    ck_assert_int_eq (s_stored, before);        //  nothing reported as new

    //  The totals' version wins over the seq that carried it.
    proto_msg_t *update = fixture_totals ("220524", "柳河县", "county", 15, "projects_planned", 45LL, NULL);
    update->has_version = true;
    update->version = 15;
    s_feed (state, update);
    ck_assert_int_eq (watch_state_version (state, "220524", 2022), 15);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 45);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_abort_keeps_buffered)
{
    watch_state_t *state = s_synced_store (false);
    watch_state_snapshot_begin (state);
    s_feed (state, fixture_totals ("220524", "柳河县", "county", 11, "projects_planned", 50LL, NULL));
    proto_msg_t *row = fixture_totals ("220582", "集安市", "county", 11, "projects_planned", 77LL, NULL);
    watch_state_snapshot_row (state, &row);
    watch_state_snapshot_abort (state);
    ck_assert (!watch_state_taking (state));
    ck_assert (!watch_state_synced (state));
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 50);
    ck_assert_int_eq (s_value (state, "220582", "projects_planned"), 30);   //  row dropped
    //  Rows outside a snapshot are refused.
    row = fixture_totals ("220582", "集安市", "county", 11, NULL);
    ck_assert_int_eq (watch_state_snapshot_row (state, &row), WATCH_REJECTED);
    ck_assert_int_eq (watch_state_snapshot_end (state, 11), WATCH_REJECTED);
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_filtered_feed)
{
    //  Subscribed to one prefix, other regions' seqs never reach us.
    watch_state_t *state = s_synced_store (true);
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 13,
                              "projects_planned", 37LL, NULL)), WATCH_APPLIED);
    ck_assert (watch_state_synced (state));
    ck_assert_int_eq (s_feed (state, s_heartbeat (13)), WATCH_STALE);
    ck_assert_int_eq (s_feed (state, s_heartbeat (15)), WATCH_VERIFY);
    ck_assert (watch_state_synced (state));
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_merged_feeds)
{
    //  Two collectors' feeds: collector B publishes seq 13 before collector A
    //  publishes seq 12, for other regions or the same one.
    s_stored = 0;
    watch_state_t *state = s_synced_store (false);
    watch_state_set_merged (state, true);
    int before = s_stored;
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 13,
                              "projects_planned", 40LL, NULL)), WATCH_APPLIED);
    //  An older seq for another region is no loss and is applied...
    ck_assert_int_eq (s_feed (state, fixture_totals ("220582", "集安市", "county", 12,
                              "projects_planned", 31LL, NULL)), WATCH_APPLIED);
    ck_assert (watch_state_synced (state));
    ck_assert_int_eq (s_value (state, "220582", "projects_planned"), 31);
    //  ...but an older version of a region never replaces a newer one.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220524", "柳河县", "county", 11,
                              "projects_planned", 39LL, NULL)), WATCH_STALE);
    ck_assert_int_eq (s_value (state, "220524", "projects_planned"), 40);
    ck_assert_int_eq (s_stored, before + 2);
    //  A jump in seq is no loss either.
    ck_assert_int_eq (s_feed (state, fixture_totals ("220582", "集安市", "county", 20,
                              "projects_planned", 32LL, NULL)), WATCH_APPLIED);
    ck_assert (watch_state_synced (state));
    ck_assert_int_eq (watch_state_seq (state), 20);
    //  A heartbeat up to the highest seq seen is fine; beyond it, verify.
    ck_assert_int_eq (s_feed (state, s_heartbeat (13)), WATCH_STALE);
    ck_assert_int_eq (s_feed (state, s_heartbeat (20)), WATCH_STALE);
    ck_assert_int_eq (s_feed (state, s_heartbeat (21)), WATCH_VERIFY);
    ck_assert (watch_state_synced (state));
    watch_state_destroy (&state);
}
END_TEST

START_TEST (test_years_and_order)
{
    watch_state_t *state = s_synced_store (false);
    proto_msg_t *old = fixture_totals ("220524", "柳河县", "county", 11, "projects_planned", 20LL, NULL);
    old->year = 2021;
    ck_assert_int_eq (s_feed (state, old), WATCH_APPLIED);
    ck_assert_int_eq (watch_state_size (state), 3);
    ck_assert_int_eq (watch_state_newest_year (state), 2022);
    //  (region, year) order.
    ck_assert_str_eq (watch_state_at (state, 0)->region, "220524");
    ck_assert_int_eq (watch_state_at (state, 0)->year, 2021);
    ck_assert_int_eq (watch_state_at (state, 1)->year, 2022);
    ck_assert_str_eq (watch_state_at (state, 2)->region, "220582");
    ck_assert_ptr_null (watch_state_at (state, 3));
    ck_assert_ptr_null (watch_state_lookup (state, "220503", 2022));
    //  Anything but totals and heartbeats is refused.
    ck_assert_int_eq (s_feed (state, proto_msg_new (PROTO_PONG)), WATCH_REJECTED);
    watch_state_destroy (&state);
}
END_TEST

Suite *
watch_state_suite (void)
{
    Suite *suite = suite_create ("watch_state");
    TCase *tc = tcase_create ("store");
    tcase_add_test (tc, test_snapshot_then_updates);
    tcase_add_test (tc, test_seq_filtering);
    tcase_add_test (tc, test_gap_in_totals);
    tcase_add_test (tc, test_gap_in_heartbeat);
    tcase_add_test (tc, test_gap_while_buffered);
    tcase_add_test (tc, test_never_go_back);
    tcase_add_test (tc, test_abort_keeps_buffered);
    tcase_add_test (tc, test_filtered_feed);
    tcase_add_test (tc, test_merged_feeds);
    tcase_add_test (tc, test_years_and_order);
    suite_add_tcase (suite, tc);
    return suite;
}
