//! The shared watches: one per kind, started once, read by every controller.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client};

use crate::api::{ClusterGroup, FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use crate::config::Config;
use crate::consts::{LOCAL_WORKSPACE, labels};
use crate::runtime::context::Stores;
use crate::runtime::metrics::Metrics;
use crate::runtime::server::resource_name;
use crate::runtime::stores::{Hub, keep_own_managed_fields};
use crate::runtime::undecodable::{Undecodable, decoded};
use crate::runtime::visible::Seen;
use crate::runtime::watch_health::WatchHealth;

pub struct Hubs {
    pub prov: Hub<ProvCluster>,
    pub mgmt: Hub<MgmtCluster>,
    pub fleet: Hub<FleetCluster>,
    pub cluster_groups: Hub<ClusterGroup>,
    pub workspaces: Hub<FleetWorkspace>,
    pub namespaces: Hub<PartialObjectMeta<Namespace>>,
    pub secrets: Option<Hub<PartialObjectMeta<Secret>>>,
    pub nodes: Hub<Node>,
    pub role_bindings: Hub<RoleBinding>,
    pub cluster_roles: Hub<ClusterRole>,
    pub cluster_role_bindings: Hub<ClusterRoleBinding>,
    /// Metadata of CustomResourceDefinitions: whether the CRD of a kind drover removes
    /// counterparts for is being deleted (§I7).
    pub crds: Hub<PartialObjectMeta<CustomResourceDefinition>>,
    /// Objects the watches skip because they do not fit drover's types.
    pub undecodable: Undecodable,
    /// Which watches keep failing.
    pub watch_health: WatchHealth,
}

/// Suffix of the kubeconfig secrets drover observes (§C5); other secrets never enter the cache.
pub const KUBECONFIG_SECRET_SUFFIX: &str = "-kubeconfig";

impl Hubs {
    pub fn new(config: &Config) -> Self {
        Self {
            prov: Hub::new(),
            mgmt: Hub::new(),
            fleet: Hub::new(),
            cluster_groups: Hub::new(),
            workspaces: Hub::new(),
            namespaces: Hub::new(),
            secrets: config.observe_kubeconfig_secrets.then(Hub::new),
            nodes: Hub::new(),
            role_bindings: Hub::new(),
            cluster_roles: Hub::new(),
            cluster_role_bindings: Hub::new(),
            crds: Hub::new(),
            undecodable: Undecodable::default(),
            watch_health: WatchHealth::default(),
        }
    }

    pub fn stores(&self) -> Stores {
        Stores {
            prov: self.prov.store(),
            mgmt: self.mgmt.store(),
            fleet: self.fleet.store(),
            cluster_groups: self.cluster_groups.store(),
            workspaces: self.workspaces.store(),
            namespaces: self.namespaces.store(),
            secrets: self.secrets.as_ref().map(Hub::store),
            nodes: self.nodes.store(),
            role_bindings: self.role_bindings.store(),
            cluster_roles: self.cluster_roles.store(),
            cluster_role_bindings: self.cluster_role_bindings.store(),
            crds: self.crds.store(),
            seen: self.seen(),
            undecodable: self.undecodable.clone(),
            watch_health: self.watch_health.clone(),
        }
    }

    /// How far each watch has come, by resource. Secrets are never written, so not here.
    fn seen(&self) -> Seen {
        fn entry<K>(hub: &Hub<K>) -> (String, tokio::sync::watch::Receiver<u64>)
        where
            K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
        {
            (resource_name::<K>(), hub.seen())
        }
        Seen::new(HashMap::from([
            entry(&self.prov),
            entry(&self.mgmt),
            entry(&self.fleet),
            entry(&self.cluster_groups),
            entry(&self.workspaces),
            entry(&self.namespaces),
            entry(&self.nodes),
            entry(&self.role_bindings),
            entry(&self.cluster_roles),
            entry(&self.cluster_role_bindings),
        ]))
    }

    /// Starts every watch; returns their tasks. Rancher's and Fleet's kinds are watched as plain
    /// JSON and decoded one object at a time ([`decoded`]); the rest are Kubernetes' own types,
    /// which the API server validates.
    pub fn run(
        &mut self,
        client: &Client,
        metrics: &Arc<Metrics>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let all = watcher::Config::default;
        let owned_rbac = || watcher::Config::default().labels(labels::WORKSPACE);
        let health = || self.watch_health.clone();
        let undecodable = &self.undecodable;
        let prov = decoded_watch(
            dynamic_all::<ProvCluster>(client),
            self.prov.store(),
            undecodable,
            metrics,
            true,
        );
        let mgmt = decoded_watch(
            dynamic_all::<MgmtCluster>(client),
            self.mgmt.store(),
            undecodable,
            metrics,
            false,
        );
        let fleet = decoded_watch(
            dynamic_all::<FleetCluster>(client),
            self.fleet.store(),
            undecodable,
            metrics,
            false,
        );
        // Only the local cluster's ClusterGroup is drover's.
        let cluster_groups = decoded_watch(
            Api::namespaced_with(
                client.clone(),
                LOCAL_WORKSPACE,
                &ApiResource::erase::<ClusterGroup>(&()),
            ),
            self.cluster_groups.store(),
            undecodable,
            metrics,
            false,
        );
        let workspaces = decoded_watch(
            dynamic_all::<FleetWorkspace>(client),
            self.workspaces.store(),
            undecodable,
            metrics,
            false,
        );
        let mut tasks = vec![
            self.prov.run(prov, metrics.clone(), health()),
            self.mgmt.run(mgmt, metrics.clone(), health()),
            self.fleet.run(fleet, metrics.clone(), health()),
            self.cluster_groups
                .run(cluster_groups, metrics.clone(), health()),
            self.workspaces.run(workspaces, metrics.clone(), health()),
            self.namespaces.run(
                watcher(
                    Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
                    all(),
                )
                .default_backoff()
                .modify(keep_own_managed_fields),
                metrics.clone(),
                health(),
            ),
            self.nodes.run(
                watcher(
                    Api::<Node>::all(client.clone()),
                    // Both control-plane labels matter (one is the fallback of the other), and
                    // nodes are few: watch them all, without their status.
                    all(),
                )
                .default_backoff()
                .modify(|node: &mut Node| {
                    keep_own_managed_fields(node);
                    node.status = None;
                }),
                metrics.clone(),
                health(),
            ),
            self.role_bindings.run(
                watch(Api::all(client.clone()), owned_rbac()),
                metrics.clone(),
                health(),
            ),
            self.cluster_roles.run(
                watch(Api::all(client.clone()), owned_rbac()),
                metrics.clone(),
                health(),
            ),
            self.cluster_role_bindings.run(
                watch(Api::all(client.clone()), owned_rbac()),
                metrics.clone(),
                health(),
            ),
            self.crds.run(
                watcher(
                    Api::<PartialObjectMeta<CustomResourceDefinition>>::all(client.clone()),
                    all(),
                )
                .default_backoff()
                .modify(|crd: &mut PartialObjectMeta<CustomResourceDefinition>| {
                    // Only the name and whether it is being deleted matter.
                    crd.metadata.labels = None;
                    crd.metadata.annotations = None;
                    crd.metadata.managed_fields = None;
                }),
                metrics.clone(),
                health(),
            ),
        ];
        if let Some(secrets) = self.secrets.as_mut() {
            tasks.push(
                secrets.run(
                    watcher(Api::<PartialObjectMeta<Secret>>::all(client.clone()), all())
                        .default_backoff()
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
                        .modify(|s: &mut PartialObjectMeta<Secret>| {
                            // Only existence matters: keep name and namespace.
                            s.metadata.labels = None;
                            s.metadata.annotations = None;
                            s.metadata.managed_fields = None;
                        }),
                    metrics.clone(),
                    health(),
                ),
            );
        }
        tasks
    }

    /// Resolves when every cache has finished its first list.
    pub async fn wait_until_ready(
        &self,
    ) -> Result<(), kube::runtime::reflector::store::WriterDropped> {
        self.prov.store().wait_until_ready().await?;
        self.mgmt.store().wait_until_ready().await?;
        self.fleet.store().wait_until_ready().await?;
        self.cluster_groups.store().wait_until_ready().await?;
        self.workspaces.store().wait_until_ready().await?;
        self.namespaces.store().wait_until_ready().await?;
        if let Some(secrets) = &self.secrets {
            secrets.store().wait_until_ready().await?;
        }
        self.nodes.store().wait_until_ready().await?;
        self.role_bindings.store().wait_until_ready().await?;
        self.cluster_roles.store().wait_until_ready().await?;
        self.cluster_role_bindings
            .store()
            .wait_until_ready()
            .await?;
        self.crds.store().wait_until_ready().await?;
        Ok(())
    }
}

/// The watch of `api`, decoded into `K` one object at a time; `status` says whether drover
/// writes this kind's status (then a skipped object also gets a condition).
fn decoded_watch<K>(
    api: Api<DynamicObject>,
    store: kube::runtime::reflector::Store<K>,
    undecodable: &Undecodable,
    metrics: &Arc<Metrics>,
    status: bool,
) -> impl futures::Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    decoded(
        watcher(api, watcher::Config::default()).default_backoff(),
        store,
        undecodable.clone(),
        metrics.clone(),
        status,
    )
}

/// A cluster-wide watchable API of `K`'s resource that answers plain JSON.
fn dynamic_all<K: kube::Resource<DynamicType = ()>>(client: &Client) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &ApiResource::erase::<K>(&()))
}

fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config)
        .default_backoff()
        .modify(keep_own_managed_fields)
}
