-- 011_apply_in_one_call.sql — a batch in one round trip when the collector
-- already knows the rows it touches.
--
-- Measured by tests/bench at 1,000 reports/s (batches of 2 to 4 reports):
-- a batch held its connection for two round trips, BEGIN with tally_lock()
-- (0.5 ms of PostgreSQL's time) and tally_write() with COMMIT (0.1 ms and
-- the WAL flush), and the next batch waited for both. The collector keeps the
-- rows it last wrote, with their versions; for a batch whose rows it knows
-- it works out the new figures first and sends them with the reports, and
-- tally_apply() checks that nothing changed since, stores, and writes, all
-- with BEGIN and COMMIT in one round trip.
--
-- tally_apply() stores the reports as tally_lock() does, locks the rows the
-- collector sent in the same key order, and compares them with what it
-- knows: the same versions, parents, numbers of children, names and levels,
-- each report's row and each row's parent among them (so they are the
-- reports' rows and all their ancestors), and the metrics with the same
-- positions and rules. Then it writes the changed rows as
-- tally_write() does. If anything differs (another collector wrote a row,
-- the catalog changed) it raises SQLSTATE TL001, and TL002 when a report of
-- the batch was stored before; the whole transaction is rolled back and the
-- collector stores the batch through tally_lock() and tally_write() as
-- before.
--
-- An own_report element of 2^62 + i stands for the report at position i of
-- the batch, whose id the collector cannot know before it is stored.

CREATE OR REPLACE FUNCTION tally_apply (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[],
    w_region text[], w_year int[], w_version bigint[], w_parent text[], w_children int[],
    w_name text[], w_level text[], w_write bool[],
    w_own text[], w_own_as_of text[], w_own_report text[], w_own_previous text[],
    w_total text[], w_as_of date[], p_metrics text)
RETURNS TABLE (region text, year int, as_of date, reported int, version bigint,
               updated_at_ms bigint, idx int, id bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    stored_id    bigint[];      -- the reports' ids, in batch order
    metrics_ok   bool;          -- the metrics are as the collector knows them
    matched      int;           -- rows locked that are as the collector knows them
    pseudo       constant bigint := 4611686018427387904;   -- 2^62
BEGIN
    -- The reports, in (source, seq) order, as tally_lock stores them. (Few
    -- statements: each costs its own executor start and end.)
    WITH inp AS (
        SELECT u.i::int AS i, u.s, u.q, u.r, u.a, u.n, u.t, u.pe, u.k
          FROM unnest (p_source, p_seq, p_region, p_as_of, p_note, p_sent_at, p_peer, p_key)
               WITH ORDINALITY AS u (s, q, r, a, n, t, pe, k, i)),
    ins AS (
        INSERT INTO report (source, seq, region, as_of, note, sent_at, peer, key_id)
        SELECT s, q, r, a, n, to_timestamp (t / 1000.0), pe, k FROM inp ORDER BY s, q
        ON CONFLICT (source, seq) DO NOTHING
        RETURNING id, source, seq),
    st AS (
        SELECT inp.i, ins.id FROM ins JOIN inp ON inp.s = ins.source AND inp.q = ins.seq),
    val AS (
        INSERT INTO report_value (report_id, metric, value)
        SELECT st.id, v.m, v.val
          FROM unnest (v_idx, v_metric, v_value) AS v (vi, m, val)
          JOIN st ON st.i = v.vi)
    SELECT (SELECT array_agg (st.id ORDER BY st.i) FROM st),
           (SELECT string_agg (m.key || ':' || m.pos || ':' || (m.rollup = 'sum'), ',' ORDER BY m.pos)
              FROM metric m) IS NOT DISTINCT FROM p_metrics
      INTO stored_id, metrics_ok;
    IF NOT metrics_ok THEN
        RAISE EXCEPTION 'tally_apply: the metrics changed' USING ERRCODE = 'TL001';
    END IF;
    IF coalesce (cardinality (stored_id), 0) < cardinality (p_source) THEN
        RAISE EXCEPTION 'tally_apply: a report was stored before' USING ERRCODE = 'TL002';
    END IF;

    -- The rows the collector sent, locked in key order, compared with what
    -- it knows. Every report's row must be among them (else none counts),
    -- and each row's parent: so when each parent is as known, they are the
    -- reports' rows and all their ancestors.
    SELECT count (*) INTO matched
      FROM (SELECT ry.region, ry.year, ry.version, r.parent, r.name, r.level,
                   (SELECT count (*)::int FROM region ch WHERE ch.parent = ry.region) AS children
              FROM region_year ry
              JOIN region r ON r.code = ry.region
             WHERE (ry.region, ry.year) IN (SELECT * FROM unnest (w_region, w_year))
             ORDER BY ry.region, ry.year
               FOR UPDATE OF ry) l
      JOIN unnest (w_region, w_year, w_version, w_parent, w_children, w_name, w_level)
           AS w (r, y, v, p, c, n, lv)
        ON w.r = l.region AND w.y = l.year
     WHERE w.v = l.version AND w.p IS NOT DISTINCT FROM l.parent AND w.c = l.children
       AND w.n = l.name AND w.lv = l.level
       AND (w.p IS NULL OR (w.p, w.y) IN (SELECT * FROM unnest (w_region, w_year)))
       AND NOT EXISTS (SELECT 1 FROM unnest (p_region, p_as_of) AS p (r, a)
                        WHERE NOT (p.r, extract (year FROM p.a)::int) IN
                                  (SELECT * FROM unnest (w_region, w_year)));
    IF matched <> cardinality (w_region) THEN
        RAISE EXCEPTION 'tally_apply: % of % rows are as the collector knows them',
              matched, cardinality (w_region) USING ERRCODE = 'TL001';
    END IF;

    -- The reports' ids, and the changed rows as tally_write writes them (no
    -- row is created here, so no `reported` changes).
    RETURN QUERY
    WITH done AS (
    UPDATE region_year ry
       SET own = coalesce (x.own::bigint[], ry.own),
           own_as_of = coalesce (x.own_as_of::date[], ry.own_as_of),
           own_report = CASE WHEN x.own_report IS NULL THEN ry.own_report
                             ELSE (SELECT array_agg (CASE WHEN e >= pseudo THEN stored_id [(e - pseudo)::int] ELSE e END
                                                     ORDER BY o)
                                     FROM unnest (x.own_report::bigint[]) WITH ORDINALITY AS u (e, o)) END,
           own_previous = CASE WHEN x.own IS NULL THEN ry.own_previous ELSE x.own_previous::bigint[] END,
           total = x.total::bigint[],
           as_of = greatest (ry.as_of, x.a),
           version = nextval ('feed_seq'),
           updated_at = now ()
      FROM unnest (w_region, w_year, w_write, w_own, w_own_as_of, w_own_report, w_own_previous,
                   w_total, w_as_of) AS x (r, y, wr, own, own_as_of, own_report, own_previous, total, a)
     WHERE ry.region = x.r AND ry.year = x.y AND x.wr
    RETURNING ry.region, ry.year, ry.as_of, ry.reported, ry.version,
              (extract (epoch FROM ry.updated_at) * 1000)::bigint AS updated_at_ms)
    SELECT NULL::text, NULL::int, NULL::date, NULL::int, NULL::bigint, NULL::bigint, s.i::int, s.id
      FROM unnest (stored_id) WITH ORDINALITY AS s (id, i)
    UNION ALL
    (SELECT d.region, d.year, d.as_of, d.reported, d.version, d.updated_at_ms, NULL::int, NULL::bigint
       FROM done d ORDER BY d.version);
END;
$$;

COMMENT ON FUNCTION tally_apply (text[], bigint[], text[], date[], text[], bigint[], text[], text[],
                                 int[], text[], bigint[], text[], int[], bigint[], text[],
                                 int[], text[], text[], bool[], text[], text[], text[], text[],
                                 text[], date[], text)
    IS 'The collector''s one-call batch: stores the reports and writes the figures it worked out from the rows it knows, or raises SQLSTATE TL001 (a row or the catalog is not as it knows them) or TL002 (a report was stored before), storing nothing.';
