//! How each kind is watched: what is asked of the API server and what is kept of each object.

use std::sync::Arc;

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::utils::ResetTimerBackoff;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::consts::labels;
use crate::runtime::metrics::Metrics;
use crate::runtime::undecodable::{Undecodable, decoded};

use super::KUBECONFIG_SECRET_SUFFIX;
use super::hub::keep_own_managed_fields;

/// The event streams of the watches. Each builder takes the cache the stream feeds, which names
/// the kind (and which a decoded stream consults when an object stops fitting).
pub(super) struct Sources<'a> {
    pub client: &'a Client,
    pub undecodable: &'a Undecodable,
    pub metrics: &'a Arc<Metrics>,
    /// Whether a cache is filled by a streaming list (`sendInitialEvents`): the API server
    /// sends the objects one by one from its watch cache, where a list request makes it build
    /// the whole list as one response first.
    pub streaming_lists: bool,
}

/// The label of the probe's watch: no namespace carries it, so the probe's initial list is empty.
const PROBE_LABEL: &str = "drover.cattle.io/streaming-lists-probe";

/// The annotation of the bookmark that ends a streaming list's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// How long the probe waits for the API server's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the API server serves streaming lists: a watch of namespaces with
/// `sendInitialEvents` and a label selector no namespace matches must end its empty initial list
/// with the bookmark that marks the end of the initial events. An API server without the
/// `WatchList` feature refuses the watch (or, before Kubernetes 1.27, ignores the parameter
/// and sends no such bookmark); either way, or on any error or no answer in time, the caches
/// are filled with list requests.
pub(super) async fn streaming_lists_accepted(client: &Client) -> bool {
    let api: Api<Namespace> = Api::all(client.clone());
    let params = WatchParams::streaming_lists()
        .labels(PROBE_LABEL)
        .timeout(PROBE_TIMEOUT.as_secs() as u32);
    let probe = async {
        let events = api.watch(&params, "").await.ok()?;
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event.ok()? {
                WatchEvent::Bookmark(b) => {
                    return Some(b.metadata.annotations.contains_key(INITIAL_EVENTS_END));
                }
                WatchEvent::Error(_) => return Some(false),
                _ => {}
            }
        }
        Some(false)
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Every object of a kind.
pub(super) fn everything() -> watcher::Config {
    watcher::Config::default()
}

/// The RBAC drover maintains for workspace creators, which it labels.
pub(super) fn owned_rbac() -> watcher::Config {
    watcher::Config::default().labels(labels::WORKSPACE)
}

type Events<K> = watcher::Result<watcher::Event<K>>;

impl Sources<'_> {
    /// `config` with the way caches are filled.
    fn listing(&self, config: watcher::Config) -> watcher::Config {
        if self.streaming_lists {
            config.streaming_lists()
        } else {
            config
        }
    }

    /// A Rancher or Fleet kind, cluster-wide, watched as plain JSON and decoded one object at a
    /// time ([`decoded`]); `status` says whether drover writes this kind's status (then a skipped
    /// object also gets a condition).
    pub fn decoded<K>(
        &self,
        store: Store<K>,
        status: bool,
    ) -> impl Stream<Item = Events<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let api = Api::all_with(self.client.clone(), &ApiResource::erase::<K>(&()));
        self.decode(api, store, status)
    }

    /// As [`Self::decoded`], and `lean` trims each object before the cache takes it (the parts
    /// of its status drover does not read).
    pub fn decoded_lean<K>(
        &self,
        store: Store<K>,
        status: bool,
        lean: fn(&mut K),
    ) -> impl Stream<Item = Events<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.decoded(store, status).modify(lean)
    }

    /// As [`Self::decoded`], in one namespace.
    pub fn decoded_in<K>(
        &self,
        store: Store<K>,
        namespace: &str,
    ) -> impl Stream<Item = Events<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let api = Api::namespaced_with(
            self.client.clone(),
            namespace,
            &ApiResource::erase::<K>(&()),
        );
        self.decode(api, store, false)
    }

    fn decode<K>(
        &self,
        api: Api<DynamicObject>,
        store: Store<K>,
        status: bool,
    ) -> impl Stream<Item = Events<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        decoded(
            watcher(api, self.listing(everything())).backoff(watch_backoff()),
            store,
            self.undecodable.clone(),
            self.metrics.clone(),
            status,
        )
    }

    /// One of Kubernetes' own kinds (the API server validates them), cluster-wide.
    pub fn typed<K>(
        &self,
        _store: Store<K>,
        config: watcher::Config,
    ) -> impl Stream<Item = Events<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug
            + Send
            + Sync
            + 'static,
    {
        watcher(Api::all(self.client.clone()), self.listing(config))
            .backoff(watch_backoff())
            .modify(keep_own_managed_fields)
    }

    /// Nodes without their status. Both control-plane labels matter (one is the fallback of the
    /// other), and nodes are few: all of them.
    pub fn nodes(&self, store: Store<Node>) -> impl Stream<Item = Events<Node>> + Send + 'static {
        self.typed(store, everything())
            .modify(|node| node.status = None)
    }

    /// CRD metadata: only the name and whether it is being deleted matter.
    pub fn crds(
        &self,
        store: Store<PartialObjectMeta<CustomResourceDefinition>>,
    ) -> impl Stream<Item = Events<PartialObjectMeta<CustomResourceDefinition>>> + Send + 'static
    {
        self.typed(store, everything()).modify(strip_metadata)
    }

    /// The existence of kubeconfig secrets (§C5): other secrets never enter the cache, and of
    /// these only the name and namespace are kept.
    pub fn kubeconfig_secrets(
        &self,
        store: Store<PartialObjectMeta<Secret>>,
    ) -> impl Stream<Item = Events<PartialObjectMeta<Secret>>> + Send + 'static {
        self.typed(store, everything())
            .filter(|event| {
                let keep = match event {
                    Ok(
                        watcher::Event::Apply(s)
                        | watcher::Event::Delete(s)
                        | watcher::Event::InitApply(s),
                    ) => s
                        .metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.ends_with(KUBECONFIG_SECRET_SUFFIX)),
                    _ => true,
                };
                std::future::ready(keep)
            })
            .modify(strip_metadata)
    }
}

/// Waits between a failed watch request and the next: from 0.8 s, doubling with jitter, to at
/// most 5 s, reset after 2 minutes without failure. kube's default grows to 30 s: after a
/// permission was refused for a while, the first retry once it is back came up to 45 s late,
/// was answered 410 (its resource version too old for a restarted API server), and that cost
/// a second full wait before the list, so clusters created meanwhile waited a minute or more.
/// A watch retried every 5 s costs the API server one refused request per kind.
fn watch_backoff() -> ResetTimerBackoff<watcher::ExponentialBackoff> {
    let exponential = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(800))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(exponential.into(), Duration::from_secs(120))
}

fn strip_metadata<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.labels = None;
    meta.annotations = None;
    meta.managed_fields = None;
}
