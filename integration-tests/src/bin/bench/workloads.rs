//! The three workloads: what exists before drover starts, what a user does while it runs, what
//! the converged result looks like, the writes it minimally takes, and the single change whose
//! latency is measured.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use drover::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use drover::consts::{DEFAULT_WORKSPACE, annotations, conditions, finalizers, labels};
use drover::runtime::write::own_fields;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use crate::child::Writes;
use crate::objects;
use crate::observe::Progress;
use crate::run::concurrently;
use drover_integration_tests::fixtures;

/// Concurrency of the benchmark's own seeding (not measured).
const SEED_CONCURRENCY: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// N legacy mgmt clusters, connected, with kubeconfig secrets, before drover starts.
    Imported,
    /// N prov clusters created while drover runs, each with its kubeconfig secret; an agent
    /// connects each mgmt cluster as soon as it appears.
    Provisioning,
    /// M FleetWorkspaces created while drover runs, a tenth with a creator.
    Workspaces,
}

impl Workload {
    pub const ALL: [Workload; 3] = [Self::Imported, Self::Provisioning, Self::Workspaces];

    pub fn name(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Provisioning => "provisioning",
            Self::Workspaces => "workspaces",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Whether the workload's objects exist before drover starts (the clock then starts with
    /// drover) or are created while it runs (the clock starts with the first create).
    pub fn preexisting(self) -> bool {
        self == Self::Imported
    }
}

/// Legacy mgmt name number `i`: `c-` and five base-36 digits.
pub fn legacy_name(i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut v = i;
    let mut suffix = [b'0'; 5];
    for slot in suffix.iter_mut().rev() {
        *slot = DIGITS[v % 36];
        v /= 36;
    }
    format!("c-{}", String::from_utf8_lossy(&suffix))
}

/// Prov cluster number `i` of the provisioning workload.
pub fn prov_name(i: usize) -> String {
    format!("bench-{i}")
}

/// Workspace number `i`.
pub fn workspace_name(i: usize) -> String {
    format!("bench-ws-{i}")
}

/// Every tenth workspace names a creator.
pub fn has_creator(i: usize) -> bool {
    i.is_multiple_of(10)
}

/// How many of `m` workspaces name a creator.
pub fn creators(m: usize) -> usize {
    (0..m).filter(|&i| has_creator(i)).count()
}

/// Workspace number `i` as its user creates it.
pub fn workspace(i: usize) -> FleetWorkspace {
    let mut ws = FleetWorkspace::new(&workspace_name(i));
    if has_creator(i) {
        ws.metadata.annotations = Some(BTreeMap::from([(
            annotations::CREATOR_ID.to_string(),
            format!("u-bench{i}"),
        )]));
    }
    ws
}

/// Tracker of the Fleet clusters (imported, provisioning).
pub const FLEET: &str = "fleet clusters";
/// Tracker of the prov clusters' creation (provisioning): when each appeared.
pub const CREATED: &str = "prov created";

/// The fewest writes the mapping takes for `n` objects, by kind and verb, as drover's metrics
/// name them (the three cluster kinds are all `Cluster` there).
pub fn minimum_writes(workload: Workload, n: usize) -> Writes {
    let n = n as u64;
    let entries: Vec<(&str, &str, u64)> = match workload {
        // mgmt finalizer (a patch: drover does not apply a legacy mgmt cluster, and the
        // finalizer must hold it before its prov cluster exists), prov apply (the create, with
        // drover's prov finalizer riding in it), fleet cluster apply, prov status apply, Event
        // on the mgmt cluster announcing the prov cluster.
        Workload::Imported => vec![
            ("Cluster", "patch", n),
            ("Cluster", "apply", 2 * n),
            ("Cluster", "apply_status", n),
            ("Event", "create", n),
        ],
        // prov finalizer (a patch: the user's object, and it must hold before the mgmt cluster
        // exists), mgmt apply (the create, with drover's mgmt finalizer riding in it), fleet
        // cluster apply once the agent connected, Event on the prov cluster announcing the mgmt
        // cluster, and the prov status: once with the mgmt cluster created, once ready. When the
        // cluster is ready before its first status write (bookkeeping waits while others
        // surface), one status write says both; see `status_writes_may_merge`.
        Workload::Provisioning => vec![
            ("Cluster", "patch", n),
            ("Cluster", "apply", 2 * n),
            ("Cluster", "apply_status", 2 * n),
            ("Event", "create", n),
        ],
        // finalizer, namespace create (the claim) and apply, status apply; creator RBAC (created,
        // never applied over a taken name).
        Workload::Workspaces => {
            let c = creators(n as usize) as u64;
            vec![
                ("FleetWorkspace", "patch", n),
                ("Namespace", "create", n),
                ("Namespace", "apply", n),
                ("FleetWorkspace", "apply_status", n),
                ("RoleBinding", "create", c),
                ("ClusterRole", "create", c),
                ("ClusterRoleBinding", "create", c),
            ]
        }
    };
    entries
        .into_iter()
        .filter(|(_, _, count)| *count > 0)
        .map(|(k, v, count)| ((k.to_string(), v.to_string()), count))
        .collect()
}

/// Writes of `workload` whose count may fall below the minimum: the provisioning workload's prov
/// status, written once instead of twice when the agent connected before the first status write.
fn status_writes_may_merge(workload: Workload, kind: &str, verb: &str) -> bool {
    workload == Workload::Provisioning && kind == "Cluster" && verb == "apply_status"
}

/// Whether `sent` is exactly `minimum` for every kind and verb, except the status writes that may
/// merge, which may also be as few as half the minimum.
pub fn at_minimum(workload: Workload, sent: &Writes, minimum: &Writes) -> bool {
    let keys: std::collections::BTreeSet<_> = sent.keys().chain(minimum.keys()).collect();
    keys.into_iter().all(|key @ (kind, verb)| {
        let sent = sent.get(key).copied().unwrap_or(0);
        let min = minimum.get(key).copied().unwrap_or(0);
        if status_writes_may_merge(workload, kind, verb) {
            (min.div_ceil(2)..=min).contains(&sent)
        } else {
            sent == min
        }
    })
}

/// Creates what exists before drover starts: for the imported workload, N legacy mgmt clusters
/// as an importer leaves them, connected (the agent's status), with kubeconfig secrets.
pub async fn seed(workload: Workload, client: &Client, n: usize) -> Result<()> {
    if workload != Workload::Imported {
        return Ok(());
    }
    let client = client.clone();
    concurrently(0..n, SEED_CONCURRENCY, move |i| {
        let client = client.clone();
        async move {
            let name = legacy_name(i);
            let mgmt = objects::legacy_mgmt_cluster(&name, Some(DEFAULT_WORKSPACE), i);
            let mgmt: DynamicObject = serde_json::from_value(mgmt)?;
            Api::<DynamicObject>::all_with(client.clone(), &ApiResource::erase::<MgmtCluster>(&()))
                .create(&PostParams::default(), &mgmt)
                .await
                .with_context(|| format!("creating mgmt cluster {name}"))?;
            connect(&client, &name, i).await?;
            fixtures::create_kubeconfig_secret(&client, DEFAULT_WORKSPACE, &name).await
        }
    })
    .await
}

/// Plays the cluster agent and Rancher: writes the status of connected mgmt cluster `name`
/// (number `i`), with `Connected`, `Ready` and `AgentDeployed` True.
pub async fn connect(client: &Client, name: &str, i: usize) -> Result<MgmtCluster> {
    let workspace = drover::mapping::names::is_legacy_name(name).then_some(DEFAULT_WORKSPACE);
    let status = objects::agent_status(name, workspace, i);
    Api::<MgmtCluster>::all(client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("connecting mgmt cluster {name}"))
}

/// A stable number for a name the benchmark did not choose (the generated mgmt names), to pick
/// its generated contents by.
pub fn index_of(name: &str) -> usize {
    let digest = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (digest % 1_000_000) as usize
}

/// Plays fleet-controller once the Fleet clusters exist: writes on each the status it writes
/// after the agent checked in.
pub async fn fleet_controller(
    workload: Workload,
    client: &Client,
    n: usize,
    concurrency: usize,
) -> Result<()> {
    let name: fn(usize) -> String = match workload {
        Workload::Imported => legacy_name,
        Workload::Provisioning => prov_name,
        Workload::Workspaces => return Ok(()),
    };
    let api = Api::<FleetCluster>::namespaced(client.clone(), DEFAULT_WORKSPACE);
    concurrently(0..n, concurrency, move |i| {
        let api = api.clone();
        async move {
            let name = name(i);
            let status = objects::fleet_status(DEFAULT_WORKSPACE, &name, i);
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .with_context(|| format!("writing the status of Fleet cluster {name}"))?;
            Ok(())
        }
    })
    .await
}

/// The size in bytes of the object at `path` as the API server serves it, and without its
/// `managedFields`.
pub async fn served_size(client: &Client, path: &str) -> Result<(usize, usize)> {
    let request = http::Request::get(path).body(Vec::new())?;
    let text = client
        .request_text(request)
        .await
        .with_context(|| format!("reading {path}"))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)?;
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    Ok((text.len(), value.to_string().len()))
}

/// Creates object number `i` as the workload's user does while drover runs.
pub async fn user_create(workload: Workload, client: &Client, i: usize) -> Result<UserObject> {
    match workload {
        Workload::Imported => Ok(UserObject::None),
        Workload::Provisioning => {
            // The provisioner's kubeconfig secret, then the cluster.
            fixtures::create_kubeconfig_secret(client, DEFAULT_WORKSPACE, &prov_name(i)).await?;
            let prov = objects::prov_cluster(DEFAULT_WORKSPACE, &prov_name(i), i);
            let created = fixtures::create_prov(client, &prov).await?;
            Ok(UserObject::Prov(Box::new(created)))
        }
        Workload::Workspaces => {
            let ws = Api::<FleetWorkspace>::all(client.clone())
                .create(&PostParams::default(), &workspace(i))
                .await
                .with_context(|| format!("creating workspace {}", workspace_name(i)))?;
            Ok(UserObject::Workspace(Box::new(ws)))
        }
    }
}

/// What a user create returned.
pub enum UserObject {
    None,
    Prov(Box<ProvCluster>),
    Workspace(Box<FleetWorkspace>),
}

/// Runs the user's creates for `n` objects with `concurrency`.
pub async fn user(workload: Workload, client: Client, n: usize, concurrency: usize) -> Result<()> {
    concurrently(0..n, concurrency, move |i| {
        let client = client.clone();
        async move { user_create(workload, &client, i).await.map(|_| ()) }
    })
    .await
}

/// Plays the cluster agents of the provisioning workload: connects every generated mgmt cluster
/// (`c-m-…`) as soon as it appears, with `concurrency`. Runs until aborted.
pub fn agent(client: Client, concurrency: usize) -> tokio::task::JoinHandle<()> {
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    tokio::spawn(async move {
        let api = Api::<PartialObjectMeta<MgmtCluster>>::all(client.clone());
        let mut seen = std::collections::HashSet::new();
        let names = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .filter_map(move |m| {
                let name = m.ok().map(|m| m.name_any());
                let new = name
                    .filter(|n| n.starts_with("c-m-"))
                    .filter(|n| seen.insert(n.clone()));
                std::future::ready(new)
            });
        names
            .for_each_concurrent(concurrency.max(1), |name| {
                let client = client.clone();
                async move {
                    if let Err(error) = connect(&client, &name, index_of(&name)).await {
                        eprintln!("bench agent: {error:#}");
                    }
                }
            })
            .await;
    })
}

fn has_finalizer<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.meta()
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

fn condition_true(conds: Option<&Vec<drover::api::Condition>>, type_: &str) -> bool {
    conds.is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Observers of the converged result: every object in its final state.
pub fn progress(workload: Workload, client: &Client, n: usize) -> Progress {
    let all = watcher::Config::default;
    let mut p = Progress::default();
    match workload {
        Workload::Imported => {
            p.meta(
                "mgmt finalized",
                Api::<PartialObjectMeta<MgmtCluster>>::all(client.clone()),
                all(),
                n,
                |m| m.name_any().starts_with("c-") && has_finalizer(m, finalizers::MGMT_CLUSTER),
            );
            p.full(
                "prov with status",
                Api::<ProvCluster>::namespaced(client.clone(), DEFAULT_WORKSPACE),
                all(),
                n,
                |p: &ProvCluster| {
                    let status = p.status.as_ref();
                    p.name_any().starts_with("c-")
                        && has_finalizer(p, finalizers::PROV_CLUSTER)
                        && status.and_then(|s| s.ready) == Some(true)
                        && status.and_then(|s| s.client_secret_name.as_ref()).is_some()
                },
            );
            p.meta(
                FLEET,
                Api::<PartialObjectMeta<FleetCluster>>::namespaced(
                    client.clone(),
                    DEFAULT_WORKSPACE,
                ),
                all(),
                n,
                |f| f.name_any().starts_with("c-"),
            );
        }
        Workload::Provisioning => {
            p.full(
                "prov with status",
                Api::<ProvCluster>::namespaced(client.clone(), DEFAULT_WORKSPACE),
                all(),
                n,
                |p: &ProvCluster| {
                    let status = p.status.as_ref();
                    p.name_any().starts_with("bench-")
                        && has_finalizer(p, finalizers::PROV_CLUSTER)
                        && p.cluster_name().is_some()
                        && condition_true(
                            status.and_then(|s| s.conditions.as_ref()),
                            conditions::CREATED,
                        )
                        && status.and_then(|s| s.ready) == Some(true)
                        && status.and_then(|s| s.client_secret_name.as_ref()).is_some()
                },
            );
            p.meta(
                CREATED,
                Api::<PartialObjectMeta<ProvCluster>>::namespaced(
                    client.clone(),
                    DEFAULT_WORKSPACE,
                ),
                all(),
                n,
                |p| p.name_any().starts_with("bench-"),
            );
            p.meta(
                FLEET,
                Api::<PartialObjectMeta<FleetCluster>>::namespaced(
                    client.clone(),
                    DEFAULT_WORKSPACE,
                ),
                all(),
                n,
                |f| f.name_any().starts_with("bench-"),
            );
            p.meta(
                "mgmt finalized",
                Api::<PartialObjectMeta<MgmtCluster>>::all(client.clone()),
                all(),
                n,
                |m| m.name_any().starts_with("c-m-") && has_finalizer(m, finalizers::MGMT_CLUSTER),
            );
        }
        Workload::Workspaces => {
            p.full(
                "workspaces ready",
                Api::<FleetWorkspace>::all(client.clone()),
                all(),
                n,
                |ws: &FleetWorkspace| {
                    ws.name_any().starts_with("bench-ws-")
                        && has_finalizer(ws, finalizers::WORKSPACE)
                        && condition_true(
                            ws.status.as_ref().and_then(|s| s.conditions.as_ref()),
                            conditions::NAMESPACE_READY,
                        )
                },
            );
            p.meta(
                "namespaces applied",
                Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
                all(),
                n,
                |ns| {
                    ns.name_any().starts_with("bench-ws-")
                        && own_fields(ns.metadata.managed_fields.as_deref(), None).is_some()
                },
            );
            let c = creators(n);
            let owned = || watcher::Config::default().labels(labels::WORKSPACE);
            p.meta(
                "role bindings",
                Api::<PartialObjectMeta<RoleBinding>>::all(client.clone()),
                owned(),
                c,
                |_| true,
            );
            p.meta(
                "cluster roles",
                Api::<PartialObjectMeta<ClusterRole>>::all(client.clone()),
                owned(),
                c,
                |_| true,
            );
            p.meta(
                "cluster role bindings",
                Api::<PartialObjectMeta<ClusterRoleBinding>>::all(client.clone()),
                owned(),
                c,
                |_| true,
            );
        }
    }
    p
}

/// How long convergence may take for `n` objects before the bench gives up.
pub fn convergence_timeout(n: usize) -> Duration {
    Duration::from_secs(300) + Duration::from_millis(100) * u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_are_legacy_and_distinct() {
        assert_eq!(legacy_name(0), "c-00000");
        assert_eq!(legacy_name(37), "c-00011");
        assert!(drover::mapping::names::is_legacy_name(&legacy_name(12345)));
        assert_ne!(legacy_name(35), legacy_name(36));
    }

    #[test]
    fn a_tenth_of_the_workspaces_name_a_creator() {
        assert_eq!(creators(10), 1);
        assert_eq!(creators(1000), 100);
        let min = minimum_writes(Workload::Workspaces, 10);
        assert_eq!(min.get(&("ClusterRole".into(), "create".into())), Some(&1));
    }

    #[test]
    fn only_the_provisioning_status_writes_may_fall_below_the_minimum() {
        let min = minimum_writes(Workload::Provisioning, 10);
        assert!(at_minimum(Workload::Provisioning, &min, &min));
        let mut merged = min.clone();
        merged.insert(("Cluster".into(), "apply_status".into()), 12);
        assert!(at_minimum(Workload::Provisioning, &merged, &min));
        merged.insert(("Cluster".into(), "apply_status".into()), 21);
        assert!(!at_minimum(Workload::Provisioning, &merged, &min));
        let mut fewer = min.clone();
        fewer.insert(("Event".into(), "create".into()), 9);
        assert!(!at_minimum(Workload::Provisioning, &fewer, &min));
        let mut more = minimum_writes(Workload::Imported, 10);
        assert!(at_minimum(
            Workload::Imported,
            &more,
            &minimum_writes(Workload::Imported, 10)
        ));
        more.insert(("Cluster".into(), "apply_status".into()), 5);
        assert!(!at_minimum(
            Workload::Imported,
            &more,
            &minimum_writes(Workload::Imported, 10)
        ));
    }
}
