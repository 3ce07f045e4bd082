//! The write floor: a minimal client that sends exactly the writes the mapping requires for a
//! workload (same requests, same bodies from drover's own mapping functions, same field manager),
//! in the same stages as drover's controllers with the same concurrency per stage, with no
//! watches, no caches and no reads. What is left is the API server's own cost. drover's own
//! finalizers ride in the applies of the objects drover creates, as in drover; the provisioning
//! workload's agent connects each mgmt cluster in a stage of its own (in drover's run it watches).

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use drover::api::{FleetWorkspace, FleetWorkspaceStatus, MgmtCluster, ProvCluster};
use drover::consts::{DEFAULT_WORKSPACE, FIELD_MANAGER, finalizers, labels};
use drover::mapping::cluster::{desired_legacy_prov_cluster, desired_mgmt_cluster, mgmt_name_for};
use drover::mapping::fleet::{FleetSettings, desired_fleet_cluster};
use drover::mapping::rbac::desired_rbac;
use drover::mapping::status::{Observed, desired_prov_status, merge_conditions};
use drover::mapping::workspace::{
    CreatorGrant, Situation, creator, desired_namespace, namespace_claim, wanted_conditions,
    wanted_rbac_condition,
};
use futures::{Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::workloads::{UserObject, Workload, index_of, user_create};

/// What the floor needs to know beforehand: the seeded mgmt clusters (listed before the clock
/// starts: the floor does no reads).
pub enum Input {
    Seeded(Vec<MgmtCluster>),
    Count(usize),
}

/// Reads what the floor's writes depend on (not timed).
pub async fn prepare(workload: Workload, client: &Client, n: usize) -> Result<Input> {
    if workload != Workload::Imported {
        return Ok(Input::Count(n));
    }
    let mut mgmts: Vec<MgmtCluster> = Api::<MgmtCluster>::all(client.clone())
        .list(&ListParams::default())
        .await
        .context("listing the seeded mgmt clusters")?
        .items
        .into_iter()
        .filter(|m| m.name_any().starts_with("c-"))
        .collect();
    mgmts.sort_by_key(|m| m.name_any());
    Ok(Input::Seeded(mgmts))
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The minimal client's state, shared by its stages.
struct Floor {
    client: Client,
    recorder: Recorder,
}

impl Floor {
    fn provs(&self) -> Api<ProvCluster> {
        Api::namespaced(self.client.clone(), DEFAULT_WORKSPACE)
    }

    async fn apply<K>(&self, api: &Api<K>, desired: &K, status: bool) -> Result<K>
    where
        K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = desired.name_any();
        let result = if status {
            api.patch_status(&name, &params, &Patch::Apply(desired))
                .await
        } else {
            api.patch(&name, &params, &Patch::Apply(desired)).await
        };
        result.with_context(|| format!("applying {} {name}", K::kind(&())))
    }

    async fn create<K>(&self, api: &Api<K>, desired: &K) -> Result<K>
    where
        K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    {
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        api.create(&params, desired)
            .await
            .with_context(|| format!("creating {} {}", K::kind(&()), desired.name_any()))
    }

    /// drover's finalizer patch: a JSON patch that tests the current state first.
    async fn add_finalizer<K>(&self, api: &Api<K>, obj: &K, finalizer: &str) -> Result<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let patch = match &obj.meta().finalizers {
            None => serde_json::json!([
                {"op": "test", "path": "/metadata/uid", "value": obj.meta().uid},
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
            ]),
            Some(current) => serde_json::json!([
                {"op": "test", "path": "/metadata/finalizers", "value": current},
                {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
            ]),
        };
        let patch: json_patch::Patch = serde_json::from_value(patch)?;
        api.patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
        .with_context(|| format!("adding a finalizer to {}", obj.name_any()))
    }

    async fn event<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: String) {
        let event = Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(message),
            action: "Create".into(),
            secondary: None,
        };
        let _ = self.recorder.publish(&event, &obj.object_ref(&())).await;
    }

    /// Imported, mgmt controller stage: finalizer, legacy prov cluster (with drover's prov
    /// finalizer in the apply), Event.
    async fn legacy_mgmt(&self, mgmt: MgmtCluster) -> Result<(ProvCluster, MgmtCluster)> {
        let mgmts = Api::<MgmtCluster>::all(self.client.clone());
        self.add_finalizer(&mgmts, &mgmt, finalizers::MGMT_CLUSTER)
            .await?;
        let desired = desired_legacy_prov_cluster(&mgmt, DEFAULT_WORKSPACE, None);
        let provs = self.provs();
        let prov = self.apply(&provs, &desired, false).await?;
        let message = format!(
            "created prov cluster {DEFAULT_WORKSPACE}/{}",
            prov.name_any()
        );
        self.event(&mgmt, "ProvClusterCreated", message).await;
        Ok((prov, mgmt))
    }

    /// Imported, prov controller stage: the fleet cluster, from the status the facts make, then
    /// that status.
    async fn legacy_prov(&self, prov: ProvCluster, mgmt: MgmtCluster) -> Result<()> {
        self.surface_and_record(&prov, &mgmt).await
    }

    /// The fleet cluster of a qualifying cluster, then its prov status.
    async fn surface_and_record(&self, prov: &ProvCluster, mgmt: &MgmtCluster) -> Result<()> {
        let provs = self.provs();
        let planned = planned_status(prov, Some(mgmt), true)?;
        let settings = FleetSettings {
            default_registry: None,
            agent_affinity_label: labels::FLEET_AGENT_NODE.into(),
        };
        let desired = desired_fleet_cluster(&planned, mgmt, &[], &settings, None);
        let fleets = Api::namespaced(self.client.clone(), DEFAULT_WORKSPACE);
        self.apply(&fleets, &desired, false).await?;
        self.apply_status(&provs, &planned).await
    }

    /// The prov status apply, as drover builds it.
    async fn apply_status(&self, provs: &Api<ProvCluster>, planned: &ProvCluster) -> Result<()> {
        let mut desired = ProvCluster::new(&planned.name_any(), Default::default());
        desired.metadata.namespace = planned.namespace();
        desired.status = planned.status.clone();
        self.apply(provs, &desired, true).await?;
        Ok(())
    }
}

/// `prov` with the status drover derives from what it observes.
fn planned_status(
    prov: &ProvCluster,
    mgmt: Option<&MgmtCluster>,
    secret_exists: bool,
) -> Result<ProvCluster> {
    let name = prov.name_any();
    let mgmt_name = mgmt_name_for(prov).ok_or_else(|| anyhow!("{name} has no mgmt name"))?;
    let observed = Observed {
        mgmt_name: &mgmt_name,
        mgmt,
        refusal: None,
        kubeconfig_secret_exists: Some(secret_exists),
        kubeconfig_secret_name: format!("{name}-kubeconfig"),
        missing_workspace: None,
        fleet_problem: None,
    };
    let status = desired_prov_status(prov, &observed, &now());
    let mut updated = prov.clone();
    updated.status = Some(status);
    Ok(updated)
}

impl Floor {
    /// Provisioning, prov controller stage: finalizer, mgmt cluster (with drover's mgmt
    /// finalizer in the apply), Event, status.
    async fn new_prov(&self, prov: ProvCluster) -> Result<(ProvCluster, MgmtCluster)> {
        let provs = self.provs();
        let prov = self
            .add_finalizer(&provs, &prov, finalizers::PROV_CLUSTER)
            .await?;
        let name = mgmt_name_for(&prov).ok_or_else(|| anyhow!("no mgmt name"))?;
        let desired = desired_mgmt_cluster(&prov, &name, None);
        let mgmts = Api::<MgmtCluster>::all(self.client.clone());
        let mgmt = self.apply(&mgmts, &desired, false).await?;
        self.event(
            &prov,
            "MgmtClusterCreated",
            format!("created mgmt cluster {name}"),
        )
        .await;
        let planned = planned_status(&prov, Some(&desired), true)?;
        self.apply_status(&provs, &planned).await?;
        Ok((planned, mgmt))
    }

    /// Provisioning, the cluster agent (not drover): connects the mgmt cluster.
    async fn connect(
        &self,
        prov: ProvCluster,
        mgmt: MgmtCluster,
    ) -> Result<(ProvCluster, MgmtCluster)> {
        let name = mgmt.name_any();
        let connected = crate::workloads::connect(&self.client, &name, index_of(&name)).await?;
        Ok((prov, connected))
    }

    /// Workspaces, workspace controller stage: finalizer, namespace claim and apply, creator
    /// RBAC, status.
    async fn workspace(&self, ws: FleetWorkspace) -> Result<()> {
        let name = ws.name_any();
        let workspaces = Api::<FleetWorkspace>::all(self.client.clone());
        self.add_finalizer(&workspaces, &ws, drover::consts::finalizers::WORKSPACE)
            .await?;
        let namespaces = Api::<Namespace>::all(self.client.clone());
        namespaces
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &namespace_claim(&ws),
            )
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        self.apply(&namespaces, &desired_namespace(&ws, None, false), false)
            .await?;
        let mut wanted = wanted_conditions(&name, Some(&Situation::Ready));
        if let (Some(rbac), Some(creator)) = (desired_rbac(&ws), creator(&ws)) {
            // Created, never applied: a taken name must not be taken over.
            let rbs = Api::<RoleBinding>::namespaced(self.client.clone(), &name);
            self.create(&rbs, &rbac.role_binding).await?;
            let roles = Api::<ClusterRole>::all(self.client.clone());
            self.create(&roles, &rbac.cluster_role).await?;
            let crbs = Api::<ClusterRoleBinding>::all(self.client.clone());
            self.create(&crbs, &rbac.cluster_role_binding).await?;
            wanted.push(wanted_rbac_condition(&CreatorGrant::Granted {
                creator: creator.to_string(),
            }));
        }
        let mut desired = FleetWorkspace::new(&name);
        desired.status = Some(FleetWorkspaceStatus {
            conditions: Some(merge_conditions(&[], &wanted, &now())),
        });
        self.apply(&workspaces, &desired, true).await?;
        Ok(())
    }
}

/// Runs `f` on every item of `input` with `concurrency`, each on its own task.
fn stage<I, O, F, Fut>(
    input: impl Stream<Item = Result<I>> + Send + 'static,
    concurrency: usize,
    f: F,
) -> impl Stream<Item = Result<O>> + Send + 'static
where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(I) -> Fut + Send + 'static,
    Fut: Future<Output = Result<O>> + Send + 'static,
{
    input
        .map(move |item| {
            let fut = item.map(&f);
            tokio::spawn(async move { fut?.await })
        })
        .buffer_unordered(concurrency)
        .map(|joined| joined.map_err(anyhow::Error::from).and_then(|r| r))
}

/// Sends the workload's writes as fast as the API server takes them.
pub async fn run(
    workload: Workload,
    client: &Client,
    input: Input,
    concurrency: usize,
) -> Result<()> {
    let floor = Arc::new(Floor {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: None,
            },
        ),
    });
    let user = {
        let client = client.clone();
        move |i: usize| {
            let client = client.clone();
            async move { user_create(workload, &client, i).await }
        }
    };
    let f = floor.clone();
    let done: std::pin::Pin<Box<dyn Stream<Item = Result<()>> + Send>> = match (workload, input) {
        (Workload::Imported, Input::Seeded(mgmts)) => {
            let a = stage(stream::iter(mgmts).map(Ok), concurrency, move |m| {
                let f = f.clone();
                async move { f.legacy_mgmt(m).await }
            });
            Box::pin(stage(a, concurrency, move |(p, m)| {
                let f = floor.clone();
                async move { f.legacy_prov(p, m).await }
            }))
        }
        (Workload::Provisioning, Input::Count(n)) => {
            let created = stage(stream::iter(0..n).map(Ok), concurrency, user);
            let mgmts = stage(created, concurrency, move |o| {
                let f = f.clone();
                async move {
                    match o {
                        UserObject::Prov(p) => f.new_prov(*p).await,
                        _ => Err(anyhow!("expected a prov cluster")),
                    }
                }
            });
            let agent = floor.clone();
            let connected = stage(mgmts, concurrency, move |(p, m)| {
                let f = agent.clone();
                async move { f.connect(p, m).await }
            });
            Box::pin(stage(connected, concurrency, move |(p, m)| {
                let f = floor.clone();
                async move { f.surface_and_record(&p, &m).await }
            }))
        }
        (Workload::Workspaces, Input::Count(n)) => {
            let created = stage(stream::iter(0..n).map(Ok), concurrency, user);
            Box::pin(stage(created, concurrency, move |o| {
                let f = f.clone();
                async move {
                    match o {
                        UserObject::Workspace(ws) => f.workspace(*ws).await,
                        _ => Err(anyhow!("expected a workspace")),
                    }
                }
            }))
        }
        _ => return Err(anyhow!("the floor input does not match the workload")),
    };
    let mut done = done;
    while let Some(result) = done.next().await {
        result?;
    }
    Ok(())
}
