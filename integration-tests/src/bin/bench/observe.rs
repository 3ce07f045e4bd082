//! Watching the result instead of polling it: convergence trackers (how many objects of a kind
//! reached their final state, and when the last one did) and the arrival of label changes for the
//! latency figure. The same observers run during the write floor and during drover's run, so
//! their cost is on both sides of the ratio.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc};

/// One kind's progress towards `target` objects in their final state.
struct Tracker {
    what: String,
    target: usize,
    done: Mutex<HashSet<String>>,
    /// When each object first reached its final state.
    first_done: Mutex<HashMap<String, Instant>>,
    /// When the count first reached the target.
    reached: Mutex<Option<Instant>>,
    listed: std::sync::atomic::AtomicBool,
}

/// A set of trackers; converged when every one reached its target.
#[derive(Default)]
pub struct Progress {
    trackers: Vec<Arc<Tracker>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    changed: Arc<Notify>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.name_any()
    )
}

impl Progress {
    /// Tracks full objects of `api` (matching `config`) for which `done` holds.
    pub fn full<K>(
        &mut self,
        what: &str,
        api: Api<K>,
        config: watcher::Config,
        target: usize,
        done: impl Fn(&K) -> bool + Send + Sync + 'static,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let events = watcher::watcher(api, config).default_backoff();
        self.track(what, events, target, done);
    }

    /// Tracks object metadata of `api` (matching `config`) for which `done` holds.
    pub fn meta<K>(
        &mut self,
        what: &str,
        api: Api<PartialObjectMeta<K>>,
        config: watcher::Config,
        target: usize,
        done: impl Fn(&PartialObjectMeta<K>) -> bool + Send + Sync + 'static,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let events = watcher::watcher(api, config).default_backoff();
        self.track(what, events, target, done);
    }

    fn track<T, S>(
        &mut self,
        what: &str,
        events: S,
        target: usize,
        done: impl Fn(&T) -> bool + Send + Sync + 'static,
    ) where
        T: Resource + Send + 'static,
        S: Stream<Item = watcher::Result<Event<T>>> + Send + 'static,
    {
        let tracker = Arc::new(Tracker {
            what: what.to_string(),
            target,
            done: Mutex::default(),
            first_done: Mutex::default(),
            reached: Mutex::new((target == 0).then(Instant::now)),
            listed: Default::default(),
        });
        let state = tracker.clone();
        let changed = self.changed.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let at = Instant::now();
                let (obj, present) = match &event {
                    Event::Apply(o) | Event::InitApply(o) => (o, true),
                    Event::Delete(o) => (o, false),
                    Event::InitDone => {
                        state
                            .listed
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                        changed.notify_waiters();
                        continue;
                    }
                    Event::Init => continue,
                };
                let count = {
                    let mut set = state.done.lock().unwrap_or_else(|p| p.into_inner());
                    if present && done(obj) {
                        set.insert(key(obj));
                        state
                            .first_done
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(key(obj))
                            .or_insert(at);
                    } else {
                        set.remove(&key(obj));
                    }
                    set.len()
                };
                if count >= state.target {
                    let mut reached = state.reached.lock().unwrap_or_else(|p| p.into_inner());
                    reached.get_or_insert(at);
                }
                changed.notify_waiters();
            }
        }));
        self.trackers.push(tracker);
    }

    /// Waits until every watch finished its first list.
    pub async fn wait_listed(&self, timeout: Duration) -> Result<()> {
        self.wait_for("the observers' first list", timeout, || {
            self.trackers
                .iter()
                .all(|t| t.listed.load(std::sync::atomic::Ordering::SeqCst))
                .then_some(())
        })
        .await
    }

    /// Waits until every tracker reached its target; returns when the last one did.
    pub async fn wait_converged(&self, timeout: Duration) -> Result<Instant> {
        self.wait_for("convergence", timeout, || {
            self.trackers
                .iter()
                .map(|t| *t.reached.lock().unwrap_or_else(|p| p.into_inner()))
                .try_fold(None::<Instant>, |latest, r| {
                    r.map(|r| Some(latest.map_or(r, |l: Instant| l.max(r))))
                })
                .flatten()
        })
        .await
    }

    fn tracker(&self, what: &str) -> Option<&Arc<Tracker>> {
        self.trackers.iter().find(|t| t.what == what)
    }

    /// When tracker `what` reached its target.
    pub fn reached(&self, what: &str) -> Option<Instant> {
        *self
            .tracker(what)?
            .reached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// When each object of tracker `what` first reached its final state, by `namespace/name`.
    pub fn first_done(&self, what: &str) -> HashMap<String, Instant> {
        self.tracker(what)
            .map(|t| {
                t.first_done
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            })
            .unwrap_or_default()
    }

    /// `what: count/target` for every tracker.
    pub fn describe(&self) -> String {
        self.trackers
            .iter()
            .map(|t| {
                let n = t.done.lock().map(|s| s.len()).unwrap_or_default();
                format!("{}: {n}/{}", t.what, t.target)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn() -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(v) = check() {
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out after {timeout:?} waiting for {what} ({})",
                    self.describe()
                );
            }
            // Wake up now and then too: notify_waiters only reaches waiters already registered.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

/// Label key that the latency probe sets on a source object and looks for on its counterpart.
pub const SEQ_LABEL: &str = "bench-seq";

/// Arrivals of [`SEQ_LABEL`] values on the counterparts, stamped when the watch event arrives.
pub struct Arrivals {
    rx: mpsc::UnboundedReceiver<(String, Instant)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Arrivals {
    /// Watches the metadata of `api` for objects labelled [`SEQ_LABEL`]; resolves once the
    /// watch has listed.
    pub async fn watch<K>(api: Api<PartialObjectMeta<K>>) -> Result<Self>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
        let config = watcher::Config::default().labels(SEQ_LABEL);
        let task = tokio::spawn(async move {
            let mut listed = Some(listed_tx);
            let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
            while let Some(event) = events.next().await {
                let at = Instant::now();
                match event {
                    Ok(Event::Apply(o)) => {
                        if let Some(v) = o.labels().get(SEQ_LABEL) {
                            let _ = tx.send((v.clone(), at));
                        }
                    }
                    Ok(Event::InitDone) => {
                        if let Some(l) = listed.take() {
                            let _ = l.send(());
                        }
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(60), listed_rx)
            .await
            .map_err(|_| anyhow::anyhow!("the latency watch did not list within 60s"))?
            .map_err(|_| anyhow::anyhow!("the latency watch ended"))?;
        Ok(Self { rx, task })
    }

    /// Waits for `value` to arrive on a counterpart; returns when it did.
    pub async fn wait_for(&mut self, value: &str, timeout: Duration) -> Result<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((v, at))) if v == value => return Ok(at),
                Ok(Some(_)) => {}
                Ok(None) => bail!("the latency watch ended"),
                Err(_) => bail!("label {SEQ_LABEL}={value} did not arrive within {timeout:?}"),
            }
        }
    }
}

/// The `q` quantile (0..=1) of `samples` (nearest rank), in milliseconds.
pub fn quantile_ms(samples: &[Duration], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&samples, 0.5), Some(50.0));
        assert_eq!(quantile_ms(&samples, 0.99), Some(99.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }
}
