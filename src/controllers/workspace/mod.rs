//! The FleetWorkspace controller (spec §3). Three loops share one future:
//! - the workspace controller: namespace (W1, W6), creator RBAC (W5), deletion (W7);
//! - back-population (W4), a controller over namespaces, because the workspace it creates does
//!   not exist yet and kube's `Controller` only reconciles objects that are in its store;
//! - the default workspaces (W3), a small loop for the same reason.

mod backfill;
mod defaults;
mod deletion;
mod namespace;
mod rbac;
mod reconcile;
mod report;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::runner::drive;
use crate::api::FleetWorkspace;
use crate::consts::labels;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::watches::Watches;

/// The workspace loops, as one future that ends when `shutdown` fires.
pub fn controller(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: CancellationToken,
) -> BoxFuture<'static, ()> {
    let reporter = Arc::new(report::Reporter::default());
    let pending = Pending::new(ctx.stores.workspaces.clone());
    let workspaces = drive(
        "workspace",
        workspace_controller(&ctx, watches, &pending),
        pending,
        ctx.clone(),
        shutdown.clone(),
        move |ws, ctx| reconcile::reconcile(ws, ctx, reporter.clone()),
    );
    let pending = Pending::new(ctx.stores.namespaces.clone());
    let backfill = drive(
        "workspace-backfill",
        backfill::controller(&ctx, watches, &pending),
        pending,
        ctx.clone(),
        shutdown.clone(),
        backfill::reconcile,
    );
    let defaults = defaults::keep(ctx, watches, shutdown);
    Box::pin(async move {
        futures::join!(workspaces, backfill, defaults);
    })
}

fn workspace_controller(
    ctx: &Context,
    watches: &Watches,
    pending: &Arc<Pending<FleetWorkspace>>,
) -> Controller<FleetWorkspace> {
    let stores = &ctx.stores;
    Controller::for_stream(
        pending.trigger(watches.workspaces.subscribe()),
        stores.workspaces.clone(),
    )
    .watches_stream(
        watches.namespaces.subscribe(),
        pending.track(|ns: PartialObjectMeta<Namespace>| {
            ns.metadata.name.as_deref().map(ObjectRef::new)
        }),
    )
    // Clusters matter to a workspace only while its deletion waits for them to go; cluster
    // status churn must not reconcile every workspace.
    .watches_stream(watches.prov.subscribe(), {
        let workspaces = stores.workspaces.clone();
        pending.track(move |prov: crate::api::ProvCluster| deleting(&workspaces, prov.namespace()))
    })
    .watches_stream(watches.fleet.subscribe(), {
        let workspaces = stores.workspaces.clone();
        pending
            .track(move |fleet: crate::api::FleetCluster| deleting(&workspaces, fleet.namespace()))
    })
    .watches_stream(watches.role_bindings.subscribe(), pending.track(labelled))
    .watches_stream(watches.cluster_roles.subscribe(), pending.track(labelled))
    .watches_stream(
        watches.cluster_role_bindings.subscribe(),
        pending.track(labelled),
    )
}

/// The workspace named `namespace`, if it is being deleted.
fn deleting(
    workspaces: &Store<FleetWorkspace>,
    namespace: Option<String>,
) -> Option<ObjectRef<FleetWorkspace>> {
    let reference = ObjectRef::new(&namespace?);
    workspaces
        .get(&reference)
        .filter(|ws| ws.metadata.deletion_timestamp.is_some())
        .map(|_| reference)
}

/// The workspace an RBAC object of drover's belongs to, by its label.
fn labelled<K: Resource>(obj: K) -> Option<ObjectRef<FleetWorkspace>> {
    obj.meta()
        .labels
        .as_ref()?
        .get(labels::WORKSPACE)
        .map(|ws| ObjectRef::new(ws))
}

/// A full Namespace with the cached metadata, to compare desired namespaces with and to delete
/// with a UID precondition.
fn as_namespace(meta: &PartialObjectMeta<Namespace>) -> Namespace {
    Namespace {
        metadata: meta.metadata.clone(),
        ..Namespace::default()
    }
}
