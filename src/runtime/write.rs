//! The one place that performs API writes. Every write checks leadership first, is counted by
//! kind and verb, and is skipped when the object already says what drover wants, so that a
//! no-op reconcile sends nothing.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::consts::FIELD_MANAGER;
use crate::runtime::Context;
use crate::runtime::watches::resource_name;

/// A failed write, named after the action and carrying the object.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("not the leader: refusing to {verb} {kind} {name}")]
    NotLeader {
        verb: &'static str,
        kind: String,
        name: String,
    },
    #[error("failed to {verb} {kind} {name}: {}", api_message(.source))]
    Api {
        verb: &'static str,
        kind: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The object changed under the write (e.g. it was deleted between a create that found it
    /// and the read that followed); the next pass starts over.
    /// No answer before the write's deadline (at most until the Lease's fence): the write is
    /// abandoned, never resent by itself; the next reconcile asks for leadership again.
    #[error("no answer to {verb} {kind} {name} within {} ms; abandoned", .after.as_millis())]
    Deadline {
        verb: &'static str,
        kind: String,
        name: String,
        after: std::time::Duration,
    },
    #[error("{kind} {name} changed while drover wrote it")]
    Raced { kind: String, name: String },
    /// Read live, the object does not fit drover's types.
    #[error("cannot read {kind} {name}: {error}")]
    Undecodable {
        kind: String,
        name: String,
        error: crate::runtime::decode::DecodeError,
    },
    #[error("failed to serialize {kind} {name}: {source}")]
    Serialize {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What the API server said, once: kube's own rendering repeats the whole status in debug form,
/// which is too long for an Event and unreadable in a condition.
fn api_message(source: &kube::Error) -> String {
    match source {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.reason, s.code),
        other => other.to_string(),
    }
}

impl WriteError {
    /// Metric label for the failure category.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NotLeader { .. } => "not_leader",
            Self::Deadline { .. } => "deadline",
            Self::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(s) if s.code == 409 => "conflict",
                kube::Error::Api(s) if s.code == 403 => "forbidden",
                kube::Error::Api(s) if s.code == 404 => "not_found",
                kube::Error::Api(s) if s.code == 422 || s.code == 400 => "invalid",
                kube::Error::Api(_) => "api",
                _ => "transport",
            },
            Self::Raced { .. } => "conflict",
            Self::Undecodable { .. } => "undecodable",
            Self::Serialize { .. } => "serialize",
        }
    }

    /// The API status code, when the API server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            _ => None,
        }
    }
}

fn display_name<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
        None => meta.name.clone().unwrap_or_default(),
    }
}

/// Whether every value in `desired` is present and equal in `actual`. Objects are compared key by
/// key, everything else (lists included) by equality.
pub fn is_subset(desired: &Value, actual: &Value) -> bool {
    is_subset_given(desired, actual, None)
}

/// [`is_subset`], reading drover's earlier apply (`owned`, a `fieldsV1` tree) for the lists the
/// API server merges by key (`x-kubernetes-list-type: map`, such as conditions keyed on
/// `type`): there drover's entries are matched by key, and entries that other writers added
/// beside them change nothing. The server's own record of the list type is used, so the same
/// code is right for an atomic list in one CRD and a map list in another.
pub fn is_subset_given(desired: &Value, actual: &Value, owned: Option<&Value>) -> bool {
    match (desired, actual) {
        (Value::Object(d), Value::Object(a)) => d.iter().all(|(k, dv)| {
            let owned = owned.and_then(|o| o.get(format!("f:{k}")));
            a.get(k).is_some_and(|av| is_subset_given(dv, av, owned))
        }),
        // A set (`x-kubernetes-list-type: set`, such as `metadata.finalizers`): drover's
        // values must be there; values other writers added beside them change nothing.
        (Value::Array(d), Value::Array(a)) if owned.is_some_and(is_set_list) => {
            d.iter().all(|item| a.contains(item))
        }
        (Value::Array(d), Value::Array(a)) => match owned.map(keyed_entries) {
            Some(entries) if !entries.is_empty() => {
                d.iter().all(|item| match item_key(item, &entries[0].0) {
                    Some(key) => a.iter().any(|candidate| {
                        item_key(candidate, &entries[0].0).as_ref() == Some(&key)
                            && is_subset_given(item, candidate, entry_for(&entries, &key))
                    }),
                    None => false,
                })
            }
            _ => d == a,
        },
        (d, a) => d == a,
    }
}

/// Whether a list's `fieldsV1` subtree records a set: its items are named by value (`v:...`).
fn is_set_list(owned: &Value) -> bool {
    owned
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with("v:")))
}

/// A list's `k:{...}` entries in a `fieldsV1` tree: each key (field name to value) with the
/// subtree drover owns in that item.
fn keyed_entries(owned: &Value) -> Vec<(serde_json::Map<String, Value>, &Value)> {
    let Value::Object(owned) = owned else {
        return Vec::new();
    };
    owned
        .iter()
        .filter_map(|(k, sub)| {
            let key = k.strip_prefix("k:")?;
            match serde_json::from_str(key) {
                Ok(Value::Object(key)) => Some((key, sub)),
                _ => None,
            }
        })
        .collect()
}

/// The values of `like`'s key fields in `item`, when it has them all.
fn item_key(
    item: &Value,
    like: &serde_json::Map<String, Value>,
) -> Option<serde_json::Map<String, Value>> {
    like.keys()
        .map(|field| Some((field.clone(), item.get(field)?.clone())))
        .collect()
}

fn entry_for<'a>(
    entries: &[(serde_json::Map<String, Value>, &'a Value)],
    key: &serde_json::Map<String, Value>,
) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| k == key).map(|(_, sub)| *sub)
}

/// Whether every field that drover's earlier apply owns (a `fieldsV1` tree) is still part of
/// `desired`; if not, the next apply must remove it. Items of map lists (`k:{...}`) must still be
/// desired, by key; other list entries (`.`, `v:`, `i:`) belong to lists compared whole.
pub fn owned_fields_are_desired(owned: &Value, desired: &Value) -> bool {
    let Value::Object(owned) = owned else {
        return true;
    };
    owned.iter().all(|(key, sub)| {
        let Some(field) = key.strip_prefix("f:") else {
            return true;
        };
        match desired.get(field) {
            None => false,
            Some(d @ Value::Object(_)) => owned_fields_are_desired(sub, d),
            // A set: every value drover applied must still be desired, or the next apply must
            // remove it.
            Some(Value::Array(items)) if is_set_list(sub) => sub
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .filter_map(|k| k.strip_prefix("v:"))
                .all(|v| {
                    serde_json::from_str::<Value>(v).is_ok_and(|value| items.contains(&value))
                }),
            Some(Value::Array(items)) => keyed_entries(sub).iter().all(|(key, item_owned)| {
                items
                    .iter()
                    .find(|item| item_key(item, key).as_ref() == Some(key))
                    .is_some_and(|item| owned_fields_are_desired(item_owned, item))
            }),
            Some(_) => true,
        }
    })
}

/// drover's own managed-fields entry for the main resource (`subresource = None`) or `status`.
pub fn own_fields<'a>(
    managed: Option<&'a [ManagedFieldsEntry]>,
    subresource: Option<&str>,
) -> Option<&'a Value> {
    managed?
        .iter()
        .find(|m| {
            m.manager.as_deref() == Some(FIELD_MANAGER)
                && m.operation.as_deref() == Some("Apply")
                && m.subresource.as_deref().filter(|s| !s.is_empty()) == subresource
        })
        .and_then(|m| m.fields_v1.as_ref())
        .map(|f| &f.0)
}

/// Whether applying `desired` over `current` would change anything drover owns.
pub fn needs_apply<K: Resource + Serialize>(
    desired: &Value,
    current: Option<&K>,
    subresource: Option<&str>,
) -> bool {
    let Some(current) = current else {
        return true;
    };
    let Ok(actual) = serde_json::to_value(current) else {
        return true;
    };
    let owned = match own_fields(current.meta().managed_fields.as_deref(), subresource) {
        // The caches keep the tree as a JSON string (`watches::keep_own_managed_fields`).
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(tree) => Some(std::borrow::Cow::Owned(tree)),
            Err(_) => return true,
        },
        Some(tree) => Some(std::borrow::Cow::Borrowed(tree)),
        None => None,
    };
    // `metadata.finalizers` is a set whoever owns it: drover's finalizers being there is all
    // that counts, also before drover's apply owns them (a finalizer added by a patch).
    let mut compared = std::borrow::Cow::Borrowed(desired);
    if let Some(wanted) = desired.pointer("/metadata/finalizers") {
        let present = actual
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let all_there = wanted
            .as_array()
            .is_some_and(|w| w.iter().all(|f| present.contains(f)));
        if !all_there {
            return true;
        }
        if let Some(meta) = compared
            .to_mut()
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        {
            meta.remove("finalizers");
        }
    }
    !is_subset_given(&compared, &actual, owned.as_deref())
        || owned.is_some_and(|tree| !owned_fields_are_desired(&tree, desired))
}

fn api_error<K: Resource<DynamicType = ()>>(
    verb: &'static str,
    name: String,
    source: kube::Error,
) -> WriteError {
    WriteError::Api {
        verb,
        kind: K::kind(&()).to_string(),
        name,
        source: Box::new(source),
    }
}

/// `call`, abandoned after `deadline` (see [`crate::runtime::lease`] for why a deadline, and
/// not a retry, is what keeps a write inside the Lease).
pub async fn fenced<K: Resource<DynamicType = ()>, T>(
    deadline: std::time::Duration,
    verb: &'static str,
    name: &str,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> Result<Result<T, kube::Error>, WriteError> {
    tokio::time::timeout(deadline, call)
        .await
        .map_err(|_| WriteError::Deadline {
            verb,
            kind: K::kind(&()).to_string(),
            name: name.to_string(),
            after: deadline,
        })
}

impl Context {
    /// How long the write may take; refused when this replica may not write now.
    fn ensure_leader<K: Resource<DynamicType = ()>>(
        &self,
        verb: &'static str,
        name: &str,
    ) -> Result<std::time::Duration, WriteError> {
        self.leadership
            .write_deadline()
            .ok_or_else(|| WriteError::NotLeader {
                verb,
                kind: K::kind(&()).to_string(),
                name: name.to_string(),
            })
    }

    /// Server-side applies `desired` (main resource) unless `current` already matches.
    /// Returns whether a write was sent.
    pub async fn apply<K>(
        &self,
        api: &Api<K>,
        desired: &K,
        current: Option<&K>,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
    {
        self.apply_to(api, desired, current, None).await
    }

    /// Server-side applies `desired` to the status subresource unless `current` already matches.
    pub async fn apply_status<K>(
        &self,
        api: &Api<K>,
        desired: &K,
        current: Option<&K>,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
    {
        self.apply_to(api, desired, current, Some("status")).await
    }

    async fn apply_to<K>(
        &self,
        api: &Api<K>,
        desired: &K,
        current: Option<&K>,
        subresource: Option<&str>,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
    {
        let name = desired.name_any();
        let value = serde_json::to_value(desired).map_err(|source| WriteError::Serialize {
            kind: K::kind(&()).to_string(),
            name: display_name(desired),
            source,
        })?;
        if !needs_apply(&value, current, subresource) {
            return Ok(false);
        }
        let verb = if subresource.is_some() {
            "apply_status"
        } else {
            "apply"
        };
        let shown = display_name(desired);
        let deadline = self.ensure_leader::<K>(verb, &shown)?;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let result = match subresource {
            None => {
                fenced::<K, _>(
                    deadline,
                    verb,
                    &shown,
                    api.patch(&name, &params, &Patch::Apply(&value)),
                )
                .await
            }
            Some(_) => {
                fenced::<K, _>(
                    deadline,
                    verb,
                    &shown,
                    api.patch_status(&name, &params, &Patch::Apply(&value)),
                )
                .await
            }
        };
        self.metrics.write_of::<K>(verb);
        let result = result?;
        let written = result.map_err(|e| api_error::<K>(verb, shown, e))?;
        self.wrote(&written);
        Ok(true)
    }

    /// Deletes `obj` only if it is still the same object (UID precondition). NotFound and
    /// Conflict mean it is already gone or was replaced: both are success for the caller.
    pub async fn delete<K>(&self, api: &Api<K>, obj: &K) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let name = display_name(obj);
        let deadline = self.ensure_leader::<K>("delete", &name)?;
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: obj.meta().uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        self.metrics.write_of::<K>("delete");
        match fenced::<K, _>(
            deadline,
            "delete",
            &name,
            api.delete(&obj.name_any(), &params),
        )
        .await?
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(false),
            Err(e) => Err(api_error::<K>("delete", name, e)),
        }
    }

    /// Creates `obj` unless an object of that name exists (AlreadyExists is success: creates are
    /// idempotent by name). Used where drover must not take over fields of an existing object.
    pub async fn create<K>(&self, api: &Api<K>, obj: &K) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
    {
        let name = display_name(obj);
        let deadline = self.ensure_leader::<K>("create", &name)?;
        self.metrics.write_of::<K>("create");
        let params = kube::api::PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match fenced::<K, _>(deadline, "create", &name, api.create(&params, obj)).await? {
            Ok(created) => {
                self.wrote(&created);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(api_error::<K>("create", name, e)),
        }
    }

    /// Merge-patches the status subresource of `obj`.
    pub async fn merge_patch_status<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        patch: Value,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let name = display_name(obj);
        let deadline = self.ensure_leader::<K>("patch_status", &name)?;
        self.metrics.write_of::<K>("patch_status");
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let written = fenced::<K, _>(
            deadline,
            "patch_status",
            &name,
            api.patch_status(&obj.name_any(), &params, &Patch::Merge(&patch)),
        )
        .await?
        .map_err(|e| api_error::<K>("patch_status", name, e))?;
        self.wrote(&written);
        Ok(true)
    }

    /// Applies a JSON patch to the status subresource of `obj`. Patches that change a list
    /// others write too start with a `test` op, so a concurrent write makes them fail instead of
    /// being overwritten.
    pub async fn json_patch_status<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        patch: Value,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let name = display_name(obj);
        let deadline = self.ensure_leader::<K>("patch_status", &name)?;
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(|source| WriteError::Serialize {
                kind: K::kind(&()).to_string(),
                name: name.clone(),
                source,
            })?;
        self.metrics.write_of::<K>("patch_status");
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let written = fenced::<K, _>(
            deadline,
            "patch_status",
            &name,
            api.patch_status(&obj.name_any(), &params, &Patch::<()>::Json(patch)),
        )
        .await?
        .map_err(|e| api_error::<K>("patch_status", name, e))?;
        self.wrote(&written);
        Ok(true)
    }

    /// Adds `finalizer` unless present. A JSON patch that first tests the list drover saw (or
    /// that there is none), so a concurrent change by another actor makes it fail (and retry)
    /// instead of dropping their finalizer.
    pub async fn add_finalizer<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        finalizer: &str,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let current = obj.finalizers();
        if current.iter().any(|f| f == finalizer) {
            return Ok(false);
        }
        let patch = if current.is_empty() {
            // `add` on a missing list creates it, and on an existing one replaces it: only
            // when the list is still absent (a test for null) is that the same thing. The API
            // server never stores an empty list, so absent is what "none" looks like.
            serde_json::json!([
                {"op": "test", "path": "/metadata/uid", "value": obj.meta().uid},
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
            ])
        } else {
            serde_json::json!([
                {"op": "test", "path": "/metadata/finalizers", "value": current},
                {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
            ])
        };
        self.json_patch(api, obj, "add_finalizer", patch).await
    }

    /// Removes `finalizer` when present (same test-then-change patch as [`Self::add_finalizer`]).
    pub async fn remove_finalizer<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        finalizer: &str,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let Some(index) = obj.finalizers().iter().position(|f| f == finalizer) else {
            return Ok(false);
        };
        let patch = serde_json::json!([
            {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": finalizer},
            {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
        ]);
        match self.json_patch(api, obj, "remove_finalizer", patch).await {
            // Gone already: nothing holds it any more.
            Err(e) if e.code() == Some(404) => Ok(false),
            other => other,
        }
    }

    async fn json_patch<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        verb: &'static str,
        patch: Value,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let name = display_name(obj);
        let deadline = self.ensure_leader::<K>(verb, &name)?;
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(|source| WriteError::Serialize {
                kind: K::kind(&()).to_string(),
                name: name.clone(),
                source,
            })?;
        self.metrics.write_of::<K>("patch");
        let written = fenced::<K, _>(
            deadline,
            verb,
            &name,
            api.patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::<()>::Json(patch),
            ),
        )
        .await?
        .map_err(|e| api_error::<K>(verb, name, e))?;
        self.wrote(&written);
        Ok(true)
    }

    /// Server-side applies `patch` to the status of the `K` called `name`, as field manager
    /// `manager`, reading the answer as plain JSON: for objects drover cannot decode, where an
    /// apply under drover's own field manager would drop every status field it wrote before.
    pub async fn apply_status_as<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        manager: &str,
        patch: &Value,
    ) -> Result<(), WriteError>
    where
        K: Resource<DynamicType = ()>,
    {
        let shown = match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        let deadline = self.ensure_leader::<K>("apply_status", &shown)?;
        let resource = kube::discovery::ApiResource::erase::<K>(&());
        let api: Api<kube::api::DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        self.metrics.write_of::<K>("apply_status");
        let params = PatchParams::apply(manager).force();
        fenced::<K, _>(
            deadline,
            "apply_status",
            &shown,
            api.patch_status(name, &params, &Patch::Apply(patch)),
        )
        .await?
        .map_err(|e| api_error::<K>("apply_status", shown, e))?;
        Ok(())
    }

    /// Notes the version a write produced, so the reconcile ends once the cache has it.
    fn wrote<K: Resource<DynamicType = ()>>(&self, written: &K) {
        self.stores.seen.wrote(
            &resource_name::<K>(),
            written.meta().resource_version.as_deref(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_desired_object_contained_in_the_actual_one_is_a_subset() {
        let desired = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1, 2]}});
        let actual =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2], "y": 3}});
        assert!(is_subset(&desired, &actual));
    }

    #[test]
    fn a_changed_value_or_list_is_not_a_subset() {
        let actual = json!({"spec": {"x": [1, 2], "y": "a"}});
        assert!(!is_subset(&json!({"spec": {"y": "b"}}), &actual));
        assert!(!is_subset(&json!({"spec": {"x": [1]}}), &actual));
        assert!(!is_subset(&json!({"spec": {"z": 1}}), &actual));
    }

    #[test]
    fn a_field_drover_owns_but_no_longer_wants_is_detected() {
        let owned =
            json!({"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}, "f:spec": {"f:x": {}}});
        let desired = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1]}});
        assert!(!owned_fields_are_desired(&owned, &desired));
        let desired = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1]}});
        assert!(owned_fields_are_desired(&owned, &desired));
    }

    #[test]
    fn a_set_value_drover_applied_but_no_longer_wants_is_detected() {
        let owned = json!({"f:spec": {"f:names": {"v:\"a\"": {}}, "f:x": {}}});
        let desired = json!({"spec": {"names": ["b"], "x": 1}});
        assert!(!owned_fields_are_desired(&owned, &desired));
        let desired = json!({"spec": {"names": ["a", "b"], "x": 1}});
        assert!(owned_fields_are_desired(&owned, &desired));
        // An atomic list is owned whole: nothing per item to check.
        let atomic = json!({"f:spec": {"f:names": {}, "f:x": {}}});
        assert!(owned_fields_are_desired(
            &atomic,
            &json!({"spec": {"names": ["b"], "x": 1}})
        ));
    }

    #[test]
    fn values_other_writers_added_to_a_set_change_nothing() {
        let owned = json!({"f:metadata": {"f:finalizers": {"v:\"mine\"": {}}}});
        let desired = json!({"metadata": {"finalizers": ["mine"]}});
        let actual = json!({"metadata": {"finalizers": ["theirs", "mine"]}});
        assert!(is_subset_given(&desired, &actual, Some(&owned)));
        let gone = json!({"metadata": {"finalizers": ["theirs"]}});
        assert!(!is_subset_given(&desired, &gone, Some(&owned)));
    }

    #[test]
    fn drovers_finalizer_among_others_needs_no_apply_even_when_a_patch_added_it() {
        use k8s_openapi::api::core::v1::ConfigMap;

        let mut current = ConfigMap::default();
        current.metadata.name = Some("c".into());
        current.metadata.finalizers = Some(vec!["theirs".into(), "mine".into()]);
        let desired = json!({"metadata": {"name": "c", "finalizers": ["mine"]}});
        assert!(!needs_apply(&desired, Some(&current), None));
        // Once drover's apply owns it, the same holds.
        current.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some(FIELD_MANAGER.into()),
            operation: Some("Apply".into()),
            fields_v1: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1(
                json!({"f:metadata": {"f:finalizers": {"v:\"mine\"": {}}}}),
            )),
            ..ManagedFieldsEntry::default()
        }]);
        assert!(!needs_apply(&desired, Some(&current), None));
        current.metadata.finalizers = Some(vec!["theirs".into()]);
        assert!(needs_apply(&desired, Some(&current), None));
    }

    fn conditions(items: &[(&str, &str)]) -> Value {
        let items: Vec<Value> = items
            .iter()
            .map(|(t, s)| json!({"type": t, "status": s}))
            .collect();
        json!({"status": {"conditions": items}})
    }

    /// drover's managed fields after applying conditions of these types to a map list.
    fn owning(types: &[&str]) -> Value {
        let entries: serde_json::Map<String, Value> = types
            .iter()
            .map(|t| {
                (
                    format!("k:{{\"type\":\"{t}\"}}"),
                    json!({".": {}, "f:type": {}, "f:status": {}}),
                )
            })
            .collect();
        json!({"f:status": {"f:conditions": entries}})
    }

    #[test]
    fn entries_other_writers_add_to_a_map_list_change_nothing() {
        let desired = conditions(&[("Ready", "True")]);
        let actual = conditions(&[("Provisioned", "True"), ("Ready", "True")]);
        assert!(is_subset_given(
            &desired,
            &actual,
            Some(&owning(&["Ready"]))
        ));
        // Without the server's word that the list is a map, it is compared whole.
        assert!(!is_subset(&desired, &actual));
        let atomic = json!({"f:status": {"f:conditions": {}}});
        assert!(!is_subset_given(&desired, &actual, Some(&atomic)));
    }

    #[test]
    fn a_changed_or_missing_entry_of_a_map_list_is_a_change() {
        let owned = owning(&["Ready", "Stalled"]);
        let actual = conditions(&[("Provisioned", "True"), ("Ready", "True")]);
        let changed = conditions(&[("Ready", "False")]);
        assert!(!is_subset_given(&changed, &actual, Some(&owned)));
        let missing = conditions(&[("Ready", "True"), ("Stalled", "False")]);
        assert!(!is_subset_given(&missing, &actual, Some(&owned)));
    }

    #[test]
    fn a_map_list_entry_drover_owns_but_no_longer_wants_is_detected() {
        let owned = owning(&["NamespaceReady", "Stalled"]);
        let desired = conditions(&[("NamespaceReady", "True")]);
        assert!(!owned_fields_are_desired(&owned, &desired));
        let desired = conditions(&[("Stalled", "True"), ("NamespaceReady", "True")]);
        assert!(owned_fields_are_desired(&owned, &desired));
    }

    #[test]
    fn owned_fields_cached_as_a_json_string_are_read_like_the_tree() {
        use k8s_openapi::api::core::v1::ConfigMap;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

        let mut current = ConfigMap::default();
        current.metadata.name = Some("c".into());
        current.metadata.labels = Some([("a".to_string(), "1".to_string())].into());
        let owned = json!({"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}});
        current.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some(FIELD_MANAGER.into()),
            operation: Some("Apply".into()),
            fields_v1: Some(FieldsV1(owned)),
            ..ManagedFieldsEntry::default()
        }]);
        crate::runtime::watches::keep_own_managed_fields(&mut current);
        let cached = current.metadata.managed_fields.as_ref().unwrap()[0]
            .fields_v1
            .as_ref()
            .unwrap();
        assert!(cached.0.is_string());
        // `b` is owned but no longer wanted: the apply must go out to remove it.
        let desired = json!({"metadata": {"labels": {"a": "1"}}});
        assert!(needs_apply(&desired, Some(&current), None));
        current.metadata.labels = Some(
            [("a", "1"), ("b", "2")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let desired = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        assert!(!needs_apply(&desired, Some(&current), None));
    }
}
