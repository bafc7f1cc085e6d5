//! Read side: the figures leaders drill into. A figure is a served value with its headline
//! comparisons — % vs the same period last year, year-to-date (lũy kế) and its % change, and
//! the target — computed from `cells` at query time. Breakdowns list the children of a unit at a
//! level (ranked), series follow one unit through time, provenance says which submissions and
//! revisions a value rests on, and regime status lists late reporters.

use rustc_hash::FxHashMap as HashMap;

use duckdb::{Connection, params};
use serde::Serialize;

use dieuhanh_protocol::compare::like_for_like;
use dieuhanh_protocol::number::{format_percent_vi, format_vi, format_vi_auto, tidy_json};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue, Indicator, TargetKind};
use crate::hierarchy::{Era, Hierarchy, Level, NATION_UID, Unit};
use crate::serving::ServingIndex;
use crate::store::facts::period_no;
use crate::store::{DbContext, StoreError};

/// A stored value and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub value: f64,
    pub kind: CellKind,
    pub n_units: i32,
    pub n_expected: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// Uploaded for this unit and period.
    Reported,
    /// Aggregated from the units below.
    Aggregated,
    /// Aggregated from units of the 2024 structure into a 2025 unit.
    Restated,
    /// Rolled up from shorter periods.
    Rolled,
    /// Ratio of two other indicators.
    Ratio,
}

/// How many reporting units a value covers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub reported: i32,
    pub expected: i32,
    pub complete: bool,
}

/// Progress against a target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetStatus {
    pub kind: TargetKind,
    #[serde(serialize_with = "tidy_json::f64")]
    pub target: f64,
    /// What is compared with the target: the year-to-date total, the growth %, or the value.
    #[serde(serialize_with = "tidy_json::f64")]
    pub actual: f64,
    /// For annual totals: year-to-date as % of the annual plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "tidy_json::opt")]
    pub percent_of_target: Option<f64>,
    /// Whether the comparison is favourable given the direction of good.
    pub on_track: bool,
    /// e.g. "đạt 85,3% kế hoạch năm", "mục tiêu tăng 8,0%".
    pub text: String,
}

/// One value with its headline comparisons, ready for a wall or a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Figure {
    #[serde(serialize_with = "tidy_json::opt")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CellKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Value of the same period last year.
    #[serde(serialize_with = "tidy_json::opt")]
    pub last_year: Option<f64>,
    /// % change vs the same period last year (so với cùng kỳ năm trước). While a total that
    /// adds up still misses some units (`coverage`), over the same units in both years.
    #[serde(serialize_with = "tidy_json::opt")]
    pub yoy_pct: Option<f64>,
    /// Difference vs the same period last year (percentage points for rates); over the same
    /// units as `yoy_pct`.
    #[serde(serialize_with = "tidy_json::opt")]
    pub yoy_diff: Option<f64>,
    /// The units `yoy_pct` compares in both years, when the total misses some: those complete
    /// now that had a value a year before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yoy_units: Option<u32>,
    /// Year-to-date value (lũy kế) up to the end of this period, for sub-year periods.
    #[serde(serialize_with = "tidy_json::opt")]
    pub ytd: Option<f64>,
    #[serde(serialize_with = "tidy_json::opt")]
    pub ytd_last_year: Option<f64>,
    /// % change of `ytd` vs last year's; like `yoy_pct`, over the same units in both years while
    /// the year-to-date total misses some.
    #[serde(serialize_with = "tidy_json::opt")]
    pub ytd_yoy_pct: Option<f64>,
    /// The units `ytd_yoy_pct` compares, when the year-to-date total misses some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ytd_yoy_units: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetStatus>,
    /// Vietnamese-formatted value, e.g. "1.234.567,8".
    pub value_text: Option<String>,
    /// e.g. "+5,2%" or "+0,3 điểm %".
    pub yoy_text: Option<String>,
}

/// Errors answered to the caller (bad parameters) or from the store.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter names nothing that exists.
    #[error("{0}")]
    NotFound(String),
    /// A parameter is malformed or inconsistent.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The periods a figure needs: the period, last year's, and their year-to-date.
fn figure_periods(p: &Period) -> [Period; 4] {
    let ly = p.same_period_last_year();
    let ytd = p.ytd();
    [*p, ly, ytd, ytd.same_period_last_year()]
}

/// Builds a figure from the cells of one unit (keyed by period).
pub fn figure(
    ind: &Indicator,
    unit: u32,
    period: &Period,
    cells: &HashMap<Period, Cell>,
    matched: Matched,
) -> Figure {
    let [p, ly, ytd, ytd_ly] = figure_periods(period);
    let get = |q: &Period| cells.get(q).copied();
    let cur = get(&p);
    let last = get(&ly);
    let value = cur.map(|c| c.value);
    let last_year = last.map(|c| c.value);
    // Compared like for like while the total misses some units (`compare::like_for_like`).
    let partial = |c: Option<Cell>| {
        c.is_some_and(|c| c.n_units < c.n_expected) && ind.aggregation == Aggregation::Sum
    };
    let ytd_matched = matched.ytd.filter(|_| partial(get(&ytd)));
    let matched = matched.period.filter(|_| partial(cur));
    let (now, before) = match matched {
        Some((a, b, _)) => (Some(a), Some(b)),
        None => (value, last_year),
    };
    let pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some((a / b - 1.0) * 100.0),
        _ => None,
    };
    // Year-to-date is only meaningful inside a year, for flows and rolled-up means.
    let has_ytd = matches!(
        p,
        Period::Month { .. } | Period::Quarter { .. } | Period::Half { .. }
    ) && ind.temporal != crate::catalogue::Temporal::None
        || ind.aggregation == Aggregation::Ratio
            && matches!(p, Period::Month { .. } | Period::Quarter { .. });
    let (ytd_v, ytd_ly_v) = if has_ytd {
        (get(&ytd).map(|c| c.value), get(&ytd_ly).map(|c| c.value))
    } else {
        (None, None)
    };
    let ytd_matched = ytd_matched.filter(|_| has_ytd);
    let ytd_yoy_pct = match ytd_matched {
        Some((a, b, _)) => pct(Some(a), Some(b)),
        None => pct(ytd_v, ytd_ly_v),
    };
    let yoy_pct = pct(now, before);
    let yoy_diff = match (now, before) {
        (Some(a), Some(b)) => Some(a - b),
        _ => None,
    };
    let yoy_text = if ind.is_rate() {
        yoy_diff.map(|d| format!("{} điểm %", signed(&format_vi(d, 2))))
    } else {
        yoy_pct.map(|p| format_percent_vi(p, 1, true))
    };
    let target = value.and_then(|v| {
        target_status(
            ind,
            unit,
            period,
            v,
            yoy_pct,
            ytd_v.or(if matches!(p, Period::Year { .. }) {
                value
            } else {
                None
            }),
            ytd_yoy_pct.or(yoy_pct),
        )
    });
    Figure {
        value,
        kind: cur.map(|c| c.kind),
        coverage: cur.map(|c| Coverage {
            reported: c.n_units,
            expected: c.n_expected,
            complete: c.n_units >= c.n_expected,
        }),
        last_year,
        yoy_pct,
        yoy_diff,
        yoy_units: matched.map(|m| m.2),
        ytd: ytd_v,
        ytd_last_year: ytd_ly_v,
        ytd_yoy_pct,
        ytd_yoy_units: ytd_matched.map(|m| m.2),
        target,
        value_text: value.map(|v| format_vi(v, ind.decimals as usize)),
        yoy_text,
    }
}

/// A unit's value when its own figure is complete (a like-for-like comparison sums only those).
fn complete(c: Option<&Cell>) -> Option<f64> {
    c.filter(|c| c.n_units >= c.n_expected).map(|c| c.value)
}

/// The units a total of `uid` at `p` adds up from, one level down, in the structure of `p`.
fn parts<'h>(h: &'h Hierarchy, uid: u32, p: &Period) -> &'h [u32] {
    let era = Era::of_period(p);
    let level = match h.unit(uid).map(|u| u.level) {
        Some(Level::Nation) => Level::Province,
        Some(Level::Province) if era == Era::Since2025 => Level::Commune,
        Some(Level::Province) => Level::District,
        Some(Level::District) => Level::Commune,
        _ => return &[],
    };
    h.descendants(uid, level, era)
}

/// A total's like-for-like comparisons ([`like_for_like`]) over the units below it: of its
/// period, and of its year-to-date. Each is `None` when that total is complete, or too few
/// units match.
#[derive(Debug, Clone, Copy, Default)]
pub struct Matched {
    pub period: Option<(f64, f64, u32)>,
    pub ytd: Option<(f64, f64, u32)>,
}

impl Matched {
    /// From the cells of the units below a total, keyed by unit and period.
    fn of(children: &[u32], p: &Period, cells: &CellMap) -> Matched {
        let value = |u: u32, q: &Period| complete(cells.get(&(u, *q)));
        let over = |q: Period| {
            let ly = q.same_period_last_year();
            like_for_like(children.iter().map(|&u| (value(u, &q), value(u, &ly))))
        };
        Matched {
            period: over(*p),
            ytd: over(p.ytd()),
        }
    }
}

/// [`Matched`] of `uid`'s totals from the index, when one misses some units (a few cells
/// read only then); `by_period` holds `uid`'s own cells.
fn matched_in_index(
    index: &ServingIndex,
    h: &Hierarchy,
    ind: &Indicator,
    uid: u32,
    p: &Period,
    by_period: &HashMap<Period, Cell>,
) -> Matched {
    let partial = |q: &Period| by_period.get(q).is_some_and(|c| c.n_units < c.n_expected);
    if ind.aggregation != Aggregation::Sum || !(partial(p) || partial(&p.ytd())) {
        return Matched::default();
    }
    let children = parts(h, uid, p);
    let cells = index.read(&ind.code, children, &figure_periods(p));
    Matched::of(children, p, &cells)
}

/// The calendar month (1–12) a period starts in.
pub fn month_number(p: &Period) -> u8 {
    (p.month_index().rem_euclid(12) + 1) as u8
}

fn signed(s: &str) -> String {
    if s.starts_with('-') {
        s.to_owned()
    } else {
        format!("+{s}")
    }
}

fn target_status(
    ind: &Indicator,
    unit: u32,
    period: &Period,
    value: f64,
    yoy_pct: Option<f64>,
    ytd: Option<f64>,
    ytd_yoy_pct: Option<f64>,
) -> Option<TargetStatus> {
    let t = ind.target.as_ref()?;
    let target = *t.values.get(&period.year())?;
    // Plans for totals and growth are national; level targets (rates) hold everywhere.
    if t.kind != TargetKind::Level && unit != NATION_UID {
        return None;
    }
    let higher = ind.higher_is_better.unwrap_or(true);
    let favourable = |actual: f64| {
        if higher {
            actual >= target
        } else {
            actual <= target
        }
    };
    Some(match t.kind {
        TargetKind::AnnualTotal => {
            let actual = ytd?;
            let pct = actual / target * 100.0;
            // On track when the share of the plan keeps pace with the share of the year gone.
            let elapsed = f64::from(month_number(&period.last_month())) / 12.0 * 100.0;
            TargetStatus {
                kind: t.kind,
                target,
                actual,
                percent_of_target: Some(pct),
                on_track: if higher {
                    pct >= elapsed * 0.95
                } else {
                    pct <= elapsed
                },
                text: format!("đạt {}% kế hoạch năm", format_vi(pct, 1)),
            }
        }
        TargetKind::Growth => {
            let actual = ytd_yoy_pct.or(yoy_pct)?;
            TargetStatus {
                kind: t.kind,
                target,
                actual,
                percent_of_target: None,
                on_track: favourable(actual),
                text: format!(
                    "mục tiêu {} {}%",
                    if higher { "tăng" } else { "tăng không quá" },
                    format_vi(target, 1)
                ),
            }
        }
        TargetKind::Level => TargetStatus {
            kind: t.kind,
            target,
            actual: value,
            percent_of_target: None,
            on_track: favourable(value),
            text: format!(
                "mục tiêu {} {} {}",
                if higher { "≥" } else { "≤" },
                format_vi_auto(target),
                ind.unit
            ),
        },
    })
}

/// A unit as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitRef {
    pub code: String,
    pub name: String,
    pub full_name: String,
    pub level: String,
    /// "2024" (63 provinces) or "2025" (34 provinces); absent for the nation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<String>,
}

impl UnitRef {
    pub fn of(u: &Unit) -> Self {
        UnitRef {
            code: u.code.clone(),
            name: u.name.clone(),
            full_name: u.full_name.clone(),
            level: u.level.as_str().into(),
            structure: u.era.map(|e| e.as_str().into()),
        }
    }
}

/// One row of a breakdown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BreakdownRow {
    pub unit: UnitRef,
    /// 1 = largest value among the children that have one.
    pub rank: Option<usize>,
    /// Share of the parent's value, for additive indicators.
    #[serde(serialize_with = "tidy_json::opt")]
    pub share_pct: Option<f64>,
    #[serde(flatten)]
    pub figure: Figure,
}

/// An indicator for one period under one parent, child by child.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Breakdown {
    pub indicator: IndicatorRef,
    pub period: PeriodRef,
    pub parent: UnitRef,
    pub parent_figure: Figure,
    pub level: String,
    /// Structure of the children: "2025" (today's) or "2024" (as reported before 01/07/2025).
    pub structure: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub rows: Vec<BreakdownRow>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorRef {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub decimals: u8,
    pub higher_is_better: Option<bool>,
}

impl IndicatorRef {
    pub fn of(i: &Indicator) -> Self {
        IndicatorRef {
            code: i.code.clone(),
            name: i.name_vi.clone(),
            unit: i.unit.clone(),
            decimals: i.decimals,
            higher_is_better: i.higher_is_better,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodRef {
    /// Canonical id, e.g. "2025-Q3".
    pub id: String,
    /// Vietnamese label, e.g. "Quý III/2025".
    pub label: String,
}

impl PeriodRef {
    pub fn of(p: &Period) -> Self {
        PeriodRef {
            id: p.id(),
            label: p.label_vi(),
        }
    }
}

/// Parameters of a breakdown.
#[derive(Debug, Clone)]
pub struct BreakdownQuery {
    pub indicator: String,
    pub period: Period,
    /// Parent unit code; the nation when absent.
    pub parent: Option<String>,
    /// Child level; the level below the parent when absent.
    pub level: Option<Level>,
    /// Structure of the parent (and of province children); today's when absent.
    pub at: Option<CivilDate>,
}

/// Resolves a unit code in the structure in force on `at`.
pub fn find_unit<'h>(h: &'h Hierarchy, code: &str, at: CivilDate) -> Result<&'h Unit, QueryError> {
    let era = Era::at(at);
    if code.eq_ignore_ascii_case("VN") || code.trim().is_empty() {
        return Ok(h.nation());
    }
    let levels = [Level::Province, Level::District, Level::Commune];
    h.resolve(era, &levels, code)
        .map_err(|e| QueryError::NotFound(format!("unit: {e}")))
}

pub fn find_indicator<'c>(cat: &'c Catalogue, code: &str) -> Result<&'c Indicator, QueryError> {
    cat.resolve_indicator(code).ok_or_else(|| {
        QueryError::NotFound(format!(
            "no indicator {code:?}; GET /api/indicators lists them (e.g. VM02)"
        ))
    })
}

/// A breakdown served from the in-memory index.
pub fn breakdown(
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    q: &BreakdownQuery,
    today: CivilDate,
    version: i64,
) -> Result<Breakdown, QueryError> {
    breakdown_with(cat, h, q, today, version, |ind, uids, periods| {
        Ok(index.read(ind, uids, periods))
    })
}

/// Cells of one indicator for units × periods, from whatever store holds them.
pub type CellMap = HashMap<(u32, Period), Cell>;

/// [`breakdown`] with the cells read by `fetch` (the benchmark reads PostgreSQL with it).
pub fn breakdown_with(
    cat: &Catalogue,
    h: &Hierarchy,
    q: &BreakdownQuery,
    today: CivilDate,
    version: i64,
    fetch: impl FnOnce(&str, &[u32], &[Period]) -> Result<CellMap, QueryError>,
) -> Result<Breakdown, QueryError> {
    let ind = find_indicator(cat, &q.indicator)?;
    check_period_kind(ind, &q.period)?;
    let at = q.at.unwrap_or(today);
    let parent = match &q.parent {
        Some(code) => find_unit(h, code, at)?,
        None => h.nation(),
    };
    let level = match q.level {
        Some(l) => l,
        None => match parent.level {
            Level::Nation => Level::Province,
            Level::Province if Era::at(at) == Era::Before2025 => Level::District,
            Level::Province | Level::District => Level::Commune,
            Level::Commune => {
                return Err(QueryError::Invalid(
                    "a commune has no units below it; pick its province as parent".into(),
                ));
            }
        },
    };
    if level <= parent.level {
        return Err(QueryError::Invalid(format!(
            "level {} is not below {} ({})",
            level.as_str(),
            parent.full_name,
            parent.level.as_str()
        )));
    }
    let period_era = Era::of_period(&q.period);
    // Provinces can be shown in today's structure for any period (restated); units below a
    // province exist only as they reported.
    let (era, note) = if q.at.is_some() {
        (Era::at(at), None)
    } else if level == Level::Province {
        (Era::at(today), None)
    } else if period_era != Era::at(at) {
        (
            period_era,
            Some(format!(
                "{} was reported by the units in force before 01/07/2025; they are listed as \
                 they were, grouped under today's {}",
                q.period.label_vi(),
                parent.name
            )),
        )
    } else {
        (period_era, None)
    };
    if level == Level::District && era == Era::Since2025 {
        return Err(QueryError::Invalid(
            "districts were abolished on 01/07/2025; ask for level=commune, or at=2025-06-30 \
             for the 2024 structure"
                .into(),
        ));
    }
    let children: Vec<u32> = h.descendants(parent.uid, level, era).to_vec();
    let mut uids = children.clone();
    uids.push(parent.uid);
    let periods = figure_periods(&q.period);
    let cells = fetch(&ind.code, &uids, &periods)?;
    let per_unit = |uid: u32| -> HashMap<Period, Cell> {
        periods
            .iter()
            .filter_map(|p| cells.get(&(uid, *p)).map(|c| (*p, *c)))
            .collect()
    };
    // The parent's comparisons with last year, like for like over these children while it
    // misses some.
    let matched = Matched::of(&children, &q.period, &cells);
    let parent_figure = figure(ind, parent.uid, &q.period, &per_unit(parent.uid), matched);
    let mut rows: Vec<BreakdownRow> = children
        .iter()
        .filter_map(|&uid| h.unit(uid))
        .map(|u| {
            let f = figure(ind, u.uid, &q.period, &per_unit(u.uid), Matched::default());
            let share = match (ind.aggregation, f.value, parent_figure.value) {
                (Aggregation::Sum, Some(v), Some(p)) if p != 0.0 => Some(v / p * 100.0),
                _ => None,
            };
            BreakdownRow {
                unit: UnitRef::of(u),
                rank: None,
                share_pct: share,
                figure: f,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.figure
            .value
            .partial_cmp(&a.figure.value)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.unit.code.cmp(&b.unit.code))
    });
    let mut rank = 0;
    for r in &mut rows {
        if r.figure.value.is_some() {
            rank += 1;
            r.rank = Some(rank);
        }
    }
    Ok(Breakdown {
        indicator: IndicatorRef::of(ind),
        period: PeriodRef::of(&q.period),
        parent: UnitRef::of(parent),
        parent_figure,
        level: level.as_str().into(),
        structure: era.as_str().into(),
        note,
        rows,
        version,
    })
}

/// Periods of the indicator's frequency, or longer ones it rolls into.
fn check_period_kind(ind: &Indicator, p: &Period) -> Result<(), QueryError> {
    let ok = match (ind.frequency, p) {
        (Frequency::Year, Period::Year { .. }) => true,
        (Frequency::Year, _) => false,
        (Frequency::Quarter, Period::Month { .. }) => false,
        (Frequency::Quarter, Period::YearToDate { month, .. }) => month % 3 == 0,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!(
            "{} is reported by {}; {} is shorter than that",
            ind.code,
            ind.frequency.label_vi().to_lowercase(),
            p.label_vi()
        )))
    }
}

/// One point of a series.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    pub period: PeriodRef,
    #[serde(flatten)]
    pub figure: Figure,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub indicator: IndicatorRef,
    pub unit: UnitRef,
    pub points: Vec<SeriesPoint>,
    pub version: i64,
}

/// Parameters of a series.
#[derive(Debug, Clone)]
pub struct SeriesQuery {
    pub indicator: String,
    /// Unit code; "VN" for the nation.
    pub unit: String,
    pub from: Period,
    pub to: Period,
    /// Structure date for the unit code.
    pub at: CivilDate,
}

pub fn series(
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    q: &SeriesQuery,
    version: i64,
) -> Result<Series, QueryError> {
    let ind = find_indicator(cat, &q.indicator)?;
    check_period_kind(ind, &q.from)?;
    let u = find_unit(h, &q.unit, q.at)?;
    let range = Period::range(q.from, q.to).map_err(|e| QueryError::Invalid(e.to_string()))?;
    let mut needed: Vec<Period> = Vec::new();
    for p in &range {
        needed.extend(figure_periods(p));
    }
    needed.sort();
    needed.dedup();
    let cells = index.read(&ind.code, &[u.uid], &needed);
    let by_period: HashMap<Period, Cell> = cells.into_iter().map(|((_, p), c)| (p, c)).collect();
    let points = range
        .iter()
        .map(|p| SeriesPoint {
            period: PeriodRef::of(p),
            figure: figure(
                ind,
                u.uid,
                p,
                &by_period,
                matched_in_index(index, h, ind, u.uid, p, &by_period),
            ),
        })
        .collect();
    Ok(Series {
        indicator: IndicatorRef::of(ind),
        unit: UnitRef::of(u),
        points,
        version,
    })
}

/// One revision of a reported value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revision {
    pub revision: i32,
    #[serde(serialize_with = "tidy_json::f64")]
    pub value: f64,
    pub submission: SubmissionRef,
    /// Row of the uploaded file the value came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_row: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_column: Option<String>,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubmissionRef {
    pub id: i64,
    pub received_at: String,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitter: Option<String>,
    pub version: i64,
}

/// Submissions behind an aggregated value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub submission: SubmissionRef,
    /// Reported values of this submission that the value includes.
    pub values: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Provenance {
    pub indicator: IndicatorRef,
    pub unit: UnitRef,
    pub period: PeriodRef,
    #[serde(serialize_with = "tidy_json::opt")]
    pub value: Option<f64>,
    pub kind: Option<CellKind>,
    pub coverage: Option<Coverage>,
    /// For a reported value: every revision, oldest first.
    pub revisions: Vec<Revision>,
    /// For a computed value: the submissions of the reported values it rests on (100 newest).
    pub contributions: Vec<Contribution>,
    pub contributions_total: i64,
    /// For a ratio: its numerator and denominator.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Component {
    pub indicator: String,
    #[serde(serialize_with = "tidy_json::opt")]
    pub value: Option<f64>,
}

const SUBMISSION_COLS: &str = "s.id, strftime(s.received_at, '%Y-%m-%dT%H:%M:%SZ'), s.format, s.filename, s.submitter, s.version";

fn submission_ref(r: &duckdb::Row<'_>, at: usize) -> duckdb::Result<SubmissionRef> {
    Ok(SubmissionRef {
        id: r.get(at)?,
        received_at: r.get(at + 1)?,
        format: r.get(at + 2)?,
        filename: r.get(at + 3)?,
        submitter: r.get(at + 4)?,
        version: r.get(at + 5)?,
    })
}

/// One value, as named in a request.
#[derive(Debug, Clone)]
pub struct ValueRef {
    pub indicator: String,
    /// Unit code; "VN" for the nation.
    pub unit: String,
    pub period: Period,
    /// Structure date for the unit code.
    pub at: CivilDate,
}

pub fn provenance(
    conn: &Connection,
    index: &ServingIndex,
    cat: &Catalogue,
    h: &Hierarchy,
    v: &ValueRef,
) -> Result<Provenance, QueryError> {
    let ind = find_indicator(cat, &v.indicator)?;
    let u = find_unit(h, &v.unit, v.at)?;
    let period = &v.period;
    let cells = index.read(&ind.code, &[u.uid], &[*period]);
    let cell = cells.get(&(u.uid, *period)).copied();

    let mut revisions = Vec::new();
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT row_number() OVER (ORDER BY o.submission)::INTEGER, o.value,
                        o.source_row, c.field, {SUBMISSION_COLS},
                        o.submission = max(o.submission) OVER () AS current
                 FROM observations o JOIN submissions s ON s.id = o.submission
                 LEFT JOIN submission_columns c
                     ON c.submission = o.submission AND c.col_no = o.source_col
                 WHERE o.ind = (SELECT id FROM indicator_ids WHERE code = ?) AND o.uid = ?
                   AND o.pid = ? AND o.disagg = 0
                 ORDER BY o.submission"
            ))
            .ctx("reading revisions")?;
        let rows = stmt
            .query_map(params![ind.code, u.uid, period_no(period)], |r| {
                Ok(Revision {
                    revision: r.get(0)?,
                    value: r.get(1)?,
                    source_row: r.get(2)?,
                    source_column: r.get(3)?,
                    submission: submission_ref(r, 4)?,
                    current: r.get(10)?,
                })
            })
            .ctx("reading revisions")?;
        for row in rows {
            revisions.push(row.ctx("reading revisions")?);
        }
    }

    // The reported values a computed cell rests on: descendants (and the unit itself) over the
    // months (or quarters) the period covers.
    let mut contributions = Vec::new();
    let mut total = 0i64;
    let mut components = Vec::new();
    if matches!(cell.map(|c| c.kind), Some(k) if k != CellKind::Reported) {
        let parts: Vec<String> = if ind.aggregation == Aggregation::Ratio {
            for part in [&ind.numerator, &ind.denominator].into_iter().flatten() {
                let v = index
                    .read(part, &[u.uid], &[*period])
                    .get(&(u.uid, *period))
                    .map(|c| c.value);
                components.push(Component {
                    indicator: part.clone(),
                    value: v,
                });
            }
            [&ind.numerator, &ind.denominator]
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else {
            vec![ind.code.clone()]
        };
        let subperiods: Vec<i32> = match ind.frequency {
            Frequency::Quarter => period
                .months()
                .iter()
                .map(|m| {
                    period_no(&Period::containing(
                        Frequency::Quarter,
                        m.year(),
                        month_number(m),
                    ))
                })
                .collect(),
            Frequency::Year => vec![period_no(&Period::Year {
                year: period.year(),
            })],
            _ => period.months().iter().map(period_no).collect(),
        };
        let from = format!(
            "FROM current_obs o JOIN submissions s ON s.id = o.submission
             WHERE o.ind IN (SELECT id FROM indicator_ids WHERE code IN ({}))
               AND o.pid IN ({}) AND o.disagg = 0
               AND (o.uid = ? OR o.uid IN (SELECT uid FROM unit_closure WHERE ancestor = ?))",
            crate::store::sql_codes(&parts),
            subperiods
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        total = conn
            .query_row(
                &format!("SELECT count(DISTINCT s.id) {from}"),
                params![u.uid, u.uid],
                |r| r.get(0),
            )
            .ctx("reading contributions")?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT count(*), {SUBMISSION_COLS} {from}
                 GROUP BY ALL ORDER BY s.id DESC LIMIT 100"
            ))
            .ctx("reading contributions")?;
        let rows = stmt
            .query_map(params![u.uid, u.uid], |r| {
                Ok(Contribution {
                    values: r.get(0)?,
                    submission: submission_ref(r, 1)?,
                })
            })
            .ctx("reading contributions")?;
        for row in rows {
            contributions.push(row.ctx("reading contributions")?);
        }
    }
    Ok(Provenance {
        indicator: IndicatorRef::of(ind),
        unit: UnitRef::of(u),
        period: PeriodRef::of(period),
        value: cell.map(|c| c.value),
        kind: cell.map(|c| c.kind),
        coverage: cell.map(|c| Coverage {
            reported: c.n_units,
            expected: c.n_expected,
            complete: c.n_units >= c.n_expected,
        }),
        revisions,
        contributions,
        contributions_total: total,
        components,
    })
}

/// An indicator with its latest national figure, for the drill-down by ministry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorFigure {
    pub indicator: IndicatorRef,
    pub domain: String,
    pub frequency: String,
    pub period: Option<PeriodRef>,
    pub figure: Option<Figure>,
}

pub fn latest_figures(
    index: &ServingIndex,
    h: &Hierarchy,
    indicators: &[&Indicator],
    uid: u32,
) -> Vec<IndicatorFigure> {
    let mut out = Vec::new();
    for ind in indicators {
        let period = index.latest_period(&ind.code, uid, ind.frequency);
        let fig = match &period {
            Some(p) => {
                let cells = index.read(&ind.code, &[uid], &figure_periods(p));
                let by: HashMap<Period, Cell> =
                    cells.into_iter().map(|((_, p), c)| (p, c)).collect();
                let matched = matched_in_index(index, h, ind, uid, p, &by);
                Some(figure(ind, uid, p, &by, matched))
            }
            None => None,
        };
        out.push(IndicatorFigure {
            indicator: IndicatorRef::of(ind),
            domain: ind.domain.clone(),
            frequency: ind.frequency.as_str().into(),
            period: period.as_ref().map(PeriodRef::of),
            figure: fig,
        });
    }
    out
}

/// Whether each unit of a regime's level has reported a period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RegimeStatus {
    pub regime: String,
    pub name: String,
    pub period: PeriodRef,
    pub level: String,
    /// Due date, dd/mm/yyyy.
    pub deadline: String,
    pub overdue: bool,
    pub expected: usize,
    pub reported: usize,
    /// Units that have not reported; "late" once the deadline has passed.
    pub missing: Vec<UnitRef>,
    pub missing_total: usize,
    /// Of the units that reported, those whose report is approved as it stands.
    pub approved: usize,
    /// Units that reported whose report awaits approval, or changed since it (first 500).
    pub awaiting_approval: Vec<crate::approval::BelowState>,
    pub awaiting_approval_total: usize,
    /// The report of the unit asked under (the nation by default), which adds theirs up.
    pub parent_report: ParentReport,
}

/// Where the report of the unit a status is asked under stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParentReport {
    pub unit: UnitRef,
    pub state: crate::approval::ReportState,
    /// Its latest approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::Approval>,
}

pub fn regime_status(
    conn: &Connection,
    cat: &Catalogue,
    h: &Hierarchy,
    regime: &str,
    period: &Period,
    parent: Option<&str>,
    today: CivilDate,
) -> Result<RegimeStatus, QueryError> {
    let r = cat.regime(regime).ok_or_else(|| {
        QueryError::NotFound(format!("no regime {regime:?}; GET /api/regimes lists them"))
    })?;
    r.period_fits(period).map_err(QueryError::Invalid)?;
    let era = Era::of_period(period);
    let anc = match parent {
        Some(code) => find_unit(h, code, period.end_date())?,
        None => h.nation(),
    };
    let expected: Vec<u32> = if r.level == Level::Nation {
        vec![NATION_UID]
    } else {
        h.descendants(anc.uid, r.level, era).to_vec()
    };
    let reports = crate::approval::Reports::load(conn, h, r, *period)?;
    let missing: Vec<u32> = expected
        .iter()
        .copied()
        .filter(|&u| reports.version(u).is_none())
        .collect();
    let awaiting: Vec<crate::approval::BelowState> = expected
        .iter()
        .filter_map(|&u| {
            let state = reports.state(u);
            let waits = matches!(
                state,
                crate::approval::ReportState::AwaitingApproval
                    | crate::approval::ReportState::ChangedSinceApproval
            );
            Some(crate::approval::BelowState {
                unit: UnitRef::of(h.unit(u)?),
                state,
            })
            .filter(|_| waits)
        })
        .collect();
    let deadline = period.end_date().add_days(i32::from(r.deadline_days));
    Ok(RegimeStatus {
        regime: r.code.clone(),
        name: r.name.clone(),
        period: PeriodRef::of(period),
        level: r.level.as_str().into(),
        deadline: deadline.to_string(),
        overdue: today > deadline,
        expected: expected.len(),
        reported: expected.len() - missing.len(),
        missing_total: missing.len(),
        missing: missing
            .iter()
            .take(500)
            .filter_map(|&u| h.unit(u))
            .map(UnitRef::of)
            .collect(),
        approved: expected.len() - missing.len() - awaiting.len(),
        awaiting_approval_total: awaiting.len(),
        awaiting_approval: awaiting.into_iter().take(500).collect(),
        parent_report: ParentReport {
            unit: UnitRef::of(anc),
            state: reports.state(anc.uid),
            approval: reports.approval(anc.uid).cloned(),
        },
    })
}
