//! §C9: the mgmt cluster `local` for the cluster drover runs in. Created when missing (never
//! re-applied over an existing one, which may come from a Rancher installation), and given
//! `Ready` and `Connected` conditions when it has no `Ready` one (Rancher's rule), since drover
//! itself runs there.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use kube::api::{Api, ObjectMeta};
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use crate::api::{MgmtCluster, MgmtClusterSpec};
use crate::consts::{LOCAL_CLUSTER, LOCAL_WORKSPACE};
use crate::controllers::{Error, runner};
use crate::mapping::local::local_conditions_patch;
use crate::runtime::Context;
use crate::runtime::watches::Watches;

fn local_cluster() -> MgmtCluster {
    MgmtCluster {
        metadata: ObjectMeta {
            name: Some(LOCAL_CLUSTER.into()),
            ..ObjectMeta::default()
        },
        spec: MgmtClusterSpec {
            display_name: Some(LOCAL_CLUSTER.into()),
            internal: Some(true),
            fleet_workspace_name: Some(LOCAL_WORKSPACE.into()),
            ..MgmtClusterSpec::default()
        },
        status: None,
    }
}

const NAME: &str = "local-cluster-bootstrap";

async fn ensure(ctx: &Context) -> Result<(), Error> {
    let api: Api<MgmtCluster> = Api::all(ctx.client.clone());
    match ctx.stores.mgmt.get(&ObjectRef::new(LOCAL_CLUSTER)) {
        None => {
            ctx.create(&api, &local_cluster()).await?;
        }
        Some(local) if local.metadata.deletion_timestamp.is_none() => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            if let Some(patch) = local_conditions_patch(&local, &now) {
                ctx.json_patch_status(&api, local.as_ref(), patch).await?;
            }
        }
        Some(_) => {}
    }
    Ok(())
}

/// Ensures `local` when this replica becomes the leader (at start when always the leader) and
/// whenever an event touches it (deletion included), through the runner's loop for objects that
/// may be missing, until `shutdown` is cancelled.
pub fn task(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: CancellationToken,
) -> BoxFuture<'static, ()> {
    let touched = watches.mgmt.subscribe().filter_map(|e| async move {
        e.ok()
            .filter(|m| m.metadata.name.as_deref() == Some(LOCAL_CLUSTER))
            .map(|_| ())
    });
    // Gaining leadership is a trigger too: a standby skips the start trigger and may take over
    // long after the last event on `local`.
    let triggers = futures::stream::select(ctx.leadership.gained(), touched);
    runner::keep(
        NAME,
        triggers,
        |ctx| runner::reference_to(&ctx.stores.mgmt, LOCAL_CLUSTER),
        ctx,
        shutdown,
        // The cache may lag the event that triggered this; a create that finds the object
        // already there is a no-op.
        |ctx| async move { ensure(&ctx).await },
    )
}
