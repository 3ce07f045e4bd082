//! Faults and bad objects on the real control plane (issue 12): drover keeps working, loses
//! nothing, and says what is wrong. Each test starts a private control plane and runs drover as
//! a child process (so it can be stopped, resumed and seen to exit); the tests run one at a time,
//! as several control planes at once would starve a small machine.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use drover::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use drover_integration_tests::chaos::access;
use drover_integration_tests::chaos::replica::LEASE_NAMESPACE;
use drover_integration_tests::fixtures::{
    connect_mgmt, create_kubeconfig_secret, create_mgmt, create_prov, create_workspace,
    default_workspaces_ready, legacy_mgmt_cluster, legacy_name, prov_cluster, waits_for_prov,
};
use drover_integration_tests::{
    CONVERGE, DroverChild, DroverCommand, Options, TestEnv, User, crd_files, eventually, metric,
    spawn_drover_logged,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, ObjectMeta};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// One control plane at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How long drover may take to answer `/readyz` 200 after it starts.
const READY: Duration = Duration::from_secs(60);

/// Waits for `/readyz` to answer `want`; returns the body.
async fn readyz(drover: &DroverChild, want: u16, within: Duration) -> Result<String> {
    eventually(&format!("/readyz to answer {want}"), within, || async {
        Ok(match drover.get("/readyz").await {
            Ok((status, body)) if status == want => Some(body),
            _ => None,
        })
    })
    .await
    .with_context(|| format!("drover's log:\n{}", tail(&drover.log())))
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// An API of `K`'s resource that takes and answers plain JSON, to write what drover's types
/// cannot hold.
fn raw<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = ApiResource::erase::<K>(&());
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

async fn create_raw<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
    body: Value,
) -> Result<DynamicObject> {
    let obj: DynamicObject = serde_json::from_value(body)?;
    raw::<K>(client, namespace)
        .create(&PostParams::default(), &obj)
        .await
        .map_err(|e| anyhow::anyhow!("creating {} {:?}: {e:?}", K::kind(&()), obj.metadata.name))
}

async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// Replaces the schema of CRD `name` by one that keeps whatever it is given, as a CRD installed
/// by another product or version may: drover's copies of the prov and workspace CRDs and
/// Fleet's CRD validate every field drover models, so only a looser CRD lets a shape through
/// that drover's types cannot hold (mgmt clusters have no schema at all).
async fn loosen_crd(client: &Client, name: &str) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let patch: json_patch::Patch = serde_json::from_value(json!([{
        "op": "replace",
        "path": "/spec/versions/0/schema/openAPIV3Schema",
        "value": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    }]))?;
    crds.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .with_context(|| format!("loosening CRD {name}"))?;
    Ok(())
}

/// Creates an object that only a loosened CRD accepts, retrying while the API server still
/// validates with the old schema.
async fn create_loose<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
    body: Value,
) -> Result<DynamicObject> {
    eventually(
        "the API server to take the loosened schema",
        CONVERGE,
        || async { Ok(create_raw::<K>(client, namespace, body.clone()).await.ok()) },
    )
    .await
}

/// A prov cluster with its Kubernetes version written as a YAML number (`1.31`, unquoted).
fn prov_with_numeric_version(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "provisioning.cattle.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"kubernetesVersion": 1.31},
    })
}

/// The Warning Events drover published on the object with `uid` for `reason`.
async fn events_on(
    client: &Client,
    namespace: &str,
    uid: &str,
    reason: &str,
) -> Result<Vec<Event>> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.uid.as_deref()) == Some(uid)
        })
        .collect())
}

/// How many times an Event says it happened (1 unless it was repeated as a series).
fn occurrences(events: &[Event]) -> i32 {
    events
        .iter()
        .map(|e| {
            e.series
                .as_ref()
                .map_or(e.deprecated_count.unwrap_or(1).max(1), |s| s.count)
        })
        .sum()
}

#[tokio::test]
async fn an_object_that_does_not_fit_is_skipped_and_reported_once_while_the_rest_proceeds()
-> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    // A marker in every bad object: it must never appear in drover's log.
    let marker = "body-of-a-bad-object-7f3a";
    let ns = "faults";
    create_namespace(&client, ns).await?;

    // Shapes that do not fit drover's types, one per kind (`agentEnvVars:
    // [{"value": "v"}]` fits now: Kubernetes' types fill a missing name with "").
    let bad_mgmt = create_raw::<MgmtCluster>(
        &client,
        None,
        json!({
            "apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": "c-bad01"},
            "spec": {"displayName": marker, "internal": "yes", "fleetWorkspaceName": "fleet-default",
                     "agentEnvVars": [{"value": "v"}]},
        }),
    )
    .await?;
    let bad_conditions = create_raw::<MgmtCluster>(
        &client,
        None,
        json!({
            "apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": "c-bad02"}, "spec": {"displayName": marker},
        }),
    )
    .await?;
    raw::<MgmtCluster>(&client, None)
        .patch_status(
            "c-bad02",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"conditions": [{"type": "Ready", "message": marker}]}}),
            ),
        )
        .await?;
    loosen_crd(&client, "clusters.provisioning.cattle.io").await?;
    loosen_crd(&client, "clusters.fleet.cattle.io").await?;
    loosen_crd(&client, "fleetworkspaces.management.cattle.io").await?;
    let mut prov = prov_with_numeric_version(ns, "bad-prov");
    prov["metadata"]["labels"] = json!({"marker": marker});
    let bad_prov = create_loose::<ProvCluster>(&client, Some(ns), prov).await?;
    let bad_fleet = create_loose::<FleetCluster>(
        &client,
        Some(ns),
        json!({
            "apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "bad-fleet", "namespace": ns},
            "spec": {"kubeConfigSecret": marker, "paused": "yes"},
        }),
    )
    .await?;
    let bad_ws = create_loose::<FleetWorkspace>(
        &client,
        None,
        json!({
            "apiVersion": "management.cattle.io/v3", "kind": "FleetWorkspace",
            "metadata": {"name": "bad-ws", "annotations": {"provisioning.cattle.io/managed": "false"}},
        }),
    )
    .await?;
    raw::<FleetWorkspace>(&client, None)
        .patch_status(
            "bad-ws",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": marker}})),
        )
        .await?;
    // And objects that fit, created before drover starts too.
    let legacy = legacy_name();
    create_mgmt(
        &client,
        &legacy_mgmt_cluster(&legacy, Some("fleet-default")),
    )
    .await?;
    create_prov(&client, &prov_cluster(ns, "good")).await?;

    let drover = spawn_drover_logged(&env, &[], &[])?;
    readyz(&drover, 200, READY).await?;

    // Everything else proceeds.
    default_workspaces_ready(&client).await?;
    let provs = |ns: &str| Api::<ProvCluster>::namespaced(client.clone(), ns);
    eventually("the legacy cluster's prov cluster", CONVERGE, || async {
        Ok(provs("fleet-default").get_opt(&legacy).await?.map(|_| ()))
    })
    .await?;
    eventually("the good prov cluster's mgmt cluster", CONVERGE, || async {
        let prov = provs(ns).get("good").await?;
        Ok(prov.cluster_name().map(|_| ()))
    })
    .await?;

    // Each bad object: one Warning Event naming the field.
    for (obj, namespace, field) in [
        (&bad_mgmt, "default", "spec.internal"),
        (&bad_conditions, "default", "status.conditions[0]"),
        (&bad_prov, ns, "spec.kubernetesVersion"),
        (&bad_fleet, ns, "spec.paused"),
        (&bad_ws, "default", "status.conditions"),
    ] {
        let uid = obj.uid().unwrap_or_default();
        let name = obj.name_any();
        let events = eventually(
            &format!("an Undecodable Event on {name}"),
            CONVERGE,
            || async {
                let events = events_on(&client, namespace, &uid, "Undecodable").await?;
                Ok((!events.is_empty()).then_some(events))
            },
        )
        .await?;
        let note = events[0].note.clone().unwrap_or_default();
        ensure!(
            events[0].type_.as_deref() == Some("Warning") && note.contains(field),
            "{name}: {note}"
        );
        ensure!(
            !note.contains(marker),
            "the Event quotes the object: {note}"
        );
    }
    // The prov cluster, whose status drover writes, also says so in a condition.
    let status = raw::<ProvCluster>(&client, Some(ns))
        .get_status("bad-prov")
        .await?;
    let conditions = status.data["status"]["conditions"].clone();
    ensure!(
        conditions
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Stalled"
                && c["status"] == "True"
                && c["reason"] == "Undecodable")),
        "bad-prov conditions: {conditions}"
    );

    let metrics = drover.metrics().await?;
    for (resource, count) in [
        ("clusters.management.cattle.io", 2.0),
        ("clusters.provisioning.cattle.io", 1.0),
        ("clusters.fleet.cattle.io", 1.0),
        ("fleetworkspaces.management.cattle.io", 1.0),
    ] {
        let series = format!(r#"drover_skipped_objects{{resource="{resource}"}}"#);
        ensure!(
            metric(&metrics, &series) == Some(count),
            "{series} in\n{metrics}"
        );
    }

    // A change that still does not fit is not reported again.
    raw::<MgmtCluster>(&client, None)
        .patch(
            "c-bad01",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = events_on(
        &client,
        "default",
        &bad_mgmt.uid().unwrap_or_default(),
        "Undecodable",
    )
    .await?;
    ensure!(occurrences(&events) == 1, "reported again: {events:?}");

    // Fixed, it is back: a legacy cluster with a workspace gets its prov cluster.
    raw::<MgmtCluster>(&client, None)
        .patch(
            "c-bad01",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"internal": false}})),
        )
        .await?;
    eventually(
        "the fixed legacy cluster's prov cluster",
        CONVERGE,
        || async { Ok(provs("fleet-default").get_opt("c-bad01").await?.map(|_| ())) },
    )
    .await?;
    let metrics = drover.metrics().await?;
    ensure!(
        metric(
            &metrics,
            r#"drover_skipped_objects{resource="clusters.management.cattle.io"}"#
        ) == Some(1.0),
        "{metrics}"
    );
    // The fixed prov cluster is reconciled, and its Stalled condition is drover's own again.
    raw::<ProvCluster>(&client, Some(ns))
        .patch(
            "bad-prov",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"kubernetesVersion": "v1.31.0"}})),
        )
        .await?;
    eventually(
        "the fixed prov cluster to be reconciled",
        CONVERGE,
        || async {
            let prov = provs(ns).get("bad-prov").await?;
            let stalled = prov
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "Stalled");
            let fresh = stalled.is_some_and(|c| {
                c.reason.as_deref() != Some("Undecodable")
                    && !c.message.unwrap_or_default().contains("cannot read")
            });
            Ok((prov.cluster_name().is_some() && fresh).then_some(()))
        },
    )
    .await?;

    let log = drover.log();
    ensure!(
        !log.contains(marker),
        "drover logged an object body:\n{}",
        tail(&log)
    );
    Ok(())
}

#[tokio::test]
async fn a_workspace_namespace_is_deleted_only_once_a_live_read_finds_no_cluster_in_it()
-> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = spawn_drover_logged(&env, &[], &[])?;
    readyz(&drover, 200, READY).await?;
    let ws = "doomed";
    create_workspace(&client, ws).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually("the workspace's namespace", CONVERGE, || async {
        Ok(namespaces.get_opt(ws).await?.map(|_| ()))
    })
    .await?;
    // A prov cluster drover's cache does not hold (it cannot decode it): only a live read
    // knows the namespace is not empty.
    loosen_crd(&client, "clusters.provisioning.cattle.io").await?;
    create_loose::<ProvCluster>(&client, Some(ws), prov_with_numeric_version(ws, "hidden")).await?;
    eventually(
        "drover to skip the hidden prov cluster",
        CONVERGE,
        || async {
            let metrics = drover.metrics().await?;
            Ok((metric(
                &metrics,
                r#"drover_skipped_objects{resource="clusters.provisioning.cattle.io"}"#,
            ) == Some(1.0))
            .then_some(()))
        },
    )
    .await?;

    let workspaces: Api<FleetWorkspace> = Api::all(client.clone());
    workspaces.delete(ws, &DeleteParams::default()).await?;
    eventually(
        "the workspace to say what it waits for",
        CONVERGE,
        || async {
            let Some(w) = workspaces.get_opt(ws).await? else {
                bail!("the workspace went while its namespace holds a prov cluster");
            };
            Ok(waits_for_prov(&w, "hidden").then_some(()))
        },
    )
    .await?;
    let ns = namespaces.get(ws).await?;
    ensure!(
        ns.metadata.deletion_timestamp.is_none(),
        "the namespace holding a prov cluster is being deleted"
    );

    // Once it is gone, the deletion goes on without any event drover could see.
    raw::<ProvCluster>(&client, Some(ws))
        .delete("hidden", &DeleteParams::default())
        .await?;
    eventually("the namespace to go", Duration::from_secs(60), || async {
        let gone = namespaces
            .get_opt(ws)
            .await?
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some());
        Ok(gone.then_some(()))
    })
    .await?;
    Ok(())
}

/// A prov cluster with its mgmt cluster connected and its kubeconfig secret, so that drover
/// keeps a Fleet cluster for it; returns the mgmt cluster's name.
async fn connected_prov(client: &Client, namespace: &str, name: &str) -> Result<String> {
    create_prov(client, &prov_cluster(namespace, name)).await?;
    create_kubeconfig_secret(client, namespace, name).await?;
    let provs: Api<ProvCluster> = Api::namespaced(client.clone(), namespace);
    let mgmt = eventually(&format!("prov {name}'s mgmt cluster"), CONVERGE, || async {
        Ok(provs.get(name).await?.cluster_name().map(str::to_string))
    })
    .await?;
    connect_mgmt(client, &mgmt).await?;
    let fleet: Api<FleetCluster> = Api::namespaced(client.clone(), namespace);
    eventually(&format!("fleet cluster {name}"), CONVERGE, || async {
        Ok(fleet.get_opt(name).await?.map(|_| ()))
    })
    .await?;
    Ok(mgmt)
}

#[tokio::test]
async fn a_relist_after_a_compaction_reconciles_what_changed_while_drover_was_stopped() -> Result<()>
{
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = spawn_drover_logged(&env, &[], &[])?;
    readyz(&drover, 200, READY).await?;
    default_workspaces_ready(&client).await?;
    let ns = "fleet-default";
    connected_prov(&client, ns, "deleted").await?;
    connected_prov(&client, ns, "changed").await?;
    let fleet: Api<FleetCluster> = Api::namespaced(client.clone(), ns);
    let fleet_relists = r#"drover_watch_relists_total{resource="clusters.fleet.cattle.io"}"#;
    let relists_before = metric(&drover.metrics().await?, fleet_relists).unwrap_or(0.0);

    drover.signal(libc::SIGSTOP)?;
    let gap = async {
        // Fleet's CRD changes (an upgrade of Fleet): the API server closes the watches of Fleet
        // clusters and rebuilds their watch cache, which starts at the present.
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let upgrade: json_patch::Patch = serde_json::from_value(json!([{
            "op": "add",
            "path": "/spec/versions/0/schema/openAPIV3Schema/description",
            "value": "Fleet cluster (upgraded)",
        }]))?;
        crds.patch(
            "clusters.fleet.cattle.io",
            &PatchParams::default(),
            &Patch::<()>::Json(upgrade),
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Then, in the gap: a Fleet cluster drover keeps is deleted, another loses the label
        // drover gives it, a third appears in a namespace without a workspace. Their prov
        // clusters do not change: only the Fleet clusters' watch can tell.
        fleet.delete("deleted", &DeleteParams::default()).await?;
        fleet
            .patch(
                "changed",
                &PatchParams::default(),
                &Patch::Json::<()>(serde_json::from_value(json!([
                    {"op": "remove", "path": "/metadata/labels/management.cattle.io~1cluster-name"},
                ]))?),
            )
            .await?;
        create_namespace(&client, "orphans").await?;
        create_raw::<FleetCluster>(
            &client,
            Some("orphans"),
            json!({"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster",
                   "metadata": {"name": "stray", "namespace": "orphans"}, "spec": {}}),
        )
        .await?;
        // With etcd's history compacted as well, the watch of Fleet clusters that resumes is
        // answered 410 Gone and lists again; the other watches resume as if nothing happened.
        env.compact_etcd().await?;
        anyhow::Ok(())
    }
    .await;
    drover.signal(libc::SIGCONT)?;
    gap?;

    eventually("drover to list Fleet clusters again", CONVERGE, || async {
        let relists = metric(&drover.metrics().await?, fleet_relists).unwrap_or(0.0);
        Ok((relists > relists_before).then_some(()))
    })
    .await
    .with_context(|| format!("drover's log:\n{}", tail(&drover.log())))?;
    eventually(
        "the deleted Fleet cluster to come back",
        CONVERGE,
        || async { Ok(fleet.get_opt("deleted").await?.map(|_| ())) },
    )
    .await?;
    eventually(
        "the changed Fleet cluster to get its label back",
        CONVERGE,
        || async {
            let f = fleet.get("changed").await?;
            Ok(f.labels()
                .contains_key("management.cattle.io/cluster-name")
                .then_some(()))
        },
    )
    .await?;
    let workspaces: Api<FleetWorkspace> = Api::all(client.clone());
    eventually(
        "a workspace for the namespace of the new Fleet cluster",
        CONVERGE,
        || async { Ok(workspaces.get_opt("orphans").await?.map(|_| ())) },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn deleting_a_crd_releases_finalizers_and_deletes_no_counterpart() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = spawn_drover_logged(&env, &[], &[])?;
    readyz(&drover, 200, READY).await?;
    default_workspaces_ready(&client).await?;
    let ns = "fleet-default";
    connected_prov(&client, ns, "p1").await?;
    let legacy = legacy_name();
    create_mgmt(&client, &legacy_mgmt_cluster(&legacy, Some(ns))).await?;
    connect_mgmt(&client, &legacy).await?;
    create_kubeconfig_secret(&client, ns, &legacy).await?;
    let fleet: Api<FleetCluster> = Api::namespaced(client.clone(), ns);
    eventually("the legacy cluster's Fleet cluster", CONVERGE, || async {
        Ok(fleet.get_opt(&legacy).await?.map(|_| ()))
    })
    .await?;
    create_workspace(&client, "team").await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually("the workspace's namespace", CONVERGE, || async {
        Ok(namespaces.get_opt("team").await?.map(|_| ()))
    })
    .await?;
    let deletes = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("drover_api_writes_total{") && l.contains(r#"verb="delete""#))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum::<f64>()
    };
    let deletes_before = deletes(&drover.metrics().await?);

    // What `kubectl delete -f crds/` does: all three at once.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names = [
        "clusters.provisioning.cattle.io",
        "clusters.management.cattle.io",
        "fleetworkspaces.management.cattle.io",
    ];
    for name in names {
        crds.delete(name, &DeleteParams::default()).await?;
    }
    // The API server finishes a CRD deletion once every object is gone, which takes drover
    // releasing its finalizers.
    eventually(
        "the three CRDs to be gone",
        Duration::from_secs(90),
        || async {
            for name in names {
                if crds.get_opt(name).await?.is_some() {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
    .await
    .with_context(|| format!("drover's log:\n{}", tail(&drover.log())))?;

    for name in ["p1", legacy.as_str()] {
        ensure!(
            fleet
                .get_opt(name)
                .await?
                .is_some_and(|f| f.metadata.deletion_timestamp.is_none()),
            "fleet cluster {ns}/{name} was deleted with the CRDs"
        );
    }
    for name in [ns, "team"] {
        ensure!(
            namespaces
                .get_opt(name)
                .await?
                .is_some_and(|n| n.metadata.deletion_timestamp.is_none()),
            "namespace {name} was deleted with the CRDs"
        );
    }
    let deletes_after = deletes(&drover.metrics().await?);
    ensure!(
        deletes_after == deletes_before,
        "drover sent {} deletes while the CRDs went",
        deletes_after - deletes_before
    );
    Ok(())
}

#[tokio::test]
async fn readiness_turns_503_while_a_watch_keeps_failing_and_back_once_it_works() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = spawn_drover_logged(&env, &["--watch-failure-timeout", "3"], &[])?;
    readyz(&drover, 200, READY).await?;
    default_workspaces_ready(&client).await?;

    // The workspace CRD goes: its watch fails from then on.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "fleetworkspaces.management.cattle.io";
    crds.delete(name, &DeleteParams::default()).await?;
    let body = readyz(&drover, 503, Duration::from_secs(60)).await?;
    ensure!(body.contains(name), "/readyz: {body}");
    let metrics = drover.metrics().await?;
    let errors = metric(
        &metrics,
        &format!(r#"drover_watch_errors_total{{resource="{name}"}}"#),
    );
    ensure!(errors.is_some_and(|n| n >= 1.0), "{metrics}");

    // Back: the watch lists again and readiness returns.
    eventually("the CRD to be gone", Duration::from_secs(60), || async {
        Ok(crds.get_opt(name).await?.is_none().then_some(()))
    })
    .await?;
    let file = crd_files()?
        .into_iter()
        .find(|f| f.ends_with(format!("{name}.yaml")))
        .context("the workspace CRD file")?;
    env.apply_yaml_file(file).await?;
    readyz(&drover, 200, Duration::from_secs(120)).await?;
    Ok(())
}

#[tokio::test]
async fn a_panicking_controller_ends_the_process_with_a_failure() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let mut drover = spawn_drover_logged(&env, &[], &[("DROVER_DEBUG_PANIC_ON", "boom")])?;
    readyz(&drover, 200, READY).await?;
    create_namespace(&client, "faults").await?;
    create_prov(&client, &prov_cluster("faults", "boom")).await?;
    let Some(status) = drover.wait_timeout(Duration::from_secs(60)).await? else {
        bail!(
            "drover still runs with a panicked controller; its log:\n{}",
            tail(&drover.log())
        );
    };
    ensure!(
        !status.success(),
        "drover exited successfully after a panic"
    );
    ensure!(
        drover.log().contains("cluster controller task panicked"),
        "{}",
        tail(&drover.log())
    );
    Ok(())
}

#[tokio::test]
async fn metrics_count_writes_by_group_and_kind_and_show_queue_depth() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = spawn_drover_logged(&env, &[], &[])?;
    readyz(&drover, 200, READY).await?;
    default_workspaces_ready(&client).await?;
    connected_prov(&client, "fleet-default", "counted").await?;
    let metrics = drover.metrics().await?;
    let writes = |group: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("drover_api_writes_total{")
                    && l.contains(&format!(r#"group="{group}",kind="Cluster""#))
            })
            .count()
    };
    for group in [
        "provisioning.cattle.io",
        "management.cattle.io",
        "fleet.cattle.io",
    ] {
        ensure!(
            writes(group) > 0,
            "no writes of {group} Clusters in\n{metrics}"
        );
    }
    for controller in ["cluster", "mgmt", "workspace", "workspace-backfill"] {
        let series = format!(r#"drover_queue_depth{{controller="{controller}"}}"#);
        ensure!(
            metric(&metrics, &series).is_some(),
            "{series} in\n{metrics}"
        );
    }
    Ok(())
}

/// Waits until each of `names` in `namespace` names its mgmt cluster in its status.
async fn have_mgmt(
    client: &Client,
    namespace: &str,
    names: &[String],
    within: Duration,
) -> Result<()> {
    let provs: Api<ProvCluster> = Api::namespaced(client.clone(), namespace);
    let mgmts: Api<MgmtCluster> = Api::all(client.clone());
    eventually("the prov clusters' mgmt clusters", within, || async {
        for name in names {
            let Some(mgmt) = provs.get(name).await?.cluster_name().map(str::to_string) else {
                return Ok(None);
            };
            if mgmts.get_opt(&mgmt).await?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await
}

/// list and watch of prov clusters are taken from drover's ClusterRole and kube-apiserver is
/// restarted (so every open watch starts again and is refused); meanwhile a workspace and prov
/// clusters arrive. Once the rule is back, the prov watch must fill its cache again and the new
/// prov clusters converge.
#[tokio::test]
async fn prov_clusters_created_while_list_and_watch_were_revoked_converge_once_restored()
-> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let user = "drover-replica";
    let env = TestEnv::start_with(Options {
        users: vec![User::plain(user)],
        ..Options::default()
    })
    .await?;
    let client = env.client()?;
    create_namespace(&client, LEASE_NAMESPACE).await?;
    access::grant(&client, &[user]).await?;
    // As in `make chaos`: the chart's RBAC, and leader election (the restart costs the Lease
    // its renewal, so a new term starts while prov clusters cannot be listed).
    let drover = DroverCommand::new(&env)?
        .kubeconfig(env.kubeconfig_for_user(user)?)
        .args(&["--watch-failure-timeout", "3"])
        .args(&[
            "--lease-namespace",
            LEASE_NAMESPACE,
            "--lease-name",
            "drover",
        ])
        .args(&["--identity", user])
        .leader_election(true)
        .log_file(env.dir().join("drover-revoked.log"))
        .spawn()?;
    readyz(&drover, 200, READY).await?;
    default_workspaces_ready(&client).await?;
    let ns = "fleet-default";
    let before: Vec<String> = (0..100).map(|i| format!("before-{i}")).collect();
    {
        use futures::StreamExt;
        let results: Vec<Result<_>> = futures::stream::iter(before.iter())
            .map(|name| {
                let client = client.clone();
                async move { create_prov(&client, &prov_cluster(ns, name)).await }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for r in results {
            r?;
        }
    }
    have_mgmt(&client, ns, &before, Duration::from_secs(300)).await?;

    // list and watch of prov clusters are refused; the restart ends the open watches.
    let rules = access::revoke_list_watch(&client, "provisioning.cattle.io", "clusters").await?;
    env.restart_apiserver().await?;
    let revoked = async {
        let body = readyz(&drover, 503, Duration::from_secs(60)).await?;
        ensure!(
            body.contains("clusters.provisioning.cattle.io"),
            "/readyz: {body}"
        );
        // Workspaces and namespaces are still watched: a new workspace gets its namespace.
        create_workspace(&client, "revoked").await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        eventually(
            "the new workspace's namespace while prov clusters cannot be listed",
            Duration::from_secs(30),
            || async { Ok(namespaces.get_opt("revoked").await?.map(|_| ())) },
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    // Named to come first in the re-list (the API server sends it in key order), long before
    // the re-list completes: a watch that passed them on before its store showed the re-list
    // lost them to kube's `Controller`, which drops a trigger for an object it cannot find.
    let during: Vec<String> = (0..3).map(|i| format!("a-during-{i}")).collect();
    for name in &during {
        create_prov(&client, &prov_cluster(ns, name)).await?;
    }
    // Long enough for the watch's retries to reach kube's longest backoff.
    tokio::time::sleep(Duration::from_secs(60)).await;
    access::restore(&client, rules).await?;
    revoked.with_context(|| format!("drover's log:\n{}", tail(&drover.log())))?;

    // The watch lists again, and what arrived meanwhile is reconciled, while prov clusters keep
    // arriving.
    let churn = {
        let client = client.clone();
        tokio::spawn(async move {
            for i in 0..120 {
                let _ = create_prov(&client, &prov_cluster(ns, &format!("churn-{i}"))).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    // Within 30 s: drover's watch retries at most every 5 s (10 s with jitter), once more after
    // the restarted API server answers 410, then lists. With kube's default backoff (30 s,
    // jittered) the wait after the 410 alone took longer.
    let converged = have_mgmt(&client, ns, &during, Duration::from_secs(30)).await;
    churn.abort();
    converged.with_context(|| format!("drover's log:\n{}", tail(&drover.log())))?;
    readyz(&drover, 200, Duration::from_secs(60)).await?;
    Ok(())
}
