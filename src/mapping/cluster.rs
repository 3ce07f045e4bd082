//! prov <-> mgmt: names, claims, the desired mgmt cluster of a prov cluster (§C1), the desired
//! prov cluster of a legacy mgmt cluster (§C3) and workspace assignment (§C4).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;
use kube::Resource;
use kube::api::ObjectMeta;

use crate::api::{MgmtCluster, MgmtClusterSpec, ProvCluster, ProvClusterSpec, RkeEnvVar};
use crate::consts::{LOCAL_WORKSPACE, annotations, finalizers};
use crate::mapping::meta::{OwnerMarks, applied_finalizers, export_cleaned, is_truthy};
use crate::mapping::names::{generated_mgmt_name, is_dns_label, is_legacy_name};

/// Where a prov cluster's mgmt name comes from (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// A legacy prov cluster's own name: it represents the legacy mgmt cluster of that name.
    Legacy,
    /// Recorded in `status.clusterName`.
    Recorded,
    /// Asked for with the annotation `provisioning.cattle.io/management-cluster-name`.
    Annotated,
    /// Derived from the prov cluster's UID.
    Generated,
}

impl NameSource {
    /// The field a refusal names.
    pub fn field(self) -> &'static str {
        match self {
            Self::Legacy => "metadata.name",
            Self::Recorded => "status.clusterName",
            Self::Annotated => "annotation provisioning.cattle.io/management-cluster-name",
            Self::Generated => "metadata.uid",
        }
    }
}

/// The mgmt name a prov cluster pairs with, and where it comes from: its own name when legacy
/// (it represents a legacy mgmt cluster), else the recorded `status.clusterName`, else the
/// annotation, else the name derived from its UID.
pub fn chosen_mgmt_name(prov: &ProvCluster) -> Option<(String, NameSource)> {
    let name = prov.meta().name.as_deref()?;
    if is_legacy_name(name) {
        return Some((name.to_string(), NameSource::Legacy));
    }
    if let Some(recorded) = prov.cluster_name() {
        return Some((recorded.to_string(), NameSource::Recorded));
    }
    match annotated_mgmt_name(prov) {
        Some(n) => Some((n.to_string(), NameSource::Annotated)),
        None => prov
            .meta()
            .uid
            .as_deref()
            .map(|uid| (generated_mgmt_name(uid), NameSource::Generated)),
    }
}

/// The mgmt name a prov cluster pairs with ([`chosen_mgmt_name`]).
pub fn mgmt_name_for(prov: &ProvCluster) -> Option<String> {
    chosen_mgmt_name(prov).map(|(name, _)| name)
}

/// The non-empty annotation `provisioning.cattle.io/management-cluster-name`.
pub fn annotated_mgmt_name(prov: &ProvCluster) -> Option<&str> {
    annotation(prov, annotations::MANAGEMENT_CLUSTER_NAME)
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

/// Why a non-legacy prov cluster may not pair with the mgmt name `name` taken from `source`, or
/// `None` when it may (§C1, §I2):
/// - a legacy-shaped name (`c-xxxxx`, `local`) is an imported cluster's, which only
///   `<its workspace>/<its name>` represents: drover would create that mgmt cluster and then a
///   second prov cluster for it;
/// - an invalid name can be neither a mgmt cluster's nor the Fleet label that carries it;
/// - a name bound to another prov cluster (`bound_to`: one that recorded it, or whose UID
///   derives it) would give one mgmt cluster two prov clusters.
pub fn mgmt_name_refusal(
    name: &str,
    source: NameSource,
    bound_to: Option<&ProvCluster>,
) -> Option<String> {
    let field = source.field();
    if is_legacy_name(name) {
        return Some(format!(
            "{field} names {name}, a legacy mgmt cluster name (c-xxxxx or local): only an \
             imported cluster's own prov cluster represents such a mgmt cluster"
        ));
    }
    if !is_dns_label(name) {
        return Some(format!(
            "{field} names {name}, which is not a valid mgmt cluster name (1-63 characters of \
             [-a-z0-9], alphanumeric at both ends)"
        ));
    }
    bound_to.map(|other| {
        format!(
            "{field} names {name}, which is bound to prov cluster {}/{}",
            other.meta().namespace.as_deref().unwrap_or_default(),
            other.meta().name.as_deref().unwrap_or_default()
        )
    })
}

/// Whether `other` (not `prov`) is bound to the mgmt name `name`: it recorded it, or its UID
/// derives it.
pub fn is_bound_elsewhere(prov: &ProvCluster, other: &ProvCluster, name: &str) -> bool {
    other.meta().uid != prov.meta().uid
        && (other.cluster_name() == Some(name)
            || (other.cluster_name().is_none()
                && other
                    .meta()
                    .uid
                    .as_deref()
                    .map(generated_mgmt_name)
                    .as_deref()
                    == Some(name)))
}

/// Who an existing mgmt cluster belongs to, seen from a prov cluster that wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Created for this prov cluster: drover's or Rancher's marks name it.
    Ours,
    /// Belongs to someone else; the message says to whom.
    Foreign(String),
}

/// Decides whether `prov` may manage `mgmt`. Only ownership marks bind a prov cluster to a mgmt
/// cluster (§I1): drover never takes over a mgmt cluster it did not create for this prov
/// cluster, whatever `status.clusterName` says (anyone who may write the status can set it).
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
        None => Claim::Foreign(format!(
            "mgmt cluster {mgmt_name} exists and was not created for this cluster"
        )),
    }
}

/// Whether `prov` represents the legacy mgmt cluster `mgmt` (§I2): only the prov cluster
/// `<its workspace>/<its name>` does. `None` when it does; otherwise the refusal, naming the
/// prov cluster that does.
pub fn legacy_representation_refusal(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    default_workspace: &str,
) -> Option<String> {
    let name = mgmt.meta().name.as_deref().unwrap_or_default();
    match legacy_prov_workspace(mgmt, default_workspace) {
        Some(ws)
            if prov.meta().namespace.as_deref() == Some(ws.as_str())
                && prov.meta().name.as_deref() == Some(name) =>
        {
            None
        }
        Some(ws) => Some(format!(
            "legacy mgmt cluster {name} is represented by prov cluster {ws}/{name}, in its \
             workspace {ws}; this one is not its counterpart"
        )),
        None => Some(format!(
            "legacy mgmt cluster {name} has no workspace, so no prov cluster represents it"
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
            finalizers: applied_finalizers(existing.map(|m| m.meta()), finalizers::MGMT_CLUSTER),
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
            finalizers: applied_finalizers(existing.map(|p| p.meta()), finalizers::PROV_CLUSTER),
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
    OwnerMarks::read(mgmt.meta().annotations.as_ref()).is_some_and(|m| m.name_kind::<ProvCluster>())
}

#[cfg(test)]
#[path = "cluster_tests/mod.rs"]
mod tests;
