//! Surfacing first. What a user waits for is the object they look at: the Fleet cluster, and on
//! the way to it the mgmt and prov clusters it is made from. Bookkeeping (the prov status,
//! Events announcing a create) tells about that work and can follow it. When many clusters
//! arrive at once, the API server's write throughput is the shared resource: this module lets
//! the surfacing writes of every cluster go ahead of the bookkeeping writes, without starving
//! either.
//!
//! - Surfacing writes go through [`Priority::surface`], which notes that they are going on. A
//!   write that turns out to be a no-op notes nothing, so no-op reconciles (which follow every
//!   bookkeeping write) never hold bookkeeping up.
//! - A reconcile whose bookkeeping write finds other reconciles surfacing parks the object
//!   ([`Priority::defer`]) and ends; once no surfacing has been going on for [`QUIET`], every
//!   parked object is reconciled again ([`Priority::wakeups`]). An object is never parked
//!   longer than [`MAX_DEFERRAL`]: its requeue fires then, and it writes whatever is going on.
//! - Events announcing a create wait the same way in a task of their own
//!   ([`Priority::bookkeeping_turn`]), woken when surfacing turns quiet, not on every write.
//!
//! Surfacing itself never waits for bookkeeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, mpsc, watch};

use crate::api::ProvCluster;

/// How long no surfacing must have gone on before parked bookkeeping runs.
pub const QUIET: Duration = Duration::from_millis(100);
/// The longest bookkeeping waits for surfacing.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(20);

/// A parked object: since when, and whether it was already woken for the current quiet spell.
struct Parked {
    since: Instant,
    woken: bool,
}

pub struct Priority {
    /// Reconciles in their surfacing part.
    active: AtomicUsize,
    /// When the last surfacing part ended.
    last_ended: Mutex<Instant>,
    changed: Notify,
    /// Whether surfacing is quiet, kept by [`Self::wake_parked_when_quiet`]: waiters are woken
    /// when it turns, not on every surfacing write.
    quiet: watch::Sender<bool>,
    parked: Mutex<HashMap<ObjectRef<ProvCluster>, Parked>>,
    wake: mpsc::UnboundedSender<ObjectRef<ProvCluster>>,
    wakeups: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<ProvCluster>>>>,
}

impl Default for Priority {
    fn default() -> Self {
        let (wake, wakeups) = mpsc::unbounded_channel();
        Self {
            active: AtomicUsize::new(0),
            last_ended: Mutex::new(Instant::now()),
            changed: Notify::new(),
            quiet: watch::Sender::new(false),
            parked: Mutex::new(HashMap::new()),
            wake,
            wakeups: Mutex::new(Some(wakeups)),
        }
    }
}

/// Counts a surfacing write while it is in flight (also when its future is dropped).
struct InFlight<'a> {
    priority: &'a Priority,
    sent: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.sent {
            *lock(&self.priority.last_ended) = Instant::now();
        }
        self.priority.active.fetch_sub(1, Ordering::SeqCst);
        self.priority.changed.notify_waiters();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Priority {
    /// Runs `write`, a surfacing write that answers whether it sent anything, noting that
    /// surfacing is going on while it runs and, when it sent something, when it ended.
    pub async fn surface<E>(
        &self,
        write: impl Future<Output = Result<bool, E>>,
    ) -> Result<bool, E> {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.set_quiet(false);
        let mut in_flight = InFlight {
            priority: self,
            sent: true,
        };
        let result = write.await;
        in_flight.sent = !matches!(result, Ok(false));
        result
    }

    /// Whether surfacing is going on, or ended less than [`QUIET`] ago.
    pub fn busy(&self) -> bool {
        self.active.load(Ordering::SeqCst) > 0 || lock(&self.last_ended).elapsed() < QUIET
    }

    /// Whether `obj`'s bookkeeping write waits: `Some(time left)` when it is parked (requeue it
    /// then at the latest), `None` when it goes ahead now (it is no longer parked).
    pub fn defer(&self, obj: &ObjectRef<ProvCluster>) -> Option<Duration> {
        let mut parked = lock(&self.parked);
        if !self.busy() {
            parked.remove(obj);
            return None;
        }
        let entry = parked.entry(obj.clone()).or_insert(Parked {
            since: Instant::now(),
            woken: false,
        });
        entry.woken = false;
        let left = MAX_DEFERRAL.saturating_sub(entry.since.elapsed());
        if left.is_zero() {
            parked.remove(obj);
            return None;
        }
        Some(left)
    }

    /// `obj`'s bookkeeping is done (or not needed): it is no longer parked.
    pub fn settled(&self, obj: &ObjectRef<ProvCluster>) {
        lock(&self.parked).remove(obj);
    }

    /// The objects to reconcile again when surfacing went quiet; taken once, by the controller
    /// that parks them.
    pub fn wakeups(&self) -> impl Stream<Item = ObjectRef<ProvCluster>> + Send + 'static {
        let rx = lock(&self.wakeups).take();
        futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let next = rx.recv().await?;
            Some((next, Some(rx)))
        })
    }

    /// Wakes the parked objects whenever surfacing has been quiet for [`QUIET`], and keeps the
    /// quiet flag; runs until the controllers stop.
    pub async fn wake_parked_when_quiet(&self) {
        loop {
            let changed = self.changed.notified();
            let quiet = !self.busy();
            self.set_quiet(quiet);
            if !quiet || !self.has_sleepers() {
                // Re-check at least every QUIET: the end of a quiet spell is a moment, not an
                // event.
                let _ = tokio::time::timeout(QUIET, changed).await;
                continue;
            }
            let woken: Vec<_> = {
                let mut parked = lock(&self.parked);
                parked
                    .iter_mut()
                    .filter(|(_, p)| !p.woken)
                    .map(|(obj, p)| {
                        p.woken = true;
                        obj.clone()
                    })
                    .collect()
            };
            for obj in woken {
                let _ = self.wake.send(obj);
            }
        }
    }

    fn set_quiet(&self, quiet: bool) {
        self.quiet.send_if_modified(|q| {
            let turned = *q != quiet;
            *q = quiet;
            turned
        });
    }

    fn has_sleepers(&self) -> bool {
        lock(&self.parked).values().any(|p| !p.woken)
    }

    /// Waits until surfacing is quiet (at most [`MAX_DEFERRAL`]).
    pub async fn bookkeeping_turn(&self) {
        let mut quiet = self.quiet.subscribe();
        let _ = tokio::time::timeout(MAX_DEFERRAL, quiet.wait_for(|q| *q)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ObjectRef<ProvCluster> {
        ObjectRef::new(name).within("fleet-default")
    }

    #[tokio::test]
    async fn bookkeeping_goes_ahead_when_nothing_surfaces() {
        let p = Priority::default();
        tokio::time::sleep(QUIET).await;
        // A surfacing write that turned out to be a no-op is not surfacing.
        let noop: Result<bool, ()> = p.surface(async { Ok(false) }).await;
        assert_eq!(noop, Ok(false));
        assert_eq!(p.defer(&obj("a")), None);
    }

    #[tokio::test]
    async fn a_parked_object_goes_ahead_after_the_longest_deferral() {
        let p = Priority::default();
        let _sent: Result<bool, ()> = p.surface(async { Ok(true) }).await;
        assert!(p.defer(&obj("a")).is_some());
        if let Some(parked) = lock(&p.parked).get_mut(&obj("a"))
            && let Some(earlier) = parked.since.checked_sub(MAX_DEFERRAL)
        {
            parked.since = earlier;
        }
        let _sent: Result<bool, ()> = p.surface(async { Ok(true) }).await;
        assert_eq!(
            p.defer(&obj("a")),
            None,
            "never parked longer than MAX_DEFERRAL"
        );
    }

    #[tokio::test]
    async fn bookkeeping_waits_while_others_surface_and_is_woken_after() {
        let p = std::sync::Arc::new(Priority::default());
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let write = tokio::spawn({
            let p = p.clone();
            async move { p.surface(async { hold.await.map(|()| true) }).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let left = p.defer(&obj("a")).expect("parked while surfacing goes on");
        assert!(left <= MAX_DEFERRAL);
        let mut wakeups = Box::pin(p.wakeups());
        let waker = tokio::spawn({
            let p = p.clone();
            async move { p.wake_parked_when_quiet().await }
        });
        let _ = release.send(());
        assert!(matches!(write.await, Ok(Ok(true))));
        let woken = tokio::time::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut wakeups),
        )
        .await
        .expect("woken once quiet");
        assert_eq!(woken, Some(obj("a")));
        assert_eq!(p.defer(&obj("a")), None);
        waker.abort();
    }

    #[tokio::test]
    async fn a_waiting_event_goes_once_surfacing_turns_quiet() {
        let p = std::sync::Arc::new(Priority::default());
        let waker = tokio::spawn({
            let p = p.clone();
            async move { p.wake_parked_when_quiet().await }
        });
        let _sent: Result<bool, ()> = p.surface(async { Ok(true) }).await;
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), p.bookkeeping_turn())
            .await
            .expect("its turn comes");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!p.busy());
        waker.abort();
    }
}
