//! Approval routes: `POST /api/approvals` approves a regime's report of a period for a unit and
//! sends it up; `GET /api/approvals` shows where a report stands and every approval it had.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::approval::{self, Approval, ApprovalError, ApprovalOutcome, ApproveRequest};
use crate::approval::{ReportState, Reports};
use crate::ingest::Scope;
use crate::live::Role;

use super::{ApiError, AppState, period_param};

pub fn router() -> Router<AppState> {
    Router::new().route("/approvals", post(approve).get(history))
}

impl From<ApprovalError> for ApiError {
    fn from(e: ApprovalError) -> Self {
        match e {
            ApprovalError::NotFound(m) => ApiError::NotFound(m),
            ApprovalError::Invalid(m) => ApiError::BadRequest(m),
            ApprovalError::Forbidden(m) => ApiError::Forbidden(m),
            ApprovalError::NothingReported(m) => ApiError::Conflict(m),
            ApprovalError::Store(e) => ApiError::from(e),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TokenParam {
    /// An approver's token, when the server checks tokens (or send `Authorization: Bearer …`).
    token: Option<String>,
}

/// Who approves: an approver's token, whose unit and ministries bound what it may approve.
/// An open server lets anyone approve anything.
pub(crate) fn approver(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Scope, ApiError> {
    let needs = "approvals need an approver's token";
    let scope = super::token_scope(state, headers, token, Role::Approver, needs)?;
    Ok(scope.unwrap_or_else(|| Scope {
        who: "open server".into(),
        ..Scope::default()
    }))
}

/// Approves a regime's report of a period for a unit, and sends it up. The report is the unit's
/// own values (a unit of the regime's level) or the totals of the units under it: nobody
/// re-totals by hand. Values keep flowing to the walls whatever is approved; a correction after
/// an approval leaves the report "changed since approval" until it is approved again. The
/// answer lists the units below whose own reports are not approved (sent up anyway). Approving
/// a report already approved as it stands records nothing.
#[utoipa::path(post, path = "/api/approvals", tag = "approvals", params(TokenParam),
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "Approved (or already approved as it stands)", body = ApprovalOutcome),
        (status = 400, body = super::ErrorBody),
        (status = 401, description = "No valid token", body = super::ErrorBody),
        (status = 403, description = "Not an approver's token, or outside its unit or ministries", body = super::ErrorBody),
        (status = 404, description = "No such regime or unit", body = super::ErrorBody),
        (status = 409, description = "Nothing of the report has come in", body = super::ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    Query(q): Query<TokenParam>,
    headers: HeaderMap,
    Json(req): Json<ApproveRequest>,
) -> Result<Json<ApprovalOutcome>, ApiError> {
    let by = approver(&state, &headers, q.token.as_deref())?;
    Ok(Json(approve_as(&state, by, req).await?))
}

/// Records an approval on the writer connection, for the API and the approvers' page.
pub(crate) async fn approve_as(
    state: &AppState,
    by: Scope,
    req: ApproveRequest,
) -> Result<ApprovalOutcome, ApiError> {
    let span = tracing::info_span!("approval", regime = %req.regime, unit = %req.unit,
        period = %req.period, by = %by.who);
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    let outcome = state
        .store
        .write(move |conn| approval::approve(conn, &cat, &h, &req, &by).map_err(ApiError::from))
        .instrument(span)
        .await?;
    // Walls following this report show it approved.
    if outcome.recorded
        && let Ok(p) = dieuhanh_protocol::period::Period::parse(&outcome.approval.period.id)
    {
        state.live.reports.touch(&outcome.approval.regime, p);
    }
    Ok(outcome)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Regime code, e.g. BC-HT.
    regime: String,
    /// Unit code in the structure of the period; the nation (VN) by default.
    unit: Option<String>,
    /// Period of the regime's frequency, e.g. 2026-10 or "Tháng 10/2026".
    period: String,
}

/// Where one report stands, and every approval it had.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportHistory {
    pub state: ReportState,
    /// Data version of the report's newest value (absent: nothing came in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Newest first.
    pub approvals: Vec<Approval>,
}

/// Where a regime's report of a period stands for a unit, with its approvals, newest first.
#[utoipa::path(get, path = "/api/approvals", tag = "approvals", params(HistoryQuery),
    responses((status = 200, body = ReportHistory), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<ReportHistory>, ApiError> {
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    let period = period_param("period", &q.period)?;
    let out = state
        .store
        .read(move |conn| {
            let regime = cat.regime(&q.regime).ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no regime {:?}; GET /api/regimes lists them (e.g. BC-HT)",
                    q.regime
                ))
            })?;
            let unit =
                crate::query::find_unit(&h, q.unit.as_deref().unwrap_or("VN"), period.end_date())?;
            let reports = Reports::load(conn, &h, regime, period)?;
            Ok::<_, ApiError>(ReportHistory {
                state: reports.state(unit.uid),
                version: reports.version(unit.uid),
                approvals: approval::history(conn, regime, unit, &period)?,
            })
        })
        .await?;
    Ok(Json(out))
}
