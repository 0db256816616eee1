-- 005_ingest_leaner.sql — tally_ingest in six statements instead of fifteen.
--
-- Measured by tests/bench with auto_explain (log_nested_statements): in a
-- batch of 1,000 reports half the time went to current_value, which was
-- written three times per key (an INSERT ... DO NOTHING that mostly
-- conflicted, a SELECT ... FOR UPDATE for the old figure, then the UPDATE);
-- in a batch of a few reports (the 1,000 reports/s latency test) the fixed
-- cost of fifteen statements and a level-by-level loop dominated.
--
-- Now:
--   * current_value keeps the figure each row replaced (`previous`), so one
--     INSERT ... ON CONFLICT DO UPDATE both writes the newest figure and
--     returns its change (value - previous), from the row as it is when
--     locked, whatever another collector committed meanwhile;
--   * region_total gets every change as a delta in one upsert: a leaf's own
--     row and a rule-`none` row equal the region's current figure, so adding
--     (new - old) keeps them equal to it, exactly as for the ancestors;
--   * region_year: the rows are locked (and missing ones created) in key
--     order, then one UPDATE sets as_of (the newest of the batch's figures in
--     the region's subtree, never going back), reported (children with a row,
--     recounted from a fresh snapshot, after the lock) and version;
--   * resends are looked at only when some report of the batch was not new;
--   * reports are inserted in (source, seq) order, so that two batches on
--     two connections holding each other's resends never deadlock on the
--     unique index (report ids follow that order within a batch).
-- Same signature and results as 004's version; tally_verify() holds.

ALTER TABLE current_value ADD COLUMN IF NOT EXISTS previous bigint;
COMMENT ON COLUMN current_value.previous IS 'The figure this one replaced (NULL when it was the first for its region, metric and year).';

CREATE OR REPLACE FUNCTION tally_ingest (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (idx int, status text, region text, year int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    stored_idx   int[];         -- reports stored now: their position in the batch
    stored_id    bigint[];      -- and their report.id
    k_region text[]; k_metric text[]; k_year int[]; k_delta bigint[]; k_as_of date[];
    k_leaf bool[]; k_sum bool[];  -- every changed figure, with its region's and metric's kind
    ch_region    text[];        -- (region, year) pairs whose totals changed, in key order
    ch_year      int[];
    ch_as_of     date[];        -- the newest as_of of the batch's changes in the region's subtree
    ch_above     bool[];        -- true when the region is an ancestor of a changed region
BEGIN
    -- 1. The reports. A (source, seq) already stored is left alone here.
    WITH inp AS (
        SELECT u.i::int AS i, u.s, u.q, u.r, u.a, u.n, u.t, u.pe, u.k
          FROM unnest (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key)
               WITH ORDINALITY AS u (s, q, r, a, n, t, pe, k, i)),
    ins AS (
        INSERT INTO report (source, seq, region, as_of, note, sent_at, peer, key_id)
        SELECT s, q, r, a, n, to_timestamp (t / 1000.0), pe, k FROM inp ORDER BY s, q
        ON CONFLICT (source, seq) DO NOTHING
        RETURNING id, source, seq)
    SELECT array_agg (inp.i ORDER BY inp.i), array_agg (ins.id ORDER BY inp.i)
      INTO stored_idx, stored_id
      FROM ins JOIN inp ON inp.s = ins.source AND inp.q = ins.seq;
    stored_idx := coalesce (stored_idx, '{}');
    stored_id := coalesce (stored_id, '{}');

    RETURN QUERY SELECT s.i, 'stored'::text, NULL::text, NULL::int
      FROM unnest (stored_idx) AS s (i);

    -- 2. Resends: the same content is a duplicate, other content a conflict.
    IF cardinality (stored_idx) < cardinality (p_source) THEN
        RETURN QUERY
        WITH inp AS (
            SELECT u.i::int AS i, u.s, u.q, u.r, u.a, u.n
              FROM unnest (p_source, p_seq, p_region, p_as_of, p_note)
                   WITH ORDINALITY AS u (s, q, r, a, n, i)
             WHERE NOT EXISTS (SELECT 1 FROM unnest (stored_idx) AS st (i) WHERE st.i = u.i))
        SELECT inp.i,
               CASE WHEN r.region = inp.r AND r.as_of = inp.a AND r.note IS NOT DISTINCT FROM inp.n
                     AND (SELECT array_agg (rv.metric || '=' || rv.value ORDER BY rv.metric)
                            FROM report_value rv WHERE rv.report_id = r.id)
                       = (SELECT array_agg (v.m || '=' || v.val ORDER BY v.m)
                            FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val) WHERE v.vi = inp.i)
                    THEN 'duplicate' ELSE 'conflict' END,
               NULL::text, NULL::int
          FROM inp JOIN report r ON r.source = inp.s AND r.seq = inp.q;
    END IF;

    IF cardinality (stored_idx) = 0 THEN
        RETURN;
    END IF;

    -- 3. Their values.
    INSERT INTO report_value (report_id, metric, value)
    SELECT st.id, v.m, v.val
      FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val)
      JOIN unnest (stored_idx, stored_id) AS st (i, id) ON st.i = v.vi;

    -- 4. Current figures: per (region, metric, year) the batch's newest
    -- figure replaces the stored one unless that is newer (ties on as_of go
    -- to the later-stored report, the higher id: also when two collectors
    -- commit at once). Each changed row returns its change.
    WITH cand AS (
        SELECT DISTINCT ON (p.r, v.m, p.y) p.r, v.m, p.y, v.val, p.a, st.id
          FROM unnest (stored_idx, stored_id) AS st (i, id)
          JOIN (SELECT u.i::int AS i, u.r, u.a, extract (year FROM u.a)::int AS y
                  FROM unnest (p_region, p_as_of) WITH ORDINALITY AS u (r, a, i)) p ON p.i = st.i
          JOIN unnest (v_idx, v_metric, v_value) AS v (vi, m, val) ON v.vi = st.i
         ORDER BY p.r, v.m, p.y, p.a DESC, st.id DESC),
    up AS (
        INSERT INTO current_value AS c (region, metric, year, value, as_of, report_id)
        SELECT r, m, y, val, a, id FROM cand
        ON CONFLICT ON CONSTRAINT current_value_pkey DO UPDATE
           SET previous = c.value, value = excluded.value, as_of = excluded.as_of,
               report_id = excluded.report_id
         WHERE excluded.as_of > c.as_of
            OR (excluded.as_of = c.as_of AND excluded.report_id > c.report_id)
        RETURNING c.region, c.metric, c.year, c.value - coalesce (c.previous, 0) AS delta, c.as_of)
    SELECT array_agg (up.region), array_agg (up.metric), array_agg (up.year), array_agg (up.delta),
           array_agg (up.as_of), array_agg (par.parent IS NULL), array_agg (mt.rollup = 'sum')
      INTO k_region, k_metric, k_year, k_delta, k_as_of, k_leaf, k_sum
      FROM up JOIN metric mt ON mt.key = up.metric
      LEFT JOIN (SELECT DISTINCT parent FROM region WHERE parent IS NOT NULL) par ON par.parent = up.region;
    IF k_region IS NULL THEN
        RETURN;
    END IF;

    -- 5. Totals, as changes: a leaf's figure, or any region's figure of a
    -- rule-`none` metric, is its own total; a leaf's change of a `sum` figure
    -- is added to every ancestor. Rows in key order (the lock order).
    INSERT INTO region_total AS t (region, metric, year, value)
    SELECT x.r, x.m, x.y, sum (x.d)::bigint
      FROM (SELECT c.r, c.m, c.y, c.d
              FROM unnest (k_region, k_metric, k_year, k_delta, k_leaf, k_sum) AS c (r, m, y, d, leaf, summed)
             WHERE c.leaf OR NOT c.summed
            UNION ALL
            SELECT ra.ancestor, c.m, c.y, c.d
              FROM unnest (k_region, k_metric, k_year, k_delta, k_leaf, k_sum) AS c (r, m, y, d, leaf, summed)
              JOIN region_ancestor ra ON ra.region = c.r
             WHERE c.leaf AND c.summed) x
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT region_total_pkey DO UPDATE SET value = t.value + excluded.value
       WHERE excluded.value <> 0;

    -- 6. Per region and year: as_of, reported, version. The rows of the
    -- changed regions and all their ancestors are locked in key order first
    -- (a missing row is created: as_of -infinity loses to any date, reported
    -- 1 is what a region with no children counts), so that two collectors
    -- never wait on each other in opposite orders; then each row is set
    -- from a fresh snapshot that sees every child row committed before the
    -- lock was granted.
    SELECT array_agg (x.r ORDER BY x.r, x.y), array_agg (x.y ORDER BY x.r, x.y),
           array_agg (x.a ORDER BY x.r, x.y), array_agg (x.above ORDER BY x.r, x.y)
      INTO ch_region, ch_year, ch_as_of, ch_above
      FROM (SELECT u.r, u.y, max (u.a) AS a, bool_or (u.above) AS above
              FROM (SELECT c.r, c.y, c.a, false AS above
                      FROM unnest (k_region, k_year, k_as_of) AS c (r, y, a)
                    UNION ALL
                    SELECT ra.ancestor, c.y, c.a, true
                      FROM unnest (k_region, k_year, k_as_of) AS c (r, y, a)
                      JOIN region_ancestor ra ON ra.region = c.r) u
             GROUP BY u.r, u.y) x;

    INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
    SELECT x.r, x.y, '-infinity', 1, 0, now ()
      FROM unnest (ch_region, ch_year) AS x (r, y)
     ORDER BY x.r, x.y
    ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE SET version = ry.version;

    UPDATE region_year ry
       SET as_of = greatest (ry.as_of, n.a),
           reported = CASE WHEN n.above
                           THEN (SELECT count (*) FROM region ch
                                   JOIN region_year k ON k.region = ch.code AND k.year = n.y
                                  WHERE ch.parent = n.r)::int
                           ELSE ry.reported END,
           version = nextval ('feed_seq'),
           updated_at = now ()
      FROM (SELECT * FROM unnest (ch_region, ch_year, ch_as_of, ch_above) AS x (r, y, a, above)
             ORDER BY x.r, x.y) n
     WHERE ry.region = n.r AND ry.year = n.y;

    RETURN QUERY SELECT NULL::int, 'changed'::text, x.r, x.y
      FROM unnest (ch_region, ch_year) AS x (r, y);
END;
$$;
