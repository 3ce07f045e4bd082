//! Events on the objects users look at. Events are published when something changes (a
//! condition turns, a destructive action is taken), never on every reconcile, so an idle
//! installation writes nothing.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::warn;

use crate::mapping::notice::Notice;
use crate::runtime::Context;

/// The API server refuses an Event whose note exceeds 1 KiB; a long message is cut (on a
/// character boundary) rather than lost.
const NOTE_LIMIT: usize = 1024;

fn within_note_limit(mut message: String) -> String {
    if message.len() > NOTE_LIMIT {
        let mut end = NOTE_LIMIT - '…'.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// Sends drover's Events. Each one goes out through a `Recorder` of its own: a `Recorder` keeps
/// every Event it sent for six minutes, to send a repeat as a series, in a map that keeps its
/// capacity once the entries expire (about 4 KB per Event: 9 MB after the creates of 2000
/// clusters). drover reports a lasting state once ([`Context::publish_on_change`]), so the
/// cache bought nothing but memory.
#[derive(Clone)]
pub struct EventSender {
    client: kube::Client,
    reporter: Reporter,
}

impl EventSender {
    fn recorder(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }
}

/// Sends Events as drover (`instance`: the replica's identity).
pub fn sender(client: kube::Client, instance: Option<String>) -> EventSender {
    EventSender {
        client,
        reporter: Reporter {
            controller: crate::consts::FIELD_MANAGER.into(),
            instance,
        },
    }
}

/// What [`Context::publish_to_on_change`] remembers a notice by: the object (its UID, or its
/// name while it has none) and the reason.
fn notice_key(reference: &ObjectReference, reason: &str) -> String {
    format!(
        "{}/{}/{}/{}",
        reference.kind.as_deref().unwrap_or_default(),
        reference.namespace.as_deref().unwrap_or_default(),
        reference
            .uid
            .as_deref()
            .or(reference.name.as_deref())
            .unwrap_or_default(),
        reason
    )
}

impl Context {
    /// Publishes `note` unless this process last published the same message for the same object
    /// and reason: for states that persist across retries (a failing write, a refused takeover).
    pub async fn publish_on_change<K: Resource<DynamicType = ()>>(&self, obj: &K, note: Notice) {
        self.publish_to_on_change(&obj.object_ref(&()), note).await;
    }

    /// Forgets what [`Self::publish_on_change`] published for `obj` and `reason`, so the state
    /// is reported again if it comes back.
    pub fn forget_notice<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str) {
        self.forget_notice_to(&obj.object_ref(&()), reason);
    }

    /// [`Self::forget_notice`] for an object known by its reference.
    pub fn forget_notice_to(&self, reference: &ObjectReference, reason: &str) {
        self.notices.remove(&notice_key(reference, reason));
    }

    /// Publishes an Event on `obj`. A failure to publish is logged, never fatal: the condition on
    /// the object is the durable report.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, note: Notice) {
        self.publish_to(&obj.object_ref(&()), note).await;
    }

    /// [`Self::publish_on_change`] for an object known by its reference (one drover could not
    /// decode, or one that may not exist yet).
    pub async fn publish_to_on_change(&self, reference: &ObjectReference, note: Notice) {
        let key = notice_key(reference, &note.reason);
        if self.notices.get(&key).is_some_and(|m| *m == note.message) {
            return;
        }
        self.notices.insert(key, note.message.clone());
        self.publish_to(reference, note).await;
    }

    /// Publishes an Event on the object `reference` names.
    pub async fn publish_to(&self, reference: &ObjectReference, note: Notice) {
        send(
            &self.leadership,
            &self.metrics,
            &self.events,
            reference,
            event(note),
        )
        .await;
    }

    /// Publishes an Event announcing work already visible (a create): bookkeeping, so while
    /// surfacing writes go on it waits its turn in a task of its own ([`Priority`]).
    ///
    /// [`Priority`]: crate::runtime::priority::Priority
    pub fn publish_after_surfacing<K: Resource<DynamicType = ()>>(&self, obj: &K, note: Notice) {
        let target = obj.object_ref(&());
        let event = event(note);
        let leadership = self.leadership.clone();
        let metrics = self.metrics.clone();
        let events = self.events.clone();
        let priority = self.priority.clone();
        let permits = self.deferred_events.clone();
        tokio::spawn(async move {
            priority.bookkeeping_turn().await;
            let _permit = permits.acquire_owned().await;
            send(&leadership, &metrics, &events, &target, event).await;
        });
    }
}

fn event(note: Notice) -> Event {
    Event {
        type_: if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: note.reason,
        note: Some(within_note_limit(note.message)),
        action: note.action.into(),
        secondary: None,
    }
}

async fn send(
    leadership: &crate::runtime::leadership::Leadership,
    metrics: &crate::runtime::metrics::Metrics,
    events: &EventSender,
    target: &ObjectReference,
    event: Event,
) {
    // Events are writes too: within the Lease, and abandoned at its fence.
    let Some(deadline) = leadership.write_deadline() else {
        return;
    };
    metrics.write("events.k8s.io", "Event", "create");
    let recorder = events.recorder();
    match tokio::time::timeout(deadline, recorder.publish(&event, target)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => warn!(%error, reason = %event.reason, "failed to publish event"),
        Err(_) => {
            warn!(reason = %event.reason, "publishing an event got no answer in time; abandoned")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_within_the_limit_is_kept_whole() {
        assert_eq!(within_note_limit("short".into()), "short");
        let exact = "a".repeat(NOTE_LIMIT);
        assert_eq!(within_note_limit(exact.clone()), exact);
    }

    #[test]
    fn a_long_note_is_cut_to_the_limit_on_a_character_boundary() {
        let long = "é".repeat(NOTE_LIMIT);
        let cut = within_note_limit(long);
        assert!(cut.len() <= NOTE_LIMIT, "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}
