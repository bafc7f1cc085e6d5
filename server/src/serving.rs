//! The serving index: every value of `cells` in memory, grouped by (indicator, period) and
//! sorted by unit, so a drill-down (children × four periods) is a few binary searches instead
//! of a database query. DuckDB stays the store of record: the index is loaded from `cells` at
//! start and, after each accepted upload, the (indicator, year) pairs it recomputed are
//! reloaded from the committed data under the writer lock — so readers see a value only once it
//! is durable, and every reload follows the order of data versions.
//!
//! Memory: about 20 bytes per cell (value, unit id, coverage, kind), e.g. ~180 MB for the demo
//! data set's 8.7 million cells.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use duckdb::Connection;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{DataType, Float64Type, Int32Type, UInt8Type};
use duckdb::arrow::record_batch::RecordBatch;

use dieuhanh_protocol::period::Period;

use crate::query::{Cell, CellKind, CellMap};
use crate::store::{DbContext, StoreError};

/// One stored value without its key.
#[derive(Debug, Clone, Copy)]
struct Slot {
    value: f64,
    n_units: u16,
    n_expected: u16,
    kind: u8,
}

/// The cells of one (indicator, period), sorted by unit id.
#[derive(Debug, Default)]
struct Slab {
    uids: Vec<u32>,
    slots: Vec<Slot>,
}

#[derive(Debug, Default)]
struct Inner {
    slabs: HashMap<(String, String), Slab>,
    cells: usize,
}

/// The in-memory index; cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct ServingIndex {
    inner: RwLock<Inner>,
}

const KIND_SQL: &str = "CASE kind WHEN 'reported' THEN 0 WHEN 'aggregated' THEN 1
    WHEN 'restated' THEN 2 WHEN 'rolled' THEN 3 ELSE 4 END::UTINYINT";

fn kind_of(code: u8) -> CellKind {
    match code {
        0 => CellKind::Reported,
        1 => CellKind::Aggregated,
        2 => CellKind::Restated,
        3 => CellKind::Rolled,
        _ => CellKind::Ratio,
    }
}

impl ServingIndex {
    /// Loads every cell.
    pub fn load(conn: &Connection) -> Result<ServingIndex, StoreError> {
        let index = ServingIndex::default();
        index.reload_all(conn)?;
        Ok(index)
    }

    /// Replaces everything with what `conn` sees.
    pub fn reload_all(&self, conn: &Connection) -> Result<(), StoreError> {
        let slabs = read_slabs(conn, "TRUE")?;
        let mut inner = self
            .inner
            .write()
            .map_err(|_| StoreError::Task("serving index poisoned".into()))?;
        inner.cells = slabs.values().map(|s| s.uids.len()).sum();
        inner.slabs = slabs;
        Ok(())
    }

    /// Replaces the cells of the given (indicator, year) pairs with what `conn` sees.
    pub fn reload(
        &self,
        conn: &Connection,
        pairs: &BTreeSet<(String, i32)>,
    ) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let by_indicator: HashMap<&str, Vec<i32>> =
            pairs.iter().fold(HashMap::new(), |mut m, (i, y)| {
                m.entry(i.as_str()).or_default().push(*y);
                m
            });
        let filter = by_indicator
            .iter()
            .map(|(i, years)| {
                let ys = years
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                // Codes come from the catalogue, never from raw input.
                format!("(indicator = '{}' AND year IN ({ys}))", i.replace('\'', ""))
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let fresh = read_slabs(conn, &filter)?;
        let mut inner = self
            .inner
            .write()
            .map_err(|_| StoreError::Task("serving index poisoned".into()))?;
        inner.slabs.retain(|(ind, period), _| {
            let year = period.get(..4).and_then(|y| y.parse::<i32>().ok());
            !year.is_some_and(|y| pairs.contains(&(ind.clone(), y)))
        });
        inner.slabs.extend(fresh);
        inner.cells = inner.slabs.values().map(|s| s.uids.len()).sum();
        Ok(())
    }

    /// Number of cells held.
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |i| i.cells)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells of one indicator for units × periods (missing ones are absent).
    pub fn read(&self, indicator: &str, uids: &[u32], periods: &[Period]) -> CellMap {
        let mut out = CellMap::with_capacity(uids.len() * periods.len());
        let Ok(inner) = self.inner.read() else {
            return out;
        };
        for p in periods {
            let id = p.id();
            let Some(slab) = inner.slabs.get(&(indicator.to_owned(), id.clone())) else {
                continue;
            };
            for &u in uids {
                if let Ok(i) = slab.uids.binary_search(&u) {
                    let s = slab.slots[i];
                    out.insert(
                        (u, id.clone()),
                        Cell {
                            value: s.value,
                            kind: kind_of(s.kind),
                            n_units: i32::from(s.n_units),
                            n_expected: i32::from(s.n_expected),
                        },
                    );
                }
            }
        }
        out
    }
}

/// Reads cells matching `filter` into slabs (sorted by unit).
fn read_slabs(
    conn: &Connection,
    filter: &str,
) -> Result<HashMap<(String, String), Slab>, StoreError> {
    let sql = format!(
        "SELECT indicator, period, uid, value, {KIND_SQL} AS k,
                least(n_units, 65535)::INTEGER, least(n_expected, 65535)::INTEGER
         FROM cells WHERE {filter} ORDER BY indicator, period, uid"
    );
    let mut stmt = conn.prepare(&sql).ctx("loading the serving index")?;
    let batches: Vec<RecordBatch> = stmt
        .query_arrow([])
        .ctx("loading the serving index")?
        .collect();
    let mut slabs: HashMap<(String, String), Slab> = HashMap::new();
    let mut key: Option<(String, String)> = None;
    let mut cur = Slab::default();
    for b in &batches {
        let ind = strings(b.column(0).as_ref())?;
        let per = strings(b.column(1).as_ref())?;
        let uid = b.column(2).as_primitive::<Int32Type>();
        let val = b.column(3).as_primitive::<Float64Type>();
        let kind = b.column(4).as_primitive::<UInt8Type>();
        let nu = b.column(5).as_primitive::<Int32Type>();
        let ne = b.column(6).as_primitive::<Int32Type>();
        for r in 0..b.num_rows() {
            let (i, p) = (ind(r), per(r));
            if key.as_ref().is_none_or(|(ki, kp)| ki != i || kp != p) {
                if let Some(k) = key.take() {
                    slabs.insert(k, std::mem::take(&mut cur));
                }
                key = Some((i.to_owned(), p.to_owned()));
            }
            cur.uids.push(uid.value(r) as u32);
            cur.slots.push(Slot {
                value: val.value(r),
                n_units: nu.value(r) as u16,
                n_expected: ne.value(r) as u16,
                kind: kind.value(r),
            });
        }
    }
    if let Some(k) = key {
        slabs.insert(k, cur);
    }
    Ok(slabs)
}

/// Row accessor for a text column, whatever string layout DuckDB's Arrow export chose.
fn strings<'a>(a: &'a dyn Array) -> Result<Box<dyn Fn(usize) -> &'a str + 'a>, StoreError> {
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Ok(Box::new(move |i| s.value(i)))
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            Ok(Box::new(move |i| s.value(i)))
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            Ok(Box::new(move |i| s.value(i)))
        }
        other => Err(StoreError::Task(format!(
            "unexpected Arrow type {other} for a text column"
        ))),
    }
}
