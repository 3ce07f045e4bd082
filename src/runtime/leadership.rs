//! Who may write, and until when. Without leader election this process always may; with it, only
//! while it holds the Lease and only until the fence its last renewal bought ([`crate::runtime::lease`]
//! explains the arithmetic). The write layer asks [`Leadership::write_deadline`] before every
//! write and gives the request no longer than that, so a replica that loses the Lease, or cannot
//! renew it, stops writing at once, even mid-reconcile. Standbys run their watches (caches stay
//! warm) and skip reconciles; gaining the Lease triggers a reconcile of everything, renewing it
//! does not.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_stream::wrappers::WatchStream;

/// The longest any single write may take, also without leader election.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A write is not started with less time than this left before the fence: it would most likely
/// be abandoned half-way.
pub const MIN_WRITE_WINDOW: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    leader: bool,
    /// Writes stop here, whether or not anyone says so; `None`: never (no leader election).
    fence: Option<Instant>,
    /// Counts the times this replica became the leader, so that a step-down and a new term
    /// seen together by a slow reader are still a new term.
    terms: u64,
}

#[derive(Clone, Debug)]
pub struct Leadership(Arc<watch::Sender<State>>);

impl Leadership {
    /// Always the leader: a single replica, or tests.
    pub fn always() -> Self {
        Self(Arc::new(watch::Sender::new(State {
            leader: true,
            fence: None,
            terms: 1,
        })))
    }

    /// Not the leader until [`Self::lead_until`] or [`Self::set`] says so.
    pub fn standby() -> Self {
        Self(Arc::new(watch::Sender::new(State {
            leader: false,
            fence: None,
            terms: 0,
        })))
    }

    /// Whether this replica may write now.
    pub fn is_leader(&self) -> bool {
        self.write_deadline_at(Instant::now()).is_some()
    }

    /// Whether this replica holds a term, also in its last moments before the fence, when it
    /// may not start a write but a renewal may still extend it.
    pub fn holds_term(&self) -> bool {
        self.0.borrow().leader
    }

    /// How long a write started now may take, or `None` when it may not start at all.
    pub fn write_deadline(&self) -> Option<Duration> {
        self.write_deadline_at(Instant::now())
    }

    fn write_deadline_at(&self, now: Instant) -> Option<Duration> {
        let state = *self.0.borrow();
        write_window(state.leader, state.fence, now)
    }

    /// Leads without a fence (no leader election), or stops leading.
    pub fn set(&self, leader: bool) {
        self.0.send_if_modified(|state| {
            let next = State {
                leader,
                fence: None,
                terms: state.terms + u64::from(leader && !state.leader),
            };
            std::mem::replace(state, next) != next
        });
    }

    /// Leads until `fence`: a renewal of the Lease moves it on.
    pub fn lead_until(&self, fence: Instant) {
        self.0.send_modify(|state| {
            state.terms += u64::from(!state.leader);
            state.leader = true;
            state.fence = Some(fence);
        });
    }

    /// Yields once each time this replica becomes the leader (and once at start if it is), not
    /// on the renewals in between.
    pub fn gained(&self) -> impl Stream<Item = ()> + Send + 'static {
        WatchStream::new(self.0.subscribe())
            .scan(0, |seen, state| {
                let gained = state.leader && state.terms != *seen;
                *seen = state.terms;
                std::future::ready(Some(gained))
            })
            .filter_map(|gained| async move { gained.then_some(()) })
    }
}

/// The time a write started at `now` may take: up to [`WRITE_TIMEOUT`], never past the fence,
/// and nothing when less than [`MIN_WRITE_WINDOW`] is left.
pub fn write_window(leader: bool, fence: Option<Instant>, now: Instant) -> Option<Duration> {
    if !leader {
        return None;
    }
    let Some(fence) = fence else {
        return Some(WRITE_TIMEOUT);
    };
    let left = fence.checked_duration_since(now)?;
    (left >= MIN_WRITE_WINDOW).then(|| left.min(WRITE_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_never_outlasts_the_fence() {
        let now = Instant::now();
        let fence = now + Duration::from_secs(3);
        assert_eq!(
            write_window(true, Some(fence), now),
            Some(Duration::from_secs(3))
        );
        let far = now + Duration::from_secs(60);
        assert_eq!(write_window(true, Some(far), now), Some(WRITE_TIMEOUT));
    }

    #[test]
    fn no_write_starts_too_close_to_the_fence_or_after_it() {
        let now = Instant::now();
        assert_eq!(
            write_window(true, Some(now + Duration::from_millis(100)), now),
            None
        );
        assert_eq!(write_window(true, Some(now), now), None);
        assert_eq!(
            write_window(true, Some(now), now + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn a_standby_never_writes_and_a_single_replica_always_may() {
        let now = Instant::now();
        assert_eq!(
            write_window(false, Some(now + Duration::from_secs(10)), now),
            None
        );
        assert_eq!(write_window(true, None, now), Some(WRITE_TIMEOUT));
    }

    #[tokio::test]
    async fn renewals_are_no_new_leadership() {
        let leadership = Leadership::standby();
        let mut gained = Box::pin(leadership.gained());
        leadership.lead_until(Instant::now() + Duration::from_secs(10));
        assert!(gained.next().await.is_some());
        leadership.lead_until(Instant::now() + Duration::from_secs(15));
        leadership.set(false);
        leadership.lead_until(Instant::now() + Duration::from_secs(15));
        assert!(gained.next().await.is_some());
        // Nothing else is pending: the renewal in between yielded nothing.
        let pending = tokio::time::timeout(Duration::from_millis(50), gained.next()).await;
        assert!(pending.is_err());
    }

    #[test]
    fn past_the_fence_a_leader_no_longer_leads() {
        let leadership = Leadership::standby();
        leadership.lead_until(Instant::now());
        assert!(!leadership.is_leader());
        leadership.lead_until(Instant::now() + Duration::from_secs(10));
        assert!(leadership.is_leader());
    }
}
