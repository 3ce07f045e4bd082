//! `make bench`: drover against the API server's own write floor, on private real control
//! planes. Prints the figures beside their targets and writes `target/bench/report.json`.
//!
//! The benchmark is a program of its own, not part of the test harness library: it uses the
//! harness (control planes, fixtures), and `tests/bench_small.rs` runs it at a small size.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
mod apiserver;
mod child;
mod floor;
mod heap;
mod latency;
mod objects;
mod observe;
mod report;
mod run;
mod workloads;

use run::Options;
use workloads::Workload;

/// Benchmarks drover against the write floor of the API server.
#[derive(Parser)]
#[command(name = "bench")]
struct Cli {
    /// N: clusters of the imported and provisioning workloads.
    #[arg(long, default_value_t = 10_000)]
    clusters: usize,
    /// M: workspaces of the workspaces workload (a tenth name a creator).
    #[arg(long, default_value_t = 1_000)]
    workspaces: usize,
    /// Workloads to run (imported, provisioning, workspaces); all when not given.
    #[arg(long = "workload")]
    workloads: Vec<String>,
    /// drover's --concurrency, and the write floor's concurrency per stage.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of the idle period (quiet time, a full resync, a restart).
    #[arg(long, default_value_t = 120)]
    idle_seconds: u64,
    /// Single changes measured by the latency probe.
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// Skip the write floor (only drover's figures; no ratio).
    #[arg(long)]
    no_floor: bool,
    /// The drover binary; `target/release/drover` by default.
    #[arg(long)]
    drover: Option<PathBuf>,
    /// A variable added to the environment of every drover process the benchmark starts,
    /// `KEY=VALUE`; repeatable. For allocator settings (`MALLOC_ARENA_MAX=2`) or a heap profile:
    /// `LD_PRELOAD=<heaptrack's libheaptrack_preload.so>` with
    /// `DUMP_HEAPTRACK_OUTPUT=drover.$$` writes heaptrack's raw data per process (`$$` is
    /// its pid), which `heaptrack_interpret` turns into a file for `heaptrack_print`. drover
    /// stays the benchmark's child, so its signals and usage figures are its own.
    #[arg(long = "drover-env", value_name = "KEY=VALUE", value_parser = key_value)]
    drover_env: Vec<(String, String)>,
    /// Where the JSON report goes; `target/bench/report.json` by default.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Where drover's logs go; `target/bench/logs` by default.
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Only print the heap bytes per cached object for this many realistic objects of each
    /// kind (no control plane), then exit.
    #[arg(long, value_name = "N")]
    heap_view: Option<usize>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(n) = cli.heap_view {
        return heap::run(n);
    }
    let mut workloads = Vec::new();
    for name in &cli.workloads {
        match Workload::parse(name) {
            Some(w) => workloads.push(w),
            None => bail!("unknown workload {name:?} (imported, provisioning, workspaces)"),
        }
    }
    if workloads.is_empty() {
        workloads = Workload::ALL.to_vec();
    }
    let bench_dir = child::target_dir().join("bench");
    let options = Options {
        clusters: cli.clusters,
        workspaces: cli.workspaces,
        workloads,
        concurrency: cli.concurrency,
        idle: Duration::from_secs(cli.idle_seconds),
        changes: cli.changes,
        floor: !cli.no_floor,
        drover_binary: cli.drover.unwrap_or_else(child::release_binary),
        drover_env: cli.drover_env,
        log_dir: cli.log_dir.unwrap_or_else(|| bench_dir.join("logs")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run::run(&options))?;
    println!("{}", report.table());
    let path = cli.report.unwrap_or_else(|| bench_dir.join("report.json"));
    report.write_json(&path)?;
    println!("report written to {}", path.display());
    Ok(())
}

/// `KEY=VALUE` of `--drover-env`.
fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
