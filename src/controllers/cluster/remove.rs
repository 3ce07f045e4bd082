//! Removing a prov cluster (§C7): its mgmt cluster when that provably belongs to it, its fleet
//! clusters wherever they are and its ClusterGroup, then the finalizer. Runs only while drover's
//! finalizer holds the prov cluster (§I4); always makes progress when counterparts are gone.

use kube::ResourceExt;
use kube::api::Api;

use crate::api::{ClusterGroup, MgmtCluster, ProvCluster};
use crate::consts::actions;
use crate::consts::finalizers;
use crate::consts::reasons::cluster as reasons;
use crate::controllers::Error;
use crate::controllers::copies::{Unwanted, delete_unwanted_fleet_clusters};
use crate::mapping::deletion::{
    kept_mgmt_notice, mgmt_names_to_check_on_removal, prov_removal_deletes_mgmt,
};
use crate::mapping::fleet::LOCAL_CLUSTER_GROUP;
use crate::mapping::meta::OwnerMarks;
use crate::mapping::notice::Notice;
use crate::runtime::Context;

/// Where a prov cluster's fleet cluster may be that the cache may not show yet: the workspace
/// recorded in its status and its own namespace.
fn recent_namespaces(prov: &ProvCluster) -> Vec<String> {
    prov.status
        .as_ref()
        .and_then(|s| s.fleet_workspace_name.clone())
        .into_iter()
        .chain(prov.namespace())
        .collect()
}

pub async fn remove(prov: &ProvCluster, ctx: &Context) -> Result<(), Error> {
    let namespace = prov.namespace().unwrap_or_default();
    let provs: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    if ctx.kind_is_being_removed::<ProvCluster>().await? {
        // §I7: the CRD is going and takes every prov cluster with it; their mgmt and Fleet
        // clusters stay.
        ctx.remove_finalizer(&provs, prov, finalizers::PROV_CLUSTER)
            .await?;
        return Ok(());
    }
    let default_workspace = ctx.config.default_workspace.as_str();
    // Read from the API server, not the cache: a mgmt cluster created a moment ago must not be
    // left behind, and a delete rests on the object as it is now.
    let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
    let mut workspaces = recent_namespaces(prov);
    for mgmt_name in mgmt_names_to_check_on_removal(prov) {
        let Some(mgmt) = ctx.get_live(&mgmts, &mgmt_name).await? else {
            continue;
        };
        workspaces.extend(mgmt.workspace().map(str::to_string));
        if mgmt.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if prov_removal_deletes_mgmt(prov, &mgmt, default_workspace) {
            if ctx.delete(&mgmts, &mgmt).await? {
                ctx.publish(
                    prov,
                    Notice::normal(
                        reasons::MGMT_CLUSTER_DELETED,
                        actions::DELETE,
                        format!("deleted mgmt cluster {mgmt_name} with its prov cluster"),
                    ),
                )
                .await;
            }
        } else if let Some(message) = kept_mgmt_notice(prov, &mgmt, default_workspace) {
            ctx.publish(
                prov,
                Notice::warning(reasons::MGMT_CLUSTER_KEPT, actions::DELETE, message),
            )
            .await;
        }
    }
    workspaces.sort();
    workspaces.dedup();
    delete_unwanted_fleet_clusters(ctx, prov, Unwanted::Removed, &workspaces).await?;
    for workspace in &workspaces {
        let groups: Api<ClusterGroup> = Api::namespaced(ctx.client.clone(), workspace);
        ctx.delete_if_still(&groups, LOCAL_CLUSTER_GROUP, |g| {
            OwnerMarks::read(g.metadata.annotations.as_ref()).is_some_and(|m| m.name_owner(prov))
        })
        .await?;
    }
    ctx.remove_finalizer(&provs, prov, finalizers::PROV_CLUSTER)
        .await?;
    Ok(())
}
