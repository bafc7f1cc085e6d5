//! Comparing an upload's facts with the stored values: which are new, which revise a stored
//! value (and which revision they replace), which repeat it unchanged; and the outliers, values
//! that moved by more than half against the previous period (from this upload or the store).
//! The stored values read are only those of the upload's indicators and periods (and the
//! periods before them), in one query.

use duckdb::Connection;
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Float64Type, Int16Type, Int32Type, Int64Type};
use rustc_hash::FxHashMap as HashMap;

use dieuhanh_protocol::number::format_vi_auto;
use dieuhanh_protocol::period::Period;

use crate::store::facts::{IndicatorIds, disagg_ids};
use crate::store::{DbContext, StoreError};

use super::IngestError;
use super::parts::in_parts;
use super::report::{ErrorCode, RowError, column_letter};
use super::resolve::{Earliest, Fact, Resolution, Slab};

/// Relative change against the previous period above which a value is flagged.
const OUTLIER_RATIO: f64 = 0.5;

/// What happens to one fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Equal to the stored current value: not a new revision.
    Unchanged,
    New,
    /// Replaces the stored value of the submission given.
    Revises(i64),
}

/// What happens to the facts of one slab, in their order.
#[derive(Debug)]
pub enum SlabFates {
    /// Nothing stored for the slab's indicator and period (a first upload of them, by far the
    /// commonest case): every fact is new, and 16 bytes a value are not spent saying so.
    AllNew,
    Each(Vec<Fate>),
}

impl SlabFates {
    /// The fate of the slab's `i`-th fact.
    pub fn get(&self, i: usize) -> Fate {
        match self {
            SlabFates::AllNew => Fate::New,
            SlabFates::Each(f) => f[i],
        }
    }
}

/// The comparison of an upload with the store.
#[derive(Debug, Default)]
pub struct Comparison {
    /// One per slab, in the order of [`Resolution::slabs`].
    pub fates: Vec<SlabFates>,
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

/// The stored current values of one indicator and period: (unit, upload-local
/// disaggregation, value, submission), sorted like a slab's facts.
type StoredSlab = Vec<(u32, u16, f64, i64)>;

/// The item of `items` (sorted by `cell`) for `f`'s cell, found by moving `at` forward: the
/// facts asked about come in the same order, so a whole run is one merge.
fn seek<'a, T>(
    items: &'a [T],
    at: &mut usize,
    f: &Fact,
    cell: impl Fn(&T) -> (u32, u16),
) -> Option<&'a T> {
    while *at < items.len() && cell(&items[*at]) < f.cell() {
        *at += 1;
    }
    items.get(*at).filter(|i| cell(i) == f.cell())
}

fn stored_cell(s: &(u32, u16, f64, i64)) -> (u32, u16) {
    (s.0, s.1)
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
    // Slabs are compared independently: on every core for a large upload.
    let mut slabs: Vec<&Slab> = res.slabs.iter().collect();
    let parts = in_parts(
        &mut slabs,
        |s| s.facts.len(),
        |part| compare_slabs(res, &stored, part),
    );
    out.fates.reserve_exact(res.slabs.len());
    let mut warnings: Earliest<RowError> = Earliest::default();
    for p in parts {
        out.fates.extend(p.fates);
        out.new += p.new;
        out.revised += p.revised;
        out.unchanged += p.unchanged;
        warnings.absorb(p.warnings);
    }
    out.warnings_total = warnings.total;
    out.warnings = warnings.into_sorted();
    Ok(out)
}

/// The comparison of a run of slabs.
#[derive(Default)]
struct Part {
    fates: Vec<SlabFates>,
    new: u64,
    revised: u64,
    unchanged: u64,
    warnings: Earliest<RowError>,
}

fn compare_slabs(
    res: &Resolution,
    stored: &HashMap<(u16, i32), StoredSlab>,
    slabs: &[&Slab],
) -> Part {
    let none: StoredSlab = Vec::new();
    let mut out = Part::default();
    for slab in slabs {
        let st = stored.get(&(slab.ind, slab.pid)).unwrap_or(&none);
        if st.is_empty() {
            out.new += slab.facts.len() as u64;
            out.fates.push(SlabFates::AllNew);
        } else {
            let mut at = 0;
            let mut fates = Vec::with_capacity(slab.facts.len());
            for f in &slab.facts {
                let fate = match seek(st, &mut at, f, stored_cell) {
                    None => Fate::New,
                    Some(s) if s.2 == f.value => Fate::Unchanged,
                    Some(s) => Fate::Revises(s.3),
                };
                match fate {
                    Fate::New => out.new += 1,
                    Fate::Unchanged => out.unchanged += 1,
                    Fate::Revises(_) => out.revised += 1,
                }
                fates.push(fate);
            }
            out.fates.push(SlabFates::Each(fates));
        }

        let Some(&(_, prev_pid)) = res.periods.get(&slab.pid) else {
            continue;
        };
        let upload_prev = res
            .slab(slab.ind, prev_pid)
            .map_or(&[][..], |s| &s.facts[..]);
        let stored_prev = stored.get(&(slab.ind, prev_pid)).unwrap_or(&none);
        let (mut i, mut j) = (0, 0);
        for f in &slab.facts {
            if f.value < 0.0 {
                continue;
            }
            let prev = seek(upload_prev, &mut i, f, Fact::cell)
                .map(|p| p.value)
                .or_else(|| seek(stored_prev, &mut j, f, stored_cell).map(|s| s.2));
            let Some(prev) = prev else { continue };
            if prev > 0.0 && (f.value / prev - 1.0).abs() > OUTLIER_RATIO {
                out.warnings
                    .offer(f.row, f.col, || outlier(res, slab.ind, f, prev, prev_pid));
            }
        }
    }
    out
}

fn outlier(res: &Resolution, ind: u16, f: &Fact, prev: f64, prev_pid: i32) -> RowError {
    let code = res.indicators.get(&ind).map_or("", String::as_str);
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
            "{code}: {} is {:+.0}% against {} in {label}",
            format_vi_auto(f.value),
            (f.value / prev - 1.0) * 100.0,
            format_vi_auto(prev)
        ),
        hint: "accepted; check the figure and send a correction if it is wrong".into(),
        message_vi: String::new(),
    }
}

fn read_stored(
    conn: &Connection,
    res: &Resolution,
    cmp: &Comparison,
    catalogue_no: &HashMap<i16, u16>,
    local_disagg: &HashMap<i32, u16>,
) -> Result<HashMap<(u16, i32), StoredSlab>, IngestError> {
    let mut out: HashMap<(u16, i32), StoredSlab> = HashMap::default();
    if res.slabs.is_empty() {
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
            "SELECT ind, pid, uid, disagg, value, submission FROM current_obs
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
        let sub = b.column(5).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            let (Some(&no), Some(&d)) = (
                catalogue_no.get(&ind.value(r)),
                local_disagg.get(&dis.value(r)),
            ) else {
                continue;
            };
            out.entry((no, pid.value(r))).or_default().push((
                uid.value(r) as u32,
                d,
                val.value(r),
                sub.value(r),
            ));
        }
    }
    for slab in out.values_mut() {
        slab.sort_unstable_by_key(|s| (s.0, s.1));
    }
    Ok(out)
}
