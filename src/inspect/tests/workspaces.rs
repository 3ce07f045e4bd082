//! Workspace rows, namespaces, and how the report is printed.

use super::*;

#[test]
fn a_managed_workspace_over_a_namespace_drover_did_not_create_is_not_adopted() {
    let mut estate = Estate::converged();
    estate.workspaces.push(distinct(workspace("legacy-team")));
    estate.namespaces.push(namespace("legacy-team"));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(
            ProblemKind::NamespaceNotAdopted,
            "workspace legacy-team".into()
        )]
    );
    assert!(report.problems[0].message.contains("namespace legacy-team"));
    let row = report
        .workspaces
        .iter()
        .find(|w| w.name == "legacy-team")
        .expect("row");
    assert_eq!(row.state, "namespace not adopted");
}

#[test]
fn a_namespace_managed_by_rancher_or_explicitly_allowed_is_adoptable() {
    for (labels, annotations) in [
        (vec![("app.kubernetes.io/managed-by", "rancher")], vec![]),
        (
            vec![],
            vec![(
                "field.cattle.io/allow-fleetworkspace-creation-for-existing-namespace",
                "true",
            )],
        ),
    ] {
        let mut estate = Estate::converged();
        estate.workspaces.push(distinct(workspace("legacy-team")));
        let mut ns = namespace("legacy-team");
        ns.labels = Some(string_map(&labels));
        ns.annotations = Some(string_map(&annotations));
        estate.namespaces.push(ns);
        let report = estate.analyze();
        assert!(report.consistent, "{:?}", report.problems);
    }
}

#[test]
fn a_namespace_created_for_another_workspace_is_not_adopted() {
    let mut estate = Estate::converged();
    estate.workspaces.push(distinct(workspace("team-b")));
    estate.namespaces.push(owned_by(
        namespace("team-b"),
        &distinct(workspace("fleet-default")),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::NamespaceNotAdopted, "workspace team-b".into())]
    );
}

#[test]
fn a_managed_workspace_without_a_namespace_is_missing_it_and_an_unmanaged_one_is_not() {
    let mut estate = Estate::converged();
    estate.workspaces.push(distinct(workspace("team-c")));
    estate.workspaces.push(unmanaged_workspace("team-d"));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::MissingCounterpart, "workspace team-c".into())]
    );
}

#[test]
fn a_namespace_holding_clusters_without_a_workspace_is_reported() {
    let mut estate = Estate::converged();
    estate.fleets.push(distinct(fleet("ops", "edge")));
    estate.namespaces.push(namespace("ops"));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::MissingCounterpart, "namespace ops".into())]
    );
}

#[test]
fn a_namespace_whose_workspace_is_gone_is_an_orphan() {
    let mut estate = Estate::converged();
    estate.namespaces.push(owned_by(
        namespace("team-e"),
        &distinct(workspace("team-e")),
    ));
    let report = estate.analyze();
    assert_eq!(
        problems(&report),
        vec![(ProblemKind::Orphan, "namespace team-e".into())]
    );
}

#[test]
fn the_table_shows_one_row_per_cluster_and_lists_the_problems() {
    let mut estate = Estate::converged();
    estate.remove_fleet("prod");
    let table = estate.analyze().to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("WORKSPACE"), "{table}");
    assert!(lines[0].contains("PROV") && lines[0].contains("FLEET") && lines[0].contains("STATE"));
    assert!(
        lines.iter().any(|l| l.starts_with("fleet-default")
            && l.contains("c-m-bcdfghjk")
            && l.ends_with("missing counterpart")),
        "{table}"
    );
    assert!(table.contains("1 problem(s):"), "{table}");
    assert!(
        table.contains("- [missing counterpart] prov cluster fleet-default/prod: "),
        "{table}"
    );

    let table = Estate::converged().analyze().to_table();
    assert!(table.ends_with("All consistent.\n"), "{table}");
}

#[test]
fn the_json_report_is_machine_readable() {
    let mut estate = Estate::converged();
    estate.remove_fleet("prod");
    let json = serde_json::to_value(estate.analyze()).expect("json");
    assert_eq!(json["consistent"], false);
    assert_eq!(json["problems"][0]["kind"], "missing-counterpart");
    assert_eq!(json["problems"][0]["object"]["kind"], "prov");
    assert_eq!(json["problems"][0]["object"]["namespace"], "fleet-default");
    assert_eq!(json["problems"][0]["object"]["name"], "prod");
    assert!(json["clusters"].as_array().is_some_and(|c| c.len() == 3));
    assert_eq!(json["workspaces"][0]["name"], "fleet-default");
}

#[test]
fn nothing_at_all_is_consistent() {
    let report = analyze(&[], &[], &[], &[], &[], crate::consts::DEFAULT_WORKSPACE);
    assert!(report.consistent);
    assert!(report.clusters.is_empty());
}
