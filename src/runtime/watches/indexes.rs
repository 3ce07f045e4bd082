//! The relations reconciles look up, as indexes over the prov and Fleet cluster caches: which
//! prov clusters name a mgmt cluster, record a workspace, carry a name, live in a namespace or
//! name an owner; which Fleet clusters carry a name or live in a namespace.

use kube::ResourceExt;

use crate::api::{FleetCluster, ProvCluster};
use crate::mapping::cluster::mgmt_name_for;
use crate::mapping::meta::OwnerMarks;

use super::index::Index;

/// What prov clusters are found by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProvKey {
    /// The mgmt cluster it recorded or asks for.
    MgmtName(String),
    /// `status.fleetWorkspaceName`.
    RecordedWorkspace(String),
    /// Its name, in any namespace.
    Name(String),
    Namespace(String),
    /// The name of the owner its ownership marks name (the mgmt cluster of a legacy copy).
    Owner(String),
}

/// What Fleet clusters are found by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FleetKey {
    /// Its name, in any namespace.
    Name(String),
    Namespace(String),
}

fn prov_keys(prov: &ProvCluster) -> Vec<ProvKey> {
    let mut keys = vec![ProvKey::Name(prov.name_any())];
    keys.extend(prov.namespace().map(ProvKey::Namespace));
    keys.extend(mgmt_name_for(prov).map(ProvKey::MgmtName));
    keys.extend(
        prov.status
            .as_ref()
            .and_then(|s| s.fleet_workspace_name.clone())
            .map(ProvKey::RecordedWorkspace),
    );
    keys.extend(
        OwnerMarks::read(prov.metadata.annotations.as_ref()).map(|m| ProvKey::Owner(m.name)),
    );
    keys
}

fn fleet_keys(fleet: &FleetCluster) -> Vec<FleetKey> {
    let mut keys = vec![FleetKey::Name(fleet.name_any())];
    keys.extend(fleet.namespace().map(FleetKey::Namespace));
    keys
}

/// The indexes, fed by the watches of their kinds.
#[derive(Clone)]
pub struct Indexes {
    pub prov: Index<ProvCluster, ProvKey>,
    pub fleet: Index<FleetCluster, FleetKey>,
}

impl Default for Indexes {
    fn default() -> Self {
        Self {
            prov: Index::new(prov_keys),
            fleet: Index::new(fleet_keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ProvClusterStatus;

    #[test]
    fn a_prov_cluster_is_found_by_its_mgmt_name_workspace_name_and_namespace() {
        let mut prov = ProvCluster::new("dev", Default::default());
        prov.metadata.namespace = Some("fleet-default".into());
        prov.status = Some(ProvClusterStatus {
            cluster_name: Some("c-m-abcdefgh".into()),
            fleet_workspace_name: Some("team-a".into()),
            ..Default::default()
        });
        let keys = prov_keys(&prov);
        for key in [
            ProvKey::Name("dev".into()),
            ProvKey::Namespace("fleet-default".into()),
            ProvKey::MgmtName("c-m-abcdefgh".into()),
            ProvKey::RecordedWorkspace("team-a".into()),
        ] {
            assert!(keys.contains(&key), "{key:?} in {keys:?}");
        }
    }
}
