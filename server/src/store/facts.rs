//! The facts as DuckDB stores them: numbers for indicators (`indicator_ids`), periods (`pid`),
//! disaggregations (`disaggs`) and source columns (`submission_columns`); values in `history`,
//! four numbers each, under the `slabs` that hold what runs of them share; the writer that
//! inserts accepted values inside the upload's transaction (through a table function fed with
//! Arrow chunks); and the upgrades of files written with texts (schema version 2) and with
//! one wide table of values (version 3).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, mpsc};

use duckdb::Connection;
use duckdb::arrow::array::{ArrayRef, Float64Array, Int32Array};
use duckdb::arrow::buffer::NullBuffer;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{
    BindInfo, InitInfo, TableFunctionInfo, VTab, record_batch_to_duckdb_data_chunk,
};
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

/// Rows per chunk the feed hands DuckDB: its standard vector size, the most a table
/// function's output chunk holds.
const CHUNK: usize = 2048;

/// Chunks made ahead of DuckDB's reading (bounds the memory of a large upload's feed).
const QUEUE: usize = 64;

/// The table function [`append_facts`] inserts through.
const FEED_FUNCTION: &str = "dieuhanh_facts";

/// Registers the table function [`append_facts`] inserts through, on the database of `conn`
/// (once, when the store opens).
pub fn register_feed(conn: &Connection) -> Result<(), StoreError> {
    conn.register_table_function::<FeedTable>(FEED_FUNCTION)
        .ctx("registering the history's feed")
}

/// Appends accepted values to the history for `submission` (inside the caller's transaction:
/// a rollback removes them). Returns the number written.
///
/// Each run of values with the same indicator, period, disaggregation and source column becomes
/// one slab, so `facts` should come grouped by those (in any order within a group): values
/// that alternate between them are stored right but with a slab each.
///
/// The values go in by `INSERT … SELECT` from a table function that a thread of ours feeds
/// with chunks made from `facts`, rather than through DuckDB's appender, which compresses
/// and writes every row group on the calling thread: the insert does that on all of DuckDB's
/// threads (store phase of 10 M values 2.4–3.0 → 1.7 s on 2 cores).
pub fn append_facts<I>(conn: &Connection, submission: i64, facts: I) -> Result<u64, StoreError>
where
    I: IntoIterator<Item = StoredFact>,
    I::IntoIter: Send,
{
    let ctx = "appending to the history";
    let first_slab: i32 = conn
        .query_row("SELECT coalesce(max(id), 0) + 1 FROM slabs", [], |r| {
            r.get(0)
        })
        .ctx(ctx)?;
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(QUEUE);
    let feed = Arc::new(Feed {
        chunks: Mutex::new(rx),
        stop: AtomicBool::new(false),
    });
    let listed = Listed::new(feed.clone());
    let feed = &*feed;
    let facts = facts.into_iter();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || -> Result<(u64, Vec<SlabRow>), StoreError> {
            let mut cols = Columns::new();
            let mut slabs: Vec<SlabRow> = Vec::new();
            let mut made = 0u64;
            for f in facts {
                let key = (f.ind, f.pid, f.disagg, f.col);
                let slab = match slabs.last() {
                    Some(last) if last.key == key => last.id,
                    last => {
                        let id = last.map_or(Some(first_slab), |l| l.id.checked_add(1));
                        let id = id.ok_or_else(|| {
                            StoreError::Task("the history has run out of slab numbers".into())
                        })?;
                        slabs.push(SlabRow { id, key });
                        id
                    }
                };
                cols.push(slab, &f);
                if cols.slab.len() == CHUNK {
                    made += CHUNK as u64;
                    let chunk = std::mem::replace(&mut cols, Columns::new()).finish()?;
                    // A send fails once the insert has ended and dropped the queue.
                    if feed.stop.load(Ordering::Relaxed) || tx.send(chunk).is_err() {
                        return Ok((made, slabs));
                    }
                }
            }
            if !cols.slab.is_empty() {
                made += cols.slab.len() as u64;
                let chunk = cols.finish()?;
                let _ = tx.send(chunk);
            }
            Ok((made, slabs))
        });
        // DuckDB inserts on one thread while it must keep the rows in the order they came.
        // Let off, each of its threads writes the chunks it took, in order, to row groups of
        // its own: a row group spans twice the stretch of the upload it would in one file
        // order, which the zone maps on indicator and period still narrow well.
        let parallel = conn.execute_batch("SET SESSION preserve_insertion_order = false");
        let inserted = conn.execute(
            &format!(
                "INSERT INTO history (slab, uid, value, source_row)
                 SELECT * FROM {FEED_FUNCTION}({})",
                listed.key
            ),
            [],
        );
        if parallel.is_ok() {
            // Fails in a transaction the insert aborted: the rollback before the next write
            // resets it then.
            let _ = reset_insertion_order(conn);
        }
        // An insert that failed part-way leaves the feed's thread waiting on a full queue:
        // stop it and take what it had made.
        feed.stop.store(true, Ordering::Relaxed);
        if let Ok(rx) = feed.chunks.lock() {
            while rx.recv().is_ok() {}
        }
        let (made, slabs) = producer
            .join()
            .map_err(|_| StoreError::Task("the history's feed panicked".into()))??;
        let inserted = inserted.ctx(ctx)? as u64;
        if inserted != made {
            return Err(StoreError::Task(format!(
                "the history took {inserted} of the {made} values fed to it"
            )));
        }
        let mut app = conn.appender("slabs").ctx(ctx)?;
        for SlabRow {
            id,
            key: (ind, pid, disagg, col),
        } in slabs
        {
            app.append_row(duckdb::params![id, ind, pid, disagg, submission, col])
                .ctx(ctx)?;
        }
        app.flush().ctx(ctx)?;
        Ok(made)
    })
}

/// A slab as the feed numbers it: what its values share (indicator, period, disaggregation,
/// source column).
struct SlabRow {
    id: i32,
    key: (i16, i32, i32, Option<i16>),
}

/// Puts DuckDB's insertion order on `conn` back to the database's setting.
pub fn reset_insertion_order(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("RESET SESSION preserve_insertion_order")
        .ctx("resetting the insertion order")
}

/// Chunks for one `INSERT … SELECT` (see [`append_facts`]).
struct Feed {
    chunks: Mutex<mpsc::Receiver<RecordBatch>>,
    /// Set once the insert has ended: later calls of the table function read nothing.
    stop: AtomicBool,
}

/// The feeds in use, by the key the SQL names them with: DuckDB's table function can only be
/// given plain values, so it finds its feed here.
static FEEDS: LazyLock<Mutex<std::collections::HashMap<u64, Arc<Feed>>>> =
    LazyLock::new(Default::default);
static NEXT_FEED: AtomicU64 = AtomicU64::new(1);

/// A feed listed in [`FEEDS`] for as long as this lives.
struct Listed {
    key: u64,
}

impl Listed {
    fn new(feed: Arc<Feed>) -> Listed {
        let key = NEXT_FEED.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut feeds) = FEEDS.lock() {
            feeds.insert(key, feed);
        }
        Listed { key }
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        if let Ok(mut feeds) = FEEDS.lock() {
            feeds.remove(&self.key);
        }
    }
}

/// `dieuhanh_facts(key)`: the rows of the feed listed under `key`, with the columns of
/// `history`.
struct FeedTable;

impl VTab for FeedTable {
    type InitData = ();
    type BindData = Arc<Feed>;

    fn bind(bind: &BindInfo) -> Result<Arc<Feed>, Box<dyn std::error::Error>> {
        use LogicalTypeId as T;
        for (name, ty) in [
            ("slab", T::Integer),
            ("uid", T::Integer),
            ("value", T::Double),
            ("source_row", T::Integer),
        ] {
            bind.add_result_column(name, LogicalTypeHandle::from(ty));
        }
        let key = bind.get_parameter(0).to_int64();
        let feed = FEEDS
            .lock()
            .ok()
            .and_then(|feeds| feeds.get(&(key as u64)).cloned());
        Ok(feed.ok_or_else(|| format!("{FEED_FUNCTION}: no feed {key} (it is internal)"))?)
    }

    fn init(init: &InitInfo) -> Result<(), Box<dyn std::error::Error>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        init.set_max_threads(threads as u64);
        Ok(())
    }

    fn func(
        info: &TableFunctionInfo<Self>,
        out: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let feed = info.get_bind_data();
        let chunk = if feed.stop.load(Ordering::Relaxed) {
            None
        } else {
            let rx = feed
                .chunks
                .lock()
                .map_err(|_| "the history's feed was poisoned")?;
            rx.recv().ok()
        };
        match chunk {
            Some(chunk) if chunk.num_rows() > out.flat_vector(0).capacity() => Err(format!(
                "a chunk of {} rows exceeds DuckDB's {}",
                chunk.num_rows(),
                out.flat_vector(0).capacity()
            )
            .into()),
            Some(chunk) => record_batch_to_duckdb_data_chunk(&chunk, out),
            None => {
                out.set_len(0);
                Ok(())
            }
        }
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::Bigint)])
    }
}

/// One chunk's columns as they are filled, sized for a whole chunk up front.
struct Columns {
    slab: Vec<i32>,
    uid: Vec<i32>,
    value: Vec<f64>,
    row: Vec<i32>,
    /// Whether each value's row in the file is known, kept only once one is not (values from
    /// a file always have it).
    row_known: Option<Vec<bool>>,
}

impl Columns {
    fn new() -> Columns {
        Columns {
            slab: Vec::with_capacity(CHUNK),
            uid: Vec::with_capacity(CHUNK),
            value: Vec::with_capacity(CHUNK),
            row: Vec::with_capacity(CHUNK),
            row_known: None,
        }
    }

    fn push(&mut self, slab: i32, f: &StoredFact) {
        self.slab.push(slab);
        self.uid.push(f.uid as i32);
        self.value.push(f.value);
        if f.row.is_none() && self.row_known.is_none() {
            self.row_known = Some(vec![true; self.row.len()]);
        }
        if let Some(k) = &mut self.row_known {
            k.push(f.row.is_some());
        }
        self.row
            .push(f.row.map_or(0, |r| r.min(i32::MAX as u32) as i32));
    }

    fn finish(self) -> Result<RecordBatch, StoreError> {
        // Column types come from the arrays; the names are the table's.
        let cols: [(&str, ArrayRef); 4] = [
            ("slab", Arc::new(Int32Array::from(self.slab))),
            ("uid", Arc::new(Int32Array::from(self.uid))),
            ("value", Arc::new(Float64Array::from(self.value))),
            (
                "source_row",
                Arc::new(Int32Array::new(
                    self.row.into(),
                    self.row_known.map(NullBuffer::from),
                )),
            ),
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

/// Rewrites a schema-2 file (texts in the facts, a `current_obs` table) into numbers and slabs
/// (schema 4), in one transaction: nothing is lost, and an interrupted upgrade leaves the file
/// as it was.
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
             DROP TABLE observations;",
        )
        .ctx(ctx)?;
        split_history(conn, "observations_v3").ctx(ctx)?;
        conn.execute_batch("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
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
            tracing::info!("upgraded the store from schema version 2 to 4");
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Splits a schema-3 file's one table of values (`observations`, eight numbers a value) into
/// `slabs` and `history` (schema 4), in one transaction.
pub fn upgrade_from_v3(conn: &Connection) -> Result<(), StoreError> {
    let ctx = "upgrading the schema from version 3";
    let t = std::time::Instant::now();
    conn.execute_batch("BEGIN TRANSACTION").ctx(ctx)?;
    let result = split_history(conn, "observations").and_then(|()| {
        conn.execute_batch("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    });
    match result {
        Ok(()) => {
            conn.execute_batch("COMMIT").ctx(ctx)?;
            tracing::info!(
                ms = t.elapsed().as_millis() as u64,
                "upgraded the store from schema version 3 to 4"
            );
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e).ctx(ctx)
        }
    }
}

/// Moves the values of `table` (the columns of schema 3's `observations`) into `slabs` and
/// `history`, then drops it. A slab per (indicator, period, disaggregation, submission, source
/// column), numbered in the order the table first has it; its values keep the table's order.
fn split_history(conn: &Connection, table: &str) -> Result<(), duckdb::Error> {
    conn.execute_batch(&format!(
        "INSERT INTO slabs
             SELECT (row_number() OVER (ORDER BY first))::INTEGER,
                    ind, pid, disagg, submission, source_col
             FROM (SELECT ind, pid, disagg, submission, source_col, min(rowid) AS first
                   FROM {table} GROUP BY ALL);
         INSERT INTO history
             SELECT s.id, o.uid, o.value, o.source_row
             FROM {table} o JOIN slabs s
                 ON s.ind = o.ind AND s.pid = o.pid AND s.disagg = o.disagg
                AND s.submission = o.submission
                AND s.source_col IS NOT DISTINCT FROM o.source_col
             ORDER BY s.id, o.rowid;
         DROP TABLE {table};"
    ))
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

    /// The store's tables and views, with `check` added to the history's value column.
    fn history_table(conn: &Connection, check: &str) {
        let schema = include_str!("schema.sql");
        let value = "value      DOUBLE NOT NULL,";
        assert!(schema.contains(value));
        conn.execute_batch(&schema.replace(value, &format!("value DOUBLE NOT NULL {check},")))
            .unwrap();
        conn.execute_batch(include_str!("views.sql")).unwrap();
        register_feed(conn).unwrap();
    }

    fn facts(n: usize) -> Vec<StoredFact> {
        (0..n)
            .map(|i| StoredFact {
                ind: (i % 7) as i16,
                uid: i as u32 * 3,
                pid: 16_200 + (i / 100) as i32,
                disagg: (i % 2) as i32,
                value: i as f64 * 1.5 - 7.25,
                row: (i % 5 != 0).then_some(i as u32 + 2),
                col: (i % 3 != 0).then_some((i % 40) as i16),
            })
            .collect()
    }

    fn stored(conn: &Connection) -> Vec<(StoredFact, i64)> {
        let mut stmt = conn.prepare("SELECT * FROM observations").unwrap();
        stmt.query_map([], |r| {
            Ok((
                StoredFact {
                    ind: r.get(0)?,
                    uid: r.get(1)?,
                    pid: r.get(2)?,
                    disagg: r.get(3)?,
                    value: r.get(4)?,
                    row: r.get(6)?,
                    col: r.get(7)?,
                },
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn the_history_gets_every_value_fed_once() {
        let conn = Connection::open_in_memory().unwrap();
        history_table(&conn, "");
        // Chunks are 2,048 rows: none, one short one, exactly one, and many with a remainder.
        for n in [0, 1, CHUNK, 3 * CHUNK + 17] {
            conn.execute_batch("DELETE FROM history; DELETE FROM slabs")
                .unwrap();
            let all = facts(n);
            assert_eq!(
                append_facts(&conn, 42, all.iter().copied()).unwrap(),
                n as u64
            );
            // DuckDB's threads may store their chunks in any order.
            let mut got = stored(&conn);
            got.sort_by_key(|(f, _)| f.uid);
            assert_eq!(got.len(), n);
            let order: bool = conn
                .query_row(
                    "SELECT current_setting('preserve_insertion_order')",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(order, "insertion order left off after the insert");
            for (i, (f, submission)) in got.into_iter().enumerate() {
                assert_eq!((f, submission), (all[i], 42), "row {i} of {n}");
            }
        }
    }

    #[test]
    fn values_that_share_a_slab_are_stored_under_one_and_uploads_never_share_one() {
        let conn = Connection::open_in_memory().unwrap();
        history_table(&conn, "");
        // Three runs: a total of 5,000 units, a disaggregation, and another indicator whose
        // values come from no file (no row, no column).
        let grouped = |shift: f64| -> Vec<StoredFact> {
            let run = |n: u32, ind, disagg, col: Option<i16>| {
                (0..n).map(move |u| StoredFact {
                    ind,
                    uid: u * 2 + 1,
                    pid: 16_210,
                    disagg,
                    value: f64::from(u) + shift,
                    row: col.map(|_| u + 2),
                    col,
                })
            };
            run(5_000, 1, 0, Some(3))
                .chain(run(10, 1, 2, Some(4)))
                .chain(run(300, 2, 0, None))
                .collect()
        };
        assert_eq!(append_facts(&conn, 7, grouped(0.0)).unwrap(), 5_310);
        assert_eq!(append_facts(&conn, 8, grouped(0.5)).unwrap(), 5_310);
        let mut stmt = conn
            .prepare("SELECT id, ind, disagg, submission, source_col FROM slabs ORDER BY id")
            .unwrap();
        let slabs: Vec<(i32, i16, i32, i64, Option<i16>)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            slabs,
            vec![
                (1, 1, 0, 7, Some(3)),
                (2, 1, 2, 7, Some(4)),
                (3, 2, 0, 7, None),
                (4, 1, 0, 8, Some(3)),
                (5, 1, 2, 8, Some(4)),
                (6, 2, 0, 8, None),
            ]
        );
        let mut got = stored(&conn);
        got.sort_by(|(a, sa), (b, sb)| {
            (sa, a.ind, a.disagg, a.uid).cmp(&(sb, b.ind, b.disagg, b.uid))
        });
        let want: Vec<(StoredFact, i64)> = [(7, 0.0), (8, 0.5)]
            .into_iter()
            .flat_map(|(sub, shift)| grouped(shift).into_iter().map(move |f| (f, sub)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_history_insert_that_fails_part_way_returns_and_keeps_nothing() {
        let conn = Connection::open_in_memory().unwrap();
        history_table(&conn, "CHECK (value < 100000)");
        // Value 100,000 comes at row 66,672: DuckDB stops there, and the feed's thread has
        // filled its queue behind it; the call must return (not wait on the queue) and the
        // rollback keep nothing.
        let all = facts((QUEUE + 100) * CHUNK);
        conn.execute_batch("BEGIN").unwrap();
        let err = append_facts(&conn, 1, all.iter().copied()).unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{err}");
        conn.execute_batch("ROLLBACK").unwrap();
        assert!(stored(&conn).is_empty());
        // The insert ran with insertion order off; the aborted transaction kept it off.
        reset_insertion_order(&conn).unwrap();
        // The connection and the table function still work.
        assert_eq!(append_facts(&conn, 2, facts(10)).unwrap(), 10);
        assert_eq!(stored(&conn).len(), 10);
    }
}
