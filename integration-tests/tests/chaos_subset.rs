//! The short subset of `make chaos` that runs in `make test`: a leader killed while drover
//! converges, a mgmt cluster drover cannot decode, and a kube-apiserver restart, with two
//! replicas on a private control plane and every invariant checked after each.

use std::time::Duration;

use anyhow::{Result, ensure};
use drover_integration_tests::chaos::{self, Options, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_a_bad_object_and_an_apiserver_restart_keep_every_invariant() -> Result<()>
{
    let logs = tempfile::Builder::new().prefix("drover-chaos-").tempdir()?;
    let options = Options {
        seed: 7,
        provs: 40,
        estate_provs: 0,
        legacy: 10,
        workspaces: 5,
        kills: 1,
        scenarios: vec![
            Scenario::LeaderKills,
            Scenario::BadObject,
            Scenario::ApiserverRestart,
        ],
        converge_bound: Duration::from_secs(120),
        idle: Duration::from_secs(10),
        log_dir: logs.path().to_path_buf(),
    };
    let report = chaos::run(&options).await?;
    println!("{}", report.table());
    if !report.passed() {
        for user in chaos::REPLICAS {
            let log = std::fs::read_to_string(logs.path().join(format!("drover-{user}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!("--- drover {user} ---\n{}", tail.join("\n"));
        }
    }
    ensure!(
        report.passed(),
        "a chaos scenario failed:\n{}",
        report.table()
    );
    Ok(())
}
