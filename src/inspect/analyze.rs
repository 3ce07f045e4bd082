//! The pure part of `drover inspect`: from listed objects to a [`Report`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::report::{Kind, ObjectRef, Problem, ProblemKind, Report};
use crate::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use crate::mapping::cluster::{NameSource, chosen_mgmt_name};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::workspace::{NamespacePlan, NotAdopted, is_managed, plan_namespace};

mod clusters;
mod workspaces;

type Key = (String, String);

/// Everything the analysis looks objects up in, by name.
struct Index<'a> {
    provs: BTreeMap<Key, &'a ProvCluster>,
    mgmts: BTreeMap<String, &'a MgmtCluster>,
    fleets: BTreeMap<Key, &'a FleetCluster>,
    workspaces: BTreeMap<String, &'a FleetWorkspace>,
    namespaces: BTreeMap<String, &'a ObjectMeta>,
    /// Where an externally managed legacy cluster without a workspace has its prov cluster.
    default_workspace: &'a str,
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn key(meta: &ObjectMeta) -> Key {
    (meta.namespace.clone().unwrap_or_default(), name(meta))
}

fn object_ref(kind: Kind, meta: &ObjectMeta) -> ObjectRef {
    ObjectRef::new(kind, meta.namespace.as_deref(), &name(meta))
}

fn prov_ref((ns, n): &Key) -> ObjectRef {
    ObjectRef::new(Kind::Prov, Some(ns), n)
}

fn fleet_ref((ns, n): &Key) -> ObjectRef {
    ObjectRef::new(Kind::Fleet, Some(ns), n)
}

fn mgmt_ref(n: &str) -> ObjectRef {
    ObjectRef::new(Kind::Mgmt, None, n)
}

fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// What the analysis found so far.
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
    /// Objects reported as orphans: their missing counterparts are not reported again.
    orphans: BTreeSet<ObjectRef>,
}

impl Findings {
    fn report(&mut self, kind: ProblemKind, object: ObjectRef, message: String) {
        let duplicate = self
            .problems
            .iter()
            .any(|p| p.kind == kind && p.object == object);
        if !duplicate {
            self.problems.push(Problem {
                kind,
                object,
                message,
            });
        }
    }

    /// Whether counterparts are expected of this object: not while it is being deleted, and
    /// not when it is already reported as an orphan.
    fn expects_counterparts(&self, kind: Kind, meta: &ObjectMeta) -> bool {
        !is_deleting(meta) && !self.orphans.contains(&object_ref(kind, meta))
    }
}

impl Index<'_> {
    fn finalizers(&self, f: &mut Findings, kind: Kind, meta: &ObjectMeta) {
        let finalizers = meta.finalizers.as_deref().unwrap_or_default();
        if is_deleting(meta) && !finalizers.is_empty() {
            f.report(
                ProblemKind::FinalizerHoldsDeletion,
                object_ref(kind, meta),
                format!(
                    "deletion was requested but finalizer(s) {} still hold it",
                    finalizers.join(", ")
                ),
            );
        }
    }

    /// Resolves the owner named by an object's ownership marks; reports the object as an
    /// orphan when that owner is gone or was re-created (different UID). Owners of kinds that
    /// `drover inspect` does not read are not judged.
    fn ownership(&self, f: &mut Findings, kind: Kind, meta: &ObjectMeta) {
        let Some(marks) = OwnerMarks::read(meta.annotations.as_ref()) else {
            return;
        };
        let owner_key = (marks.namespace.clone(), marks.name.clone());
        let (owner_kind, owner_meta) = if marks.name_kind::<ProvCluster>() {
            (Kind::Prov, self.provs.get(&owner_key).map(|p| &p.metadata))
        } else if marks.name_kind::<MgmtCluster>() {
            (Kind::Mgmt, self.mgmts.get(&marks.name).map(|m| &m.metadata))
        } else if marks.name_kind::<FleetCluster>() {
            (
                Kind::Fleet,
                self.fleets.get(&owner_key).map(|f| &f.metadata),
            )
        } else if marks.name_kind::<FleetWorkspace>() {
            let owner = self.workspaces.get(&marks.name);
            (Kind::Workspace, owner.map(|w| &w.metadata))
        } else if marks.name_kind::<Namespace>() {
            let owner = self.namespaces.get(&marks.name).copied();
            (Kind::Namespace, owner)
        } else {
            return;
        };
        let namespace = Some(marks.namespace.as_str()).filter(|ns| !ns.is_empty());
        let owner = ObjectRef::new(owner_kind, namespace, &marks.name);
        let message = match owner_meta {
            None => format!("its owner {owner} (ownership annotations) no longer exists"),
            Some(m) if !marks.uid.is_empty() && m.uid.as_deref() != Some(marks.uid.as_str()) => {
                format!(
                    "its owner {owner} was deleted and re-created: the marks name UID {}, the \
                     object now has UID {}",
                    marks.uid,
                    m.uid.as_deref().unwrap_or("-")
                )
            }
            Some(_) => return,
        };
        let object = object_ref(kind, meta);
        f.orphans.insert(object.clone());
        f.report(ProblemKind::Orphan, object, message);
    }
}

/// The mgmt cluster a prov cluster pairs with by the controllers' own rule, once that is
/// settled: for a legacy name (the prov representation of a legacy mgmt cluster) the mgmt
/// cluster of the same name, else its `status.clusterName`. A name only annotated or derived,
/// and not recorded yet, claims nothing.
fn claimed_mgmt(prov: &ProvCluster) -> Option<String> {
    match chosen_mgmt_name(prov)? {
        (name, NameSource::Legacy | NameSource::Recorded) => Some(name),
        (_, NameSource::Annotated | NameSource::Generated) => None,
    }
}

/// Why a managed workspace's existing namespace is not drover's to take (spec W6), if it is not:
/// the controller's own decision.
fn namespace_not_adopted(namespace: &ObjectMeta, workspace: &FleetWorkspace) -> Option<NotAdopted> {
    match plan_namespace(workspace, Some(namespace)) {
        NamespacePlan::NotAdopted(why) => Some(why),
        NamespacePlan::Apply(_) | NamespacePlan::Terminating => None,
    }
}

/// Analyzes the listed objects. `namespaces` are metadata only; `default_workspace` is the
/// controllers' `--default-workspace`.
pub fn analyze(
    provs: &[ProvCluster],
    mgmts: &[MgmtCluster],
    fleets: &[FleetCluster],
    workspaces: &[FleetWorkspace],
    namespaces: &[ObjectMeta],
    default_workspace: &str,
) -> Report {
    let index = Index {
        provs: provs.iter().map(|p| (key(&p.metadata), p)).collect(),
        mgmts: mgmts.iter().map(|m| (name(&m.metadata), m)).collect(),
        fleets: fleets.iter().map(|f| (key(&f.metadata), f)).collect(),
        workspaces: workspaces.iter().map(|w| (name(&w.metadata), w)).collect(),
        namespaces: namespaces.iter().map(|n| (name(n), n)).collect(),
        default_workspace,
    };
    let mut found = Findings::default();
    let every_object = provs
        .iter()
        .map(|p| (Kind::Prov, &p.metadata))
        .chain(mgmts.iter().map(|m| (Kind::Mgmt, &m.metadata)))
        .chain(fleets.iter().map(|f| (Kind::Fleet, &f.metadata)))
        .chain(workspaces.iter().map(|w| (Kind::Workspace, &w.metadata)))
        .chain(namespaces.iter().map(|n| (Kind::Namespace, n)));
    for (kind, meta) in every_object {
        index.finalizers(&mut found, kind, meta);
        index.ownership(&mut found, kind, meta);
    }

    let mut cluster_rows = clusters::rows(&index, &mut found);
    workspaces::back_population(&index, &mut found);
    let mut workspace_rows = workspaces::rows(&index, &mut found);

    let mut problems = found.problems;
    problems.sort_by(|x, y| (&x.object, x.kind).cmp(&(&y.object, y.kind)));
    for row in &mut cluster_rows {
        let objects = [&row.prov, &row.mgmt, &row.fleet];
        if let Some(state) = problem_state(&problems, |o| objects.contains(&&Some(o.clone()))) {
            row.state = state;
        }
    }
    for row in &mut workspace_rows {
        let ws = ObjectRef::new(Kind::Workspace, None, &row.name);
        let ns = ObjectRef::new(Kind::Namespace, None, &row.name);
        if let Some(state) = problem_state(&problems, |o| *o == ws || *o == ns) {
            row.state = state;
        }
    }
    cluster_rows.sort_by(|x, y| {
        (&x.workspace, &x.prov, &x.mgmt, &x.fleet).cmp(&(&y.workspace, &y.prov, &y.mgmt, &y.fleet))
    });
    Report {
        consistent: problems.is_empty(),
        clusters: cluster_rows,
        workspaces: workspace_rows,
        problems,
    }
}

/// The distinct kinds of the problems on the matching objects, or `None` when there are none.
fn problem_state(problems: &[Problem], on: impl Fn(&ObjectRef) -> bool) -> Option<String> {
    let kinds: BTreeSet<ProblemKind> = problems
        .iter()
        .filter(|p| on(&p.object))
        .map(|p| p.kind)
        .collect();
    (!kinds.is_empty()).then(|| {
        kinds
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    })
}
