//! Starts a control plane in the foreground, prints its kubeconfig path and keeps it running until
//! Ctrl-C (or SIGTERM), then stops every process it started.
//!
//! With `--fleet`, the control plane plays Rancher's local cluster with the real Fleet: Fleet's
//! controllers run on it, one more control plane starts per `--downstream NAME`, and once Fleet
//! imports a cluster its agent runs as a process (the local cluster's in
//! `cattle-fleet-local-system`, each downstream's in `cattle-fleet-system`). Printed on stdout:
//! the upstream's kubeconfig path, then one `NAME PATH` line per downstream.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use drover_integration_tests::TestEnv;
use drover_integration_tests::fleet::{self, FLEET_SYSTEM_NAMESPACE, LOCAL_AGENT_NAMESPACE};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Args {
    /// Run Fleet's controllers on this control plane and its agents on the clusters it imports.
    #[arg(long)]
    fleet: bool,
    /// With --fleet: start a downstream control plane of this name (repeatable).
    #[arg(long = "downstream", value_name = "NAME", requires = "fleet")]
    downstreams: Vec<String>,
}

async fn start(what: &str) -> Result<TestEnv> {
    eprintln!("starting etcd, kube-apiserver and kube-controller-manager ({what}) ...");
    let env = TestEnv::start().await?;
    eprintln!(
        "control plane ready in {:.1}s (kube-apiserver ready after {:.1}s) at {}",
        env.startup_duration().as_secs_f64(),
        env.apiserver_ready_duration().as_secs_f64(),
        env.server_url()
    );
    Ok(env)
}

/// Runs the agent of `cluster` once Fleet has imported it; waits for the import as long as it
/// takes (the clusters are created after this starts).
async fn agent_when_imported(cluster: &TestEnv, namespace: &str, name: &'static str) {
    loop {
        match fleet::run_agent_when_imported(cluster, namespace, name).await {
            Ok(log) => {
                eprintln!("{name} runs (log: {})", log.display());
                return;
            }
            Err(e) if e.to_string().contains("timed out") => {}
            Err(e) => {
                eprintln!("{name}: {e:#}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;

    let env = start(if args.fleet { "upstream" } else { "one" }).await?;
    let mut downstreams = Vec::new();
    for name in &args.downstreams {
        downstreams.push((name.clone(), start(name).await?));
    }
    if args.fleet {
        fleet::start_controllers(&env).await?;
        eprintln!("Fleet's controllers run on the upstream");
    }
    println!("{}", env.kubeconfig_path().display());
    for (name, downstream) in &downstreams {
        println!("{name} {}", downstream.kubeconfig_path().display());
    }
    eprintln!(
        "\n    export KUBECONFIG={}\n\nPress Ctrl-C to stop it.",
        env.kubeconfig_path().display()
    );

    let mut agents = Box::pin(async {
        if !args.fleet {
            return std::future::pending().await;
        }
        let mut all = vec![agent_when_imported(
            &env,
            LOCAL_AGENT_NAMESPACE,
            "fleet-agent-local",
        )];
        for (name, downstream) in &downstreams {
            let process: &'static str = Box::leak(format!("fleet-agent-{name}").into_boxed_str());
            all.push(agent_when_imported(
                downstream,
                FLEET_SYSTEM_NAMESPACE,
                process,
            ));
        }
        futures::future::join_all(all).await;
        std::future::pending::<()>().await
    });
    let mut health = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            () = &mut agents => {}
            _ = health.tick() => {
                let check = std::iter::once(&env)
                    .chain(downstreams.iter().map(|(_, d)| d))
                    .try_for_each(TestEnv::check_running);
                if let Err(e) = check {
                    break Err(e);
                }
            }
        }
    };
    eprintln!("stopping the control planes ...");
    drop(agents);
    drop(downstreams);
    drop(env);
    result
}
