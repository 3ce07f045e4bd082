//! Workspace rows, and namespaces that hold clusters but have no workspace.

use std::collections::BTreeSet;

use super::{Findings, Index, is_managed, name, namespace_not_adopted, object_ref};
use crate::consts::{annotations, labels};
use crate::inspect::report::{Kind, ProblemKind, WorkspaceRow};
use crate::mapping::workspace::NotAdopted;

/// A namespace holding prov or fleet clusters gets an unmanaged workspace (spec W4).
pub(super) fn back_population(index: &Index<'_>, found: &mut Findings) {
    let holding: BTreeSet<&str> = index
        .provs
        .keys()
        .chain(index.fleets.keys())
        .map(|(ns, _)| ns.as_str())
        .collect();
    for ns in holding {
        if index.workspaces.contains_key(ns) {
            continue;
        }
        if let Some(meta) = index.namespaces.get(ns)
            && found.expects_counterparts(Kind::Namespace, meta)
        {
            found.report(
                ProblemKind::MissingCounterpart,
                object_ref(Kind::Namespace, meta),
                "it holds clusters but there is no FleetWorkspace of that name".to_string(),
            );
        }
    }
}

pub(super) fn rows(index: &Index<'_>, found: &mut Findings) -> Vec<WorkspaceRow> {
    let mut rows = Vec::new();
    for (ws_name, workspace) in &index.workspaces {
        let managed = is_managed(workspace);
        let namespace = index.namespaces.get(ws_name.as_str());
        let mut state = if managed { "ok" } else { "unmanaged" }.to_string();
        if managed && found.expects_counterparts(Kind::Workspace, &workspace.metadata) {
            let object = object_ref(Kind::Workspace, &workspace.metadata);
            match namespace {
                None => {
                    state = "no namespace".into();
                    found.report(
                        ProblemKind::MissingCounterpart,
                        object,
                        format!("managed workspace has no namespace {ws_name}"),
                    );
                }
                Some(ns) => match namespace_not_adopted(ns, workspace) {
                    Some(NotAdopted::Foreign) => found.report(
                        ProblemKind::NamespaceNotAdopted,
                        object,
                        format!(
                            "namespace {ws_name} exists and was not created by drover (no \
                             ownership marks naming this workspace, no label {}={}, no \
                             annotation {}=\"true\"): drover leaves it alone",
                            labels::MANAGED_BY,
                            labels::MANAGED_BY_RANCHER,
                            annotations::ALLOW_EXISTING_NAMESPACE
                        ),
                    ),
                    Some(NotAdopted::EarlierWorkspace { uid }) => found.report(
                        ProblemKind::NamespaceNotAdopted,
                        object,
                        format!(
                            "namespace {ws_name} was created for an earlier workspace of this \
                             name (UID {uid}) and is not handed to this one without annotation \
                             {}=\"true\": drover leaves it alone",
                            annotations::ALLOW_EXISTING_NAMESPACE
                        ),
                    ),
                    None => {}
                },
            }
        }
        rows.push(WorkspaceRow {
            name: ws_name.clone(),
            managed,
            namespace: namespace.map(|n| name(n)),
            state,
        });
    }
    rows
}
