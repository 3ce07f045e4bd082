//! Deletion decisions (§C7, §C8): what may be deleted when a prov or mgmt cluster goes or moves.
//! drover deletes only what it (or Rancher) created for the object being removed.

use kube::Resource;

use crate::api::{FleetCluster, MgmtCluster, ProvCluster};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::is_legacy_name;

/// Whether removing `prov` deletes `mgmt`: when the mgmt cluster was created for it (its marks
/// name it, UID included when recorded), or when `prov` is a legacy mgmt cluster's
/// representation in that mgmt cluster's *current* workspace (a user removing an imported
/// cluster through its prov object). A stale copy left in an old workspace by a move never does.
pub fn prov_removal_deletes_mgmt(prov: &ProvCluster, mgmt: &MgmtCluster) -> bool {
    if OwnerMarks::read(mgmt.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov)) {
        return true;
    }
    let name = prov.meta().name.as_deref().unwrap_or_default();
    is_legacy_name(name)
        && mgmt.meta().name.as_deref() == Some(name)
        && mgmt.workspace().is_some()
        && mgmt.workspace() == prov.meta().namespace.as_deref()
}

/// Whether `prov` belongs to `mgmt`, so that removing `mgmt` removes it: it was created for the
/// mgmt cluster, or it created the mgmt cluster, or it recorded it as its counterpart.
pub fn prov_belongs_to_mgmt(prov: &ProvCluster, mgmt: &MgmtCluster) -> bool {
    let mgmt_name = mgmt.meta().name.as_deref();
    OwnerMarks::read(prov.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(mgmt))
        || OwnerMarks::read(mgmt.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov))
        || (prov.cluster_name().is_some() && prov.cluster_name() == mgmt_name)
}

/// Whether a legacy prov cluster is a stale copy of `mgmt`: created for it, but in a namespace
/// that is no longer the mgmt cluster's workspace (§C8).
pub fn is_stale_legacy_copy(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    workspace: Option<&str>,
) -> bool {
    OwnerMarks::read(prov.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(mgmt))
        && prov.meta().namespace.as_deref() != workspace
}

/// Whether `fleet` was created for `prov` (so it goes when `prov` goes or moves it).
pub fn fleet_belongs_to_prov(fleet: &FleetCluster, prov: &ProvCluster) -> bool {
    OwnerMarks::read(fleet.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov))
}

#[cfg(test)]
#[path = "deletion_tests.rs"]
mod tests;
