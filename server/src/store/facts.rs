//! The facts as DuckDB stores them: numbers for indicators (`indicator_ids`), periods (`pid`),
//! disaggregations (`disaggs`) and source columns (`submission_columns`), so that a value is
//! written as nine numbers; the writer that appends accepted values in Arrow batches inside the
//! upload's transaction; and the upgrade of files written with texts (schema version 2).

use std::sync::Arc;

use duckdb::Connection;
use duckdb::arrow::array::{ArrayRef, Float64Array, Int16Array, Int32Array, Int64Array};
use duckdb::arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap as HashMap;

use dieuhanh_protocol::period::Period;

use super::{DbContext, StoreError};
use crate::catalogue::Catalogue;

/// A period as a number unique across kinds: months since year 0 of its first month × 8 + its
/// kind (0 month, 1 quarter, 2 half-year, 3 year, 4 year-to-date, which is never stored).
pub fn period_no(p: &Period) -> i32 {
    let kind = match p {
        Period::Month { .. } => 0,
        Period::Quarter { .. } => 1,
        Period::Half { .. } => 2,
        Period::Year { .. } => 3,
        Period::YearToDate { .. } => 4,
    };
    p.month_index() * 8 + kind
}

/// The period of a stored number ([`period_no`]); `None` for numbers no stored period has.
pub fn period_of_no(pid: i32) -> Option<Period> {
    let (index, kind) = (pid.div_euclid(8), pid.rem_euclid(8));
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12) as u8);
    let p = match kind {
        0 => Period::Month {
            year,
            month: month0 + 1,
        },
        1 if month0 % 3 == 0 => Period::Quarter {
            year,
            quarter: month0 / 3 + 1,
        },
        2 if month0 % 6 == 0 => Period::Half {
            year,
            half: month0 / 6 + 1,
        },
        3 if month0 == 0 => Period::Year { year },
        _ => return None,
    };
    Some(p)
}

/// The stored number of every indicator code, both ways.
#[derive(Debug, Default, Clone)]
pub struct IndicatorIds {
    by_code: HashMap<String, i16>,
    codes: HashMap<i16, Arc<str>>,
}

impl IndicatorIds {
    /// Reads `indicator_ids`.
    pub fn read(conn: &Connection) -> Result<IndicatorIds, StoreError> {
        let mut stmt = conn
            .prepare("SELECT id, code FROM indicator_ids")
            .ctx("reading indicator numbers")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i16>(0)?, r.get::<_, String>(1)?)))
            .ctx("reading indicator numbers")?;
        let mut ids = IndicatorIds::default();
        for row in rows {
            let (id, code) = row.ctx("reading indicator numbers")?;
            ids.codes.insert(id, Arc::from(code.as_str()));
            ids.by_code.insert(code, id);
        }
        Ok(ids)
    }

    pub fn id(&self, code: &str) -> Option<i16> {
        self.by_code.get(code).copied()
    }

    pub fn code(&self, id: i16) -> Option<&str> {
        self.codes.get(&id).map(|c| &**c)
    }
}

/// Numbers the catalogue's indicators that have no number yet (new ones get the next free).
pub fn number_indicators(conn: &Connection, cat: &Catalogue) -> Result<(), StoreError> {
    let known = IndicatorIds::read(conn)?;
    let mut next = known.codes.keys().copied().max().map_or(0, |m| m + 1);
    let mut app = conn.appender("indicator_ids").ctx("numbering indicators")?;
    for ind in &cat.indicators {
        if known.id(&ind.code).is_none() {
            app.append_row(duckdb::params![next, ind.code])
                .ctx("numbering indicators")?;
            next += 1;
        }
    }
    Ok(())
}

/// Reads `disaggs`, text → number ('' is 0).
pub fn disagg_ids(conn: &Connection) -> Result<HashMap<String, i32>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT text, id FROM disaggs")
        .ctx("reading disaggregations")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?)))
        .ctx("reading disaggregations")?;
    let mut out = HashMap::default();
    out.insert(String::new(), 0);
    for row in rows {
        let (text, id) = row.ctx("reading disaggregations")?;
        out.insert(text, id);
    }
    Ok(out)
}

/// One accepted value, as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredFact {
    pub ind: i16,
    pub uid: u32,
    pub pid: i32,
    pub disagg: i32,
    pub value: f64,
    pub row: Option<u32>,
    pub col: Option<i16>,
}

/// Rows per Arrow batch handed to DuckDB.
const BATCH: usize = 1 << 18;

/// Appends accepted values to `observations` for `submission`, in batches (inside the caller's
/// transaction: a rollback removes them). Returns the number written.
pub fn append_facts(
    conn: &Connection,
    submission: i64,
    facts: impl IntoIterator<Item = StoredFact>,
) -> Result<u64, StoreError> {
    let mut app = conn
        .appender("observations")
        .ctx("appending to the history")?;
    let mut cols = Columns::default();
    let mut written = 0u64;
    for f in facts {
        cols.push(&f);
        if cols.ind.len() >= BATCH {
            written += cols.ind.len() as u64;
            let batch = std::mem::take(&mut cols).finish(submission)?;
            app.append_record_batch(batch)
                .ctx("appending to the history")?;
        }
    }
    if !cols.ind.is_empty() {
        written += cols.ind.len() as u64;
        let batch = cols.finish(submission)?;
        app.append_record_batch(batch)
            .ctx("appending to the history")?;
    }
    app.flush().ctx("appending to the history")?;
    Ok(written)
}

#[derive(Default)]
struct Columns {
    ind: Vec<i16>,
    uid: Vec<i32>,
    pid: Vec<i32>,
    disagg: Vec<i32>,
    value: Vec<f64>,
    row: Vec<Option<i32>>,
    col: Vec<Option<i16>>,
}

impl Columns {
    fn push(&mut self, f: &StoredFact) {
        self.ind.push(f.ind);
        self.uid.push(f.uid as i32);
        self.pid.push(f.pid);
        self.disagg.push(f.disagg);
        self.value.push(f.value);
        self.row.push(f.row.map(|r| r.min(i32::MAX as u32) as i32));
        self.col.push(f.col);
    }

    fn finish(self, submission: i64) -> Result<RecordBatch, StoreError> {
        let n = self.ind.len();
        // Column types come from the arrays; the names are the table's.
        let cols: [(&str, ArrayRef); 8] = [
            ("ind", Arc::new(Int16Array::from(self.ind))),
            ("uid", Arc::new(Int32Array::from(self.uid))),
            ("pid", Arc::new(Int32Array::from(self.pid))),
            ("disagg", Arc::new(Int32Array::from(self.disagg))),
            ("value", Arc::new(Float64Array::from(self.value))),
            (
                "submission",
                Arc::new(Int64Array::from(vec![submission; n])),
            ),
            ("source_row", Arc::new(Int32Array::from(self.row))),
            ("source_col", Arc::new(Int16Array::from(self.col))),
        ];
        RecordBatch::try_from_iter(cols)
            .map_err(|e| StoreError::Task(format!("building a batch of values: {e}")))
    }
}

/// Records that `submission` replaced these values (ind, uid, pid, disagg, the submission of
/// the value replaced).
pub fn append_superseded(
    conn: &Connection,
    submission: i64,
    keys: impl IntoIterator<Item = (i16, u32, i32, i32, i64)>,
) -> Result<(), StoreError> {
    let mut app = conn
        .appender("superseded")
        .ctx("retiring superseded values")?;
    for (ind, uid, pid, disagg, replaced) in keys {
        app.append_row(duckdb::params![ind, uid, pid, disagg, replaced, submission])
            .ctx("retiring superseded values")?;
    }
    Ok(())
}

/// Rewrites a schema-2 file (texts in the facts, a `current_obs` table) into numbers, in one
/// transaction: nothing is lost, and an interrupted upgrade leaves the file as it was.
pub fn upgrade_from_v2(conn: &Connection) -> Result<(), StoreError> {
    let ctx = "upgrading the schema from version 2";
    // Periods are numbered in Rust (the same function the ingest uses), then joined.
    let texts: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT DISTINCT period FROM observations")
            .ctx(ctx)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).ctx(ctx)?;
        rows.collect::<Result<_, _>>().ctx(ctx)?
    };
    conn.execute_batch(
        "BEGIN TRANSACTION;
         CREATE TEMP TABLE upgrade_periods (period VARCHAR, pid INTEGER);",
    )
    .ctx(ctx)?;
    let result = (|| {
        {
            let mut app = conn.appender("upgrade_periods").ctx(ctx)?;
            for t in &texts {
                let pid = Period::parse(t).ok().as_ref().map(period_no);
                app.append_row(duckdb::params![t, pid]).ctx(ctx)?;
            }
        }
        conn.execute_batch(
            "INSERT INTO indicator_ids
                 SELECT (row_number() OVER (ORDER BY indicator)) - 1, indicator
                 FROM (SELECT DISTINCT indicator FROM observations);
             INSERT INTO disaggs VALUES (0, '');
             INSERT INTO disaggs
                 SELECT row_number() OVER (ORDER BY disagg), disagg
                 FROM (SELECT DISTINCT disagg FROM observations WHERE disagg <> '');
             INSERT INTO submission_columns
                 SELECT submission, (row_number() OVER (PARTITION BY submission
                                                        ORDER BY source_col)) - 1, source_col
                 FROM (SELECT DISTINCT submission, source_col FROM observations
                       WHERE source_col IS NOT NULL);
             CREATE TABLE observations_v3 AS
                 SELECT i.id::SMALLINT AS ind, o.uid, p.pid, d.id AS disagg, o.value,
                        o.submission, o.source_row, c.col_no AS source_col
                 FROM observations o
                 JOIN indicator_ids i ON i.code = o.indicator
                 JOIN upgrade_periods p ON p.period = o.period
                 JOIN disaggs d ON d.text = o.disagg
                 LEFT JOIN submission_columns c
                     ON c.submission = o.submission AND c.field = o.source_col;
             INSERT INTO superseded
                 SELECT i.id, o.uid, p.pid, d.id, o.submission,
                        (SELECT min(n.submission) FROM observations n
                         WHERE n.indicator = o.indicator AND n.uid = o.uid
                           AND n.period = o.period AND n.disagg = o.disagg
                           AND n.revision > o.revision)
                 FROM observations o
                 JOIN indicator_ids i ON i.code = o.indicator
                 JOIN upgrade_periods p ON p.period = o.period
                 JOIN disaggs d ON d.text = o.disagg
                 ANTI JOIN current_obs c
                     ON c.indicator = o.indicator AND c.uid = o.uid AND c.period = o.period
                    AND c.disagg = o.disagg AND c.revision = o.revision;
             DROP TABLE current_obs;
             DROP TABLE observations;
             CREATE TABLE observations (
                 ind SMALLINT NOT NULL, uid INTEGER NOT NULL, pid INTEGER NOT NULL,
                 disagg INTEGER NOT NULL, value DOUBLE NOT NULL, submission BIGINT NOT NULL,
                 source_row INTEGER, source_col SMALLINT);
             INSERT INTO observations SELECT * FROM observations_v3;
             DROP TABLE observations_v3;
             UPDATE meta SET value = '3' WHERE key = 'schema_version';",
        )
        .ctx(ctx)?;
        let lost: i64 = conn
            .query_row(
                "SELECT count(*) FROM upgrade_periods WHERE pid IS NULL",
                [],
                |r| r.get(0),
            )
            .ctx(ctx)?;
        if lost > 0 {
            return Err(StoreError::Task(format!(
                "{lost} stored period texts could not be read; the file was left as it was"
            )));
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            conn.execute_batch("COMMIT; DROP TABLE upgrade_periods;")
                .ctx(ctx)?;
            tracing::info!("upgraded the store to schema version 3");
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_numbers_read_back_for_every_kind() {
        for text in [
            "2025-07", "2025-01", "2025-12", "2025-Q1", "2025-Q4", "2025-H1", "2025-H2", "2025",
            "1900-01", "2200",
        ] {
            let p = Period::parse(text).unwrap();
            assert_eq!(period_of_no(period_no(&p)), Some(p), "{text}");
        }
        // A quarter that would start in February is no stored period.
        assert_eq!(period_of_no((2025 * 12 + 1) * 8 + 1), None);
    }
}
