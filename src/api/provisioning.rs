use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgentDeploymentCustomization, Condition, RkeEnvVar, WebhookDeploymentCustomization};

/// `clusters.provisioning.cattle.io`: what users, UIs and provisioners create. Namespaced; the
/// namespace is the cluster's workspace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "provisioning.cattle.io",
    version = "v1",
    kind = "Cluster",
    root = "ProvCluster",
    namespaced,
    status = "ProvClusterStatus",
    category = "provisioning",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.kubernetesVersion"}"#,
    printcolumn = r#"{"name":"Cluster Name","type":"string","jsonPath":".status.clusterName"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Kubeconfig","type":"string","jsonPath":".status.clientSecretName"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProvClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Present for clusters Rancher provisions (RKE2/K3s); absent (or `null`) for imported
    /// clusters. Opaque to drover except `machineGlobalConfig["system-default-registry"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::rke_config")]
    pub rke_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_env_vars: Option<Vec<RkeEnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_agent_deployment_customization: Option<AgentDeploymentCustomization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_agent_deployment_customization: Option<AgentDeploymentCustomization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_deployment_customization: Option<WebhookDeploymentCustomization>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvClusterStatus {
    /// The mgmt cluster's name; chosen once and never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::string")]
    pub cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::namespace_name")]
    pub fleet_workspace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::int64")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::boolean")]
    pub ready: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::boolean")]
    pub agent_deployed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::secret_name")]
    pub client_secret_name: Option<String>,
    /// A map list keyed by `type` (as in Rancher's CRD): other writers' conditions stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::conditions")]
    pub conditions: Option<Vec<Condition>>,
}

impl ProvCluster {
    /// `spec.rkeConfig.machineGlobalConfig["system-default-registry"]`, when non-empty.
    pub fn system_default_registry(&self) -> Option<&str> {
        self.spec
            .rke_config
            .as_ref()?
            .get("machineGlobalConfig")?
            .get("system-default-registry")?
            .as_str()
            .filter(|s| !s.is_empty())
    }

    /// The recorded mgmt cluster name, when one was chosen.
    pub fn cluster_name(&self) -> Option<&str> {
        self.status
            .as_ref()?
            .cluster_name
            .as_deref()
            .filter(|s| !s.is_empty())
    }
}
