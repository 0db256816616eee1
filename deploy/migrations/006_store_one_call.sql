-- 006_store_one_call.sql — a batch in one statement, planned once.
--
-- Measured by tests/bench (latency phase, 1,000 reports/s, about three
-- reports a batch) with pg_stat_statements:
--   * tally_ingest's statements were planned again at every call (custom
--     plans for array parameters): 2.3 ms a call, 1.5 ms with the plans
--     kept (plan_cache_mode = force_generic_plan, set on the function);
--   * a batch took four round trips (BEGIN, tally_ingest, tally_totals,
--     COMMIT); with a trivial tally_ingest the acks still took 3 ms.
-- tally_store() does both in one call, so a batch without rejects to record
-- is one statement in its own transaction: one round trip, and the reply
-- comes after COMMIT.
--
-- Rows: first each report's status (idx, status), then with status 'totals'
-- one row per changed region and year, the columns of tally_totals().

ALTER FUNCTION tally_ingest (text[], bigint[], text[], date[], text[], bigint[], text[], text[],
                             int[], text[], bigint[])
    SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION tally_store (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (idx int, status text, region text, name text, level text, year int, as_of date,
               reported int, expected int, version bigint, updated_at_ms bigint,
               keys text[], vals bigint[], own_keys text[], own_vals bigint[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    s_idx    int[];             -- each report's position in the batch
    s_status text[];            -- and its status
    ch_region text[];           -- the (region, year) pairs whose totals changed
    ch_year  int[];
BEGIN
    SELECT array_agg (i.idx) FILTER (WHERE i.status <> 'changed'),
           array_agg (i.status) FILTER (WHERE i.status <> 'changed'),
           array_agg (i.region) FILTER (WHERE i.status = 'changed'),
           array_agg (i.year) FILTER (WHERE i.status = 'changed')
      INTO s_idx, s_status, ch_region, ch_year
      FROM tally_ingest (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key,
                         v_idx, v_metric, v_value) i;

    RETURN QUERY SELECT u.i, u.s, NULL::text, NULL::text, NULL::text, NULL::int, NULL::date,
                        NULL::int, NULL::int, NULL::bigint, NULL::bigint,
                        NULL::text[], NULL::bigint[], NULL::text[], NULL::bigint[]
      FROM unnest (s_idx, s_status) AS u (i, s);
    IF ch_region IS NOT NULL THEN
        RETURN QUERY SELECT NULL::int, 'totals'::text, t.*
          FROM tally_totals (ch_region, ch_year, NULL, NULL) t;
    END IF;
END;
$$;
COMMENT ON FUNCTION tally_store (text[], bigint[], text[], date[], text[], bigint[], text[], text[],
                                 int[], text[], bigint[])
    IS 'The collector''s batch: tally_ingest, then the changed regions'' totals (tally_totals), in one call.';
