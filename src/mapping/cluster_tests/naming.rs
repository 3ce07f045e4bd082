//! The mgmt name of a prov cluster: where it comes from, when it is refused, whose it is.

use super::*;

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
    let p = p.recorded("c-m-first000");
    assert_eq!(mgmt_name_for(&p).as_deref(), Some("c-m-first000"));
}

#[test]
fn a_recorded_name_wins_over_the_uid_name() {
    // A prov cluster Rancher paired with a randomly generated name keeps that pairing.
    let p = prov("fleet-default", "prod").recorded("c-m-rancher0");
    assert_eq!(mgmt_name_for(&p).as_deref(), Some("c-m-rancher0"));
}

#[test]
fn an_empty_recorded_name_counts_as_not_recorded() {
    let p = prov("fleet-default", "prod").recorded("");
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
        let p = p.recorded("c-m-other111");
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
    let recording = annotated.clone().recorded("c-m-first000");
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
    let recording = prov("team-a", "other")
        .with_uid("uid-other")
        .recorded("c-m-taken000");
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
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
    assert!(!is_bound_elsewhere(&p, &p, "c-m-abcdefgh"));
    assert!(!is_bound_elsewhere(&p, &p, &generated_mgmt_name(PROV_UID)));
}

#[test]
fn a_name_another_prov_cluster_recorded_differently_is_not_bound_by_its_uid() {
    // Its UID-derived name was never used: the recorded one is its counterpart.
    let p = prov("fleet-default", "prod");
    let other = prov("team-a", "other")
        .with_uid("uid-other")
        .recorded("c-m-rancher0");
    assert!(!is_bound_elsewhere(
        &p,
        &other,
        &generated_mgmt_name("uid-other")
    ));
}
