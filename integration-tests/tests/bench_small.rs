//! The benchmark's workloads at a small size (N = 50, M = 10), so `make test` keeps the
//! benchmark working. Checks the result, not the speed: every object converges (for drover and
//! for the write floor), the Fleet figures are measured, drover sends exactly the minimum writes
//! per object (the provisioning status writes may merge into one), and nothing while
//! idle, through a full resync and a restart. The figures are printed, never asserted on.

use std::time::Duration;

use anyhow::{Result, ensure};
use drover_integration_tests::bench::workloads::{self, Workload};
use drover_integration_tests::bench::{self, Options, child};
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
    for (w, &workload) in report.workloads.iter().zip(&options.workloads) {
        // Exactly the minimum, except the provisioning status writes, which merge into one when
        // the agent connected before the first status write.
        let kinds: std::collections::BTreeSet<_> = w
            .writes_by_kind_verb
            .keys()
            .chain(w.min_writes_by_kind_verb.keys())
            .collect();
        for kv in kinds {
            let sent = w.writes_by_kind_verb.get(kv).copied().unwrap_or(0.0);
            let min = w.min_writes_by_kind_verb.get(kv).copied().unwrap_or(0.0);
            let ok = if workloads::status_writes_may_merge(workload, kv) {
                (min / 2.0 - 1e-9..=min + 1e-9).contains(&sent)
            } else {
                (sent - min).abs() < 1e-9
            };
            ensure!(
                ok,
                "{}: {kv} {sent} per object, minimum {min} ({:?} vs {:?})",
                w.name,
                w.writes_by_kind_verb,
                w.min_writes_by_kind_verb
            );
        }
        if w.fleet_share.is_some() || workload != Workload::Workspaces {
            ensure!(
                w.fleet_all_s.is_some() && w.fleet_p99_ms.is_some(),
                "{}: the Fleet figures are measured",
                w.name
            );
        }
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
