//! The Fleet objects drover builds fit Fleet's own CRD schema (`clusters.fleet.cattle.io`,
//! `clustergroups.fleet.cattle.io`). Fleet's CRDs are not part of this repository: set
//! `DROVER_FLEET_CRDS` to the `crds.yaml` of Fleet's `fleet-crd` chart (the integration tests'
//! Fleet build puts it beside the binaries as `fleet-crds.yaml`); without it these tests pass
//! without checking anything. The integration tests apply the same objects to a real API server
//! that serves Fleet's CRDs.

use k8s_openapi::api::core::v1::Node;
use serde::Deserialize as _;
use serde_json::{Value, json};

use drover::api::{MgmtCluster, ProvCluster};
use drover::mapping::fleet::{FleetSettings, desired_fleet_cluster, desired_local_cluster_group};

/// The `openAPIV3Schema` of the named CRD in `$DROVER_FLEET_CRDS`, or `None` when it is unset.
fn fleet_schema(crd_name: &str) -> Option<Value> {
    let path = std::env::var_os("DROVER_FLEET_CRDS")?;
    let text = std::fs::read_to_string(&path).expect("reading $DROVER_FLEET_CRDS");
    let crd = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_json::to_value(serde_yaml::Value::deserialize(doc).expect("yaml")))
        .collect::<Result<Vec<_>, _>>()
        .expect("json")
        .into_iter()
        .find(|d| d["metadata"]["name"] == crd_name)
        .unwrap_or_else(|| panic!("{crd_name} is not in $DROVER_FLEET_CRDS"));
    let version = crd["spec"]["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["storage"] == true))
        .expect("a storage version");
    Some(version["schema"]["openAPIV3Schema"].clone())
}

/// Checks `value` against a structural schema as the API server's server-side apply does for
/// types, required fields and fields the schema does not declare (patterns are not checked).
/// Returns every mismatch with its JSON path.
fn mismatches(value: &Value, schema: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    check(value, schema, path, &mut out);
    out
}

fn check(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() {
        if schema["nullable"] != true {
            out.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(format!(
                "{path}: expected an integer or a string, got {value}"
            ));
        }
        return;
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(object) = value.as_object() else {
                out.push(format!("{path}: expected an object, got {value}"));
                return;
            };
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    out.push(format!("{path}: required field {name} is missing"));
                }
            }
            let keeps_unknown = schema["x-kubernetes-preserve-unknown-fields"] == true;
            for (name, field) in object {
                let field_path = format!("{path}.{name}");
                if let Some(property) = schema["properties"].get(name) {
                    check(field, property, &field_path, out);
                } else if let Some(extra) = schema.get("additionalProperties") {
                    check(field, extra, &field_path, out);
                } else if !keeps_unknown {
                    out.push(format!("{field_path}: not declared in the schema"));
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                out.push(format!("{path}: expected an array, got {value}"));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                check(item, &schema["items"], &format!("{path}[{i}]"), out);
            }
        }
        Some("string") if !value.is_string() => {
            out.push(format!("{path}: expected a string, got {value}"));
        }
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            out.push(format!("{path}: expected an integer, got {value}"));
        }
        Some("boolean") if !value.is_boolean() => {
            out.push(format!("{path}: expected a boolean, got {value}"));
        }
        Some("number") if !value.is_number() => {
            out.push(format!("{path}: expected a number, got {value}"));
        }
        _ => {}
    }
}

/// The local cluster with every field drover writes on its Fleet cluster set: env vars (one
/// from a field), fleet-agent tolerations, affinity, resources and scheduling, a registry with
/// pull secrets, and a tainted control-plane node.
fn local_inputs() -> (ProvCluster, MgmtCluster, Node) {
    let prov: ProvCluster = serde_json::from_value(json!({
        "apiVersion": "provisioning.cattle.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "local", "namespace": "fleet-local", "uid": "prov-uid"},
        "spec": {
            "rkeConfig": {"machineGlobalConfig": {"system-default-registry": "registry.example.com"}},
            "fleetAgentDeploymentCustomization": {"schedulingCustomization": {
                "priorityClass": {"value": 1000, "preemptionPolicy": "PreemptLowerPriority"},
                "podDisruptionBudget": {"maxUnavailable": "1"}
            }}
        },
        "status": {"clusterName": "local", "clientSecretName": "local-kubeconfig", "ready": true}
    }))
    .expect("prov cluster");
    let mgmt: MgmtCluster = serde_json::from_value(json!({
        "apiVersion": "management.cattle.io/v3",
        "kind": "Cluster",
        "metadata": {"name": "local", "uid": "mgmt-uid", "labels": {"env": "prod"}},
        "spec": {
            "displayName": "local",
            "internal": true,
            "fleetWorkspaceName": "fleet-local",
            "agentEnvVars": [
                {"name": "HTTP_PROXY", "value": "http://proxy:3128"},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
            ],
            "fleetAgentDeploymentCustomization": {
                "appendTolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "overrideAffinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "role", "operator": "In", "values": ["infra"]}
                    ]}]
                }}},
                "overrideResourceRequirements": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"memory": "256Mi"}
                }
            },
            "importedConfig": {
                "privateRegistryURL": "registry.example.com",
                "privateRegistryPullSecrets": ["regcred"]
            }
        },
        "status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Connected", "status": "True"}
        ]}
    }))
    .expect("mgmt cluster");
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": "true"}},
        "spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "infra", "effect": "NoExecute"}
        ]}
    }))
    .expect("node");
    (prov, mgmt, node)
}

fn settings() -> FleetSettings {
    FleetSettings {
        default_registry: None,
        agent_affinity_label: "fleet.cattle.io/agent".into(),
    }
}

#[test]
fn the_fleet_cluster_drover_builds_fits_fleets_crd() {
    let Some(schema) = fleet_schema("clusters.fleet.cattle.io") else {
        eprintln!("DROVER_FLEET_CRDS is not set: nothing checked");
        return;
    };
    let (prov, mgmt, node) = local_inputs();
    let fleet = desired_fleet_cluster(&prov, &mgmt, &[&node], &settings(), None);
    let spec = serde_json::to_value(&fleet.spec).expect("json");
    for field in [
        "agentEnvVars",
        "agentNamespace",
        "agentTolerations",
        "agentAffinity",
        "agentResources",
        "agentSchedulingCustomization",
        "privateRepoURL",
        "agentPullSecrets",
        "kubeConfigSecret",
        "kubeConfigSecretNamespace",
    ] {
        assert!(
            spec.get(field).is_some(),
            "{field} is not exercised: {spec}"
        );
    }
    assert_eq!(spec["agentPullSecrets"], json!([{"name": "regcred"}]));
    let problems = mismatches(&spec, &schema["properties"]["spec"], "spec");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_downstream_fleet_cluster_with_nothing_customized_fits_fleets_crd() {
    let Some(schema) = fleet_schema("clusters.fleet.cattle.io") else {
        eprintln!("DROVER_FLEET_CRDS is not set: nothing checked");
        return;
    };
    let (mut prov, mut mgmt, _) = local_inputs();
    prov.metadata.name = Some("prod".into());
    prov.metadata.namespace = Some("fleet-default".into());
    prov.spec = Default::default();
    mgmt.metadata.name = Some("c-m-abcdefgh".into());
    mgmt.spec = serde_json::from_value(json!({
        "displayName": "prod", "fleetWorkspaceName": "fleet-default"
    }))
    .expect("mgmt spec");
    let fleet = desired_fleet_cluster(&prov, &mgmt, &[], &settings(), None);
    let spec = serde_json::to_value(&fleet.spec).expect("json");
    assert_eq!(spec["agentPullSecrets"], json!([]));
    let problems = mismatches(&spec, &schema["properties"]["spec"], "spec");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn pull_secrets_as_plain_names_do_not_fit_fleets_crd() {
    // The shape drover used to write; the check must catch it.
    let Some(schema) = fleet_schema("clusters.fleet.cattle.io") else {
        eprintln!("DROVER_FLEET_CRDS is not set: nothing checked");
        return;
    };
    let problems = mismatches(
        &json!({"agentPullSecrets": ["regcred"]}),
        &schema["properties"]["spec"],
        "spec",
    );
    assert_eq!(
        problems,
        ["spec.agentPullSecrets[0]: expected an object, got \"regcred\""]
    );
}

#[test]
fn the_local_cluster_group_fits_fleets_crd() {
    let Some(schema) = fleet_schema("clustergroups.fleet.cattle.io") else {
        eprintln!("DROVER_FLEET_CRDS is not set: nothing checked");
        return;
    };
    let (prov, _, _) = local_inputs();
    let group = desired_local_cluster_group("fleet-local", &prov, None);
    let spec = serde_json::to_value(&group.spec).expect("json");
    assert_eq!(
        spec,
        json!({"selector": {"matchLabels": {"name": "local"}}})
    );
    let problems = mismatches(&spec, &schema["properties"]["spec"], "spec");
    assert!(problems.is_empty(), "{problems:#?}");
}
