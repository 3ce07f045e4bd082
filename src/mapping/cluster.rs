//! prov <-> mgmt: names, claims, the desired mgmt cluster of a prov cluster (§C1), the desired
//! prov cluster of a legacy mgmt cluster (§C3) and workspace assignment (§C4).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;
use kube::Resource;
use kube::api::ObjectMeta;

use crate::api::{MgmtCluster, MgmtClusterSpec, ProvCluster, ProvClusterSpec, RkeEnvVar};
use crate::consts::{LOCAL_WORKSPACE, annotations};
use crate::mapping::meta::{OwnerMarks, export_cleaned, is_truthy};
use crate::mapping::names::{generated_mgmt_name, is_legacy_name};

/// The mgmt name a prov cluster pairs with: its own name when legacy (it represents a legacy mgmt
/// cluster), else the recorded `status.clusterName`, else the annotation, else the name derived
/// from its UID.
pub fn mgmt_name_for(prov: &ProvCluster) -> Option<String> {
    let name = prov.meta().name.as_deref()?;
    if is_legacy_name(name) {
        return Some(name.to_string());
    }
    if let Some(recorded) = prov.cluster_name() {
        return Some(recorded.to_string());
    }
    let annotated = prov
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotations::MANAGEMENT_CLUSTER_NAME))
        .filter(|n| !n.is_empty());
    match annotated {
        Some(n) => Some(n.clone()),
        None => prov.meta().uid.as_deref().map(generated_mgmt_name),
    }
}

/// Who an existing mgmt cluster belongs to, seen from a prov cluster that wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Created for this prov cluster (drover's or Rancher's marks name it), or recorded by it.
    Ours,
    /// Belongs to someone else; the message says to whom.
    Foreign(String),
}

/// Decides whether `prov` may manage `mgmt`. drover never takes over a mgmt cluster it did not
/// create for this prov cluster.
pub fn claim(prov: &ProvCluster, mgmt: &MgmtCluster) -> Claim {
    let mgmt_name = mgmt.meta().name.clone().unwrap_or_default();
    match OwnerMarks::read(mgmt.meta().annotations.as_ref()) {
        Some(marks) if marks.name_owner(prov) => Claim::Ours,
        Some(marks) => Claim::Foreign(format!(
            "mgmt cluster {mgmt_name} belongs to {} {}{}",
            marks.gvk,
            if marks.namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", marks.namespace)
            },
            marks.name
        )),
        None if prov.cluster_name() == Some(mgmt_name.as_str()) => Claim::Ours,
        None => Claim::Foreign(format!(
            "mgmt cluster {mgmt_name} exists and was not created for this cluster"
        )),
    }
}

/// The ownership marks to write on a child: drover's UID mark is added, except on a child that
/// carries Rancher's marks without one (adopted as it is, so adoption changes nothing).
pub fn marks_for_child<K: Resource<DynamicType = ()>>(
    owner: &K,
    existing_child: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut marks = OwnerMarks::of(owner).annotations();
    let rancher_marks_without_uid = existing_child.is_some_and(|a| {
        a.contains_key(annotations::OWNER_NAME) && !a.contains_key(annotations::OWNER_UID)
    });
    if rancher_marks_without_uid {
        marks.remove(annotations::OWNER_UID);
    }
    marks
}

/// prov env vars (name and value) as the mgmt cluster's Kubernetes env vars.
fn mgmt_env_vars(vars: &[RkeEnvVar]) -> Vec<EnvVar> {
    vars.iter()
        .map(|v| EnvVar {
            name: v.name.clone(),
            value: v.value.clone(),
            value_from: None,
        })
        .collect()
}

/// mgmt env vars as the prov cluster's name/value pairs. A `valueFrom` has no place in Rancher's
/// prov type; such a variable keeps its name only.
fn prov_env_vars(vars: &[EnvVar]) -> Vec<RkeEnvVar> {
    vars.iter()
        .map(|v| RkeEnvVar {
            name: v.name.clone(),
            value: v.value.clone(),
        })
        .collect()
}

fn annotation<'a>(obj: &'a impl Resource, key: &str) -> Option<&'a String> {
    obj.meta().annotations.as_ref()?.get(key)
}

/// The mgmt cluster drover maintains for a non-legacy prov cluster (§C1).
///
/// For an imported prov cluster (no `rkeConfig`) whose mgmt cluster exists, the mgmt cluster is
/// the source of truth for its spec: each field keeps the mgmt value and only a missing one is
/// filled from the prov cluster. (Desired values must still name every field drover applied
/// before, or server-side apply would remove them.)
pub fn desired_mgmt_cluster(
    prov: &ProvCluster,
    name: &str,
    existing: Option<&MgmtCluster>,
) -> MgmtCluster {
    let p = &prov.spec;
    let prov_name = prov.meta().name.clone().unwrap_or_default();
    let workspace = annotation(prov, annotations::FLEET_WORKSPACE_NAME)
        .filter(|w| !w.is_empty())
        .cloned()
        .or_else(|| existing.and_then(|m| m.workspace()).map(str::to_string))
        .or_else(|| prov.meta().namespace.clone());
    let from_prov = MgmtClusterSpec {
        display_name: Some(prov_name),
        description: annotation(prov, annotations::DESCRIPTION).cloned(),
        internal: Some(false),
        fleet_workspace_name: workspace,
        agent_env_vars: p.agent_env_vars.as_deref().map(mgmt_env_vars),
        cluster_agent_deployment_customization: p.cluster_agent_deployment_customization.clone(),
        fleet_agent_deployment_customization: p.fleet_agent_deployment_customization.clone(),
        webhook_deployment_customization: p.webhook_deployment_customization.clone(),
        imported_config: None,
    };
    let spec = match existing {
        Some(m) if p.rke_config.is_none() => {
            let e = &m.spec;
            MgmtClusterSpec {
                display_name: e.display_name.clone().or(from_prov.display_name),
                description: e.description.clone().or(from_prov.description),
                internal: e.internal.or(from_prov.internal),
                fleet_workspace_name: from_prov.fleet_workspace_name,
                agent_env_vars: e.agent_env_vars.clone().or(from_prov.agent_env_vars),
                cluster_agent_deployment_customization: e
                    .cluster_agent_deployment_customization
                    .clone()
                    .or(from_prov.cluster_agent_deployment_customization),
                fleet_agent_deployment_customization: e
                    .fleet_agent_deployment_customization
                    .clone()
                    .or(from_prov.fleet_agent_deployment_customization),
                webhook_deployment_customization: e
                    .webhook_deployment_customization
                    .clone()
                    .or(from_prov.webhook_deployment_customization),
                imported_config: None,
            }
        }
        _ => from_prov,
    };
    let mut annotations_out = prov.meta().annotations.clone().unwrap_or_default();
    annotations_out.insert(
        annotations::ADMINISTRATED.to_string(),
        p.rke_config.is_some().to_string(),
    );
    annotations_out.extend(marks_for_child(
        prov,
        existing.and_then(|m| m.meta().annotations.as_ref()),
    ));
    MgmtCluster {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: prov.meta().labels.clone().filter(|l| !l.is_empty()),
            annotations: Some(annotations_out),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// The prov cluster drover maintains for a legacy mgmt cluster in workspace `workspace` (§C3).
/// The mgmt cluster is the source of truth: its edits flow here.
pub fn desired_legacy_prov_cluster(
    mgmt: &MgmtCluster,
    workspace: &str,
    existing: Option<&ProvCluster>,
) -> ProvCluster {
    let m = &mgmt.spec;
    let mut annotations_out = export_cleaned(mgmt.meta().annotations.as_ref());
    annotations_out.insert(
        annotations::MANAGEMENT_CLUSTER_DISPLAY_NAME.to_string(),
        m.display_name.clone().unwrap_or_default(),
    );
    annotations_out.extend(marks_for_child(
        mgmt,
        existing.and_then(|p| p.meta().annotations.as_ref()),
    ));
    let labels = export_cleaned(mgmt.meta().labels.as_ref());
    ProvCluster {
        metadata: ObjectMeta {
            name: mgmt.meta().name.clone(),
            namespace: Some(workspace.to_string()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: Some(annotations_out),
            ..ObjectMeta::default()
        },
        spec: ProvClusterSpec {
            agent_env_vars: m.agent_env_vars.as_deref().map(prov_env_vars),
            cluster_agent_deployment_customization: m
                .cluster_agent_deployment_customization
                .clone(),
            fleet_agent_deployment_customization: m.fleet_agent_deployment_customization.clone(),
            webhook_deployment_customization: m.webhook_deployment_customization.clone(),
            ..ProvClusterSpec::default()
        },
        status: None,
    }
}

/// The workspace drover assigns to a mgmt cluster that has none (§C4); `None` when it has one
/// (never changed by drover) or is externally managed.
pub fn workspace_to_assign(mgmt: &MgmtCluster, default_workspace: &str) -> Option<String> {
    if mgmt.workspace().is_some() {
        return None;
    }
    if mgmt.is_internal() {
        return Some(LOCAL_WORKSPACE.to_string());
    }
    if is_externally_managed(mgmt) {
        return None;
    }
    Some(default_workspace.to_string())
}

pub fn is_externally_managed(mgmt: &MgmtCluster) -> bool {
    is_truthy(annotation(mgmt, annotations::EXTERNALLY_MANAGED))
}

/// The workspace a legacy mgmt cluster's prov cluster lives in, when it has one: its own
/// workspace, which for an externally managed cluster without one is the default (§C3).
pub fn legacy_prov_workspace(mgmt: &MgmtCluster, default_workspace: &str) -> Option<String> {
    match mgmt.workspace() {
        Some(ws) => Some(ws.to_string()),
        None if is_externally_managed(mgmt) => Some(default_workspace.to_string()),
        None => None,
    }
}

/// Whether a mgmt cluster was created by drover (or Rancher) for a prov cluster.
pub fn is_owned_by_a_prov_cluster(mgmt: &MgmtCluster) -> bool {
    OwnerMarks::read(mgmt.meta().annotations.as_ref())
        .is_some_and(|m| m.gvk == format!("{}, Kind=Cluster", ProvCluster::api_version(&())))
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
