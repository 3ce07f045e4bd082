use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A status condition in Rancher's shape (`type`, `status`, `reason`, `message`, times).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::string")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::string")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::string")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::string")]
    pub last_update_time: Option<String>,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// Finds a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of that type is present and `True`.
pub fn condition_is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(Condition::is_true)
}

/// An environment variable on a prov cluster: Rancher's `rke.cattle.io/v1` `EnvVar`, a name and
/// a value only (both optional in Rancher's schema). mgmt and Fleet clusters carry Kubernetes'
/// `EnvVar` instead, which may also hold a `valueFrom`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RkeEnvVar {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Rancher's `AgentDeploymentCustomization`: the cluster agent's and the fleet-agent's
/// customization on prov and mgmt clusters (the webhook has its own type,
/// [`WebhookDeploymentCustomization`]).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDeploymentCustomization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append_tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_resource_requirements: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_customization: Option<AgentSchedulingCustomization>,
}

/// Rancher's `WebhookDeploymentCustomization`: replicas, scheduling, resources and a disruption
/// budget for the rancher-webhook deployment of a cluster. Unlike the agents' customization it
/// has `replicaCount` and a top-level `podDisruptionBudget`, and no `schedulingCustomization`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeploymentCustomization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::replica_count")]
    pub replica_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append_tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_resource_requirements: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
}

/// Priority class and disruption budget for an agent. Rancher's type and Fleet's
/// (`agentSchedulingCustomization` on a Fleet cluster) have the same fields and JSON types; the
/// schema carries Rancher's validation, which only drover's prov CRD uses.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSchedulingCustomization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class: Option<PriorityClassSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriorityClassSpec {
    /// Go's `int` with `omitempty` upstream: absent stays absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::priority_value")]
    pub value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
}

/// `minAvailable` / `maxUnavailable` are strings upstream (Rancher and Fleet), not
/// int-or-string: `"1"` or `"50%"`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::disruption_budget_value")]
    pub min_available: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::disruption_budget_value")]
    pub max_unavailable: Option<String>,
}
