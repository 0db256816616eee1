-- 010_ingest_through_lock.sql — tally_ingest() stores and locks through
-- tally_lock(); tally_insert() and tally_lock_rows() go.
--
-- Migration 009 inlined tally_insert() and tally_lock_rows() in tally_lock(),
-- the collector's first call of a batch; they stayed only for tally_ingest(),
-- the same batch in SQL alone, which the scale suite's deadlock probe (three
-- connections as three collectors) and faults_db_outage's half-way failures
-- call directly. Now tally_ingest() calls tally_lock() itself: one live copy
-- of how reports are stored and rows locked, and those suites exercise the
-- collector's own statements. Same signature and results as 008's version.

CREATE OR REPLACE FUNCTION tally_ingest (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (idx int, status text, region text, year int)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    s_idx    int[];
    s_status text[];
    s_id     bigint[];
    c_region text[]; c_year int[]; c_pos int[]; c_value bigint[]; c_as_of date[]; c_id bigint[];
    c_leaf bool[]; c_sum bool[];  -- candidates: the batch's newest figure per (region, year,
                                  -- metric), with its region's and metric's kind
    ch_region text[];
    ch_year  int[];
    npos int;
BEGIN
    -- tally_lock stores the reports and values, and creates and locks (in
    -- key order) the rows of their regions and all ancestors; its rows of
    -- kind 'row' are not needed here.
    SELECT array_agg (l.idx), array_agg (l.status), array_agg (l.id)
      INTO s_idx, s_status, s_id
      FROM tally_lock (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key,
                       v_idx, v_metric, v_value) l
     WHERE l.kind = 'report';
    RETURN QUERY SELECT u.i, u.s, NULL::text, NULL::int FROM unnest (s_idx, s_status) AS u (i, s);
    IF s_idx IS NULL OR NOT 'stored' = ANY (s_status) THEN
        RETURN;
    END IF;

    -- Candidates: per (region, year, metric) the batch's newest figure.
    SELECT array_agg (x.r), array_agg (x.y), array_agg (x.pos), array_agg (x.val), array_agg (x.a),
           array_agg (x.id), array_agg (x.leaf), array_agg (x.summed)
      INTO c_region, c_year, c_pos, c_value, c_as_of, c_id, c_leaf, c_sum
      FROM (SELECT DISTINCT ON (p.r, p.y, mt.pos) p.r, p.y, mt.pos, v.val, p.a, st.id,
                   NOT EXISTS (SELECT 1 FROM region ch WHERE ch.parent = p.r) AS leaf,
                   mt.rollup = 'sum' AS summed
              FROM unnest (s_idx, s_status, s_id) AS st (i, s, id)
              JOIN (SELECT u.i::int AS i, u.r, u.a, extract (year FROM u.a)::int AS y
                      FROM unnest (p_region, p_as_of) WITH ORDINALITY AS u (r, a, i)) p ON p.i = st.i
              JOIN unnest (v_idx, v_metric, v_value) AS v (vi, m, val) ON v.vi = st.i
              JOIN metric mt ON mt.key = v.m
             WHERE st.s = 'stored'
             ORDER BY p.r, p.y, mt.pos, p.a DESC, st.id DESC) x;
    IF c_region IS NULL THEN
        RETURN;
    END IF;

    SELECT max (pos) INTO npos FROM metric;
    WITH w AS (             -- the candidates that win, with the figure each replaces
        SELECT c.*, ry.own [c.pos] AS old
          FROM unnest (c_region, c_year, c_pos, c_value, c_as_of, c_id, c_leaf, c_sum)
               AS c (r, y, pos, val, a, id, leaf, summed)
          JOIN region_year ry ON ry.region = c.r AND ry.year = c.y
         WHERE ry.own_as_of [c.pos] IS NULL OR c.a > ry.own_as_of [c.pos]
            OR (c.a = ry.own_as_of [c.pos] AND c.id > ry.own_report [c.pos])),
    up AS (                 -- a leaf's changes of `sum` figures, per ancestor
        SELECT ra.ancestor AS r, w.y, w.pos, sum (w.val - coalesce (w.old, 0))::bigint AS d
          FROM w JOIN region_ancestor ra ON ra.region = w.r
         WHERE w.leaf AND w.summed
         GROUP BY 1, 2, 3),
    k AS (                  -- the changed rows: where a figure won, and above
        SELECT x.r, x.y, max (x.a) AS a, bool_or (x.above) AS above
          FROM (SELECT w.r, w.y, w.a, false AS above FROM w
                UNION ALL
                SELECT ra.ancestor, w.y, w.a, true FROM w JOIN region_ancestor ra ON ra.region = w.r) x
         GROUP BY 1, 2),
    n AS (
        SELECT k.r, k.y, k.a, k.above,
               array_agg (CASE WHEN w.pos IS NULL THEN ry.own [i] ELSE w.val END ORDER BY i) AS own,
               array_agg (CASE WHEN w.pos IS NULL THEN ry.own_as_of [i] ELSE w.a END ORDER BY i) AS own_as_of,
               array_agg (CASE WHEN w.pos IS NULL THEN ry.own_report [i] ELSE w.id END ORDER BY i) AS own_report,
               array_agg (CASE WHEN w.pos IS NULL THEN ry.own_previous [i] ELSE w.old END ORDER BY i) AS own_previous,
               array_agg (CASE WHEN w.pos IS NOT NULL AND (w.leaf OR NOT w.summed) THEN w.val
                               WHEN up.pos IS NOT NULL THEN coalesce (ry.total [i], 0) + up.d
                               ELSE ry.total [i] END ORDER BY i) AS total
          FROM k
          JOIN region_year ry ON ry.region = k.r AND ry.year = k.y
         CROSS JOIN generate_series (1, npos) AS i
          LEFT JOIN w ON w.r = k.r AND w.y = k.y AND w.pos = i
          LEFT JOIN up ON up.r = k.r AND up.y = k.y AND up.pos = i
         GROUP BY k.r, k.y, k.a, k.above),
    done AS (
        SELECT t.* FROM tally_write (
            (SELECT array_agg (n.r) FROM n), (SELECT array_agg (n.y) FROM n),
            (SELECT array_agg (n.own::text) FROM n), (SELECT array_agg (n.own_as_of::text) FROM n),
            (SELECT array_agg (n.own_report::text) FROM n),
            (SELECT array_agg (n.own_previous::text) FROM n),
            (SELECT array_agg (n.total::text) FROM n), (SELECT array_agg (n.a) FROM n),
            (SELECT array_agg (n.above) FROM n)) t)
    SELECT array_agg (done.region), array_agg (done.year) INTO ch_region, ch_year FROM done;

    RETURN QUERY SELECT NULL::int, 'changed'::text, x.r, x.y
      FROM unnest (ch_region, ch_year) AS x (r, y);
END;
$$;

DROP FUNCTION IF EXISTS tally_insert (text[], bigint[], text[], date[], text[], bigint[], text[], text[],
                                      int[], text[], bigint[]);
DROP FUNCTION IF EXISTS tally_lock_rows (text[], int[]);
