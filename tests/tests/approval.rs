//! Approving reports up the hierarchy over real HTTP into a real DuckDB file: a commune's
//! approver approves its own report, the province's approves the province's and is told which
//! communes are not approved, each token only within its unit and ministries, a correction
//! after approval calls for approval again, and a report with nothing in it is not approved;
//! a wall following reports over `/live` is pushed each step.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use dieuhanh_server::hierarchy::{Era, Level};
use dieuhanh_server::live::{Auth, LiveConfig, Role};
use dieuhanh_tests::{TestServer, communes_of, limited_grant, open_store};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use dieuhanh_protocol::live::{
    ClientMessage, ReportKey, ReportStanding, ReportState, ServerMessage,
};
use dieuhanh_protocol::period::Period;

const REPORTER: &str = "reporter-cao-bang-0123";
const COMMUNE_APPROVER: &str = "approver-commune-0123";
const PROVINCE_APPROVER: &str = "approver-cao-bang-0123";
const WALL: &str = "wall-token-0123456789";

async fn post(server: &TestServer, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut r = server.client.post(server.url("/api/approvals")).json(&body);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, body) = server.get(&format!("{path}{sep}token={WALL}")).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn upload(server: &TestServer, csv: &str) -> Value {
    let r = server
        .client
        .post(server.url("/api/uploads?filename=ho-tich.csv"))
        .header("content-type", "text/csv")
        .header("authorization", format!("Bearer {REPORTER}"))
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

/// A server whose tokens are a wall's, Cao Bằng's (04) reporter of civil registration, the
/// approver of its first commune and the province's; and the province's communes today.
async fn cao_bang() -> (tempfile::TempDir, TestServer, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let communes = communes_of(store.hierarchy(), "04");
    let auth = Auth::with(&[("tuong", WALL, Role::Wall)], &[])
        .grant(
            REPORTER,
            limited_grant("so-tu-phap-cao-bang", Role::Reporter, "04", &["BTP"]),
        )
        .grant(
            COMMUNE_APPROVER,
            limited_grant("ubnd-xa-duyet", Role::Approver, &communes[0], &[]),
        )
        .grant(
            PROVINCE_APPROVER,
            limited_grant("ubnd-cao-bang-duyet", Role::Approver, "04", &["BTP"]),
        );
    let live = LiveConfig {
        auth,
        ..LiveConfig::default()
    };
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;
    (dir, server, communes)
}

#[tokio::test]
async fn reports_are_approved_up_the_hierarchy_and_again_after_a_correction() {
    let (_dir, server, communes) = cao_bang().await;
    let (c1, c2, c3) = (&communes[0], &communes[1], &communes[2]);
    let ask = |unit: &str| json!({"regime": "BC-HT", "unit": unit, "period": "Tháng 10/2026", "approver": "Nguyễn Văn An"});

    // Two communes report their civil registration for October.
    let mut csv = String::from("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n");
    for c in [c1, c2] {
        for ind in ["XH02", "XH03", "XH04"] {
            csv.push_str(&format!("{c};Tháng 10/2026;{ind};12\n"));
        }
    }
    upload(&server, &csv).await;
    let status = get(
        &server,
        "/api/regimes/BC-HT/status?period=2026-10&parent=04",
    )
    .await;
    assert_eq!(status["reported"], 2, "{status}");
    assert_eq!(status["awaiting_approval_total"], 2, "{status}");
    assert_eq!(status["approved"], 0);
    assert_eq!(status["parent_report"]["state"], "awaiting_approval");

    // Only an approver's token, within its unit, approves.
    let (code, body) = post(&server, None, ask(c1)).await;
    assert_eq!(code, 401, "{body}");
    for token in [WALL, REPORTER] {
        let (code, body) = post(&server, Some(token), ask(c1)).await;
        assert_eq!(code, 403, "{body}");
        assert!(message(&body).contains("approver's token"), "{body}");
    }
    for other in [c2.as_str(), "04"] {
        let (code, body) = post(&server, Some(COMMUNE_APPROVER), ask(other)).await;
        assert_eq!(code, 403, "{body}");
        assert!(message(&body).contains("outside what"), "{body}");
    }
    // A province's approver answers for the Ministry of Justice's regimes only.
    let (code, body) = post(
        &server,
        Some(PROVINCE_APPROVER),
        json!({"regime": "BC-KTXH", "unit": "04", "period": "2026-10"}),
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(message(&body).contains("BTC"), "{body}");

    // The commune approves its own report; approving it again records nothing.
    let (code, first) = post(&server, Some(COMMUNE_APPROVER), ask(c1)).await;
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["recorded"], true);
    assert_eq!(first["below_expected"], 0);
    assert!(
        first["approval"]["approver"]
            .as_str()
            .unwrap()
            .contains("Nguyễn Văn An (token \"ubnd-xa-duyet\")"),
        "{first}"
    );
    assert!(
        first["message_vi"]
            .as_str()
            .unwrap()
            .starts_with("Đã duyệt và gửi lên: Báo cáo thống kê hộ tịch (BC-HT) Tháng 10/2026"),
        "{first}"
    );
    let (code, again) = post(&server, Some(COMMUNE_APPROVER), ask(c1)).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["recorded"], false);
    assert!(
        again["message_vi"]
            .as_str()
            .unwrap()
            .ends_with("không duyệt lại."),
        "{again}"
    );
    assert_eq!(again["approval"]["id"], first["approval"]["id"]);

    // The province sends its report up, told which communes are not approved.
    let (code, sent) = post(&server, Some(PROVINCE_APPROVER), ask("04")).await;
    assert_eq!(code, 200, "{sent}");
    assert_eq!(sent["recorded"], true);
    assert_eq!(sent["below_expected"], communes.len());
    assert_eq!(
        sent["below_not_approved_total"],
        communes.len() - 1,
        "{sent}"
    );
    let states: Vec<(&str, &str)> = sent["below_not_approved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["unit"]["code"].as_str().unwrap(),
                b["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        states.contains(&(c2.as_str(), "awaiting_approval")),
        "{states:?}"
    );
    assert!(
        states.contains(&(c3.as_str(), "not_reported")),
        "{states:?}"
    );
    assert!(!states.iter().any(|(c, _)| c == c1), "{states:?}");
    assert_eq!(states[0].1, "not_reported", "what the report lacks first");
    assert!(
        sent["message_vi"].as_str().unwrap().contains("Lưu ý"),
        "{sent}"
    );

    let status = get(
        &server,
        "/api/regimes/BC-HT/status?period=2026-10&parent=04",
    )
    .await;
    assert_eq!(status["approved"], 1, "{status}");
    assert_eq!(status["awaiting_approval_total"], 1);
    assert_eq!(status["awaiting_approval"][0]["unit"]["code"], c2.as_str());
    assert_eq!(status["parent_report"]["state"], "approved");
    assert_eq!(
        status["parent_report"]["approval"]["id"],
        sent["approval"]["id"]
    );

    // A correction in the first commune: its report and the province's change since approval.
    let report = upload(
        &server,
        &format!("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c1};Tháng 10/2026;XH02;13\n"),
    )
    .await;
    assert_eq!(report["values_revised"], 1, "{report}");
    let c1_now = get(
        &server,
        &format!("/api/approvals?regime=BC-HT&unit={c1}&period=Tháng 10/2026"),
    )
    .await;
    assert_eq!(c1_now["state"], "changed_since_approval", "{c1_now}");
    assert_eq!(c1_now["approvals"].as_array().unwrap().len(), 1);
    assert!(c1_now["version"].as_i64().unwrap() > first["approval"]["version"].as_i64().unwrap());
    let status = get(
        &server,
        "/api/regimes/BC-HT/status?period=2026-10&parent=04",
    )
    .await;
    assert_eq!(
        status["parent_report"]["state"], "changed_since_approval",
        "{status}"
    );
    assert_eq!(status["awaiting_approval_total"], 2);
    let (code, again) = post(&server, Some(COMMUNE_APPROVER), ask(c1)).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(
        again["recorded"], true,
        "approved again after the correction"
    );
    let c1_now = get(
        &server,
        &format!("/api/approvals?regime=BC-HT&unit={c1}&period=2026-10"),
    )
    .await;
    assert_eq!(c1_now["state"], "approved");
    assert_eq!(c1_now["approvals"].as_array().unwrap().len(), 2);

    // Nothing to approve where nothing came in; requests that name the wrong things.
    let (code, body) = post(&server, Some(PROVINCE_APPROVER), ask(c3)).await;
    assert_eq!(code, 409, "{body}");
    assert!(message(&body).contains("nothing to approve"), "{body}");
    for (bad, want) in [
        (
            json!({"regime": "BC-HT", "unit": "04", "period": "2026-Q3"}),
            400,
        ),
        (
            json!({"regime": "BC-XX", "unit": "04", "period": "2026-10"}),
            404,
        ),
        (
            json!({"regime": "BC-HT", "unit": "99999", "period": "2026-10"}),
            404,
        ),
        (
            json!({"regime": "BC-HT", "unit": "04", "period": "tháng mười"}),
            400,
        ),
    ] {
        let (code, body) = post(&server, Some(PROVINCE_APPROVER), bad.clone()).await;
        assert_eq!(code, want, "{bad}: {body}");
        assert!(!message(&body).is_empty(), "{body}");
    }
}

/// A regime reported by provinces has no commune reports to approve.
#[tokio::test]
async fn a_unit_below_the_regimes_level_has_no_report_to_approve() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let server = TestServer::start(store, dir.path()).await;
    let h = server.state.store.hierarchy();
    let p = h.by_code(Era::Since2025, "04").unwrap().uid;
    let commune = h
        .unit(h.descendants(p, Level::Commune, Era::Since2025)[0])
        .unwrap();
    let (code, body) = post(
        &server,
        None,
        json!({"regime": "BC-KTXH", "unit": commune.code, "period": "2026-10"}),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(message(&body).contains("below them"), "{body}");
}

/// The demo data set reads as a system in use: the month before its latest has its civil
/// registration reports approved from the communes up to the nation; of the latest, the
/// communes have approved some of their own.
#[tokio::test]
async fn the_demo_has_its_past_reports_approved_and_its_latest_coming_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    // Off the runtime: loading the demo blocks.
    let store = tokio::task::spawn_blocking(move || dieuhanh_tests::demo_store(&path, 3))
        .await
        .unwrap();
    let server = TestServer::start(store, dir.path()).await;
    let latest = dieuhanh_tests::demo_options(3).to;
    let before = latest.previous();
    let (_, past) = server
        .get(&format!("/api/regimes/BC-HT/status?period={}", before.id()))
        .await;
    assert!(
        past["reported"].as_u64().unwrap() > 3000,
        "{}",
        past["reported"]
    );
    assert_eq!(past["approved"], past["reported"]);
    assert_eq!(past["parent_report"]["state"], "approved");
    let period = latest.id();
    let (_, now) = server
        .get(&format!("/api/regimes/BC-HT/status?period={period}"))
        .await;
    let (approved, reported) = (
        now["approved"].as_u64().unwrap(),
        now["reported"].as_u64().unwrap(),
    );
    assert!(
        approved > reported / 3 && approved < reported,
        "{approved} of {reported}"
    );
    assert_eq!(now["parent_report"]["state"], "awaiting_approval");
}

/// Reads `reports` messages until one satisfies `done` (standings move one computation at a
/// time: an upload and an approval may come as one message or two).
async fn reports_until(
    ws: &mut Ws,
    mut done: impl FnMut(&[ReportStanding]) -> bool,
) -> Vec<ReportStanding> {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("no reports message within 10 s")
            .expect("connection ended")
            .unwrap();
        let Message::Text(t) = msg else { continue };
        match serde_json::from_str::<ServerMessage>(t.as_str()).unwrap() {
            ServerMessage::Reports { reports, .. } if done(&reports) => return reports,
            ServerMessage::Reports { .. } | ServerMessage::Welcome { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, m: &ClientMessage) {
    ws.send(Message::text(serde_json::to_string(m).unwrap()))
        .await
        .unwrap();
}

/// A wall follows a province's civil-registration report, one of its communes' and the
/// nation's over `/live`: it is told at once that nothing came in, then — pushed, without
/// asking again — that the communes reported, that one commune and then the province approved,
/// and that a correction calls for approval again. A report that does not exist is refused
/// with the reason.
#[tokio::test]
async fn a_wall_following_reports_is_pushed_each_step_of_their_approval() {
    let (_dir, server, communes) = cao_bang().await;
    let (c1, c2) = (&communes[0], &communes[1]);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/live?token={WALL}", server.addr))
            .await
            .unwrap();
    let october = Period::Month {
        year: 2026,
        month: 10,
    };
    let key = |unit: &str| ReportKey {
        regime: "BC-HT".into(),
        period: october,
        unit: unit.into(),
    };
    send(
        &mut ws,
        &ClientMessage::Reports {
            reports: vec![key("VN"), key("04"), key(c1)],
        },
    )
    .await;
    let s = reports_until(&mut ws, |_| true).await;
    assert_eq!(
        s.iter().map(|s| s.key.clone()).collect::<Vec<_>>(),
        vec![key("VN"), key("04"), key(c1)],
        "in the order asked"
    );
    let (vn, p, c) = (&s[0], &s[1], &s[2]);
    assert_eq!(vn.state, ReportState::NotReported);
    assert_eq!(
        (vn.below_level.as_deref(), vn.below),
        (Some("province"), 34)
    );
    assert_eq!(p.below_level.as_deref(), Some("commune"));
    assert_eq!(p.below as usize, communes.len());
    assert_eq!((p.below_reported, p.below_approved), (0, 0));
    assert_eq!(
        (c.state, c.below_level.as_deref(), c.below),
        (ReportState::NotReported, None, 0)
    );

    let mut csv = String::from("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n");
    for u in [c1, c2] {
        csv.push_str(&format!("{u};Tháng 10/2026;XH02;12\n"));
    }
    upload(&server, &csv).await;
    let s = reports_until(&mut ws, |s| s[1].below_reported == 2).await;
    assert_eq!(s[1].state, ReportState::AwaitingApproval, "{s:?}");
    assert_eq!(s[2].state, ReportState::AwaitingApproval);
    assert_eq!(
        s[0].state,
        ReportState::AwaitingApproval,
        "the nation's total moved"
    );
    assert_eq!(s[0].below_reported, 1, "one province has reported");

    let ask = |unit: &str| json!({"regime": "BC-HT", "unit": unit, "period": "2026-10"});
    let (code, body) = post(&server, Some(COMMUNE_APPROVER), ask(c1)).await;
    assert_eq!(code, 200, "{body}");
    let s = reports_until(&mut ws, |s| s[2].state == ReportState::Approved).await;
    assert_eq!((s[1].below_reported, s[1].below_approved), (2, 1), "{s:?}");
    let who: Vec<&str> = s[1].approved.iter().map(|a| a.unit.as_str()).collect();
    assert_eq!(who, [c1.as_str()], "who approved, by code");
    assert!(
        s[1].approved[0].at_ms > 1_700_000_000_000,
        "and when: {s:?}"
    );
    let (code, body) = post(&server, Some(PROVINCE_APPROVER), ask("04")).await;
    assert_eq!(code, 200, "{body}");
    let s = reports_until(&mut ws, |s| s[1].state == ReportState::Approved).await;
    assert_eq!((s[0].below_reported, s[0].below_approved), (1, 1), "{s:?}");
    assert_eq!(s[0].approved[0].unit, "04");
    assert_eq!(
        s[1].approved_at_ms,
        Some(s[0].approved[0].at_ms),
        "Cao Bằng's own approval"
    );

    // A correction of the approved commune: both reports are to be approved again.
    upload(
        &server,
        &format!("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c1};Tháng 10/2026;XH02;13\n"),
    )
    .await;
    let s = reports_until(&mut ws, |s| s[2].state == ReportState::ChangedSinceApproval).await;
    assert_eq!(s[1].state, ReportState::ChangedSinceApproval, "{s:?}");
    assert_eq!((s[1].below_reported, s[1].below_approved), (2, 0));
    assert!(s[1].approved.is_empty(), "{s:?}");
    assert_eq!(s[0].below_approved, 0);

    // Asking for a report that does not exist is answered with what is wrong.
    send(
        &mut ws,
        &ClientMessage::Reports {
            reports: vec![ReportKey {
                regime: "BC-XX".into(),
                ..key("04")
            }],
        },
    )
    .await;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(t) = msg else { continue };
        if let ServerMessage::Error { code, message, .. } =
            serde_json::from_str::<ServerMessage>(t.as_str()).unwrap()
        {
            assert_eq!(code, "bad_reports");
            assert!(message.contains("no regime \"BC-XX\""), "{message}");
            break;
        }
    }
}
