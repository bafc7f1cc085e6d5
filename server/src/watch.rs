//! `dieuhanh-server watch`: a technician's view of a live feed — subscribes to one view on a
//! running server and prints the snapshot and every delta as it arrives, with versions, in
//! Vietnamese number format; reconnects and resumes from the last version if the link drops.
//! It may also follow reports' approval standing, as a wall's reports panel does, naming who has
//! just approved.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use dieuhanh_protocol::live::{
    Cell, ClientMessage, ReportKey, ReportStanding, ServerMessage, View, without_token,
};
use dieuhanh_protocol::number::format_vi_auto;

use crate::hierarchy::Level;

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

/// "BC-HT Tháng 10/2026 VN: chờ duyệt; cấp dưới 34 tỉnh: 33 đã báo cáo, 20 đã duyệt".
fn standing_line(s: &ReportStanding) -> String {
    let k = &s.key;
    let mut out = format!(
        "{} {} {}: {}",
        k.regime,
        k.period.label_vi(),
        k.unit,
        s.state.label_vi()
    );
    if let Some(level) = &s.below_level {
        let noun = Level::parse(level).map_or(level.as_str(), |l| l.noun_vi());
        out.push_str(&format!(
            "; cấp dưới {} {noun}: {} đã báo cáo, {} đã duyệt",
            s.below, s.below_reported, s.below_approved
        ));
    }
    out
}

/// Watches `view` (and follows `reports`) on `url` (ws://host:port/live?token=…) until
/// interrupted; `max_messages` stops after that many snapshots, deltas and report standings
/// (for scripts).
pub async fn watch(
    url: &str,
    view: Option<View>,
    reports: Vec<ReportKey>,
    max_messages: Option<usize>,
) -> Result<(), WatchError> {
    let mut version: Option<i64> = None;
    let mut seen = 0usize;
    let mut connected = false;
    // Each report's last standing, across reconnections: the next one names who approved
    // since (or whose approval a correction left behind).
    let mut standings: HashMap<ReportKey, ReportStanding> = HashMap::new();
    let mut names = None;
    loop {
        let (mut ws, _) = match tokio_tungstenite::connect_async(url).await {
            Ok(ok) => ok,
            Err(e) if !connected => {
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
        connected = true;
        let mut asks = Vec::new();
        if let Some(view) = &view {
            asks.push(ClientMessage::Subscribe {
                id: "watch".into(),
                view: view.clone(),
                since: version,
            });
        }
        if !reports.is_empty() {
            asks.push(ClientMessage::Reports {
                reports: reports.clone(),
            });
        }
        let mut sent = true;
        for m in &asks {
            let text = serde_json::to_string(m).unwrap_or_default();
            sent &= ws.send(Message::text(text)).await.is_ok();
        }
        if !sent {
            continue;
        }
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
                ServerMessage::Reports {
                    version: v,
                    reports,
                } => {
                    println!("# duyệt báo cáo (v{v}):");
                    for s in reports {
                        println!("  {}", standing_line(&s));
                        if let Some(before) = standings.get(&s.key) {
                            let names = names.get_or_insert_with(|| {
                                crate::present::Names::load(&crate::assets_dir())
                            });
                            let (gained, lost) = s.approvals_since(before);
                            let gained: Vec<String> = gained
                                .iter()
                                .map(|a| {
                                    format!(
                                        "{} lúc {}",
                                        names.unit(&a.unit),
                                        crate::text::vietnam_time(a.at_ms, "%H:%M %d/%m/%Y")
                                    )
                                })
                                .collect();
                            let lost: Vec<String> = lost.iter().map(|c| names.unit(c)).collect();
                            if !gained.is_empty() {
                                println!("    mới duyệt: {}", gained.join(", "));
                            }
                            if !lost.is_empty() {
                                println!("    cần duyệt lại: {}", lost.join(", "));
                            }
                        }
                        standings.insert(s.key.clone(), s);
                    }
                    seen += 1;
                }
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
