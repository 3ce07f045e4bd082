//! What `drover inspect` found, and how it is printed.

use std::fmt;

use serde::Serialize;

/// The kinds `drover inspect` reads.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `clusters.provisioning.cattle.io`
    Prov,
    /// `clusters.management.cattle.io`
    Mgmt,
    /// `clusters.fleet.cattle.io`
    Fleet,
    /// `fleetworkspaces.management.cattle.io`
    Workspace,
    Namespace,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prov => "prov cluster",
            Self::Mgmt => "mgmt cluster",
            Self::Fleet => "fleet cluster",
            Self::Workspace => "workspace",
            Self::Namespace => "namespace",
        })
    }
}

/// One object, by kind, namespace (namespaced kinds only) and name.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn path(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.path())
    }
}

/// What kind of inconsistency was found.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// An object lacks a counterpart that spec.md says must exist.
    MissingCounterpart,
    /// An object carries ownership marks (drover's or Rancher's) whose owner is gone, or a
    /// label naming a mgmt cluster that does not exist.
    Orphan,
    /// Two objects claim the same counterpart.
    DuplicateClaim,
    /// An object that should no longer exist where it is (left behind by a move, or a fleet
    /// cluster for a cluster that no longer qualifies).
    Stale,
    /// A deletion waits on finalizers.
    FinalizerHoldsDeletion,
    /// A managed workspace whose namespace exists but was not created by drover, so drover
    /// refused to adopt it (spec W6).
    NamespaceNotAdopted,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingCounterpart => "missing counterpart",
            Self::Orphan => "orphan",
            Self::DuplicateClaim => "duplicate claim",
            Self::Stale => "stale",
            Self::FinalizerHoldsDeletion => "finalizer holds deletion",
            Self::NamespaceNotAdopted => "namespace not adopted",
        })
    }
}

/// One problem, on one object.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub object: ObjectRef,
    pub message: String,
}

/// One cluster: its three objects (any may be missing) and its state.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterRow {
    pub workspace: Option<String>,
    pub prov: Option<ObjectRef>,
    pub mgmt: Option<ObjectRef>,
    pub fleet: Option<ObjectRef>,
    pub state: String,
}

/// One workspace, its namespace and its state.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceRow {
    pub name: String,
    /// False when annotated `provisioning.cattle.io/managed: "false"`.
    pub managed: bool,
    /// The namespace of the same name, when it exists.
    pub namespace: Option<String>,
    pub state: String,
}

/// Everything `drover inspect` found.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// True when no problem was found.
    pub consistent: bool,
    pub clusters: Vec<ClusterRow>,
    pub workspaces: Vec<WorkspaceRow>,
    pub problems: Vec<Problem>,
}

impl Report {
    /// The report as a plain-text table, for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let cluster_rows: Vec<[String; 5]> = self
            .clusters
            .iter()
            .map(|r| {
                [
                    r.workspace.clone().unwrap_or_else(|| "-".into()),
                    r.prov.as_ref().map_or_else(|| "-".into(), ObjectRef::path),
                    r.mgmt.as_ref().map_or_else(|| "-".into(), ObjectRef::path),
                    r.fleet.as_ref().map_or_else(|| "-".into(), ObjectRef::path),
                    r.state.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            ["WORKSPACE", "PROV", "MGMT", "FLEET", "STATE"],
            &cluster_rows,
        ));
        out.push('\n');
        let workspace_rows: Vec<[String; 4]> = self
            .workspaces
            .iter()
            .map(|w| {
                [
                    w.name.clone(),
                    if w.managed { "yes" } else { "no" }.into(),
                    w.namespace.clone().unwrap_or_else(|| "-".into()),
                    w.state.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            ["WORKSPACE", "MANAGED", "NAMESPACE", "STATE"],
            &workspace_rows,
        ));
        out.push('\n');
        if self.problems.is_empty() {
            out.push_str("All consistent.\n");
        } else {
            out.push_str(&format!("{} problem(s):\n", self.problems.len()));
            for p in &self.problems {
                out.push_str(&format!("- [{}] {}: {}\n", p.kind, p.object, p.message));
            }
        }
        out
    }
}

/// Left-aligned columns separated by three spaces, like kubectl prints.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}   "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
