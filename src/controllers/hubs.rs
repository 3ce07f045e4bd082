//! The shared watches: one per kind, started once, read by every controller.

use std::collections::HashMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client};

use crate::api::{ClusterGroup, FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use crate::config::Config;
use crate::consts::{LOCAL_WORKSPACE, labels};
use crate::runtime::context::Stores;
use crate::runtime::server::resource_name;
use crate::runtime::stores::{Hub, keep_own_managed_fields};
use crate::runtime::visible::Seen;

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
            seen: self.seen(),
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

    /// Starts every watch; returns their tasks.
    pub fn run(&mut self, client: &Client, _config: &Config) -> Vec<tokio::task::JoinHandle<()>> {
        let all = watcher::Config::default;
        let owned_rbac = || watcher::Config::default().labels(labels::WORKSPACE);
        let mut tasks = vec![
            self.prov.run(watch(Api::all(client.clone()), all())),
            self.mgmt.run(watch(Api::all(client.clone()), all())),
            self.fleet.run(watch(Api::all(client.clone()), all())),
            // Only the local cluster's ClusterGroup is drover's.
            self.cluster_groups.run(watch(
                Api::namespaced(client.clone(), LOCAL_WORKSPACE),
                all(),
            )),
            self.workspaces.run(watch(Api::all(client.clone()), all())),
            self.namespaces.run(
                watcher(
                    Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
                    all(),
                )
                .default_backoff()
                .modify(keep_own_managed_fields),
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
            ),
            self.role_bindings
                .run(watch(Api::all(client.clone()), owned_rbac())),
            self.cluster_roles
                .run(watch(Api::all(client.clone()), owned_rbac())),
            self.cluster_role_bindings
                .run(watch(Api::all(client.clone()), owned_rbac())),
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
        Ok(())
    }
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
