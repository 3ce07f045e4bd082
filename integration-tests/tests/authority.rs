//! Spec §4a on the real control plane: drover acts on proven identity (ownership marks with
//! UIDs), never takes over what others made, and keeps what other writers put on shared objects.
//! One test per behaviour; the tests play the other actors (tenants, a second controller).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use drover::api::{Condition, FleetWorkspace, MgmtCluster, ProvCluster, find_condition};
use drover::runtime::Context;
use drover::runtime::leadership::Leadership;
use drover::runtime::metrics::Metrics;
use drover::runtime::watches::Watches;
use drover_integration_tests::fixtures::{
    connect_mgmt, create_prov, default_workspaces_ready, fleet_workspace, prov_cluster,
};
use drover_integration_tests::{
    CONVERGE, Drover, TestEnv, documents, eventually, repo_root, test_config,
};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject,
};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

const CREATOR: &str = "field.cattle.io/creatorId";
const MANAGED: &str = "provisioning.cattle.io/managed";
const OWNER_UID: &str = "drover.cattle.io/owner-uid";
const OWNER_GVK: &str = "objectset.rio.cattle.io/owner-gvk";

async fn shared() -> Result<(Client, &'static TestEnv)> {
    let env = TestEnv::shared().await?;
    Drover::shared(env).await?;
    let client = env.client()?;
    default_workspaces_ready(&client).await?;
    Ok((client, env))
}

/// An admin client that the API server sees as `user` (the requester admission checks).
fn client_as(env: &TestEnv, user: &str) -> Result<Client> {
    let mut config = env.client_config();
    config.auth_info.impersonate = Some(user.into());
    config.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    Ok(Client::try_from(config)?)
}

fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    }
}

fn workspaces(client: &Client) -> Api<FleetWorkspace> {
    Api::all(client.clone())
}

fn condition(ws: &FleetWorkspace, type_: &str) -> Option<Condition> {
    find_condition(ws.status.as_ref()?.conditions.as_deref()?, type_).cloned()
}

/// Waits until the workspace reports a condition of that type, and returns it.
async fn reported(client: &Client, name: &str, type_: &str) -> Result<Condition> {
    eventually(&format!("{name}: condition {type_}"), CONVERGE, || async {
        Ok(workspaces(client)
            .get_opt(name)
            .await?
            .and_then(|ws| condition(&ws, type_)))
    })
    .await
}

/// Waits for a Warning Event with that reason on the object named `name`.
async fn warning_event(client: &Client, name: &str, reason: &str) -> Result<Event> {
    eventually(
        &format!("a {reason} warning on {name}"),
        CONVERGE,
        || async {
            let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
            let events = Api::<Event>::all(client.clone()).list(&params).await?;
            Ok(events.items.into_iter().find(|e| {
                e.reason.as_deref() == Some(reason) && e.type_.as_deref() == Some("Warning")
            }))
        },
    )
    .await
}

async fn wait_gone<K>(what: &str, api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(what, CONVERGE, || async {
        Ok(api.get_opt(name).await?.is_none().then_some(()))
    })
    .await
}

/// Waits until `drover` has sent no write for two seconds in a row.
async fn settle(drover: &Drover) {
    let mut last = drover.writes();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = drover.writes();
        if now == last {
            return;
        }
        last = now;
    }
}

fn user(name: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "User".into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        name: name.into(),
        namespace: None,
    }]
}

// Creator RBAC under the W5 names that drover did not make.

#[tokio::test]
async fn creator_rbac_objects_drover_did_not_create_are_never_overwritten_or_deleted() -> Result<()>
{
    let (client, env) = shared().await?;
    let name = env.unique_name("tenant");
    // An admin's own grants that happen to carry the W5 names, made before the workspace.
    let roles = Api::<ClusterRole>::all(client.clone());
    let bindings = Api::<ClusterRoleBinding>::all(client.clone());
    let role_name = format!("fleetworkspace-own-{name}");
    let binding_name = format!("fleetworkspace-own-binding-{name}");
    let role = roles
        .create(
            &PostParams::default(),
            &ClusterRole {
                metadata: named(&role_name),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["configmaps".into()]),
                    verbs: vec!["get".into()],
                    ..PolicyRule::default()
                }]),
                ..ClusterRole::default()
            },
        )
        .await?;
    let binding = bindings
        .create(
            &PostParams::default(),
            &ClusterRoleBinding {
                metadata: named(&binding_name),
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "ClusterRole".into(),
                    name: role_name.clone(),
                },
                subjects: Some(user("someone-else")),
            },
        )
        .await?;

    workspaces(&client_as(env, "u-owner")?)
        .create(
            &PostParams::default(),
            &fleet_workspace(&name, &[], &[(CREATOR, "u-owner")]),
        )
        .await?;
    // The RoleBinding in the workspace's own namespace has no foreign namesake: drover makes it.
    let role_bindings = Api::<RoleBinding>::namespaced(client.clone(), &name);
    let role_binding = format!("fleetworkspace-admin-binding-{name}");
    eventually("drover's RoleBinding", CONVERGE, || async {
        Ok(role_bindings.get_opt(&role_binding).await?)
    })
    .await?;
    // drover applies the three in one pass: by now it has reached the other two.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let untouched = |what: &str, before: &ObjectMeta, after: &ObjectMeta| {
        ensure!(
            before.resource_version == after.resource_version,
            "{what} was written: {:?} -> {:?}",
            before.annotations,
            after.annotations
        );
        Ok(())
    };
    untouched(
        "the role",
        &role.metadata,
        &roles.get(&role_name).await?.metadata,
    )?;
    untouched(
        "the binding",
        &binding.metadata,
        &bindings.get(&binding_name).await?.metadata,
    )?;

    let refusal = reported(&client, &name, "CreatorRbacReady").await?;
    ensure!(
        refusal.status == "False"
            && refusal.reason.as_deref() == Some("CreatorRbacNotAdopted")
            && refusal.message.as_deref().is_some_and(|m| {
                m.contains(&format!("ClusterRole {role_name}"))
                    && m.contains(&format!("ClusterRoleBinding {binding_name}"))
            }),
        "{refusal:?}"
    );
    let event = warning_event(&client, &name, "CreatorRbacNotAdopted").await?;
    ensure!(
        event
            .message
            .as_deref()
            .is_some_and(|m| m.contains(&binding_name)),
        "{event:?}"
    );
    // The creator goes: drover removes its own RoleBinding, not the others' objects.
    workspaces(&client)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {CREATOR: null}}})),
        )
        .await?;
    wait_gone("drover's RoleBinding", &role_bindings, &role_binding).await?;
    // The workspace goes.
    workspaces(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("the workspace", &workspaces(&client), &name).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    untouched(
        "the role",
        &role.metadata,
        &roles.get(&role_name).await?.metadata,
    )?;
    untouched(
        "the binding",
        &binding.metadata,
        &bindings.get(&binding_name).await?.metadata,
    )?;
    Ok(())
}

#[tokio::test]
async fn a_foreign_role_of_the_w5_name_is_never_bound_to_the_creator() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("tenant");
    let roles = Api::<ClusterRole>::all(client.clone());
    let role_name = format!("fleetworkspace-own-{name}");
    // Permissions drover holds itself, so RBAC would let drover bind them.
    let role = roles
        .create(
            &PostParams::default(),
            &ClusterRole {
                metadata: named(&role_name),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["namespaces".into()]),
                    verbs: vec!["delete".into()],
                    ..PolicyRule::default()
                }]),
                ..ClusterRole::default()
            },
        )
        .await?;
    workspaces(&client_as(env, "u-owner")?)
        .create(
            &PostParams::default(),
            &fleet_workspace(&name, &[], &[(CREATOR, "u-owner")]),
        )
        .await?;
    let role_bindings = Api::<RoleBinding>::namespaced(client.clone(), &name);
    eventually("drover's RoleBinding", CONVERGE, || async {
        Ok(role_bindings
            .get_opt(&format!("fleetworkspace-admin-binding-{name}"))
            .await?)
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = roles.get(&role_name).await?;
    ensure!(
        after.resource_version() == role.resource_version(),
        "the role was written: {:?}",
        after.rules
    );
    let binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get_opt(&format!("fleetworkspace-own-binding-{name}"))
        .await?;
    ensure!(
        binding.is_none(),
        "u-owner was bound to someone else's role: {binding:?}"
    );
    let refusal = reported(&client, &name, "CreatorRbacReady").await?;
    ensure!(
        refusal.status == "False"
            && refusal
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with(&format!("ClusterRole {role_name} already exists"))),
        "{refusal:?}"
    );
    Ok(())
}

// A namespace whose marks name another workspace UID.

#[tokio::test]
async fn a_namespace_left_by_an_earlier_workspace_of_the_same_name_is_not_retaken() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("tenant");
    let first = workspaces(&client_as(env, "u-first")?)
        .create(
            &PostParams::default(),
            &fleet_workspace(&name, &[], &[(CREATOR, "u-first")]),
        )
        .await?;
    let namespaces = Api::<Namespace>::all(client.clone());
    eventually("the first workspace's namespace", CONVERGE, || async {
        Ok(namespaces
            .get_opt(&name)
            .await?
            .filter(|ns| ns.annotations().get(OWNER_UID) == first.uid().as_ref()))
    })
    .await?;
    // The workspace stops owning its namespace and goes; the namespace (and whatever u-first
    // keeps in it) stays.
    workspaces(&client)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {MANAGED: "false"}}})),
        )
        .await?;
    eventually("the finalizer released", CONVERGE, || async {
        Ok(workspaces(&client)
            .get_opt(&name)
            .await?
            .filter(|ws| ws.finalizers().is_empty()))
    })
    .await?;
    workspaces(&client)
        .delete(&name, &DeleteParams::default())
        .await?;
    wait_gone("the first workspace", &workspaces(&client), &name).await?;
    let before = namespaces.get(&name).await?;

    // Another tenant creates a workspace of the same name.
    workspaces(&client_as(env, "u-second")?)
        .create(
            &PostParams::default(),
            &fleet_workspace(&name, &[], &[(CREATOR, "u-second")]),
        )
        .await?;
    let ready = reported(&client, &name, "NamespaceReady").await?;
    ensure!(
        ready.status == "False"
            && ready.reason.as_deref() == Some("NamespaceNotAdopted")
            && ready.message.as_deref().is_some_and(|m| {
                m.contains(&format!("namespace {name}"))
                    && m.contains(first.uid().as_deref().unwrap_or("?"))
            }),
        "{ready:?}"
    );
    warning_event(&client, &name, "NamespaceNotAdopted").await?;
    let after = namespaces.get(&name).await?;
    ensure!(
        after.resource_version() == before.resource_version(),
        "the namespace was written: {:?}",
        after.annotations()
    );
    ensure!(
        Api::<RoleBinding>::namespaced(client.clone(), &name)
            .get_opt(&format!("fleetworkspace-admin-binding-{name}"))
            .await?
            .is_none(),
        "u-second got no grant in u-first's namespace"
    );
    Ok(())
}

// Other writers' conditions and finalizers.

/// A provisioner's `Provisioned` condition, appended to whatever the status holds.
async fn add_provisioned(provs: &Api<ProvCluster>, name: &str, message: &str) -> Result<()> {
    let patch: json_patch::Patch = serde_json::from_value(json!([{
        "op": "add",
        "path": "/status/conditions/-",
        "value": {"type": "Provisioned", "status": "True", "reason": "Provisioned",
                  "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"},
    }]))?;
    provs
        .patch_status(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .context("adding the Provisioned condition")?;
    Ok(())
}

fn conditions_of(prov: &ProvCluster) -> Vec<Condition> {
    prov.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_condition_another_controller_adds_to_prov_status_is_kept() -> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("provisioned");
    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let provs = Api::<ProvCluster>::namespaced(client.clone(), "fleet-default");
    let mgmt_name = eventually("Created=True", CONVERGE, || async {
        let prov = provs.get(&name).await?;
        Ok(find_condition(&conditions_of(&prov), "Created")
            .filter(|c| c.is_true())
            .and(prov.cluster_name().map(str::to_string)))
    })
    .await?;
    add_provisioned(&provs, &name, "machines are up").await?;
    // drover writes the status again once the agent connects.
    connect_mgmt(&client, &mgmt_name).await?;
    eventually("ready", CONVERGE, || async {
        let prov = provs.get(&name).await?;
        Ok(prov
            .status
            .as_ref()
            .is_some_and(|s| s.ready == Some(true))
            .then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let conditions = conditions_of(&provs.get(&name).await?);
    ensure!(
        find_condition(&conditions, "Provisioned")
            .is_some_and(|c| c.message.as_deref() == Some("machines are up")),
        "the provisioner's condition is gone: {conditions:?}"
    );
    ensure!(
        find_condition(&conditions, "Ready").is_some_and(Condition::is_true),
        "{conditions:?}"
    );
    Ok(())
}

#[tokio::test]
async fn with_ranchers_prov_crd_another_controllers_condition_is_kept_without_a_write_fight()
-> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    // Rancher's prov CRD: status keeps no unknown fields, conditions are a map keyed on type.
    let path = repo_root().join("crds/clusters.provisioning.cattle.io.yaml");
    let mut crd = documents(&std::fs::read_to_string(path)?)?.remove(0);
    let status =
        &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
    if let Some(status) = status.as_object_mut() {
        status.remove("x-kubernetes-preserve-unknown-fields");
    }
    let conditions = &mut status["properties"]["conditions"];
    conditions["x-kubernetes-list-type"] = json!("map");
    conditions["x-kubernetes-list-map-keys"] = json!(["type"]);
    env.apply_yaml_str(&serde_json::to_string(&crd)?).await?;
    let drover = Drover::start(&env, test_config())?;
    default_workspaces_ready(&client).await?;

    let name = env.unique_name("provisioned");
    create_prov(&client, &prov_cluster("fleet-default", &name)).await?;
    let provs = Api::<ProvCluster>::namespaced(client.clone(), "fleet-default");
    eventually("Created=True", CONVERGE, || async {
        let prov = provs.get(&name).await?;
        Ok(find_condition(&conditions_of(&prov), "Created")
            .filter(|c| c.is_true())
            .map(|_| ()))
    })
    .await?;
    add_provisioned(&provs, &name, "machines are up").await?;
    settle(&drover).await;
    let quiet = drover.writes();
    // The provisioner updates its condition: nothing for drover to write.
    let prov = provs.get(&name).await?;
    let index = conditions_of(&prov)
        .iter()
        .position(|c| c.type_ == "Provisioned")
        .context("Provisioned was removed")?;
    let patch: json_patch::Patch = serde_json::from_value(json!([{
        "op": "replace",
        "path": format!("/status/conditions/{index}/message"),
        "value": "machines are being upgraded",
    }]))?;
    provs
        .patch_status(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let conditions = conditions_of(&provs.get(&name).await?);
    ensure!(
        find_condition(&conditions, "Provisioned")
            .is_some_and(|c| c.message.as_deref() == Some("machines are being upgraded")),
        "{conditions:?}"
    );
    ensure!(
        drover.writes() == quiet,
        "drover wrote {} times after another controller's condition changed",
        drover.writes() - quiet
    );
    Ok(())
}

#[tokio::test]
async fn a_finalizer_another_controller_added_meanwhile_survives_drovers_finalizer() -> Result<()> {
    let (client, env) = shared().await?;
    // drover's write door on its own, as a reconcile holding a cached copy uses it.
    let config = test_config();
    let stores = Watches::new(&config).stores();
    let events = drover::runtime::events::sender(client.clone(), None);
    let ctx = Context::new(
        client.clone(),
        config,
        stores,
        Arc::new(Metrics::default()),
        events,
        Leadership::always(),
    );
    let namespace = env.unique_name("finalizers");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: named(&namespace),
                ..Namespace::default()
            },
        )
        .await?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), &namespace);
    let cached = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: named("held"),
                data: Some(BTreeMap::from([("k".into(), "v".into())])),
                ..ConfigMap::default()
            },
        )
        .await?;
    ensure!(cached.metadata.finalizers.is_none());
    // Another controller adds its finalizer after drover's cache saw none.
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/other"]}})),
    )
    .await?;
    let outcome = ctx
        .add_finalizer(&api, &cached, "drover.cattle.io/test")
        .await;
    let live = api.get("held").await?;
    ensure!(
        live.finalizers().iter().any(|f| f == "example.com/other"),
        "the other controller's finalizer was replaced: {:?} (drover's write: {outcome:?})",
        live.finalizers()
    );
    // With the live object the add goes through, next to the other one.
    ctx.add_finalizer(&api, &live, "drover.cattle.io/test")
        .await?;
    let both = api.get("held").await?;
    ensure!(
        both.finalizers() == ["example.com/other", "drover.cattle.io/test"],
        "{:?}",
        both.finalizers()
    );
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    Ok(())
}

// The local cluster, and Rancher's spelling of core kinds.

#[tokio::test]
async fn local_without_a_ready_condition_gets_ready_and_connected_and_keeps_its_others()
-> Result<()> {
    let (client, _env) = shared().await?;
    let mgmts = Api::<MgmtCluster>::all(client.clone());
    eventually("local bootstrapped", CONVERGE, || async {
        Ok(mgmts
            .get_opt("local")
            .await?
            .filter(|m| find_condition(m.conditions(), "Ready").is_some()))
    })
    .await?;
    // Another writer replaces the conditions with one of its own: no Ready any more.
    let provisioned = json!({"type": "Provisioned", "status": "True",
                             "lastTransitionTime": "2026-01-01T00:00:00Z"});
    mgmts
        .patch_status(
            "local",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [provisioned]}})),
        )
        .await?;
    let local = eventually("local Ready and Connected again", CONVERGE, || async {
        Ok(mgmts.get_opt("local").await?.filter(|m| {
            let c = m.conditions();
            find_condition(c, "Ready").is_some_and(Condition::is_true)
                && find_condition(c, "Connected").is_some_and(Condition::is_true)
        }))
    })
    .await?;
    ensure!(
        find_condition(local.conditions(), "Provisioned").is_some_and(Condition::is_true),
        "{:?}",
        local.conditions()
    );
    Ok(())
}

#[tokio::test]
async fn a_backpopulated_workspace_names_its_namespace_as_ranchers_wrangler_spells_core_kinds()
-> Result<()> {
    let (client, env) = shared().await?;
    let name = env.unique_name("orphan-ns");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: named(&name),
                ..Namespace::default()
            },
        )
        .await?;
    create_prov(&client, &prov_cluster(&name, "held")).await?;
    let ws = eventually("the back-populated workspace", CONVERGE, || async {
        Ok(workspaces(&client).get_opt(&name).await?)
    })
    .await?;
    let annotations: &BTreeMap<String, String> = ws.annotations();
    ensure!(
        annotations.get(OWNER_GVK).map(String::as_str) == Some("/v1, Kind=Namespace"),
        "{annotations:?}"
    );
    Ok(())
}
