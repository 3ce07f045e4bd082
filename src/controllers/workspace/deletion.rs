//! Deleting a managed workspace (W7): its namespace goes only if drover created it, and by
//! default only once it holds no prov or fleet cluster (deleting it would deprovision every
//! downstream cluster in it). Until then the workspace keeps drover's finalizer and says why.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::rbac;
use super::report::Reporter;
use crate::api::{FleetCluster, FleetWorkspace, ProvCluster};
use crate::config::WorkspaceDeletion;
use crate::consts::actions;
use crate::consts::finalizers;
use crate::controllers::Error;
use crate::mapping::notice::Notice;
use crate::mapping::workspace::{
    DeletionPlan, Occupants, Situation, namespace_was_created_for, plan_deletion, reasons,
};
use crate::runtime::Context;
use crate::runtime::watches::{FleetKey, ProvKey};

pub async fn reconcile(
    ws: &FleetWorkspace,
    ctx: &Context,
    reporter: &Reporter,
) -> Result<Action, Error> {
    if !ws.finalizers().iter().any(|f| f == finalizers::WORKSPACE) {
        return Ok(Action::await_change());
    }
    let name = ws.name_any();
    let api = Api::<FleetWorkspace>::all(ctx.client.clone());
    if ctx.kind_is_being_removed::<FleetWorkspace>().await? {
        // §I7: the CRD is going and takes every workspace with it; that is no request to delete
        // their namespaces (and every cluster in them) or their creators' RBAC.
        ctx.remove_finalizer(&api, ws, finalizers::WORKSPACE)
            .await?;
        reporter.forget(ws);
        return Ok(Action::await_change());
    }
    let namespace = ctx.stores.namespaces.get(&ObjectRef::new(&name));
    let occupants = occupants(ctx, &name);
    let plan = plan_deletion(
        ws,
        namespace.as_ref().map(|ns| &ns.metadata),
        occupants.clone(),
        ctx.config.workspace_deletion,
    );
    match plan {
        DeletionPlan::Wait(occupants) => {
            // Prov and fleet cluster events re-trigger this workspace while it is deleting.
            reporter
                .report(ctx, ws, Some(&Situation::DeletionWaits(occupants)), None)
                .await?;
            return Ok(Action::await_change());
        }
        DeletionPlan::DeleteNamespace => {
            if ctx.config.workspace_deletion == WorkspaceDeletion::Protect {
                // The cache said the namespace is empty; only a live read may decide (§I4): a
                // cache that lags, stalled, or skipped an object it cannot decode must never turn
                // into deleting the clusters in it.
                let live = live_occupants(ctx, &name).await?;
                if !live.is_empty() {
                    let mut all = occupants.clone();
                    all.merge(live);
                    reporter
                        .report(ctx, ws, Some(&Situation::DeletionWaits(all)), None)
                        .await?;
                    // The cache may never tell when these go: look again.
                    return Ok(Action::requeue(LIVE_RECHECK));
                }
            }
            if namespace.is_some() {
                // Read again and checked again right before the delete (§4a I4): marks the
                // cache has not seen yet may say the namespace is no longer this workspace's.
                let api = Api::<Namespace>::all(ctx.client.clone());
                let still_ours = |live: &Namespace| namespace_was_created_for(&live.metadata, ws);
                if ctx.delete_if_still(&api, &name, still_ours).await? {
                    ctx.publish(ws, deleted_note(&name, &occupants)).await;
                }
            }
        }
        DeletionPlan::Release => {}
    }
    rbac::remove(ws, ctx).await?;
    ctx.remove_finalizer(&api, ws, finalizers::WORKSPACE)
        .await?;
    reporter.forget(ws);
    Ok(Action::await_change())
}

fn deleted_note(name: &str, occupants: &Occupants) -> Notice {
    let message = if occupants.is_empty() {
        format!("deleted namespace {name} with its workspace")
    } else {
        format!(
            "deleted namespace {name} with its workspace, and with it {} (cascading deletion)",
            occupants.describe()
        )
    };
    Notice {
        warning: !occupants.is_empty(),
        reason: reasons::NAMESPACE_DELETED.into(),
        action: actions::DELETE,
        message,
    }
}

/// How often a deletion that a live read found clusters for, but the cache did not, looks again.
const LIVE_RECHECK: Duration = Duration::from_secs(10);

/// A prov and a fleet cluster in the namespace, if there is any, read live (one of each is
/// enough to wait).
async fn live_occupants(ctx: &Context, namespace: &str) -> Result<Occupants, Error> {
    Ok(Occupants {
        prov: ctx.live_names::<ProvCluster>(namespace, 1).await?,
        fleet: ctx.live_names::<FleetCluster>(namespace, 1).await?,
    })
}

/// The prov and fleet clusters in a namespace, by name, sorted.
fn occupants(ctx: &Context, namespace: &str) -> Occupants {
    let in_namespace = |ns: Option<&str>| ns == Some(namespace);
    let stores = &ctx.stores;
    let mut prov: Vec<String> = stores
        .indexes
        .prov
        .get(&stores.prov, &ProvKey::Namespace(namespace.to_string()))
        .iter()
        .filter(|p| in_namespace(p.metadata.namespace.as_deref()))
        .map(|p| p.name_any())
        .collect();
    let mut fleet: Vec<String> = stores
        .indexes
        .fleet
        .get(&stores.fleet, &FleetKey::Namespace(namespace.to_string()))
        .iter()
        .filter(|f| in_namespace(f.metadata.namespace.as_deref()))
        .map(|f| f.name_any())
        .collect();
    prov.sort();
    fleet.sort();
    Occupants { prov, fleet }
}
