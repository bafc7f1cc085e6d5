//! Aggregation up the hierarchy and through time, run for the (indicator, year) pairs an
//! accepted upload touched — not as a nightly job: computed before its commit ([`prepare`]) and
//! swapped into the serving index right after it, so the served values and the live push follow
//! the commit within a swap. Each pair is rebuilt from its reported values:
//!
//! 1. reported totals, as they are;
//! 2. every ancestor by the indicator's rule (sum, or weighted mean with the weight indicator's
//!    value for the unit in the latest year available), including the 2025 province a 2024 unit
//!    went into — so 2023 figures exist for today's 34 provinces;
//! 3. quarters, halves and years from months (or quarters) when every sub-period is present (a
//!    quarter of two months would mislead), and year-to-date (lũy kế) when every month up to it is;
//! 4. ratios of two additive indicators, at every unit and period where both parts exist.
//!
//! Indicators that depend on others are rebuilt after them: means weighted by a changed weight
//! (for that year and later, as later years may borrow it), ratios of a changed part. The cells
//! that changed are returned, for the live push. Everything here is derived from `current_obs`,
//! so [`build`] recreates it at start.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

// Keys here are unit ids and catalogue codes, never raw upload text: the fast hash is safe.
use rustc_hash::FxHashMap as HashMap;

use duckdb::Connection;
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Float64Type, Int16Type, Int32Type};
use serde::Serialize;

use dieuhanh_protocol::period::{Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue, Indicator, Temporal};
use crate::hierarchy::{Era, Hierarchy, Level};
use crate::query::CellKind;
use crate::serving::{ServingIndex, Slab, Slot, YearSlabs};
use crate::store::{DbContext, StoreError};

/// Above this many changed cells an event says "resynchronise" instead of listing them.
pub const MAX_LISTED_CHANGES: usize = 200_000;

/// One served value that changed: `value` is `None` when it no longer exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellChange {
    pub indicator: String,
    pub uid: u32,
    pub period: Period,
    pub value: Option<f64>,
    /// Reporting units behind the new value and expected ([`Slot::coverage`]).
    pub coverage: Option<[u32; 2]>,
}

/// What a recompute changed.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Number of served values that changed, appeared or disappeared.
    pub count: usize,
    /// The changes, unless there were more than [`MAX_LISTED_CHANGES`].
    pub cells: Option<Vec<CellChange>>,
    /// The (indicator, year) pairs recomputed, dependents included.
    pub pairs: BTreeSet<(String, i32)>,
}

/// A reported total that an upload made current.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reported {
    pub indicator: u16,
    pub period: Period,
    pub uid: u32,
    pub value: f64,
}

type Pair = (u16, i32);

/// Puts reported values into the index and re-aggregates everything they affect.
pub fn apply(
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    reported: &[Reported],
) -> Changes {
    prepare(index, cat, h, reported).install(index)
}

/// Re-aggregated years computed but not yet in the index, and what they change.
#[derive(Debug)]
pub struct Prepared {
    years: BTreeMap<Pair, YearSlabs>,
    changes: Changes,
}

impl Prepared {
    /// Swaps the recomputed years into the index (callers hold its batch lock, see
    /// [`ServingIndex::apply_batch`]); returns what changed.
    pub fn install(self, index: &ServingIndex) -> Changes {
        for ((n, year), slabs) in self.years {
            index.replace_year(n, year, slabs);
        }
        self.changes
    }
}

/// Computes what [`apply`] would change without touching the index, so an upload can do the
/// work before its commit and only swap the result in after it. Nothing else may change the
/// index in between (uploads hold the store's writer lock throughout).
pub fn prepare(
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    reported: &[Reported],
) -> Prepared {
    let mut updates: HashMap<Pair, Vec<Reported>> = HashMap::default();
    for r in reported {
        updates
            .entry((r.indicator, r.period.year()))
            .or_default()
            .push(*r);
    }
    let direct: BTreeSet<Pair> = updates.keys().copied().collect();
    recompute(index, cat, h, &direct, &updates)
}

/// The index as a recompute sees it: the years already recomputed in place of the index's.
struct Overlay<'a> {
    index: &'a ServingIndex,
    years: BTreeMap<Pair, YearSlabs>,
}

impl Overlay<'_> {
    fn year(&self, n: u16, year: i32) -> YearSlabs {
        match self.years.get(&(n, year)) {
            Some(slabs) => slabs.clone(),
            None => self.index.year(n, year),
        }
    }

    /// A unit's value of an indicator for a whole year.
    fn yearly(&self, n: u16, uid: u32, year: i32) -> Option<f64> {
        let p = Period::Year { year };
        match self.years.get(&(n, year)) {
            Some(slabs) => slabs.get(&p).and_then(|s| s.get(uid)).map(|s| s.value),
            None => self
                .index
                .with(|m| m.get(&(n, p)).and_then(|s| s.get(uid)).map(|s| s.value))
                .flatten(),
        }
    }
}

/// Builds the whole index from the current values in the store.
pub fn build(
    conn: &Connection,
    cat: &Catalogue,
    h: &Hierarchy,
) -> Result<ServingIndex, StoreError> {
    let started = std::time::Instant::now();
    let index = ServingIndex::new(cat);
    let reported = read_current(conn, &index)?;
    let changes = apply(&index, cat, h, &reported);
    tracing::info!(
        reported = reported.len(),
        cells = changes.count,
        ms = started.elapsed().as_millis() as u64,
        "served values aggregated from the current values"
    );
    Ok(index)
}

/// Reads the current reported totals (`current_obs`, no disaggregation).
pub fn read_current(conn: &Connection, index: &ServingIndex) -> Result<Vec<Reported>, StoreError> {
    let ids = crate::store::facts::IndicatorIds::read(conn)?;
    let mut stmt = conn
        .prepare("SELECT ind, pid, uid, value FROM current_obs WHERE disagg = 0")
        .ctx("reading current values")?;
    let batches: Vec<_> = stmt
        .query_arrow([])
        .ctx("reading current values")?
        .collect();
    // Stored numbers → the index's numbers and periods, each worked out once.
    let mut numbers: HashMap<i16, Option<u16>> = HashMap::default();
    let mut periods: HashMap<i32, Option<Period>> = HashMap::default();
    let mut out = Vec::new();
    for b in &batches {
        let ind = b.column(0).as_primitive::<Int16Type>();
        let pid = b.column(1).as_primitive::<Int32Type>();
        let uid = b.column(2).as_primitive::<Int32Type>();
        let val = b.column(3).as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            let n = *numbers
                .entry(ind.value(r))
                .or_insert_with(|| ids.code(ind.value(r)).and_then(|c| index.number(c)));
            let p = *periods
                .entry(pid.value(r))
                .or_insert_with(|| crate::store::facts::period_of_no(pid.value(r)));
            if let (Some(n), Some(period)) = (n, p) {
                out.push(Reported {
                    indicator: n,
                    period,
                    uid: uid.value(r) as u32,
                    value: val.value(r),
                });
            }
        }
    }
    Ok(out)
}

/// Rebuilds the `direct` pairs and everything derived from them.
fn recompute(
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    direct: &BTreeSet<Pair>,
    updates: &HashMap<Pair, Vec<Reported>>,
) -> Prepared {
    let phases = plan(index, cat, direct);
    let mut overlay = Overlay {
        index,
        years: BTreeMap::new(),
    };
    let mut changes = Changes::default();
    let mut listed: Vec<CellChange> = Vec::new();
    // Cells counted so far across threads: once past the listing limit, nothing more is listed.
    let counted = AtomicUsize::new(0);
    for phase in &phases {
        // The pairs of a phase depend only on earlier phases: they are rebuilt side by side.
        let pairs: Vec<Pair> = phase.iter().copied().collect();
        let rebuilt = par_map(&pairs, |&(n, year)| {
            let ind = cat.indicators.get(usize::from(n))?;
            let old = overlay.year(n, year);
            let new = match ind.aggregation {
                Aggregation::Ratio => ratio_year(&overlay, ind, year),
                _ => rebuild_year(
                    &overlay,
                    h,
                    ind,
                    year,
                    &old,
                    updates.get(&(n, year)).map_or(&[][..], Vec::as_slice),
                ),
            };
            let mut count = 0;
            let mut cells = Vec::new();
            let list = counted.load(Ordering::Relaxed) <= MAX_LISTED_CHANGES;
            diff(
                &ind.code,
                &old,
                &new,
                &mut count,
                list.then_some(&mut cells),
            );
            counted.fetch_add(count, Ordering::Relaxed);
            Some((new, count, cells))
        });
        for (&(n, year), done) in pairs.iter().zip(rebuilt) {
            let (Some((new, count, cells)), Some(ind)) = (done, cat.indicators.get(usize::from(n)))
            else {
                continue;
            };
            changes.count += count;
            let room = MAX_LISTED_CHANGES.saturating_sub(listed.len());
            listed.extend(cells.into_iter().take(room));
            overlay.years.insert((n, year), new);
            changes.pairs.insert((ind.code.clone(), year));
        }
    }
    changes.cells = (changes.count <= MAX_LISTED_CHANGES).then_some(listed);
    Prepared {
        years: overlay.years,
        changes,
    }
}

/// `f` over `items` on up to one thread per core, the results in the items' order. Items are
/// handed out one at a time, as their costs differ (a year of monthly commune data against a
/// yearly national one).
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            // A worker's panic is the caller's: no result may go missing.
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Three ordered phases: additive and unaggregated indicators, then weighted means (their
/// weights come from phase one), then ratios (their parts come from phases one and two).
fn plan(index: &ServingIndex, cat: &Catalogue, direct: &BTreeSet<Pair>) -> [BTreeSet<Pair>; 3] {
    let mut phases: [BTreeSet<Pair>; 3] = Default::default();
    let phase_of = |a: Aggregation| match a {
        Aggregation::Sum | Aggregation::None => 0,
        Aggregation::WeightedMean => 1,
        Aggregation::Ratio => 2,
    };
    for &(n, year) in direct {
        if let Some(ind) = cat.indicators.get(usize::from(n)) {
            phases[phase_of(ind.aggregation)].insert((n, year));
        }
    }
    // A weight's value for one year is borrowed by later years that have none yet.
    let last_year = index
        .with(|m| m.keys().map(|(_, p)| p.year()).max())
        .flatten()
        .unwrap_or(0);
    for from in 0..2 {
        let pairs: Vec<Pair> = phases[from].iter().copied().collect();
        for (n, year) in pairs {
            let code = index.code(n).to_owned();
            for dep in cat.dependents_of(&code) {
                let Some(d) = index.number(&dep.code) else {
                    continue;
                };
                match dep.aggregation {
                    Aggregation::WeightedMean if from == 0 => {
                        for y in year..=last_year.max(year) {
                            phases[1].insert((d, y));
                        }
                    }
                    Aggregation::Ratio => {
                        phases[2].insert((d, year));
                    }
                    _ => {}
                }
            }
        }
    }
    phases
}

/// The base periods (the indicator's frequency) of a year.
fn base_periods(freq: Frequency, year: i32) -> Vec<Period> {
    match freq {
        Frequency::Month => (1..=12)
            .map(|month| Period::Month { year, month })
            .collect(),
        Frequency::Quarter => (1..=4)
            .map(|quarter| Period::Quarter { year, quarter })
            .collect(),
        Frequency::Half => (1..=2).map(|half| Period::Half { year, half }).collect(),
        Frequency::Year => vec![Period::Year { year }],
    }
}

/// Steps 1–3 for one indicator and year.
fn rebuild_year(
    index: &Overlay<'_>,
    h: &Hierarchy,
    ind: &Indicator,
    year: i32,
    old: &YearSlabs,
    updates: &[Reported],
) -> YearSlabs {
    let bases = base_periods(ind.frequency, year);
    // Reported values: the old ones, with the upload's on top.
    let mut reported: BTreeMap<Period, HashMap<u32, f64>> = BTreeMap::new();
    for p in &bases {
        let m = reported.entry(*p).or_default();
        if let Some(slab) = old.get(p) {
            for (u, s) in slab.iter() {
                if s.kind == CellKind::Reported {
                    m.insert(u, s.value);
                }
            }
        }
    }
    // An upload's values come period by period: one map lookup per run, not per value.
    for run in updates.chunk_by(|a, b| a.period == b.period) {
        let m = reported.entry(run[0].period).or_default();
        m.reserve(run.len());
        for r in run {
            m.insert(r.uid, r.value);
        }
    }

    let mut weights: HashMap<u32, Option<f64>> = HashMap::default();
    let weight_no = ind.weight.as_deref().and_then(|w| index.index.number(w));
    let mut out: BTreeMap<Period, Vec<(u32, Slot)>> = BTreeMap::new();
    for (p, values) in &reported {
        let slots = out.entry(*p).or_default();
        slots.extend(values.iter().map(|(&u, &v)| (u, Slot::reported(v))));
        match ind.aggregation {
            Aggregation::Sum => slots.extend(spatial(h, values, |_| Some(1.0), false)),
            Aggregation::WeightedMean => {
                let mut w = |u: u32| {
                    *weights
                        .entry(u)
                        .or_insert_with(|| weight_no.and_then(|wn| weight(index, wn, u, year)))
                };
                slots.extend(spatial(h, values, &mut w, true));
            }
            Aggregation::None | Aggregation::Ratio => {}
        }
    }
    let mut slabs: YearSlabs = out
        .into_iter()
        .map(|(p, v)| (p, Slab::from_pairs(v)))
        .collect();
    if ind.temporal != Temporal::None
        && matches!(ind.frequency, Frequency::Month | Frequency::Quarter)
    {
        let rolled = temporal(ind, year, &bases, &slabs);
        slabs.extend(rolled);
    }
    slabs
}

/// A unit's weight for a year: the weight indicator's yearly value in the latest year up to it,
/// else the earliest after it.
fn weight(index: &Overlay<'_>, weight_no: u16, uid: u32, year: i32) -> Option<f64> {
    let at = |y: i32| index.yearly(weight_no, uid, y);
    (0..30)
        .map(|d| year - d)
        .find_map(at)
        .or_else(|| (1..30).map(|d| year + d).find_map(at))
}

/// Values of every ancestor of the reporting units: sums, or means weighted by `weight`.
fn spatial(
    h: &Hierarchy,
    values: &HashMap<u32, f64>,
    mut weight: impl FnMut(u32) -> Option<f64>,
    weighted: bool,
) -> Vec<(u32, Slot)> {
    struct Acc {
        num: f64,
        den: f64,
        n: u32,
        restated: bool,
        level: Level,
        era: Option<Era>,
    }
    let mut acc: HashMap<u32, Acc> = HashMap::default();
    for (&u, &v) in values {
        let Some(w) = weight(u).filter(|w| *w > 0.0) else {
            continue;
        };
        let Some(unit) = h.unit(u) else { continue };
        for &(a, restated) in h.closure(u) {
            let e = acc.entry(a).or_insert(Acc {
                num: 0.0,
                den: 0.0,
                n: 0,
                restated: false,
                level: unit.level,
                era: unit.era,
            });
            e.num += v * w;
            e.den += w;
            e.n += 1;
            e.restated |= restated;
        }
    }
    acc.into_iter()
        .map(|(a, e)| {
            let expected = e
                .era
                .map_or(0, |era| h.descendants(a, e.level, era).len())
                .max(e.n as usize);
            let value = if weighted { e.num / e.den } else { e.num };
            (
                a,
                Slot {
                    value,
                    n_units: clamp16(e.n as usize),
                    n_expected: clamp16(expected),
                    kind: if e.restated {
                        CellKind::Restated
                    } else {
                        CellKind::Aggregated
                    },
                },
            )
        })
        .collect()
}

fn clamp16(n: usize) -> u16 {
    n.min(usize::from(u16::MAX)) as u16
}

/// Step 3: quarters, halves, the year and year-to-date from the base periods.
fn temporal(ind: &Indicator, year: i32, bases: &[Period], slabs: &YearSlabs) -> YearSlabs {
    let n = bases.len();
    let mut by_unit: HashMap<u32, Vec<Option<Slot>>> = HashMap::default();
    for (pos, p) in bases.iter().enumerate() {
        if let Some(slab) = slabs.get(p) {
            for (u, s) in slab.iter() {
                by_unit.entry(u).or_insert_with(|| vec![None; n])[pos] = Some(s);
            }
        }
    }
    // (parent, first position, last position) of the sub-periods it rolls up.
    let mut parents: Vec<(Period, usize, usize)> = Vec::new();
    match ind.frequency {
        Frequency::Month => {
            for q in 1..=4u8 {
                parents.push((
                    Period::Quarter { year, quarter: q },
                    usize::from(q) * 3 - 3,
                    usize::from(q) * 3 - 1,
                ));
            }
            parents.push((Period::Half { year, half: 1 }, 0, 5));
            parents.push((Period::Half { year, half: 2 }, 6, 11));
            parents.push((Period::Year { year }, 0, 11));
            for m in 1..=12u8 {
                parents.push((Period::YearToDate { year, month: m }, 0, usize::from(m) - 1));
            }
        }
        Frequency::Quarter => {
            parents.push((Period::Half { year, half: 1 }, 0, 1));
            parents.push((Period::Half { year, half: 2 }, 2, 3));
            parents.push((Period::Year { year }, 0, 3));
            for q in 1..=4u8 {
                parents.push((
                    Period::YearToDate { year, month: q * 3 },
                    0,
                    usize::from(q) - 1,
                ));
            }
        }
        Frequency::Half | Frequency::Year => {}
    }
    // By the parent's position, and without a vector per unit and parent: this runs for every
    // unit of every touched year.
    let mut out: Vec<Vec<(u32, Slot)>> = vec![Vec::new(); parents.len()];
    for (u, subs) in &by_unit {
        for (slot_of, &(_, first, last)) in out.iter_mut().zip(&parents) {
            let part = &subs[first..=last];
            if part.iter().any(Option::is_none) {
                continue;
            }
            let (mut sum, mut count, mut latest) = (0.0, 0usize, 0.0);
            let (mut n_units, mut n_expected, mut restated) = (0u16, 0u16, true);
            for s in part.iter().flatten() {
                sum += s.value;
                count += 1;
                latest = s.value;
                // The coverage of the least covered sub-period (the latest of equals). Not the
                // fewest units against the most expected: across the 2025 reform a year's
                // months count different units (2 old provinces restated, then 1 new), and
                // every month complete must read as complete.
                if count == 1
                    || u32::from(s.n_units) * u32::from(n_expected)
                        <= u32::from(n_units) * u32::from(s.n_expected)
                {
                    (n_units, n_expected) = (s.n_units, s.n_expected);
                }
                restated &= s.kind == CellKind::Restated;
            }
            let value = match ind.temporal {
                Temporal::Sum => sum,
                Temporal::Mean => sum / count as f64,
                Temporal::Last | Temporal::None => latest,
            };
            slot_of.push((
                *u,
                Slot {
                    value,
                    n_units,
                    n_expected,
                    kind: if restated {
                        CellKind::Restated
                    } else {
                        CellKind::Rolled
                    },
                },
            ));
        }
    }
    parents
        .iter()
        .zip(out)
        .filter(|(_, v)| !v.is_empty())
        .map(|(&(p, _, _), v)| (p, Slab::from_pairs(v)))
        .collect()
}

/// Step 4: a ratio indicator for one year, from its parts at every unit and period.
fn ratio_year(index: &Overlay<'_>, ind: &Indicator, year: i32) -> YearSlabs {
    let part = |c: &Option<String>| c.as_deref().and_then(|c| index.index.number(c));
    let (Some(num), Some(den)) = (part(&ind.numerator), part(&ind.denominator)) else {
        return YearSlabs::new();
    };
    let scale = ind.scale.unwrap_or(1.0);
    let (nums, dens) = (index.year(num, year), index.year(den, year));
    let mut out = YearSlabs::new();
    for (p, ns) in &nums {
        if ind.frequency == Frequency::Year && !matches!(p, Period::Year { .. }) {
            continue;
        }
        let Some(ds) = dens.get(p) else { continue };
        let pairs: Vec<(u32, Slot)> = ns
            .iter()
            .filter_map(|(u, n)| {
                let d = ds.get(u).filter(|d| d.value != 0.0)?;
                Some((
                    u,
                    Slot {
                        value: n.value / d.value * scale,
                        n_units: n.n_units.min(d.n_units),
                        n_expected: n.n_expected.max(d.n_expected),
                        kind: CellKind::Ratio,
                    },
                ))
            })
            .collect();
        if !pairs.is_empty() {
            out.insert(*p, Slab::from_pairs(pairs));
        }
    }
    out
}

/// Counts (and lists, up to the cap) the cells that differ between two versions of a year.
fn diff(
    code: &str,
    old: &YearSlabs,
    new: &YearSlabs,
    count: &mut usize,
    mut listed: Option<&mut Vec<CellChange>>,
) {
    let empty = Slab::default();
    let periods: BTreeSet<&Period> = old.keys().chain(new.keys()).collect();
    for p in periods {
        let (a, b) = (old.get(p).unwrap_or(&empty), new.get(p).unwrap_or(&empty));
        let (mut i, mut j) = (0, 0);
        let mut emit = |uid: u32, slot: Option<&Slot>| {
            *count += 1;
            if let Some(listed) = listed.as_deref_mut()
                && listed.len() < MAX_LISTED_CHANGES
            {
                listed.push(CellChange {
                    indicator: code.to_owned(),
                    uid,
                    period: *p,
                    value: slot.map(|s| s.value),
                    coverage: slot.and_then(Slot::coverage),
                });
            }
        };
        while i < a.len() || j < b.len() {
            match (a.uids.get(i), b.uids.get(j)) {
                (Some(&ua), Some(&ub)) if ua == ub => {
                    // A unit reporting late can leave a total as it was (a zero) while the
                    // number of units behind it moves: that is a change a wall shows too.
                    let (was, now) = (&a.slots[i], &b.slots[j]);
                    if was.value.to_bits() != now.value.to_bits()
                        || was.coverage() != now.coverage()
                    {
                        emit(ub, Some(now));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(&ua), Some(&ub)) if ua < ub => {
                    emit(ua, None);
                    i += 1;
                }
                (Some(_), Some(&ub)) => {
                    emit(ub, Some(&b.slots[j]));
                    j += 1;
                }
                (Some(&ua), None) => {
                    emit(ua, None);
                    i += 1;
                }
                (None, Some(&ub)) => {
                    emit(ub, Some(&b.slots[j]));
                    j += 1;
                }
                (None, None) => break,
            }
        }
    }
}
