//! The watches: one per kind, started once, shared by every controller. Each kind drover looks
//! at is named once, in the table below; from it come the caches controllers read
//! ([`Stores`]), the subscriptions that trigger them ([`Watches`]), the versions that tell a
//! reconcile its writes are cached, readiness and the `cached_objects` gauge.

mod hub;
mod index;
mod indexes;
mod sources;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::WriterDropped;
use kube::{Client, Resource};

pub use hub::{Hub, keep_own_managed_fields};
pub use index::Index;
pub use indexes::{FleetKey, Indexes, ProvKey};

use crate::api::{ClusterGroup, FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use crate::config::Config;
use crate::consts::LOCAL_WORKSPACE;
use crate::runtime::metrics::Metrics;
use crate::runtime::undecodable::Undecodable;
use crate::runtime::visible::Seen;
use crate::runtime::watch_health::WatchHealth;
use sources::{Sources, everything, owned_rbac};

/// Suffix of the kubeconfig secrets drover observes (§C5); other secrets never enter the cache.
pub const KUBECONFIG_SECRET_SUFFIX: &str = "-kubeconfig";

/// `<plural>.<group>` (`clusters.fleet.cattle.io`): three of the kinds are called `Cluster`. The
/// name of a watch in metrics, logs and readiness.
pub fn resource_name<K: Resource<DynamicType = ()>>() -> String {
    let plural = K::plural(&());
    let group = K::group(&());
    if group.is_empty() {
        plural.into_owned()
    } else {
        format!("{plural}.{group}")
    }
}

/// Builds [`Stores`] and [`Watches`] from the table of kinds: `field: Kind => source(args);`,
/// where `source` is a [`Sources`] method, and `[if flag]` makes the watch depend on a
/// [`Config`] flag (the field is then an `Option`).
macro_rules! watched_kinds {
    (@opt [] $t:ty) => { $t };
    (@opt [$flag:ident] $t:ty) => { Option<$t> };
    (@new [] $config:ident) => { Hub::new() };
    (@new [$flag:ident] $config:ident) => { $config.$flag.then(Hub::new) };
    (@store [] $hub:expr) => { $hub.store() };
    (@store [$flag:ident] $hub:expr) => { $hub.as_ref().map(Hub::store) };
    (@some [] $x:expr) => { Some(&$x) };
    (@some [$flag:ident] $x:expr) => { $x.as_ref() };
    (@some_mut [] $x:expr) => { Some(&mut $x) };
    (@some_mut [$flag:ident] $x:expr) => { $x.as_mut() };
    ($(
        $(#[$doc:meta])*
        $field:ident: $kind:ty $([if $flag:ident])? => $source:ident($($arg:expr),*);
    )*) => {
        /// Read-only caches of every kind drover looks at. Not ready until
        /// [`Watches::wait_until_ready`].
        #[derive(Clone)]
        pub struct Stores {
            $(
                $(#[$doc])*
                pub $field: watched_kinds!(@opt [$($flag)?] Store<$kind>),
            )*
            /// How far each watch has come, so that a reconcile ends once its writes are cached.
            pub seen: Seen,
            /// Objects the watches skip because they do not fit drover's types.
            pub undecodable: Undecodable,
            /// Which watches keep failing, for readiness.
            pub watch_health: WatchHealth,
            /// The relations between cached objects, so that reconciles look up instead of
            /// scanning a cache.
            pub indexes: Indexes,
        }

        /// The watches themselves: controllers subscribe to the kinds that trigger them
        /// (`watches.prov.subscribe()`) before [`Watches::run`] starts them.
        pub struct Watches {
            $(
                $(#[$doc])*
                pub $field: watched_kinds!(@opt [$($flag)?] Hub<$kind>),
            )*
            undecodable: Undecodable,
            watch_health: WatchHealth,
            indexes: Indexes,
            /// `None` until [`Watches::choose_listing`] asked the API server.
            streaming_lists: Option<bool>,
        }

        impl Watches {
            pub fn new(config: &Config) -> Self {
                let mut watches = Self {
                    $($field: watched_kinds!(@new [$($flag)?] config),)*
                    undecodable: Undecodable::default(),
                    watch_health: WatchHealth::default(),
                    indexes: Indexes::default(),
                    streaming_lists: config.streaming_lists,
                };
                watches.follow_with_indexes();
                watches
            }

            /// The caches, for the reconcilers' [`Context`](crate::runtime::Context).
            pub fn stores(&self) -> Stores {
                let mut seen = HashMap::new();
                $(
                    if let Some(hub) = watched_kinds!(@some [$($flag)?] self.$field) {
                        seen.insert(resource_name::<$kind>(), hub.seen());
                    }
                )*
                Stores {
                    $($field: watched_kinds!(@store [$($flag)?] self.$field),)*
                    seen: Seen::new(seen),
                    undecodable: self.undecodable.clone(),
                    watch_health: self.watch_health.clone(),
                    indexes: self.indexes.clone(),
                }
            }

            /// The futures that drive the watches, named by resource, to be spawned once, after
            /// the subscriptions.
            pub fn run(
                &mut self,
                client: &Client,
                metrics: &Arc<Metrics>,
            ) -> Vec<(String, BoxFuture<'static, ()>)> {
                let sources = Sources {
                    client,
                    undecodable: &self.undecodable,
                    metrics,
                    streaming_lists: self.streaming_lists.unwrap_or(false),
                };
                let mut tasks = Vec::new();
                $(
                    if let Some(hub) = watched_kinds!(@some_mut [$($flag)?] self.$field) {
                        let events = sources.$source(hub.store() $(, $arg)*);
                        let task = hub.run(events, metrics.clone(), self.watch_health.clone());
                        tasks.push((resource_name::<$kind>(), task));
                    }
                )*
                tasks
            }

            /// Resolves when every cache has finished its first list.
            pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
                $(
                    if let Some(hub) = watched_kinds!(@some [$($flag)?] self.$field) {
                        hub.store().wait_until_ready().await?;
                    }
                )*
                Ok(())
            }
        }

        impl Stores {
            /// How many objects each cache holds, by resource.
            pub fn sizes(&self) -> Vec<(String, usize)> {
                let mut sizes = Vec::new();
                $(
                    if let Some(store) = watched_kinds!(@some [$($flag)?] self.$field) {
                        sizes.push((resource_name::<$kind>(), store.len()));
                    }
                )*
                sizes
            }
        }
    };
}

// Rancher's and Fleet's kinds are watched as plain JSON and decoded one object at a time, so
// that one object that does not fit drover's types cannot stop a watch; the rest are
// Kubernetes' own types, which the API server validates.
watched_kinds! {
    /// Provisioning clusters; drover writes their status.
    prov: ProvCluster => decoded(true);
    /// Of the status, only the conditions drover reads.
    mgmt: MgmtCluster => decoded_lean(false, MgmtCluster::keep_read_conditions);
    /// Without the conditions fleet-controller writes, which drover does not read.
    fleet: FleetCluster => decoded_lean(false, FleetCluster::keep_read_conditions);
    /// Only the local cluster's ClusterGroup is drover's.
    cluster_groups: ClusterGroup => decoded_in(LOCAL_WORKSPACE);
    workspaces: FleetWorkspace => decoded(false);
    /// Metadata only.
    namespaces: PartialObjectMeta<Namespace> => typed(everything());
    /// Metadata of kubeconfig secrets only; absent when kubeconfig observation is off (no
    /// secret access at all).
    secrets: PartialObjectMeta<Secret> [if observe_kubeconfig_secrets] => kubeconfig_secrets();
    /// Nodes without their status: control-plane taints feed the local cluster's fleet-agent
    /// tolerations.
    nodes: Node => nodes();
    /// RBAC that drover maintains for workspace creators (label `drover.cattle.io/workspace`).
    role_bindings: RoleBinding => typed(owned_rbac());
    cluster_roles: ClusterRole => typed(owned_rbac());
    cluster_role_bindings: ClusterRoleBinding => typed(owned_rbac());
    /// CRD metadata: whether the CRD of a kind drover removes counterparts for is being deleted
    /// (§I7).
    crds: PartialObjectMeta<CustomResourceDefinition> => crds();
}

impl Watches {
    /// Decides how the caches are filled, unless the configuration did: streaming lists when the
    /// API server accepts one, list requests otherwise. Returns whether they stream.
    pub async fn choose_listing(&mut self, client: &Client) -> bool {
        let streaming = match self.streaming_lists {
            Some(chosen) => chosen,
            None => sources::streaming_lists_accepted(client).await,
        };
        self.streaming_lists = Some(streaming);
        streaming
    }

    /// Each index follows the watch of its kind, right after the cache.
    fn follow_with_indexes(&mut self) {
        let prov = self.indexes.prov.clone();
        self.prov.follow(move |event| prov.apply(event));
        let fleet = self.indexes.fleet.clone();
        self.fleet.follow(move |event| fleet.apply(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_kinds_are_named_by_resource_and_group() {
        assert_eq!(resource_name::<FleetCluster>(), "clusters.fleet.cattle.io");
        assert_eq!(
            resource_name::<MgmtCluster>(),
            "clusters.management.cattle.io"
        );
        assert_eq!(
            resource_name::<PartialObjectMeta<Namespace>>(),
            "namespaces"
        );
    }

    #[test]
    fn every_kind_has_a_cache_and_secrets_only_when_observed() {
        let observed = Watches::new(&Config::default()).stores().sizes();
        assert_eq!(observed.len(), 12, "{observed:?}");
        assert!(observed.iter().any(|(r, _)| r == "secrets"));
        let config = Config {
            observe_kubeconfig_secrets: false,
            ..Config::default()
        };
        let blind = Watches::new(&config).stores().sizes();
        assert_eq!(blind.len(), 11, "{blind:?}");
        assert!(blind.iter().all(|(r, _)| r != "secrets"));
    }
}
