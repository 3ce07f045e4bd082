//! The Fleet agent's namespace, env vars, tolerations, affinity, resources and scheduling.

use super::*;

// desired_fleet_cluster: agent namespace, env vars, tolerations

#[test]
fn only_the_internal_cluster_gets_the_local_agent_namespace() {
    let local = desired(
        &prov("fleet-local", "local").ready_as("local"),
        &local_mgmt(),
    );
    assert_eq!(
        local.spec.agent_namespace.as_deref(),
        Some("cattle-fleet-local-system")
    );
    let downstream = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
    );
    assert_eq!(downstream.spec.agent_namespace, None);
}

#[test]
fn agent_env_vars_come_from_the_mgmt_cluster() {
    let mut p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    p.spec.agent_env_vars = Some(vec![RkeEnvVar {
        name: "FROM".into(),
        value: Some("prov".into()),
    }]);
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.agent_env_vars = Some(vec![EnvVar {
        name: "FROM".into(),
        value: Some("mgmt".into()),
        value_from: None,
    }]);
    assert_eq!(
        desired(&p, &m).spec.agent_env_vars,
        Some(vec![EnvVar {
            name: "FROM".into(),
            value: Some("mgmt".into()),
            value_from: None,
        }])
    );
}

#[test]
fn an_agent_env_var_from_a_field_reaches_fleet_whole() {
    // mgmt and Fleet clusters both carry Kubernetes' EnvVar: a valueFrom is not lost on the way.
    let from_node = EnvVar {
        name: "NODE".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: "spec.nodeName".into(),
            }),
            ..EnvVarSource::default()
        }),
    };
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.agent_env_vars = Some(vec![from_node]);
    let spec = serde_json::to_value(
        desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m).spec,
    )
    .expect("json");
    assert_eq!(
        spec["agentEnvVars"],
        json!([{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
    );
}

#[test]
fn appended_tolerations_are_sorted() {
    let m = with_fleet_agent(
        downstream("c-m-abcdefgh", "fleet-default"),
        AgentDeploymentCustomization {
            append_tolerations: Some(vec![
                toleration("b", None, "Exists", None),
                toleration("a", Some("x"), "Equal", Some("NoSchedule")),
            ]),
            ..AgentDeploymentCustomization::default()
        },
    );
    assert_eq!(
        desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
            .spec
            .agent_tolerations,
        Some(vec![
            toleration("a", Some("x"), "Equal", Some("NoSchedule")),
            toleration("b", None, "Exists", None),
        ])
    );
}

#[test]
fn absent_tolerations_stay_absent_and_empty_ones_stay_empty() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let absent = downstream("c-m-abcdefgh", "fleet-default");
    assert_eq!(desired(&p, &absent).spec.agent_tolerations, None);

    let empty = with_fleet_agent(
        downstream("c-m-abcdefgh", "fleet-default"),
        AgentDeploymentCustomization {
            append_tolerations: Some(vec![]),
            ..AgentDeploymentCustomization::default()
        },
    );
    assert_eq!(desired(&p, &empty).spec.agent_tolerations, Some(vec![]));
}

#[test]
fn the_internal_cluster_tolerates_its_control_plane_taints_merged_with_the_appended_ones() {
    let m = with_fleet_agent(
        local_mgmt(),
        AgentDeploymentCustomization {
            append_tolerations: Some(vec![
                toleration("zone", Some("edge"), "Equal", Some("NoSchedule")),
                toleration(
                    "node-role.kubernetes.io/control-plane",
                    None,
                    "Exists",
                    Some("NoSchedule"),
                ),
            ]),
            ..AgentDeploymentCustomization::default()
        },
    );
    let cp = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![
            taint("node-role.kubernetes.io/control-plane", None, "NoSchedule"),
            taint("node-role.kubernetes.io/etcd", Some("true"), "NoExecute"),
        ],
    );
    let worker = node("worker-1", &[], vec![taint("gpu", None, "NoSchedule")]);
    let f = desired_fleet_cluster(
        &prov("fleet-local", "local").ready_as("local"),
        &m,
        &[&worker, &cp],
        &settings(),
        None,
    );
    assert_eq!(
        f.spec.agent_tolerations,
        Some(vec![
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
            toleration("zone", Some("edge"), "Equal", Some("NoSchedule")),
        ])
    );
}

#[test]
fn the_internal_cluster_without_appended_tolerations_tolerates_its_control_plane_taints() {
    let cp = node(
        "cp-1",
        &[RKE1_CONTROL_PLANE],
        vec![taint("rke1", None, "NoSchedule")],
    );
    let f = desired_fleet_cluster(
        &prov("fleet-local", "local").ready_as("local"),
        &local_mgmt(),
        &[&cp],
        &settings(),
        None,
    );
    assert_eq!(
        f.spec.agent_tolerations,
        Some(vec![toleration("rke1", None, "Exists", Some("NoSchedule"))])
    );
}

#[test]
fn the_internal_cluster_without_tolerations_or_taints_has_none() {
    let untainted = node("cp-1", &[CONTROL_PLANE], vec![]);
    let f = desired_fleet_cluster(
        &prov("fleet-local", "local").ready_as("local"),
        &local_mgmt(),
        &[&untainted],
        &settings(),
        None,
    );
    assert_eq!(f.spec.agent_tolerations, None);
}

#[test]
fn a_downstream_cluster_ignores_the_nodes_drover_runs_on() {
    let cp = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![taint("cp", None, "NoSchedule")],
    );
    let f = desired_fleet_cluster(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
        &[&cp],
        &settings(),
        None,
    );
    assert_eq!(f.spec.agent_tolerations, None);
}

#[test]
fn the_fleet_cluster_does_not_depend_on_node_order() {
    let a = node(
        "cp-1",
        &[CONTROL_PLANE],
        vec![taint("a", None, "NoSchedule")],
    );
    let b = node(
        "cp-2",
        &[CONTROL_PLANE],
        vec![taint("b", None, "NoSchedule")],
    );
    let p = prov("fleet-local", "local").ready_as("local");
    let m = local_mgmt();
    let json = |nodes: &[&Node]| {
        serde_json::to_value(desired_fleet_cluster(&p, &m, nodes, &settings(), None))
            .expect("serialises")
    };
    assert_eq!(json(&[&a, &b]), json(&[&b, &a]));
}

// desired_fleet_cluster: affinity, resources, scheduling

#[test]
fn without_an_override_the_agent_gets_the_default_affinity_on_the_configured_label() {
    let s = FleetSettings {
        default_registry: None,
        agent_affinity_label: "example.com/fleet".into(),
    };
    let f = desired_fleet_cluster(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
        &[],
        &s,
        None,
    );
    assert_eq!(
        f.spec.agent_affinity,
        Some(Box::new(default_agent_affinity("example.com/fleet")))
    );
}

#[test]
fn an_override_affinity_replaces_the_default() {
    let anti = Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                topology_key: "kubernetes.io/hostname".into(),
                ..PodAffinityTerm::default()
            }]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    };
    let m = with_fleet_agent(
        downstream("c-m-abcdefgh", "fleet-default"),
        AgentDeploymentCustomization {
            override_affinity: Some(anti.clone()),
            ..AgentDeploymentCustomization::default()
        },
    );
    assert_eq!(
        desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
            .spec
            .agent_affinity,
        Some(Box::new(anti))
    );
}

#[test]
fn agent_resources_are_the_mgmt_override() {
    let resources = ResourceRequirements {
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("512Mi".into()),
        )])),
        requests: Some(BTreeMap::from([(
            "cpu".to_string(),
            Quantity("100m".into()),
        )])),
        ..ResourceRequirements::default()
    };
    let m = with_fleet_agent(
        downstream("c-m-abcdefgh", "fleet-default"),
        AgentDeploymentCustomization {
            override_resource_requirements: Some(resources.clone()),
            ..AgentDeploymentCustomization::default()
        },
    );
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    assert_eq!(
        desired(&p, &m).spec.agent_resources,
        Some(Box::new(resources))
    );
    assert_eq!(
        desired(&p, &downstream("c-m-abcdefgh", "fleet-default"))
            .spec
            .agent_resources,
        None
    );
}

fn prov_scheduling(s: AgentSchedulingCustomization) -> ProvCluster {
    let mut p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    p.spec.fleet_agent_deployment_customization = Some(Box::new(AgentDeploymentCustomization {
        scheduling_customization: Some(s),
        ..AgentDeploymentCustomization::default()
    }));
    p
}

#[test]
fn a_prov_priority_class_or_disruption_budget_is_the_agent_scheduling_customization() {
    let m = downstream("c-m-abcdefgh", "fleet-default");
    let priority = AgentSchedulingCustomization {
        priority_class: Some(PriorityClassSpec {
            value: Some(1_000_000),
            preemption_policy: Some("PreemptLowerPriority".into()),
        }),
        pod_disruption_budget: None,
    };
    let budget = AgentSchedulingCustomization {
        priority_class: None,
        pod_disruption_budget: Some(PodDisruptionBudgetSpec {
            min_available: None,
            max_unavailable: Some("1".into()),
        }),
    };
    for s in [priority, budget] {
        assert_eq!(
            desired(&prov_scheduling(s.clone()), &m)
                .spec
                .agent_scheduling_customization,
            Some(Box::new(s))
        );
    }
}

#[test]
fn an_empty_scheduling_customization_is_not_written() {
    let m = downstream("c-m-abcdefgh", "fleet-default");
    let p = prov_scheduling(AgentSchedulingCustomization::default());
    assert_eq!(desired(&p, &m).spec.agent_scheduling_customization, None);
}

#[test]
fn the_scheduling_customization_comes_from_the_prov_cluster_not_the_mgmt_cluster() {
    let m = with_fleet_agent(
        downstream("c-m-abcdefgh", "fleet-default"),
        AgentDeploymentCustomization {
            scheduling_customization: Some(AgentSchedulingCustomization {
                priority_class: Some(PriorityClassSpec {
                    value: Some(5),
                    preemption_policy: None,
                }),
                pod_disruption_budget: None,
            }),
            ..AgentDeploymentCustomization::default()
        },
    );
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    assert_eq!(desired(&p, &m).spec.agent_scheduling_customization, None);
}
