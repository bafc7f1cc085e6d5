//! The seeded demo data set: every catalogue indicator at its reporting level (commune,
//! province or nation) for a range of periods, with real magnitudes (DATA.md: GDP ≈ 476 bn USD
//! in 2024, exports 30–34 bn USD a month, IIP 128–172), the dip in the month of Tết (which moves
//! with the lunar calendar) and the rebound after it, a strong fourth quarter, and heavy-tailed
//! provinces (Hồ Chí Minh and Hà Nội dominate; budget revenue even more). Values are generated
//! for the units that reported them — the 2024 structure up to Tháng 6/2025, the 2025 structure
//! after — from one latent size per 2025 province, so totals run on smoothly across the reform
//! and history restated in today's provinces is continuous. A few reporters are left late in
//! the latest period, as in real life. Same seed, same data.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use duckdb::{Connection, params};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use dieuhanh_protocol::period::{Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue, DemoProfile, Indicator};
use crate::hierarchy::{Era, Hierarchy, Level, NATION_UID, Unit};
use crate::store::{DbContext, StoreError};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// First and last month (inclusive); quarters and years fully inside are generated.
    pub from: Period,
    pub to: Period,
    /// Share of reporters left late in the last period of each frequency.
    pub late_share: f64,
}

impl DemoOptions {
    /// Three years and a bit: January 2023 to the last month that has ended in `today`.
    pub fn default_until(today: dieuhanh_protocol::period::CivilDate, seed: u64) -> Self {
        DemoOptions {
            seed,
            from: Period::Month {
                year: 2023,
                month: 1,
            },
            to: Period::Month {
                year: today.year,
                month: today.month,
            }
            .previous(),
            late_share: 0.03,
        }
    }
}

/// One generated value.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoValue {
    pub indicator: String,
    pub uid: u32,
    pub period: Period,
    pub value: f64,
}

/// The month of Tết (lunar new year's day) in a year.
pub fn tet_month(year: i32) -> u8 {
    match year {
        2020 => 1,
        2021 => 2,
        2022 => 2,
        2023 => 1,
        2024 => 2,
        2025 => 1,
        2026 => 2,
        2027 => 2,
        2028 => 1,
        2029 => 2,
        2030 => 2,
        // Tết falls between 21 January and 20 February; alternate as a fallback.
        y => {
            if y % 2 == 0 {
                2
            } else {
                1
            }
        }
    }
}

/// Seasonal factor of a month for a named profile (1.0 on average over a year, roughly).
fn season(profile: &str, year: i32, month: u8) -> f64 {
    let tet = tet_month(year);
    let after_tet = tet + 1;
    match profile {
        "tet" => {
            if month == tet {
                0.82
            } else if month == after_tet {
                1.08
            } else if month >= 10 {
                1.06
            } else {
                1.0
            }
        }
        "tet_peak" => {
            if month == tet {
                1.07
            } else if month == after_tet {
                0.95
            } else if month == 12 {
                1.04
            } else {
                1.0
            }
        }
        "q4" => [
            0.92, 0.9, 0.96, 0.97, 0.99, 1.0, 1.0, 1.01, 1.03, 1.05, 1.07, 1.12,
        ][usize::from(month - 1)],
        "budget" => {
            if month == 1 {
                1.25
            } else if month == tet {
                0.88
            } else if month == 3 {
                1.08
            } else if month == 12 {
                1.15
            } else {
                0.97
            }
        }
        "year_end" => [
            0.45, 0.6, 0.75, 0.8, 0.85, 0.95, 0.95, 1.0, 1.05, 1.1, 1.3, 2.2,
        ][usize::from(month - 1)],
        "summer" => match month {
            6..=8 => 1.25,
            m if m == tet => 1.15,
            9 | 10 => 0.9,
            _ => 0.95,
        },
        "tourist" => match month {
            12 | 1..=3 => 1.12,
            5 | 6 => 0.86,
            _ => 0.97,
        },
        "after_tet" => {
            if month == after_tet {
                1.4
            } else if month == tet {
                0.7
            } else {
                1.0
            }
        }
        "winter" => match month {
            12 | 1 | 2 => 1.12,
            _ => 0.97,
        },
        "wedding" => match month {
            10..=12 | 1 => 1.5,
            7 => 0.6,
            _ => 0.85,
        },
        "dengue" => match month {
            7..=11 => 2.3,
            2..=4 => 0.4,
            _ => 0.8,
        },
        "dry" => match month {
            2..=4 => 2.2,
            11 | 12 => 1.2,
            6..=9 => 0.4,
            _ => 0.8,
        },
        _ => 1.0,
    }
}

/// Relative weights of the 2025 provinces for a spread profile (by official 2025 code).
fn spread_weight(spread: &str, code: &str, population: f64) -> f64 {
    // GRDP per head relative to the national mean (approximate, for magnitudes only).
    let productivity = match code {
        "79" => 2.4,
        "01" => 1.9,
        "22" => 2.0,
        "31" => 1.7,
        "24" => 1.6,
        "75" => 1.2,
        "48" => 1.3,
        "19" => 1.1,
        "80" => 1.0,
        "33" => 1.1,
        "38" => 0.9,
        "56" => 1.0,
        "92" => 0.9,
        "04" | "11" | "12" | "14" | "08" => 0.45,
        "15" | "20" | "52" | "66" => 0.6,
        _ => 0.8,
    };
    let economy = population * productivity;
    match spread {
        "population" => population,
        "economy" => economy,
        "budget" => economy * productivity.powf(1.6),
        "concentrated" => economy * productivity.powf(2.2),
        "industry" => {
            economy
                * match code {
                    "24" => 4.0,
                    "19" => 3.2,
                    "31" => 2.0,
                    "75" => 2.0,
                    "79" => 1.4,
                    "25" => 1.6,
                    "33" => 1.5,
                    "80" => 1.4,
                    "04" | "11" | "12" | "14" | "08" => 0.2,
                    _ => 0.5,
                }
        }
        "tourism" => {
            population
                * match code {
                    "56" | "48" | "22" => 4.0,
                    "79" | "01" => 2.5,
                    "91" | "68" | "37" | "46" => 2.0,
                    _ => 0.5,
                }
        }
        "rice" => {
            population
                * match code {
                    "91" | "82" | "86" | "96" | "92" | "80" => 6.0,
                    "38" | "40" | "33" | "37" => 2.0,
                    "79" | "01" | "48" => 0.1,
                    _ => 0.7,
                }
        }
        "port" => match code {
            "31" => 30.0,
            "79" => 35.0,
            "22" => 15.0,
            "56" => 6.0,
            "48" => 5.0,
            "51" => 6.0,
            "38" | "40" | "42" => 5.0,
            "52" | "92" | "44" | "46" => 2.0,
            _ => 0.0,
        },
        "border" => match code {
            "20" => 30.0,
            "15" => 14.0,
            "22" => 12.0,
            "80" => 12.0,
            "91" => 8.0,
            "04" | "44" | "42" | "40" | "08" => 5.0,
            "11" | "12" | "14" | "82" | "52" | "66" | "38" => 2.0,
            _ => 0.0,
        },
        "airport" => match code {
            "79" => 40.0,
            "01" => 28.0,
            "48" => 10.0,
            "56" => 7.0,
            "91" => 5.0,
            "31" | "68" | "40" | "46" | "22" | "52" | "92" | "66" | "38" => 2.0,
            _ => 0.0,
        },
        "forest" => {
            population
                * match code {
                    "66" | "68" | "52" | "14" | "11" | "12" | "04" | "08" | "15" | "40" => 4.0,
                    "79" | "01" | "31" | "33" => 0.05,
                    _ => 1.0,
                }
        }
        "south" => {
            population
                * match code {
                    "79" | "75" | "80" | "82" | "86" | "91" | "92" | "96" | "66" | "68" => 2.5,
                    "48" | "51" | "52" | "56" => 1.6,
                    _ => 0.4,
                }
        }
        _ => population,
    }
}

/// Province-specific level of a non-additive indicator relative to the national level.
fn level_factor(spread: &str, code: &str, rng: &mut ChaCha8Rng) -> f64 {
    match spread {
        "level_poverty" => match code {
            "11" | "12" | "04" => 7.0,
            "14" | "08" | "15" | "52" | "66" => 3.0,
            "79" | "01" | "31" | "75" | "24" => 0.08,
            _ => rng.random_range(0.4..1.6),
        },
        "level_forest" => match code {
            "08" | "04" | "12" | "66" | "68" | "52" | "44" | "46" => rng.random_range(1.2..1.55),
            "79" | "01" | "31" | "33" | "86" | "92" | "82" => rng.random_range(0.05..0.2),
            _ => rng.random_range(0.6..1.2),
        },
        "level_income" => match code {
            "79" | "01" => 1.35,
            "24" | "31" | "22" | "75" | "48" => 1.15,
            "11" | "12" | "04" | "14" => 0.7,
            _ => rng.random_range(0.85..1.05),
        },
        _ => rng.random_range(0.9..1.1),
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; enough for demo noise.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Stable per-unit shares within a parent: lognormal weights, normalised.
struct Shares {
    /// unit → share of its 2025 province (for provinces of 2024: share of the new province).
    within: HashMap<u32, f64>,
}

fn build_shares(h: &Hierarchy, rng: &mut ChaCha8Rng) -> Shares {
    let mut raw: HashMap<u32, f64> = HashMap::new();
    for u in h.units() {
        let w = match u.level {
            Level::Commune => {
                let urban = if u.kind.starts_with("Phường") {
                    2.2
                } else {
                    1.0
                };
                urban * (0.55 * normal(rng)).exp()
            }
            Level::Province if u.era == Some(Era::Before2025) => {
                let communes = h.descendants(u.uid, Level::Commune, Era::Before2025).len();
                communes.max(1) as f64 * (0.35 * normal(rng)).exp()
            }
            _ => 1.0,
        };
        raw.insert(u.uid, w);
    }
    // Normalise each unit's weight within its 2025 province (its own for new communes; the
    // successor of its province for 2024 units).
    let mut totals: HashMap<(u32, Level, Era), f64> = HashMap::new();
    let key = |u: &Unit| -> Option<(u32, Level, Era)> {
        let era = u.era?;
        let new_prov = match era {
            Era::Since2025 => h.province_of(u.uid)?.uid,
            Era::Before2025 => h.province_of(u.uid)?.successor?,
        };
        Some((new_prov, u.level, era))
    };
    for u in h.units() {
        if let Some(k) = key(u) {
            *totals.entry(k).or_default() += raw[&u.uid];
        }
    }
    let mut within = HashMap::new();
    for u in h.units() {
        if let Some(k) = key(u) {
            within.insert(u.uid, raw[&u.uid] / totals[&k]);
        }
    }
    Shares { within }
}

/// Generates the demo values (without writing them).
pub fn generate(cat: &Catalogue, h: &Hierarchy, opts: &DemoOptions) -> Vec<DemoValue> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let shares = build_shares(h, &mut rng);
    let new_provinces: Vec<&Unit> = h.at_level(Level::Province, Era::Since2025).collect();
    let total_pop: f64 = new_provinces
        .iter()
        .map(|p| province_population(h, p))
        .sum();

    let mut out = Vec::new();
    let bases: BTreeSet<&str> = cat
        .indicators
        .iter()
        .filter_map(|i| i.demo.as_ref()?.share_of.as_deref())
        .collect();
    // Values of indicators others are derived from (shares), by (indicator, uid, period).
    let mut memo: HashMap<(String, u32, Period), f64> = HashMap::new();
    let mut order: Vec<&Indicator> = cat
        .indicators
        .iter()
        .filter(|i| i.aggregation != Aggregation::Ratio)
        .collect();
    // Shares of another indicator come after it.
    order.sort_by_key(|i| i.demo.as_ref().and_then(|d| d.share_of.as_ref()).is_some());

    for ind in order {
        let Some(profile) = ind.demo.clone() else {
            continue;
        };
        let mut irng = ChaCha8Rng::seed_from_u64(opts.seed ^ hash(&ind.code));
        let province_level: HashMap<u32, f64> = new_provinces
            .iter()
            .map(|p| (p.uid, level_factor(&profile.spread, &p.code, &mut irng)))
            .collect();
        let weights: HashMap<u32, f64> = new_provinces
            .iter()
            .map(|p| {
                let pop = province_population(h, p);
                (
                    p.uid,
                    spread_weight(&profile.spread, &p.code, pop) / total_pop,
                )
            })
            .collect();
        let wsum: f64 = weights.values().sum();
        let levels: BTreeSet<Level> = cat.regimes_of(&ind.code).map(|r| r.level).collect();
        for period in periods_of(ind.frequency, &opts.from, &opts.to) {
            let era = Era::of_period(&period);
            let national = national_value(&profile, &period, &mut irng);
            for &level in &levels {
                let units: Vec<u32> = if level == Level::Nation {
                    vec![NATION_UID]
                } else {
                    h.descendants(NATION_UID, level, era).to_vec()
                };
                for uid in units {
                    let value = if let Some(base) = &profile.share_of {
                        let Some(&b) = memo.get(&(base.clone(), uid, period)) else {
                            continue;
                        };
                        let years = period_years(&period);
                        let share = (profile.share * (1.0 + profile.share_growth).powf(years)
                            + profile.share_noise * normal(&mut irng) * 0.3)
                            .clamp(0.0, 1.0);
                        b * share
                    } else if level == Level::Nation {
                        national
                    } else {
                        let Some(unit) = h.unit(uid) else { continue };
                        let new_prov = match era {
                            Era::Since2025 => h.province_of(uid).map(|p| p.uid),
                            Era::Before2025 => h.province_of(uid).and_then(|p| p.successor),
                        };
                        let Some(np) = new_prov else { continue };
                        if is_additive(ind) {
                            let share = if unit.level == Level::Province && era == Era::Since2025 {
                                1.0
                            } else {
                                shares.within.get(&uid).copied().unwrap_or(0.0)
                            };
                            let noise = (profile.noise * normal(&mut irng)).exp();
                            national * weights[&np] / wsum * share * noise
                        } else {
                            let f = province_level[&np];
                            national * f * (1.0 + profile.noise * 0.5 * normal(&mut irng))
                        }
                    };
                    let mut value = match (profile.min, profile.max) {
                        (Some(lo), Some(hi)) if !is_additive(ind) => {
                            value.clamp(lo * 0.5, hi * 1.5)
                        }
                        _ => value,
                    };
                    if ind.nonnegative {
                        value = value.max(0.0);
                    }
                    value = if profile.integer {
                        value.round()
                    } else {
                        round_to(value, ind.decimals.max(1) as i32 + 1)
                    };
                    if bases.contains(ind.code.as_str()) {
                        memo.insert((ind.code.clone(), uid, period), value);
                    }
                    out.push(DemoValue {
                        indicator: ind.code.clone(),
                        uid,
                        period,
                        value,
                    });
                }
            }
        }
    }
    leave_late(&mut out, cat, opts, &mut rng);
    out
}

fn is_additive(ind: &Indicator) -> bool {
    ind.aggregation == Aggregation::Sum
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn hash(s: &str) -> u64 {
    // FNV-1a: a stable per-indicator stream, independent of catalogue order.
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn province_population(h: &Hierarchy, p: &Unit) -> f64 {
    match p.population {
        Some(n) if n > 0 => n as f64,
        // Without the resolution's figures, communes are a fair proxy for size.
        _ => h.descendants(p.uid, Level::Commune, Era::Since2025).len() as f64 * 34_000.0,
    }
}

/// Years since mid-2024 at the middle of a period (for growth).
fn period_years(p: &Period) -> f64 {
    let first = p.first_month();
    let last = p.last_month();
    let mid = (first.month_index() + last.month_index()) as f64 / 2.0;
    let base = Period::Month {
        year: 2024,
        month: 6,
    }
    .month_index() as f64
        + 0.5;
    (mid - base) / 12.0
}

/// The national magnitude for a period.
fn national_value(profile: &DemoProfile, period: &Period, rng: &mut ChaCha8Rng) -> f64 {
    let years = period_years(period);
    let trend = profile.base * (1.0 + profile.growth).powf(years);
    let months = period.months();
    let s = months
        .iter()
        .map(|m| match m {
            Period::Month { year, month } => season(&profile.season, *year, *month),
            _ => 1.0,
        })
        .sum::<f64>()
        / months.len().max(1) as f64;
    match profile.season.as_str() {
        // Credit growth since the end of last year: builds up over the year.
        "cumulative" => {
            let m = f64::from(period.last_month().month_index().rem_euclid(12) + 1);
            trend * m / 12.0 * (1.0 + profile.noise * normal(rng))
        }
        "tet_price" => {
            let bump = months
                .iter()
                .any(|m| matches!(m, Period::Month { year, month } if *month == tet_month(*year)));
            trend * if bump { 1.006 } else { 1.0 } * (1.0 + profile.noise * normal(rng))
        }
        _ => {
            let v = trend * s * (1.0 + profile.noise * normal(rng));
            match (profile.min, profile.max) {
                (Some(lo), Some(hi)) => v.clamp(lo, hi),
                _ => v,
            }
        }
    }
}

/// Periods of a frequency lying inside the month range.
fn periods_of(freq: Frequency, from: &Period, to: &Period) -> Vec<Period> {
    let first = from.month_index();
    let last = to.month_index();
    let mut out = Vec::new();
    let mut p = Period::containing(freq, from.year(), crate::query::month_number(from));
    loop {
        if p.first_month().month_index() > last {
            break;
        }
        if p.first_month().month_index() >= first && p.last_month().month_index() <= last {
            out.push(p);
        }
        p = p.next();
    }
    out
}

/// Drops a share of the reporters of the last period of each regime, so "late reports" show.
fn leave_late(
    values: &mut Vec<DemoValue>,
    cat: &Catalogue,
    opts: &DemoOptions,
    rng: &mut ChaCha8Rng,
) {
    let mut last: HashMap<String, Period> = HashMap::new();
    for v in values.iter() {
        let e = last.entry(v.indicator.clone()).or_insert(v.period);
        if v.period > *e {
            *e = v.period;
        }
    }
    let mut late_units: HashMap<(String, Period), BTreeSet<u32>> = HashMap::new();
    for r in &cat.regimes {
        if r.level == Level::Nation {
            continue;
        }
        let Some(p) = r.indicators.first().and_then(|c| last.get(c)) else {
            continue;
        };
        let units: BTreeSet<u32> = values
            .iter()
            .filter(|v| v.indicator == r.indicators[0] && v.period == *p)
            .map(|v| v.uid)
            .collect();
        let late: BTreeSet<u32> = units
            .into_iter()
            .filter(|_| rng.random_bool(opts.late_share.clamp(0.0, 1.0)))
            .collect();
        late_units.insert((r.code.clone(), *p), late);
    }
    values.retain(|v| {
        !cat.regimes_of(&v.indicator).any(|r| {
            late_units
                .get(&(r.code.clone(), v.period))
                .is_some_and(|s| s.contains(&v.uid))
        })
    });
}

/// Loads the demo into an empty database as one submission (aggregate it into the serving
/// index with `Store::index_current`). Returns the number of values and the new data version.
pub fn load(
    conn: &mut Connection,
    cat: &Catalogue,
    h: &Hierarchy,
    opts: &DemoOptions,
) -> Result<(usize, i64), StoreError> {
    let t = std::time::Instant::now();
    let values = generate(cat, h, opts);
    tracing::info!(
        values = values.len(),
        ms = t.elapsed().as_millis() as u64,
        "demo generated"
    );
    let ids = crate::store::facts::IndicatorIds::read(conn)?;
    let tx = conn.transaction().ctx("starting the demo load")?;
    let version: i64 = tx
        .query_row(
            "SELECT CAST(value AS BIGINT) + 1 FROM meta WHERE key = 'data_version'",
            [],
            |r| r.get(0),
        )
        .ctx("reading the data version")?;
    let submission: i64 = tx
        .query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM submissions",
            [],
            |r| r.get(0),
        )
        .ctx("numbering the demo submission")?;
    tx.execute(
        "INSERT INTO submissions VALUES (?, ?, now()::TIMESTAMP, 'demo', ?, ?, 'demo-data', 'vi-VN',
                ?, ?, 0, 0, 0)",
        params![
            submission,
            version,
            format!("demo seed {}", opts.seed),
            format!("demo:{}:{}:{}", opts.seed, opts.from.id(), opts.to.id()),
            values.len() as i64,
            values.len() as i64
        ],
    )
    .ctx("recording the demo submission")?;
    let mut by_code: HashMap<&str, i16> = HashMap::new();
    for v in &values {
        if !by_code.contains_key(v.indicator.as_str()) {
            let id = ids.id(&v.indicator).ok_or_else(|| {
                StoreError::Task(format!("indicator {} has no stored number", v.indicator))
            })?;
            by_code.insert(&v.indicator, id);
        }
    }
    crate::store::facts::append_facts(
        &tx,
        submission,
        values.iter().map(|v| crate::store::facts::StoredFact {
            ind: by_code[v.indicator.as_str()],
            uid: v.uid,
            pid: crate::store::facts::period_no(&v.period),
            disagg: 0,
            value: v.value,
            row: None,
            col: None,
        }),
    )?;
    let approved = approve(&tx, submission, version)?;
    tracing::info!(ms = t.elapsed().as_millis() as u64, approved, "demo stored");
    tx.execute(
        "UPDATE meta SET value = ? WHERE key = 'data_version'",
        [version.to_string()],
    )
    .ctx("advancing the data version")?;
    tx.commit().ctx("committing the demo")?;
    conn.execute_batch("CHECKPOINT")
        .ctx("checkpointing the demo")?;
    Ok((values.len(), version))
}

/// The demo as a system in use: every report of a period before each regime's latest is
/// approved, from the reporting units up to the nation; of the latest, about 6 in 10 reporting
/// units have approved their own and nobody above them has yet. Returns the approvals made.
fn approve(tx: &Connection, submission: i64, version: i64) -> Result<usize, StoreError> {
    tx.execute(
        "INSERT INTO approvals
         WITH reported AS (
             SELECT DISTINCT ri.regime, o.uid, o.pid
             FROM observations o
             JOIN indicator_ids i ON i.id = o.ind
             JOIN regime_indicators ri ON ri.indicator = i.code
             JOIN regimes g ON g.code = ri.regime
             JOIN units u ON u.uid = o.uid AND u.level = ri.level
             WHERE o.submission = ?1
               AND o.pid % 8 = CASE g.frequency WHEN 'month' THEN 0 WHEN 'quarter' THEN 1
                                                WHEN 'half' THEN 2 ELSE 3 END),
         latest AS (SELECT regime, max(pid) AS pid FROM reported GROUP BY regime),
         approved AS (
             SELECT r.regime, r.uid, r.pid FROM reported r JOIN latest l USING (regime)
             WHERE r.pid < l.pid OR hash(r.uid) % 10 < 6
             UNION
             SELECT r.regime, c.ancestor, r.pid FROM reported r JOIN latest l USING (regime)
             JOIN unit_closure c ON c.uid = r.uid AND NOT c.restated
             WHERE r.pid < l.pid)
         SELECT (SELECT coalesce(max(id), 0) FROM approvals)
                    + row_number() OVER (ORDER BY regime, pid, uid),
                regime, uid, pid, ?2, now()::TIMESTAMP, 'demo', NULL
         FROM approved",
        params![submission, version],
    )
    .ctx("approving the demo's reports")
}

/// Writes the demo as upload-ready CSV files, one per regime (long layout, vi-VN numbers), for
/// trying `import` and `POST /api/uploads` by hand.
pub fn write_csv(
    dir: &Path,
    cat: &Catalogue,
    h: &Hierarchy,
    opts: &DemoOptions,
) -> std::io::Result<Vec<(String, usize)>> {
    std::fs::create_dir_all(dir)?;
    let values = generate(cat, h, opts);
    let mut files = Vec::new();
    for r in &cat.regimes {
        let path = dir.join(format!("{}.csv", r.code));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(f, "Mã đơn vị;Tên đơn vị;Kỳ;Chỉ tiêu;Giá trị")?;
        let mut n = 0;
        for v in values
            .iter()
            .filter(|v| r.indicators.contains(&v.indicator))
        {
            let Some(u) = h.unit(v.uid) else { continue };
            if u.level != r.level {
                continue;
            }
            // The generator's own rounding, so importing the files gives the same values.
            let decimals = cat
                .indicator(&v.indicator)
                .map_or(2, |i| i.decimals.max(1) as usize + 1);
            writeln!(
                f,
                "{};{};{};{};{}",
                u.code,
                u.full_name,
                v.period.label_vi(),
                v.indicator,
                dieuhanh_protocol::number::format_vi(v.value, decimals)
            )?;
            n += 1;
        }
        f.flush()?;
        drop(f);
        if n == 0 {
            // A regime with no period inside the range: no file rather than an empty one.
            std::fs::remove_file(&path)?;
            continue;
        }
        files.push((path.display().to_string(), n));
    }
    Ok(files)
}
