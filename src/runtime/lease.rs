//! Leader election through a `coordination.k8s.io` Lease, driving [`Leadership`].
//!
//! The loop is drover's own rather than a Lease crate's: fencing needs the instant each renewal
//! was sent and the hold it bought, and a write deadline derived from them, which the crates
//! that acquire and renew Leases do not expose.
//!
//! # Timing
//!
//! With `D` = [`LEASE_DURATION`] (15 s), `R` = [`RENEW_EVERY`] (5 s) and `S` = [`SAFETY`] (2 s):
//!
//! - Every acquisition and renewal is one `replace` of the Lease carrying the `resourceVersion`
//!   drover last saw, so it succeeds only if nobody else wrote the Lease in between. It carries
//!   `renewTime` = the wall clock at the moment the request is sent, and drover notes the local
//!   (monotonic) instant `t` of that moment, *before* sending.
//! - When it succeeds, drover may write until the fence `t + D − S`. Another replica treats the
//!   Lease as expired only `D` after it *observed* the renewal (or, for other implementations,
//!   `D` after `renewTime`); both are at or after `t + D`. So every write drover starts lies
//!   before the fence, `S` before anyone else may take over.
//! - Every write gets a deadline of at most [`WRITE_TIMEOUT`](crate::runtime::leadership::WRITE_TIMEOUT) and never past the fence
//!   ([`Leadership::write_deadline`]); with less than [`MIN_WRITE_WINDOW`](crate::runtime::leadership::MIN_WRITE_WINDOW) left it is not
//!   started. A write that times out is abandoned, not resent: its connection is closed, and the
//!   API server answers a request whose client has gone 504 instead of storing it. kube's own retry
//!   layer (which resends on 429, 503 and 504 for up to 15 attempts) is off for the client that
//!   writes ([`crate::runtime::client::Clients`]; the watches keep it); the only retry of a write
//!   is the next reconcile, whose writes ask for leadership again.
//! - The holder renews every `R`; a failed renewal is retried every [`RETRY_EVERY`] (1 s), each
//!   request bounded by the fence. A replica that cannot renew stops writing at its fence on its
//!   own clock, without waiting for any answer: `S` before its Lease can expire.
//! - The holder never learns of its leadership from the watch on the Lease: only its own
//!   renewals move the fence. A watch that stalls or fails changes nothing for the leader (no
//!   step-down, no new term, no reconcile of everything). The watch only wakes standbys when the
//!   Lease is released, and makes a leader that sees another holder check the Lease at once.
//! - A standby tries every [`RETRY_EVERY`]·2 and takes a Lease that is released (no holder) at
//!   once, and one held by another replica only once it has seen no change to it for the
//!   Lease's own duration (its clock, not the holder's).
//!
//! What no client can fence: a request the API server holds unread when it stops (SIGSTOP, a
//! stalled node) is read when it goes on. Most such requests are refused (the API server sees
//! the closed connection first), but some can land after the hold they were sent in has expired;
//! Kubernetes has no fencing token a write could carry. Such a request is served in the first
//! moments after the API server goes on, before any replica can take the Lease (taking it needs
//! a read and a write after that), and the term that follows reconciles everything from what it
//! then reads. The fencing tests and `make chaos` check exactly this from the audit log: no write
//! by a replica while another held the Lease, none answered after another took it.
//!
//! After a crash (SIGKILL) a standby takes over `D` to `D + 2 s` after it last saw the Lease
//! renewed. On SIGTERM the leader stops writing, releases the Lease, and the standbys, woken by
//! their watch, take over at once. Gaining the Lease starts a term (everything is reconciled);
//! renewing it does not.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{info, warn};

use crate::runtime::leadership::Leadership;
use crate::runtime::metrics::Metrics;

/// How long the Lease stays valid after a renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews the Lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How long before the Lease can expire the holder stops writing: room for clocks that run at
/// slightly different rates and for peers that judge expiry by `renewTime`.
pub const SAFETY: Duration = Duration::from_secs(2);
/// How soon a failed renewal is tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The longest one request about the Lease may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SIGTERM'd leader waits for the API server to accept the release.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// The field manager of drover's Lease writes.
const LEASE_MANAGER: &str = "drover-leader-election";

/// The last instant a holder that sent its renewal at `sent` may write.
pub fn fence_after(sent: Instant) -> Instant {
    sent + LEASE_DURATION - SAFETY
}

/// Whether a Lease held by another replica may be taken: no change to it was seen for its
/// duration.
pub fn expired(observed_at: Instant, duration: Duration, now: Instant) -> bool {
    now.checked_duration_since(observed_at)
        .is_some_and(|quiet| quiet >= duration)
}

/// Which Lease to hold, and as whom.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
}

/// The running election. [`Election::release`] hands the Lease over; dropping it without that
/// leaves the Lease to expire.
pub struct Election {
    stop: CancellationToken,
    task: AbortOnDropHandle<()>,
}

impl Election {
    /// Starts competing for the Lease. `leadership` and the `leader` metric follow the outcome.
    pub fn spawn(
        client: Client,
        settings: LeaseSettings,
        leadership: Leadership,
        metrics: Arc<Metrics>,
    ) -> Self {
        let stop = CancellationToken::new();
        let candidate = Candidate {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            leadership,
            metrics,
            seen: None,
            ours: None,
            fence: None,
        };
        Self {
            task: AbortOnDropHandle::new(tokio::spawn(candidate.run(stop.clone()))),
            stop,
        }
    }

    /// Steps down and releases the Lease, so that a standby takes over without waiting for the
    /// expiry. Call after the in-flight reconciles have finished.
    pub async fn release(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// `<hostname>-<random suffix>`: unique even when two processes share a host.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "drover".into());
    // RandomState is seeded randomly per process: enough to tell replicas apart without
    // another dependency.
    let mut n = RandomState::new().hash_one(std::process::id());
    let suffix: String = (0..5)
        .map(|_| {
            let digit = (n % 36) as u32;
            n /= 36;
            char::from_digit(digit, 36).unwrap_or('x')
        })
        .collect();
    format!("{host}-{suffix}")
}

/// What of the Lease tells whether it is alive: any change to these is a sign of life.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renewed: Option<String>,
    transitions: Option<i32>,
    duration: Option<i32>,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renewed: spec.renew_time.map(|t| t.0.to_string()),
            transitions: spec.lease_transitions,
            duration: spec.lease_duration_seconds,
        }
    }

    fn duration(&self) -> Duration {
        self.duration
            .and_then(|s| u64::try_from(s).ok())
            .map_or(LEASE_DURATION, Duration::from_secs)
    }
}

struct Candidate {
    api: Api<Lease>,
    settings: LeaseSettings,
    leadership: Leadership,
    metrics: Arc<Metrics>,
    /// The Lease as last seen, and when it last changed (this process's clock).
    seen: Option<(Record, Instant)>,
    /// The Lease as drover's own last successful write left it: the base of the next renewal.
    ours: Option<Lease>,
    /// While leading: the instant writes stop unless a renewal moves it.
    fence: Option<Instant>,
}

/// What one attempt leads to.
enum Outcome {
    /// Holding the Lease: renew at this instant.
    Holding(Instant),
    /// Not holding it (or the attempt failed): try again after this long.
    Retry(Duration),
}

impl Candidate {
    async fn run(mut self, stop: CancellationToken) {
        let mut changes = lease_events(self.api.clone(), &self.settings.name);
        let mut watching = true;
        let mut next = Instant::now();
        loop {
            let fence = self.fence.unwrap_or_else(|| Instant::now() + FAR);
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(fence), if self.fence.is_some() => {
                    self.step_down("the Lease could not be renewed before its fence");
                    continue;
                }
                () = tokio::time::sleep_until(next) => {}
                change = changes.next(), if watching => {
                    let Some(holder) = change else {
                        // The watch retries forever; it ends only with the client.
                        watching = false;
                        continue;
                    };
                    let ours = holder.as_deref() == Some(self.settings.identity.as_str());
                    // A leader looks at once when the watch shows another holder (it may be a
                    // stale event: the attempt reads the Lease itself); a standby when the Lease
                    // was released. Anything else waits for the schedule.
                    let look = if self.fence.is_some() { !ours } else { holder.is_none() };
                    if !look {
                        continue;
                    }
                    if self.fence.is_some() {
                        // Read it rather than renew blindly from drover's own last version.
                        self.ours = None;
                    }
                }
            }
            next = match self.attempt().await {
                Outcome::Holding(renew_at) => renew_at,
                Outcome::Retry(after) => Instant::now() + after,
            };
        }
        self.release().await;
    }

    /// One look at the Lease: renew it, take it, or wait.
    async fn attempt(&mut self) -> Outcome {
        if let Some(ours) = self.ours.clone().filter(|_| self.fence.is_some()) {
            // The renewal needs no read: the resourceVersion of drover's own last write proves
            // nobody wrote the Lease since.
            return self
                .write(renewed(ours, false, &self.settings.identity))
                .await;
        }
        let lease = match self.request(self.api.get_opt(&self.settings.name)).await {
            Ok(lease) => lease,
            Err(why) => {
                warn!(lease = %self.lease(), error = %why, "cannot read the leadership Lease");
                return Outcome::Retry(self.retry_every());
            }
        };
        let Some(lease) = lease else {
            return self.create().await;
        };
        let record = Record::of(&lease);
        let now = Instant::now();
        let observed_at = match &self.seen {
            Some((seen, at)) if *seen == record => *at,
            _ => now,
        };
        self.seen = Some((record.clone(), observed_at));
        let ours = record.holder.as_deref() == Some(self.settings.identity.as_str());
        if ours {
            // Still ours by the record (a renewal that failed to answer, a watch that showed a
            // stale holder): renewing from this version proves it. After a step-down it is a
            // new term, and the Lease says so.
            let taken = self.fence.is_none();
            return self
                .write(renewed(lease, taken, &self.settings.identity))
                .await;
        }
        if self.fence.is_some() {
            let holder = record.holder.clone().unwrap_or_default();
            self.step_down(&format!("the Lease is held by {holder}"));
        }
        if record.holder.is_none() || expired(observed_at, record.duration(), now) {
            return self
                .write(renewed(lease, true, &self.settings.identity))
                .await;
        }
        Outcome::Retry(RETRY_EVERY * 2)
    }

    async fn create(&mut self) -> Outcome {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.settings.name.clone()),
                namespace: Some(self.settings.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec::default()),
        };
        let sent = Instant::now();
        let lease = renewed(lease, true, &self.settings.identity);
        match self.request(self.api.create(&params(), &lease)).await {
            Ok(created) => self.holding(created, sent),
            Err(why) => {
                warn!(lease = %self.lease(), error = %why, "cannot create the leadership Lease");
                Outcome::Retry(RETRY_EVERY)
            }
        }
    }

    /// Sends an acquisition or renewal; the fence counts from before the request left.
    async fn write(&mut self, lease: Lease) -> Outcome {
        let sent = Instant::now();
        match self
            .request(self.api.replace(&self.settings.name, &params(), &lease))
            .await
        {
            Ok(written) => self.holding(written, sent),
            Err(why) => {
                // Someone else wrote the Lease (409), or no answer: read it afresh next time.
                self.ours = None;
                if self.fence.is_some() {
                    warn!(lease = %self.lease(), error = %why, "renewing the leadership Lease failed; retrying until the fence");
                }
                Outcome::Retry(self.retry_every())
            }
        }
    }

    fn holding(&mut self, lease: Lease, sent: Instant) -> Outcome {
        self.seen = Some((Record::of(&lease), Instant::now()));
        self.ours = Some(lease);
        let fence = fence_after(sent);
        if self.fence.is_none() {
            info!(identity = %self.settings.identity, lease = %self.lease(), "became the leader");
            self.metrics.set_leader(true);
        }
        self.fence = Some(fence);
        self.leadership.lead_until(fence);
        Outcome::Holding(sent + RENEW_EVERY)
    }

    /// A failed attempt is retried sooner while leading: the fence is coming.
    fn retry_every(&self) -> Duration {
        if self.fence.is_some() {
            RETRY_EVERY
        } else {
            RETRY_EVERY * 2
        }
    }

    /// `call`, bounded by [`REQUEST_TIMEOUT`] and, while leading, by the fence: a renewal that
    /// answers after the fence is no use.
    async fn request<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, String> {
        let limit = match self.fence {
            Some(fence) => fence
                .checked_duration_since(Instant::now())
                .unwrap_or_default()
                .min(REQUEST_TIMEOUT),
            None => REQUEST_TIMEOUT,
        };
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        }
    }

    async fn release(&mut self) {
        let ours = self.ours.take().filter(|_| self.fence.is_some());
        self.step_down("shutting down");
        let Some(ours) = ours else {
            return;
        };
        let mut lease = ours;
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
        }
        let params = params();
        let release = self.api.replace(&self.settings.name, &params, &lease);
        match tokio::time::timeout(RELEASE_TIMEOUT, release).await {
            Ok(Ok(_)) => info!(lease = %self.lease(), "released the leadership Lease"),
            Ok(Err(error)) => {
                warn!(%error, lease = %self.lease(), "failed to release the Lease; it will expire")
            }
            Err(_) => warn!(lease = %self.lease(), "releasing the Lease timed out; it will expire"),
        }
    }

    /// Stops writing at once.
    fn step_down(&mut self, why: &str) {
        let was = self.fence.take().is_some();
        self.ours = None;
        self.leadership.set(false);
        self.metrics.set_leader(false);
        if was {
            info!(identity = %self.settings.identity, lease = %self.lease(), reason = why, "stepped down; standing by");
        }
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.settings.namespace, self.settings.name)
    }
}

/// Far enough never to fire.
const FAR: Duration = Duration::from_secs(3600);

fn params() -> PostParams {
    PostParams {
        field_manager: Some(LEASE_MANAGER.into()),
        ..PostParams::default()
    }
}

/// `lease` renewed now by `identity`; `taken` when this starts a new term.
fn renewed(mut lease: Lease, taken: bool, identity: &str) -> Lease {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if taken {
        spec.holder_identity = Some(identity.to_string());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now);
    spec.lease_duration_seconds = i32::try_from(LEASE_DURATION.as_secs()).ok();
    lease.metadata.managed_fields = None;
    lease
}

/// The holder of every version of the Lease, as seen by a watch that retries with backoff.
fn lease_events(api: Api<Lease>, name: &str) -> Pin<Box<dyn Stream<Item = Option<String>> + Send>> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    Box::pin(
        watcher(api, config)
            .default_backoff()
            .applied_objects()
            .filter_map(|event| async move {
                match event {
                    Ok(lease) => Some(Record::of(&lease).holder),
                    Err(error) => {
                        warn!(%error, "watch of the leadership Lease failed; retrying");
                        None
                    }
                }
            }),
    )
}

/// The write deadline and fence arithmetic, for tests and the docs: the most a write started at
/// `started` may still take when the last renewal was sent at `sent`.
pub fn write_budget(sent: Instant, started: Instant) -> Option<Duration> {
    crate::runtime::leadership::write_window(true, Some(fence_after(sent)), started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::leadership::{MIN_WRITE_WINDOW, WRITE_TIMEOUT};

    #[test]
    fn default_identities_differ_between_calls_and_start_with_the_host() {
        let a = default_identity();
        let b = default_identity();
        assert_ne!(a, b);
        let (host, suffix) = a.rsplit_once('-').unwrap();
        assert!(!host.is_empty());
        assert_eq!(suffix.len(), 5);
    }

    #[test]
    fn the_holder_renews_twice_before_it_must_stop_writing() {
        assert!(RENEW_EVERY * 2 + RETRY_EVERY < LEASE_DURATION - SAFETY);
    }

    #[test]
    fn the_fence_lies_before_any_peer_may_take_the_lease() {
        let sent = Instant::now();
        // A peer observes the renewal no earlier than it was sent.
        let observed = sent + Duration::from_millis(3);
        assert!(fence_after(sent) + SAFETY <= observed + LEASE_DURATION);
        assert!(!expired(
            observed,
            LEASE_DURATION,
            fence_after(sent) + SAFETY
        ));
    }

    #[test]
    fn no_write_started_before_the_fence_can_outlast_it() {
        let sent = Instant::now();
        let fence = fence_after(sent);
        for offset in [0u64, 1_000, 5_000, 9_000, 12_000, 12_600, 13_000, 20_000] {
            let started = sent + Duration::from_millis(offset);
            if let Some(budget) = write_budget(sent, started) {
                assert!(started + budget <= fence, "offset {offset} ms");
                assert!(budget <= WRITE_TIMEOUT);
                assert!(budget >= MIN_WRITE_WINDOW);
            } else {
                assert!(started + MIN_WRITE_WINDOW > fence, "offset {offset} ms");
            }
        }
    }

    #[test]
    fn a_write_just_after_a_renewal_gets_the_full_timeout_and_late_in_a_term_less() {
        let sent = Instant::now();
        assert_eq!(write_budget(sent, sent), Some(WRITE_TIMEOUT));
        let late = sent + Duration::from_secs(10);
        assert_eq!(write_budget(sent, late), Some(Duration::from_secs(3)));
        assert_eq!(write_budget(sent, sent + Duration::from_secs(13)), None);
    }

    #[test]
    fn a_lease_is_taken_over_only_after_a_full_quiet_duration() {
        let seen = Instant::now();
        assert!(!expired(
            seen,
            LEASE_DURATION,
            seen + LEASE_DURATION - Duration::from_millis(1)
        ));
        assert!(expired(seen, LEASE_DURATION, seen + LEASE_DURATION));
        // A clock that went backwards is no expiry.
        assert!(!expired(
            seen + Duration::from_secs(1),
            LEASE_DURATION,
            seen
        ));
    }

    #[test]
    fn taking_a_lease_starts_a_term_and_renewing_keeps_it() {
        let lease = Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("other".into()),
                lease_transitions: Some(3),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        };
        let taken = renewed(lease, true, "me");
        let spec = taken.spec.clone().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        let again = renewed(taken, false, "me").spec.unwrap();
        assert_eq!(again.lease_transitions, Some(4));
        assert_eq!(again.acquire_time, spec.acquire_time);
        assert!(again.renew_time.is_some());
    }

    #[test]
    fn a_released_lease_has_no_holder() {
        let lease = Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(String::new()),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        };
        assert_eq!(Record::of(&lease).holder, None);
        assert_eq!(Record::of(&lease).duration(), LEASE_DURATION);
    }
}
