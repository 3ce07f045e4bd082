//! Helpers of the identity tests: reads, waits, and the parts other actors play (a second
//! controller holding an object with its own finalizer, a user writing objects by hand).

use anyhow::Result;
use drover::api::{Condition, FleetCluster, MgmtCluster, ProvCluster, find_condition};
use drover_integration_tests::fixtures::*;
use drover_integration_tests::{CONVERGE, Drover, TestEnv, eventually};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// The finalizer another controller holds objects with.
pub const HOLD: &str = "example.com/hold";

pub async fn shared() -> Result<(Client, &'static TestEnv)> {
    let env = TestEnv::shared().await?;
    Drover::shared(env).await?;
    let client = env.client()?;
    default_workspaces_ready(&client).await?;
    Ok((client, env))
}

pub fn provs(client: &Client, ns: &str) -> Api<ProvCluster> {
    Api::namespaced(client.clone(), ns)
}

pub fn mgmts(client: &Client) -> Api<MgmtCluster> {
    Api::all(client.clone())
}

pub fn fleets(client: &Client, ns: &str) -> Api<FleetCluster> {
    Api::namespaced(client.clone(), ns)
}

pub async fn get_prov(client: &Client, ns: &str, name: &str) -> Result<Option<ProvCluster>> {
    Ok(provs(client, ns).get_opt(name).await?)
}

pub async fn get_mgmt(client: &Client, name: &str) -> Result<Option<MgmtCluster>> {
    Ok(mgmts(client).get_opt(name).await?)
}

pub async fn get_fleet(client: &Client, ns: &str, name: &str) -> Result<Option<FleetCluster>> {
    Ok(fleets(client, ns).get_opt(name).await?)
}

/// Creates a managed workspace and waits for drover to make its namespace.
pub async fn workspace(client: &Client, env: &TestEnv, prefix: &str) -> Result<String> {
    let name = env.unique_name(prefix);
    create_workspace(client, &name).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually("workspace namespace", CONVERGE, || async {
        Ok(namespaces.get_opt(&name).await?.map(|_| ()))
    })
    .await?;
    Ok(name)
}

pub async fn wait_gone<F, Fut, T>(what: &str, mut get: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    eventually(what, CONVERGE, || {
        let fut = get();
        async move { Ok(fut.await?.is_none().then_some(())) }
    })
    .await
}

/// Waits until the prov cluster records its mgmt name, and returns that name.
pub async fn recorded_mgmt_name(client: &Client, ns: &str, name: &str) -> Result<String> {
    eventually("prov status.clusterName", CONVERGE, || async {
        Ok(get_prov(client, ns, name)
            .await?
            .and_then(|p| p.cluster_name().map(str::to_string)))
    })
    .await
}

/// Creates a prov cluster in `ns`, connects its mgmt cluster and provides its kubeconfig secret;
/// returns the mgmt name once the fleet cluster exists in `ns`.
pub async fn connected_prov_cluster(client: &Client, ns: &str, name: &str) -> Result<String> {
    create_prov(client, &prov_cluster(ns, name)).await?;
    let mgmt_name = recorded_mgmt_name(client, ns, name).await?;
    connect_mgmt(client, &mgmt_name).await?;
    create_kubeconfig_secret(client, ns, name).await?;
    eventually("fleet cluster", CONVERGE, || get_fleet(client, ns, name)).await?;
    Ok(mgmt_name)
}

pub async fn move_mgmt(client: &Client, name: &str, workspace: &str) -> Result<()> {
    mgmts(client)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"fleetWorkspaceName": workspace}})),
        )
        .await?;
    Ok(())
}

/// Plays another controller: appends its finalizer to the prov cluster.
pub async fn hold(client: &Client, ns: &str, name: &str) -> Result<()> {
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "add", "path": "/metadata/finalizers/-", "value": HOLD}
    ]))?;
    provs(client, ns)
        .patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await?;
    Ok(())
}

/// Plays the other controller letting go: removes its finalizer.
pub async fn release(client: &Client, ns: &str, name: &str) -> Result<()> {
    let Some(prov) = get_prov(client, ns, name).await? else {
        return Ok(());
    };
    let rest: Vec<String> = prov
        .finalizers()
        .iter()
        .filter(|f| *f != HOLD)
        .cloned()
        .collect();
    provs(client, ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": rest}})),
        )
        .await?;
    Ok(())
}

/// The prov cluster's condition of `type_`, once it has one.
pub async fn prov_condition(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
) -> Result<Condition> {
    eventually(
        &format!("condition {type_} on {ns}/{name}"),
        CONVERGE,
        || async {
            Ok(get_prov(client, ns, name)
                .await?
                .and_then(|p| p.status)
                .and_then(|s| s.conditions)
                .and_then(|c| find_condition(&c, type_).cloned()))
        },
    )
    .await
}

/// The Event with `reason` on the object `name` in `ns`, once there is one.
pub async fn event(client: &Client, ns: &str, name: &str, reason: &str) -> Result<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    eventually(
        &format!("a {reason} Event on {ns}/{name}"),
        CONVERGE,
        || async {
            let list = events.list(&Default::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            }))
        },
    )
    .await
}

/// Whether an object carries any ownership mark.
pub fn is_marked<K: kube::Resource>(obj: &K) -> bool {
    obj.meta().annotations.as_ref().is_some_and(|a| {
        a.contains_key("objectset.rio.cattle.io/owner-name")
            || a.contains_key("drover.cattle.io/owner-uid")
    })
}
