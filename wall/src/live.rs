//! The wall's side of `/live` (tokio-tungstenite): subscribes every panel's view, hands each
//! message to the render loop, and when the connection drops reconnects with the version it last
//! applied per view, so the server sends exactly what was missed (or a fresh snapshot). Also the
//! one-shot fetch behind `render --server` and `snapshot`.

use std::collections::HashMap;
use std::time::Duration;

use dieuhanh_protocol::live::{
    ClientMessage, ReportKey, RoomField, RoomState, SceneInfo, ServerMessage, View, without_token,
};
use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::snapshot::SnapshotFile;

/// Why the live feed failed.
#[derive(Debug, Error)]
pub enum LiveError {
    /// The URL is not an http(s) or ws(s) URL.
    #[error("server URL {0:?} should look like http://host:port (or ws://host:port/live)")]
    Url(String),
    /// Connecting or reading failed.
    #[error("connecting to {url}: {message}")]
    Connect { url: String, message: String },
    /// The server refused a view.
    #[error("the server refused view {id}: {message}")]
    View { id: String, message: String },
    /// Snapshots did not all arrive in time.
    #[error("timed out after {0:?} waiting for the server's snapshots")]
    Timeout(Duration),
}

/// What the render loop receives.
#[derive(Debug, Clone)]
pub enum Event {
    Connected,
    Message(Box<ServerMessage>),
    Disconnected(String),
    /// A [`Command::SteerRoom`] could not be sent (no connection, or no room followed).
    NotSteered,
}

/// What the render loop asks of the feed.
#[derive(Debug, Clone)]
pub enum Command {
    /// The layout changed: these are now the views (unchanged ids keep their subscription).
    SetViews(Vec<(String, View)>),
    /// The layout changed: these are now its scenes (the room is joined again with them).
    SetScenes(Vec<SceneInfo>),
    /// These are now the reports whose approval standing the wall shows.
    SetReports(Vec<ReportKey>),
    /// A scene key pressed or a province touched on a wall that follows a room: the room is
    /// asked to set `state`'s fields and empty `clear`'s (its other fields kept), so every wall
    /// of the room changes at the moment the server stamps. The room's control answers it, or
    /// an error (a wall's token may not steer).
    SteerRoom {
        state: RoomState,
        clear: Vec<RoomField>,
    },
}

/// The room a wall follows, and its layout's scenes, named to the room's presenters.
#[derive(Debug, Clone)]
pub struct Joining {
    pub room: String,
    pub scenes: Vec<SceneInfo>,
}

impl Joining {
    fn message(&self) -> Message {
        wire(&ClientMessage::Join {
            room: self.room.clone(),
            scenes: self.scenes.clone(),
        })
    }
}

/// `http://h:p` → `ws://h:p/live?token=…`.
pub fn live_url(server: &str, token: Option<&str>) -> Result<String, LiveError> {
    let s = server.trim_end_matches('/');
    let base = if let Some(rest) = s.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = s.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if s.starts_with("ws://") || s.starts_with("wss://") {
        s.to_owned()
    } else {
        return Err(LiveError::Url(server.to_owned()));
    };
    let mut url = if base.contains("/live") {
        base
    } else {
        format!("{base}/live")
    };
    if let Some(t) = token {
        url.push_str(if url.contains('?') {
            "&token="
        } else {
            "?token="
        });
        url.push_str(t);
    }
    Ok(url)
}

/// A client message as the text frame that carries it.
fn wire(m: &ClientMessage) -> Message {
    Message::text(serde_json::to_string(m).unwrap_or_default())
}

fn follow(reports: &[ReportKey]) -> Message {
    wire(&ClientMessage::Reports {
        reports: reports.to_vec(),
    })
}

fn subscribe(id: &str, view: &View, since: Option<i64>) -> Message {
    wire(&ClientMessage::Subscribe {
        id: id.to_owned(),
        view: view.clone(),
        since,
    })
}

/// Runs the feed until `commands` closes: connects, subscribes, forwards every message through
/// `events` (calling `wake` after each so a sleeping render loop redraws), reconnects with resume.
/// The reports to follow come as a command ([`Command::SetReports`]) and are followed again on
/// each connection.
pub async fn run_feed(
    url: String,
    mut room: Option<Joining>,
    mut views: Vec<(String, View)>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: std::sync::mpsc::Sender<Event>,
    wake: impl Fn() + Send + 'static,
) {
    let mut versions: HashMap<String, i64> = HashMap::new();
    let mut reports: Vec<ReportKey> = Vec::new();
    let mut backoff = Duration::from_millis(250);
    loop {
        let ws = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                let _ = events.send(Event::Disconnected(e.to_string()));
                wake();
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot connect");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    c = commands.recv() => match c {
                        Some(Command::SetViews(v)) => views = v,
                        Some(Command::SetScenes(scenes)) => {
                            if let Some(room) = &mut room {
                                room.scenes = scenes;
                            }
                        }
                        Some(Command::SetReports(r)) => reports = r,
                        Some(Command::SteerRoom { .. }) => {
                            let _ = events.send(Event::NotSteered);
                            wake();
                        }
                        None => return,
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        tracing::info!(views = views.len(), "connected");
        let (mut tx, mut rx) = ws.split();
        let mut ok = true;
        if let Some(room) = &room {
            ok &= tx.send(room.message()).await.is_ok();
        }
        for (id, view) in &views {
            ok &= tx
                .send(subscribe(id, view, versions.get(id).copied()))
                .await
                .is_ok();
        }
        if !reports.is_empty() {
            ok &= tx.send(follow(&reports)).await.is_ok();
        }
        if ok {
            let _ = events.send(Event::Connected);
            wake();
        }
        let reason = loop {
            if !ok {
                break "send failed".to_string();
            }
            tokio::select! {
                msg = rx.next() => match msg {
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMessage>(&t) {
                        Ok(m) => {
                            match &m {
                                ServerMessage::Snapshot { id, version, .. }
                                | ServerMessage::Delta { id, version, .. } => {
                                    versions.insert(id.clone(), *version);
                                }
                                ServerMessage::Error { code, message, id } => {
                                    tracing::error!(%code, %message, id = ?id, "server error");
                                }
                                _ => {}
                            }
                            if events.send(Event::Message(Box::new(m))).is_err() {
                                return;
                            }
                            wake();
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable message ignored"),
                    },
                    Some(Ok(Message::Close(f))) => break format!("closed by the server: {f:?}"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e.to_string(),
                    None => break "connection ended".into(),
                },
                c = commands.recv() => match c {
                    Some(Command::SetViews(new)) => {
                        let old: HashMap<_, _> = views.iter().cloned().collect();
                        for (id, view) in &new {
                            if old.get(id) != Some(view) {
                                versions.remove(id);
                                ok &= tx.send(subscribe(id, view, None)).await.is_ok();
                            }
                        }
                        for id in old.keys() {
                            if !new.iter().any(|(n, _)| n == id) {
                                let m = ClientMessage::Unsubscribe { id: id.clone() };
                                ok &= tx.send(wire(&m)).await.is_ok();
                            }
                        }
                        views = new;
                    }
                    Some(Command::SetScenes(scenes)) => {
                        if let Some(room) = &mut room {
                            room.scenes = scenes;
                            ok &= tx.send(room.message()).await.is_ok();
                        }
                    }
                    Some(Command::SetReports(r)) => {
                        if r != reports {
                            ok &= tx.send(follow(&r)).await.is_ok();
                            reports = r;
                        }
                    }
                    Some(Command::SteerRoom { state, clear }) => match &room {
                        Some(room) => {
                            let m = ClientMessage::Control {
                                room: room.room.clone(),
                                state,
                                clear,
                            };
                            ok &= tx.send(wire(&m)).await.is_ok();
                        }
                        None => {
                            let _ = events.send(Event::NotSteered);
                            wake();
                        }
                    },
                    None => return,
                },
            }
        };
        tracing::warn!(%reason, "connection lost; reconnecting with resume");
        let _ = events.send(Event::Disconnected(reason));
        wake();
        tokio::time::sleep(backoff).await;
    }
}

/// Connects once, subscribes `views` (and follows `reports`), and returns every snapshot (and
/// the reports' standing) as a snapshot file.
pub async fn fetch(
    server: &str,
    token: Option<&str>,
    views: &[(String, View)],
    reports: &[ReportKey],
    timeout: Duration,
) -> Result<SnapshotFile, LiveError> {
    let url = live_url(server, token)?;
    let work = async {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| LiveError::Connect {
                url: without_token(&url),
                message: e.to_string(),
            })?;
        let (mut tx, mut rx) = ws.split();
        for (id, view) in views {
            tx.send(subscribe(id, view, None))
                .await
                .map_err(|e| LiveError::Connect {
                    url: without_token(&url),
                    message: e.to_string(),
                })?;
        }
        if !reports.is_empty() {
            tx.send(follow(reports))
                .await
                .map_err(|e| LiveError::Connect {
                    url: without_token(&url),
                    message: e.to_string(),
                })?;
        }
        let mut pending: std::collections::HashSet<&str> =
            views.iter().map(|(id, _)| id.as_str()).collect();
        let mut standings_due = !reports.is_empty();
        let mut messages = Vec::new();
        while !pending.is_empty() || standings_due {
            let Some(msg) = rx.next().await else {
                return Err(LiveError::Connect {
                    url: without_token(&url),
                    message: "connection ended before every snapshot arrived".into(),
                });
            };
            let msg = msg.map_err(|e| LiveError::Connect {
                url: without_token(&url),
                message: e.to_string(),
            })?;
            let Message::Text(t) = msg else { continue };
            let m = match serde_json::from_str::<ServerMessage>(&t) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, text = %t.chars().take(200).collect::<String>(), "unreadable message");
                    continue;
                }
            };
            match &m {
                ServerMessage::Snapshot { id, .. } => {
                    pending.remove(id.as_str());
                    messages.push(m);
                }
                ServerMessage::Reports { .. } => {
                    standings_due = false;
                    messages.push(m);
                }
                ServerMessage::Error {
                    id: Some(id),
                    message,
                    ..
                } => {
                    return Err(LiveError::View {
                        id: id.clone(),
                        message: message.clone(),
                    });
                }
                ServerMessage::Error { code, message, .. } if code == "bad_reports" => {
                    return Err(LiveError::View {
                        id: "reports".into(),
                        message: message.clone(),
                    });
                }
                // A server from before approval standings: the picture goes without them.
                ServerMessage::Error {
                    id: None, message, ..
                } if standings_due => {
                    tracing::warn!(%message, "the server does not say how reports are approved");
                    standings_due = false;
                }
                _ => {}
            }
        }
        let _ = tx.send(Message::Close(None)).await;
        Ok(SnapshotFile {
            taken_at_ms: now_ms(),
            source: server.to_owned(),
            messages,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| LiveError::Timeout(timeout))?
}

/// Milliseconds since 1970 (UTC).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_become_live_urls_with_the_token() {
        assert_eq!(
            live_url("http://127.0.0.1:8080/", Some("abc")).unwrap(),
            "ws://127.0.0.1:8080/live?token=abc"
        );
        assert_eq!(
            live_url("wss://wall.example/live", None).unwrap(),
            "wss://wall.example/live"
        );
        assert!(live_url("127.0.0.1:8080", None).is_err());
    }
}
