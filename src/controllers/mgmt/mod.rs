//! The mgmt cluster controller: workspace assignment (§C4), mgmt -> prov for legacy clusters
//! (§C3), their moves (§C8), and the mgmt side of deletion (§C7). `local` is bootstrapped by
//! [`bootstrap`] (§C9).

pub mod bootstrap;

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta};
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use super::{Error, runner};
use crate::api::{MgmtCluster, MgmtClusterSpec, ProvCluster};
use crate::consts::actions;
use crate::consts::finalizers;
use crate::consts::reasons::mgmt as reasons;
use crate::controllers::copies::{Owned, Place, Unwanted, delete_unwanted_fleet_clusters};
use crate::mapping::cluster::{
    desired_legacy_prov_cluster, is_owned_by_a_prov_cluster, legacy_prov_workspace, mgmt_name_for,
    workspace_to_assign,
};
use crate::mapping::deletion::{is_legacy_prov_of, is_stale_legacy_copy, prov_belongs_to_mgmt};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::is_legacy_name;
use crate::mapping::notice::Notice;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::watches::{ProvKey, Watches};

pub const NAME: &str = "mgmt";

pub fn controller(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: CancellationToken,
) -> BoxFuture<'static, ()> {
    let pending = Pending::new(ctx.stores.mgmt.clone());
    let controller = Controller::for_stream(
        pending.trigger(watches.mgmt.subscribe()),
        ctx.stores.mgmt.clone(),
    )
    .watches_stream(
        watches.prov.subscribe(),
        pending.track(|p: ProvCluster| {
            mgmt_name_for(&p).map(|name| ObjectRef::<MgmtCluster>::new(&name))
        }),
    );
    runner::drive(NAME, controller, pending, ctx, shutdown, reconcile)
}

async fn reconcile(mgmt: Arc<MgmtCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
    if mgmt.metadata.deletion_timestamp.is_some() {
        // §I4: removal logic runs only while drover's finalizer holds the mgmt cluster.
        if mgmt
            .finalizers()
            .iter()
            .any(|f| f == finalizers::MGMT_CLUSTER)
        {
            remove(&mgmt, &ctx).await?;
        }
        return Ok(Action::await_change());
    }
    let name = mgmt.name_any();
    let owned_by_prov = is_owned_by_a_prov_cluster(&mgmt);
    let legacy = is_legacy_name(&name);

    // §C4: the prov controller sets the workspace of mgmt clusters it created; every other one
    // without a workspace gets one here. The desired object keeps naming the current value, so
    // that a field drover once assigned is never dropped by a later apply.
    let mut workspace = mgmt.workspace().map(str::to_string);
    if !owned_by_prov
        && let Some(ws) = workspace
            .clone()
            .or_else(|| workspace_to_assign(&mgmt, &ctx.config.default_workspace))
    {
        let desired = MgmtCluster {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            spec: MgmtClusterSpec {
                fleet_workspace_name: Some(ws.clone()),
                ..MgmtClusterSpec::default()
            },
            status: None,
        };
        ctx.priority
            .surface(ctx.apply(&mgmts, &desired, Some(mgmt.as_ref())))
            .await?;
        workspace = Some(ws);
    }

    let prov_workspace = if legacy {
        match &workspace {
            Some(ws) => Some(ws.clone()),
            None => legacy_prov_workspace(&mgmt, &ctx.config.default_workspace),
        }
    } else {
        None
    };
    if owned_by_prov || prov_workspace.is_some() {
        ctx.priority
            .surface(ctx.add_finalizer(&mgmts, mgmt.as_ref(), finalizers::MGMT_CLUSTER))
            .await?;
    }
    // A legacy-shaped mgmt cluster that a prov cluster created (before such names were refused,
    // §C1) is that prov cluster's counterpart: a second prov cluster would break 1:1.
    if let Some(ws) = prov_workspace.filter(|_| !owned_by_prov) {
        sync_legacy_prov(&ctx, &mgmt, &ws).await?;
    }
    Ok(Action::await_change())
}

/// §C3 and §C8: the legacy mgmt cluster's prov cluster in its workspace, and no copy elsewhere.
async fn sync_legacy_prov(ctx: &Context, mgmt: &MgmtCluster, workspace: &str) -> Result<(), Error> {
    let name = mgmt.name_any();
    let provs: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), workspace);
    let cached = ctx
        .stores
        .prov
        .get(&ObjectRef::new(&name).within(workspace));
    let existing = ctx.cached_or_live(cached, &provs, &name).await?;
    let foreign = existing
        .as_deref()
        .is_some_and(|p| !is_legacy_prov_of(p, mgmt));
    if existing
        .as_deref()
        .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
    {
        // Its deletion finishes first (another controller may hold it); once it is gone, its
        // deletion event brings this mgmt cluster back here to make a fresh one.
    } else if foreign {
        // A prov cluster of that name that drover did not create for this mgmt cluster: it
        // represents the mgmt cluster (status) but its spec is not taken over.
        let message = format!(
            "prov cluster {workspace}/{name} exists and was not created for this cluster; its \
             spec is left alone"
        );
        let notice = Notice::warning(reasons::PROV_CLUSTER_NOT_ADOPTED, actions::CREATE, message);
        ctx.publish_on_change(mgmt, notice).await;
        return Ok(());
    } else {
        let desired = desired_legacy_prov_cluster(mgmt, workspace, existing.as_deref());
        // drover's finalizer on the prov cluster rides in this apply.
        let sent = ctx
            .priority
            .surface(ctx.apply(&provs, &desired, existing.as_deref()))
            .await?;
        if sent && existing.is_none() {
            ctx.publish_after_surfacing(
                mgmt,
                Notice::normal(
                    reasons::PROV_CLUSTER_CREATED,
                    actions::CREATE,
                    format!("created prov cluster {workspace}/{name}"),
                ),
            );
        }
    }
    // Every copy made for this mgmt cluster is owned; only the one in its workspace is wanted.
    // A copy already deleted and released is done with, whoever still holds it.
    let stores = &ctx.stores;
    let same_name = stores
        .indexes
        .prov
        .get(&stores.prov, &ProvKey::Name(name.clone()));
    let copies = Owned::namespaced(ctx.client.clone(), |p: &ProvCluster| {
        is_legacy_prov_of(p, mgmt)
    })
    .among(same_name, |p| {
        p.metadata.name.as_deref() == Some(name.as_str())
            && (p.metadata.deletion_timestamp.is_none()
                || p.finalizers().iter().any(|f| f == finalizers::PROV_CLUSTER))
    })
    .want((Some(workspace.to_string()), name.clone()));
    for (place, cached) in copies.unwanted() {
        if let Some(old) = cached {
            remove_stale_copy(ctx, mgmt, workspace, &copies, place, old).await?;
        }
    }
    Ok(())
}

/// Removes a copy a move left behind (§C8): its fleet clusters, the copy, and drover's finalizer
/// on it. The copy goes without the prov controller's removal logic, which deletes the mgmt
/// cluster a copy represents: were the cluster moved back before that logic ran (or while another
/// controller holds the copy), the copy would look like the representation again.
async fn remove_stale_copy(
    ctx: &Context,
    mgmt: &MgmtCluster,
    workspace: &str,
    copies: &Owned<ProvCluster, impl Fn(&ProvCluster) -> bool>,
    place: &Place,
    old: &ProvCluster,
) -> Result<(), Error> {
    let name = old.name_any();
    let old_ns = old.namespace().unwrap_or_default();
    let api: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &old_ns);
    let still_stale = |p: &ProvCluster| is_stale_legacy_copy(p, mgmt, Some(workspace));
    delete_unwanted_fleet_clusters(ctx, old, Unwanted::StaleCopy, &[]).await?;
    if copies.delete(ctx, place).await? {
        ctx.publish(
            mgmt,
            Notice::normal(
                reasons::PROV_CLUSTER_MOVED,
                actions::MOVE,
                format!("prov cluster moved from {old_ns} to {workspace}"),
            ),
        )
        .await;
    }
    ctx.release_if_still(&api, &name, finalizers::PROV_CLUSTER, |p| {
        p.metadata.deletion_timestamp.is_some() && still_stale(p)
    })
    .await?;
    Ok(())
}

/// §C7: removing a mgmt cluster removes the prov clusters that belong to it (re-checked live),
/// then the finalizer.
async fn remove(mgmt: &MgmtCluster, ctx: &Context) -> Result<(), Error> {
    let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
    if ctx.kind_is_being_removed::<MgmtCluster>().await? {
        // §I7: the CRD is going and takes every mgmt cluster with it; their prov clusters stay.
        ctx.remove_finalizer(&mgmts, mgmt, finalizers::MGMT_CLUSTER)
            .await?;
        return Ok(());
    }
    // The prov clusters whose marks name this mgmt cluster, and the one its own marks name.
    let stores = &ctx.stores;
    let mut candidates = stores
        .indexes
        .prov
        .get(&stores.prov, &ProvKey::Owner(mgmt.name_any()));
    if let Some(marks) = OwnerMarks::read(mgmt.metadata.annotations.as_ref()) {
        let named = ObjectRef::<ProvCluster>::new(&marks.name).within(&marks.namespace);
        candidates.extend(stores.prov.get(&named));
    }
    let key = |p: &Arc<ProvCluster>| (p.namespace(), p.name_any());
    candidates.sort_by_key(key);
    candidates.dedup_by_key(|p| key(p));
    let belonging: Vec<_> = candidates
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && prov_belongs_to_mgmt(p, mgmt))
        .collect();
    for prov in belonging {
        let ns = prov.namespace().unwrap_or_default();
        let api: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &ns);
        if ctx
            .delete_if_still(&api, &prov.name_any(), |p| prov_belongs_to_mgmt(p, mgmt))
            .await?
        {
            ctx.publish(
                mgmt,
                Notice::normal(
                    reasons::PROV_CLUSTER_DELETED,
                    actions::DELETE,
                    format!(
                        "deleted prov cluster {ns}/{} with its mgmt cluster",
                        prov.name_any()
                    ),
                ),
            )
            .await;
        }
    }
    ctx.remove_finalizer(&mgmts, mgmt, finalizers::MGMT_CLUSTER)
        .await?;
    Ok(())
}
