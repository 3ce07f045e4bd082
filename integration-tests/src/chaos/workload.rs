//! The estate the faults hit: prov clusters (with their provisioner's kubeconfig secrets and an
//! agent that connects their mgmt clusters), legacy mgmt clusters, and workspaces.

use anyhow::Result;
use drover::consts::DEFAULT_WORKSPACE;
use futures::TryStreamExt;
use kube::Client;

use crate::bench::workloads::legacy_name;
use crate::fixtures;

/// Concurrency of the workload's own creates.
const CONCURRENCY: usize = 16;

/// Prov cluster number `i`.
pub fn prov_name(i: usize) -> String {
    format!("chaos-{i}")
}

/// Workspace number `i`.
pub fn workspace_name(i: usize) -> String {
    format!("chaos-ws-{i}")
}

/// Runs `f` for every item, `CONCURRENCY` at a time; the first error ends it.
async fn each<I, F, Fut>(items: I, f: F) -> Result<()>
where
    I: IntoIterator<Item = usize>,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    futures::stream::iter(items.into_iter().map(Ok))
        .try_for_each_concurrent(CONCURRENCY, f)
        .await
}

/// Prov clusters `range` in `fleet-default`, each after its kubeconfig secret.
pub async fn provs(client: &Client, range: std::ops::Range<usize>) -> Result<()> {
    each(range, |i| async move {
        let name = prov_name(i);
        fixtures::create_kubeconfig_secret(client, DEFAULT_WORKSPACE, &name).await?;
        match fixtures::create_prov(client, &fixtures::prov_cluster(DEFAULT_WORKSPACE, &name)).await
        {
            Ok(_) => Ok(()),
            Err(e) if already_exists(&e) => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
}

/// Legacy mgmt clusters `range`, connected, in `fleet-default`, with kubeconfig secrets.
pub async fn legacy(client: &Client, range: std::ops::Range<usize>) -> Result<()> {
    each(range, |i| async move {
        let name = legacy_name(i);
        let mgmt = fixtures::legacy_mgmt_cluster(&name, Some(DEFAULT_WORKSPACE));
        match fixtures::create_mgmt(client, &mgmt).await {
            Ok(_) => {}
            Err(e) if already_exists(&e) => {}
            Err(e) => return Err(e),
        }
        fixtures::connect_mgmt(client, &name).await?;
        fixtures::create_kubeconfig_secret(client, DEFAULT_WORKSPACE, &name).await
    })
    .await
}

/// Workspaces `range` (managed: drover makes their namespaces).
pub async fn workspaces(client: &Client, range: std::ops::Range<usize>) -> Result<()> {
    each(range, |i| async move {
        fixtures::create_workspace(client, &workspace_name(i)).await
    })
    .await
}

fn already_exists(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<kube::Error>()
            .is_some_and(|k| matches!(k, kube::Error::Api(s) if s.code == 409))
    })
}

/// The agent that connects every generated mgmt cluster as it appears; aborted when dropped.
pub struct Agent(tokio::task::JoinHandle<()>);

impl Agent {
    pub fn start(client: Client) -> Self {
        Self(crate::bench::workloads::agent(client, 8))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.0.abort();
    }
}
