//! Comparing an upload's facts with the stored values: which are new, which revise a stored
//! value (and which revision they replace), which repeat it unchanged; and the outliers, values
//! that moved by more than half against the previous period (from this upload or the store).
//! The stored values read are only those of the upload's indicators and periods (and the
//! periods before them), in one query.

use duckdb::Connection;
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Float64Type, Int16Type, Int32Type};
use rustc_hash::FxHashMap as HashMap;

use dieuhanh_protocol::number::format_vi_auto;
use dieuhanh_protocol::period::Period;

use crate::store::facts::{IndicatorIds, disagg_ids};
use crate::store::{DbContext, StoreError};

use super::IngestError;
use super::report::{ErrorCode, MAX_LISTED, RowError, column_letter};
use super::resolve::{Fact, Resolution, key};

/// Relative change against the previous period above which a value is flagged.
const OUTLIER_RATIO: f64 = 0.5;

/// What happens to one fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Equal to the stored current value: not a new revision.
    Unchanged,
    New,
    /// Replaces the stored revision given.
    Revises(i32),
}

/// The comparison of an upload with the store.
#[derive(Debug, Default)]
pub struct Comparison {
    /// One per fact, in the same order.
    pub fates: Vec<Fate>,
    pub new: u64,
    pub revised: u64,
    pub unchanged: u64,
    pub warnings: Vec<RowError>,
    pub warnings_total: u64,
    /// Stored indicator number by catalogue number.
    pub indicator_ids: HashMap<u16, i16>,
    /// Stored disaggregation number by upload-local number; `None` for texts not stored yet.
    pub disagg_ids: Vec<Option<i32>>,
}

/// Compares `res` with the current values stored.
pub fn compare(conn: &Connection, res: &Resolution) -> Result<Comparison, IngestError> {
    let ids = IndicatorIds::read(conn)?;
    let mut out = Comparison::default();
    let mut catalogue_no: HashMap<i16, u16> = HashMap::default();
    for (&no, code) in &res.indicators {
        let id = ids.id(code).ok_or_else(|| {
            StoreError::Task(format!(
                "indicator {code} has no stored number; restart the server"
            ))
        })?;
        out.indicator_ids.insert(no, id);
        catalogue_no.insert(id, no);
    }
    let stored_disaggs = disagg_ids(conn)?;
    out.disagg_ids = res
        .disaggs
        .iter()
        .map(|t| stored_disaggs.get(t).copied())
        .collect();
    let local_disagg: HashMap<i32, u16> = out
        .disagg_ids
        .iter()
        .enumerate()
        .filter_map(|(local, id)| id.map(|id| (id, local as u16)))
        .collect();

    let stored = read_stored(conn, res, &out, &catalogue_no, &local_disagg)?;

    out.fates.reserve_exact(res.facts.len());
    for f in &res.facts {
        let fate = match stored.get(f.key, f.disagg) {
            None => Fate::New,
            Some((v, _)) if v == f.value => Fate::Unchanged,
            Some((_, revision)) => Fate::Revises(revision),
        };
        match fate {
            Fate::New => out.new += 1,
            Fate::Unchanged => out.unchanged += 1,
            Fate::Revises(_) => out.revised += 1,
        }
        out.fates.push(fate);
    }

    let mut last: Option<(i32, i32)> = None;
    for f in &res.facts {
        if f.value < 0.0 {
            continue;
        }
        let pid = f.pid();
        let prev_pid = match last {
            Some((p, prev)) if p == pid => prev,
            _ => {
                let prev = res.periods.get(&pid).map_or(-1, |(_, prev)| *prev);
                last = Some((pid, prev));
                prev
            }
        };
        let prev_key = key(f.indicator(), prev_pid, f.uid());
        let prev = res
            .find(prev_key, f.disagg)
            .map(|p| p.value)
            .or_else(|| stored.get(prev_key, f.disagg).map(|(v, _)| v));
        let Some(prev) = prev else { continue };
        if prev > 0.0 && (f.value / prev - 1.0).abs() > OUTLIER_RATIO {
            out.warnings_total += 1;
            if out.warnings.len() < MAX_LISTED {
                out.warnings.push(outlier(res, f, prev, prev_pid));
            }
        }
    }
    Ok(out)
}

fn outlier(res: &Resolution, f: &Fact, prev: f64, prev_pid: i32) -> RowError {
    let ind = res
        .indicators
        .get(&f.indicator())
        .map_or("", String::as_str);
    let label = crate::store::facts::period_of_no(prev_pid)
        .as_ref()
        .map_or_else(String::new, Period::label_vi);
    RowError {
        row: Some(u64::from(f.row)),
        column: Some(column_letter(usize::from(f.col))),
        field: None,
        value: Some(format_vi_auto(f.value)),
        code: ErrorCode::Outlier,
        reason: format!(
            "{ind}: {} is {:+.0}% against {} in {label}",
            format_vi_auto(f.value),
            (f.value / prev - 1.0) * 100.0,
            format_vi_auto(prev)
        ),
        hint: "accepted; check the figure and send a correction if it is wrong".into(),
    }
}

/// Stored current values (value, revision) by upload key and upload-local disaggregation.
#[derive(Default)]
struct Stored {
    totals: HashMap<u64, (f64, i32)>,
    disagg: HashMap<(u64, u16), (f64, i32)>,
}

impl Stored {
    fn get(&self, key: u64, disagg: u16) -> Option<(f64, i32)> {
        if disagg == 0 {
            self.totals.get(&key).copied()
        } else {
            self.disagg.get(&(key, disagg)).copied()
        }
    }
}

fn read_stored(
    conn: &Connection,
    res: &Resolution,
    cmp: &Comparison,
    catalogue_no: &HashMap<i16, u16>,
    local_disagg: &HashMap<i32, u16>,
) -> Result<Stored, IngestError> {
    let mut out = Stored::default();
    if res.facts.is_empty() {
        return Ok(out);
    }
    let list = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>().join(",");
    let inds = list(&mut cmp.indicator_ids.values().map(|i| i.to_string()));
    let pids = list(
        &mut res
            .periods
            .iter()
            .flat_map(|(&pid, (_, prev))| [pid, *prev])
            .map(|p| p.to_string()),
    );
    let disaggs = list(&mut local_disagg.keys().map(|d| d.to_string()));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT ind, pid, uid, disagg, value, revision FROM current_obs
             WHERE ind IN ({inds}) AND pid IN ({pids}) AND disagg IN ({disaggs})"
        ))
        .ctx("reading the stored values")?;
    let batches: Vec<_> = stmt
        .query_arrow([])
        .ctx("reading the stored values")?
        .collect();
    for b in &batches {
        let ind = b.column(0).as_primitive::<Int16Type>();
        let pid = b.column(1).as_primitive::<Int32Type>();
        let uid = b.column(2).as_primitive::<Int32Type>();
        let dis = b.column(3).as_primitive::<Int32Type>();
        let val = b.column(4).as_primitive::<Float64Type>();
        let rev = b.column(5).as_primitive::<Int32Type>();
        for r in 0..b.num_rows() {
            let (Some(&no), Some(&d)) = (
                catalogue_no.get(&ind.value(r)),
                local_disagg.get(&dis.value(r)),
            ) else {
                continue;
            };
            let k = key(no, pid.value(r), uid.value(r) as u32);
            let v = (val.value(r), rev.value(r));
            if d == 0 {
                out.totals.insert(k, v);
            } else {
                out.disagg.insert((k, d), v);
            }
        }
    }
    Ok(out)
}
