//! The test environment is a real control plane: things only a real API server with real
//! controllers does are observed here.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use drover_integration_tests::TestEnv;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, discovery};

/// Polls `check` every 200 ms until it returns true or `timeout` passes.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&Default::default(), &namespace)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

#[tokio::test]
async fn drovers_crds_are_established_and_their_kinds_are_served() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let crds = drover_integration_tests::crds()?;
    ensure!(
        !crds.is_empty(),
        "crds/*.yaml holds no CustomResourceDefinition"
    );

    for crd in crds {
        let group = &crd.spec.group;
        let kind = &crd.spec.names.kind;
        for version in crd.spec.versions.iter().filter(|v| v.served) {
            let gvk = GroupVersionKind::gvk(group, &version.name, kind);
            let (resource, _) = discovery::pinned_kind(&client, &gvk)
                .await
                .with_context(|| format!("discovering {group}/{}/{kind}", version.name))?;
            assert_eq!(resource.plural, crd.spec.names.plural);
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            api.list(&ListParams::default())
                .await
                .with_context(|| format!("listing {}.{group}/{}", resource.plural, version.name))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_object_whose_owner_is_deleted_is_garbage_collected() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let ns = env.unique_name("gc");
    create_namespace(&client, &ns).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);

    let owner = config_maps
        .create(
            &Default::default(),
            &config_map("owner", &[("role", "owner")]),
        )
        .await?;
    let mut dependent = config_map("dependent", &[("role", "dependent")]);
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().context("the owner has no uid")?,
        ..OwnerReference::default()
    }]);
    config_maps.create(&Default::default(), &dependent).await?;

    // An unowned neighbour must survive: the collector follows ownerReferences, nothing else.
    config_maps
        .create(&Default::default(), &config_map("bystander", &[]))
        .await?;

    config_maps
        .delete("owner", &DeleteParams::background())
        .await?;
    eventually(
        "the dependent to be collected",
        Duration::from_secs(60),
        || {
            let api = config_maps.clone();
            async move { Ok(api.get_opt("dependent").await?.is_none()) }
        },
    )
    .await?;
    ensure!(config_maps.get_opt("bystander").await?.is_some());

    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_deleted_namespace_with_content_disappears_completely() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let ns = env.unique_name("doomed");
    create_namespace(&client, &ns).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    config_maps
        .create(&Default::default(), &config_map("content", &[("k", "v")]))
        .await?;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await?;

    // The namespace lingers in Terminating until the namespace controller has emptied it and
    // removed the `kubernetes` finalizer.
    let terminating = namespaces.get_opt(&ns).await?;
    if let Some(terminating) = terminating {
        let finalizers = terminating
            .spec
            .and_then(|s| s.finalizers)
            .unwrap_or_default();
        let phase = terminating.status.and_then(|s| s.phase);
        ensure!(
            phase.as_deref() == Some("Terminating") || finalizers.is_empty(),
            "a namespace being deleted is Terminating, got {phase:?}"
        );
    }

    eventually(
        "the namespace to disappear",
        Duration::from_secs(90),
        || {
            let (api, ns) = (namespaces.clone(), ns.clone());
            async move { Ok(api.get_opt(&ns).await?.is_none()) }
        },
    )
    .await?;
    let leftovers = config_maps.list(&ListParams::default()).await?;
    ensure!(
        leftovers.items.is_empty(),
        "config maps left in a deleted namespace: {:?}",
        leftovers.items
    );
    Ok(())
}

#[tokio::test]
async fn server_side_apply_by_two_field_managers_keeps_both_managers_fields() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let ns = env.unique_name("ssa");
    create_namespace(&client, &ns).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);

    let apply = |manager: &'static str, data: &'static [(&'static str, &'static str)]| {
        let api = config_maps.clone();
        async move {
            let mut object = config_map("shared", data);
            object.metadata.namespace = None;
            let patch = serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": { "name": "shared" },
                "data": object.data,
            });
            api.patch(
                "shared",
                &PatchParams::apply(manager),
                &Patch::Apply(&patch),
            )
            .await
        }
    };

    apply("alice", &[("alice", "1")]).await?;
    apply("bob", &[("bob", "2")]).await?;
    let merged = config_maps.get("shared").await?;
    let expected: BTreeMap<String, String> = [("alice", "1"), ("bob", "2")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(merged.data, Some(expected.clone()));

    let managers: Vec<String> = merged
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.operation.as_deref() == Some("Apply"))
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"alice".to_owned()),
        "managers: {managers:?}"
    );
    assert!(
        managers.contains(&"bob".to_owned()),
        "managers: {managers:?}"
    );

    // Re-applying alice's configuration leaves bob's field alone...
    apply("alice", &[("alice", "1")]).await?;
    assert_eq!(config_maps.get("shared").await?.data, Some(expected));

    // ...and taking bob's field without forcing is a conflict.
    match apply("alice", &[("alice", "1"), ("bob", "3")]).await {
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        other => bail!("expected a 409 conflict, got {other:?}"),
    }

    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_service_account_token_authenticates_and_rbac_denies_what_is_not_granted() -> Result<()> {
    let env = TestEnv::shared().await?;
    let client = env.client()?;
    let ns = env.unique_name("rbac");
    create_namespace(&client, &ns).await?;
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("reader".into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&Default::default(), &account)
        .await?;

    let token = env.token_for_service_account(&ns, "reader").await?;
    let restricted = env.client_for_token(&token).await?;
    match Api::<ConfigMap>::namespaced(restricted, &ns)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 403 => {
            assert!(
                status
                    .message
                    .contains(&format!("system:serviceaccount:{ns}:reader")),
                "the denial names the service account: {}",
                status.message
            );
        }
        other => bail!("expected 403 Forbidden for an ungranted service account, got {other:?}"),
    }

    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_private_control_plane_stops_all_its_processes_when_dropped() -> Result<()> {
    let env = TestEnv::start().await?;
    let pids = env.pids();
    assert_eq!(
        pids.len(),
        3,
        "etcd, kube-apiserver, kube-controller-manager"
    );
    let dir = env
        .kubeconfig_path()
        .parent()
        .context("kubeconfig dir")?
        .to_path_buf();
    env.apply_yaml_str(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n---\n",
    )
    .await?;
    let applied = Api::<ConfigMap>::namespaced(env.client()?, "default")
        .get("applied")
        .await?;
    assert_eq!(
        applied
            .data
            .unwrap_or_default()
            .get("k")
            .map(String::as_str),
        Some("v")
    );

    drop(env);
    for pid in pids {
        let proc_dir = std::path::Path::new("/proc").join(pid.to_string());
        assert!(!proc_dir.exists(), "process {pid} is still there");
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
    Ok(())
}
