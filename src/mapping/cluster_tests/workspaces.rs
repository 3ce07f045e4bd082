//! The workspace a mgmt cluster is assigned, and where a legacy prov cluster lives.

use super::*;

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
