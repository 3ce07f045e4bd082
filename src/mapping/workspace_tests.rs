use super::*;

use crate::fixtures::{string_map, workspace};

fn namespace(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        uid: Some(format!("ns-uid-{name}")),
        ..ObjectMeta::default()
    }
}

fn namespace_with(name: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        labels: Some(string_map(labels)).filter(|m| !m.is_empty()),
        annotations: Some(string_map(annotations)).filter(|m| !m.is_empty()),
        ..namespace(name)
    }
}

fn applied(plan: NamespacePlan) -> Namespace {
    match plan {
        NamespacePlan::Apply(ns) => *ns,
        other => panic!("expected Apply, got {other:?}"),
    }
}

/// The namespace drover created for `ws`, as the API server returns it.
fn created_for(ws: &FleetWorkspace) -> ObjectMeta {
    ObjectMeta {
        uid: Some("ns-uid".into()),
        ..applied(plan_namespace(ws, None)).metadata
    }
}

fn terminating(mut meta: ObjectMeta) -> ObjectMeta {
    meta.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Default::default(),
    ));
    meta
}

#[test]
fn workspaces_are_managed_unless_annotated_managed_false() {
    assert!(is_managed(&workspace("a").with_uid("1")));
    let ws = workspace("a")
        .with_uid("1")
        .with_annotations(string_map(&[(annotations::MANAGED, "true")]));
    assert!(is_managed(&ws));
    let ws = workspace("a")
        .with_uid("1")
        .with_annotations(string_map(&[(annotations::MANAGED, "false")]));
    assert!(!is_managed(&ws));
}

#[test]
fn an_empty_creator_annotation_names_no_creator() {
    let ws = workspace("a")
        .with_uid("1")
        .with_annotations(string_map(&[(annotations::CREATOR_ID, "")]));
    assert_eq!(creator(&ws), None);
    let ws = workspace("a")
        .with_uid("1")
        .with_annotations(string_map(&[(annotations::CREATOR_ID, "u-abc")]));
    assert_eq!(creator(&ws), Some("u-abc"));
}

#[test]
fn the_desired_namespace_has_the_workspaces_cleaned_labels_and_annotations_plus_marks() {
    let mut ws = workspace("team-a")
        .with_uid("uid-1")
        .with_annotations(string_map(&[
            ("note", "hello"),
            (annotations::CREATOR_ID, "u-abc"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        ]));
    ws.metadata.labels = Some(string_map(&[("team", "a"), ("cattle.io/x", "y")]));
    let ns = applied(plan_namespace(&ws, None));
    assert_eq!(ns.metadata.name.as_deref(), Some("team-a"));
    assert_eq!(ns.metadata.labels, Some(string_map(&[("team", "a")])));
    let annotations = ns.metadata.annotations.expect("annotations");
    assert_eq!(annotations["note"], "hello");
    assert_eq!(
        annotations["objectset.rio.cattle.io/owner-gvk"],
        "management.cattle.io/v3, Kind=FleetWorkspace"
    );
    assert_eq!(annotations["objectset.rio.cattle.io/owner-name"], "team-a");
    assert_eq!(annotations["objectset.rio.cattle.io/owner-namespace"], "");
    assert_eq!(annotations["drover.cattle.io/owner-uid"], "uid-1");
    assert!(!annotations.contains_key(annotations::CREATOR_ID));
    assert!(!annotations.contains_key(annotations::ADOPTED));
    assert_eq!(annotations.len(), 5);
}

#[test]
fn a_workspace_without_labels_wants_no_labels_key_at_all() {
    let ns = applied(plan_namespace(&workspace("a").with_uid("1"), None));
    assert_eq!(ns.metadata.labels, None);
    assert!(ns.spec.is_none() && ns.status.is_none());
}

#[test]
fn the_namespace_claim_carries_only_the_name_and_the_marks_the_desired_namespace_keeps() {
    let mut ws = workspace("team-a")
        .with_uid("uid-1")
        .with_annotations(string_map(&[("note", "x")]));
    ws.metadata.labels = Some(string_map(&[("team", "a")]));
    let claim = namespace_claim(&ws);
    assert_eq!(claim.metadata.labels, None);
    let claimed = claim.metadata.annotations.expect("annotations");
    assert_eq!(claimed, OwnerMarks::of(&ws).annotations());
    let desired = applied(plan_namespace(&ws, None))
        .metadata
        .annotations
        .expect("annotations");
    assert!(claimed.iter().all(|(k, v)| desired.get(k) == Some(v)));
}

#[test]
fn a_namespace_drover_created_is_kept_up_to_date() {
    let ws = workspace("team-a").with_uid("uid-1");
    let current = created_for(&ws);
    let mut relabeled = ws.clone();
    relabeled.metadata.labels = Some(string_map(&[("team", "b")]));
    let ns = applied(plan_namespace(&relabeled, Some(&current)));
    assert_eq!(ns.metadata.labels, Some(string_map(&[("team", "b")])));
}

#[test]
fn a_namespace_made_for_an_earlier_workspace_of_the_same_name_is_not_retaken() {
    let current = created_for(&workspace("team-a").with_uid("uid-old"));
    assert_eq!(
        plan_namespace(&workspace("team-a").with_uid("uid-new"), Some(&current)),
        NamespacePlan::NotAdopted(NotAdopted::EarlierWorkspace {
            uid: "uid-old".into()
        })
    );
}

#[test]
fn the_managed_by_label_does_not_hand_over_a_namespace_of_an_earlier_workspace() {
    // drover copies the workspace's own labels, this one included, onto its namespace.
    let mut current = created_for(&workspace("team-a").with_uid("uid-old"));
    current.labels = Some(string_map(&[("app.kubernetes.io/managed-by", "rancher")]));
    assert!(matches!(
        plan_namespace(&workspace("team-a").with_uid("uid-new"), Some(&current)),
        NamespacePlan::NotAdopted(NotAdopted::EarlierWorkspace { .. })
    ));
}

#[test]
fn the_allow_annotation_hands_a_namespace_of_an_earlier_workspace_over_as_adopted() {
    let mut current = created_for(&workspace("team-a").with_uid("uid-old"));
    current
        .annotations
        .get_or_insert_default()
        .insert(annotations::ALLOW_EXISTING_NAMESPACE.into(), "true".into());
    let ws = workspace("team-a").with_uid("uid-new");
    let ns = applied(plan_namespace(&ws, Some(&current)));
    let annotations = ns.metadata.annotations.expect("annotations");
    assert_eq!(annotations[annotations::OWNER_UID], "uid-new");
    assert_eq!(annotations[annotations::ADOPTED], "true");
}

#[test]
fn a_namespace_rancher_created_keeps_its_marks_without_a_uid() {
    let rancher = namespace_with(
        "team-a",
        &[],
        &[
            (
                annotations::OWNER_GVK,
                "management.cattle.io/v3, Kind=FleetWorkspace",
            ),
            (annotations::OWNER_NAME, "team-a"),
            (annotations::OWNER_NAMESPACE, ""),
        ],
    );
    let ns = applied(plan_namespace(
        &workspace("team-a").with_uid("1"),
        Some(&rancher),
    ));
    let annotations = ns.metadata.annotations.expect("annotations");
    assert!(!annotations.contains_key(annotations::OWNER_UID));
    assert!(!annotations.contains_key(annotations::ADOPTED));
}

#[test]
fn an_existing_namespace_without_marks_or_exemption_is_not_adopted() {
    let user_made = namespace_with("legacy-team", &[("owner", "me")], &[]);
    assert_eq!(
        plan_namespace(&workspace("legacy-team").with_uid("1"), Some(&user_made)),
        NamespacePlan::NotAdopted(NotAdopted::Foreign)
    );
}

#[test]
fn marks_naming_another_workspace_or_kind_do_not_allow_adoption() {
    let ws = workspace("team-a").with_uid("1");
    let other_ws = created_for(&workspace("team-b").with_uid("2"));
    let renamed = ObjectMeta {
        name: Some("team-a".into()),
        ..other_ws
    };
    assert_eq!(
        plan_namespace(&ws, Some(&renamed)),
        NamespacePlan::NotAdopted(NotAdopted::Foreign)
    );
    let other_kind = namespace_with(
        "team-a",
        &[],
        &[
            (
                annotations::OWNER_GVK,
                "provisioning.cattle.io/v1, Kind=Cluster",
            ),
            (annotations::OWNER_NAME, "team-a"),
        ],
    );
    assert_eq!(
        plan_namespace(&ws, Some(&other_kind)),
        NamespacePlan::NotAdopted(NotAdopted::Foreign)
    );
}

#[test]
fn a_namespace_labelled_managed_by_rancher_is_adopted_and_the_adoption_is_recorded() {
    let rancher = namespace_with(
        "team-a",
        &[("app.kubernetes.io/managed-by", "rancher")],
        &[],
    );
    let ns = applied(plan_namespace(
        &workspace("team-a").with_uid("1"),
        Some(&rancher),
    ));
    assert_eq!(
        ns.metadata.annotations.expect("annotations")[annotations::ADOPTED],
        "true"
    );
}

#[test]
fn a_namespace_annotated_to_allow_a_workspace_is_adopted() {
    let allowed = namespace_with(
        "team-a",
        &[],
        &[(annotations::ALLOW_EXISTING_NAMESPACE, "true")],
    );
    assert!(matches!(
        plan_namespace(&workspace("team-a").with_uid("1"), Some(&allowed)),
        NamespacePlan::Apply(_)
    ));
    let not_quite = namespace_with(
        "team-a",
        &[("app.kubernetes.io/managed-by", "helm")],
        &[(annotations::ALLOW_EXISTING_NAMESPACE, "yes")],
    );
    assert_eq!(
        plan_namespace(&workspace("team-a").with_uid("1"), Some(&not_quite)),
        NamespacePlan::NotAdopted(NotAdopted::Foreign)
    );
}

#[test]
fn an_adoption_stays_recorded_after_the_exemption_is_removed() {
    let ws = workspace("team-a").with_uid("1");
    let allowed = namespace_with(
        "team-a",
        &[],
        &[(annotations::ALLOW_EXISTING_NAMESPACE, "true")],
    );
    let mut after = applied(plan_namespace(&ws, Some(&allowed))).metadata;
    if let Some(a) = after.annotations.as_mut() {
        a.remove(annotations::ALLOW_EXISTING_NAMESPACE);
    }
    let ns = applied(plan_namespace(&ws, Some(&after)));
    assert_eq!(
        ns.metadata.annotations.expect("annotations")[annotations::ADOPTED],
        "true"
    );
    assert!(!namespace_was_created_for(&after, &ws));
}

#[test]
fn a_terminating_namespace_is_waited_for() {
    let ws = workspace("team-a").with_uid("1");
    assert_eq!(
        plan_namespace(&ws, Some(&terminating(created_for(&ws)))),
        NamespacePlan::Terminating
    );
}

fn occupied() -> Occupants {
    Occupants {
        prov: vec!["c1".into()],
        fleet: vec![],
    }
}

#[test]
fn deleting_a_workspace_deletes_the_empty_namespace_drover_created_for_it() {
    let ws = workspace("team-a").with_uid("1");
    let ns = created_for(&ws);
    assert_eq!(
        plan_deletion(
            &ws,
            Some(&ns),
            Occupants::default(),
            WorkspaceDeletion::Protect
        ),
        DeletionPlan::DeleteNamespace
    );
}

#[test]
fn deleting_a_workspace_whose_namespace_holds_clusters_waits_by_default() {
    let ws = workspace("team-a").with_uid("1");
    let ns = created_for(&ws);
    assert_eq!(
        plan_deletion(&ws, Some(&ns), occupied(), WorkspaceDeletion::Protect),
        DeletionPlan::Wait(occupied())
    );
}

#[test]
fn the_cascade_mode_deletes_a_namespace_that_holds_clusters_at_once() {
    let ws = workspace("team-a").with_uid("1");
    let ns = created_for(&ws);
    assert_eq!(
        plan_deletion(&ws, Some(&ns), occupied(), WorkspaceDeletion::Cascade),
        DeletionPlan::DeleteNamespace
    );
}

#[test]
fn a_namespace_drover_did_not_create_is_never_deleted_even_in_cascade_mode() {
    let ws = workspace("legacy-team").with_uid("1");
    let user_made = namespace("legacy-team");
    let adopted = applied(plan_namespace(
        &ws,
        Some(&namespace_with(
            "legacy-team",
            &[("app.kubernetes.io/managed-by", "rancher")],
            &[],
        )),
    ))
    .metadata;
    for ns in [user_made, adopted] {
        for mode in [WorkspaceDeletion::Protect, WorkspaceDeletion::Cascade] {
            assert_eq!(
                plan_deletion(&ws, Some(&ns), occupied(), mode),
                DeletionPlan::Release
            );
            assert_eq!(
                plan_deletion(&ws, Some(&ns), Occupants::default(), mode),
                DeletionPlan::Release
            );
        }
    }
}

#[test]
fn a_namespace_created_for_an_earlier_workspace_of_the_same_name_is_not_deleted() {
    let ns = created_for(&workspace("team-a").with_uid("uid-old"));
    assert_eq!(
        plan_deletion(
            &workspace("team-a").with_uid("uid-new"),
            Some(&ns),
            Occupants::default(),
            WorkspaceDeletion::Cascade
        ),
        DeletionPlan::Release
    );
}

#[test]
fn deleting_a_workspace_whose_namespace_is_gone_or_going_releases_it() {
    let ws = workspace("team-a").with_uid("1");
    assert_eq!(
        plan_deletion(&ws, None, occupied(), WorkspaceDeletion::Protect),
        DeletionPlan::Release
    );
    let going = terminating(created_for(&ws));
    assert_eq!(
        plan_deletion(&ws, Some(&going), occupied(), WorkspaceDeletion::Protect),
        DeletionPlan::Release
    );
}

#[test]
fn occupants_are_described_with_counts_and_a_few_names() {
    let occupants = Occupants {
        prov: (1..=7).map(|i| format!("c{i}")).collect(),
        fleet: vec!["f1".into()],
    };
    assert_eq!(
        occupants.describe(),
        "7 prov clusters (c1, c2, c3, c4, c5, and 2 more) and 1 fleet cluster (f1)"
    );
    assert_eq!(occupied().describe(), "1 prov cluster (c1)");
}

#[test]
fn a_namespace_holding_clusters_without_a_workspace_gets_an_unmanaged_one_it_owns() {
    let ns = namespace("ops");
    let ws = backpopulated_workspace(&ns, false, true, "fleet-default").expect("a workspace");
    assert_eq!(ws.metadata.name.as_deref(), Some("ops"));
    assert!(!is_managed(&ws));
    let owners = ws.metadata.owner_references.expect("owner references");
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].api_version, "v1");
    assert_eq!(owners[0].kind, "Namespace");
    assert_eq!(owners[0].name, "ops");
    assert_eq!(owners[0].uid, "ns-uid-ops");
    assert_eq!(owners[0].controller, None);
    assert_eq!(owners[0].block_owner_deletion, Some(false));
    let annotations = ws.metadata.annotations.expect("annotations");
    assert_eq!(annotations[annotations::OWNER_NAME], "ops");
    // Rancher's wrangler spelling of a core kind.
    assert_eq!(annotations[annotations::OWNER_GVK], "/v1, Kind=Namespace");
}

#[test]
fn back_population_needs_clusters_no_workspace_and_a_live_namespace() {
    let ns = namespace("ops");
    assert!(backpopulated_workspace(&ns, true, true, "fleet-default").is_none());
    assert!(backpopulated_workspace(&ns, false, false, "fleet-default").is_none());
    assert!(backpopulated_workspace(&terminating(ns), false, true, "fleet-default").is_none());
}

#[test]
fn back_population_leaves_the_default_workspaces_to_the_defaults() {
    for name in ["fleet-local", "custom-default"] {
        assert!(backpopulated_workspace(&namespace(name), false, true, "custom-default").is_none());
    }
    // Not the configured default any more: an ordinary namespace.
    assert!(
        backpopulated_workspace(&namespace("fleet-default"), false, true, "custom-default")
            .is_some()
    );
}

#[test]
fn the_default_workspaces_are_a_managed_default_and_an_unmanaged_local_one() {
    let default = default_workspace("fleet-default");
    assert!(is_managed(&default));
    assert_eq!(default.metadata.annotations, None);
    let local = local_workspace();
    assert_eq!(local.metadata.name.as_deref(), Some("fleet-local"));
    assert!(!is_managed(&local));
    let ns = local_namespace();
    assert_eq!(
        ns.metadata.labels,
        Some(string_map(&[("app.kubernetes.io/managed-by", "rancher")]))
    );
}
