//! Snapshot files: the server's snapshot messages saved as JSON, so a technician previews a layout
//! with nothing else running (`assets/snapshots/demo.json`), a report exports a frozen scene, and
//! golden-image tests render fixed data.

use std::path::{Path, PathBuf};

use dieuhanh_protocol::live::ServerMessage;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::{Feed, WallData};

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotFile {
    /// When the data was taken (ms since 1970, UTC).
    pub taken_at_ms: i64,
    /// Where it came from (server URL), for people reading the file.
    pub source: String,
    /// Snapshot messages as the server sent them.
    pub messages: Vec<ServerMessage>,
}

impl SnapshotFile {
    /// Drops cells, units and indicators an earlier message already carries: the wall merges
    /// every snapshot into one store, and views overlap a lot (a 133-view file shrinks ~4×).
    pub fn dedupe(&mut self) {
        use std::collections::HashSet;
        let mut cells = HashSet::new();
        let mut units = HashSet::new();
        let mut indicators = HashSet::new();
        for m in &mut self.messages {
            if let ServerMessage::Snapshot {
                cells: c,
                units: u,
                indicators: i,
                ..
            } = m
            {
                c.retain(|c| cells.insert((c.i.clone(), c.u.clone(), c.p)));
                u.retain(|u| units.insert(u.code.clone()));
                i.retain(|i| indicators.insert(i.code.clone()));
            }
        }
    }
}

/// Why a snapshot file cannot be used.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The file cannot be read or written.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not a snapshot.
    #[error(
        "{path}: not a dieuhanh snapshot file ({error}); make one with `dieuhanh-wall snapshot \
         LAYOUT --server URL --out FILE`"
    )]
    Format {
        path: PathBuf,
        error: serde_json::Error,
    },
}

/// The demo snapshot shipped in `assets/` (gzip: the JSON is ~4 MB, compressed ~0.7 MB).
pub fn demo_path(assets: &Path) -> PathBuf {
    assets.join("snapshots").join("demo.json.gz")
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Reads a snapshot file (`.json`, or `.json.gz` compressed).
pub fn read(path: &Path) -> Result<SnapshotFile, SnapshotError> {
    let io = |error| SnapshotError::Io {
        path: path.to_owned(),
        error,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let text = if is_gz(path) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
            .map_err(io)?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&text).map_err(|error| SnapshotError::Format {
        path: path.to_owned(),
        error,
    })
}

/// Writes a snapshot file, compressed when the name ends in `.gz`.
pub fn write(path: &Path, file: &SnapshotFile) -> Result<(), SnapshotError> {
    let io = |error| SnapshotError::Io {
        path: path.to_owned(),
        error,
    };
    let mut out = Vec::new();
    // One message per line: diffs of a regenerated file stay readable.
    out.extend_from_slice(
        format!(
            "{{\"taken_at_ms\":{},\"source\":{},\"messages\":[\n",
            file.taken_at_ms,
            serde_json::to_string(&file.source).unwrap_or_default()
        )
        .as_bytes(),
    );
    for (i, m) in file.messages.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut out, m).map_err(|e| io(std::io::Error::other(e)))?;
    }
    out.extend_from_slice(b"\n]}\n");
    if is_gz(path) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &out).map_err(io)?;
        out = enc.finish().map_err(io)?;
    }
    std::fs::write(path, out).map_err(io)
}

/// The wall's data from a snapshot file (marked as a file, never live).
pub fn load(path: &Path) -> Result<WallData, SnapshotError> {
    let file = read(path)?;
    let mut data = WallData::default();
    for m in &file.messages {
        data.apply(m, file.taken_at_ms);
    }
    data.feed = Feed::File {
        taken_at_ms: file.taken_at_ms,
    };
    Ok(data)
}
