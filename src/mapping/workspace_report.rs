//! What a workspace reports (spec §5): its conditions, and the Events that announce changes.

use crate::api::Condition;
use crate::consts::{actions, annotations, conditions, labels};
use crate::mapping::notice::Notice;
use crate::mapping::status::Wanted;

use super::{NotAdopted, Occupants};

pub use crate::consts::reasons::workspace as reasons;

/// What a workspace reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Situation {
    /// Managed, and its namespace is in place.
    Ready,
    NotAdopted(NotAdopted),
    Terminating,
    /// Being deleted, and waiting for its namespace to empty.
    DeletionWaits(Occupants),
}

/// The conditions drover wants on a workspace; `None` (unmanaged) wants none.
pub fn wanted_conditions(name: &str, situation: Option<&Situation>) -> Vec<Wanted> {
    let Some(situation) = situation else {
        return Vec::new();
    };
    let ready = |status, reason, message: String| {
        vec![Wanted::new(
            conditions::NAMESPACE_READY,
            status,
            reason,
            message,
        )]
    };
    match situation {
        Situation::Ready => ready(
            true,
            reasons::NAMESPACE_READY,
            format!("namespace {name} is in place"),
        ),
        Situation::NotAdopted(NotAdopted::Foreign) => ready(
            false,
            reasons::NAMESPACE_NOT_ADOPTED,
            format!(
                "namespace {name} already exists and was not created for this workspace; drover \
                 leaves it untouched. To hand it over, label it {}={} or annotate it {}=\"true\"",
                labels::MANAGED_BY,
                labels::MANAGED_BY_RANCHER,
                annotations::ALLOW_EXISTING_NAMESPACE
            ),
        ),
        Situation::NotAdopted(NotAdopted::EarlierWorkspace { uid }) => ready(
            false,
            reasons::NAMESPACE_NOT_ADOPTED,
            format!(
                "namespace {name} was created for an earlier workspace {name} (UID {uid}), not \
                 this one; drover leaves it and what it holds untouched and grants nothing in \
                 it. To hand it over, annotate it {}=\"true\"",
                annotations::ALLOW_EXISTING_NAMESPACE
            ),
        ),
        Situation::Terminating => ready(
            false,
            reasons::NAMESPACE_TERMINATING,
            format!("namespace {name} is being deleted; it is re-created once it is gone"),
        ),
        Situation::DeletionWaits(occupants) => vec![Wanted::new(
            conditions::STALLED,
            true,
            reasons::NAMESPACE_HOLDS_CLUSTERS,
            format!(
                "deletion waits: namespace {name} still holds {}; deleting it would deprovision \
                 them. Delete or move them first, or run drover with --workspace-deletion=cascade",
                occupants.describe()
            ),
        )],
    }
}

/// What became of a creator's RBAC (W5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatorGrant {
    /// The three objects grant the creator what W5 says.
    Granted { creator: String },
    /// Objects of the W5 names exist that drover did not make (as `"<Kind> <name>"`); drover
    /// left them as they are and made only the others.
    NotAdopted {
        creator: String,
        foreign: Vec<String>,
    },
}

/// The condition reporting a creator's RBAC.
pub fn wanted_rbac_condition(grant: &CreatorGrant) -> Wanted {
    match grant {
        CreatorGrant::Granted { creator } => Wanted::new(
            conditions::CREATOR_RBAC_READY,
            true,
            reasons::CREATOR_RBAC_READY,
            format!("{creator} is the workspace's admin"),
        ),
        CreatorGrant::NotAdopted { creator, foreign } => {
            let (them, exist, were) = if foreign.len() == 1 {
                ("it", "exists", "was")
            } else {
                ("them", "exist", "were")
            };
            Wanted::new(
                conditions::CREATOR_RBAC_READY,
                false,
                reasons::CREATOR_RBAC_NOT_ADOPTED,
                format!(
                    "{} already {exist} and {were} not created by drover for this workspace (no \
                     ownership marks naming it); drover leaves {them} untouched, so {creator} \
                     is not granted what {them} would grant. Delete {them} to let drover create \
                     {them} for {creator}",
                    join_and(foreign),
                ),
            )
        }
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Events for conditions that changed: a warning for every new or changed problem, a normal
/// Event when a problem clears. Nothing when nothing changed, so an idle installation publishes
/// nothing, and nothing for a condition that is simply fine from the start.
pub fn notices(previous: &[Condition], current: &[Condition]) -> Vec<Notice> {
    // Stalled is bad when true; the workspace's other conditions are bad when false.
    let is_problem = |c: &Condition| {
        if c.type_ == conditions::STALLED {
            c.is_true()
        } else {
            !c.is_true()
        }
    };
    let mut out = Vec::new();
    for c in current {
        let before = previous.iter().find(|p| p.type_ == c.type_);
        let changed = before.is_none_or(|p| {
            (&p.status, &p.reason, &p.message) != (&c.status, &c.reason, &c.message)
        });
        if !changed {
            continue;
        }
        if is_problem(c) {
            out.push(Notice {
                warning: true,
                ..notice(c)
            });
        } else if before.is_some_and(is_problem) {
            out.push(notice(c));
        }
    }
    out
}

/// The Event of a condition, normal unless made a warning.
fn notice(c: &Condition) -> Notice {
    let reason = c.reason.as_deref().unwrap_or_default();
    let action = match reason {
        reasons::NAMESPACE_NOT_ADOPTED | reasons::CREATOR_RBAC_NOT_ADOPTED => actions::ADOPT,
        reasons::NAMESPACE_HOLDS_CLUSTERS => actions::DELETE,
        _ => actions::RECONCILE,
    };
    Notice::normal(reason, action, c.message.as_deref().unwrap_or_default())
}

#[cfg(test)]
#[path = "workspace_report_tests.rs"]
mod tests;
