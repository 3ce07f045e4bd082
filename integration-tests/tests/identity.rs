//! Spec §4a (identity) against the real control plane: every write or delete drover decides rests
//! on ownership marks checked against the live object, never on a name, a namespace or a status
//! field someone else can write. One test per behaviour of issue 11.

#[path = "identity/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use drover::api::{FleetCluster, FleetClusterSpec};
use drover_integration_tests::fixtures::*;
use drover_integration_tests::{CONVERGE, eventually};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use support::*;

/// Long enough for drover to have acted on a change it was going to act on.
const SETTLE: Duration = Duration::from_secs(3);

/// Issue 11, item 1: a legacy cluster moved away and back; the old prov copy, held by another
/// controller's finalizer, sits at the mgmt cluster's workspace again while it is being deleted.
#[tokio::test]
async fn a_stale_prov_copy_never_deletes_the_mgmt_cluster_it_no_longer_represents() -> Result<()> {
    let (client, env) = shared().await?;
    let a = workspace(&client, env, "ida").await?;
    let b = workspace(&client, env, "idb").await?;
    let name = legacy_name();
    let mgmt = create_mgmt(&client, &legacy_mgmt_cluster(&name, Some(&a))).await?;
    eventually("prov copy in A", CONVERGE, || get_prov(&client, &a, &name)).await?;
    hold(&client, &a, &name).await?;

    move_mgmt(&client, &name, &b).await?;
    eventually("prov copy in B", CONVERGE, || get_prov(&client, &b, &name)).await?;
    eventually(
        "the copy in A deleted, held only by the other finalizer",
        CONVERGE,
        || async {
            Ok(get_prov(&client, &a, &name).await?.filter(|p| {
                p.metadata.deletion_timestamp.is_some() && p.finalizers() == [HOLD.to_string()]
            }))
        },
    )
    .await?;

    move_mgmt(&client, &name, &a).await?;
    wait_gone("the copy in B, stale now", || get_prov(&client, &b, &name)).await?;
    tokio::time::sleep(SETTLE).await;
    let now = get_mgmt(&client, &name).await?;
    ensure!(
        now.as_ref().and_then(|m| m.uid()) == mgmt.uid(),
        "the mgmt cluster was deleted"
    );
    ensure!(
        now.is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
        "the mgmt cluster is being deleted"
    );

    // Once the other controller lets go, the mgmt cluster gets a fresh copy in A.
    let held_uid = get_prov(&client, &a, &name).await?.and_then(|p| p.uid());
    release(&client, &a, &name).await?;
    eventually("a fresh prov copy in A", CONVERGE, || async {
        Ok(get_prov(&client, &a, &name)
            .await?
            .filter(|p| p.uid() != held_uid && p.metadata.deletion_timestamp.is_none()))
    })
    .await?;
    mgmts(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// Issue 11, item 1: a legacy mgmt cluster deleted while another controller holds its prov copy,
/// then a new mgmt cluster of the same name (a new UID).
#[tokio::test]
async fn a_held_prov_copy_never_deletes_a_new_mgmt_cluster_of_the_same_name() -> Result<()> {
    let (client, env) = shared().await?;
    let a = workspace(&client, env, "idr").await?;
    let name = legacy_name();
    create_mgmt(&client, &legacy_mgmt_cluster(&name, Some(&a))).await?;
    eventually("prov copy", CONVERGE, || get_prov(&client, &a, &name)).await?;
    hold(&client, &a, &name).await?;

    mgmts(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("the first mgmt cluster", || get_mgmt(&client, &name)).await?;
    eventually(
        "the copy deleted, held only by the other finalizer",
        CONVERGE,
        || async {
            Ok(get_prov(&client, &a, &name).await?.filter(|p| {
                p.metadata.deletion_timestamp.is_some() && p.finalizers() == [HOLD.to_string()]
            }))
        },
    )
    .await?;

    let second = create_mgmt(&client, &legacy_mgmt_cluster(&name, Some(&a))).await?;
    eventually(
        "drover acting on the new mgmt cluster",
        CONVERGE,
        || async {
            let acted = match get_mgmt(&client, &name).await? {
                None => true,
                Some(m) => !m.finalizers().is_empty() || m.metadata.deletion_timestamp.is_some(),
            };
            Ok(acted.then_some(()))
        },
    )
    .await?;
    tokio::time::sleep(SETTLE).await;
    let now = get_mgmt(&client, &name).await?;
    ensure!(
        now.as_ref().and_then(|m| m.uid()) == second.uid(),
        "the new mgmt cluster was deleted"
    );
    ensure!(
        now.is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
        "the new mgmt cluster is being deleted"
    );

    let held_uid = get_prov(&client, &a, &name).await?.and_then(|p| p.uid());
    release(&client, &a, &name).await?;
    eventually("a prov copy of the new mgmt cluster", CONVERGE, || async {
        Ok(get_prov(&client, &a, &name)
            .await?
            .filter(|p| p.uid() != held_uid && p.metadata.deletion_timestamp.is_none()))
    })
    .await?;
    mgmts(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// Issue 11, item 2.
#[tokio::test]
async fn moving_a_cluster_twice_leaves_no_fleet_cluster_behind() -> Result<()> {
    let (client, env) = shared().await?;
    let a = workspace(&client, env, "idm").await?;
    let b = workspace(&client, env, "idn").await?;
    let name = env.unique_name("twice");
    let mgmt_name = connected_prov_cluster(&client, "fleet-default", &name).await?;

    move_mgmt(&client, &mgmt_name, &a).await?;
    eventually("fleet cluster in A", CONVERGE, || {
        get_fleet(&client, &a, &name)
    })
    .await?;
    wait_gone("fleet cluster in fleet-default", || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;

    move_mgmt(&client, &mgmt_name, &b).await?;
    eventually("fleet cluster in B", CONVERGE, || {
        get_fleet(&client, &b, &name)
    })
    .await?;
    wait_gone("fleet cluster in A after the second move", || {
        get_fleet(&client, &a, &name)
    })
    .await?;

    provs(&client, "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &mgmt_name)).await?;
    wait_gone("fleet cluster in B", || get_fleet(&client, &b, &name)).await?;
    ensure!(get_fleet(&client, &a, &name).await?.is_none());
    Ok(())
}

/// Issue 11, item 3.
#[tokio::test]
async fn a_legacy_named_prov_cluster_outside_the_mgmt_workspace_is_refused_and_builds_no_fleet_cluster()
-> Result<()> {
    let (client, env) = shared().await?;
    let a = workspace(&client, env, "idh").await?;
    let b = workspace(&client, env, "idi").await?;
    let name = legacy_name();
    create_mgmt(&client, &legacy_mgmt_cluster(&name, Some(&a))).await?;
    connect_mgmt(&client, &name).await?;
    eventually("the rightful prov copy", CONVERGE, || {
        get_prov(&client, &a, &name)
    })
    .await?;

    create_prov(&client, &prov_cluster(&b, &name)).await?;
    create_kubeconfig_secret(&client, &b, &name).await?;
    let created = prov_condition(&client, &b, &name, "Created").await?;
    ensure!(created.status == "False", "{created:?}");
    let message = created.message.unwrap_or_default();
    ensure!(
        message.contains(&format!("{a}/{name}")),
        "the message names the rightful prov cluster: {message}"
    );
    let warning = event(
        &client,
        &b,
        &name,
        created.reason.as_deref().unwrap_or_default(),
    )
    .await?;
    ensure!(warning.type_.as_deref() == Some("Warning"));

    tokio::time::sleep(SETTLE).await;
    ensure!(
        get_fleet(&client, &a, &name).await?.is_none(),
        "a fleet cluster was built from another namespace's kubeconfig"
    );
    ensure!(get_fleet(&client, &b, &name).await?.is_none());
    provs(&client, &b)
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("the refused prov cluster", || get_prov(&client, &b, &name)).await?;
    ensure!(
        get_mgmt(&client, &name)
            .await?
            .is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
        "deleting the refused prov cluster left the mgmt cluster alone"
    );
    mgmts(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// Issue 11, item 4.
#[tokio::test]
async fn a_status_cluster_name_alone_never_adopts_nor_deletes_a_mgmt_cluster() -> Result<()> {
    let (client, env) = shared().await?;
    let foreign_name = env.unique_name("foreign");
    let mut foreign = legacy_mgmt_cluster(&foreign_name, Some("fleet-default"));
    foreign.spec.internal = Some(false);
    let foreign = create_mgmt(&client, &foreign).await?;

    let name = env.unique_name("claims");
    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let own = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    provs(&client, "fleet-default")
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"clusterName": foreign_name}})),
        )
        .await?;

    let created = eventually(
        "the Created condition about the named mgmt cluster",
        CONVERGE,
        || async {
            Ok(prov_condition(&client, "fleet-default", &name, "Created")
                .await
                .ok()
                .filter(|c| {
                    c.message
                        .as_deref()
                        .is_some_and(|m| m.contains(&foreign_name))
                }))
        },
    )
    .await?;
    ensure!(created.status == "False", "{created:?}");
    let after = get_mgmt(&client, &foreign_name).await?.expect("mgmt");
    ensure!(
        !is_marked(&after) && after.resource_version() == foreign.resource_version(),
        "the named mgmt cluster was taken over: {after:?}"
    );

    provs(&client, "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("the prov cluster's own mgmt cluster", || {
        get_mgmt(&client, &own)
    })
    .await?;
    let after = get_mgmt(&client, &foreign_name).await?;
    ensure!(
        after.is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
        "the named mgmt cluster was deleted with the prov cluster"
    );
    mgmts(&client)
        .delete(&foreign_name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// Issue 11, item 5 (Fleet clusters).
#[tokio::test]
async fn a_fleet_cluster_someone_else_created_is_neither_overwritten_nor_deleted() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("theirs");
    let theirs = FleetCluster {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some("fleet-default".into()),
            labels: Some(BTreeMap::from([("owner".to_string(), "them".to_string())])),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec {
            kube_config_secret: Some("their-kubeconfig".into()),
            ..FleetClusterSpec::default()
        },
        status: None,
    };
    let theirs = fleets(&client, "fleet-default")
        .create(&PostParams::default(), &theirs)
        .await?;

    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    connect_mgmt(&client, &mgmt_name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    eventually("the prov cluster qualifies for Fleet", CONVERGE, || async {
        Ok(get_prov(&client, "fleet-default", &name)
            .await?
            .and_then(|p| p.status)
            .filter(|s| s.client_secret_name.is_some()))
    })
    .await?;
    tokio::time::sleep(SETTLE).await;
    let after = get_fleet(&client, "fleet-default", &name)
        .await?
        .expect("fleet");
    ensure!(
        !is_marked(&after) && after.resource_version() == theirs.resource_version(),
        "the fleet cluster was taken over: {after:?}"
    );
    let stalled = prov_condition(&client, "fleet-default", &name, "Stalled").await?;
    ensure!(stalled.status == "True", "{stalled:?}");
    ensure!(
        stalled
            .message
            .unwrap_or_default()
            .contains(&format!("fleet-default/{name}")),
        "the condition names the fleet cluster"
    );
    let warning = event(
        &client,
        "fleet-default",
        &name,
        stalled.reason.as_deref().unwrap_or_default(),
    )
    .await?;
    ensure!(warning.type_.as_deref() == Some("Warning"));

    provs(&client, "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    wait_gone("mgmt cluster", || get_mgmt(&client, &mgmt_name)).await?;
    let after = get_fleet(&client, "fleet-default", &name).await?;
    ensure!(
        after.as_ref().and_then(|f| f.uid()) == theirs.uid(),
        "their fleet cluster was deleted with the prov cluster"
    );
    fleets(&client, "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// Issue 11, item 7.
#[tokio::test]
async fn a_management_cluster_name_that_is_legacy_shaped_or_invalid_is_refused() -> Result<()> {
    let (client, env) = shared().await?;
    let legacy = legacy_name();
    let too_long = format!("c-m-{}", "x".repeat(60));
    for annotated in [legacy.as_str(), too_long.as_str()] {
        let name = env.unique_name("named");
        let mut prov = prov_cluster("fleet-default", &name);
        prov.metadata.annotations = Some(BTreeMap::from([(
            "provisioning.cattle.io/management-cluster-name".to_string(),
            annotated.to_string(),
        )]));
        create_prov(&client, &prov).await?;
        let created = prov_condition(&client, "fleet-default", &name, "Created").await?;
        ensure!(
            created.status == "False",
            "{annotated} was accepted: {created:?}"
        );
        ensure!(
            created
                .message
                .unwrap_or_default()
                .contains("provisioning.cattle.io/management-cluster-name"),
            "the message names the annotation"
        );
        tokio::time::sleep(SETTLE).await;
        ensure!(
            get_mgmt(&client, annotated).await?.is_none(),
            "mgmt cluster {annotated} was created"
        );
        ensure!(
            get_prov(&client, "fleet-default", annotated)
                .await?
                .is_none(),
            "a second prov cluster {annotated} was created"
        );
        provs(&client, "fleet-default")
            .delete(&name, &DeleteParams::default())
            .await?;
        wait_gone("prov cluster", || get_prov(&client, "fleet-default", &name)).await?;
    }
    Ok(())
}

/// Issue 11, item 9: the Fleet apply refused (here by an admission policy) after the status
/// was written.
#[tokio::test]
async fn a_refused_fleet_cluster_write_shows_in_the_prov_conditions() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("refused");
    let policy = format!("test-refuse-{name}");
    env.apply_yaml_str(&format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {policy}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["fleet.cattle.io"]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["clusters"]
  validations:
  - expression: "object.metadata.name != '{name}'"
    message: "this test refuses fleet cluster {name}"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {policy}
spec:
  policyName: {policy}
  validationActions: ["Deny"]
"#
    ))
    .await?;
    // Effective once a dry-run create is refused.
    let probe = FleetCluster {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some("fleet-default".into()),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec::default(),
        status: None,
    };
    eventually("the policy in effect", CONVERGE, || async {
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let refused = match fleets(&client, "fleet-default")
            .create(&dry_run, &probe)
            .await
        {
            Err(kube::Error::Api(status)) => status.message.contains("this test refuses"),
            _ => false,
        };
        Ok(refused.then_some(()))
    })
    .await?;

    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let mgmt_name = recorded_mgmt_name(&client, "fleet-default", &name).await?;
    connect_mgmt(&client, &mgmt_name).await?;
    create_kubeconfig_secret(&client, "fleet-default", &name).await?;
    eventually("the prov cluster qualifies for Fleet", CONVERGE, || async {
        Ok(get_prov(&client, "fleet-default", &name)
            .await?
            .and_then(|p| p.status)
            .filter(|s| s.client_secret_name.is_some()))
    })
    .await?;
    tokio::time::sleep(SETTLE).await;
    let stalled = prov_condition(&client, "fleet-default", &name, "Stalled").await?;
    ensure!(stalled.status == "True", "{stalled:?}");
    ensure!(
        stalled
            .message
            .unwrap_or_default()
            .contains(&format!("fleet-default/{name}")),
        "the condition names the fleet cluster"
    );
    let reconciling = prov_condition(&client, "fleet-default", &name, "Reconciling").await?;
    ensure!(
        reconciling.reason.as_deref() != Some("Reconciled"),
        "{reconciling:?}"
    );
    let warning = event(&client, "fleet-default", &name, "ReconcileFailed").await?;
    ensure!(warning.type_.as_deref() == Some("Warning"));

    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .delete(&policy, &DeleteParams::default())
        .await?;
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .delete(&policy, &DeleteParams::default())
        .await?;
    // The retry backs off: give it more than the usual wait.
    eventually("the fleet cluster", CONVERGE * 2, || {
        get_fleet(&client, "fleet-default", &name)
    })
    .await?;
    eventually("Stalled cleared", CONVERGE, || async {
        Ok(get_prov(&client, "fleet-default", &name)
            .await?
            .and_then(|p| p.status)
            .and_then(|s| s.conditions)
            .filter(|c| {
                c.iter()
                    .any(|c| c.type_ == "Stalled" && c.status == "False")
            }))
    })
    .await?;
    provs(&client, "fleet-default")
        .delete(&name, &DeleteParams::default())
        .await?;
    Ok(())
}
