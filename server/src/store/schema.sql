-- Durable tables of a dieuhanh database (schema version 4): the facts, i.e. what people sent.
-- Reference tables (units, catalogue) are rebuilt from assets/ at every start by
-- store::reference; aggregated values are derived in memory from the current values (aggregate,
-- serving). Facts are stored as numbers (indicator, period, disaggregation and column ids): they
-- are written several times faster than texts, and the tables below name the numbers.

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per accepted upload (or demo load). Nothing is ever deleted from here.
CREATE TABLE IF NOT EXISTS submissions (
    id               BIGINT PRIMARY KEY,
    version          BIGINT NOT NULL,      -- data version this upload produced
    received_at      TIMESTAMP NOT NULL,   -- UTC
    format           VARCHAR NOT NULL,     -- json | csv | xlsx | demo
    filename         VARCHAR,
    sha256           VARCHAR NOT NULL,     -- of the body and its options: re-sending is a no-op
    submitter        VARCHAR,
    locale           VARCHAR NOT NULL,
    rows_read        BIGINT NOT NULL,
    values_new       BIGINT NOT NULL,
    values_revised   BIGINT NOT NULL,
    values_unchanged BIGINT NOT NULL,
    warnings         BIGINT NOT NULL
);

-- The number of each indicator code in the facts. Never renumbered: the catalogue's order may
-- change between releases, these ids do not.
CREATE TABLE IF NOT EXISTS indicator_ids (
    id   SMALLINT PRIMARY KEY,
    code VARCHAR NOT NULL UNIQUE
);

-- Disaggregations ('gioi_tinh=nu'); 0 is the total.
CREATE TABLE IF NOT EXISTS disaggs (
    id   INTEGER PRIMARY KEY,
    text VARCHAR NOT NULL UNIQUE
);

-- The column headers of each upload, for the history's record of where a value came from.
CREATE TABLE IF NOT EXISTS submission_columns (
    submission BIGINT NOT NULL,
    col_no     SMALLINT NOT NULL,
    field      VARCHAR NOT NULL
);

-- Every value ever accepted, with the submission it came from, in two tables: `slabs` holds
-- what a stretch of one upload's values share (indicator, period, disaggregation, submission,
-- source column), `history` the values, each naming its slab. Append-only: a correction is a
-- new revision, so the history the seeds forbid beautifying stays queryable. The view
-- `observations` (views.sql) joins them back into one row per value.
-- Split because DuckDB's insert keeps statistics (min/max, distinct counts) and picks a
-- compression for every column of every row it writes: four columns instead of eight took
-- its insert from 462 M to 259 M instructions per million values.
-- `pid` is the period's number: months since year 0 of its first month × 8 + its kind
-- (0 month, 1 quarter, 2 half, 3 year); `period_text(pid)` writes it as '2025-07', '2025-Q3',
-- '2025-H1' or '2025'.
CREATE TABLE IF NOT EXISTS slabs (
    id         INTEGER PRIMARY KEY,  -- numbered in order of writing, from 1
    ind        SMALLINT NOT NULL,    -- indicator_ids.id
    pid        INTEGER NOT NULL,
    disagg     INTEGER NOT NULL,     -- disaggs.id; 0 for the total
    submission BIGINT NOT NULL,
    source_col SMALLINT              -- submission_columns.col_no
);

-- Compression is named for every column but the value: DuckDB otherwise tries each method on
-- every row group it writes, and these columns' shapes are known (a slab's values are written
-- together in unit order). A column of one value is still stored as a constant.
CREATE TABLE IF NOT EXISTS history (
    slab       INTEGER NOT NULL USING COMPRESSION rle,         -- slabs.id
    uid        INTEGER NOT NULL USING COMPRESSION bitpacking,  -- units.uid
    value      DOUBLE NOT NULL,
    source_row INTEGER USING COMPRESSION bitpacking            -- row in the uploaded file
);

-- The values a later submission replaced (append-only too): key, the submission of the value
-- replaced, and the one that replaced it. The current value of a key is its observation not
-- listed here: a first value, by far the most common, is written once.
CREATE TABLE IF NOT EXISTS superseded (
    ind           SMALLINT NOT NULL,
    uid           INTEGER NOT NULL,
    pid           INTEGER NOT NULL,
    disagg        INTEGER NOT NULL,
    submission    BIGINT NOT NULL,
    by_submission BIGINT NOT NULL
);

-- Approvals of reports up the hierarchy: the person responsible for a unit reviewed a regime's
-- report of a period (the unit's own values, or the totals of the units under it) and sent it
-- up. Append-only. An approval covers the report as it stood at `version` (the data version of
-- its newest value): a later correction leaves it standing but no longer current.
CREATE TABLE IF NOT EXISTS approvals (
    id          BIGINT PRIMARY KEY,
    regime      VARCHAR NOT NULL,
    uid         INTEGER NOT NULL,      -- units.uid, in the structure of the period
    pid         INTEGER NOT NULL,
    version     BIGINT NOT NULL,
    approved_at TIMESTAMP NOT NULL,    -- UTC
    approver    VARCHAR NOT NULL,
    note        VARCHAR
);
