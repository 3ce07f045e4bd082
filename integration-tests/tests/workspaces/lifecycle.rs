//! W3 and W4 (workspaces drover makes itself), restarts, and a CRD without a status.

use std::time::Duration;

use anyhow::{Result, ensure};
use drover::api::FleetCluster;
use drover_integration_tests::{
    CONVERGE, Drover, TestEnv, documents, eventually, repo_root, test_config,
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_fleet_cluster_in_a_namespace_without_workspace_makes_an_unmanaged_workspace_owned_by_the_namespace()
-> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("ops");
    let ns = create_namespace(&client, &name).await?;
    let fleet = FleetCluster::new("edge", Default::default());
    Api::<FleetCluster>::namespaced(client.clone(), &name)
        .create(&PostParams::default(), &fleet)
        .await?;
    let ws = eventually("back-populated workspace", CONVERGE, || {
        get(workspaces(&client), &name)
    })
    .await?;
    ensure!(ws.annotations().get(MANAGED).map(String::as_str) == Some("false"));
    let owners = ws.owner_references();
    ensure!(owners.len() == 1, "{owners:?}");
    ensure!(owners[0].kind == "Namespace" && owners[0].name == name);
    ensure!(Some(&owners[0].uid) == ns.metadata.uid.as_ref());
    let untouched = namespaces(&client).get(&name).await?;
    ensure!(
        untouched.resource_version() == ns.resource_version(),
        "the namespace is not written"
    );

    delete(&namespaces(&client), &name).await?;
    wait_gone(
        "workspace collected with its namespace",
        &workspaces(&client),
        &name,
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn fleet_default_comes_back_after_deletion() -> Result<()> {
    let (client, _env) = shared().await?;
    let api = workspaces(&client);
    let original = eventually("fleet-default", CONVERGE, || {
        get(api.clone(), "fleet-default")
    })
    .await?;
    delete(&api, "fleet-default").await?;
    let back = eventually("a new fleet-default", CONVERGE, || async {
        Ok(api
            .get_opt("fleet-default")
            .await?
            .filter(|ws| ws.uid() != original.uid() && ws.metadata.deletion_timestamp.is_none()))
    })
    .await?;
    ensure!(back.annotations().get(MANAGED).is_none(), "managed");
    eventually("its namespace", CONVERGE, || async {
        let ns = namespaces(&client).get_opt("fleet-default").await?;
        Ok(ns.filter(|ns| {
            ns.metadata.deletion_timestamp.is_none()
                && ns.annotations().get("drover.cattle.io/owner-uid") == back.uid().as_ref()
        }))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn fleet_local_namespace_and_workspace_exist_after_start() -> Result<()> {
    let (client, _env) = shared().await?;
    let ns = eventually("namespace fleet-local", CONVERGE, || {
        get(namespaces(&client), "fleet-local")
    })
    .await?;
    ensure!(label(&ns, "app.kubernetes.io/managed-by") == Some("rancher"));
    let ws = eventually("workspace fleet-local", CONVERGE, || {
        get(workspaces(&client), "fleet-local")
    })
    .await?;
    ensure!(ws.annotations().get(MANAGED).map(String::as_str) == Some("false"));
    ensure!(ws.finalizers().is_empty(), "unmanaged: no finalizer");
    Ok(())
}

/// One of each: a labelled workspace with a creator, an unmanaged one, one over a foreign
/// namespace, and a namespace that gets a back-populated workspace.
async fn varied_estate(env: &TestEnv, client: &Client) -> Result<()> {
    let owned = env.unique_name("owned");
    create_ws_as_creator(
        env,
        &fleet_workspace(&owned, &[("team", "a")], &[(CREATOR, "u-abc")]),
    )
    .await?;
    create_ws(
        client,
        &fleet_workspace(&env.unique_name("off"), &[], &[(MANAGED, "false")]),
    )
    .await?;
    let foreign = env.unique_name("foreign");
    create_namespace(client, &foreign).await?;
    create_ws(client, &fleet_workspace(&foreign, &[], &[])).await?;
    let ops = env.unique_name("ops");
    create_namespace(client, &ops).await?;
    Api::<FleetCluster>::namespaced(client.clone(), &ops)
        .create(
            &PostParams::default(),
            &FleetCluster::new("edge", Default::default()),
        )
        .await?;
    eventually("creator RBAC", CONVERGE, || async {
        let (rb, cr, crb) = rbac_of(client, &owned).await?;
        Ok((rb.is_some() && cr.is_some() && crb.is_some()).then_some(()))
    })
    .await?;
    wait_condition(client, &owned, "NamespaceReady", "NamespaceReady").await?;
    eventually("back-populated workspace", CONVERGE, || {
        get(workspaces(client), &ops)
    })
    .await?;
    eventually("the conflict reported", CONVERGE, || async {
        Ok(events_about(client, &foreign, "NamespaceNotAdopted")
            .await?
            .into_iter()
            .next())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_restart_with_nothing_changed_sends_zero_writes() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let first = Drover::start(&env, test_config())?;
    varied_estate(&env, &client).await?;
    wait_condition(&client, "fleet-default", "NamespaceReady", "NamespaceReady").await?;
    settle(&first).await?;
    let converged_with = first.writes();
    eprintln!(
        "first drover converged with {converged_with} writes:\n{}",
        writes_by_kind(&first)
    );
    first.stop();

    let second = Drover::start(&env, test_config())?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes = second.writes();
    ensure!(
        writes == 0,
        "the restarted drover sent {writes} writes (the first converged with {converged_with}):\n{}",
        writes_by_kind(&second)
    );
    Ok(())
}

#[tokio::test]
async fn without_a_status_subresource_workspaces_report_through_events_only() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    // Rancher's own CRD has no status subresource.
    let path = repo_root().join("crds/fleetworkspaces.management.cattle.io.yaml");
    let mut crd = documents(&std::fs::read_to_string(path)?)?.remove(0);
    if let Some(version) = crd["spec"]["versions"][0].as_object_mut() {
        version.remove("subresources");
    }
    env.apply_yaml_str(&serde_json::to_string(&crd)?).await?;
    let drover = Drover::start(&env, test_config())?;

    let name = env.unique_name("legacy-team");
    create_namespace(&client, &name).await?;
    create_ws(&client, &fleet_workspace(&name, &[], &[])).await?;
    eventually("a warning Event", CONVERGE, || async {
        let events = events_about(&client, &name, "NamespaceNotAdopted").await?;
        Ok(events
            .into_iter()
            .find(|e| e.type_.as_deref() == Some("Warning")))
    })
    .await?;
    settle(&drover).await?;
    let quiet = drover.writes();
    eprintln!(
        "without a status subresource: {quiet} writes:\n{}",
        writes_by_kind(&drover)
    );
    // Another event for the workspace makes drover look again; it must not repeat itself.
    let poke = json!({"metadata": {"labels": {"poked": "yes"}}});
    workspaces(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&poke))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(drover.writes() == quiet, "{}", writes_by_kind(&drover));
    let events = events_about(&client, &name, "NamespaceNotAdopted").await?;
    ensure!(
        events.len() == 1,
        "one Event, not one per reconcile: {events:?}"
    );
    let ws = workspaces(&client).get(&name).await?;
    ensure!(ws.status.is_none(), "no status written: {:?}", ws.status);
    Ok(())
}
