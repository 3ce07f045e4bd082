//! The controllers: one module per concern, each = watches + reconcile + error policy.

use kube::Client;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("watch failed: {0}")]
    Watch(#[source] kube::Error),
}

/// Runs every controller until SIGTERM or Ctrl-C.
pub async fn run(_client: Client, _config: Config) -> Result<(), RunError> {
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
