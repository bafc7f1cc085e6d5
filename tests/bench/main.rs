//! `dieuhanh-bench`: dieuhanh against peers, in one run, printed as tables of figures and ratios
//! (started by `scripts/bench`, which runs PostgreSQL and installs the Node.js peer).
//!
//! - `ingest`: ingest of a generated CSV and drill-down latency at that volume, against
//!   PostgreSQL (`ingest.rs`).
//! - `live`: update-to-client latency and memory per idle connection of the live push for
//!   100, 1,000 and 5,000 WebSocket clients, against a Node.js `ws` broadcast server
//!   (`live.rs`, `node-peer/`), and against the transport floor: the same frame written to
//!   every socket, nothing else (`live-floor`, `floor.rs`, started by `live`).

#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

mod floor;
mod ingest;
mod live;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Ingest and drill-down, against PostgreSQL.
    Ingest(ingest::Args),
    /// Live push latency and memory per connection, against a Node.js `ws` server.
    Live(live::Args),
    /// The transport floor `live` compares with (started by `live`, pinned like the servers).
    LiveFloor(floor::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().bench {
        Bench::Ingest(args) => ingest::run(&args),
        Bench::Live(args) => live::run(&args),
        Bench::LiveFloor(args) => floor::run(&args),
    }
}
