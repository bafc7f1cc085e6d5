//! Upload routes: `POST /api/uploads` streams the body to a spool file (bounded by
//! `Limits::max_upload_bytes`, hashing as it goes), then ingests it on the writer connection
//! and publishes the change (`receive`, shared with the reporters' page); `GET /api/uploads/{id}`
//! shows a past submission.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::ingest::report::{UploadReport, UploadStatus};
use crate::ingest::{self, Format, Scope, UploadOptions, parse_locale, today_in_vietnam};
use crate::live::Role;
use crate::store::DbContext;

use super::{ApiError, AppState};

/// Who sends an upload and what they may report. Open server: anyone, anything. Otherwise a
/// reporter's token, whose unit and ministries bound the rows; its name joins the provenance.
pub(crate) fn sender(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
    submitter: Option<String>,
) -> Result<(Option<Scope>, Option<String>), ApiError> {
    let needs = "uploads need a reporter's token";
    let Some(scope) = super::token_scope(state, headers, token, Role::Reporter, needs)? else {
        return Ok((None, submitter));
    };
    let submitter = Some(match submitter {
        Some(s) => format!("{s} ({})", scope.who),
        None => scope.who.clone(),
    });
    Ok((Some(scope), submitter))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/uploads", post(upload))
        .route("/uploads/{id}", get(submission))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// json | csv | xlsx | xls; by default from Content-Type, else from `filename`.
    format: Option<String>,
    /// Original file name (for provenance and format detection).
    filename: Option<String>,
    /// Number format of text values: vi (1.234.567,8; default) or en (1,234,567.8).
    locale: Option<String>,
    /// Period for rows that have none, e.g. "Tháng 7/2025".
    period: Option<String>,
    /// Unit code for rows that have none.
    unit: Option<String>,
    /// Excel sheet name; the first sheet by default.
    sheet: Option<String>,
    /// Who sends it, for provenance (with a token, the token's name is recorded beside it).
    submitter: Option<String>,
    /// A reporter's token, when the server checks tokens (or send `Authorization: Bearer …`).
    token: Option<String>,
}

/// Uploads a report. The body is the file itself (`--data-binary @file.csv`): JSON
/// (`{"records": [{"indicator", "unit", "period", "value"}]}`), CSV (`;` or `,` separated, a
/// header row; long: Mã đơn vị, Kỳ, Chỉ tiêu, Giá trị; or wide: one column per indicator) or
/// Excel .xlsx or .xls (the same tables; title rows above the header are skipped). All or nothing:
/// any error rejects the whole upload with the list of errors (422). Sending the same bytes
/// again changes nothing. When the server checks tokens, a reporter's token is required, and
/// rows outside its unit or ministries are errors (`out_of_scope`).
#[utoipa::path(post, path = "/api/uploads", tag = "uploads", params(UploadParams),
    request_body(content = String, description = "The file", content_type = "text/csv"),
    responses(
        (status = 200, description = "Accepted, unchanged or duplicate", body = UploadReport),
        (status = 422, description = "Rejected: nothing stored", body = UploadReport),
        (status = 401, description = "No valid token", body = super::ErrorBody),
        (status = 403, description = "Not a reporter's token, or origin refused", body = super::ErrorBody),
        (status = 413, body = super::ErrorBody),
        (status = 415, body = super::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadReport>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = match p.format.as_deref() {
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::Unsupported(format!("format {f:?} is not json, csv, xlsx or xls"))
        })?,
        None => Format::detect(content_type, p.filename.as_deref()).ok_or_else(|| {
            ApiError::Unsupported(
                "cannot tell the format: send Content-Type text/csv, application/json, \
                 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet or \
                 application/vnd.ms-excel, or ?format=csv|json|xlsx|xls"
                    .into(),
            )
        })?,
    };
    let locale = p
        .locale
        .as_deref()
        .map(|l| {
            parse_locale(l)
                .ok_or_else(|| ApiError::BadRequest(format!("locale {l:?} is not vi or en")))
        })
        .transpose()?;
    let (scope, submitter) = sender(&state, &headers, p.token.as_deref(), p.submitter)?;
    let opts = UploadOptions {
        format,
        filename: p.filename,
        locale,
        period: p.period,
        unit: p.unit,
        sheet: p.sheet,
        submitter,
        scope,
    };
    let report = receive(&state, opts, body.into_data_stream()).await?;
    let code = match report.status {
        UploadStatus::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    Ok((code, Json(report)))
}

/// Receives one upload, whichever door it came through (the API's body, the reporters' page's
/// form): spools the bytes, ingests them on the writer connection, publishes the change and
/// waits for the walls to have it. Rejections by validation are a report, not an error.
pub(crate) async fn receive<S, E>(
    state: &AppState,
    opts: UploadOptions,
    data: S,
) -> Result<UploadReport, ApiError>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
    E: std::fmt::Display,
{
    let span =
        tracing::info_span!("upload", format = opts.format.as_str(), filename = ?opts.filename);
    async move {
        let (spool, digest, bytes) = spool(state, &opts, data).await?;
        tracing::info!(bytes, "body spooled");
        let store = state.store.clone();
        let events = state.events.clone();
        let live = state.live.clone();
        let cat = store.catalogue().clone();
        let h = store.hierarchy().clone();
        let version = store.version();
        let today = today_in_vietnam();
        let path = spool.path().to_owned();
        let serving = store.serving().clone();
        let db_path = store.path().to_owned();
        let outcome = store
            .write(move |conn| {
                let ctx = ingest::Context {
                    cat: &cat,
                    h: &h,
                    version,
                    today,
                    serving: &serving,
                };
                let body = ingest::Body {
                    path: &path,
                    digest: &digest,
                };
                let mut out = ingest::ingest(conn, ctx, &opts, body)?;
                // Under the writer lock, so the events follow version order.
                if let (Some(changes), Some(sub), Some(at)) =
                    (&out.changes, out.report.submission, out.committed_at)
                {
                    events.publish(out.report.version, sub, at, changes.clone());
                }
                // After the push: walls need not wait for the checkpoint, nor share the CPU
                // with it.
                if out.committed_at.is_some() {
                    live.wait_pushed_blocking(
                        out.report.version,
                        std::time::Duration::from_secs(1),
                    );
                }
                ingest::checkpoint(conn, &db_path, &mut out)?;
                Ok::<_, ApiError>(out)
            })
            .await?;
        drop(spool);
        let report = outcome.report;
        if report.status == UploadStatus::Accepted {
            state.store.set_version(report.version);
        }
        tracing::info!(
            status = ?report.status,
            values = report.values_read,
            errors = report.errors_total,
            version = report.version,
            ms = report.elapsed_ms,
            "upload done"
        );
        Ok(report)
    }
    .instrument(span)
    .await
}

/// Streams the body into a spool file, counting and hashing; refuses past the limit.
async fn spool<S, E>(
    state: &AppState,
    opts: &UploadOptions,
    data: S,
) -> Result<(tempfile::NamedTempFile, String, u64), ApiError>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
    E: std::fmt::Display,
{
    let limit = state.limits.max_upload_bytes;
    let dir = state.limits.spool_dir.clone();
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(&dir)
        .map_err(|e| ApiError::Internal(format!("cannot create a spool file in {dir:?}: {e}")))?;
    let mut writer = std::io::BufWriter::new(
        file.reopen()
            .map_err(|e| ApiError::Internal(format!("cannot open the spool file: {e}")))?,
    );
    let mut hasher = Sha256::new();
    // The options change how the bytes are read, so they are part of what "the same upload" is.
    hasher.update(
        format!(
            "{}|{:?}|{:?}|{:?}|{:?}\n",
            opts.format.as_str(),
            opts.locale.map(|l| l.as_str()),
            opts.period,
            opts.unit,
            opts.sheet
        )
        .as_bytes(),
    );
    let mut total: u64 = 0;
    let mut stream = std::pin::pin!(data);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload broke off: {e}")))?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(ApiError::TooLarge(format!(
                "the upload is larger than {} MiB; split it (e.g. by period or province) and \
                 send the parts",
                limit >> 20
            )));
        }
        hasher.update(&chunk);
        // Small blocking writes into the page cache; the ingest itself runs on a blocking thread.
        writer
            .write_all(&chunk)
            .map_err(|e| ApiError::Internal(format!("spooling the upload: {e}")))?;
    }
    writer
        .flush()
        .map_err(|e| ApiError::Internal(format!("spooling the upload: {e}")))?;
    Ok((file, hex::encode(hasher.finalize()), total))
}

/// A past submission.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionOut {
    pub id: i64,
    pub version: i64,
    pub received_at: String,
    pub format: String,
    pub filename: Option<String>,
    pub submitter: Option<String>,
    pub locale: String,
    pub rows_read: i64,
    pub values_new: i64,
    pub values_revised: i64,
    pub values_unchanged: i64,
    pub warnings: i64,
}

/// A past submission by id.
#[utoipa::path(get, path = "/api/uploads/{id}", tag = "uploads",
    params(("id" = i64, Path, description = "Submission id")),
    responses((status = 200, body = SubmissionOut), (status = 404, body = super::ErrorBody)))]
pub async fn submission(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SubmissionOut>, ApiError> {
    let found = state
        .store
        .read(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT id, version, strftime(received_at, '%Y-%m-%dT%H:%M:%SZ'), format,
                            filename, submitter, locale, rows_read, values_new, values_revised,
                            values_unchanged, warnings
                     FROM submissions WHERE id = ?",
                )
                .ctx("reading a submission")?;
            let mut rows = stmt
                .query_map([id], |r| {
                    Ok(SubmissionOut {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        received_at: r.get(2)?,
                        format: r.get(3)?,
                        filename: r.get(4)?,
                        submitter: r.get(5)?,
                        locale: r.get(6)?,
                        rows_read: r.get(7)?,
                        values_new: r.get(8)?,
                        values_revised: r.get(9)?,
                        values_unchanged: r.get(10)?,
                        warnings: r.get(11)?,
                    })
                })
                .ctx("reading a submission")?;
            Ok::<_, ApiError>(match rows.next() {
                Some(r) => Some(r.ctx("reading a submission")?),
                None => None,
            })
        })
        .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no submission {id}")))
}
