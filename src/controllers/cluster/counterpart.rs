//! Which mgmt cluster a prov cluster pairs with (§C1, §C3), decided on proven identity (§4a):
//! the legacy mgmt cluster it represents, or the one created for it.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use super::status::{Report, write_status};
use crate::api::{MgmtCluster, ProvCluster};
use crate::consts::actions;
use crate::consts::reasons::cluster as reasons;
use crate::controllers::Error;
use crate::mapping::cluster::{
    Claim, NameSource, claim, desired_mgmt_cluster, is_bound_elsewhere, legacy_prov_workspace,
    legacy_representation_refusal, mgmt_name_refusal,
};
use crate::mapping::deletion::is_stale_legacy_copy;
use crate::mapping::notice::Notice;
use crate::runtime::Context;

/// What a prov cluster's mgmt counterpart turned out to be.
pub enum Counterpart {
    /// The mgmt cluster this prov cluster provably pairs with.
    Mgmt(Arc<MgmtCluster>),
    /// None drover may act on: the reason (a condition reason) and the message.
    Refused(&'static str, String),
    /// A legacy copy a move left behind: the mgmt controller deletes it, nothing to report.
    StaleCopy,
}

/// §C3, §I2: the legacy mgmt cluster a legacy-named prov cluster represents, if it does.
pub fn legacy_counterpart(ctx: &Context, prov: &ProvCluster, mgmt_name: &str) -> Counterpart {
    let default_workspace = ctx.config.default_workspace.as_str();
    let Some(mgmt) = ctx.stores.mgmt.get(&ObjectRef::new(mgmt_name)) else {
        return Counterpart::Refused(
            reasons::MGMT_CLUSTER_MISSING,
            format!("legacy mgmt cluster {mgmt_name} does not exist"),
        );
    };
    let workspace = legacy_prov_workspace(&mgmt, default_workspace);
    if is_stale_legacy_copy(prov, &mgmt, workspace.as_deref()) {
        return Counterpart::StaleCopy;
    }
    match legacy_representation_refusal(prov, &mgmt, default_workspace) {
        Some(message) => Counterpart::Refused(reasons::MGMT_CLUSTER_REPRESENTED_ELSEWHERE, message),
        None => Counterpart::Mgmt(mgmt),
    }
}

/// §C1: the mgmt cluster created for a non-legacy prov cluster, applied. Refused when the name
/// may not be used or the mgmt cluster of that name is not provably this prov cluster's.
pub async fn own_counterpart(
    ctx: &Context,
    provs: &Api<ProvCluster>,
    prov: &ProvCluster,
    mgmt_name: &str,
    source: NameSource,
) -> Result<Counterpart, Error> {
    if let Some(message) = mgmt_name_refusal(mgmt_name, source, None) {
        return Ok(Counterpart::Refused(
            reasons::MGMT_CLUSTER_NAME_REFUSED,
            message,
        ));
    }
    let mgmts: Api<MgmtCluster> = Api::all(ctx.client.clone());
    let cached = ctx.stores.mgmt.get(&ObjectRef::new(mgmt_name));
    let existing = ctx.cached_or_live(cached, &mgmts, mgmt_name).await?;
    match existing.as_deref().map(|m| claim(prov, m)) {
        Some(Claim::Foreign(message)) => {
            return Ok(Counterpart::Refused(reasons::MGMT_CLUSTER_CLAIMED, message));
        }
        Some(Claim::Ours) => {}
        // Not created yet: an annotation may not take the name another prov cluster recorded
        // or will derive from its UID.
        None if source == NameSource::Annotated => {
            let bound_to = ctx
                .stores
                .prov
                .find(|other| is_bound_elsewhere(prov, other, mgmt_name));
            if let Some(message) = mgmt_name_refusal(mgmt_name, source, bound_to.as_deref()) {
                return Ok(Counterpart::Refused(
                    reasons::MGMT_CLUSTER_NAME_REFUSED,
                    message,
                ));
            }
        }
        None => {}
    }
    let desired = desired_mgmt_cluster(prov, mgmt_name, existing.as_deref());
    match ctx
        .priority
        .surface(ctx.apply(&mgmts, &desired, existing.as_deref()))
        .await
    {
        Ok(sent) => {
            if sent && existing.is_none() {
                ctx.publish_after_surfacing(
                    prov,
                    Notice::normal(
                        reasons::MGMT_CLUSTER_CREATED,
                        actions::CREATE,
                        format!("created mgmt cluster {mgmt_name}"),
                    ),
                );
            }
            Ok(Counterpart::Mgmt(
                existing.unwrap_or_else(|| Arc::new(desired)),
            ))
        }
        Err(e) => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let report = Report {
                refusal: Some((
                    reasons::CREATE_FAILED,
                    format!("cannot create mgmt cluster {mgmt_name}: {e}"),
                )),
                ..Report::new(mgmt_name, &now)
            };
            write_status(ctx, provs, prov, report).await?;
            Err(e.into())
        }
    }
}
