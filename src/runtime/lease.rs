//! Leader election through a `coordination.k8s.io` Lease, driving [`Leadership`].
//!
//! Timing: the Lease lasts [`LEASE_DURATION`] (15 s) and the holder renews it every
//! [`RENEW_EVERY`] (5 s), so two renewals can fail before it lapses. After a crash (SIGKILL) a
//! standby takes over once the Lease has expired: 10–16 s after the kill, depending on when the
//! last renewal happened. On SIGTERM the leader releases the Lease and the standbys, which watch
//! it, take over at once instead of waiting for the expiry.
//!
//! `kube-lease-manager` acquires and renews the Lease; a standby's manager sleeps until the
//! holder's expiry. The watch on the Lease is what makes the hand-over fast: a released Lease
//! wakes the standby, and a Lease taken by another replica demotes this one before its own
//! renewal would notice.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
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
/// How long a SIGTERM'd leader waits for the API server to accept the release.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// Stepping down this long before the Lease lapses by our own clock leaves room for the replica
/// that takes over next.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

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
            client,
            settings,
            leadership,
            metrics,
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

struct Candidate {
    client: Client,
    settings: LeaseSettings,
    leadership: Leadership,
    metrics: Arc<Metrics>,
}

/// What woke the election loop.
enum Wake {
    Stop,
    Changed(Result<bool, kube_lease_manager::LeaseManagerError>),
    Observed(Option<Observed>),
    Lapsed,
}

/// What the watch saw of the Lease.
struct Observed {
    holder: Option<String>,
    renewed: Option<SystemTime>,
}

/// Why a manager is replaced by a fresh one (whose first step re-reads the Lease).
enum Restart {
    Now,
    AfterFailure,
}

impl Candidate {
    async fn run(self, stop: CancellationToken) {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let mut observed = lease_events(api, &self.settings.name);
        let mut retry = RETRY_MIN;
        loop {
            let manager = tokio::select! {
                () = stop.cancelled() => return self.step_down("shutting down"),
                built = self.manager() => built,
            };
            let restart = match manager {
                Ok(manager) => match self.hold(&manager, &mut observed, &stop).await {
                    None => {
                        self.release(&manager).await;
                        return;
                    }
                    Some(restart) => restart,
                },
                Err(error) => {
                    warn!(%error, lease = %self.lease(), "cannot use the leadership Lease; retrying");
                    Restart::AfterFailure
                }
            };
            match restart {
                Restart::Now => retry = RETRY_MIN,
                Restart::AfterFailure => {
                    tokio::select! {
                        () = stop.cancelled() => return self.step_down("shutting down"),
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
    }

    async fn manager(&self) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
        LeaseManagerBuilder::new(self.client.clone(), &self.settings.name)
            .with_namespace(&self.settings.namespace)
            .with_identity(&self.settings.identity)
            .with_duration(LEASE_DURATION.as_secs())
            .with_grace((LEASE_DURATION - RENEW_EVERY).as_secs())
            .build()
            .await
    }

    /// Drives one manager until shutdown (`None`) or until it must be replaced.
    async fn hold(
        &self,
        manager: &LeaseManager,
        observed: &mut Pin<Box<dyn Stream<Item = Observed> + Send>>,
        stop: &CancellationToken,
    ) -> Option<Restart> {
        // Kept across loop turns: cancelling it mid-renewal would leave the manager's view of
        // the Lease stale and make it renew again at once.
        let mut changed = Box::pin(manager.changed());
        // When our hold surely lapses if no renewal is seen; far away while standing by.
        let mut lapses = Instant::now() + Duration::from_secs(3600);
        loop {
            let wake = tokio::select! {
                biased;
                () = stop.cancelled() => Wake::Stop,
                result = &mut changed => Wake::Changed(result),
                lease = observed.next() => Wake::Observed(lease),
                () = tokio::time::sleep_until(lapses), if self.leadership.is_leader() => Wake::Lapsed,
            };
            match wake {
                Wake::Stop => return None,
                Wake::Changed(Ok(leader)) => {
                    self.announce(leader);
                    lapses = Instant::now() + LEASE_DURATION - EXPIRY_MARGIN;
                    changed = Box::pin(manager.changed());
                }
                Wake::Changed(Err(error)) => {
                    // The renewal failed: nothing proves the Lease is still ours.
                    self.step_down("the Lease could not be renewed");
                    warn!(%error, lease = %self.lease(), "leader election failed; retrying");
                    return Some(Restart::AfterFailure);
                }
                Wake::Observed(None) => {
                    // The watch ended (it retries forever, so only on shutdown of the client).
                    return Some(Restart::AfterFailure);
                }
                Wake::Observed(Some(Observed { holder, renewed })) => {
                    let ours = holder.as_deref() == Some(self.settings.identity.as_str());
                    if self.leadership.is_leader() {
                        if ours {
                            if let Some(until) =
                                renewed.and_then(|at| local_deadline(at, LEASE_DURATION))
                            {
                                lapses = until;
                            }
                        } else if let Some(other) = holder {
                            self.step_down(&format!("the Lease is held by {other}"));
                            return Some(Restart::Now);
                        }
                    } else if holder.is_none() {
                        // Released by the previous leader: compete now, not at its expiry.
                        return Some(Restart::Now);
                    }
                }
                Wake::Lapsed => {
                    self.step_down("the Lease was not renewed in time");
                    return Some(Restart::Now);
                }
            }
        }
    }

    async fn release(&self, manager: &LeaseManager) {
        self.step_down("shutting down");
        match tokio::time::timeout(RELEASE_TIMEOUT, manager.release()).await {
            Ok(Ok(())) => info!(lease = %self.lease(), "released the leadership Lease"),
            Ok(Err(error)) => {
                warn!(%error, lease = %self.lease(), "failed to release the Lease; it will expire")
            }
            Err(_) => warn!(lease = %self.lease(), "releasing the Lease timed out; it will expire"),
        }
    }

    fn announce(&self, leader: bool) {
        let was = self.leadership.is_leader();
        self.leadership.set(leader);
        self.metrics.set_leader(leader);
        if leader && !was {
            info!(identity = %self.settings.identity, lease = %self.lease(), "became the leader");
        } else if !leader && was {
            info!(identity = %self.settings.identity, lease = %self.lease(), "lost the leadership Lease; standing by");
        }
    }

    /// Stops writing at once.
    fn step_down(&self, why: &str) {
        if self.leadership.is_leader() {
            self.leadership.set(false);
            self.metrics.set_leader(false);
            info!(identity = %self.settings.identity, lease = %self.lease(), reason = why, "stepped down; standing by");
        }
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.settings.namespace, self.settings.name)
    }
}

/// The local instant, `margin` before a Lease renewed at `renewed` (by this process's clock)
/// lapses; `None` when it already has.
fn local_deadline(renewed: SystemTime, duration: Duration) -> Option<Instant> {
    let lapses_at = renewed.checked_add(duration)?.checked_sub(EXPIRY_MARGIN)?;
    let left = lapses_at.duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left)
}

/// Every version of the Lease, as seen by a watch that retries with backoff.
fn lease_events(api: Api<Lease>, name: &str) -> Pin<Box<dyn Stream<Item = Observed> + Send>> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    Box::pin(
        watcher(api, config)
            .default_backoff()
            .applied_objects()
            .filter_map(|event| async move {
                match event {
                    Ok(lease) => {
                        let spec = lease.spec.unwrap_or_default();
                        Some(Observed {
                            holder: spec.holder_identity.filter(|h| !h.is_empty()),
                            renewed: spec.renew_time.map(|t| SystemTime::from(t.0)),
                        })
                    }
                    Err(error) => {
                        warn!(%error, "watch of the leadership Lease failed; retrying");
                        None
                    }
                }
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_holder_renews_twice_before_the_lease_lapses() {
        assert!(RENEW_EVERY * 3 <= LEASE_DURATION);
    }

    #[test]
    fn a_lease_renewed_long_ago_has_no_deadline_left() {
        let renewed = SystemTime::now() - Duration::from_secs(60);
        assert!(local_deadline(renewed, LEASE_DURATION).is_none());
        let fresh = local_deadline(SystemTime::now(), LEASE_DURATION).unwrap();
        assert!(fresh > Instant::now() + Duration::from_secs(10));
    }
}
