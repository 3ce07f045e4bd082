//! Back-population (W4): a namespace that holds prov or fleet clusters but has no workspace gets
//! an unmanaged one, owned by the namespace, so Fleet and Rancher see every cluster in a
//! workspace. A controller over namespaces: the workspace to create does not exist yet.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};

use crate::api::{FleetCluster, FleetWorkspace, ProvCluster};
use crate::controllers::Error;
use crate::mapping::workspace::backpopulated_workspace;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::watches::Watches;

type NamespaceMeta = PartialObjectMeta<Namespace>;

pub fn controller(
    ctx: &Context,
    watches: &Watches,
    pending: &Arc<Pending<NamespaceMeta>>,
) -> Controller<NamespaceMeta> {
    let stores = &ctx.stores;
    Controller::for_stream(
        pending.trigger(watches.namespaces.subscribe()),
        stores.namespaces.clone(),
    )
    // Only clusters in a namespace without a workspace are news here.
    .watches_stream(watches.prov.subscribe(), {
        let workspaces = stores.workspaces.clone();
        pending.track(move |prov: ProvCluster| without_workspace(&workspaces, prov.namespace()))
    })
    .watches_stream(watches.fleet.subscribe(), {
        let workspaces = stores.workspaces.clone();
        pending.track(move |fleet: FleetCluster| without_workspace(&workspaces, fleet.namespace()))
    })
    // A deleted workspace whose namespace still holds clusters comes back, unmanaged.
    .watches_stream(watches.workspaces.subscribe(), {
        let workspaces = stores.workspaces.clone();
        pending.track(move |ws: FleetWorkspace| without_workspace(&workspaces, ws.metadata.name))
    })
}

fn without_workspace(
    workspaces: &Store<FleetWorkspace>,
    namespace: Option<String>,
) -> Option<ObjectRef<NamespaceMeta>> {
    let namespace = namespace?;
    workspaces
        .get(&ObjectRef::new(&namespace))
        .is_none()
        .then(|| ObjectRef::new(&namespace))
}

pub async fn reconcile(ns: Arc<NamespaceMeta>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = ns.name_any();
    let stores = &ctx.stores;
    let workspace_exists = stores.workspaces.get(&ObjectRef::new(&name)).is_some();
    let in_namespace = |n: Option<&str>| n == Some(name.as_str());
    let holds_clusters = !workspace_exists
        && (stores
            .prov
            .find(|p| in_namespace(p.metadata.namespace.as_deref()))
            .is_some()
            || stores
                .fleet
                .find(|f| in_namespace(f.metadata.namespace.as_deref()))
                .is_some());
    if let Some(ws) = backpopulated_workspace(
        &ns.metadata,
        workspace_exists,
        holds_clusters,
        &ctx.config.default_workspace,
    ) {
        // A create, never an apply: a workspace someone made in the meantime must not become
        // unmanaged. If one exists, the create fails harmlessly.
        ctx.create(&Api::<FleetWorkspace>::all(ctx.client.clone()), &ws)
            .await?;
    }
    Ok(Action::await_change())
}
