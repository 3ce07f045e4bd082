//! The prov cluster controller: prov -> mgmt (§C1), prov status (§C2, §C5), prov -> fleet
//! cluster (§C6), and the prov side of deletion (§C7) and moves (§C8).

mod counterpart;
mod fleet;
mod remove;
mod status;

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use self::counterpart::{Counterpart, legacy_counterpart, own_counterpart};
use self::status::{Report, observe, status_unchanged, write_status};
use super::{Error, runner};
use crate::api::{ClusterGroup, FleetCluster, MgmtCluster, ProvCluster};
use crate::consts::reasons::cluster as reasons;
use crate::consts::{LOCAL_CLUSTER, LOCAL_WORKSPACE, finalizers};
use crate::mapping::cluster::{NameSource, chosen_mgmt_name, mgmt_name_for};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::is_legacy_name;
use crate::mapping::status::desired_prov_status;
use crate::runtime::Context;
use crate::runtime::queue::Pending;
use crate::runtime::watches::{KUBECONFIG_SECRET_SUFFIX, ProvKey, Watches};

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
    let stores = &ctx.stores;
    stores
        .indexes
        .prov
        .get(&stores.prov, &ProvKey::MgmtName(name.clone()))
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
    let stores = &ctx.stores;
    stores
        .indexes
        .prov
        .get(&stores.prov, &ProvKey::RecordedWorkspace(name.to_string()))
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

/// The prov clusters a fleet cluster event concerns: the owner its marks name, and the prov
/// cluster of the same name in its namespace, which a fleet cluster drover did not create (in
/// its way, §I1) may be holding up.
fn provs_of_fleet(fleet: &FleetCluster) -> Vec<ObjectRef<ProvCluster>> {
    let mut provs: Vec<_> = owner_prov(fleet).into_iter().collect();
    if let (Some(name), Some(namespace)) = (
        fleet.metadata.name.as_deref(),
        fleet.metadata.namespace.as_deref(),
    ) {
        let same = ObjectRef::new(name).within(namespace);
        if !provs.contains(&same) {
            provs.push(same);
        }
    }
    provs
}

pub fn controller(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: CancellationToken,
) -> BoxFuture<'static, ()> {
    let pending = Pending::new(ctx.stores.prov.clone());
    let mut controller = Controller::for_stream(
        pending.trigger(watches.prov.subscribe()),
        ctx.stores.prov.clone(),
    );
    let for_mgmt = ctx.clone();
    let for_namespaces = ctx.clone();
    controller = controller
        .watches_stream(
            watches.mgmt.subscribe(),
            pending.track(move |m: MgmtCluster| provs_of_mgmt(&for_mgmt, &m)),
        )
        .watches_stream(
            watches.fleet.subscribe(),
            pending.track(|f: FleetCluster| provs_of_fleet(&f)),
        )
        .watches_stream(
            watches.cluster_groups.subscribe(),
            pending.track(|g: ClusterGroup| owner_prov(&g)),
        )
        // A workspace namespace appearing lets the prov clusters waiting for it proceed.
        .watches_stream(
            watches.namespaces.subscribe(),
            pending.track(move |ns: PartialObjectMeta<Namespace>| {
                provs_waiting_for(&for_namespaces, &ns)
            }),
        )
        // Control-plane taints feed the local cluster's tolerations.
        .watches_stream(
            watches.nodes.subscribe(),
            pending.track(|_: Node| {
                Some(ObjectRef::<ProvCluster>::new(LOCAL_CLUSTER).within(LOCAL_WORKSPACE))
            }),
        );
    if let Some(secrets) = &watches.secrets {
        controller = controller.watches_stream(
            secrets.subscribe(),
            pending.track(|s: PartialObjectMeta<Secret>| {
                let name = s
                    .metadata
                    .name
                    .as_deref()?
                    .strip_suffix(KUBECONFIG_SECRET_SUFFIX)?;
                Some(ObjectRef::<ProvCluster>::new(name).within(s.metadata.namespace.as_deref()?))
            }),
        );
    }
    // Bookkeeping parked while surfacing goes on resumes when its turn comes (surfacing first).
    let woken = pending.track(|r: ObjectRef<ProvCluster>| Some(r));
    controller = controller.reconcile_on(
        ctx.priority
            .wakeups()
            .flat_map(move |r| futures::stream::iter(woken(r))),
    );
    let priority = ctx.priority.clone();
    let run = runner::drive(NAME, controller, pending, ctx, shutdown, reconcile);
    Box::pin(async move {
        let turns = std::pin::pin!(priority.hand_out_turns());
        futures::future::select(run, turns).await;
    })
}

async fn reconcile(prov: Arc<ProvCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = prov.namespace().unwrap_or_default();
    let provs: Api<ProvCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    if prov.meta().deletion_timestamp.is_some() {
        // Nothing left to record for a cluster going away.
        ctx.priority.settled(&ObjectRef::from_obj(prov.as_ref()));
        // §I4: removal logic runs only while drover's finalizer holds the prov cluster. Without
        // it, drover's removal already ran (or never had anything to remove): what is left is
        // another controller's to finish, and a legacy copy held that way must never act again.
        if prov
            .finalizers()
            .iter()
            .any(|f| f == finalizers::PROV_CLUSTER)
        {
            remove::remove(&prov, &ctx).await?;
        }
        return Ok(Action::await_change());
    }
    ctx.priority
        .surface(ctx.add_finalizer(&provs, prov.as_ref(), finalizers::PROV_CLUSTER))
        .await?;
    // Before drover's own status write below, which then sets `Stalled` afresh.
    ctx.clear_undecodable_condition(&prov).await?;
    let Some((mgmt_name, source)) = chosen_mgmt_name(&prov) else {
        return Ok(Action::await_change());
    };

    // A legacy prov cluster represents its mgmt cluster (the source of truth, §C3) when it is
    // `<mgmt workspace>/<name>` (§I2); any other prov cluster owns the one created for it (§C1).
    let counterpart = if source == NameSource::Legacy {
        legacy_counterpart(&ctx, &prov, &mgmt_name)
    } else {
        own_counterpart(&ctx, &provs, &prov, &mgmt_name, source).await?
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mgmt = match counterpart {
        Counterpart::StaleCopy => return Ok(Action::await_change()),
        Counterpart::Refused(reason, message) => {
            let report = Report {
                refusal: Some((reason, message)),
                ..Report::new(&mgmt_name, &now)
            };
            write_status(&ctx, &provs, &prov, report).await?;
            return Ok(Action::await_change());
        }
        Counterpart::Mgmt(mgmt) => mgmt,
    };

    // The fleet cluster is written from the status about to be recorded (§C6 rests on observed
    // facts), so whatever goes wrong with it is part of that status (§5).
    let planned = desired_prov_status(
        &prov,
        &observe(&ctx, &prov, &mgmt_name, Some(&mgmt), None, None),
        &now,
    );
    let mut planned_prov = prov.as_ref().clone();
    planned_prov.status = Some(planned);
    let report = |fleet_problem| Report {
        mgmt: Some(&mgmt),
        fleet_problem,
        ..Report::new(&mgmt_name, &now)
    };
    match fleet::sync(&ctx, &planned_prov, &mgmt).await {
        Ok(refusal) => {
            // The status is bookkeeping: while other clusters' surfacing writes go on, it waits
            // (a refusal is reported at once).
            let key = ObjectRef::from_obj(prov.as_ref());
            let problem = refusal.map(|r| (reasons::FLEET_CLUSTER_NOT_ADOPTED, r));
            let report = report(problem);
            if status_unchanged(&ctx, &prov, &report) {
                ctx.priority.settled(&key);
                return Ok(Action::await_change());
            }
            if report.fleet_problem.is_none()
                && let Some(left) = ctx.priority.defer(&key)
            {
                return Ok(Action::requeue(left));
            }
            write_status(&ctx, &provs, &prov, report).await?;
            ctx.priority.settled(&key);
            Ok(Action::await_change())
        }
        // What the API server answered belongs on the object; losing the Lease or the
        // connection says nothing about this cluster.
        Err(Error::Write(e)) if e.code().is_some() => {
            let problem = Some((reasons::FLEET_CLUSTER_WRITE_FAILED, e.to_string()));
            write_status(&ctx, &provs, &prov, report(problem)).await?;
            Err(e.into())
        }
        Err(e) => Err(e),
    }
}
