use super::*;
use crate::mapping::status::merge_conditions;

fn occupied() -> Occupants {
    Occupants {
        prov: vec!["c1".into()],
        fleet: vec![],
    }
}

#[test]
fn an_unmanaged_workspace_wants_no_conditions() {
    assert!(wanted_conditions("a", None).is_empty());
}

#[test]
fn a_namespace_not_adopted_is_reported_with_the_namespace_and_the_way_out() {
    let wanted = wanted_conditions(
        "legacy-team",
        Some(&Situation::NotAdopted(NotAdopted::Foreign)),
    );
    assert_eq!(wanted.len(), 1);
    assert_eq!(wanted[0].type_, conditions::NAMESPACE_READY);
    assert!(!wanted[0].status);
    assert_eq!(wanted[0].reason, reasons::NAMESPACE_NOT_ADOPTED);
    assert!(wanted[0].message.contains("namespace legacy-team"));
    assert!(
        wanted[0]
            .message
            .contains(annotations::ALLOW_EXISTING_NAMESPACE)
    );
}

#[test]
fn a_waiting_deletion_is_reported_as_stalled_naming_the_clusters() {
    let wanted = wanted_conditions("team-a", Some(&Situation::DeletionWaits(occupied())));
    assert_eq!(wanted.len(), 1);
    assert_eq!(wanted[0].type_, conditions::STALLED);
    assert!(wanted[0].status);
    assert!(
        wanted[0].message.contains("1 prov cluster (c1)"),
        "{}",
        wanted[0].message
    );
}

fn merged(situation: Option<&Situation>, previous: &[Condition], now: &str) -> Vec<Condition> {
    merge_conditions(previous, &wanted_conditions("a", situation), now)
}

#[test]
fn an_unchanged_situation_gives_identical_conditions_and_no_notice() {
    let first = merged(Some(&Situation::NotAdopted(NotAdopted::Foreign)), &[], "t1");
    let second = merged(
        Some(&Situation::NotAdopted(NotAdopted::Foreign)),
        &first,
        "t2",
    );
    assert_eq!(first, second);
    assert!(notices(&first, &second).is_empty());
}

#[test]
fn a_new_problem_gives_one_warning_and_its_clearing_one_normal_notice() {
    let problem = merged(Some(&Situation::NotAdopted(NotAdopted::Foreign)), &[], "t1");
    let warnings = notices(&[], &problem);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].warning);
    assert_eq!(warnings[0].reason, reasons::NAMESPACE_NOT_ADOPTED);
    let fine = merged(Some(&Situation::Ready), &problem, "t2");
    let cleared = notices(&problem, &fine);
    assert_eq!(cleared.len(), 1);
    assert!(!cleared[0].warning);
}

#[test]
fn a_workspace_that_is_fine_from_the_start_gives_no_notice() {
    let fine = merged(Some(&Situation::Ready), &[], "t1");
    assert!(notices(&[], &fine).is_empty());
}

#[test]
fn a_waiting_deletion_warns_again_when_the_clusters_it_waits_for_change() {
    let one = merged(Some(&Situation::DeletionWaits(occupied())), &[], "t1");
    let two_occupants = Occupants {
        prov: vec!["c1".into(), "c2".into()],
        fleet: vec![],
    };
    let two = merged(Some(&Situation::DeletionWaits(two_occupants)), &one, "t2");
    assert_eq!(notices(&one, &two).len(), 1);
    assert_eq!(two[0].last_transition_time.as_deref(), Some("t1"));
}

#[test]
fn a_namespace_of_an_earlier_workspace_is_reported_with_its_uid_and_the_way_out() {
    let earlier = Situation::NotAdopted(NotAdopted::EarlierWorkspace {
        uid: "uid-old".into(),
    });
    let wanted = wanted_conditions("team-a", Some(&earlier));
    assert_eq!(wanted.len(), 1);
    assert!(!wanted[0].status);
    assert_eq!(wanted[0].reason, reasons::NAMESPACE_NOT_ADOPTED);
    let message = &wanted[0].message;
    assert!(
        message.contains("earlier workspace team-a (UID uid-old)"),
        "{message}"
    );
    assert!(
        message.contains(annotations::ALLOW_EXISTING_NAMESPACE),
        "{message}"
    );
}

#[test]
fn granted_creator_rbac_is_reported_ready() {
    let wanted = wanted_rbac_condition(&CreatorGrant::Granted {
        creator: "u-abc".into(),
    });
    assert_eq!(wanted.type_, conditions::CREATOR_RBAC_READY);
    assert!(wanted.status);
    assert_eq!(wanted.reason, reasons::CREATOR_RBAC_READY);
}

#[test]
fn creator_rbac_drover_did_not_make_is_reported_naming_each_object() {
    let grant = CreatorGrant::NotAdopted {
        creator: "u-abc".into(),
        foreign: vec![
            "ClusterRole fleetworkspace-own-a".into(),
            "ClusterRoleBinding fleetworkspace-own-binding-a".into(),
        ],
    };
    let wanted = wanted_rbac_condition(&grant);
    assert!(!wanted.status);
    assert_eq!(wanted.reason, reasons::CREATOR_RBAC_NOT_ADOPTED);
    assert!(
        wanted.message.starts_with(
            "ClusterRole fleetworkspace-own-a and ClusterRoleBinding \
             fleetworkspace-own-binding-a already exist and were not created by drover"
        ),
        "{}",
        wanted.message
    );
    assert!(wanted.message.contains("u-abc"));
    // A refusal is a problem: it is announced once, with a warning.
    let conditions = merge_conditions(&[], &[wanted], "t1");
    let announced = notices(&[], &conditions);
    assert_eq!(announced.len(), 1);
    assert!(announced[0].warning);
}
