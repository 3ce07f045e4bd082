//! Whether each watch works, for `/readyz`: a replica whose cache stopped following the API
//! server must say so instead of acting on an old picture.
//!
//! kube's watcher reports each failed list or watch request and retries with a backoff of at
//! most 30 s (60 s with jitter), but a watch that starts again reports nothing until an object
//! changes. So a watch counts as failing from its first error for as long as errors keep coming
//! within [`STREAK_GAP`] of each other; any event it delivers ends that at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Errors further apart than this belong to different failures: longer than kube's largest
/// retry delay, so a watch that keeps failing never looks healthy in between.
pub const STREAK_GAP: Duration = Duration::from_secs(90);

/// The failing watches, by resource.
#[derive(Clone, Default)]
pub struct WatchHealth(Arc<Mutex<HashMap<String, Streak>>>);

#[derive(Clone, Copy, Debug)]
struct Streak {
    since: Instant,
    last: Instant,
}

impl WatchHealth {
    /// The watch of `resource` reported an error.
    pub fn failed(&self, resource: &str) {
        self.failed_at(resource, Instant::now());
    }

    /// The watch of `resource` delivered an event: it works.
    pub fn delivered(&self, resource: &str) {
        if let Ok(mut streaks) = self.0.lock()
            && !streaks.is_empty()
        {
            streaks.remove(resource);
        }
    }

    /// The resources whose watch has been failing for longer than `bound`, sorted.
    pub fn failing_longer_than(&self, bound: Duration) -> Vec<String> {
        self.failing_at(bound, Instant::now())
    }

    fn failed_at(&self, resource: &str, now: Instant) {
        if let Ok(mut streaks) = self.0.lock() {
            let streak = streaks.entry(resource.to_string()).or_insert(Streak {
                since: now,
                last: now,
            });
            if now.saturating_duration_since(streak.last) > STREAK_GAP {
                streak.since = now;
            }
            streak.last = now;
        }
    }

    fn failing_at(&self, bound: Duration, now: Instant) -> Vec<String> {
        let Ok(streaks) = self.0.lock() else {
            return Vec::new();
        };
        let mut failing: Vec<String> = streaks
            .iter()
            .filter(|(_, s)| {
                now.saturating_duration_since(s.last) <= STREAK_GAP
                    && now.saturating_duration_since(s.since) > bound
            })
            .map(|(resource, _)| resource.clone())
            .collect();
        failing.sort();
        failing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(60);

    #[test]
    fn a_watch_failing_longer_than_the_bound_is_reported() {
        let health = WatchHealth::default();
        let t0 = Instant::now();
        for s in [0, 1, 3, 7, 15, 31, 61] {
            health.failed_at("clusters.management.cattle.io", t0 + Duration::from_secs(s));
        }
        assert!(
            health
                .failing_at(BOUND, t0 + Duration::from_secs(59))
                .is_empty()
        );
        assert_eq!(
            health.failing_at(BOUND, t0 + Duration::from_secs(62)),
            ["clusters.management.cattle.io"]
        );
    }

    #[test]
    fn an_event_ends_the_failure() {
        let health = WatchHealth::default();
        let t0 = Instant::now();
        health.failed_at("namespaces", t0);
        health.failed_at("namespaces", t0 + Duration::from_secs(70));
        assert_eq!(
            health.failing_at(BOUND, t0 + Duration::from_secs(71)),
            ["namespaces"]
        );
        health.delivered("namespaces");
        assert!(
            health
                .failing_at(BOUND, t0 + Duration::from_secs(71))
                .is_empty()
        );
    }

    #[test]
    fn errors_far_apart_are_separate_failures_and_a_quiet_watch_recovers() {
        let health = WatchHealth::default();
        let t0 = Instant::now();
        health.failed_at("nodes", t0);
        let later = t0 + STREAK_GAP + Duration::from_secs(10);
        health.failed_at("nodes", later);
        assert!(
            health
                .failing_at(BOUND, later + Duration::from_secs(1))
                .is_empty()
        );
        // No error for longer than the gap: the watch started again.
        assert!(
            health
                .failing_at(Duration::ZERO, later + STREAK_GAP + Duration::from_secs(1))
                .is_empty()
        );
    }
}
