//! prov cluster status (§C2) and conditions in kstatus form, so `kubectl wait` works.

use crate::api::{
    Condition, MgmtCluster, ProvCluster, ProvClusterStatus, condition_is_true, find_condition,
};
use crate::consts::conditions;
use crate::consts::reasons::cluster as reasons;

/// A condition as drover wants it; [`merge_conditions`] fills in transition times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Wanted {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The conditions to write: each wanted one, keeping its previous transition time when its
/// status did not change, so a no-op reconcile produces an identical list.
pub fn merge_conditions(previous: &[Condition], wanted: &[Wanted], now: &str) -> Vec<Condition> {
    wanted
        .iter()
        .map(|w| {
            let status = if w.status { "True" } else { "False" };
            let last = find_condition(previous, w.type_)
                .filter(|c| c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.to_string());
            Condition {
                type_: w.type_.to_string(),
                status: status.to_string(),
                reason: Some(w.reason.clone()),
                message: Some(w.message.clone()).filter(|m| !m.is_empty()),
                last_transition_time: Some(last),
                last_update_time: None,
            }
        })
        .collect()
}

/// What the prov controller observed about a prov cluster's counterparts.
pub struct Observed<'a> {
    pub mgmt_name: &'a str,
    pub mgmt: Option<&'a MgmtCluster>,
    /// Why the mgmt cluster cannot be created or managed (a refusal), if so.
    pub refusal: Option<(&'a str, String)>,
    /// Whether `<prov>-kubeconfig` exists, or `None` when secrets are not observed.
    pub kubeconfig_secret_exists: Option<bool>,
    pub kubeconfig_secret_name: String,
    /// The mgmt cluster's workspace when its namespace does not exist (yet).
    pub missing_workspace: Option<&'a str>,
    /// Why the fleet cluster could not be written (a refusal or a failed write), if so: the
    /// counterpart exists, but the cluster does not surface in Fleet.
    pub fleet_problem: Option<(&'a str, String)>,
}

/// The prov status drover wants (§C2). `ready` never goes back to false; the kubeconfig secret
/// name, once set, stays.
pub fn desired_prov_status(
    prov: &ProvCluster,
    observed: &Observed<'_>,
    now: &str,
) -> ProvClusterStatus {
    let previous = prov.status.clone().unwrap_or_default();
    let prev_conditions = previous.conditions.as_deref().unwrap_or_default();
    // A refused mgmt cluster is not this prov cluster's counterpart unless it was recorded as
    // such: recording a foreign one's name would make `claim` call it ours on the next pass, and
    // its conditions say nothing about this cluster.
    let mgmt = observed.mgmt.filter(|m| {
        observed.refusal.is_none() || prov.cluster_name() == m.metadata.name.as_deref()
    });
    let mgmt_conditions = mgmt.map(MgmtCluster::conditions).unwrap_or_default();
    let ready =
        previous.ready == Some(true) || condition_is_true(mgmt_conditions, conditions::CONNECTED);
    let secret_ok = observed.kubeconfig_secret_exists.unwrap_or(true);
    let client_secret_name = previous
        .client_secret_name
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| (ready && secret_ok).then(|| observed.kubeconfig_secret_name.clone()));

    let (created, reconciling, stalled) = match (&observed.refusal, mgmt, &observed.fleet_problem) {
        (Some((reason, message)), _, _) => (
            Wanted::new(conditions::CREATED, false, reason, message.clone()),
            Wanted::new(conditions::RECONCILING, false, reason, ""),
            Wanted::new(conditions::STALLED, true, reason, message.clone()),
        ),
        (None, None, _) => (
            Wanted::new(
                conditions::CREATED,
                false,
                reasons::CREATING,
                format!("creating mgmt cluster {}", observed.mgmt_name),
            ),
            Wanted::new(
                conditions::RECONCILING,
                true,
                reasons::CREATING,
                format!("creating mgmt cluster {}", observed.mgmt_name),
            ),
            Wanted::new(conditions::STALLED, false, reasons::CREATING, ""),
        ),
        (None, Some(_), Some((reason, message))) => (
            Wanted::new(
                conditions::CREATED,
                true,
                reasons::CREATED,
                format!("mgmt cluster {}", observed.mgmt_name),
            ),
            Wanted::new(conditions::RECONCILING, false, reason, ""),
            Wanted::new(conditions::STALLED, true, reason, message.clone()),
        ),
        (None, Some(_), None) => {
            let waiting = if let Some(ws) = observed.missing_workspace {
                Some(format!("waiting for workspace namespace {ws} to exist"))
            } else if !ready {
                Some(format!(
                    "waiting for mgmt cluster {} to be Connected",
                    observed.mgmt_name
                ))
            } else if client_secret_name.is_none() {
                Some(format!(
                    "waiting for kubeconfig secret {}",
                    observed.kubeconfig_secret_name
                ))
            } else {
                None
            };
            (
                Wanted::new(
                    conditions::CREATED,
                    true,
                    reasons::CREATED,
                    format!("mgmt cluster {}", observed.mgmt_name),
                ),
                match &waiting {
                    Some(m) => {
                        Wanted::new(conditions::RECONCILING, true, reasons::WAITING, m.clone())
                    }
                    None => Wanted::new(conditions::RECONCILING, false, reasons::RECONCILED, ""),
                },
                Wanted::new(conditions::STALLED, false, reasons::RECONCILED, ""),
            )
        }
    };
    let ready_condition = if ready {
        Wanted::new(conditions::READY, true, reasons::CONNECTED, "")
    } else {
        Wanted::new(
            conditions::READY,
            false,
            reasons::NOT_CONNECTED,
            format!("mgmt cluster {} is not Connected yet", observed.mgmt_name),
        )
    };
    let wanted = [created, ready_condition, reconciling, stalled];
    ProvClusterStatus {
        // Recorded once the mgmt cluster exists, and never changed afterwards.
        cluster_name: previous
            .cluster_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| mgmt.map(|_| observed.mgmt_name.to_string())),
        fleet_workspace_name: mgmt
            .and_then(|m| m.workspace())
            .map(str::to_string)
            .or(previous.fleet_workspace_name.clone()),
        observed_generation: prov.metadata.generation,
        ready: Some(ready),
        agent_deployed: Some(condition_is_true(
            mgmt_conditions,
            conditions::AGENT_DEPLOYED,
        )),
        client_secret_name,
        conditions: Some(merge_conditions(prev_conditions, &wanted, now)),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
