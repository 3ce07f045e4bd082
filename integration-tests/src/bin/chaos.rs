//! `make chaos`: faults injected into a real control plane while two drover replicas run; the
//! invariants checked after each from the objects and the API server's audit log. Prints a table
//! and writes `target/chaos/report.json`; exits 1 when a scenario failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
use drover_integration_tests::chaos::{self, Options, Scenario};

/// Fault injection on a real control plane with two drover replicas.
#[derive(Parser)]
#[command(name = "chaos")]
struct Cli {
    /// Seed of the run (which write counts the leader kills happen at).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Prov clusters in all, created while the faults happen.
    #[arg(long, default_value_t = 1_000)]
    provs: usize,
    /// Of `--provs`, how many are there (converged) before the first fault, as an estate that
    /// grew before drover met a fault; by default every one is created while the faults happen.
    #[arg(long, default_value_t = 0)]
    estate_provs: usize,
    /// Legacy mgmt clusters, there before the first fault.
    #[arg(long, default_value_t = 200)]
    legacy: usize,
    /// Workspaces, there before the first fault.
    #[arg(long, default_value_t = 100)]
    workspaces: usize,
    /// Leader kills (SIGKILL) of the leader-kills scenario.
    #[arg(long, default_value_t = 40)]
    kills: usize,
    /// Scenarios to run, in order; all when not given.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Seconds `drover inspect` may take to exit 0 after a fault.
    #[arg(long, default_value_t = 180)]
    converge_seconds: u64,
    /// Seconds the replicas must stay silent once converged.
    #[arg(long, default_value_t = 20)]
    idle_seconds: u64,
    /// Where the JSON report goes; `target/chaos/report.json` by default.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let mut scenarios = Vec::new();
    for name in &cli.scenarios {
        match Scenario::parse(name) {
            Some(s) => scenarios.push(s),
            None => bail!(
                "unknown scenario {name:?} ({})",
                Scenario::ALL.map(Scenario::name).join(", ")
            ),
        }
    }
    if scenarios.is_empty() {
        scenarios = Scenario::ALL.to_vec();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| drover_integration_tests::repo_root().join("target"));
    let dir = target.join("chaos");
    let options = Options {
        seed: cli.seed,
        provs: cli.provs,
        estate_provs: cli.estate_provs,
        legacy: cli.legacy,
        workspaces: cli.workspaces,
        kills: cli.kills,
        scenarios,
        converge_bound: Duration::from_secs(cli.converge_seconds),
        idle: Duration::from_secs(cli.idle_seconds),
        log_dir: dir.join("logs"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(chaos::run(&options))?;
    println!("{}", report.table());
    let path = cli.report.unwrap_or_else(|| dir.join("report.json"));
    report.write_json(&path)?;
    println!("report written to {}", path.display());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
