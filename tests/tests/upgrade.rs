//! Databases written by earlier servers (schema version 2: facts stored as texts, a
//! `current_obs` table; version 3: each value as eight numbers in one table) open with this
//! one: upgraded in place to slabs and values with nothing lost — current values, revisions
//! and where each came from — and then take new revisions.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use dieuhanh_protocol::period::{CivilDate, Period};
use dieuhanh_server::hierarchy::{Era, Level};
use dieuhanh_server::ingest::{self, Format, UploadOptions};
use dieuhanh_server::query::{self, ValueRef};

/// The schema-2 tables exactly as that server created them.
const SCHEMA_V2: &str = include_str!("fixtures/schema-v2.sql");
/// The schema-3 tables and views exactly as that server created them.
const SCHEMA_V3: &str = include_str!("fixtures/schema-v3.sql");

/// The numbers of the 2025 provinces 79 (Hồ Chí Minh) and 01 (Hà Nội).
fn provinces() -> (u32, u32) {
    let assets = dieuhanh_server::assets_dir();
    let h = dieuhanh_server::hierarchy::Hierarchy::load(&assets).unwrap();
    let uid = |code| {
        h.resolve(Era::Since2025, &[Level::Province], code)
            .unwrap()
            .uid
    };
    (uid("79"), uid("01"))
}

#[test]
fn a_schema_2_file_is_upgraded_with_its_history_and_takes_new_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("test.duckdb");
    let (hcm, hn) = provinces();
    {
        let c = duckdb::Connection::open(&db).unwrap();
        c.execute_batch(SCHEMA_V2).unwrap();
        c.execute_batch(&format!(
            "INSERT INTO meta VALUES ('schema_version', '2'), ('data_version', '2');
             INSERT INTO submissions VALUES
                 (1, 1, TIMESTAMP '2025-09-05 02:00:00', 'csv', 't8.csv', 'a', 'tinh', 'vi-VN', 3, 3, 0, 0, 0),
                 (2, 2, TIMESTAMP '2025-09-09 02:00:00', 'csv', 't8-sua.csv', 'b', 'tinh', 'vi-VN', 1, 0, 1, 0, 0);
             INSERT INTO observations VALUES
                 ('VM02', {hcm}, '2025-08', '', 100, 1, 1, 2, 'Giá trị'),
                 ('VM02', {hn}, '2025-08', '', 70, 1, 1, 3, 'Giá trị'),
                 ('VM02', {hcm}, '2025-08', 'gioi_tinh=nu', 40, 1, 1, 4, 'Giá trị'),
                 ('VM02', {hcm}, '2025-08', '', 120, 2, 2, 2, 'Giá trị');
             INSERT INTO current_obs VALUES
                 ('VM02', {hcm}, '2025-08', '', 2025, 120, 2, 2),
                 ('VM02', {hn}, '2025-08', '', 2025, 70, 1, 1),
                 ('VM02', {hcm}, '2025-08', 'gioi_tinh=nu', 2025, 40, 1, 1);"
        ))
        .unwrap();
    }
    upgraded_file_keeps_its_history(dir.path(), hcm, hn);
}

#[test]
fn a_schema_3_file_is_split_into_slabs_with_its_history_and_takes_new_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("test.duckdb");
    let (hcm, hn) = provinces();
    let aug = dieuhanh_server::store::facts::period_no(&Period::Month {
        year: 2025,
        month: 8,
    });
    {
        let c = duckdb::Connection::open(&db).unwrap();
        c.execute_batch(SCHEMA_V3).unwrap();
        // As the schema-3 server left it: indicators numbered in its catalogue's order (VM02
        // is not 0), a disaggregated value, a revision and the value it superseded, and the
        // submission columns the source column numbers name.
        c.execute_batch(&format!(
            "INSERT INTO meta VALUES ('schema_version', '3'), ('data_version', '2');
             INSERT INTO disaggs VALUES (0, ''), (1, 'gioi_tinh=nu');
             INSERT INTO indicator_ids VALUES (0, 'NS01'), (1, 'VM02');
             INSERT INTO submissions VALUES
                 (1, 1, TIMESTAMP '2025-09-05 02:00:00', 'csv', 't8.csv', 'a', 'tinh', 'vi-VN', 3, 3, 0, 0, 0),
                 (2, 2, TIMESTAMP '2025-09-09 02:00:00', 'csv', 't8-sua.csv', 'b', 'tinh', 'vi-VN', 1, 0, 1, 0, 0);
             INSERT INTO submission_columns VALUES (1, 3, 'Giá trị'), (2, 3, 'Giá trị');
             INSERT INTO observations VALUES
                 (1, {hcm}, {aug}, 0, 100, 1, 2, 3),
                 (1, {hcm}, {aug}, 1, 40, 1, 4, 3),
                 (1, {hn}, {aug}, 0, 70, 1, 3, 3),
                 (1, {hcm}, {aug}, 0, 120, 2, 2, 3);
             INSERT INTO superseded VALUES (1, {hcm}, {aug}, 0, 1, 2);"
        ))
        .unwrap();
    }
    upgraded_file_keeps_its_history(dir.path(), hcm, hn);
}

/// Opens the upgraded file in `dir` (a store of `hcm` 100 then 120, `hn` 70 and `hcm`'s
/// disaggregated 40, for August 2025) and checks what it serves; then opens it again and
/// ingests a correction.
fn upgraded_file_keeps_its_history(dir: &std::path::Path, hcm: u32, hn: u32) {
    let store = dieuhanh_tests::open_store(dir);
    let aug = Period::Month {
        year: 2025,
        month: 8,
    };
    let value = |store: &dieuhanh_server::store::Store, uid: u32| {
        store
            .serving()
            .read("VM02", &[uid], &[aug])
            .get(&(uid, aug))
            .map(|c| c.value)
    };
    assert_eq!(
        value(&store, hcm),
        Some(120.0),
        "the current revision is served"
    );
    assert_eq!(value(&store, hn), Some(70.0));
    let provenance = |store: &dieuhanh_server::store::Store| {
        store.write_blocking(|conn| {
            query::provenance(
                conn,
                store.serving(),
                store.catalogue(),
                store.hierarchy(),
                &ValueRef {
                    indicator: "VM02".into(),
                    unit: "79".into(),
                    period: aug,
                    at: CivilDate {
                        year: 2025,
                        month: 8,
                        day: 31,
                    },
                },
            )
            .unwrap()
        })
    };
    let p = provenance(&store);
    let revs: Vec<(i32, f64, bool, Option<String>, i64)> = p
        .revisions
        .iter()
        .map(|r| {
            (
                r.revision,
                r.value,
                r.current,
                r.source_column.clone(),
                r.submission.id,
            )
        })
        .collect();
    assert_eq!(
        revs,
        vec![
            (1, 100.0, false, Some("Giá trị".into()), 1),
            (2, 120.0, true, Some("Giá trị".into()), 2)
        ]
    );
    let (schema, disagg): (String, f64) = store.write_blocking(|c| {
        c.query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'schema_version'),
                    (SELECT value FROM current_values WHERE disagg = 'gioi_tinh=nu')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    assert_eq!((schema.as_str(), disagg), ("4", 40.0));
    // One slab per (indicator, period, disaggregation, submission, column): the two values of
    // the total in the first upload share one.
    assert_eq!(rows(&store, "slabs", "history"), (3, 4));
    // The period numbers read back in SQL as the server writes the periods.
    for text in [
        "2025-08", "2025-01", "2025-12", "2025-Q1", "2025-Q4", "2025-H2", "2025", "1999-Q3",
    ] {
        let pid = dieuhanh_server::store::facts::period_no(&Period::parse(text).unwrap());
        let back: String = store.write_blocking(|c| {
            c.query_row("SELECT period_text(?)", [pid], |r| r.get(0))
                .unwrap()
        });
        assert_eq!(back, text);
    }
    drop(store);

    // Opened again (already upgraded), then a correction: revision 3 supersedes 2.
    let store = dieuhanh_tests::open_store(dir);
    let csv = dir.join("t8-sua2.csv");
    std::fs::write(
        &csv,
        "Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n79;Tháng 8/2025;VM02;130\n01;Tháng 8/2025;VM02;70\n",
    )
    .unwrap();
    let serving = store.serving().clone();
    let (cat, h) = (store.catalogue().clone(), store.hierarchy().clone());
    let out = store.write_blocking(|conn| {
        ingest::ingest(
            conn,
            ingest::Context {
                cat: &cat,
                h: &h,
                version: 2,
                today: ingest::today_in_vietnam(),
                serving: &serving,
            },
            &UploadOptions {
                format: Format::Csv,
                filename: Some("t8-sua2.csv".into()),
                locale: None,
                period: None,
                unit: None,
                sheet: None,
                submitter: None,
                scope: None,
            },
            ingest::Body {
                path: &csv,
                digest: "c",
            },
        )
        .unwrap()
    });
    let r = &out.report;
    assert_eq!(
        (r.values_new, r.values_revised, r.values_unchanged),
        (0, 1, 1),
        "{r:?}"
    );
    assert_eq!(value(&store, hcm), Some(130.0));
    let p = provenance(&store);
    let current: Vec<(i32, bool)> = p
        .revisions
        .iter()
        .map(|r| (r.revision, r.current))
        .collect();
    assert_eq!(current, vec![(1, false), (2, false), (3, true)]);
    assert_eq!(rows(&store, "superseded", "current_obs"), (2, 3));
}

/// The numbers of rows of two tables or views.
fn rows(store: &dieuhanh_server::store::Store, a: &str, b: &str) -> (i64, i64) {
    store.write_blocking(|c| {
        c.query_row(
            &format!("SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b})"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    })
}
