-- 001_schema.sql — tally's tables: catalogs, history, current figures, roll-ups.
--
-- Table names and columns are a contract with analysts (DESIGN.md). History
-- (report, report_value, rejected_report) is append-only; current_value,
-- region_total and region_year are maintained by tally_ingest() in the same
-- transaction that stores a report.

CREATE TABLE region (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9A-Za-z]{1,64}$'),
    name        text NOT NULL,
    level       text NOT NULL,
    parent      text REFERENCES region (code),
    CHECK (parent IS DISTINCT FROM code)
);
COMMENT ON TABLE region IS 'Administrative regions (GB/T 2260 codes) and their parents; loaded from deploy/catalog/regions.csv by tally-collector migrate.';

-- Closure of region.parent: every (region, ancestor) pair, distance >= 1.
-- Rebuilt whenever the catalog is loaded; lets one statement reach every ancestor.
CREATE TABLE region_ancestor (
    region      text NOT NULL REFERENCES region (code),
    ancestor    text NOT NULL REFERENCES region (code),
    distance    int  NOT NULL CHECK (distance >= 1),
    PRIMARY KEY (region, ancestor)
);
COMMENT ON TABLE region_ancestor IS 'Every region with each of its ancestors (1 = parent); derived from region.parent.';

CREATE TABLE metric (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    name_zh     text NOT NULL,
    unit        text NOT NULL,
    rollup      text NOT NULL CHECK (rollup IN ('sum', 'none')),
    min_value   bigint NOT NULL DEFAULT 0,
    max_value   bigint NOT NULL,
    description text,
    CHECK (min_value <= max_value)
);
COMMENT ON TABLE metric IS 'Metric catalog: key, Chinese name, unit, roll-up rule (sum, or none for rates), accepted range; loaded from deploy/catalog/metrics.csv.';

-- Every report ever stored. (source, seq) is the idempotency key.
CREATE TABLE report (
    id          bigserial PRIMARY KEY,
    source      text   NOT NULL,
    seq         bigint NOT NULL CHECK (seq >= 1),
    region      text   NOT NULL REFERENCES region (code),
    as_of       date   NOT NULL,
    year        int    NOT NULL GENERATED ALWAYS AS (extract(year FROM as_of)::int) STORED,
    note        text,
    sent_at     timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    peer        text,
    key_id      text,
    UNIQUE (source, seq)
);
CREATE INDEX report_region_as_of ON report (region, as_of);
COMMENT ON TABLE report IS 'Every report stored, append-only; key_id is the CURVE public key (Z85) that sent it, when CURVE is on.';

-- The figures of each report. Metric keys were checked against the catalog
-- by the collector before storing (no foreign key: it would cost a lookup per value).
CREATE TABLE report_value (
    report_id   bigint NOT NULL,
    metric      text   NOT NULL,
    value       bigint NOT NULL,
    PRIMARY KEY (report_id, metric)
);
COMMENT ON TABLE report_value IS 'The figures of each report, in the metric''s unit; append-only.';

-- Each region's current figure per metric and year: the newest as_of wins,
-- ties go to the later-stored report.
CREATE TABLE current_value (
    region      text   NOT NULL,
    metric      text   NOT NULL,
    year        int    NOT NULL,
    value       bigint NOT NULL,
    as_of       date   NOT NULL,
    report_id   bigint NOT NULL,
    PRIMARY KEY (region, metric, year)
);
COMMENT ON TABLE current_value IS 'Each region''s own current figure per metric and year (newest as_of wins; ties: the later-stored report).';

-- What the feed publishes as `values`: a leaf's own figures; a parent's
-- roll-up of its children (sum), or for rule `none` the region's own figure.
CREATE TABLE region_total (
    region      text   NOT NULL,
    metric      text   NOT NULL,
    year        int    NOT NULL,
    value       bigint NOT NULL,
    PRIMARY KEY (region, metric, year)
);
COMMENT ON TABLE region_total IS 'Per region, metric and year: exactly what the feed publishes as values (leaf: own figure; parent: roll-up of its children; rule none: own figure only).';

-- Per region and year: what a totals message carries besides the values.
-- version is taken from feed_seq at each change; it is the feed seq of the
-- totals message that published that change.
CREATE SEQUENCE feed_seq;
CREATE TABLE region_year (
    region      text   NOT NULL,
    year        int    NOT NULL,
    as_of       date   NOT NULL,
    reported    int    NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (region, year)
);
COMMENT ON TABLE region_year IS 'Per region and year: newest as_of, children reported, and version (the feed seq of its last change).';

CREATE TABLE rejected_report (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    peer        text,
    key_id      text,
    code        text  NOT NULL,
    reason      text  NOT NULL,
    source      text,
    seq         bigint,
    raw         bytea NOT NULL
);
COMMENT ON TABLE rejected_report IS 'Every permanently rejected report: raw bytes as received, the nack code and reason, the peer and key.';
