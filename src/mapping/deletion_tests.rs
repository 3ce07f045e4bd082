use super::*;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::consts::annotations;
use crate::fixtures::{PROV_UID, fleet, mgmt, prov, rancher_marks};
use crate::mapping::names::generated_mgmt_name;

const DEFAULT: &str = "fleet-default";

/// drover's marks naming `owner`, UID included.
fn marked_by<K: Resource<DynamicType = ()>>(owner: &K) -> Option<BTreeMap<String, String>> {
    Some(OwnerMarks::of(owner).annotations())
}

// prov_removal_deletes_mgmt

#[test]
fn removing_a_prov_cluster_deletes_the_mgmt_cluster_drover_created_for_it() {
    let p = prov("fleet-default", "prod");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    m.metadata.annotations = marked_by(&p);
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_prov_cluster_deletes_the_mgmt_cluster_rancher_created_for_it() {
    let p = prov("fleet-default", "prod");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    m.metadata.annotations = Some(rancher_marks(&p));
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_moved_prov_cluster_still_deletes_the_mgmt_cluster_created_for_it() {
    let p = prov("fleet-default", "prod");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("team-a");
    m.metadata.annotations = marked_by(&p);
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_recreated_prov_cluster_keeps_its_predecessors_mgmt_cluster() {
    let old = prov("fleet-default", "prod").with_uid("uid-old");
    let recreated = prov("fleet-default", "prod").with_uid("uid-new");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    m.metadata.annotations = marked_by(&old);
    assert!(!prov_removal_deletes_mgmt(&recreated, &m, DEFAULT));
}

#[test]
fn removing_a_prov_cluster_keeps_a_mgmt_cluster_created_for_another() {
    let other = prov("fleet-default", "other").with_uid("other-uid");
    let namesake = prov("team-a", "prod");
    let p = prov("fleet-default", "prod");
    for owner in [other, namesake] {
        let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
        m.metadata.annotations = marked_by(&owner);
        assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
    }
}

#[test]
fn removing_a_prov_cluster_keeps_an_unmarked_mgmt_cluster_even_when_recorded() {
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
    let m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_legacy_prov_cluster_in_the_current_workspace_deletes_its_mgmt_cluster() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_stale_legacy_prov_cluster_left_by_a_move_keeps_the_mgmt_cluster() {
    let m = mgmt("c-ab12c").in_workspace("team-b");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_legacy_copy_rancher_made_in_the_current_workspace_deletes_its_mgmt_cluster() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = Some(rancher_marks(&m));
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_held_legacy_copy_keeps_a_new_mgmt_cluster_of_the_same_name() {
    let old = mgmt("c-ab12c").with_uid("uid-old").in_workspace("team-a");
    let new = mgmt("c-ab12c").with_uid("uid-new").in_workspace("team-a");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&old);
    assert!(!prov_removal_deletes_mgmt(&p, &new, DEFAULT));
}

#[test]
fn removing_a_legacy_copy_rancher_made_before_the_mgmt_cluster_existed_keeps_it() {
    // Rancher's marks carry no UID: a copy older than the mgmt cluster was made for a
    // predecessor of the same name.
    let at = |s: &str| Time(s.parse().expect("timestamp"));
    let mut m = mgmt("c-ab12c").with_uid("uid-new").in_workspace("team-a");
    m.metadata.creation_timestamp = Some(at("2026-01-02T00:00:00Z"));
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = Some(rancher_marks(&m));
    p.metadata.creation_timestamp = Some(at("2026-01-01T00:00:00Z"));
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
    p.metadata.creation_timestamp = Some(at("2026-01-03T00:00:00Z"));
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_legacy_prov_cluster_drover_did_not_make_keeps_the_mgmt_cluster() {
    // In the right place, but nothing proves it was made for this mgmt cluster.
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let p = prov("team-a", "c-ab12c");
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_legacy_copy_in_another_namespace_keeps_the_mgmt_cluster() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let mut p = prov("team-b", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_the_copy_of_an_externally_managed_cluster_without_workspace_deletes_it() {
    // Such a cluster's prov cluster lives in the default workspace (§C3).
    let mut m = mgmt("c-ab12c");
    m.metadata.annotations = Some(BTreeMap::from([(
        annotations::EXTERNALLY_MANAGED.to_string(),
        "true".to_string(),
    )]));
    let mut p = prov(DEFAULT, "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_legacy_prov_cluster_keeps_a_mgmt_cluster_without_a_workspace() {
    let p = prov("fleet-default", "c-ab12c");
    for workspace in [None, Some("")] {
        let m = mgmt("c-ab12c").with_workspace(workspace);
        assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
    }
}

#[test]
fn removing_a_legacy_prov_cluster_keeps_a_mgmt_cluster_of_another_name() {
    let p = prov("fleet-default", "c-ab12c");
    let m = mgmt("c-zz99z").in_workspace("fleet-default");
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_a_non_legacy_namesake_of_a_mgmt_cluster_keeps_it() {
    let p = prov("fleet-default", "c-m-abcdefgh");
    let m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    assert!(!prov_removal_deletes_mgmt(&p, &m, DEFAULT));
}

#[test]
fn removing_the_local_prov_cluster_in_fleet_local_deletes_the_local_mgmt_cluster() {
    // Admission forbids deleting prov `local`; the decision itself follows the legacy rule.
    let m = mgmt("local").in_workspace("fleet-local");
    let mut p = prov("fleet-local", "local");
    p.metadata.annotations = marked_by(&m);
    assert!(prov_removal_deletes_mgmt(&p, &m, DEFAULT));
    let mut stray = prov("fleet-default", "local");
    stray.metadata.annotations = marked_by(&m);
    assert!(!prov_removal_deletes_mgmt(&stray, &m, DEFAULT));
}

// prov_belongs_to_mgmt

#[test]
fn a_prov_cluster_created_for_a_mgmt_cluster_belongs_to_it() {
    let m = mgmt("c-ab12c").in_workspace("fleet-default");
    let mut p = prov("fleet-default", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(prov_belongs_to_mgmt(&p, &m));
    p.metadata.annotations = Some(rancher_marks(&m));
    assert!(prov_belongs_to_mgmt(&p, &m));
}

#[test]
fn a_prov_cluster_that_created_a_mgmt_cluster_belongs_to_it() {
    let p = prov("fleet-default", "prod");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    m.metadata.annotations = marked_by(&p);
    assert!(prov_belongs_to_mgmt(&p, &m));
}

#[test]
fn a_prov_cluster_that_merely_recorded_a_mgmt_cluster_does_not_belong_to_it() {
    // Anyone who may write the prov status can record any name: status is not proof.
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
    let m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    assert!(!prov_belongs_to_mgmt(&p, &m));
}

#[test]
fn an_unrelated_prov_cluster_does_not_belong_to_a_mgmt_cluster() {
    let m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    assert!(!prov_belongs_to_mgmt(&prov("fleet-default", "prod"), &m));
    assert!(!prov_belongs_to_mgmt(
        &prov("fleet-default", "prod").recorded("c-m-other000"),
        &m
    ));
    assert!(!prov_belongs_to_mgmt(
        &prov("fleet-default", "prod").recorded(""),
        &mgmt("")
    ));
}

#[test]
fn a_prov_cluster_created_for_a_deleted_mgmt_cluster_does_not_belong_to_its_namesake() {
    let old = mgmt("c-ab12c")
        .with_uid("uid-old")
        .in_workspace("fleet-default");
    let recreated = mgmt("c-ab12c")
        .with_uid("uid-new")
        .in_workspace("fleet-default");
    let mut p = prov("fleet-default", "c-ab12c");
    p.metadata.annotations = marked_by(&old);
    assert!(!prov_belongs_to_mgmt(&p, &recreated));
}

#[test]
fn a_mgmt_cluster_created_for_another_prov_cluster_does_not_own_this_one() {
    let other = prov("fleet-default", "other").with_uid("other-uid");
    let p = prov("fleet-default", "prod");
    let mut m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    m.metadata.annotations = marked_by(&other);
    assert!(!prov_belongs_to_mgmt(&p, &m));
}

// is_stale_legacy_copy

#[test]
fn a_legacy_prov_cluster_outside_the_mgmt_workspace_is_a_stale_copy() {
    let m = mgmt("c-ab12c").in_workspace("team-b");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(is_stale_legacy_copy(&p, &m, Some("team-b")));
    p.metadata.annotations = Some(rancher_marks(&m));
    assert!(is_stale_legacy_copy(&p, &m, Some("team-b")));
}

#[test]
fn a_legacy_prov_cluster_in_the_mgmt_workspace_is_not_stale() {
    let m = mgmt("c-ab12c").in_workspace("team-a");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(!is_stale_legacy_copy(&p, &m, Some("team-a")));
}

#[test]
fn a_legacy_prov_cluster_of_a_mgmt_cluster_that_has_no_workspace_is_stale() {
    let m = mgmt("c-ab12c");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&m);
    assert!(is_stale_legacy_copy(&p, &m, None));
}

#[test]
fn a_prov_cluster_drover_did_not_create_for_the_mgmt_cluster_is_never_a_stale_copy() {
    let m = mgmt("c-ab12c").in_workspace("team-b");
    let unmarked = prov("team-a", "c-ab12c");
    assert!(!is_stale_legacy_copy(&unmarked, &m, Some("team-b")));

    let mut of_predecessor = prov("team-a", "c-ab12c");
    of_predecessor.metadata.annotations = marked_by(&mgmt("c-ab12c").with_uid("uid-old"));
    assert!(!is_stale_legacy_copy(&of_predecessor, &m, Some("team-b")));
}

// fleet_belongs_to_prov

#[test]
fn a_fleet_cluster_created_for_a_prov_cluster_belongs_to_it() {
    let p = prov("fleet-default", "prod");
    let mut f = fleet("team-a", "prod");
    f.metadata.annotations = marked_by(&p);
    assert!(fleet_belongs_to_prov(&f, &p));
    f.metadata.annotations = Some(rancher_marks(&p));
    assert!(fleet_belongs_to_prov(&f, &p));
}

#[test]
fn a_fleet_cluster_created_for_a_deleted_prov_cluster_does_not_belong_to_its_namesake() {
    let old = prov("fleet-default", "prod").with_uid("uid-old");
    let recreated = prov("fleet-default", "prod").with_uid("uid-new");
    let mut f = fleet("fleet-default", "prod");
    f.metadata.annotations = marked_by(&old);
    assert!(!fleet_belongs_to_prov(&f, &recreated));
}

#[test]
fn a_fleet_cluster_of_a_namesake_in_another_workspace_does_not_belong_to_the_prov_cluster() {
    let namesake = prov("team-a", "prod");
    let p = prov("fleet-default", "prod");
    let mut f = fleet("fleet-default", "prod");
    f.metadata.annotations = marked_by(&namesake);
    assert!(!fleet_belongs_to_prov(&f, &p));
}

#[test]
fn an_unmarked_fleet_cluster_belongs_to_no_prov_cluster() {
    let p = prov("fleet-default", "prod");
    assert!(!fleet_belongs_to_prov(&fleet("fleet-default", "prod"), &p));
}

// mgmt_names_to_check_on_removal

#[test]
fn removal_looks_at_the_recorded_generated_and_annotated_mgmt_names() {
    let mut p = prov("fleet-default", "prod").recorded("c-m-recorded");
    p.metadata.annotations = Some(BTreeMap::from([(
        annotations::MANAGEMENT_CLUSTER_NAME.to_string(),
        "c-m-annotated".to_string(),
    )]));
    let mut expected = vec![
        "c-m-recorded".to_string(),
        "c-m-annotated".to_string(),
        generated_mgmt_name(PROV_UID),
    ];
    expected.sort();
    assert_eq!(mgmt_names_to_check_on_removal(&p), expected);
}

#[test]
fn removal_of_a_fresh_prov_cluster_looks_at_its_generated_name_once() {
    let p = prov("fleet-default", "prod");
    assert_eq!(
        mgmt_names_to_check_on_removal(&p),
        [generated_mgmt_name(PROV_UID)]
    );
}

#[test]
fn removal_of_a_legacy_prov_cluster_looks_only_at_its_own_name() {
    let mut p = prov("fleet-default", "c-ab12c").recorded("c-m-recorded");
    p.metadata.annotations = Some(BTreeMap::from([(
        annotations::MANAGEMENT_CLUSTER_NAME.to_string(),
        "c-m-annotated".to_string(),
    )]));
    assert_eq!(mgmt_names_to_check_on_removal(&p), ["c-ab12c"]);
}

// kept_mgmt_notice

#[test]
fn keeping_the_mgmt_cluster_a_status_names_is_reported() {
    let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
    let m = mgmt("c-m-abcdefgh").in_workspace("fleet-default");
    let notice = kept_mgmt_notice(&p, &m, DEFAULT).expect("a notice");
    assert!(notice.contains("c-m-abcdefgh"), "{notice}");
    assert!(notice.contains("fleet-default/prod"), "{notice}");
}

#[test]
fn keeping_the_mgmt_cluster_of_an_unproven_legacy_representation_is_reported() {
    let m = mgmt("c-ab12c").with_uid("uid-new").in_workspace("team-a");
    let mut p = prov("team-a", "c-ab12c");
    p.metadata.annotations = marked_by(&mgmt("c-ab12c").with_uid("uid-old").in_workspace("team-a"));
    assert!(kept_mgmt_notice(&p, &m, DEFAULT).is_some());
}

#[test]
fn keeping_the_mgmt_cluster_of_a_stale_copy_or_deleting_it_is_not_a_refusal() {
    let m = mgmt("c-ab12c").in_workspace("team-b");
    let mut stale = prov("team-a", "c-ab12c");
    stale.metadata.annotations = marked_by(&m);
    assert_eq!(kept_mgmt_notice(&stale, &m, DEFAULT), None);

    let p = prov("fleet-default", "prod");
    let mut own = mgmt(&generated_mgmt_name(PROV_UID)).in_workspace(DEFAULT);
    own.metadata.annotations = marked_by(&p);
    assert_eq!(kept_mgmt_notice(&p, &own, DEFAULT), None);
}

#[test]
fn a_mgmt_cluster_the_prov_cluster_does_not_pair_with_is_kept_without_a_notice() {
    let p = prov("fleet-default", "prod");
    let other = mgmt("c-m-zzzzzzzz").in_workspace(DEFAULT);
    assert_eq!(kept_mgmt_notice(&p, &other, DEFAULT), None);
}

// made_for

#[test]
fn a_child_is_made_for_the_owner_its_marks_name_uid_included() {
    let owner = mgmt("c-ab12c");
    let mut child = prov("team-a", "c-ab12c");
    assert!(!made_for(&child, &owner), "no marks");
    child.metadata.annotations = marked_by(&owner);
    assert!(made_for(&child, &owner));
    assert!(!made_for(&child, &mgmt("c-ab12c").with_uid("other-uid")));
    assert!(!made_for(&child, &mgmt("c-zz99z")));
}
