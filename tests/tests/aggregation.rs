//! Aggregation on the demo data set in a real DuckDB file: children add up to their parent at
//! every level, months add up to quarters, halves, years and year-to-date, history restated in
//! the 2025 structure equals the official merger (sums exactly, means properly weighted), ratios
//! are ratios of sums, and the drill-down API serves the same numbers with YoY and rank.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use dieuhanh_protocol::period::{Frequency, Period};
use dieuhanh_server::catalogue::{Aggregation, Indicator, Temporal};
use dieuhanh_server::hierarchy::{Era, Level};
use dieuhanh_server::query::CellKind;
use dieuhanh_server::serving::{Key, Slab, Slot};
use dieuhanh_server::store::Store;
use dieuhanh_tests::{TestServer, demo_store};

struct Shared {
    _dir: tempfile::TempDir,
    store: Store,
}

/// One demo store for the whole file: loading it is the slow part.
fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = demo_store(dir.path(), 7);
        Shared { _dir: dir, store }
    })
}

/// Calls `f` with every number in `v`.
fn numbers(v: &serde_json::Value, f: &mut impl FnMut(f64)) {
    match v {
        serde_json::Value::Number(n) => f(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::Array(a) => a.iter().for_each(|x| numbers(x, f)),
        serde_json::Value::Object(o) => o.values().for_each(|x| numbers(x, f)),
        _ => {}
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Every (indicator, period) slab of the served values.
fn slabs(s: &Shared) -> &BTreeMap<Key, Slab> {
    static COPY: OnceLock<BTreeMap<Key, Slab>> = OnceLock::new();
    COPY.get_or_init(|| s.store.serving().with(|m| m.clone()).unwrap())
}

fn value(s: &Shared, ind: &str, uid: u32, p: Period) -> Option<Slot> {
    let n = s.store.serving().number(ind)?;
    slabs(s).get(&(n, p))?.get(uid)
}

fn indicators_where(s: &Shared, f: impl Fn(&Indicator) -> bool) -> Vec<u16> {
    let index = s.store.serving();
    s.store
        .catalogue()
        .indicators
        .iter()
        .filter(|i| f(i))
        .filter_map(|i| index.number(&i.code))
        .collect()
}

#[test]
fn children_sum_to_their_parent_at_every_level() {
    let s = shared();
    let h = s.store.hierarchy();
    let sums = indicators_where(s, |i| i.aggregation == Aggregation::Sum);
    let (mut checked, mut levels) = (0, BTreeSet::new());
    for ((n, p), slab) in slabs(s) {
        if !sums.contains(n) {
            continue;
        }
        for (uid, parent) in slab.iter() {
            if parent.kind != CellKind::Aggregated {
                continue;
            }
            // Its direct children in the structure that reported (not restated copies).
            let children: Vec<f64> = h
                .children(uid)
                .iter()
                .filter_map(|&c| slab.get(c))
                .filter(|c| c.kind != CellKind::Restated)
                .map(|c| c.value)
                .collect();
            let sum: f64 = children.iter().sum();
            assert!(
                close(parent.value, sum),
                "{} {} unit {uid}: {} is not the sum of its children {sum}",
                s.store.serving().code(*n),
                p.id(),
                parent.value
            );
            assert_eq!(usize::from(parent.n_units) > 0, !children.is_empty());
            let u = h.unit(uid).unwrap();
            levels.insert(format!(
                "{}/{}",
                u.level.as_str(),
                u.era.map_or("-", |e| e.as_str())
            ));
            checked += 1;
        }
    }
    assert!(checked > 10_000, "only {checked} parents checked");
    for want in [
        "district/2024",
        "nation/-",
        "province/2024",
        "province/2025",
    ] {
        assert!(
            levels.contains(want),
            "no aggregated values at {want}: {levels:?}"
        );
    }
}

#[test]
fn months_add_up_to_quarters_halves_years_and_year_to_date() {
    let s = shared();
    let flows = indicators_where(s, |i| {
        i.temporal == Temporal::Sum && i.frequency == Frequency::Month
    });
    let mut checked = 0;
    for ((n, p), slab) in slabs(s) {
        if !flows.contains(n) || p.frequency() == Some(Frequency::Month) {
            continue;
        }
        for (uid, total) in slab.iter().step_by(7) {
            let months: Vec<Period> = p.months();
            let sum: f64 = months
                .iter()
                .map(|m| value(s, s.store.serving().code(*n), uid, *m).unwrap().value)
                .sum();
            assert!(
                close(total.value, sum),
                "{} {uid}: {} vs {sum}",
                p.id(),
                total.value
            );
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
    // A year-to-date exists only when every month up to it does: late reporters in the demo's
    // last month have none for it.
    let m = value(
        s,
        "VM02",
        0,
        Period::YearToDate {
            year: 2025,
            month: 12,
        },
    )
    .unwrap();
    let y = value(s, "VM02", 0, Period::Year { year: 2025 }).unwrap();
    assert!(close(m.value, y.value));
}

/// A year across the 2025 reform counts different units month by month (two old provinces
/// restated, then one new; 63 provinces, then 34): it is complete exactly when each of its
/// months is, and otherwise as covered as its least covered month.
#[test]
fn a_year_across_the_reform_is_complete_when_every_month_is() {
    let s = shared();
    let flows = indicators_where(s, |i| {
        i.temporal == Temporal::Sum && i.frequency == Frequency::Month
    });
    let share = |c: &Slot| f64::from(c.n_units) / f64::from(c.n_expected.max(1));
    let (mut complete, mut partial) = (0, 0);
    for ((n, p), slab) in slabs(s) {
        let across = matches!(p, Period::Year { year: 2025 })
            || matches!(p, Period::YearToDate { year: 2025, month } if *month > 6);
        if !flows.contains(n) || !across {
            continue;
        }
        let code = s.store.serving().code(*n);
        for (uid, total) in slab.iter() {
            let months: Vec<Slot> = p
                .months()
                .iter()
                .map(|m| value(s, code, uid, *m).unwrap())
                .collect();
            let least = months.iter().map(share).fold(f64::INFINITY, f64::min);
            assert!(
                close(share(&total), least.min(1.0)) || share(&total) >= 1.0 && least >= 1.0,
                "{code} {} {uid}: {}/{} against its least covered month's {least}",
                p.id(),
                total.n_units,
                total.n_expected
            );
            if least >= 1.0 {
                complete += 1;
            } else {
                partial += 1;
            }
        }
    }
    // The demo's late reports are all in its last months, after 2025.
    assert!(complete > 1000, "{complete} {partial}");
}

#[test]
fn history_in_todays_provinces_equals_the_official_merger() {
    let s = shared();
    let h = s.store.hierarchy();
    let new79 = h.by_code(Era::Since2025, "79").unwrap().uid;
    let olds: Vec<u32> = ["74", "77", "79"]
        .iter()
        .map(|c| h.by_code(Era::Before2025, c).unwrap().uid)
        .collect();
    let get = |ind: &str, uid: u32, p: &str| {
        value(s, ind, uid, Period::parse(p).unwrap()).map(|v| v.value)
    };
    // Additive: exactly old 74 + 77 + 79, for months, quarters and the year.
    for (ind, period) in [
        ("TT05", "2024-03"),
        ("XH02", "2024-11"),
        ("NS01", "2024-Q2"),
        ("TT01", "2024"),
    ] {
        let new = get(ind, new79, period).unwrap_or_else(|| panic!("{ind} {period} missing"));
        let sum: f64 = olds.iter().map(|&u| get(ind, u, period).unwrap()).sum();
        assert!(close(new, sum), "{ind} {period}: {new} vs {sum}");
    }
    // Weighted: CPI of the new province is the population-weighted mean of the old ones.
    let (mut vw, mut w) = (0.0, 0.0);
    for &u in &olds {
        let v = get("VM01", u, "2024-05").unwrap();
        let pop = get("XH01", u, "2024").unwrap();
        vw += v * pop;
        w += pop;
    }
    let cpi = get("VM01", new79, "2024-05").unwrap();
    assert!(close(cpi, vw / w), "CPI {cpi} vs weighted {}", vw / w);
    // Every one of the 34 is the sum of the provinces that went into it, for every additive
    // indicator and every 2024 period.
    let sums = indicators_where(s, |i| i.aggregation == Aggregation::Sum);
    let mut checked = 0;
    for ((n, p), slab) in slabs(s) {
        if !sums.contains(n) || p.year() != 2024 {
            continue;
        }
        for new in h.at_level(Level::Province, Era::Since2025) {
            let Some(v) = slab.get(new.uid) else { continue };
            let sum: f64 = h
                .at_level(Level::Province, Era::Before2025)
                .filter(|o| o.successor == Some(new.uid))
                .filter_map(|o| slab.get(o.uid))
                .map(|o| o.value)
                .sum();
            assert!(
                close(v.value, sum),
                "{} {}: {} vs {sum}",
                new.code,
                p.id(),
                v.value
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn ratios_are_ratios_of_sums_at_every_level() {
    let s = shared();
    let index = s.store.serving();
    let (r, a, b) = (
        index.number("HC03").unwrap(),
        index.number("HC02").unwrap(),
        index.number("HC01").unwrap(),
    );
    let mut checked = 0;
    let mut nation = false;
    for ((n, p), slab) in slabs(s) {
        if *n != r {
            continue;
        }
        for (uid, v) in slab.iter() {
            let num = slabs(s)[&(a, *p)].get(uid).unwrap().value;
            let den = slabs(s)[&(b, *p)].get(uid).unwrap().value;
            assert!(close(v.value, num / den * 100.0));
            nation |= uid == 0;
            checked += 1;
        }
    }
    assert!(checked > 10_000 && nation);
}

#[tokio::test]
async fn drill_down_ranks_todays_provinces_with_growth_vs_last_year() {
    // Off the runtime: building the shared store blocks (it may be the first test to ask).
    let s = tokio::task::spawn_blocking(shared).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(s.store.clone(), dir.path()).await;
    let (status, b) = server
        .get("/api/breakdown?indicator=VM02&period=Tháng%208/2025")
        .await;
    assert_eq!(status, 200, "{b}");
    let rows = b["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 34);
    assert_eq!(b["structure"], "2025");
    assert_eq!(b["period"]["label"], "Tháng 8/2025");
    // Ranked by value; every province has last year's value (restated) and a YoY %.
    let values: Vec<f64> = rows.iter().map(|r| r["value"].as_f64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(rows[0]["rank"], 1);
    for r in rows {
        let (v, ly) = (
            r["value"].as_f64().unwrap(),
            r["last_year"].as_f64().unwrap(),
        );
        let yoy = r["yoy_pct"].as_f64().unwrap();
        assert!((yoy - (v / ly - 1.0) * 100.0).abs() < 1e-9);
        assert!(r["ytd"].as_f64().unwrap() >= v);
    }
    let total: f64 = values.iter().sum();
    assert!(close(total, b["parent_figure"]["value"].as_f64().unwrap()));
    // Totals are written as the decimals their reports add up to, not with the binary noise
    // of summing them (209652.97999999998): at most 12 significant digits.
    let mut long = Vec::new();
    numbers(&b, &mut |n| {
        let digits = format!("{:e}", n.abs())
            .split('e')
            .next()
            .map_or(0, |m| m.chars().filter(char::is_ascii_digit).count());
        if digits > 12 {
            long.push(n);
        }
    });
    assert!(long.is_empty(), "{long:?}");
    // Exports are tens of billions of USD a month, as in the real series.
    assert!((25_000.0..45_000.0).contains(&total), "{total}");

    // Drill into a province: its communes in 2025, with shares of the province.
    let (_, c) = server
        .get("/api/breakdown?indicator=XH02&period=2025-09&parent=79")
        .await;
    assert_eq!(c["level"], "commune");
    let share: f64 = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["share_pct"].as_f64().unwrap())
        .sum();
    assert!((share - 100.0).abs() < 1e-6);

    // Before the reform, the communes listed are those that reported, under today's province.
    let (_, old) = server
        .get("/api/breakdown?indicator=XH02&period=2024-09&parent=79&level=commune")
        .await;
    assert_eq!(old["structure"], "2024");
    assert!(old["note"].is_string());
    let h = s.store.hierarchy();
    let n_old: usize = ["74", "77", "79"]
        .iter()
        .map(|c| {
            let p = h.by_code(Era::Before2025, c).unwrap().uid;
            h.descendants(p, Level::Commune, Era::Before2025).len()
        })
        .sum();
    assert_eq!(old["rows"].as_array().unwrap().len(), n_old);
}

#[tokio::test]
async fn drill_down_by_ministry_lists_its_indicators_with_latest_figures() {
    // Off the runtime: building the shared store blocks (it may be the first test to ask).
    let s = tokio::task::spawn_blocking(shared).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(s.store.clone(), dir.path()).await;
    let (status, a) = server.get("/api/agencies/BCT").await;
    assert_eq!(status, 200, "{a}");
    let inds = a["indicators"].as_array().unwrap();
    let codes: Vec<&str> = inds
        .iter()
        .map(|i| i["indicator"]["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"VM02") && codes.contains(&"TT05"),
        "{codes:?}"
    );
    let exports = inds
        .iter()
        .find(|i| i["indicator"]["code"] == "VM02")
        .unwrap();
    assert_eq!(exports["period"]["id"], "2025-12");
    assert!(exports["figure"]["yoy_pct"].is_number());
    assert!(exports["figure"]["target"]["text"].is_string());

    let (_, series) = server
        .get("/api/series?indicator=VM02&unit=VN&from=2025-01&to=2025-12")
        .await;
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 12);
    // The month of Tết (January in 2025) dips against its neighbours.
    let v: Vec<f64> = points
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert!(v[0] < v[1] && v[0] < v[11], "{v:?}");
}
