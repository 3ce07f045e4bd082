//! The API server's audit log ([`crate::controlplane::Options::audit`]) read back as facts: who
//! wrote what, when the API server received it, how it answered, and which replica held the
//! leadership Lease at that moment.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// One write as the API server logged it at `ResponseComplete`.
#[derive(Clone, Debug)]
pub struct Write {
    pub user: String,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The HTTP status; `None` when the request never got one (the client went away).
    pub code: Option<u16>,
    pub received: Timestamp,
    pub completed: Timestamp,
    /// For writes of a Lease: what the request asked it to say.
    pub lease: Option<LeaseWrite>,
}

#[derive(Clone, Debug)]
pub struct LeaseWrite {
    pub name: String,
    /// `None`: released.
    pub holder: Option<String>,
    pub renewed: Option<Timestamp>,
    /// When the holder took it: a new value starts a new term.
    pub acquired: Option<Timestamp>,
    pub duration_seconds: Option<i64>,
}

impl Write {
    pub fn succeeded(&self) -> bool {
        self.code.is_some_and(|c| (200..300).contains(&c))
    }

    pub fn is_lease(&self) -> bool {
        self.group == "coordination.k8s.io" && self.resource == "leases"
    }

    pub fn is_delete(&self) -> bool {
        self.verb == "delete" || self.verb == "deletecollection"
    }

    /// `group/resource[/subresource] namespace/name`, for reports.
    pub fn describe(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        let sub = self
            .subresource
            .as_deref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default();
        let object = match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(name)) => name.clone(),
            _ => String::new(),
        };
        format!(
            "{} {} {group}/{}{sub} {object} by {} (code {:?}, received {})",
            self.verb, self.completed, self.resource, self.user, self.code, self.received
        )
    }
}

/// Every write in the audit log at `path`.
pub fn read(path: &Path) -> Result<Vec<Write>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(parse(&text))
}

/// The writes in an audit log's text; lines that are not `ResponseComplete` events are skipped
/// (as is a last line cut short while the API server writes it).
pub fn parse(text: &str) -> Vec<Write> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["stage"] == "ResponseComplete")
        .filter_map(|event| write_of(&event))
        .collect()
}

fn write_of(event: &Value) -> Option<Write> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<Timestamp>().ok());
    let object = &event["objectRef"];
    let group = text(&object["apiGroup"]).unwrap_or_default();
    let resource = text(&object["resource"])?;
    let lease = (group == "coordination.k8s.io" && resource == "leases")
        .then(|| {
            let spec = &event["requestObject"]["spec"];
            Some(LeaseWrite {
                name: text(&object["name"])
                    .or_else(|| text(&event["requestObject"]["metadata"]["name"]))?,
                holder: text(&spec["holderIdentity"]).filter(|h| !h.is_empty()),
                renewed: time(&spec["renewTime"]),
                acquired: time(&spec["acquireTime"]),
                duration_seconds: spec["leaseDurationSeconds"].as_i64(),
            })
        })
        .flatten();
    Some(Write {
        user: text(&event["user"]["username"])?,
        verb: text(&event["verb"])?,
        group,
        resource,
        subresource: text(&object["subresource"]),
        namespace: text(&object["namespace"]),
        name: text(&object["name"]),
        code: event["responseStatus"]["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok()),
        received: time(&event["requestReceivedTimestamp"])?,
        completed: time(&event["stageTimestamp"])?,
        lease,
    })
}

/// A write by one of the replicas outside its Lease term.
#[derive(Clone, Debug)]
pub struct Violation {
    pub write: Write,
    pub why: String,
}

/// One writer per Lease term: every successful write by `replicas` (user names) other than to
/// the Lease `lease` was received while the last Lease write before it named that replica as
/// holder, and no other replica took the Lease before the write was answered. Writes by other
/// users are not looked at.
pub fn writes_outside_terms(writes: &[Write], lease: &str, replicas: &[&str]) -> Vec<Violation> {
    let mut sorted: Vec<&Write> = writes.iter().filter(|w| w.succeeded()).collect();
    sorted.sort_by_key(|w| w.received);
    let lease_writes: Vec<(&Write, &LeaseWrite)> = sorted
        .iter()
        .filter_map(|w| {
            w.lease
                .as_ref()
                .filter(|l| l.name == lease)
                .map(|l| (*w, l))
        })
        .collect();
    let mut violations = Vec::new();
    for write in &sorted {
        if write.is_lease() || !replicas.contains(&write.user.as_str()) {
            continue;
        }
        let last = lease_writes
            .iter()
            .rev()
            .find(|(w, _)| w.received <= write.received);
        let why = match last {
            None => Some("no replica held the Lease yet".to_string()),
            Some((by, l)) if l.holder.is_none() || by.user != write.user => Some(format!(
                "the Lease was held by {} ({:?})",
                by.user, l.holder
            )),
            Some(_) => lease_writes
                .iter()
                .find(|(w, l)| {
                    w.user != write.user
                        && l.holder.is_some()
                        && w.received > write.received
                        && w.received < write.completed
                })
                .map(|(w, _)| {
                    format!(
                        "answered at {} after {} took the Lease at {}",
                        write.completed, w.user, w.received
                    )
                }),
        };
        if let Some(why) = why {
            violations.push(Violation {
                write: (*write).clone(),
                why,
            });
        }
    }
    violations
}

/// Successful writes by `replicas` that the API server received after the writer's hold had
/// expired (`renewTime` + duration of its last Lease write before them): requests it held,
/// unread, while it was stopped, and served when it went on. Figures, not a verdict: whether
/// one lands is the API server's race between serving it and noticing its client has gone.
pub fn received_after_expiry(writes: &[Write], lease: &str, replicas: &[&str]) -> Vec<Write> {
    let mut sorted: Vec<&Write> = writes.iter().filter(|w| w.succeeded()).collect();
    sorted.sort_by_key(|w| w.received);
    let mut expiry: Option<(String, Timestamp)> = None;
    let mut late = Vec::new();
    for w in sorted {
        if let Some(l) = w.lease.as_ref().filter(|l| l.name == lease) {
            // Only renewals that move the hold forward count: a stale one that lands late
            // carries an old renew time.
            let until = l.renewed.and_then(|r| {
                r.checked_add(SignedDuration::from_secs(l.duration_seconds.unwrap_or(0)))
                    .ok()
            });
            if let (Some(_), Some(until)) = (&l.holder, until) {
                let later = expiry
                    .as_ref()
                    .is_none_or(|(u, e)| *u != w.user || until > *e);
                if later {
                    expiry = Some((w.user.clone(), until));
                }
            }
            continue;
        }
        if !replicas.contains(&w.user.as_str()) {
            continue;
        }
        if let Some((user, until)) = &expiry
            && *user == w.user
            && w.received > *until
        {
            late.push(w.clone());
        }
    }
    late
}

/// The terms of the Lease `lease` in the order of the log: who took it (user) and when the API
/// server received that. A term starts when the holder or its acquire time changes.
pub fn terms(writes: &[Write], lease: &str) -> Vec<(String, Timestamp)> {
    let mut sorted: Vec<&Write> = writes
        .iter()
        .filter(|w| w.succeeded() && w.lease.as_ref().is_some_and(|l| l.name == lease))
        .collect();
    sorted.sort_by_key(|w| w.received);
    let mut terms: Vec<(String, Timestamp)> = Vec::new();
    let mut current: Option<(String, Option<Timestamp>)> = None;
    for w in sorted {
        let Some(l) = w.lease.as_ref() else { continue };
        let now = l.holder.clone().map(|h| (h, l.acquired));
        if now.is_some() && now != current {
            terms.push((w.user.clone(), w.received));
        }
        current = now;
    }
    terms
}

/// Successful writes by `users` other than Lease renewals, by `verb group/resource`.
pub fn writes_by(writes: &[Write], users: &[&str]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for w in writes {
        if w.succeeded() && !w.is_lease() && users.contains(&w.user.as_str()) {
            *counts
                .entry(format!("{} {}/{}", w.verb, w.group, w.resource))
                .or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(user: &str, verb: &str, resource: &str, received: &str, completed: &str) -> String {
        serde_json::json!({
            "stage": "ResponseComplete",
            "verb": verb,
            "user": {"username": user},
            "objectRef": {"apiGroup": "management.cattle.io", "resource": resource, "name": "x"},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": received,
            "stageTimestamp": completed,
        })
        .to_string()
    }

    fn lease(user: &str, holder: &str, at: &str) -> String {
        serde_json::json!({
            "stage": "ResponseComplete",
            "verb": "update",
            "user": {"username": user},
            "objectRef": {"apiGroup": "coordination.k8s.io", "resource": "leases", "name": "drover", "namespace": "ns"},
            "requestObject": {"spec": {"holderIdentity": holder, "renewTime": at, "acquireTime": at, "leaseDurationSeconds": 15}},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": at,
            "stageTimestamp": at,
        })
        .to_string()
    }

    #[test]
    fn writes_inside_the_writers_own_hold_are_fine() {
        let text = [
            lease("a", "a-id", "2026-01-01T00:00:00Z"),
            line(
                "a",
                "patch",
                "clusters",
                "2026-01-01T00:00:01Z",
                "2026-01-01T00:00:02Z",
            ),
            lease("b", "b-id", "2026-01-01T00:00:20Z"),
            line(
                "b",
                "patch",
                "clusters",
                "2026-01-01T00:00:21Z",
                "2026-01-01T00:00:21Z",
            ),
        ]
        .join("\n");
        let writes = parse(&text);
        assert!(writes_outside_terms(&writes, "drover", &["a", "b"]).is_empty());
        assert_eq!(terms(&writes, "drover").len(), 2);
    }

    #[test]
    fn a_write_under_another_holder_is_a_violation_and_one_after_expiry_is_counted() {
        let text = [
            lease("a", "a-id", "2026-01-01T00:00:00Z"),
            line(
                "a",
                "patch",
                "clusters",
                "2026-01-01T00:00:16Z",
                "2026-01-01T00:00:16Z",
            ),
            lease("b", "b-id", "2026-01-01T00:00:20Z"),
            line(
                "a",
                "patch",
                "clusters",
                "2026-01-01T00:00:21Z",
                "2026-01-01T00:00:21Z",
            ),
        ]
        .join("\n");
        let writes = parse(&text);
        let violations = writes_outside_terms(&writes, "drover", &["a", "b"]);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            received_after_expiry(&writes, "drover", &["a", "b"]).len(),
            1
        );
    }

    #[test]
    fn a_write_answered_after_another_replica_took_the_lease_is_a_violation() {
        let text = [
            lease("a", "a-id", "2026-01-01T00:00:00Z"),
            line(
                "a",
                "patch",
                "clusters",
                "2026-01-01T00:00:10Z",
                "2026-01-01T00:00:30Z",
            ),
            lease("b", "b-id", "2026-01-01T00:00:20Z"),
        ]
        .join("\n");
        let violations = writes_outside_terms(&parse(&text), "drover", &["a", "b"]);
        assert_eq!(violations.len(), 1);
    }
}
