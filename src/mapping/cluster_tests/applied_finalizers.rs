//! drover's finalizer in the applies of the clusters it creates.

use super::*;

// finalizers riding in drover's applies

#[test]
fn drovers_finalizer_rides_in_the_apply_of_the_mgmt_and_legacy_prov_clusters_it_creates() {
    let p = prov("fleet-default", "prod");
    let desired = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    assert_eq!(
        desired.metadata.finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
    let m = mgmt("c-abcde").in_workspace("fleet-default");
    let desired = desired_legacy_prov_cluster(&m, "fleet-default", None);
    assert_eq!(
        desired.metadata.finalizers,
        Some(vec![finalizers::PROV_CLUSTER.to_string()])
    );
}

#[test]
fn a_released_finalizer_is_never_applied_again_and_a_held_one_never_dropped() {
    let p = prov("fleet-default", "prod");
    let mut existing = desired_mgmt_cluster(&p, "c-m-abcdefgh", None);
    existing.metadata.finalizers = Some(vec!["example.com/other".into()]);
    // Not being deleted: drover's finalizer is (re)applied beside the other one.
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
    // Being deleted, drover's finalizer already released: not added back.
    existing.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        None
    );
    // Being deleted and still held: the apply keeps naming it, so it never removes it.
    existing.metadata.finalizers = Some(vec![
        "example.com/other".into(),
        finalizers::MGMT_CLUSTER.into(),
    ]);
    assert_eq!(
        desired_mgmt_cluster(&p, "c-m-abcdefgh", Some(&existing))
            .metadata
            .finalizers,
        Some(vec![finalizers::MGMT_CLUSTER.to_string()])
    );
}
