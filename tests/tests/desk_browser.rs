//! The pages for people in a real browser: Debian's Chromium, driven by Playwright
//! (`tests/browser/desk.mjs`), against a real server and DuckDB file. A reporter's file with
//! mistakes comes back as a table of errors; the next file is sent without typing the token
//! again; an approver's Enter looks rather than approves, the button approves, and a commune's
//! link opens its report; a presenter picks a province and a ministry by name for a room's
//! walls. `scripts/test` installs Chromium, Node and playwright-core; without
//! them this test fails, saying so.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::path::PathBuf;
use std::process::Command;

use dieuhanh_server::live::{Auth, LiveConfig, Role};
use dieuhanh_tests::{TestServer, communes_of, limited_grant, open_store};
use serde_json::Value;

const REPORTER: &str = "reporter-cao-bang-0123";
const APPROVER: &str = "approver-cao-bang-0123";
const PRESENTER: &str = "presenter-token-0123456789";

/// Where playwright-core is installed (`scripts/test`: `$DIEUHANH_CACHE/browser-test`).
fn browser_dir() -> PathBuf {
    std::env::var_os("DIEUHANH_BROWSER_TEST")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dieuhanh/browser-test"))
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporter_an_approver_and_a_presenter_use_the_pages_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let communes = communes_of(store.hierarchy(), "04");
    let limited = |name: &str, role| limited_grant(name, role, "04", &["BTP"]);
    let auth = Auth::with(&[("dieu-khien", PRESENTER, Role::Presenter)], &[])
        .grant(REPORTER, limited("so-tu-phap-cao-bang", Role::Reporter))
        .grant(APPROVER, limited("ubnd-cao-bang-duyet", Role::Approver));
    let live = LiveConfig {
        auth,
        ..LiveConfig::default()
    };
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;

    let (c1, c2) = (&communes[0], &communes[1]);
    let bad = dir.path().join("ho-tich-sai.csv");
    std::fs::write(
        &bad,
        format!(
            "Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c1};Tháng 10/2026;XH02;1.5\n79x;Tháng 10/2026;XH03;4\n"
        ),
    )
    .unwrap();
    let good = dir.path().join("ho-tich.csv");
    std::fs::write(
        &good,
        format!(
            "Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c1};Tháng 10/2026;XH02;12\n{c2};Tháng 10/2026;XH02;7\n"
        ),
    )
    .unwrap();

    let browser = browser_dir();
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "no playwright-core in {browser:?}: scripts/test installs it (with Chromium and Node), \
         or set DIEUHANH_BROWSER_TEST"
    );
    // The script runs beside its node_modules, where its import resolves.
    let script = browser.join(format!("desk-{}.mjs", std::process::id()));
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/desk.mjs"),
        &script,
    )
    .unwrap();
    let url = format!("http://{}", server.addr);
    let args: Vec<String> = [
        "--url",
        &url,
        "--chromium",
        "/usr/bin/chromium",
        "--bad",
        bad.to_str().unwrap(),
        "--good",
        good.to_str().unwrap(),
        "--token",
        REPORTER,
        "--approver-token",
        APPROVER,
        "--presenter-token",
        PRESENTER,
        "--unit",
        "04",
    ]
    .map(String::from)
    .to_vec();
    let script_arg = script.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script_arg)
            .args(&args)
            .output()
            .expect("node (scripts/test installs it)")
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&script);
    assert!(
        run.status.success(),
        "the browser run failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();

    // The file with mistakes: refused, each mistake on its row with what to write instead.
    let bad = &out["bad"];
    assert!(
        bad["box"]
            .as_str()
            .unwrap()
            .starts_with("Chưa nhận báo cáo: tệp có 2 lỗi."),
        "{out}"
    );
    let rows = bad["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0][0], "2");
    assert_eq!(rows[0][1], "D");
    assert!(
        rows[0][4]
            .as_str()
            .unwrap()
            .contains("Số thập phân viết bằng dấu phẩy"),
        "{out}"
    );
    assert_eq!(rows[1][0], "3");
    assert_eq!(rows[1][3], "79x");
    assert_eq!(
        bad["submitter"], "Lê Thị Hoa",
        "the form comes back filled in"
    );
    // The good file, sent with the token the browser kept.
    assert!(
        out["good"]["box"]
            .as_str()
            .unwrap()
            .starts_with("Đã nhận báo cáo. 2 giá trị mới"),
        "{out}"
    );
    assert!(
        out["good"]["using"]
            .as_str()
            .unwrap()
            .contains("so-tu-phap-cao-bang"),
        "{out}"
    );
    // Enter looked; the button approved; the commune's link needed no token.
    assert_eq!(
        out["look"]["title"],
        "Báo cáo thống kê hộ tịch (BC-HT) · Tháng 10/2026 · Tỉnh Cao Bằng (04)"
    );
    assert_eq!(
        out["look"]["state"].as_str().unwrap(),
        "Tình trạng: chờ duyệt · số liệu mới nhất: phiên bản 1",
        "{out}"
    );
    assert_eq!(out["look"]["boxes"], 0, "nothing approved on Enter: {out}");
    assert!(
        out["approve"]["box"]
            .as_str()
            .unwrap()
            .starts_with("Đã duyệt và gửi lên"),
        "{out}"
    );
    assert!(
        out["approve"]["state"]
            .as_str()
            .unwrap()
            .starts_with("Tình trạng: đã duyệt"),
        "{out}"
    );
    let commune = out["commune"].as_str().unwrap();
    assert!(communes.iter().any(|c| c == commune), "{out}");
    assert!(
        out["followed"]["title"]
            .as_str()
            .unwrap()
            .ends_with(&format!("({commune})")),
        "{out}"
    );
    assert!(
        out["followed"]["using"]
            .as_str()
            .unwrap()
            .contains("ubnd-cao-bang-duyet"),
        "{out}"
    );
    let (_, history) = server
        .get(&format!(
            "/api/approvals?regime=BC-HT&unit=04&period=2026-10&token={APPROVER}"
        ))
        .await;
    assert_eq!(history["approvals"][0]["note"], "Đã đối chiếu", "{history}");
    // The presenter's choice, by name, is the room's state.
    assert!(
        out["present"].as_str().unwrap().starts_with(
            "Đã chuyển. Phòng phong-hop · cảnh: (theo bố cục) · địa bàn: Thành phố Hồ Chí Minh (79) · bộ, ngành: Bộ Tư pháp (BTP)"
        ),
        "{out}"
    );
    let (state, _) = server.state.live.room_state("phong-hop").unwrap();
    assert_eq!(
        (state.focus_unit.as_deref(), state.agency.as_deref()),
        (Some("79"), Some("BTP"))
    );
}
