//! Change events published inside the server after each accepted upload: the new data version,
//! the submission, when it was accepted, and the served cells that changed (or, for very large
//! uploads, only their number — subscribers then take a fresh snapshot). The live push (issue 3)
//! subscribes here; nothing is published for rejected, unchanged or duplicate uploads.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::aggregate::{CellChange, Changes};

/// One accepted change of the data.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub version: i64,
    pub submission: i64,
    /// When the upload was committed.
    pub accepted_at: SystemTime,
    /// Number of served values that changed.
    pub count: usize,
    /// The changed values, unless there were too many to list.
    pub cells: Option<Arc<Vec<CellChange>>>,
}

impl ChangeEvent {
    pub fn new(
        version: i64,
        submission: i64,
        accepted_at: SystemTime,
        count: usize,
        cells: Option<Vec<CellChange>>,
    ) -> ChangeEvent {
        ChangeEvent {
            version,
            submission,
            accepted_at,
            count,
            cells: cells.map(Arc::new),
        }
    }
}

/// The in-process bus. Bounded: a subscriber that falls behind gets `Lagged` and must resync.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Arc<ChangeEvent>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new(256)
    }
}

impl Events {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.tx.subscribe()
    }

    /// Publishes a committed change; having no subscriber is fine.
    pub fn publish(
        &self,
        version: i64,
        submission: i64,
        accepted_at: SystemTime,
        changes: Changes,
    ) {
        let event = ChangeEvent::new(
            version,
            submission,
            accepted_at,
            changes.count,
            changes.cells,
        );
        tracing::debug!(version, submission, cells = event.count, "change published");
        let _ = self.tx.send(Arc::new(event));
    }
}
