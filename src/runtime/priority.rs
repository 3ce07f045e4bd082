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
//! - Bookkeeping that finds other reconciles surfacing waits in one line, oldest first: a prov
//!   status write parks its object ([`Priority::defer`]) and ends its reconcile, an Event waits
//!   in a task of its own ([`Priority::bookkeeping_turn`]).
//! - While surfacing goes on, the line moves by one for every [`SHARE`] surfacing writes sent:
//!   bookkeeping gets a fixed share of the writes, however long surfacing lasts, so neither
//!   starves (a parked object is reconciled again when its turn comes, [`Priority::wakeups`]).
//!   Once no surfacing has gone on for [`QUIET`], the line goes, [`QUIET_BATCH`] per [`QUIET`]:
//!   a lull can be the surfacing pipeline waiting on its own watches, and surfacing that
//!   resumes must not find all of bookkeeping ahead of it. [`MAX_DEFERRAL`] is a
//!   backstop for a surfacing that neither sends nor ends; it does not pace anything.
//!
//! An earlier version let every waiter go after 20 s whatever surfacing did: with 10,000
//! clusters arriving at once, surfacing lasts minutes, so after the first 20 s bookkeeping and
//! surfacing interleaved as if there were no priority (the last Fleet cluster came at 96% of
//! the convergence time instead of about 60%).
//!
//! Surfacing itself never waits for bookkeeping.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::api::ProvCluster;

/// How long no surfacing must have gone on before all waiting bookkeeping goes.
pub const QUIET: Duration = Duration::from_millis(100);
/// While surfacing goes on, one bookkeeping turn for every `SHARE` surfacing writes sent.
pub const SHARE: usize = 8;
/// While surfacing is quiet, the waiting bookkeeping handed out per [`QUIET`].
pub const QUIET_BATCH: usize = 256;
/// The longest bookkeeping waits when surfacing neither sends nor ends (a backstop).
pub const MAX_DEFERRAL: Duration = Duration::from_secs(300);

/// A parked object: since when, and whether its turn came (its next reconcile writes).
struct Parked {
    since: Instant,
    granted: bool,
}

/// One place in the line of waiting bookkeeping.
enum Waiter {
    Status(ObjectRef<ProvCluster>),
    Event(oneshot::Sender<()>),
}

pub struct Priority {
    /// Reconciles in their surfacing part.
    active: AtomicUsize,
    /// When the last surfacing part ended.
    last_ended: Mutex<Instant>,
    /// Surfacing writes sent, counted towards the next bookkeeping turn.
    sent: AtomicUsize,
    /// Bookkeeping turns earned by surfacing writes and not yet handed out.
    turns: AtomicUsize,
    changed: Notify,
    line: Mutex<VecDeque<Waiter>>,
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
            sent: AtomicUsize::new(0),
            turns: AtomicUsize::new(0),
            changed: Notify::new(),
            line: Mutex::new(VecDeque::new()),
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
            if self.priority.sent.fetch_add(1, Ordering::SeqCst) % SHARE == SHARE - 1 {
                self.priority.turns.fetch_add(1, Ordering::SeqCst);
            }
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
    /// then at the latest), `None` when it goes ahead now (its turn came, or nothing surfaces).
    pub fn defer(&self, obj: &ObjectRef<ProvCluster>) -> Option<Duration> {
        let mut parked = lock(&self.parked);
        if parked.get(obj).is_some_and(|p| p.granted) || !self.busy() {
            parked.remove(obj);
            return None;
        }
        let since = match parked.get(obj) {
            Some(p) => p.since,
            None => {
                parked.insert(
                    obj.clone(),
                    Parked {
                        since: Instant::now(),
                        granted: false,
                    },
                );
                lock(&self.line).push_back(Waiter::Status(obj.clone()));
                self.changed.notify_waiters();
                return Some(MAX_DEFERRAL);
            }
        };
        let left = MAX_DEFERRAL.saturating_sub(since.elapsed());
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

    /// The parked objects whose turn came, to reconcile again; taken once, by the controller
    /// that parks them.
    pub fn wakeups(&self) -> impl Stream<Item = ObjectRef<ProvCluster>> + Send + 'static {
        let rx = lock(&self.wakeups).take();
        futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let next = rx.recv().await?;
            Some((next, Some(rx)))
        })
    }

    /// Hands out bookkeeping turns: one per [`SHARE`] surfacing writes while surfacing goes on,
    /// [`QUIET_BATCH`] per [`QUIET`] once it has been quiet. Runs until the controllers stop.
    pub async fn hand_out_turns(&self) {
        loop {
            let changed = self.changed.notified();
            self.hand_out(!self.busy());
            // Re-check at least every QUIET: the end of a busy spell is a moment, not an event.
            let _ = tokio::time::timeout(QUIET, changed).await;
        }
    }

    fn hand_out(&self, quiet: bool) {
        let mut batch = QUIET_BATCH;
        loop {
            if quiet {
                // A lull may be the surfacing pipeline waiting on its watches: the line goes in
                // batches, so surfacing that resumes is not stuck behind all of it.
                if batch == 0 {
                    return;
                }
                batch -= 1;
            } else {
                let earned = self
                    .turns
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1));
                if earned.is_err() {
                    return;
                }
            }
            let Some(waiter) = lock(&self.line).pop_front() else {
                // A turn nobody waits for is not saved up for a later crowd.
                self.turns.store(0, Ordering::SeqCst);
                return;
            };
            if !self.give_turn(waiter) && !quiet {
                // Nobody took it (settled, or gone): the next in line gets it.
                self.turns.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Gives `waiter` its turn; false when it no longer waits.
    fn give_turn(&self, waiter: Waiter) -> bool {
        match waiter {
            Waiter::Event(go) => go.send(()).is_ok(),
            Waiter::Status(obj) => {
                let waiting = lock(&self.parked)
                    .get_mut(&obj)
                    .is_some_and(|p| !std::mem::replace(&mut p.granted, true));
                waiting && self.wake.send(obj).is_ok()
            }
        }
    }

    /// Waits for a bookkeeping turn: at once when nothing surfaces, else in line (at most
    /// [`MAX_DEFERRAL`]).
    pub async fn bookkeeping_turn(&self) {
        if !self.busy() {
            return;
        }
        let (go, turn) = oneshot::channel();
        lock(&self.line).push_back(Waiter::Event(go));
        self.changed.notify_waiters();
        let _ = tokio::time::timeout(MAX_DEFERRAL, turn).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn obj(name: &str) -> ObjectRef<ProvCluster> {
        ObjectRef::new(name).within("fleet-default")
    }

    fn hand_out_turns_in_background(p: &Arc<Priority>) -> tokio::task::JoinHandle<()> {
        let p = p.clone();
        tokio::spawn(async move { p.hand_out_turns().await })
    }

    /// A surfacing write that stays in flight until the returned sender is used.
    fn surfacing_in_flight(
        p: &Arc<Priority>,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<bool, tokio::sync::oneshot::error::RecvError>>,
    ) {
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let p = p.clone();
        let write =
            tokio::spawn(async move { p.surface(async { hold.await.map(|()| true) }).await });
        (release, write)
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
        let p = Arc::new(Priority::default());
        let (release, write) = surfacing_in_flight(&p);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let left = p.defer(&obj("a")).expect("parked while surfacing goes on");
        assert!(left <= MAX_DEFERRAL);
        let mut wakeups = Box::pin(p.wakeups());
        let waker = hand_out_turns_in_background(&p);
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
        let p = Arc::new(Priority::default());
        let waker = hand_out_turns_in_background(&p);
        let _sent: Result<bool, ()> = p.surface(async { Ok(true) }).await;
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), p.bookkeeping_turn())
            .await
            .expect("its turn comes");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!p.busy());
        waker.abort();
    }

    async fn next_within<S: Stream + Unpin>(wakeups: &mut S) -> Option<S::Item> {
        tokio::time::timeout(
            Duration::from_millis(500),
            futures::StreamExt::next(wakeups),
        )
        .await
        .ok()
        .flatten()
    }

    #[tokio::test]
    async fn while_surfacing_goes_on_bookkeeping_gets_a_share_oldest_first() {
        let p = Arc::new(Priority::default());
        // One surfacing write stays in flight: surfacing never turns quiet in this test.
        let (release, held) = surfacing_in_flight(&p);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut wakeups = Box::pin(p.wakeups());
        let dispatcher = hand_out_turns_in_background(&p);
        assert!(p.defer(&obj("a")).is_some());
        assert!(p.defer(&obj("b")).is_some());
        let event = tokio::spawn({
            let p = p.clone();
            async move { p.bookkeeping_turn().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let surface = |n: usize| {
            let p = p.clone();
            async move {
                for _ in 0..n {
                    let _sent: Result<bool, ()> = p.surface(async { Ok(true) }).await;
                }
            }
        };

        surface(SHARE - 1).await;
        assert!(
            next_within(&mut wakeups).await.is_none(),
            "no turn before SHARE surfacing writes"
        );
        assert!(p.defer(&obj("a")).is_some(), "still parked");
        surface(1).await;
        assert_eq!(next_within(&mut wakeups).await, Some(obj("a")));
        assert_eq!(p.defer(&obj("a")), None, "its turn came");
        p.settled(&obj("a"));
        assert!(p.defer(&obj("b")).is_some(), "b waits for the next turn");

        surface(SHARE).await;
        assert_eq!(next_within(&mut wakeups).await, Some(obj("b")));
        assert!(!event.is_finished(), "the event is behind b");

        surface(SHARE).await;
        tokio::time::timeout(Duration::from_secs(5), event)
            .await
            .expect("the event's turn came")
            .expect("the event task ran");
        assert!(p.busy(), "all of it while surfacing went on");
        let _ = release.send(());
        assert!(matches!(held.await, Ok(Ok(true))));
        dispatcher.abort();
    }
}
