//! When a prov cluster qualifies for a Fleet cluster, and what it waits for until then.

use super::*;

// fleet_wait_reason

#[test]
fn a_prov_cluster_with_name_secret_and_a_ready_mgmt_cluster_in_a_workspace_qualifies() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    assert_eq!(
        fleet_wait_reason(&p, &downstream("c-m-abcdefgh", "fleet-default")),
        None
    );
}

#[test]
fn a_prov_cluster_without_a_recorded_mgmt_name_waits() {
    let m = downstream("c-m-abcdefgh", "fleet-default");
    let mut p = prov("fleet-default", "prod").ready_as("");
    assert_eq!(
        fleet_wait_reason(&p, &m),
        Some("no mgmt cluster name recorded yet")
    );
    p.status = None;
    assert_eq!(
        fleet_wait_reason(&p, &m),
        Some("no mgmt cluster name recorded yet")
    );
}

#[test]
fn a_prov_cluster_without_a_kubeconfig_secret_waits() {
    let m = downstream("c-m-abcdefgh", "fleet-default");
    let mut p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    for secret in [None, Some(String::new())] {
        p.status.as_mut().expect("status").client_secret_name = secret;
        assert_eq!(fleet_wait_reason(&p, &m), Some("no kubeconfig secret yet"));
    }
}

#[test]
fn a_prov_cluster_whose_mgmt_cluster_is_not_ready_waits() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    for conditions in [
        None,
        Some(vec![]),
        Some(vec![condition("Connected", "True")]),
        Some(vec![condition("Ready", "False")]),
        Some(vec![condition("Ready", "Unknown")]),
    ] {
        let m = MgmtCluster {
            status: Some(MgmtClusterStatus { conditions }),
            ..downstream("c-m-abcdefgh", "fleet-default")
        };
        assert_eq!(fleet_wait_reason(&p, &m), Some("mgmt cluster is not Ready"));
    }
}

#[test]
fn a_prov_cluster_whose_mgmt_cluster_has_no_workspace_waits() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let mut m = downstream("c-m-abcdefgh", "");
    assert_eq!(
        fleet_wait_reason(&p, &m),
        Some("mgmt cluster has no workspace")
    );
    m.spec.fleet_workspace_name = None;
    assert_eq!(
        fleet_wait_reason(&p, &m),
        Some("mgmt cluster has no workspace")
    );
}
