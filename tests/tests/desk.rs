//! The pages for people, over real HTTP into a real DuckDB file, posted as a browser posts them:
//! each form is read off its page (action, encoding, fields in order) and sent back filled in.
//! A reporter's file with mistakes is refused with a row-by-row table and nothing stored; a
//! good one is stored and re-sending it changes nothing; tokens and foreign origins are checked
//! as the API checks them; an approver sees the units below and approves from the page.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use dieuhanh_protocol::live::{ClientMessage, RoomState, SceneInfo, ServerMessage};
use dieuhanh_server::live::{Auth, LiveConfig, Role};
use dieuhanh_tests::{TestServer, communes_of, limited_grant, open_store};
use futures_util::{SinkExt, StreamExt};
use reqwest::multipart;
use tokio_tungstenite::tungstenite::Message;

const REPORTER: &str = "reporter-cao-bang-0123";
const APPROVER: &str = "approver-cao-bang-0123";
const WALL: &str = "wall-token-0123456789";

/// A form as a browser sees it: where it posts, how, and its fields' names in page order.
struct PageForm {
    action: String,
    enctype: Option<String>,
    fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// The page's one form: `(name, type)` of each input, select and textarea, in order.
fn read_form(html: &str) -> PageForm {
    let start = html.find("<form").expect("a form on the page");
    let end = html[start..].find("</form>").unwrap() + start;
    let form = &html[start..end];
    let head = &form[..form.find('>').unwrap()];
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        let kind = tag.split([' ', '/']).next().unwrap_or("");
        if matches!(kind, "input" | "select" | "textarea")
            && let Some(name) = attr(tag, "name")
        {
            let ty = attr(tag, "type").unwrap_or_else(|| kind.to_owned());
            fields.push((name, ty));
        }
    }
    PageForm {
        action: attr(head, "action").unwrap(),
        enctype: attr(head, "enctype"),
        fields,
    }
}

async fn page(server: &TestServer, path: &str) -> (u16, String) {
    let r = server.client.get(server.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path}"
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"),
        "{path}"
    );
    (status, r.text().await.unwrap())
}

async fn version(server: &TestServer) -> i64 {
    let (_, body) = server.get(&format!("/api/health?token={WALL}")).await;
    body["version"].as_i64().unwrap()
}

fn server_auth(h: &dieuhanh_server::hierarchy::Hierarchy) -> (LiveConfig, Vec<String>) {
    let communes = communes_of(h, "04");
    let limited = |name: &str, role, unit: &str| limited_grant(name, role, unit, &["BTP"]);
    let auth = Auth::with(&[("tuong", WALL, Role::Wall)], &["https://allowed.example"])
        .grant(
            REPORTER,
            limited("so-tu-phap-cao-bang", Role::Reporter, "04"),
        )
        .grant(
            APPROVER,
            limited("ubnd-cao-bang-duyet", Role::Approver, "04"),
        );
    (
        LiveConfig {
            auth,
            ..LiveConfig::default()
        },
        communes,
    )
}

/// Fills the upload form read off the page: `values` by field name, the file last as the
/// page has it.
async fn send_file(
    server: &TestServer,
    form: &PageForm,
    values: &[(&str, &str)],
    file: (&str, &str, Vec<u8>),
    headers: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let mut parts = multipart::Form::new();
    for (name, ty) in &form.fields {
        if ty == "file" {
            let (filename, mime, bytes) = file.clone();
            parts = parts.part(
                name.clone(),
                multipart::Part::bytes(bytes)
                    .file_name(filename.to_owned())
                    .mime_str(mime)
                    .unwrap(),
            );
        } else {
            let v = values
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| *v);
            parts = parts.text(name.clone(), v.to_owned());
        }
    }
    let mut r = server
        .client
        .post(server.url(&form.action))
        .multipart(parts);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    let cookie = set_cookie(&r);
    (r.status().as_u16(), r.text().await.unwrap(), cookie)
}

#[tokio::test]
async fn a_reporter_sends_a_file_from_the_page_and_reads_each_error_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let (live, communes) = server_auth(&store.hierarchy().clone());
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;
    let own = format!("http://{}", server.addr);

    let (code, html) = page(&server, "/gui-bao-cao").await;
    assert_eq!(code, 200);
    let form = read_form(&html);
    assert_eq!(form.action, "/gui-bao-cao");
    assert_eq!(form.enctype.as_deref(), Some("multipart/form-data"));
    let names: Vec<&str> = form.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "token",
            "submitter",
            "period",
            "unit",
            "sheet",
            "locale",
            "file"
        ],
        "the options come before the file, which is read as it streams"
    );
    let (home_code, home) = page(&server, "/").await;
    assert_eq!(home_code, 200);
    assert!(home.contains("href=\"/gui-bao-cao\"") && home.contains("href=\"/duyet-bao-cao\""));

    // A file with three mistakes and markup in a cell: refused, each mistake in a row of the
    // table, the markup shown as text, nothing stored.
    let before = version(&server).await;
    let c1 = &communes[0];
    let bad = format!(
        "Mã đơn vị;Chỉ tiêu;Giá trị\n{c1};XH02;1.5\n<script>alert(1)</script>;XH03;12\n{c1};XX99;4\n"
    );
    let fill = [
        ("token", REPORTER),
        ("period", "Tháng 10/2026"),
        ("submitter", "Lê Thị Hoa"),
    ];
    let (code, html, _) = send_file(
        &server,
        &form,
        &fill,
        ("ho-tich.csv", "text/csv", bad.clone().into_bytes()),
        &[("origin", &own)],
    )
    .await;
    assert_eq!(code, 422, "{html}");
    assert!(html.contains("Chưa nhận báo cáo: tệp có 3 lỗi."), "{html}");
    assert!(html.contains("Không giá trị nào được lưu"));
    assert!(!html.contains("<script>alert"), "cell text is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for (row, col, advice) in [
        ("2", "C", "dấu chấm ở đây không rõ nghĩa"),
        ("3", "A", "không có đơn vị hành chính với mã hoặc tên này"),
        ("4", "B", "không có chỉ tiêu với mã hoặc tên này"),
    ] {
        let cells = format!("<td class=\"num\">{row}</td><td>{col}</td>");
        let at = html
            .find(&cells)
            .unwrap_or_else(|| panic!("row {row}: {html}"));
        let line = &html[at..at + html[at..].find("</tr>").unwrap()];
        assert!(line.contains(advice), "row {row}: {line}");
    }
    assert_eq!(version(&server).await, before, "nothing stored");
    // The form comes back filled in, without the token.
    assert!(html.contains("value=\"Tháng 10/2026\""));
    assert!(!html.contains(REPORTER));

    // Without a token, with another site's origin, or with a wall's token: refused, saying why.
    let good = format!("Mã đơn vị;Chỉ tiêu;Giá trị\n{c1};XH02;12\n{c1};XH03;1.234\n");
    let csv = || {
        (
            "ho-tich.csv",
            "application/vnd.ms-excel",
            good.clone().into_bytes(),
        )
    };
    let (code, html, _) = send_file(&server, &form, &[], csv(), &[]).await;
    assert_eq!(code, 401, "{html}");
    assert!(html.contains("Cần mã truy cập (token) hợp lệ"), "{html}");
    let (code, html, _) = send_file(
        &server,
        &form,
        &fill,
        csv(),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(code, 403, "{html}");
    let (code, html, _) = send_file(&server, &form, &[("token", WALL)], csv(), &[]).await;
    assert_eq!(code, 403, "{html}");
    assert!(html.contains("không có quyền"), "{html}");
    assert_eq!(version(&server).await, before);

    // The good file, labelled as Windows labels a .csv: stored, then re-sending changes nothing.
    let (code, html, kept) = send_file(&server, &form, &fill, csv(), &[("origin", &own)]).await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("Đã nhận báo cáo."), "{html}");
    assert!(html.contains("Đang dùng mã truy cập “so-tu-phap-cao-bang” (người báo cáo)"));
    let kept = kept.expect("an accepted token is kept");
    let pair = kept.split(';').next().unwrap().to_owned();
    assert!(html.contains("2 giá trị mới"), "{html}");
    let after = version(&server).await;
    assert!(after > before);
    let (_, figure) = server
        .get(&format!(
            "/api/figure?indicator=XH03&unit={c1}&period=2026-10&token={WALL}"
        ))
        .await;
    assert_eq!(figure["value"], 1234.0, "{figure}");
    let (code, html, _) = send_file(
        &server,
        &form,
        &fill,
        csv(),
        &[("origin", "https://allowed.example")],
    )
    .await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("Tệp này đã được nhận trước đây"), "{html}");
    assert_eq!(version(&server).await, after);

    // A workbook with its table on the second sheet, named on the form.
    let c2 = &communes[1];
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .set_name("Ghi chú")
        .unwrap()
        .write_string(0, 0, "Số liệu ở trang sau")
        .unwrap();
    let sheet = book.add_worksheet().set_name("Hộ tịch").unwrap();
    sheet.write_string(0, 0, "Mã đơn vị").unwrap();
    sheet.write_string(0, 1, "XH02").unwrap();
    sheet.write_string(1, 0, c2.as_str()).unwrap();
    sheet.write_number(1, 1, 7).unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    // Sent with the token the browser kept: the field left empty.
    let fill = [("period", "Tháng 10/2026"), ("sheet", "Hộ tịch")];
    let file = ("ho-tich.xlsx", "application/octet-stream", xlsx);
    let sent_with = [("origin", own.as_str()), ("cookie", pair.as_str())];
    let (code, html, _) = send_file(&server, &form, &fill, file, &sent_with).await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("1 giá trị mới"), "{html}");
    assert!(html.contains("Tệp xlsx"), "{html}");

    // A regime's template, filled in and sent back as it is: one row per commune of the
    // province, its code, name and period written; the cells left empty are skipped.
    let r = server
        .client
        .get(server.url("/danh-muc/bieu-mau?regime=BC-HT&tinh=04&period=Th%C3%A1ng%2010/2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("bieu-mau-BC-HT-04-2026-10.csv")
    );
    let template = r.text().await.unwrap();
    let lines: Vec<&str> = template.lines().collect();
    assert_eq!(lines.len(), communes.len() + 1, "{template}");
    assert!(
        lines[0].starts_with("\u{feff}Mã đơn vị;Tên đơn vị;Kỳ;Số trẻ em được đăng ký khai sinh"),
        "{}",
        lines[0]
    );
    let c3 = &communes[2];
    let row = lines
        .iter()
        .position(|l| l.starts_with(&format!("{c3};")))
        .unwrap();
    assert!(lines[row].ends_with(";Tháng 10/2026;;;"), "{}", lines[row]);
    let mut filled: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    filled[row] = format!("{};5;;", lines[row].trim_end_matches(";;;"));
    let file = (
        "bieu-mau.csv",
        "text/csv",
        (filled.join("\n") + "\n").into_bytes(),
    );
    let (code, html, _) = send_file(&server, &form, &[], file, &sent_with).await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("</strong> 1 giá trị mới"), "{html}");
    assert!(html.contains("Kỳ: Tháng 10/2026."), "{html}");
    let r = server
        .client
        .get(server.url("/danh-muc/bieu-mau?regime=BC-HT"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        400,
        "a commune regime needs its province"
    );

    // The codes a reporter writes are listed, a province's communes on asking.
    let (code, html) = page(&server, "/danh-muc?tinh=04").await;
    assert_eq!(code, 200);
    assert!(html.contains("<td>XH02</td>"), "{html}");
    assert!(html.contains(&format!("<td>{c1}</td>")), "{html}");
    assert!(
        html.contains("Các xã, phường của Tỉnh Cao Bằng (04)"),
        "{html}"
    );
    let (code, _) = page(&server, "/danh-muc?tinh=99").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn an_approver_sees_the_units_below_and_approves_from_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let (live, communes) = server_auth(&store.hierarchy().clone());
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;
    let (c1, c2) = (&communes[0], &communes[1]);
    let csv = format!("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c1};Tháng 10/2026;XH02;12\n");
    let r = server
        .client
        .post(server.url("/api/uploads?filename=ho-tich.csv"))
        .header("content-type", "text/csv")
        .header("authorization", format!("Bearer {REPORTER}"))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The regimes table links each regime's latest period into the form.
    let (code, html) = page(&server, "/duyet-bao-cao").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("href=\"/duyet-bao-cao?regime=BC-HT&amp;period="),
        "{html}"
    );
    let form = read_form(&html);
    assert_eq!(form.action, "/duyet-bao-cao");
    let names: Vec<&str> = form.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["token", "regime", "unit", "period", "approver", "note"]
    );
    let (code, html) = page(
        &server,
        "/duyet-bao-cao?regime=BC-HT&unit=04&period=2026-10",
    )
    .await;
    assert_eq!(code, 200);
    assert!(html.contains("<option value=\"BC-HT\" selected>"), "{html}");
    assert!(!html.contains("Tình trạng:"), "no token, nothing shown");

    let post = |token: &'static str, action: &'static str, unit: &str| {
        let fields = [
            ("token", token),
            ("regime", "BC-HT"),
            ("unit", unit),
            ("period", "Tháng 10/2026"),
            ("approver", "Nguyễn Văn An"),
            ("note", "Số liệu đã đối chiếu <b>đủ</b>"),
            ("action", action),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let req = server
            .client
            .post(server.url("/duyet-bao-cao"))
            .form(&fields);
        async move {
            let r = req.send().await.unwrap();
            let cookie = set_cookie(&r);
            (r.status().as_u16(), r.text().await.unwrap(), cookie)
        }
    };
    // A wall's token may look: the province's report and its communes, the one that sent its
    // report awaiting approval, the others not reported.
    let (code, html, _) = post(WALL, "xem", "04").await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("Báo cáo thống kê hộ tịch (BC-HT) · Tháng 10/2026 · Tỉnh Cao Bằng (04)"),
        "{html}"
    );
    let n = communes.len();
    assert!(
        html.contains(&format!("Cấp dưới: {n} xã — 0 đã duyệt, 1 chờ duyệt, 0 có số liệu mới sau khi duyệt, {} chưa báo cáo.", n - 1)),
        "{html}"
    );
    assert!(
        html.contains(&format!("unit={c2}&amp;period=2026-10\">{c2}</a>")),
        "{html}"
    );
    // Not approve.
    let (code, html, _) = post(WALL, "duyet", "04").await;
    assert_eq!(code, 403, "{html}");
    assert!(html.contains("Chưa duyệt được."), "{html}");
    let (code, html, _) = post(APPROVER, "duyet", "01").await;
    assert_eq!(code, 403, "{html}");
    assert!(html.contains("outside what"), "{html}");

    // The province's approver approves: recorded, with the note, shown as text.
    let (code, html, _) = post(APPROVER, "duyet", "04").await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("Đã duyệt và gửi lên: Báo cáo thống kê hộ tịch (BC-HT) Tháng 10/2026"),
        "{html}"
    );
    assert!(
        html.contains("Tình trạng: <span class=\"st-approved\">đã duyệt</span>"),
        "{html}"
    );
    assert!(
        html.contains("Nguyễn Văn An (token &quot;ubnd-cao-bang-duyet&quot;)"),
        "{html}"
    );
    assert!(
        html.contains("Số liệu đã đối chiếu &lt;b&gt;đủ&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains(APPROVER));
    let (_, history) = server
        .get(&format!(
            "/api/approvals?regime=BC-HT&unit=04&period=2026-10&token={WALL}"
        ))
        .await;
    assert_eq!(history["state"], "approved", "{history}");
    assert_eq!(history["approvals"].as_array().unwrap().len(), 1);
    // One level up, the nation's report lists Cao Bằng approved, when and by whom.
    let (code, html, _) = post(WALL, "xem", "").await;
    assert_eq!(code, 200, "{html}");
    let row = html
        .split("<tr>")
        .find(|r| r.contains(">04</a>"))
        .expect("Cao Bằng's row");
    let today = dieuhanh_server::ingest::today_in_vietnam().to_string();
    assert!(
        row.contains("đã duyệt")
            && row.contains(&format!("<td>{today} "))
            && row.contains(" · Nguyễn Văn An (token"),
        "{row}"
    );

    // The browser keeps a token once accepted, and goes from the province to a commune by its
    // link without typing it again; a refused token is not kept, a forged one not used.
    let (_, _, refused) = post("not-a-token-at-all", "xem", "04").await;
    assert_eq!(refused, None);
    let (code, _, kept) = post(WALL, "xem", "04").await;
    assert_eq!(code, 200);
    let kept = kept.expect("the token is kept");
    assert!(
        kept.contains("HttpOnly") && kept.contains("SameSite=Strict"),
        "{kept}"
    );
    assert!(!kept.contains(WALL), "kept encoded, not as typed: {kept}");
    assert!(!kept.contains("Secure"), "plain HTTP: {kept}");
    // Behind a proxy that speaks HTTPS to the browser, the cookie never travels in clear.
    let r = server
        .client
        .post(server.url("/duyet-bao-cao"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", WALL), ("regime", "BC-HT"), ("period", "2026-10")])
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&r).unwrap().ends_with("; Secure"));
    let pair = kept.split(';').next().unwrap().to_owned();
    let commune = format!("/duyet-bao-cao?regime=BC-HT&unit={c1}&period=2026-10");
    let (code, html) = page_with(&server, &commune, Some(&pair)).await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("· Tháng 10/2026 · ") && html.contains(&format!("({c1})</h2>")),
        "{html}"
    );
    assert!(
        html.contains("Tình trạng: <span class=\"st-awaiting_approval\">chờ duyệt</span>"),
        "{html}"
    );
    assert!(
        html.contains("Đang dùng mã truy cập “tuong” (màn hình)"),
        "{html}"
    );
    assert_eq!(
        read_form(&html).fields[0].0,
        "token",
        "another token may still be typed"
    );
    let (_, html) = page_with(&server, &commune, Some("dieuhanh_token=6e6f7065")).await;
    assert!(
        !html.contains("Tình trạng:") && !html.contains("Đang dùng"),
        "{html}"
    );
    // An approver's own reports, latest periods first: the province's civil registration of
    // the month just ended (a commune has just sent a value) waits for this approver.
    let today = dieuhanh_server::ingest::today_in_vietnam();
    let month = dieuhanh_protocol::period::Period::containing(
        dieuhanh_protocol::period::Frequency::Month,
        today.year,
        today.month,
    )
    .previous();
    let csv = format!(
        "Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{c2};{};XH02;3\n",
        month.label_vi()
    );
    let r = server
        .client
        .post(server.url("/api/uploads?filename=ho-tich-moi.csv"))
        .header("content-type", "text/csv")
        .header("authorization", format!("Bearer {REPORTER}"))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let as_approver = format!("dieuhanh_token={}", hex::encode(APPROVER));
    let (code, html) = page_with(&server, "/duyet-bao-cao", Some(&as_approver)).await;
    assert_eq!(code, 200);
    let at = html
        .find("Báo cáo của đơn vị · kỳ gần nhất")
        .unwrap_or_else(|| panic!("{html}"));
    let row = &html[html[at..].find("<tbody><tr>").unwrap() + at..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!(
            "href=\"/duyet-bao-cao?regime=BC-HT&amp;unit=04&amp;period={}\"",
            month.id()
        )),
        "the report waiting for approval first: {row}"
    );
    assert!(
        row.contains(&format!("<td>{}</td>", month.label_vi())),
        "{row}"
    );
    // October was approved above: while it is the month just ended, the new value reopens it.
    let state = if month.id() == "2026-10" {
        ">có số liệu mới sau khi duyệt</td>"
    } else {
        ">chờ duyệt</td>"
    };
    assert!(row.contains(state), "{row}");
    assert!(row.contains(&format!(">0/{n}</td>")), "{row}");
    let (_, html) = page_with(&server, "/duyet-bao-cao", Some(&pair)).await;
    assert!(
        !html.contains("Báo cáo của đơn vị"),
        "a wall's token has none"
    );
    // Signing out forgets it.
    let r = server
        .client
        .post(server.url("/thoat"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(set_cookie(&r).unwrap().contains("Max-Age=0"));
}

fn set_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn page_with(server: &TestServer, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut r = server.client.get(server.url(path));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

const PRESENTER: &str = "presenter-token-0123456789";

/// A wall joined to a room over `/live`, reading the room's control messages.
async fn wall_in(server: &TestServer, room: &str) -> WallWs {
    let url = format!("ws://{}/live?token={WALL}", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let scenes = [
        ("tong-quan", "Tổng quan kinh tế – xã hội"),
        ("dia-phuong", "Địa phương"),
    ]
    .map(|(name, title)| SceneInfo {
        name: name.into(),
        title: title.into(),
    })
    .to_vec();
    let join = serde_json::to_string(&ClientMessage::Join {
        room: room.into(),
        scenes,
    })
    .unwrap();
    ws.send(Message::text(join)).await.unwrap();
    // In the hub before anyone steers: the room is then one walls have joined.
    for _ in 0..100 {
        if server.state.live.room_names().iter().any(|r| r == room) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    WallWs(ws)
}

struct WallWs(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl WallWs {
    /// The next room state the wall is told to apply.
    async fn control(&mut self) -> RoomState {
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), self.0.next())
                .await
                .expect("a message within 10 s")
                .expect("the connection stays")
                .unwrap();
            if let Message::Text(t) = msg
                && let ServerMessage::Control { state, .. } =
                    serde_json::from_str(t.as_str()).unwrap()
            {
                return state;
            }
        }
    }
}

#[tokio::test]
async fn a_presenter_steers_every_wall_of_a_room_from_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let auth = Auth::with(
        &[
            ("tuong", WALL, Role::Wall),
            ("dieu-khien", PRESENTER, Role::Presenter),
        ],
        &[],
    );
    let live = LiveConfig {
        auth,
        ..LiveConfig::default()
    };
    let server = TestServer::start_live(store, dir.path(), 64 << 20, live).await;
    let mut wall = wall_in(&server, "phong-hop").await;

    let (code, html) = page(&server, "/dieu-khien").await;
    assert_eq!(code, 200);
    let form = read_form(&html);
    assert_eq!(form.action, "/dieu-khien");
    assert!(
        !html.contains("phong-hop"),
        "rooms are for token holders: {html}"
    );
    assert!(
        html.contains("<option value=\"79\">Thành phố Hồ Chí Minh</option>"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"BTC\">Bộ Tài chính</option>"),
        "{html}"
    );

    let post = |fields: Vec<(&'static str, &'static str)>| {
        let req = server.client.post(server.url("/dieu-khien")).form(&fields);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let steer = vec![
        ("room", "phong-hop"),
        ("scene", "dia-phuong"),
        ("focus", "79"),
        ("agency", "BTC"),
        ("period", "Tháng 9/2026"),
        ("action", "apply"),
    ];
    // A wall's token, or none: refused, and the walls are not moved.
    let mut as_wall = steer.clone();
    as_wall.push(("token", WALL));
    let (code, html) = post(as_wall).await;
    assert_eq!(code, 403, "{html}");
    assert!(html.contains("presenter's token"), "{html}");
    let (code, _) = post(steer.clone()).await;
    assert_eq!(code, 401);
    assert!(server.state.live.room_state("phong-hop").is_none());
    // A unit that does not exist: refused with the field named.
    let (code, html) = post(vec![
        ("token", PRESENTER),
        ("room", "phong-hop"),
        ("focus", "99x"),
    ])
    .await;
    assert_eq!(code, 400, "{html}");
    assert!(html.contains("focus_unit"), "{html}");

    // The presenter's change reaches the wall, and the page says what the room shows.
    let mut as_presenter = steer.clone();
    as_presenter.push(("token", PRESENTER));
    let (code, html) = post(as_presenter).await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("Đã chuyển. Phòng phong-hop · cảnh: dia-phuong · địa bàn: Thành phố Hồ Chí Minh (79) · bộ, ngành: Bộ Tài chính (BTC) · kỳ: Tháng 9/2026"),
        "{html}"
    );
    assert!(!html.contains("Lưu ý"), "{html}");
    // The room is offered to a browser that keeps a presenter's token, with what it shows.
    let kept = format!("dieuhanh_token={}", hex::encode(PRESENTER));
    let (code, html) = page_with(&server, "/dieu-khien", Some(&kept)).await;
    assert_eq!(code, 200);
    assert!(html.contains("value=\"phong-hop\""), "{html}");
    assert!(
        html.contains("Đang hiển thị: </strong>Phòng phong-hop · cảnh: dia-phuong"),
        "{html}"
    );
    // The scenes the wall named on joining are offered by title, the one shown chosen.
    assert!(
        html.contains(
            "<option value=\"tong-quan\">Tổng quan kinh tế – xã hội (tong-quan)</option>"
        ),
        "{html}"
    );
    let state = wall.control().await;
    assert_eq!(state.scene.as_deref(), Some("dia-phuong"));
    assert_eq!(state.focus_unit.as_deref(), Some("79"));
    assert_eq!(state.agency.as_deref(), Some("BTC"));
    assert_eq!(state.period.map(|p| p.id()), Some("2026-09".into()));
    // With the token kept, the field left empty (a browser posts it as ""): steered.
    let r = server
        .client
        .post(server.url("/dieu-khien"))
        .header("cookie", &kept)
        .form(&[("token", ""), ("room", "phong-hop"), ("scene", "tong-quan")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    assert_eq!(wall.control().await.scene.as_deref(), Some("tong-quan"));

    // Clearing the ministry keeps the rest; "back to the layout" clears everything.
    let (code, _) = post(vec![
        ("token", PRESENTER),
        ("room", "phong-hop"),
        ("clear_agency", "1"),
        ("action", "apply"),
    ])
    .await;
    assert_eq!(code, 200);
    let state = wall.control().await;
    assert_eq!(
        (state.agency, state.focus_unit.as_deref()),
        (None, Some("79"))
    );
    let (code, _) = post(vec![
        ("token", PRESENTER),
        ("room", "phong-hop"),
        ("action", "reset"),
    ])
    .await;
    assert_eq!(code, 200);
    assert_eq!(wall.control().await, RoomState::default());

    // A room no wall has joined is steered, and the page says so.
    let (code, html) = post(vec![
        ("token", PRESENTER),
        ("room", "phong-hopp"),
        ("scene", "x"),
    ])
    .await;
    assert_eq!(code, 200);
    assert!(
        html.contains("chưa có màn hình nào vào phòng “phong-hopp”"),
        "{html}"
    );
}
