//! The HTTP API under `/api/`: reference data (`reference`), figures and drill-down
//! (`figures`), uploads (`uploads`), and the OpenAPI document at `/api/openapi.json`. Routing
//! lives in [`app`] so tests drive it without a socket; errors are JSON with a message that says
//! what was wrong and what to send instead.

pub mod approvals;
pub mod figures;
pub mod reference;
pub mod uploads;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use dieuhanh_protocol::period::{CivilDate, Period};

use crate::events::Events;
use crate::ingest::IngestError;
use crate::query::QueryError;
use crate::store::{Store, StoreError};

/// Limits that protect the server from oversized or slow requests.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest upload body accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Where upload bodies are spooled while they are read.
    pub spool_dir: PathBuf,
    /// Time allowed for a query request.
    pub request_timeout: Duration,
    /// Time allowed for an upload (reading, validating, committing).
    pub upload_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 512 << 20,
            spool_dir: std::env::temp_dir(),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub events: Events,
    pub limits: Arc<Limits>,
    pub live: Arc<crate::live::Hub>,
}

impl AppState {
    /// State over `store`, with the live push started (call inside the runtime).
    pub fn new(store: Store, limits: Limits, live: crate::live::LiveConfig) -> AppState {
        let events = Events::default();
        let hub = crate::live::Hub::start(live, &events, store.serving().clone());
        hub.reports
            .clone()
            .run(store.clone(), &events, hub.cancel.clone());
        AppState {
            store,
            events,
            limits: Arc::new(limits),
            live: hub,
        }
    }
}

/// The router: `/api/...` with tracing and timeouts.
pub fn app(state: AppState) -> Router {
    let timeout = state.limits.request_timeout;
    let upload_timeout = state.limits.upload_timeout;
    let api = Router::new()
        .merge(reference::router())
        .merge(figures::router())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .merge(approvals::router().layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        )))
        .merge(uploads::router().layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            upload_timeout,
        )))
        // Every route above; the document, health and metrics below stay open.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            token_holders_only,
        ))
        .route("/openapi.json", axum::routing::get(openapi_json))
        .route("/metrics", axum::routing::get(crate::live::metrics))
        .route("/health", axum::routing::get(health))
        .layer(axum::middleware::map_response(json_errors));
    let mut root = Router::new().route("/live", axum::routing::get(crate::live::live));
    if state.live.config.echo {
        // Conformance runners connect to the root.
        root = root
            .route("/echo", axum::routing::get(crate::live::echo))
            .route("/", axum::routing::get(crate::live::echo));
    }
    root.nest("/api", api)
        .merge(crate::desk::router(&state, !state.live.config.echo))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// What the token of a write (an upload, an approval) allows: `None` on an open server
/// (anyone, anything); else, when the token's role is `role`, its name with the unit and
/// ministries that bound it. `needs` ends each refusal: "uploads need a reporter's token".
pub(crate) fn token_scope(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    token: Option<&str>,
    role: crate::live::Role,
    needs: &str,
) -> Result<Option<crate::ingest::Scope>, ApiError> {
    let auth = &state.live.config.auth;
    let grant = auth.check(headers, token).map_err(|r| match r.status {
        StatusCode::FORBIDDEN => ApiError::Forbidden(r.message),
        _ => ApiError::Unauthorized(format!("{}; {needs}", r.message)),
    })?;
    if auth.is_open() {
        return Ok(None);
    }
    if grant.role != role {
        return Err(ApiError::Forbidden(format!(
            "token {:?} is a {}'s; {needs}",
            grant.name,
            grant.role.as_str()
        )));
    }
    let unit = match &grant.unit {
        None => None,
        Some(code) => Some(
            state
                .store
                .hierarchy()
                .by_code(crate::hierarchy::Era::Since2025, code)
                .map(|u| u.uid)
                .ok_or_else(|| {
                    ApiError::Internal(format!(
                        "token {:?} names unit {code:?}, which is not in force",
                        grant.name
                    ))
                })?,
        ),
    };
    Ok(Some(crate::ingest::Scope {
        who: format!("token {:?}", grant.name),
        unit,
        agencies: grant.agencies,
    }))
}

/// Figures are for those with rights to them: when the server checks tokens, reading the API
/// needs one (any role), as `/live` does. The document, health and metrics stay open; an
/// upload or an approval (POST) checks for its own role's token itself.
async fn token_holders_only(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let auth = &state.live.config.auth;
    if !auth.is_open() && request.method() != axum::http::Method::POST {
        let token = Query::<TokenQuery>::try_from_uri(request.uri())
            .ok()
            .and_then(|q| q.0.token);
        if let Err(r) = auth.check(request.headers(), token.as_deref()) {
            return r.into_response();
        }
    }
    next.run(request).await
}

/// axum answers a request its extractors refuse (a query parameter missing or malformed, a
/// path segment of the wrong type, a wrong method) and a timeout in plain text or with no body;
/// API clients get every error as JSON, in the same shape as the handlers' own.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let text = axum::body::to_bytes(res.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "this route does not take that method; GET /api/openapi.json lists the API".into()
        }
        (StatusCode::REQUEST_TIMEOUT, _) => {
            "the request took longer than the server allows; ask for less (a shorter period \
             range, fewer units) or try again"
                .into()
        }
        (_, false) => format!("{text}; GET /api/openapi.json lists each route's parameters"),
        (_, true) => status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_owned(),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            status: status.as_u16(),
            message,
        },
    };
    (status, Json(body)).into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; GET /api/openapi.json lists the API".into())
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    version: i64,
}

/// Liveness and the current data version.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, body = Health)))]
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: state.store.version(),
    })
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dieuhanh data server",
        description = "Reports and socio-economic indicators of ministries, provinces and \
            communes, aggregated up Vietnam's administrative hierarchy (before and after the 2025 \
            reform). Periods are written 2025-07, 2025-Q3, 2025-H1, 2025, 2025-YTD09 or in \
            Vietnamese (Tháng 7/2025, Quý III/2025, 6 tháng đầu năm 2025, Năm 2025). Dates \
            dd/mm/yyyy or yyyy-mm-dd."
    ),
    paths(
        health, openapi_json,
        reference::units, reference::unit, reference::agencies, reference::agency,
        reference::domains, reference::indicators, reference::indicator, reference::regimes,
        reference::regime_status,
        figures::breakdown, figures::series, figures::figure, figures::provenance,
        uploads::upload, uploads::submission, approvals::approve, approvals::history,
        crate::live::metrics,
    ),
    tags(
        (name = "reference", description = "Units, agencies, indicators, regimes"),
        (name = "figures", description = "Drill-down by locality and by ministry"),
        (name = "uploads", description = "Report ingest"),
        (name = "approvals", description = "Approving reports and sending them up"),
        (name = "meta", description = "Health and this document"),
    ),
    modifiers(&TokenScheme),
    security(("token" = []))
)]
pub struct ApiDoc;

/// The token a server started with `--auth` asks for (reporters' for uploads, any role's to
/// read); a server without it is open.
struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "A token from the server's --auth file (or ?token=): any role's to read, a \
             reporter's to upload, an approver's to approve. Not needed when the server runs \
             without --auth."
                .into(),
        );
        components.add_security_scheme("token", SecurityScheme::Http(bearer));
    }
}

/// Errors of the API, each mapped to a status and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 400: a parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 413: the body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the upload's format cannot be told.
    #[error("{0}")]
    Unsupported(String),
    /// 401: no token, or not a valid one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token (or the browser's origin) does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the request does not fit the state of things (nothing reported to approve).
    #[error("{0}")]
    Conflict(String),
    /// 500: logged; the client gets a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may read: an internal error is logged here and not shown.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                "the server failed to answer; the error is in its log".to_owned()
            }
            ApiError::NotFound(m)
            | ApiError::BadRequest(m)
            | ApiError::Conflict(m)
            | ApiError::TooLarge(m)
            | ApiError::Unsupported(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m) => m.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = (self.status(), self.public_message());
        let body = ErrorBody {
            error: ErrorDetail {
                status: status.as_u16(),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NotFound(m) => ApiError::NotFound(m),
            QueryError::Invalid(m) => ApiError::BadRequest(m),
            QueryError::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Parses a period parameter.
pub fn period_param(name: &str, text: &str) -> Result<Period, ApiError> {
    Period::parse(text.trim()).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

/// Parses an optional date parameter (dd/mm/yyyy or yyyy-mm-dd).
pub fn date_param(name: &str, text: Option<&str>) -> Result<Option<CivilDate>, ApiError> {
    text.map(|t| {
        CivilDate::parse_any(t.trim()).map_err(|e| {
            ApiError::BadRequest(format!(
                "{name}: {e}; write the date as dd/mm/yyyy or yyyy-mm-dd"
            ))
        })
    })
    .transpose()
}
