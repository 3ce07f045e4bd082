//! The depth of each controller's queue (`drover_queue_depth`): objects whose reconcile was asked
//! for and has not started yet. kube's controller keeps its queue to itself, so the triggers are
//! counted on their way in (deduplicated by object, as the queue does) and taken off when the
//! reconcile starts. Objects no longer in the cache are not waiting for anything.

use std::sync::Arc;

use dashmap::DashSet;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};

pub struct Pending<K>
where
    K: Resource<DynamicType = ()> + 'static,
{
    keys: DashSet<ObjectRef<K>>,
    store: Store<K>,
}

impl<K> Pending<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    pub fn new(store: Store<K>) -> Arc<Self> {
        Arc::new(Self {
            keys: DashSet::new(),
            store,
        })
    }

    /// A mapper for `Controller::watches_stream` that counts what `mapper` asks for.
    pub fn track<O, I, F>(
        self: &Arc<Self>,
        mapper: F,
    ) -> impl Fn(O) -> Vec<ObjectRef<K>> + use<K, O, I, F>
    where
        F: Fn(O) -> I,
        I: IntoIterator<Item = ObjectRef<K>>,
    {
        let pending = self.clone();
        move |other| {
            let refs: Vec<ObjectRef<K>> = mapper(other).into_iter().collect();
            for r in &refs {
                pending.add(r.clone());
            }
            refs
        }
    }

    /// The controller's own trigger stream, counted.
    pub fn trigger<E, S>(
        self: &Arc<Self>,
        stream: S,
    ) -> impl Stream<Item = Result<K, E>> + use<K, E, S>
    where
        S: Stream<Item = Result<K, E>>,
    {
        let pending = self.clone();
        stream.inspect(move |obj| {
            if let Ok(obj) = obj {
                pending.add(ObjectRef::from_obj(obj));
            }
        })
    }

    /// Every cached object was asked for (a reconcile of all).
    pub fn all(&self) {
        for obj in self.store.state() {
            self.keys.insert(ObjectRef::from_obj(obj.as_ref()));
        }
    }

    /// The reconcile of `obj` starts.
    pub fn started(&self, obj: &K) {
        self.keys.remove(&ObjectRef::from_obj(obj));
    }

    /// Objects waiting for their reconcile.
    pub fn depth(&self) -> usize {
        self.keys.retain(|k| self.store.get(k).is_some());
        self.keys.len()
    }

    fn add(&self, key: ObjectRef<K>) {
        if self.store.get(&key).is_some() {
            self.keys.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MgmtCluster;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    fn cached_mgmt(name: &str) -> MgmtCluster {
        let mut m = MgmtCluster::new(name, Default::default());
        m.metadata.resource_version = Some("1".into());
        m
    }

    #[test]
    fn triggers_count_once_per_object_until_its_reconcile_starts() {
        let (store, mut writer) = reflector::store::<MgmtCluster>();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(cached_mgmt("a")));
        writer.apply_watcher_event(&Event::InitApply(cached_mgmt("b")));
        writer.apply_watcher_event(&Event::InitDone);
        let pending = Pending::new(store);
        let map = pending.track(|name: &str| Some(ObjectRef::<MgmtCluster>::new(name)));
        assert_eq!(map("a").len(), 1);
        map("a");
        map("b");
        // Not cached: nothing will reconcile it.
        map("gone");
        assert_eq!(pending.depth(), 2);
        pending.started(&cached_mgmt("a"));
        assert_eq!(pending.depth(), 1);
        writer.apply_watcher_event(&Event::Delete(cached_mgmt("b")));
        assert_eq!(pending.depth(), 0);
        pending.all();
        assert_eq!(pending.depth(), 1);
    }
}
