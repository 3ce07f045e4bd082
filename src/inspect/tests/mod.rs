//! Unit tests of `drover inspect`'s analysis, on literal objects: fixtures here, cases in
//! `clusters` and `workspaces`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;

use super::*;
use crate::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster, ProvClusterStatus};
use crate::fixtures::{condition, fleet, mgmt, prov, string_map, workspace};
use crate::mapping::meta::OwnerMarks;

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        uid: Some(format!("uid-{}-{name}", namespace.unwrap_or("_"))),
        ..ObjectMeta::default()
    }
}

/// `object` with a UID of its own, derived from its namespace and name, as the API server gives
/// every object one: the audit tells objects apart by UID.
fn distinct<K: Resource<DynamicType = ()>>(mut object: K) -> K {
    let meta = object.meta_mut();
    meta.uid = Some(format!(
        "uid-{}-{}",
        meta.namespace.as_deref().unwrap_or("_"),
        meta.name.as_deref().unwrap_or_default()
    ));
    object
}

fn unmanaged_workspace(name: &str) -> FleetWorkspace {
    let mut w = distinct(workspace(name));
    w.metadata.annotations = Some(BTreeMap::from([(
        "provisioning.cattle.io/managed".to_string(),
        "false".to_string(),
    )]));
    w
}

fn namespace(name: &str) -> ObjectMeta {
    meta(None, name)
}

/// Marks `child` as created for `owner`, as drover does.
fn owned_by<K: Resource<DynamicType = ()>>(mut child: ObjectMeta, owner: &K) -> ObjectMeta {
    child
        .annotations
        .get_or_insert_default()
        .extend(OwnerMarks::of(owner).annotations());
    child
}

fn namespace_of(ws: &FleetWorkspace) -> ObjectMeta {
    owned_by(
        namespace(ws.metadata.name.as_deref().unwrap_or_default()),
        ws,
    )
}

fn deleting(mut m: ObjectMeta, finalizers: &[&str]) -> ObjectMeta {
    m.deletion_timestamp = Some(Time(Default::default()));
    m.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    m
}

/// A converged estate: a provisioned cluster, an imported legacy cluster that is not ready
/// yet, and the local cluster.
struct Estate {
    provs: Vec<ProvCluster>,
    mgmts: Vec<MgmtCluster>,
    fleets: Vec<FleetCluster>,
    workspaces: Vec<FleetWorkspace>,
    namespaces: Vec<ObjectMeta>,
}

impl Estate {
    fn converged() -> Self {
        let prod = distinct(
            prov("fleet-default", "prod")
                .recorded("c-m-bcdfghjk")
                .with_client_secret("prod-kubeconfig"),
        );
        let mut prod_mgmt = distinct(
            mgmt("c-m-bcdfghjk")
                .in_workspace("fleet-default")
                .with_conditions(vec![condition("Ready", "True")]),
        );
        prod_mgmt.metadata = owned_by(prod_mgmt.metadata.clone(), &prod);
        let legacy_mgmt = distinct(
            mgmt("c-ab12c")
                .in_workspace("fleet-default")
                .with_conditions(vec![condition("Ready", "False")]),
        );
        let mut legacy = distinct(prov("fleet-default", "c-ab12c").recorded("c-ab12c"));
        legacy.metadata = owned_by(legacy.metadata.clone(), &legacy_mgmt);
        let local_mgmt = distinct(
            mgmt("local")
                .in_workspace("fleet-local")
                .with_conditions(vec![condition("Ready", "True")]),
        );
        let mut local = distinct(
            prov("fleet-local", "local")
                .recorded("local")
                .with_client_secret("local-kubeconfig"),
        );
        local.metadata = owned_by(local.metadata.clone(), &local_mgmt);
        let default_ws = distinct(workspace("fleet-default"));
        let mut fleet_local_ns = namespace("fleet-local");
        fleet_local_ns.labels = Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            "rancher".to_string(),
        )]));
        Self {
            provs: vec![prod, legacy, local],
            mgmts: vec![prod_mgmt, legacy_mgmt, local_mgmt],
            fleets: vec![
                distinct(fleet("fleet-default", "prod").for_mgmt("c-m-bcdfghjk")),
                distinct(fleet("fleet-local", "local").for_mgmt("local")),
            ],
            namespaces: vec![namespace_of(&default_ws), fleet_local_ns],
            workspaces: vec![default_ws, unmanaged_workspace("fleet-local")],
        }
    }

    fn analyze(&self) -> Report {
        analyze(
            &self.provs,
            &self.mgmts,
            &self.fleets,
            &self.workspaces,
            &self.namespaces,
            crate::consts::DEFAULT_WORKSPACE,
        )
    }

    fn prov_mut(&mut self, ns: &str, name: &str) -> &mut ProvCluster {
        self.provs
            .iter_mut()
            .find(|p| {
                p.metadata.namespace.as_deref() == Some(ns)
                    && p.metadata.name.as_deref() == Some(name)
            })
            .expect("prov cluster in the estate")
    }

    fn mgmt_mut(&mut self, name: &str) -> &mut MgmtCluster {
        self.mgmts
            .iter_mut()
            .find(|m| m.metadata.name.as_deref() == Some(name))
            .expect("mgmt cluster in the estate")
    }

    fn remove_prov(&mut self, name: &str) {
        self.provs
            .retain(|p| p.metadata.name.as_deref() != Some(name));
    }

    fn remove_mgmt(&mut self, name: &str) {
        self.mgmts
            .retain(|m| m.metadata.name.as_deref() != Some(name));
    }

    fn remove_fleet(&mut self, name: &str) {
        self.fleets
            .retain(|f| f.metadata.name.as_deref() != Some(name));
    }
}

/// The problems as `(kind, object)` pairs, for compact assertions.
fn problems(report: &Report) -> Vec<(ProblemKind, String)> {
    report
        .problems
        .iter()
        .map(|p| (p.kind, p.object.to_string()))
        .collect()
}

fn row<'r>(report: &'r Report, prov_path: &str) -> &'r ClusterRow {
    report
        .clusters
        .iter()
        .find(|r| r.prov.as_ref().map(ObjectRef::path).as_deref() == Some(prov_path))
        .expect("row of that prov cluster")
}

mod clusters;
mod workspaces;
