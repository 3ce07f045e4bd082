//! The private registry and the agent's pull secrets.

use super::*;

// desired_fleet_cluster: registry and pull secrets

#[test]
fn the_prov_system_default_registry_wins() {
    let p = provisioned_with_registry(
        prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        "prov.example.com",
    );
    let m = with_imported_config(
        downstream("c-m-abcdefgh", "fleet-default"),
        Some("mgmt.example.com"),
        &[],
    );
    let s = FleetSettings {
        default_registry: Some("default.example.com".into()),
        ..settings()
    };
    let f = desired_fleet_cluster(&p, &m, &[], &s, None);
    assert_eq!(f.spec.private_repo_url.as_deref(), Some("prov.example.com"));
}

#[test]
fn the_mgmt_imported_registry_comes_next() {
    let mut p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    p.spec.rke_config = Some(json!({"machineGlobalConfig": {"system-default-registry": ""}}));
    let m = with_imported_config(
        downstream("c-m-abcdefgh", "fleet-default"),
        Some("mgmt.example.com"),
        &[],
    );
    let s = FleetSettings {
        default_registry: Some("default.example.com".into()),
        ..settings()
    };
    let f = desired_fleet_cluster(&p, &m, &[], &s, None);
    assert_eq!(f.spec.private_repo_url.as_deref(), Some("mgmt.example.com"));
}

#[test]
fn the_default_registry_is_the_last_resort() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let m = with_imported_config(downstream("c-m-abcdefgh", "fleet-default"), Some(""), &[]);
    let s = FleetSettings {
        default_registry: Some("default.example.com".into()),
        ..settings()
    };
    let f = desired_fleet_cluster(&p, &m, &[], &s, None);
    assert_eq!(
        f.spec.private_repo_url.as_deref(),
        Some("default.example.com")
    );
}

#[test]
fn without_any_registry_there_is_no_private_repo_url() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let s = FleetSettings {
        default_registry: Some(String::new()),
        ..settings()
    };
    let f = desired_fleet_cluster(
        &p,
        &downstream("c-m-abcdefgh", "fleet-default"),
        &[],
        &s,
        None,
    );
    assert_eq!(f.spec.private_repo_url, None);
}

/// Fleet's `agentPullSecrets` entries for these secret names.
fn secret_refs(names: &[&str]) -> Vec<LocalObjectReference> {
    names
        .iter()
        .map(|n| LocalObjectReference {
            name: n.to_string(),
        })
        .collect()
}

#[test]
fn a_non_legacy_cluster_gets_no_pull_secrets() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let m = with_imported_config(
        downstream("c-m-abcdefgh", "fleet-default"),
        Some("mgmt.example.com"),
        &["regcred"],
    );
    assert_eq!(desired(&p, &m).spec.agent_pull_secrets, Some(vec![]));
}

#[test]
fn a_cluster_without_a_registry_gets_no_pull_secrets() {
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let m = with_imported_config(downstream("c-ab12c", "fleet-default"), None, &["regcred"]);
    assert_eq!(desired(&p, &m).spec.agent_pull_secrets, Some(vec![]));
}

#[test]
fn the_local_cluster_uses_its_pull_secrets_unchanged() {
    let p = prov("fleet-local", "local").ready_as("local");
    let m = with_imported_config(
        local_mgmt(),
        Some("mgmt.example.com"),
        &["regcred", "other"],
    );
    assert_eq!(
        desired(&p, &m).spec.agent_pull_secrets,
        Some(secret_refs(&["regcred", "other"]))
    );
}

#[test]
fn a_legacy_cluster_uses_rancher_managed_copies_of_its_pull_secrets() {
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let m = with_imported_config(
        downstream("c-ab12c", "fleet-default"),
        Some("mgmt.example.com"),
        &["regcred", "other"],
    );
    assert_eq!(
        desired(&p, &m).spec.agent_pull_secrets,
        Some(secret_refs(&[
            "regcred-rancher-managed-pull-secret",
            "other-rancher-managed-pull-secret",
        ]))
    );
}

#[test]
fn a_legacy_cluster_without_pull_secrets_gets_none() {
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let mut m = with_imported_config(
        downstream("c-ab12c", "fleet-default"),
        Some("mgmt.example.com"),
        &[],
    );
    assert_eq!(desired(&p, &m).spec.agent_pull_secrets, Some(vec![]));
    m.spec
        .imported_config
        .as_mut()
        .expect("config")
        .private_registry_pull_secrets = None;
    assert_eq!(desired(&p, &m).spec.agent_pull_secrets, Some(vec![]));
}

#[test]
fn agent_pull_secrets_are_written_as_fleets_object_references() {
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let m = with_imported_config(
        downstream("c-ab12c", "fleet-default"),
        Some("mgmt.example.com"),
        &["regcred", "other"],
    );
    let spec = serde_json::to_value(desired(&p, &m).spec).expect("json");
    assert_eq!(
        spec["agentPullSecrets"],
        json!([
            {"name": "regcred-rancher-managed-pull-secret"},
            {"name": "other-rancher-managed-pull-secret"}
        ])
    );
    let local = with_imported_config(local_mgmt(), Some("mgmt.example.com"), &["regcred"]);
    let spec =
        serde_json::to_value(desired(&prov("fleet-local", "local").ready_as("local"), &local).spec)
            .expect("json");
    assert_eq!(spec["agentPullSecrets"], json!([{"name": "regcred"}]));
}

#[test]
fn no_agent_pull_secrets_are_written_as_an_empty_list() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let spec = serde_json::to_value(desired(&p, &downstream("c-m-abcdefgh", "fleet-default")).spec)
        .expect("json");
    assert_eq!(spec["agentPullSecrets"], json!([]));
}

#[test]
fn managed_pull_secret_names_are_kept_within_63_characters() {
    let long = format!("{}-{}", "a".repeat(34), "b".repeat(30));
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let m = with_imported_config(
        downstream("c-ab12c", "fleet-default"),
        Some("mgmt.example.com"),
        &[&long],
    );
    let secrets = desired(&p, &m)
        .spec
        .agent_pull_secrets
        .expect("pull secrets");
    assert_eq!(secrets.len(), 1);
    let name = &secrets[0].name;
    assert!(name.len() <= 63, "{name} has {} characters", name.len());
    let base = name
        .strip_suffix(MANAGED_PULL_SECRET_SUFFIX)
        .expect("suffixed");
    assert!(long.starts_with(base), "{name}");
    assert!(!base.ends_with('-'), "{name}");
    assert_eq!(base, "a".repeat(34));
}

#[test]
fn a_pull_secret_name_that_fits_is_not_truncated() {
    let fits = "r".repeat(63 - MANAGED_PULL_SECRET_SUFFIX.len());
    let p = prov("fleet-default", "c-ab12c").ready_as("c-ab12c");
    let m = with_imported_config(
        downstream("c-ab12c", "fleet-default"),
        Some("mgmt.example.com"),
        &[&fits],
    );
    let secrets = desired(&p, &m)
        .spec
        .agent_pull_secrets
        .expect("pull secrets");
    assert_eq!(
        secrets,
        vec![LocalObjectReference {
            name: format!("{fits}{MANAGED_PULL_SECRET_SUFFIX}")
        }]
    );
    assert_eq!(secrets[0].name.len(), 63);
}
