//! The served values in memory: every reported value and everything aggregation derives from
//! it, grouped by (indicator, period) and sorted by unit, so a drill-down (children × four
//! periods) is a few binary searches. DuckDB holds the facts (submissions, the history of every
//! value, the current values); this index is derived from them — built from `current_obs` at
//! start, and after each accepted upload updated with its values and re-aggregated by
//! [`crate::aggregate`] under the writer lock, so readers see a value only once it is durable.
//!
//! Memory: about 20 bytes per cell (value, unit id, coverage, kind), e.g. ~180 MB for the demo
//! data set's 8.7 million cells.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use dieuhanh_protocol::period::{Frequency, Period};

use crate::catalogue::Catalogue;
use crate::query::{Cell, CellKind, CellMap};

/// One value without its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub value: f64,
    pub n_units: u16,
    pub n_expected: u16,
    pub kind: CellKind,
}

impl Slot {
    /// The reporting units behind an aggregated value and those expected, as the live push
    /// writes them (`None` for a value of one unit).
    pub fn coverage(&self) -> Option<[u32; 2]> {
        (self.n_expected > 1).then_some([u32::from(self.n_units), u32::from(self.n_expected)])
    }

    pub fn reported(value: f64) -> Slot {
        Slot {
            value,
            n_units: 1,
            n_expected: 1,
            kind: CellKind::Reported,
        }
    }

    fn cell(self) -> Cell {
        Cell {
            value: self.value,
            kind: self.kind,
            n_units: i32::from(self.n_units),
            n_expected: i32::from(self.n_expected),
        }
    }
}

/// The cells of one (indicator, period), sorted by unit id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slab {
    pub uids: Vec<u32>,
    pub slots: Vec<Slot>,
}

impl Slab {
    /// From (unit, slot) pairs in any order.
    pub fn from_pairs(mut pairs: Vec<(u32, Slot)>) -> Slab {
        pairs.sort_unstable_by_key(|(u, _)| *u);
        let (uids, slots) = pairs.into_iter().unzip();
        Slab { uids, slots }
    }

    pub fn get(&self, uid: u32) -> Option<Slot> {
        self.uids.binary_search(&uid).ok().map(|i| self.slots[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, Slot)> + '_ {
        self.uids.iter().copied().zip(self.slots.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }
}

/// Indicator number (its position in the catalogue) and period.
pub type Key = (u16, Period);

/// Slabs of one indicator and year, by period.
pub type YearSlabs = BTreeMap<Period, Slab>;

/// The in-memory index.
#[derive(Debug)]
pub struct ServingIndex {
    codes: Vec<String>,
    numbers: HashMap<String, u16>,
    inner: RwLock<BTreeMap<Key, Slab>>,
    /// Data version of the last complete batch of changes. Held for writing while a batch is
    /// applied, so a reader that needs one consistent version (a live snapshot) waits for it.
    batch: RwLock<i64>,
}

impl ServingIndex {
    /// An empty index for the catalogue's indicators.
    pub fn new(cat: &Catalogue) -> ServingIndex {
        let codes: Vec<String> = cat.indicators.iter().map(|i| i.code.clone()).collect();
        let numbers = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as u16))
            .collect();
        ServingIndex {
            codes,
            numbers,
            inner: RwLock::new(BTreeMap::new()),
            batch: RwLock::new(0),
        }
    }

    /// The number of an indicator code.
    pub fn number(&self, code: &str) -> Option<u16> {
        self.numbers.get(code).copied()
    }

    /// The code of an indicator number.
    pub fn code(&self, number: u16) -> &str {
        self.codes
            .get(usize::from(number))
            .map_or("", String::as_str)
    }

    /// Applies the changes of data version `version` with `f`, atomically for
    /// [`ServingIndex::consistent`] readers.
    pub fn apply_batch<R>(&self, version: i64, f: impl FnOnce() -> R) -> R {
        let guard = self.batch.write();
        let out = f();
        if let Ok(mut v) = guard {
            *v = version;
        }
        out
    }

    /// Runs `f` while no batch is being applied; returns the version `f` saw.
    pub fn consistent<R>(&self, f: impl FnOnce() -> R) -> (i64, R) {
        let guard = self.batch.read();
        let version = guard.as_deref().copied().unwrap_or(0);
        (version, f())
    }

    /// The data version of the last complete batch.
    pub fn version(&self) -> i64 {
        self.batch.read().map_or(0, |v| *v)
    }

    /// Number of cells held.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .map_or(0, |m| m.values().map(Slab::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells of one indicator for units × periods (missing ones are absent).
    pub fn read(&self, indicator: &str, uids: &[u32], periods: &[Period]) -> CellMap {
        let mut out =
            CellMap::with_capacity_and_hasher(uids.len() * periods.len(), Default::default());
        let (Some(n), Ok(inner)) = (self.number(indicator), self.inner.read()) else {
            return out;
        };
        for p in periods {
            let Some(slab) = inner.get(&(n, *p)) else {
                continue;
            };
            for &u in uids {
                if let Some(s) = slab.get(u) {
                    out.insert((u, *p), s.cell());
                }
            }
        }
        out
    }

    /// The latest period of `freq` in which `uid` has a value of the indicator.
    pub fn latest_period(&self, indicator: &str, uid: u32, freq: Frequency) -> Option<Period> {
        let n = self.number(indicator)?;
        let inner = self.inner.read().ok()?;
        let first = Period::Month {
            year: dieuhanh_protocol::period::MIN_YEAR,
            month: 1,
        };
        inner
            .range((n, first)..(n + 1, first))
            .rev()
            .find(|((_, p), slab)| p.frequency() == Some(freq) && slab.get(uid).is_some())
            .map(|((_, p), _)| *p)
    }

    /// Runs `f` with read access to every slab.
    pub fn with<R>(&self, f: impl FnOnce(&BTreeMap<Key, Slab>) -> R) -> Option<R> {
        self.inner.read().ok().map(|m| f(&m))
    }

    /// The slabs of one indicator and year, copied.
    pub fn year(&self, indicator: u16, year: i32) -> YearSlabs {
        self.with(|m| {
            m.range(year_range(indicator, year))
                .map(|((_, p), s)| (*p, s.clone()))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Replaces the slabs of one indicator and year; returns the old ones.
    pub fn replace_year(&self, indicator: u16, year: i32, new: YearSlabs) -> YearSlabs {
        let Ok(mut m) = self.inner.write() else {
            return YearSlabs::new();
        };
        let keys: Vec<Key> = m
            .range(year_range(indicator, year))
            .map(|(k, _)| *k)
            .collect();
        let mut old = YearSlabs::new();
        for k in keys {
            if let Some(s) = m.remove(&k) {
                old.insert(k.1, s);
            }
        }
        for (p, s) in new {
            if !s.is_empty() {
                m.insert((indicator, p), s);
            }
        }
        old
    }

    /// Every cell, for exports (the benchmark hands them to PostgreSQL).
    pub fn for_each(&self, mut f: impl FnMut(&str, &Period, u32, &Cell)) {
        let _ = self.with(|m| {
            for ((n, p), slab) in m {
                let code = self.code(*n);
                for (u, s) in slab.iter() {
                    f(code, p, u, &s.cell());
                }
            }
        });
    }
}

/// The key range of one indicator's periods of one year: they all start in that year, and sort
/// before the first month of the next.
fn year_range(indicator: u16, year: i32) -> (Bound<Key>, Bound<Key>) {
    (
        Bound::Included((indicator, Period::Month { year, month: 1 })),
        Bound::Excluded((
            indicator,
            Period::Month {
                year: year + 1,
                month: 1,
            },
        )),
    )
}
