use super::*;

use crate::fixtures::{condition, mgmt, prov};

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

/// The prov cluster whose status these tests derive, at generation 3.
fn prod() -> ProvCluster {
    prov("fleet-default", "prod").with_generation(3)
}

fn connected(name: &str) -> MgmtCluster {
    mgmt(name)
        .in_workspace("fleet-default")
        .with_conditions(vec![
            condition("Ready", "True"),
            condition("Connected", "True"),
            condition("AgentDeployed", "True"),
        ])
}

fn not_connected(name: &str) -> MgmtCluster {
    mgmt(name)
        .in_workspace("fleet-default")
        .with_conditions(vec![condition("Connected", "False")])
}

fn observed<'a>(mgmt: Option<&'a MgmtCluster>, secret_exists: Option<bool>) -> Observed<'a> {
    Observed {
        mgmt_name: "c-m-abcdefgh",
        mgmt,
        refusal: None,
        kubeconfig_secret_exists: secret_exists,
        kubeconfig_secret_name: "prod-kubeconfig".into(),
        missing_workspace: None,
        fleet_problem: None,
    }
}

#[test]
fn a_missing_workspace_namespace_is_reported_as_the_wait() {
    let m = connected("c-m-abcdefgh");
    let obs = Observed {
        missing_workspace: Some("team-z"),
        ..observed(Some(&m), Some(true))
    };
    let status = desired_prov_status(&prod(), &obs, T1);
    let reconciling = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Reconciling")
        .expect("Reconciling");
    assert_eq!(reconciling.status, "True");
    assert!(reconciling.message.unwrap_or_default().contains("team-z"));
}

fn find<'a>(status: &'a ProvClusterStatus, type_: &str) -> &'a Condition {
    find_condition(status.conditions.as_deref().unwrap_or_default(), type_)
        .unwrap_or_else(|| panic!("condition {type_} in {status:?}"))
}

fn assert_condition(status: &ProvClusterStatus, type_: &str, value: &str, reason: &str) {
    let c = find(status, type_);
    assert_eq!(c.status, value, "{type_}: {c:?}");
    assert_eq!(c.reason.as_deref(), Some(reason), "{type_}: {c:?}");
}

// merge_conditions

#[test]
fn a_new_condition_transitions_now() {
    let merged = merge_conditions(&[], &[Wanted::new("Ready", true, "Connected", "")], T1);
    assert_eq!(
        merged,
        vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("Connected".into()),
            message: None,
            last_transition_time: Some(T1.into()),
            last_update_time: None,
        }]
    );
}

#[test]
fn a_condition_whose_status_is_unchanged_keeps_its_transition_time() {
    let previous = merge_conditions(
        &[],
        &[Wanted::new("Reconciling", true, "Creating", "a")],
        T1,
    );
    let merged = merge_conditions(
        &previous,
        &[Wanted::new("Reconciling", true, "Waiting", "b")],
        T2,
    );
    assert_eq!(merged[0].last_transition_time.as_deref(), Some(T1));
    assert_eq!(merged[0].reason.as_deref(), Some("Waiting"));
    assert_eq!(merged[0].message.as_deref(), Some("b"));
}

#[test]
fn a_condition_whose_status_flips_transitions_now() {
    let previous = merge_conditions(&[], &[Wanted::new("Ready", false, "NotConnected", "")], T1);
    let merged = merge_conditions(
        &previous,
        &[Wanted::new("Ready", true, "Connected", "")],
        T2,
    );
    assert_eq!(merged[0].last_transition_time.as_deref(), Some(T2));
}

#[test]
fn a_previous_condition_without_a_transition_time_gets_one() {
    let previous = [condition("Ready", "True")];
    let merged = merge_conditions(
        &previous,
        &[Wanted::new("Ready", true, "Connected", "")],
        T2,
    );
    assert_eq!(merged[0].last_transition_time.as_deref(), Some(T2));
}

#[test]
fn merged_conditions_are_the_wanted_ones_in_the_wanted_order() {
    let previous = [condition("Provisioned", "True"), condition("Ready", "True")];
    let merged = merge_conditions(
        &previous,
        &[
            Wanted::new("Stalled", false, "Reconciled", ""),
            Wanted::new("Ready", true, "Connected", ""),
        ],
        T1,
    );
    let types: Vec<&str> = merged.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Stalled", "Ready"]);
}

#[test]
fn merging_the_same_wanted_conditions_again_changes_nothing() {
    let wanted = [
        Wanted::new("Created", true, "Created", "mgmt cluster c-m-abcdefgh"),
        Wanted::new("Ready", false, "NotConnected", "not yet"),
    ];
    let first = merge_conditions(&[], &wanted, T1);
    assert_eq!(merge_conditions(&first, &wanted, T2), first);
}

// desired_prov_status: the path to ready

#[test]
fn before_the_mgmt_cluster_exists_the_prov_cluster_is_reconciling_and_records_no_name() {
    let status = desired_prov_status(&prod(), &observed(None, Some(false)), T1);
    assert_eq!(status.cluster_name, None);
    assert_eq!(status.ready, Some(false));
    assert_eq!(status.agent_deployed, Some(false));
    assert_eq!(status.client_secret_name, None);
    assert_eq!(status.fleet_workspace_name, None);
    assert_condition(&status, "Created", "False", "Creating");
    assert_condition(&status, "Ready", "False", "NotConnected");
    assert_condition(&status, "Reconciling", "True", "Creating");
    assert_condition(&status, "Stalled", "False", "Creating");
    assert_eq!(
        find(&status, "Created").message.as_deref(),
        Some("creating mgmt cluster c-m-abcdefgh")
    );
}

#[test]
fn once_the_mgmt_cluster_exists_its_name_and_workspace_are_recorded() {
    let m = not_connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(false)), T1);
    assert_eq!(status.cluster_name.as_deref(), Some("c-m-abcdefgh"));
    assert_eq!(
        status.fleet_workspace_name.as_deref(),
        Some("fleet-default")
    );
    assert_eq!(status.ready, Some(false));
    assert_condition(&status, "Created", "True", "Created");
    assert_condition(&status, "Ready", "False", "NotConnected");
    assert_condition(&status, "Reconciling", "True", "Waiting");
    assert_condition(&status, "Stalled", "False", "Reconciled");
    assert_eq!(
        find(&status, "Reconciling").message.as_deref(),
        Some("waiting for mgmt cluster c-m-abcdefgh to be Connected")
    );
}

#[test]
fn a_connected_mgmt_cluster_with_its_kubeconfig_secret_makes_the_prov_cluster_ready() {
    let m = connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(true)), T1);
    assert_eq!(status.ready, Some(true));
    assert_eq!(status.agent_deployed, Some(true));
    assert_eq!(
        status.client_secret_name.as_deref(),
        Some("prod-kubeconfig")
    );
    assert_condition(&status, "Created", "True", "Created");
    assert_condition(&status, "Ready", "True", "Connected");
    assert_condition(&status, "Reconciling", "False", "Reconciled");
    assert_condition(&status, "Stalled", "False", "Reconciled");
}

#[test]
fn readiness_comes_from_connected_not_from_ready() {
    let ready_only = mgmt("c-m-abcdefgh")
        .in_workspace("fleet-default")
        .with_conditions(vec![
            condition("Ready", "True"),
            condition("Connected", "Unknown"),
        ]);
    let status = desired_prov_status(&prod(), &observed(Some(&ready_only), Some(true)), T1);
    assert_eq!(status.ready, Some(false));
    assert_eq!(status.client_secret_name, None);
}

#[test]
fn a_ready_cluster_without_its_kubeconfig_secret_waits_for_it() {
    let m = connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(false)), T1);
    assert_eq!(status.ready, Some(true));
    assert_eq!(status.client_secret_name, None);
    assert_condition(&status, "Reconciling", "True", "Waiting");
    assert_eq!(
        find(&status, "Reconciling").message.as_deref(),
        Some("waiting for kubeconfig secret prod-kubeconfig")
    );
}

#[test]
fn a_kubeconfig_secret_of_a_cluster_not_yet_ready_is_not_recorded() {
    let m = not_connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(true)), T1);
    assert_eq!(status.client_secret_name, None);
}

#[test]
fn without_secret_observation_the_conventional_name_is_recorded_once_ready() {
    let m = connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), None), T1);
    assert_eq!(
        status.client_secret_name.as_deref(),
        Some("prod-kubeconfig")
    );

    let waiting = not_connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&waiting), None), T1);
    assert_eq!(status.client_secret_name, None);
}

#[test]
fn the_agent_deployed_flag_follows_the_mgmt_condition() {
    let m = mgmt("c-m-abcdefgh")
        .in_workspace("fleet-default")
        .with_conditions(vec![
            condition("Connected", "True"),
            condition("AgentDeployed", "False"),
        ]);
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(true)), T1);
    assert_eq!(status.agent_deployed, Some(false));
}

#[test]
fn the_observed_generation_is_the_prov_generation() {
    let status = desired_prov_status(&prod(), &observed(None, None), T1);
    assert_eq!(status.observed_generation, Some(3));
}

// desired_prov_status: what never goes back

fn ready_before() -> ProvClusterStatus {
    ProvClusterStatus {
        cluster_name: Some("c-m-abcdefgh".into()),
        fleet_workspace_name: Some("fleet-default".into()),
        observed_generation: Some(2),
        ready: Some(true),
        agent_deployed: Some(true),
        client_secret_name: Some("prod-kubeconfig".into()),
        conditions: None,
    }
}

#[test]
fn a_ready_cluster_stays_ready_when_its_mgmt_cluster_disconnects() {
    let m = not_connected("c-m-abcdefgh");
    let status = desired_prov_status(
        &prod().with_status(ready_before()),
        &observed(Some(&m), Some(true)),
        T1,
    );
    assert_eq!(status.ready, Some(true));
    assert_condition(&status, "Ready", "True", "Connected");
}

#[test]
fn the_kubeconfig_secret_name_stays_once_set() {
    let m = not_connected("c-m-abcdefgh");
    let status = desired_prov_status(
        &prod().with_status(ready_before()),
        &observed(Some(&m), Some(false)),
        T1,
    );
    assert_eq!(
        status.client_secret_name.as_deref(),
        Some("prod-kubeconfig")
    );
}

#[test]
fn the_recorded_mgmt_name_never_changes() {
    let m = connected("c-m-other000");
    let obs = Observed {
        mgmt_name: "c-m-other000",
        ..observed(Some(&m), Some(true))
    };
    let status = desired_prov_status(&prod().with_status(ready_before()), &obs, T1);
    assert_eq!(status.cluster_name.as_deref(), Some("c-m-abcdefgh"));
}

#[test]
fn a_ready_cluster_whose_mgmt_cluster_is_gone_keeps_what_it_recorded() {
    let status = desired_prov_status(
        &prod().with_status(ready_before()),
        &observed(None, Some(false)),
        T1,
    );
    assert_eq!(status.cluster_name.as_deref(), Some("c-m-abcdefgh"));
    assert_eq!(
        status.fleet_workspace_name.as_deref(),
        Some("fleet-default")
    );
    assert_eq!(status.ready, Some(true));
    assert_eq!(
        status.client_secret_name.as_deref(),
        Some("prod-kubeconfig")
    );
}

#[test]
fn the_status_workspace_follows_the_mgmt_workspace() {
    let moved = mgmt("c-m-abcdefgh")
        .in_workspace("team-a")
        .with_conditions(vec![condition("Connected", "True")]);
    let status = desired_prov_status(
        &prod().with_status(ready_before()),
        &observed(Some(&moved), Some(true)),
        T1,
    );
    assert_eq!(status.fleet_workspace_name.as_deref(), Some("team-a"));

    let cleared = mgmt("c-m-abcdefgh")
        .in_workspace("")
        .with_conditions(vec![condition("Connected", "True")]);
    let status = desired_prov_status(
        &prod().with_status(ready_before()),
        &observed(Some(&cleared), Some(true)),
        T1,
    );
    assert_eq!(
        status.fleet_workspace_name.as_deref(),
        Some("fleet-default")
    );
}

// desired_prov_status: refusals

#[test]
fn a_refusal_makes_created_false_and_stalled_true_with_the_message() {
    let obs = Observed {
        refusal: Some((
            "MgmtClusterClaimed",
            "mgmt cluster c-m-abcdefgh exists and was not created for this cluster".into(),
        )),
        ..observed(None, Some(false))
    };
    let status = desired_prov_status(&prod(), &obs, T1);
    assert_condition(&status, "Created", "False", "MgmtClusterClaimed");
    assert_condition(&status, "Stalled", "True", "MgmtClusterClaimed");
    assert_condition(&status, "Reconciling", "False", "MgmtClusterClaimed");
    assert_condition(&status, "Ready", "False", "NotConnected");
    for type_ in ["Created", "Stalled"] {
        assert_eq!(
            find(&status, type_).message.as_deref(),
            Some("mgmt cluster c-m-abcdefgh exists and was not created for this cluster"),
            "{type_}"
        );
    }
    assert_eq!(find(&status, "Reconciling").message, None);
    assert_eq!(status.cluster_name, None);
    assert_eq!(status.ready, Some(false));
}

#[test]
fn a_refused_mgmt_cluster_is_never_recorded_nor_trusted() {
    // A mgmt cluster that belongs to someone else: recording its name would make it ours on the
    // next pass, and its Connected condition says nothing about this prov cluster.
    let foreign = connected("c-m-abcdefgh");
    let obs = Observed {
        refusal: Some(("MgmtClusterClaimed", "belongs to someone else".into())),
        ..observed(Some(&foreign), Some(true))
    };
    let status = desired_prov_status(&prod(), &obs, T1);
    assert_eq!(status.cluster_name, None);
    assert_eq!(status.ready, Some(false));
    assert_eq!(status.agent_deployed, Some(false));
    assert_eq!(status.client_secret_name, None);
    assert_eq!(status.fleet_workspace_name, None);
    assert_condition(&status, "Created", "False", "MgmtClusterClaimed");
}

#[test]
fn a_refusal_on_the_recorded_mgmt_cluster_keeps_reading_it() {
    let ours = mgmt("c-m-abcdefgh")
        .in_workspace("team-a")
        .with_conditions(vec![
            condition("Connected", "True"),
            condition("AgentDeployed", "True"),
        ]);
    let before = ProvClusterStatus {
        cluster_name: Some("c-m-abcdefgh".into()),
        ..ProvClusterStatus::default()
    };
    let obs = Observed {
        refusal: Some(("ApplyRejected", "moving to team-a is not allowed".into())),
        ..observed(Some(&ours), Some(true))
    };
    let status = desired_prov_status(&prod().with_status(before), &obs, T1);
    assert_eq!(status.cluster_name.as_deref(), Some("c-m-abcdefgh"));
    assert_eq!(status.ready, Some(true));
    assert_eq!(status.agent_deployed, Some(true));
    assert_eq!(status.fleet_workspace_name.as_deref(), Some("team-a"));
    assert_condition(&status, "Stalled", "True", "ApplyRejected");
}

#[test]
fn a_resolved_refusal_clears_stalled() {
    let refused = Observed {
        refusal: Some(("MgmtClusterClaimed", "taken".into())),
        ..observed(None, Some(false))
    };
    let first = desired_prov_status(&prod(), &refused, T1);
    let m = not_connected("c-m-abcdefgh");
    let second = desired_prov_status(
        &prod().with_status(first),
        &observed(Some(&m), Some(false)),
        T2,
    );
    assert_condition(&second, "Stalled", "False", "Reconciled");
    assert_condition(&second, "Created", "True", "Created");
    assert_eq!(
        find(&second, "Stalled").last_transition_time.as_deref(),
        Some(T2)
    );
    assert_eq!(find(&second, "Stalled").message, None);
}

// desired_prov_status: the fleet cluster

#[test]
fn a_fleet_cluster_problem_makes_stalled_true_while_created_stays_true() {
    let m = connected("c-m-abcdefgh");
    let obs = Observed {
        fleet_problem: Some((
            "FleetClusterNotAdopted",
            "fleet cluster fleet-default/prod exists and was not created by drover".into(),
        )),
        ..observed(Some(&m), Some(true))
    };
    let status = desired_prov_status(&prod(), &obs, T1);
    assert_condition(&status, "Created", "True", "Created");
    assert_condition(&status, "Stalled", "True", "FleetClusterNotAdopted");
    assert_condition(&status, "Reconciling", "False", "FleetClusterNotAdopted");
    assert!(
        find(&status, "Stalled")
            .message
            .as_deref()
            .is_some_and(|m| m.contains("fleet-default/prod"))
    );
    // What the counterpart says is still recorded.
    assert_eq!(status.cluster_name.as_deref(), Some("c-m-abcdefgh"));
    assert_eq!(status.ready, Some(true));
    assert_eq!(
        status.client_secret_name.as_deref(),
        Some("prod-kubeconfig")
    );
}

#[test]
fn a_resolved_fleet_cluster_problem_clears_stalled() {
    let m = connected("c-m-abcdefgh");
    let failing = Observed {
        fleet_problem: Some(("FleetClusterWriteFailed", "refused".into())),
        ..observed(Some(&m), Some(true))
    };
    let first = desired_prov_status(&prod(), &failing, T1);
    let second = desired_prov_status(
        &prod().with_status(first),
        &observed(Some(&m), Some(true)),
        T2,
    );
    assert_condition(&second, "Stalled", "False", "Reconciled");
    assert_condition(&second, "Reconciling", "False", "Reconciled");
}

#[test]
fn a_mgmt_refusal_wins_over_a_fleet_cluster_problem() {
    let obs = Observed {
        refusal: Some(("MgmtClusterClaimed", "taken".into())),
        fleet_problem: Some(("FleetClusterWriteFailed", "refused".into())),
        ..observed(None, Some(false))
    };
    let status = desired_prov_status(&prod(), &obs, T1);
    assert_condition(&status, "Stalled", "True", "MgmtClusterClaimed");
}

// desired_prov_status: no flapping

#[test]
fn a_no_op_reconcile_yields_an_identical_status() {
    let m = connected("c-m-abcdefgh");
    let first = desired_prov_status(&prod(), &observed(Some(&m), Some(true)), T1);
    let second = desired_prov_status(
        &prod().with_status(first.clone()),
        &observed(Some(&m), Some(true)),
        T2,
    );
    assert_eq!(second, first);
}

#[test]
fn a_waiting_cluster_reconciled_again_yields_an_identical_status() {
    let m = not_connected("c-m-abcdefgh");
    let first = desired_prov_status(&prod(), &observed(Some(&m), Some(false)), T1);
    let second = desired_prov_status(
        &prod().with_status(first.clone()),
        &observed(Some(&m), Some(false)),
        T2,
    );
    assert_eq!(second, first);
}

#[test]
fn only_conditions_that_flip_get_a_new_transition_time() {
    let waiting = not_connected("c-m-abcdefgh");
    let first = desired_prov_status(&prod(), &observed(Some(&waiting), Some(true)), T1);
    let m = connected("c-m-abcdefgh");
    let second = desired_prov_status(
        &prod().with_status(first),
        &observed(Some(&m), Some(true)),
        T2,
    );
    let third = desired_prov_status(
        &prod().with_status(second.clone()),
        &observed(Some(&m), Some(true)),
        T3,
    );

    assert_eq!(
        find(&second, "Created").last_transition_time.as_deref(),
        Some(T1)
    );
    assert_eq!(
        find(&second, "Stalled").last_transition_time.as_deref(),
        Some(T1)
    );
    assert_eq!(
        find(&second, "Ready").last_transition_time.as_deref(),
        Some(T2)
    );
    assert_eq!(
        find(&second, "Reconciling").last_transition_time.as_deref(),
        Some(T2)
    );
    assert_eq!(third, second);
}

#[test]
fn the_status_has_the_four_conditions_in_a_fixed_order() {
    let m = connected("c-m-abcdefgh");
    let status = desired_prov_status(&prod(), &observed(Some(&m), Some(true)), T1);
    let types: Vec<&str> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, ["Created", "Ready", "Reconciling", "Stalled"]);
}
