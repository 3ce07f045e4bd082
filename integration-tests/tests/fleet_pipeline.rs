//! Fleet managing Fleet, live: drover feeding the real fleet-controller and fleet-agents on Fleet's
//! own CRDs.
//!
//! Two control planes: the upstream plays Rancher's local cluster (fleet-controller's three
//! processes, drover as its chart's ServiceAccount, and the local cluster's agent in
//! `cattle-fleet-local-system`), the downstream plays a provisioned cluster (its agent in
//! `cattle-fleet-system`). The test plays what Rancher's other controllers and a kubelet would: the
//! kubeconfig secrets, the mgmt cluster's agent conditions, and the agents as processes.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use drover::api::{FleetCluster, MgmtCluster, ProvCluster};
use drover_integration_tests::fixtures::{connect_mgmt, create_prov, prov_cluster};
use drover_integration_tests::fleet::{
    self, BOOTSTRAP_SECRET, FLEET_SYSTEM_NAMESPACE, LOCAL_AGENT_NAMESPACE,
};
use drover_integration_tests::{CONVERGE, Drover, TestEnv, eventually, test_config};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams};
use serde_json::{Value, json};

/// How long Fleet may take to register a cluster or deploy a bundle (agents check in every 5 s,
/// the first time 15 s after they start).
const FLEET: Duration = Duration::from_secs(180);
/// The namespace the test bundles deploy into.
const BUNDLE_NAMESPACE: &str = "fleet-e2e";

/// A Fleet cluster as fleet-controller and the agent see it (spec and status in full).
async fn fleet_cluster(client: &Client, ns: &str, name: &str) -> Result<Option<Value>> {
    let resource = ApiResource::erase::<FleetCluster>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    Ok(api
        .get_opt(name)
        .await?
        .map(|o| serde_json::to_value(o).unwrap_or_default()))
}

fn ready(cluster: &Value) -> bool {
    cluster["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Waits until the Fleet cluster's agent has checked in and every bundle on it is ready.
async fn registered_and_ready(client: &Client, ns: &str, name: &str) -> Result<Value> {
    eventually(
        &format!("Fleet cluster {ns}/{name} to register and become Ready"),
        FLEET,
        || async {
            let Some(cluster) = fleet_cluster(client, ns, name).await? else {
                return Ok(None);
            };
            let checked_in = cluster["status"]["agent"]["lastSeen"].is_string();
            Ok((checked_in && ready(&cluster)).then_some(cluster))
        },
    )
    .await
}

async fn create_kubeconfig_secret(
    client: &Client,
    ns: &str,
    name: &str,
    of: &TestEnv,
) -> Result<()> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(format!("{name}-kubeconfig")),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        },
        data: Some([("value".to_string(), fleet::kubeconfig_secret_value(of)?)].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&Default::default(), &secret)
        .await
        .with_context(|| format!("creating secret {ns}/{name}-kubeconfig"))?;
    Ok(())
}

/// A Bundle holding one ConfigMap, for the clusters `target` selects.
fn bundle(ns: &str, name: &str, target: Value) -> String {
    let configmap = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  deployedBy: fleet\n"
    );
    let bundle = json!({
        "apiVersion": "fleet.cattle.io/v1alpha1",
        "kind": "Bundle",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "defaultNamespace": BUNDLE_NAMESPACE,
            "resources": [{"name": format!("{name}.yaml"), "content": configmap}],
            "targets": [target],
        },
    });
    serde_json::to_string(&bundle).unwrap_or_default()
}

async fn configmap(client: &Client, name: &str) -> Result<Option<ConfigMap>> {
    Ok(
        Api::<ConfigMap>::namespaced(client.clone(), BUNDLE_NAMESPACE)
            .get_opt(name)
            .await?,
    )
}

#[tokio::test]
async fn fleet_imports_the_clusters_drover_surfaces_and_deploys_to_each() -> Result<()> {
    let upstream = TestEnv::start().await?;
    let downstream = TestEnv::start().await?;
    let result = pipeline(&upstream, &downstream).await;
    if result.is_err() {
        eprintln!(
            "upstream logs:\n{}\ndownstream logs:\n{}",
            upstream.log_tails(),
            downstream.log_tails()
        );
    }
    result
}

async fn pipeline(upstream: &TestEnv, downstream: &TestEnv) -> Result<()> {
    let up = upstream.client()?;
    let down = downstream.client()?;
    fleet::start_controllers(upstream).await?;
    let drover = Drover::start_as_chart(upstream, test_config(), &[]).await?;
    drover_integration_tests::fixtures::default_workspaces_ready(&up).await?;

    // What Rancher's other controllers provide: the local cluster's kubeconfig, a provisioned
    // cluster with its kubeconfig, and its cluster agent's conditions.
    create_kubeconfig_secret(&up, "fleet-local", "local", upstream).await?;
    create_prov(&up, &prov_cluster("fleet-default", "dev")).await?;
    create_kubeconfig_secret(&up, "fleet-default", "dev", downstream).await?;
    let provs: Api<ProvCluster> = Api::namespaced(up.clone(), "fleet-default");
    let mgmt_name = eventually(
        "prov fleet-default/dev to record its mgmt cluster",
        CONVERGE,
        || async {
            Ok(provs
                .get_opt("dev")
                .await?
                .and_then(|p| p.cluster_name().map(str::to_string)))
        },
    )
    .await?;
    connect_mgmt(&up, &mgmt_name).await?;

    // Fleet's import: an agent Deployment and its bootstrap secret on each cluster, the local
    // cluster's in its own agent namespace.
    let dev_agent = fleet::wait_for_import(downstream, FLEET_SYSTEM_NAMESPACE).await?;
    let local_agent = fleet::wait_for_import(upstream, LOCAL_AGENT_NAMESPACE).await?;
    for (client, ns) in [
        (&up, FLEET_SYSTEM_NAMESPACE),
        (&down, LOCAL_AGENT_NAMESPACE),
    ] {
        let stray: Api<Secret> = Api::namespaced(client.clone(), ns);
        ensure!(
            stray.get_opt(BOOTSTRAP_SECRET).await?.is_none(),
            "no agent bootstrap secret in {ns} on the wrong cluster"
        );
    }
    fleet::run_agent(
        downstream,
        FLEET_SYSTEM_NAMESPACE,
        "fleet-agent-dev",
        &dev_agent,
    )
    .await?;
    fleet::run_agent(
        upstream,
        LOCAL_AGENT_NAMESPACE,
        "fleet-agent-local",
        &local_agent,
    )
    .await?;

    // Both clusters register and become Ready.
    let dev = registered_and_ready(&up, "fleet-default", "dev").await?;
    let local = registered_and_ready(&up, "fleet-local", "local").await?;
    let dev_client_id = dev["spec"]["clientID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(!dev_client_id.is_empty(), "Fleet wrote a clientID: {dev}");
    ensure!(
        local["status"]["agent"]["namespace"] == LOCAL_AGENT_NAMESPACE,
        "the local agent reports from {LOCAL_AGENT_NAMESPACE}: {}",
        local["status"]["agent"]
    );
    let cluster_namespace = dev["status"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        !cluster_namespace.is_empty(),
        "Fleet made a cluster namespace: {dev}"
    );

    // A Bundle for `dev` lands on the downstream only; one for ClusterGroup fleet-local/default
    // (drover's, selecting the local cluster) on the upstream only.
    upstream
        .apply_yaml_str(&bundle(
            "fleet-default",
            "to-dev",
            json!({"clusterName": "dev"}),
        ))
        .await?;
    upstream
        .apply_yaml_str(&bundle(
            "fleet-local",
            "to-local",
            json!({"clusterGroup": "default"}),
        ))
        .await?;
    eventually("ConfigMap to-dev on the downstream", FLEET, || {
        configmap(&down, "to-dev")
    })
    .await?;
    eventually("ConfigMap to-local on the upstream", FLEET, || {
        configmap(&up, "to-local")
    })
    .await?;
    registered_and_ready(&up, "fleet-default", "dev").await?;
    registered_and_ready(&up, "fleet-local", "local").await?;
    ensure!(
        configmap(&up, "to-dev").await?.is_none(),
        "to-dev stays off the upstream"
    );
    ensure!(
        configmap(&down, "to-local").await?.is_none(),
        "to-local stays off the downstream"
    );

    // drover keeps Fleet's fields while it changes its own: a mgmt label reaches the Fleet
    // cluster, and Fleet's clientID and status stay.
    let mgmts: Api<MgmtCluster> = Api::all(up.clone());
    let label = json!({"metadata": {"labels": {"env": "e2e"}}});
    mgmts
        .patch(&mgmt_name, &PatchParams::default(), &Patch::Merge(&label))
        .await?;
    let relabelled = eventually("the mgmt label on Fleet cluster dev", CONVERGE, || async {
        Ok(fleet_cluster(&up, "fleet-default", "dev")
            .await?
            .filter(|c| c["metadata"]["labels"]["env"] == "e2e"))
    })
    .await?;
    ensure!(
        relabelled["spec"]["clientID"] == dev_client_id.as_str(),
        "Fleet's clientID survives drover: {}",
        relabelled["spec"]
    );
    ensure!(
        relabelled["status"]["agent"]["lastSeen"].is_string() && ready(&relabelled),
        "Fleet's status survives drover: {}",
        relabelled["status"]
    );

    // Converged: the agents keep checking in (status writes drover watches), drover writes nothing.
    registered_and_ready(&up, "fleet-default", "dev").await?;
    let writes = drover.writes();
    let before = fleet_cluster(&up, "fleet-default", "dev").await?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = fleet_cluster(&up, "fleet-default", "dev").await?;
    ensure!(
        before.map(|c| c["status"]["agent"]["lastSeen"].clone())
            != after.map(|c| c["status"]["agent"]["lastSeen"].clone()),
        "the dev agent checked in meanwhile"
    );
    ensure!(
        drover.writes() == writes,
        "drover sent {} writes while Fleet alone was writing",
        drover.writes() - writes
    );

    // Deleting the prov cluster removes the Fleet cluster, and Fleet cleans up after it.
    provs.delete("dev", &DeleteParams::default()).await?;
    eventually("Fleet cluster fleet-default/dev to go", FLEET, || async {
        Ok(fleet_cluster(&up, "fleet-default", "dev")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    let namespaces: Api<Namespace> = Api::all(up.clone());
    eventually(
        &format!("Fleet to remove the cluster namespace {cluster_namespace}"),
        FLEET,
        || async {
            Ok(namespaces
                .get_opt(&cluster_namespace)
                .await?
                .is_none()
                .then_some(()))
        },
    )
    .await?;
    eventually(
        "the mgmt cluster to go with its prov cluster",
        CONVERGE,
        || async { Ok(mgmts.get_opt(&mgmt_name).await?.is_none().then_some(())) },
    )
    .await?;
    ensure!(
        fleet_cluster(&up, "fleet-local", "local")
            .await?
            .is_some_and(|c| ready(&c)),
        "the local cluster stays"
    );
    drop(drover);
    Ok(())
}
