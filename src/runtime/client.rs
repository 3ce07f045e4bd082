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

/// drover's client for `config`: kube's retry layer is off. It resends a request answered 429,
/// 503 or 504 up to 15 times, for as long as minutes, without asking whether this replica still
/// holds the Lease; a write may only be repeated by the next reconcile, which asks again
/// ([`crate::runtime::lease`]). Reads and watches retry on their own terms (watch backoff, the
/// per-object reconcile backoff).
pub fn build(mut config: Config) -> Result<Client, kube::Error> {
    config.default_retry = false;
    Client::try_from(config)
}

/// Builds a client from the flags and checks that the API server answers.
pub async fn connect(args: &ClusterArgs) -> Result<Client, ConnectError> {
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
    let client = build(config).map_err(ConnectError::Client)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(cause)) => Err(ConnectError::Unreachable { url, cause }),
        Err(_) => Err(ConnectError::Timeout {
            url,
            secs: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}
