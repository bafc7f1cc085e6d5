//! The dieuhanh data server: collects periodic reports and socio-economic indicators from
//! ministries, provinces and communes into DuckDB, aggregates them up the administrative
//! hierarchy, and serves the figures leaders drill into.
//!
//! - [`catalogue`]: domains, agencies, indicators (aggregation rules, targets), regimes.
//! - [`hierarchy`]: administrative units of the 2024 and 2025 structures and how they nest.
//! - [`store`]: the DuckDB file, its connections, schema and reference tables.
//! - [`ingest`]: uploads (JSON, CSV, Excel) staged, validated and committed all-or-nothing.
//! - [`aggregate`]: re-aggregation of everything an upload touches, inside its transaction.
//! - [`query`]: figures with YoY/YTD/targets, breakdowns, series, provenance, late reports.
//! - [`serving`]: the in-memory index of served values the drill-down reads.
//! - [`events`]: change events inside the server.
//! - [`live`]: the WebSocket push to walls: views, snapshots, deltas, resume, rooms.
//! - [`demo`]: the seeded demo data set.
//! - [`api`]: the HTTP API and its OpenAPI document.
//! - [`desk`]: pages for people: reporters send files and read their errors, approvers approve.
//! - [`text`]: Vietnamese text normalisation for matching.
//! - [`watch`]: the `watch` command, a live feed printed for technicians.
//! - [`present`]: the `present` command, a presenter's remote for a room of walls.

pub mod aggregate;
pub mod api;
pub mod approval;
pub mod catalogue;
pub mod demo;
pub mod desk;
pub mod events;
pub mod hierarchy;
pub mod ingest;
pub mod live;
pub mod present;
pub mod query;
pub mod serving;
pub mod store;
pub mod text;
pub mod watch;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use catalogue::{Catalogue, CatalogueError};
use hierarchy::{Hierarchy, HierarchyError};
use store::{Store, StoreError, StoreOptions};

/// The `assets/` folder: `DIEUHANH_ASSETS` if set, else the one in the source tree.
pub fn assets_dir() -> PathBuf {
    dieuhanh_protocol::paths::checkout_dir("DIEUHANH_ASSETS", "../assets")
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads the reference data from `assets` and opens (or creates) the database file.
pub fn open_store(db: &Path, assets: &Path, options: &StoreOptions) -> Result<Store, StartError> {
    let catalogue = Arc::new(Catalogue::load(&assets.join("catalogue/catalogue.toml"))?);
    let hierarchy = Arc::new(Hierarchy::load(assets)?);
    Ok(Store::open(db, catalogue, hierarchy, options)?)
}

/// Whether the store holds no submission yet.
pub fn is_empty(store: &Store) -> Result<bool, StoreError> {
    use store::DbContext;
    store.write_blocking(|conn| {
        conn.query_row("SELECT count(*) = 0 FROM submissions", [], |r| r.get(0))
            .ctx("checking whether the database is empty")
    })
}

/// Serves `app` on `listener` until `shutdown` completes. axum's graceful shutdown does not
/// wait for upgraded WebSockets, so live connections are closed (with a Close frame) first.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: api::AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.live.clone();
    let app = api::app(state);
    // Deltas are small frames that should leave at once, not wait for the previous one's ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            hub.shutdown(std::time::Duration::from_secs(5)).await;
        })
        .await
}
