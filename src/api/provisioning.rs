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
    // Read, only that key and the presence are kept: see `project_rke_config`.
    #[serde(
        default,
        deserialize_with = "project_rke_config",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "super::schemas::rke_config")]
    pub rke_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_env_vars: Option<Vec<RkeEnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_agent_deployment_customization: Option<Box<AgentDeploymentCustomization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_agent_deployment_customization: Option<Box<AgentDeploymentCustomization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_deployment_customization: Option<Box<WebhookDeploymentCustomization>>,
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

/// An `rkeConfig` as drover keeps it: that it is there, and the one key drover reads
/// (`machineGlobalConfig["system-default-registry"]`). The rest (machine pools, chart values,
/// registries, upgrade strategy) is several KB per cluster that drover never looks at; keeping it
/// would make drover's memory grow with what users store. drover never writes a prov cluster's
/// spec back, so nothing it writes can lose what is not kept.
pub fn project_rke_config<'de, D>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let Some(rke) = Option::<serde_json::Value>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let mut kept = serde_json::Map::new();
    if let Some(registry) = rke
        .get("machineGlobalConfig")
        .and_then(|g| g.get("system-default-registry"))
    {
        kept.insert(
            "machineGlobalConfig".into(),
            serde_json::json!({"system-default-registry": registry}),
        );
    }
    Ok(Some(serde_json::Value::Object(kept)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prov_with(rke_config: serde_json::Value) -> ProvCluster {
        serde_json::from_value(json!({
            "apiVersion": "provisioning.cattle.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "dev", "namespace": "fleet-default"},
            "spec": {"kubernetesVersion": "v1.33.1+rke2r1", "rkeConfig": rke_config},
        }))
        .expect("a prov cluster deserialises")
    }

    #[test]
    fn of_the_rke_config_only_its_presence_and_the_registry_are_kept() {
        let prov = prov_with(json!({
            "machinePools": [{"name": "pool", "quantity": 3, "dynamicSchemaSpec": "{}"}],
            "machineGlobalConfig": {"cni": "calico", "system-default-registry": "reg.example.com"},
            "chartValues": {"rke2-calico": {}},
            "upgradeStrategy": {"workerConcurrency": "10%"},
        }));
        assert_eq!(
            prov.spec.rke_config,
            Some(json!({"machineGlobalConfig": {"system-default-registry": "reg.example.com"}}))
        );
        assert_eq!(prov.system_default_registry(), Some("reg.example.com"));

        let prov = prov_with(json!({"machinePools": [], "machineGlobalConfig": {"cni": "calico"}}));
        assert_eq!(prov.spec.rke_config, Some(json!({})));
        assert_eq!(prov.system_default_registry(), None);
    }

    #[test]
    fn a_null_or_missing_rke_config_stays_absent() {
        assert_eq!(prov_with(serde_json::Value::Null).spec.rke_config, None);
        let prov: ProvCluster = serde_json::from_value(json!({
            "apiVersion": "provisioning.cattle.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "imported", "namespace": "fleet-default"},
            "spec": {},
        }))
        .expect("a prov cluster deserialises");
        assert_eq!(prov.spec.rke_config, None);
    }
}
