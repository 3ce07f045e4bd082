//! Helpers shared by the workspace tests.

use std::time::Duration;

use anyhow::Result;
use drover::api::{Condition, FleetWorkspace, find_condition};
pub use drover_integration_tests::fixtures::{fleet_workspace, string_map};
use drover_integration_tests::{CONVERGE, Drover, TestEnv, eventually};
use k8s_openapi::api::core::v1::{Event, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};

pub const CREATOR: &str = "field.cattle.io/creatorId";
pub const MANAGED: &str = "provisioning.cattle.io/managed";
pub const WORKSPACE_LABEL: &str = "drover.cattle.io/workspace";

pub async fn shared() -> Result<(Client, &'static TestEnv)> {
    let env = TestEnv::shared().await?;
    Drover::shared(env).await?;
    Ok((env.client()?, env))
}

pub fn workspaces(client: &Client) -> Api<FleetWorkspace> {
    Api::all(client.clone())
}

pub fn namespaces(client: &Client) -> Api<Namespace> {
    Api::all(client.clone())
}

pub async fn get<K>(api: Api<K>, name: impl AsRef<str>) -> Result<Option<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api.get_opt(name.as_ref()).await?)
}

pub async fn create_ws(client: &Client, ws: &FleetWorkspace) -> Result<FleetWorkspace> {
    Ok(workspaces(client)
        .create(&PostParams::default(), ws)
        .await?)
}

/// Creates a workspace as its creator does: admission (the chart's drover-workspace-creators
/// policy) requires `field.cattle.io/creatorId` to name the requesting user, so the request
/// impersonates that user.
pub async fn create_ws_as_creator(env: &TestEnv, ws: &FleetWorkspace) -> Result<FleetWorkspace> {
    let mut config = env.client_config();
    if let Some(creator) = ws.annotations().get(CREATOR) {
        config.auth_info.impersonate = Some(creator.clone());
        config.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    }
    create_ws(&Client::try_from(config)?, ws).await
}

pub async fn create_namespace(client: &Client, name: &str) -> Result<Namespace> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(string_map(&[("owner", "someone-else")])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Ok(namespaces(client)
        .create(&PostParams::default(), &ns)
        .await?)
}

pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

pub fn label<'a>(obj: &'a impl ResourceExt, key: &str) -> Option<&'a str> {
    obj.labels().get(key).map(String::as_str)
}

pub fn condition(ws: &FleetWorkspace, type_: &str) -> Option<Condition> {
    let conditions = ws.status.as_ref()?.conditions.as_deref()?;
    find_condition(conditions, type_).cloned()
}

/// Waits until the workspace carries a condition of that type and reason, and returns it.
pub async fn wait_condition(
    client: &Client,
    name: &str,
    type_: &str,
    reason: &str,
) -> Result<Condition> {
    eventually(&format!("{name}: {type_} {reason}"), CONVERGE, || async {
        let ws = workspaces(client).get_opt(name).await?;
        Ok(ws
            .and_then(|ws| condition(&ws, type_))
            .filter(|c| c.reason.as_deref() == Some(reason)))
    })
    .await
}

pub async fn events_about(client: &Client, name: &str, reason: &str) -> Result<Vec<Event>> {
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let events = Api::<Event>::all(client.clone()).list(&params).await?;
    Ok(events
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect())
}

pub async fn wait_gone<K>(what: &str, api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(what, CONVERGE, || async {
        Ok(api.get_opt(name).await?.is_none().then_some(()))
    })
    .await
}

/// Gone, or at least on its way (the namespace controller empties it first).
pub async fn wait_namespace_going(client: &Client, name: &str) -> Result<()> {
    eventually(&format!("namespace {name} deleted"), CONVERGE, || async {
        let ns = namespaces(client).get_opt(name).await?;
        Ok(ns
            .is_none_or(|ns| ns.metadata.deletion_timestamp.is_some())
            .then_some(()))
    })
    .await
}

/// The creator RBAC that exists for workspace `name`, by kind.
pub async fn rbac_of(
    client: &Client,
    name: &str,
) -> Result<(
    Option<RoleBinding>,
    Option<ClusterRole>,
    Option<ClusterRoleBinding>,
)> {
    Ok((
        Api::<RoleBinding>::namespaced(client.clone(), name)
            .get_opt(&format!("fleetworkspace-admin-binding-{name}"))
            .await?,
        Api::<ClusterRole>::all(client.clone())
            .get_opt(&format!("fleetworkspace-own-{name}"))
            .await?,
        Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt(&format!("fleetworkspace-own-binding-{name}"))
            .await?,
    ))
}

/// Waits until `drover` has sent no write for two seconds in a row.
pub async fn settle(drover: &Drover) -> Result<()> {
    let mut last = drover.writes();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = drover.writes();
        if now == last {
            return Ok(());
        }
        last = now;
    }
}

pub fn writes_by_kind(drover: &Drover) -> String {
    drover
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("drover_api_writes_total{"))
        .collect::<Vec<_>>()
        .join("\n")
}
