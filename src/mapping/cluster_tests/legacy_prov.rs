//! The prov cluster drover wants for a legacy mgmt cluster.

use super::*;

// desired_legacy_prov_cluster

#[test]
fn a_legacy_mgmt_clusters_prov_cluster_is_named_after_it_in_the_given_workspace() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let desired = desired_legacy_prov_cluster(&m, "team-a", None);
    assert_eq!(desired.metadata.name.as_deref(), Some("c-ab12c"));
    assert_eq!(desired.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(desired.status, None);
}

#[test]
fn a_legacy_prov_cluster_carries_the_mgmt_labels_and_annotations_export_cleaned() {
    let mut m = mgmt("c-ab12c").in_workspace("fleet-default");
    m.metadata.labels = Some(string_map(&[
        ("env", "prod"),
        // No `cattle.io/` in the key: kept, as Rancher keeps it.
        ("provider.cattle.io", "k3s"),
        ("cattle.io/creator", "norman"),
        ("management.cattle.io/cluster-name", "c-ab12c"),
    ]));
    m.metadata.annotations = Some(string_map(&[
        ("team", "a"),
        ("field.cattle.io/creatorId", "u-abc"),
        ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        (annotations::OWNER_NAME, "someone"),
    ]));
    m.spec.display_name = Some("Edge Store 12".into());
    let desired = desired_legacy_prov_cluster(&m, "fleet-default", None);

    assert_eq!(
        desired.metadata.labels,
        Some(string_map(&[
            ("env", "prod"),
            ("provider.cattle.io", "k3s")
        ]))
    );
    assert_eq!(
        desired.metadata.annotations,
        Some(string_map(&[
            ("team", "a"),
            (
                annotations::MANAGEMENT_CLUSTER_DISPLAY_NAME,
                "Edge Store 12"
            ),
            (
                annotations::OWNER_GVK,
                "management.cattle.io/v3, Kind=Cluster"
            ),
            (annotations::OWNER_NAME, "c-ab12c"),
            (annotations::OWNER_NAMESPACE, ""),
            (annotations::OWNER_UID, MGMT_UID),
        ]))
    );
}

#[test]
fn a_legacy_prov_cluster_whose_mgmt_labels_are_all_cleaned_away_has_no_labels() {
    let mut m = mgmt("c-ab12c").in_workspace("fleet-default");
    m.metadata.labels = Some(string_map(&[
        ("cattle.io/creator", "norman"),
        ("kubectl.kubernetes.io/default-container", "agent"),
    ]));
    assert_eq!(
        desired_legacy_prov_cluster(&m, "fleet-default", None)
            .metadata
            .labels,
        None
    );
}

#[test]
fn a_legacy_prov_cluster_of_a_mgmt_cluster_without_display_name_has_an_empty_display_name() {
    let m = mgmt("c-ab12c").in_workspace("fleet-default");
    let annotations_out = desired_legacy_prov_cluster(&m, "fleet-default", None)
        .metadata
        .annotations
        .expect("annotations");
    assert_eq!(
        annotations_out[annotations::MANAGEMENT_CLUSTER_DISPLAY_NAME],
        ""
    );
}

#[test]
fn a_legacy_prov_cluster_copies_the_customizations_and_has_no_rke_config() {
    let mut m = mgmt("c-ab12c").in_workspace("fleet-default");
    m.spec = MgmtClusterSpec {
        agent_env_vars: Some(vec![mgmt_env("HTTPS_PROXY", "http://proxy:3128")]),
        cluster_agent_deployment_customization: Some(tolerating("cluster-agent")),
        fleet_agent_deployment_customization: Some(tolerating("fleet-agent")),
        webhook_deployment_customization: Some(webhook("webhook")),
        imported_config: Some(ImportedConfig {
            private_registry_url: Some("registry.example.com".into()),
            private_registry_pull_secrets: Some(vec!["pull".into()]),
        }),
        ..m.spec
    };
    assert_eq!(
        desired_legacy_prov_cluster(&m, "fleet-default", None).spec,
        ProvClusterSpec {
            kubernetes_version: None,
            rke_config: None,
            agent_env_vars: Some(vec![prov_env("HTTPS_PROXY", "http://proxy:3128")]),
            cluster_agent_deployment_customization: Some(tolerating("cluster-agent")),
            fleet_agent_deployment_customization: Some(tolerating("fleet-agent")),
            webhook_deployment_customization: Some(webhook("webhook")),
        }
    );
}

/// Rancher's webhook customization as a user writes it, every field set.
fn webhook_json() -> serde_json::Value {
    json!({
        "replicaCount": 3,
        "appendTolerations": [{"key": "webhook", "operator": "Exists", "effect": "NoSchedule"}],
        "overrideAffinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "role", "operator": "In", "values": ["infra"]}
            ]}]
        }}},
        "overrideResourceRequirements": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "podDisruptionBudget": {"minAvailable": "50%"}
    })
}

#[test]
fn every_webhook_customization_field_survives_the_copy_to_the_mgmt_cluster() {
    let p: ProvCluster = serde_json::from_value(json!({
        "apiVersion": "provisioning.cattle.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "prod", "namespace": "fleet-default", "uid": PROV_UID},
        "spec": {"webhookDeploymentCustomization": webhook_json()}
    }))
    .expect("prov cluster");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    let spec = serde_json::to_value(&desired.spec).expect("json");
    assert_eq!(spec["webhookDeploymentCustomization"], webhook_json());
}

#[test]
fn an_imported_prov_cluster_fills_a_missing_mgmt_webhook_customization_whole() {
    let mut p = prov("fleet-default", "prod");
    p.spec.webhook_deployment_customization = Some(webhook("prov-webhook"));
    let existing = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    let spec = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing)).spec;
    let copied = spec.webhook_deployment_customization.expect("copied");
    assert_eq!(copied.replica_count, Some(3));
    assert_eq!(
        copied.pod_disruption_budget.and_then(|b| b.max_unavailable),
        Some("1".into())
    );
}

#[test]
fn every_webhook_customization_field_survives_the_copy_to_a_legacy_prov_cluster() {
    let m: MgmtCluster = serde_json::from_value(json!({
        "apiVersion": "management.cattle.io/v3",
        "kind": "Cluster",
        "metadata": {"name": "c-ab12c", "uid": MGMT_UID},
        "spec": {
            "displayName": "legacy",
            "fleetWorkspaceName": "fleet-default",
            "webhookDeploymentCustomization": webhook_json()
        }
    }))
    .expect("mgmt cluster");
    let desired = desired_legacy_prov_cluster(&m, "fleet-default", None);
    let spec = serde_json::to_value(&desired.spec).expect("json");
    assert_eq!(spec["webhookDeploymentCustomization"], webhook_json());
}

#[test]
fn prov_env_vars_become_kubernetes_env_vars_on_the_mgmt_cluster() {
    let mut p = prov("fleet-default", "prod");
    p.spec.agent_env_vars = Some(vec![
        prov_env("HTTP_PROXY", "http://proxy:3128"),
        RkeEnvVar {
            name: "EMPTY".into(),
            value: None,
        },
    ]);
    let spec =
        serde_json::to_value(desired_mgmt_cluster(&p, "c-m-abcdefgh", None).spec).expect("json");
    assert_eq!(
        spec["agentEnvVars"],
        json!([{"name": "HTTP_PROXY", "value": "http://proxy:3128"}, {"name": "EMPTY"}])
    );
}

#[test]
fn a_mgmt_env_var_from_a_secret_keeps_only_its_name_on_the_legacy_prov_cluster() {
    // Rancher's prov type has no valueFrom; the prov copy of a legacy cluster is for display.
    let mut m = mgmt("c-ab12c").in_workspace("fleet-default");
    m.spec.agent_env_vars = Some(vec![
        mgmt_env("A", "1"),
        EnvVar {
            name: "TOKEN".into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "agent".into(),
                    key: "token".into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
        },
    ]);
    let spec = desired_legacy_prov_cluster(&m, "fleet-default", None).spec;
    assert_eq!(
        spec.agent_env_vars,
        Some(vec![
            prov_env("A", "1"),
            RkeEnvVar {
                name: "TOKEN".into(),
                value: None,
            },
        ])
    );
}

#[test]
fn a_prov_env_var_without_a_name_is_read_as_rancher_allows_it() {
    let p: ProvCluster = serde_json::from_value(json!({
        "metadata": {"name": "prod", "namespace": "fleet-default"},
        "spec": {"agentEnvVars": [{"value": "x"}]}
    }))
    .expect("Rancher's schema does not require a name");
    assert_eq!(
        p.spec.agent_env_vars,
        Some(vec![RkeEnvVar {
            name: String::new(),
            value: Some("x".into()),
        }])
    );
}

#[test]
fn edits_on_the_mgmt_side_flow_to_the_legacy_prov_cluster() {
    let mut m = mgmt("c-ab12c").in_workspace("fleet-default");
    m.spec.fleet_agent_deployment_customization = Some(tolerating("new"));
    let existing = ProvCluster {
        spec: ProvClusterSpec {
            fleet_agent_deployment_customization: Some(tolerating("old")),
            agent_env_vars: Some(vec![prov_env("OLD", "1")]),
            ..ProvClusterSpec::default()
        },
        ..prov("fleet-default", "c-ab12c")
    };
    let desired = desired_legacy_prov_cluster(&m, "fleet-default", Some(&existing));
    assert_eq!(
        desired.spec.fleet_agent_deployment_customization,
        Some(tolerating("new"))
    );
    assert_eq!(desired.spec.agent_env_vars, None);
}

#[test]
fn a_legacy_prov_cluster_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let m = mgmt("c-ab12c").in_workspace("fleet-default");
    let mut existing = prov("fleet-default", "c-ab12c");
    existing.metadata.annotations = Some(rancher_marks(&m));
    let annotations_out = desired_legacy_prov_cluster(&m, "fleet-default", Some(&existing))
        .metadata
        .annotations
        .expect("annotations");
    assert!(!annotations_out.contains_key(annotations::OWNER_UID));
    assert_eq!(annotations_out[annotations::OWNER_NAME], "c-ab12c");
}

#[test]
fn a_legacy_prov_cluster_serialises_without_rke_config_or_status() {
    let m = upstream_mgmt_cluster();
    let value = serde_json::to_value(desired_legacy_prov_cluster(&m, "fleet-default", None))
        .expect("serialises");
    assert!(value.get("status").is_none(), "{value}");
    assert!(value["spec"].get("rkeConfig").is_none(), "{value}");
    assert_eq!(value["spec"], json!({}), "{value}");
}
