//! Tests of the cluster pairing, by concern: the mgmt name of a prov cluster, which objects are
//! whose, the desired mgmt cluster and legacy prov cluster, workspaces, and finalizers.

use super::*;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector, Toleration};
use serde_json::json;

use crate::api::{AgentDeploymentCustomization, ImportedConfig, MgmtClusterStatus};
use crate::api::{Condition, PodDisruptionBudgetSpec, WebhookDeploymentCustomization};
use crate::fixtures::{MGMT_UID, PROV_UID, mgmt, prov, rancher_marks, string_map};

fn tolerating(key: &str) -> Box<AgentDeploymentCustomization> {
    Box::new(AgentDeploymentCustomization {
        append_tolerations: Some(vec![Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            ..Toleration::default()
        }]),
        ..AgentDeploymentCustomization::default()
    })
}

/// A webhook customization with Rancher's webhook-only fields set: replicas and a budget.
fn webhook(key: &str) -> Box<WebhookDeploymentCustomization> {
    Box::new(WebhookDeploymentCustomization {
        replica_count: Some(3),
        append_tolerations: tolerating(key).append_tolerations,
        pod_disruption_budget: Some(PodDisruptionBudgetSpec {
            min_available: None,
            max_unavailable: Some("1".into()),
        }),
        ..WebhookDeploymentCustomization::default()
    })
}

fn prov_env(name: &str, value: &str) -> RkeEnvVar {
    RkeEnvVar {
        name: name.into(),
        value: Some(value.into()),
    }
}

fn mgmt_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A mgmt cluster as a Rancher installation stores it: many spec and status fields drover does
/// not model.
fn upstream_mgmt_cluster() -> MgmtCluster {
    serde_json::from_value(json!({
        "apiVersion": "management.cattle.io/v3",
        "kind": "Cluster",
        "metadata": {
            "name": "c-m-abcdefgh",
            "uid": MGMT_UID,
            "resourceVersion": "48213",
            "generation": 12,
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "finalizers": ["wrangler.cattle.io/mgmt-cluster-remove"],
            "labels": {"provider.cattle.io": "rke2"},
            "annotations": {
                "objectset.rio.cattle.io/owner-gvk": "provisioning.cattle.io/v1, Kind=Cluster",
                "objectset.rio.cattle.io/owner-name": "prod",
                "objectset.rio.cattle.io/owner-namespace": "fleet-default",
                "authz.management.cattle.io/creator-role-bindings": "{\"created\":[\"cluster-owner\"]}",
                "lifecycle.cattle.io/create.cluster-agent-controller-cleanup": "true"
            },
            "managedFields": [{"manager": "rancher", "operation": "Update", "apiVersion": "management.cattle.io/v3"}]
        },
        "spec": {
            "displayName": "Production",
            "description": "",
            "internal": false,
            "fleetWorkspaceName": "fleet-default",
            "agentImageOverride": "",
            "answers": {},
            "clusterSecrets": {},
            "desiredAgentImage": "",
            "desiredAuthImage": "",
            "dockerRootDir": "/var/lib/docker",
            "enableNetworkPolicy": false,
            "localClusterAuthEndpoint": {"enabled": false},
            "windowsPreferedCluster": false,
            "importedConfig": {"privateRegistryURL": "registry.example.com", "kubeConfig": ""}
        },
        "status": {
            "agentImage": "rancher/rancher-agent:v2.9.2",
            "apiEndpoint": "https://10.0.0.1:6443",
            "caCert": "LS0tLS1CRUdJTi0tLS0t",
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "connected": true,
            "driver": "imported",
            "provider": "rke2",
            "serviceAccountTokenSecret": "cluster-serviceaccounttoken-x2k9p",
            "version": {"gitVersion": "v1.30.4+rke2r1"},
            "conditions": [
                {"type": "Ready", "status": "True", "lastUpdateTime": "2024-05-01T10:05:00Z"},
                {"type": "Connected", "status": "True"}
            ]
        }
    }))
    .expect("an upstream mgmt cluster deserialises")
}

mod applied_finalizers;
mod claims;
mod legacy_prov;
mod mgmt_cluster;
mod naming;
mod workspaces;
