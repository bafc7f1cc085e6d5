//! The approval standing of the reports walls follow (`reports` messages): which regime's report
//! of which period for which unit, its state, and how many units below have reported and are
//! approved as they stand. Leaders read "20/34 tỉnh đã duyệt" beside the figures.
//!
//! One board for the whole server: connections ask for keys (counted, so a report followed by
//! fifty walls is computed once), and a task computes the standings again after an accepted
//! upload touches a followed report's indicators and period, after an approval of it, or when
//! a key is asked for the first time. Triggers are gathered for a moment ([`SETTLE`]) so that a
//! burst of uploads costs one computation, not one each; nothing is computed while no wall
//! follows a report.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use dieuhanh_protocol::live::{ReportKey, ReportStanding};
use dieuhanh_protocol::period::Period;

use crate::approval::{self, ApproveRequest, Reports};
use crate::catalogue::Catalogue;
use crate::events::{ChangeEvent, Events};
use crate::hierarchy::Hierarchy;
use crate::ingest::Scope;
use crate::store::{Store, StoreError};

/// How long triggers are gathered before the standings are computed again.
pub const SETTLE: Duration = Duration::from_millis(200);

/// A regime's reports of one period: what one `Reports::load` answers.
type Group = (String, Period);

/// The reports followed, their standings, and what to compute again.
#[derive(Default)]
pub struct Board {
    inner: Mutex<Inner>,
    wake: Notify,
    /// Moves on whenever standings change; connections following reports watch it.
    stamp: watch::Sender<u64>,
}

#[derive(Default)]
struct Inner {
    /// Every key followed, with how many connections follow it.
    asked: HashMap<ReportKey, usize>,
    standing: HashMap<ReportKey, ReportStanding>,
    dirty: HashSet<Group>,
}

impl Board {
    /// A receiver that sees every change of the standings.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.stamp.subscribe()
    }

    /// Follows `keys` (for one more connection); those not computed yet are computed soon.
    pub fn ask(&self, keys: &[ReportKey]) {
        let mut new = false;
        if let Ok(mut inner) = self.inner.lock() {
            for k in keys {
                *inner.asked.entry(k.clone()).or_default() += 1;
                if !inner.standing.contains_key(k) {
                    inner.dirty.insert((k.regime.clone(), k.period));
                    new = true;
                }
            }
        }
        if new {
            self.wake.notify_one();
        }
    }

    /// One connection no longer follows `keys`.
    pub fn forget(&self, keys: &[ReportKey]) {
        if let Ok(mut inner) = self.inner.lock() {
            for k in keys {
                if let Some(n) = inner.asked.get_mut(k) {
                    *n -= 1;
                    if *n == 0 {
                        inner.asked.remove(k);
                        inner.standing.remove(k);
                    }
                }
            }
        }
    }

    /// The standings of `keys` in that order, once all of them are computed.
    pub fn standings(&self, keys: &[ReportKey]) -> Option<Vec<ReportStanding>> {
        let inner = self.inner.lock().ok()?;
        keys.iter()
            .map(|k| inner.standing.get(k).cloned())
            .collect()
    }

    /// A report of `regime` for `period` changed (an approval): its followers get it again.
    pub fn touch(&self, regime: &str, period: Period) {
        let followed = self.inner.lock().is_ok_and(|mut inner| {
            let followed = inner
                .asked
                .keys()
                .any(|k| k.regime == regime && k.period == period);
            if followed {
                inner.dirty.insert((regime.to_owned(), period));
            }
            followed
        });
        if followed {
            self.wake.notify_one();
        }
    }

    /// Marks the followed reports an accepted change may have moved: those of a regime with a
    /// changed indicator in the report's period (every followed one when the change was too
    /// large to list).
    fn touch_event(&self, cat: &Catalogue, e: &ChangeEvent) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.asked.is_empty() {
            return;
        }
        let groups: HashSet<Group> = inner
            .asked
            .keys()
            .map(|k| (k.regime.clone(), k.period))
            .collect();
        let touched: Vec<Group> = match &e.cells {
            None => groups.into_iter().collect(),
            Some(cells) => {
                let changed: HashSet<(&str, Period)> = cells
                    .iter()
                    .map(|c| (c.indicator.as_str(), c.period))
                    .collect();
                groups
                    .into_iter()
                    .filter(|(regime, period)| {
                        cat.regime(regime).is_some_and(|r| {
                            r.indicators
                                .iter()
                                .any(|i| changed.contains(&(i.as_str(), *period)))
                        })
                    })
                    .collect()
            }
        };
        inner.dirty.extend(touched);
    }

    fn touch_all(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            let groups: Vec<Group> = inner
                .asked
                .keys()
                .map(|k| (k.regime.clone(), k.period))
                .collect();
            inner.dirty.extend(groups);
        }
    }

    fn is_dirty(&self) -> bool {
        self.inner.lock().is_ok_and(|inner| !inner.dirty.is_empty())
    }

    /// The groups to compute and the keys followed in each.
    fn take_dirty(&self) -> Vec<(Group, Vec<ReportKey>)> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        let dirty = std::mem::take(&mut inner.dirty);
        dirty
            .into_iter()
            .map(|g| {
                let keys = inner
                    .asked
                    .keys()
                    .filter(|k| k.regime == g.0 && k.period == g.1)
                    .cloned()
                    .collect();
                (g, keys)
            })
            .filter(|(_, keys): &(Group, Vec<ReportKey>)| !keys.is_empty())
            .collect()
    }

    /// Keeps the new standings of keys still followed; moves the stamp if any changed.
    fn put(&self, computed: Vec<ReportStanding>) {
        let changed = self.inner.lock().is_ok_and(|mut inner| {
            let mut changed = false;
            for s in computed {
                if !inner.asked.contains_key(&s.key) {
                    continue;
                }
                if inner.standing.get(&s.key) != Some(&s) {
                    inner.standing.insert(s.key.clone(), s);
                    changed = true;
                }
            }
            changed
        });
        if changed {
            self.stamp.send_modify(|n| *n += 1);
        }
    }

    /// Computes the followed standings again whenever something may have moved them, until
    /// `cancel`.
    pub fn run(self: Arc<Self>, store: Store, events: &Events, cancel: CancellationToken) {
        let mut rx = events.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.wake.notified() => {}
                    got = rx.recv() => match got {
                        Ok(e) => self.touch_event(store.catalogue(), &e),
                        Err(broadcast::error::RecvError::Lagged(_)) => self.touch_all(),
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
                // A change no followed report depends on: nothing to gather or compute.
                if !self.is_dirty() {
                    continue;
                }
                tokio::time::sleep(SETTLE).await;
                loop {
                    match rx.try_recv() {
                        Ok(e) => self.touch_event(store.catalogue(), &e),
                        Err(broadcast::error::TryRecvError::Lagged(_)) => self.touch_all(),
                        Err(_) => break,
                    }
                }
                let groups = self.take_dirty();
                if groups.is_empty() {
                    continue;
                }
                let (cat, h) = (store.catalogue().clone(), store.hierarchy().clone());
                let n = groups.len();
                let t = std::time::Instant::now();
                match store
                    .read(move |conn| compute(conn, &cat, &h, &groups))
                    .await
                {
                    Ok(computed) => {
                        tracing::debug!(
                            reports = computed.len(),
                            groups = n,
                            ms = t.elapsed().as_millis() as u64,
                            "report standings computed"
                        );
                        self.put(computed);
                    }
                    Err(e) => tracing::warn!(error = %e, "computing report standings failed"),
                }
            }
        });
    }
}

/// Checks a key a wall asked for: a regime of the catalogue, a period of its frequency, a unit
/// in force then at or above the regime's level. The error says which and what to write.
pub fn check(cat: &Catalogue, h: &Hierarchy, key: &ReportKey) -> Result<(), String> {
    let req = request(key);
    approval::resolve(cat, h, &req, &Scope::default())
        .map(|_| ())
        .map_err(|e| {
            format!(
                "report {} {} {}: {e}",
                key.regime,
                key.period.id(),
                key.unit
            )
        })
}

fn request(key: &ReportKey) -> ApproveRequest {
    ApproveRequest {
        regime: key.regime.clone(),
        unit: key.unit.clone(),
        period: key.period.id(),
        approver: None,
        note: None,
    }
}

/// The standings of the keys of each group, one load of the regime's reports per group.
fn compute(
    conn: &duckdb::Connection,
    cat: &Catalogue,
    h: &Hierarchy,
    groups: &[(Group, Vec<ReportKey>)],
) -> Result<Vec<ReportStanding>, StoreError> {
    let mut out = Vec::new();
    for ((regime, period), keys) in groups {
        let Some(r) = cat.regime(regime) else {
            continue;
        };
        let reports = Reports::load(conn, h, r, *period)?;
        for k in keys {
            // Checked when asked; a key that no longer resolves is left without a standing.
            if let Ok((_, _, unit)) = approval::resolve(cat, h, &request(k), &Scope::default()) {
                out.push(reports.standing(k.clone(), unit));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

    use std::time::SystemTime;

    use super::*;
    use crate::aggregate::CellChange;
    use dieuhanh_protocol::live::ReportState;

    fn catalogue() -> Catalogue {
        Catalogue::load(&crate::assets_dir().join("catalogue/catalogue.toml")).unwrap()
    }

    fn month(m: u8) -> Period {
        Period::Month {
            year: 2026,
            month: m,
        }
    }

    fn key(regime: &str, unit: &str) -> ReportKey {
        ReportKey {
            regime: regime.into(),
            period: month(10),
            unit: unit.into(),
        }
    }

    fn event(cells: Option<Vec<(&str, Period)>>) -> ChangeEvent {
        ChangeEvent::new(
            2,
            1,
            SystemTime::now(),
            1,
            cells.map(|c| {
                c.into_iter()
                    .map(|(i, p)| CellChange {
                        indicator: i.into(),
                        uid: 1,
                        period: p,
                        value: Some(1.0),
                        coverage: None,
                    })
                    .collect()
            }),
        )
    }

    fn dirty(board: &Board) -> Vec<Group> {
        let mut g: Vec<Group> = board.take_dirty().into_iter().map(|(g, _)| g).collect();
        g.sort();
        g
    }

    /// A change marks only the followed reports it can move: a regime with a changed indicator
    /// in the report's own period; a change too large to list marks them all.
    #[test]
    fn a_change_touches_the_reports_of_its_indicators_and_period_only() {
        let cat = catalogue();
        let board = Board::default();
        board.ask(&[key("BC-HT", "VN"), key("BC-KTXH", "VN")]);
        assert_eq!(dirty(&board).len(), 2, "new keys are computed");
        // Births (XH02) are civil registration's; October, not September.
        board.touch_event(&cat, &event(Some(vec![("XH02", month(9))])));
        assert!(dirty(&board).is_empty());
        board.touch_event(&cat, &event(Some(vec![("XH02", month(10))])));
        assert_eq!(dirty(&board), vec![("BC-HT".to_owned(), month(10))]);
        // State budget revenue (NS01) is in the provinces' monthly report.
        board.touch_event(&cat, &event(Some(vec![("NS01", month(10))])));
        assert_eq!(dirty(&board), vec![("BC-KTXH".to_owned(), month(10))]);
        board.touch_event(&cat, &event(None));
        assert_eq!(dirty(&board).len(), 2);
        // An approval of a report nobody follows costs nothing.
        board.touch("BC-HT", month(9));
        assert!(dirty(&board).is_empty());
    }

    /// Standings are kept while some connection follows them, and sent in the order asked.
    #[test]
    fn standings_are_counted_per_follower_and_dropped_with_the_last() {
        let board = Board::default();
        let stamp = board.watch();
        let (a, b) = (key("BC-HT", "VN"), key("BC-HT", "04"));
        board.ask(&[a.clone(), b.clone()]);
        board.ask(std::slice::from_ref(&a));
        assert_eq!(
            board.standings(&[a.clone(), b.clone()]),
            None,
            "not computed yet"
        );
        let standing = |k: &ReportKey| ReportStanding {
            key: k.clone(),
            state: ReportState::NotReported,
            below_level: None,
            below: 0,
            below_reported: 0,
            below_approved: 0,
            approved: Vec::new(),
            approved_at_ms: None,
        };
        board.put(vec![standing(&a), standing(&b)]);
        assert!(stamp.has_changed().unwrap());
        let both = board.standings(&[b.clone(), a.clone()]).unwrap();
        assert_eq!((&both[0].key, &both[1].key), (&b, &a));
        board.forget(&[a.clone(), b.clone()]);
        assert_eq!(
            board.standings(std::slice::from_ref(&b)),
            None,
            "no one follows it"
        );
        assert!(
            board.standings(std::slice::from_ref(&a)).is_some(),
            "still followed once"
        );
        // The same standing again moves nothing.
        let mut stamp = board.watch();
        stamp.mark_unchanged();
        board.put(vec![standing(&a)]);
        assert!(!stamp.has_changed().unwrap());
    }
}
