-- 008_figures_per_region_year.sql — a region's figures and totals kept in
-- its region_year row, merged by the collector; current_value and
-- region_total become views.
--
-- Measured by tests/bench (pg_stat_statements, batches of about 500 reports
-- from 300 counties): a batch wrote about 3,000 current_value rows, 3,300
-- region_total rows and 311 region_year rows, one row version each, and
-- that took most of its time (5 to 8 microseconds a row version), whatever
-- the number of reports; the batch after it waited for those row locks.
-- Merging the figures in SQL into one row per region and year cost as much
-- again (a few microseconds per figure per step of the plan).
--
-- Now region_year carries, by metric position (metric.pos), the region's own
-- current figures (value, as_of, report, the figure each replaced) and the
-- totals the feed publishes. A batch is two calls: tally_lock() stores the
-- reports and values, locks the rows of their regions and all ancestors in
-- key order and returns them; the collector works out the figures that win
-- and the totals they change; tally_write() writes each changed row once and
-- returns the totals to publish. The hierarchy and the metrics' rules come
-- from the database in tally_lock's reply, never from the collector's
-- catalog. tally_ingest() does the same in SQL alone, for other callers.
--
-- For analysts nothing changes: current_value and region_total are views
-- with the same columns, in the same order, with the same rows. The views
-- built on them (v_totals, v_progress, v_reconciliation) are redefined on
-- the new views with their own text (CREATE OR REPLACE keeps their comments).

-- 1. Metric positions: stable, never reused; a new metric gets the next.
ALTER TABLE metric ADD COLUMN IF NOT EXISTS pos int;
CREATE SEQUENCE IF NOT EXISTS metric_pos_seq OWNED BY metric.pos;
UPDATE metric m SET pos = n.pos
  FROM (SELECT key, row_number () OVER (ORDER BY key) AS pos FROM metric) n
 WHERE n.key = m.key AND m.pos IS NULL;
SELECT setval ('metric_pos_seq', coalesce ((SELECT max (pos) FROM metric), 0) + 1, false);
ALTER TABLE metric ALTER COLUMN pos SET DEFAULT nextval ('metric_pos_seq'),
                   ALTER COLUMN pos SET NOT NULL;
ALTER TABLE metric ADD CONSTRAINT metric_pos_key UNIQUE (pos);
COMMENT ON COLUMN metric.pos IS 'The metric''s position in region_year''s arrays (stable, never reused).';

-- 2. The arrays, filled from the tables they replace.
ALTER TABLE region_year
    ADD COLUMN own bigint[], ADD COLUMN own_as_of date[], ADD COLUMN own_report bigint[],
    ADD COLUMN own_previous bigint[], ADD COLUMN total bigint[];
COMMENT ON COLUMN region_year.own IS 'The region''s own current figures by metric.pos (read them through the view current_value).';
COMMENT ON COLUMN region_year.own_as_of IS 'as_of of each own figure, by metric.pos.';
COMMENT ON COLUMN region_year.own_report IS 'report.id of each own figure, by metric.pos.';
COMMENT ON COLUMN region_year.own_previous IS 'The figure each own figure replaced, by metric.pos (NULL: it was the first).';
COMMENT ON COLUMN region_year.total IS 'What the feed publishes as values, by metric.pos (read them through the view region_total).';

-- Every (region, year) with a figure or a total has had a row since 001;
-- one missing would lose its figures here, so it is made first.
INSERT INTO region_year (region, year, as_of, reported, version, updated_at)
SELECT x.region, x.year, max (x.as_of), 1, nextval ('feed_seq'), now ()
  FROM (SELECT region, year, as_of FROM current_value
        UNION ALL
        SELECT region, year, '-infinity'::date FROM region_total) x
 GROUP BY 1, 2
ON CONFLICT ON CONSTRAINT region_year_pkey DO NOTHING;

UPDATE region_year ry
   SET own = f.own, own_as_of = f.own_as_of, own_report = f.own_report,
       own_previous = f.own_previous, total = f.total
  FROM (SELECT k.region, k.year,
               array_agg (c.value ORDER BY i) AS own, array_agg (c.as_of ORDER BY i) AS own_as_of,
               array_agg (c.report_id ORDER BY i) AS own_report,
               array_agg (c.previous ORDER BY i) AS own_previous,
               array_agg (t.value ORDER BY i) AS total
          FROM (SELECT region, year FROM current_value UNION SELECT region, year FROM region_total) k
         CROSS JOIN generate_series (1, (SELECT max (pos) FROM metric)) AS i
          LEFT JOIN metric m ON m.pos = i
          LEFT JOIN current_value c ON c.region = k.region AND c.year = k.year AND c.metric = m.key
          LEFT JOIN region_total t ON t.region = k.region AND t.year = k.year AND t.metric = m.key
         GROUP BY k.region, k.year) f
 WHERE ry.region = f.region AND ry.year = f.year;

-- 3. The tables become views.
CREATE TEMP TABLE tally_dependent_view ON COMMIT DROP AS
SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef (v.oid) AS def
  FROM pg_depend d
  JOIN pg_rewrite w ON w.oid = d.objid
  JOIN pg_class v ON v.oid = w.ev_class
 WHERE d.classid = 'pg_rewrite'::regclass
   AND d.refobjid IN ('current_value'::regclass, 'region_total'::regclass)
   AND v.oid NOT IN ('current_value'::regclass, 'region_total'::regclass);

ALTER TABLE current_value RENAME TO current_value_007;
ALTER TABLE region_total RENAME TO region_total_007;

CREATE VIEW current_value AS
SELECT ry.region, m.key AS metric, ry.year, ry.own [m.pos] AS value, ry.own_as_of [m.pos] AS as_of,
       ry.own_report [m.pos] AS report_id, ry.own_previous [m.pos] AS previous
  FROM region_year ry JOIN metric m ON ry.own [m.pos] IS NOT NULL;
COMMENT ON VIEW current_value IS 'Each region''s own current figure per metric and year (newest as_of wins; ties: the later-stored report).';
COMMENT ON COLUMN current_value.previous IS 'The figure this one replaced (NULL when it was the first for its region, metric and year).';

CREATE VIEW region_total AS
SELECT ry.region, m.key AS metric, ry.year, ry.total [m.pos] AS value
  FROM region_year ry JOIN metric m ON ry.total [m.pos] IS NOT NULL;
COMMENT ON VIEW region_total IS 'Per region, metric and year: exactly what the feed publishes as values (leaf: own figure; parent: roll-up of its children; rule none: own figure only).';

DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT name, def FROM tally_dependent_view LOOP
        EXECUTE format ('CREATE OR REPLACE VIEW %s AS %s', v.name, v.def);
    END LOOP;
END
$$;
DROP TABLE current_value_007, region_total_007;

-- 4. The reports and values of a batch (steps 1 to 3 of 005's tally_ingest):
-- per report its status, and its report.id when stored now.
CREATE FUNCTION tally_insert (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (idx int, status text, id bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    stored_idx   int[];         -- reports stored now: their position in the batch
    stored_id    bigint[];      -- and their report.id
BEGIN
    -- The reports, in (source, seq) order (two batches holding each other's
    -- resends never deadlock). A (source, seq) already stored is left alone.
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

    RETURN QUERY SELECT s.i, 'stored'::text, s.id FROM unnest (stored_idx, stored_id) AS s (i, id);

    -- Resends: the same content is a duplicate, other content a conflict.
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
               NULL::bigint
          FROM inp JOIN report r ON r.source = inp.s AND r.seq = inp.q;
    END IF;

    -- The values of the reports stored now.
    IF cardinality (stored_idx) > 0 THEN
        INSERT INTO report_value (report_id, metric, value)
        SELECT st.id, v.m, v.val
          FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val)
          JOIN unnest (stored_idx, stored_id) AS st (i, id) ON st.i = v.vi;
    END IF;
END;
$$;

-- Lock, in key order, the region_year rows of the given regions and years
-- and of all their ancestors, creating missing ones (as_of -infinity loses
-- to any date; reported 1 is what a region without children counts). Key
-- order everywhere means two collectors never wait on each other in
-- opposite orders. Returns the rows as locked (their newest versions).
CREATE FUNCTION tally_lock_rows (p_region text[], p_year int[])
RETURNS SETOF region_year
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    k_region text[];
    k_year   int[];
BEGIN
    SELECT array_agg (k.r ORDER BY k.r, k.y), array_agg (k.y ORDER BY k.r, k.y)
      INTO k_region, k_year
      FROM (SELECT x.r, x.y FROM unnest (p_region, p_year) AS x (r, y)
            UNION
            SELECT ra.ancestor, x.y
              FROM unnest (p_region, p_year) AS x (r, y)
              JOIN region_ancestor ra ON ra.region = x.r) k;
    IF k_region IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
    SELECT x.r, x.y, '-infinity', 1, 0, now ()
      FROM unnest (k_region, k_year) AS x (r, y)
     WHERE NOT EXISTS (SELECT 1 FROM region_year e WHERE e.region = x.r AND e.year = x.y)
     ORDER BY x.r, x.y
    ON CONFLICT ON CONSTRAINT region_year_pkey DO NOTHING;
    RETURN QUERY
    SELECT ry.*
      FROM region_year ry
      JOIN unnest (k_region, k_year) AS x (r, y) ON ry.region = x.r AND ry.year = x.y
     ORDER BY ry.region, ry.year
       FOR UPDATE OF ry;
END;
$$;

-- 5. The collector's first call of a batch: store the reports and values,
-- lock the rows their figures touch, and return what the collector needs to
-- work out the changes. Rows, by kind:
--   'report'  idx, status ('stored', 'duplicate', 'conflict'), id when stored;
--   'metric'  metric, pos, summed (rule sum) for every metric;
--   'row'     a locked row: region, year, parent, its number of children,
--             its name and level (for the feed), and its arrays.
CREATE FUNCTION tally_lock (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (kind text, idx int, status text, id bigint, metric text, pos int, summed bool,
               region text, year int, parent text, children int, name text, level text,
               own bigint[], own_as_of date[], own_report bigint[], own_previous bigint[],
               total bigint[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    s_idx    int[];
    s_status text[];
    s_id     bigint[];
BEGIN
    SELECT array_agg (i.idx), array_agg (i.status), array_agg (i.id)
      INTO s_idx, s_status, s_id
      FROM tally_insert (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key,
                         v_idx, v_metric, v_value) i;
    RETURN QUERY SELECT 'report'::text, u.i, u.s, u.id, NULL::text, NULL::int, NULL::bool,
                        NULL::text, NULL::int, NULL::text, NULL::int, NULL::text, NULL::text,
                        NULL::bigint[], NULL::date[], NULL::bigint[], NULL::bigint[], NULL::bigint[]
      FROM unnest (s_idx, s_status, s_id) AS u (i, s, id);
    IF s_idx IS NULL OR NOT 'stored' = ANY (s_status) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 'metric'::text, NULL::int, NULL::text, NULL::bigint, m.key, m.pos,
                        m.rollup = 'sum', NULL::text, NULL::int, NULL::text, NULL::int, NULL::text,
                        NULL::text, NULL::bigint[], NULL::date[], NULL::bigint[], NULL::bigint[],
                        NULL::bigint[]
      FROM metric m;
    RETURN QUERY
    SELECT 'row'::text, NULL::int, NULL::text, NULL::bigint, NULL::text, NULL::int, NULL::bool,
           l.region, l.year, r.parent,
           (SELECT count (*)::int FROM region ch WHERE ch.parent = l.region), r.name, r.level,
           l.own, l.own_as_of, l.own_report, l.own_previous, l.total
      FROM tally_lock_rows (
               (SELECT array_agg (u.r) FROM unnest (s_idx, s_status) AS st (i, s)
                  JOIN unnest (p_region) WITH ORDINALITY AS u (r, i) ON u.i = st.i
                 WHERE st.s = 'stored'),
               (SELECT array_agg (extract (year FROM u.a)::int) FROM unnest (s_idx, s_status) AS st (i, s)
                  JOIN unnest (p_as_of) WITH ORDINALITY AS u (a, i) ON u.i = st.i
                 WHERE st.s = 'stored')) l
      JOIN region r ON r.code = l.region;
END;
$$;

-- The collector's second call: write each changed row once (the arrays
-- computed by the collector; NULL keeps the row's own figures as they are),
-- with as_of (never going back), reported (recounted from a fresh snapshot
-- for a row above a changed one) and a new version. Returns what the feed's
-- totals messages carry besides the figures, in version order.
CREATE FUNCTION tally_write (
    p_region text[], p_year int[], p_own text[], p_own_as_of text[], p_own_report text[],
    p_own_previous text[], p_total text[], p_as_of date[], p_above bool[])
RETURNS TABLE (region text, year int, as_of date, reported int, version bigint, updated_at_ms bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH done AS (
    UPDATE region_year ry
       SET own = coalesce (x.own::bigint[], ry.own),
           own_as_of = coalesce (x.own_as_of::date[], ry.own_as_of),
           own_report = coalesce (x.own_report::bigint[], ry.own_report),
           own_previous = CASE WHEN x.own IS NULL THEN ry.own_previous ELSE x.own_previous::bigint[] END,
           total = x.total::bigint[],
           as_of = greatest (ry.as_of, x.a),
           reported = CASE WHEN x.above
                           THEN (SELECT count (*) FROM region ch
                                   JOIN region_year c ON c.region = ch.code AND c.year = x.y
                                  WHERE ch.parent = x.r)::int
                           ELSE ry.reported END,
           version = nextval ('feed_seq'),
           updated_at = now ()
      FROM unnest (p_region, p_year, p_own, p_own_as_of, p_own_report, p_own_previous, p_total,
                   p_as_of, p_above) AS x (r, y, own, own_as_of, own_report, own_previous, total, a, above)
     WHERE ry.region = x.r AND ry.year = x.y
    RETURNING ry.region, ry.year, ry.as_of, ry.reported, ry.version,
              (extract (epoch FROM ry.updated_at) * 1000)::bigint AS updated_at_ms)
    SELECT d.region, d.year, d.as_of, d.reported, d.version, d.updated_at_ms
      FROM done d ORDER BY d.version;
END;
$$;

-- 6. The same in SQL alone (tally_insert, tally_lock_rows, the changes
-- worked out in SQL, tally_write); same signature and results as 005's
-- version.
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
    SELECT array_agg (i.idx), array_agg (i.status), array_agg (i.id)
      INTO s_idx, s_status, s_id
      FROM tally_insert (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key,
                         v_idx, v_metric, v_value) i;
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
    PERFORM 1 FROM tally_lock_rows (c_region, c_year);

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

-- 7. The feed's totals, read from the arrays (same signature and rows as
-- 007's version).
CREATE OR REPLACE FUNCTION tally_totals (p_regions text[], p_years int[], p_prefix text, p_year int)
RETURNS TABLE (region text, name text, level text, year int, as_of date,
               reported int, expected int, version bigint, updated_at_ms bigint,
               keys text[], vals bigint[], own_keys text[], own_vals bigint[])
LANGUAGE sql STABLE AS $$
    WITH want AS (
        SELECT x.r AS region, x.y AS year FROM unnest (p_regions, p_years) AS x (r, y)
         WHERE p_prefix IS NULL
        UNION
        SELECT ry.region, ry.year FROM region_year ry
         WHERE p_prefix IS NOT NULL AND starts_with (ry.region, p_prefix)
           AND ry.year = coalesce (p_year, (SELECT max (y.year) FROM region_year y)))
    SELECT ry.region, r.name, r.level, ry.year, ry.as_of, ry.reported,
           CASE WHEN kids.n = 0 THEN 1 ELSE kids.n END,
           ry.version, (extract (epoch FROM ry.updated_at) * 1000)::bigint,
           coalesce (t.keys, '{}'), coalesce (t.vals, '{}'), o.keys, o.vals
      FROM want w
      JOIN region_year ry ON ry.region = w.region AND ry.year = w.year
      JOIN region r ON r.code = ry.region
     CROSS JOIN LATERAL (SELECT count (*)::int AS n FROM region ch WHERE ch.parent = ry.region) kids
     CROSS JOIN LATERAL (SELECT array_agg (m.key ORDER BY m.key) AS keys,
                                array_agg (ry.total [m.pos] ORDER BY m.key) AS vals
                           FROM metric m WHERE ry.total [m.pos] IS NOT NULL) t
     CROSS JOIN LATERAL (SELECT array_agg (m.key ORDER BY m.key) AS keys,
                                array_agg (ry.own [m.pos] ORDER BY m.key) AS vals
                           FROM metric m WHERE kids.n > 0 AND ry.own [m.pos] IS NOT NULL) o
     ORDER BY ry.version;
$$;
