//! The DuckDB store: one database file per server, a small pool of reader connections used from
//! blocking threads, one writer connection behind an async lock (uploads are serialised so data
//! versions are totally ordered), the durable schema (`schema.sql`) and the reference tables
//! rebuilt from `assets/` at start (`reference`).

pub mod facts;
pub mod reference;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::Connection;
use tokio::sync::Semaphore;

use crate::catalogue::Catalogue;
use crate::hierarchy::Hierarchy;
use crate::serving::ServingIndex;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DuckDB refused an operation; `context` says which.
    #[error("database error while {context}: {error}")]
    Db {
        context: String,
        error: duckdb::Error,
    },
    /// The file was written by an incompatible version of dieuhanh.
    #[error(
        "{path} has schema version {found}, this server needs {expected}; \
         export it with the matching server or start from an empty file"
    )]
    Schema {
        path: String,
        found: String,
        expected: String,
    },
    /// A blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// Attaches context to DuckDB errors.
pub trait DbContext<T> {
    fn ctx(self, context: &str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, duckdb::Error> {
    fn ctx(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Db {
            context: context.to_owned(),
            error,
        })
    }
}

pub const SCHEMA_VERSION: &str = "4";

/// Catalogue codes as an SQL list (`'NS01','VM02'`) for `IN (...)`; a quote in a code is
/// dropped, so no code can end the string.
pub fn sql_codes<'c>(codes: impl IntoIterator<Item = &'c String>) -> String {
    codes
        .into_iter()
        .map(|c| format!("'{}'", c.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// DuckDB's memory limit, e.g. "2GB"; larger work spills to `<db>.tmp/`.
    pub memory_limit: String,
    /// Reader connections (about one per core).
    pub readers: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        StoreOptions {
            memory_limit: "2GB".into(),
            readers: cores.clamp(2, 8),
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    permits: Semaphore,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    catalogue: Arc<Catalogue>,
    hierarchy: Arc<Hierarchy>,
    version: AtomicI64,
    serving: Arc<ServingIndex>,
}

impl Store {
    /// Opens (creating if needed) the database file, applies the schema and rebuilds the
    /// reference tables. Blocking: call before the runtime serves requests.
    pub fn open(
        path: &Path,
        catalogue: Arc<Catalogue>,
        hierarchy: Arc<Hierarchy>,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        let tmp = path.with_extension("tmp");
        let config = duckdb::Config::default()
            .max_memory(&options.memory_limit)
            .ctx("setting the memory limit")?
            .with("temp_directory", tmp.to_string_lossy().as_ref())
            .ctx("setting the spill folder")?;
        let conn = Connection::open_with_flags(path, config)
            .ctx(&format!("opening {}", path.display()))?;
        // New tables exist before an upgrade fills them; tables kept from version 2 are left.
        conn.execute_batch(include_str!("schema.sql"))
            .ctx("creating the schema")?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                duckdb::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .ctx("reading the schema version")?;
        match found.as_deref() {
            // Version 1 also stored aggregated values (they are now derived in memory); version
            // 2 stored the facts as texts; version 3 stored each value with eight numbers.
            Some(v @ ("1" | "2")) => {
                if v == "1" {
                    conn.execute_batch("DROP TABLE IF EXISTS cells")
                        .ctx("upgrading the schema from version 1")?;
                }
                facts::upgrade_from_v2(&conn)?;
            }
            Some("3") => facts::upgrade_from_v3(&conn)?,
            Some(v) if v != SCHEMA_VERSION => {
                return Err(StoreError::Schema {
                    path: path.display().to_string(),
                    found: v.to_owned(),
                    expected: SCHEMA_VERSION.into(),
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?), ('data_version', '0')",
                    [SCHEMA_VERSION],
                )
                .ctx("initialising meta")?;
                conn.execute_batch("INSERT INTO disaggs VALUES (0, '')")
                    .ctx("initialising the disaggregations")?;
            }
        }
        conn.execute_batch(include_str!("views.sql"))
            .ctx("creating the views")?;
        reference::rebuild(&conn, &catalogue, &hierarchy)?;
        facts::number_indicators(&conn, &catalogue)?;
        facts::register_feed(&conn)?;
        let version: i64 = conn
            .query_row(
                "SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'data_version'",
                [],
                |r| r.get(0),
            )
            .ctx("reading the data version")?;
        let serving = Arc::new(crate::aggregate::build(&conn, &catalogue, &hierarchy)?);
        serving.apply_batch(version, || ());
        let mut readers = Vec::with_capacity(options.readers);
        for _ in 0..options.readers {
            readers.push(conn.try_clone().ctx("opening a reader connection")?);
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                permits: Semaphore::new(readers.len()),
                readers: Mutex::new(readers),
                writer: Arc::new(tokio::sync::Mutex::new(conn)),
                catalogue,
                hierarchy,
                version: AtomicI64::new(version),
                serving,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.inner.catalogue
    }

    pub fn hierarchy(&self) -> &Arc<Hierarchy> {
        &self.inner.hierarchy
    }

    /// The in-memory index the drill-down reads.
    pub fn serving(&self) -> &Arc<ServingIndex> {
        &self.inner.serving
    }

    /// Puts the current values committed by a bulk load (demo) into the serving index and
    /// aggregates them.
    pub fn index_current(&self) -> Result<crate::aggregate::Changes, StoreError> {
        let (serving, cat, h) = (
            self.inner.serving.clone(),
            self.inner.catalogue.clone(),
            self.inner.hierarchy.clone(),
        );
        let version = self.version();
        self.write_blocking(|conn| {
            let reported = crate::aggregate::read_current(conn, &serving)?;
            Ok(serving.apply_batch(version, || {
                crate::aggregate::apply(&serving, &cat, &h, &reported)
            }))
        })
    }

    /// The data version of the last accepted change.
    pub fn version(&self) -> i64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// Runs `f` on a reader connection in a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let conn = self
            .inner
            .readers
            .lock()
            .map_err(|e| StoreError::Task(e.to_string()))?
            .pop()
            .ok_or_else(|| StoreError::Task("no reader connection free".into()))?;
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await;
        joined.map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Runs `f` on the writer connection in a blocking thread, one writer at a time. `f` returns
    /// the new data version when it committed a change.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let guard = self.inner.writer.clone().lock_owned().await;
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = guard;
            rollback_interrupted(&guard);
            f(&mut guard)
        })
        .await;
        joined.map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Records the version a committed write produced.
    pub fn set_version(&self, version: i64) {
        self.inner.version.fetch_max(version, Ordering::AcqRel);
    }

    /// Runs `f` on the writer connection from synchronous code (CLI, demo loading).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let mut guard = self.inner.writer.blocking_lock();
        rollback_interrupted(&guard);
        f(&mut guard)
    }
}

/// A write that panicked inside its transaction (a bug, or a library failing on odd input)
/// leaves the transaction open on the writer connection, and every later write would fail to
/// begin its own. Nothing of it was committed: it is rolled back before the next write, and
/// the session's insertion order reset.
fn rollback_interrupted(conn: &Connection) {
    // duckdb-rs cannot tell whether a transaction is open (`is_autocommit` is always true),
    // and a ROLLBACK outside one only fails: so it is tried, and reported when it did roll back.
    if conn.execute_batch("ROLLBACK").is_ok() {
        tracing::warn!("rolled back the open transaction of an interrupted write");
    }
    // An insert that failed inside its transaction could not put this back itself.
    if let Err(e) = facts::reset_insertion_order(conn) {
        tracing::warn!(error = %e, "could not reset the insertion order");
    }
}
