-- 004_ingest_faster.sql — tally_ingest without temporary tables or whole-table scans.
--
-- Measured by tests/bench and auto_explain: every batch read the whole of
-- current_value (the temporary tables had no statistics, so the planner
-- hashed it); the check "not already changed in this batch" was a nested
-- loop quadratic in the batch size; and the temporary tables cost a
-- truncation at every commit (about 3 ms a batch, most of a small batch's
-- time). The function now keeps its intermediate results in arrays, over
-- which the planner probes primary keys; region (parent) gets the index that
-- finding leaves and counting children need; and the tables updated in place
-- leave room on their pages so that updates stay HOT (no indexed column
-- changes). The (region, year) rows of region_year are locked in key order
-- before they are written level by level: 002's version could deadlock two
-- collectors (found by tests/scale: a batch with the province's own figures
-- and a county's against one with the city's own figures). Same signature
-- and results as 002's version.

CREATE INDEX IF NOT EXISTS region_parent ON region (parent);
ALTER TABLE current_value SET (fillfactor = 80);
ALTER TABLE region_total SET (fillfactor = 80);
ALTER TABLE region_year SET (fillfactor = 70);

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
    c_region text[]; c_metric text[]; c_year int[]; c_value bigint[]; c_as_of date[]; c_id bigint[];
                                -- candidates: the batch's newest figure per key
    x_region text[]; x_metric text[]; x_year int[]; x_value bigint[]; x_delta bigint[]; x_as_of date[];
                                -- figures new for their key
    y_region text[]; y_metric text[]; y_year int[]; y_value bigint[]; y_delta bigint[]; y_as_of date[];
                                -- figures that replaced an older one
    k_region text[]; k_metric text[]; k_year int[]; k_value bigint[]; k_delta bigint[]; k_as_of date[];
    k_leaf bool[]; k_sum bool[];  -- every change, with its region's and metric's kind
    ch_region    text[];        -- (region, year) pairs whose totals changed
    ch_year      int[];
    max_depth    int;
BEGIN
    -- 1. The reports. A (source, seq) already stored is left alone here.
    WITH inp AS (
        SELECT u.i::int AS i, u.s, u.q, u.r, u.a, u.n, u.t, u.pe, u.k
          FROM unnest (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key)
               WITH ORDINALITY AS u (s, q, r, a, n, t, pe, k, i)),
    ins AS (
        INSERT INTO report (source, seq, region, as_of, note, sent_at, peer, key_id)
        SELECT s, q, r, a, n, to_timestamp (t / 1000.0), pe, k FROM inp ORDER BY i
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
    RETURN QUERY
    WITH inp AS (
        SELECT u.i::int AS i, u.s, u.q, u.r, u.a, u.n
          FROM unnest (p_source, p_seq, p_region, p_as_of, p_note)
               WITH ORDINALITY AS u (s, q, r, a, n, i)
         WHERE u.i <> ALL (stored_idx))
    SELECT inp.i,
           CASE WHEN r.region = inp.r AND r.as_of = inp.a AND r.note IS NOT DISTINCT FROM inp.n
                 AND (SELECT array_agg (rv.metric || '=' || rv.value ORDER BY rv.metric)
                        FROM report_value rv WHERE rv.report_id = r.id)
                   = (SELECT array_agg (v.m || '=' || v.val ORDER BY v.m)
                        FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val) WHERE v.vi = inp.i)
                THEN 'duplicate' ELSE 'conflict' END,
           NULL::text, NULL::int
      FROM inp JOIN report r ON r.source = inp.s AND r.seq = inp.q;

    IF cardinality (stored_idx) = 0 THEN
        RETURN;
    END IF;

    -- 3. Their values.
    INSERT INTO report_value (report_id, metric, value)
    SELECT st.id, v.m, v.val
      FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val)
      JOIN unnest (stored_idx, stored_id) AS st (i, id) ON st.i = v.vi;

    -- 4. Current figures: per (region, metric, year) the batch's newest
    -- figure replaces the stored one unless that is newer. The change of
    -- each figure (delta) is kept for the roll-up. Intermediate results
    -- live in arrays: temporary tables cost a truncation at every commit
    -- and, having no statistics, led the planner to read all of
    -- current_value; over arrays it probes the primary key.
    SELECT array_agg (d.r), array_agg (d.m), array_agg (d.y), array_agg (d.val), array_agg (d.a), array_agg (d.id)
      INTO c_region, c_metric, c_year, c_value, c_as_of, c_id
      FROM (SELECT DISTINCT ON (p.r, v.m, p.y) p.r, v.m, p.y, v.val, p.a, st.id
              FROM unnest (stored_idx, stored_id) AS st (i, id)
              JOIN (SELECT u.i::int AS i, u.r, u.a, extract (year FROM u.a)::int AS y
                      FROM unnest (p_region, p_as_of) WITH ORDINALITY AS u (r, a, i)) p ON p.i = st.i
              JOIN unnest (v_idx, v_metric, v_value) AS v (vi, m, val) ON v.vi = st.i
             ORDER BY p.r, v.m, p.y, p.a DESC, st.id DESC) d;

    --  New figures: their whole value is the change.
    WITH ins AS (
        INSERT INTO current_value (region, metric, year, value, as_of, report_id)
        SELECT n.r, n.m, n.y, n.val, n.a, n.id
          FROM unnest (c_region, c_metric, c_year, c_value, c_as_of, c_id) AS n (r, m, y, val, a, id)
         ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT current_value_pkey DO NOTHING
        RETURNING region, metric, year, value, as_of)
    SELECT array_agg (region), array_agg (metric), array_agg (year), array_agg (value),
           array_agg (value), array_agg (as_of)
      INTO x_region, x_metric, x_year, x_value, x_delta, x_as_of
      FROM ins;

    --  Replaced figures (ties on as_of go to this later-stored report). The
    --  old figure is read under a row lock in a statement of its own, so a
    --  row another collector inserted or changed meanwhile is seen as it is
    --  now; rows just inserted above carry this batch's report id and are
    --  left out.
    --  The look-up is LATERAL so that each key is one primary-key probe, in
    --  key order (the lock order), whatever the size of current_value.
    WITH old AS (
        SELECT c.region, c.metric, c.year, c.value
          FROM (SELECT * FROM unnest (c_region, c_metric, c_year, c_as_of, c_id) AS u (r, m, y, a, id)
                 ORDER BY 1, 2, 3) n
         CROSS JOIN LATERAL (
               SELECT cv.region, cv.metric, cv.year, cv.value FROM current_value cv
                WHERE cv.region = n.r AND cv.metric = n.m AND cv.year = n.y
                  AND n.a >= cv.as_of AND cv.report_id <> n.id
                  FOR UPDATE) c),
    up AS (
        UPDATE current_value c SET value = n.val, as_of = n.a, report_id = n.id
          FROM old JOIN unnest (c_region, c_metric, c_year, c_value, c_as_of, c_id) AS n (r, m, y, val, a, id)
                 ON n.r = old.region AND n.m = old.metric AND n.y = old.year
         WHERE c.region = old.region AND c.metric = old.metric AND c.year = old.year
        RETURNING c.region, c.metric, c.year, c.value, c.value - old.value AS delta, c.as_of)
    SELECT array_agg (region), array_agg (metric), array_agg (year), array_agg (value),
           array_agg (delta), array_agg (as_of)
      INTO y_region, y_metric, y_year, y_value, y_delta, y_as_of
      FROM up;

    --  Every change, with its metric's rule and whether its region is a leaf.
    SELECT array_agg (c.r), array_agg (c.m), array_agg (c.y), array_agg (c.val), array_agg (c.d),
           array_agg (c.a), array_agg (par.parent IS NULL), array_agg (mt.rollup = 'sum')
      INTO k_region, k_metric, k_year, k_value, k_delta, k_as_of, k_leaf, k_sum
      FROM unnest (x_region || y_region, x_metric || y_metric, x_year || y_year,
                   x_value || y_value, x_delta || y_delta, x_as_of || y_as_of)
           AS c (r, m, y, val, d, a)
      JOIN metric mt ON mt.key = c.m
      LEFT JOIN (SELECT DISTINCT parent FROM region WHERE parent IS NOT NULL) par ON par.parent = c.r;
    IF k_region IS NULL THEN
        RETURN;
    END IF;

    -- 5. Totals. A leaf's figure, or any region's figure of a rule-`none`
    -- metric, is its own total; a leaf's change of a `sum` figure is added
    -- to every ancestor.
    INSERT INTO region_total AS t (region, metric, year, value)
    SELECT c.r, c.m, c.y, c.val
      FROM unnest (k_region, k_metric, k_year, k_value, k_leaf, k_sum) AS c (r, m, y, val, leaf, summed)
     WHERE c.leaf OR NOT c.summed
     ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT region_total_pkey DO UPDATE SET value = excluded.value;

    INSERT INTO region_total AS t (region, metric, year, value)
    SELECT ra.ancestor, c.m, c.y, sum (c.d)::bigint
      FROM unnest (k_region, k_metric, k_year, k_delta, k_leaf, k_sum) AS c (r, m, y, d, leaf, summed)
      JOIN region_ancestor ra ON ra.region = c.r
     WHERE c.leaf AND c.summed
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT region_total_pkey DO UPDATE SET value = t.value + excluded.value;

    SELECT array_agg (x.r ORDER BY x.r, x.y), array_agg (x.y ORDER BY x.r, x.y)
      INTO ch_region, ch_year
      FROM (SELECT c.r, c.y FROM unnest (k_region, k_year) AS c (r, y)
            UNION
            SELECT ra.ancestor, c.y FROM unnest (k_region, k_year) AS c (r, y)
              JOIN region_ancestor ra ON ra.region = c.r) x;

    -- Lock every (region, year) row written below in key order first: the
    -- steps below reach them level by level (own changes, then ancestors
    -- bottom-up), which is not key order, and two batches taking them in
    -- different orders deadlock (the province's own figures with a county's,
    -- against the city's own figures). A missing row is inserted as a
    -- placeholder the steps below complete (as_of -infinity loses to any
    -- date; reported 1 is what a new row gets there anyway).
    INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
    SELECT x.r, x.y, '-infinity', 1, 0, now ()
      FROM unnest (ch_region, ch_year) AS x (r, y)
     ORDER BY x.r, x.y
    ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE SET version = ry.version;

    -- 6. Per region and year: as_of, reported, version. First the regions
    -- whose own figures changed, then their ancestors from the bottom up,
    -- each recounting its children.
    INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
    SELECT c.r, c.y, max (c.a), 1, 0, now ()
      FROM unnest (k_region, k_year, k_as_of) AS c (r, y, a)
     GROUP BY 1, 2
     ORDER BY 1, 2
    ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE
       SET as_of = greatest (ry.as_of, excluded.as_of), updated_at = excluded.updated_at;

    SELECT max (ra.distance) INTO max_depth
      FROM region_ancestor ra WHERE ra.region = ANY (k_region);
    FOR d IN 1 .. coalesce (max_depth, 0) LOOP
        INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
        SELECT a.ancestor, a.y, max (k.as_of), count (*), 0, now ()
          FROM (SELECT DISTINCT ra.ancestor, c.y FROM unnest (k_region, k_year) AS c (r, y)
                  JOIN region_ancestor ra ON ra.region = c.r AND ra.distance = d) a
          JOIN region ch ON ch.parent = a.ancestor
          JOIN region_year k ON k.region = ch.code AND k.year = a.y
         GROUP BY 1, 2
         ORDER BY 1, 2
        ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE
           SET as_of = greatest (ry.as_of, excluded.as_of), reported = excluded.reported,
               updated_at = excluded.updated_at;
    END LOOP;

    -- Every changed (region, year) gets the next feed sequence number, in key order.
    UPDATE region_year ry SET version = nextval ('feed_seq')
      FROM (SELECT x.r, x.y FROM unnest (ch_region, ch_year) AS x (r, y) ORDER BY x.r, x.y) k
     WHERE ry.region = k.r AND ry.year = k.y;

    RETURN QUERY SELECT NULL::int, 'changed'::text, x.r, x.y
      FROM unnest (ch_region, ch_year) AS x (r, y);
END;
$$;

