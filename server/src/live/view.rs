//! A view's content: which indicators, units and periods its cells cover (the periods shown plus,
//! for the headline comparisons, the same periods last year and the year-to-date of both), how
//! to read them all from the serving index (a snapshot), and which changes of an event touch it.
//!
//! Walls showing the same panel share it: [`Plans`] resolves each distinct view once (one copy
//! of its units and names for thousands of connections), and [`Deltas`] keeps the text of each
//! recent delta by view, so a change is serialised once per distinct view, not per connection.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};

use super::socket::Encoded;

use dieuhanh_protocol::live::{
    Cell, IndicatorInfo, Periods, PlanValue, TargetInfo, UnitInfo, View,
};
use dieuhanh_protocol::period::{CivilDate, Period};

use crate::catalogue::Catalogue;
use crate::hierarchy::{Era, Hierarchy, Level};
use crate::query::find_unit;
use crate::serving::ServingIndex;

use super::LiveEvent;

/// A resolved view.
#[derive(Debug, Clone)]
pub struct ViewPlan {
    /// (number in the serving index, description).
    pub indicators: Vec<(u16, IndicatorInfo)>,
    /// Sorted unit ids, and their descriptions in the same order.
    pub uids: Vec<u32>,
    pub units: Vec<UnitInfo>,
    codes: HashMap<u32, String>,
    /// Every period whose cells the view holds, sorted.
    pub periods: Vec<Period>,
}

impl ViewPlan {
    pub fn cells(&self) -> usize {
        self.indicators.len() * self.uids.len() * self.periods.len()
    }

    /// The unit code of an id in the view.
    pub fn code(&self, uid: u32) -> &str {
        self.codes.get(&uid).map_or("", String::as_str)
    }
}

/// Resolves a view; the error says what to fix.
pub fn plan(
    view: &View,
    cat: &Catalogue,
    h: &Hierarchy,
    index: &ServingIndex,
    today: CivilDate,
) -> Result<ViewPlan, String> {
    if view.indicators.is_empty() {
        return Err("the view names no indicator; give \"indicators\": [\"VM02\"]".into());
    }
    let mut indicators = Vec::new();
    for code in &view.indicators {
        let ind = cat
            .resolve_indicator(code)
            .ok_or_else(|| format!("no indicator {code:?}; GET /api/indicators lists them"))?;
        let n = index
            .number(&ind.code)
            .ok_or_else(|| format!("indicator {code:?} is not served"))?;
        indicators.push((
            n,
            IndicatorInfo {
                code: ind.code.clone(),
                name: ind.name_vi.clone(),
                unit: ind.unit.clone(),
                decimals: ind.decimals,
                higher_is_better: ind.higher_is_better,
                frequency: Some(ind.frequency),
                agency: Some(ind.agency.clone()),
                target: ind.target.as_ref().map(|t| TargetInfo {
                    kind: t.kind.as_str().into(),
                    values: t
                        .values
                        .iter()
                        .map(|(&year, &value)| PlanValue { year, value })
                        .collect(),
                }),
            },
        ));
    }
    let shown: Vec<Period> = match &view.periods {
        Periods::List(list) => list.clone(),
        Periods::Range { from, to } => Period::range(*from, *to).map_err(|e| e.to_string())?,
    };
    if shown.is_empty() {
        return Err("the view names no period".into());
    }
    let mut periods: BTreeSet<Period> = shown.iter().copied().collect();
    if view.comparisons {
        for p in &shown {
            let ly = p.same_period_last_year();
            periods.extend([ly, p.ytd(), ly.ytd()]);
        }
    }
    let at = match &view.at {
        Some(t) => CivilDate::parse_any(t).map_err(|e| format!("at: {e}"))?,
        None => today,
    };
    let mut uids: BTreeSet<u32> = BTreeSet::new();
    for code in &view.units {
        uids.insert(find_unit(h, code, at).map_err(|e| e.to_string())?.uid);
    }
    if let Some(parent) = &view.children_of {
        let p = find_unit(h, parent, at).map_err(|e| e.to_string())?;
        let level = match view.level.as_deref() {
            Some(l) => Level::parse(l)
                .ok_or_else(|| format!("level {l:?} is not one of province, district, commune"))?,
            None => match p.level {
                Level::Nation => Level::Province,
                _ => Level::Commune,
            },
        };
        // Provinces in the structure of `at` (history restated); lower levels as they reported
        // the latest period shown.
        let era = if level == Level::Province {
            Era::at(at)
        } else {
            shown.iter().max().map_or(Era::at(at), Era::of_period)
        };
        uids.insert(p.uid);
        uids.extend(h.descendants(p.uid, level, era).iter().copied());
    }
    if uids.is_empty() {
        return Err("the view names no unit; give \"units\" or \"children_of\"".into());
    }
    let uids: Vec<u32> = uids.into_iter().collect();
    let mut units = Vec::with_capacity(uids.len());
    let mut codes = HashMap::with_capacity(uids.len());
    for &u in &uids {
        if let Some(unit) = h.unit(u) {
            codes.insert(u, unit.code.clone());
            units.push(UnitInfo {
                code: unit.code.clone(),
                name: unit.name.clone(),
                level: unit.level.as_str().into(),
                parent: unit.parent.and_then(|p| h.unit(p)).map(|p| p.code.clone()),
            });
        }
    }
    Ok(ViewPlan {
        indicators,
        uids,
        units,
        codes,
        periods: periods.into_iter().collect(),
    })
}

/// Every cell of the view that has a value.
pub fn snapshot(plan: &ViewPlan, index: &ServingIndex) -> Vec<Cell> {
    let mut out = Vec::new();
    let _ = index.with(|m| {
        for (n, info) in &plan.indicators {
            for p in &plan.periods {
                let Some(slab) = m.get(&(*n, *p)) else {
                    continue;
                };
                for &u in &plan.uids {
                    if let Some(s) = slab.get(u) {
                        out.push(Cell {
                            i: info.code.clone(),
                            u: plan.code(u).to_owned(),
                            p: *p,
                            v: Some(s.value),
                            c: s.coverage(),
                        });
                    }
                }
            }
        }
    });
    out
}

/// The changes of `event` inside the view, as (indicator number, period, unit) → value.
pub fn touched(
    plan: &ViewPlan,
    event: &LiveEvent,
    into: &mut HashMap<(u16, Period, u32), super::CellNow>,
) -> bool {
    let Some(by_key) = &event.by_key else {
        return false;
    };
    for (n, _) in &plan.indicators {
        for p in &plan.periods {
            let Some(changes) = by_key.get(&(*n, *p)) else {
                continue;
            };
            // Walk the shorter list, probe the longer one.
            if changes.len() <= plan.uids.len() {
                for (u, v) in changes {
                    if plan.uids.binary_search(u).is_ok() {
                        into.insert((*n, *p, *u), *v);
                    }
                }
            } else {
                for u in &plan.uids {
                    if let Ok(i) = changes.binary_search_by_key(u, |(x, _)| *x) {
                        into.insert((*n, *p, *u), changes[i].1);
                    }
                }
            }
        }
    }
    true
}

/// Resolved views by what was asked and the day it was resolved (views name periods and
/// structures relative to today), shared while a connection holds them.
#[derive(Debug, Default)]
pub struct Plans {
    inner: Mutex<PlansInner>,
}

#[derive(Debug, Default)]
struct PlansInner {
    map: HashMap<String, Weak<ViewPlan>>,
    /// Size at which dead entries are next swept.
    sweep_at: usize,
}

impl Plans {
    /// The shared plan of `view` on `today`, resolved by `resolve` if no connection holds it.
    pub fn get_or_resolve(
        &self,
        view: &View,
        today: CivilDate,
        resolve: impl FnOnce() -> Result<ViewPlan, String>,
    ) -> Result<Arc<ViewPlan>, String> {
        let Ok(text) = serde_json::to_string(view) else {
            return resolve().map(Arc::new);
        };
        let key = format!("{today:?}|{text}");
        if let Ok(inner) = self.inner.lock()
            && let Some(plan) = inner.map.get(&key).and_then(Weak::upgrade)
        {
            return Ok(plan);
        }
        // Resolved outside the lock: two connections may both resolve a new view; either copy
        // serves.
        let plan = Arc::new(resolve()?);
        if let Ok(mut inner) = self.inner.lock() {
            if inner.map.len() >= inner.sweep_at {
                inner.map.retain(|_, p| p.strong_count() > 0);
                inner.sweep_at = (inner.map.len() * 2).max(64);
            }
            inner.map.insert(key, Arc::downgrade(&plan));
        }
        Ok(plan)
    }
}

/// Which delta a text is: the plan's address (the entry holds the plan, so the address is not
/// reused while it lives) and the versions; a plain copyable key, as it is looked up once per
/// connection and view on every change.
type DeltaKey = (usize, i64, i64);

/// The texts made for one plan and versions, by view id (walls name the same view alike, so
/// this is nearly always one).
#[derive(Debug)]
struct DeltaTexts {
    _plan: Arc<ViewPlan>,
    by_id: Vec<(Arc<str>, Encoded)>,
}

/// What [`Deltas::lookup`] knows of a view's delta.
#[derive(Debug)]
pub enum Known {
    /// Another connection on the same view and versions made its text.
    Text(Encoded),
    /// The change does not touch the view's plan: nothing to send.
    Untouched,
    /// Nothing yet: work it out from the change.
    Nothing,
}

/// Texts of the deltas to the latest version, made by the first connection that needed each.
/// Older ones are dropped when a newer version arrives: only connections that fell behind (and
/// coalesce several versions) miss, and they make their own.
#[derive(Debug, Default)]
pub struct Deltas {
    inner: Mutex<DeltasInner>,
}

#[derive(Debug, Default)]
struct DeltasInner {
    version: i64,
    map: rustc_hash::FxHashMap<DeltaKey, DeltaTexts>,
    /// Plans (by address, held) that the change of `version` does not touch: connections on
    /// them skip the lookup of every indicator and period.
    untouched: rustc_hash::FxHashMap<usize, Arc<ViewPlan>>,
}

impl DeltasInner {
    /// Moves on to `version` (dropping what was kept for older ones); false if it is older.
    fn advance(&mut self, version: i64) -> bool {
        if version < self.version {
            return false;
        }
        if version > self.version {
            self.map.clear();
            self.untouched.clear();
            self.version = version;
        }
        true
    }
}

impl Deltas {
    /// What is known of the delta of view `id` on `plan` from `from` to `to`, in one lock (it
    /// is asked once per connection and view on every change).
    pub fn lookup(&self, plan: &Arc<ViewPlan>, id: &str, from: i64, to: i64) -> Known {
        let Ok(inner) = self.inner.lock() else {
            return Known::Nothing;
        };
        if inner.version != to {
            return Known::Nothing;
        }
        let ptr = Arc::as_ptr(plan) as usize;
        if inner.untouched.contains_key(&ptr) {
            return Known::Untouched;
        }
        inner
            .map
            .get(&(ptr, from, to))
            .and_then(|texts| texts.by_id.iter().find(|(i, _)| &**i == id))
            .map_or(Known::Nothing, |(_, t)| Known::Text(t.clone()))
    }

    pub fn put(&self, plan: &Arc<ViewPlan>, id: &Arc<str>, from: i64, to: i64, text: Encoded) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if !inner.advance(to) {
            return;
        }
        let texts = inner
            .map
            .entry((Arc::as_ptr(plan) as usize, from, to))
            .or_insert_with(|| DeltaTexts {
                _plan: plan.clone(),
                by_id: Vec::new(),
            });
        match texts.by_id.iter_mut().find(|(i, _)| i == id) {
            Some(slot) => slot.1 = text,
            None => texts.by_id.push((id.clone(), text)),
        }
    }

    /// Records that the change of `version` does not touch `plan`.
    pub fn mark_untouched(&self, plan: &Arc<ViewPlan>, version: i64) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.advance(version)
        {
            inner
                .untouched
                .insert(Arc::as_ptr(plan) as usize, plan.clone());
        }
    }
}
