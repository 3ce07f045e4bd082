//! W6 and W7: what drover never takes over, and what deleting a workspace does.

use std::time::Duration;

use anyhow::{Result, ensure};
use drover::config::{Config, WorkspaceDeletion};
use drover_integration_tests::fixtures::{create_prov, prov_cluster, string_map};
use drover_integration_tests::{CONVERGE, Drover, TestEnv, eventually, test_config};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::support::*;

#[tokio::test]
async fn an_existing_namespace_drover_did_not_create_is_never_adopted_or_deleted() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("legacy-team");
    let before = create_namespace(&client, &name).await?;
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), &name);
    let data = ConfigMap {
        metadata: ObjectMeta {
            name: Some("precious".into()),
            ..ObjectMeta::default()
        },
        data: Some(string_map(&[("k", "v")])),
        ..ConfigMap::default()
    };
    config_maps.create(&PostParams::default(), &data).await?;

    create_ws_as_creator(
        env,
        &fleet_workspace(&name, &[("team", "legacy")], &[(CREATOR, "u-abc")]),
    )
    .await?;
    let reported = wait_condition(&client, &name, "NamespaceReady", "NamespaceNotAdopted").await?;
    ensure!(reported.status == "False");
    ensure!(
        reported
            .message
            .unwrap_or_default()
            .contains(&format!("namespace {name}")),
        "the message names the namespace"
    );
    eventually("a warning Event", CONVERGE, || async {
        let events = events_about(&client, &name, "NamespaceNotAdopted").await?;
        Ok(events
            .into_iter()
            .find(|e| e.type_.as_deref() == Some("Warning")))
    })
    .await?;

    let after = namespaces(&client).get(&name).await?;
    ensure!(
        after.labels() == before.labels(),
        "labels untouched: {:?}",
        after.labels()
    );
    ensure!(
        after.annotations() == before.annotations(),
        "annotations untouched"
    );
    ensure!(
        after.resource_version() == before.resource_version(),
        "not written at all"
    );
    let (rb, cr, crb) = rbac_of(&client, &name).await?;
    ensure!(
        rb.is_none() && cr.is_none() && crb.is_none(),
        "no RBAC over a foreign namespace"
    );

    delete(&workspaces(&client), &name).await?;
    wait_gone("workspace deleted", &workspaces(&client), &name).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = namespaces(&client).get(&name).await?;
    ensure!(
        still.metadata.deletion_timestamp.is_none(),
        "the namespace stays"
    );
    ensure!(
        config_maps.get("precious").await?.data == data.data,
        "the ConfigMap stays"
    );
    Ok(())
}

#[tokio::test]
async fn a_workspace_holding_a_prov_cluster_waits_until_it_is_empty() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("busy");
    create_ws(&client, &fleet_workspace(&name, &[], &[])).await?;
    wait_condition(&client, &name, "NamespaceReady", "NamespaceReady").await?;
    create_prov(&client, &prov_cluster(&name, "downstream")).await?;
    eventually("the cluster in drover's view", CONVERGE, || async {
        // The back-population path must not create a second workspace; the one we have stays.
        Ok(workspaces(&client).get_opt(&name).await?)
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    delete(&workspaces(&client), &name).await?;
    let stalled = wait_condition(&client, &name, "Stalled", "NamespaceHoldsClusters").await?;
    let message = stalled.message.unwrap_or_default();
    ensure!(message.contains("1 prov cluster (downstream)"), "{message}");
    eventually("a warning Event", CONVERGE, || async {
        Ok(events_about(&client, &name, "NamespaceHoldsClusters")
            .await?
            .into_iter()
            .next())
    })
    .await?;
    let ns = namespaces(&client).get(&name).await?;
    ensure!(
        ns.metadata.deletion_timestamp.is_none(),
        "the namespace stays"
    );
    let provs = Api::<drover::api::ProvCluster>::namespaced(client.clone(), &name);
    ensure!(
        provs.get_opt("downstream").await?.is_some(),
        "the prov cluster stays"
    );

    delete(&provs, "downstream").await?;
    wait_gone("workspace released", &workspaces(&client), &name).await?;
    wait_gone("namespace deleted", &namespaces(&client), &name).await?;
    Ok(())
}

#[tokio::test]
async fn the_cascade_flag_deletes_the_namespace_at_once() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let config = Config {
        workspace_deletion: WorkspaceDeletion::Cascade,
        ..test_config()
    };
    let _drover = Drover::start(&env, config)?;
    let name = env.unique_name("cascade");
    create_ws(&client, &fleet_workspace(&name, &[], &[])).await?;
    wait_condition(&client, &name, "NamespaceReady", "NamespaceReady").await?;
    create_prov(&client, &prov_cluster(&name, "downstream")).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    delete(&workspaces(&client), &name).await?;
    wait_gone("workspace released", &workspaces(&client), &name).await?;
    wait_namespace_going(&client, &name).await?;
    eventually("a NamespaceDeleted Event", CONVERGE, || async {
        Ok(events_about(&client, &name, "NamespaceDeleted")
            .await?
            .into_iter()
            .next())
    })
    .await?;
    Ok(())
}
