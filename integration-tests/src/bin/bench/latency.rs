//! Change latency in steady state: a single change on a source object, timed until a watch on
//! the counterpart shows it. imported: mgmt label -> fleet cluster label; provisioning: prov
//! label -> mgmt label; workspaces: workspace label -> namespace label.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use drover::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use drover::consts::DEFAULT_WORKSPACE;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use serde_json::json;

use crate::observe::{Arrivals, SEQ_LABEL};
use crate::workloads::{Workload, legacy_name, prov_name, workspace_name};

/// A single change for the latency probe: sets [`SEQ_LABEL`] to `seq` on a source object.
pub type Change = Box<dyn Fn(usize) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// The latency probe of a workload: the watch on the counterparts (listed) and the change.
pub async fn probe(workload: Workload, client: &Client, n: usize) -> Result<(Arrivals, Change)> {
    let patch = |seq: usize| json!({"metadata": {"labels": {SEQ_LABEL: seq.to_string()}}});
    let params = PatchParams::default();
    match workload {
        Workload::Imported => {
            let arrivals = Arrivals::watch(Api::<PartialObjectMeta<FleetCluster>>::namespaced(
                client.clone(),
                DEFAULT_WORKSPACE,
            ))
            .await?;
            let api = Api::<MgmtCluster>::all(client.clone());
            let change: Change = Box::new(move |seq| {
                let (api, params) = (api.clone(), params.clone());
                Box::pin(async move {
                    api.patch(&legacy_name(seq % n), &params, &Patch::Merge(patch(seq)))
                        .await?;
                    Ok(())
                })
            });
            Ok((arrivals, change))
        }
        Workload::Provisioning => {
            let arrivals =
                Arrivals::watch(Api::<PartialObjectMeta<MgmtCluster>>::all(client.clone())).await?;
            let api = Api::<ProvCluster>::namespaced(client.clone(), DEFAULT_WORKSPACE);
            let change: Change = Box::new(move |seq| {
                let (api, params) = (api.clone(), params.clone());
                Box::pin(async move {
                    api.patch(&prov_name(seq % n), &params, &Patch::Merge(patch(seq)))
                        .await?;
                    Ok(())
                })
            });
            Ok((arrivals, change))
        }
        Workload::Workspaces => {
            let arrivals =
                Arrivals::watch(Api::<PartialObjectMeta<Namespace>>::all(client.clone())).await?;
            let api = Api::<FleetWorkspace>::all(client.clone());
            let change: Change = Box::new(move |seq| {
                let (api, params) = (api.clone(), params.clone());
                Box::pin(async move {
                    api.patch(&workspace_name(seq % n), &params, &Patch::Merge(patch(seq)))
                        .await?;
                    Ok(())
                })
            });
            Ok((arrivals, change))
        }
    }
}

/// `changes` single changes, one after the other, each timed from just before its request to
/// the watch event that shows it on the counterpart.
pub async fn measure(
    workload: Workload,
    client: &kube::Client,
    n: usize,
    changes: usize,
) -> Result<Vec<Duration>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let (mut arrivals, change) = probe(workload, client, n).await?;
    let mut samples = Vec::with_capacity(changes);
    for seq in 0..changes {
        let sent = Instant::now();
        change(seq).await?;
        let arrived = arrivals
            .wait_for(&seq.to_string(), Duration::from_secs(30))
            .await?;
        samples.push(arrived.saturating_duration_since(sent));
        // A short pause: single changes, not a burst.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if samples.len() != changes {
        bail!("{} of {changes} changes arrived", samples.len());
    }
    Ok(samples)
}
