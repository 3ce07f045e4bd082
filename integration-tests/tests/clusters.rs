//! §C1–C9 against the real control plane. The tests play the parts drover does not: a cluster
//! agent setting mgmt conditions and a provisioner creating kubeconfig secrets.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use drover::api::{ClusterGroup, FleetCluster, MgmtCluster, ProvCluster};
use drover::mapping::names::generated_mgmt_name;
use drover_integration_tests::fixtures::*;
use drover_integration_tests::{CONVERGE, Drover, TestEnv, eventually, test_config};
use k8s_openapi::api::core::v1::Toleration;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

async fn shared() -> Result<(Client, &'static TestEnv)> {
    let env = TestEnv::shared().await?;
    Drover::shared(env).await?;
    let client = env.client()?;
    default_workspaces_ready(&client).await?;
    Ok((client, env))
}

async fn get_prov(client: &Client, ns: &str, name: &str) -> Result<Option<ProvCluster>> {
    Ok(Api::<ProvCluster>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?)
}

async fn get_mgmt(client: &Client, name: &str) -> Result<Option<MgmtCluster>> {
    Ok(Api::<MgmtCluster>::all(client.clone())
        .get_opt(name)
        .await?)
}

async fn get_fleet(client: &Client, ns: &str, name: &str) -> Result<Option<FleetCluster>> {
    Ok(Api::<FleetCluster>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?)
}

/// Waits until the prov cluster records its mgmt name, and returns that name.
async fn recorded_mgmt_name(client: &Client, ns: &str, name: &str) -> Result<String> {
    eventually("prov status.clusterName", CONVERGE, || async {
        Ok(get_prov(client, ns, name)
            .await?
            .and_then(|p| p.cluster_name().map(str::to_string)))
    })
    .await
}

async fn wait_gone<F, Fut, T>(what: &str, mut get: F) -> Result<()>
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

#[tokio::test]
async fn a_prov_cluster_gets_one_mgmt_cluster_and_once_connected_a_fleet_cluster() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("prod");
    let prov = create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    ensure!(
        mgmt_name == generated_mgmt_name(&prov.uid().unwrap_or_default()),
        "name derives from the UID"
    );
    let mgmts = Api::<MgmtCluster>::all(client.clone())
        .list(&Default::default())
        .await?;
    let ours: Vec<_> = mgmts
        .items
        .iter()
        .filter(|m| m.spec.display_name.as_deref() == Some(name.as_str()))
        .collect();
    ensure!(
        ours.len() == 1,
        "exactly one mgmt cluster for {name}, found {}",
        ours.len()
    );
    ensure!(ours[0].spec.fleet_workspace_name.as_deref() == Some("fleet-default"));
    ensure!(ours[0].spec.internal == Some(false));

    let status = get_prov(&client, "fleet-default", &name)
        .await?
        .and_then(|p| p.status)
        .unwrap_or_default();
    ensure!(status.fleet_workspace_name.as_deref() == Some("fleet-default"));
    ensure!(
        status.ready != Some(true),
        "not ready before the agent connects"
    );
    ensure!(
        get_fleet(&client, "fleet-default", &name).await?.is_none(),
        "no fleet cluster before it qualifies"
    );

    connect_mgmt(&client, &mgmt_name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    let fleet = eventually("fleet cluster", CONVERGE, || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    // The Fleet cluster is written first; the status (bookkeeping) follows.
    let secret_name = format!("{name}-kubeconfig");
    eventually("the status follows", CONVERGE, || async {
        let status = get_prov(&client, "fleet-default", &name)
            .await?
            .and_then(|p| p.status)
            .unwrap_or_default();
        Ok((status.ready == Some(true)
            && status.client_secret_name.as_deref() == Some(secret_name.as_str()))
        .then_some(()))
    })
    .await?;
    let labels = fleet.labels();
    ensure!(
        labels.get("management.cattle.io/cluster-name") == Some(&mgmt_name),
        "{labels:?}"
    );
    ensure!(
        labels.get("management.cattle.io/cluster-display-name") == Some(&name),
        "{labels:?}"
    );
    ensure!(
        fleet.spec.kube_config_secret.as_deref() == Some(format!("{name}-kubeconfig").as_str())
    );
    ensure!(fleet.spec.kube_config_secret_namespace.as_deref() == Some("fleet-default"));
    ensure!(
        fleet.spec.agent_namespace.is_none(),
        "downstream clusters leave agentNamespace empty"
    );
    ensure!(
        fleet.spec.agent_pull_secrets == Some(vec![]),
        "non-legacy: empty pull secrets"
    );
    ensure!(fleet.spec.agent_affinity.is_some(), "default affinity");
    Ok(())
}

#[tokio::test]
async fn a_legacy_mgmt_cluster_gets_the_default_workspace_a_prov_cluster_and_its_edits_flow()
-> Result<()> {
    let (client, _env) = shared().await?;
    let name = legacy_name();
    create_mgmt(&client, &legacy_mgmt_cluster(&name, None)).await?;
    eventually("workspace assigned", CONVERGE, || async {
        Ok(get_mgmt(&client, &name)
            .await?
            .and_then(|m| m.workspace().map(str::to_string))
            .filter(|w| w == "fleet-default"))
    })
    .await?;
    let prov = eventually("legacy prov cluster", CONVERGE, || {
        get_prov(&client, "fleet-default", &name)
    })
    .await?;
    ensure!(prov.spec.rke_config.is_none());
    ensure!(
        prov.annotations()
            .get("provisioning.cattle.io/management-cluster-display-name")
            == Some(&format!("{name}-display"))
    );

    connect_mgmt(&client, &name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    eventually("fleet cluster", CONVERGE, || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;

    // An edit on the mgmt side flows to prov and to fleet.
    let patch = json!({
        "metadata": {"labels": {"env": "prod", "x.cattle.io/internal": "1"}},
        "spec": {"fleetAgentDeploymentCustomization": {"appendTolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}}
    });
    Api::<MgmtCluster>::all(client.clone())
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    eventually(
        "label and tolerations flow to prov and fleet",
        CONVERGE,
        || async {
            let prov = get_prov(&client, "fleet-default", &name).await?;
            let fleet = get_fleet(&client, "fleet-default", &name).await?;
            let prov_ok = prov.as_ref().is_some_and(|p| {
                p.labels().get("env").map(String::as_str) == Some("prod")
                    && !p.labels().contains_key("x.cattle.io/internal")
                    && p.spec
                        .fleet_agent_deployment_customization
                        .as_ref()
                        .and_then(|c| c.append_tolerations.as_ref())
                        .is_some()
            });
            let fleet_ok = fleet.as_ref().is_some_and(|f| {
                f.labels().get("env").map(String::as_str) == Some("prod")
                    && f.spec
                        .agent_tolerations
                        .as_ref()
                        .is_some_and(|t| t.iter().any(|t| t.key.as_deref() == Some("gpu")))
            });
            Ok((prov_ok && fleet_ok).then_some(()))
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn an_externally_managed_legacy_cluster_without_workspace_is_not_defaulted() -> Result<()> {
    let (client, _env) = shared().await?;
    let name = legacy_name();
    let mut mgmt = legacy_mgmt_cluster(&name, None);
    mgmt.metadata.annotations = Some(BTreeMap::from([(
        "provisioning.cattle.io/externally-managed".to_string(),
        "true".to_string(),
    )]));
    create_mgmt(&client, &mgmt).await?;
    // The legacy prov cluster appears (in the default workspace), proving drover saw it...
    eventually("legacy prov cluster", CONVERGE, || {
        get_prov(&client, "fleet-default", &name)
    })
    .await?;
    // ...and the mgmt cluster still has no workspace.
    let mgmt = get_mgmt(&client, &name).await?;
    ensure!(
        mgmt.is_some_and(|m| m.workspace().is_none()),
        "externally managed: no defaulting"
    );
    Ok(())
}

#[tokio::test]
async fn the_local_cluster_is_bootstrapped_into_fleet_local_with_its_own_agent_namespace()
-> Result<()> {
    let (client, _env) = shared().await?;
    let mgmt = eventually("mgmt local", CONVERGE, || get_mgmt(&client, "local")).await?;
    ensure!(mgmt.is_internal());
    ensure!(mgmt.workspace() == Some("fleet-local"));
    eventually("prov fleet-local/local", CONVERGE, || {
        get_prov(&client, "fleet-local", "local")
    })
    .await?;
    create_kubeconfig_secret(&client, "fleet-local", "local").await?;
    let fleet = eventually("fleet fleet-local/local", CONVERGE, || {
        get_fleet(&client, "fleet-local", "local")
    })
    .await?;
    ensure!(fleet.spec.agent_namespace.as_deref() == Some("cattle-fleet-local-system"));
    ensure!(fleet.labels().get("name").map(String::as_str) == Some("local"));
    let group = eventually("ClusterGroup default", CONVERGE, || async {
        Ok(
            Api::<ClusterGroup>::namespaced(client.clone(), "fleet-local")
                .get_opt("default")
                .await?,
        )
    })
    .await?;
    let selector = group
        .spec
        .selector
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    ensure!(
        selector.get("name").map(String::as_str) == Some("local"),
        "{selector:?}"
    );
    Ok(())
}

/// Creates a prov cluster in `fleet-default`, connects its mgmt cluster and provides its
/// kubeconfig secret; returns the mgmt name once the fleet cluster exists.
async fn connected_prov_cluster(client: &Client, name: &str) -> Result<String> {
    create_prov(client, &prov_cluster("fleet-default", name)).await?;
    let mgmt_name = recorded_mgmt_name(client, "fleet-default", name).await?;
    connect_mgmt(client, &mgmt_name).await?;
    create_kubeconfig_secret(client, "fleet-default", name).await?;
    eventually("fleet cluster", CONVERGE, || {
        get_fleet(client, "fleet-default", name)
    })
    .await?;
    Ok(mgmt_name)
}

/// Creates a connected legacy cluster with a fleet cluster in `fleet-default`.
async fn connected_legacy_cluster(client: &Client) -> Result<String> {
    let name = legacy_name();
    create_mgmt(client, &legacy_mgmt_cluster(&name, Some("fleet-default"))).await?;
    connect_mgmt(client, &name).await?;
    create_kubeconfig_secret(client, "fleet-default", &name).await?;
    eventually("fleet cluster", CONVERGE, || {
        get_fleet(client, "fleet-default", &name)
    })
    .await?;
    Ok(name)
}

#[tokio::test]
async fn the_fleet_cluster_keeps_fields_written_by_fleet_controller_and_users() -> Result<()> {
    let (client, _env) = shared().await?;
    let name = connected_legacy_cluster(&client).await?;
    let fleets = Api::<FleetCluster>::namespaced(client.clone(), "fleet-default");
    let theirs = json!({"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster", "spec": {"clientID": "abc123"}});
    fleets
        .patch(
            &name,
            &PatchParams::apply("fleet-controller"),
            &Patch::Apply(&theirs),
        )
        .await?;
    fleets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"redeployAgentGeneration": 3}})),
        )
        .await?;
    // Trigger reconciles that do change the fleet cluster: a label edit on the mgmt side.
    for i in 0..3 {
        let patch = json!({"metadata": {"labels": {"round": i.to_string()}}});
        Api::<MgmtCluster>::all(client.clone())
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        eventually("label flows", CONVERGE, || async {
            Ok(get_fleet(&client, "fleet-default", &name)
                .await?
                .filter(|f| f.labels().get("round") == Some(&i.to_string())))
        })
        .await?;
    }
    let fleet = get_fleet(&client, "fleet-default", &name)
        .await?
        .expect("fleet cluster");
    ensure!(
        fleet.spec.client_id.as_deref() == Some("abc123"),
        "clientID kept"
    );
    ensure!(
        fleet.spec.redeploy_agent_generation == Some(3),
        "redeployAgentGeneration kept"
    );
    Ok(())
}

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    }
}

#[tokio::test]
async fn shuffled_tolerations_give_one_sorted_list_and_ten_reconciles_write_nothing() -> Result<()>
{
    // A private control plane: the write count must be this drover's alone.
    let env = TestEnv::start().await?;
    let drover = Drover::start(&env, test_config())?;
    let client = env.client()?;
    default_workspaces_ready(&client).await?;
    let name = legacy_name();
    let mut mgmt = legacy_mgmt_cluster(&name, Some("fleet-default"));
    let shuffled = vec![
        toleration("c", "NoSchedule"),
        toleration("a", "NoExecute"),
        toleration("b", "NoSchedule"),
        toleration("a", "NoSchedule"),
    ];
    mgmt.spec.fleet_agent_deployment_customization =
        Some(Box::new(drover::api::AgentDeploymentCustomization {
            append_tolerations: Some(shuffled),
            ..Default::default()
        }));
    create_mgmt(&client, &mgmt).await?;
    eventually("prov cluster", CONVERGE, || {
        get_prov(&client, "fleet-default", &name)
    })
    .await?;
    connect_mgmt(&client, &name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    let fleet = eventually("fleet cluster", CONVERGE, || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    let keys: Vec<_> = fleet
        .spec
        .agent_tolerations
        .unwrap_or_default()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t.key.clone().unwrap_or_default(),
                t.effect.clone().unwrap_or_default()
            )
        })
        .collect();
    ensure!(
        keys == [
            "a:NoExecute",
            "a:NoSchedule",
            "b:NoSchedule",
            "c:NoSchedule"
        ],
        "{keys:?}"
    );

    // Let everything settle, then poke the mgmt cluster ten times with a change that maps to
    // nothing (an export-cleaned annotation): each is a reconcile of both sides.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = drover.writes();
    for i in 0..10 {
        let patch = json!({"metadata": {"annotations": {"poke.cattle.io/round": i.to_string()}}});
        Api::<MgmtCluster>::all(client.clone())
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = drover.writes() - before;
    println!("writes during 10 no-op reconciles: {writes}");
    ensure!(writes == 0, "10 no-op reconciles sent {writes} writes");
    Ok(())
}

#[tokio::test]
async fn deleting_a_prov_cluster_removes_its_mgmt_and_fleet_clusters_and_every_finalizer()
-> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("gone");
    let mgmt_name = connected_prov_cluster(&client, &name).await?;
    let mgmt = get_mgmt(&client, &mgmt_name).await?.expect("mgmt");
    ensure!(
        mgmt.finalizers()
            .iter()
            .any(|f| f == "wrangler.cattle.io/mgmt-cluster-remove")
    );

    Api::<ProvCluster>::namespaced(client.clone(), "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &mgmt_name)).await?;
    wait_gone("fleet cluster", || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn deleting_a_legacy_mgmt_cluster_removes_its_prov_and_fleet_clusters() -> Result<()> {
    let (client, _env) = shared().await?;
    let name = connected_legacy_cluster(&client).await?;
    Api::<MgmtCluster>::all(client.clone())
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &name)).await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("fleet cluster", || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn moving_a_legacy_cluster_moves_prov_and_fleet_and_the_stale_copy_never_deletes_the_mgmt_cluster()
-> Result<()> {
    let (client, env) = shared().await?;
    let team = env.unique_name("team");
    create_workspace(&client, &team).await?;
    create_kubeconfig_secret_when_namespace_exists(&client, &team, "placeholder").await?;
    let name = connected_legacy_cluster(&client).await?;
    create_kubeconfig_secret(&client, &team, &name).await?;
    let mgmt_uid = get_mgmt(&client, &name).await?.and_then(|m| m.uid());

    Api::<MgmtCluster>::all(client.clone())
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"fleetWorkspaceName": team}})),
        )
        .await?;
    eventually("prov in the new workspace", CONVERGE, || {
        get_prov(&client, &team, &name)
    })
    .await?;
    eventually("fleet in the new workspace", CONVERGE, || {
        get_fleet(&client, &team, &name)
    })
    .await?;
    wait_gone("old prov", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("old fleet", || get_fleet(&client, "fleet-default", &name)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mgmt = get_mgmt(&client, &name).await?;
    ensure!(
        mgmt.as_ref().and_then(|m| m.uid()) == mgmt_uid,
        "the mgmt cluster survived the move"
    );
    ensure!(
        mgmt.is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
        "and is not being deleted"
    );
    Ok(())
}

/// Waits for the namespace a new workspace gets, then creates a secret in it.
async fn create_kubeconfig_secret_when_namespace_exists(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<()> {
    eventually("workspace namespace", CONVERGE, || async {
        Ok(create_kubeconfig_secret(client, ns, name).await.ok())
    })
    .await
}

#[tokio::test]
async fn a_rancher_created_pair_is_adopted_without_any_change_and_deletes_cleanly() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("rancher");
    let mgmt_name = generated_mgmt_name(&name);
    // What Rancher wrote: objectset marks naming the prov cluster (no UID), its finalizer.
    let annotations = BTreeMap::from([
        (
            "provisioning.cattle.io/management-cluster-name".to_string(),
            mgmt_name.clone(),
        ),
        (
            "provisioning.cattle.io/administrated".to_string(),
            "false".to_string(),
        ),
        (
            "objectset.rio.cattle.io/owner-gvk".to_string(),
            "provisioning.cattle.io/v1, Kind=Cluster".to_string(),
        ),
        (
            "objectset.rio.cattle.io/owner-name".to_string(),
            name.clone(),
        ),
        (
            "objectset.rio.cattle.io/owner-namespace".to_string(),
            "fleet-default".to_string(),
        ),
    ]);
    let mut mgmt = legacy_mgmt_cluster(&mgmt_name, Some("fleet-default"));
    mgmt.spec.display_name = Some(name.clone());
    mgmt.spec.internal = Some(false);
    mgmt.metadata.annotations = Some(annotations);
    mgmt.metadata.finalizers = Some(vec!["wrangler.cattle.io/mgmt-cluster-remove".into()]);
    let mgmt = create_mgmt(&client, &mgmt).await?;
    let before = mgmt.resource_version();

    let mut prov = prov_cluster("fleet-default", &name);
    prov.metadata.annotations = Some(BTreeMap::from([(
        "provisioning.cattle.io/management-cluster-name".to_string(),
        mgmt_name.clone(),
    )]));
    prov.metadata.finalizers = Some(vec![
        "wrangler.cattle.io/provisioning-cluster-remove".into(),
    ]);
    create_prov(&client, &prov).await?;
    let recorded = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    ensure!(recorded == mgmt_name);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = get_mgmt(&client, &mgmt_name).await?.expect("mgmt");
    ensure!(
        after.resource_version() == before,
        "adoption changed the mgmt cluster: {after:?}"
    );

    Api::<ProvCluster>::namespaced(client.clone(), "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &mgmt_name)).await?;
    Ok(())
}

#[tokio::test]
async fn a_prov_cluster_naming_a_mgmt_cluster_of_another_is_refused_with_a_condition() -> Result<()>
{
    let (client, env) = shared().await?;
    let first = env.unique_name("first");
    create_prov(&client, &prov_cluster("fleet-default", &first)).await?;
    let taken = recorded_mgmt_name(&client, "fleet-default", &first).await?;
    let second = env.unique_name("second");
    let mut prov = prov_cluster("fleet-default", &second);
    prov.metadata.annotations = Some(BTreeMap::from([(
        "provisioning.cattle.io/management-cluster-name".to_string(),
        taken.clone(),
    )]));
    create_prov(&client, &prov).await?;
    let condition = eventually("Created=False", CONVERGE, || async {
        let prov = get_prov(&client, "fleet-default", &second).await?;
        Ok(prov
            .and_then(|p| p.status)
            .and_then(|s| s.conditions)
            .and_then(|c| {
                c.into_iter()
                    .find(|c| c.type_ == "Created" && c.status == "False")
            }))
    })
    .await?;
    ensure!(
        condition.reason.as_deref() == Some("MgmtClusterClaimed"),
        "{condition:?}"
    );
    ensure!(condition.message.unwrap_or_default().contains(&taken));
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(client.clone(), "fleet-default");
    let event = eventually(
        "a Warning Event on the refused prov cluster",
        CONVERGE,
        || async {
            let list = events.list(&Default::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("MgmtClusterClaimed")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(second.as_str())
            }))
        },
    )
    .await?;
    ensure!(event.type_.as_deref() == Some("Warning"));
    ensure!(
        event.note.unwrap_or_default().contains(&taken),
        "the Event names the mgmt cluster"
    );
    let mgmt = get_mgmt(&client, &taken).await?.expect("mgmt");
    ensure!(
        mgmt.spec.display_name.as_deref() == Some(first.as_str()),
        "the mgmt cluster was not taken over"
    );
    Ok(())
}

#[tokio::test]
async fn killing_drover_mid_way_and_restarting_leaves_exactly_one_mgmt_cluster_per_prov_cluster()
-> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let cfg = drover::config::Config {
        bootstrap_local_cluster: false,
        ..test_config()
    };
    let mut child = drover_integration_tests::spawn_drover_logged(
        &env,
        &["--bootstrap-local-cluster=false"],
        &[],
    )?;
    default_workspaces_ready(&client).await?;
    let names: Vec<String> = (0..20).map(|i| format!("crash-{i}")).collect();
    for name in &names {
        create_prov(&client, &prov_cluster("fleet-default", name)).await?;
    }
    // SIGKILL while drover is creating mgmt clusters and writing statuses.
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill()?;
    let partial = Api::<MgmtCluster>::all(client.clone())
        .list(&Default::default())
        .await?
        .items
        .len();
    println!("mgmt clusters when drover was killed: {partial}");
    let drover = Drover::start(&env, cfg)?;
    let provs = Api::<ProvCluster>::namespaced(client.clone(), "fleet-default");
    eventually(
        "every prov cluster has a recorded mgmt name",
        CONVERGE,
        || async {
            let list = provs.list(&Default::default()).await?;
            Ok(list
                .items
                .iter()
                .all(|p| p.cluster_name().is_some())
                .then_some(()))
        },
    )
    .await?;
    let mgmts = Api::<MgmtCluster>::all(client.clone())
        .list(&Default::default())
        .await?;
    for name in &names {
        let count = mgmts
            .items
            .iter()
            .filter(|m| m.spec.display_name.as_deref() == Some(name.as_str()))
            .count();
        ensure!(count == 1, "{name} has {count} mgmt clusters");
    }
    drop(drover);
    Ok(())
}

#[tokio::test]
async fn a_restart_with_nothing_changed_sends_zero_cluster_writes() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let first = Drover::start(&env, test_config())?;
    default_workspaces_ready(&client).await?;
    let prov_name = "steady";
    connected_prov_cluster(&client, prov_name).await?;
    let legacy = connected_legacy_cluster(&client).await?;
    create_kubeconfig_secret(&client, "fleet-local", "local").await?;
    eventually("fleet clusters", CONVERGE, || async {
        let a = get_fleet(&client, "fleet-default", prov_name).await?;
        let b = get_fleet(&client, "fleet-local", "local").await?;
        Ok((a.is_some() && b.is_some()).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("writes to converge: {}", first.writes());
    first.stop();

    let second = Drover::start(&env, test_config())?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let writes = second.writes();
    println!("writes after restart: {writes}");
    ensure!(
        writes == 0,
        "a restart with nothing changed sent {writes} writes"
    );
    ensure!(
        get_fleet(&client, "fleet-default", &legacy)
            .await?
            .is_some()
    );
    Ok(())
}

#[tokio::test]
async fn a_cluster_moved_to_a_workspace_that_does_not_exist_yet_reports_the_wait_then_follows()
-> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("mover");
    let mgmt_name = connected_prov_cluster(&client, &name).await?;

    let later = env.unique_name("later");
    Api::<MgmtCluster>::all(client.clone())
        .patch(
            &mgmt_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"fleetWorkspaceName": later}})),
        )
        .await?;
    let waiting = eventually(
        "Reconciling names the missing workspace",
        CONVERGE,
        || async {
            let prov = get_prov(&client, "fleet-default", &name).await?;
            Ok(prov
                .and_then(|p| p.status)
                .and_then(|s| s.conditions)
                .and_then(|c| {
                    c.into_iter()
                        .find(|c| c.type_ == "Reconciling" && c.status == "True")
                })
                .filter(|c| c.message.as_deref().unwrap_or_default().contains(&later)))
        },
    )
    .await?;
    println!("{waiting:?}");

    create_workspace(&client, &later).await?;
    let fleet = eventually("fleet cluster in the new workspace", CONVERGE, || {
        get_fleet(&client, &later, &name)
    })
    .await?;
    ensure!(
        fleet.spec.kube_config_secret_namespace.as_deref() == Some("fleet-default"),
        "still points at the prov namespace"
    );
    wait_gone("fleet cluster in the old workspace", || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    let prov = get_prov(&client, "fleet-default", &name)
        .await?
        .expect("prov stays");
    ensure!(prov.status.and_then(|s| s.fleet_workspace_name).as_deref() == Some(later.as_str()));
    Ok(())
}

#[tokio::test]
async fn without_any_secret_access_the_kubeconfig_convention_is_trusted_once_connected()
-> Result<()> {
    let env = TestEnv::start().await?;
    let config = drover::config::Config {
        observe_kubeconfig_secrets: false,
        ..test_config()
    };
    let _drover = Drover::start_as_chart(&env, config, &["--set", "secrets.access=false"]).await?;
    let client = env.client()?;
    default_workspaces_ready(&client).await?;
    let name = "no-secrets";
    create_prov(&client, &prov_cluster("fleet-default", name)).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", name).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = get_prov(&client, "fleet-default", name)
        .await?
        .and_then(|p| p.status)
        .unwrap_or_default();
    ensure!(
        status.client_secret_name.is_none(),
        "not before the cluster is connected"
    );
    connect_mgmt(&client, &mgmt_name).await?;
    let fleet = eventually("fleet cluster", CONVERGE, || {
        get_fleet(&client, "fleet-default", name)
    })
    .await?;
    ensure!(fleet.spec.kube_config_secret.as_deref() == Some("no-secrets-kubeconfig"));
    Ok(())
}

#[tokio::test]
async fn private_registry_pull_secrets_reach_fleets_crd_as_object_references() -> Result<()> {
    let (client, _env) = shared().await?;
    let name = legacy_name();
    let mut mgmt = legacy_mgmt_cluster(&name, Some("fleet-default"));
    mgmt.spec.imported_config = Some(serde_json::from_value(json!({
        "privateRegistryURL": "registry.example.com:5000",
        "privateRegistryPullSecrets": ["regcred", "mirror"],
    }))?);
    create_mgmt(&client, &mgmt).await?;
    connect_mgmt(&client, &name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    // Fleet's own CRD types the list as `[{name: …}]`: an apply of plain names is refused.
    let fleet = eventually("fleet cluster with pull secrets", CONVERGE, || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    let spec = serde_json::to_value(&fleet.spec)?;
    ensure!(
        spec["agentPullSecrets"]
            == json!([
                {"name": "regcred-rancher-managed-pull-secret"},
                {"name": "mirror-rancher-managed-pull-secret"},
            ]),
        "{spec}"
    );
    ensure!(
        spec["privateRepoURL"] == "registry.example.com:5000",
        "{spec}"
    );
    Ok(())
}

#[tokio::test]
async fn rancher_webhook_customization_fields_survive_the_prov_to_mgmt_copy() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("webhook");
    let mut prov = prov_cluster("fleet-default", &name);
    prov.spec.rke_config = Some(json!({}));
    prov.spec.webhook_deployment_customization = Some(serde_json::from_value(json!({
        "replicaCount": 3,
        "podDisruptionBudget": {"minAvailable": "1"},
        "appendTolerations": [{"key": "webhook", "operator": "Exists"}],
    }))?);
    create_prov(&client, &prov).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    let mgmt = eventually("mgmt cluster", CONVERGE, || get_mgmt(&client, &mgmt_name)).await?;
    let copied = serde_json::to_value(&mgmt.spec.webhook_deployment_customization)?;
    ensure!(copied["replicaCount"] == 3, "{copied}");
    ensure!(
        copied["podDisruptionBudget"] == json!({"minAvailable": "1"}),
        "{copied}"
    );
    ensure!(
        copied["appendTolerations"] == json!([{"key": "webhook", "operator": "Exists"}]),
        "{copied}"
    );
    Ok(())
}

/// Whether drover's own server-side apply (not a patch) owns `metadata.finalizers`.
fn finalizers_applied_by_drover<K: kube::Resource>(obj: &K) -> bool {
    obj.meta().managed_fields.iter().flatten().any(|m| {
        m.manager.as_deref() == Some("drover")
            && m.operation.as_deref() == Some("Apply")
            && m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:metadata/f:finalizers").is_some())
    })
}

/// Another controller adds its finalizer the way controllers do: appended, never replacing.
async fn add_other_finalizer<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/keep"}
    ]))?;
    api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await?;
    Ok(())
}

async fn release_other_finalizer<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(obj) = api.get_opt(name).await? else {
        return Ok(());
    };
    let kept: Vec<String> = obj
        .meta()
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != "example.com/keep")
        .cloned()
        .collect();
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": kept}})),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn drovers_finalizers_ride_in_its_applies_and_other_controllers_finalizers_survive_them()
-> Result<()> {
    let (client, env) = shared().await?;
    let mgmts = Api::<MgmtCluster>::all(client.clone());
    let provs = Api::<ProvCluster>::namespaced(client.clone(), "fleet-default");

    // The mgmt cluster drover creates for a prov cluster carries drover's finalizer from its
    // first apply; another controller's finalizer survives drover's later applies.
    let name = env.unique_name("rides");
    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    let mgmt = get_mgmt(&client, &mgmt_name).await?.expect("mgmt");
    ensure!(
        mgmt.finalizers() == ["wrangler.cattle.io/mgmt-cluster-remove"],
        "{:?}",
        mgmt.finalizers()
    );
    ensure!(
        finalizers_applied_by_drover(&mgmt),
        "the finalizer came with the apply"
    );
    add_other_finalizer(&mgmts, &mgmt_name).await?;
    provs
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "gold"}}})),
        )
        .await?;
    let mgmt = eventually(
        "the label re-applied to the mgmt cluster",
        CONVERGE,
        || async {
            Ok(get_mgmt(&client, &mgmt_name)
                .await?
                .filter(|m| m.labels().get("tier").map(String::as_str) == Some("gold")))
        },
    )
    .await?;
    ensure!(
        mgmt.finalizers() == ["wrangler.cattle.io/mgmt-cluster-remove", "example.com/keep"],
        "both finalizers after drover's apply: {:?}",
        mgmt.finalizers()
    );

    // The same for the prov cluster drover creates for a legacy mgmt cluster.
    let legacy = connected_legacy_cluster(&client).await?;
    let prov = get_prov(&client, "fleet-default", &legacy)
        .await?
        .expect("legacy prov");
    ensure!(
        prov.finalizers() == ["wrangler.cattle.io/provisioning-cluster-remove"],
        "{:?}",
        prov.finalizers()
    );
    ensure!(
        finalizers_applied_by_drover(&prov),
        "the finalizer came with the apply"
    );
    add_other_finalizer(&provs, &legacy).await?;
    mgmts
        .patch(
            &legacy,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "gold"}}})),
        )
        .await?;
    let prov = eventually(
        "the label re-applied to the prov cluster",
        CONVERGE,
        || async {
            Ok(get_prov(&client, "fleet-default", &legacy)
                .await?
                .filter(|p| p.labels().get("tier").map(String::as_str) == Some("gold")))
        },
    )
    .await?;
    ensure!(
        prov.finalizers()
            == [
                "wrangler.cattle.io/provisioning-cluster-remove",
                "example.com/keep"
            ],
        "both finalizers after drover's apply: {:?}",
        prov.finalizers()
    );

    // Deleting: drover's removal runs and releases its finalizer, which no later apply brings
    // back, while the other controller still holds the objects.
    provs.delete(&name, &DeleteParams::default()).await?;
    eventually("drover's mgmt finalizer released", CONVERGE, || async {
        Ok(get_mgmt(&client, &mgmt_name).await?.filter(|m| {
            m.metadata.deletion_timestamp.is_some() && m.finalizers() == ["example.com/keep"]
        }))
    })
    .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = get_mgmt(&client, &mgmt_name)
        .await?
        .expect("held by the other");
    ensure!(
        held.finalizers() == ["example.com/keep"],
        "drover's finalizer stays released: {:?}",
        held.finalizers()
    );
    release_other_finalizer(&mgmts, &mgmt_name).await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &mgmt_name)).await?;

    mgmts.delete(&legacy, &DeleteParams::default()).await?;
    eventually("drover's prov finalizer released", CONVERGE, || async {
        Ok(get_prov(&client, "fleet-default", &legacy)
            .await?
            .filter(|p| {
                p.metadata.deletion_timestamp.is_some() && p.finalizers() == ["example.com/keep"]
            }))
    })
    .await?;
    release_other_finalizer(&provs, &legacy).await?;
    wait_gone("legacy prov cluster", || {
        get_prov(&client, "fleet-default", &legacy)
    })
    .await?;
    wait_gone("legacy mgmt cluster", || get_mgmt(&client, &legacy)).await?;
    Ok(())
}
