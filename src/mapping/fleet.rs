//! prov + mgmt -> fleet cluster (§C6) and the local cluster's ClusterGroup.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, Node, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm,
    PreferredSchedulingTerm, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Resource;
use kube::api::ObjectMeta;

use crate::api::{
    ClusterGroup, ClusterGroupSpec, FleetCluster, FleetClusterSpec, MgmtCluster, ProvCluster,
    condition_is_true,
};
use crate::consts::{LOCAL_AGENT_NAMESPACE, LOCAL_CLUSTER, conditions, labels};
use crate::mapping::cluster::marks_for_child;
use crate::mapping::meta::{OwnerMarks, export_cleaned, is_valid_label_value};
use crate::mapping::names::is_legacy_name;
use crate::mapping::tolerations::sorted_tolerations;

/// Suffix Rancher gives the copies of a legacy cluster's registry pull secrets.
pub const MANAGED_PULL_SECRET_SUFFIX: &str = "-rancher-managed-pull-secret";
/// Name of the local cluster's ClusterGroup.
pub const LOCAL_CLUSTER_GROUP: &str = "default";

/// Settings of the fleet cluster mapping that come from drover's configuration.
#[derive(Clone, Debug, Default)]
pub struct FleetSettings {
    pub default_registry: Option<String>,
    /// Node label of the default agent affinity.
    pub agent_affinity_label: String,
}

/// Why a prov cluster has no fleet cluster yet, or `None` when it qualifies (§C6).
pub fn fleet_wait_reason(prov: &ProvCluster, mgmt: &MgmtCluster) -> Option<&'static str> {
    let status = prov.status.as_ref();
    if status
        .and_then(|s| s.cluster_name.as_deref())
        .is_none_or(str::is_empty)
    {
        return Some("no mgmt cluster name recorded yet");
    }
    if status
        .and_then(|s| s.client_secret_name.as_deref())
        .is_none_or(str::is_empty)
    {
        return Some("no kubeconfig secret yet");
    }
    if !condition_is_true(mgmt.conditions(), conditions::READY) {
        return Some("mgmt cluster is not Ready");
    }
    if mgmt.workspace().is_none() {
        return Some("mgmt cluster has no workspace");
    }
    None
}

/// Why the fleet cluster already at `prov`'s place is not taken over (§I1, §5), or `None` when it
/// was created for `prov`: one without ownership marks was made by someone else, one whose marks
/// name another owner is that owner's.
pub fn foreign_fleet_cluster(existing: &FleetCluster, prov: &ProvCluster) -> Option<String> {
    let place = format!(
        "{}/{}",
        existing.meta().namespace.as_deref().unwrap_or_default(),
        existing.meta().name.as_deref().unwrap_or_default()
    );
    match OwnerMarks::read(existing.meta().annotations.as_ref()) {
        Some(marks) if marks.name_owner(prov) => None,
        Some(marks) => Some(format!(
            "fleet cluster {place} belongs to {} {}/{}; it is left alone",
            marks.gvk, marks.namespace, marks.name
        )),
        None => Some(format!(
            "fleet cluster {place} exists and was not created by drover for this cluster; it is \
             left alone"
        )),
    }
}

/// The default fleet-agent affinity: prefer (weight 1) nodes labelled `<label>=true`.
pub fn default_agent_affinity(label: &str) -> Affinity {
    Affinity {
        node_affinity: Some(NodeAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                PreferredSchedulingTerm {
                    weight: 1,
                    preference: NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: label.to_string(),
                            operator: "In".into(),
                            values: Some(vec!["true".into()]),
                        }]),
                        match_fields: None,
                    },
                },
            ]),
            required_during_scheduling_ignored_during_execution: None,
        }),
        ..Affinity::default()
    }
}

/// Control-plane nodes: labelled `node-role.kubernetes.io/control-plane=true`, or, when none is,
/// RKE1's `node-role.kubernetes.io/controlplane=true`.
fn control_plane_nodes<'a>(nodes: &'a [&'a Node]) -> Vec<&'a Node> {
    let labelled = |key: &str| -> Vec<&Node> {
        nodes
            .iter()
            .copied()
            .filter(|n| {
                n.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(key))
                    .is_some_and(|v| v == "true")
            })
            .collect()
    };
    let nodes = labelled(labels::CONTROL_PLANE_NODE);
    if nodes.is_empty() {
        labelled(labels::CONTROL_PLANE_NODE_RKE1)
    } else {
        nodes
    }
}

/// One toleration per distinct control-plane node taint.
pub fn control_plane_tolerations(nodes: &[&Node]) -> Vec<Toleration> {
    let tolerations = control_plane_nodes(nodes)
        .into_iter()
        .flat_map(|n| {
            n.spec
                .as_ref()
                .and_then(|s| s.taints.clone())
                .unwrap_or_default()
        })
        .map(|taint| Toleration {
            operator: Some(if taint.value.as_deref().is_some_and(|v| !v.is_empty()) {
                "Equal".into()
            } else {
                "Exists".into()
            }),
            value: taint.value.filter(|v| !v.is_empty()),
            key: Some(taint.key),
            effect: Some(taint.effect),
            toleration_seconds: None,
        })
        .collect();
    sorted_tolerations(tolerations)
}

/// Names of the pull secrets the fleet-agent gets (§C6).
fn pull_secret_names(mgmt_name: &str, registry: Option<&str>, mgmt: &MgmtCluster) -> Vec<String> {
    if !is_legacy_name(mgmt_name) || registry.is_none() {
        return Vec::new();
    }
    let names = mgmt
        .spec
        .imported_config
        .as_ref()
        .and_then(|c| c.private_registry_pull_secrets.clone())
        .unwrap_or_default();
    if mgmt_name == LOCAL_CLUSTER {
        return names;
    }
    names
        .into_iter()
        .map(|n| {
            let keep = 63usize.saturating_sub(MANAGED_PULL_SECRET_SUFFIX.len());
            let mut base: String = n.chars().take(keep).collect();
            while base.ends_with(['-', '.']) {
                base.pop();
            }
            format!("{base}{MANAGED_PULL_SECRET_SUFFIX}")
        })
        .collect()
}

/// `spec.agentPullSecrets` in Fleet's type: local object references, `[{name: ...}]`.
fn pull_secrets(
    mgmt_name: &str,
    registry: Option<&str>,
    mgmt: &MgmtCluster,
) -> Vec<LocalObjectReference> {
    pull_secret_names(mgmt_name, registry, mgmt)
        .into_iter()
        .map(|name| LocalObjectReference { name })
        .collect()
}

/// The fleet cluster drover maintains for a qualifying prov cluster (§C6). `nodes` matter only
/// for the internal cluster. An absent field stays absent and an empty list stays empty.
pub fn desired_fleet_cluster(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    nodes: &[&Node],
    settings: &FleetSettings,
    existing: Option<&FleetCluster>,
) -> FleetCluster {
    let mgmt_name = mgmt.meta().name.clone().unwrap_or_default();
    let internal = mgmt.is_internal();
    let m = &mgmt.spec;
    let fleet_agent = m.fleet_agent_deployment_customization.as_ref();

    let mut labels_out = export_cleaned(mgmt.meta().labels.as_ref());
    labels_out.insert(labels::CLUSTER_NAME.into(), mgmt_name.clone());
    if let Some(display) = m
        .display_name
        .as_deref()
        .filter(|d| is_valid_label_value(d))
    {
        labels_out.insert(labels::CLUSTER_DISPLAY_NAME.into(), display.to_string());
    }
    if internal {
        labels_out.insert(labels::NAME.into(), LOCAL_CLUSTER.into());
    }
    let mut annotations_out = export_cleaned(mgmt.meta().annotations.as_ref());
    annotations_out.extend(marks_for_child(
        prov,
        existing.and_then(|f| f.meta().annotations.as_ref()),
    ));

    let appended = fleet_agent.and_then(|c| c.append_tolerations.clone());
    let node_tolerations = if internal {
        control_plane_tolerations(nodes)
    } else {
        Vec::new()
    };
    let tolerations = match (appended, node_tolerations.is_empty()) {
        (None, true) => None,
        (appended, _) => Some(sorted_tolerations(
            appended
                .unwrap_or_default()
                .into_iter()
                .chain(node_tolerations)
                .collect(),
        )),
    };

    let registry = prov
        .system_default_registry()
        .map(str::to_string)
        .or_else(|| {
            m.imported_config
                .as_ref()
                .and_then(|c| c.private_registry_url.clone())
                .filter(|u| !u.is_empty())
        })
        .or_else(|| settings.default_registry.clone().filter(|u| !u.is_empty()));

    let scheduling = prov
        .spec
        .fleet_agent_deployment_customization
        .as_ref()
        .and_then(|c| c.scheduling_customization.clone())
        .filter(|s| s.priority_class.is_some() || s.pod_disruption_budget.is_some());

    let status = prov.status.as_ref();
    FleetCluster {
        metadata: ObjectMeta {
            name: prov.meta().name.clone(),
            namespace: mgmt.workspace().map(str::to_string),
            labels: Some(labels_out),
            annotations: Some(annotations_out),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec {
            kube_config_secret: status.and_then(|s| s.client_secret_name.clone()),
            kube_config_secret_namespace: prov.meta().namespace.clone(),
            agent_env_vars: m.agent_env_vars.clone(),
            agent_namespace: internal.then(|| LOCAL_AGENT_NAMESPACE.to_string()),
            agent_tolerations: tolerations,
            agent_affinity: Some(Box::new(
                fleet_agent
                    .and_then(|c| c.override_affinity.clone())
                    .unwrap_or_else(|| default_agent_affinity(&settings.agent_affinity_label)),
            )),
            agent_resources: fleet_agent
                .and_then(|c| c.override_resource_requirements.clone())
                .map(Box::new),
            agent_scheduling_customization: scheduling.map(Box::new),
            agent_pull_secrets: Some(pull_secrets(&mgmt_name, registry.as_deref(), mgmt)),
            private_repo_url: registry,
            ..FleetClusterSpec::default()
        },
        status: None,
    }
}

/// ClusterGroup `default` beside the local fleet cluster, selecting `name=local`. One that
/// Rancher created (marks without a UID) is adopted as it is.
pub fn desired_local_cluster_group(
    namespace: &str,
    prov: &ProvCluster,
    existing: Option<&ClusterGroup>,
) -> ClusterGroup {
    ClusterGroup {
        metadata: ObjectMeta {
            name: Some(LOCAL_CLUSTER_GROUP.into()),
            namespace: Some(namespace.into()),
            annotations: Some(marks_for_child(
                prov,
                existing.and_then(|g| g.meta().annotations.as_ref()),
            )),
            ..ObjectMeta::default()
        },
        spec: ClusterGroupSpec {
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    labels::NAME.to_string(),
                    LOCAL_CLUSTER.to_string(),
                )])),
                match_expressions: None,
            }),
        },
        status: None,
    }
}

#[cfg(test)]
#[path = "fleet_tests/mod.rs"]
mod tests;
