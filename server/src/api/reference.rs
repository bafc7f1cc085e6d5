//! Reference routes: administrative units by level, parent and date; agencies (ministries) with
//! their indicators and latest national figures; domains; indicators; reporting regimes and who
//! is late.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Agency, Domain, Indicator, Regime};
use crate::hierarchy::{Era, Hierarchy, Level, NATION_UID, Unit};
use crate::ingest::today_in_vietnam;
use crate::query::{self, IndicatorFigure, RegimeStatus};

use super::{ApiError, AppState, date_param, period_param};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/units", get(units))
        .route("/units/{code}", get(unit))
        .route("/agencies", get(agencies))
        .route("/agencies/{code}", get(agency))
        .route("/domains", get(domains))
        .route("/indicators", get(indicators))
        .route("/indicators/{code}", get(indicator))
        .route("/regimes", get(regimes))
        .route("/regimes/{code}/status", get(regime_status))
}

/// An administrative unit.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnitOut {
    pub code: String,
    pub name: String,
    pub full_name: String,
    /// nation | province | district | commune
    pub level: String,
    /// Tỉnh, Thành phố, Phường, Xã, Đặc khu...
    #[serde(rename = "type")]
    pub kind: String,
    /// "2024" (until 30/06/2025) or "2025" (since 01/07/2025); absent for the nation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_km2: Option<f64>,
    /// For a 2024 province: the 2025 province it went into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// For a 2025 province: the 2024 provinces it was formed from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predecessors: Vec<String>,
    /// Number of units directly below.
    pub children: usize,
}

fn unit_out(h: &Hierarchy, u: &Unit) -> UnitOut {
    let code_of = |uid: Option<u32>| uid.and_then(|x| h.unit(x)).map(|p| p.code.clone());
    let predecessors = if u.level == Level::Province && u.era == Some(Era::Since2025) {
        let mut v: Vec<String> = h
            .at_level(Level::Province, Era::Before2025)
            .filter(|o| o.successor == Some(u.uid))
            .map(|o| o.code.clone())
            .collect();
        v.sort();
        v
    } else {
        Vec::new()
    };
    UnitOut {
        code: u.code.clone(),
        name: u.name.clone(),
        full_name: u.full_name.clone(),
        level: u.level.as_str().into(),
        kind: u.kind.clone(),
        structure: u.era.map(|e| e.as_str().into()),
        valid_from: u.era.map(|e| e.valid_from().iso()),
        valid_to: u.era.and_then(|e| e.valid_to()).map(|d| d.iso()),
        parent: code_of(u.parent),
        province: h
            .province_of(u.uid)
            .filter(|p| p.uid != u.uid)
            .map(|p| p.code.clone()),
        lat: u.lat,
        lon: u.lon,
        population: u.population,
        area_km2: u.area_km2,
        successor: code_of(u.successor),
        predecessors,
        children: h.children(u.uid).len(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UnitsQuery {
    /// nation | province | district | commune (or tỉnh, huyện, xã)
    level: Option<String>,
    /// Code of the parent unit; with `level`, any ancestor (e.g. communes of a province).
    parent: Option<String>,
    /// Date whose structure to use (dd/mm/yyyy or yyyy-mm-dd); today by default.
    at: Option<String>,
    /// Case-insensitive part of the name.
    q: Option<String>,
}

/// Units in force on a date: `?level=province` lists today's 34 provinces,
/// `?level=province&at=2025-06-30` the 63 before the reform.
#[utoipa::path(get, path = "/api/units", tag = "reference", params(UnitsQuery),
    responses((status = 200, body = [UnitOut]), (status = 400, body = super::ErrorBody)))]
pub async fn units(
    State(state): State<AppState>,
    Query(q): Query<UnitsQuery>,
) -> Result<Json<Vec<UnitOut>>, ApiError> {
    let h = state.store.hierarchy();
    let at = date_param("at", q.at.as_deref())?.unwrap_or_else(today_in_vietnam);
    let era = Era::at(at);
    let level = q
        .level
        .as_deref()
        .map(|l| {
            Level::parse(l).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "level {l:?} is not one of nation, province, district, commune"
                ))
            })
        })
        .transpose()?;
    let parent = q
        .parent
        .as_deref()
        .map(|p| query::find_unit(h, p, at))
        .transpose()?;
    let needle = q.q.as_deref().map(crate::text::fold_key);
    let list: Vec<&Unit> = match (level, parent) {
        (Some(Level::Nation), _) => vec![h.nation()],
        (Some(l), Some(p)) => h
            .descendants(p.uid, l, era)
            .iter()
            .filter_map(|&u| h.unit(u))
            .collect(),
        (Some(l), None) => h.at_level(l, era).collect(),
        (None, Some(p)) => h
            .children(p.uid)
            .iter()
            .filter_map(|&u| h.unit(u))
            .filter(|u| u.era.is_none_or(|e| e == era))
            .collect(),
        (None, None) => vec![h.nation()],
    };
    let mut out: Vec<UnitOut> = list
        .into_iter()
        .filter(|u| {
            needle
                .as_ref()
                .is_none_or(|n| crate::text::fold_key(&u.full_name).contains(n.as_str()))
        })
        .map(|u| unit_out(h, u))
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AtQuery {
    /// Date whose structure to use; today by default.
    at: Option<String>,
}

/// One unit by official code.
#[utoipa::path(get, path = "/api/units/{code}", tag = "reference",
    params(("code" = String, Path, description = "Official code, e.g. 79 or 26734"), AtQuery),
    responses((status = 200, body = UnitOut), (status = 404, body = super::ErrorBody)))]
pub async fn unit(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<UnitOut>, ApiError> {
    let h = state.store.hierarchy();
    let at = date_param("at", q.at.as_deref())?.unwrap_or_else(today_in_vietnam);
    let u = query::find_unit(h, &code, at)?;
    Ok(Json(unit_out(h, u)))
}

/// A ministry or ministry-level agency with the number of indicators it owns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyOut {
    #[serde(flatten)]
    pub agency: Agency,
    pub indicators: usize,
}

/// The 14 ministries and 3 ministry-level agencies (since 1 March 2025).
#[utoipa::path(get, path = "/api/agencies", tag = "reference",
    responses((status = 200, body = [AgencyOut])))]
pub async fn agencies(State(state): State<AppState>) -> Json<Vec<AgencyOut>> {
    let cat = state.store.catalogue();
    Json(
        cat.agencies
            .iter()
            .map(|a| AgencyOut {
                agency: a.clone(),
                indicators: cat.indicators.iter().filter(|i| i.agency == a.code).count(),
            })
            .collect(),
    )
}

/// An agency with its indicators and their latest national figures: the drill-down by ministry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyDetail {
    #[serde(flatten)]
    pub agency: Agency,
    pub indicators: Vec<IndicatorFigure>,
    pub version: i64,
}

/// Drill-down by ministry: an agency's indicators with their latest national figures.
#[utoipa::path(get, path = "/api/agencies/{code}", tag = "figures",
    params(("code" = String, Path, description = "Agency code, e.g. BTC")),
    responses((status = 200, body = AgencyDetail), (status = 404, body = super::ErrorBody)))]
pub async fn agency(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<AgencyDetail>, ApiError> {
    let cat = state.store.catalogue().clone();
    let agency = cat.agency(&code).cloned().ok_or_else(|| {
        ApiError::NotFound(format!("no agency {code:?}; GET /api/agencies lists them"))
    })?;
    let version = state.store.version();
    let inds: Vec<&Indicator> = cat
        .indicators
        .iter()
        .filter(|i| i.agency == agency.code)
        .collect();
    let figures = query::latest_figures(
        state.store.serving(),
        state.store.hierarchy(),
        &inds,
        NATION_UID,
    );
    Ok(Json(AgencyDetail {
        agency,
        indicators: figures,
        version,
    }))
}

/// The ten domains of the national indicator set.
#[utoipa::path(get, path = "/api/domains", tag = "reference",
    responses((status = 200, body = [Domain])))]
pub async fn domains(State(state): State<AppState>) -> Json<Vec<Domain>> {
    Json(state.store.catalogue().domains.clone())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IndicatorsQuery {
    /// Agency code, e.g. BTC.
    agency: Option<String>,
    /// Domain code, e.g. VM.
    domain: Option<String>,
}

/// Indicators of the catalogue (modelled on Decision 293/QĐ-TTg), by agency and domain.
#[utoipa::path(get, path = "/api/indicators", tag = "reference", params(IndicatorsQuery),
    responses((status = 200, body = [Indicator])))]
pub async fn indicators(
    State(state): State<AppState>,
    Query(q): Query<IndicatorsQuery>,
) -> Result<Json<Vec<Indicator>>, ApiError> {
    let cat = state.store.catalogue();
    if let Some(a) = &q.agency
        && cat.agency(a).is_none()
    {
        return Err(ApiError::NotFound(format!(
            "no agency {a:?}; GET /api/agencies lists them"
        )));
    }
    Ok(Json(
        cat.indicators
            .iter()
            .filter(|i| {
                q.agency
                    .as_ref()
                    .is_none_or(|a| i.agency.eq_ignore_ascii_case(a))
            })
            .filter(|i| {
                q.domain
                    .as_ref()
                    .is_none_or(|d| i.domain.eq_ignore_ascii_case(d))
            })
            .cloned()
            .collect(),
    ))
}

/// One indicator with the regimes that collect it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndicatorDetail {
    #[serde(flatten)]
    pub indicator: Indicator,
    pub regimes: Vec<String>,
}

/// One indicator by code or Vietnamese name.
#[utoipa::path(get, path = "/api/indicators/{code}", tag = "reference",
    params(("code" = String, Path, description = "Indicator code, e.g. VM02")),
    responses((status = 200, body = IndicatorDetail), (status = 404, body = super::ErrorBody)))]
pub async fn indicator(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<IndicatorDetail>, ApiError> {
    let cat = state.store.catalogue();
    let ind = query::find_indicator(cat, &code)?;
    Ok(Json(IndicatorDetail {
        indicator: ind.clone(),
        regimes: cat.regimes_of(&ind.code).map(|r| r.code.clone()).collect(),
    }))
}

/// Reporting regimes: who reports which indicators, how often, and by when.
#[utoipa::path(get, path = "/api/regimes", tag = "reference",
    responses((status = 200, body = [Regime])))]
pub async fn regimes(State(state): State<AppState>) -> Json<Vec<Regime>> {
    Json(state.store.catalogue().regimes.clone())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StatusQuery {
    /// Period of the regime's frequency, e.g. 2025-07 or "Tháng 7/2025".
    period: String,
    /// Restrict to the units under this unit (e.g. a province's communes).
    parent: Option<String>,
}

/// Who has reported a period of a regime, and who is late.
#[utoipa::path(get, path = "/api/regimes/{code}/status", tag = "reference",
    params(("code" = String, Path, description = "Regime code, e.g. BC-HT"), StatusQuery),
    responses((status = 200, body = RegimeStatus), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn regime_status(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<RegimeStatus>, ApiError> {
    let period = period_param("period", &q.period)?;
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    let today = today_in_vietnam();
    let status = state
        .store
        .read(move |conn| {
            query::regime_status(conn, &cat, &h, &code, &period, q.parent.as_deref(), today)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Json(status))
}
