//! The parts drover does not play, played by tests, the demo and the benchmark: a cluster agent
//! (mgmt `Ready`/`Connected` conditions) and a provisioner (`<name>-kubeconfig` secrets).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use drover::api::{FleetWorkspace, MgmtCluster, MgmtClusterSpec, ProvCluster};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

/// Field manager of the test's stand-ins for cluster agents and provisioners.
pub const AGENT: &str = "cluster-agent";

/// A random legacy mgmt name, `c-` and five characters.
pub fn legacy_name() -> String {
    let n = crate::unique_name("x");
    let digest: u64 = n.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut v = digest;
    let suffix: String = (0..5)
        .map(|_| {
            let c = alphabet[(v % 36) as usize] as char;
            v /= 36;
            c
        })
        .collect();
    format!("c-{suffix}")
}

/// A label or annotation map from literal pairs.
pub fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A prov cluster named `name` in `namespace`, imported (no rkeConfig).
pub fn prov_cluster(namespace: &str, name: &str) -> ProvCluster {
    let mut prov = ProvCluster::new(name, Default::default());
    prov.metadata.namespace = Some(namespace.into());
    prov
}

/// A legacy mgmt cluster as an importer creates it.
pub fn legacy_mgmt_cluster(name: &str, workspace: Option<&str>) -> MgmtCluster {
    MgmtCluster {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: MgmtClusterSpec {
            display_name: Some(format!("{name}-display")),
            fleet_workspace_name: workspace.map(Into::into),
            ..MgmtClusterSpec::default()
        },
        status: None,
    }
}

/// A mgmt cluster as a user or importer would send it: a name and, optionally, a workspace.
pub fn mgmt_cluster(name: &str, workspace: Option<&str>) -> MgmtCluster {
    MgmtCluster::new(
        name,
        MgmtClusterSpec {
            fleet_workspace_name: workspace.map(Into::into),
            ..MgmtClusterSpec::default()
        },
    )
}

pub async fn create_prov(client: &Client, prov: &ProvCluster) -> Result<ProvCluster> {
    let ns = prov.metadata.namespace.clone().unwrap_or_default();
    Api::<ProvCluster>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), prov)
        .await
        .with_context(|| format!("creating prov cluster {ns}/{:?}", prov.metadata.name))
}

pub async fn create_mgmt(client: &Client, mgmt: &MgmtCluster) -> Result<MgmtCluster> {
    Api::<MgmtCluster>::all(client.clone())
        .create(&PostParams::default(), mgmt)
        .await
        .with_context(|| format!("creating mgmt cluster {:?}", mgmt.metadata.name))
}

/// Plays the cluster agent: sets the mgmt cluster's `Connected`, `Ready` and `AgentDeployed`
/// conditions True.
pub async fn connect_mgmt(client: &Client, name: &str) -> Result<()> {
    connect_mgmt_returning(client, name).await.map(|_| ())
}

/// [`connect_mgmt`], returning the connected mgmt cluster.
pub async fn connect_mgmt_returning(client: &Client, name: &str) -> Result<MgmtCluster> {
    let condition = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let patch = json!({"status": {"conditions": [condition("Connected"), condition("Ready"), condition("AgentDeployed")]}});
    Api::<MgmtCluster>::all(client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("connecting mgmt cluster {name}"))
}

/// Plays the provisioner: creates `<name>-kubeconfig` in `namespace`.
pub async fn create_kubeconfig_secret(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(format!("{name}-kubeconfig")),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "value".to_string(),
            ByteString(b"apiVersion: v1\nkind: Config\n".to_vec()),
        )])),
        ..Secret::default()
    };
    match Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e)
            .with_context(|| format!("creating kubeconfig secret {namespace}/{name}-kubeconfig")),
    }
}

/// A workspace `name` with these labels and annotations.
pub fn fleet_workspace(
    name: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> FleetWorkspace {
    let mut ws = FleetWorkspace::new(name);
    ws.metadata.labels = Some(string_map(labels));
    ws.metadata.annotations = Some(string_map(annotations));
    ws
}

/// Creates a FleetWorkspace (managed) and lets drover make its namespace.
pub async fn create_workspace(client: &Client, name: &str) -> Result<()> {
    let ws = FleetWorkspace::new(name);
    match Api::<FleetWorkspace>::all(client.clone())
        .create(&PostParams::default(), &ws)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating workspace {name}")),
    }
}

/// Waits until drover has made the default workspaces' namespaces (`fleet-default`,
/// `fleet-local`), which tests create their clusters in.
pub async fn default_workspaces_ready(client: &Client) -> Result<()> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    crate::eventually(
        "namespaces fleet-default and fleet-local",
        crate::CONVERGE,
        || async {
            let default = namespaces.get_opt("fleet-default").await?;
            let local = namespaces.get_opt("fleet-local").await?;
            Ok((default.is_some() && local.is_some()).then_some(()))
        },
    )
    .await
}

/// Whether workspace `w` says it waits because its namespace holds prov cluster `prov`
/// (`Stalled`, reason `NamespaceHoldsClusters`, the message naming it).
pub fn waits_for_prov(w: &FleetWorkspace, prov: &str) -> bool {
    w.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "Stalled"
                    && c.reason.as_deref()
                        == Some(drover::consts::reasons::workspace::NAMESPACE_HOLDS_CLUSTERS)
                    && c.message.as_deref().is_some_and(|m| m.contains(prov))
            })
        })
}
