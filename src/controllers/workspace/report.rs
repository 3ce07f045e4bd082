//! What a workspace reports: conditions in `status.conditions`, written only when they change,
//! and an Event when a problem appears, changes or clears. An installed CRD without a status
//! subresource (Rancher's own) leaves Events as the only report.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{SecondsFormat, Utc};
use dashmap::DashMap;
use kube::{Api, ResourceExt};
use tracing::warn;

use crate::api::{Condition, FleetWorkspace, FleetWorkspaceStatus};
use crate::controllers::Error;
use crate::mapping::status::merge_conditions;
use crate::mapping::workspace::{
    CreatorGrant, Situation, notices, wanted_conditions, wanted_rbac_condition,
};
use crate::runtime::Context;

#[derive(Default)]
pub struct Reporter {
    /// Set once a status write showed that the installed CRD has no status subresource. Found
    /// again after a restart, when a CRD upgrade may have added it.
    no_status: AtomicBool,
    /// Without a status, the conditions last reported through Events, by workspace UID, so
    /// that Events still go out only on changes.
    reported: DashMap<String, Vec<Condition>>,
}

impl Reporter {
    /// Reports `situation` and the creator's `grant` (`None`: nothing to report, clearing what
    /// drover reported before).
    pub async fn report(
        &self,
        ctx: &Context,
        ws: &FleetWorkspace,
        situation: Option<&Situation>,
        grant: Option<&CreatorGrant>,
    ) -> Result<(), Error> {
        let previous = self.previous(ws);
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut wanted = wanted_conditions(&ws.name_any(), situation);
        wanted.extend(grant.map(wanted_rbac_condition));
        let conditions = merge_conditions(&previous, &wanted, &now);
        if !self.no_status.load(Ordering::Relaxed)
            && !self.write_status(ctx, ws, &conditions).await?
        {
            return Ok(());
        }
        if self.no_status.load(Ordering::Relaxed) {
            let uid = ws.uid().unwrap_or_default();
            if conditions.is_empty() {
                self.reported.remove(&uid);
            } else {
                self.reported.insert(uid, conditions.clone());
            }
        }
        for notice in notices(&previous, &conditions) {
            ctx.publish(ws, notice).await;
        }
        Ok(())
    }

    /// Forgets a workspace that is gone.
    pub fn forget(&self, ws: &FleetWorkspace) {
        self.reported.remove(&ws.uid().unwrap_or_default());
    }

    fn previous(&self, ws: &FleetWorkspace) -> Vec<Condition> {
        if self.no_status.load(Ordering::Relaxed) {
            return self
                .reported
                .get(&ws.uid().unwrap_or_default())
                .map(|c| c.clone())
                .unwrap_or_default();
        }
        ws.status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
    }

    /// Applies the conditions to the status (a no-op when they are already there). `false` when
    /// the workspace is gone, so there is nothing to report on.
    async fn write_status(
        &self,
        ctx: &Context,
        ws: &FleetWorkspace,
        conditions: &[Condition],
    ) -> Result<bool, Error> {
        let name = ws.name_any();
        let mut desired = FleetWorkspace::new(&name);
        // No conditions: an apply without a status, which removes the ones drover wrote before.
        desired.status = (!conditions.is_empty()).then(|| FleetWorkspaceStatus {
            conditions: Some(conditions.to_vec()),
        });
        let api = Api::<FleetWorkspace>::all(ctx.client.clone());
        match ctx.apply_status(&api, &desired, Some(ws)).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(404) => match api.get_opt(&name).await {
                Ok(Some(_)) => {
                    warn!(
                        workspace = %name,
                        "the installed FleetWorkspace CRD has no status subresource; workspaces \
                         report through Events only"
                    );
                    self.no_status.store(true, Ordering::Relaxed);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(_) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }
}
