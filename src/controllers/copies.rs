//! "Apply what is wanted, delete what is owned and no longer wanted" (§I3) for the Fleet clusters
//! drover made for a prov cluster: every copy carries the prov cluster's ownership marks, so the
//! ones no longer wanted are found wherever they are, and each is re-checked live right before
//! it is deleted.

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::api::Api;

use crate::api::{FleetCluster, ProvCluster};
use crate::consts::actions;
use crate::consts::reasons::cluster as reasons;
use crate::controllers::Error;
use crate::mapping::deletion::fleet_belongs_to_prov;
use crate::mapping::notice::Notice;
use crate::runtime::Context;

/// Why a prov cluster's fleet clusters are no longer wanted.
#[derive(Clone, Copy, Debug)]
pub enum Unwanted<'a> {
    /// The cluster moved: only the copy in this workspace is wanted (§C8).
    MovedTo(&'a str),
    /// The prov cluster is being removed (§C7).
    Removed,
    /// The prov cluster is a legacy copy a move left behind (§C8).
    StaleCopy,
}

impl<'a> Unwanted<'a> {
    /// The one namespace whose copy is still wanted.
    fn wanted_in(self) -> Option<&'a str> {
        match self {
            Self::MovedTo(workspace) => Some(workspace),
            Self::Removed | Self::StaleCopy => None,
        }
    }

    fn note(self, namespace: &str, name: &str) -> Notice {
        match self {
            Self::MovedTo(workspace) => Notice::normal(
                reasons::FLEET_CLUSTER_MOVED,
                actions::MOVE,
                format!("fleet cluster moved from {namespace} to {workspace}"),
            ),
            Self::Removed => Notice::normal(
                reasons::FLEET_CLUSTER_DELETED,
                actions::DELETE,
                format!("deleted fleet cluster {namespace}/{name} with its prov cluster"),
            ),
            Self::StaleCopy => Notice::normal(
                reasons::FLEET_CLUSTER_DELETED,
                actions::DELETE,
                format!(
                    "deleted fleet cluster {namespace}/{name}: its prov cluster is a copy a move \
                     left behind"
                ),
            ),
        }
    }
}

/// Deletes the fleet clusters made for `prov` that are no longer wanted: all of them, or all but
/// the one in the workspace a move went to. The watch cache says where copies are;
/// `also_look_in` adds namespaces to look in live (a copy written a moment ago may not be cached
/// yet).
pub async fn delete_unwanted_fleet_clusters(
    ctx: &Context,
    prov: &ProvCluster,
    why: Unwanted<'_>,
    also_look_in: &[String],
) -> Result<(), Error> {
    let name = prov.name_any();
    let wanted_in = why.wanted_in();
    let mut namespaces: BTreeSet<String> = ctx
        .stores
        .fleet
        .state_filter(|f| f.metadata.name.as_deref() == Some(name.as_str()))
        .into_iter()
        .filter(|f| fleet_belongs_to_prov(f, prov))
        .filter_map(|f| f.namespace())
        .collect();
    namespaces.extend(also_look_in.iter().cloned());
    for namespace in namespaces
        .iter()
        .filter(|ns| Some(ns.as_str()) != wanted_in)
    {
        let api: Api<FleetCluster> = Api::namespaced(ctx.client.clone(), namespace);
        if ctx
            .delete_if_still(&api, &name, |f| fleet_belongs_to_prov(f, prov))
            .await?
        {
            ctx.publish(prov, why.note(namespace, &name)).await;
        }
    }
    Ok(())
}
