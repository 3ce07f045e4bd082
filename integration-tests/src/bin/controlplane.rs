//! Starts a control plane in the foreground, prints its kubeconfig path and keeps it running until
//! Ctrl-C (or SIGTERM), then stops every process it started.

use std::time::Duration;

use anyhow::{Context, Result};
use drover_integration_tests::TestEnv;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;

    eprintln!("starting etcd, kube-apiserver and kube-controller-manager ...");
    let env = TestEnv::start().await?;
    eprintln!(
        "control plane ready in {:.1}s (kube-apiserver ready after {:.1}s) at {}",
        env.startup_duration().as_secs_f64(),
        env.apiserver_ready_duration().as_secs_f64(),
        env.server_url()
    );
    println!("{}", env.kubeconfig_path().display());
    eprintln!(
        "\n    export KUBECONFIG={}\n\nPress Ctrl-C to stop it.",
        env.kubeconfig_path().display()
    );

    let mut health = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            _ = health.tick() => {
                if let Err(e) = env.check_running() {
                    break Err(e);
                }
            }
        }
    };
    eprintln!("stopping the control plane ...");
    drop(env);
    result
}
