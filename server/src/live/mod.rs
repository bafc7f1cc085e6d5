//! Live push over WebSockets (`/live`): walls subscribe to views and get a snapshot, then
//! deltas for every accepted change that touches them — re-aggregated ancestors included —
//! each stamped with the global data version; rooms carry the presenter's control state; walls
//! may follow reports' approval standing.
//!
//! - `auth`: tokens and allowed origins, checked on the upgrade request.
//! - `view`: a view's units, periods and cells; snapshots and the intersection with a change.
//! - `conn`: one connection: bounded queues, coalescing, heartbeats, timeouts, resume.
//! - `reports`: the approval standing of the reports walls follow, computed once for all.
//!
//! The [`Hub`] keeps a bounded journal of recent changes (for resume) and the rooms, fans each
//! change event out to the connections — writing straight into the sockets of idle ones, see
//! `conn` — and counts what happens for `/api/metrics`.

pub mod auth;
pub mod conn;
pub mod reports;
pub mod socket;
pub mod view;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use dieuhanh_protocol::live::{RoomField, RoomState, SceneInfo, ServerMessage};
use dieuhanh_protocol::period::{CivilDate, Period};

use crate::api::AppState;
use crate::catalogue::Catalogue;
use crate::events::Events;
use crate::hierarchy::Hierarchy;
use crate::serving::ServingIndex;

pub use auth::{Auth, Grant, Role};

/// Limits and timings of the live push.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The server pings this often.
    pub heartbeat: Duration,
    /// A client silent (no frame, no pong) this long is closed.
    pub idle_timeout: Duration,
    /// A client must send its first message within this time.
    pub first_message_timeout: Duration,
    /// A message the client takes longer than this to accept closes the connection.
    pub send_timeout: Duration,
    pub max_message_bytes: usize,
    pub max_frame_bytes: usize,
    pub read_buffer_bytes: usize,
    pub write_buffer_bytes: usize,
    /// Bound of tungstenite's write buffer (unbounded by default).
    pub max_write_buffer_bytes: usize,
    /// Recent changes kept for clients that resume.
    pub journal_versions: usize,
    pub journal_cells: usize,
    /// Per connection.
    pub max_views: usize,
    pub max_view_cells: usize,
    /// Control changes apply this long after the server receives them, on every wall together.
    pub control_delay: Duration,
    /// Changes queued for a connection whose task is busy; one further behind resynchronises.
    pub inbox_capacity: usize,
    pub auth: Auth,
    /// Serve `/echo` with the same stack and limits (for WebSocket conformance tests).
    pub echo: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            heartbeat: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            first_message_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            // The largest messages the WebSocket conformance suite sends are 16 MiB; client
            // messages here are small, so this only bounds what a token holder can push.
            max_message_bytes: (16 << 20) + (64 << 10),
            max_frame_bytes: (16 << 20) + (64 << 10),
            // Client messages are small (a subscribe is a few hundred bytes) and tungstenite
            // grows the buffer for a larger one: each idle connection keeps only this much.
            read_buffer_bytes: 1 << 10,
            write_buffer_bytes: 8 << 10,
            // Holds one outgoing message at most (each send is flushed): the largest snapshot.
            max_write_buffer_bytes: 40 << 20,
            journal_versions: 1024,
            journal_cells: 1_000_000,
            max_views: dieuhanh_protocol::live::DEFAULT_MAX_VIEWS,
            max_view_cells: 200_000,
            control_delay: Duration::from_millis(250),
            inbox_capacity: 256,
            auth: Auth::open(),
            echo: false,
        }
    }
}

impl LiveConfig {
    /// tungstenite's settings for `/live` and `/echo` alike.
    pub fn websocket(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_bytes)
            .write_buffer_size(self.write_buffer_bytes)
            .max_write_buffer_size(self.max_write_buffer_bytes)
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_frame_bytes))
    }
}

/// Fewest connections worth a fanout task of their own.
const FANOUT_PART_MIN: usize = 128;

/// A served value as a change leaves it: the value (`None`: no longer served) and, for an
/// aggregated one, the reporting units behind it and expected.
pub type CellNow = (Option<f64>, Option<[u32; 2]>);

/// Changed values by (indicator number, period), each list sorted by unit.
pub type ChangesByKey = HashMap<(u16, Period), Vec<(u32, CellNow)>>;

/// A change as connections consume it: changed values by (indicator number, period), each
/// list sorted by unit, so a view intersects it in a few lookups.
#[derive(Debug)]
pub struct LiveEvent {
    pub version: i64,
    pub accepted_at: SystemTime,
    /// `None` when the change was too large to list: subscribers take snapshots.
    pub by_key: Option<ChangesByKey>,
    pub cells: usize,
}

impl LiveEvent {
    fn from_change(e: &crate::events::ChangeEvent, index: &ServingIndex) -> LiveEvent {
        let by_key = e.cells.as_ref().map(|cells| {
            let mut m = ChangesByKey::new();
            for c in cells.iter() {
                if let Some(n) = index.number(&c.indicator) {
                    m.entry((n, c.period))
                        .or_default()
                        .push((c.uid, (c.value, c.coverage)));
                }
            }
            for list in m.values_mut() {
                list.sort_unstable_by_key(|(u, _)| *u);
            }
            m
        });
        LiveEvent {
            version: e.version,
            accepted_at: e.accepted_at,
            by_key,
            cells: e.count,
        }
    }
}

/// Counters for `/api/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicI64,
    pub connections_total: AtomicU64,
    pub rejected_token: AtomicU64,
    pub rejected_origin: AtomicU64,
    pub messages_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub snapshots: AtomicU64,
    pub deltas: AtomicU64,
    pub resyncs: AtomicU64,
    pub lagged: AtomicU64,
    pub slow_closed: AtomicU64,
    pub idle_closed: AtomicU64,
    /// Delay between acceptance of an upload and the send of its delta, last and worst (ms).
    pub lag_last_ms: AtomicU64,
    pub lag_max_ms: AtomicU64,
    /// How long the last change took to go out to every connection (its fanout), the worst,
    /// and to how many connections the last one went (µs, µs, count).
    pub fanout_last_us: AtomicU64,
    pub fanout_max_us: AtomicU64,
    pub fanout_connections: AtomicU64,
}

#[derive(Debug)]
struct Room {
    state: RoomState,
    version: i64,
    apply_at_ms: i64,
    tx: broadcast::Sender<Arc<ServerMessage>>,
    /// The scenes the room's walls last named (walls of one room share a layout).
    scenes: Vec<SceneInfo>,
}

impl Room {
    fn new() -> Room {
        Room {
            state: RoomState::default(),
            version: 0,
            apply_at_ms: 0,
            tx: broadcast::channel(16).0,
            scenes: Vec::new(),
        }
    }

    /// A presenter has set something (a room only joined has no state to send).
    fn is_set(&self) -> bool {
        self.version > 0 || self.apply_at_ms > 0
    }
}

/// The most scenes a room keeps, and the longest name and title: a wall's layout has a
/// handful; a client cannot make the server hold more.
const MAX_SCENES: usize = 64;
const MAX_SCENE_TEXT: usize = 200;

/// Bounded record of recent changes, for resume.
#[derive(Debug, Default)]
struct Journal {
    events: VecDeque<Arc<LiveEvent>>,
    cells: usize,
}

/// What a resuming client gets.
pub enum Replay {
    /// The events after its version, in order.
    Events(Vec<Arc<LiveEvent>>),
    /// The journal does not reach back that far (or holds an unlisted change).
    TooOld,
}

/// Shared state of the live push.
pub struct Hub {
    pub config: LiveConfig,
    pub metrics: Metrics,
    /// The open connections, by number.
    conns: Mutex<HashMap<u64, Arc<conn::ConnShared>>>,
    /// Views and delta texts shared between connections.
    pub plans: view::Plans,
    pub deltas: view::Deltas,
    /// Version of the last event fanned out to the connections, and its waiters.
    forwarded: Mutex<i64>,
    forwarded_cv: std::sync::Condvar,
    journal: Mutex<Journal>,
    rooms: Mutex<HashMap<String, Room>>,
    /// The approval standing of the reports walls follow.
    pub reports: Arc<reports::Board>,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
}

/// Checks a presenter's change against the catalogue and the units in force `today`, and writes
/// the unit and the ministry by their codes (a presenter may type "Hồ Chí Minh" or "Bộ Tài
/// chính"): a wall focused on a unit that does not exist would show nothing.
pub fn settle_control(
    state: &mut RoomState,
    cat: &Catalogue,
    h: &Hierarchy,
    today: CivilDate,
) -> Result<(), String> {
    if let Some(u) = &state.focus_unit {
        let unit = crate::query::find_unit(h, u, today).map_err(|e| {
            format!(
                "focus_unit {u:?}: {e}; give the code (79) or the name (Hồ Chí Minh) of a unit in \
                 force today"
            )
        })?;
        state.focus_unit = Some(unit.code.clone());
    }
    if let Some(a) = &state.agency {
        let agency = cat.resolve_agency(a).ok_or_else(|| {
            let codes: Vec<&str> = cat.agencies.iter().map(|a| a.code.as_str()).collect();
            format!(
                "agency {a:?} is no ministry of the catalogue; give one of {}",
                codes.join(", ")
            )
        })?;
        state.agency = Some(agency.code.clone());
    }
    Ok(())
}

impl Hub {
    /// Starts forwarding `events` to live connections.
    pub fn start(config: LiveConfig, events: &Events, index: Arc<ServingIndex>) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            config,
            metrics: Metrics::default(),
            conns: Mutex::new(HashMap::new()),
            plans: view::Plans::default(),
            deltas: view::Deltas::default(),
            forwarded: Mutex::new(0),
            forwarded_cv: std::sync::Condvar::new(),
            journal: Mutex::new(Journal::default()),
            rooms: Mutex::new(HashMap::new()),
            reports: Arc::default(),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
        });
        let mut rx = events.subscribe();
        let h = hub.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = h.cancel.cancelled() => break,
                    got = rx.recv() => match got {
                        Ok(e) => {
                            let event = Arc::new(LiveEvent::from_change(&e, &index));
                            Hub::forward(&h, event).await
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            // Versions were skipped: the journal can no longer replay them.
                            tracing::warn!(skipped = n, "live hub fell behind the change events");
                            h.break_journal();
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            }
        });
        hub
    }

    /// Journals an event and delivers it to every connection, in version order (the next event
    /// waits for this one's fanout). The connections are split among the runtime's workers.
    async fn forward(hub: &Arc<Hub>, event: Arc<LiveEvent>) {
        if let Ok(mut j) = hub.journal.lock() {
            if event.by_key.is_none() {
                // A change too large to list cannot be replayed: resumes before it re-snapshot.
                j.events.clear();
                j.cells = 0;
            }
            j.cells += event.cells;
            j.events.push_back(event.clone());
            while j.events.len() > hub.config.journal_versions
                || (j.cells > hub.config.journal_cells && j.events.len() > 1)
            {
                if let Some(old) = j.events.pop_front() {
                    j.cells = j.cells.saturating_sub(old.cells);
                }
            }
        }
        let conns: Arc<Vec<Arc<conn::ConnShared>>> = Arc::new(match hub.conns.lock() {
            Ok(c) => c.values().cloned().collect(),
            Err(_) => Vec::new(),
        });
        let t0 = std::time::Instant::now();
        let waited = SystemTime::now()
            .duration_since(event.accepted_at)
            .unwrap_or_default();
        // Small fanouts, and a single-worker runtime, stay on this task.
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let parts = workers.min(conns.len() / FANOUT_PART_MIN).max(1);
        let handed = if parts == 1 {
            tokio::task::unconstrained(hub.deliver_part(&event, &conns, 0, 1)).await
        } else {
            let mut set = tokio::task::JoinSet::new();
            for part in 0..parts {
                let (hub, event, conns) = (hub.clone(), event.clone(), conns.clone());
                set.spawn(tokio::task::unconstrained(async move {
                    hub.deliver_part(&event, &conns, part, parts).await
                }));
            }
            let mut handed = 0;
            while let Some(n) = set.join_next().await {
                handed += n.unwrap_or(0);
            }
            handed
        };
        if let Ok(mut v) = hub.forwarded.lock() {
            *v = (*v).max(event.version);
            hub.forwarded_cv.notify_all();
        }
        let us = t0.elapsed().as_micros() as u64;
        let m = &hub.metrics;
        m.fanout_last_us.store(us, Ordering::Relaxed);
        m.fanout_max_us.fetch_max(us, Ordering::Relaxed);
        m.fanout_connections
            .store(conns.len() as u64, Ordering::Relaxed);
        tracing::debug!(
            version = event.version,
            connections = conns.len(),
            parts,
            left_to_tasks = handed,
            us,
            after_commit_us = waited.as_micros() as u64,
            "change fanned out"
        );
    }

    /// Delivers `event` to every `parts`-th connection from `part`; returns how many were left
    /// to their tasks. Run unconstrained: tokio's cooperative budget (128 I/O operations per
    /// turn) would make every write after the 128th report "not ready".
    async fn deliver_part(
        &self,
        event: &Arc<LiveEvent>,
        conns: &[Arc<conn::ConnShared>],
        part: usize,
        parts: usize,
    ) -> usize {
        let capacity = self.config.inbox_capacity;
        let mut handed = 0;
        for (i, c) in conns.iter().skip(part).step_by(parts).enumerate() {
            handed += usize::from(!c.deliver(event, capacity, &self.metrics));
            // Lets requests (and the tasks of busy connections) in during a large fanout.
            if i % 1024 == 1023 {
                tokio::task::yield_now().await;
            }
        }
        handed
    }

    fn register(&self, id: u64, conn: Arc<conn::ConnShared>) {
        if let Ok(mut c) = self.conns.lock() {
            c.insert(id, conn);
        }
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&id);
        }
    }

    /// Blocks (at most `limit`) while the change of `version` is being pushed: until the fanout
    /// has written it to every idle connection (busy or slow ones have it queued). For the
    /// upload's writer thread, so that its checkpoint — heavy, and not needed for durability —
    /// does not take the CPU from the push.
    pub fn wait_pushed_blocking(&self, version: i64, limit: Duration) {
        // Woken once, when it is done: no polling on the core the fanout runs on.
        if let Ok(v) = self.forwarded.lock() {
            let _ = self
                .forwarded_cv
                .wait_timeout_while(v, limit, |v| *v < version);
        }
    }

    fn break_journal(&self) {
        if let Ok(mut j) = self.journal.lock() {
            j.events.clear();
            j.cells = 0;
        }
    }

    /// The events after `since` up to `until`, if the journal holds all of them.
    pub fn replay(&self, since: i64, until: i64) -> Replay {
        if since >= until {
            return Replay::Events(Vec::new());
        }
        let Ok(j) = self.journal.lock() else {
            return Replay::TooOld;
        };
        let first = j.events.front().map(|e| e.version);
        match first {
            Some(f) if f <= since + 1 => Replay::Events(
                j.events
                    .iter()
                    .filter(|e| e.version > since && e.version <= until)
                    .cloned()
                    .collect(),
            ),
            _ => Replay::TooOld,
        }
    }

    /// Joins a room: its current control message (if any) and a receiver of the next ones.
    pub fn join(
        &self,
        room: &str,
    ) -> (
        Option<Arc<ServerMessage>>,
        broadcast::Receiver<Arc<ServerMessage>>,
    ) {
        let Ok(mut rooms) = self.rooms.lock() else {
            let (_, rx) = broadcast::channel(1);
            return (None, rx);
        };
        let r = rooms.entry(room.to_owned()).or_insert_with(Room::new);
        let current = r.is_set().then(|| {
            Arc::new(ServerMessage::Control {
                room: room.to_owned(),
                version: r.version,
                apply_at_ms: r.apply_at_ms,
                state: r.state.clone(),
            })
        });
        (current, r.tx.subscribe())
    }

    /// The rooms walls have joined or presenters have steered, by name.
    pub fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rooms
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Keeps the scenes a wall of `room` named (bounded), replacing those named before.
    pub fn set_scenes(&self, room: &str, scenes: &[SceneInfo]) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        let r = rooms.entry(room.to_owned()).or_insert_with(Room::new);
        r.scenes = scenes
            .iter()
            .filter(|s| s.name.len() <= MAX_SCENE_TEXT && s.title.len() <= MAX_SCENE_TEXT)
            .take(MAX_SCENES)
            .cloned()
            .collect();
    }

    /// The scenes `room`'s walls named.
    pub fn room_scenes(&self, room: &str) -> Vec<SceneInfo> {
        self.rooms
            .lock()
            .ok()
            .and_then(|r| r.get(room).map(|r| r.scenes.clone()))
            .unwrap_or_default()
    }

    /// A room's state and when the walls apply it, when a presenter has set anything.
    pub fn room_state(&self, room: &str) -> Option<(RoomState, i64)> {
        let rooms = self.rooms.lock().ok()?;
        let r = rooms.get(room)?;
        r.is_set().then(|| (r.state.clone(), r.apply_at_ms))
    }

    /// Applies a presenter's change to a room (`clear` first, then what `change` sets) and
    /// broadcasts the room's whole state to every wall in it.
    pub fn control(
        &self,
        room: &str,
        change: &RoomState,
        clear: &[RoomField],
        data_version: i64,
    ) -> Arc<ServerMessage> {
        let apply_at_ms = now_ms() + self.config.control_delay.as_millis() as i64;
        let Ok(mut rooms) = self.rooms.lock() else {
            return Arc::new(ServerMessage::Error {
                code: "internal".into(),
                message: "rooms unavailable".into(),
                id: None,
            });
        };
        let r = rooms.entry(room.to_owned()).or_insert_with(Room::new);
        r.state.clear(clear);
        r.state.merge(change);
        r.version = data_version;
        r.apply_at_ms = apply_at_ms;
        let msg = Arc::new(ServerMessage::Control {
            room: room.to_owned(),
            version: data_version,
            apply_at_ms,
            state: r.state.clone(),
        });
        let _ = r.tx.send(msg.clone());
        msg
    }

    /// Asks every connection to close (with a Close frame) and waits up to `timeout`.
    pub async fn shutdown(&self, timeout: Duration) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(timeout, self.tracker.wait()).await;
    }

    pub fn record_lag(&self, accepted_at: SystemTime) {
        let ms = SystemTime::now()
            .duration_since(accepted_at)
            .map_or(0, |d| d.as_millis() as u64);
        self.metrics.lag_last_ms.store(ms, Ordering::Relaxed);
        self.metrics.lag_max_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

/// Milliseconds since 1970 (UTC).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    token: Option<String>,
}

/// `GET /live`: checks the origin and token, then upgrades.
pub async fn live(
    State(state): State<AppState>,
    Query(q): Query<LiveQuery>,
    headers: HeaderMap,
    ws: socket::WsUpgrade,
) -> Response {
    let hub = state.live.clone();
    let role = match hub.config.auth.check(&headers, q.token.as_deref()) {
        Ok(grant) => grant.role,
        Err(rejection) => {
            match rejection.status.as_u16() {
                403 => hub.metrics.rejected_origin.fetch_add(1, Ordering::Relaxed),
                _ => hub.metrics.rejected_token.fetch_add(1, Ordering::Relaxed),
            };
            tracing::info!(reason = %rejection.message, "live connection refused");
            return rejection.into_response();
        }
    };
    let config = hub.config.websocket();
    let tracker = hub.tracker.clone();
    ws.on_upgrade(config, move |socket, out| {
        tracker.track_future(conn::serve(socket, out, hub, state, role))
    })
}

/// `GET /echo` (only with `LiveConfig::echo`): echoes every message, with `/live`'s stack and
/// limits, so WebSocket conformance suites can exercise them.
pub async fn echo(State(state): State<AppState>, ws: socket::WsUpgrade) -> Response {
    ws.on_upgrade(state.live.config.websocket(), |mut socket, _| async move {
        while let Some(Ok(msg)) = socket.next().await {
            let reply = match msg {
                Message::Text(t) => Message::Text(t),
                Message::Binary(b) => Message::Binary(b),
                // Keep reading: the library answers the close, and the stream then ends.
                Message::Close(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {
                    continue;
                }
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}

/// The live push's counters.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricsOut {
    pub version: i64,
    pub connections: i64,
    pub connections_total: u64,
    pub rejected_token: u64,
    pub rejected_origin: u64,
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub snapshots: u64,
    pub deltas: u64,
    /// Snapshots sent instead of deltas (client too far behind, or a change too large).
    pub resyncs: u64,
    pub lagged: u64,
    pub slow_closed: u64,
    pub idle_closed: u64,
    pub lag_last_ms: u64,
    pub lag_max_ms: u64,
    /// The last change's fanout to every connection, the worst, and its connections.
    pub fanout_last_us: u64,
    pub fanout_max_us: u64,
    pub fanout_connections: u64,
}

/// Counters of the live push.
#[utoipa::path(get, path = "/api/metrics", tag = "meta",
    responses((status = 200, body = MetricsOut)))]
pub async fn metrics(State(state): State<AppState>) -> Json<MetricsOut> {
    let m = &state.live.metrics;
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Json(MetricsOut {
        version: state.store.version(),
        connections: m.connections.load(Ordering::Relaxed),
        connections_total: l(&m.connections_total),
        rejected_token: l(&m.rejected_token),
        rejected_origin: l(&m.rejected_origin),
        messages_sent: l(&m.messages_sent),
        bytes_sent: l(&m.bytes_sent),
        snapshots: l(&m.snapshots),
        deltas: l(&m.deltas),
        resyncs: l(&m.resyncs),
        lagged: l(&m.lagged),
        slow_closed: l(&m.slow_closed),
        idle_closed: l(&m.idle_closed),
        lag_last_ms: l(&m.lag_last_ms),
        lag_max_ms: l(&m.lag_max_ms),
        fanout_last_us: l(&m.fanout_last_us),
        fanout_max_us: l(&m.fanout_max_us),
        fanout_connections: l(&m.fanout_connections),
    })
}
