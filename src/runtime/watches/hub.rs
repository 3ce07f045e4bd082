//! The shared watch of one kind: a reflector store for reads and a fan-out of every touched
//! object (applied *and* deleted) to each subscribed controller. kube's own shared streams do not
//! pass deletions on, and drover must react to a deleted fleet cluster or namespace by
//! re-creating it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::watch;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tracing::warn;

use crate::consts::FIELD_MANAGER;
use crate::runtime::metrics::Metrics;
use crate::runtime::visible::parse;
use crate::runtime::watch_health::WatchHealth;

use super::resource_name;

/// Drops everything from `metadata.managedFields` except drover's own entries, which the write
/// layer needs to tell when a field it owns is no longer wanted. The rest is memory spent on
/// nothing. The `fieldsV1` tree of drover's entries is kept as one JSON string, which the write
/// layer parses when it needs it: as a tree of maps it took more memory than the rest of the
/// object (about 5 KiB of a prov or fleet cluster's 9).
pub fn keep_own_managed_fields<K: Resource>(obj: &mut K) {
    if let Some(managed) = obj.meta_mut().managed_fields.as_mut() {
        managed.retain(|m| m.manager.as_deref() == Some(FIELD_MANAGER));
        for fields in managed.iter_mut().filter_map(|m| m.fields_v1.as_mut()) {
            if !fields.0.is_string() {
                fields.0 = serde_json::Value::String(fields.0.to_string());
            }
        }
    }
    let meta = obj.meta_mut();
    if meta.managed_fields.as_ref().is_some_and(Vec::is_empty) {
        meta.managed_fields = None;
    }
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The shared watch of one kind.
pub struct Hub<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<K>,
    writer: Option<reflector::store::Writer<K>>,
    subscribers: Arc<Mutex<Vec<UnboundedSender<K>>>>,
    /// The highest resourceVersion this watch has delivered into the store.
    seen: Arc<watch::Sender<u64>>,
    /// What follows every event right after the store took it (the indexes of this kind).
    followers: Vec<Follower<K>>,
}

type Follower<K> = Box<dyn Fn(&watcher::Event<K>) + Send + Sync>;

impl<K> Hub<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    pub fn new() -> Self {
        let (store, writer) = reflector::store();
        Self {
            store,
            writer: Some(writer),
            subscribers: Arc::default(),
            seen: Arc::new(watch::Sender::new(0)),
            followers: Vec::new(),
        }
    }

    /// Passes every event to `follower` right after the store took it, before any subscriber
    /// hears of it. Call before [`Self::run`].
    pub fn follow(&mut self, follower: impl Fn(&watcher::Event<K>) + Send + Sync + 'static) {
        self.followers.push(Box::new(follower));
    }

    /// The cache. Not ready until the first list finished ([`Store::wait_until_ready`]).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Follows the highest resourceVersion this watch has delivered into the store.
    pub fn seen(&self) -> watch::Receiver<u64> {
        self.seen.subscribe()
    }

    /// A stream of every object this watch touches from now on, for `Controller::for_stream`
    /// and `watches_stream`.
    pub fn subscribe(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let (tx, rx) = unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        UnboundedReceiverStream::new(rx).map(Ok)
    }

    /// The future that drives the watch, to be spawned once, after the subscriptions.
    ///
    /// A re-list (after the watch expired, 410 Gone, or failed) passes on what changed while the
    /// watch was not following: objects that are new or have a new version, and the objects the
    /// cache held that the list no longer has, as deletions. Nothing that happened in the gap
    /// waits for an unrelated event to be reconciled.
    ///
    /// All of it is passed on once the re-list is complete, never while it runs: the store shows
    /// a re-list only at its end, and kube's `Controller` drops a trigger for an object its store
    /// does not hold yet. A re-list that takes a while (a streaming list from an API server that
    /// just restarted, one refused for minutes by a missing permission) would otherwise lose
    /// every object created in the gap until something else touched it.
    pub fn run<S>(
        &mut self,
        events: S,
        metrics: Arc<Metrics>,
        health: WatchHealth,
    ) -> BoxFuture<'static, ()>
    where
        S: Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
    {
        let subscribers = self.subscribers.clone();
        let seen = self.seen.clone();
        let store = self.store.clone();
        let Some(writer) = self.writer.take() else {
            return Box::pin(async {});
        };
        let resource = resource_name::<K>();
        let followers = std::mem::take(&mut self.followers);
        Box::pin(async move {
            let mut stream = std::pin::pin!(reflector::reflector(writer, events));
            // The newest version of a (re-)list, which the store shows only once it is complete.
            let mut listed = 0;
            // Until the first list is complete no controller runs, and when they start they
            // reconcile everything in the store: the first list's objects are not passed on, or
            // every subscriber would queue a copy of the whole cache before it starts.
            let mut first_list = true;
            // During a re-list: what the cache held before it, by key, with its version. What
            // the list does not bring again was deleted meanwhile.
            let mut before: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
            // During a re-list: what it brought that is new or changed, passed on at its end.
            let mut changed: Vec<K> = Vec::new();
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(error) => {
                        metrics.watch_error(&resource);
                        health.failed(&resource);
                        warn!(%error, resource, "watch failed; retrying with backoff");
                        continue;
                    }
                };
                health.delivered(&resource);
                for follow in &followers {
                    follow(&event);
                }
                // The reflector has stored the event by now (a list's objects only at its end):
                // writes up to this version are visible in the cache.
                let version = |o: &K| parse(o.meta().resource_version.as_deref());
                let visible = match &event {
                    watcher::Event::Apply(o) | watcher::Event::Delete(o) => version(o),
                    watcher::Event::InitApply(o) => {
                        listed = listed.max(version(o).unwrap_or(0));
                        None
                    }
                    watcher::Event::InitDone => Some(std::mem::take(&mut listed)),
                    watcher::Event::Init => None,
                };
                if let Some(visible) = visible {
                    seen.send_if_modified(|v| {
                        let newer = visible > *v;
                        *v = (*v).max(visible);
                        newer
                    });
                }
                let touched: Vec<K> = match event {
                    watcher::Event::Apply(o) | watcher::Event::Delete(o) => vec![o],
                    watcher::Event::Init if !first_list => {
                        metrics.relisted(&resource);
                        // A re-list that started again (the previous one failed half-way) did
                        // not show what it had brought: the new one brings it again.
                        changed.clear();
                        before = store
                            .state()
                            .into_iter()
                            .map(|o| (ObjectRef::from_obj(o.as_ref()), o))
                            .collect();
                        vec![]
                    }
                    watcher::Event::InitApply(o) if !first_list => {
                        let unchanged =
                            before.remove(&ObjectRef::from_obj(&o)).is_some_and(|old| {
                                old.meta().resource_version == o.meta().resource_version
                            });
                        if !unchanged {
                            changed.push(o);
                        }
                        vec![]
                    }
                    watcher::Event::InitDone if !first_list => {
                        let mut touched = std::mem::take(&mut changed);
                        touched.extend(
                            std::mem::take(&mut before)
                                .into_values()
                                .map(|o| o.as_ref().clone()),
                        );
                        touched
                    }
                    watcher::Event::InitDone => {
                        first_list = false;
                        vec![]
                    }
                    watcher::Event::InitApply(_) | watcher::Event::Init => vec![],
                };
                if touched.is_empty() {
                    continue;
                }
                if let Ok(mut subs) = subscribers.lock() {
                    subs.retain(|tx| touched.iter().all(|o| tx.send(o.clone()).is_ok()));
                }
            }
        })
    }
}

impl<K> Default for Hub<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use kube::runtime::watcher::Event;
    use tokio::sync::mpsc::unbounded_channel;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;
    use crate::api::MgmtCluster;

    fn mgmt(name: &str, version: &str) -> MgmtCluster {
        let mut m = MgmtCluster::new(name, Default::default());
        m.metadata.resource_version = Some(version.into());
        m
    }

    #[tokio::test]
    async fn a_relist_passes_on_what_changed_once_the_store_shows_it() {
        let mut hub = Hub::<MgmtCluster>::new();
        let store = hub.store();
        let mut touched = std::pin::pin!(hub.subscribe());
        let (events, rx) = unbounded_channel();
        let run = hub.run(
            UnboundedReceiverStream::new(rx).map(Ok),
            Arc::new(Metrics::default()),
            WatchHealth::default(),
        );
        let run = tokio::spawn(run);
        for event in [
            Event::Init,
            Event::InitApply(mgmt("kept", "1")),
            Event::InitApply(mgmt("changed", "1")),
            Event::InitApply(mgmt("gone", "1")),
            Event::InitDone,
            // The watch expired; the re-list brings what happened in the gap.
            Event::Init,
            Event::InitApply(mgmt("kept", "1")),
            Event::InitApply(mgmt("changed", "5")),
            Event::InitApply(mgmt("new", "6")),
        ] {
            events.send(event).unwrap();
        }
        // The re-list is not complete: the store still shows the old state, and nothing of the
        // re-list may reach a controller that would look it up there.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(store.get(&ObjectRef::new("new")).is_none());
        let early = futures::FutureExt::now_or_never(touched.next());
        assert!(
            early.is_none(),
            "passed on before the store shows it: {early:?}"
        );
        events.send(Event::InitDone).unwrap();
        let mut names = Vec::new();
        for _ in 0..3 {
            let o = touched.next().await.unwrap().unwrap();
            let name = o.metadata.name.clone().unwrap();
            if name != "gone" {
                assert!(store.get(&ObjectRef::new(&name)).is_some(), "{name}");
            }
            names.push(name);
        }
        names.sort();
        assert_eq!(names, ["changed", "gone", "new"]);
        assert!(store.get(&ObjectRef::new("gone")).is_none());
        run.abort();
    }
}
