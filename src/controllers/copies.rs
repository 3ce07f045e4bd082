//! "Add every desired object, then delete every owned object not added" (§I3): drover's copies
//! carry their owner's marks, so the owned ones are found wherever they are, the wanted ones are
//! set aside, and the rest is deleted, each re-read live, checked again and deleted with its UID
//! as precondition. Used for a prov cluster's Fleet clusters, a legacy mgmt cluster's prov
//! copies and a workspace creator's RBAC.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::{FleetCluster, ProvCluster};
use crate::consts::actions;
use crate::consts::reasons::cluster as reasons;
use crate::controllers::Error;
use crate::mapping::deletion::fleet_belongs_to_prov;
use crate::mapping::notice::Notice;
use crate::runtime::Context;
use crate::runtime::watches::FleetKey;

/// Where an object is: its namespace (`None` when cluster-scoped) and name.
pub type Place = (Option<String>, String);

/// The owned objects of one kind, and which of them are wanted.
pub struct Owned<K, F> {
    client: Client,
    api: fn(Client, Option<&str>) -> Api<K>,
    /// Proves an object is owned; holds again, read live, before each delete.
    owns: F,
    /// Owned objects by place: the cached copy, or none for a place only to be looked at live.
    found: BTreeMap<Place, Option<Arc<K>>>,
    wanted: BTreeSet<Place>,
}

impl<K, F> Owned<K, F>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    F: Fn(&K) -> bool,
{
    /// Owned objects of a namespaced kind.
    pub fn namespaced(client: Client, owns: F) -> Self
    where
        K: Resource<Scope = NamespaceResourceScope>,
    {
        Self::new(
            client,
            |c, ns| Api::namespaced(c, ns.unwrap_or_default()),
            owns,
        )
    }

    /// Owned objects of a cluster-scoped kind.
    pub fn cluster_scoped(client: Client, owns: F) -> Self {
        Self::new(client, |c, _| Api::all(c), owns)
    }

    fn new(client: Client, api: fn(Client, Option<&str>) -> Api<K>, owns: F) -> Self {
        Self {
            client,
            api,
            owns,
            found: BTreeMap::new(),
            wanted: BTreeSet::new(),
        }
    }

    /// Adds the cached objects that `select` picks and that are owned.
    pub fn in_cache(mut self, store: &Store<K>, select: impl Fn(&K) -> bool) -> Self {
        for obj in store.state_filter(|o| select(o) && (self.owns)(o)) {
            self.found.insert(place(obj.as_ref()), Some(obj));
        }
        self
    }

    /// Adds the cached objects among `candidates` (what an index found) that `select` picks and
    /// that are owned.
    pub fn among(
        mut self,
        candidates: impl IntoIterator<Item = Arc<K>>,
        select: impl Fn(&K) -> bool,
    ) -> Self {
        for obj in candidates {
            if select(&obj) && (self.owns)(&obj) {
                self.found.insert(place(obj.as_ref()), Some(obj));
            }
        }
        self
    }

    /// Adds a place to look at live: a copy written a moment ago may not be cached yet.
    pub fn look_at(mut self, place: Place) -> Self {
        self.found.entry(place).or_insert(None);
        self
    }

    /// Sets aside the object at `place`: it is wanted.
    pub fn want(mut self, place: Place) -> Self {
        self.wanted.insert(place);
        self
    }

    /// The owned objects that are not wanted, with their cached copy when there is one.
    pub fn unwanted(&self) -> impl Iterator<Item = (&Place, Option<&Arc<K>>)> {
        self.found
            .iter()
            .filter(|(place, _)| !self.wanted.contains(*place))
            .map(|(place, cached)| (place, cached.as_ref()))
    }

    /// Deletes the object at `place` if, read live, it exists, is not being deleted and is still
    /// owned; the delete carries its UID as precondition. Whether a delete was sent.
    pub async fn delete(&self, ctx: &Context, (namespace, name): &Place) -> Result<bool, Error> {
        let api = (self.api)(self.client.clone(), namespace.as_deref());
        Ok(ctx
            .delete_if_still(&api, name, |live| (self.owns)(live))
            .await?)
    }

    /// Deletes every owned object that is not wanted ([`Self::delete`]).
    pub async fn delete_unwanted(&self, ctx: &Context) -> Result<(), Error> {
        for (place, _) in self.unwanted() {
            self.delete(ctx, place).await?;
        }
        Ok(())
    }
}

fn place<K: Resource>(obj: &K) -> Place {
    (
        obj.meta().namespace.clone(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

/// Why a prov cluster's fleet clusters are no longer wanted.
#[derive(Clone, Copy, Debug)]
pub enum Unwanted<'a> {
    /// The cluster moved: only the copy in this workspace is wanted (§C8).
    MovedTo(&'a str),
    /// The prov cluster is being removed (§C7).
    Removed,
    /// The prov cluster is a legacy copy a move left behind (§C8).
    StaleCopy,
}

impl<'a> Unwanted<'a> {
    /// The one namespace whose copy is still wanted.
    fn wanted_in(self) -> Option<&'a str> {
        match self {
            Self::MovedTo(workspace) => Some(workspace),
            Self::Removed | Self::StaleCopy => None,
        }
    }

    fn note(self, namespace: &str, name: &str) -> Notice {
        match self {
            Self::MovedTo(workspace) => Notice::normal(
                reasons::FLEET_CLUSTER_MOVED,
                actions::MOVE,
                format!("fleet cluster moved from {namespace} to {workspace}"),
            ),
            Self::Removed => Notice::normal(
                reasons::FLEET_CLUSTER_DELETED,
                actions::DELETE,
                format!("deleted fleet cluster {namespace}/{name} with its prov cluster"),
            ),
            Self::StaleCopy => Notice::normal(
                reasons::FLEET_CLUSTER_DELETED,
                actions::DELETE,
                format!(
                    "deleted fleet cluster {namespace}/{name}: its prov cluster is a copy a move \
                     left behind"
                ),
            ),
        }
    }
}

/// Deletes the fleet clusters made for `prov` that are no longer wanted: all of them, or all but
/// the one in the workspace a move went to. The watch cache says where copies are;
/// `also_look_in` adds namespaces to look in live (a copy written a moment ago may not be cached
/// yet).
pub async fn delete_unwanted_fleet_clusters(
    ctx: &Context,
    prov: &ProvCluster,
    why: Unwanted<'_>,
    also_look_in: &[String],
) -> Result<(), Error> {
    let name = prov.name_any();
    let stores = &ctx.stores;
    let same_name = stores
        .indexes
        .fleet
        .get(&stores.fleet, &FleetKey::Name(name.clone()));
    let mut fleets = Owned::namespaced(ctx.client.clone(), |f: &FleetCluster| {
        fleet_belongs_to_prov(f, prov)
    })
    .among(same_name, |f| {
        f.metadata.name.as_deref() == Some(name.as_str())
    });
    for namespace in also_look_in {
        fleets = fleets.look_at((Some(namespace.clone()), name.clone()));
    }
    if let Some(workspace) = why.wanted_in() {
        fleets = fleets.want((Some(workspace.to_string()), name.clone()));
    }
    for (place, _) in fleets.unwanted() {
        if fleets.delete(ctx, place).await? {
            let namespace = place.0.as_deref().unwrap_or_default();
            ctx.publish(prov, why.note(namespace, &name)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    fn config_map(namespace: &str, name: &str, owner: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                labels: Some([("owner".to_string(), owner.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn at(namespace: &str, name: &str) -> Place {
        (Some(namespace.into()), name.into())
    }

    #[tokio::test]
    async fn owned_objects_that_are_not_wanted_are_the_ones_to_delete() {
        let (store, mut writer) = reflector::store();
        for cm in [
            config_map("a", "x", "me"),
            config_map("b", "x", "me"),
            config_map("c", "x", "someone else"),
            config_map("d", "y", "me"),
        ] {
            writer.apply_watcher_event(&Event::Apply(cm));
        }
        let client = Client::try_from(kube::Config::new(
            "http://127.0.0.1:9".parse().expect("a URL"),
        ))
        .expect("a client");
        let owned = Owned::namespaced(client, |cm: &ConfigMap| {
            cm.labels().get("owner").is_some_and(|o| o == "me")
        })
        .in_cache(&store, |cm| cm.name_any() == "x")
        .look_at(at("e", "x"))
        .want(at("a", "x"));
        let unwanted: Vec<(&Place, bool)> = owned
            .unwanted()
            .map(|(place, cached)| (place, cached.is_some()))
            .collect();
        assert_eq!(
            unwanted,
            [(&at("b", "x"), true), (&at("e", "x"), false)],
            "not the wanted one, not someone else's, not another name; places to look at live too"
        );
    }

    #[tokio::test]
    async fn owned_candidates_from_an_index_are_taken_like_cached_ones() {
        let client = Client::try_from(kube::Config::new(
            "http://127.0.0.1:9".parse().expect("a URL"),
        ))
        .expect("a client");
        let candidates = [
            config_map("a", "x", "me"),
            config_map("b", "x", "someone else"),
            config_map("c", "y", "me"),
        ]
        .map(Arc::new);
        let owned = Owned::namespaced(client, |cm: &ConfigMap| {
            cm.labels().get("owner").is_some_and(|o| o == "me")
        })
        .among(candidates, |cm| cm.name_any() == "x");
        let unwanted: Vec<&Place> = owned.unwanted().map(|(place, _)| place).collect();
        assert_eq!(unwanted, [&at("a", "x")]);
    }
}
