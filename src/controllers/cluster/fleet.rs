//! The fleet cluster of a prov cluster (§C6), its moves (§C8) and the local ClusterGroup.

use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use crate::api::{ClusterGroup, FleetCluster, MgmtCluster, ProvCluster};
use crate::controllers::Error;
use crate::mapping::deletion::fleet_belongs_to_prov;
use crate::mapping::fleet::{
    FleetSettings, LOCAL_CLUSTER_GROUP, desired_fleet_cluster, desired_local_cluster_group,
    fleet_wait_reason,
};
use crate::mapping::meta::OwnerMarks;
use crate::runtime::Context;
use crate::runtime::events::Note;

/// Where a prov cluster's fleet cluster may have lived before: the workspace recorded in its
/// status and its own namespace.
pub fn previous_namespaces(prov: &ProvCluster) -> Vec<String> {
    let mut namespaces: Vec<String> = prov
        .status
        .as_ref()
        .and_then(|s| s.fleet_workspace_name.clone())
        .into_iter()
        .chain(prov.namespace())
        .collect();
    namespaces.dedup();
    namespaces
}

/// Keeps the fleet cluster of `prov` (whose status is already the new one) in the mgmt
/// cluster's workspace, and removes the copy a move left behind.
///
/// Once created, a fleet cluster stays while its prov cluster exists, even when the mgmt
/// cluster is briefly not Ready: a disconnected agent must not make Fleet forget the cluster and
/// every bundle deployed to it.
pub async fn sync(ctx: &Context, prov: &ProvCluster, mgmt: &MgmtCluster) -> Result<(), Error> {
    let name = prov.name_any();
    let Some(workspace) = mgmt.workspace() else {
        return Ok(());
    };
    if ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(workspace))
        .is_none()
    {
        // Reported on the prov status as the wait; the namespace's arrival re-triggers this.
        return Ok(());
    }
    // A move (§C8): the old copy goes first, so a crash never leaves two.
    let mut before = previous_namespaces(prov);
    if let Some(previous) = mgmt_status_workspace(prov) {
        before.push(previous);
    }
    for namespace in before.iter().filter(|ns| ns.as_str() != workspace) {
        if let Some(old) = ctx
            .stores
            .fleet
            .get(&ObjectRef::new(&name).within(namespace))
            && fleet_belongs_to_prov(&old, prov)
        {
            let api: Api<FleetCluster> = Api::namespaced(ctx.client.clone(), namespace);
            if ctx.delete(&api, old.as_ref()).await? {
                ctx.publish(
                    prov,
                    Note {
                        warning: false,
                        reason: "FleetClusterMoved",
                        action: "Move",
                        message: format!("fleet cluster moved from {namespace} to {workspace}"),
                    },
                )
                .await;
            }
        }
    }

    let existing = ctx
        .stores
        .fleet
        .get(&ObjectRef::new(&name).within(workspace));
    if let Some(existing) = &existing
        && !fleet_belongs_to_prov(existing, prov)
        && OwnerMarks::read(existing.meta().annotations.as_ref()).is_some()
    {
        // Another prov cluster's fleet cluster: never taken over.
        ctx.publish_on_change(
            prov,
            Note {
                warning: true,
                reason: "FleetClusterClaimed",
                action: "Create",
                message: format!(
                    "fleet cluster {workspace}/{name} belongs to another cluster; not taken over"
                ),
            },
        )
        .await;
        return Ok(());
    }
    if existing.is_none() && fleet_wait_reason(prov, mgmt).is_some() {
        return Ok(());
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
    let api: Api<FleetCluster> = Api::namespaced(ctx.client.clone(), workspace);
    ctx.apply(&api, &desired, existing.as_deref()).await?;

    if mgmt.is_internal() {
        let group_key = ObjectRef::new(LOCAL_CLUSTER_GROUP).within(workspace);
        let existing_group = ctx.stores.cluster_groups.get(&group_key);
        let desired_group = desired_local_cluster_group(workspace, prov, existing_group.as_deref());
        let groups: Api<ClusterGroup> = Api::namespaced(ctx.client.clone(), workspace);
        ctx.apply(&groups, &desired_group, existing_group.as_deref())
            .await?;
    }
    Ok(())
}

/// The workspace recorded in the prov status before this reconcile (for non-legacy moves the
/// prov cluster stays while its fleet cluster follows the mgmt workspace).
fn mgmt_status_workspace(prov: &ProvCluster) -> Option<String> {
    prov.status.as_ref()?.fleet_workspace_name.clone()
}
