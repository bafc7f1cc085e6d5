//! `dieuhanh-server`: serve the API, import report files, or generate the demo data set.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use dieuhanh_protocol::live::{RoomField, RoomState};
use dieuhanh_protocol::number::Locale;
use dieuhanh_protocol::period::Period;
use dieuhanh_server::api::{AppState, Limits};
use dieuhanh_server::demo::{self, DemoOptions};
use dieuhanh_server::ingest::{self, Format, UploadOptions, today_in_vietnam};
use dieuhanh_server::live::{Auth, LiveConfig};
use dieuhanh_server::store::StoreOptions;

/// The dieuhanh data server: reports and indicators of ministries, provinces and communes in
/// DuckDB, aggregated up Vietnam's administrative hierarchy and served over HTTP.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Folder with catalogue/, admin/ and the other assets.
    #[arg(long, global = true, env = "DIEUHANH_ASSETS")]
    assets: Option<PathBuf>,
    /// DuckDB memory limit; larger work spills to <db>.tmp/.
    #[arg(long, global = true, default_value = "2GB")]
    memory_limit: String,
    #[command(subcommand)]
    command: Command,
}

/// A presenter's choice that `present --clear` undoes.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Clearable {
    Scene,
    Focus,
    Agency,
    Period,
}

impl From<Clearable> for RoomField {
    fn from(c: Clearable) -> RoomField {
        match c {
            Clearable::Scene => RoomField::Scene,
            Clearable::Focus => RoomField::FocusUnit,
            Clearable::Agency => RoomField::Agency,
            Clearable::Period => RoomField::Period,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the API on a database file (created if missing).
    ///
    /// Example: dieuhanh-server serve --db dieuhanh.duckdb --demo --listen 127.0.0.1:8080
    Serve {
        /// The DuckDB database file.
        #[arg(long)]
        db: PathBuf,
        /// Fill the database with the seeded demo data set when it holds no data yet.
        #[arg(long)]
        demo: bool,
        /// Seed of the demo data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Largest upload accepted, in MiB.
        #[arg(long, default_value_t = 512)]
        max_upload_mib: u64,
        /// TOML file of tokens (walls, presenters, reporters and approvers with their unit and
        /// ministries) and allowed origins; without it the API, /live, uploads and approvals
        /// are open to anyone.
        #[arg(long = "auth", alias = "live-auth")]
        auth_file: Option<PathBuf>,
        /// Also serve /echo with /live's WebSocket stack (for conformance tests).
        #[arg(long)]
        echo: bool,
    },
    /// Import report files into a database file (the server must not be running on it).
    ///
    /// Example: dieuhanh-server import --db dieuhanh.duckdb bao-cao-thang-7.xlsx
    Import {
        #[arg(long)]
        db: PathBuf,
        /// Files: .json, .csv, .xlsx or .xls.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// json | csv | xlsx | xls (by default from the extension).
        #[arg(long)]
        format: Option<String>,
        /// Number format of text values: vi (1.234.567,8) or en (1,234,567.8).
        #[arg(long)]
        locale: Option<String>,
        /// Period for rows that have none, e.g. "Tháng 7/2025".
        #[arg(long)]
        period: Option<String>,
        /// Unit code for rows that have none.
        #[arg(long)]
        unit: Option<String>,
        /// Excel sheet name.
        #[arg(long)]
        sheet: Option<String>,
    },
    /// Print a live view's snapshot and every change as it arrives (for checking a feed), and
    /// how reports stand in their approval, again whenever that changes.
    ///
    /// Example: dieuhanh-server watch --indicator VM02 --children-of VN --period 2026-09
    ///          dieuhanh-server watch --report BC-HT:2026-10:VN --report BC-KTXH:2026-10:VN
    Watch {
        /// The server's live endpoint.
        #[arg(long, default_value = "ws://127.0.0.1:8080/live")]
        url: String,
        /// Token for the live push, if the server requires one.
        #[arg(long, env = "DIEUHANH_TOKEN")]
        token: Option<String>,
        /// Indicator codes (repeatable).
        #[arg(long = "indicator", required_unless_present = "reports")]
        indicators: Vec<String>,
        /// Unit codes (repeatable); VN for the nation.
        #[arg(long = "unit")]
        units: Vec<String>,
        /// Also every unit below this one (at --level).
        #[arg(long)]
        children_of: Option<String>,
        #[arg(long)]
        level: Option<String>,
        /// Periods (repeatable), e.g. 2026-09 or "Tháng 9/2026".
        #[arg(long = "period", required_unless_present = "reports")]
        periods: Vec<String>,
        /// A report to follow, REGIME:PERIOD:UNIT (repeatable), e.g. BC-HT:2026-10:VN: its
        /// approval state and its units below reported and approved.
        #[arg(long = "report")]
        reports: Vec<String>,
        /// Stop after this many snapshots, changes and report standings.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Steer every wall of a room at once, as a presenter: switch the scene, focus a province or
    /// commune, filter on a ministry, pick a period, or clear any of these (back to the whole
    /// country, every ministry, the latest period). Needs a presenter token when the server
    /// checks tokens. With nothing to change, says what the room shows now.
    ///
    /// Example: dieuhanh-server present --room phong-hop --scene dia-phuong --focus "Hồ Chí Minh"
    ///
    /// Example: dieuhanh-server present --room phong-hop --agency BTC --period "Tháng 9/2026"
    ///
    /// Example: dieuhanh-server present --room phong-hop --clear focus --clear agency
    Present {
        /// The server's live endpoint.
        #[arg(long, default_value = "ws://127.0.0.1:8080/live")]
        url: String,
        /// Presenter token, if the server requires one.
        #[arg(long, env = "DIEUHANH_TOKEN")]
        token: Option<String>,
        /// The walls' room (`room = ...` in their layout file).
        #[arg(long)]
        room: String,
        /// Scene name from the walls' layout.
        #[arg(long)]
        scene: Option<String>,
        /// Unit to focus: code (79) or name (Hồ Chí Minh).
        #[arg(long)]
        focus: Option<String>,
        /// Ministry to filter on: code (BTC) or name (Bộ Tài chính).
        #[arg(long)]
        agency: Option<String>,
        /// Period, e.g. 2026-09, 2026-Q3 or "Tháng 9/2026".
        #[arg(long)]
        period: Option<String>,
        /// A choice to undo (repeatable): scene, focus, agency or period.
        #[arg(long, value_enum)]
        clear: Vec<Clearable>,
    },
    /// Generate the seeded demo data set into a database, or as upload-ready CSV files.
    ///
    /// Example: dieuhanh-server demo-data --db demo.duckdb --seed 7
    DemoData {
        /// Database to fill (must hold no data yet).
        #[arg(long, required_unless_present = "csv_dir")]
        db: Option<PathBuf>,
        /// Write one CSV per reporting regime into this folder instead.
        #[arg(long)]
        csv_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First month, e.g. 2023-01.
        #[arg(long, default_value = "2023-01")]
        from: String,
        /// Last month; the last month that has ended by default.
        #[arg(long)]
        to: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let assets = cli
        .assets
        .clone()
        .unwrap_or_else(dieuhanh_server::assets_dir);
    let options = StoreOptions {
        memory_limit: cli.memory_limit.clone(),
        ..StoreOptions::default()
    };
    match cli.command {
        Command::Serve {
            db,
            demo,
            seed,
            listen,
            max_upload_mib,
            auth_file,
            echo,
        } => {
            let store = dieuhanh_server::open_store(&db, &assets, &options)
                .with_context(|| format!("opening {}", db.display()))?;
            if demo && dieuhanh_server::is_empty(&store)? {
                load_demo(&store, DemoOptions::default_until(today_in_vietnam(), seed))?;
            }
            let spool_dir = db
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".dieuhanh-spool");
            std::fs::create_dir_all(&spool_dir)
                .with_context(|| format!("creating {}", spool_dir.display()))?;
            let auth = match &auth_file {
                Some(path) => {
                    let auth = Auth::load(path)?;
                    check_grants(&auth, &store)
                        .with_context(|| format!("in {}", path.display()))?;
                    auth
                }
                None => {
                    tracing::warn!(
                        "no --auth file: /live and uploads are open to every client that can reach them"
                    );
                    Auth::open()
                }
            };
            let limits = Limits {
                max_upload_bytes: max_upload_mib << 20,
                spool_dir,
                ..Limits::default()
            };
            let live = LiveConfig {
                auth,
                echo,
                ..LiveConfig::default()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let state = AppState::new(store, limits, live);
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                tracing::info!(
                    address = %listener.local_addr()?,
                    db = %db.display(),
                    version = state.store.version(),
                    "dieuhanh-server listening; API under /api/, OpenAPI at /api/openapi.json"
                );
                dieuhanh_server::run(listener, state, shutdown_signal()).await?;
                tracing::info!("stopped");
                Ok(())
            })
        }
        Command::Import {
            db,
            files,
            format,
            locale,
            period,
            unit,
            sheet,
        } => {
            let store = dieuhanh_server::open_store(&db, &assets, &options)
                .with_context(|| format!("opening {}", db.display()))?;
            let locale = locale
                .as_deref()
                .map(|l| {
                    ingest::parse_locale(l).with_context(|| format!("locale {l:?} is not vi or en"))
                })
                .transpose()?;
            let mut failed = 0;
            for file in files {
                let format = match format.as_deref() {
                    Some(f) => Format::parse(f)
                        .with_context(|| format!("format {f:?} is not json, csv, xlsx or xls"))?,
                    None => Format::detect(None, file.to_str()).with_context(|| {
                        format!(
                            "cannot tell the format of {}; pass --format",
                            file.display()
                        )
                    })?,
                };
                let opts = UploadOptions {
                    format,
                    filename: file.file_name().map(|n| n.to_string_lossy().into_owned()),
                    locale,
                    period: period.clone(),
                    unit: unit.clone(),
                    sheet: sheet.clone(),
                    submitter: Some("import".into()),
                    scope: None,
                };
                let digest = file_digest(&file, &opts)?;
                let version = store.version();
                let cat = store.catalogue().clone();
                let h = store.hierarchy().clone();
                let serving = store.serving().clone();
                let ctx = ingest::Context {
                    cat: &cat,
                    h: &h,
                    version,
                    today: today_in_vietnam(),
                    serving: &serving,
                };
                let body = ingest::Body {
                    path: &file,
                    digest: &digest,
                };
                let db_path = store.path().to_owned();
                let out = store.write_blocking(|conn| {
                    let mut out = ingest::ingest(conn, ctx, &opts, body)?;
                    ingest::checkpoint(conn, &db_path, &mut out)?;
                    Ok::<_, ingest::IngestError>(out)
                })?;
                if let Some(ch) = &out.changes {
                    store.set_version(out.report.version);
                    tracing::info!(cells = ch.count, "re-aggregated");
                }
                println!("{}", serde_json::to_string_pretty(&out.report)?);
                if out.report.errors_total > 0 {
                    failed += 1;
                }
            }
            if failed > 0 {
                bail!("{failed} file(s) rejected; nothing of them was stored");
            }
            Ok(())
        }
        Command::Watch {
            url,
            token,
            indicators,
            units,
            children_of,
            level,
            periods,
            reports,
            count,
        } => {
            let reports = reports
                .iter()
                .map(|r| report_key(r).with_context(|| format!("--report {r}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let view = if indicators.is_empty() {
                None
            } else {
                let periods = periods
                    .iter()
                    .map(|p| Period::parse(p).with_context(|| format!("--period {p}")))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                if units.is_empty() && children_of.is_none() {
                    bail!("give --unit or --children-of");
                }
                Some(dieuhanh_protocol::live::View {
                    indicators,
                    units,
                    children_of,
                    level,
                    periods: dieuhanh_protocol::live::Periods::List(periods),
                    comparisons: false,
                    at: None,
                })
            };
            let (url, rt) = live_client(url, token)?;
            rt.block_on(dieuhanh_server::watch::watch(&url, view, reports, count))?;
            Ok(())
        }
        Command::Present {
            url,
            token,
            room,
            scene,
            focus,
            agency,
            period,
            clear,
        } => {
            let period = period
                .map(|p| Period::parse(&p).with_context(|| format!("--period {p}")))
                .transpose()?;
            let change = RoomState {
                scene,
                focus_unit: focus,
                agency,
                period,
            };
            let clear: Vec<RoomField> = clear.into_iter().map(RoomField::from).collect();
            let (url, rt) = live_client(url, token)?;
            let names = || dieuhanh_server::present::Names::load(&dieuhanh_server::assets_dir());
            // Nothing to change: say what the room shows now.
            if change == RoomState::default() && clear.is_empty() {
                let now = rt.block_on(dieuhanh_server::present::current(&url, &room))?;
                match now {
                    Some(p) => println!(
                        "{}",
                        dieuhanh_server::present::describe(&room, &p, &names())
                    ),
                    None => println!(
                        "Phòng {room}: chưa có lựa chọn nào của người điều khiển; các màn hình \
                         theo bố cục"
                    ),
                }
                return Ok(());
            }
            let done = rt.block_on(dieuhanh_server::present::present(
                &url, &room, change, clear,
            ))?;
            println!(
                "{}",
                dieuhanh_server::present::describe(&room, &done, &names())
            );
            Ok(())
        }
        Command::DemoData {
            db,
            csv_dir,
            seed,
            from,
            to,
        } => {
            let mut opts = DemoOptions::default_until(today_in_vietnam(), seed);
            opts.from = Period::parse(&from).context("--from")?;
            if let Some(to) = to {
                opts.to = Period::parse(&to).context("--to")?;
            }
            if !matches!(opts.from, Period::Month { .. })
                || !matches!(opts.to, Period::Month { .. })
            {
                bail!("--from and --to are months, e.g. 2023-01");
            }
            if let Some(dir) = csv_dir {
                let cat = dieuhanh_server::catalogue::Catalogue::load(
                    &assets.join("catalogue/catalogue.toml"),
                )?;
                let h = dieuhanh_server::hierarchy::Hierarchy::load(&assets)?;
                for (file, n) in demo::write_csv(&dir, &cat, &h, &opts)? {
                    println!("{file}: {n} values");
                }
                return Ok(());
            }
            let Some(db) = db else {
                bail!("give --db or --csv-dir");
            };
            let store = dieuhanh_server::open_store(&db, &assets, &options)
                .with_context(|| format!("opening {}", db.display()))?;
            if !dieuhanh_server::is_empty(&store)? {
                bail!(
                    "{} already holds data; the demo goes into an empty database",
                    db.display()
                );
            }
            load_demo(&store, opts)
        }
    }
}

fn load_demo(store: &dieuhanh_server::store::Store, opts: DemoOptions) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    tracing::info!(seed = opts.seed, from = %opts.from, to = %opts.to, "loading the demo data set");
    let cat = store.catalogue().clone();
    let h = store.hierarchy().clone();
    let (n, version) = store.write_blocking(|conn| demo::load(conn, &cat, &h, &opts))?;
    store.set_version(version);
    let changes = store.index_current()?;
    tracing::info!(cells = changes.count, "demo aggregated");
    tracing::info!(
        values = n,
        version,
        secs = started.elapsed().as_secs_f32(),
        "demo loaded"
    );
    Ok(())
}

fn file_digest(path: &std::path::Path, opts: &UploadOptions) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(
        format!(
            "{}|{:?}|{:?}|{:?}|{:?}\n",
            opts.format.as_str(),
            opts.locale.map(Locale::as_str),
            opts.period,
            opts.unit,
            opts.sheet
        )
        .as_bytes(),
    );
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// `BC-HT:2026-10:VN` as a report to follow (the period may be written "Tháng 10/2026").
fn report_key(text: &str) -> anyhow::Result<dieuhanh_protocol::live::ReportKey> {
    let mut parts = text.splitn(3, ':');
    let (Some(regime), Some(period), Some(unit)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("write it as REGIME:PERIOD:UNIT, e.g. BC-HT:2026-10:VN");
    };
    Ok(dieuhanh_protocol::live::ReportKey {
        regime: regime.trim().to_owned(),
        period: Period::parse(period.trim())?,
        unit: unit.trim().to_owned(),
    })
}

/// The live endpoint with its token, and a runtime for a command-line client of it.
fn live_client(
    url: String,
    token: Option<String>,
) -> anyhow::Result<(String, tokio::runtime::Runtime)> {
    let url = match token {
        Some(t) => format!("{url}?token={t}"),
        None => url,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((url, rt))
}

/// Every reporter's and approver's unit is in force and every ministry is in the catalogue: a
/// typo in the auth file is said at start, not when that token is first refused.
fn check_grants(auth: &Auth, store: &dieuhanh_server::store::Store) -> anyhow::Result<()> {
    let h = store.hierarchy();
    let cat = store.catalogue();
    for g in auth.grants() {
        if let Some(code) = &g.unit
            && h.by_code(dieuhanh_server::hierarchy::Era::Since2025, code)
                .is_none()
        {
            bail!(
                "token {:?}: unit {code:?} is not a unit in force; give the official code of a \
                 province (2 digits) or commune (5 digits) of today's structure",
                g.name
            );
        }
        for a in &g.agencies {
            if cat.agency(a).is_none() {
                bail!(
                    "token {:?}: {a:?} is not a ministry of the catalogue (GET /api/agencies \
                     lists them)",
                    g.name
                );
            }
        }
    }
    Ok(())
}
