-- 002_ingest.sql — storing a batch of reports and keeping every roll-up exact.
--
-- tally-collector calls tally_ingest() once per batch, inside one transaction,
-- then tally_totals() for the regions it reports as changed, then COMMIT, and
-- only then acks. Everything is set-based (one statement per step over the
-- whole batch) so that the cost of a batch does not grow with history, and
-- rows are locked in one fixed order (key order, table by table) so that
-- several collectors can commit at once without deadlock.

-- Load the catalogs from the session's temporary tables region_in and
-- metric_in (filled by COPY from deploy/catalog/*.csv), rebuild the
-- ancestor closure. Regions and metrics are added or updated, never deleted:
-- history refers to them.
CREATE FUNCTION tally_apply_catalog () RETURNS TABLE (regions int, metrics int)
LANGUAGE plpgsql AS $$
BEGIN
    -- Parents first, so that the foreign key holds row by row.
    INSERT INTO region (code, name, level, parent)
    SELECT code, name, level, NULL FROM region_in
    ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level;
    UPDATE region r SET parent = NULLIF (i.parent, '')
      FROM region_in i WHERE i.code = r.code AND r.parent IS DISTINCT FROM NULLIF (i.parent, '');

    INSERT INTO metric (key, name_zh, unit, rollup, min_value, max_value, description)
    SELECT key, name_zh, unit, rollup, min_value, max_value, description FROM metric_in
    ON CONFLICT (key) DO UPDATE SET name_zh = excluded.name_zh, unit = excluded.unit,
        rollup = excluded.rollup, min_value = excluded.min_value,
        max_value = excluded.max_value, description = excluded.description;

    -- A cycle in region.parent would make the closure endless; refuse it.
    IF EXISTS (
        WITH RECURSIVE walk (start, code, steps) AS (
            SELECT code, parent, 1 FROM region WHERE parent IS NOT NULL
            UNION ALL
            SELECT w.start, r.parent, w.steps + 1 FROM walk w JOIN region r ON r.code = w.code
             WHERE r.parent IS NOT NULL AND w.steps < 64)
        SELECT 1 FROM walk WHERE start = code OR steps >= 64) THEN
        RAISE EXCEPTION 'region catalog: the parent links form a cycle';
    END IF;

    DELETE FROM region_ancestor;
    INSERT INTO region_ancestor (region, ancestor, distance)
    WITH RECURSIVE up (region, ancestor, distance) AS (
        SELECT code, parent, 1 FROM region WHERE parent IS NOT NULL
        UNION ALL
        SELECT u.region, r.parent, u.distance + 1 FROM up u JOIN region r ON r.code = u.ancestor
         WHERE r.parent IS NOT NULL)
    SELECT region, ancestor, distance FROM up;

    RETURN QUERY SELECT (SELECT count(*)::int FROM region), (SELECT count(*)::int FROM metric);
END;
$$;

-- Store one batch. Arrays p_* hold one element per report (1-based index =
-- position); v_* hold every value, v_idx naming its report. Each
-- (source, seq) appears at most once in a batch (the collector holds a
-- repeat back for the next batch). Returns one row per report
-- (idx, status: stored | duplicate | conflict) and one row per changed
-- (region, year) with idx NULL and status 'changed'.
CREATE FUNCTION tally_ingest (
    p_source text[], p_seq bigint[], p_region text[], p_as_of date[],
    p_note text[], p_sent_at bigint[], p_peer text[], p_key text[],
    v_idx int[], v_metric text[], v_value bigint[])
RETURNS TABLE (idx int, status text, region text, year int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    stored_idx   int[];
    stored_id    bigint[];
    ch_region    text[];
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
    -- each figure (delta) is kept for the roll-up. The old figure is read
    -- under a row lock (not from the statement's snapshot), so that
    -- collectors committing at once never lose an update.
    CREATE TEMP TABLE IF NOT EXISTS tally_cand (
        region text, metric text, year int, value bigint, as_of date, id bigint)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS tally_change (
        region text, metric text, year int, value bigint, delta bigint,
        as_of date, leaf bool, rollup text) ON COMMIT DELETE ROWS;
    DELETE FROM tally_cand;
    DELETE FROM tally_change;

    INSERT INTO tally_cand
    SELECT DISTINCT ON (p.r, v.m, p.y) p.r, v.m, p.y, v.val, p.a, st.id
      FROM unnest (stored_idx, stored_id) AS st (i, id)
      JOIN (SELECT u.i::int AS i, u.r, u.a, extract (year FROM u.a)::int AS y
              FROM unnest (p_region, p_as_of) WITH ORDINALITY AS u (r, a, i)) p ON p.i = st.i
      JOIN unnest (v_idx, v_metric, v_value) AS v (vi, m, val) ON v.vi = st.i
     ORDER BY p.r, v.m, p.y, p.a DESC, st.id DESC;

    -- New figures: their whole value is the change.
    WITH ins AS (
        INSERT INTO current_value (region, metric, year, value, as_of, report_id)
        SELECT region, metric, year, value, as_of, id FROM tally_cand ORDER BY region, metric, year
        ON CONFLICT ON CONSTRAINT current_value_pkey DO NOTHING
        RETURNING region, metric, year, value, as_of)
    INSERT INTO tally_change (region, metric, year, value, delta, as_of)
    SELECT region, metric, year, value, value, as_of FROM ins;

    -- Replaced figures (ties on as_of go to this later-stored report).
    WITH old AS (
        SELECT c.region, c.metric, c.year, c.value
          FROM current_value c JOIN tally_cand n USING (region, metric, year)
         WHERE n.as_of >= c.as_of
           AND NOT EXISTS (SELECT 1 FROM tally_change x
                            WHERE x.region = c.region AND x.metric = c.metric AND x.year = c.year)
         ORDER BY c.region, c.metric, c.year
           FOR UPDATE OF c),
    up AS (
        UPDATE current_value c SET value = n.value, as_of = n.as_of, report_id = n.id
          FROM old JOIN tally_cand n USING (region, metric, year)
         WHERE c.region = old.region AND c.metric = old.metric AND c.year = old.year
        RETURNING c.region, c.metric, c.year, c.value, c.value - old.value AS delta, c.as_of)
    INSERT INTO tally_change (region, metric, year, value, delta, as_of)
    SELECT region, metric, year, value, delta, as_of FROM up;

    UPDATE tally_change c
       SET leaf = NOT EXISTS (SELECT 1 FROM region ch WHERE ch.parent = c.region),
           rollup = m.rollup
      FROM metric m WHERE m.key = c.metric;

    -- 5. Totals. A leaf's figure, or any region's figure of a rule-`none`
    -- metric, is its own total; a leaf's change of a `sum` figure is added
    -- to every ancestor.
    INSERT INTO region_total AS t (region, metric, year, value)
    SELECT c.region, c.metric, c.year, c.value FROM tally_change c
     WHERE c.leaf OR c.rollup = 'none'
     ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT region_total_pkey DO UPDATE SET value = excluded.value;

    INSERT INTO region_total AS t (region, metric, year, value)
    SELECT ra.ancestor, c.metric, c.year, sum (c.delta)::bigint
      FROM tally_change c JOIN region_ancestor ra ON ra.region = c.region
     WHERE c.leaf AND c.rollup = 'sum'
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT region_total_pkey DO UPDATE SET value = t.value + excluded.value;

    -- 6. Per region and year: as_of, reported, version. First the regions
    -- whose own figures changed, then their ancestors from the bottom up,
    -- each recounting its children.
    INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
    SELECT s.region, s.year, s.as_of, 1, 0, now ()
      FROM (SELECT c.region, c.year, max (c.as_of) AS as_of FROM tally_change c
             GROUP BY 1, 2 ORDER BY 1, 2) s
    ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE
       SET as_of = greatest (ry.as_of, excluded.as_of), updated_at = excluded.updated_at;

    SELECT array_agg (x.region ORDER BY x.region, x.year), array_agg (x.year ORDER BY x.region, x.year)
      INTO ch_region, ch_year
      FROM (SELECT DISTINCT c.region, c.year FROM tally_change c
            UNION
            SELECT DISTINCT ra.ancestor, c.year FROM tally_change c
              JOIN region_ancestor ra ON ra.region = c.region) x;

    SELECT max (ra.distance) INTO max_depth
      FROM region_ancestor ra WHERE ra.region IN (SELECT c.region FROM tally_change c);
    FOR d IN 1 .. coalesce (max_depth, 0) LOOP
        INSERT INTO region_year AS ry (region, year, as_of, reported, version, updated_at)
        SELECT a.ancestor, a.year, max (k.as_of), count (*), 0, now ()
          FROM (SELECT DISTINCT ra.ancestor, c.year FROM tally_change c
                  JOIN region_ancestor ra ON ra.region = c.region AND ra.distance = d) a
          JOIN region ch ON ch.parent = a.ancestor
          JOIN region_year k ON k.region = ch.code AND k.year = a.year
         GROUP BY 1, 2
         ORDER BY 1, 2
        ON CONFLICT ON CONSTRAINT region_year_pkey DO UPDATE
           SET as_of = greatest (ry.as_of, excluded.as_of), reported = excluded.reported,
               updated_at = excluded.updated_at;
    END LOOP;

    -- Leaves count themselves once they have figures; parents were recounted.
    -- Every changed (region, year) gets the next feed sequence number, in key order.
    UPDATE region_year ry SET version = nextval ('feed_seq')
      FROM (SELECT x.r, x.y FROM unnest (ch_region, ch_year) AS x (r, y) ORDER BY x.r, x.y) k
     WHERE ry.region = k.r AND ry.year = k.y;

    RETURN QUERY SELECT NULL::int, 'changed'::text, x.r, x.y
      FROM unnest (ch_region, ch_year) AS x (r, y);
END;
$$;

-- The totals messages for the given (region, year) pairs, or, with
-- p_prefix not NULL, for every region whose code starts with it in year
-- p_year (NULL: the newest year with data). One row per region and year;
-- keys and values as parallel arrays, in key order.
CREATE FUNCTION tally_totals (p_regions text[], p_years int[], p_prefix text, p_year int)
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
           coalesce ((SELECT array_agg (t.metric ORDER BY t.metric) FROM region_total t
                       WHERE t.region = ry.region AND t.year = ry.year), '{}'),
           coalesce ((SELECT array_agg (t.value ORDER BY t.metric) FROM region_total t
                       WHERE t.region = ry.region AND t.year = ry.year), '{}'),
           CASE WHEN kids.n > 0 THEN (SELECT array_agg (c.metric ORDER BY c.metric) FROM current_value c
                                       WHERE c.region = ry.region AND c.year = ry.year) END,
           CASE WHEN kids.n > 0 THEN (SELECT array_agg (c.value ORDER BY c.metric) FROM current_value c
                                       WHERE c.region = ry.region AND c.year = ry.year) END
      FROM want w
      JOIN region_year ry ON ry.region = w.region AND ry.year = w.year
      JOIN region r ON r.code = ry.region
     CROSS JOIN LATERAL (SELECT count (*)::int AS n FROM region ch WHERE ch.parent = ry.region) kids
     ORDER BY ry.version;
$$;

-- Every row where region_total differs from a recomputation from the
-- current figures: none, if the incremental roll-up is exact.
CREATE FUNCTION tally_verify ()
RETURNS TABLE (region text, metric text, year int, stored bigint, expected bigint)
LANGUAGE sql STABLE AS $$
    WITH leaf AS (
        SELECT r.code FROM region r
         WHERE NOT EXISTS (SELECT 1 FROM region ch WHERE ch.parent = r.code)),
    expected AS (
        -- own figures: leaves, and rule `none` everywhere
        SELECT c.region, c.metric, c.year, c.value
          FROM current_value c JOIN metric m ON m.key = c.metric
         WHERE m.rollup = 'none' OR c.region IN (SELECT code FROM leaf)
        UNION ALL
        -- roll-ups: a parent's `sum` figure is the sum over the leaves below it
        SELECT ra.ancestor, c.metric, c.year, sum (c.value)::bigint
          FROM current_value c
          JOIN metric m ON m.key = c.metric AND m.rollup = 'sum'
          JOIN region_ancestor ra ON ra.region = c.region
         WHERE c.region IN (SELECT code FROM leaf)
         GROUP BY 1, 2, 3)
    SELECT coalesce (t.region, e.region), coalesce (t.metric, e.metric), coalesce (t.year, e.year),
           t.value, e.value
      FROM region_total t
      FULL JOIN expected e ON e.region = t.region AND e.metric = t.metric AND e.year = t.year
     WHERE t.value IS DISTINCT FROM e.value;
$$;
COMMENT ON FUNCTION tally_verify () IS 'Rows where region_total differs from a recomputation from current_value; empty when the roll-ups are exact.';
