//! The local ClusterGroup `default`.

use super::*;

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
