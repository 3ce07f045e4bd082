//! Fields drover leaves to Fleet and users, and Fleet clusters drover did not make.

use super::*;

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
    // Users' values for Fleet's templating: only their presence is kept.
    assert_eq!(f.spec.template_values, Some(json!({})));
}

#[test]
fn a_desired_fleet_cluster_serialises_without_fields_other_actors_own() {
    let existing = upstream_fleet_cluster();
    let mut local = with_imported_config(local_mgmt(), Some("mgmt.example.com"), &["regcred"]);
    local.spec.fleet_agent_deployment_customization =
        Some(Box::new(AgentDeploymentCustomization {
            append_tolerations: Some(vec![toleration("a", None, "Exists", None)]),
            ..AgentDeploymentCustomization::default()
        }));
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
