//! The estate the faults hit: prov clusters (with their provisioner's kubeconfig secrets and an
//! agent that connects their mgmt clusters), legacy mgmt clusters, and workspaces.

use std::time::Duration;

use anyhow::Result;
use backon::{ExponentialBuilder, Retryable};
use drover::consts::DEFAULT_WORKSPACE;
use futures::TryStreamExt;
use kube::Client;

use crate::fixtures;

/// Concurrency of the workload's own creates.
const CONCURRENCY: usize = 16;

/// Legacy mgmt name number `i`: `c-` and five base-36 digits.
pub fn legacy_name(i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut v = i;
    let mut suffix = [b'0'; 5];
    for slot in suffix.iter_mut().rev() {
        *slot = DIGITS[v % 36];
        v /= 36;
    }
    format!("c-{}", String::from_utf8_lossy(&suffix))
}

/// Prov cluster number `i`.
pub fn prov_name(i: usize) -> String {
    format!("chaos-{i}")
}

/// Workspace number `i`.
pub fn workspace_name(i: usize) -> String {
    format!("chaos-ws-{i}")
}

/// Runs `f` for every item, `CONCURRENCY` at a time; the first error that outlasts
/// [`retrying`] ends it.
async fn each<I, F, Fut>(items: I, f: F) -> Result<()>
where
    I: IntoIterator<Item = usize>,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let f = &f;
    futures::stream::iter(items.into_iter().map(Ok))
        .try_for_each_concurrent(CONCURRENCY, |i| retrying(move || f(i)))
        .await
}

/// Runs `step` until it succeeds, for about three minutes, as a user tries again while a fault
/// makes the API server fail (a stopped API server answers its queued requests with 500s and
/// 504s when it goes on). A create that landed although its answer was lost comes back as
/// "already exists" and counts as done.
async fn retrying<F, Fut>(step: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(40);
    match step.retry(policy).when(|e| !already_exists(e)).await {
        Err(e) if already_exists(&e) => Ok(()),
        other => other,
    }
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
    /// Plays the cluster agents: connects every generated mgmt cluster (`c-m-…`) once, as soon
    /// as it appears.
    pub fn start(client: Client) -> Self {
        use futures::StreamExt;
        use kube::runtime::{WatchStreamExt, watcher};
        Self(tokio::spawn(async move {
            let api = kube::Api::<kube::core::PartialObjectMeta<drover::api::MgmtCluster>>::all(
                client.clone(),
            );
            let mut seen = std::collections::HashSet::new();
            let names = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .filter_map(move |m| {
                    let name = m.ok().map(|m| kube::ResourceExt::name_any(&m));
                    let new = name
                        .filter(|n| n.starts_with("c-m-"))
                        .filter(|n| seen.insert(n.clone()));
                    std::future::ready(new)
                });
            names
                .for_each_concurrent(8, |name| {
                    let client = client.clone();
                    async move {
                        let connect = || fixtures::connect_mgmt(&client, &name);
                        if let Err(error) = retrying(connect).await {
                            eprintln!("chaos agent: {error:#}");
                        }
                    }
                })
                .await;
        }))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.0.abort();
    }
}
