//! Removing a prov cluster (§C7): its mgmt cluster when that belongs to it, its fleet cluster
//! and ClusterGroup, then the finalizer. Always makes progress when counterparts are gone.

use kube::ResourceExt;
use kube::api::Api;

use super::fleet::previous_namespaces;
use crate::api::{ClusterGroup, FleetCluster, MgmtCluster, ProvCluster};
use crate::consts::finalizers;
use crate::controllers::Error;
use crate::mapping::cluster::mgmt_name_for;
use crate::mapping::deletion::{fleet_belongs_to_prov, prov_removal_deletes_mgmt};
use crate::mapping::fleet::LOCAL_CLUSTER_GROUP;
use crate::mapping::meta::OwnerMarks;
use crate::runtime::Context;
use crate::runtime::events::Note;
use crate::runtime::write::WriteError;

fn read_error(kind: &str, name: &str, source: kube::Error) -> Error {
    Error::Write(WriteError::Api {
        verb: "get",
        kind: kind.to_string(),
        name: name.to_string(),
        source: Box::new(source),
    })
}

pub async fn remove(prov: &ProvCluster, ctx: &Context) -> Result<(), Error> {
    let name = prov.name_any();
    let namespace = prov.namespace().unwrap_or_default();
    // Read counterparts from the API server, not the cache: a mgmt cluster created a moment ago
    // may not have reached the cache yet, and must not be left behind.
    let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
    let mut workspaces = previous_namespaces(prov);
    if let Some(mgmt_name) = mgmt_name_for(prov)
        && let Some(mgmt) = mgmts
            .get_opt(&mgmt_name)
            .await
            .map_err(|e| read_error("Cluster", &mgmt_name, e))?
    {
        workspaces.extend(mgmt.workspace().map(str::to_string));
        if prov_removal_deletes_mgmt(prov, &mgmt) && ctx.delete(&mgmts, &mgmt).await? {
            ctx.publish(
                prov,
                Note {
                    warning: false,
                    reason: "MgmtClusterDeleted",
                    action: "Delete",
                    message: format!("deleted mgmt cluster {mgmt_name} with its prov cluster"),
                },
            )
            .await;
        }
    }
    workspaces.sort();
    workspaces.dedup();
    for workspace in &workspaces {
        let fleets: Api<FleetCluster> = Api::namespaced(ctx.client.clone(), workspace);
        if let Some(fleet) = fleets
            .get_opt(&name)
            .await
            .map_err(|e| read_error("Cluster", &name, e))?
            && fleet_belongs_to_prov(&fleet, prov)
            && ctx.delete(&fleets, &fleet).await?
        {
            ctx.publish(
                prov,
                Note {
                    warning: false,
                    reason: "FleetClusterDeleted",
                    action: "Delete",
                    message: format!(
                        "deleted fleet cluster {workspace}/{name} with its prov cluster"
                    ),
                },
            )
            .await;
        }
        let groups: Api<ClusterGroup> = Api::namespaced(ctx.client.clone(), workspace);
        if let Some(group) = groups
            .get_opt(LOCAL_CLUSTER_GROUP)
            .await
            .map_err(|e| read_error("ClusterGroup", LOCAL_CLUSTER_GROUP, e))?
            && OwnerMarks::read(group.metadata.annotations.as_ref())
                .is_some_and(|m| m.name_owner(prov))
        {
            ctx.delete(&groups, &group).await?;
        }
    }
    let provs: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    ctx.remove_finalizer(&provs, prov, finalizers::PROV_CLUSTER)
        .await?;
    Ok(())
}
