//! The Fleet cluster's name, namespace, labels and annotations.

use super::*;

// desired_fleet_cluster: identity, labels and annotations

#[test]
fn a_fleet_cluster_is_named_after_the_prov_cluster_in_the_mgmt_workspace() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
    );
    assert_eq!(f.metadata.name.as_deref(), Some("prod"));
    assert_eq!(f.metadata.namespace.as_deref(), Some("fleet-default"));
    assert_eq!(
        f.spec.kube_config_secret.as_deref(),
        Some("prod-kubeconfig")
    );
    assert_eq!(
        f.spec.kube_config_secret_namespace.as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn a_moved_cluster_has_its_fleet_cluster_in_the_new_workspace_pointing_at_the_prov_namespace() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "team-a"),
    );
    assert_eq!(f.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(
        f.spec.kube_config_secret_namespace.as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn fleet_cluster_labels_are_the_cleaned_mgmt_labels_plus_name_and_display_name() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.display_name = Some("prod-east".into());
    m.metadata.labels = Some(string_map(&[
        ("env", "prod"),
        ("cattle.io/creator", "norman"),
        ("management.cattle.io/cluster-name", "spoofed"),
        ("kubectl.kubernetes.io/restartedAt", "now"),
    ]));
    let f = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m);
    assert_eq!(
        f.metadata.labels,
        Some(string_map(&[
            ("env", "prod"),
            ("management.cattle.io/cluster-name", "c-m-abcdefgh"),
            ("management.cattle.io/cluster-display-name", "prod-east"),
        ]))
    );
}

#[test]
fn a_display_name_that_is_no_valid_label_value_is_not_a_label() {
    for display in ["Production East", "-edge", &"x".repeat(64), "tienda-españa"] {
        let mut m = downstream("c-m-abcdefgh", "fleet-default");
        m.spec.display_name = Some(display.to_string());
        let labels = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
            .metadata
            .labels
            .expect("labels");
        assert!(
            !labels.contains_key("management.cattle.io/cluster-display-name"),
            "{display}"
        );
        assert_eq!(labels["management.cattle.io/cluster-name"], "c-m-abcdefgh");
    }
}

#[test]
fn a_mgmt_cluster_without_display_name_gives_no_display_name_label() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.display_name = None;
    let labels = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
        .metadata
        .labels;
    assert_eq!(
        labels,
        Some(string_map(&[(
            "management.cattle.io/cluster-name",
            "c-m-abcdefgh"
        )]))
    );
}

#[test]
fn the_internal_cluster_is_labelled_name_local() {
    let f = desired(
        &prov("fleet-local", "local").ready_as("local"),
        &local_mgmt(),
    );
    assert_eq!(
        f.metadata.labels,
        Some(string_map(&[
            ("management.cattle.io/cluster-name", "local"),
            ("management.cattle.io/cluster-display-name", "local"),
            ("name", "local"),
        ]))
    );
}

#[test]
fn a_downstream_cluster_is_not_labelled_name_local() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
    );
    assert!(!f.metadata.labels.expect("labels").contains_key("name"));
}

#[test]
fn fleet_cluster_annotations_are_the_cleaned_mgmt_annotations_plus_marks_naming_the_prov_cluster() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.metadata.annotations = Some(string_map(&[
        ("team", "a"),
        ("field.cattle.io/creatorId", "u-abc"),
        ("provisioning.cattle.io/administrated", "true"),
        ("objectset.rio.cattle.io/owner-name", "prod"),
        ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
    ]));
    let f = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m);
    assert_eq!(
        f.metadata.annotations,
        Some(string_map(&[
            ("team", "a"),
            (
                annotations::OWNER_GVK,
                "provisioning.cattle.io/v1, Kind=Cluster"
            ),
            (annotations::OWNER_NAME, "prod"),
            (annotations::OWNER_NAMESPACE, "fleet-default"),
            (annotations::OWNER_UID, PROV_UID),
        ]))
    );
}

#[test]
fn a_fleet_cluster_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let mut rancher_marks = OwnerMarks::of(&p).annotations();
    rancher_marks.remove(annotations::OWNER_UID);
    let existing = FleetCluster {
        metadata: ObjectMeta {
            name: Some("prod".into()),
            namespace: Some("fleet-default".into()),
            annotations: Some(rancher_marks),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec::default(),
        status: None,
    };
    let f = desired_fleet_cluster(
        &p,
        &downstream("c-m-abcdefgh", "fleet-default"),
        &[],
        &settings(),
        Some(&existing),
    );
    let annotations_out = f.metadata.annotations.expect("annotations");
    assert!(!annotations_out.contains_key(annotations::OWNER_UID));
    assert_eq!(annotations_out[annotations::OWNER_NAME], "prod");
}
