//! Figure routes: the drill-down by locality (a breakdown of one indicator for one period under
//! one parent, child by child, with YoY %, YTD and rank), a series for one unit over a period
//! range, one headline figure, and the provenance of a value.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::hierarchy::Level;
use crate::ingest::today_in_vietnam;
use crate::query::{
    self, Breakdown, BreakdownQuery, Figure, Provenance, Series, SeriesQuery, ValueRef,
};

use super::{ApiError, AppState, date_param, period_param};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/breakdown", get(breakdown))
        .route("/series", get(series))
        .route("/figure", get(figure))
        .route("/provenance", get(provenance))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BreakdownParams {
    /// Indicator code or Vietnamese name, e.g. VM02.
    indicator: String,
    /// Period, e.g. 2025-07, 2025-Q3, 2025-YTD09, "Quý III/2025".
    period: String,
    /// Parent unit code; the nation by default.
    parent: Option<String>,
    /// Child level (province, district, commune); the level below the parent by default.
    level: Option<String>,
    /// Structure date (dd/mm/yyyy or yyyy-mm-dd). By default provinces are today's 34 (2024
    /// figures restated), and units below provinces are those that reported the period.
    at: Option<String>,
}

/// Drill-down by locality: an indicator for a period under a parent, child by child.
#[utoipa::path(get, path = "/api/breakdown", tag = "figures", params(BreakdownParams),
    responses((status = 200, body = Breakdown), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn breakdown(
    State(state): State<AppState>,
    Query(p): Query<BreakdownParams>,
) -> Result<Json<Breakdown>, ApiError> {
    let level = p
        .level
        .as_deref()
        .map(|l| {
            Level::parse(l).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "level {l:?} is not one of province, district, commune"
                ))
            })
        })
        .transpose()?;
    let q = BreakdownQuery {
        indicator: p.indicator,
        period: period_param("period", &p.period)?,
        parent: p.parent,
        level,
        at: date_param("at", p.at.as_deref())?,
    };
    let store = &state.store;
    let out = query::breakdown(
        store.serving(),
        store.catalogue(),
        store.hierarchy(),
        &q,
        today_in_vietnam(),
        store.version(),
    )?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SeriesParams {
    indicator: String,
    /// Unit code; VN for the nation.
    unit: String,
    /// First period, e.g. 2024-01.
    from: String,
    /// Last period, of the same kind as `from`.
    to: String,
    /// Structure date for the unit code; today by default.
    at: Option<String>,
}

/// A series of one indicator for one unit over a period range, each point with YoY and YTD.
#[utoipa::path(get, path = "/api/series", tag = "figures", params(SeriesParams),
    responses((status = 200, body = Series), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn series(
    State(state): State<AppState>,
    Query(p): Query<SeriesParams>,
) -> Result<Json<Series>, ApiError> {
    let q = SeriesQuery {
        from: period_param("from", &p.from)?,
        to: period_param("to", &p.to)?,
        at: date_param("at", p.at.as_deref())?.unwrap_or_else(today_in_vietnam),
        indicator: p.indicator,
        unit: p.unit,
    };
    let store = &state.store;
    let out = query::series(
        store.serving(),
        store.catalogue(),
        store.hierarchy(),
        &q,
        store.version(),
    )?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FigureParams {
    indicator: String,
    /// Unit code; the nation by default.
    unit: Option<String>,
    period: String,
    at: Option<String>,
}

/// One headline figure: value, % vs same period last year, year-to-date, target.
#[utoipa::path(get, path = "/api/figure", tag = "figures", params(FigureParams),
    responses((status = 200, body = Figure), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn figure(
    State(state): State<AppState>,
    Query(p): Query<FigureParams>,
) -> Result<Json<Figure>, ApiError> {
    let period = period_param("period", &p.period)?;
    let q = SeriesQuery {
        from: period,
        to: period,
        at: date_param("at", p.at.as_deref())?.unwrap_or_else(today_in_vietnam),
        indicator: p.indicator,
        unit: p.unit.unwrap_or_else(|| "VN".into()),
    };
    let store = &state.store;
    let s = query::series(
        store.serving(),
        store.catalogue(),
        store.hierarchy(),
        &q,
        store.version(),
    )?;
    s.points
        .into_iter()
        .next()
        .map(|p| Json(p.figure))
        .ok_or_else(|| ApiError::Internal("a one-period series came back empty".into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProvenanceParams {
    indicator: String,
    unit: String,
    period: String,
    at: Option<String>,
}

/// Where a value comes from: its revisions (reported) or the submissions behind it (computed).
#[utoipa::path(get, path = "/api/provenance", tag = "figures", params(ProvenanceParams),
    responses((status = 200, body = Provenance), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn provenance(
    State(state): State<AppState>,
    Query(p): Query<ProvenanceParams>,
) -> Result<Json<Provenance>, ApiError> {
    let period = period_param("period", &p.period)?;
    let at = date_param("at", p.at.as_deref())?.unwrap_or_else(today_in_vietnam);
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    let serving = state.store.serving().clone();
    let out = state
        .store
        .read(move |conn| {
            let v = ValueRef {
                indicator: p.indicator,
                unit: p.unit,
                period,
                at,
            };
            query::provenance(conn, &serving, &cat, &h, &v).map_err(ApiError::from)
        })
        .await?;
    Ok(Json(out))
}
