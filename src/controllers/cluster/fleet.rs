//! The fleet cluster of a prov cluster (§C6), its moves (§C8) and the local ClusterGroup.

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use crate::api::{ClusterGroup, FleetCluster, MgmtCluster, ProvCluster};
use crate::controllers::Error;
use crate::controllers::copies::{Unwanted, delete_unwanted_fleet_clusters};
use crate::mapping::fleet::{
    FleetSettings, LOCAL_CLUSTER_GROUP, desired_fleet_cluster, desired_local_cluster_group,
    fleet_wait_reason, foreign_fleet_cluster,
};
use crate::runtime::Context;

/// Keeps the fleet cluster of `prov` (carrying the status about to be written) in the mgmt
/// cluster's workspace, and deletes the copies made for it anywhere else. Returns why the fleet
/// cluster is refused (one drover did not create for `prov` is in its place), if it is.
///
/// Once created, a fleet cluster stays while its prov cluster exists, even when the mgmt
/// cluster is briefly not Ready: a disconnected agent must not make Fleet forget the cluster and
/// every bundle deployed to it.
pub async fn sync(
    ctx: &Context,
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
) -> Result<Option<String>, Error> {
    let name = prov.name_any();
    let Some(workspace) = mgmt.workspace() else {
        return Ok(None);
    };
    if ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(workspace))
        .is_none()
    {
        // Reported on the prov status as the wait; the namespace's arrival re-triggers this.
        return Ok(None);
    }
    // A move (§C8): the copies elsewhere go first, so a crash never leaves two.
    delete_unwanted_fleet_clusters(ctx, prov, Unwanted::MovedTo(workspace), &[]).await?;

    let api: Api<FleetCluster> = Api::namespaced(ctx.client.clone(), workspace);
    let cached = ctx
        .stores
        .fleet
        .get(&ObjectRef::new(&name).within(workspace));
    if cached.is_none() && fleet_wait_reason(prov, mgmt).is_some() {
        return Ok(None);
    }
    let existing = ctx.cached_or_live(cached, &api, &name).await?;
    if let Some(refusal) = existing
        .as_deref()
        .and_then(|e| foreign_fleet_cluster(e, prov))
    {
        return Ok(Some(refusal));
    }
    let nodes = if mgmt.is_internal() {
        ctx.stores.nodes.state()
    } else {
        Vec::new()
    };
    let node_refs: Vec<_> = nodes.iter().map(AsRef::as_ref).collect();
    let settings = FleetSettings {
        default_registry: ctx.config.default_registry.clone(),
        agent_affinity_label: ctx.config.agent_affinity_label.clone(),
    };
    let desired = desired_fleet_cluster(prov, mgmt, &node_refs, &settings, existing.as_deref());
    ctx.priority
        .surface(ctx.apply(&api, &desired, existing.as_deref()))
        .await?;

    if mgmt.is_internal() {
        let group_key = ObjectRef::new(LOCAL_CLUSTER_GROUP).within(workspace);
        let existing_group = ctx.stores.cluster_groups.get(&group_key);
        let desired_group = desired_local_cluster_group(workspace, prov, existing_group.as_deref());
        let groups: Api<ClusterGroup> = Api::namespaced(ctx.client.clone(), workspace);
        ctx.priority
            .surface(ctx.apply(&groups, &desired_group, existing_group.as_deref()))
            .await?;
    }
    Ok(None)
}
