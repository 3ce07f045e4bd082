//! The prov status a reconcile leaves behind (§C2, §5), with a Warning Event when a refusal
//! appears or changes.

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use crate::api::{MgmtCluster, ProvCluster, find_condition};
use crate::consts::actions;
use crate::consts::conditions;
use crate::consts::reasons::cluster as reasons;
use crate::controllers::Error;
use crate::mapping::notice::Notice;
use crate::mapping::status::{Observed, desired_prov_status};
use crate::runtime::Context;
use crate::runtime::watches::KUBECONFIG_SECRET_SUFFIX;
use crate::runtime::write::needs_apply;

/// What a reconcile found, for the prov status.
#[derive(Clone)]
pub struct Report<'a> {
    pub mgmt_name: &'a str,
    pub mgmt: Option<&'a MgmtCluster>,
    pub refusal: Option<(&'a str, String)>,
    pub fleet_problem: Option<(&'a str, String)>,
    pub now: &'a str,
}

impl<'a> Report<'a> {
    pub fn new(mgmt_name: &'a str, now: &'a str) -> Self {
        Self {
            mgmt_name,
            mgmt: None,
            refusal: None,
            fleet_problem: None,
            now,
        }
    }
}

/// The facts the prov status is derived from.
pub fn observe<'a>(
    ctx: &Context,
    prov: &ProvCluster,
    mgmt_name: &'a str,
    mgmt: Option<&'a MgmtCluster>,
    refusal: Option<(&'a str, String)>,
    fleet_problem: Option<(&'a str, String)>,
) -> Observed<'a> {
    let name = prov.name_any();
    Observed {
        mgmt_name,
        mgmt,
        refusal,
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
        fleet_problem,
    }
}

/// The prov status `report` makes.
fn desired_status(ctx: &Context, prov: &ProvCluster, report: Report<'_>) -> ProvCluster {
    let observed = observe(
        ctx,
        prov,
        report.mgmt_name,
        report.mgmt,
        report.refusal,
        report.fleet_problem,
    );
    let status = desired_prov_status(prov, &observed, report.now);
    let mut desired = ProvCluster::new(&prov.name_any(), Default::default());
    desired.metadata.namespace = prov.namespace();
    desired.status = Some(status);
    desired
}

/// Whether the prov status already says what `report` makes of it.
pub fn status_unchanged(ctx: &Context, prov: &ProvCluster, report: &Report<'_>) -> bool {
    let desired = desired_status(ctx, prov, report.clone());
    serde_json::to_value(&desired)
        .is_ok_and(|value| !needs_apply(&value, Some(prov), Some("status")))
}

/// Writes the prov status when it changed, publishing a Warning Event when a refusal appears or
/// changes (a failed fleet cluster write has the reconcile's own failure Event).
pub async fn write_status(
    ctx: &Context,
    provs: &Api<ProvCluster>,
    prov: &ProvCluster,
    report: Report<'_>,
) -> Result<(), Error> {
    let refused = report.refusal.clone().or_else(|| {
        report
            .fleet_problem
            .clone()
            .filter(|(reason, _)| *reason != reasons::FLEET_CLUSTER_WRITE_FAILED)
    });
    let desired = desired_status(ctx, prov, report);
    ctx.apply_status(provs, &desired, Some(prov)).await?;

    if let Some((reason, message)) = refused {
        let before = prov
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .and_then(|c| find_condition(c, conditions::STALLED))
            .and_then(|c| c.message.clone());
        if before.as_deref() != Some(message.as_str()) {
            ctx.publish(prov, Notice::warning(reason, actions::CREATE, message))
                .await;
        }
    }
    Ok(())
}
