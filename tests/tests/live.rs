//! The live push over real WebSockets against a real server: snapshot then deltas (ancestors
//! included), resume without gap or duplicate, snapshots for clients too far behind, rejected
//! tokens and origins, room control for every wall at once, timeouts, a client that stops
//! reading while another keeps up and the server's memory stays bounded, and one that falls
//! further behind than its inbox and resynchronises.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

/// Tests of one file share a process: the one that measures the process's memory runs alone.
static MEMORY_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use dieuhanh_protocol::live::{ClientMessage, Periods, RoomField, RoomState, ServerMessage, View};
use dieuhanh_protocol::period::Period;
use dieuhanh_server::hierarchy::{Era, Level};
use dieuhanh_server::live::{Auth, LiveConfig, Role};
use dieuhanh_tests::{TestServer, open_store, server_bin};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Client {
    ws: Ws,
}

impl Client {
    async fn connect(server: &TestServer, token: Option<&str>) -> Client {
        let url = match token {
            Some(t) => format!("ws://{}/live?token={t}", server.addr),
            None => format!("ws://{}/live", server.addr),
        };
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut c = Client { ws };
        match c.next().await {
            ServerMessage::Welcome { protocol, .. } => assert_eq!(protocol, 1),
            other => panic!("expected welcome, got {other:?}"),
        }
        c
    }

    async fn send(&mut self, m: &ClientMessage) {
        let text = serde_json::to_string(m).unwrap();
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next protocol message (pings are answered by the library).
    async fn next(&mut self) -> ServerMessage {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("no message within 10 s")
                .expect("connection ended")
                .unwrap();
            match msg {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => continue,
            }
        }
    }

    async fn subscribe(&mut self, id: &str, view: View, since: Option<i64>) {
        self.send(&ClientMessage::Subscribe {
            id: id.into(),
            view,
            since,
        })
        .await;
    }
}

fn births_view(periods: Vec<Period>) -> View {
    View {
        indicators: vec!["XH02".into()],
        units: vec!["VN".into()],
        children_of: Some("79".into()),
        level: Some("commune".into()),
        periods: Periods::List(periods),
        comparisons: true,
        at: None,
    }
}

const AUG: Period = Period::Month {
    year: 2025,
    month: 8,
};

async fn upload(server: &TestServer, rows: &[(String, u32)]) -> i64 {
    let mut csv = String::from("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n");
    for (c, v) in rows {
        csv.push_str(&format!("{c};2025-08;XH02;{v}\n"));
    }
    let (status, r) = server.upload("", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{r}");
    r["version"].as_i64().unwrap()
}

fn value_of(cells: &[dieuhanh_protocol::live::Cell], unit: &str, p: Period) -> Option<f64> {
    cells
        .iter()
        .find(|c| c.u == unit && c.p == p && c.i == "XH02")
        .and_then(|c| c.v)
}

async fn server_with(live: LiveConfig) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;
    (dir, server)
}

#[tokio::test]
async fn snapshot_then_deltas_carry_the_commune_and_its_ancestors() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let c = server.communes("79");
    let v1 = upload(&server, &[(c[0].clone(), 10), (c[1].clone(), 20)]).await;

    let mut wall = Client::connect(&server, None).await;
    wall.subscribe("sinh", births_view(vec![AUG]), None).await;
    let (version, cells) = match wall.next().await {
        ServerMessage::Snapshot {
            version,
            cells,
            units,
            reason,
            ..
        } => {
            assert_eq!(reason, "subscribe");
            assert!(units.len() > 100, "the communes of HCM and the nation");
            (version, cells)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(version, v1);
    assert_eq!(value_of(&cells, "79", AUG), Some(30.0));
    assert_eq!(value_of(&cells, "VN", AUG), Some(30.0));

    let v2 = upload(&server, &[(c[0].clone(), 15)]).await;
    match wall.next().await {
        ServerMessage::Delta {
            from_version,
            version,
            cells,
            ..
        } => {
            assert_eq!((from_version, version), (v1, v2));
            assert_eq!(value_of(&cells, &c[0], AUG), Some(15.0));
            assert_eq!(
                value_of(&cells, "79", AUG),
                Some(35.0),
                "the province moved"
            );
            assert_eq!(value_of(&cells, "VN", AUG), Some(35.0), "and the nation");
            assert!(
                value_of(&cells, &c[1], AUG).is_none(),
                "unchanged cells are not sent"
            );
        }
        other => panic!("{other:?}"),
    }
    // A delta says how many units are behind a total, as a snapshot does: the same numbers.
    let coverage = |cells: &[dieuhanh_protocol::live::Cell], u: &str| {
        cells
            .iter()
            .find(|x| x.u == u && x.p == AUG)
            .and_then(|x| x.c)
    };
    let nation = coverage(&cells, "VN").expect("the nation's coverage in the snapshot");
    assert!(nation[1] > 3000 && nation[0] == 2, "{nation:?}");
    upload(&server, &[(c[2].clone(), 5)]).await;
    match wall.next().await {
        ServerMessage::Delta { cells, .. } => {
            assert_eq!(coverage(&cells, "VN"), Some([3, nation[1]]), "{cells:?}");
            assert_eq!(coverage(&cells, &c[2]), None, "a commune's own value");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reconnecting_with_its_version_gets_exactly_what_was_missed() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let c = server.communes("79");
    let v1 = upload(&server, &[(c[0].clone(), 1)]).await;
    let mut wall = Client::connect(&server, None).await;
    wall.subscribe("sinh", births_view(vec![AUG]), None).await;
    let ServerMessage::Snapshot { version, .. } = wall.next().await else {
        panic!("snapshot expected")
    };
    assert_eq!(version, v1);
    drop(wall);

    // Missed while away: three changes, one of them outside the view.
    upload(&server, &[(c[0].clone(), 2)]).await;
    let hn = server.communes("01");
    upload(&server, &[(hn[0].clone(), 7)]).await;
    let v4 = upload(&server, &[(c[1].clone(), 5)]).await;

    let mut wall = Client::connect(&server, None).await;
    wall.subscribe("sinh", births_view(vec![AUG]), Some(v1))
        .await;
    match wall.next().await {
        ServerMessage::Delta {
            from_version,
            version,
            cells,
            ..
        } => {
            assert_eq!(
                (from_version, version),
                (v1, v4),
                "one delta covering the gap"
            );
            assert_eq!(value_of(&cells, &c[0], AUG), Some(2.0));
            assert_eq!(value_of(&cells, &c[1], AUG), Some(5.0));
            assert_eq!(value_of(&cells, "79", AUG), Some(7.0));
            assert_eq!(
                value_of(&cells, "VN", AUG),
                Some(14.0),
                "Hà Nội's birth counts too"
            );
        }
        other => panic!("{other:?}"),
    }
    // And then live again, continuing from the version reached: no gap, no repeat.
    let v5 = upload(&server, &[(c[0].clone(), 3)]).await;
    match wall.next().await {
        ServerMessage::Delta {
            from_version,
            version,
            ..
        } => assert_eq!((from_version, version), (v4, v5)),
        other => panic!("{other:?}"),
    }
    // Resuming when nothing was missed: an empty delta confirms the version.
    let mut again = Client::connect(&server, None).await;
    again
        .subscribe("sinh", births_view(vec![AUG]), Some(v5))
        .await;
    match again.next().await {
        ServerMessage::Delta {
            from_version,
            version,
            cells,
            ..
        } => {
            assert_eq!((from_version, version), (v5, v5));
            assert!(cells.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

/// The next delta, as (from_version, version, cells).
async fn delta(wall: &mut Client) -> (i64, i64, Vec<dieuhanh_protocol::live::Cell>) {
    match wall.next().await {
        ServerMessage::Delta {
            from_version,
            version,
            cells,
            ..
        } => (from_version, version, cells),
        other => panic!("expected a delta, got {other:?}"),
    }
}

#[tokio::test]
async fn walls_on_one_view_share_its_deltas_and_one_behind_gets_its_own() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let c = server.communes("79");
    let v1 = upload(&server, &[(c[0].clone(), 1)]).await;
    let mut a = Client::connect(&server, None).await;
    let mut b = Client::connect(&server, None).await;
    let mut other_id = Client::connect(&server, None).await;
    for (w, id) in [
        (&mut a, "sinh"),
        (&mut b, "sinh"),
        (&mut other_id, "khai-sinh"),
    ] {
        w.subscribe(id, births_view(vec![AUG]), None).await;
        assert!(matches!(w.next().await, ServerMessage::Snapshot { .. }));
    }
    // Text made once, sent to both walls on the view; the other id gets its own.
    let v2 = upload(&server, &[(c[0].clone(), 2)]).await;
    let (da, db) = (delta(&mut a).await, delta(&mut b).await);
    assert_eq!(da, db);
    assert_eq!((da.0, da.1), (v1, v2));
    assert_eq!(value_of(&da.2, "VN", AUG), Some(2.0));
    match other_id.next().await {
        ServerMessage::Delta { id, cells, .. } => {
            assert_eq!(id, "khai-sinh");
            assert_eq!(value_of(&cells, "VN", AUG), Some(2.0));
        }
        other => panic!("{other:?}"),
    }

    // A wall that was away resumes with one delta over two versions, then shares again.
    drop(b);
    let v3 = upload(&server, &[(c[1].clone(), 5)]).await;
    let v4 = upload(&server, &[(c[0].clone(), 3)]).await;
    assert_eq!(delta(&mut a).await.1, v3);
    assert_eq!(delta(&mut a).await.1, v4);
    let mut b = Client::connect(&server, None).await;
    b.subscribe("sinh", births_view(vec![AUG]), Some(v2)).await;
    let (from, to, cells) = delta(&mut b).await;
    assert_eq!((from, to), (v2, v4));
    assert_eq!(value_of(&cells, &c[0], AUG), Some(3.0));
    assert_eq!(value_of(&cells, &c[1], AUG), Some(5.0));
    assert_eq!(value_of(&cells, "VN", AUG), Some(8.0));
    let v5 = upload(&server, &[(c[1].clone(), 6)]).await;
    let (da, db) = (delta(&mut a).await, delta(&mut b).await);
    assert_eq!(da, db);
    assert_eq!((da.0, da.1), (v4, v5));
    assert_eq!(value_of(&da.2, "VN", AUG), Some(9.0));
    assert!(value_of(&da.2, &c[0], AUG).is_none(), "only what changed");
    let (_, m) = server.get("/api/metrics").await;
    assert_eq!(m["resyncs"], 0, "{m}");
}

#[tokio::test]
async fn a_client_older_than_the_journal_gets_a_snapshot() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig {
        journal_versions: 2,
        ..LiveConfig::default()
    })
    .await;
    let c = server.communes("79");
    let v1 = upload(&server, &[(c[0].clone(), 1)]).await;
    for v in 2..6 {
        upload(&server, &[(c[0].clone(), v)]).await;
    }
    let mut wall = Client::connect(&server, None).await;
    wall.subscribe("sinh", births_view(vec![AUG]), Some(v1))
        .await;
    match wall.next().await {
        ServerMessage::Snapshot {
            reason,
            version,
            cells,
            ..
        } => {
            assert_eq!(reason, "too_old");
            assert_eq!(version, v1 + 4);
            assert_eq!(value_of(&cells, &c[0], AUG), Some(5.0));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tokens_and_origins_are_checked_on_the_upgrade_and_the_reason_is_given() {
    let _shared = MEMORY_GATE.read().await;
    let auth = Auth::with(
        &[
            ("tuong-1", "wall-token-0123456789", Role::Wall),
            ("dieu-phoi", "presenter-token-0123456789", Role::Presenter),
        ],
        &["https://tuong.dieuhanh.gov.vn"],
    );
    let (_d, server) = server_with(LiveConfig {
        auth,
        ..LiveConfig::default()
    })
    .await;
    let refused = |req| async {
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
                (resp.status().as_u16(), body)
            }
            other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
        }
    };
    let (status, body) = refused(
        format!("ws://{}/live", server.addr)
            .into_client_request()
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("token is required"), "{body}");
    let (status, body) = refused(
        format!("ws://{}/live?token=guess-guess-guess", server.addr)
            .into_client_request()
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("not valid"), "{body}");
    let mut req = format!("ws://{}/live?token=wall-token-0123456789", server.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let (status, body) = refused(req).await;
    assert_eq!(status, 403);
    assert!(body.contains("evil.example"), "{body}");
    let mut req = format!("ws://{}/live?token=wall-token-0123456789", server.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://tuong.dieuhanh.gov.vn".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    let (_, m) = server.get("/api/metrics").await;
    assert_eq!(m["rejected_token"], 2);
    assert_eq!(m["rejected_origin"], 1);
}

#[tokio::test]
async fn a_presenter_changes_every_wall_of_the_room_at_one_time() {
    let _shared = MEMORY_GATE.read().await;
    let auth = Auth::with(
        &[
            ("tuong-1", "wall-token-0123456789", Role::Wall),
            ("dieu-phoi", "presenter-token-0123456789", Role::Presenter),
        ],
        &[],
    );
    let (_d, server) = server_with(LiveConfig {
        auth,
        ..LiveConfig::default()
    })
    .await;
    let mut a = Client::connect(&server, Some("wall-token-0123456789")).await;
    let mut b = Client::connect(&server, Some("wall-token-0123456789")).await;
    for w in [&mut a, &mut b] {
        w.send(&ClientMessage::Join {
            room: "phong-hop".into(),
            scenes: Vec::new(),
        })
        .await;
    }
    // A wall's token cannot steer the room.
    a.send(&ClientMessage::Control {
        room: "phong-hop".into(),
        state: RoomState {
            scene: Some("x".into()),
            ..RoomState::default()
        },
        clear: vec![],
    })
    .await;
    match a.next().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, "forbidden"),
        other => panic!("{other:?}"),
    }
    let mut p = Client::connect(&server, Some("presenter-token-0123456789")).await;
    let before = dieuhanh_server::live::now_ms();
    p.send(&ClientMessage::Control {
        room: "phong-hop".into(),
        state: RoomState {
            scene: Some("tong-quan".into()),
            focus_unit: Some("79".into()),
            ..RoomState::default()
        },
        clear: vec![],
    })
    .await;
    let (ma, mb) = (a.next().await, b.next().await);
    assert_eq!(ma, mb, "every wall gets the same change, stamp and time");
    match ma {
        ServerMessage::Control {
            room,
            apply_at_ms,
            state,
            ..
        } => {
            assert_eq!(room, "phong-hop");
            assert!(apply_at_ms > before, "applied a moment later, together");
            assert_eq!(state.focus_unit.as_deref(), Some("79"));
        }
        other => panic!("{other:?}"),
    }
    // A wall joining later gets the current state at once.
    let mut late = Client::connect(&server, Some("wall-token-0123456789")).await;
    late.send(&ClientMessage::Join {
        room: "phong-hop".into(),
        scenes: Vec::new(),
    })
    .await;
    assert_eq!(late.next().await, mb);

    // Back to the whole country: the presenter clears the focus; every wall gets the room's
    // whole state without it, the scene kept.
    p.send(&ClientMessage::Control {
        room: "phong-hop".into(),
        state: RoomState::default(),
        clear: vec![RoomField::FocusUnit],
    })
    .await;
    for w in [&mut a, &mut b, &mut late] {
        match w.next().await {
            ServerMessage::Control { state, .. } => {
                assert_eq!(state.focus_unit, None, "the focus is cleared");
                assert_eq!(state.scene.as_deref(), Some("tong-quan"));
            }
            other => panic!("{other:?}"),
        }
    }
}

/// `dieuhanh-server watch`, as a technician runs it: the view's snapshot and each change, and
/// a report's approval standing with who has just approved, printed in Vietnamese as they
/// come; it stops after `--count`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_command_prints_a_view_and_a_reports_standing_as_they_change() {
    use std::io::BufRead;
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let hcm = server.communes("79");
    let ha_noi = server.communes("01");
    let v1 = upload(&server, &[(hcm[0].clone(), 1200)]).await;
    let mut child = std::process::Command::new(server_bin())
        .args(["watch", "--url", &format!("ws://{}/live", server.addr)])
        .args([
            "--indicator",
            "XH02",
            "--unit",
            "VN",
            "--period",
            "Tháng 8/2025",
        ])
        .args(["--report", "BC-HT:2025-08:VN", "--count", "5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut out = Vec::new();
    let read_until = |out: &mut Vec<String>, want: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !out.iter().any(|l| l.contains(want)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => out.push(l),
                Err(_) => panic!("no {want:?} in {out:#?}"),
            }
        }
    };
    tokio::task::block_in_place(|| {
        read_until(
            &mut out,
            "BC-HT Tháng 8/2025 VN: chờ duyệt; cấp dưới 34 tỉnh: 1 đã báo cáo",
        )
    });
    let v2 = upload(&server, &[(ha_noi[0].clone(), 34)]).await;
    tokio::task::block_in_place(|| read_until(&mut out, "cấp dưới 34 tỉnh: 2 đã báo cáo"));
    // Hồ Chí Minh City approves its report: the next standing names it.
    let r = server
        .client
        .post(server.url("/api/approvals"))
        .json(&serde_json::json!({"regime": "BC-HT", "unit": "79", "period": "2025-08"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    tokio::task::block_in_place(|| {
        read_until(&mut out, "    mới duyệt: Thành phố Hồ Chí Minh (79) lúc ")
    });
    // When, in Vietnam's time: today there.
    let today = dieuhanh_server::ingest::today_in_vietnam().to_string();
    assert!(
        out.iter().any(
            |l| l.contains("mới duyệt: Thành phố Hồ Chí Minh (79) lúc ") && l.ends_with(&today)
        ),
        "{today}: {out:#?}"
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    reader.join().unwrap();
    let text = out.join("\n");
    assert!(text.contains(&format!("# ảnh chụp v{v1}")), "{text}");
    assert!(text.contains("XH02 VN Tháng 8/2025 = 1.200"), "{text}");
    assert!(
        text.contains(&format!("# thay đổi v{v1} → v{v2}")),
        "{text}"
    );
    assert!(text.contains("XH02 VN Tháng 8/2025 = 1.234"), "{text}");
}

/// Runs `dieuhanh-server present` against `server` (off the runtime's thread, which serves it).
async fn present(server: &TestServer, token: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(server_bin());
    cmd.args(["present", "--url", &format!("ws://{}/live", server.addr)])
        .args(["--token", token, "--room", "phong-hop"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_presenter_steers_the_room_from_the_command_line_and_goes_back() {
    let _shared = MEMORY_GATE.read().await;
    let presenter = "presenter-token-0123456789";
    let auth = Auth::with(
        &[
            ("tuong-1", "wall-token-0123456789", Role::Wall),
            ("dieu-phoi", presenter, Role::Presenter),
        ],
        &[],
    );
    let (_d, server) = server_with(LiveConfig {
        auth,
        ..LiveConfig::default()
    })
    .await;
    let mut wall = Client::connect(&server, Some("wall-token-0123456789")).await;
    wall.send(&ClientMessage::Join {
        room: "phong-hop".into(),
        scenes: Vec::new(),
    })
    .await;

    // Asked what the room shows before anyone chose: the layout's own.
    let (ok, out, err) = present(&server, presenter, &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("chưa có lựa chọn nào"), "{out}");

    // Names as a presenter types them; the walls get codes.
    let (ok, out, err) = present(
        &server,
        presenter,
        &[
            "--scene",
            "tinh-thanh",
            "--focus",
            "Hồ Chí Minh",
            "--agency",
            "Bộ Tài chính",
            "--period",
            "Tháng 9/2026",
        ],
    )
    .await;
    assert!(ok, "{err}");
    for part in [
        "Phòng phong-hop",
        "cảnh: tinh-thanh",
        "địa bàn: Thành phố Hồ Chí Minh (79)",
        "bộ, ngành: Bộ Tài chính (BTC)",
        "kỳ: Tháng 9/2026",
        "mọi màn hình áp dụng lúc",
    ] {
        assert!(out.contains(part), "{part:?} in {out}");
    }
    match wall.next().await {
        ServerMessage::Control { state, .. } => assert_eq!(
            state,
            RoomState {
                scene: Some("tinh-thanh".into()),
                focus_unit: Some("79".into()),
                agency: Some("BTC".into()),
                period: Some(Period::parse("2026-09").unwrap()),
            }
        ),
        other => panic!("{other:?}"),
    }

    // Anyone in the room may ask what it shows now (a wall's token too).
    let (ok, out, err) = present(&server, "wall-token-0123456789", &[]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("địa bàn: Thành phố Hồ Chí Minh (79)") && out.contains("cảnh: tinh-thanh"),
        "{out}"
    );

    // Back to the whole country and every ministry; the scene and the period stay.
    let (ok, out, err) = present(
        &server,
        presenter,
        &["--clear", "focus", "--clear", "agency"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("địa bàn: toàn quốc"), "{out}");
    assert!(out.contains("bộ, ngành: tất cả"), "{out}");
    match wall.next().await {
        ServerMessage::Control { state, .. } => {
            assert_eq!(state.focus_unit, None);
            assert_eq!(state.agency, None);
            assert_eq!(state.scene.as_deref(), Some("tinh-thanh"));
            assert_eq!(state.period, Some(Period::parse("2026-09").unwrap()));
        }
        other => panic!("{other:?}"),
    }

    // A unit that does not exist is refused with what to give, and the room is unchanged.
    let (ok, _, err) = present(&server, presenter, &["--focus", "Atlantis"]).await;
    assert!(!ok);
    assert!(err.contains("focus_unit \"Atlantis\""), "{err}");
    assert!(err.contains("in force today"), "{err}");
    let (ok, _, err) = present(&server, presenter, &["--agency", "Bộ Vui chơi"]).await;
    assert!(!ok);
    assert!(err.contains("BTC"), "the ministries are listed: {err}");
    // A wall's token cannot steer.
    let (ok, _, err) = present(&server, "wall-token-0123456789", &["--scene", "x"]).await;
    assert!(!ok);
    assert!(err.contains("only presenter tokens"), "{err}");
    // Nothing of the refused changes reached the wall: its next message is the next real one.
    let (ok, _, err) = present(&server, presenter, &["--clear", "period"]).await;
    assert!(ok, "{err}");
    match wall.next().await {
        ServerMessage::Control { state, .. } => {
            assert_eq!(state.period, None);
            assert_eq!(state.focus_unit, None, "Atlantis never reached the room");
            assert_eq!(
                state.scene.as_deref(),
                Some("tinh-thanh"),
                "nor the wall's \"x\""
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_with_the_reason() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig {
        first_message_timeout: Duration::from_millis(300),
        ..LiveConfig::default()
    })
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/live", server.addr))
        .await
        .unwrap();
    let mut closed = None;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(f) = m {
            closed = f;
            break;
        }
    }
    let f = closed.expect("a close frame");
    assert_eq!(u16::from(f.code), 1008);
    assert!(f.reason.contains("no message within"), "{}", f.reason);
}

#[tokio::test]
async fn bad_views_are_answered_with_an_error_naming_the_problem() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let mut wall = Client::connect(&server, None).await;
    let mut v = births_view(vec![AUG]);
    v.indicators = vec!["XK99".into()];
    wall.subscribe("x", v, None).await;
    match wall.next().await {
        ServerMessage::Error { code, message, id } => {
            assert_eq!(code, "bad_view");
            assert!(message.contains("XK99"));
            assert_eq!(id.as_deref(), Some("x"));
        }
        other => panic!("{other:?}"),
    }
    wall.ws
        .send(Message::text("{\"type\":\"hello\"}"))
        .await
        .unwrap();
    match wall.next().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, "bad_message"),
        other => panic!("{other:?}"),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// Every commune's code, and a view of births in all of them (deltas of ~3,400 cells).
fn every_commune(server: &TestServer) -> (Vec<String>, View) {
    let all = server
        .state
        .store
        .hierarchy()
        .at_level(Level::Commune, Era::Since2025)
        .map(|u| u.code.clone())
        .collect();
    let view = View {
        indicators: vec!["XH02".into()],
        units: vec![],
        children_of: Some("VN".into()),
        level: Some("commune".into()),
        periods: Periods::List(vec![AUG]),
        comparisons: false,
        at: None,
    };
    (all, view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_while_others_keep_up() {
    // Measures this process's memory: no other test of this file may run meanwhile.
    let _alone = MEMORY_GATE.write().await;
    let (_d, server) = server_with(LiveConfig {
        send_timeout: Duration::from_millis(500),
        heartbeat: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(2),
        inbox_capacity: 8,
        ..LiveConfig::default()
    })
    .await;
    let (all, view) = every_commune(&server);
    let mut fast = Client::connect(&server, None).await;
    fast.subscribe("all", view.clone(), None).await;
    let ServerMessage::Snapshot {
        version: mut seen, ..
    } = fast.next().await
    else {
        panic!()
    };
    let mut slow = Client::connect(&server, None).await;
    slow.subscribe("all", view, None).await;
    // From here on the slow client never reads again.

    let base = rss_kib();
    let rounds = 40;
    for r in 0..rounds {
        let rows: Vec<(String, u32)> = all.iter().map(|c| (c.clone(), 100 + r)).collect();
        let v = upload(&server, &rows).await;
        // The reading client sees every version in order, without gaps.
        match fast.next().await {
            ServerMessage::Delta {
                from_version,
                version,
                cells,
                ..
            } => {
                assert_eq!((from_version, version), (seen, v));
                assert!(cells.len() >= all.len());
                seen = v;
            }
            other => panic!("{other:?}"),
        }
    }
    let grown_mib = rss_kib().saturating_sub(base) / 1024;
    // 40 deltas of ~3,400 cells were produced for the slow client (~10 MB of JSON): the server
    // keeps at most one coalesced delta per view, then drops the client.
    assert!(grown_mib < 64, "memory grew by {grown_mib} MiB");
    let (_, m) = server.get("/api/metrics").await;
    let cut = m["slow_closed"].as_u64().unwrap() + m["idle_closed"].as_u64().unwrap();
    assert!(cut >= 1, "the slow client was not closed: {m}");
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_further_behind_than_its_inbox_gets_a_snapshot_then_deltas_again() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig {
        inbox_capacity: 2,
        send_timeout: Duration::from_secs(60),
        heartbeat: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(120),
        ..LiveConfig::default()
    })
    .await;
    let (all, view) = every_commune(&server);
    let mut wall = Client::connect(&server, None).await;
    wall.subscribe("all", view, None).await;
    let ServerMessage::Snapshot { version: v0, .. } = wall.next().await else {
        panic!()
    };

    // The wall stops reading. Deltas of ~3,400 cells fill the socket buffers; then the
    // connection's task waits on the socket, the next changes queue in its inbox of 2, and one
    // more overflows it.
    let mut last = v0;
    let mut lagged = false;
    for r in 0..400 {
        let rows: Vec<(String, u32)> = all.iter().map(|c| (c.clone(), 100 + r)).collect();
        last = upload(&server, &rows).await;
        let (_, m) = server.get("/api/metrics").await;
        if m["lagged"].as_u64().unwrap() > 0 {
            lagged = true;
            break;
        }
    }
    assert!(lagged, "the inbox never overflowed");
    let (_, before) = server.get("/api/metrics").await;
    assert_eq!(before["slow_closed"], 0, "{before}");

    // Reading again: the deltas that were in the socket, in order, then one snapshot at the
    // latest version instead of the changes that overflowed.
    let mut seen = v0;
    let mut snapshot_at = None;
    while seen < last {
        match wall.next().await {
            ServerMessage::Delta {
                from_version,
                version,
                ..
            } => {
                assert!(snapshot_at.is_none(), "a delta after the resync snapshot");
                assert_eq!(from_version, seen, "a gap before version {version}");
                seen = version;
            }
            ServerMessage::Snapshot {
                version, reason, ..
            } => {
                assert_eq!(reason, "lagged");
                assert!(version > seen);
                snapshot_at = Some(version);
                seen = version;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((seen, snapshot_at), (last, Some(last)));

    // Caught up: the next change is an ordinary delta from there.
    let next = upload(&server, &[(all[0].clone(), 7)]).await;
    let (from, to, cells) = delta(&mut wall).await;
    assert_eq!((from, to), (last, next));
    assert_eq!(value_of(&cells, &all[0], AUG), Some(7.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_walls_each_get_every_delta_once_and_in_order() {
    // Enough connections for the fanout to split them between the runtime's two workers.
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let c = server.communes("79");
    let v0 = upload(&server, &[(c[0].clone(), 1)]).await;
    let mut walls = Vec::new();
    for _ in 0..300 {
        let mut w = Client::connect(&server, None).await;
        w.subscribe("sinh", births_view(vec![AUG]), None).await;
        walls.push(w);
    }
    for w in &mut walls {
        match w.next().await {
            ServerMessage::Snapshot { version, .. } => assert_eq!(version, v0),
            other => panic!("{other:?}"),
        }
    }
    let v1 = upload(&server, &[(c[0].clone(), 2)]).await;
    let v2 = upload(&server, &[(c[1].clone(), 5)]).await;
    for w in &mut walls {
        // One delta per version, or one covering both if the second came before the first
        // went out: never a gap, never twice.
        let mut seen = v0;
        while seen < v2 {
            let (from, to, cells) = delta(w).await;
            assert_eq!(from, seen);
            assert!(to == v1 || to == v2, "{to}");
            if to == v2 {
                assert_eq!(value_of(&cells, "VN", AUG), Some(7.0));
            }
            seen = to;
        }
    }
    let (_, m) = server.get("/api/metrics").await;
    assert_eq!(m["resyncs"], 0, "{m}");
    assert_eq!(m["slow_closed"], 0, "{m}");
    // The fanout's own figures: the last change went to every wall, and took some time.
    assert_eq!(m["fanout_connections"], 300, "{m}");
    assert!(m["fanout_last_us"].as_u64().unwrap() > 0, "{m}");
    assert!(
        m["fanout_max_us"].as_u64() >= m["fanout_last_us"].as_u64(),
        "{m}"
    );
}

/// Views at the edges of what a client may ask — a range of 10,000 years, every commune of the
/// country over years, every indicator, a unit given twice, a date far in the past — are
/// answered, each with its snapshot or an error that names the problem, within seconds, and
/// the connection keeps working.
#[tokio::test]
async fn views_at_the_edges_are_answered_and_the_connection_keeps_working() {
    let _shared = MEMORY_GATE.read().await;
    let (_d, server) = server_with(LiveConfig::default()).await;
    let mut wall = Client::connect(&server, None).await;
    let month = |year: i32, month: u8| Period::Month { year, month };
    let every_indicator: Vec<String> = server
        .state
        .store
        .catalogue()
        .indicators
        .iter()
        .map(|i| i.code.clone())
        .collect();
    let base = births_view(vec![AUG]);
    let views = [
        View {
            periods: Periods::Range {
                from: month(1, 1),
                to: month(9999, 12),
            },
            children_of: None,
            level: None,
            ..base.clone()
        },
        View {
            periods: Periods::Range {
                from: month(2023, 1),
                to: month(2025, 12),
            },
            children_of: Some("VN".into()),
            level: Some("commune".into()),
            ..base.clone()
        },
        View {
            indicators: every_indicator,
            children_of: Some("VN".into()),
            level: Some("province".into()),
            ..base.clone()
        },
        View {
            units: vec!["79".into(), "79".into(), "VN".into()],
            ..base.clone()
        },
        View {
            periods: Periods::Range {
                from: month(2025, 12),
                to: month(2025, 1),
            },
            ..base.clone()
        },
        View {
            at: Some("01/01/1900".into()),
            ..base.clone()
        },
        View {
            periods: Periods::List(vec![Period::Year { year: 1 }, Period::Year { year: 9999 }]),
            ..base.clone()
        },
    ];
    for (i, view) in views.into_iter().enumerate() {
        let id = format!("v{i}");
        let started = std::time::Instant::now();
        wall.subscribe(&id, view, None).await;
        match wall.next().await {
            ServerMessage::Snapshot { id: got, .. } => assert_eq!(got, id),
            ServerMessage::Error {
                id: got, message, ..
            } => {
                assert_eq!(got.as_deref(), Some(id.as_str()));
                assert!(!message.is_empty());
            }
            other => panic!("view {i}: {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "view {i} took {:?}",
            started.elapsed()
        );
        wall.send(&ClientMessage::Unsubscribe { id }).await;
    }
    // Still served.
    wall.subscribe("after", births_view(vec![AUG]), None).await;
    match wall.next().await {
        ServerMessage::Snapshot { id, .. } => assert_eq!(id, "after"),
        other => panic!("{other:?}"),
    }
}
