use super::*;

use crate::fixtures::{PROV_UID, condition, mgmt, prov, string_map};

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, NodeSpec, ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity,
    ResourceRequirements, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;

use crate::api::{
    AgentDeploymentCustomization, AgentSchedulingCustomization, ImportedConfig, MgmtClusterStatus,
    PodDisruptionBudgetSpec, PriorityClassSpec, RkeEnvVar,
};
use crate::consts::annotations;
use crate::mapping::meta::OwnerMarks;

fn settings() -> FleetSettings {
    FleetSettings {
        default_registry: None,
        agent_affinity_label: "fleet.cattle.io/agent".into(),
    }
}

/// A Ready downstream mgmt cluster in `workspace`, as Rancher shows one: its display name set,
/// `internal: false`, and the agent's `Ready` and `Connected` conditions True.
fn downstream(name: &str, workspace: &str) -> MgmtCluster {
    mgmt(name)
        .in_workspace(workspace)
        .with_display_name(name)
        .internal(false)
        .with_conditions(vec![
            condition("Ready", "True"),
            condition("Connected", "True"),
        ])
}

/// The Ready internal mgmt cluster `local`.
fn local_mgmt() -> MgmtCluster {
    let mut m = downstream("local", "fleet-local");
    m.spec.internal = Some(true);
    m
}

fn with_fleet_agent(mut m: MgmtCluster, c: AgentDeploymentCustomization) -> MgmtCluster {
    m.spec.fleet_agent_deployment_customization = Some(c);
    m
}

fn with_imported_config(
    mut m: MgmtCluster,
    registry: Option<&str>,
    pull_secrets: &[&str],
) -> MgmtCluster {
    m.spec.imported_config = Some(ImportedConfig {
        private_registry_url: registry.map(Into::into),
        private_registry_pull_secrets: Some(pull_secrets.iter().map(|s| s.to_string()).collect()),
    });
    m
}

fn provisioned_with_registry(mut p: ProvCluster, registry: &str) -> ProvCluster {
    p.spec.rke_config = Some(json!({
        "machineGlobalConfig": {"cni": "calico", "system-default-registry": registry}
    }));
    p
}

fn toleration(key: &str, value: Option<&str>, operator: &str, effect: Option<&str>) -> Toleration {
    Toleration {
        key: Some(key.into()),
        value: value.map(Into::into),
        operator: Some(operator.into()),
        effect: effect.map(Into::into),
        toleration_seconds: None,
    }
}

fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.map(Into::into),
        effect: effect.into(),
        time_added: None,
    }
}

fn node(name: &str, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(string_map(labels)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(taints),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

const CONTROL_PLANE: (&str, &str) = ("node-role.kubernetes.io/control-plane", "true");
const RKE1_CONTROL_PLANE: (&str, &str) = ("node-role.kubernetes.io/controlplane", "true");

fn desired(p: &ProvCluster, m: &MgmtCluster) -> FleetCluster {
    desired_fleet_cluster(p, m, &[], &settings(), None)
}

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

// desired_fleet_cluster: identity, labels and annotations

#[test]
fn a_fleet_cluster_is_named_after_the_prov_cluster_in_the_mgmt_workspace() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
    );
    assert_eq!(f.metadata.name.as_deref(), Some("prod"));
    assert_eq!(f.metadata.namespace.as_deref(), Some("fleet-default"));
    assert_eq!(
        f.spec.kube_config_secret.as_deref(),
        Some("prod-kubeconfig")
    );
    assert_eq!(
        f.spec.kube_config_secret_namespace.as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn a_moved_cluster_has_its_fleet_cluster_in_the_new_workspace_pointing_at_the_prov_namespace() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "team-a"),
    );
    assert_eq!(f.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(
        f.spec.kube_config_secret_namespace.as_deref(),
        Some("fleet-default")
    );
}

#[test]
fn fleet_cluster_labels_are_the_cleaned_mgmt_labels_plus_name_and_display_name() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.display_name = Some("prod-east".into());
    m.metadata.labels = Some(string_map(&[
        ("env", "prod"),
        ("cattle.io/creator", "norman"),
        ("management.cattle.io/cluster-name", "spoofed"),
        ("kubectl.kubernetes.io/restartedAt", "now"),
    ]));
    let f = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m);
    assert_eq!(
        f.metadata.labels,
        Some(string_map(&[
            ("env", "prod"),
            ("management.cattle.io/cluster-name", "c-m-abcdefgh"),
            ("management.cattle.io/cluster-display-name", "prod-east"),
        ]))
    );
}

#[test]
fn a_display_name_that_is_no_valid_label_value_is_not_a_label() {
    for display in ["Production East", "-edge", &"x".repeat(64), "tienda-españa"] {
        let mut m = downstream("c-m-abcdefgh", "fleet-default");
        m.spec.display_name = Some(display.to_string());
        let labels = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
            .metadata
            .labels
            .expect("labels");
        assert!(
            !labels.contains_key("management.cattle.io/cluster-display-name"),
            "{display}"
        );
        assert_eq!(labels["management.cattle.io/cluster-name"], "c-m-abcdefgh");
    }
}

#[test]
fn a_mgmt_cluster_without_display_name_gives_no_display_name_label() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.spec.display_name = None;
    let labels = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m)
        .metadata
        .labels;
    assert_eq!(
        labels,
        Some(string_map(&[(
            "management.cattle.io/cluster-name",
            "c-m-abcdefgh"
        )]))
    );
}

#[test]
fn the_internal_cluster_is_labelled_name_local() {
    let f = desired(
        &prov("fleet-local", "local").ready_as("local"),
        &local_mgmt(),
    );
    assert_eq!(
        f.metadata.labels,
        Some(string_map(&[
            ("management.cattle.io/cluster-name", "local"),
            ("management.cattle.io/cluster-display-name", "local"),
            ("name", "local"),
        ]))
    );
}

#[test]
fn a_downstream_cluster_is_not_labelled_name_local() {
    let f = desired(
        &prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
        &downstream("c-m-abcdefgh", "fleet-default"),
    );
    assert!(!f.metadata.labels.expect("labels").contains_key("name"));
}

#[test]
fn fleet_cluster_annotations_are_the_cleaned_mgmt_annotations_plus_marks_naming_the_prov_cluster() {
    let mut m = downstream("c-m-abcdefgh", "fleet-default");
    m.metadata.annotations = Some(string_map(&[
        ("team", "a"),
        ("field.cattle.io/creatorId", "u-abc"),
        ("provisioning.cattle.io/administrated", "true"),
        ("objectset.rio.cattle.io/owner-name", "prod"),
        ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
    ]));
    let f = desired(&prov("fleet-default", "prod").ready_as("c-m-abcdefgh"), &m);
    assert_eq!(
        f.metadata.annotations,
        Some(string_map(&[
            ("team", "a"),
            (
                annotations::OWNER_GVK,
                "provisioning.cattle.io/v1, Kind=Cluster"
            ),
            (annotations::OWNER_NAME, "prod"),
            (annotations::OWNER_NAMESPACE, "fleet-default"),
            (annotations::OWNER_UID, PROV_UID),
        ]))
    );
}

#[test]
fn a_fleet_cluster_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let mut rancher_marks = OwnerMarks::of(&p).annotations();
    rancher_marks.remove(annotations::OWNER_UID);
    let existing = FleetCluster {
        metadata: ObjectMeta {
            name: Some("prod".into()),
            namespace: Some("fleet-default".into()),
            annotations: Some(rancher_marks),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec::default(),
        status: None,
    };
    let f = desired_fleet_cluster(
        &p,
        &downstream("c-m-abcdefgh", "fleet-default"),
        &[],
        &settings(),
        Some(&existing),
    );
    let annotations_out = f.metadata.annotations.expect("annotations");
    assert!(!annotations_out.contains_key(annotations::OWNER_UID));
    assert_eq!(annotations_out[annotations::OWNER_NAME], "prod");
}

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
        Some(default_agent_affinity("example.com/fleet"))
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
        Some(anti)
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
    assert_eq!(desired(&p, &m).spec.agent_resources, Some(resources));
    assert_eq!(
        desired(&p, &downstream("c-m-abcdefgh", "fleet-default"))
            .spec
            .agent_resources,
        None
    );
}

fn prov_scheduling(s: AgentSchedulingCustomization) -> ProvCluster {
    let mut p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    p.spec.fleet_agent_deployment_customization = Some(AgentDeploymentCustomization {
        scheduling_customization: Some(s),
        ..AgentDeploymentCustomization::default()
    });
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
            Some(s)
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

// desired_fleet_cluster: ownership of fields

/// A fleet cluster as fleet-controller and users left it: fields drover does not own.
fn upstream_fleet_cluster() -> FleetCluster {
    serde_json::from_value(json!({
        "apiVersion": "fleet.cattle.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {
            "name": "prod",
            "namespace": "fleet-default",
            "uid": "fleet-uid",
            "resourceVersion": "9931",
            "generation": 3,
            "labels": {"management.cattle.io/cluster-name": "c-m-abcdefgh"},
            "annotations": {"objectset.rio.cattle.io/owner-name": "prod"}
        },
        "spec": {
            "kubeConfigSecret": "prod-kubeconfig",
            "kubeConfigSecretNamespace": "fleet-default",
            "clientID": "q4x7l2wz9s",
            "redeployAgentGeneration": 2,
            "paused": true,
            "templateValues": {"region": "eu-west-1"},
            "hostNetwork": false
        },
        "status": {
            "agent": {"lastSeen": "2024-05-01T10:00:00Z", "namespace": "cattle-fleet-system"},
            "agentDeployedGeneration": 2,
            "agentMigrated": true,
            "agentNamespaceMigrated": true,
            "cattleNamespaceMigrated": true,
            "display": {"readyBundles": "4/4", "state": "Ready"},
            "namespace": "cluster-fleet-default-prod-1a2b3c4d5e6f",
            "resourceCounts": {"ready": 12, "desiredReady": 12},
            "summary": {"ready": 4, "desiredReady": 4},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .expect("an upstream fleet cluster deserialises")
}

#[test]
fn an_upstream_fleet_cluster_is_read_for_the_fields_drover_models() {
    let f = upstream_fleet_cluster();
    assert_eq!(f.spec.client_id.as_deref(), Some("q4x7l2wz9s"));
    assert_eq!(f.spec.redeploy_agent_generation, Some(2));
    assert_eq!(f.spec.paused, Some(true));
    assert_eq!(f.spec.template_values, Some(json!({"region": "eu-west-1"})));
}

#[test]
fn a_desired_fleet_cluster_serialises_without_fields_other_actors_own() {
    let existing = upstream_fleet_cluster();
    let mut local = with_imported_config(local_mgmt(), Some("mgmt.example.com"), &["regcred"]);
    local.spec.fleet_agent_deployment_customization = Some(AgentDeploymentCustomization {
        append_tolerations: Some(vec![toleration("a", None, "Exists", None)]),
        ..AgentDeploymentCustomization::default()
    });
    let cases = [
        (
            prov("fleet-default", "prod").ready_as("c-m-abcdefgh"),
            downstream("c-m-abcdefgh", "fleet-default"),
        ),
        (prov("fleet-local", "local").ready_as("local"), local),
    ];
    for (p, m) in cases {
        let value = serde_json::to_value(desired_fleet_cluster(
            &p,
            &m,
            &[],
            &settings(),
            Some(&existing),
        ))
        .expect("serialises");
        assert!(value.get("status").is_none(), "{value}");
        let spec = value["spec"].as_object().expect("spec");
        for key in [
            "clientID",
            "redeployAgentGeneration",
            "paused",
            "templateValues",
            "hostNetwork",
        ] {
            assert!(
                !spec.contains_key(key),
                "drover must not write spec.{key}: {value}"
            );
        }
        let mut metadata: Vec<&str> = value["metadata"]
            .as_object()
            .expect("metadata")
            .keys()
            .map(String::as_str)
            .collect();
        metadata.sort_unstable();
        assert_eq!(
            metadata,
            ["annotations", "labels", "name", "namespace"],
            "{value}"
        );
    }
}

// desired_local_cluster_group

#[test]
fn the_local_cluster_group_is_default_selecting_name_local_and_marked_for_the_prov_cluster() {
    let p = prov("fleet-local", "local").ready_as("local");
    let group = desired_local_cluster_group("fleet-local", &p, None);
    assert_eq!(
        serde_json::to_value(&group).expect("serialises"),
        json!({
            "apiVersion": "fleet.cattle.io/v1alpha1",
            "kind": "ClusterGroup",
            "metadata": {
                "name": "default",
                "namespace": "fleet-local",
                "annotations": {
                    "objectset.rio.cattle.io/owner-gvk": "provisioning.cattle.io/v1, Kind=Cluster",
                    "objectset.rio.cattle.io/owner-name": "local",
                    "objectset.rio.cattle.io/owner-namespace": "fleet-local",
                    "drover.cattle.io/owner-uid": PROV_UID,
                },
            },
            "spec": {"selector": {"matchLabels": {"name": "local"}}},
        })
    );
}

#[test]
fn a_cluster_group_rancher_created_is_adopted_without_adding_a_uid_mark() {
    let p = prov("fleet-local", "local").ready_as("local");
    let mut rancher = desired_local_cluster_group("fleet-local", &p, None);
    if let Some(a) = rancher.metadata.annotations.as_mut() {
        a.remove("drover.cattle.io/owner-uid");
    }
    let group = desired_local_cluster_group("fleet-local", &p, Some(&rancher));
    let annotations = group.metadata.annotations.expect("annotations");
    assert!(!annotations.contains_key("drover.cattle.io/owner-uid"));
    assert_eq!(annotations["objectset.rio.cattle.io/owner-name"], "local");
}

// foreign_fleet_cluster

fn fleet_at(
    namespace: &str,
    name: &str,
    annotations: Option<BTreeMap<String, String>>,
) -> FleetCluster {
    FleetCluster {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            annotations,
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec::default(),
        status: None,
    }
}

#[test]
fn a_fleet_cluster_made_for_the_prov_cluster_is_not_foreign() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let ours = fleet_at(
        "fleet-default",
        "prod",
        Some(OwnerMarks::of(&p).annotations()),
    );
    assert_eq!(foreign_fleet_cluster(&ours, &p), None);
}

#[test]
fn an_unmarked_fleet_cluster_is_foreign_and_the_message_names_it() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let message = foreign_fleet_cluster(&fleet_at("team-a", "prod", None), &p).expect("foreign");
    assert!(message.contains("fleet cluster team-a/prod"), "{message}");
    assert!(message.contains("not created by drover"), "{message}");
}

#[test]
fn a_fleet_cluster_made_for_another_prov_cluster_is_foreign_and_the_message_names_the_owner() {
    let p = prov("fleet-default", "prod").ready_as("c-m-abcdefgh");
    let mut namesake = prov("team-b", "prod").ready_as("c-m-zzzzzzzz");
    namesake.metadata.uid = Some("uid-namesake".into());
    let theirs = fleet_at(
        "fleet-default",
        "prod",
        Some(OwnerMarks::of(&namesake).annotations()),
    );
    let message = foreign_fleet_cluster(&theirs, &p).expect("foreign");
    assert!(message.contains("team-b/prod"), "{message}");
}
