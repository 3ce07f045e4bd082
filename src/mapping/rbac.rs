//! Creator RBAC (spec W5): what a managed workspace's creator is granted, under Rancher's names
//! so that bindings Rancher made before drover took over are recognised and updated in place.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::FleetWorkspace;
use crate::consts::{labels, roles};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::workspace::{creator, is_managed};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// "All verbs" on the creator's own workspace, spelled out. Rancher writes `*`, but the API
/// server lets drover create a role only with permissions drover holds itself (short of the
/// `escalate` verb), and the chart grants drover exactly these on workspaces. The custom
/// `fleetaddcluster` verb is the one that matters beyond the standard ones: moving a cluster into
/// the workspace requires it. A Rancher-made role with `*` is replaced by this list.
pub const OWN_WORKSPACE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "fleetaddcluster",
];

/// `fleetworkspace-admin-binding-<ws>`, in namespace `<ws>`.
pub fn role_binding_name(workspace: &str) -> String {
    format!("fleetworkspace-admin-binding-{workspace}")
}

/// `fleetworkspace-own-<ws>`.
pub fn cluster_role_name(workspace: &str) -> String {
    format!("fleetworkspace-own-{workspace}")
}

/// `fleetworkspace-own-binding-<ws>`.
pub fn cluster_role_binding_name(workspace: &str) -> String {
    format!("fleetworkspace-own-binding-{workspace}")
}

/// The three objects a creator gets.
#[derive(Clone, Debug, PartialEq)]
pub struct CreatorRbac {
    pub role_binding: RoleBinding,
    pub cluster_role: ClusterRole,
    pub cluster_role_binding: ClusterRoleBinding,
}

fn meta(ws: &FleetWorkspace, name: String, namespace: Option<&str>) -> ObjectMeta {
    let workspace = ws.metadata.name.clone().unwrap_or_default();
    ObjectMeta {
        name: Some(name),
        namespace: namespace.map(str::to_string),
        // Workspace names are namespace names, hence valid label values. The label is what
        // drover's RBAC watches select on.
        labels: Some(BTreeMap::from([(labels::WORKSPACE.into(), workspace)])),
        annotations: Some(OwnerMarks::of(ws).annotations()),
        ..ObjectMeta::default()
    }
}

fn user(name: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "User".into(),
        api_group: Some(RBAC_GROUP.into()),
        name: name.into(),
        namespace: None,
    }]
}

fn cluster_role_ref(name: String) -> RoleRef {
    RoleRef {
        api_group: Some(RBAC_GROUP.into()),
        kind: "ClusterRole".into(),
        name,
    }
}

/// The creator RBAC a workspace wants: `None` for unmanaged workspaces and workspaces without a
/// creator, whose RBAC (if any) must go.
pub fn desired_rbac(ws: &FleetWorkspace) -> Option<CreatorRbac> {
    if !is_managed(ws) {
        return None;
    }
    let creator = creator(ws)?;
    let workspace = ws.metadata.name.as_deref()?;
    Some(CreatorRbac {
        role_binding: RoleBinding {
            metadata: meta(ws, role_binding_name(workspace), Some(workspace)),
            role_ref: cluster_role_ref(roles::WORKSPACE_ADMIN.into()),
            subjects: Some(user(creator)),
        },
        cluster_role: ClusterRole {
            metadata: meta(ws, cluster_role_name(workspace), None),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec!["management.cattle.io".into()]),
                resources: Some(vec!["fleetworkspaces".into()]),
                resource_names: Some(vec![workspace.into()]),
                verbs: OWN_WORKSPACE_VERBS.iter().map(|v| v.to_string()).collect(),
                non_resource_urls: None,
            }]),
            aggregation_rule: None,
        },
        cluster_role_binding: ClusterRoleBinding {
            metadata: meta(ws, cluster_role_binding_name(workspace), None),
            role_ref: cluster_role_ref(cluster_role_name(workspace)),
            subjects: Some(user(creator)),
        },
    })
}

/// Whether an existing object of a W5 name is creator RBAC made for a workspace of this name
/// (by drover, or by Rancher before it): its ownership marks say so. Anything else under these
/// names is someone else's, never overwritten and never deleted.
///
/// The owner's UID is not compared: grants made for an earlier workspace of the same name are
/// drover's own leftovers, and replacing or removing them revokes what that earlier creator was
/// given, instead of leaving it behind.
pub fn is_creator_rbac_for(meta: &ObjectMeta, ws: &FleetWorkspace) -> bool {
    let Some(workspace) = ws.metadata.name.as_deref() else {
        return false;
    };
    OwnerMarks::read(meta.annotations.as_ref())
        .is_some_and(|m| m.name_namesake::<FleetWorkspace>(workspace) && m.namespace.is_empty())
}

/// Whether an RBAC object is drover's creator RBAC for the workspace of that name: labelled for
/// it (what drover's watches select) and marked as made for it ([`is_creator_rbac_for`]).
pub fn belongs_to(meta: &ObjectMeta, ws: &FleetWorkspace) -> bool {
    let Some(workspace) = ws.metadata.name.as_deref() else {
        return false;
    };
    let labelled = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::WORKSPACE))
        .is_some_and(|v| v == workspace);
    labelled && is_creator_rbac_for(meta, ws)
}

#[cfg(test)]
#[path = "rbac_tests.rs"]
mod tests;
