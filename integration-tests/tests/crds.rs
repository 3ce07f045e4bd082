//! `drover crds` output is accepted by kubectl and by the real API server.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use drover_integration_tests::{TestEnv, drover_binary};

fn drover_crds() -> Result<Vec<u8>> {
    let out = Command::new(drover_binary())
        .arg("crds")
        .output()
        .context("running drover crds")?;
    ensure!(
        out.status.success(),
        "drover crds failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

fn kubectl_apply(env: &TestEnv, dry_run: &str, input: &[u8]) -> Result<String> {
    let mut child = Command::new("kubectl")
        .args(["apply", &format!("--dry-run={dry_run}"), "-f", "-"])
        .env("KUBECONFIG", env.kubeconfig_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kubectl")?;
    child.stdin.take().context("stdin")?.write_all(input)?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "kubectl apply --dry-run={dry_run} refused the CRDs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn kubectl_and_the_api_server_accept_the_printed_crds() -> Result<()> {
    let env = TestEnv::shared().await?;
    let crds = drover_crds()?;
    for dry_run in ["client", "server"] {
        let out = kubectl_apply(env, dry_run, &crds)?;
        for name in [
            "clusters.provisioning.cattle.io",
            "clusters.management.cattle.io",
            "fleetworkspaces.management.cattle.io",
        ] {
            ensure!(
                out.contains(name),
                "{name} missing from kubectl's answer: {out}"
            );
        }
        // Fleet's CRDs come from Fleet's own chart, never from drover.
        ensure!(
            !out.contains("fleet.cattle.io "),
            "drover printed a CRD of Fleet's: {out}"
        );
    }
    Ok(())
}
