-- Durable tables of a dieuhanh database: the facts, i.e. what people sent. Reference tables
-- (units, catalogue) are rebuilt from assets/ at every start by store::reference; aggregated
-- values are derived in memory from current_obs (aggregate, serving).

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

-- Every value ever accepted, with the submission it came from. Append-only: a correction is a new
-- revision, so the history the seeds forbid beautifying stays queryable.
CREATE TABLE IF NOT EXISTS observations (
    indicator  VARCHAR NOT NULL,
    uid        INTEGER NOT NULL,
    period     VARCHAR NOT NULL,
    disagg     VARCHAR NOT NULL,           -- '' for the total; e.g. 'gioi_tinh=nu'
    value      DOUBLE NOT NULL,
    submission BIGINT NOT NULL,
    revision   INTEGER NOT NULL,           -- 1 for the first value of the key
    source_row INTEGER,                    -- row in the uploaded file, for provenance
    source_col VARCHAR
);

-- The latest accepted revision of each key (derived from observations, kept for speed).
CREATE TABLE IF NOT EXISTS current_obs (
    indicator  VARCHAR NOT NULL,
    uid        INTEGER NOT NULL,
    period     VARCHAR NOT NULL,
    disagg     VARCHAR NOT NULL,
    year       SMALLINT NOT NULL,
    value      DOUBLE NOT NULL,
    submission BIGINT NOT NULL,
    revision   INTEGER NOT NULL
);
