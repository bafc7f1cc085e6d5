//! The command line a technician uses: `--help` names every command; the demo written as CSV
//! files imports cleanly through the same validation as uploads, and gives exactly the data
//! the demo loads directly.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::process::Command;

use dieuhanh_tests::server_bin;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(server_bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_names_every_command() {
    let (ok, out, _) = run(&["--help"]);
    assert!(ok);
    for cmd in ["serve", "import", "watch", "present", "demo-data"] {
        assert!(out.contains(cmd), "{out}");
    }
    let (ok, out, _) = run(&["import", "--help"]);
    assert!(ok);
    assert!(
        out.contains("--period") && out.contains("--locale"),
        "{out}"
    );
}

#[test]
fn demo_csv_files_import_to_the_same_data_as_the_direct_demo_load() {
    let dir = tempfile::tempdir().unwrap();
    let csv_dir = dir.path().join("csv");
    let range = ["--seed", "3", "--from", "2025-05", "--to", "2025-08"];
    let mut args = vec!["demo-data", "--csv-dir", csv_dir.to_str().unwrap()];
    args.extend(range);
    let (ok, out, err) = run(&args);
    assert!(ok, "{out}{err}");

    let imported = dir.path().join("imported.duckdb");
    let mut files: Vec<String> = std::fs::read_dir(&csv_dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut args = vec!["import", "--db", imported.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = run(&args);
    assert!(ok, "import failed:\n{out}\n{err}");

    let direct = dir.path().join("direct.duckdb");
    let mut args = vec!["demo-data", "--db", direct.to_str().unwrap()];
    args.extend(range);
    let (ok, out, err) = run(&args);
    assert!(ok, "{out}{err}");

    // Both files, opened as the server opens them, serve the same values.
    let totals = |db: &std::path::Path| {
        let store = dieuhanh_server::open_store(
            db,
            &dieuhanh_server::assets_dir(),
            &dieuhanh_tests::test_options(),
        )
        .unwrap();
        let mut sums: std::collections::BTreeMap<(String, String), (usize, f64)> =
            Default::default();
        store.serving().for_each(|ind, p, _, cell| {
            let e = sums.entry((ind.to_owned(), p.id())).or_default();
            e.0 += 1;
            e.1 += cell.value;
        });
        sums.into_iter()
            .map(|((i, p), (n, v))| (i, p, n, v))
            .collect::<Vec<_>>()
    };
    let (a, b) = (totals(&imported), totals(&direct));
    assert!(a.len() > 100);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let same = x.0 == y.0 && x.1 == y.1 && x.2 == y.2;
        let close = (x.3 - y.3).abs() <= 1e-9 * x.3.abs().max(1.0);
        assert!(same && close, "imported {x:?} vs direct {y:?}");
    }
}

#[test]
fn a_reporter_token_naming_a_unit_not_in_force_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("tokens.toml");
    // 74 was Bình Dương, merged into Hồ Chí Minh (79) in 2025.
    std::fs::write(
        &auth,
        "[[token]]\nname = \"so-tc-binh-duong\"\nvalue = \"reporter-token-0123456789\"\n\
         role = \"reporter\"\nunit = \"74\"\n",
    )
    .unwrap();
    let db = dir.path().join("d.duckdb");
    let (ok, _, err) = run(&[
        "serve",
        "--db",
        db.to_str().unwrap(),
        "--auth",
        auth.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!ok);
    assert!(
        err.contains("token \"so-tc-binh-duong\": unit \"74\" is not a unit in force"),
        "{err}"
    );
    assert!(err.contains("tokens.toml"), "the file is named: {err}");
}
