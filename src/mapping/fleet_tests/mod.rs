//! Tests of the Fleet cluster mapping, by concern: when a prov cluster qualifies, the nodes'
//! taints and affinity, the Fleet cluster's identity, its agent settings, registry and pull
//! secrets, the fields other actors own, and the local ClusterGroup.

use super::*;

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, NodeSpec, ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity,
    ResourceRequirements, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;

use crate::api::{
    AgentDeploymentCustomization, AgentSchedulingCustomization, ImportedConfig, MgmtClusterStatus,
    PodDisruptionBudgetSpec, PriorityClassSpec, RkeEnvVar,
};
use crate::consts::annotations;
use crate::fixtures::{PROV_UID, condition, mgmt, prov, string_map};
use crate::mapping::meta::OwnerMarks;

fn settings() -> FleetSettings {
    FleetSettings {
        default_registry: None,
        agent_affinity_label: "fleet.cattle.io/agent".into(),
    }
}

/// A Ready downstream mgmt cluster in `workspace`, as Rancher shows one: its display name set,
/// `internal: false`, and the agent's `Ready` and `Connected` conditions True.
fn downstream(name: &str, workspace: &str) -> MgmtCluster {
    mgmt(name)
        .in_workspace(workspace)
        .with_display_name(name)
        .internal(false)
        .with_conditions(vec![
            condition("Ready", "True"),
            condition("Connected", "True"),
        ])
}

/// The Ready internal mgmt cluster `local`.
fn local_mgmt() -> MgmtCluster {
    let mut m = downstream("local", "fleet-local");
    m.spec.internal = Some(true);
    m
}

fn with_fleet_agent(mut m: MgmtCluster, c: AgentDeploymentCustomization) -> MgmtCluster {
    m.spec.fleet_agent_deployment_customization = Some(Box::new(c));
    m
}

fn with_imported_config(
    mut m: MgmtCluster,
    registry: Option<&str>,
    pull_secrets: &[&str],
) -> MgmtCluster {
    m.spec.imported_config = Some(ImportedConfig {
        private_registry_url: registry.map(Into::into),
        private_registry_pull_secrets: Some(pull_secrets.iter().map(|s| s.to_string()).collect()),
    });
    m
}

fn provisioned_with_registry(mut p: ProvCluster, registry: &str) -> ProvCluster {
    p.spec.rke_config = Some(json!({
        "machineGlobalConfig": {"cni": "calico", "system-default-registry": registry}
    }));
    p
}

fn toleration(key: &str, value: Option<&str>, operator: &str, effect: Option<&str>) -> Toleration {
    Toleration {
        key: Some(key.into()),
        value: value.map(Into::into),
        operator: Some(operator.into()),
        effect: effect.map(Into::into),
        toleration_seconds: None,
    }
}

fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.map(Into::into),
        effect: effect.into(),
        time_added: None,
    }
}

fn node(name: &str, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(string_map(labels)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(taints),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

const CONTROL_PLANE: (&str, &str) = ("node-role.kubernetes.io/control-plane", "true");
const RKE1_CONTROL_PLANE: (&str, &str) = ("node-role.kubernetes.io/controlplane", "true");

fn desired(p: &ProvCluster, m: &MgmtCluster) -> FleetCluster {
    desired_fleet_cluster(p, m, &[], &settings(), None)
}

mod agent;
mod cluster_group;
mod identity;
mod nodes;
mod ownership;
mod registry;
mod waiting;
