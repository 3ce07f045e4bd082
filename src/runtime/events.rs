//! Events on the objects users look at. Events are published when something changes (a
//! condition turns, a destructive action is taken), never on every reconcile, so an idle
//! installation writes nothing.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::warn;

use crate::runtime::Context;

/// What happened, in words a user reads in `kubectl describe`.
pub struct Note<'a> {
    pub warning: bool,
    /// PascalCase, e.g. `NamespaceNotAdopted`.
    pub reason: &'a str,
    /// PascalCase, e.g. `Adopt`.
    pub action: &'a str,
    pub message: String,
}

pub fn recorder(client: kube::Client, instance: Option<String>) -> Recorder {
    Recorder::new(
        client,
        Reporter {
            controller: crate::consts::FIELD_MANAGER.into(),
            instance,
        },
    )
}

impl Context {
    /// Publishes an Event on `obj`. A failure to publish is logged, never fatal: the condition on
    /// the object is the durable report.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, note: Note<'_>) {
        if !self.leadership.is_leader() {
            return;
        }
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.into(),
            note: Some(note.message),
            action: note.action.into(),
            secondary: None,
        };
        self.metrics.write("Event", "create");
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(%error, reason = note.reason, "failed to publish event");
        }
    }
}
