//! The benchmark at a small size (N = 50, M = 10), so `make test` keeps it working. Runs the
//! `bench` program as `make bench` does and checks its JSON report, not the speed: every object
//! converges (for drover and for the write floor), the Fleet figures are measured, drover sends
//! exactly the minimum writes per object (the provisioning status writes may merge into one),
//! and nothing while idle, through a full resync and a restart, nor on a restart with streaming
//! lists. The figures are printed, never asserted on.

use std::process::Command;

use anyhow::{Context as _, Result, ensure};
use drover_integration_tests::{build_drover, repo_root};
use serde_json::Value;

const CHANGES: u64 = 20;

#[test]
fn the_benchmark_workloads_converge_with_minimal_writes_and_a_silent_idle() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let report = dir.path().join("report.json");
    let status = Command::new(env!("CARGO_BIN_EXE_bench"))
        .current_dir(repo_root())
        .args([
            "--clusters",
            "50",
            "--workspaces",
            "10",
            "--idle-seconds",
            "9",
        ])
        .args(["--changes", &CHANGES.to_string()])
        .arg("--drover")
        .arg(build_drover()?)
        .arg("--report")
        .arg(&report)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .status()
        .context("running the bench program")?;
    ensure!(status.success(), "the bench program failed: {status}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let workloads = report["workloads"]
        .as_array()
        .context("the report lists its workloads")?;
    ensure!(workloads.len() == 3, "all three workloads ran");
    for w in workloads {
        let name = w["name"].as_str().unwrap_or_default();
        ensure!(
            w["writes_at_minimum"] == Value::Bool(true),
            "{name}: {} per object, minimum {}",
            w["writes_by_kind_verb"],
            w["min_writes_by_kind_verb"]
        );
        if name != "workspaces" {
            ensure!(
                w["fleet_all_s"].is_number() && w["fleet_p99_ms"].is_number(),
                "{name}: the Fleet figures are measured"
            );
        }
        ensure!(
            w["idle_writes"].as_u64() == Some(0),
            "{name}: {} idle writes: {}",
            w["idle_writes"],
            w["idle_writes_by_kind_verb"]
        );
        for restart in ["restart", "restart_streaming"] {
            ensure!(
                w[restart]["writes"].as_u64() == Some(0),
                "{name}: {restart}: {} writes",
                w[restart]["writes"]
            );
        }
        ensure!(
            w["convergence_s"].is_number() && w["write_floor_s"].is_number(),
            "{name}: both runs converge"
        );
        ensure!(
            w["latency_samples"].as_u64() == Some(CHANGES),
            "{name}: every change arrives"
        );
    }
    Ok(())
}
