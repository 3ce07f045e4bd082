//! The Helm chart against a real API server: `helm template` output is accepted as it is (a
//! server-side dry run of every object), and the ServiceAccount it creates can do what drover
//! needs but not what it must not: write secrets, delete namespaces it did not create, write
//! other RBAC objects, or (with `secrets.access=false`) read secrets at all.
//!
//! helm is built from its Go module by `integration-tests/scripts/install-tools.sh` (cached; the
//! first build takes a few minutes).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use drover_integration_tests::chart::{apply, ensure_namespace, install, render};
use drover_integration_tests::{TestEnv, documents};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::GroupVersionKind;

/// How long a new policy or RBAC rule may take to become effective.
const EFFECTIVE: Duration = Duration::from_secs(20);

/// Refusals are probed with dry-run requests, which change nothing when a policy or RBAC rule is
/// not effective yet.
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

/// Repeats `request` until it fails with `code` and a message containing `needle`.
async fn refused<T, Fut>(
    code: u16,
    needle: &str,
    mut request: impl FnMut() -> Fut,
) -> Result<String>
where
    Fut: std::future::Future<Output = kube::Result<T>>,
{
    let deadline = Instant::now() + EFFECTIVE;
    loop {
        let outcome = request().await;
        if let Err(kube::Error::Api(status)) = &outcome
            && status.code == code
            && status.message.contains(needle)
        {
            return Ok(status.message.clone());
        }
        if Instant::now() > deadline {
            match outcome {
                Ok(_) => bail!("not refused within {EFFECTIVE:?} (expected {code} {needle:?})"),
                Err(e) => bail!("not refused as expected ({code} {needle:?}): {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Repeats `request` until it succeeds.
async fn allowed<T, Fut>(what: &str, mut request: impl FnMut() -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = kube::Result<T>>,
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

#[tokio::test]
async fn the_rendered_chart_is_accepted_by_the_api_server() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let namespace = env.unique_name("drover");
    ensure_namespace(&client, &namespace).await?;
    for args in [
        &[][..],
        &["--set", "secrets.access=false", "--set", "replicas=3"][..],
        &[
            "--set",
            "admissionPolicies.enabled=false",
            "--set",
            "crds.install=false",
        ][..],
    ] {
        let yaml = render("drover", &namespace, args).await?;
        let applied = apply(&client, &yaml, true)
            .await
            .with_context(|| format!("server-side dry run of the chart rendered with {args:?}"))?;
        ensure!(
            applied.iter().any(|o| o.starts_with("Deployment/")),
            "{applied:?}"
        );
    }
    Ok(())
}

/// Whether drover's ClusterRole in the rendered chart has a rule on secrets.
fn grants_secrets(yaml: &str) -> Result<bool> {
    let role = documents(yaml)?
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "drover")
        .ok_or_else(|| anyhow!("no drover ClusterRole"))?;
    Ok(role["rules"].as_array().into_iter().flatten().any(|r| {
        r["resources"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x == "secrets"))
    }))
}

#[tokio::test]
async fn the_chart_renders_its_options() -> Result<()> {
    let default = render("drover", "ops", &[]).await?;
    let docs = documents(&default)?;
    let kinds = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).count();
    // Rancher's kinds only: Fleet's CRDs come from Fleet's own chart.
    ensure!(kinds("CustomResourceDefinition") == 3);
    ensure!(
        !docs
            .iter()
            .any(|d| d["kind"] == "CustomResourceDefinition"
                && d["spec"]["group"] == "fleet.cattle.io"),
        "the chart ships no CRD of Fleet's"
    );
    // The rules of spec section 6, the ServiceAccount guard and the guard on Rancher's CRDs.
    ensure!(kinds("ValidatingAdmissionPolicy") == 9);
    ensure!(kinds("ValidatingAdmissionPolicyBinding") == 9);
    ensure!(
        docs.iter().any(|d| d["kind"] == "ValidatingAdmissionPolicy"
            && d["metadata"]["name"] == "drover-rancher-crds"),
        "the chart guards Rancher's CRDs against deletion"
    );
    // drover reads CRDs (whether one is being deleted, §I7) and never writes them.
    let crd_rules: Vec<&serde_json::Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole")
        .flat_map(|d| d["rules"].as_array().into_iter().flatten())
        .filter(|r| r["resources"] == serde_json::json!(["customresourcedefinitions"]))
        .collect();
    ensure!(
        crd_rules.len() == 1
            && crd_rules[0]["apiGroups"] == serde_json::json!(["apiextensions.k8s.io"])
            && crd_rules[0]["verbs"] == serde_json::json!(["get", "list", "watch"]),
        "CRD rules: {crd_rules:?}"
    );
    ensure!(kinds("ServiceMonitor") == 0);
    let crd = docs
        .iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .ok_or_else(|| anyhow!("no CRD"))?;
    ensure!(crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep");

    let no_secrets = render("drover", "ops", &["--set", "secrets.access=false"]).await?;
    ensure!(
        grants_secrets(&default)?,
        "by default drover may see kubeconfig secrets"
    );
    ensure!(
        !grants_secrets(&no_secrets)?,
        "secrets.access=false must drop every secret rule"
    );
    ensure!(
        no_secrets
            .contains("name: DROVER_OBSERVE_KUBECONFIG_SECRETS\n              value: \"false\"")
    );

    let minimal = render(
        "drover",
        "ops",
        &[
            "--set",
            "crds.install=false",
            "--set",
            "admissionPolicies.enabled=false",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
    )
    .await?;
    let docs = documents(&minimal)?;
    ensure!(docs.iter().all(|d| d["kind"] != "CustomResourceDefinition"));
    ensure!(
        docs.iter()
            .all(|d| d["kind"] != "ValidatingAdmissionPolicy")
    );
    ensure!(docs.iter().any(|d| d["kind"] == "ServiceMonitor"));

    let refused = render(
        "drover",
        "ops",
        &[
            "--set",
            "replicas=2",
            "--set",
            "leaderElection.enabled=false",
        ],
    )
    .await;
    ensure!(
        refused.is_err(),
        "two replicas without leader election must not render"
    );
    Ok(())
}

fn secret(name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Secret::default()
    }
}

#[tokio::test]
async fn the_service_account_may_not_write_secrets_nor_delete_namespaces_it_did_not_create()
-> Result<()> {
    let env = TestEnv::shared().await?;
    let admin = env.client()?;
    let (namespace, drover) = install(env, "drover", &[]).await?;

    let secrets = &Api::<Secret>::namespaced(drover.clone(), &namespace);
    allowed("listing secret metadata", || async move {
        secrets.list_metadata(&ListParams::default()).await
    })
    .await?;
    refused(403, "cannot create resource \"secrets\"", || async move {
        secrets
            .create(&PostParams::default(), &secret("stolen"))
            .await
    })
    .await?;
    Api::<Secret>::namespaced(admin.clone(), &namespace)
        .create(&PostParams::default(), &secret("kubeconfig"))
        .await?;
    refused(403, "cannot delete resource \"secrets\"", || async move {
        secrets.delete("kubeconfig", &DeleteParams::default()).await
    })
    .await?;

    // RBAC allows deleting namespaces; the guard policy narrows it to drover's own.
    let namespaces = &Api::<Namespace>::all(drover.clone());
    let foreign = &env.unique_name("foreign");
    ensure_namespace(&admin, foreign).await?;
    let message = refused(
        403,
        "drover may delete only namespaces it created",
        || async move { namespaces.delete(foreign, &dry_run_delete()).await },
    )
    .await?;
    ensure!(message.contains(foreign.as_str()), "{message}");
    let owned = &env.unique_name("ws");
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(owned.clone()),
            annotations: Some(
                [
                    (
                        "objectset.rio.cattle.io/owner-gvk",
                        "management.cattle.io/v3, Kind=FleetWorkspace",
                    ),
                    ("objectset.rio.cattle.io/owner-name", owned.as_str()),
                    ("objectset.rio.cattle.io/owner-namespace", ""),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    allowed(
        "deleting a namespace created for a workspace",
        || async move { namespaces.delete(owned, &DeleteParams::default()).await },
    )
    .await?;

    // Only the RBAC objects of spec W5, and no permission drover does not hold.
    let roles = &Api::<ClusterRole>::all(drover.clone());
    let rule = |verbs: &[&str]| PolicyRule {
        api_groups: Some(vec!["management.cattle.io".into()]),
        resources: Some(vec!["fleetworkspaces".into()]),
        resource_names: Some(vec![owned.clone()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    };
    let role = |name: &str, verbs: &[&str]| ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![rule(verbs)]),
        ..ClusterRole::default()
    };
    let other = &role(&env.unique_name("other"), &["get"]);
    refused(
        403,
        "drover writes only ClusterRoles named fleetworkspace-own-",
        || async move { roles.create(&dry_run_post(), other).await },
    )
    .await?;
    let own = &role(
        &format!("fleetworkspace-own-{owned}"),
        &[
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
            "fleetaddcluster",
        ],
    );
    allowed(
        "creating fleetworkspace-own-<ws> with explicit verbs",
        || async move { roles.create(&PostParams::default(), own).await },
    )
    .await?;
    let wildcard = &role(&format!("fleetworkspace-own-{owned}-2"), &["*"]);
    refused(
        403,
        "attempting to grant RBAC permissions not currently held",
        || async move { roles.create(&dry_run_post(), wildcard).await },
    )
    .await?;

    let workspace_ns = &env.unique_name("ws");
    ensure_namespace(&admin, workspace_ns).await?;
    let binding = &RoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("fleetworkspace-admin-binding-{workspace_ns}")),
            namespace: Some(workspace_ns.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "fleetworkspace-admin".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            name: "u-creator".into(),
            ..Subject::default()
        }]),
    };
    let bindings = &Api::<RoleBinding>::namespaced(drover.clone(), workspace_ns);
    allowed(
        "binding fleetworkspace-admin (bind on that one role)",
        || async move { bindings.create(&PostParams::default(), binding).await },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn without_secret_access_the_service_account_cannot_read_secrets() -> Result<()> {
    let env = TestEnv::shared().await?;
    let (namespace, drover) = install(
        env,
        "drover-nosecrets",
        &[
            "--set",
            "secrets.access=false",
            "--set",
            "workspaceRoles.create=false",
        ],
    )
    .await?;
    let secrets = &Api::<Secret>::namespaced(drover.clone(), &namespace);
    // Wait for the chart's RBAC to be effective, then check secrets stay closed.
    let mgmt = &Api::<DynamicObject>::all_with(
        drover.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("management.cattle.io", "v3", "Cluster"),
            "clusters",
        ),
    );
    allowed("listing mgmt clusters", || async move {
        mgmt.list_metadata(&ListParams::default()).await
    })
    .await?;
    refused(403, "cannot list resource \"secrets\"", || async move {
        secrets.list_metadata(&ListParams::default()).await
    })
    .await?;
    refused(403, "cannot get resource \"secrets\"", || async move {
        secrets.get_metadata("anything").await
    })
    .await?;
    Ok(())
}
