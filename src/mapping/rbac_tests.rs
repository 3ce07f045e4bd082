use super::*;

use crate::consts::annotations;
use crate::fixtures::{string_map, workspace};

fn rbac_for(name: &str, user: &str) -> CreatorRbac {
    desired_rbac(&workspace(name).with_annotations(string_map(&[(annotations::CREATOR_ID, user)])))
        .expect("creator RBAC")
}

#[test]
fn a_creator_gets_an_admin_role_binding_in_the_workspace_namespace() {
    let rb = rbac_for("team-a", "u-abc").role_binding;
    assert_eq!(
        rb.metadata.name.as_deref(),
        Some("fleetworkspace-admin-binding-team-a")
    );
    assert_eq!(rb.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(rb.role_ref.kind, "ClusterRole");
    assert_eq!(rb.role_ref.name, "fleetworkspace-admin");
    assert_eq!(
        rb.role_ref.api_group.as_deref(),
        Some("rbac.authorization.k8s.io")
    );
    let subjects = rb.subjects.expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "User");
    assert_eq!(subjects[0].name, "u-abc");
    assert_eq!(
        subjects[0].api_group.as_deref(),
        Some("rbac.authorization.k8s.io")
    );
}

#[test]
fn a_creator_gets_every_verb_on_exactly_their_workspace() {
    let role = rbac_for("team-a", "u-abc").cluster_role;
    assert_eq!(
        role.metadata.name.as_deref(),
        Some("fleetworkspace-own-team-a")
    );
    assert_eq!(role.metadata.namespace, None);
    let rules = role.rules.expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["management.cattle.io".to_string()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["fleetworkspaces".to_string()][..])
    );
    assert_eq!(
        rules[0].resource_names.as_deref(),
        Some(&["team-a".to_string()][..])
    );
    assert_eq!(
        rules[0].verbs,
        [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
            "fleetaddcluster"
        ]
    );
}

#[test]
fn a_creator_is_bound_cluster_wide_to_their_own_workspace_role() {
    let crb = rbac_for("team-a", "u-abc").cluster_role_binding;
    assert_eq!(
        crb.metadata.name.as_deref(),
        Some("fleetworkspace-own-binding-team-a")
    );
    assert_eq!(crb.role_ref.name, "fleetworkspace-own-team-a");
    assert_eq!(crb.subjects.expect("subjects")[0].name, "u-abc");
}

#[test]
fn every_creator_object_is_labelled_and_marked_for_its_workspace() {
    let ws =
        workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    let rbac = desired_rbac(&ws).expect("creator RBAC");
    for meta in [
        &rbac.role_binding.metadata,
        &rbac.cluster_role.metadata,
        &rbac.cluster_role_binding.metadata,
    ] {
        assert_eq!(
            meta.labels.as_ref().expect("labels")["drover.cattle.io/workspace"],
            "team-a"
        );
        assert_eq!(
            meta.annotations.as_ref().expect("annotations")[annotations::OWNER_UID],
            "uid-team-a"
        );
        assert!(belongs_to(meta, &ws));
    }
}

#[test]
fn a_workspace_without_a_creator_wants_no_rbac() {
    assert_eq!(
        desired_rbac(&workspace("team-a").with_annotations(string_map(&[]))),
        None
    );
    assert_eq!(
        desired_rbac(
            &workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "")]))
        ),
        None
    );
}

#[test]
fn an_unmanaged_workspace_wants_no_rbac_even_with_a_creator() {
    let ws = workspace("team-a").with_annotations(string_map(&[
        (annotations::CREATOR_ID, "u-abc"),
        (annotations::MANAGED, "false"),
    ]));
    assert_eq!(desired_rbac(&ws), None);
}

#[test]
fn rbac_of_another_workspace_or_without_the_label_is_not_ours() {
    let ws =
        workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    let other = rbac_for("team-b", "u-abc").cluster_role.metadata;
    assert!(!belongs_to(&other, &ws));
    let mut unlabelled = rbac_for("team-a", "u-abc").cluster_role.metadata;
    unlabelled.labels = None;
    assert!(!belongs_to(&unlabelled, &ws));
    let mut unmarked = rbac_for("team-a", "u-abc").cluster_role.metadata;
    unmarked.annotations = None;
    assert!(!belongs_to(&unmarked, &ws));
}

#[test]
fn rbac_made_for_an_earlier_workspace_of_the_same_name_is_still_recognised() {
    let earlier = rbac_for("team-a", "u-old").role_binding.metadata;
    let mut recreated = workspace("team-a").with_annotations(string_map(&[]));
    recreated.metadata.uid = Some("uid-new".into());
    assert!(belongs_to(&earlier, &recreated));
}

#[test]
fn an_object_of_a_w5_name_without_marks_is_someone_elses() {
    let ws =
        workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    let foreign = ObjectMeta {
        name: Some(cluster_role_binding_name("team-a")),
        ..ObjectMeta::default()
    };
    assert!(!is_creator_rbac_for(&foreign, &ws));
    // The label alone proves nothing: anyone who can write the object can set it.
    let mut labelled = foreign.clone();
    labelled.labels = Some([(labels::WORKSPACE.to_string(), "team-a".to_string())].into());
    assert!(!is_creator_rbac_for(&labelled, &ws));
    assert!(!belongs_to(&labelled, &ws));
}

#[test]
fn marks_naming_another_owner_do_not_make_creator_rbac() {
    let ws =
        workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    let mut meta = rbac_for("team-a", "u-abc").cluster_role.metadata;
    let mut marks = meta.annotations.clone().unwrap_or_default();
    marks.insert(
        annotations::OWNER_GVK.into(),
        "provisioning.cattle.io/v1, Kind=Cluster".into(),
    );
    meta.annotations = Some(marks.clone());
    assert!(!is_creator_rbac_for(&meta, &ws));
    marks.insert(
        annotations::OWNER_GVK.into(),
        "management.cattle.io/v3, Kind=FleetWorkspace".into(),
    );
    marks.insert(annotations::OWNER_NAMESPACE.into(), "elsewhere".into());
    meta.annotations = Some(marks);
    assert!(!is_creator_rbac_for(&meta, &ws));
}

#[test]
fn creator_rbac_rancher_made_without_label_or_uid_is_recognised() {
    let ws =
        workspace("team-a").with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    let mut meta = rbac_for("team-a", "u-abc").cluster_role_binding.metadata;
    meta.labels = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(annotations::OWNER_UID);
    }
    assert!(is_creator_rbac_for(&meta, &ws));
}
