//! The mgmt cluster drover wants for a prov cluster.

use super::*;

// desired_mgmt_cluster

#[test]
fn a_prov_clusters_mgmt_cluster_carries_its_name_labels_annotations_and_marks() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.labels = Some(string_map(&[("env", "prod")]));
    p.metadata.annotations = Some(string_map(&[
        ("team", "a"),
        (annotations::DESCRIPTION, "the production cluster"),
    ]));
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);

    assert_eq!(desired.metadata.name.as_deref(), Some("c-m-abcdefgh"));
    assert_eq!(desired.metadata.namespace, None);
    assert_eq!(
        desired.metadata.labels,
        Some(string_map(&[("env", "prod")]))
    );
    assert_eq!(
        desired.metadata.annotations,
        Some(string_map(&[
            ("team", "a"),
            (annotations::DESCRIPTION, "the production cluster"),
            (annotations::ADMINISTRATED, "false"),
            (
                annotations::OWNER_GVK,
                "provisioning.cattle.io/v1, Kind=Cluster"
            ),
            (annotations::OWNER_NAME, "prod"),
            (annotations::OWNER_NAMESPACE, "fleet-default"),
            (annotations::OWNER_UID, PROV_UID),
        ]))
    );
    assert_eq!(desired.status, None);
}

#[test]
fn a_prov_cluster_without_labels_gives_a_mgmt_cluster_without_labels() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.labels = Some(BTreeMap::new());
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", None)
            .metadata
            .labels,
        None
    );
}

#[test]
fn the_mgmt_spec_copies_name_description_and_customizations_from_the_prov_cluster() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(
        annotations::DESCRIPTION,
        "the production cluster",
    )]));
    p.spec = ProvClusterSpec {
        agent_env_vars: Some(vec![prov_env("HTTP_PROXY", "http://proxy:3128")]),
        cluster_agent_deployment_customization: Some(tolerating("cluster-agent")),
        fleet_agent_deployment_customization: Some(tolerating("fleet-agent")),
        webhook_deployment_customization: Some(webhook("webhook")),
        ..ProvClusterSpec::default()
    };
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", None).spec,
        MgmtClusterSpec {
            display_name: Some("prod".into()),
            description: Some("the production cluster".into()),
            internal: Some(false),
            fleet_workspace_name: Some("fleet-default".into()),
            agent_env_vars: Some(vec![mgmt_env("HTTP_PROXY", "http://proxy:3128")]),
            cluster_agent_deployment_customization: Some(tolerating("cluster-agent")),
            fleet_agent_deployment_customization: Some(tolerating("fleet-agent")),
            webhook_deployment_customization: Some(webhook("webhook")),
            imported_config: None,
        }
    );
}

#[test]
fn a_prov_cluster_without_a_description_gives_a_mgmt_cluster_without_one() {
    let p = prov("fleet-default", "prod");
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", None)
            .spec
            .description,
        None
    );
}

#[test]
fn a_provisioned_prov_cluster_makes_its_mgmt_cluster_administrated() {
    let mut p = prov("fleet-default", "prod");
    p.spec.rke_config = Some(json!({}));
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    assert_eq!(
        desired.metadata.annotations.expect("annotations")[annotations::ADMINISTRATED],
        "true"
    );
}

#[test]
fn an_imported_prov_cluster_makes_its_mgmt_cluster_not_administrated() {
    let p = prov("fleet-default", "prod");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    assert_eq!(
        desired.metadata.annotations.expect("annotations")[annotations::ADMINISTRATED],
        "false"
    );
}

#[test]
fn the_administrated_annotation_is_drovers_whatever_the_prov_cluster_says() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::ADMINISTRATED, "true")]));
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    assert_eq!(
        desired.metadata.annotations.expect("annotations")[annotations::ADMINISTRATED],
        "false"
    );
}

#[test]
fn the_workspace_annotation_wins_over_the_mgmt_value_and_the_prov_namespace() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::FLEET_WORKSPACE_NAME, "team-a")]));
    let existing = mgmt("c-m-abcdefgh").in_workspace("team-b");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing));
    assert_eq!(desired.spec.fleet_workspace_name.as_deref(), Some("team-a"));
}

#[test]
fn a_move_done_on_the_mgmt_side_sticks() {
    let mut p = prov("fleet-default", "prod");
    p.spec.rke_config = Some(json!({}));
    let existing = mgmt("c-m-abcdefgh").in_workspace("team-b");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing));
    assert_eq!(desired.spec.fleet_workspace_name.as_deref(), Some("team-b"));
}

#[test]
fn without_annotation_or_mgmt_value_the_workspace_is_the_prov_namespace() {
    let p = prov("team-c", "prod");
    for existing in [
        None,
        Some(mgmt("c-m-abcdefgh")),
        Some(mgmt("c-m-abcdefgh").in_workspace("")),
    ] {
        let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", existing.as_ref());
        assert_eq!(desired.spec.fleet_workspace_name.as_deref(), Some("team-c"));
    }
}

#[test]
fn an_empty_workspace_annotation_is_ignored() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::FLEET_WORKSPACE_NAME, "")]));
    let existing = mgmt("c-m-abcdefgh").in_workspace("team-b");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing));
    assert_eq!(desired.spec.fleet_workspace_name.as_deref(), Some("team-b"));
}

#[test]
fn a_provisioned_prov_cluster_is_the_source_of_truth_for_an_existing_mgmt_cluster() {
    let mut p = prov("fleet-default", "prod");
    p.spec.rke_config = Some(json!({"machineGlobalConfig": {}}));
    p.spec.fleet_agent_deployment_customization = Some(tolerating("from-prov"));
    let mut existing = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    existing.spec.display_name = Some("renamed on the mgmt side".into());
    existing.spec.description = Some("old".into());
    existing.spec.fleet_agent_deployment_customization = Some(tolerating("from-mgmt"));
    existing.spec.agent_env_vars = Some(vec![mgmt_env("A", "1")]);

    let spec = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing)).spec;
    assert_eq!(spec.display_name.as_deref(), Some("prod"));
    assert_eq!(spec.description, None);
    assert_eq!(spec.agent_env_vars, None);
    assert_eq!(
        spec.fleet_agent_deployment_customization,
        Some(tolerating("from-prov"))
    );
}

#[test]
fn an_imported_prov_cluster_keeps_the_mgmt_values_and_fills_only_missing_ones() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::DESCRIPTION, "from prov")]));
    p.spec = ProvClusterSpec {
        agent_env_vars: Some(vec![prov_env("FROM", "prov")]),
        cluster_agent_deployment_customization: Some(tolerating("prov-cluster-agent")),
        fleet_agent_deployment_customization: Some(tolerating("prov-fleet-agent")),
        webhook_deployment_customization: Some(webhook("prov-webhook")),
        ..ProvClusterSpec::default()
    };
    let existing = MgmtCluster {
        spec: MgmtClusterSpec {
            display_name: Some("Imported Prod".into()),
            description: None,
            internal: None,
            fleet_workspace_name: Some("team-b".into()),
            agent_env_vars: Some(vec![mgmt_env("FROM", "mgmt")]),
            cluster_agent_deployment_customization: None,
            fleet_agent_deployment_customization: Some(tolerating("mgmt-fleet-agent")),
            webhook_deployment_customization: None,
            imported_config: Some(ImportedConfig {
                private_registry_url: Some("registry.example.com".into()),
                private_registry_pull_secrets: None,
            }),
        },
        ..mgmt("c-m-abcdefgh")
    };
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing)).spec,
        MgmtClusterSpec {
            display_name: Some("Imported Prod".into()),
            description: Some("from prov".into()),
            internal: Some(false),
            fleet_workspace_name: Some("team-b".into()),
            agent_env_vars: Some(vec![mgmt_env("FROM", "mgmt")]),
            cluster_agent_deployment_customization: Some(tolerating("prov-cluster-agent")),
            fleet_agent_deployment_customization: Some(tolerating("mgmt-fleet-agent")),
            webhook_deployment_customization: Some(webhook("prov-webhook")),
            // Not drover's field: never part of a desired mgmt cluster.
            imported_config: None,
        }
    );
}

#[test]
fn an_imported_prov_cluster_still_moves_its_mgmt_cluster_by_annotation() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::FLEET_WORKSPACE_NAME, "team-a")]));
    let existing = mgmt("c-m-abcdefgh").in_workspace("team-b");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing));
    assert_eq!(desired.spec.fleet_workspace_name.as_deref(), Some("team-a"));
}

#[test]
fn an_imported_prov_cluster_keeps_an_internal_mgmt_value() {
    let p = prov("fleet-default", "prod");
    let mut existing = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    existing.spec.internal = Some(true);
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing));
    assert_eq!(desired.spec.internal, Some(true));
}

#[test]
fn a_mgmt_cluster_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let p = prov("fleet-default", "prod");
    let existing = mgmt("c-m-abcdefgh")
        .in_workspace("fleet-default")
        .with_annotations(rancher_marks(&p));
    let annotations_out = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
        .metadata
        .annotations
        .expect("annotations");
    assert!(!annotations_out.contains_key(annotations::OWNER_UID));
    assert_eq!(annotations_out[annotations::OWNER_NAME], "prod");
}

#[test]
fn a_mgmt_cluster_drover_created_keeps_its_uid_mark() {
    let p = prov("fleet-default", "prod");
    let existing = mgmt("c-m-abcdefgh")
        .in_workspace("fleet-default")
        .with_annotations(OwnerMarks::of(&p).annotations());
    let annotations_out = desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
        .metadata
        .annotations
        .expect("annotations");
    assert_eq!(annotations_out[annotations::OWNER_UID], PROV_UID);
}

#[test]
fn a_desired_mgmt_cluster_serialises_without_any_field_drover_does_not_own() {
    let mut provisioned = prov("fleet-default", "prod");
    provisioned.spec.rke_config = Some(json!({"machineGlobalConfig": {"cni": "calico"}}));
    let imported = prov("fleet-default", "prod");
    let existing = upstream_mgmt_cluster();

    for p in [provisioned, imported] {
        let value = serde_json::to_value(desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing)))
            .expect("serialises");
        let object = value.as_object().expect("an object");
        let mut top: Vec<&str> = object.keys().map(String::as_str).collect();
        top.sort_unstable();
        assert_eq!(top, ["apiVersion", "kind", "metadata", "spec"], "{value}");

        let mut metadata: Vec<&str> = value["metadata"]
            .as_object()
            .expect("metadata")
            .keys()
            .map(String::as_str)
            .collect();
        metadata.sort_unstable();
        // drover's own finalizer rides in the apply (a set: Rancher's finalizers stay).
        assert_eq!(metadata, ["annotations", "finalizers", "name"], "{value}");
        assert_eq!(
            value["metadata"]["finalizers"],
            json!([finalizers::MGMT_CLUSTER]),
            "{value}"
        );
        for key in [
            "authz.management.cattle.io/creator-role-bindings",
            "lifecycle.cattle.io/create.cluster-agent-controller-cleanup",
        ] {
            assert!(value["metadata"]["annotations"].get(key).is_none(), "{key}");
        }

        let owned = [
            "displayName",
            "description",
            "internal",
            "fleetWorkspaceName",
            "agentEnvVars",
            "clusterAgentDeploymentCustomization",
            "fleetAgentDeploymentCustomization",
            "webhookDeploymentCustomization",
        ];
        for key in value["spec"].as_object().expect("spec").keys() {
            assert!(
                owned.contains(&key.as_str()),
                "drover must not write spec.{key}"
            );
        }
    }
}

#[test]
fn an_upstream_mgmt_cluster_is_read_for_the_fields_drover_models() {
    let m = upstream_mgmt_cluster();
    assert_eq!(m.workspace(), Some("fleet-default"));
    assert_eq!(
        m.spec
            .imported_config
            .and_then(|c| c.private_registry_url)
            .as_deref(),
        Some("registry.example.com")
    );
    assert_eq!(
        m.status,
        Some(MgmtClusterStatus {
            conditions: Some(vec![
                Condition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_update_time: Some("2024-05-01T10:05:00Z".into()),
                    ..Condition::default()
                },
                Condition {
                    type_: "Connected".into(),
                    status: "True".into(),
                    ..Condition::default()
                },
            ])
        })
    );
}
