//! The prov cluster controller: prov -> mgmt (§C1), prov status (§C2, §C5), prov -> fleet
//! cluster (§C6), and the prov side of deletion (§C7) and moves (§C8).

mod fleet;
mod remove;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::{Error, Hubs, Shutdown, runner};
use crate::api::{MgmtCluster, ProvCluster, find_condition};
use crate::consts::{LOCAL_CLUSTER, LOCAL_WORKSPACE, conditions, finalizers};
use crate::controllers::hubs::KUBECONFIG_SECRET_SUFFIX;
use crate::mapping::cluster::{Claim, claim, desired_mgmt_cluster, mgmt_name_for};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::is_legacy_name;
use crate::mapping::status::{Observed, desired_prov_status};
use crate::runtime::Context;
use crate::runtime::events::Note;

pub const NAME: &str = "cluster";

/// The prov clusters a mgmt cluster event concerns.
fn provs_of_mgmt(ctx: &Context, mgmt: &MgmtCluster) -> Vec<ObjectRef<ProvCluster>> {
    let name = mgmt.name_any();
    if let Some(marks) = OwnerMarks::read(mgmt.meta().annotations.as_ref())
        && marks.gvk == format!("{}, Kind=Cluster", ProvCluster::api_version(&()))
    {
        return vec![ObjectRef::new(&marks.name).within(&marks.namespace)];
    }
    if is_legacy_name(&name) {
        if let Some(ws) = mgmt.workspace() {
            return vec![ObjectRef::new(&name).within(ws)];
        }
        return Vec::new();
    }
    // A mgmt cluster that names no prov cluster: the prov clusters that recorded or asked for it.
    ctx.stores
        .prov
        .state()
        .iter()
        .filter(|p| mgmt_name_for(p).as_deref() == Some(name.as_str()))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The prov clusters whose recorded workspace is this namespace.
fn provs_waiting_for(
    ctx: &Context,
    namespace: &PartialObjectMeta<Namespace>,
) -> Vec<ObjectRef<ProvCluster>> {
    let Some(name) = namespace.metadata.name.as_deref() else {
        return Vec::new();
    };
    ctx.stores
        .prov
        .state()
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.fleet_workspace_name.as_deref())
                == Some(name)
                && p.namespace().as_deref() != Some(name)
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The prov cluster an object drover created for it names in its ownership marks.
fn owner_prov<K: Resource>(obj: &K) -> Option<ObjectRef<ProvCluster>> {
    let marks = OwnerMarks::read(obj.meta().annotations.as_ref())?;
    (marks.gvk == format!("{}, Kind=Cluster", ProvCluster::api_version(&())))
        .then(|| ObjectRef::new(&marks.name).within(&marks.namespace))
}

pub fn controller(ctx: Arc<Context>, hubs: &Hubs, shutdown: Shutdown) -> BoxFuture<'static, ()> {
    let mut controller = Controller::for_stream(hubs.prov.subscribe(), ctx.stores.prov.clone());
    let for_mgmt = ctx.clone();
    let for_namespaces = ctx.clone();
    controller = controller
        .watches_stream(hubs.mgmt.subscribe(), move |m| provs_of_mgmt(&for_mgmt, &m))
        .watches_stream(hubs.fleet.subscribe(), |f| owner_prov(&f))
        .watches_stream(hubs.cluster_groups.subscribe(), |g| owner_prov(&g))
        // A workspace namespace appearing lets the prov clusters waiting for it proceed.
        .watches_stream(hubs.namespaces.subscribe(), move |ns| {
            provs_waiting_for(&for_namespaces, &ns)
        })
        // Control-plane taints feed the local cluster's tolerations.
        .watches_stream(hubs.nodes.subscribe(), |_| {
            Some(ObjectRef::<ProvCluster>::new(LOCAL_CLUSTER).within(LOCAL_WORKSPACE))
        });
    if let Some(secrets) = &hubs.secrets {
        controller = controller.watches_stream(secrets.subscribe(), |s| {
            let name = s
                .metadata
                .name
                .as_deref()?
                .strip_suffix(KUBECONFIG_SECRET_SUFFIX)?;
            Some(ObjectRef::<ProvCluster>::new(name).within(s.metadata.namespace.as_deref()?))
        });
    }
    runner::drive(NAME, controller, ctx, shutdown, reconcile)
}

async fn reconcile(prov: Arc<ProvCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = prov.namespace().unwrap_or_default();
    let provs: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    if prov.meta().deletion_timestamp.is_some() {
        remove::remove(&prov, &ctx).await?;
        return Ok(Action::await_change());
    }
    ctx.add_finalizer(&provs, prov.as_ref(), finalizers::PROV_CLUSTER)
        .await?;
    let Some(mgmt_name) = mgmt_name_for(&prov) else {
        return Ok(Action::await_change());
    };
    let existing = ctx.stores.mgmt.get(&ObjectRef::new(&mgmt_name));

    // Decide the mgmt cluster: a legacy prov cluster represents its mgmt cluster (the source of
    // truth, §C3); any other prov cluster owns the one created for it (§C1).
    let (mgmt, refusal) = if is_legacy_name(&prov.name_any()) {
        match existing {
            Some(m) => (Some(m), None),
            None => (
                None,
                Some((
                    "MgmtClusterMissing",
                    format!("legacy mgmt cluster {mgmt_name} does not exist"),
                )),
            ),
        }
    } else {
        match existing.as_deref().map(|m| claim(&prov, m)) {
            Some(Claim::Foreign(message)) => (None, Some(("MgmtClusterClaimed", message))),
            _ => {
                let desired = desired_mgmt_cluster(&prov, &mgmt_name, existing.as_deref());
                let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
                match ctx.apply(&mgmts, &desired, existing.as_deref()).await {
                    Ok(sent) => {
                        if sent && existing.is_none() {
                            ctx.publish(
                                prov.as_ref(),
                                Note {
                                    warning: false,
                                    reason: "MgmtClusterCreated",
                                    action: "Create",
                                    message: format!("created mgmt cluster {mgmt_name}"),
                                },
                            )
                            .await;
                        }
                        (Some(existing.unwrap_or_else(|| Arc::new(desired))), None)
                    }
                    Err(e) => {
                        let message = format!("cannot create mgmt cluster {mgmt_name}: {e}");
                        write_status(
                            &ctx,
                            &provs,
                            &prov,
                            &mgmt_name,
                            None,
                            Some(("CreateFailed", message)),
                        )
                        .await?;
                        return Err(e.into());
                    }
                }
            }
        }
    };
    let refused = refusal.is_some();
    let updated = write_status(&ctx, &provs, &prov, &mgmt_name, mgmt.as_deref(), refusal).await?;
    if let Some(mgmt) = mgmt.filter(|_| !refused) {
        fleet::sync(&ctx, &updated, &mgmt).await?;
    }
    Ok(Action::await_change())
}

/// Writes the prov status when it changed, publishing an Event when a refusal appears or
/// changes. Returns the prov cluster as it now stands (with the new status).
async fn write_status(
    ctx: &Context,
    provs: &Api<ProvCluster>,
    prov: &ProvCluster,
    mgmt_name: &str,
    mgmt: Option<&MgmtCluster>,
    refusal: Option<(&str, String)>,
) -> Result<ProvCluster, Error> {
    let name = prov.name_any();
    let observed = Observed {
        mgmt_name,
        mgmt,
        refusal: refusal.clone(),
        kubeconfig_secret_exists: ctx.stores.secrets.as_ref().map(|secrets| {
            let key = format!("{name}{KUBECONFIG_SECRET_SUFFIX}");
            secrets
                .get(&ObjectRef::new(&key).within(&prov.namespace().unwrap_or_default()))
                .is_some()
        }),
        kubeconfig_secret_name: format!("{name}{KUBECONFIG_SECRET_SUFFIX}"),
        missing_workspace: mgmt
            .and_then(|m| m.workspace())
            .filter(|ws| ctx.stores.namespaces.get(&ObjectRef::new(ws)).is_none()),
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let status = desired_prov_status(prov, &observed, &now);
    let mut desired = ProvCluster::new(&name, Default::default());
    desired.metadata.namespace = prov.namespace();
    desired.status = Some(status.clone());
    ctx.apply_status(provs, &desired, Some(prov)).await?;

    if let Some((reason, message)) = refusal {
        let before = prov
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .and_then(|c| find_condition(c, conditions::CREATED))
            .and_then(|c| c.message.clone());
        if before.as_deref() != Some(message.as_str()) {
            ctx.publish(
                prov,
                Note {
                    warning: true,
                    reason,
                    action: "Create",
                    message,
                },
            )
            .await;
        }
    }
    let mut updated = prov.clone();
    updated.status = Some(status);
    Ok(updated)
}
