//! Objects that do not fit drover's types (see [`crate::runtime::decode`]): the watches skip
//! them, count them (`drover_undecodable_objects_total`, `drover_skipped_objects`), and a
//! reporter puts one Warning Event on each (and `Stalled=True` on a prov cluster, whose status
//! drover writes), once per object and message. An object that stops fitting leaves the cache
//! as if deleted; one that fits again comes back and is reconciled.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::api::DynamicObject;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tracing::warn;

use crate::consts::{actions, reasons};
use crate::mapping::notice::Notice;
use crate::runtime::Context;
use crate::runtime::decode::{DecodeError, decode_object};
use crate::runtime::metrics::Metrics;
use crate::runtime::watches::{keep_own_managed_fields, resource_name};

/// One skipped object.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// `<plural>.<group>`.
    pub resource: String,
    pub reference: ObjectReference,
    pub error: DecodeError,
    /// Whether drover writes this kind's status (prov clusters): then the report is a condition
    /// too.
    pub status: bool,
    /// Whether this process has reported it.
    reported: bool,
}

impl Skipped {
    pub fn message(&self) -> String {
        format!(
            "drover cannot read this object and skips it until it is fixed: {}",
            self.error
        )
    }
}

/// The objects currently skipped, by UID; shared by the watches and the reporter.
#[derive(Clone, Default)]
pub struct Undecodable {
    skipped: Arc<DashMap<String, Skipped>>,
    wake: Arc<Notify>,
}

impl Undecodable {
    /// The skipped objects, sorted by resource, namespace and name.
    pub fn list(&self) -> Vec<Skipped> {
        let mut all: Vec<Skipped> = self.skipped.iter().map(|e| e.value().clone()).collect();
        all.sort_by(|a, b| {
            let key = |s: &Skipped| {
                (
                    s.resource.clone(),
                    s.reference.namespace.clone(),
                    s.reference.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        all
    }

    /// How many objects of each resource are skipped now.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for entry in self.skipped.iter() {
            *counts.entry(entry.resource.clone()).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    fn skip(&self, skipped: Skipped) {
        let uid = skipped.reference.uid.clone().unwrap_or_default();
        let changed = self
            .skipped
            .get(&uid)
            .is_none_or(|s| s.error != skipped.error);
        if changed {
            self.skipped.insert(uid, skipped);
            self.wake.notify_one();
        }
    }

    fn forget(&self, uid: Option<&str>) {
        if let Some(uid) = uid
            && !self.skipped.is_empty()
        {
            self.skipped.remove(uid);
        }
    }
}

/// Turns a watch of plain objects into a watch of `K`, one object at a time. An object that does
/// not fit is skipped and recorded in `undecodable`; if the cache held an earlier version of it,
/// that version is removed (a delete event), so the cache never acts on a state that is gone.
pub fn decoded<K, S>(
    events: S,
    store: Store<K>,
    undecodable: Undecodable,
    metrics: Arc<Metrics>,
    status: bool,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Stream<Item = watcher::Result<watcher::Event<DynamicObject>>> + Send + 'static,
{
    let resource = resource_name::<K>();
    // The UIDs of the objects skipped during a (re-)list, to forget the skipped ones that the
    // list no longer holds.
    let mut listing: Option<HashSet<String>> = None;
    events.filter_map(move |event| {
        let skip = |obj: &DynamicObject, error: DecodeError| {
            metrics.undecodable(&resource);
            undecodable.skip(Skipped {
                resource: resource.clone(),
                reference: reference::<K>(obj),
                error,
                status,
                reported: false,
            });
        };
        let cached = |obj: &DynamicObject| {
            let name = obj.metadata.name.as_deref()?;
            let mut key = ObjectRef::<K>::new(name);
            if let Some(ns) = obj.metadata.namespace.as_deref() {
                key = key.within(ns);
            }
            store.get(&key).map(|k| k.as_ref().clone())
        };
        let out = match event {
            Err(e) => Some(Err(e)),
            Ok(watcher::Event::Init) => {
                listing = Some(HashSet::new());
                Some(Ok(watcher::Event::Init))
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(seen) = listing.take() {
                    undecodable
                        .skipped
                        .retain(|uid, s| s.resource != resource || seen.contains(uid));
                }
                Some(Ok(watcher::Event::InitDone))
            }
            Ok(watcher::Event::InitApply(obj)) => match to_k::<K>(obj) {
                Ok(k) => {
                    undecodable.forget(k.meta().uid.as_deref());
                    Some(Ok(watcher::Event::InitApply(k)))
                }
                Err((obj, error)) => {
                    if let (Some(seen), Some(uid)) = (listing.as_mut(), obj.metadata.uid.clone()) {
                        seen.insert(uid);
                    }
                    skip(&obj, error);
                    None
                }
            },
            Ok(watcher::Event::Apply(obj)) => match to_k::<K>(obj) {
                Ok(k) => {
                    undecodable.forget(k.meta().uid.as_deref());
                    Some(Ok(watcher::Event::Apply(k)))
                }
                Err((obj, error)) => {
                    skip(&obj, error);
                    cached(&obj).map(|k| Ok(watcher::Event::Delete(k)))
                }
            },
            Ok(watcher::Event::Delete(obj)) => {
                undecodable.forget(obj.metadata.uid.as_deref());
                match to_k::<K>(obj) {
                    Ok(k) => Some(Ok(watcher::Event::Delete(k))),
                    Err((obj, _)) => cached(&obj).map(|k| Ok(watcher::Event::Delete(k))),
                }
            }
        };
        std::future::ready(out)
    })
}

/// `obj` as a `K`, with only drover's own managed fields kept; or the object and why not.
#[allow(clippy::result_large_err)]
fn to_k<K: Resource<DynamicType = ()> + DeserializeOwned>(
    mut obj: DynamicObject,
) -> Result<K, (DynamicObject, DecodeError)> {
    keep_own_managed_fields(&mut obj);
    decode_object(obj)
}

fn reference<K: Resource<DynamicType = ()>>(obj: &DynamicObject) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: obj.metadata.name.clone(),
        namespace: obj.metadata.namespace.clone(),
        uid: obj.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// How long the reporter waits before trying a report that failed again.
const RETRY: Duration = Duration::from_secs(10);

/// Reports each skipped object once: a Warning Event, and `Stalled=True` where drover writes the
/// status. Only the leader reports; a replica that becomes the leader reports what it holds.
pub async fn report(ctx: Arc<Context>, shutdown: tokio_util::sync::CancellationToken) {
    let undecodable = ctx.stores.undecodable.clone();
    let mut gained = std::pin::pin!(ctx.leadership.gained());
    loop {
        tokio::select! {
            () = undecodable.wake.notified() => {}
            Some(()) = gained.next() => {}
            () = shutdown.cancelled() => return,
        }
        if !ctx.leadership.is_leader() {
            continue;
        }
        let pending: Vec<Skipped> = undecodable
            .skipped
            .iter()
            .filter(|e| !e.reported)
            .map(|e| e.value().clone())
            .collect();
        let mut failed = false;
        for skipped in pending {
            match report_one(&ctx, &skipped).await {
                Ok(()) => {
                    let uid = skipped.reference.uid.clone().unwrap_or_default();
                    if let Some(mut entry) = undecodable.skipped.get_mut(&uid)
                        && entry.error == skipped.error
                    {
                        entry.reported = true;
                    }
                }
                Err(error) => {
                    warn!(%error, resource = skipped.resource, "failed to report an object drover cannot read");
                    failed = true;
                }
            }
        }
        if failed {
            let wake = undecodable.wake.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY).await;
                wake.notify_one();
            });
        }
    }
}

async fn report_one(
    ctx: &Context,
    skipped: &Skipped,
) -> Result<(), crate::runtime::write::WriteError> {
    let message = skipped.message();
    if skipped.status {
        ctx.apply_undecodable_condition(&skipped.reference, &message)
            .await?;
    }
    ctx.publish_to_on_change(
        &skipped.reference,
        Notice::warning(reasons::UNDECODABLE, actions::DECODE, message),
    )
    .await;
    Ok(())
}

/// Field manager of the `Stalled` condition on prov clusters drover cannot read. Not drover's
/// own: an apply under that one with only this condition would drop every other status field
/// drover wrote. drover's next status write, once the object fits again, takes the condition
/// back.
const CONDITION_MANAGER: &str = "drover-undecodable";

impl Context {
    async fn apply_undecodable_condition(
        &self,
        reference: &ObjectReference,
        message: &str,
    ) -> Result<(), crate::runtime::write::WriteError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let patch = serde_json::json!({
            "apiVersion": crate::api::ProvCluster::api_version(&()),
            "kind": crate::api::ProvCluster::kind(&()),
            "metadata": {"name": reference.name, "namespace": reference.namespace},
            "status": {"conditions": [{
                "type": crate::consts::conditions::STALLED,
                "status": "True",
                "reason": reasons::UNDECODABLE,
                "message": message,
                "lastTransitionTime": now,
            }]},
        });
        self.apply_status_as::<crate::api::ProvCluster>(
            reference.namespace.as_deref(),
            reference.name.as_deref().unwrap_or_default(),
            CONDITION_MANAGER,
            &patch,
        )
        .await
    }
}

impl Context {
    /// A prov cluster that fits again: drops the `Stalled` condition written while drover could
    /// not read it (its field manager lets go of it), so that drover's own status write sets the
    /// condition afresh instead of leaving that message behind. Returns whether it wrote.
    pub async fn clear_undecodable_condition(
        &self,
        prov: &crate::api::ProvCluster,
    ) -> Result<bool, crate::runtime::write::WriteError> {
        let reported = prov
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .and_then(|c| crate::api::find_condition(c, crate::consts::conditions::STALLED))
            .is_some_and(|c| c.reason.as_deref() == Some(reasons::UNDECODABLE));
        if !reported {
            return Ok(false);
        }
        let meta = prov.meta();
        let patch = serde_json::json!({
            "apiVersion": crate::api::ProvCluster::api_version(&()),
            "kind": crate::api::ProvCluster::kind(&()),
            "metadata": {"name": meta.name, "namespace": meta.namespace},
        });
        self.apply_status_as::<crate::api::ProvCluster>(
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
            CONDITION_MANAGER,
            &patch,
        )
        .await?;
        Ok(true)
    }
}
