use super::*;

use crate::fixtures::{MGMT_UID, PROV_UID, mgmt, prov, string_map};

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector, Toleration};
use serde_json::json;

use crate::api::{AgentDeploymentCustomization, ImportedConfig, MgmtClusterStatus};
use crate::api::{
    Condition, PodDisruptionBudgetSpec, ProvClusterStatus, WebhookDeploymentCustomization,
};

fn recorded(cluster_name: &str) -> Option<ProvClusterStatus> {
    Some(ProvClusterStatus {
        cluster_name: Some(cluster_name.into()),
        ..ProvClusterStatus::default()
    })
}

/// The marks Rancher wrote on children it created: objectset keys, no UID.
fn rancher_marks_of<K: Resource<DynamicType = ()>>(owner: &K) -> BTreeMap<String, String> {
    let mut marks = OwnerMarks::of(owner).annotations();
    marks.remove(annotations::OWNER_UID);
    marks
}

fn tolerating(key: &str) -> AgentDeploymentCustomization {
    AgentDeploymentCustomization {
        append_tolerations: Some(vec![Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            ..Toleration::default()
        }]),
        ..AgentDeploymentCustomization::default()
    }
}

/// A webhook customization with Rancher's webhook-only fields set: replicas and a budget.
fn webhook(key: &str) -> WebhookDeploymentCustomization {
    WebhookDeploymentCustomization {
        replica_count: Some(3),
        append_tolerations: tolerating(key).append_tolerations,
        pod_disruption_budget: Some(PodDisruptionBudgetSpec {
            min_available: None,
            max_unavailable: Some("1".into()),
        }),
        ..WebhookDeploymentCustomization::default()
    }
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

// mgmt_name_for

#[test]
fn a_prov_clusters_mgmt_name_comes_from_its_uid() {
    let name = mgmt_name_for(&prov("fleet-default", "prod")).expect("a name");
    assert_eq!(name, generated_mgmt_name(PROV_UID));
    assert!(name.starts_with("c-m-"));
    assert!(!is_legacy_name(&name));
}

#[test]
fn a_prov_clusters_mgmt_name_is_stable_whatever_else_changes() {
    let before = prov("fleet-default", "prod");
    let after = ProvCluster {
        metadata: ObjectMeta {
            labels: Some(string_map(&[("env", "prod")])),
            generation: Some(7),
            ..before.metadata.clone()
        },
        spec: ProvClusterSpec {
            kubernetes_version: Some("v1.31.2+rke2r1".into()),
            ..ProvClusterSpec::default()
        },
        status: None,
    };
    assert_eq!(mgmt_name_for(&before), mgmt_name_for(&after));
}

#[test]
fn prov_clusters_with_different_uids_get_different_mgmt_names() {
    assert_ne!(
        mgmt_name_for(&prov("fleet-default", "prod").with_uid("uid-1")),
        mgmt_name_for(&prov("fleet-default", "prod").with_uid("uid-2"))
    );
}

#[test]
fn the_annotation_names_the_mgmt_cluster_before_a_name_was_recorded() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(
        annotations::MANAGEMENT_CLUSTER_NAME,
        "c-m-chosen00",
    )]));
    assert_eq!(mgmt_name_for(&p).as_deref(), Some("c-m-chosen00"));
}

#[test]
fn an_empty_annotation_leaves_the_name_to_the_uid() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(annotations::MANAGEMENT_CLUSTER_NAME, "")]));
    assert_eq!(mgmt_name_for(&p), Some(generated_mgmt_name(PROV_UID)));
}

#[test]
fn the_annotation_does_not_rename_a_cluster_whose_name_was_recorded() {
    let mut p = prov("fleet-default", "prod");
    p.metadata.annotations = Some(string_map(&[(
        annotations::MANAGEMENT_CLUSTER_NAME,
        "c-m-later000",
    )]));
    p.status = recorded("c-m-first000");
    assert_eq!(mgmt_name_for(&p).as_deref(), Some("c-m-first000"));
}

#[test]
fn a_recorded_name_wins_over_the_uid_name() {
    // A prov cluster Rancher paired with a randomly generated name keeps that pairing.
    let p = ProvCluster {
        status: recorded("c-m-rancher0"),
        ..prov("fleet-default", "prod")
    };
    assert_eq!(mgmt_name_for(&p).as_deref(), Some("c-m-rancher0"));
}

#[test]
fn an_empty_recorded_name_counts_as_not_recorded() {
    let p = ProvCluster {
        status: recorded(""),
        ..prov("fleet-default", "prod")
    };
    assert_eq!(mgmt_name_for(&p), Some(generated_mgmt_name(PROV_UID)));
}

#[test]
fn a_legacy_prov_cluster_pairs_with_its_own_name() {
    for name in ["c-ab12c", "local"] {
        let mut p = prov("fleet-default", name);
        p.metadata.annotations = Some(string_map(&[(
            annotations::MANAGEMENT_CLUSTER_NAME,
            "c-m-other000",
        )]));
        p.status = recorded("c-m-other111");
        assert_eq!(mgmt_name_for(&p).as_deref(), Some(name));
    }
}

#[test]
fn a_prov_cluster_without_a_uid_or_a_name_has_no_mgmt_name_yet() {
    let mut without_uid = prov("fleet-default", "prod");
    without_uid.metadata.uid = None;
    assert_eq!(mgmt_name_for(&without_uid), None);

    let mut without_name = prov("fleet-default", "prod");
    without_name.metadata.name = None;
    assert_eq!(mgmt_name_for(&without_name), None);
}

// claim

#[test]
fn a_mgmt_cluster_marked_for_this_prov_cluster_is_ours() {
    let p = prov("fleet-default", "prod");
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&p).annotations());
    assert_eq!(claim(&p, &m), Claim::Ours);
}

#[test]
fn a_mgmt_cluster_rancher_created_for_this_prov_cluster_is_ours() {
    let p = prov("fleet-default", "prod");
    let m = mgmt("c-m-abcdefgh").with_annotations(rancher_marks_of(&p));
    assert_eq!(claim(&p, &m), Claim::Ours);
}

#[test]
fn a_mgmt_cluster_created_for_a_deleted_prov_cluster_of_the_same_name_is_foreign() {
    let old = prov("fleet-default", "prod").with_uid("uid-old");
    let recreated = prov("fleet-default", "prod").with_uid("uid-new");
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&old).annotations());
    assert!(matches!(claim(&recreated, &m), Claim::Foreign(_)));
}

#[test]
fn a_mgmt_cluster_created_for_another_prov_cluster_is_foreign_and_the_message_names_it() {
    let other = prov("fleet-default", "other").with_uid("uid-other");
    let p = prov("fleet-default", "prod");
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&other).annotations());
    assert_eq!(
        claim(&p, &m),
        Claim::Foreign(
            "mgmt cluster c-m-abcdefgh belongs to provisioning.cattle.io/v1, Kind=Cluster \
             fleet-default/other"
                .into()
        )
    );
}

#[test]
fn a_mgmt_cluster_created_for_a_namesake_in_another_workspace_is_foreign() {
    let namesake = prov("team-a", "prod");
    let p = prov("fleet-default", "prod");
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&namesake).annotations());
    assert!(matches!(claim(&p, &m), Claim::Foreign(_)));
}

#[test]
fn a_mgmt_cluster_owned_by_a_cluster_scoped_object_is_foreign_and_the_message_has_no_namespace() {
    let owner = mgmt("c-owner");
    let p = prov("fleet-default", "prod");
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&owner).annotations());
    assert_eq!(
        claim(&p, &m),
        Claim::Foreign(
            "mgmt cluster c-m-abcdefgh belongs to management.cattle.io/v3, Kind=Cluster c-owner"
                .into()
        )
    );
}

#[test]
fn an_unmarked_mgmt_cluster_this_prov_cluster_recorded_is_still_foreign() {
    // Anyone who may write the prov status can record any name there: status is not proof.
    let p = ProvCluster {
        status: recorded("c-m-abcdefgh"),
        ..prov("fleet-default", "prod")
    };
    assert_eq!(
        claim(&p, &mgmt("c-m-abcdefgh")),
        Claim::Foreign(
            "mgmt cluster c-m-abcdefgh exists and was not created for this cluster".into()
        )
    );
}

#[test]
fn a_legacy_mgmt_cluster_a_prov_status_names_is_foreign() {
    let p = ProvCluster {
        status: recorded("c-ab12c"),
        ..prov("fleet-default", "prod")
    };
    assert!(matches!(
        claim(&p, &mgmt("c-ab12c").in_workspace("fleet-default")),
        Claim::Foreign(_)
    ));
}

// chosen_mgmt_name

#[test]
fn the_chosen_mgmt_name_says_where_it_comes_from() {
    let fresh = prov("fleet-default", "prod");
    assert_eq!(
        chosen_mgmt_name(&fresh),
        Some((generated_mgmt_name(PROV_UID), NameSource::Generated))
    );
    let mut annotated = fresh.clone();
    annotated.metadata.annotations = Some(string_map(&[(
        annotations::MANAGEMENT_CLUSTER_NAME,
        "c-m-chosen00",
    )]));
    assert_eq!(
        chosen_mgmt_name(&annotated),
        Some(("c-m-chosen00".into(), NameSource::Annotated))
    );
    let mut recording = annotated.clone();
    recording.status = recorded("c-m-first000");
    assert_eq!(
        chosen_mgmt_name(&recording),
        Some(("c-m-first000".into(), NameSource::Recorded))
    );
    assert_eq!(
        chosen_mgmt_name(&prov("fleet-default", "c-ab12c")),
        Some(("c-ab12c".into(), NameSource::Legacy))
    );
}

// mgmt_name_refusal

#[test]
fn a_legacy_shaped_mgmt_name_is_refused_naming_the_field() {
    for name in ["c-ab12c", "local"] {
        let message = mgmt_name_refusal(name, NameSource::Annotated, None).expect("refused");
        assert!(
            message.starts_with("annotation provisioning.cattle.io/management-cluster-name names"),
            "{message}"
        );
        assert!(message.contains(name), "{message}");
        assert!(message.contains("legacy"), "{message}");
    }
    let recorded = mgmt_name_refusal("c-ab12c", NameSource::Recorded, None).expect("refused");
    assert!(
        recorded.starts_with("status.clusterName names c-ab12c"),
        "{recorded}"
    );
}

#[test]
fn an_invalid_mgmt_name_is_refused() {
    let too_long = format!("c-m-{}", "x".repeat(60));
    for name in [too_long.as_str(), "Prod", "prod_1", "-prod", "prod.example"] {
        let message = mgmt_name_refusal(name, NameSource::Annotated, None).expect("refused");
        assert!(
            message.contains("not a valid mgmt cluster name"),
            "{message}"
        );
    }
}

#[test]
fn a_mgmt_name_bound_to_another_prov_cluster_is_refused_naming_it() {
    let other = prov("team-a", "other").with_uid("uid-other");
    let message =
        mgmt_name_refusal("c-m-abcdefgh", NameSource::Annotated, Some(&other)).expect("refused");
    assert!(
        message.contains("bound to prov cluster team-a/other"),
        "{message}"
    );
}

#[test]
fn a_valid_unbound_mgmt_name_is_accepted() {
    for name in ["c-m-abcdefgh", "prod-mgmt", &"a".repeat(63)] {
        assert_eq!(mgmt_name_refusal(name, NameSource::Annotated, None), None);
    }
}

// is_bound_elsewhere

#[test]
fn a_name_another_prov_cluster_recorded_or_derives_from_its_uid_is_bound_to_it() {
    let p = prov("fleet-default", "prod");
    let recording = ProvCluster {
        status: recorded("c-m-taken000"),
        ..prov("team-a", "other").with_uid("uid-other")
    };
    assert!(is_bound_elsewhere(&p, &recording, "c-m-taken000"));
    let fresh = prov("team-a", "fresh").with_uid("uid-fresh");
    assert!(is_bound_elsewhere(
        &p,
        &fresh,
        &generated_mgmt_name("uid-fresh")
    ));
    assert!(!is_bound_elsewhere(&p, &fresh, "c-m-free0000"));
}

#[test]
fn a_name_is_never_bound_elsewhere_by_the_prov_cluster_itself() {
    let p = ProvCluster {
        status: recorded("c-m-abcdefgh"),
        ..prov("fleet-default", "prod")
    };
    assert!(!is_bound_elsewhere(&p, &p, "c-m-abcdefgh"));
    assert!(!is_bound_elsewhere(&p, &p, &generated_mgmt_name(PROV_UID)));
}

#[test]
fn a_name_another_prov_cluster_recorded_differently_is_not_bound_by_its_uid() {
    // Its UID-derived name was never used: the recorded one is its counterpart.
    let p = prov("fleet-default", "prod");
    let other = ProvCluster {
        status: recorded("c-m-rancher0"),
        ..prov("team-a", "other").with_uid("uid-other")
    };
    assert!(!is_bound_elsewhere(
        &p,
        &other,
        &generated_mgmt_name("uid-other")
    ));
}

// legacy_representation_refusal

#[test]
fn only_the_prov_cluster_in_the_mgmt_workspace_represents_a_legacy_mgmt_cluster() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let rightful = prov("team-a", "c-ab12c");
    assert_eq!(
        legacy_representation_refusal(&rightful, &m, "fleet-default"),
        None
    );
    let elsewhere = prov("team-b", "c-ab12c");
    let message = legacy_representation_refusal(&elsewhere, &m, "fleet-default").expect("refused");
    assert!(message.contains("team-a/c-ab12c"), "{message}");
}

#[test]
fn an_externally_managed_legacy_cluster_without_workspace_is_represented_in_the_default() {
    let m =
        mgmt("c-ab12c").with_annotations(string_map(&[(annotations::EXTERNALLY_MANAGED, "true")]));
    let p = prov("fleet-default", "c-ab12c");
    assert_eq!(legacy_representation_refusal(&p, &m, "fleet-default"), None);
}

#[test]
fn a_legacy_cluster_without_workspace_is_represented_by_no_prov_cluster() {
    let m = mgmt("c-ab12c");
    let p = prov("fleet-default", "c-ab12c");
    let message = legacy_representation_refusal(&p, &m, "fleet-default").expect("refused");
    assert!(message.contains("no workspace"), "{message}");
}

#[test]
fn an_unmarked_mgmt_cluster_this_prov_cluster_did_not_record_is_foreign() {
    let p = prov("fleet-default", "prod");
    assert_eq!(
        claim(&p, &mgmt("c-m-abcdefgh")),
        Claim::Foreign(
            "mgmt cluster c-m-abcdefgh exists and was not created for this cluster".into()
        )
    );
}

#[test]
fn marks_naming_another_owner_win_over_a_recorded_name() {
    let other = prov("fleet-default", "other").with_uid("uid-other");
    let p = ProvCluster {
        status: recorded("c-m-abcdefgh"),
        ..prov("fleet-default", "prod")
    };
    let m = mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&other).annotations());
    assert!(matches!(claim(&p, &m), Claim::Foreign(_)));
}

// marks_for_child

#[test]
fn a_new_child_is_marked_with_rancher_keys_and_the_owner_uid() {
    let p = prov("fleet-default", "prod");
    assert_eq!(
        marks_for_child(&p, None),
        string_map(&[
            (
                annotations::OWNER_GVK,
                "provisioning.cattle.io/v1, Kind=Cluster"
            ),
            (annotations::OWNER_NAME, "prod"),
            (annotations::OWNER_NAMESPACE, "fleet-default"),
            (annotations::OWNER_UID, PROV_UID),
        ])
    );
}

#[test]
fn a_child_of_a_cluster_scoped_owner_is_marked_with_an_empty_namespace() {
    let marks = marks_for_child(&mgmt("c-ab12c"), None);
    assert_eq!(
        marks[annotations::OWNER_GVK],
        "management.cattle.io/v3, Kind=Cluster"
    );
    assert_eq!(marks[annotations::OWNER_NAMESPACE], "");
    assert_eq!(marks[annotations::OWNER_UID], MGMT_UID);
}

#[test]
fn a_child_drover_marked_keeps_its_uid_mark() {
    let p = prov("fleet-default", "prod");
    let existing = OwnerMarks::of(&p).annotations();
    assert_eq!(marks_for_child(&p, Some(&existing)), existing);
}

#[test]
fn a_child_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let p = prov("fleet-default", "prod");
    let existing = rancher_marks_of(&p);
    assert_eq!(marks_for_child(&p, Some(&existing)), existing);
}

#[test]
fn a_child_without_objectset_marks_gets_the_uid_mark() {
    let p = prov("fleet-default", "prod");
    let existing = string_map(&[("team", "a")]);
    assert_eq!(
        marks_for_child(&p, Some(&existing))[annotations::OWNER_UID],
        PROV_UID
    );
}

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
        .with_annotations(rancher_marks_of(&p));
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
    existing.metadata.annotations = Some(rancher_marks_of(&m));
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

// workspace_to_assign and legacy_prov_workspace

fn externally_managed(value: &str, workspace: Option<&str>) -> MgmtCluster {
    mgmt("c-ab12c")
        .with_workspace(workspace)
        .with_annotations(string_map(&[(annotations::EXTERNALLY_MANAGED, value)]))
}

#[test]
fn an_internal_cluster_without_a_workspace_is_assigned_fleet_local() {
    let mut m = mgmt("local");
    m.spec.internal = Some(true);
    assert_eq!(
        workspace_to_assign(&m, "fleet-default").as_deref(),
        Some("fleet-local")
    );
}

#[test]
fn any_other_cluster_without_a_workspace_is_assigned_the_default_workspace() {
    assert_eq!(
        workspace_to_assign(&mgmt("c-ab12c"), "fleet-custom").as_deref(),
        Some("fleet-custom")
    );
    assert_eq!(
        workspace_to_assign(&mgmt("c-m-abcdefgh"), "fleet-default").as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn an_empty_workspace_counts_as_none() {
    assert_eq!(
        workspace_to_assign(&mgmt("c-ab12c").in_workspace(""), "fleet-default").as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn an_externally_managed_cluster_is_not_assigned_a_workspace() {
    for value in ["true", "True", "yes", "1"] {
        assert_eq!(
            workspace_to_assign(&externally_managed(value, None), "fleet-default"),
            None,
            "{value}"
        );
    }
}

#[test]
fn a_falsy_externally_managed_annotation_does_not_stop_the_default() {
    for value in ["false", "FALSE", "False", ""] {
        assert_eq!(
            workspace_to_assign(&externally_managed(value, None), "fleet-default").as_deref(),
            Some("fleet-default"),
            "{value}"
        );
    }
}

#[test]
fn a_non_empty_workspace_is_never_changed() {
    let mut internal_elsewhere = mgmt("local").in_workspace("fleet-default");
    internal_elsewhere.spec.internal = Some(true);
    for m in [
        mgmt("c-ab12c").in_workspace("team-a"),
        internal_elsewhere,
        externally_managed("true", Some("team-a")),
    ] {
        assert_eq!(workspace_to_assign(&m, "fleet-default"), None);
    }
}

#[test]
fn an_internal_externally_managed_cluster_still_gets_fleet_local() {
    let mut m = externally_managed("true", None);
    m.spec.internal = Some(true);
    assert_eq!(
        workspace_to_assign(&m, "fleet-default").as_deref(),
        Some("fleet-local")
    );
}

#[test]
fn a_legacy_prov_cluster_lives_in_its_mgmt_clusters_workspace() {
    assert_eq!(
        legacy_prov_workspace(&mgmt("c-ab12c").in_workspace("team-a"), "fleet-default").as_deref(),
        Some("team-a")
    );
    assert_eq!(
        legacy_prov_workspace(&externally_managed("true", Some("team-a")), "fleet-default")
            .as_deref(),
        Some("team-a")
    );
}

#[test]
fn an_externally_managed_legacy_cluster_without_a_workspace_has_its_prov_cluster_in_the_default() {
    assert_eq!(
        legacy_prov_workspace(&externally_managed("true", None), "fleet-custom").as_deref(),
        Some("fleet-custom")
    );
}

#[test]
fn a_legacy_cluster_without_a_workspace_has_no_prov_cluster() {
    assert_eq!(
        legacy_prov_workspace(&mgmt("c-ab12c"), "fleet-default"),
        None
    );
    assert_eq!(
        legacy_prov_workspace(&mgmt("c-ab12c").in_workspace(""), "fleet-default"),
        None
    );
    assert_eq!(
        legacy_prov_workspace(&externally_managed("false", None), "fleet-default"),
        None
    );
}

// is_owned_by_a_prov_cluster

#[test]
fn a_mgmt_cluster_marked_by_a_prov_cluster_is_owned_by_one() {
    let p = prov("fleet-default", "prod");
    assert!(is_owned_by_a_prov_cluster(
        &mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&p).annotations())
    ));
    assert!(is_owned_by_a_prov_cluster(
        &mgmt("c-m-abcdefgh").with_annotations(rancher_marks_of(&p))
    ));
}

#[test]
fn a_mgmt_cluster_unmarked_or_marked_by_another_kind_is_not_owned_by_a_prov_cluster() {
    assert!(!is_owned_by_a_prov_cluster(&mgmt("c-ab12c")));
    assert!(!is_owned_by_a_prov_cluster(
        &mgmt("c-ab12c").with_annotations(string_map(&[("team", "a")]))
    ));
    assert!(!is_owned_by_a_prov_cluster(
        &mgmt("c-ab12c").with_annotations(OwnerMarks::of(&mgmt("c-owner")).annotations())
    ));
}

// finalizers riding in drover's applies

#[test]
fn drovers_finalizer_rides_in_the_apply_of_the_mgmt_and_legacy_prov_clusters_it_creates() {
    let p = prov("fleet-default", "prod");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    assert_eq!(
        desired.metadata.finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
    let m = mgmt("c-abcde").in_workspace("fleet-default");
    let desired = desired_legacy_prov_cluster(&m, "fleet-default", None);
    assert_eq!(
        desired.metadata.finalizers,
        Some(vec![finalizers::PROV_CLUSTER.to_string()])
    );
}

#[test]
fn a_released_finalizer_is_never_applied_again_and_a_held_one_never_dropped() {
    let p = prov("fleet-default", "prod");
    let mut existing = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    existing.metadata.finalizers = Some(vec!["example.com/other".into()]);
    // Not being deleted: drover's finalizer is (re)applied beside the other one.
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
    // Being deleted, drover's finalizer already released: not added back.
    existing.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        None
    );
    // Being deleted and still held: the apply keeps naming it, so it never removes it.
    existing.metadata.finalizers = Some(vec![
        "example.com/other".into(),
        finalizers::MGMT_CLUSTER.into(),
    ]);
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
}
