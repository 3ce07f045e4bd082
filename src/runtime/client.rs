//! Connecting to the API server, failing fast with one clear line when it cannot be reached.

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::config::ClusterArgs;

/// How long `drover run` waits for a first answer from the API server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    // The causes are part of the one line printed, not a chain, so they are not `#[source]`.
    #[error("cannot read kubeconfig: {0}")]
    Kubeconfig(kube::config::KubeconfigError),
    #[error("no cluster configuration found (set --kubeconfig or run in a pod): {0}")]
    Infer(kube::config::InferConfigError),
    #[error("cannot build a client: {0}")]
    Client(kube::Error),
    #[error("API server {url} is not reachable: {cause}")]
    Unreachable { url: String, cause: kube::Error },
    #[error("API server {url} did not answer within {secs}s")]
    Timeout { url: String, secs: u64 },
}

/// The two clients drover uses against one API server.
#[derive(Clone)]
pub struct Clients {
    /// Watches and the reads behind them, with kube's retry layer: a list answered 429, 503 or
    /// 504 is asked again rather than counted as a failing watch.
    pub reads: Client,
    /// Writes, the Lease and the live reads right before a write, without it: kube's retry
    /// layer resends a request up to 15 times, for as long as minutes, without asking whether
    /// this replica still holds the Lease. A write is repeated only by the next reconcile,
    /// which asks again ([`crate::runtime::lease`]).
    pub writes: Client,
}

/// drover's [`Clients`] for `config`.
pub fn build(config: Config) -> Result<Clients, kube::Error> {
    let mut without_retries = config.clone();
    without_retries.default_retry = false;
    Ok(Clients {
        reads: Client::try_from(config)?,
        writes: Client::try_from(without_retries)?,
    })
}

/// Builds the clients from the flags and checks that the API server answers.
pub async fn connect(args: &ClusterArgs) -> Result<Clients, ConnectError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(ConnectError::Kubeconfig)?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(ConnectError::Kubeconfig)?
        }
        None => Config::infer().await.map_err(ConnectError::Infer)?,
    };
    let url = config.cluster_url.to_string();
    let clients = build(config).map_err(ConnectError::Client)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, clients.reads.apiserver_version()).await {
        Ok(Ok(_)) => Ok(clients),
        Ok(Err(cause)) => Err(ConnectError::Unreachable { url, cause }),
        Err(_) => Err(ConnectError::Timeout {
            url,
            secs: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}
