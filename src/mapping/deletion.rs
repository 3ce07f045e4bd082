//! Deletion decisions (§C7, §C8, §4a): what may be deleted when a prov or mgmt cluster goes or
//! moves. drover deletes only what ownership marks prove it (or Rancher) created for the object
//! being removed; names, namespaces and status fields prove nothing.

use kube::Resource;

use crate::api::{FleetCluster, MgmtCluster, ProvCluster};
use crate::mapping::cluster::legacy_prov_workspace;
use crate::mapping::cluster::{NameSource, annotated_mgmt_name, chosen_mgmt_name};
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::{generated_mgmt_name, is_legacy_name};

/// Whether `child`'s marks prove it was made for `owner`: they name it, and its UID when they
/// record one. Marks without a UID (Rancher's) name an owner only by kind, namespace and name,
/// so they cannot prove it for an owner younger than the child: such a child was made for a
/// predecessor of the same name.
pub fn made_for<C, O>(child: &C, owner: &O) -> bool
where
    C: Resource,
    O: Resource<DynamicType = ()>,
{
    let Some(marks) = OwnerMarks::read(child.meta().annotations.as_ref()) else {
        return false;
    };
    if !marks.name_owner(owner) {
        return false;
    }
    if !marks.uid.is_empty() {
        return true;
    }
    match (
        &child.meta().creation_timestamp,
        &owner.meta().creation_timestamp,
    ) {
        (Some(child_created), Some(owner_created)) => child_created.0 >= owner_created.0,
        _ => true,
    }
}

/// Whether removing `prov` deletes `mgmt` (both as the API server has them now):
/// - the mgmt cluster was created for it: its marks name `prov`, UID included when recorded; or
/// - `prov` represents the legacy mgmt cluster (§I2: `<its workspace>/<its name>`) and was made
///   for that very mgmt cluster ([`made_for`]): a user removing an imported cluster through its
///   prov object.
///
/// A stale copy left in an old workspace by a move never deletes it, nor does a copy held past
/// its mgmt cluster's deletion delete a new mgmt cluster of the same name, nor does a prov
/// cluster whose `status.clusterName` merely names the mgmt cluster.
pub fn prov_removal_deletes_mgmt(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    default_workspace: &str,
) -> bool {
    if OwnerMarks::read(mgmt.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov)) {
        return true;
    }
    let name = prov.meta().name.as_deref().unwrap_or_default();
    is_legacy_name(name)
        && mgmt.meta().name.as_deref() == Some(name)
        && legacy_prov_workspace(mgmt, default_workspace).as_deref()
            == prov.meta().namespace.as_deref()
        && made_for(prov, mgmt)
}

/// Why removing `prov` keeps the mgmt cluster it pairs with by name, when that is a refusal worth
/// reporting (§5): `None` when the mgmt cluster goes, when it is not the one `prov` pairs with,
/// or when `prov` is a legacy copy left in an old workspace by a move (keeping the mgmt cluster
/// is then the plan, §C8).
pub fn kept_mgmt_notice(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    default_workspace: &str,
) -> Option<String> {
    let (paired, source) = chosen_mgmt_name(prov)?;
    let mgmt_name = mgmt.meta().name.as_deref()?;
    if paired != mgmt_name || prov_removal_deletes_mgmt(prov, mgmt, default_workspace) {
        return None;
    }
    let at = format!(
        "{}/{}",
        prov.meta().namespace.as_deref().unwrap_or_default(),
        prov.meta().name.as_deref().unwrap_or_default()
    );
    if source == NameSource::Legacy {
        let ws = legacy_prov_workspace(mgmt, default_workspace)?;
        (prov.meta().namespace.as_deref() == Some(ws.as_str())).then(|| {
            format!(
                "mgmt cluster {mgmt_name} kept: prov cluster {at} was not made for it (its \
                 ownership marks do not name this mgmt cluster)"
            )
        })
    } else {
        Some(format!(
            "mgmt cluster {mgmt_name} kept: it was not created for prov cluster {at}"
        ))
    }
}

/// The mgmt clusters removing `prov` looks at, each deleted only when
/// [`prov_removal_deletes_mgmt`] holds for it as it is read live: the one it pairs with, and for
/// a non-legacy prov cluster also the ones its UID and its annotation name, so that a rewritten
/// `status.clusterName` cannot make drover forget the mgmt cluster it created.
pub fn mgmt_names_to_check_on_removal(prov: &ProvCluster) -> Vec<String> {
    let Some((name, source)) = chosen_mgmt_name(prov) else {
        return Vec::new();
    };
    let mut names = vec![name];
    if source != NameSource::Legacy {
        names.extend(prov.meta().uid.as_deref().map(generated_mgmt_name));
        names.extend(annotated_mgmt_name(prov).map(str::to_string));
    }
    names.sort();
    names.dedup();
    names
}

/// Whether `prov` belongs to `mgmt`, so that removing `mgmt` removes it: it was created for the
/// mgmt cluster, or it created the mgmt cluster (marks, UID-checked). Recording the mgmt name in
/// its status proves nothing.
pub fn prov_belongs_to_mgmt(prov: &ProvCluster, mgmt: &MgmtCluster) -> bool {
    OwnerMarks::read(prov.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(mgmt))
        || OwnerMarks::read(mgmt.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov))
}

/// Whether `prov` was created as the prov cluster of the legacy mgmt cluster `mgmt`: its marks
/// name it (UID included when recorded).
pub fn is_legacy_prov_of(prov: &ProvCluster, mgmt: &MgmtCluster) -> bool {
    OwnerMarks::read(prov.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(mgmt))
}

/// Whether a legacy prov cluster is a stale copy of `mgmt`: created for it, but in a namespace
/// that is no longer the mgmt cluster's workspace (§C8).
pub fn is_stale_legacy_copy(
    prov: &ProvCluster,
    mgmt: &MgmtCluster,
    workspace: Option<&str>,
) -> bool {
    is_legacy_prov_of(prov, mgmt) && prov.meta().namespace.as_deref() != workspace
}

/// Whether `fleet` was created for `prov` (so it goes when `prov` goes, moves it or no longer
/// wants it).
pub fn fleet_belongs_to_prov(fleet: &FleetCluster, prov: &ProvCluster) -> bool {
    OwnerMarks::read(fleet.meta().annotations.as_ref()).is_some_and(|m| m.name_owner(prov))
}

#[cfg(test)]
#[path = "deletion_tests.rs"]
mod tests;
