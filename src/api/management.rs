use k8s_openapi::api::core::v1::EnvVar;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgentDeploymentCustomization, Condition, WebhookDeploymentCustomization};

/// `clusters.management.cattle.io`: Rancher's cluster record. Cluster-scoped. Rancher registers
/// it without a schema and real objects carry hundreds of fields drover neither models nor may
/// drop; drover's CRD copy is schema-less too (see [`crate::crds`]).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "management.cattle.io",
    version = "v3",
    kind = "Cluster",
    root = "MgmtCluster",
    status = "MgmtClusterStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct MgmtClusterSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// True only for the cluster drover runs in (`local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_workspace_name: Option<String>,
    /// Kubernetes' `EnvVar` on mgmt clusters (a `valueFrom` is possible), unlike prov clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_env_vars: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_agent_deployment_customization: Option<Box<AgentDeploymentCustomization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_agent_deployment_customization: Option<Box<AgentDeploymentCustomization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_deployment_customization: Option<Box<WebhookDeploymentCustomization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_config: Option<ImportedConfig>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedConfig {
    #[serde(
        default,
        rename = "privateRegistryURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_registry_url: Option<String>,
    /// Names of pull secrets for the private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_registry_pull_secrets: Option<Vec<String>>,
}

/// Written by cluster agents and Rancher; drover only reads it (and bootstraps `local`, §C9).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// The condition types drover reads on a mgmt cluster: whether each is present and `True`
/// (`Ready` for the Fleet cluster and the local bootstrap, `Connected` and `AgentDeployed` for the
/// prov status).
pub const READ_CONDITIONS: [&str; 3] = [
    crate::consts::conditions::READY,
    crate::consts::conditions::CONNECTED,
    crate::consts::conditions::AGENT_DEPLOYED,
];

impl MgmtCluster {
    /// What the cache keeps of the status: of the conditions (19 on a Rancher-managed cluster)
    /// only the types drover reads, each with its type and status. A present list stays present
    /// (if empty), so that the local bootstrap still appends to it rather than setting it. Only
    /// for the cache: nothing is written from what this leaves; the local bootstrap patch adds
    /// to the list and never sends the list back.
    pub fn keep_read_conditions(&mut self) {
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            let kept: Vec<Condition> = conditions
                .iter()
                .filter(|c| READ_CONDITIONS.contains(&c.type_.as_str()))
                .map(|c| Condition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    ..Condition::default()
                })
                .collect();
            *conditions = kept;
        }
    }

    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }

    /// `spec.fleetWorkspaceName` when non-empty.
    pub fn workspace(&self) -> Option<&str> {
        self.spec
            .fleet_workspace_name
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    pub fn is_internal(&self) -> bool {
        self.spec.internal == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: Some("R".into()),
            message: Some("a long message".into()),
            last_update_time: Some("2026-01-01T00:00:00Z".into()),
            ..Condition::default()
        }
    }

    #[test]
    fn the_cache_keeps_the_type_and_status_of_the_conditions_drover_reads() {
        let mut mgmt = MgmtCluster::new("c-1", MgmtClusterSpec::default());
        mgmt.status = Some(MgmtClusterStatus {
            conditions: Some(vec![
                condition("Pending", "False"),
                condition("Ready", "True"),
                condition("Provisioned", "True"),
                condition("Connected", "False"),
                condition("AgentDeployed", "True"),
            ]),
        });
        mgmt.keep_read_conditions();
        let kept: Vec<(&str, &str)> = mgmt
            .conditions()
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("Ready", "True"),
                ("Connected", "False"),
                ("AgentDeployed", "True")
            ]
        );
        assert!(mgmt.conditions().iter().all(|c| c.message.is_none()));
    }

    #[test]
    fn a_present_list_stays_present_and_an_absent_one_absent() {
        let mut mgmt = MgmtCluster::new("c-1", MgmtClusterSpec::default());
        mgmt.status = Some(MgmtClusterStatus {
            conditions: Some(vec![condition("Provisioned", "True")]),
        });
        mgmt.keep_read_conditions();
        assert_eq!(
            mgmt.status.as_ref().and_then(|s| s.conditions.as_deref()),
            Some(&[][..])
        );
        let mut bare = MgmtCluster::new("c-2", MgmtClusterSpec::default());
        bare.status = Some(MgmtClusterStatus { conditions: None });
        bare.keep_read_conditions();
        assert_eq!(bare.status, Some(MgmtClusterStatus { conditions: None }));
    }
}
