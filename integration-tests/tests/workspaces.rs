//! Spec §3 (W1–W7) against the real control plane: workspaces, their namespaces and RBAC.
//! One test binary, so the tests share one control plane and one drover; the modules only keep
//! the files small.

#[path = "workspaces/lifecycle.rs"]
mod lifecycle;
#[path = "workspaces/safety.rs"]
mod safety;
#[path = "workspaces/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Result, ensure};
use drover_integration_tests::fixtures::{create_prov, prov_cluster};
use drover_integration_tests::{CONVERGE, eventually};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use support::*;

#[tokio::test]
async fn a_workspace_gets_a_namespace_with_cleaned_labels_that_follows_relabeling() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("team");
    create_ws(
        &client,
        &fleet_workspace(&name, &[("team", "a"), ("cattle.io/x", "y")], &[]),
    )
    .await?;
    let ns = eventually("namespace with team=a", CONVERGE, || async {
        Ok(namespaces(&client)
            .get_opt(&name)
            .await?
            .filter(|ns| label(ns, "team") == Some("a")))
    })
    .await?;
    ensure!(label(&ns, "cattle.io/x").is_none(), "{:?}", ns.labels());
    ensure!(
        ns.annotations().get("objectset.rio.cattle.io/owner-name") == Some(&name),
        "{:?}",
        ns.annotations()
    );
    wait_condition(&client, &name, "NamespaceReady", "NamespaceReady").await?;

    // Someone else labels the namespace; the workspace is relabeled twice.
    let user_label = json!({"metadata": {"labels": {"added-by": "user"}}});
    namespaces(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&user_label))
        .await?;
    let relabel = json!({"metadata": {"labels": {"team": "b", "env": "prod"}}});
    workspaces(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&relabel))
        .await?;
    let follows = |team: &'static str, env: Option<&'static str>| {
        let client = client.clone();
        let name = name.clone();
        async move {
            let ns = namespaces(&client).get_opt(&name).await?;
            Ok(ns.filter(|ns| {
                label(ns, "team") == Some(team)
                    && label(ns, "env") == env
                    && label(ns, "added-by") == Some("user")
            }))
        }
    };
    eventually("namespace follows team=b env=prod", CONVERGE, || {
        follows("b", Some("prod"))
    })
    .await?;
    let drop_env = json!({"metadata": {"labels": {"env": null}}});
    workspaces(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&drop_env))
        .await?;
    eventually("namespace drops env", CONVERGE, || follows("b", None)).await?;
    Ok(())
}

#[tokio::test]
async fn an_unmanaged_workspace_gets_no_namespace_and_no_rbac() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("unmanaged");
    let ws = fleet_workspace(&name, &[], &[(MANAGED, "false"), (CREATOR, "u-abc")]);
    create_ws_as_creator(env, &ws).await?;
    // A managed workspace created after it converges; by then drover has long seen the first.
    let witness = env.unique_name("witness");
    create_ws(&client, &fleet_workspace(&witness, &[], &[])).await?;
    eventually("witness namespace", CONVERGE, || {
        get(namespaces(&client), &witness)
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    ensure!(
        namespaces(&client).get_opt(&name).await?.is_none(),
        "no namespace"
    );
    let (rb, cr, crb) = rbac_of(&client, &name).await?;
    ensure!(rb.is_none() && cr.is_none() && crb.is_none(), "no RBAC");
    let ws = workspaces(&client).get(&name).await?;
    ensure!(
        ws.finalizers().is_empty(),
        "no finalizer: {:?}",
        ws.finalizers()
    );
    ensure!(ws.status.is_none(), "no status: {:?}", ws.status);
    Ok(())
}

#[tokio::test]
async fn a_creator_gets_three_rbac_objects_that_go_with_the_annotation() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("owned");
    create_ws_as_creator(env, &fleet_workspace(&name, &[], &[(CREATOR, "u-abc")])).await?;
    let (rb, cr, crb) = eventually("creator RBAC", CONVERGE, || async {
        let (rb, cr, crb) = rbac_of(&client, &name).await?;
        Ok(match (rb, cr, crb) {
            (Some(rb), Some(cr), Some(crb)) => Some((rb, cr, crb)),
            _ => None,
        })
    })
    .await?;

    ensure!(rb.role_ref.kind == "ClusterRole" && rb.role_ref.name == "fleetworkspace-admin");
    let subjects = rb.subjects.unwrap_or_default();
    ensure!(subjects.len() == 1 && subjects[0].kind == "User" && subjects[0].name == "u-abc");
    let rules = cr.rules.unwrap_or_default();
    ensure!(rules.len() == 1, "{rules:?}");
    ensure!(rules[0].api_groups == Some(vec!["management.cattle.io".to_string()]));
    ensure!(rules[0].resources == Some(vec!["fleetworkspaces".to_string()]));
    ensure!(rules[0].resource_names == Some(vec![name.clone()]));
    ensure!(
        rules[0].verbs.iter().any(|v| v == "fleetaddcluster")
            && rules[0].verbs.iter().any(|v| v == "delete"),
        "{:?}",
        rules[0].verbs
    );
    ensure!(crb.role_ref.name == format!("fleetworkspace-own-{name}"));
    ensure!(crb.subjects.unwrap_or_default()[0].name == "u-abc");

    let drop_creator = json!({"metadata": {"annotations": {CREATOR: null}}});
    workspaces(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&drop_creator))
        .await?;
    eventually("creator RBAC removed", CONVERGE, || async {
        let (rb, cr, crb) = rbac_of(&client, &name).await?;
        Ok((rb.is_none() && cr.is_none() && crb.is_none()).then_some(()))
    })
    .await?;
    ensure!(
        namespaces(&client).get_opt(&name).await?.is_some(),
        "the namespace stays"
    );
    Ok(())
}

/// Creator RBAC objects, all kinds, whose workspace label is one of `names`.
async fn count_rbac(client: &Client, names: &BTreeSet<String>) -> Result<usize> {
    let params = ListParams::default().labels(WORKSPACE_LABEL);
    let ours = |labels: &BTreeMap<String, String>| {
        labels
            .get(WORKSPACE_LABEL)
            .is_some_and(|ws| names.contains(ws))
    };
    let rb = Api::<RoleBinding>::all(client.clone())
        .list(&params)
        .await?;
    let cr = Api::<ClusterRole>::all(client.clone())
        .list(&params)
        .await?;
    let crb = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&params)
        .await?;
    Ok(rb.items.iter().filter(|o| ours(o.labels())).count()
        + cr.items.iter().filter(|o| ours(o.labels())).count()
        + crb.items.iter().filter(|o| ours(o.labels())).count())
}

#[tokio::test]
async fn a_hundred_workspaces_make_exactly_three_hundred_rbac_objects() -> Result<()> {
    let (client, env) = shared().await?;
    let names: BTreeSet<String> = (0..100).map(|_| env.unique_name("many")).collect();
    for name in &names {
        create_ws_as_creator(env, &fleet_workspace(name, &[], &[(CREATOR, "u-many")])).await?;
    }
    eventually("300 RBAC objects", Duration::from_secs(120), || async {
        Ok((count_rbac(&client, &names).await? == 300).then_some(()))
    })
    .await?;

    // Clusters add none.
    let first: Vec<&String> = names.iter().take(3).collect();
    for ns in &first {
        for i in 0..3 {
            create_prov(&client, &prov_cluster(ns, &format!("c{i}"))).await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = count_rbac(&client, &names).await?;
    ensure!(count == 300, "{count} RBAC objects after adding 9 clusters");

    // Tidy up for the other tests sharing the control plane (cascade is not on: clusters first).
    for ns in &first {
        for i in 0..3 {
            delete(
                &Api::<drover::api::ProvCluster>::namespaced(client.clone(), ns),
                &format!("c{i}"),
            )
            .await?;
        }
    }
    for name in &names {
        delete(&workspaces(&client), name).await?;
    }
    Ok(())
}
