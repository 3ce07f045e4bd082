//! Secondary indexes over a watch cache: the objects of a kind by a key computed from each
//! object (a prov cluster by the mgmt cluster it names, a Fleet cluster by its name), so that a
//! reconcile finds the objects related to another one without scanning the whole cache. The
//! work of one event then does not grow with the number of objects.
//!
//! An index follows the same events as its cache, right after the cache took them, and like the
//! cache it shows a re-list only once the list is complete. A lookup returns the cached objects;
//! callers still check the relation on each, since an object may have changed between the
//! cache and the index taking the same event.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

/// Keys of one object in an index.
pub type KeysOf<K, T> = fn(&K) -> Vec<T>;

/// The object's name and namespace only: [`ObjectRef::from_obj`] also keeps its UID and version,
/// which an index has no use for.
fn key_of<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectRef<K> {
    let meta = obj.meta();
    let name = ObjectRef::new(meta.name.as_deref().unwrap_or_default());
    match meta.namespace.as_deref() {
        Some(namespace) => name.within(namespace),
        None => name,
    }
}

/// One object's key, shared by every entry that names it: an index keeps one copy of each
/// object's name and namespace however many keys find it.
type Shared<K> = Arc<ObjectRef<K>>;

struct Maps<K: Resource<DynamicType = ()>, T> {
    by_key: HashMap<T, HashSet<Shared<K>>>,
    keys_of: HashMap<Shared<K>, Box<[T]>>,
}

impl<K: Resource<DynamicType = ()>, T: Hash + Eq + Clone> Default for Maps<K, T> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            keys_of: HashMap::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()>, T: Hash + Eq + Clone> Maps<K, T> {
    fn insert(&mut self, obj: ObjectRef<K>, keys: Vec<T>) {
        self.remove(&obj);
        if keys.is_empty() {
            return;
        }
        let obj = Arc::new(obj);
        for key in &keys {
            self.by_key
                .entry(key.clone())
                .or_default()
                .insert(obj.clone());
        }
        self.keys_of.insert(obj, keys.into_boxed_slice());
    }

    fn remove(&mut self, obj: &ObjectRef<K>) {
        let Some(keys) = self.keys_of.remove(obj) else {
            return;
        };
        for key in keys {
            if let Some(objs) = self.by_key.get_mut(&key) {
                objs.remove(obj);
                if objs.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }
}

struct State<K: Resource<DynamicType = ()>, T> {
    live: Maps<K, T>,
    /// A re-list in progress: it replaces `live` once complete.
    listing: Option<Maps<K, T>>,
}

/// The objects of kind `K` by keys of type `T`. Cheap to clone; clones share the index.
pub struct Index<K: Resource<DynamicType = ()>, T> {
    state: Arc<RwLock<State<K, T>>>,
    keys: KeysOf<K, T>,
}

impl<K: Resource<DynamicType = ()>, T> Clone for Index<K, T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            keys: self.keys,
        }
    }
}

impl<K, T> Index<K, T>
where
    K: Resource<DynamicType = ()> + Clone,
    T: Hash + Eq + Clone,
{
    /// An empty index whose objects are found under `keys(obj)`.
    pub fn new(keys: KeysOf<K, T>) -> Self {
        Self {
            state: Arc::new(RwLock::new(State {
                live: Maps::default(),
                listing: None,
            })),
            keys,
        }
    }

    /// Follows one event of the watch that feeds the cache.
    pub fn apply(&self, event: &watcher::Event<K>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match event {
            watcher::Event::Apply(obj) => state.live.insert(key_of(obj), (self.keys)(obj)),
            watcher::Event::Delete(obj) => state.live.remove(&key_of(obj)),
            watcher::Event::Init => state.listing = Some(Maps::default()),
            watcher::Event::InitApply(obj) => {
                let keys = (self.keys)(obj);
                state
                    .listing
                    .get_or_insert_with(Maps::default)
                    .insert(key_of(obj), keys);
            }
            watcher::Event::InitDone => {
                if let Some(listed) = state.listing.take() {
                    state.live = listed;
                }
            }
        }
    }

    /// The keys of the objects under `key`.
    pub fn refs(&self, key: &T) -> Vec<ObjectRef<K>> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .live
            .by_key
            .get(key)
            .map(|objs| objs.iter().map(|obj| obj.as_ref().clone()).collect())
            .unwrap_or_default()
    }

    /// The cached objects under `key`, as `store` holds them now.
    pub fn get(&self, store: &Store<K>, key: &T) -> Vec<Arc<K>> {
        self.refs(key).iter().filter_map(|r| store.get(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MgmtCluster;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    fn mgmt(name: &str, workspace: &str) -> MgmtCluster {
        let mut m = MgmtCluster::new(name, Default::default());
        m.spec.fleet_workspace_name = Some(workspace.into());
        m
    }

    fn by_workspace(m: &MgmtCluster) -> Vec<String> {
        m.workspace().map(str::to_string).into_iter().collect()
    }

    fn names(index: &Index<MgmtCluster, String>, key: &str) -> Vec<String> {
        let mut names: Vec<String> = index
            .refs(&key.to_string())
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn objects_are_found_by_their_current_key_only() {
        let index = Index::new(by_workspace);
        index.apply(&Event::Apply(mgmt("a", "ws-1")));
        index.apply(&Event::Apply(mgmt("b", "ws-1")));
        assert_eq!(names(&index, "ws-1"), ["a", "b"]);
        index.apply(&Event::Apply(mgmt("a", "ws-2")));
        assert_eq!(names(&index, "ws-1"), ["b"]);
        assert_eq!(names(&index, "ws-2"), ["a"]);
        index.apply(&Event::Delete(mgmt("b", "ws-1")));
        assert!(names(&index, "ws-1").is_empty());
    }

    #[test]
    fn a_relist_replaces_the_index_once_complete() {
        let index = Index::new(by_workspace);
        index.apply(&Event::Apply(mgmt("gone", "ws-1")));
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(mgmt("new", "ws-1")));
        // Until the list is complete, the index shows what it showed before.
        assert_eq!(names(&index, "ws-1"), ["gone"]);
        index.apply(&Event::InitDone);
        assert_eq!(names(&index, "ws-1"), ["new"]);
    }

    #[test]
    fn lookups_return_the_cached_objects() {
        let (store, mut writer) = reflector::store::<MgmtCluster>();
        let index = Index::new(by_workspace);
        for event in [
            Event::Init,
            Event::InitApply(mgmt("a", "ws-1")),
            Event::InitApply(mgmt("b", "ws-2")),
            Event::InitDone,
        ] {
            writer.apply_watcher_event(&event);
            index.apply(&event);
        }
        let found = index.get(&store, &"ws-2".to_string());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].metadata.name.as_deref(), Some("b"));
        assert!(index.get(&store, &"ws-3".to_string()).is_empty());
    }
}
