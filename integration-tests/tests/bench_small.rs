//! The benchmark's workloads at a small size (N = 50, M = 10), so `make test` keeps the
//! benchmark working. Checks the result, not the speed: every object converges (for drover and
//! for the write floor), drover sends exactly the minimum writes per object, and nothing while
//! idle, through a full resync and a restart. The figures are printed, never asserted on.

use std::time::Duration;

use anyhow::{Result, ensure};
use drover_integration_tests::bench::{self, Options, child, workloads::Workload};
use drover_integration_tests::drover_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_workloads_converge_with_minimal_writes_and_a_silent_idle() -> Result<()> {
    let options = Options {
        clusters: 50,
        workspaces: 10,
        workloads: Workload::ALL.to_vec(),
        concurrency: 16,
        idle: Duration::from_secs(9),
        changes: 20,
        floor: true,
        // `cargo test --workspace` builds the debug binary first.
        drover_binary: drover_binary(),
        log_dir: child::target_dir().join("bench").join("logs-small"),
    };
    let report = bench::run(&options).await?;
    println!("{}", report.table());
    for w in &report.workloads {
        ensure!(
            w.writes_by_kind_verb == w.min_writes_by_kind_verb,
            "{}: writes per object {:?}, minimum {:?}",
            w.name,
            w.writes_by_kind_verb,
            w.min_writes_by_kind_verb
        );
        ensure!(
            w.idle_writes == Some(0),
            "{}: {:?} idle writes: {:?}",
            w.name,
            w.idle_writes,
            w.idle_writes_by_kind_verb
        );
        ensure!(
            w.convergence_s.is_some() && w.write_floor_s.is_some(),
            "{}: both runs converge",
            w.name
        );
        ensure!(
            w.latency_samples == options.changes,
            "{}: every change arrives",
            w.name
        );
    }
    Ok(())
}
