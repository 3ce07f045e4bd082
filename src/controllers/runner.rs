//! What every controller does around its reconcile: skip work while standing by, time and count
//! it, back off per object on failure, reset that backoff on success.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Error;
use crate::consts::{actions, reasons};
use crate::mapping::notice::Notice;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::visible::settled;

/// Runs `controller` with `reconcile` until `shutdown` is cancelled. `pending` counts its
/// queue: the controller's triggers go through [`Pending::trigger`] and [`Pending::track`].
pub fn drive<K, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    pending: Arc<Pending<K>>,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
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
        .graceful_shutdown_on(shutdown.cancelled_owned());
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
                            return Ok(not_writing(&ctx.leadership));
                        }
                        let key = object_key(obj.as_ref());
                        let started = Instant::now();
                        // Ends once the caches hold its own writes, so that the next reconcile
                        // does not repeat them.
                        let result = settled(reconcile(obj.clone(), ctx.clone())).await;
                        ctx.metrics.reconciled(name, started.elapsed());
                        if result.is_ok() {
                            succeeded(&ctx, &key, &obj.object_ref(&()));
                        }
                        result
                    }
                },
                move |obj: Arc<K>, error: &Error, ctx: Arc<Context>| {
                    let key = object_key(obj.as_ref());
                    Action::requeue(failed(&ctx, name, &key, obj.object_ref(&()), error))
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

/// What a reconcile that may not write now does. A standby drops it: when it becomes the
/// leader it reconciles everything. The leader in its last moments before the fence (a
/// renewal is late) keeps it for a second later: the renewal may still come, and then no new
/// term would bring the change back.
fn not_writing(leadership: &crate::runtime::leadership::Leadership) -> Action {
    if leadership.holds_term() {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    }
}

/// Runs `ensure` for objects that may be missing, which kube's `Controller` never reconciles
/// (it only reconciles what is in its store, and "missing" is the case to repair): on every
/// trigger and, after a failure, again after the backoff, until `shutdown` is cancelled. Around
/// it the same as around every reconcile: skipped while standing by, timed and counted, backed
/// off on failure (under `name`), and a failure reported by an Event on the object `target`
/// names (the cached one when there is one).
pub fn keep<T, F, Fut>(
    name: &'static str,
    triggers: T,
    target: fn(&Context) -> ObjectReference,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
    ensure: F,
) -> BoxFuture<'static, ()>
where
    T: Stream<Item = ()> + Send + 'static,
    F: Fn(Arc<Context>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Box::pin(async move {
        let mut triggers = std::pin::pin!(triggers.take_until(shutdown.cancelled_owned()));
        let mut retry: Option<Duration> = None;
        loop {
            let backoff = async {
                match retry {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                trigger = triggers.next() => if trigger.is_none() { return },
                () = backoff => {}
            }
            if !ctx.leadership.is_leader() {
                retry = None;
                continue;
            }
            let started = Instant::now();
            let result = settled(ensure(ctx.clone())).await;
            ctx.metrics.reconciled(name, started.elapsed());
            retry = match result {
                Ok(()) => {
                    succeeded(&ctx, name, &target(&ctx));
                    None
                }
                Err(error) => Some(failed(&ctx, name, name, target(&ctx), &error)),
            };
        }
    })
}

/// After a successful reconcile: the failures of `key` are forgotten.
fn succeeded(ctx: &Context, key: &str, target: &ObjectReference) {
    ctx.reset_backoff(key);
    ctx.forget_notice_to(target, reasons::RECONCILE_FAILED);
}

/// After a failed reconcile: counted, logged and reported on `target`; returns the delay before
/// the retry.
fn failed(
    ctx: &Arc<Context>,
    name: &'static str,
    key: &str,
    target: ObjectReference,
    error: &Error,
) -> Duration {
    ctx.metrics.failed(name, error.category());
    let delay = ctx.next_backoff(key);
    warn!(controller = name, object = %key, %error, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
    // Logs are not where users look: the failure goes on the object too, once per distinct
    // message rather than once per retry.
    let note = Notice::warning(
        reasons::RECONCILE_FAILED,
        actions::RECONCILE,
        error.to_string(),
    );
    let ctx = ctx.clone();
    tokio::spawn(async move { ctx.publish_to_on_change(&target, note).await });
    delay
}

/// The object `store` holds under `name`, or one of that name that does not exist yet.
pub fn reference_to<K>(store: &Store<K>, name: &str) -> ObjectReference
where
    K: Resource<DynamicType = ()> + Clone,
{
    match store.get(&ObjectRef::new(name)) {
        Some(obj) => obj.object_ref(&()),
        None => ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: Some(name.into()),
            ..ObjectReference::default()
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::leadership::Leadership;

    #[test]
    fn a_leader_near_its_fence_keeps_the_change_and_a_standby_drops_it() {
        let leadership = Leadership::standby();
        assert_eq!(not_writing(&leadership), Action::await_change());
        // Inside the last moments before the fence: no write may start, the term still holds.
        leadership.lead_until(tokio::time::Instant::now() + Duration::from_millis(100));
        assert!(!leadership.is_leader());
        assert_eq!(
            not_writing(&leadership),
            Action::requeue(Duration::from_secs(1))
        );
        leadership.set(false);
        assert_eq!(not_writing(&leadership), Action::await_change());
    }
}
