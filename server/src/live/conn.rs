//! One `/live` connection. A reader task parses client messages into a small bounded channel;
//! the connection's state — the socket's sending half and the subscribed views — sits in a
//! [`ConnShared`] that the hub's fanout and the connection's own task both use.
//!
//! A change reaches an idle connection without waking its task: the fanout folds it into each
//! view's pending cells and writes each view's delta to the socket there and then, as a frame
//! made once for every connection on the view (a delta that another connection on the same view
//! already made, same versions, is sent as that frame, unmade). Anything else — a snapshot to send, a socket
//! that is full, a task busy with a client message — is left to the task, which the fanout
//! wakes: changes then queue in a small inbox (a connection further behind gets snapshots, never
//! a backlog), and the views' pending cells coalesce, so a slow client gets fewer, larger
//! deltas. A send that takes longer than the send timeout, or a client silent past the idle
//! timeout, is closed with a reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::SystemTime;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tracing::Instrument;

use dieuhanh_protocol::live::{
    Cell, ClientMessage, PROTOCOL_VERSION, ReportKey, ReportStanding, ServerMessage,
};
use dieuhanh_protocol::period::Period;

use crate::api::AppState;
use crate::ingest::today_in_vietnam;

use super::socket::{Encoded, Out, Pushed, Socket};
use super::view::{self, Known, ViewPlan};
use super::{Hub, LiveEvent, Metrics, Replay, Role, now_ms};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

enum Command {
    /// Boxed: the channel allocates room for 32 commands per connection up front.
    Message(Box<ClientMessage>),
    /// A message that could not be read, answered with an error (naming the message's `id`
    /// when it has one, so a wall knows which of its views the answer is about).
    Invalid(String, Option<String>),
    /// Close with a code and reason.
    Close(u16, String),
}

/// One subscribed view.
struct Sub {
    /// Shared with the connections that subscribed to the same view.
    plan: Arc<ViewPlan>,
    /// Version stamped on the last message sent for this view.
    sent: i64,
    /// Latest version folded in (into `pending`, or covered by `shared`).
    seen: i64,
    pending: HashMap<(u16, Period, u32), super::CellNow>,
    /// The delta from `sent` to `seen` as another connection on this view made it. Should a
    /// later event find no shared text, the events it covers are taken from the journal.
    shared: Option<Encoded>,
    /// Acceptance time of the oldest change waiting, for the lag metric.
    oldest: Option<SystemTime>,
    resync: Option<&'static str>,
}

/// What the hub's fanout and a connection's task share.
pub struct ConnShared {
    core: tokio::sync::Mutex<Core>,
    /// Changes that arrived while the task held `core`.
    inbox: std::sync::Mutex<Inbox>,
    /// Wakes the task: something in the inbox, or pending output the fanout could not write.
    wake: Notify,
}

#[derive(Default)]
struct Inbox {
    events: Vec<Arc<LiveEvent>>,
    /// More changes came than the inbox holds: the views resynchronise.
    lagged: bool,
}

impl ConnShared {
    /// Delivers a change from the hub's fanout: folded and written at once when the connection
    /// is idle and its socket takes it; otherwise queued (at most `capacity` changes) for the
    /// connection's task, which is woken.
    pub(super) fn deliver(
        &self,
        event: &Arc<LiveEvent>,
        capacity: usize,
        metrics: &Metrics,
    ) -> bool {
        if let Ok(mut core) = self.core.try_lock() {
            core.take_inbox(&self.inbox);
            core.fold(Ok(event.clone()));
            if core.try_flush() {
                return true;
            }
        } else if let Ok(mut inbox) = self.inbox.lock() {
            if inbox.events.len() >= capacity.max(1) {
                inbox.events.clear();
                // Counted here: the task may be stuck on the socket for a while yet.
                if !inbox.lagged {
                    metrics.lagged.fetch_add(1, Ordering::Relaxed);
                }
                inbox.lagged = true;
            } else {
                inbox.events.push(event.clone());
            }
        }
        self.wake.notify_one();
        false
    }
}

/// A connection's state: the sending half of its socket and its views.
struct Core {
    hub: Arc<Hub>,
    state: AppState,
    role: Role,
    sink: SplitSink<Socket, Message>,
    /// The socket's writes, for the fanout's frames (see [`super::socket`]).
    out: Arc<Out>,
    subs: HashMap<Arc<str>, Sub>,
    /// A room just joined, for the task to listen to.
    joined: Option<broadcast::Receiver<Arc<ServerMessage>>>,
    /// The room this connection follows.
    room: Option<String>,
    /// Bytes of a frame wait in [`Out`]'s queue: the task's flush writes them before more.
    unflushed: bool,
    /// The reports whose approval standing this connection follows, and the standings last
    /// sent.
    reports: Vec<ReportKey>,
    reports_sent: Option<Vec<ReportStanding>>,
}

/// Serves one upgraded connection until either side closes.
pub async fn serve(socket: Socket, out: Arc<Out>, hub: Arc<Hub>, state: AppState, role: Role) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("live", conn = id, ?role);
    async move {
        let m = &hub.metrics;
        m.connections.fetch_add(1, Ordering::Relaxed);
        m.connections_total.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("connected");
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel(32);
        let last_seen = Arc::new(AtomicI64::new(now_ms()));
        let reader = tokio::spawn(read_loop(stream, tx, last_seen.clone(), hub.clone()));
        let shared = Arc::new(ConnShared {
            core: tokio::sync::Mutex::new(Core {
                hub: hub.clone(),
                state,
                role,
                sink,
                out,
                subs: HashMap::new(),
                joined: None,
                room: None,
                unflushed: false,
                reports: Vec::new(),
                reports_sent: None,
            }),
            inbox: std::sync::Mutex::new(Inbox::default()),
            wake: Notify::new(),
        });
        hub.register(id, shared.clone());
        let reason = run(&shared, &hub, rx, last_seen).await;
        hub.unregister(id);
        let followed = std::mem::take(&mut shared.core.lock().await.reports);
        hub.reports.forget(&followed);
        tracing::debug!(%reason, "disconnected");
        reader.abort();
        hub.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    }
    .instrument(span)
    .await
}

async fn read_loop(
    mut stream: SplitStream<Socket>,
    tx: mpsc::Sender<Command>,
    last_seen: Arc<AtomicI64>,
    hub: Arc<Hub>,
) {
    let first_timeout = hub.config.first_message_timeout;
    let mut first = true;
    loop {
        let next = if first {
            match tokio::time::timeout(first_timeout, stream.next()).await {
                Ok(n) => n,
                Err(_) => {
                    let _ = tx
                        .send(Command::Close(
                            1008,
                            format!(
                                "no message within {} s of connecting; send a subscribe or join",
                                first_timeout.as_secs()
                            ),
                        ))
                        .await;
                    return;
                }
            }
        } else {
            stream.next().await
        };
        let Some(Ok(msg)) = next else {
            return;
        };
        last_seen.store(now_ms(), Ordering::Relaxed);
        let cmd = match msg {
            Message::Text(t) => {
                first = false;
                match serde_json::from_str::<ClientMessage>(t.as_str()) {
                    Ok(m) => Command::Message(Box::new(m)),
                    Err(e) => Command::Invalid(
                        format!(
                            "not a client message: {}; see PROTOCOL.md for subscribe, \
                             unsubscribe, join and control",
                            e.to_string().trim_end_matches('.')
                        ),
                        message_id(t.as_str()),
                    ),
                }
            }
            Message::Binary(_) => {
                Command::Invalid("send JSON text frames, not binary".into(), None)
            }
            // After a Close the library answers it and the stream ends.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => continue,
        };
        if tx.send(cmd).await.is_err() {
            return;
        }
    }
}

/// The `id` of a message that is JSON but not a valid client message, if it names one.
fn message_id(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
    {
        serde_json::Value::String(id) => Some(id.clone()),
        _ => None,
    }
}

/// Waits for the room's next message, or forever when no room is joined.
async fn room_next(
    room: &mut Option<broadcast::Receiver<Arc<ServerMessage>>>,
) -> Result<Arc<ServerMessage>, broadcast::error::RecvError> {
    match room {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What woke a connection's task.
enum Wake {
    Shutdown,
    Command(Option<Command>),
    Events,
    Room(Result<Arc<ServerMessage>, broadcast::error::RecvError>),
    /// The standing of some followed report moved.
    Reports,
    Ping,
}

/// The connection's task; returns why it ended.
async fn run(
    shared: &ConnShared,
    hub: &Arc<Hub>,
    mut rx: mpsc::Receiver<Command>,
    last_seen: Arc<AtomicI64>,
) -> String {
    let cfg = &hub.config;
    {
        let mut core = shared.core.lock().await;
        let welcome = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            version: core.state.store.serving().version(),
            server_time_ms: now_ms(),
            heartbeat_ms: cfg.heartbeat.as_millis() as u64,
        };
        if core.send(&welcome).await.is_err() {
            return "could not send the welcome".into();
        }
    }
    let mut ping = tokio::time::interval(cfg.heartbeat);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    // Made once: a new one per turn of the loop would re-register with the token each time.
    let shutdown = hub.cancel.cancelled();
    tokio::pin!(shutdown);
    let mut room: Option<broadcast::Receiver<Arc<ServerMessage>>> = None;
    let mut standings = hub.reports.watch();
    let mut following = false;
    loop {
        let wake = tokio::select! {
            biased;
            _ = &mut shutdown => Wake::Shutdown,
            cmd = rx.recv() => Wake::Command(cmd),
            _ = shared.wake.notified() => Wake::Events,
            msg = room_next(&mut room) => Wake::Room(msg),
            Ok(()) = standings.changed(), if following => Wake::Reports,
            _ = ping.tick() => Wake::Ping,
        };
        let mut core = shared.core.lock().await;
        core.take_inbox(&shared.inbox);
        match wake {
            Wake::Shutdown => {
                core.close(1001, "the server is shutting down").await;
                return "shutdown".into();
            }
            Wake::Command(None) => return "client closed".into(),
            Wake::Command(Some(Command::Close(code, reason))) => {
                if code == 1008 {
                    hub.metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                }
                core.close(code, &reason).await;
                return reason;
            }
            Wake::Command(Some(Command::Invalid(message, id))) => {
                let e = ServerMessage::Error {
                    code: "bad_message".into(),
                    message,
                    id,
                };
                if core.send(&e).await.is_err() {
                    return "send failed".into();
                }
            }
            Wake::Command(Some(Command::Message(m))) => {
                if let Err(reason) = core.handle(*m).await {
                    return reason;
                }
                if let Some(joined) = core.joined.take() {
                    room = Some(joined);
                }
                following = !core.reports.is_empty();
                if following && core.send_reports().await.is_err() {
                    return "send failed".into();
                }
            }
            Wake::Reports => {
                if core.send_reports().await.is_err() {
                    return "send failed".into();
                }
            }
            Wake::Events => {}
            Wake::Room(Ok(m)) => {
                if core.send(&m).await.is_err() {
                    return "send failed".into();
                }
            }
            // Only the latest control state matters: re-join for it.
            Wake::Room(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Wake::Room(Err(broadcast::error::RecvError::Closed)) => room = None,
            Wake::Ping => {
                let silent = now_ms() - last_seen.load(Ordering::Relaxed);
                if silent > cfg.idle_timeout.as_millis() as i64 {
                    hub.metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("no frame or pong for {} s", silent / 1000);
                    core.close(1001, &reason).await;
                    return reason;
                }
                if core.send_raw(Message::Ping(Bytes::new())).await.is_err() {
                    return "ping failed".into();
                }
            }
        }
        // Changes that came while this turn held the state, then everything pending.
        core.take_inbox(&shared.inbox);
        if let Err(reason) = core.flush().await {
            return reason;
        }
    }
}

/// A view's due delta — another connection's, or made here and shared — with the view marked
/// as sent up to it.
fn take_delta(
    hub: &Hub,
    state: &AppState,
    id: &Arc<str>,
    sub: &mut Sub,
) -> Result<Encoded, String> {
    let (from, to) = (sub.sent, sub.seen);
    let text = match sub.shared.take() {
        Some(text) => text,
        None => {
            let serving = state.store.serving();
            let cells: Vec<Cell> = sub
                .pending
                .drain()
                .map(|((n, p, u), (v, c))| Cell {
                    i: serving.code(n).to_owned(),
                    u: sub.plan.code(u).to_owned(),
                    p,
                    v,
                    c,
                })
                .collect();
            let msg = ServerMessage::Delta {
                id: id.to_string(),
                from_version: from,
                version: to,
                cells,
            };
            let text = Encoded::new(Utf8Bytes::from(
                serde_json::to_string(&msg).map_err(|e| format!("serialising: {e}"))?,
            ));
            hub.deltas.put(&sub.plan, id, from, to, text.clone());
            text
        }
    };
    sub.sent = to;
    Ok(text)
}

/// Writes `frame` through `out` (what the socket does not take is queued), first letting
/// tungstenite finish a frame it is midway through.
async fn put_frame(
    out: &Out,
    sink: &mut SplitSink<Socket, Message>,
    frame: &Bytes,
) -> std::io::Result<()> {
    for _ in 0..2 {
        match out.push(frame)? {
            Pushed::Written | Pushed::Queued => return Ok(()),
            Pushed::Refused => sink.flush().await.map_err(std::io::Error::other)?,
        }
    }
    Err(std::io::Error::other(
        "tungstenite stayed midway through a frame after a flush",
    ))
}

impl Core {
    /// Folds the changes queued while the task held the state.
    fn take_inbox(&mut self, inbox: &std::sync::Mutex<Inbox>) {
        let (events, lagged) = match inbox.lock() {
            Ok(mut i) if i.lagged || !i.events.is_empty() => {
                (std::mem::take(&mut i.events), std::mem::take(&mut i.lagged))
            }
            _ => return,
        };
        if lagged {
            self.fold(Err(broadcast::error::RecvError::Lagged(0)));
        }
        for e in events {
            self.fold(Ok(e));
        }
    }

    /// Folds one event (or a lag) into the views' pending changes — or, when another
    /// connection on the same view already made the delta up to this event, takes its text.
    fn fold(&mut self, got: Result<Arc<LiveEvent>, broadcast::error::RecvError>) {
        match got {
            Ok(e) => {
                for (id, sub) in &mut self.subs {
                    if e.version <= sub.seen {
                        continue;
                    }
                    if sub.oldest.is_none() {
                        sub.oldest = Some(e.accepted_at);
                    }
                    if sub.pending.is_empty() && sub.resync.is_none() {
                        match self.hub.deltas.lookup(&sub.plan, id, sub.sent, e.version) {
                            Known::Text(text) => {
                                sub.shared = Some(text);
                                sub.seen = e.version;
                                continue;
                            }
                            // A view the change misses (another connection found out):
                            // nothing to fold, nothing to send. Not past a shared text, whose
                            // versions are written in it.
                            Known::Untouched if sub.shared.is_none() => {
                                sub.seen = e.version;
                                continue;
                            }
                            Known::Untouched | Known::Nothing => {}
                        }
                    }
                    let mut complete = true;
                    if sub.shared.take().is_some() {
                        match self.hub.replay(sub.sent, sub.seen) {
                            Replay::Events(covered) => {
                                for earlier in &covered {
                                    complete &= view::touched(&sub.plan, earlier, &mut sub.pending);
                                }
                            }
                            Replay::TooOld => sub.resync = Some("lagged"),
                        }
                    }
                    let was_empty = sub.pending.is_empty();
                    let listed = view::touched(&sub.plan, &e, &mut sub.pending);
                    if was_empty && listed && sub.pending.is_empty() {
                        self.hub.deltas.mark_untouched(&sub.plan, e.version);
                    }
                    complete &= listed;
                    if !complete {
                        sub.resync = Some("large_change");
                    }
                    sub.seen = e.version;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                for sub in self.subs.values_mut() {
                    sub.resync = Some("lagged");
                }
            }
            Err(broadcast::error::RecvError::Closed) => {}
        }
    }

    /// The fanout's send: the views' due deltas are written to the socket now, each as the
    /// frame made once for every connection on the view. `false` leaves the rest (a snapshot,
    /// bytes the socket did not take, an error) to the task.
    fn try_flush(&mut self) -> bool {
        let Core {
            hub,
            state,
            out,
            subs,
            unflushed,
            ..
        } = self;
        // Bytes still queued from before: the task drains them first (it waits on the socket).
        if *unflushed {
            return false;
        }
        let mut oldest: Option<SystemTime> = None;
        let mut done = true;
        for (id, sub) in subs.iter_mut() {
            if sub.resync.is_some() {
                done = false;
                break;
            }
            if sub.shared.is_none() && sub.pending.is_empty() {
                continue;
            }
            let from = sub.sent;
            let Ok(delta) = take_delta(hub, state, id, sub) else {
                done = false;
                break;
            };
            // Queued, the frame is the connection's now: the task's flush drains the queue.
            match out.push(&delta.wire) {
                Ok(Pushed::Written) => {}
                Ok(Pushed::Queued) => *unflushed = true,
                Ok(Pushed::Refused) => {
                    // The task sends it once tungstenite's own frame is out.
                    sub.sent = from;
                    sub.shared = Some(delta);
                    done = false;
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "fanout write failed");
                    *unflushed = true;
                    done = false;
                    break;
                }
            }
            let m = &hub.metrics;
            m.bytes_sent
                .fetch_add(delta.text.len() as u64, Ordering::Relaxed);
            m.messages_sent.fetch_add(1, Ordering::Relaxed);
            m.deltas.fetch_add(1, Ordering::Relaxed);
            if let Some(at) = sub.oldest.take() {
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        if *unflushed {
            done = false;
        }
        if let Some(at) = oldest
            && !*unflushed
        {
            hub.record_lag(at);
        }
        done
    }

    /// Sends what the views have pending: a snapshot where one is due, else one delta — whose
    /// text the first connection on the same view and versions made, when there is one.
    async fn flush(&mut self) -> Result<(), String> {
        let due: Vec<Arc<str>> = self
            .subs
            .iter()
            .filter(|(_, s)| s.resync.is_some() || s.shared.is_some() || !s.pending.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        let mut oldest = None;
        for id in due {
            let Some(sub) = self.subs.get_mut(&id) else {
                continue;
            };
            if let Some(reason) = sub.resync.take() {
                sub.pending.clear();
                sub.shared = None;
                sub.oldest = None;
                self.hub.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
                self.snapshot(&id, reason).await?;
                continue;
            }
            let delta = take_delta(&self.hub, &self.state, &id, sub)?;
            if let Some(at) = sub.oldest.take() {
                oldest = Some(oldest.map_or(at, |o: SystemTime| o.min(at)));
            }
            self.feed(&delta)
                .await
                .map_err(|()| "send failed".to_string())?;
            self.unflushed = true;
            self.hub.metrics.deltas.fetch_add(1, Ordering::Relaxed);
        }
        if self.unflushed {
            self.flush_sink()
                .await
                .map_err(|()| "send failed".to_string())?;
            self.unflushed = false;
        }
        if let Some(at) = oldest {
            self.hub.record_lag(at);
        }
        Ok(())
    }

    async fn handle(&mut self, m: ClientMessage) -> Result<(), String> {
        match m {
            ClientMessage::Subscribe { id, view, since } => {
                let hub = self.hub.clone();
                let id: Arc<str> = id.into();
                if !self.subs.contains_key(&id) && self.subs.len() >= hub.config.max_views {
                    return self
                        .error(
                            "too_many_views",
                            format!(
                                "at most {} views per connection; unsubscribe some first",
                                hub.config.max_views
                            ),
                            Some(id.to_string()),
                        )
                        .await;
                }
                let store = &self.state.store;
                let today = today_in_vietnam();
                let plan = match hub.plans.get_or_resolve(&view, today, || {
                    view::plan(
                        &view,
                        store.catalogue(),
                        store.hierarchy(),
                        store.serving(),
                        today,
                    )
                }) {
                    Ok(p) => p,
                    Err(message) => {
                        return self.error("bad_view", message, Some(id.to_string())).await;
                    }
                };
                if plan.cells() > hub.config.max_view_cells {
                    return self
                        .error(
                            "view_too_large",
                            format!(
                                "the view covers {} cells, more than {}; split it or narrow its \
                                 periods or units",
                                plan.cells(),
                                hub.config.max_view_cells
                            ),
                            Some(id.to_string()),
                        )
                        .await;
                }
                let current = store.serving().version();
                let replay = since.map(|v| {
                    if v > current {
                        Replay::TooOld
                    } else {
                        hub.replay(v, current)
                    }
                });
                match (since, replay) {
                    (Some(v), Some(Replay::Events(list))) => {
                        let mut pending = HashMap::new();
                        let mut seen = v;
                        let mut complete = true;
                        for e in &list {
                            complete &= view::touched(&plan, e, &mut pending);
                            seen = seen.max(e.version);
                        }
                        self.subs.insert(
                            id.clone(),
                            Sub {
                                plan,
                                sent: v,
                                seen,
                                pending,
                                shared: None,
                                oldest: None,
                                resync: (!complete).then_some("large_change"),
                            },
                        );
                        // Resumed: a delta (possibly empty) confirms the version reached.
                        let sub = self.subs.get_mut(&id);
                        if let Some(sub) = sub
                            && sub.pending.is_empty()
                            && sub.resync.is_none()
                        {
                            let msg = ServerMessage::Delta {
                                id: id.to_string(),
                                from_version: v,
                                version: seen,
                                cells: Vec::new(),
                            };
                            sub.sent = seen;
                            self.send(&msg)
                                .await
                                .map_err(|()| "send failed".to_string())?;
                        }
                        self.flush().await
                    }
                    (since, _) => {
                        self.subs.insert(
                            id.clone(),
                            Sub {
                                plan,
                                sent: 0,
                                seen: 0,
                                pending: HashMap::new(),
                                shared: None,
                                oldest: None,
                                resync: None,
                            },
                        );
                        let reason = if since.is_some() {
                            "too_old"
                        } else {
                            "subscribe"
                        };
                        if since.is_some() {
                            hub.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
                        }
                        self.snapshot(&id, reason).await
                    }
                }
            }
            ClientMessage::Unsubscribe { id } => {
                self.subs.remove(id.as_str());
                Ok(())
            }
            ClientMessage::Join { room, scenes } => {
                let (current, rx) = self.hub.join(&room);
                if !scenes.is_empty() {
                    self.hub.set_scenes(&room, &scenes);
                }
                self.joined = Some(rx);
                self.room = Some(room);
                if let Some(msg) = current {
                    self.send(&msg)
                        .await
                        .map_err(|()| "send failed".to_string())?;
                }
                Ok(())
            }
            ClientMessage::Control {
                room,
                mut state,
                clear,
            } => {
                if self.role != Role::Presenter {
                    return self
                        .error(
                            "forbidden",
                            "only presenter tokens may change a room; this token is a wall's"
                                .into(),
                            None,
                        )
                        .await;
                }
                let store = &self.state.store;
                if let Err(message) = super::settle_control(
                    &mut state,
                    store.catalogue(),
                    store.hierarchy(),
                    today_in_vietnam(),
                ) {
                    return self.error("bad_control", message, None).await;
                }
                let version = store.serving().version();
                let msg = self.hub.control(&room, &state, &clear, version);
                // A presenter's remote that does not follow the room learns what it set.
                if self.room.as_deref() != Some(room.as_str()) {
                    self.send(&msg)
                        .await
                        .map_err(|()| "send failed".to_string())?;
                }
                Ok(())
            }
            ClientMessage::Reports { reports } => {
                if reports.len() > dieuhanh_protocol::live::MAX_REPORTS {
                    return self
                        .error(
                            "bad_reports",
                            format!(
                                "{} reports asked for; a connection follows at most {}",
                                reports.len(),
                                dieuhanh_protocol::live::MAX_REPORTS
                            ),
                            None,
                        )
                        .await;
                }
                let store = &self.state.store;
                if let Some(message) = reports.iter().find_map(|k| {
                    super::reports::check(store.catalogue(), store.hierarchy(), k).err()
                }) {
                    return self.error("bad_reports", message, None).await;
                }
                self.hub.reports.ask(&reports);
                let old = std::mem::replace(&mut self.reports, reports);
                self.hub.reports.forget(&old);
                self.reports_sent = None;
                Ok(())
            }
        }
    }

    /// Sends the standing of the reports followed, once all are known and when they changed
    /// since last sent.
    async fn send_reports(&mut self) -> Result<(), ()> {
        if self.reports.is_empty() {
            return Ok(());
        }
        let Some(list) = self.hub.reports.standings(&self.reports) else {
            return Ok(());
        };
        if self.reports_sent.as_ref() == Some(&list) {
            return Ok(());
        }
        let msg = ServerMessage::Reports {
            version: self.state.store.serving().version(),
            reports: list.clone(),
        };
        self.send(&msg).await?;
        self.reports_sent = Some(list);
        Ok(())
    }

    /// Sends a snapshot of view `id` at one consistent version.
    async fn snapshot(&mut self, id: &str, reason: &str) -> Result<(), String> {
        let Some(sub) = self.subs.get_mut(id) else {
            return Ok(());
        };
        let index = self.state.store.serving().clone();
        let (version, cells) = index.consistent(|| view::snapshot(&sub.plan, &index));
        sub.sent = version;
        sub.seen = sub.seen.max(version);
        let msg = ServerMessage::Snapshot {
            id: id.to_owned(),
            version,
            reason: reason.to_owned(),
            indicators: sub.plan.indicators.iter().map(|(_, i)| i.clone()).collect(),
            units: sub.plan.units.clone(),
            periods: sub.plan.periods.clone(),
            cells,
        };
        self.send(&msg)
            .await
            .map_err(|()| "send failed".to_string())?;
        self.hub.metrics.snapshots.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn error(
        &mut self,
        code: &str,
        message: String,
        id: Option<String>,
    ) -> Result<(), String> {
        let e = ServerMessage::Error {
            code: code.into(),
            message,
            id,
        };
        self.send(&e).await.map_err(|()| "send failed".to_string())
    }

    async fn send(&mut self, msg: &ServerMessage) -> Result<(), ()> {
        let text = serde_json::to_string(msg).map_err(|_| ())?;
        self.send_text(text.into()).await
    }

    /// Sends a text message as its own frame through [`Out`], past tungstenite, whose write
    /// buffer would otherwise keep the capacity of the largest message (a snapshot) for the
    /// connection's life; tungstenite writes only control frames.
    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), ()> {
        self.feed(&Encoded::new(text)).await?;
        self.flush_sink().await
    }

    async fn send_raw(&mut self, msg: Message) -> Result<(), ()> {
        let timeout = self.hub.config.send_timeout;
        let sent = tokio::time::timeout(timeout, self.sink.send(msg)).await;
        self.count_sent(sent)
    }

    /// Writes a message's frame, or queues what the socket does not take for the next flush.
    async fn feed(&mut self, message: &Encoded) -> Result<(), ()> {
        self.hub
            .metrics
            .bytes_sent
            .fetch_add(message.text.len() as u64, Ordering::Relaxed);
        let timeout = self.hub.config.send_timeout;
        let fed =
            tokio::time::timeout(timeout, put_frame(&self.out, &mut self.sink, &message.wire))
                .await;
        self.count_sent(fed)
    }

    async fn flush_sink(&mut self) -> Result<(), ()> {
        let timeout = self.hub.config.send_timeout;
        match tokio::time::timeout(timeout, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(()),
            Err(_) => {
                self.too_slow();
                Err(())
            }
        }
    }

    fn count_sent<E>(
        &self,
        done: Result<Result<(), E>, tokio::time::error::Elapsed>,
    ) -> Result<(), ()> {
        match done {
            Ok(Ok(())) => {
                self.hub
                    .metrics
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(_)) => Err(()),
            Err(_) => {
                self.too_slow();
                Err(())
            }
        }
    }

    fn too_slow(&self) {
        // The client does not read: closing keeps the server's memory flat.
        self.hub.metrics.slow_closed.fetch_add(1, Ordering::Relaxed);
        let secs = self.hub.config.send_timeout.as_secs();
        tracing::info!(secs, "client too slow, closing");
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.chars().take(120).collect::<String>().into(),
        };
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}
