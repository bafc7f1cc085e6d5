//! The server as a child process on a real file: data survives a restart, and a server killed
//! with SIGKILL in the middle of an upload comes back with every acknowledged upload complete
//! and the interrupted one absent; a write that panics inside its transaction does not block
//! the next.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::time::{Duration, Instant};

use dieuhanh_server::hierarchy::{Era, Level};
use dieuhanh_tests::{ServerProcess, open_store, upload_to};

fn post_blocking(
    addr: std::net::SocketAddr,
    query: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { upload_to(&reqwest::Client::new(), addr, query, "text/csv", body).await })
}

fn get_blocking(addr: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn small_upload(month: u32, value: u32) -> Vec<u8> {
    format!("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n79;Tháng {month}/2025;VM02;{value}\n01;Tháng {month}/2025;VM02;{value}\n")
        .into_bytes()
}

#[test]
fn accepted_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bền.duckdb");
    let server = ServerProcess::start(&db, &[]);
    let (status, report) = post_blocking(server.addr, "filename=t8.csv", small_upload(8, 4100));
    assert_eq!(status, 200, "{report}");
    server.stop();

    let server = ServerProcess::start(&db, &[]);
    let f = get_blocking(
        server.addr,
        "/api/figure?indicator=VM02&unit=VN&period=2025-08",
    );
    assert_eq!(f["value"], 8200.0, "{f}");
    let health = get_blocking(server.addr, "/api/health");
    assert_eq!(health["version"], 1);
    // And re-sending after the restart is still recognised.
    let (_, again) = post_blocking(server.addr, "filename=t8.csv", small_upload(8, 4100));
    assert_eq!(again["status"], "duplicate");
}

/// A large, valid upload: four monthly figures (births among them) of every 2024 commune over
/// `months` months from January 2020 (at most 66: the 2024 communes end in June 2025).
fn big_upload(months: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let h = store.hierarchy();
    let communes: Vec<String> = h
        .at_level(Level::Commune, Era::Before2025)
        .map(|u| u.code.clone())
        .collect();
    let mut out = String::from("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n");
    for m in 0..months {
        let (y, mo) = (2020 + m / 12, m % 12 + 1);
        for (i, c) in communes.iter().enumerate() {
            for ind in ["XH02", "XH03", "XH04", "HC01"] {
                out.push_str(&format!(
                    "{c};{y}-{mo:02};{ind};{}\n",
                    10 + (i as u32 + m) % 90
                ));
            }
        }
    }
    out.into_bytes()
}

#[test]
fn sigkill_during_an_upload_keeps_acknowledged_uploads_and_drops_the_interrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.duckdb");
    // ~2.4 M values: read, validated, stored and re-aggregated in about a second here, so the
    // kill, 300 ms after the body is spooled, lands in the middle. (An upload of 600,000 values
    // once took that long; as the reader got faster it sometimes committed inside the 300 ms.)
    // Should the upload end before the kill, the test fails, it does not pass.
    let big = big_upload(60);
    let server = ServerProcess::start(&db, &[]);
    let addr = server.addr;
    for month in 1..=5 {
        let (status, r) = post_blocking(addr, "", small_upload(month, 1000 + month));
        assert_eq!(
            (status, r["status"].as_str()),
            (200, Some("accepted")),
            "{r}"
        );
    }

    let sender = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            reqwest::Client::new()
                .post(format!("http://{addr}/api/uploads?filename=big.csv"))
                .header("content-type", "text/csv")
                .body(big)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    });
    // Kill once the server has the whole body and is validating and committing it.
    let start = Instant::now();
    let spooled = |log: &str| {
        log.lines()
            .any(|l| l.contains("big.csv") && l.contains("body spooled"))
    };
    while !spooled(&server.log_text()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "upload never arrived; log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The log read after the kill: all the dead server wrote.
    let log = server.kill9();
    assert!(
        !log.lines()
            .any(|l| l.contains("big.csv") && l.contains("upload done")),
        "the big upload finished before the kill; make it larger. Log:\n{log}"
    );
    let answer = sender.join().unwrap();
    assert!(
        answer.is_err(),
        "the big upload was answered ({answer:?}) before the kill; log:\n{log}"
    );

    let server = ServerProcess::start(&db, &[]);
    for month in 1..=5u32 {
        let f = get_blocking(
            server.addr,
            &format!("/api/figure?indicator=VM02&unit=VN&period=2025-{month:02}"),
        );
        assert_eq!(
            f["value"],
            f64::from(2 * (1000 + month)),
            "upload {month}: {f}"
        );
    }
    let health = get_blocking(server.addr, "/api/health");
    assert_eq!(health["version"], 5, "only the five acknowledged uploads");
    let births = get_blocking(
        server.addr,
        "/api/figure?indicator=XH02&unit=VN&period=2020-01",
    );
    assert!(
        births["value"].is_null(),
        "nothing of the interrupted upload: {births}"
    );
    server.stop();
    // Directly in the file: no submission and no observation from it.
    let conn = duckdb::Connection::open(&db).unwrap();
    let (subs, obs): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM submissions), (SELECT count(*) FROM observations)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((subs, obs), (5, 10));
}

/// A write that panics inside its transaction (as a library might on odd input) loses only
/// itself: the next upload begins, commits and is served, and nothing of the interrupted one
/// is stored.
#[tokio::test]
async fn a_write_that_panics_mid_transaction_does_not_block_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let panicked = store
        .write(
            |c: &mut duckdb::Connection| -> Result<(), dieuhanh_server::store::StoreError> {
                c.execute_batch(
                    "BEGIN TRANSACTION; CREATE TABLE half_done (x INTEGER); \
                 INSERT INTO half_done VALUES (1);",
                )
                .unwrap();
                panic!("a library failed mid-write");
            },
        )
        .await;
    assert!(panicked.is_err());
    let server = dieuhanh_tests::TestServer::start(store, dir.path()).await;
    let (status, report) = server
        .upload("filename=sau.csv", "text/csv", small_upload(3, 42))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "accepted", "{report}");
    let gone = server
        .state
        .store
        .read(
            |c: &duckdb::Connection| -> Result<i64, dieuhanh_server::store::StoreError> {
                Ok(c.query_row(
                    "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_done'",
                    [],
                    |r| r.get(0),
                )
                .unwrap())
            },
        )
        .await
        .unwrap();
    assert_eq!(gone, 0, "the interrupted write's table is not there");
}
