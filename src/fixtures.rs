//! Builders for the objects unit tests start from, in the manner of kube-rs `controller-rs`: a
//! constructor gives the bare object a test needs (name, namespace, a fixed UID), and `with_*`
//! methods add only what one test is about, so a test reads as the situation it sets up:
//!
//! ```ignore
//! let p = prov("fleet-default", "prod").recorded("c-m-abcdefgh");
//! let m = mgmt("c-m-abcdefgh")
//!     .in_workspace("fleet-default")
//!     .with_conditions(vec![condition("Ready", "True")]);
//! ```
//!
//! Cluster UIDs are fixed per kind on purpose: tests about names and ownership must not pass
//! only because two objects happen to differ in UID. Tests that need distinct UIDs set them.

use std::collections::BTreeMap;

use kube::Resource;
use kube::api::ObjectMeta;

use crate::api::{
    Condition, FleetCluster, FleetClusterSpec, FleetWorkspace, MgmtCluster, MgmtClusterSpec,
    MgmtClusterStatus, ProvCluster, ProvClusterSpec, ProvClusterStatus,
};
use crate::consts::{annotations, labels};
use crate::mapping::meta::OwnerMarks;

/// The UID of every prov cluster built here unless a test sets another.
pub const PROV_UID: &str = "6c1f6d0c-3f0e-4a53-9d1c-1f2b3c4d5e6f";
/// The UID of every mgmt cluster built here unless a test sets another.
pub const MGMT_UID: &str = "0b7e2f7a-55aa-4c1e-8e0b-9a8f7e6d5c4b";
/// The UID of every Fleet cluster built here unless a test sets another.
pub const FLEET_UID: &str = "fleet-uid";

/// A label or annotation map from literal pairs.
pub fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A condition of `type_` with `status` and nothing else.
pub fn condition(type_: &str, status: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        ..Condition::default()
    }
}

/// The marks Rancher writes on the children it creates for `owner`: its objectset keys and no
/// UID (drover's own children carry the owner's UID as well).
pub fn rancher_marks<K: Resource<DynamicType = ()>>(owner: &K) -> BTreeMap<String, String> {
    let mut marks = OwnerMarks::of(owner).annotations();
    marks.remove(annotations::OWNER_UID);
    marks
}

/// An imported prov cluster `namespace/name` (no `rkeConfig`) with no status yet.
pub fn prov(namespace: &str, name: &str) -> ProvCluster {
    ProvCluster {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(PROV_UID.into()),
            ..ObjectMeta::default()
        },
        spec: ProvClusterSpec::default(),
        status: None,
    }
}

impl ProvCluster {
    pub fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }

    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }

    /// Replaces the whole status.
    pub fn with_status(mut self, status: ProvClusterStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The status records the mgmt cluster `cluster_name` (`status.clusterName`).
    pub fn recorded(mut self, cluster_name: &str) -> Self {
        self.status.get_or_insert_default().cluster_name = Some(cluster_name.into());
        self
    }

    /// The status names the kubeconfig secret `secret` (`status.clientSecretName`).
    pub fn with_client_secret(mut self, secret: &str) -> Self {
        self.status.get_or_insert_default().client_secret_name = Some(secret.into());
        self
    }

    /// What qualifies a prov cluster for a Fleet cluster: the mgmt cluster `cluster_name`
    /// recorded, its kubeconfig secret `<name>-kubeconfig` known, and ready.
    pub fn ready_as(self, cluster_name: &str) -> Self {
        let secret = format!("{}-kubeconfig", self.metadata.name.as_deref().unwrap_or(""));
        let mut p = self.recorded(cluster_name).with_client_secret(&secret);
        p.status.get_or_insert_default().ready = Some(true);
        p
    }
}

/// A mgmt cluster `name` with an empty spec (no workspace) and no status.
pub fn mgmt(name: &str) -> MgmtCluster {
    MgmtCluster {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(MGMT_UID.into()),
            ..ObjectMeta::default()
        },
        spec: MgmtClusterSpec::default(),
        status: None,
    }
}

impl MgmtCluster {
    pub fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }

    /// `spec.fleetWorkspaceName` set to `workspace`.
    pub fn in_workspace(self, workspace: &str) -> Self {
        self.with_workspace(Some(workspace))
    }

    /// `spec.fleetWorkspaceName` set to `workspace` or left out.
    pub fn with_workspace(mut self, workspace: Option<&str>) -> Self {
        self.spec.fleet_workspace_name = workspace.map(Into::into);
        self
    }

    pub fn with_display_name(mut self, display_name: &str) -> Self {
        self.spec.display_name = Some(display_name.into());
        self
    }

    /// `spec.internal` set, as Rancher sets it on every cluster (`true` only on `local`).
    pub fn internal(mut self, internal: bool) -> Self {
        self.spec.internal = Some(internal);
        self
    }

    pub fn with_annotations(mut self, annotations: BTreeMap<String, String>) -> Self {
        self.metadata.annotations = Some(annotations);
        self
    }

    /// Replaces the status with exactly these conditions.
    pub fn with_conditions(mut self, conditions: Vec<Condition>) -> Self {
        self.status = Some(MgmtClusterStatus {
            conditions: Some(conditions),
        });
        self
    }
}

/// A Fleet cluster `namespace/name` with an empty spec and no status.
pub fn fleet(namespace: &str, name: &str) -> FleetCluster {
    FleetCluster {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(FLEET_UID.into()),
            ..ObjectMeta::default()
        },
        spec: FleetClusterSpec::default(),
        status: None,
    }
}

impl FleetCluster {
    /// Labelled with the mgmt cluster it stands for, as Rancher and drover label it.
    pub fn for_mgmt(mut self, mgmt_name: &str) -> Self {
        self.metadata
            .labels
            .get_or_insert_default()
            .insert(labels::CLUSTER_NAME.into(), mgmt_name.into());
        self
    }
}

/// A workspace `name` (managed: no annotation says otherwise) with the UID `uid-<name>`.
pub fn workspace(name: &str) -> FleetWorkspace {
    FleetWorkspace::new(name).with_uid(&format!("uid-{name}"))
}

impl FleetWorkspace {
    pub fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }

    pub fn with_annotations(mut self, annotations: BTreeMap<String, String>) -> Self {
        self.metadata.annotations = Some(annotations);
        self
    }
}
