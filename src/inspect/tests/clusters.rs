//! Cluster rows: counterparts, ownership, claims, moves, deletions.

use super::*;

#[test]
fn a_converged_estate_is_consistent() {
    let report = Estate::converged().analyze();
    assert_eq!(problems(&report), vec![]);
    assert!(report.consistent);
    let prod = row(&report, "fleet-default/prod");
    assert_eq!(prod.workspace.as_deref(), Some("fleet-default"));
    assert_eq!(
        prod.mgmt.as_ref().map(ObjectRef::path).as_deref(),
        Some("c-m-bcdfghjk")
    );
    assert_eq!(
        prod.fleet.as_ref().map(ObjectRef::path).as_deref(),
        Some("fleet-default/prod")
    );
    assert_eq!(prod.state, "ok");
    assert_eq!(row(&report, "fleet-local/local").state, "ok");
    assert_eq!(report.clusters.len(), 3);
    let workspaces: Vec<_> = report
        .workspaces
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                w.managed,
                w.namespace.as_deref(),
                w.state.as_str(),
            )
        })
        .collect();
    assert_eq!(
        workspaces,
        vec![
            ("fleet-default", true, Some("fleet-default"), "ok"),
            ("fleet-local", false, Some("fleet-local"), "unmanaged"),
        ]
    );
}

#[test]
fn a_cluster_that_does_not_qualify_for_fleet_yet_is_waiting_not_a_problem() {
    let report = Estate::converged().analyze();
    let legacy = row(&report, "fleet-default/c-ab12c");
    assert_eq!(legacy.fleet, None);
    assert!(legacy.state.starts_with("waiting"), "{}", legacy.state);

    let mut estate = Estate::converged();
    estate.remove_fleet("prod");
    estate.mgmt_mut("c-m-bcdfghjk").status = None;
    let report = estate.analyze();
    assert!(report.consistent, "{:?}", report.problems);
    assert_eq!(
        row(&report, "fleet-default/prod").state,
        "waiting: mgmt cluster is not Ready"
    );
}

#[test]
fn a_prov_cluster_whose_mgmt_cluster_is_gone_is_missing_its_counterpart() {
    let mut estate = Estate::converged();
    estate.remove_mgmt("c-m-bcdfghjk");
    estate.remove_fleet("prod");
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "prov cluster fleet-default/prod".into()
        )]
    );
    assert!(report.problems[0].message.contains("c-m-bcdfghjk"));
    assert!(!report.consistent);
    assert_eq!(
        row(&report, "fleet-default/prod").state,
        "missing counterpart"
    );
}

#[test]
fn a_prov_cluster_without_a_cluster_name_has_no_mgmt_cluster() {
    let mut estate = Estate::converged();
    estate.provs.push(distinct(
        prov("fleet-default", "fresh").with_status(ProvClusterStatus::default()),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "prov cluster fleet-default/fresh".into()
        )]
    );
    assert!(
        report.problems[0]
            .message
            .contains("status.clusterName is unset")
    );
}

#[test]
fn a_qualifying_prov_cluster_without_a_fleet_cluster_is_missing_its_counterpart() {
    let mut estate = Estate::converged();
    estate.remove_fleet("prod");
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "prov cluster fleet-default/prod".into()
        )]
    );
    assert!(
        report.problems[0]
            .message
            .contains("fleet cluster fleet-default/prod")
    );
}

#[test]
fn a_legacy_mgmt_cluster_with_a_workspace_but_no_prov_cluster_is_reported() {
    let mut estate = Estate::converged();
    estate.remove_prov("c-ab12c");
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "mgmt cluster c-ab12c".into()
        )]
    );
    assert!(report.problems[0].message.contains("fleet-default/c-ab12c"));
}

#[test]
fn a_legacy_mgmt_cluster_without_a_workspace_needs_no_prov_cluster() {
    let mut estate = Estate::converged();
    estate.remove_prov("c-ab12c");
    estate.mgmt_mut("c-ab12c").spec.fleet_workspace_name = None;
    let report = estate.analyze();
    assert!(report.consistent, "{:?}", report.problems);
}

#[test]
fn an_externally_managed_legacy_cluster_without_a_workspace_is_represented_in_the_default_one() {
    let mut estate = Estate::converged();
    estate.remove_fleet("c-ab12c");
    let mgmt = estate.mgmt_mut("c-ab12c");
    mgmt.spec.fleet_workspace_name = None;
    mgmt.metadata.annotations = Some(BTreeMap::from([(
        crate::consts::annotations::EXTERNALLY_MANAGED.to_string(),
        "true".to_string(),
    )]));
    let report = estate.analyze();
    assert!(report.consistent, "{:?}", report.problems);
    let legacy = row(&report, "fleet-default/c-ab12c");
    assert_eq!(
        legacy.mgmt,
        Some(ObjectRef::new(Kind::Mgmt, None, "c-ab12c"))
    );
    assert!(legacy.state.starts_with("waiting"), "{}", legacy.state);

    estate.remove_prov("c-ab12c");
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "mgmt cluster c-ab12c".into()
        )]
    );
    assert!(report.problems[0].message.contains("fleet-default/c-ab12c"));
}

#[test]
fn a_non_legacy_mgmt_cluster_that_no_prov_cluster_claims_is_reported() {
    let mut estate = Estate::converged();
    estate.mgmts.push(distinct(
        mgmt("c-m-zzzzzzzz")
            .in_workspace("fleet-default")
            .with_conditions(vec![condition("Ready", "True")]),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::MissingCounterpart,
            "mgmt cluster c-m-zzzzzzzz".into()
        )]
    );
}

#[test]
fn a_mgmt_cluster_whose_owning_prov_cluster_is_gone_is_an_orphan_and_nothing_more() {
    let mut estate = Estate::converged();
    estate.remove_prov("prod");
    estate.remove_fleet("prod");
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::Orphan, "mgmt cluster c-m-bcdfghjk".into())]
    );
    assert!(
        report.problems[0]
            .message
            .contains("prov cluster fleet-default/prod"),
        "{}",
        report.problems[0].message
    );
}

#[test]
fn a_mgmt_cluster_whose_owner_was_recreated_under_the_same_name_is_an_orphan() {
    let mut estate = Estate::converged();
    estate.prov_mut("fleet-default", "prod").metadata.uid = Some("uid-new".into());
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::Orphan, "mgmt cluster c-m-bcdfghjk".into())]
    );
    assert!(report.problems[0].message.contains("re-created"));
}

#[test]
fn rancher_marks_without_a_uid_are_judged_by_name_alone() {
    let mut estate = Estate::converged();
    let m = estate.mgmt_mut("c-m-bcdfghjk");
    if let Some(a) = m.metadata.annotations.as_mut() {
        a.remove("drover.cattle.io/owner-uid");
    }
    estate.prov_mut("fleet-default", "prod").metadata.uid = Some("uid-other".into());
    assert!(estate.analyze().consistent);
}

#[test]
fn owners_of_kinds_inspect_does_not_read_are_not_judged() {
    let mut estate = Estate::converged();
    let mut ns = namespace("p-abcde");
    ns.annotations = Some(BTreeMap::from([
        (
            "objectset.rio.cattle.io/owner-gvk".to_string(),
            "management.cattle.io/v3, Kind=Project".to_string(),
        ),
        (
            "objectset.rio.cattle.io/owner-name".to_string(),
            "gone".to_string(),
        ),
    ]));
    estate.namespaces.push(ns);
    assert!(estate.analyze().consistent);
}

#[test]
fn two_prov_clusters_claiming_one_mgmt_cluster_are_a_duplicate_claim() {
    let mut estate = Estate::converged();
    estate.provs.push(distinct(
        prov("fleet-default", "prod-copy").recorded("c-m-bcdfghjk"),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::DuplicateClaim,
            "mgmt cluster c-m-bcdfghjk".into()
        )]
    );
    assert!(
        report.problems[0]
            .message
            .contains("fleet-default/prod, fleet-default/prod-copy")
    );
    assert_eq!(row(&report, "fleet-default/prod").state, "duplicate claim");
    assert_eq!(
        row(&report, "fleet-default/prod-copy").state,
        "duplicate claim"
    );
}

#[test]
fn a_copy_left_in_the_old_workspace_of_a_moved_legacy_cluster_is_stale() {
    let mut estate = Estate::converged();
    estate.mgmt_mut("c-ab12c").spec.fleet_workspace_name = Some("team-a".into());
    let mut moved = distinct(prov("team-a", "c-ab12c").recorded("c-ab12c"));
    moved.metadata = owned_by(
        moved.metadata.clone(),
        &distinct(mgmt("c-ab12c").with_conditions(vec![condition("Ready", "False")])),
    );
    estate.provs.push(moved);
    let team_a = distinct(workspace("team-a"));
    estate.namespaces.push(namespace_of(&team_a));
    estate.workspaces.push(team_a);
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::Stale,
            "prov cluster fleet-default/c-ab12c".into()
        )]
    );
    assert!(report.problems[0].message.contains("team-a"));
    assert!(row(&report, "team-a/c-ab12c").state.starts_with("waiting"));
}

#[test]
fn a_moved_provisioned_cluster_keeps_its_prov_cluster_and_moves_its_fleet_cluster() {
    let mut estate = Estate::converged();
    estate.mgmt_mut("c-m-bcdfghjk").spec.fleet_workspace_name = Some("team-a".into());
    estate.remove_fleet("prod");
    estate
        .fleets
        .push(distinct(fleet("team-a", "prod").for_mgmt("c-m-bcdfghjk")));
    let team_a = distinct(workspace("team-a"));
    estate.namespaces.push(namespace_of(&team_a));
    estate.workspaces.push(team_a);
    let report = estate.analyze();
    assert!(report.consistent, "{:?}", report.problems);
    let prod = row(&report, "fleet-default/prod");
    assert_eq!(prod.workspace.as_deref(), Some("team-a"));
    assert_eq!(
        prod.fleet.as_ref().map(ObjectRef::path).as_deref(),
        Some("team-a/prod")
    );
}

#[test]
fn a_fleet_cluster_left_in_the_old_workspace_after_a_move_is_stale() {
    let mut estate = Estate::converged();
    estate.mgmt_mut("c-m-bcdfghjk").spec.fleet_workspace_name = Some("team-a".into());
    estate
        .fleets
        .push(distinct(fleet("team-a", "prod").for_mgmt("c-m-bcdfghjk")));
    let team_a = distinct(workspace("team-a"));
    estate.namespaces.push(namespace_of(&team_a));
    estate.workspaces.push(team_a);
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::Stale,
            "fleet cluster fleet-default/prod".into()
        )]
    );
    assert!(report.problems[0].message.contains("team-a/prod"));
}

#[test]
fn a_fleet_cluster_of_a_cluster_that_no_longer_qualifies_is_stale() {
    let mut estate = Estate::converged();
    if let Some(s) = estate.prov_mut("fleet-default", "prod").status.as_mut() {
        s.client_secret_name = None;
    }
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::Stale,
            "fleet cluster fleet-default/prod".into()
        )]
    );
    assert!(
        report.problems[0]
            .message
            .contains("no kubeconfig secret yet")
    );
}

#[test]
fn a_fleet_cluster_labelled_for_a_missing_mgmt_cluster_is_an_orphan() {
    let mut estate = Estate::converged();
    estate.fleets.push(distinct(
        fleet("fleet-default", "ghost").for_mgmt("c-m-gggggggg"),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::Orphan,
            "fleet cluster fleet-default/ghost".into()
        )]
    );
    assert!(report.problems[0].message.contains("c-m-gggggggg"));
}

#[test]
fn a_fleet_cluster_drover_does_not_manage_is_listed_without_a_problem() {
    let mut estate = Estate::converged();
    estate
        .fleets
        .push(distinct(fleet("fleet-default", "self-registered")));
    let report = estate.analyze();
    assert!(report.consistent, "{:?}", report.problems);
    let row = report
        .clusters
        .iter()
        .find(|r| {
            r.fleet.as_ref().map(ObjectRef::path).as_deref()
                == Some("fleet-default/self-registered")
        })
        .expect("row");
    assert_eq!(row.state, "not managed by drover");
}

#[test]
fn a_finalizer_holding_a_deletion_is_named_and_silences_missing_counterparts() {
    let mut estate = Estate::converged();
    estate.remove_mgmt("c-m-bcdfghjk");
    estate.remove_fleet("prod");
    let p = estate.prov_mut("fleet-default", "prod");
    p.metadata = deleting(
        p.metadata.clone(),
        &["wrangler.cattle.io/provisioning-cluster-remove"],
    );
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::FinalizerHoldsDeletion,
            "prov cluster fleet-default/prod".into()
        )]
    );
    assert!(
        report.problems[0]
            .message
            .contains("wrangler.cattle.io/provisioning-cluster-remove")
    );
}
