//! Pages for people, beside the API: a reporter in a commune, province or ministry sends a CSV,
//! Excel or JSON file from a browser and reads what was wrong, row by row, in Vietnamese
//! ([`upload`], `/gui-bao-cao`); an approver sees where a report stands, unit by unit below, and
//! approves it up ([`approve`], `/duyet-bao-cao`); the codes to write in a file are listed
//! ([`catalogue`], `/danh-muc`); a presenter steers a room's walls ([`present`],
//! `/dieu-khien`). Plain HTML forms rendered here, no script:
//! they work in any office browser, and they go through the same ingest, token checks and
//! approval rules as `POST /api/uploads` and `POST /api/approvals`.

mod approve;
mod catalogue;
mod present;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use tower_http::timeout::TimeoutLayer;

use dieuhanh_protocol::period::Period;

use crate::api::{ApiError, AppState};
use crate::live::{Grant, Role};

/// Where the reporters' page is.
pub const UPLOAD_PATH: &str = "/gui-bao-cao";
/// Where the approvers' page is.
pub const APPROVE_PATH: &str = "/duyet-bao-cao";
/// Where the indicators' and units' codes are listed.
pub const CATALOGUE_PATH: &str = "/danh-muc";
/// Where a regime's template (biểu mẫu) is downloaded.
pub const TEMPLATE_PATH: &str = "/danh-muc/bieu-mau";
/// Where a presenter steers a room's walls.
pub const PRESENT_PATH: &str = "/dieu-khien";
/// Where a browser forgets its token.
pub const SIGN_OUT_PATH: &str = "/thoat";

/// The pages' routes. `home` is false when `/` belongs to the conformance echo.
pub fn router(state: &AppState, home: bool) -> Router<AppState> {
    let limits = &state.limits;
    let uploads = Router::new()
        .route(UPLOAD_PATH, get(upload::form).post(upload::submit))
        // The form's file is bounded by the upload limit while it is spooled, as the API's body
        // is; axum's default 2 MB would refuse ordinary workbooks.
        .layer(DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.upload_timeout,
        ));
    let mut r = Router::new()
        .route(APPROVE_PATH, get(approve::form).post(approve::submit))
        .route(CATALOGUE_PATH, get(catalogue::show))
        .route(TEMPLATE_PATH, get(catalogue::template))
        .route(PRESENT_PATH, get(present::form).post(present::submit))
        .route(SIGN_OUT_PATH, axum::routing::post(sign_out))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .merge(uploads);
    if home {
        r = r.route("/", get(home_page));
    }
    r
}

/// An HTML page with its status, and the token to remember in the browser (or forget).
pub(crate) struct Page(StatusCode, Markup, Option<Remember>);

/// What a page's answer does with the browser's cookie.
pub(crate) enum Remember {
    /// The token, and whether the browser came over HTTPS (the cookie then says `Secure`).
    Token(String, bool),
    Forget,
}

impl Page {
    pub(crate) fn new(status: StatusCode, body: Markup) -> Page {
        Page(status, body, None)
    }

    /// Keeps `visitor`'s token in the browser when the server `accepted` it.
    pub(crate) fn remembering(mut self, visitor: &Visitor, accepted: bool) -> Page {
        if accepted
            && let Some(t) = &visitor.token
            && !visitor.open
        {
            self.2 = Some(Remember::Token(t.clone(), visitor.https));
        }
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut res = (self.0, self.1.into_string()).into_response();
        let h = res.headers_mut();
        let cookie = match self.2 {
            // For a working day; only to these pages' own site (SameSite=Strict: another
            // site's page cannot post with it), never readable by a script (HttpOnly). Hex,
            // so any token is a valid cookie value.
            Some(Remember::Token(t, https)) => Some(format!(
                "{COOKIE}={}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict{}",
                hex::encode(t),
                if https { "; Secure" } else { "" }
            )),
            Some(Remember::Forget) => Some(format!(
                "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            )),
            None => None,
        };
        if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::SET_COOKIE, c);
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // Forms carry tokens: no caching, no framing by other sites, no scripts at all, and
        // forms post only here. The referrer stays on this site; not "no-referrer", under
        // which a browser posts a form with `Origin: null`, refused as a foreign origin (the
        // browser test found it).
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        );
        res
    }
}

const CSS: &str = "
body{font-family:'Be Vietnam Pro',system-ui,'Segoe UI',Roboto,Arial,sans-serif;margin:0;
 color:#1b2430;background:#f4f6f9;font-size:17px;line-height:1.5}
header{background:#a51d24;color:#fff;padding:.6rem 1.5rem}
header a{color:#fff;text-decoration:none;margin-right:1.5rem;font-weight:600}
main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.7rem;margin:.8rem 0}h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
form{background:#fff;border:1px solid #d5dbe3;border-radius:6px;padding:1rem 1.2rem}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
label small{font-weight:400;color:#5a6573}
input,select,textarea{font:inherit;padding:.35rem .5rem;width:100%;max-width:34rem;
 box-sizing:border-box;border:1px solid #9aa5b1;border-radius:4px}
button{font:inherit;font-weight:600;margin:1rem .6rem 0 0;padding:.5rem 1.4rem;
 border-radius:4px;border:1px solid #a51d24;background:#a51d24;color:#fff;cursor:pointer}
button.second{background:#fff;color:#a51d24}
form.out{background:none;border:none;padding:0}
label.inline{display:inline;font-weight:400;margin-right:1rem}label.inline input{width:auto}
.box{border-radius:6px;padding:.8rem 1.1rem;margin:1rem 0;border:1px solid}
.ok{background:#e8f5ea;border-color:#4f9a5a}.bad{background:#fdecec;border-color:#c0392b}
.warn{background:#fff6e0;border-color:#d39b16}
table{border-collapse:collapse;background:#fff;width:100%;margin:.5rem 0}
th,td{border:1px solid #d5dbe3;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.st-approved{color:#2e7d32;font-weight:600}.st-not_reported{color:#c0392b;font-weight:600}
.st-awaiting_approval{color:#9a6700;font-weight:600}
.st-changed_since_approval{color:#9a6700;font-weight:600}
.hint{color:#5a6573;font-size:.92rem}
";

/// The frame of every page: the header's links, the title, the body.
pub(crate) fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Điều hành" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    nav {
                        a href="/" { "Hệ thống điều hành" }
                        a href=(UPLOAD_PATH) { "Gửi báo cáo" }
                        a href=(APPROVE_PATH) { "Duyệt báo cáo" }
                        a href=(CATALOGUE_PATH) { "Danh mục" }
                        a href=(PRESENT_PATH) { "Điều khiển màn hình" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

async fn home_page() -> Page {
    Page::new(
        StatusCode::OK,
        page(
            "Hệ thống điều hành",
            html! {
                p { "Số liệu báo cáo và chỉ tiêu kinh tế – xã hội của các bộ, ngành, tỉnh và xã, \
                     tổng hợp theo các cấp hành chính và hiển thị trên màn hình điều hành." }
                h2 { a href=(UPLOAD_PATH) { "Gửi báo cáo" } }
                p { "Gửi tệp CSV, Excel (.xlsx, .xls) hoặc JSON. Hệ thống kiểm tra từng dòng: \
                     tệp có lỗi thì không lưu gì và chỉ ra từng lỗi ở dòng, cột nào, sửa thế nào." }
                h2 { a href=(APPROVE_PATH) { "Duyệt báo cáo" } }
                p { "Xem tình hình báo cáo của đơn vị và các đơn vị cấp dưới, duyệt và gửi báo \
                     cáo lên cấp trên." }
                h2 { a href=(PRESENT_PATH) { "Điều khiển màn hình" } }
                p { "Cho người điều khiển trong phòng họp: chuyển cảnh, chọn tỉnh, bộ ngành hoặc kỳ \
                     cho mọi màn hình của phòng cùng lúc." }
                h2 { a href=(CATALOGUE_PATH) { "Danh mục chỉ tiêu và đơn vị" } }
                p { "Mã và tên các chỉ tiêu, kỳ báo cáo, cấp gửi số liệu; mã các tỉnh và xã." }
                p.hint { "Kết nối hệ thống: " a href="/api/openapi.json" { "tài liệu API (OpenAPI)" } "." }
            },
        ),
    )
}

/// The cookie that keeps a visitor's token between pages.
const COOKIE: &str = "dieuhanh_token";

/// Who is at the browser: the token a form gave, else the one the browser keeps from an
/// earlier page, so that an approver going from a province to its communes types it once.
pub(crate) struct Visitor {
    /// The token to check: the form's, else the remembered one.
    pub token: Option<String>,
    /// Whose token the browser keeps, when it is still valid (the forms say so).
    pub remembered: Option<Grant>,
    /// The server checks no tokens.
    pub open: bool,
    /// The page was asked for over HTTPS (the origin says so, or the proxy in front of the
    /// server does): the kept token then never travels in clear.
    pub https: bool,
}

impl Visitor {
    pub(crate) fn of(state: &AppState, headers: &HeaderMap, typed: Option<String>) -> Visitor {
        let auth = &state.live.config.auth;
        let kept = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .find_map(|v| String::from_utf8(hex::decode(v).ok()?).ok());
        // Checked without the origin: this is what the browser holds, not what it posts.
        let remembered = kept
            .as_deref()
            .and_then(|t| auth.check(&HeaderMap::new(), Some(t)).ok());
        let said = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        // A password field left empty is posted as "": the kept token then holds.
        let typed = typed.filter(|t| !t.trim().is_empty());
        Visitor {
            token: typed.or(kept.filter(|_| remembered.is_some())),
            remembered,
            open: auth.is_open(),
            https: said(header::ORIGIN).starts_with("https://")
                || said(header::HeaderName::from_static("x-forwarded-proto")) == "https",
        }
    }

    /// The visitor once the server `accepted` its token: the forms then say whose it is.
    pub(crate) fn confirmed(mut self, state: &AppState, accepted: bool) -> Visitor {
        if accepted
            && let Some(t) = &self.token
            && let Ok(g) = state.live.config.auth.check(&HeaderMap::new(), Some(t))
        {
            self.remembered = Some(g);
        }
        self
    }

    /// The token's place on a form: a password field, or whose token the browser keeps (a
    /// field left empty keeps using it).
    pub(crate) fn token_field(&self, what: &str) -> Markup {
        html! {
            @if !self.open {
                @match &self.remembered {
                    Some(g) => {
                        p.hint {
                            "Đang dùng mã truy cập “" (g.name) "” (" (role_vi(g.role)) "). "
                            "Để trống ô dưới đây để tiếp tục dùng mã này."
                        }
                        label for="token" { "Mã truy cập khác " small { (what) } }
                        input #token type="password" name="token" autocomplete="current-password";
                    }
                    None => {
                        label for="token" { "Mã truy cập " small { (what) } }
                        input #token type="password" name="token" required autocomplete="current-password";
                    }
                }
            }
        }
    }

    /// A button that makes the browser forget the token.
    pub(crate) fn sign_out(&self) -> Markup {
        html! {
            @if self.remembered.is_some() {
                form.out method="post" action=(SIGN_OUT_PATH) {
                    button.second type="submit" { "Thoát (quên mã truy cập)" }
                }
            }
        }
    }
}

fn role_vi(role: Role) -> &'static str {
    match role {
        Role::Wall => "màn hình",
        Role::Presenter => "người điều khiển",
        Role::Reporter => "người báo cáo",
        Role::Approver => "người duyệt",
    }
}

async fn sign_out() -> Page {
    let body = html! {
        div.box.ok role="status" { "Trình duyệt đã quên mã truy cập." }
        p { a href="/" { "Về trang chủ" } }
    };
    Page(StatusCode::OK, page("Thoát", body), Some(Remember::Forget))
}

/// A browser posts a page's form with an `Origin` header: the pages' own origin (the host the
/// browser asked for) is let through, and any other goes to the auth file's list, as for the
/// API, so another site cannot post these forms with a visitor's browser.
pub(crate) fn own_origin_removed(headers: &HeaderMap) -> HeaderMap {
    let mut h = headers.clone();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let (Some(host), Some(origin)) = (host, origin) {
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if bare == Some(host) {
            h.remove(header::ORIGIN);
        }
    }
    h
}

/// A refusal on a page: what went wrong in Vietnamese first, the server's own words after.
pub(crate) fn refusal(lead: &str, e: &ApiError) -> Markup {
    let what = match e {
        ApiError::Unauthorized(_) => {
            "Cần mã truy cập (token) hợp lệ. Xin mã của mình từ cán bộ kỹ thuật của hệ thống."
        }
        ApiError::Forbidden(_) => "Mã truy cập này không có quyền làm việc này.",
        ApiError::TooLarge(_) => {
            "Tệp quá lớn: chia thành nhiều tệp nhỏ hơn (theo kỳ hoặc theo tỉnh) rồi gửi từng tệp."
        }
        ApiError::Unsupported(_) => {
            "Không nhận ra loại tệp: chọn tệp .csv, .xlsx, .xls hoặc .json."
        }
        ApiError::NotFound(_) => "Không tìm thấy điều được hỏi.",
        ApiError::Conflict(_) => "Chưa làm được với tình trạng hiện tại.",
        ApiError::BadRequest(_) => "Thông tin gửi lên chưa đúng.",
        ApiError::Internal(_) => "Máy chủ gặp lỗi; lỗi đã được ghi vào nhật ký của máy chủ.",
    };
    html! {
        div.box.bad role="alert" {
            strong { (lead) } " " (what)
            br;
            span.hint { (e.public_message()) }
        }
    }
}

/// "1.234.567": counts as Vietnamese write them.
pub(crate) fn count(n: impl Into<u64>) -> String {
    dieuhanh_protocol::number::format_vi(n.into() as f64, 0)
}

/// "30/11/2026 14:05", Vietnam's time, from a stored UTC stamp ("2026-11-30T07:05:00Z").
pub(crate) fn vietnam_time(utc: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%SZ").map_or_else(
        |_| utc.to_owned(),
        |t| crate::text::vietnam_time(t.and_utc().timestamp_millis(), "%d/%m/%Y %H:%M"),
    )
}

/// Reads a short text field of a form, refusing more than a few KiB (a name, a code, a note).
pub(crate) fn bounded(name: &str, text: String) -> Result<Option<String>, ApiError> {
    if text.len() > 4096 {
        return Err(ApiError::BadRequest(format!(
            "field {name} is longer than 4 KiB"
        )));
    }
    let t = text.trim();
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

/// The latest period of `frequency` that has ended in Vietnam: the one being reported now.
pub(crate) fn latest_ended(frequency: dieuhanh_protocol::period::Frequency) -> Period {
    let today = crate::ingest::today_in_vietnam();
    Period::containing(frequency, today.year, today.month).previous()
}

/// A form field as [`bounded`] reads it, when the form has it.
pub(crate) fn field(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    v.map(|v| bounded(name, v)).transpose().map(Option::flatten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_own_origin_passes_and_another_does_not() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.5:8080"),
        );
        assert!(own_origin_removed(&h).get(header::ORIGIN).is_none());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(own_origin_removed(&h).get(header::ORIGIN).is_some());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://10.0.0.5:8081"),
        );
        assert!(own_origin_removed(&h).get(header::ORIGIN).is_some());
    }

    #[test]
    fn times_are_shown_in_vietnam() {
        assert_eq!(vietnam_time("2026-11-30T20:05:00Z"), "01/12/2026 03:05");
        assert_eq!(count(1_234_567u64), "1.234.567");
    }
}
