use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgentSchedulingCustomization, Condition};

/// `clusters.fleet.cattle.io`: what fleet-controller consumes. Namespaced (the workspace).
/// Field names and JSON types follow Fleet's `ClusterSpec` (fleet `pkg/apis`, v1alpha1). The CRD
/// is Fleet's own (its `fleet-crd` chart); drover ships none for Fleet's kinds.
///
/// drover writes the spec fields below; fleet-controller writes `spec.clientID` and the status,
/// users write `redeployAgentGeneration`, `paused` and `templateValues`. Those are modelled so
/// drover can read them, and are never part of a desired object.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "fleet.cattle.io",
    version = "v1alpha1",
    kind = "Cluster",
    root = "FleetCluster",
    namespaced,
    status = "FleetClusterStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct FleetClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config_secret_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_env_vars: Option<Vec<EnvVar>>,
    /// Empty for downstream clusters (Fleet uses `cattle-fleet-system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_affinity: Option<Box<Affinity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_resources: Option<Box<ResourceRequirements>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_scheduling_customization: Option<Box<AgentSchedulingCustomization>>,
    #[serde(
        default,
        rename = "privateRepoURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_repo_url: Option<String>,
    /// Fleet's `[]corev1.LocalObjectReference`: `[{name: ...}]`, never a list of strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// Written by fleet-controller.
    #[serde(default, rename = "clientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Written by users to redeploy the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeploy_agent_generation: Option<i64>,
    /// Written by users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Written by users; drover never reads the values, so only their presence is kept (an
    /// empty object): a cluster's values for Fleet's templating can be large.
    #[serde(
        default,
        deserialize_with = "only_presence",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "super::schemas::preserve_unknown_object")]
    pub template_values: Option<serde_json::Value>,
}

/// `Some(empty object)` for any value but `null`, without keeping the value.
fn only_presence<'de, D>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let present = Option::<serde::de::IgnoredAny>::deserialize(deserializer)?.is_some();
    Ok(present.then(|| serde_json::Value::Object(Default::default())))
}

/// Written by fleet-controller; drover only reads it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

impl FleetCluster {
    /// What the cache keeps of the status fleet-controller writes: drover reads none of its
    /// conditions, so a present list is kept empty. Only for the cache: drover never writes a
    /// Fleet cluster's status, and its applies carry no status.
    pub fn keep_read_conditions(&mut self) {
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            *conditions = Vec::new();
        }
    }
}

/// `clustergroups.fleet.cattle.io`: drover writes one, `default` in `fleet-local`, selecting
/// the local cluster (§C6). Fleet's `ClusterGroupSpec`: a nullable `metav1.LabelSelector`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "fleet.cattle.io",
    version = "v1alpha1",
    kind = "ClusterGroup",
    namespaced,
    status = "ClusterGroupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Written by fleet-controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_count: Option<i64>,
}
