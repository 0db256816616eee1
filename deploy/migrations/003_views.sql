-- 003_views.sql — what analysts and city leaders read: views and functions.
--
-- Everything here is derived from the tables of 001 (nothing is stored):
-- v_totals, v_progress, v_reporting, v_ranking and v_reconciliation over the
-- current figures, and totals_as_of(), progress_as_of(), reporting_on() and
-- ranking_on() over history (report + report_value), so that any past day can
-- be recomputed. docs/sql.md is the reference, with examples over the seed.
--
-- Rules shared by every object here:
--   * Period: the calendar year of the day asked about (or of as_of).
--   * A region's figure as of day D, per metric: from the report with the
--     newest as_of <= D in D's year that carries that metric; ties on as_of go
--     to the later-stored report (higher report.id). Received time does not
--     matter: a report dated before D that arrived after D counts (the answer
--     is "the figures for D as known now", like region_total).
--   * Totals: a leaf's own figure; a parent's `sum` metric is the sum over the
--     leaves below it; a `none` metric (a rate) is the region's own figure only.
--   * Percentages are numeric, 2 decimals, NULL where a denominator is missing
--     or zero (never a division error).

-- History is read by date range across regions (totals_as_of, rankings);
-- report (region, as_of) already serves per-region look-ups, and report_value's
-- primary key (report_id, metric) serves the join from report.
CREATE INDEX report_as_of ON report (as_of, id);

-- 100 * num / den as a numeric percentage with 2 decimals; NULL when either is
-- NULL or den is 0.
CREATE FUNCTION tally_pct (num numeric, den numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round (100 * num / NULLIF (den, 0), 2)
$$;
COMMENT ON FUNCTION tally_pct (numeric, numeric) IS
    'Percentage 100*num/den rounded to 2 decimals; NULL when num or den is NULL or den = 0.';

-- Share of the year elapsed at day, in percent: day_of_year(day) / days_in_year(day).
CREATE FUNCTION tally_elapsed_pct (day date) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT tally_pct (extract (doy FROM day),
                      (make_date (extract (year FROM day)::int, 12, 31)
                       - make_date (extract (year FROM day)::int, 1, 1) + 1))
$$;
COMMENT ON FUNCTION tally_elapsed_pct (date) IS
    '序时 (time schedule): share of the calendar year elapsed at the end of day, in percent (day of year / 365 or 366).';

--  --------------------------------------------------------------------------
--  Totals

CREATE VIEW v_totals AS
SELECT coalesce (t.region, c.region)           AS region,
       r.name                                  AS name,
       r.level                                 AS level,
       coalesce (t.year, c.year)               AS year,
       coalesce (t.metric, c.metric)           AS metric,
       m.name_zh                               AS name_zh,
       m.unit                                  AS unit,
       t.value                                 AS value,
       c.value                                 AS own_value,
       ry.as_of                                AS as_of,
       ry.reported                             AS reported,
       (SELECT greatest (count (*), 1)::int FROM region k WHERE k.parent = r.code) AS expected
  FROM region_total t
  FULL JOIN current_value c
         ON c.region = t.region AND c.metric = t.metric AND c.year = t.year
  JOIN region r ON r.code = coalesce (t.region, c.region)
  JOIN metric m ON m.key = coalesce (t.metric, c.metric)
  LEFT JOIN region_year ry ON ry.region = r.code AND ry.year = coalesce (t.year, c.year);
COMMENT ON VIEW v_totals IS
    '当前汇总 Current totals per region, year and metric, with Chinese names: value is what the feed publishes (leaf: own figure; parent: sum of its leaves, or own figure for a rate); own_value is the region''s own reported figure (NULL if none); as_of is the newest as_of below the region; reported/expected count children with figures (1/1 for a leaf that reported).';
COMMENT ON COLUMN v_totals.name IS '地区名称 region name';
COMMENT ON COLUMN v_totals.name_zh IS '指标中文名 metric name';
COMMENT ON COLUMN v_totals.value IS '汇总值 total (region_total.value), in the metric''s unit; NULL when only the region''s own figure exists';
COMMENT ON COLUMN v_totals.own_value IS '本级填报值 the region''s own reported figure (current_value), NULL if it reported none';

-- Every region's totals as they stood at the end of day, recomputed from
-- history: per (region, metric) of day's year the figure of the report with
-- the newest as_of <= day (ties: higher report id), rolled up like
-- region_total. With known_at given, only reports received by then count
-- ("what the screens showed"); by default every stored report counts.
-- Equals region_total for the current year when day = current_date and no
-- report is dated in the future.
CREATE FUNCTION totals_as_of (day date, known_at timestamptz DEFAULT NULL)
RETURNS TABLE (region text, metric text, year int, value bigint)
LANGUAGE sql STABLE AS $$
    WITH own AS (
        SELECT DISTINCT ON (r.region, v.metric) r.region, v.metric, r.year, v.value
          FROM report r
          JOIN report_value v ON v.report_id = r.id
         WHERE r.as_of BETWEEN make_date (extract (year FROM day)::int, 1, 1) AND day
           AND (known_at IS NULL OR r.received_at <= known_at)
         ORDER BY r.region, v.metric, r.as_of DESC, r.id DESC),
    leaf AS (
        SELECT g.code FROM region g
         WHERE NOT EXISTS (SELECT 1 FROM region k WHERE k.parent = g.code))
    SELECT o.region, o.metric, o.year, o.value
      FROM own o JOIN metric m ON m.key = o.metric
     WHERE m.rollup = 'none' OR o.region IN (SELECT code FROM leaf)
    UNION ALL
    SELECT a.ancestor, o.metric, o.year, sum (o.value)::bigint
      FROM own o
      JOIN metric m ON m.key = o.metric AND m.rollup = 'sum'
      JOIN region_ancestor a ON a.region = o.region
     WHERE o.region IN (SELECT code FROM leaf)
     GROUP BY 1, 2, 3
$$;
COMMENT ON FUNCTION totals_as_of (date, timestamptz) IS
    '某日汇总 Totals (region, metric, year, value) as they stood at the end of day, recomputed from report/report_value: per region and metric the figure with the newest as_of <= day in day''s year (ties: later-stored report), rolled up like region_total. known_at (optional): count only reports received by then.';

--  --------------------------------------------------------------------------
--  Progress: the campaign's derived indicators

-- The indicators per region and year from a set of totals (region_total or
-- totals_as_of), as_of being the date the elapsed share of the year is taken at.
CREATE FUNCTION tally_progress_of (p_region text, p_year int, p_as_of date,
                                   p_keys text[], p_vals bigint[])
RETURNS TABLE (projects_planned bigint, projects_started bigint, projects_active bigint,
               active_rate_pct numeric, start_rate_pct numeric,
               attraction_planned_pct numeric, attraction_signed_pct numeric,
               attraction_landed_pct numeric, attraction_started_pct numeric,
               investment_completed bigint, projects_planned_annual bigint,
               investment_pct numeric, elapsed_pct numeric, schedule_pct numeric,
               schedule_gap_pts numeric)
LANGUAGE sql IMMUTABLE AS $$
    WITH f AS (
        SELECT max (v) FILTER (WHERE k = 'projects_planned')          AS planned,
               max (v) FILTER (WHERE k = 'projects_started')          AS started,
               max (v) FILTER (WHERE k = 'projects_active')           AS active,
               max (v) FILTER (WHERE k = 'attraction_planned')        AS ap,
               max (v) FILTER (WHERE k = 'attraction_planned_target') AS apt,
               max (v) FILTER (WHERE k = 'attraction_signed')         AS asg,
               max (v) FILTER (WHERE k = 'attraction_signed_target')  AS asgt,
               max (v) FILTER (WHERE k = 'attraction_landed')         AS al,
               max (v) FILTER (WHERE k = 'attraction_landed_target')  AS alt,
               max (v) FILTER (WHERE k = 'attraction_started')        AS ast,
               max (v) FILTER (WHERE k = 'attraction_started_target') AS astt,
               max (v) FILTER (WHERE k = 'investment_completed')      AS inv,
               max (v) FILTER (WHERE k = 'projects_planned_annual')   AS annual
          FROM unnest (p_keys, p_vals) AS u (k, v))
    SELECT f.planned, f.started, f.active,
           tally_pct (f.active, f.planned), tally_pct (f.started, f.planned),
           tally_pct (f.ap, f.apt), tally_pct (f.asg, f.asgt),
           tally_pct (f.al, f.alt), tally_pct (f.ast, f.astt),
           f.inv, f.annual, tally_pct (f.inv, f.annual),
           tally_elapsed_pct (p_as_of),
           -- 序时进度: investment completion / elapsed share of the year, from the
           -- unrounded ratios so that the result does not carry rounding error.
           round (100 * (f.inv::numeric / NULLIF (f.annual, 0))
                      / (extract (doy FROM p_as_of)
                         / (make_date (p_year, 12, 31) - make_date (p_year, 1, 1) + 1)), 2),
           round (100 * f.inv::numeric / NULLIF (f.annual, 0), 2) - tally_elapsed_pct (p_as_of)
      FROM f
$$;
COMMENT ON FUNCTION tally_progress_of (text, int, date, text[], bigint[]) IS
    'Internal: the derived indicators of v_progress from one region-year''s totals (keys and values as parallel arrays).';

CREATE VIEW v_progress AS
SELECT ry.region, r.name, r.level, ry.year, ry.as_of, p.*
  FROM region_year ry
  JOIN region r ON r.code = ry.region
 CROSS JOIN LATERAL (
        SELECT array_agg (t.metric) AS keys, array_agg (t.value) AS vals
          FROM region_total t WHERE t.region = ry.region AND t.year = ry.year) tv
 CROSS JOIN LATERAL tally_progress_of (ry.region, ry.year, ry.as_of, tv.keys, tv.vals) p;
COMMENT ON VIEW v_progress IS
    '进度指标 Derived indicators per region and year from the current totals (percent, 2 decimals, NULL where a denominator is missing or 0): active_rate_pct 开复工率 = projects_active/projects_planned; start_rate_pct 开工率 = projects_started/projects_planned; attraction_X_pct 招商完成率 = attraction_X/attraction_X_target; investment_pct 投资完成率 = investment_completed/projects_planned_annual; elapsed_pct 序时 = day of year of as_of / days in the year; schedule_pct 序时进度 = investment completion / elapsed share (100 = on schedule); schedule_gap_pts 超序时 = investment_pct - elapsed_pct (percentage points).';
COMMENT ON COLUMN v_progress.active_rate_pct IS '开复工率 % = projects_active / projects_planned';
COMMENT ON COLUMN v_progress.start_rate_pct IS '开工率 % = projects_started / projects_planned';
COMMENT ON COLUMN v_progress.investment_pct IS '投资完成率 % = investment_completed / projects_planned_annual';
COMMENT ON COLUMN v_progress.elapsed_pct IS '时间进度 % = day_of_year(as_of) / days_in_year(as_of)';
COMMENT ON COLUMN v_progress.schedule_pct IS '序时进度 % = investment completion / elapsed share of the year (100 = on schedule)';
COMMENT ON COLUMN v_progress.schedule_gap_pts IS '超(欠)序时进度 percentage points = investment_pct - elapsed_pct';

-- The same indicators as they stood at the end of day (from totals_as_of).
-- as_of is the newest as_of <= day of the region's or its descendants' reports.
CREATE FUNCTION progress_as_of (day date)
RETURNS TABLE (region text, name text, level text, year int, as_of date,
               projects_planned bigint, projects_started bigint, projects_active bigint,
               active_rate_pct numeric, start_rate_pct numeric,
               attraction_planned_pct numeric, attraction_signed_pct numeric,
               attraction_landed_pct numeric, attraction_started_pct numeric,
               investment_completed bigint, projects_planned_annual bigint,
               investment_pct numeric, elapsed_pct numeric, schedule_pct numeric,
               schedule_gap_pts numeric)
LANGUAGE sql STABLE AS $$
    WITH t AS (SELECT * FROM totals_as_of (day)),
    ry AS (
        SELECT g.code AS region, max (rp.as_of) AS as_of
          FROM region g
          JOIN report rp ON rp.region = g.code
                         OR rp.region IN (SELECT a.region FROM region_ancestor a WHERE a.ancestor = g.code)
         WHERE rp.as_of BETWEEN make_date (extract (year FROM day)::int, 1, 1) AND day
         GROUP BY g.code)
    SELECT ry.region, r.name, r.level, extract (year FROM day)::int, ry.as_of, p.*
      FROM ry
      JOIN region r ON r.code = ry.region
     CROSS JOIN LATERAL (
            SELECT array_agg (t.metric) AS keys, array_agg (t.value) AS vals
              FROM t WHERE t.region = ry.region) tv
     CROSS JOIN LATERAL tally_progress_of (ry.region, extract (year FROM day)::int, ry.as_of,
                                           tv.keys, tv.vals) p
$$;
COMMENT ON FUNCTION progress_as_of (date) IS
    '某日进度 The columns of v_progress as they stood at the end of day, computed from totals_as_of(day).';

--  --------------------------------------------------------------------------
--  Reporting: who reported when (日调度)

-- Per region with a parent, its newest report dated <= day. Status:
-- on_time when that as_of is day or day - 1 (a day's figures are due by the
-- next day's dispatch), late when older, missing when it never reported.
CREATE FUNCTION reporting_on (day date)
RETURNS TABLE (region text, name text, level text, parent text, parent_name text,
               on_day date, last_as_of date, last_received_at timestamptz,
               days_since int, status text)
LANGUAGE sql STABLE AS $$
    SELECT r.code, r.name, r.level, r.parent, p.name, reporting_on.day,
           last.as_of, last.received_at, day - last.as_of,
           CASE WHEN last.as_of IS NULL THEN 'missing'
                WHEN last.as_of >= day - 1 THEN 'on_time'
                ELSE 'late' END
      FROM region r
      JOIN region p ON p.code = r.parent
      LEFT JOIN LATERAL (
            SELECT rp.as_of, rp.received_at FROM report rp
             WHERE rp.region = r.code AND rp.as_of <= day
             ORDER BY rp.as_of DESC, rp.id DESC LIMIT 1) last ON true
     ORDER BY r.parent, r.code
$$;
COMMENT ON FUNCTION reporting_on (date) IS
    '日调度 Per region with a parent: its newest report dated <= day (as_of, received_at), days since, and status: on_time (as_of >= day - 1), late (older), missing (no report dated <= day).';

CREATE VIEW v_reporting AS SELECT * FROM reporting_on (current_date);
COMMENT ON VIEW v_reporting IS
    '日调度 reporting_on(current_date): per region with a parent, its newest report, days since, status on_time (as_of today or yesterday) / late / missing.';

--  --------------------------------------------------------------------------
--  Ranking of a city's counties (周赛马)

-- The counties (children of every level-'city' region) ranked as they stood
-- at the end of each given day: by 开复工率 (projects_active/projects_planned),
-- then investment completion (investment_completed/projects_planned_annual),
-- both descending on the exact ratios, missing rates last, then by code. A
-- county's figures are totals_as_of(day)'s (its own if it is a leaf, else the
-- sum of its leaves). Days on which none of a city's counties has any of the
-- four figures give no rows for that city.
CREATE FUNCTION tally_ranking_at (p_days date[])
RETURNS TABLE (city text, city_name text, day date, rank int, county text, county_name text,
               projects_active bigint, projects_planned bigint, active_rate_pct numeric,
               investment_completed bigint, projects_planned_annual bigint, investment_pct numeric)
LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT DISTINCT x.day FROM unnest (p_days) AS x (day) WHERE x.day IS NOT NULL),
    bounds AS (SELECT make_date (extract (year FROM min (d.day))::int, 1, 1) AS lo, max (d.day) AS hi FROM d),
    county AS (
        SELECT c.code AS city, c.name AS city_name, k.code AS county, k.name AS county_name
          FROM region c JOIN region k ON k.parent = c.code WHERE c.level = 'city'),
    leaf_of AS (        -- every leaf below (or equal to) a county
        SELECT y.county, l.code AS leaf
          FROM county y
          JOIN region l ON (l.code = y.county
                            OR l.code IN (SELECT a.region FROM region_ancestor a WHERE a.ancestor = y.county))
         WHERE NOT EXISTS (SELECT 1 FROM region ch WHERE ch.parent = l.code)),
    fig AS (            -- per leaf, metric and as_of: the later-stored report's figure
        SELECT DISTINCT ON (rp.region, v.metric, rp.as_of) rp.region, v.metric, rp.year, rp.as_of, v.value
          FROM report rp
          JOIN report_value v ON v.report_id = rp.id
         WHERE rp.as_of BETWEEN (SELECT lo FROM bounds) AND (SELECT hi FROM bounds)
           AND v.metric IN ('projects_active', 'projects_planned', 'investment_completed', 'projects_planned_annual')
           AND rp.region IN (SELECT leaf FROM leaf_of)
         ORDER BY rp.region, v.metric, rp.as_of, rp.id DESC),
    span AS (           -- each figure stands from its as_of until the next one of its year
        SELECT f.*, lead (f.as_of) OVER (PARTITION BY f.region, f.metric, f.year ORDER BY f.as_of) AS until
          FROM fig f),
    at AS (
        SELECT d.day, lo.county,
               sum (s.value) FILTER (WHERE s.metric = 'projects_active')::bigint         AS active,
               sum (s.value) FILTER (WHERE s.metric = 'projects_planned')::bigint        AS planned,
               sum (s.value) FILTER (WHERE s.metric = 'investment_completed')::bigint    AS inv,
               sum (s.value) FILTER (WHERE s.metric = 'projects_planned_annual')::bigint AS annual
          FROM d
          JOIN span s ON s.year = extract (year FROM d.day) AND s.as_of <= d.day
                     AND (s.until IS NULL OR d.day < s.until)
          JOIN leaf_of lo ON lo.leaf = s.region
         GROUP BY 1, 2),
    grid AS (
        SELECT d.day, y.*, a.active, a.planned, a.inv, a.annual
          FROM d CROSS JOIN county y
          LEFT JOIN at a ON a.day = d.day AND a.county = y.county),
    live AS (SELECT DISTINCT g.city, g.day FROM grid g
              WHERE coalesce (g.active, g.planned, g.inv, g.annual) IS NOT NULL)
    SELECT g.city, g.city_name, g.day,
           row_number () OVER (PARTITION BY g.city, g.day
                               ORDER BY g.active::numeric / NULLIF (g.planned, 0) DESC NULLS LAST,
                                        g.inv::numeric / NULLIF (g.annual, 0) DESC NULLS LAST,
                                        g.county)::int,
           g.county, g.county_name,
           g.active, g.planned, tally_pct (g.active, g.planned),
           g.inv, g.annual, tally_pct (g.inv, g.annual)
      FROM grid g JOIN live USING (city, day)
$$;
COMMENT ON FUNCTION tally_ranking_at (date[]) IS
    'Internal: each city''s counties ranked as they stood at the end of each given day (see v_ranking).';

-- One city's ranking as of day, with the change against the ranking as of since.
CREATE FUNCTION ranking_on (day date, since date DEFAULT NULL)
RETURNS TABLE (city text, city_name text, on_day date, rank int, county text, county_name text,
               projects_active bigint, projects_planned bigint, active_rate_pct numeric,
               investment_completed bigint, projects_planned_annual bigint, investment_pct numeric,
               prev_day date, prev_rank int, rank_change int)
LANGUAGE sql STABLE AS $$
    WITH r AS (SELECT * FROM tally_ranking_at (ARRAY [ranking_on.day,
                                                      coalesce (ranking_on.since, ranking_on.day - 7)]))
    SELECT n.*, coalesce (ranking_on.since, ranking_on.day - 7), p.rank, p.rank - n.rank
      FROM r n
      LEFT JOIN r p ON p.day = coalesce (ranking_on.since, ranking_on.day - 7)
                   AND p.city = n.city AND p.county = n.county
     WHERE n.day = ranking_on.day
     ORDER BY n.city, n.rank
$$;
COMMENT ON FUNCTION ranking_on (date, date) IS
    '赛马 Each city''s counties ranked as of the end of day (as v_ranking), with prev_rank as of since (default day - 7) and rank_change = prev_rank - rank (positive: moved up).';

CREATE VIEW v_ranking AS
WITH span AS (
    SELECT date_trunc ('week', min (as_of))::date AS first_monday,
           date_trunc ('week', max (as_of))::date AS last_monday FROM report),
sundays AS (
    SELECT array_agg ((w + interval '6 days')::date) AS days
      FROM span, generate_series (span.first_monday, span.last_monday, interval '7 days') AS w),
ranked AS (SELECT r.* FROM sundays, tally_ranking_at (sundays.days) r)
SELECT r.city, r.city_name,
       extract (isoyear FROM r.day)::int AS iso_year,
       extract (week FROM r.day)::int    AS iso_week,
       r.day - 6                         AS week_start,
       r.day                             AS week_end,
       r.rank, r.county, r.county_name,
       r.projects_active, r.projects_planned, r.active_rate_pct,
       r.investment_completed, r.projects_planned_annual, r.investment_pct,
       p.rank                            AS prev_rank,
       p.rank - r.rank                   AS rank_change
  FROM ranked r
  LEFT JOIN ranked p ON p.city = r.city AND p.county = r.county AND p.day = r.day - 7;
COMMENT ON VIEW v_ranking IS
    '周赛马 For each city and ISO week (from the week of the first report to the week of the last), its counties ranked by 开复工率 then 投资完成率 (exact ratios, descending, missing last; ties by code) on the figures as they stood at the end of the week''s Sunday (totals_as_of(week_end)); prev_rank is the previous week''s rank, rank_change = prev_rank - rank (positive: moved up).';
COMMENT ON COLUMN v_ranking.active_rate_pct IS '开复工率 %';
COMMENT ON COLUMN v_ranking.investment_pct IS '投资完成率 %';
COMMENT ON COLUMN v_ranking.rank_change IS '名次变化 prev_rank - rank: positive = moved up';

--  --------------------------------------------------------------------------
--  Reconciliation: a parent's own figure against its children's roll-up

CREATE VIEW v_reconciliation AS
SELECT c.region, r.name, r.level, c.year, c.metric, m.name_zh, m.unit,
       c.value                          AS own_value,
       t.value                          AS rollup_value,
       c.value - coalesce (t.value, 0)  AS difference,
       (SELECT count (*)::int FROM region k
         WHERE k.parent = c.region
           AND EXISTS (SELECT 1 FROM region_total kt
                        WHERE kt.region = k.code AND kt.metric = c.metric AND kt.year = c.year))
                                        AS children_reported,
       (SELECT count (*)::int FROM region k WHERE k.parent = c.region) AS children,
       c.as_of                          AS own_as_of
  FROM current_value c
  JOIN region r ON r.code = c.region
  JOIN metric m ON m.key = c.metric AND m.rollup = 'sum'
  LEFT JOIN region_total t ON t.region = c.region AND t.metric = c.metric AND t.year = c.year
 WHERE EXISTS (SELECT 1 FROM region k WHERE k.parent = c.region);
COMMENT ON VIEW v_reconciliation IS
    '核对 Where a parent region reported its own figure for a sum metric: own_value, rollup_value (sum of its leaves: region_total, NULL if no child reported the metric), difference = own_value - rollup (NULL roll-up counts as 0), children_reported (children with a figure for that metric and year) of children.';

-- The same as of the end of day, from history: each parent's own figure with
-- the newest as_of <= day in day's year against totals_as_of(day).
CREATE FUNCTION reconciliation_as_of (day date)
RETURNS TABLE (region text, name text, level text, year int, metric text, name_zh text, unit text,
               own_value bigint, rollup_value bigint, difference bigint,
               children_reported int, children int, own_as_of date)
LANGUAGE sql STABLE AS $$
    WITH own AS (
        SELECT DISTINCT ON (r.region, v.metric) r.region, v.metric, r.year, v.value, r.as_of
          FROM report r
          JOIN report_value v ON v.report_id = r.id
         WHERE r.as_of BETWEEN make_date (extract (year FROM day)::int, 1, 1) AND day
           AND r.region IN (SELECT k.parent FROM region k WHERE k.parent IS NOT NULL)
         ORDER BY r.region, v.metric, r.as_of DESC, r.id DESC),
    t AS (SELECT * FROM totals_as_of (day))
    SELECT o.region, g.name, g.level, o.year, o.metric, m.name_zh, m.unit,
           o.value, t.value, o.value - coalesce (t.value, 0),
           (SELECT count (*)::int FROM region k
             WHERE k.parent = o.region
               AND EXISTS (SELECT 1 FROM t kt WHERE kt.region = k.code AND kt.metric = o.metric)),
           (SELECT count (*)::int FROM region k WHERE k.parent = o.region),
           o.as_of
      FROM own o
      JOIN region g ON g.code = o.region
      JOIN metric m ON m.key = o.metric AND m.rollup = 'sum'
      LEFT JOIN t ON t.region = o.region AND t.metric = o.metric
$$;
COMMENT ON FUNCTION reconciliation_as_of (date) IS
    '某日核对 The columns of v_reconciliation as they stood at the end of day, from history (own figure with the newest as_of <= day; roll-up from totals_as_of(day)).';
