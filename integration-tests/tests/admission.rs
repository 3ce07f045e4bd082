//! The chart's admission policies (`charts/drover/files/admission-policies.yaml`, spec.md
//! section 6) applied to a real API server, which evaluates them itself.
//!
//! A ValidatingAdmissionPolicy takes a moment to become effective after it is created, so every
//! expected refusal is polled for (bounded), with dry-run requests that change nothing if a
//! policy is not effective yet. Requests expected to pass run once the refusals have been seen.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use drover::api::{FleetWorkspace, MgmtCluster, ProvCluster};
use drover_integration_tests::fixtures::{mgmt_cluster, prov_cluster};
use drover_integration_tests::{TestEnv, repo_root};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::OnceCell;

/// How long a new policy (or RBAC rule) may take to become effective.
const EFFECTIVE: Duration = Duration::from_secs(20);

/// The shared control plane with the chart's admission policies applied.
async fn env() -> Result<&'static TestEnv> {
    static POLICIES: OnceCell<()> = OnceCell::const_new();
    let env = TestEnv::shared().await?;
    POLICIES
        .get_or_try_init(|| async {
            env.apply_yaml_file(repo_root().join("charts/drover/files/admission-policies.yaml"))
                .await
                .map(|_| ())
        })
        .await?;
    Ok(env)
}

/// Repeats `request` until admission policy `policy` refuses it, and returns the message.
async fn refused_by<T, Fut>(policy: &str, mut request: impl FnMut() -> Fut) -> Result<String>
where
    Fut: Future<Output = kube::Result<T>>,
{
    let marker = format!("ValidatingAdmissionPolicy '{policy}'");
    let deadline = Instant::now() + EFFECTIVE;
    loop {
        let outcome = request().await;
        if let Err(kube::Error::Api(status)) = &outcome
            && status.message.contains(&marker)
        {
            return Ok(status.message.clone());
        }
        if Instant::now() > deadline {
            match outcome {
                Ok(_) => bail!("{policy} did not refuse the request within {EFFECTIVE:?}"),
                Err(e) => bail!("{policy} did not refuse the request within {EFFECTIVE:?}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Repeats `request` until it succeeds (for permissions that take a moment to apply).
async fn allowed<T, Fut>(what: &str, mut request: impl FnMut() -> Fut) -> Result<T>
where
    Fut: Future<Output = kube::Result<T>>,
{
    let deadline = Instant::now() + EFFECTIVE;
    loop {
        match request().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => {
                return Err(e).with_context(|| format!("{what} was still refused"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn dry_run_post() -> PostParams {
    PostParams {
        dry_run: true,
        ..PostParams::default()
    }
}

fn dry_run_delete() -> DeleteParams {
    DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    }
}

fn dry_run_patch() -> PatchParams {
    PatchParams::default().dry_run()
}

fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

/// Creates an object unless one of that name exists.
async fn ensure<K>(api: &Api<K>, object: &K) -> Result<()>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).context("creating a test object"),
    }
}

async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = Namespace {
        metadata: named(name),
        ..Namespace::default()
    };
    ensure(&Api::<Namespace>::all(client.clone()), &ns).await
}

fn move_to(workspace: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "spec": { "fleetWorkspaceName": workspace } }))
}

#[tokio::test]
async fn a_workspace_named_after_a_system_namespace_is_refused_with_a_message() -> Result<()> {
    let env = env().await?;
    let api = &Api::<FleetWorkspace>::all(env.client()?);
    let message = refused_by("drover-workspace-names", || async move {
        api.create(&dry_run_post(), &FleetWorkspace::new("kube-system"))
            .await
    })
    .await?;
    ensure!(
        message.contains("metadata.name: kube-system is a Kubernetes system namespace"),
        "{message}"
    );
    for name in ["default", "kube-public", "kube-node-lease"] {
        refused_by("drover-workspace-names", || async move {
            api.create(&dry_run_post(), &FleetWorkspace::new(name))
                .await
        })
        .await?;
    }
    let message = refused_by("drover-workspace-names", || async move {
        api.create(&dry_run_post(), &FleetWorkspace::new("cattle-fleet-system"))
            .await
    })
    .await?;
    ensure!(
        message.contains("cattle-fleet-system is reserved"),
        "{message}"
    );

    let fine = env.unique_name("team");
    api.create(&PostParams::default(), &FleetWorkspace::new(&fine))
        .await
        .context("an ordinary workspace name must be accepted")?;
    Ok(())
}

#[tokio::test]
async fn the_namespaces_fleet_local_and_local_cannot_be_deleted() -> Result<()> {
    let env = env().await?;
    let client = env.client()?;
    let api = &Api::<Namespace>::all(client.clone());
    for name in ["fleet-local", "local"] {
        ensure_namespace(&client, name).await?;
        let message = refused_by("drover-protected-namespaces", || async move {
            api.delete(name, &dry_run_delete()).await
        })
        .await?;
        ensure!(
            message.contains(&format!("namespace {name} holds the local cluster")),
            "{message}"
        );
    }
    let other = env.unique_name("ns");
    ensure_namespace(&client, &other).await?;
    api.delete(&other, &DeleteParams::default())
        .await
        .context("other namespaces stay deletable")?;
    Ok(())
}

#[tokio::test]
async fn prov_cluster_names_must_be_2_to_63_of_lowercase_digits_and_dashes() -> Result<()> {
    let env = env().await?;
    let client = env.client()?;
    let namespace = env.unique_name("prov");
    ensure_namespace(&client, &namespace).await?;
    let api = &Api::<ProvCluster>::namespaced(client.clone(), &namespace);
    // Names Kubernetes itself accepts (DNS subdomains) but Rancher's cluster names do not.
    for name in ["x", "a.b", &"a".repeat(64)] {
        let prov = &prov_cluster(&namespace, name);
        let message = refused_by("drover-prov-cluster-names", || async move {
            api.create(&dry_run_post(), prov).await
        })
        .await?;
        ensure!(
            message.contains(&format!(
                "metadata.name: prov cluster name \"{name}\" must be 2 to 63"
            )),
            "{message}"
        );
    }
    for name in ["ab", "prod-1", &"a".repeat(63)] {
        api.create(&PostParams::default(), &prov_cluster(&namespace, name))
            .await
            .with_context(|| format!("prov cluster name {name} must be accepted"))?;
    }
    Ok(())
}

#[tokio::test]
async fn the_prov_cluster_local_lives_only_in_fleet_local_and_cannot_be_deleted() -> Result<()> {
    let env = env().await?;
    let client = env.client()?;
    let namespace = env.unique_name("prov");
    ensure_namespace(&client, &namespace).await?;
    let elsewhere = &Api::<ProvCluster>::namespaced(client.clone(), &namespace);
    let local_elsewhere = &prov_cluster(&namespace, "local");
    let message = refused_by("drover-prov-cluster-names", || async move {
        elsewhere.create(&dry_run_post(), local_elsewhere).await
    })
    .await?;
    ensure!(
        message.contains(&format!(
            "belongs in namespace fleet-local, not in {namespace}"
        )),
        "{message}"
    );

    ensure_namespace(&client, "fleet-local").await?;
    let fleet_local = &Api::<ProvCluster>::namespaced(client.clone(), "fleet-local");
    ensure(fleet_local, &prov_cluster("fleet-local", "local")).await?;
    let message = refused_by("drover-local-prov-cluster", || async move {
        fleet_local.delete("local", &dry_run_delete()).await
    })
    .await?;
    ensure!(message.contains("fleet-local/local"), "{message}");
    // A collection delete is admitted object by object: it cannot take `local` along either.
    refused_by("drover-local-prov-cluster", || async move {
        fleet_local
            .delete_collection(&dry_run_delete(), &ListParams::default())
            .await
    })
    .await?;
    ensure!(fleet_local.get_opt("local").await?.is_some());

    elsewhere
        .create(&PostParams::default(), &prov_cluster(&namespace, "doomed"))
        .await?;
    elsewhere
        .delete("doomed", &DeleteParams::default())
        .await
        .context("other prov clusters stay deletable")?;
    Ok(())
}

#[tokio::test]
async fn a_mgmt_clusters_workspace_cannot_be_cleared() -> Result<()> {
    let env = env().await?;
    let api = &Api::<MgmtCluster>::all(env.client()?);
    let name = &env.unique_name("c-m");
    api.create(
        &PostParams::default(),
        &mgmt_cluster(name, Some("fleet-default")),
    )
    .await?;
    for clear in [json!(null), json!("")] {
        let patch = &Patch::Merge(json!({ "spec": { "fleetWorkspaceName": clear } }));
        let message = refused_by("drover-mgmt-cluster-workspaces", || async move {
            api.patch(name, &dry_run_patch(), patch).await
        })
        .await?;
        ensure!(
            message.contains(&format!(
                "spec.fleetWorkspaceName of mgmt cluster {name} cannot be cleared (it is fleet-default)"
            )),
            "{message}"
        );
    }
    let message = refused_by("drover-mgmt-cluster-workspaces", || async move {
        api.patch(
            name,
            &dry_run_patch(),
            &Patch::Merge(json!({ "spec": null })),
        )
        .await
    })
    .await?;
    ensure!(message.contains("cannot be cleared"), "{message}");

    let moved = env.unique_name("team");
    api.patch(name, &PatchParams::default(), &move_to(&moved))
        .await
        .context("an admin may move a cluster")?;
    Ok(())
}

#[tokio::test]
async fn the_local_mgmt_cluster_stays_in_fleet_local() -> Result<()> {
    let env = env().await?;
    let api = &Api::<MgmtCluster>::all(env.client()?);
    ensure(api, &mgmt_cluster("local", Some("fleet-local"))).await?;
    let message = refused_by("drover-mgmt-cluster-workspaces", || async move {
        api.patch("local", &dry_run_patch(), &move_to("fleet-default"))
            .await
    })
    .await?;
    ensure!(
        message.contains("mgmt cluster local must stay fleet-local, not fleet-default"),
        "{message}"
    );
    api.patch(
        "local",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "displayName": "local" } })),
    )
    .await
    .context("other edits of local stay possible")?;
    Ok(())
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: named(name),
        rules: Some(rules),
        ..ClusterRole::default()
    }
}

fn bind_service_account(name: &str, role: &str, namespace: &str, sa: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: named(name),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa.into(),
            namespace: Some(namespace.into()),
            ..Subject::default()
        }]),
    }
}

fn rule(group: &str, resource: &str, names: Option<&str>, verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(vec![resource.into()]),
        resource_names: names.map(|n| vec![n.into()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

#[tokio::test]
async fn moving_a_mgmt_cluster_needs_fleetaddcluster_on_the_new_workspace() -> Result<()> {
    let env = env().await?;
    let admin = env.client()?;
    let namespace = env.unique_name("movers");
    ensure_namespace(&admin, &namespace).await?;
    let sa = ServiceAccount {
        metadata: named("mover"),
        ..ServiceAccount::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), &namespace)
        .create(&PostParams::default(), &sa)
        .await?;
    let roles = Api::<ClusterRole>::all(admin.clone());
    let bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let editor = format!("{namespace}-mgmt-editor");
    roles
        .create(
            &PostParams::default(),
            &cluster_role(
                &editor,
                vec![rule(
                    "management.cattle.io",
                    "clusters",
                    None,
                    &["get", "list", "watch", "update", "patch"],
                )],
            ),
        )
        .await?;
    bindings
        .create(
            &PostParams::default(),
            &bind_service_account(&editor, &editor, &namespace, "mover"),
        )
        .await?;

    let cluster = &env.unique_name("c-m");
    Api::<MgmtCluster>::all(admin.clone())
        .create(
            &PostParams::default(),
            &mgmt_cluster(cluster, Some("fleet-default")),
        )
        .await?;
    let target = &env.unique_name("team");
    let token = env.token_for_service_account(&namespace, "mover").await?;
    let as_mover = &Api::<MgmtCluster>::all(env.client_for_token(&token).await?);

    let message = refused_by("drover-mgmt-cluster-workspaces", || async move {
        as_mover
            .patch(cluster, &dry_run_patch(), &move_to(target))
            .await
    })
    .await?;
    ensure!(
        message.contains(&format!(
            "system:serviceaccount:{namespace}:mover may not put mgmt cluster {cluster} into \
             workspace {target}"
        )) && message.contains(&format!(
            "needs verb fleetaddcluster on fleetworkspaces.management.cattle.io/{target}"
        )),
        "{message}"
    );
    // Editing anything else stays possible without the verb.
    allowed("an edit that moves nothing", || async move {
        as_mover
            .patch(
                cluster,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "description": "edited" } })),
            )
            .await
    })
    .await?;

    let adder = format!("{namespace}-add-{target}");
    roles
        .create(
            &PostParams::default(),
            &cluster_role(
                &adder,
                vec![rule(
                    "management.cattle.io",
                    "fleetworkspaces",
                    Some(target),
                    &["fleetaddcluster"],
                )],
            ),
        )
        .await?;
    bindings
        .create(
            &PostParams::default(),
            &bind_service_account(&adder, &adder, &namespace, "mover"),
        )
        .await?;
    let moved = allowed("the move after granting fleetaddcluster", || async move {
        as_mover
            .patch(cluster, &PatchParams::default(), &move_to(target))
            .await
    })
    .await?;
    ensure!(moved.spec.fleet_workspace_name.as_deref() == Some(target.as_str()));

    // The grant names one workspace; another one is still refused.
    let elsewhere = &env.unique_name("team");
    refused_by("drover-mgmt-cluster-workspaces", || async move {
        as_mover
            .patch(cluster, &dry_run_patch(), &move_to(elsewhere))
            .await
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn creating_a_mgmt_cluster_in_a_workspace_needs_fleetaddcluster_too() -> Result<()> {
    let env = env().await?;
    let admin = env.client()?;
    let namespace = env.unique_name("creators");
    ensure_namespace(&admin, &namespace).await?;
    Api::<ServiceAccount>::namespaced(admin.clone(), &namespace)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: named("creator"),
                ..ServiceAccount::default()
            },
        )
        .await?;
    let role = format!("{namespace}-mgmt-creator");
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &cluster_role(
                &role,
                vec![rule(
                    "management.cattle.io",
                    "clusters",
                    None,
                    &["get", "create"],
                )],
            ),
        )
        .await?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(
            &PostParams::default(),
            &bind_service_account(&role, &role, &namespace, "creator"),
        )
        .await?;
    let token = env.token_for_service_account(&namespace, "creator").await?;
    let as_creator = &Api::<MgmtCluster>::all(env.client_for_token(&token).await?);

    let in_workspace = &mgmt_cluster(&env.unique_name("c-m"), Some("fleet-default"));
    refused_by("drover-mgmt-cluster-workspaces", || async move {
        as_creator.create(&dry_run_post(), in_workspace).await
    })
    .await?;
    let mut without_workspace = mgmt_cluster(&env.unique_name("c-m"), None);
    without_workspace.metadata.labels = Some(BTreeMap::from([("test".into(), "yes".into())]));
    let without_workspace = &without_workspace;
    allowed(
        "creating a mgmt cluster without a workspace",
        || async move {
            as_creator
                .create(&PostParams::default(), without_workspace)
                .await
        },
    )
    .await?;
    Ok(())
}

/// An admin client that the API server sees as `user`: the policies below check who asks, not
/// what they may do otherwise.
fn client_as(env: &TestEnv, user: &str) -> Result<Client> {
    let mut config = env.client_config();
    config.auth_info.impersonate = Some(user.into());
    config.auth_info.impersonate_groups = Some(vec!["system:masters".into()]);
    Ok(Client::try_from(config)?)
}

const WORKSPACE_ANNOTATION: &str = "provisioning.cattle.io/fleet-workspace-name";

fn into_workspace(workspace: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "metadata": { "annotations": { WORKSPACE_ANNOTATION: workspace } } }))
}

#[tokio::test]
async fn moving_a_prov_cluster_by_annotation_needs_fleetaddcluster_on_the_target_workspace()
-> Result<()> {
    let env = env().await?;
    let admin = env.client()?;
    let namespace = env.unique_name("tenant");
    ensure_namespace(&admin, &namespace).await?;
    Api::<ServiceAccount>::namespaced(admin.clone(), &namespace)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: named("tenant"),
                ..ServiceAccount::default()
            },
        )
        .await?;
    let roles = Api::<ClusterRole>::all(admin.clone());
    let bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let editor = format!("{namespace}-prov-editor");
    roles
        .create(
            &PostParams::default(),
            &cluster_role(
                &editor,
                vec![rule(
                    "provisioning.cattle.io",
                    "clusters",
                    None,
                    &["get", "list", "watch", "create", "update", "patch"],
                )],
            ),
        )
        .await?;
    bindings
        .create(
            &PostParams::default(),
            &bind_service_account(&editor, &editor, &namespace, "tenant"),
        )
        .await?;
    let provs_admin = Api::<ProvCluster>::namespaced(admin.clone(), &namespace);
    provs_admin
        .create(&PostParams::default(), &prov_cluster(&namespace, "mine"))
        .await?;
    let token = env.token_for_service_account(&namespace, "tenant").await?;
    let as_tenant =
        &Api::<ProvCluster>::namespaced(env.client_for_token(&token).await?, &namespace);
    let target = &env.unique_name("victim");

    let message = refused_by("drover-prov-cluster-workspaces", || async move {
        as_tenant
            .patch("mine", &dry_run_patch(), &into_workspace(target))
            .await
    })
    .await?;
    ensure!(
        message.contains(&format!(
            "system:serviceaccount:{namespace}:tenant may not put prov cluster {namespace}/mine \
             into workspace {target}"
        )) && message.contains(&format!(
            "needs verb fleetaddcluster on fleetworkspaces.management.cattle.io/{target}"
        )),
        "{message}"
    );
    // Creating a prov cluster that names the workspace is the same move.
    let mut annotated = prov_cluster(&namespace, "born-moved");
    annotated.metadata.annotations = Some(BTreeMap::from([(
        WORKSPACE_ANNOTATION.to_string(),
        target.to_string(),
    )]));
    let annotated = &annotated;
    refused_by("drover-prov-cluster-workspaces", || async move {
        as_tenant.create(&dry_run_post(), annotated).await
    })
    .await?;
    // Other edits need no workspace right.
    allowed("an edit that moves nothing", || async move {
        as_tenant
            .patch(
                "mine",
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "edited": "yes" } } })),
            )
            .await
    })
    .await?;

    let adder = format!("{namespace}-add-{target}");
    roles
        .create(
            &PostParams::default(),
            &cluster_role(
                &adder,
                vec![rule(
                    "management.cattle.io",
                    "fleetworkspaces",
                    Some(target),
                    &["fleetaddcluster"],
                )],
            ),
        )
        .await?;
    bindings
        .create(
            &PostParams::default(),
            &bind_service_account(&adder, &adder, &namespace, "tenant"),
        )
        .await?;
    allowed("the move after granting fleetaddcluster", || async move {
        as_tenant
            .patch("mine", &PatchParams::default(), &into_workspace(target))
            .await
    })
    .await?;
    // The annotation may stay as it is on later edits, and be removed.
    as_tenant
        .patch(
            "mine",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "edited": "again" } } })),
        )
        .await
        .context("an edit keeping the granted workspace")?;
    let elsewhere = &env.unique_name("victim");
    refused_by("drover-prov-cluster-workspaces", || async move {
        as_tenant
            .patch("mine", &dry_run_patch(), &into_workspace(elsewhere))
            .await
    })
    .await?;
    as_tenant
        .patch(
            "mine",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "annotations": { WORKSPACE_ANNOTATION: null } } })),
        )
        .await
        .context("removing the annotation moves nothing")?;
    Ok(())
}

const CREATOR: &str = "field.cattle.io/creatorId";

fn workspace_by(name: &str, creator: Option<&str>) -> FleetWorkspace {
    let mut ws = FleetWorkspace::new(name);
    ws.metadata.annotations =
        creator.map(|c| BTreeMap::from([(CREATOR.to_string(), c.to_string())]));
    ws
}

fn creator_patch(creator: Option<&str>) -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "metadata": { "annotations": { CREATOR: creator } } }))
}

#[tokio::test]
async fn a_workspaces_creator_is_the_user_who_creates_it_and_never_changes() -> Result<()> {
    let env = env().await?;
    let alice = &Api::<FleetWorkspace>::all(client_as(env, "u-alice")?);
    let mallory = &Api::<FleetWorkspace>::all(client_as(env, "u-mallory")?);

    // Naming someone else as the creator on create.
    let framed = &workspace_by(&env.unique_name("team"), Some("u-alice"));
    let message = refused_by("drover-workspace-creators", || async move {
        mallory.create(&dry_run_post(), framed).await
    })
    .await?;
    ensure!(
        message.contains(&format!(
            "metadata.annotations[field.cattle.io/creatorId]: u-mallory may not create workspace \
             {} with creator u-alice",
            framed.name_any()
        )),
        "{message}"
    );
    let name = &env.unique_name("team");
    alice
        .create(&PostParams::default(), &workspace_by(name, Some("u-alice")))
        .await
        .context("the creator names herself")?;

    // Taking the workspace over later, by anyone, is refused.
    let message = refused_by("drover-workspace-creators", || async move {
        mallory
            .patch(name, &dry_run_patch(), &creator_patch(Some("u-mallory")))
            .await
    })
    .await?;
    ensure!(
        message.contains(&format!(
            "metadata.annotations[field.cattle.io/creatorId] of workspace {name} cannot change \
             (it is u-alice)"
        )),
        "{message}"
    );
    let unowned = &env.unique_name("team");
    alice
        .create(&PostParams::default(), &workspace_by(unowned, None))
        .await?;
    refused_by("drover-workspace-creators", || async move {
        mallory
            .patch(unowned, &dry_run_patch(), &creator_patch(Some("u-mallory")))
            .await
    })
    .await?;

    // Other edits stay possible, and the creator can be removed (which removes the grants).
    alice
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "team": "a" } } })),
        )
        .await
        .context("an edit that keeps the creator")?;
    alice
        .patch(name, &PatchParams::default(), &creator_patch(None))
        .await
        .context("removing the creator")?;
    Ok(())
}

#[tokio::test]
async fn the_crds_of_rancher_kinds_are_deleted_only_with_an_explicit_opt_in() -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let env = env().await?;
    let crds = &Api::<CustomResourceDefinition>::all(env.client()?);
    for name in [
        "clusters.provisioning.cattle.io",
        "clusters.management.cattle.io",
        "fleetworkspaces.management.cattle.io",
    ] {
        let message = refused_by("drover-rancher-crds", || async move {
            crds.delete(name, &dry_run_delete()).await
        })
        .await?;
        ensure!(
            message.contains(name) && message.contains("drover.cattle.io/allow-deletion"),
            "{message}"
        );
    }
    // Fleet's CRDs are not drover's to guard.
    allowed("deleting Fleet's GitRepo CRD (dry run)", || async move {
        crds.delete("gitrepos.fleet.cattle.io", &dry_run_delete())
            .await
    })
    .await?;
    // With the opt-in the deletion goes through (a dry run here: the CRD serves other tests).
    let annotate = |value: Option<&str>| {
        Patch::Merge(json!({
            "metadata": {"annotations": {"drover.cattle.io/allow-deletion": value}}
        }))
    };
    let name = "fleetworkspaces.management.cattle.io";
    crds.patch(name, &PatchParams::default(), &annotate(Some("true")))
        .await?;
    let outcome = allowed("deleting an annotated CRD (dry run)", || async move {
        crds.delete(name, &dry_run_delete()).await
    })
    .await;
    crds.patch(name, &PatchParams::default(), &annotate(None))
        .await?;
    outcome?;
    Ok(())
}
