//! The live-push benchmark: update-to-client latency and memory per idle connection of `/live`
//! for 100, 1,000 and 5,000 WebSocket clients on loopback, against a Node.js `ws` broadcast
//! server (`node-peer/server.js`) and the transport floor (`live-floor`, `floor.rs`), fed the
//! same updates in the same run.
//!
//! The server under test — dieuhanh's, then each peer — runs as a child process pinned to one
//! core; the clients run in this process, re-run pinned to another core, so the two sides never
//! share a CPU. For each N: connect N clients, each subscribing to two views a wall would hold (one
//! indicator, varied among four, for the nation and its 34 provinces; the nation's births);
//! wait for every snapshot; read the server's RSS (memory per idle connection = growth / N);
//! then upload one commune's births K times — it changes the commune, its province and the
//! nation, so every client gets a delta. Latency = the frame's receipt, stamped as soon as the
//! client reads it, minus the acceptance stamped by the server (`accepted_at_us` of the upload
//! response: its COMMIT). Node gets the text of dieuhanh's delta, stamps it when the `POST
//! /publish` body is in and sends it to every client: it does no per-client view filtering, no
//! database and no aggregation. The floor gets the same text and does less still: one write of
//! one encoded frame per socket, the kernel's share of any server's latency.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use dieuhanh_protocol::live::{ClientMessage, Periods, View};
use dieuhanh_protocol::period::Period;
use dieuhanh_server::hierarchy::{Era, Level};

/// Options of the live-push benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Scratch folder (the demo database, server logs).
    #[arg(long)]
    work: PathBuf,
    /// Client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000, 5000])]
    clients: Vec<usize>,
    /// Measured uploads per client count (after two warm-up uploads).
    #[arg(long, default_value_t = 30)]
    updates: usize,
    /// Pause between uploads, in ms.
    #[arg(long, default_value_t = 250)]
    interval_ms: u64,
    /// Core of the server under test.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// Core of the clients: this process re-runs itself pinned there.
    #[arg(long, default_value_t = 1)]
    client_cpu: usize,
    /// Seed of the demo data set.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder holding `dieuhanh-server` (this executable's by default).
    #[arg(long, env = "DIEUHANH_BIN")]
    bin: Option<PathBuf>,
    /// Node.js executable.
    #[arg(long, default_value = "node")]
    node: String,
    /// The Node.js peer's script; `ws` must be on NODE_PATH (scripts/bench installs it).
    #[arg(long)]
    node_peer: Option<PathBuf>,
    /// Leave the Node.js peer out.
    #[arg(long)]
    no_node: bool,
    /// Leave the transport floor (`live-floor`) out.
    #[arg(long)]
    no_floor: bool,
}

/// Set in the re-run pinned to the clients' core: the machine's cores.
const PINNED_ENV: &str = "DIEUHANH_BENCH_PINNED";
/// Uploads before the measured ones (cold caches, first allocations).
const WARMUP: usize = 2;
/// Clients connected before the measured ones (see [`connect_all`]).
const WARM_CLIENTS: usize = 10;
/// The uploaded indicator: births, reported monthly by every commune, summed upwards.
const UPLOADED: &str = "XH02";
/// Indicators of the clients' province panels, in turn. Not the uploaded one: each update then
/// brings every client one delta, the same bytes Node sends.
const PANELS: [&str; 4] = ["XH03", "XH04", "HC01", "HC02"];
const GOAL_KB_PER_CONN: f64 = 20.0;

/// Latency goal on p99 (ms) for a client count, from issue 3.
fn p99_goal_ms(n: usize) -> Option<f64> {
    match n {
        1000 => Some(15.0),
        5000 => Some(60.0),
        _ => None,
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let Some(cores) = std::env::var(PINNED_ENV)
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ensure!(
            args.server_cpu != args.client_cpu,
            "--server-cpu and --client-cpu must differ"
        );
        check_fd_limit(args.clients.iter().copied().max().unwrap_or(0))?;
        std::fs::create_dir_all(&args.work)?;
        // Loaded unpinned (both cores), once per run: a fresh file, so no upload is a duplicate.
        let db = args.work.join("live.duckdb");
        for ext in ["duckdb", "duckdb.wal"] {
            let _ = std::fs::remove_file(db.with_extension(ext));
        }
        let t = Instant::now();
        let status = Command::new(dieuhanh_tests::server_bin_in(args.bin.as_deref()))
            .args(["demo-data", "--seed", &args.seed.to_string(), "--db"])
            .arg(&db)
            .env("RUST_LOG", "warn")
            .status()
            .context("running dieuhanh-server demo-data")?;
        ensure!(status.success(), "dieuhanh-server demo-data failed");
        eprintln!(
            "demo data set (seed {}) loaded in {:.1} s",
            args.seed,
            t.elapsed().as_secs_f64()
        );
        let exe = std::env::current_exe()?;
        let status = Command::new("taskset")
            .args(["-c", &args.client_cpu.to_string()])
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(PINNED_ENV, cores.to_string())
            .status()
            .context("re-running pinned with taskset (util-linux)")?;
        ensure!(status.success(), "the pinned benchmark failed");
        return Ok(());
    };
    let allowed = proc_status(std::process::id(), "Cpus_allowed_list")?;
    ensure!(
        allowed == args.client_cpu.to_string(),
        "expected to run on core {} only, allowed: {allowed}",
        args.client_cpu
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(measure(args, cores))
}

/// One side's figures for one client count.
struct Figures {
    latencies_us: Vec<i64>,
    missing: usize,
    kb_per_conn: f64,
}

/// Both sides' figures for one client count.
struct Row {
    n: usize,
    ours: Figures,
    /// Node's `ws` server.
    theirs: Option<Figures>,
    /// The transport floor.
    floor: Option<Figures>,
    /// Share of the servers' and the clients' cores that other processes took meanwhile.
    foreign: (f64, f64),
    /// Updates sent without a quiet moment before them (see [`wait_quiet`]), of all.
    busy: (usize, usize),
    /// dieuhanh's `/api/metrics` after the run.
    metrics: serde_json::Value,
    /// Each measured update's fanout to all connections, µs: dieuhanh's (`fanout_last_us` after
    /// the upload) and the floor's (its write loop).
    fanout_us: (Vec<f64>, Vec<f64>),
    delta_bytes: usize,
    snapshot_bytes: usize,
}

async fn measure(args: &Args, cores: usize) -> anyhow::Result<()> {
    let assets = dieuhanh_server::assets_dir();
    let h = dieuhanh_server::hierarchy::Hierarchy::load(&assets)?;
    let commune = h
        .at_level(Level::Commune, Era::Since2025)
        .next()
        .context("no commune in the hierarchy")?
        .code
        .clone();
    let today = dieuhanh_server::ingest::today_in_vietnam();
    // The demo's last month, the one a wall shows.
    let month = Period::Month {
        year: today.year,
        month: today.month,
    }
    .previous();
    let http = reqwest::Client::new();
    let mut value = 500_000u64;
    let mut rows = Vec::new();
    for &n in &args.clients {
        rows.push(run_n(args, &http, n, &commune, month, &mut value).await?);
    }

    println!();
    println!(
        "Live push — update → client latency (upload accepted → frame read by the client) and \
         memory per idle connection; {} measured updates per client count and side after \
         {WARMUP} warm-ups, dieuhanh's, Node's and the floor's taking turns, each ≥ {} ms after \
         the other and after a quiet moment (both cores ≤ 20 % busy for 200 ms; up to 3 s); \
         each client holds 2 views (one indicator × nation + 34 provinces × 4 periods, and the \
         nation's births); loopback, {cores} cores: servers on core {}, clients on core {}",
        args.updates, args.interval_ms, args.server_cpu, args.client_cpu
    );
    println!(
        "| clients | dieuhanh p50 / p99 / max, ms | Node ws p50 / p99 / max, ms | transport floor \
         p50 / p99 / max, ms | p99 ratio Node/dieuhanh | p99 ratio dieuhanh/floor | KB per idle \
         conn., dieuhanh / Node | goal | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let (o50, o99, omax) = stats(&r.ours.latencies_us);
        let (theirs_txt, ratio, node_kb, beats) = match &r.theirs {
            Some(t) => {
                let (t50, t99, tmax) = stats(&t.latencies_us);
                (
                    format!("{t50:.2} / {t99:.2} / {tmax:.2}"),
                    format!("{:.2}×", t99 / o99),
                    format!("{:.1}", t.kb_per_conn),
                    o99 < t99,
                )
            }
            None => ("—".into(), "—".into(), "—".into(), true),
        };
        let (floor_txt, above_floor) = match &r.floor {
            Some(f) => {
                let (f50, f99, fmax) = stats(&f.latencies_us);
                (
                    format!("{f50:.2} / {f99:.2} / {fmax:.2}"),
                    format!("{:.2}×", o99 / f99),
                )
            }
            None => ("—".into(), "—".into()),
        };
        let mut goal = Vec::new();
        let mut met = r.ours.missing == 0;
        if let Some(g) = p99_goal_ms(r.n) {
            goal.push(format!("p99 ≤ {g} ms"));
            met &= o99 <= g;
        }
        goal.push("p99 < Node's".into());
        goal.push(format!("≤ {GOAL_KB_PER_CONN} KB/conn."));
        met &= beats && r.ours.kb_per_conn <= GOAL_KB_PER_CONN;
        println!(
            "| {} | {o50:.2} / {o99:.2} / {omax:.2} | {theirs_txt} | {floor_txt} | {ratio} | {above_floor} | {:.1} / {node_kb} | {} | {} |",
            r.n,
            r.ours.kb_per_conn,
            goal.join(", "),
            if met { "yes" } else { "NO" }
        );
    }
    println!();
    let (delta_bytes, snapshot_bytes) = rows
        .first()
        .map_or((0, 0), |r| (r.delta_bytes, r.snapshot_bytes));
    println!(
        "Node's `ws` server sends the same delta text ({delta_bytes} bytes) to every client, as a \
         broadcast, and answers each subscribe with the same panel snapshot ({snapshot_bytes} \
         bytes): no per-client view filtering, no database, no aggregation. The transport floor \
         (`dieuhanh-bench live-floor`) stamps the same text, encodes it as one frame and writes \
         it to each client's socket, one non-blocking write each, from one thread: what the \
         kernel charges any server on this loopback, the part no server code removes. \
         dieuhanh's latency runs from the upload's COMMIT: swapping in the re-aggregated \
         values, picking each client's cells, sending. KB per idle connection: growth of the \
         server's RSS with all clients connected and their snapshots sent, / clients ({WARM_CLIENTS} \
         clients connected before are left out; Node's RSS read after a garbage collection)."
    );
    for r in &rows {
        let node_missing = r.theirs.as_ref().map_or(0, |t| t.missing);
        let floor_missing = r.floor.as_ref().map_or(0, |t| t.missing);
        let m = &r.metrics;
        let conns = m["fanout_connections"].as_f64().unwrap_or(1.0).max(1.0);
        let fanout = |v: &[f64]| match median(v) {
            Some(x) => format!("{:.1} ms ({:.1} µs a connection)", x / 1e3, x / conns),
            None => "—".into(),
        };
        println!(
            "{} clients: other processes took {:.0} % / {:.0} % of the server / client core \
             meanwhile; {} of {} updates went out with no quiet moment before them; samples {} \
             (missing: dieuhanh {}, Node {node_missing}, floor {floor_missing}); dieuhanh \
             /api/metrics: deltas {}, snapshots {}, resyncs {}, lagged {}, slow_closed {}, \
             idle_closed {}, lag_max_ms {}; a change's fanout to the {conns} connections, median: \
             dieuhanh {} (the worst {:.1} ms), floor {}",
            r.n,
            r.foreign.0 * 100.0,
            r.foreign.1 * 100.0,
            r.busy.0,
            r.busy.1,
            r.ours.latencies_us.len(),
            r.ours.missing,
            m["deltas"],
            m["snapshots"],
            m["resyncs"],
            m["lagged"],
            m["slow_closed"],
            m["idle_closed"],
            m["lag_max_ms"],
            fanout(&r.fanout_us.0),
            us(&m["fanout_max_us"]) / 1e3,
            fanout(&r.fanout_us.1),
        );
    }
    Ok(())
}

/// The middle value (the upper one of an even count).
fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Both servers with `n` clients each. Their updates take turns, so the two sides share
/// whatever else the machine runs alike; each goes out once the other's has been read (a
/// dieuhanh upload answers after its push and checkpoint, a Node publish after its broadcast).
async fn run_n(
    args: &Args,
    http: &reqwest::Client,
    n: usize,
    commune: &str,
    month: Period,
    value: &mut u64,
) -> anyhow::Result<Row> {
    let ours = start_dieuhanh(args, n).await?;
    let ours_url = format!("ws://{}/live", ours.addr);
    let (ours_clients, before, after) = connect_all(&ours_url, n, &ours, month, None).await?;
    let ours_kb = kb_per_conn(before, after, n);
    eprintln!("  dieuhanh: RSS {before} → {after} KiB, {ours_kb:.1} KiB per connection");
    let (_, snapshot_text) = ours_clients.texts();

    let mut peers = Vec::new();
    for kind in [PeerKind::Node, PeerKind::Floor] {
        let wanted = match kind {
            PeerKind::Node => !args.no_node,
            PeerKind::Floor => !args.no_floor,
        };
        if !wanted {
            continue;
        }
        let server = match kind {
            PeerKind::Node => start_node(args, n).await?,
            PeerKind::Floor => start_floor(args, n).await?,
        };
        http.post(format!("http://{}/snapshot", server.addr))
            .body(snapshot_text.clone())
            .send()
            .await?
            .error_for_status()?;
        let url = format!("ws://{}/live", server.addr);
        let (clients, before, after) =
            connect_all(&url, n, &server, month, Some((http, server.addr))).await?;
        let kb = kb_per_conn(before, after, n);
        eprintln!(
            "  {}: RSS {before} → {after} KiB, {kb:.1} KiB per connection",
            kind.name()
        );
        peers.push(Peer {
            kind,
            server,
            clients,
            kb,
            accepted: Vec::new(),
            fanout_us: Vec::new(),
        });
    }

    let mut pids = vec![ours.pid()];
    pids.extend(peers.iter().map(|p| p.server.pid()));
    let load = LoadMeter::start(args, pids)?;
    let pause = Duration::from_millis(args.interval_ms);
    let mut ours_at = Vec::new();
    let mut ours_fanout = Vec::new();
    let mut template: Option<(String, i64)> = None;
    let mut busy = 0;
    for k in 0..WARMUP + args.updates {
        tokio::time::sleep(pause).await;
        busy += usize::from(!wait_quiet(args).await?);
        *value += 1;
        let at = upload(http, ours.addr, commune, month, *value).await?;
        if k >= WARMUP {
            ours_at.push(at);
            // The upload answers after its push, so the last fanout is its own.
            let m: serde_json::Value = http
                .get(format!("http://{}/api/metrics", ours.addr))
                .send()
                .await?
                .json()
                .await?;
            ours_fanout.push(us(&m["fanout_last_us"]));
        }
        for (i, peer) in peers.iter_mut().enumerate() {
            tokio::time::sleep(pause).await;
            busy += usize::from(!wait_quiet(args).await?);
            if template.is_none() {
                let delta = ours_clients.texts().0;
                ensure!(!delta.is_empty(), "no delta within {pause:?} of an upload");
                let v = version_of(&delta).unwrap_or(0);
                template = Some((delta, v));
            }
            let Some((delta, from)) = &template else {
                continue;
            };
            // The same bytes as dieuhanh's delta, with this side's version numbers.
            let v = 1_000_000 * (i as i64 + 1) + k as i64;
            let text = delta
                .replace(
                    &format!("\"from_version\":{}", from - 1),
                    &format!("\"from_version\":{}", v - 1),
                )
                .replace(&format!("\"version\":{from}"), &format!("\"version\":{v}"));
            let r: serde_json::Value = http
                .post(format!("http://{}/publish", peer.server.addr))
                .body(text)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let at = r["accepted_at_us"]
                .as_i64()
                .with_context(|| format!("no accepted_at_us from {}", peer.kind.name()))?;
            if k >= WARMUP {
                peer.accepted.push((v, at));
                if let Some(f) = r["fanout_us"].as_f64() {
                    peer.fanout_us.push(f);
                }
            }
        }
    }
    let (latencies_us, missing) = ours_clients.finish(&ours_at).await;
    let mut figures = Vec::new();
    for p in &peers {
        let (latencies_us, missing) = p.clients.finish(&p.accepted).await;
        figures.push((
            p.kind,
            Figures {
                latencies_us,
                missing,
                kb_per_conn: p.kb,
            },
        ));
    }
    let foreign = load.stop()?;
    let sides = 1 + peers.len();
    let floor_fanout = peers
        .iter()
        .find(|p| p.kind == PeerKind::Floor)
        .map_or_else(Vec::new, |p| p.fanout_us.clone());
    for p in peers {
        p.clients.stop().await;
        p.server.stop();
    }
    let metrics: serde_json::Value = http
        .get(format!("http://{}/api/metrics", ours.addr))
        .send()
        .await?
        .json()
        .await?;
    let delta_bytes = template.map_or(0, |(d, _)| d.len());
    ours_clients.stop().await;
    ours.stop();
    let mut take = |kind: PeerKind| {
        figures
            .iter()
            .position(|(k, _)| *k == kind)
            .map(|i| figures.swap_remove(i).1)
    };
    Ok(Row {
        n,
        ours: Figures {
            latencies_us,
            missing,
            kb_per_conn: ours_kb,
        },
        busy: (busy, (WARMUP + args.updates) * sides),
        theirs: take(PeerKind::Node),
        floor: take(PeerKind::Floor),
        foreign,
        metrics,
        fanout_us: (ours_fanout, floor_fanout),
        delta_bytes,
        snapshot_bytes: snapshot_text.len(),
    })
}

/// The servers dieuhanh's is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerKind {
    /// Node's `ws` broadcast server (`node-peer/server.js`).
    Node,
    /// `dieuhanh-bench live-floor` (`floor.rs`): one write of the same frame per socket.
    Floor,
}

impl PeerKind {
    fn name(self) -> &'static str {
        match self {
            PeerKind::Node => "Node ws",
            PeerKind::Floor => "transport floor",
        }
    }
}

/// A peer server with its clients and the acceptance stamps of its updates.
struct Peer {
    kind: PeerKind,
    server: Server,
    clients: Clients,
    kb: f64,
    accepted: Vec<(i64, i64)>,
    /// Each measured update's fanout, µs, where the peer says (the floor does).
    fanout_us: Vec<f64>,
}

fn kb_per_conn(before_kib: u64, after_kib: u64, n: usize) -> f64 {
    after_kib.saturating_sub(before_kib) as f64 * 1.024 / n as f64
}

/// One upload of the commune's births: (version, acceptance in µs since 1970).
async fn upload(
    http: &reqwest::Client,
    addr: SocketAddr,
    commune: &str,
    month: Period,
    value: u64,
) -> anyhow::Result<(i64, i64)> {
    let report = dieuhanh_tests::upload_value(http, addr, UPLOADED, commune, month, value as f64)
        .await
        .map_err(anyhow::Error::msg)?;
    match (
        report["version"].as_i64(),
        report["accepted_at_us"].as_i64(),
    ) {
        (Some(version), Some(at)) => Ok((version, at)),
        _ => bail!("the upload changed nothing: {report}"),
    }
}

/// `dieuhanh-server serve` on the demo database, pinned to the servers' core.
async fn start_dieuhanh(args: &Args, n: usize) -> anyhow::Result<Server> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &args.server_cpu.to_string()])
        .arg(dieuhanh_tests::server_bin_in(args.bin.as_deref()))
        .args(["serve", "--db"])
        .arg(args.work.join("live.duckdb"))
        .args(["--listen", &addr.to_string()]);
    let server = Server::start(cmd, addr, &args.work.join(format!("server-{n}.log"))).await?;
    eprintln!("{n} clients: dieuhanh-server pid {}", server.pid());
    Ok(server)
}

/// The Node.js `ws` peer, pinned to the servers' core.
async fn start_node(args: &Args, n: usize) -> anyhow::Result<Server> {
    let script = args
        .node_peer
        .clone()
        .unwrap_or_else(|| dieuhanh_tests::repo_root().join("tests/bench/node-peer/server.js"));
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &args.server_cpu.to_string()])
        .arg(&args.node)
        .arg("--expose-gc")
        .arg(&script)
        .arg(port.to_string());
    let server = Server::start(cmd, addr, &args.work.join(format!("node-{n}.log"))).await?;
    eprintln!("{n} clients: Node ws pid {}", server.pid());
    Ok(server)
}

/// `dieuhanh-bench live-floor` (this executable), pinned to the servers' core.
async fn start_floor(args: &Args, n: usize) -> anyhow::Result<Server> {
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &args.server_cpu.to_string()])
        .arg(std::env::current_exe()?)
        .args(["live-floor", &port.to_string()]);
    let server = Server::start(cmd, addr, &args.work.join(format!("floor-{n}.log"))).await?;
    eprintln!("{n} clients: transport floor pid {}", server.pid());
    Ok(server)
}

/// What the client tasks share.
#[derive(Default)]
struct Shared {
    ready: AtomicUsize,
    /// Distinct versions received, all clients together.
    received: AtomicUsize,
    /// (client, version, receipt in µs since 1970): the first frame of each version.
    samples: Mutex<Vec<(u32, i64, i64)>>,
    /// The first delta of client 1 and the panel snapshot of client 0, as sent.
    delta_text: Mutex<String>,
    snapshot_text: Mutex<String>,
}

struct Clients {
    n: usize,
    shared: Arc<Shared>,
    tasks: JoinSet<anyhow::Result<()>>,
    /// Connected before the measured ones, left out of every figure.
    warm: Option<JoinSet<anyhow::Result<()>>>,
}

impl Clients {
    /// Waits until every client has every version of `accepted` (10 s at most), then computes
    /// the latencies in µs and the number of samples missing.
    async fn finish(&self, accepted: &[(i64, i64)]) -> (Vec<i64>, usize) {
        let first = accepted.first().map_or(0, |a| a.0);
        let expected = self.n * (WARMUP + accepted.len());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.shared.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let at: std::collections::HashMap<i64, i64> = accepted.iter().copied().collect();
        let samples = self.shared.samples.lock().unwrap();
        let latencies: Vec<i64> = samples
            .iter()
            .filter(|(_, v, _)| *v >= first)
            .filter_map(|(_, v, t)| at.get(v).map(|a| t - a))
            .collect();
        let missing = (self.n * accepted.len()).saturating_sub(latencies.len());
        (latencies, missing)
    }

    fn texts(&self) -> (String, String) {
        (
            self.shared.delta_text.lock().unwrap().clone(),
            self.shared.snapshot_text.lock().unwrap().clone(),
        )
    }

    async fn stop(mut self) {
        self.tasks.shutdown().await;
        if let Some(mut warm) = self.warm.take() {
            warm.shutdown().await;
        }
    }
}

/// The two subscriptions of client `i`.
fn subscriptions(i: usize, month: Period) -> [String; 2] {
    let panel = View {
        indicators: vec![PANELS[i % PANELS.len()].into()],
        units: vec!["VN".into()],
        children_of: Some("VN".into()),
        level: Some("province".into()),
        periods: Periods::List(vec![month]),
        comparisons: true,
        at: None,
    };
    let headline = View {
        indicators: vec![UPLOADED.into()],
        units: vec!["VN".into()],
        children_of: None,
        level: None,
        periods: Periods::List(vec![month]),
        comparisons: true,
        at: None,
    };
    [("panel", panel), ("headline", headline)].map(|(id, view)| {
        serde_json::to_string(&ClientMessage::Subscribe {
            id: id.into(),
            view,
            since: None,
        })
        .unwrap()
    })
}

/// Connects `n` clients and waits for all their snapshots; returns them with the server's RSS
/// (KiB) before and after, each read after a pause — and, for the Node peer (`gc`: its
/// address), after a garbage collection, so its RSS holds no garbage. [`WARM_CLIENTS`] more are
/// connected first and left out, so one-time costs (the first connection's allocations) do not
/// count as per-connection ones.
async fn connect_all(
    url: &str,
    n: usize,
    server: &Server,
    month: Period,
    gc: Option<(&reqwest::Client, SocketAddr)>,
) -> anyhow::Result<(Clients, u64, u64)> {
    let settle = || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some((http, addr)) = gc {
            let _ = http.post(format!("http://{addr}/gc")).send().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let warm = spawn_clients(url, WARM_CLIENTS, month).await?;
    settle().await;
    let rss_before = server.rss_kib()?;
    let mut clients = spawn_clients(url, n, month).await?;
    settle().await;
    let rss_after = server.rss_kib()?;
    clients.warm = Some(warm.tasks);
    Ok((clients, rss_before, rss_after))
}

/// Starts `n` clients (256 handshakes at a time) and waits until all have their snapshots.
async fn spawn_clients(url: &str, n: usize, month: Period) -> anyhow::Result<Clients> {
    let shared = Arc::new(Shared::default());
    shared.samples.lock().unwrap().reserve(n * 40);
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let subs = subscriptions(i, month);
        tasks.spawn(client(
            url.to_owned(),
            i as u32,
            subs,
            shared.clone(),
            gate.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while shared.ready.load(Ordering::Relaxed) < n {
        if let Some(done) = tasks.try_join_next() {
            match done {
                Ok(Err(e)) => return Err(e.context("a client failed while connecting")),
                Ok(Ok(())) => bail!("a client's connection ended while connecting"),
                Err(e) => return Err(e.into()),
            }
        }
        ensure!(
            Instant::now() < deadline,
            "only {} of {n} clients had their snapshots after 300 s",
            shared.ready.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Clients {
        n,
        shared,
        tasks,
        warm: None,
    })
}

/// One client: connects, subscribes, waits for its two snapshots, then records the receipt of
/// every new version until it is stopped.
async fn client(
    url: String,
    i: u32,
    subs: [String; 2],
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
) -> anyhow::Result<()> {
    let permit = gate.acquire_owned().await?;
    // Small buffers: 5,000 clients with tungstenite's 128 KiB defaults would waste 1.2 GB here.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 << 10)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    for s in subs {
        ws.send(Message::text(s)).await?;
    }
    let mut snapshots = 0;
    while snapshots < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .context("no snapshot within 120 s")?
            .context("closed before the snapshots")??;
        if let Message::Text(t) = msg {
            if t.contains("\"type\":\"snapshot\"") {
                snapshots += 1;
                if i == 0 && t.contains("\"id\":\"panel\"") {
                    *shared.snapshot_text.lock().unwrap() = t.as_str().to_owned();
                }
            } else if t.contains("\"type\":\"error\"") {
                bail!("the server answered: {}", t.as_str());
            }
        }
    }
    drop(permit);
    shared.ready.fetch_add(1, Ordering::Relaxed);
    let mut last = i64::MIN;
    while let Some(msg) = ws.next().await {
        // Stamped before anything else: the clients share one core.
        let at = now_us();
        let Message::Text(t) = msg? else {
            continue;
        };
        let Some(v) = version_of(t.as_str()) else {
            continue;
        };
        if v > last {
            last = v;
            shared.samples.lock().unwrap().push((i, v, at));
            shared.received.fetch_add(1, Ordering::Relaxed);
            if i == 1 {
                let mut d = shared.delta_text.lock().unwrap();
                if d.is_empty() {
                    *d = t.as_str().to_owned();
                }
            }
        }
    }
    Ok(())
}

/// The `version` of a server message, read without parsing the rest.
fn version_of(text: &str) -> Option<i64> {
    let start = text.find("\"version\":")? + "\"version\":".len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A number of microseconds from `/api/metrics` (0 when absent).
fn us(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn stats(us: &[i64]) -> (f64, f64, f64) {
    if us.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut s = us.to_vec();
    s.sort_unstable();
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
    (at(0.50), at(0.99), at(1.0))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A field of /proc/PID/status, e.g. `VmRSS` or `Cpus_allowed_list`.
fn proc_status(pid: u32, field: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Each client count needs a descriptor per client here, and the server one per connection.
fn check_fd_limit(n: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let soft: Option<usize> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok());
    if let Some(soft) = soft {
        ensure!(
            soft >= n + 256,
            "{n} clients need more open files than the limit of {soft}: run `ulimit -n {}` first \
             (scripts/bench does)",
            n + 1024
        );
    }
    Ok(())
}

/// A server under test, as a child process (killed when dropped).
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    async fn start(mut cmd: Command, addr: SocketAddr, log: &Path) -> anyhow::Result<Server> {
        let logf = std::fs::File::create(log)?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let mut s = Server {
            child,
            addr,
            log: log.to_owned(),
        };
        let start = Instant::now();
        loop {
            if let Some(status) = s.child.try_wait()? {
                bail!(
                    "{cmd:?} exited ({status}); log:\n{}",
                    std::fs::read_to_string(&s.log).unwrap_or_default()
                );
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(s);
            }
            ensure!(
                start.elapsed() < Duration::from_secs(180),
                "{cmd:?} did not listen within 180 s; log in {}",
                s.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let v = proc_status(self.pid(), "VmRSS")?;
        v.trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("VmRSS {v:?}"))
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (3 s at most) for a moment when both cores are nearly idle — 200 ms with at most 20 %
/// busy — so that an update goes out when other processes on a shared machine leave the cores
/// alone; whether it found one.
async fn wait_quiet(args: &Args) -> anyhow::Result<bool> {
    let cpus = (args.server_cpu, args.client_cpu);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let (b0, t0, _, _) = LoadMeter::read(cpus, &[])?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (b1, t1, _, _) = LoadMeter::read(cpus, &[])?;
        let share = |i: usize| (b1[i] - b0[i]) as f64 / (t1[i] - t0[i]).max(1) as f64;
        if share(0) <= 0.2 && share(1) <= 0.2 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// CPU time of the two cores and of the processes on them, to tell how much of each core other
/// processes took while a side was measured (the machine may be shared).
struct LoadMeter {
    cpus: (usize, usize),
    servers: Vec<u32>,
    start: ([u64; 2], [u64; 2], u64, u64),
}

impl LoadMeter {
    fn start(args: &Args, servers: Vec<u32>) -> anyhow::Result<LoadMeter> {
        let cpus = (args.server_cpu, args.client_cpu);
        let start = Self::read(cpus, &servers)?;
        Ok(LoadMeter {
            cpus,
            servers,
            start,
        })
    }

    /// (busy, total) ticks of each core, the servers' and this process's CPU ticks.
    fn read(
        cpus: (usize, usize),
        servers: &[u32],
    ) -> anyhow::Result<([u64; 2], [u64; 2], u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let core = |c: usize| -> anyhow::Result<[u64; 2]> {
            let line = stat
                .lines()
                .find(|l| l.starts_with(&format!("cpu{c} ")))
                .with_context(|| format!("no cpu{c} in /proc/stat"))?;
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            let total: u64 = v.iter().take(8).sum();
            // user, nice, system and steal; interrupts are left out, as the loopback traffic's
            // own softirq time is not counted in any process's ticks.
            Ok([at(0) + at(1) + at(2) + at(7), total])
        };
        let (a, b) = (core(cpus.0)?, core(cpus.1)?);
        Ok((
            [a[0], b[0]],
            [a[1], b[1]],
            servers
                .iter()
                .map(|p| proc_ticks(&p.to_string()))
                .sum::<anyhow::Result<u64>>()?,
            proc_ticks("self")?,
        ))
    }

    /// The share of the server's and the clients' core that other processes took.
    fn stop(self) -> anyhow::Result<(f64, f64)> {
        let (busy, total, srv, me) = Self::read(self.cpus, &self.servers)?;
        let (b0, t0, s0, m0) = self.start;
        let share = |i: usize, ours: u64| {
            let t = total[i].saturating_sub(t0[i]).max(1) as f64;
            let other = busy[i].saturating_sub(b0[i]).saturating_sub(ours) as f64;
            (other / t).clamp(0.0, 1.0)
        };
        Ok((share(0, srv - s0), share(1, me - m0)))
    }
}

/// User and system CPU ticks of a process (all its threads).
fn proc_ticks(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unreadable /proc/PID/stat")?;
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3 (state, not a number).
    Ok(f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0))
}
