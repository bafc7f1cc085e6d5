//! Aggregation on the demo data set in a real DuckDB file: children add up to their parent at
//! every level, months add up to quarters, halves, years and year-to-date, history restated in
//! the 2025 structure equals the official merger (sums exactly, means properly weighted), ratios
//! are ratios of sums, and the drill-down API serves the same numbers with YoY and rank.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::sync::OnceLock;

use dieuhanh_server::hierarchy::{Era, Level};
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

fn query_pairs(store: &Store, sql: &str) -> Vec<(String, f64, f64)> {
    store.write_blocking(|conn| {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn children_sum_to_their_parent_at_every_level() {
    let s = shared();
    // For every additive indicator, unit and period: the parent's value equals the sum of its
    // direct children in the structure that reported (restated copies excluded).
    let rows = query_pairs(
        &s.store,
        "SELECT p.indicator || ' ' || p.uid || ' ' || p.period, p.value, sum(c.value)
         FROM cells p
         JOIN indicators i ON i.code = p.indicator AND i.aggregation = 'sum'
         JOIN units cu ON cu.parent = p.uid
         JOIN cells c ON c.uid = cu.uid AND c.indicator = p.indicator AND c.period = p.period
         WHERE c.kind <> 'restated'
         GROUP BY ALL",
    );
    assert!(rows.len() > 10_000, "only {} parents checked", rows.len());
    let bad: Vec<_> = rows
        .iter()
        .filter(|(_, p, c)| !close(*p, *c))
        .take(5)
        .collect();
    assert!(
        bad.is_empty(),
        "parents that are not the sum of children: {bad:?}"
    );
    // Every level took part: nation, 2024 provinces and districts, 2025 provinces.
    let levels: Vec<(String, f64, f64)> = query_pairs(
        &s.store,
        "SELECT u.level || '/' || coalesce(u.era, '-'), count(*)::DOUBLE, 0
         FROM cells p JOIN units u ON u.uid = p.uid
         WHERE p.kind = 'aggregated' GROUP BY ALL ORDER BY 1",
    );
    let names: Vec<&str> = levels.iter().map(|(l, _, _)| l.as_str()).collect();
    for want in [
        "district/2024",
        "nation/-",
        "province/2024",
        "province/2025",
    ] {
        assert!(
            names.contains(&want),
            "no aggregated values at {want}: {names:?}"
        );
    }
}

#[test]
fn months_add_up_to_quarters_halves_years_and_year_to_date() {
    let s = shared();
    let rows = query_pairs(
        &s.store,
        "SELECT q.indicator || ' ' || q.uid || ' ' || q.period, q.value, sum(m.value)
         FROM cells q
         JOIN indicators i ON i.code = q.indicator AND i.temporal = 'sum'
             AND i.frequency = 'month' AND i.aggregation = 'sum'
         JOIN period_parents pp ON pp.parent = q.period AND pp.period NOT LIKE '%Q%'
         JOIN cells m ON m.indicator = q.indicator AND m.uid = q.uid AND m.period = pp.period
         WHERE q.uid = 0 OR q.uid < 2000000 AND q.uid % 7 = 0
         GROUP BY ALL",
    );
    assert!(rows.len() > 1000);
    let bad: Vec<_> = rows
        .iter()
        .filter(|(_, a, b)| !close(*a, *b))
        .take(5)
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
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
    let get = |ind: &str, uid: u32, period: &str| -> Option<f64> {
        s.store.write_blocking(|conn| {
            conn.query_row(
                "SELECT value FROM cells WHERE indicator = ? AND uid = ? AND period = ?",
                duckdb::params![ind, uid, period],
                |r| r.get(0),
            )
            .ok()
        })
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
    // Every one of the 34 is the sum of the provinces that went into it.
    let rows = query_pairs(
        &s.store,
        "SELECT n.indicator || ' ' || n.uid || ' ' || n.period, n.value, sum(o.value)
         FROM cells n
         JOIN indicators i ON i.code = n.indicator AND i.aggregation = 'sum'
         JOIN units nu ON nu.uid = n.uid AND nu.level = 'province' AND nu.era = '2025'
         JOIN units ou ON ou.successor = n.uid
         JOIN cells o ON o.uid = ou.uid AND o.indicator = n.indicator AND o.period = n.period
         WHERE n.period < '2025-07' AND n.period LIKE '2024%'
         GROUP BY ALL",
    );
    assert!(rows.len() > 1000);
    let bad: Vec<_> = rows
        .iter()
        .filter(|(_, a, b)| !close(*a, *b))
        .take(5)
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn ratios_are_ratios_of_sums_at_every_level() {
    let s = shared();
    let rows = query_pairs(
        &s.store,
        "SELECT r.uid || ' ' || r.period, r.value, n.value / d.value * 100
         FROM cells r
         JOIN cells n ON n.indicator = 'HC02' AND n.uid = r.uid AND n.period = r.period
         JOIN cells d ON d.indicator = 'HC01' AND d.uid = r.uid AND d.period = r.period
         WHERE r.indicator = 'HC03'",
    );
    assert!(rows.len() > 10_000);
    assert!(rows.iter().all(|(_, a, b)| close(*a, *b)));
    assert!(
        rows.iter().any(|(k, _, _)| k.starts_with("0 ")),
        "nation included"
    );
}

#[tokio::test]
async fn drill_down_ranks_todays_provinces_with_growth_vs_last_year() {
    let s = shared();
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
    let s = shared();
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
