//! What every controller does around its reconcile: skip work while standing by, time and count
//! it, back off per object on failure, reset that backoff on success.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;
use kube::Resource;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::Error;
use crate::consts::{actions, reasons};
use crate::mapping::notice::Notice;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::visible::settled;

/// Runs `controller` with `reconcile` until its shutdown trigger fires. `pending` counts its
/// queue: the controller's triggers go through [`Pending::trigger`] and [`Pending::track`].
pub fn drive<K, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    pending: Arc<Pending<K>>,
    ctx: Arc<Context>,
    shutdown: super::Shutdown,
    reconcile: F,
) -> BoxFuture<'static, ()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K: Resource,
    <K as Resource>::DynamicType: Eq + Hash,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let reconcile = Arc::new(reconcile);
    ctx.metrics.register_queue(name, {
        let pending = pending.clone();
        move || pending.depth()
    });
    let gained = ctx.leadership.gained().inspect({
        let pending = pending.clone();
        move |()| pending.all()
    });
    let controller = controller
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
        )
        .reconcile_all_on(gained)
        .graceful_shutdown_on(shutdown);
    Box::pin(
        controller
            .run(
                move |obj: Arc<K>, ctx: Arc<Context>| {
                    let reconcile = reconcile.clone();
                    pending.started(obj.as_ref());
                    #[cfg(debug_assertions)]
                    fault::panic_if_asked(obj.as_ref());
                    async move {
                        if !ctx.leadership.is_leader() {
                            return Ok(Action::await_change());
                        }
                        let key = object_key(obj.as_ref());
                        let started = Instant::now();
                        // Ends once the caches hold its own writes, so that the next reconcile
                        // does not repeat them.
                        let result = settled(reconcile(obj.clone(), ctx.clone())).await;
                        ctx.metrics.reconciled(name, started.elapsed());
                        if result.is_ok() {
                            ctx.reset_backoff(&key);
                            ctx.forget_notice(obj.as_ref(), reasons::RECONCILE_FAILED);
                        }
                        result
                    }
                },
                move |obj: Arc<K>, error: &Error, ctx: Arc<Context>| {
                    let key = object_key(obj.as_ref());
                    ctx.metrics.failed(name, error.category());
                    let delay = ctx.next_backoff(&key);
                    warn!(controller = name, object = %key, %error, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
                    // Logs are not where users look: the failure goes on the object too, once
                    // per distinct message rather than once per retry.
                    let message = error.to_string();
                    tokio::spawn(async move {
                        let note = Notice::warning(reasons::RECONCILE_FAILED, actions::RECONCILE, message);
                        ctx.publish_on_change(obj.as_ref(), note).await;
                    });
                    Action::requeue(delay)
                },
                ctx,
            )
            .for_each(move |result| {
                if let Err(error) = result {
                    debug!(controller = name, %error, "controller event");
                }
                std::future::ready(())
            }),
    )
}

/// `namespace/name` or `name`, for logs and the backoff table.
pub fn object_key<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
        None => meta.name.clone().unwrap_or_default(),
    }
}

/// A fault for tests of the process itself, compiled into debug builds only: with
/// `DROVER_DEBUG_PANIC_ON=<name>` in its environment, drover panics in the reconcile of an object
/// of that name, as a bug would. Release builds (the image) do not have it.
#[cfg(debug_assertions)]
mod fault {
    use std::sync::OnceLock;

    use kube::Resource;

    pub fn panic_if_asked<K: Resource>(obj: &K) {
        static NAME: OnceLock<Option<String>> = OnceLock::new();
        let name = NAME.get_or_init(|| std::env::var("DROVER_DEBUG_PANIC_ON").ok());
        if name.is_some() && obj.meta().name == *name {
            panic!("DROVER_DEBUG_PANIC_ON: reconcile of {name:?}");
        }
    }
}
