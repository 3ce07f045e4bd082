//! Workspaces and their namespaces (spec §3): which namespace a workspace wants, whether an
//! existing namespace may be taken over, what deleting a workspace does, and which workspaces
//! drover creates by itself. What a workspace reports is in `workspace_report.rs`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::api::FleetWorkspace;
use crate::config::WorkspaceDeletion;
use crate::consts::{LOCAL_WORKSPACE, annotations, labels};
use crate::mapping::cluster::marks_for_child;
use crate::mapping::meta::{OwnerMarks, export_cleaned};

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a String> {
    meta.annotations.as_ref()?.get(key)
}

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a String> {
    meta.labels.as_ref()?.get(key)
}

fn none_if_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    // An empty map would be serialized as `{}`, which never matches an object without the key,
    // and every resync would then send a write.
    (!map.is_empty()).then_some(map)
}

/// Whether the workspace owns a namespace: every workspace not annotated `managed: "false"`.
pub fn is_managed(ws: &FleetWorkspace) -> bool {
    annotation(&ws.metadata, annotations::MANAGED).is_none_or(|v| v != "false")
}

/// The user named by `field.cattle.io/creatorId`, when set.
pub fn creator(ws: &FleetWorkspace) -> Option<&str> {
    annotation(&ws.metadata, annotations::CREATOR_ID)
        .map(String::as_str)
        .filter(|u| !u.is_empty())
}

/// Whom a namespace's ownership marks name, as far as one workspace is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MarkedFor {
    /// This workspace: drover's marks with its UID, or Rancher's marks (which carry no UID)
    /// naming a workspace of its name.
    This,
    /// An earlier workspace of the same name (drover's marks with another UID): the namespace
    /// and what it holds belonged to someone else.
    Earlier { uid: String },
    /// Nobody, or another owner.
    Other,
}

fn marked_for(namespace: &ObjectMeta, ws: &FleetWorkspace) -> MarkedFor {
    let name = ws.metadata.name.as_deref().unwrap_or_default();
    match OwnerMarks::read(namespace.annotations.as_ref()) {
        Some(m) if m.name_namesake::<FleetWorkspace>(name) => {
            if m.uid.is_empty() || Some(m.uid.as_str()) == ws.metadata.uid.as_deref() {
                MarkedFor::This
            } else {
                MarkedFor::Earlier { uid: m.uid }
            }
        }
        _ => MarkedFor::Other,
    }
}

/// Whether drover took the namespace over through a W6 exemption.
fn is_adopted(namespace: &ObjectMeta) -> bool {
    annotation(namespace, annotations::ADOPTED).is_some_and(|v| v == "true")
}

/// Whether the namespace's owner explicitly allowed a workspace over it.
fn allows_a_workspace(namespace: &ObjectMeta) -> bool {
    annotation(namespace, annotations::ALLOW_EXISTING_NAMESPACE).is_some_and(|v| v == "true")
}

/// The W6 exemptions: Rancher manages the namespace, or its owner allowed a workspace over it.
fn may_be_adopted(namespace: &ObjectMeta) -> bool {
    label(namespace, labels::MANAGED_BY).is_some_and(|v| v == labels::MANAGED_BY_RANCHER)
        || allows_a_workspace(namespace)
}

/// The namespace of a managed workspace (W1): the workspace's labels and annotations,
/// export-cleaned, plus ownership marks, plus the adoption mark when drover took the namespace
/// over instead of creating it.
pub fn desired_namespace(
    ws: &FleetWorkspace,
    existing: Option<&ObjectMeta>,
    adopted: bool,
) -> Namespace {
    let mut annotations = export_cleaned(ws.metadata.annotations.as_ref());
    annotations.extend(marks_for_child(
        ws,
        existing.and_then(|m| m.annotations.as_ref()),
    ));
    if adopted {
        annotations.insert(annotations::ADOPTED.into(), "true".into());
    }
    Namespace {
        metadata: ObjectMeta {
            name: ws.metadata.name.clone(),
            labels: none_if_empty(export_cleaned(ws.metadata.labels.as_ref())),
            annotations: none_if_empty(annotations),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The namespace drover creates before it applies the desired one: its name and the ownership
/// marks only. The create stakes the claim (it fails if a namespace of that name appeared in the
/// meantime); the fields it sets are never removed later, so the create's field ownership can
/// never keep a label or annotation alive that the workspace dropped.
pub fn namespace_claim(ws: &FleetWorkspace) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: ws.metadata.name.clone(),
            annotations: Some(OwnerMarks::of(ws).annotations()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// Why an existing namespace is not taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAdopted {
    /// It carries no marks naming a workspace of this name, and no W6 exemption.
    Foreign,
    /// drover created it for an earlier workspace of this name, whose UID the marks carry.
    EarlierWorkspace { uid: String },
}

/// What to do about a managed workspace's namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum NamespacePlan {
    /// Create it, or bring it up to date.
    Apply(Box<Namespace>),
    /// It exists and is not drover's to take (W6): leave it alone and report.
    NotAdopted(NotAdopted),
    /// It is being deleted; a new one follows once it is gone.
    Terminating,
}

/// The namespace plan for a managed workspace, given the namespace of that name if one exists.
/// A namespace is taken over only when its marks name this very workspace (drover created it
/// for this UID, or Rancher for a workspace of this name) or through one of the W6 exemptions.
///
/// A namespace drover created for an earlier workspace of the same name is not retaken: it may
/// hold that workspace's secrets and clusters, and its new creator would be granted admin over
/// them. Only the explicit annotation hands it over (the `managed-by` label does not count
/// here, since drover copies it from a workspace's own labels).
pub fn plan_namespace(ws: &FleetWorkspace, current: Option<&ObjectMeta>) -> NamespacePlan {
    let Some(current) = current else {
        return NamespacePlan::Apply(Box::new(desired_namespace(ws, None, false)));
    };
    if current.deletion_timestamp.is_some() {
        return NamespacePlan::Terminating;
    }
    let adopt = || NamespacePlan::Apply(Box::new(desired_namespace(ws, Some(current), true)));
    match marked_for(current, ws) {
        // An adoption, once recorded, stays recorded.
        MarkedFor::This => NamespacePlan::Apply(Box::new(desired_namespace(
            ws,
            Some(current),
            is_adopted(current),
        ))),
        MarkedFor::Earlier { .. } if allows_a_workspace(current) => adopt(),
        MarkedFor::Earlier { uid } => {
            NamespacePlan::NotAdopted(NotAdopted::EarlierWorkspace { uid })
        }
        MarkedFor::Other if may_be_adopted(current) => adopt(),
        MarkedFor::Other => NamespacePlan::NotAdopted(NotAdopted::Foreign),
    }
}

/// Whether deleting `ws` may delete `namespace`: drover (or Rancher before it) created the
/// namespace for this very workspace, and did not merely adopt it.
pub fn namespace_was_created_for(namespace: &ObjectMeta, ws: &FleetWorkspace) -> bool {
    let owned = OwnerMarks::read(namespace.annotations.as_ref()).is_some_and(|m| m.name_owner(ws));
    owned && !is_adopted(namespace)
}

/// The clusters a namespace still holds, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Occupants {
    pub prov: Vec<String>,
    pub fleet: Vec<String>,
}

impl Occupants {
    pub fn is_empty(&self) -> bool {
        self.prov.is_empty() && self.fleet.is_empty()
    }

    /// Adds the names in `more` that are not here yet, keeping each list sorted.
    pub fn merge(&mut self, more: Occupants) {
        for (names, more) in [(&mut self.prov, more.prov), (&mut self.fleet, more.fleet)] {
            names.extend(more);
            names.sort();
            names.dedup();
        }
    }

    /// "2 prov clusters (a, b) and 1 fleet cluster (c)", at most a few names each.
    pub fn describe(&self) -> String {
        const SHOWN: usize = 5;
        let part = |kind: &str, names: &[String]| {
            let mut shown = names.iter().take(SHOWN).cloned().collect::<Vec<_>>();
            if names.len() > SHOWN {
                shown.push(format!("and {} more", names.len() - SHOWN));
            }
            let plural = if names.len() == 1 { "" } else { "s" };
            format!(
                "{} {kind} cluster{plural} ({})",
                names.len(),
                shown.join(", ")
            )
        };
        let parts: Vec<String> = [("prov", &self.prov), ("fleet", &self.fleet)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(kind, names)| part(kind, names))
            .collect();
        parts.join(" and ")
    }
}

/// What deleting a managed workspace does (W7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionPlan {
    /// Delete the namespace, then let the workspace go.
    DeleteNamespace,
    /// Keep the workspace (and its finalizer): the namespace still holds clusters.
    Wait(Occupants),
    /// Let the workspace go; the namespace is absent, already going, or not drover's to delete.
    Release,
}

pub fn plan_deletion(
    ws: &FleetWorkspace,
    namespace: Option<&ObjectMeta>,
    occupants: Occupants,
    mode: WorkspaceDeletion,
) -> DeletionPlan {
    let Some(namespace) = namespace else {
        return DeletionPlan::Release;
    };
    if namespace.deletion_timestamp.is_some() || !namespace_was_created_for(namespace, ws) {
        return DeletionPlan::Release;
    }
    match mode {
        WorkspaceDeletion::Protect if !occupants.is_empty() => DeletionPlan::Wait(occupants),
        _ => DeletionPlan::DeleteNamespace,
    }
}

/// Whether the workspace of that name is one drover keeps alive itself (W3); back-population
/// leaves those alone.
pub fn is_default_workspace(name: &str, default_workspace: &str) -> bool {
    name == default_workspace || name == LOCAL_WORKSPACE
}

/// The default workspace (W3): managed, so it gets its namespace. Only the name is applied, so
/// annotations an admin put on it stay theirs.
pub fn default_workspace(name: &str) -> FleetWorkspace {
    FleetWorkspace::new(name)
}

/// The local workspace (W3): unmanaged, because its namespace exists on its own.
pub fn local_workspace() -> FleetWorkspace {
    let mut ws = FleetWorkspace::new(LOCAL_WORKSPACE);
    ws.metadata.annotations = Some(BTreeMap::from([(
        annotations::MANAGED.into(),
        "false".into(),
    )]));
    ws
}

/// The local cluster's namespace (W3), labelled as Rancher labels the namespaces it manages.
pub fn local_namespace() -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(LOCAL_WORKSPACE.into()),
            labels: Some(BTreeMap::from([(
                labels::MANAGED_BY.into(),
                labels::MANAGED_BY_RANCHER.into(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The unmanaged workspace for a namespace that holds clusters but has no workspace (W4),
/// owned by the namespace so that deleting the namespace removes it (and deleting the workspace
/// keeps the namespace). `None` when there is nothing to create.
pub fn backpopulated_workspace(
    namespace: &ObjectMeta,
    workspace_exists: bool,
    holds_clusters: bool,
    default_workspace: &str,
) -> Option<FleetWorkspace> {
    let name = namespace.name.as_deref()?;
    let uid = namespace.uid.as_deref()?;
    if workspace_exists
        || !holds_clusters
        || namespace.deletion_timestamp.is_some()
        || is_default_workspace(name, default_workspace)
    {
        return None;
    }
    let owner = Namespace {
        metadata: namespace.clone(),
        ..Namespace::default()
    };
    let mut annotations = OwnerMarks::of(&owner).annotations();
    annotations.insert(annotations::MANAGED.into(), "false".into());
    let mut ws = FleetWorkspace::new(name);
    ws.metadata.annotations = Some(annotations);
    ws.metadata.owner_references = Some(vec![OwnerReference {
        api_version: Namespace::api_version(&()).into(),
        kind: Namespace::kind(&()).into(),
        name: name.into(),
        uid: uid.into(),
        controller: None,
        // The workspace must never hold up the namespace's deletion.
        block_owner_deletion: Some(false),
    }]);
    Some(ws)
}

#[path = "workspace_report.rs"]
mod report;
pub use report::*;

#[cfg(test)]
#[path = "workspace_tests.rs"]
mod tests;
