//! The controllers: one module per concern, each = watches + reconcile + error policy, reading
//! the shared stores, deciding through [`crate::mapping`], writing through [`crate::runtime::write`].
//! [`crate::app`] starts and stops them.

mod cluster;
mod copies;
mod error;
mod mgmt;
mod runner;
mod workspace;

pub use error::Error;

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::runtime::Context;
use crate::runtime::watches::Watches;

/// Every controller, by name: futures that subscribe to `watches` now, and end once `shutdown`
/// is cancelled and their in-flight reconciles have finished.
pub fn all(
    ctx: &Arc<Context>,
    watches: &Watches,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, BoxFuture<'static, ()>)> {
    let mut controllers = vec![
        (
            "workspace controller",
            workspace::controller(ctx.clone(), watches, shutdown.clone()),
        ),
        (
            "cluster controller",
            cluster::controller(ctx.clone(), watches, shutdown.clone()),
        ),
        (
            "mgmt controller",
            mgmt::controller(ctx.clone(), watches, shutdown.clone()),
        ),
    ];
    if ctx.config.bootstrap_local_cluster {
        controllers.push((
            "local cluster bootstrap",
            mgmt::bootstrap::task(ctx.clone(), watches, shutdown.clone()),
        ));
    }
    controllers
}
