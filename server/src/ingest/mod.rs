//! Report ingest: an upload (JSON from connected systems, CSV or Excel from people) is spooled
//! to disk with a size limit, read row by row (`stage`) into the resolver (`resolve`), which
//! keeps compact facts in memory; `changes` compares them with the stored values; and — only if
//! every row is valid — they are appended in one DuckDB transaction. Everything it affects is
//! re-aggregated before the commit and swapped into the serving index right after it, before the
//! answer goes out. All or nothing; the same bytes sent twice change nothing; a value equal to
//! the current one is not a new revision.
//!
//! `columns` recognises table headers; `report` is the answer with row-level errors.

pub mod changes;
pub mod columns;
mod parts;
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
    /// Excel 97–2003 (`.xls`), still common in offices.
    Xls,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
        }
    }

    /// From a `?format=` or `--format` value.
    pub fn parse(s: &str) -> Option<Format> {
        [Format::Json, Format::Csv, Format::Xlsx, Format::Xls]
            .into_iter()
            .find(|f| f.as_str() == s)
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
        if ct.starts_with("application/vnd.ms-excel") {
            return Some(Format::Xls);
        }
        let name = filename.unwrap_or("").to_ascii_lowercase();
        if name.ends_with(".json") {
            Some(Format::Json)
        } else if name.ends_with(".csv") || name.ends_with(".txt") {
            Some(Format::Csv)
        } else if name.ends_with(".xlsx") {
            Some(Format::Xlsx)
        } else if name.ends_with(".xls") {
            Some(Format::Xls)
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
    /// What the sender may report (from its token); no limits when absent.
    pub scope: Option<Scope>,
}

/// What a token's holder may report or approve: units at and under one unit, indicators
/// (regimes) of some ministries. An upload's rows outside it are errors of the upload, like an
/// unknown unit; an approval outside it is refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Who, as said in errors (the token's name).
    pub who: String,
    /// The unit (id, 2025 structure) at and under which it reports; its 2024 predecessors are
    /// under it too. Everywhere when absent.
    pub unit: Option<u32>,
    /// Ministry codes whose indicators it reports; all when empty.
    pub agencies: Vec<String>,
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
        encoding: None,
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
    for e in report.errors.iter_mut().chain(report.warnings.iter_mut()) {
        e.say_in_vietnamese();
    }
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
            Err(e)
        }
    }
}

/// The write-ahead log's size past which [`checkpoint`] folds it into the file. DuckDB does it
/// by itself inside a commit once the log passes 16 MB (`checkpoint_threshold`); doing it here
/// first keeps that work out of the time between acceptance and the live push.
pub const CHECKPOINT_WAL_BYTES: u64 = 8 << 20;

/// Finishes an accepted upload once its changes are published: folds the write-ahead log of the
/// database file `db` into the file when it has grown past [`CHECKPOINT_WAL_BYTES`], so restarts
/// stay fast. Durability does not depend on it (the commit is); a large upload's values are
/// written to the file itself, and its log holds little. Apart from [`ingest`] so the live push
/// does not wait for it; its time counts as commit time.
pub fn checkpoint(conn: &Connection, db: &Path, out: &mut Outcome) -> Result<(), IngestError> {
    if out.committed_at.is_none() {
        return Ok(());
    }
    let mut wal = db.as_os_str().to_owned();
    wal.push(".wal");
    let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    tracing::debug!(wal_bytes = size, "write-ahead log after the upload");
    if size < CHECKPOINT_WAL_BYTES {
        return Ok(());
    }
    let t = Instant::now();
    conn.execute_batch("CHECKPOINT")
        .ctx("checkpointing after the upload")?;
    let spent = ms(t);
    out.report.phases_ms.commit += spent;
    out.report.elapsed_ms += spent;
    Ok(())
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Reads and resolves the upload into facts in memory, compares them with the stored values,
/// and only then opens the upload's transaction to append the history and record the
/// submission and the data version. Returns the reported totals that changed with that
/// transaction open, for the caller to commit; `None` when nothing is to be written (rejected,
/// or unchanged), with no transaction open.
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
        Format::Csv | Format::Xlsx | Format::Xls => stage::JsonMeta::default(),
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
    let scope = opts.scope.as_ref();
    let mut resolver = resolve::Resolver::new(cat, h, locale, today, defaults.clone(), scope);
    let staged = if opts.format == Format::Csv {
        // A large CSV is read in two halves on two threads, then merged.
        let mut later = resolve::Resolver::new(cat, h, locale, today, defaults, scope);
        let staged = stage::stage_csv_halves(&mut resolver, &mut later, cat, body.path)?;
        resolver.absorb(later);
        staged
    } else {
        stage::stage(
            &mut resolver,
            cat,
            opts.format,
            body.path,
            opts.sheet.as_deref(),
        )?
    };
    report.phases_ms.read = ms(t);
    report.layout = staged.layout.clone();
    report.encoding = staged.encoding.map(str::to_owned);
    report.rows_read = staged.rows_read;
    report.empty_cells_skipped = staged.empty_cells_skipped;
    if !staged.errors.is_empty() {
        report.errors_total = staged.errors.len() as u64;
        report.errors = staged.errors;
        return Ok(None);
    }
    let t = Instant::now();
    let mut res = resolver.finish();
    report.values_read = res.values;
    report.errors_total = res.errors_total;
    report.errors = std::mem::take(&mut res.errors);
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
    report.indicators = res.indicators.values().cloned().collect();
    report.indicators.sort();
    report.periods = res.periods.values().map(|(p, _)| p.id()).collect();
    let mut cmp = changes::compare(conn, &res)?;
    report.phases_ms.validate = ms(t);
    report.warnings_total = cmp.warnings_total;
    report.warnings = std::mem::take(&mut cmp.warnings);
    report.values_new = cmp.new;
    report.values_revised = cmp.revised;
    report.values_unchanged = cmp.unchanged;
    if cmp.new + cmp.revised == 0 {
        report.status = UploadStatus::Unchanged;
        return Ok(None);
    }

    let t = Instant::now();
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
            cmp.new as i64,
            cmp.revised as i64,
            cmp.unchanged as i64,
            report.warnings_total as i64
        ],
    )
    .ctx("recording the submission")?;
    {
        // Column headers, for the history's record of where each value came from.
        let mut app = conn.appender("submission_columns").ctx("naming columns")?;
        if staged.roles.headers.is_empty() {
            app.append_row(params![submission, 0i16, "value"])
                .ctx("naming columns")?;
        }
        for (i, h) in staged.roles.headers.iter().enumerate() {
            if let Ok(col) = i16::try_from(i) {
                app.append_row(params![submission, col, h])
                    .ctx("naming columns")?;
            }
        }
    }
    let disaggs = number_disaggs(conn, &res, &cmp)?;
    store_facts(conn, submission, &res, &cmp, &disaggs)?;
    report.phases_ms.store = ms(t);
    conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'data_version'",
        [new_version.to_string()],
    )
    .ctx("advancing the data version")?;
    report.status = UploadStatus::Accepted;
    report.submission = Some(submission);
    report.version = new_version;
    let mut reported = Vec::with_capacity((cmp.new + cmp.revised) as usize);
    for (slab, fates) in res.slabs.iter().zip(&cmp.fates) {
        // The period looked up once a slab, not once a value.
        let Some(&(period, _)) = res.periods.get(&slab.pid) else {
            continue;
        };
        for (f, _) in changed_in(slab, fates).filter(|(f, _)| f.disagg == 0) {
            reported.push(Reported {
                indicator: slab.ind,
                period,
                uid: f.uid,
                value: f.value,
            });
        }
    }
    Ok(Some(reported))
}

/// The stored number of each of the upload's disaggregations, numbering new texts (inside the
/// upload's transaction).
fn number_disaggs(
    conn: &Connection,
    res: &resolve::Resolution,
    cmp: &changes::Comparison,
) -> Result<Vec<i32>, StoreError> {
    let mut ids = Vec::with_capacity(res.disaggs.len());
    let mut next: Option<i32> = None;
    for (text, known) in res.disaggs.iter().zip(&cmp.disagg_ids) {
        let id = match known {
            Some(id) => *id,
            None => {
                let n = match next {
                    Some(n) => n,
                    None => conn
                        .query_row("SELECT coalesce(max(id), 0) + 1 FROM disaggs", [], |r| {
                            r.get(0)
                        })
                        .ctx("numbering disaggregations")?,
                };
                conn.execute("INSERT INTO disaggs VALUES (?, ?)", params![n, text])
                    .ctx("numbering disaggregations")?;
                next = Some(n + 1);
                n
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// The new and revised facts, slab by slab, with their fates.
fn changed<'r>(
    res: &'r resolve::Resolution,
    cmp: &'r changes::Comparison,
) -> impl Iterator<Item = (&'r resolve::Slab, &'r resolve::Fact, changes::Fate)> + 'r {
    res.slabs
        .iter()
        .zip(&cmp.fates)
        .flat_map(|(slab, fates)| changed_in(slab, fates).map(move |(f, fate)| (slab, f, fate)))
}

/// The new and revised facts of one slab, with their fates.
fn changed_in<'r>(
    slab: &'r resolve::Slab,
    fates: &'r changes::SlabFates,
) -> impl Iterator<Item = (&'r resolve::Fact, changes::Fate)> + 'r {
    slab.facts.iter().enumerate().filter_map(move |(i, f)| {
        let fate = fates.get(i);
        (fate != changes::Fate::Unchanged).then_some((f, fate))
    })
}

/// The new and revised facts of one slab grouped by (disaggregation, source column), in unit
/// order within a group: the history stores each such run under one row of `slabs`, and a
/// slab's facts are sorted by unit first.
fn grouped_in<'r>(
    slab: &'r resolve::Slab,
    fates: &'r changes::SlabFates,
) -> Box<dyn Iterator<Item = &'r resolve::Fact> + Send + 'r> {
    let group = |f: &resolve::Fact| (f.disagg, f.col);
    let mut facts = changed_in(slab, fates).map(|(f, _)| f);
    let first = facts.next().map(group);
    if facts.all(|f| Some(group(f)) == first) {
        return match fates {
            changes::SlabFates::AllNew => Box::new(slab.facts.iter()),
            changes::SlabFates::Each(_) => Box::new(changed_in(slab, fates).map(|(f, _)| f)),
        };
    }
    let mut sorted: Vec<_> = changed_in(slab, fates).map(|(f, _)| f).collect();
    // Stable: each group stays in unit order.
    sorted.sort_by_key(|f| group(f));
    Box::new(sorted.into_iter())
}

/// Appends the new and revised facts to the history and retires the values they replace.
fn store_facts(
    conn: &Connection,
    submission: i64,
    res: &resolve::Resolution,
    cmp: &changes::Comparison,
    disaggs: &[i32],
) -> Result<(), StoreError> {
    use crate::store::facts::{StoredFact, append_facts, append_superseded};
    let ind = |s: &resolve::Slab| cmp.indicator_ids.get(&s.ind).copied().unwrap_or(-1);
    let dis = |f: &resolve::Fact| disaggs.get(usize::from(f.disagg)).copied().unwrap_or(0);
    let t = Instant::now();
    // In (indicator, period, disaggregation, column, unit) order: the history's zone maps on
    // slab numbers then narrow a query on indicator and period to a few row groups.
    append_facts(
        conn,
        submission,
        res.slabs.iter().zip(&cmp.fates).flat_map(|(slab, fates)| {
            let (ind, pid) = (ind(slab), slab.pid);
            grouped_in(slab, fates).map(move |f| StoredFact {
                ind,
                uid: f.uid,
                pid,
                disagg: dis(f),
                value: f.value,
                row: Some(f.row),
                col: i16::try_from(f.col).ok(),
            })
        }),
    )?;
    if cmp.revised > 0 {
        append_superseded(
            conn,
            submission,
            changed(res, cmp).filter_map(|(slab, f, fate)| match fate {
                changes::Fate::Revises(r) => Some((ind(slab), f.uid, slab.pid, dis(f), r)),
                _ => None,
            }),
        )?;
    }
    tracing::debug!(ms = ms(t), "history written");
    Ok(())
}
