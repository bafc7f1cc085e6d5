//! Helpers shared by the cross-crate tests: real DuckDB files in temporary folders, the demo
//! data set over a short range that crosses the 2025 reform, a real server on a loopback port
//! (in-process or as a child process of the built binary), and a small HTTP client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dieuhanh_protocol::period::Period;
use dieuhanh_server::api::{AppState, Limits};
use dieuhanh_server::demo::DemoOptions;
use dieuhanh_server::hierarchy::{Era, Hierarchy, Level};
use dieuhanh_server::live::{Grant, LiveConfig, Role};
use dieuhanh_server::store::{Store, StoreOptions};

/// Small store options so tests run side by side on two cores.
pub fn test_options() -> StoreOptions {
    StoreOptions {
        memory_limit: "1GB".into(),
        readers: 2,
    }
}

/// Opens a fresh database in `dir`.
pub fn open_store(dir: &Path) -> Store {
    dieuhanh_server::open_store(
        &dir.join("test.duckdb"),
        &dieuhanh_server::assets_dir(),
        &test_options(),
    )
    .expect("open store")
}

/// Demo options over a range that crosses the reform: 2024-01 to 2025-12, so 2025 months have
/// last year's values in the 2024 structure, and the year 2025 has all its months.
pub fn demo_options(seed: u64) -> DemoOptions {
    DemoOptions {
        seed,
        from: Period::Month {
            year: 2024,
            month: 1,
        },
        to: Period::Month {
            year: 2025,
            month: 12,
        },
        late_share: 0.0,
    }
}

/// A store in `dir` loaded with the demo over [`demo_options`].
pub fn demo_store(dir: &Path, seed: u64) -> Store {
    let store = open_store(dir);
    let cat = store.catalogue().clone();
    let h = store.hierarchy().clone();
    let opts = demo_options(seed);
    let (_, version) = store
        .write_blocking(|conn| dieuhanh_server::demo::load(conn, &cat, &h, &opts))
        .expect("load demo");
    store.set_version(version);
    store.index_current().expect("aggregate the demo");
    store
}

/// Official codes of a 2025 province's communes, in the hierarchy's order.
pub fn communes_of(h: &Hierarchy, province: &str) -> Vec<String> {
    let p = h
        .by_code(Era::Since2025, province)
        .unwrap_or_else(|| panic!("no province {province}"))
        .uid;
    h.descendants(p, Level::Commune, Era::Since2025)
        .iter()
        .filter_map(|&u| h.unit(u).map(|u| u.code.clone()))
        .collect()
}

/// A token's grant limited to a unit (and the units under it) and to some ministries.
pub fn limited_grant(name: &str, role: Role, unit: &str, agencies: &[&str]) -> Grant {
    Grant {
        name: name.into(),
        role,
        unit: Some(unit.into()),
        agencies: agencies.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// A server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Serves `store` on 127.0.0.1:0.
    pub async fn start(store: Store, spool: &Path) -> TestServer {
        Self::start_with(store, spool, 64 << 20).await
    }

    pub async fn start_with(store: Store, spool: &Path, max_upload_bytes: u64) -> TestServer {
        Self::start_live(store, spool, max_upload_bytes, LiveConfig::default()).await
    }

    /// With the live push configured by `live`.
    pub async fn start_live(
        store: Store,
        spool: &Path,
        max_upload_bytes: u64,
        live: LiveConfig,
    ) -> TestServer {
        let limits = Limits {
            max_upload_bytes,
            spool_dir: spool.to_owned(),
            ..Limits::default()
        };
        let state = AppState::new(store, limits, live);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let st = state.clone();
        let task = tokio::spawn(async move {
            let _ = dieuhanh_server::run(listener, st, std::future::pending()).await;
        });
        TestServer {
            addr,
            state,
            client: reqwest::Client::new(),
            _task: task,
        }
    }

    /// Official codes of a 2025 province's communes.
    pub fn communes(&self, province: &str) -> Vec<String> {
        communes_of(self.state.store.hierarchy(), province)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET returning status and JSON.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.client.get(self.url(path)).send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// POST an upload body with a content type and query string.
    pub async fn upload(
        &self,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        upload_to(&self.client, self.addr, query, content_type, body).await
    }
}

pub async fn upload_to(
    client: &reqwest::Client,
    addr: SocketAddr,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let r = client
        .post(format!("http://{addr}/api/uploads?{query}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Uploads one value as a JSON report to the server at `addr`; its answer, or why it was refused.
pub async fn upload_value(
    client: &reqwest::Client,
    addr: SocketAddr,
    indicator: &str,
    unit: &str,
    period: Period,
    value: f64,
) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({
        "period": period.id(),
        "records": [{"indicator": indicator, "unit": unit, "value": value}],
    });
    let (status, report) = upload_to(
        client,
        addr,
        "",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    if status == 200 {
        Ok(report)
    } else {
        Err(format!("upload refused ({status}): {report}"))
    }
}

/// The checkout's root: `DIEUHANH_ROOT` (set by the scripts), else found from the crates.
pub fn repo_root() -> PathBuf {
    dieuhanh_protocol::paths::checkout_dir("DIEUHANH_ROOT", "..")
}

/// The `dieuhanh-server` binary in `dir`, else beside this executable (the benches: both sit in
/// the target's profile folder).
pub fn server_bin_in(dir: Option<&Path>) -> PathBuf {
    let dir = dir.map(Path::to_owned).unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_owned))
            .unwrap_or_default()
    });
    dir.join("dieuhanh-server")
}

/// The `dieuhanh-server` binary next to the test executable (built by `scripts/test`).
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/dieuhanh-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    let bin = dir.join("dieuhanh-server");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A server child process.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `dieuhanh-server serve --db db` and waits until it answers.
    pub fn start(db: &Path, extra: &[&str]) -> ServerProcess {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let log = db.with_extension(format!("{port}.log"));
        let logf = std::fs::File::create(&log).expect("log file");
        let child = Command::new(server_bin())
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", &addr.to_string(), "--memory-limit", "1GB"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("spawn server");
        let mut p = ServerProcess { child, addr, log };
        p.wait_ready(Duration::from_secs(120));
        p
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited early ({status}); log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "server did not listen within {timeout:?}; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL: no chance to clean up. Returns all the server wrote to its log.
    pub fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log_text()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
