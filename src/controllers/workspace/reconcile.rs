//! One workspace, as spec §3 reads: an unmanaged workspace gets nothing (W2); a managed one gets
//! drover's finalizer, its namespace (W1) unless that is not drover's to take (W6), and its
//! creator's RBAC (W5); a deleted one goes through [`super::deletion`] (W7).

use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use kube::runtime::controller::Action;

use super::report::Reporter;
use super::{deletion, namespace, rbac};
use crate::api::FleetWorkspace;
use crate::consts::finalizers;
use crate::controllers::Error;
use crate::mapping::workspace::{CreatorGrant, Situation, is_managed};
use crate::runtime::Context;

/// How often a workspace whose creator RBAC names are taken by others looks again.
const FOREIGN_RBAC_RECHECK: Duration = Duration::from_secs(60);

pub async fn reconcile(
    ws: Arc<FleetWorkspace>,
    ctx: Arc<Context>,
    reporter: Arc<Reporter>,
) -> Result<Action, Error> {
    if ws.metadata.deletion_timestamp.is_some() {
        return deletion::reconcile(&ws, &ctx, &reporter).await;
    }
    let api = Api::<FleetWorkspace>::all(ctx.client.clone());
    if !is_managed(&ws) {
        rbac::remove(&ws, &ctx).await?;
        // A workspace that stopped being managed no longer holds its namespace: deleting it must
        // neither wait for nor delete anything.
        ctx.remove_finalizer(&api, &ws, finalizers::WORKSPACE)
            .await?;
        reporter.report(&ctx, &ws, None, None).await?;
        return Ok(Action::await_change());
    }
    // The finalizer comes first, so that no namespace exists that a deletion could bypass.
    ctx.add_finalizer(&api, &ws, finalizers::WORKSPACE).await?;
    let Some(situation) = namespace::ensure(&ws, &ctx).await? else {
        return Ok(Action::await_change());
    };
    // The RoleBinding lives in the namespace: only once the namespace is drover's.
    let grant = match situation {
        Situation::Ready => rbac::ensure(&ws, &ctx).await?,
        _ => None,
    };
    reporter
        .report(&ctx, &ws, Some(&situation), grant.as_ref())
        .await?;
    Ok(match grant {
        // drover does not watch RBAC objects it did not label: look again now and then, so
        // that removing the foreign objects lets the grant through.
        Some(CreatorGrant::NotAdopted { .. }) => Action::requeue(FOREIGN_RBAC_RECHECK),
        _ => Action::await_change(),
    })
}
