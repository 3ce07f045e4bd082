//! The context every reconcile receives.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use dashmap::DashMap;
use kube::Client;

use crate::config::Config;
use crate::runtime::events::EventSender;
use crate::runtime::leadership::Leadership;
use crate::runtime::metrics::Metrics;
use crate::runtime::priority::Priority;
use crate::runtime::watches::Stores;

pub struct Context {
    pub client: Client,
    pub config: Config,
    pub stores: Stores,
    pub metrics: Arc<Metrics>,
    /// Where Events go (one kube `Recorder` per Event, see [`EventSender`]).
    pub events: EventSender,
    pub leadership: Leadership,
    /// Surfacing writes ahead of bookkeeping writes.
    pub priority: Arc<Priority>,
    /// Bounds how many Events that waited for their turn are sent at once.
    pub(crate) deferred_events: Arc<tokio::sync::Semaphore>,
    /// Per-object failure backoff: exponential, capped, reset on success.
    backoffs: DashMap<String, ExponentialBackoff>,
    /// The last message published per object and reason, so a repeated refusal or failure is
    /// reported once, not on every retry.
    pub(crate) notices: DashMap<String, String>,
}

/// First retry after a failure, and the cap.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

impl Context {
    pub fn new(
        client: Client,
        config: Config,
        stores: Stores,
        metrics: Arc<Metrics>,
        events: EventSender,
        leadership: Leadership,
    ) -> Self {
        let permits = usize::from(config.concurrency.max(1));
        Self {
            client,
            config,
            stores,
            metrics,
            events,
            priority: Arc::new(Priority::default()),
            deferred_events: Arc::new(tokio::sync::Semaphore::new(permits)),
            leadership,
            backoffs: DashMap::new(),
            notices: DashMap::new(),
        }
    }

    /// The delay before retrying `key` after one more failure.
    pub fn next_backoff(&self, key: &str) -> Duration {
        self.backoffs
            .entry(key.to_string())
            .or_insert_with(|| {
                ExponentialBuilder::default()
                    .with_min_delay(BACKOFF_MIN)
                    .with_max_delay(BACKOFF_MAX)
                    .with_factor(2.0)
                    .with_jitter()
                    .without_max_times()
                    .build()
            })
            .next()
            .unwrap_or(BACKOFF_MAX)
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn reset_backoff(&self, key: &str) {
        self.backoffs.remove(key);
    }
}
