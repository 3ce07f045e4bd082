//! The default agent affinity, and the tolerations of the local cluster's control-plane taints.

use super::*;

// default_agent_affinity

#[test]
fn the_default_affinity_prefers_nodes_labelled_true_with_weight_one() {
    assert_eq!(
        default_agent_affinity("example.com/fleet"),
        Affinity {
            node_affinity: Some(NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 1,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "example.com/fleet".into(),
                                operator: "In".into(),
                                values: Some(vec!["true".into()]),
                            }]),
                            match_fields: None,
                        },
                    }
                ]),
                required_during_scheduling_ignored_during_execution: None,
            }),
            pod_affinity: None,
            pod_anti_affinity: None,
        }
    );
}

// control_plane_tolerations

#[test]
fn each_distinct_control_plane_taint_gives_one_toleration() {
    let a = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![
            taint("node-role.kubernetes.io/control-plane", None, "NoSchedule"),
            taint("node-role.kubernetes.io/etcd", Some("true"), "NoExecute"),
        ],
    );
    let b = node(
        "cp-2",
        &[CONTROL_PLANE],
        vec![taint(
            "node-role.kubernetes.io/control-plane",
            None,
            "NoSchedule",
        )],
    );
    assert_eq!(
        control_plane_tolerations(&[&a, &b]),
        vec![
            toleration(
                "node-role.kubernetes.io/control-plane",
                None,
                "Exists",
                Some("NoSchedule")
            ),
            toleration(
                "node-role.kubernetes.io/etcd",
                Some("true"),
                "Equal",
                Some("NoExecute")
            ),
        ]
    );
}

#[test]
fn a_taint_with_an_empty_value_is_tolerated_by_existence() {
    let n = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![taint("dedicated", Some(""), "NoSchedule")],
    );
    assert_eq!(
        control_plane_tolerations(&[&n]),
        vec![toleration("dedicated", None, "Exists", Some("NoSchedule"))]
    );
}

#[test]
fn taints_of_worker_nodes_are_not_tolerated() {
    let cp = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![taint("cp", None, "NoSchedule")],
    );
    let worker = node("worker-1", &[], vec![taint("gpu", None, "NoSchedule")]);
    let not_cp = node(
        "worker-2",
        &[("node-role.kubernetes.io/control-plane", "false")],
        vec![taint("spot", None, "NoSchedule")],
    );
    assert_eq!(
        control_plane_tolerations(&[&worker, &cp, &not_cp]),
        vec![toleration("cp", None, "Exists", Some("NoSchedule"))]
    );
}

#[test]
fn rke1_control_plane_nodes_are_used_when_no_node_has_the_control_plane_label() {
    let rke1 = node(
        "cp-1",
        &[RKE1_CONTROL_PLANE],
        vec![taint("rke1", None, "NoSchedule")],
    );
    let worker = node("worker-1", &[], vec![taint("gpu", None, "NoSchedule")]);
    assert_eq!(
        control_plane_tolerations(&[&worker, &rke1]),
        vec![toleration("rke1", None, "Exists", Some("NoSchedule"))]
    );
}

#[test]
fn rke1_control_plane_nodes_are_ignored_when_a_node_has_the_control_plane_label() {
    let cp = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![taint("cp", None, "NoSchedule")],
    );
    let rke1 = node(
        "cp-2",
        &[RKE1_CONTROL_PLANE],
        vec![taint("rke1", None, "NoSchedule")],
    );
    assert_eq!(
        control_plane_tolerations(&[&rke1, &cp]),
        vec![toleration("cp", None, "Exists", Some("NoSchedule"))]
    );
}

#[test]
fn control_plane_tolerations_are_sorted_whatever_the_node_order() {
    let a = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![
            taint("z", None, "NoSchedule"),
            taint("a", Some("2"), "NoSchedule"),
        ],
    );
    let b = node(
        "cp-2",
        &[CONTROL_PLANE],
        vec![
            taint("a", Some("1"), "NoExecute"),
            taint("m", None, "PreferNoSchedule"),
        ],
    );
    let expected = vec![
        toleration("a", Some("1"), "Equal", Some("NoExecute")),
        toleration("a", Some("2"), "Equal", Some("NoSchedule")),
        toleration("m", None, "Exists", Some("PreferNoSchedule")),
        toleration("z", None, "Exists", Some("NoSchedule")),
    ];
    assert_eq!(control_plane_tolerations(&[&a, &b]), expected);
    assert_eq!(control_plane_tolerations(&[&b, &a]), expected);
}

#[test]
fn no_nodes_or_untainted_nodes_give_no_tolerations() {
    let untainted = Node {
        spec: None,
        ..node("cp-1", &[CONTROL_PLANE], vec![])
    };
    assert!(control_plane_tolerations(&[]).is_empty());
    assert!(control_plane_tolerations(&[&untainted]).is_empty());
}
