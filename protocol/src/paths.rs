//! Where the checkout's folders are, for the server, the wall and the tests alike.

use std::path::PathBuf;

/// A folder of the checkout: `$var` if set (the scripts set it), else `relative` to the crate
/// cargo is running (`cargo run`/`cargo test` set CARGO_MANIFEST_DIR), else to the crate that
/// was compiled. Run-time paths come first: a target dir shared by two checkouts keeps the
/// binary of the one that built it (cargo compares mtimes, not paths), so the compiled-in path
/// can be another clone's. Every crate of the workspace sits one folder below the root.
pub fn checkout_dir(var: &str, relative: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.join(relative)
}
