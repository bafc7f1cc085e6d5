//! The data a wall holds: every cell its views received (snapshots, then deltas), the indicators
//! and units that label them, the recent changes for the ticker and highlights, how the reports
//! it follows stand in their approval and who has just approved them, and how fresh the feed
//! is. Fed by the live client or by a snapshot file; read by the widgets.

use std::collections::{HashMap, VecDeque};

use rustc_hash::FxHashMap;

use dieuhanh_protocol::compare::like_for_like;
use dieuhanh_protocol::live::{
    Cell, IndicatorInfo, ReportKey, ReportStanding, ReportState, ServerMessage, UnitInfo,
};
use dieuhanh_protocol::period::{Frequency, Period};

/// A cell's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CellKey {
    pub indicator: String,
    pub unit: String,
    pub period: Period,
}

/// A cell's value and when it last changed (for the highlight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellValue {
    pub value: f64,
    /// Reporting units behind the value and expected.
    pub coverage: Option<[u32; 2]>,
    /// When a delta changed it (ms since 1970); `None` for values from a snapshot.
    pub changed_at_ms: Option<i64>,
    /// The value before that change, for the animation.
    pub previous: Option<f64>,
}

/// The share of its units a total must stand for to be shown as a panel's latest period.
pub const LATEST_MIN_COVERAGE: f64 = 0.8;

impl CellValue {
    /// Whether the value stands for at least [`LATEST_MIN_COVERAGE`] of its units (a value of
    /// one unit always does).
    pub fn mostly_in(&self) -> bool {
        self.coverage.is_none_or(|[got, expected]| {
            expected == 0 || f64::from(got) >= LATEST_MIN_COVERAGE * f64::from(expected)
        })
    }
}

/// One change for the ticker.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at_ms: i64,
    pub version: i64,
    pub key: CellKey,
    pub old: Option<f64>,
    pub new: Option<f64>,
}

/// An approval for the ticker, found by comparing a report's standing with the one before:
/// `units` approved `key`'s report (the units below it, or its own unit), or, when `approved` is
/// false, a correction left their approval behind.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalNews {
    pub at_ms: i64,
    pub key: ReportKey,
    /// Official codes, in the hierarchy's order; several when one push brought them.
    pub units: Vec<String>,
    pub approved: bool,
    /// Whether they are units below the report's unit (not its own approval).
    pub below: bool,
    /// The report's standing after it ("21/34 tỉnh").
    pub below_approved: u32,
    pub below_total: u32,
    pub below_level: Option<String>,
}

impl ApprovalNews {
    /// What changed from `before` to `after`, heard at `now_ms`: units newly approved (as of
    /// their approval: after a dropped connection that may be minutes back), approvals a
    /// correction left behind (as of now: the standing does not say when), below and of the
    /// report's own unit.
    fn between(before: &ReportStanding, after: &ReportStanding, now_ms: i64) -> Vec<ApprovalNews> {
        let news = |at_ms: i64, units: Vec<String>, approved, below| ApprovalNews {
            at_ms: if at_ms > 0 { at_ms.min(now_ms) } else { now_ms },
            key: after.key.clone(),
            units,
            approved,
            below,
            below_approved: after.below_approved,
            below_total: after.below,
            below_level: after.below_level.clone(),
        };
        let mut out = Vec::new();
        let (gained, lost) = after.approvals_since(before);
        if !lost.is_empty() {
            let lost = lost.into_iter().map(str::to_owned).collect();
            out.push(news(now_ms, lost, false, true));
        }
        if let Some(latest) = gained.iter().map(|a| a.at_ms).max() {
            let units = gained.iter().map(|a| a.unit.clone()).collect();
            out.push(news(latest, units, true, true));
        }
        let own = vec![after.key.unit.clone()];
        match (before.state, after.state) {
            (ReportState::Approved, ReportState::ChangedSinceApproval) => {
                out.push(news(now_ms, own, false, false))
            }
            (b, ReportState::Approved) if b != ReportState::Approved => {
                out.push(news(after.approved_at_ms.unwrap_or(0), own, true, false))
            }
            _ => {}
        }
        out
    }
}

/// Where the data comes from and whether it is live.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// Connected and subscribed since `since_ms`: the server pushes every change.
    Live { since_ms: i64 },
    /// Not connected; the data was live until `since_ms`.
    Down { since_ms: i64, reason: String },
    /// Never connected yet.
    Connecting,
    /// A snapshot file taken at `taken_at_ms` (a preview, never live).
    File { taken_at_ms: i64 },
    /// The demo snapshot shipped in `assets/`: sample figures for previewing a layout. Never
    /// badged stale (they were never live) and said to be samples in the header.
    Demo,
}

/// The most changes the ticker keeps.
const CHANGES_KEPT: usize = 64;

/// Everything a wall shows.
#[derive(Debug, Clone)]
pub struct WallData {
    pub indicators: HashMap<String, IndicatorInfo>,
    pub units: HashMap<String, UnitInfo>,
    /// indicator → unit → period → value: widgets look up by borrowed codes (no allocation) and
    /// scan one series, not every cell, for the latest period. Fx hashing: widgets make
    /// thousands of lookups a frame, of codes from the wall's own server (no flooding to fear).
    cells: FxHashMap<String, FxHashMap<String, FxHashMap<Period, CellValue>>>,
    /// Latest data version applied.
    pub version: i64,
    /// Newest first.
    pub changes: VecDeque<Change>,
    pub feed: Feed,
    /// Data version per subscription id, for resuming.
    pub versions: HashMap<String, i64>,
    /// (ancestor, level) → the codes of the units at that level under it (any depth), sorted:
    /// bars, tables and like-for-like comparisons ask every frame. Rebuilt when a snapshot
    /// brings units.
    below: FxHashMap<(String, String), Vec<String>>,
    /// How the reports the wall follows stand in their approval, as last pushed.
    pub reports: HashMap<ReportKey, ReportStanding>,
    /// Approvals seen change since the wall began following each report, newest first (the
    /// first standing of a report tells nothing new: its approvals may be weeks old).
    pub approvals: VecDeque<ApprovalNews>,
    /// The reports a live wall follows ([`WallData::follow_reports`]); `None` takes every
    /// standing (a snapshot file).
    followed: Option<Vec<ReportKey>>,
}

impl Default for WallData {
    fn default() -> Self {
        WallData {
            indicators: HashMap::new(),
            units: HashMap::new(),
            cells: FxHashMap::default(),
            version: 0,
            changes: VecDeque::new(),
            feed: Feed::Connecting,
            versions: HashMap::new(),
            below: FxHashMap::default(),
            reports: HashMap::new(),
            approvals: VecDeque::new(),
            followed: None,
        }
    }
}

impl WallData {
    pub fn get(&self, indicator: &str, unit: &str, period: Period) -> Option<&CellValue> {
        self.cells.get(indicator)?.get(unit)?.get(&period)
    }

    pub fn value(&self, indicator: &str, unit: &str, period: Period) -> Option<f64> {
        self.get(indicator, unit, period).map(|c| c.value)
    }

    /// The periods of `frequency` (or of any kind) at or before `at_most` with a value, with it.
    fn periods_within(
        &self,
        indicator: &str,
        unit: &str,
        frequency: Option<Frequency>,
        at_most: Option<Period>,
    ) -> impl Iterator<Item = (Period, &CellValue)> {
        self.cells
            .get(indicator)
            .and_then(|u| u.get(unit))
            .into_iter()
            .flatten()
            .filter(move |(p, _)| match frequency {
                Some(f) => p.frequency() == Some(f),
                None => p.frequency().is_some(),
            })
            .filter(move |(p, _)| at_most.is_none_or(|m| p.last_month() <= m.last_month()))
            .map(|(p, c)| (*p, c))
    }

    /// The latest period of `frequency` (or any kind) at or before `at_most` with a value.
    pub fn latest_period(
        &self,
        indicator: &str,
        unit: &str,
        frequency: Option<Frequency>,
        at_most: Option<Period>,
    ) -> Option<Period> {
        self.periods_within(indicator, unit, frequency, at_most)
            .map(|(p, _)| p)
            .max_by_key(|p| (p.last_month().month_index(), p.len_months()))
    }

    /// The latest period a panel shows by default: the newest whose value stands for most of
    /// its units. The first reports of a month make a national total of one province or two;
    /// shown as the latest figure it would read as a collapse (and its growth on last year as
    /// one). Such a period waits until [`LATEST_MIN_COVERAGE`] of the units are in; a value of
    /// one unit, or of units that never all report, is shown as it comes.
    pub fn latest_shown_period(
        &self,
        indicator: &str,
        unit: &str,
        frequency: Option<Frequency>,
        at_most: Option<Period>,
    ) -> Option<Period> {
        let newest = self.latest_period(indicator, unit, frequency, at_most)?;
        let shown = self
            .periods_within(indicator, unit, newest.frequency(), at_most)
            .filter(|(_, c)| c.mostly_in())
            .map(|(p, _)| p)
            .max_by_key(|p| p.last_month().month_index());
        Some(shown.unwrap_or(newest))
    }

    /// A total of `unit` at `p` still missing some units' reports, and last year's, both over the
    /// same units below it at `level`, with their number ([`like_for_like`], the rule the
    /// server's figures follow too). `None` when the total is complete, or when too few units
    /// below can be matched (their cells not held, or themselves incomplete).
    pub fn matched(
        &self,
        indicator: &str,
        unit: &str,
        level: &str,
        p: Period,
    ) -> Option<(f64, f64, u32)> {
        let [got, expected] = self.get(indicator, unit, p)?.coverage?;
        if got >= expected {
            return None;
        }
        let ly = p.same_period_last_year();
        let value = |u: &str, q: Period| {
            self.get(indicator, u, q)
                .filter(|c| c.coverage.is_none_or(|[g, e]| g >= e))
                .map(|c| c.value)
        };
        like_for_like(
            self.children(unit, level)
                .iter()
                .map(|u| (value(&u.code, p), value(&u.code, ly))),
        )
    }

    /// Units at `level` under `parent` (any depth), by code.
    pub fn children(&self, parent: &str, level: &str) -> Vec<&UnitInfo> {
        self.below
            .get(&(parent.to_owned(), level.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|c| self.units.get(c))
            .collect()
    }

    /// Files every unit under each of its ancestors (the nation, "VN", above all).
    fn index_units(&mut self) {
        let mut below: FxHashMap<(String, String), Vec<String>> = FxHashMap::default();
        for u in self.units.values() {
            let mut at = u.parent.as_deref();
            let mut reached_nation = false;
            // Four levels at most: a commune, its district, its province, the nation.
            for _ in 0..4 {
                let Some(p) = at else { break };
                reached_nation |= p == "VN";
                below
                    .entry((p.to_owned(), u.level.clone()))
                    .or_default()
                    .push(u.code.clone());
                at = self.units.get(p).and_then(|a| a.parent.as_deref());
            }
            if !reached_nation && u.code != "VN" {
                below
                    .entry(("VN".to_owned(), u.level.clone()))
                    .or_default()
                    .push(u.code.clone());
            }
        }
        for codes in below.values_mut() {
            codes.sort();
        }
        self.below = below;
    }

    /// The reports the wall follows from now on. Standings of the others are dropped, and any
    /// still pushed (sent before the server heard) ignored: a report followed again — a
    /// presenter's focus gone and back — starts afresh, rather than being compared with its
    /// standing from before and every approval since told as news of this minute.
    pub fn follow_reports(&mut self, keys: &[ReportKey]) {
        self.reports.retain(|k, _| keys.contains(k));
        self.followed = Some(keys.to_vec());
    }

    pub fn unit_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.units.get(code).map_or(code, |u| u.name.as_str())
    }

    /// Applies one message from the server (or a snapshot file); `now_ms` stamps changes.
    pub fn apply(&mut self, message: &ServerMessage, now_ms: i64) {
        match message {
            ServerMessage::Snapshot {
                id,
                version,
                indicators,
                units,
                cells,
                ..
            } => {
                for i in indicators {
                    self.indicators.insert(i.code.clone(), i.clone());
                }
                for u in units {
                    self.units.insert(u.code.clone(), u.clone());
                }
                if !units.is_empty() {
                    self.index_units();
                }
                for c in cells {
                    self.set(c, None, *version);
                }
                self.versions.insert(id.clone(), *version);
                self.version = self.version.max(*version);
            }
            ServerMessage::Delta {
                id, version, cells, ..
            } => {
                for c in cells {
                    self.set(c, Some(now_ms), *version);
                }
                self.versions.insert(id.clone(), *version);
                self.version = self.version.max(*version);
            }
            ServerMessage::Reports { reports, .. } => {
                for s in reports {
                    if self.followed.as_ref().is_some_and(|f| !f.contains(&s.key)) {
                        continue;
                    }
                    if let Some(before) = self.reports.insert(s.key.clone(), s.clone()) {
                        for n in ApprovalNews::between(&before, s, now_ms) {
                            self.approvals.push_front(n);
                        }
                    }
                }
                self.approvals.truncate(CHANGES_KEPT);
            }
            _ => {}
        }
    }

    fn set(&mut self, c: &Cell, changed_at_ms: Option<i64>, version: i64) {
        let key = CellKey {
            indicator: c.i.clone(),
            unit: c.u.clone(),
            period: c.p,
        };
        let old = self.get(&c.i, &c.u, c.p).map(|v| v.value);
        match c.v {
            Some(v) => {
                if changed_at_ms.is_some() && old == Some(v) {
                    // Several views carry the same cell: the second delta changes nothing.
                    return;
                }
                let series = self
                    .cells
                    .entry(c.i.clone())
                    .or_default()
                    .entry(c.u.clone())
                    .or_default();
                series.insert(
                    c.p,
                    CellValue {
                        value: v,
                        coverage: c.c,
                        changed_at_ms,
                        previous: old,
                    },
                );
            }
            None => {
                let removed = self
                    .cells
                    .get_mut(&c.i)
                    .and_then(|u| u.get_mut(&c.u))
                    .and_then(|p| p.remove(&c.p));
                if removed.is_none() {
                    return;
                }
            }
        }
        if let Some(at) = changed_at_ms {
            self.changes.push_front(Change {
                at_ms: at,
                version,
                key,
                old,
                new: c.v,
            });
            self.changes.truncate(CHANGES_KEPT);
        }
    }

    /// The data as of when, if it is not live: `None` while live.
    pub fn stale_since(&self) -> Option<i64> {
        match &self.feed {
            Feed::Live { .. } => None,
            Feed::Down { since_ms, .. } => Some(*since_ms),
            Feed::Connecting => Some(0),
            Feed::File { taken_at_ms } => Some(*taken_at_ms),
            Feed::Demo => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dieuhanh_protocol::live::Approved;

    fn cell(i: &str, u: &str, p: &str, v: Option<f64>) -> Cell {
        Cell {
            i: i.into(),
            u: u.into(),
            p: Period::parse(p).unwrap(),
            v,
            c: None,
        }
    }

    #[test]
    fn approvals_are_news_only_once_the_wall_knew_the_report() {
        let key = ReportKey {
            regime: "BC-HT".into(),
            period: Period::parse("2026-10").unwrap(),
            unit: "VN".into(),
        };
        // Each province approved at its code's minute; the nation at 0:59.
        let standing = |state, approved: &[&str]| ServerMessage::Reports {
            version: 1,
            reports: vec![ReportStanding {
                key: key.clone(),
                state,
                below_level: Some("province".into()),
                below: 34,
                below_reported: 34,
                below_approved: approved.len() as u32,
                approved: approved
                    .iter()
                    .map(|c| Approved {
                        unit: c.to_string(),
                        at_ms: c.parse::<i64>().unwrap() * 60_000,
                    })
                    .collect(),
                approved_at_ms: (state == ReportState::Approved).then_some(59 * 60_000),
            }],
        };
        // The wall hears at 1:00 and after.
        const H: i64 = 3_600_000;
        let mut d = WallData::default();
        d.apply(
            &standing(ReportState::AwaitingApproval, &["01", "04"]),
            H + 10,
        );
        assert!(d.approvals.is_empty(), "approved before the wall looked");
        d.apply(
            &standing(ReportState::AwaitingApproval, &["01", "04"]),
            H + 20,
        );
        assert!(d.approvals.is_empty(), "the same standing again");
        d.apply(
            &standing(ReportState::AwaitingApproval, &["01", "04", "08", "11"]),
            H + 30,
        );
        let n = &d.approvals[0];
        // As of the later of the two approvals, not of when the wall heard.
        assert_eq!((n.at_ms, n.approved, n.below), (11 * 60_000, true, true));
        assert_eq!(n.units, ["08", "11"]);
        assert_eq!((n.below_approved, n.below_total), (4, 34));
        // Hà Nội corrects a figure (its approval no longer stands) and the nation approves.
        d.apply(
            &standing(ReportState::Approved, &["04", "08", "11"]),
            H + 40,
        );
        assert_eq!(d.approvals.len(), 3);
        let own = &d.approvals[0];
        assert_eq!(
            (own.at_ms, own.approved, own.below),
            (59 * 60_000, true, false)
        );
        assert_eq!(own.units, ["VN"]);
        let lost = &d.approvals[1];
        assert_eq!(
            (lost.at_ms, lost.approved, lost.below),
            (H + 40, false, true)
        );
        assert_eq!(lost.units, ["01"]);
        d.apply(
            &standing(ReportState::ChangedSinceApproval, &["04", "08", "11"]),
            H + 50,
        );
        assert_eq!(d.approvals[0].units, ["VN"]);
        assert!(!d.approvals[0].approved);

        // A presenter's focus elsewhere: the report is no longer followed, and a standing the
        // server pushed before it heard is ignored.
        let news = d.approvals.len();
        d.follow_reports(&[]);
        assert!(d.reports.is_empty());
        d.apply(&standing(ReportState::Approved, &["04"]), H + 60);
        assert!(d.reports.is_empty());
        // Back: its first standing again tells nothing new, whatever changed meanwhile.
        d.follow_reports(std::slice::from_ref(&key));
        d.apply(
            &standing(ReportState::Approved, &["01", "04", "08"]),
            H + 70,
        );
        assert_eq!(d.reports[&key].below_approved, 3);
        assert_eq!(d.approvals.len(), news);
    }

    #[test]
    fn delta_after_snapshot_records_the_change_once() {
        let mut d = WallData::default();
        d.apply(
            &ServerMessage::Snapshot {
                id: "a".into(),
                version: 3,
                reason: "subscribe".into(),
                indicators: vec![],
                units: vec![],
                periods: vec![],
                cells: vec![cell("VM02", "VN", "2025-07", Some(1.0))],
            },
            0,
        );
        for id in ["a", "b"] {
            d.apply(
                &ServerMessage::Delta {
                    id: id.into(),
                    from_version: 3,
                    version: 4,
                    cells: vec![cell("VM02", "VN", "2025-07", Some(2.0))],
                },
                1000,
            );
        }
        let p = Period::parse("2025-07").unwrap();
        let v = d.get("VM02", "VN", p).unwrap();
        assert_eq!(v.value, 2.0);
        assert_eq!(v.previous, Some(1.0));
        assert_eq!(v.changed_at_ms, Some(1000));
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.version, 4);
        assert_eq!(d.latest_period("VM02", "VN", None, None), Some(p));
    }

    /// Ten provinces: nine have reported this October, all ten did last year.
    fn ten_provinces_one_late() -> (WallData, Period) {
        let mut cells = Vec::new();
        let mut units = vec![UnitInfo {
            code: "VN".into(),
            name: "Cả nước".into(),
            level: "nation".into(),
            parent: None,
        }];
        for k in 1..=10u32 {
            let code = format!("{k:02}");
            units.push(UnitInfo {
                code: code.clone(),
                name: format!("Tỉnh {k}"),
                level: "province".into(),
                parent: Some("VN".into()),
            });
            // Last year 100 each; this year 110 each, except the tenth, not in yet.
            cells.push(cell("NS01", &code, "2025-10", Some(100.0)));
            if k < 10 {
                cells.push(cell("NS01", &code, "2026-10", Some(110.0)));
            }
        }
        let mut nation = cell("NS01", "VN", "2026-10", Some(990.0));
        nation.c = Some([9, 10]);
        let mut last_year = cell("NS01", "VN", "2025-10", Some(1000.0));
        last_year.c = Some([10, 10]);
        cells.extend([nation, last_year]);
        let mut d = WallData::default();
        d.apply(
            &ServerMessage::Snapshot {
                id: "a".into(),
                version: 1,
                reason: "subscribe".into(),
                indicators: vec![],
                units,
                periods: vec![],
                cells,
            },
            0,
        );
        (d, Period::parse("2026-10").unwrap())
    }

    #[test]
    fn a_total_missing_a_unit_is_compared_with_the_same_units_a_year_before() {
        let (mut d, p) = ten_provinces_one_late();
        // 990 against 1,000 would read as a 1 % fall; the same nine units rose by 10 %.
        let (now, before, n) = d.matched("NS01", "VN", "province", p).unwrap();
        assert_eq!((now, before, n), (990.0, 900.0, 9));
        // Once the tenth is in, the total is compared as it is.
        d.apply(
            &ServerMessage::Delta {
                id: "a".into(),
                from_version: 1,
                version: 2,
                cells: vec![cell("NS01", "10", "2026-10", Some(110.0)), {
                    let mut c = cell("NS01", "VN", "2026-10", Some(1100.0));
                    c.c = Some([10, 10]);
                    c
                }],
            },
            1,
        );
        assert_eq!(d.matched("NS01", "VN", "province", p), None);
    }

    #[test]
    fn too_few_matched_units_leave_the_comparison_as_it_is() {
        let (mut d, p) = ten_provinces_one_late();
        // Only two provinces' cells held (a wall whose units view has not arrived yet, say).
        for k in 3..=10 {
            let code = format!("{k:02}");
            if let Some(u) = d.cells.get_mut("NS01").and_then(|m| m.get_mut(&code)) {
                u.clear();
            }
        }
        assert_eq!(d.matched("NS01", "VN", "province", p), None);
    }
}
