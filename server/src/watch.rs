//! `dieuhanh-server watch`: a technician's view of a live feed — subscribes to one view on a
//! running server and prints the snapshot and every delta as it arrives, with versions, in
//! Vietnamese number format; reconnects and resumes from the last version if the link drops.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use dieuhanh_protocol::live::{Cell, ClientMessage, ServerMessage, View, without_token};
use dieuhanh_protocol::number::format_vi_auto;

/// Why watching stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the server refused the view: {0}")]
    Refused(String),
}

fn line(c: &Cell) -> String {
    format!(
        "{} {} {} = {}",
        c.i,
        c.u,
        c.p.label_vi(),
        c.v.map_or("(không còn)".to_owned(), format_vi_auto)
    )
}

/// Watches `view` on `url` (ws://host:port/live?token=…) until interrupted; `max_messages`
/// stops after that many snapshots and deltas (for scripts).
pub async fn watch(url: &str, view: View, max_messages: Option<usize>) -> Result<(), WatchError> {
    let mut version: Option<i64> = None;
    let mut seen = 0usize;
    loop {
        let (mut ws, _) = match tokio_tungstenite::connect_async(url).await {
            Ok(ok) => ok,
            Err(e) if version.is_none() => {
                return Err(WatchError::Connect {
                    url: without_token(url),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                eprintln!("mất kết nối ({e}); thử lại sau 2 giây");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let sub = ClientMessage::Subscribe {
            id: "watch".into(),
            view: view.clone(),
            since: version,
        };
        let text = serde_json::to_string(&sub).unwrap_or_default();
        if ws.send(Message::text(text)).await.is_err() {
            continue;
        }
        let mut names = None;
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            let Ok(m) = serde_json::from_str::<ServerMessage>(t.as_str()) else {
                continue;
            };
            match m {
                ServerMessage::Welcome { version: v, .. } => {
                    println!("# đã kết nối, phiên bản dữ liệu {v}");
                }
                ServerMessage::Snapshot {
                    version: v,
                    reason,
                    cells,
                    ..
                } => {
                    println!("# ảnh chụp v{v} ({reason}): {} giá trị", cells.len());
                    for c in &cells {
                        println!("  {}", line(c));
                    }
                    version = Some(v);
                    seen += 1;
                }
                ServerMessage::Delta {
                    from_version,
                    version: v,
                    cells,
                    ..
                } => {
                    println!("# thay đổi v{from_version} → v{v}: {} giá trị", cells.len());
                    for c in &cells {
                        println!("  {}", line(c));
                    }
                    version = Some(v);
                    seen += 1;
                }
                ServerMessage::Control {
                    room,
                    state,
                    apply_at_ms,
                    ..
                } => {
                    let p = crate::present::Presented { state, apply_at_ms };
                    // Read once, at the first room message: a data feed never needs them.
                    let names = names
                        .get_or_insert_with(|| crate::present::Names::load(&crate::assets_dir()));
                    println!("# {}", crate::present::describe(&room, &p, names));
                }
                ServerMessage::Error { message, .. } => return Err(WatchError::Refused(message)),
                // Asked for by walls, never by this command.
                ServerMessage::Reports { .. } => {}
            }
            if max_messages.is_some_and(|n| seen >= n) {
                let _ = ws.close(None).await;
                return Ok(());
            }
        }
        eprintln!(
            "mất kết nối; nối lại và tiếp tục từ v{}",
            version.unwrap_or(0)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
