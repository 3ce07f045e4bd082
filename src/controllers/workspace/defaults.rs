//! The default workspaces (W3), kept continuously: the default workspace (managed, so it gets its
//! namespace through the workspace controller), the namespace `fleet-local` and its unmanaged
//! workspace. A loop of its own, because kube's `Controller` never reconciles an object that is
//! missing from its store, and "missing" is exactly the case to repair.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use super::as_namespace;
use crate::api::FleetWorkspace;
use crate::consts::LOCAL_WORKSPACE;
use crate::controllers::{Error, runner};
use crate::mapping::workspace::{default_workspace, local_namespace, local_workspace};
use crate::runtime::Context;
use crate::runtime::watches::Watches;

const NAME: &str = "workspace-defaults";

/// Ensures the defaults when this replica becomes the leader and whenever one of them changes,
/// through the runner's loop for objects that may be missing, until `shutdown` is cancelled.
/// A failure is reported on the default workspace.
pub fn keep(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: CancellationToken,
) -> BoxFuture<'static, ()> {
    let default_name = ctx.config.default_workspace.clone();
    let workspaces = watches.workspaces.subscribe().filter_map(move |ws| {
        let touched = ws.ok().and_then(|ws: FleetWorkspace| ws.metadata.name);
        let relevant = touched.is_some_and(|n| n == default_name || n == LOCAL_WORKSPACE);
        std::future::ready(relevant.then_some(()))
    });
    let namespaces = watches.namespaces.subscribe().filter_map(|ns| {
        let touched = ns
            .ok()
            .and_then(|ns: PartialObjectMeta<Namespace>| ns.metadata.name);
        std::future::ready(touched.is_some_and(|n| n == LOCAL_WORKSPACE).then_some(()))
    });
    let triggers = stream::select_all([
        workspaces.boxed(),
        namespaces.boxed(),
        ctx.leadership.gained().boxed(),
    ]);
    runner::keep(
        NAME,
        triggers,
        |ctx| runner::reference_to(&ctx.stores.workspaces, &ctx.config.default_workspace),
        ctx,
        shutdown,
        |ctx| async move { ensure(&ctx).await },
    )
}

async fn ensure(ctx: &Context) -> Result<(), Error> {
    let workspaces = Api::<FleetWorkspace>::all(ctx.client.clone());
    for desired in [
        default_workspace(&ctx.config.default_workspace),
        local_workspace(),
    ] {
        let name = desired.metadata.name.clone().unwrap_or_default();
        let current = ctx.stores.workspaces.get(&ObjectRef::new(&name));
        // A workspace on its way out comes back once it is gone (its deletion is an event too).
        if current
            .as_ref()
            .is_some_and(|ws| ws.metadata.deletion_timestamp.is_some())
        {
            continue;
        }
        ctx.apply(&workspaces, &desired, current.as_deref()).await?;
    }
    let current = ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(LOCAL_WORKSPACE))
        .map(|ns| as_namespace(&ns));
    if current
        .as_ref()
        .is_none_or(|ns| ns.metadata.deletion_timestamp.is_none())
    {
        let namespaces = Api::<Namespace>::all(ctx.client.clone());
        ctx.apply(&namespaces, &local_namespace(), current.as_ref())
            .await?;
    }
    Ok(())
}
