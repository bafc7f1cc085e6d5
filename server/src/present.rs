//! `dieuhanh-server present`: a presenter's remote for a room of walls. It switches the scene,
//! focuses a unit, filters on a ministry, picks a period, or clears any of them. It prints the
//! room's resulting state and the moment at which every wall of the room applies it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use dieuhanh_protocol::live::{ClientMessage, RoomField, RoomState, ServerMessage};

use crate::catalogue::Catalogue;
use crate::hierarchy::{Era, Hierarchy};

/// Why the room was not changed.
#[derive(Debug, thiserror::Error)]
pub enum PresentError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the server refused the change: {0}")]
    Refused(String),
    #[error(
        "the server did not confirm the change (it closed the connection, or said nothing \
         within {0:?}); check that --url is the live endpoint (ws://HOST:PORT/live)"
    )]
    NoAnswer(Duration),
}

/// What the room looks like after the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Presented {
    pub state: RoomState,
    /// Server time (ms since the epoch) at which every wall applies it.
    pub apply_at_ms: i64,
}

/// Sends one change of `room` to `url` (ws://host:port/live?token=… with a presenter token) and
/// waits for the server's answer.
pub async fn present(
    url: &str,
    room: &str,
    change: RoomState,
    clear: Vec<RoomField>,
) -> Result<Presented, PresentError> {
    let msg = ClientMessage::Control {
        room: room.to_owned(),
        state: change,
        clear,
    };
    let wait = Duration::from_secs(10);
    ask(url, room, &msg, wait)
        .await?
        .ok_or(PresentError::NoAnswer(wait))
}

/// What `room` shows now: the state a presenter last set, or `None` when none has (a room
/// with a state answers a join at once).
pub async fn current(url: &str, room: &str) -> Result<Option<Presented>, PresentError> {
    let msg = ClientMessage::Join {
        room: room.to_owned(),
        scenes: Vec::new(),
    };
    ask(url, room, &msg, Duration::from_secs(2)).await
}

/// Sends `msg` and waits up to `wait` for `room`'s state; `None` if the server closed the
/// connection or said nothing by then.
async fn ask(
    url: &str,
    room: &str,
    msg: &ClientMessage,
    wait: Duration,
) -> Result<Option<Presented>, PresentError> {
    let connect = |e: &dyn std::fmt::Display| PresentError::Connect {
        url: dieuhanh_protocol::live::without_token(url),
        message: e.to_string(),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| connect(&e))?;
    let text = serde_json::to_string(msg).map_err(|e| connect(&e))?;
    ws.send(Message::text(text))
        .await
        .map_err(|e| connect(&e))?;
    let answer = tokio::time::timeout(wait, async {
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            match serde_json::from_str::<ServerMessage>(t.as_str()) {
                Ok(ServerMessage::Control {
                    room: r,
                    state,
                    apply_at_ms,
                    ..
                }) if r == room => return Ok(Some(Presented { state, apply_at_ms })),
                Ok(ServerMessage::Error { message, .. }) => {
                    return Err(PresentError::Refused(message));
                }
                _ => {}
            }
        }
        Ok(None)
    })
    .await
    .unwrap_or(Ok(None));
    let _ = ws.close(None).await;
    answer
}

/// What a presenter reads instead of codes: the names of units (today's structure) and
/// ministries, from the assets the server serves.
pub struct Names {
    pub hierarchy: Option<Arc<Hierarchy>>,
    pub catalogue: Option<Arc<Catalogue>>,
}

impl Names {
    /// From the assets folder; a part that cannot be read leaves its codes as they are (the
    /// change itself went through the server, which checked them).
    pub fn load(assets: &Path) -> Names {
        let hierarchy = Hierarchy::load(assets)
            .inspect_err(|e| tracing::warn!(error = %e, "unit names unavailable"))
            .ok()
            .map(Arc::new);
        let catalogue = Catalogue::load(&assets.join("catalogue/catalogue.toml"))
            .inspect_err(|e| tracing::warn!(error = %e, "ministry names unavailable"))
            .ok()
            .map(Arc::new);
        Names {
            hierarchy,
            catalogue,
        }
    }

    /// "Thành phố Hồ Chí Minh (79)", or the code alone.
    pub fn unit(&self, code: &str) -> String {
        self.hierarchy
            .as_ref()
            .and_then(|h| h.by_code(Era::Since2025, code))
            .map_or_else(|| code.to_owned(), |u| format!("{} ({code})", u.full_name))
    }

    /// "Bộ Tài chính (BTC)", or the code alone.
    pub fn agency(&self, code: &str) -> String {
        self.catalogue
            .as_ref()
            .and_then(|c| c.agency(code))
            .map_or_else(|| code.to_owned(), |a| format!("{} ({code})", a.name))
    }
}

/// The room's state in a line of Vietnamese, for the presenter's terminal.
pub fn describe(room: &str, p: &Presented, names: &Names) -> String {
    let s = &p.state;
    let mut parts = vec![format!("Phòng {room}")];
    parts.push(format!(
        "cảnh: {}",
        s.scene.as_deref().unwrap_or("(theo bố cục)")
    ));
    parts.push(format!(
        "địa bàn: {}",
        s.focus_unit
            .as_deref()
            .map_or("toàn quốc".to_owned(), |u| names.unit(u))
    ));
    parts.push(format!(
        "bộ, ngành: {}",
        s.agency
            .as_deref()
            .map_or("tất cả".to_owned(), |a| names.agency(a))
    ));
    parts.push(format!(
        "kỳ: {}",
        s.period.map_or("mới nhất".to_owned(), |p| p.label_vi())
    ));
    let at = crate::text::vietnam_time(p.apply_at_ms, "%H:%M:%S%.3f");
    format!("{} · mọi màn hình áp dụng lúc {at}", parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_is_described_in_vietnamese_with_vietnam_time_and_names() {
        let mut p = Presented {
            state: RoomState {
                focus_unit: Some("79".into()),
                ..RoomState::default()
            },
            // 2026-11-30 03:04:05.678 UTC
            apply_at_ms: 1_796_007_845_678,
        };
        let names = Names::load(&crate::assets_dir());
        assert_eq!(
            describe("phong-hop", &p, &names),
            "Phòng phong-hop · cảnh: (theo bố cục) · địa bàn: Thành phố Hồ Chí Minh (79) · bộ, \
             ngành: tất cả · kỳ: mới nhất · mọi màn hình áp dụng lúc 10:04:05.678"
        );
        p.state.agency = Some("BTC".into());
        assert!(describe("phong-hop", &p, &names).contains("bộ, ngành: Bộ Tài chính (BTC)"));
        // Without the assets, the codes.
        let none = Names {
            hierarchy: None,
            catalogue: None,
        };
        assert!(describe("phong-hop", &p, &none).contains("địa bàn: 79 · bộ, ngành: BTC"));
    }
}
