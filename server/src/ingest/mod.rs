//! Report ingest: an upload (JSON from connected systems, CSV or Excel from people) is spooled
//! to disk with a size limit, read row by row (`stage`) into the resolver (`resolve`), and —
//! only if every row is valid — committed in one DuckDB transaction; everything it affects is
//! re-aggregated before the commit and swapped into the serving index right after it, before the
//! answer goes out. All or nothing; the same
//! bytes sent twice change nothing; a value equal to the current one is not a new revision.
//!
//! `columns` recognises table headers; `report` is the answer with row-level errors.

pub mod columns;
pub mod report;
pub mod resolve;
pub mod stage;

use std::path::Path;
use std::time::Instant;

use duckdb::{Connection, params};
use serde::Deserialize;

use dieuhanh_protocol::number::Locale;
use dieuhanh_protocol::period::CivilDate;

use crate::aggregate::{self, Changes, Reported};
use crate::catalogue::Catalogue;
use crate::hierarchy::Hierarchy;
use crate::serving::ServingIndex;
use crate::store::{DbContext, StoreError};

use report::{LocaleInfo, Phases, UploadReport, UploadStatus};

/// Format of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// From a `Content-Type`, else from the file name's extension.
    pub fn detect(content_type: Option<&str>, filename: Option<&str>) -> Option<Format> {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("application/json") {
            return Some(Format::Json);
        }
        if ct.starts_with("text/csv") {
            return Some(Format::Csv);
        }
        if ct.contains("spreadsheetml") {
            return Some(Format::Xlsx);
        }
        let name = filename.unwrap_or("").to_ascii_lowercase();
        if name.ends_with(".json") {
            Some(Format::Json)
        } else if name.ends_with(".csv") || name.ends_with(".txt") {
            Some(Format::Csv)
        } else if name.ends_with(".xlsx") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }
}

/// How to read an upload.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub format: Format,
    pub filename: Option<String>,
    /// Number format of text values; `None` means vi-VN (or the JSON body's `locale`).
    pub locale: Option<Locale>,
    /// Period for rows without one (sheets that state it in the title).
    pub period: Option<String>,
    /// Unit for rows without one (a province uploading its own sheet).
    pub unit: Option<String>,
    /// Excel sheet name; the first sheet by default.
    pub sheet: Option<String>,
    /// Who sent it (for provenance).
    pub submitter: Option<String>,
}

/// Failures of the ingest machinery itself (not of the upload's content).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body could not be spooled to or read from disk.
    #[error("cannot spool the upload: {0}")]
    Spool(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A completed ingest: the report, and what changed for the live push.
#[derive(Debug)]
pub struct Outcome {
    pub report: UploadReport,
    pub changes: Option<Changes>,
    /// When the upload was committed (for accepted uploads).
    pub committed_at: Option<std::time::SystemTime>,
}

/// Reads a locale name: "vi", "vi-VN" or "en" (any case).
pub fn parse_locale(text: &str) -> Option<Locale> {
    match text.trim().to_ascii_lowercase().as_str() {
        "vi" | "vi-vn" | "vi_vn" => Some(Locale::Vi),
        "en" | "en-us" | "en-gb" => Some(Locale::En),
        _ => None,
    }
}

/// Describes a locale for the report.
pub fn locale_info(locale: Locale) -> LocaleInfo {
    match locale {
        Locale::Vi => LocaleInfo {
            code: "vi-VN".into(),
            thousands_separator: ".".into(),
            decimal_separator: ",".into(),
            date_format: "dd/mm/yyyy".into(),
            description: locale.describe().into(),
        },
        Locale::En => LocaleInfo {
            code: "en".into(),
            thousands_separator: ",".into(),
            decimal_separator: ".".into(),
            date_format: "dd/mm/yyyy".into(),
            description: locale.describe().into(),
        },
    }
}

/// Today's date in Vietnam (UTC+7), which decides whether a period has begun.
pub fn today_in_vietnam() -> CivilDate {
    let now = chrono::Utc::now() + chrono::Duration::hours(7);
    let d = now.date_naive();
    use chrono::Datelike;
    CivilDate {
        year: d.year(),
        month: d.month() as u8,
        day: d.day() as u8,
    }
}

/// What an ingest runs against.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub cat: &'a Catalogue,
    pub h: &'a Hierarchy,
    /// The current data version.
    pub version: i64,
    /// Today in Vietnam: periods that have not begun are refused.
    pub today: CivilDate,
    /// The served values, re-aggregated for the commit and updated right after it.
    pub serving: &'a ServingIndex,
}

/// A spooled upload body and its digest (body and reading options: "the same upload").
#[derive(Clone, Copy)]
pub struct Body<'a> {
    pub path: &'a Path,
    pub digest: &'a str,
}

/// Ingests a spooled body on the writer connection.
pub fn ingest(
    conn: &mut Connection,
    ctx: Context<'_>,
    opts: &UploadOptions,
    body: Body<'_>,
) -> Result<Outcome, IngestError> {
    let Context { version, .. } = ctx;
    let digest = body.digest;
    let started = Instant::now();
    let mut report = UploadReport {
        status: UploadStatus::Rejected,
        submission: None,
        version,
        format: opts.format.as_str().into(),
        filename: opts.filename.clone(),
        locale: locale_info(opts.locale.unwrap_or(Locale::Vi)),
        layout: String::new(),
        rows_read: 0,
        values_read: 0,
        empty_cells_skipped: 0,
        values_new: 0,
        values_revised: 0,
        values_unchanged: 0,
        cells_changed: 0,
        indicators: Vec::new(),
        periods: Vec::new(),
        errors_total: 0,
        errors: Vec::new(),
        warnings_total: 0,
        warnings: Vec::new(),
        elapsed_ms: 0,
        accepted_at_ms: None,
        accepted_at_us: None,
        phases_ms: Phases::default(),
    };

    let earlier: Option<i64> = conn
        .query_row(
            "SELECT min(id) FROM submissions WHERE sha256 = ?",
            [digest],
            |r| r.get(0),
        )
        .ctx("looking for an earlier identical upload")?;
    if let Some(id) = earlier {
        report.status = UploadStatus::Duplicate;
        report.submission = Some(id);
        report.elapsed_ms = ms(started);
        return Ok(Outcome {
            report,
            changes: None,
            committed_at: None,
        });
    }

    let result = stage_and_store(conn, ctx, opts, body, &mut report);
    match result {
        Ok(Some(reported)) => {
            // Re-aggregated before the commit and swapped in after it: the served values and
            // the live push follow the commit by a swap, not by a recompute.
            let t = Instant::now();
            let prepared = aggregate::prepare(ctx.serving, ctx.cat, ctx.h, &reported);
            report.phases_ms.aggregate = ms(t);
            let t = Instant::now();
            conn.execute_batch("COMMIT").ctx("committing the upload")?;
            let committed_at = std::time::SystemTime::now();
            let since_epoch = committed_at.duration_since(std::time::UNIX_EPOCH).ok();
            report.accepted_at_ms = since_epoch.map(|d| d.as_millis() as i64);
            report.accepted_at_us = since_epoch.map(|d| d.as_micros() as i64);
            // Durable now: the served values follow.
            let changes = ctx
                .serving
                .apply_batch(report.version, || prepared.install(ctx.serving));
            report.phases_ms.commit = ms(t);
            report.cells_changed = changes.count as u64;
            report.elapsed_ms = ms(started);
            Ok(Outcome {
                report,
                changes: Some(changes),
                committed_at: Some(committed_at),
            })
        }
        Ok(None) => {
            // Nothing durable was written (the transaction starts only for the store).
            drop_scratch(conn);
            report.elapsed_ms = ms(started);
            Ok(Outcome {
                report,
                changes: None,
                committed_at: None,
            })
        }
        Err(e) => {
            // Fails harmlessly when the error came before the store opened the transaction.
            let _ = conn.execute_batch("ROLLBACK");
            drop_scratch(conn);
            Err(e)
        }
    }
}

/// Finishes an accepted upload once its changes are published: folds the WAL into the file
/// (restarts stay fast and the file is self-contained) and drops the scratch tables. Apart from
/// [`ingest`] so the live push does not wait for the checkpoint; its time counts as commit time.
pub fn checkpoint(conn: &Connection, out: &mut Outcome) -> Result<(), IngestError> {
    if out.committed_at.is_none() {
        return Ok(());
    }
    let t = Instant::now();
    conn.execute_batch("CHECKPOINT")
        .ctx("checkpointing after the upload")?;
    drop_scratch(conn);
    let spent = ms(t);
    out.report.phases_ms.commit += spent;
    out.report.elapsed_ms += spent;
    Ok(())
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

fn drop_scratch(conn: &Connection) {
    // Views first (they depend on the tables); each on its own, as a missing one is no error.
    for sql in [
        "DROP TABLE IF EXISTS resolved",
        "DROP TABLE IF EXISTS prev_values",
        "DROP TABLE IF EXISTS chg",
        "DROP TABLE IF EXISTS stg_fields",
        "DROP TABLE IF EXISTS ids_ind",
        "DROP TABLE IF EXISTS ids_period",
    ] {
        let _ = conn.execute_batch(sql);
    }
}

/// Reads, resolves and validates into scratch tables, finds what changed, and only then opens
/// the upload's transaction to write the history, the current values, the submission and the
/// data version. Returns the reported totals that changed with that transaction open, for the
/// caller to commit; `None` when nothing is to be written (rejected, or unchanged), with no
/// transaction open.
///
/// The scratch (temp) tables are built outside the transaction: they are never durable, the one
/// writer connection means nothing else changes the stored values meanwhile, and DuckDB reads a
/// table created inside the transaction that writes from it about half as fast (measured: the
/// history insert of 1 M values took 726 ms against 356 ms).
fn stage_and_store(
    conn: &Connection,
    ctx: Context<'_>,
    opts: &UploadOptions,
    body: Body<'_>,
    report: &mut UploadReport,
) -> Result<Option<Vec<Reported>>, IngestError> {
    let Context {
        cat,
        h,
        version,
        today,
        ..
    } = ctx;
    let digest = body.digest;
    let t = Instant::now();
    let meta = match opts.format {
        Format::Json => stage::json_meta(body.path)?,
        Format::Csv | Format::Xlsx => stage::JsonMeta::default(),
    };
    let locale = opts
        .locale
        .or_else(|| meta.locale.as_deref().and_then(parse_locale))
        .unwrap_or(Locale::Vi);
    report.locale = locale_info(locale);
    // Defaults from the request (or the JSON body) fill rows that lack a period or unit.
    let defaults = (
        opts.period.clone().or(meta.period),
        opts.unit.clone().or(meta.unit),
    );
    let mut resolver = resolve::Resolver::new(conn, cat, h, locale, today, defaults)?;
    let staged = stage::stage(
        &mut resolver,
        cat,
        opts.format,
        body.path,
        opts.sheet.as_deref(),
    )?;
    report.phases_ms.read = ms(t);
    report.layout = staged.layout.clone();
    report.rows_read = staged.rows_read;
    report.empty_cells_skipped = staged.empty_cells_skipped;
    if !staged.errors.is_empty() {
        report.errors_total = staged.errors.len() as u64;
        report.errors = staged.errors;
        return Ok(None);
    }
    let t = Instant::now();
    let res = resolver.finish()?;
    report.phases_ms.validate = ms(t);
    report.values_read = res.values;
    report.errors_total = res.errors_total;
    report.errors = res.errors;
    report.warnings_total = res.warnings_total;
    report.warnings = res.warnings;
    report.indicators = res.indicators;
    report.periods = res.periods;
    let period_ids = res.period_ids;
    // Column headers, for the history's record of where each value came from.
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE stg_fields (col_no INTEGER, field VARCHAR)")
        .ctx("naming columns")?;
    {
        let mut app = conn.appender("stg_fields").ctx("naming columns")?;
        if staged.roles.headers.is_empty() {
            app.append_row(params![0, "value"]).ctx("naming columns")?;
        }
        for (i, h) in staged.roles.headers.iter().enumerate() {
            app.append_row(params![i as i32, h]).ctx("naming columns")?;
        }
    }
    if report.errors_total > 0 {
        return Ok(None);
    }
    if report.values_read == 0 {
        report.errors_total = 1;
        report.errors = vec![report::RowError::file(
            report::ErrorCode::EmptyCell,
            "the upload holds no values".into(),
            "fill in at least one value below the header".into(),
        )];
        return Ok(None);
    }

    let t = Instant::now();
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE chg AS
         SELECT i.indicator, r.uid, p.period, r.disagg, r.year, r.value, r.row_no, r.ind_no, r.pid,
                f.field, coalesce(c.revision, 0) + 1 AS revision, c.value IS NULL AS is_new
         FROM resolved r
         JOIN ids_ind i USING (ind_no)
         JOIN ids_period p USING (pid)
         LEFT JOIN stg_fields f USING (col_no)
         LEFT JOIN (SELECT * FROM current_obs
                    WHERE indicator IN (SELECT indicator FROM ids_ind)
                      AND period IN (SELECT period FROM ids_period)) c
             ON c.indicator = i.indicator AND c.uid = r.uid
             AND c.period = p.period AND c.disagg = r.disagg
         WHERE c.value IS NULL OR c.value <> r.value;",
    )
    .ctx("finding changed values")?;
    let (new, revised): (i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM chg",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ctx("counting changed values")?;
    report.values_new = new as u64;
    report.values_revised = revised as u64;
    report.values_unchanged = report.values_read - (new + revised) as u64;
    if new + revised == 0 {
        report.status = UploadStatus::Unchanged;
        return Ok(None);
    }

    conn.execute_batch("BEGIN TRANSACTION")
        .ctx("starting the upload transaction")?;
    let new_version = version + 1;
    let submission: i64 = conn
        .query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM submissions",
            [],
            |r| r.get(0),
        )
        .ctx("numbering the submission")?;
    conn.execute(
        "INSERT INTO submissions VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            submission,
            new_version,
            opts.format.as_str(),
            opts.filename,
            digest,
            opts.submitter,
            report.locale.code,
            report.rows_read as i64,
            new,
            revised,
            report.values_unchanged as i64,
            report.warnings_total as i64
        ],
    )
    .ctx("recording the submission")?;
    let t1 = Instant::now();
    commit_changes(conn, submission)?;
    tracing::debug!(ms = ms(t1), "history and current values written");
    let reported = read_changed(conn, &period_ids)?;
    tracing::debug!(ms = ms(t), "changes read back");
    report.phases_ms.store = ms(t);
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'data_version'",
        [new_version.to_string()],
    )
    .ctx("advancing the data version")?;
    report.status = UploadStatus::Accepted;
    report.submission = Some(submission);
    report.version = new_version;
    Ok(Some(reported))
}

/// The changed totals of `chg`, as ids (reading texts back would cost as much as the insert).
fn read_changed(
    conn: &Connection,
    period_ids: &std::collections::HashMap<i32, dieuhanh_protocol::period::Period>,
) -> Result<Vec<Reported>, IngestError> {
    use duckdb::arrow::array::AsArray;
    use duckdb::arrow::datatypes::{Float64Type, Int16Type, Int32Type};
    let mut stmt = conn
        .prepare("SELECT ind_no, pid, uid, value FROM chg WHERE disagg = ''")
        .ctx("reading changed values")?;
    let batches: Vec<_> = stmt
        .query_arrow([])
        .ctx("reading changed values")?
        .collect();
    let mut out = Vec::new();
    for b in &batches {
        let ind = b.column(0).as_primitive::<Int16Type>();
        let pid = b.column(1).as_primitive::<Int32Type>();
        let uid = b.column(2).as_primitive::<Int32Type>();
        let val = b.column(3).as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            if let Some(&period) = period_ids.get(&pid.value(r)) {
                out.push(Reported {
                    indicator: ind.value(r) as u16,
                    period,
                    uid: uid.value(r) as u32,
                    value: val.value(r),
                });
            }
        }
    }
    Ok(out)
}

/// Appends the changed values of `chg` to the history and makes them current.
pub fn commit_changes(conn: &Connection, submission: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO observations
            SELECT indicator, uid, period, disagg, value, ?, revision, row_no, field FROM chg",
        [submission],
    )
    .ctx("appending to the history")?;
    // Only revisions replace a current value; new keys have none to retire.
    let revised: i64 = conn
        .query_row("SELECT count(*) FROM chg WHERE NOT is_new", [], |r| {
            r.get(0)
        })
        .ctx("counting revisions")?;
    if revised > 0 {
        conn.execute_batch(
            "DELETE FROM current_obs USING (SELECT * FROM chg WHERE NOT is_new) c
                WHERE current_obs.indicator = c.indicator AND current_obs.uid = c.uid
                  AND current_obs.period = c.period AND current_obs.disagg = c.disagg;",
        )
        .ctx("retiring superseded values")?;
    }
    conn.execute(
        "INSERT INTO current_obs
            SELECT indicator, uid, period, disagg, year, value, ?, revision FROM chg",
        [submission],
    )
    .ctx("storing current values")?;
    Ok(())
}
