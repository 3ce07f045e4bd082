//! Which mgmt and prov clusters belong to which owner, and the marks drover puts on children.

use super::*;

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
    let m = mgmt("c-m-abcdefgh").with_annotations(rancher_marks(&p));
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
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
    assert_eq!(
        claim(&p, &mgmt("c-m-abcdefgh")),
        Claim::Foreign(
            "mgmt cluster c-m-abcdefgh exists and was not created for this cluster".into()
        )
    );
}

#[test]
fn a_legacy_mgmt_cluster_a_prov_status_names_is_foreign() {
    let p = prov("fleet-default", "prod").recorded("c-ab12c");
    assert!(matches!(
        claim(&p, &mgmt("c-ab12c").in_workspace("fleet-default")),
        Claim::Foreign(_)
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
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
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
    let existing = rancher_marks(&p);
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

// is_owned_by_a_prov_cluster

#[test]
fn a_mgmt_cluster_marked_by_a_prov_cluster_is_owned_by_one() {
    let p = prov("fleet-default", "prod");
    assert!(is_owned_by_a_prov_cluster(
        &mgmt("c-m-abcdefgh").with_annotations(OwnerMarks::of(&p).annotations())
    ));
    assert!(is_owned_by_a_prov_cluster(
        &mgmt("c-m-abcdefgh").with_annotations(rancher_marks(&p))
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
