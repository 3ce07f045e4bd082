//! Cluster rows: each mgmt cluster with the prov cluster(s) that claim it and its fleet
//! cluster, then whatever claims no existing counterpart.

use std::collections::{BTreeMap, BTreeSet};

use super::{Findings, Index, Key, claimed_mgmt, fleet_ref, is_deleting, mgmt_ref, prov_ref};
use crate::api::{FleetCluster, MgmtCluster};
use crate::consts::labels;
use crate::inspect::report::{ClusterRow, Kind, ProblemKind};
use crate::mapping::cluster::{legacy_prov_workspace, legacy_representation_refusal};
use crate::mapping::fleet::fleet_wait_reason;
use crate::mapping::meta::OwnerMarks;
use crate::mapping::names::is_legacy_name;

const OK: &str = "ok";

fn fleet_label(fleet: &FleetCluster) -> Option<&str> {
    fleet
        .metadata
        .labels
        .as_ref()?
        .get(labels::CLUSTER_NAME)
        .map(String::as_str)
}

/// Where a mgmt cluster's fleet cluster must be, or why it must not exist now.
type FleetExpectation = Result<Key, String>;

pub(super) fn rows(index: &Index<'_>, found: &mut Findings) -> Vec<ClusterRow> {
    let mut claimants: BTreeMap<String, Vec<&Key>> = BTreeMap::new();
    for (k, prov) in &index.provs {
        if let Some(m) = claimed_mgmt(prov) {
            claimants.entry(m).or_default().push(k);
        }
    }
    let mut used_provs: BTreeSet<&Key> = BTreeSet::new();
    let mut used_fleets: BTreeSet<Key> = BTreeSet::new();
    let mut expected_fleets: BTreeMap<&str, FleetExpectation> = BTreeMap::new();
    let mut rows = Vec::new();

    for (mgmt_name, mgmt) in &index.mgmts {
        let claims = claimants.get(mgmt_name).cloned().unwrap_or_default();
        used_provs.extend(claims.iter().copied());
        let primary = primary_claim(index, mgmt_name, mgmt, &claims);
        check_claims(index, found, mgmt_name, mgmt, &claims, primary);

        let mut row = ClusterRow {
            workspace: mgmt
                .workspace()
                .map(str::to_string)
                .or_else(|| primary.map(|k| k.0.clone())),
            prov: primary.map(prov_ref),
            mgmt: Some(mgmt_ref(mgmt_name)),
            fleet: None,
            state: OK.into(),
        };
        if let Some(pk) = primary {
            let expectation = fleet_of(index, found, pk, mgmt, &mut row);
            if let Ok(fk) = &expectation
                && index.fleets.contains_key(fk)
            {
                used_fleets.insert(fk.clone());
            }
            expected_fleets.insert(mgmt_name, expectation);
        } else {
            let legacy_workspace = legacy_prov_workspace(mgmt, index.default_workspace);
            row.state = match legacy_workspace {
                None if is_legacy_name(mgmt_name) => "no workspace: no prov cluster expected",
                _ => "no prov cluster",
            }
            .into();
        }
        rows.push(row);
        for other in claims.iter().filter(|k| Some(**k) != primary) {
            rows.push(ClusterRow {
                workspace: Some(other.0.clone()),
                prov: Some(prov_ref(other)),
                mgmt: Some(mgmt_ref(mgmt_name)),
                fleet: None,
                state: OK.into(),
            });
        }
    }

    for (pk, prov) in &index.provs {
        if used_provs.contains(pk) {
            continue;
        }
        if found.expects_counterparts(Kind::Prov, &prov.metadata) {
            let message = match claimed_mgmt(prov) {
                Some(m) => format!("its mgmt cluster {m} (status.clusterName) does not exist"),
                None => "it has no mgmt cluster yet: status.clusterName is unset".to_string(),
            };
            found.report(ProblemKind::MissingCounterpart, prov_ref(pk), message);
        }
        rows.push(ClusterRow {
            workspace: Some(pk.0.clone()),
            prov: Some(prov_ref(pk)),
            mgmt: None,
            fleet: None,
            state: OK.into(),
        });
    }

    for (fk, fleet) in &index.fleets {
        if used_fleets.contains(fk) {
            continue;
        }
        let label = fleet_label(fleet);
        let mut row = ClusterRow {
            workspace: Some(fk.0.clone()),
            prov: None,
            mgmt: label.map(mgmt_ref),
            fleet: Some(fleet_ref(fk)),
            state: OK.into(),
        };
        match label {
            None => row.state = "not managed by drover".into(),
            Some(m) if found.expects_counterparts(Kind::Fleet, &fleet.metadata) => {
                let message = match expected_fleets.get(m) {
                    _ if !index.mgmts.contains_key(m) => format!(
                        "labelled {}={m}, but that mgmt cluster does not exist",
                        labels::CLUSTER_NAME
                    ),
                    Some(Ok(expected)) => format!(
                        "belongs to mgmt cluster {m}, whose fleet cluster is {}/{}: this one \
                         was left behind",
                        expected.0, expected.1
                    ),
                    Some(Err(reason)) => format!(
                        "belongs to mgmt cluster {m}, which does not qualify for a fleet \
                         cluster now ({reason})"
                    ),
                    None => format!("belongs to mgmt cluster {m}, which no prov cluster claims"),
                };
                let kind = if index.mgmts.contains_key(m) {
                    ProblemKind::Stale
                } else {
                    ProblemKind::Orphan
                };
                found.report(kind, fleet_ref(fk), message);
            }
            Some(_) => {}
        }
        rows.push(row);
    }
    rows
}

/// The prov cluster that represents a mgmt cluster. For a legacy mgmt cluster it is the one the
/// controllers take as its representation (§I2; others are copies a move left behind); otherwise
/// the first claimant (others are duplicate claims).
fn primary_claim<'k>(
    index: &Index<'_>,
    mgmt_name: &str,
    mgmt: &MgmtCluster,
    claims: &[&'k Key],
) -> Option<&'k Key> {
    if !is_legacy_name(mgmt_name) {
        return claims.first().copied();
    }
    claims.iter().copied().find(|k| {
        index.provs.get(*k).is_some_and(|prov| {
            legacy_representation_refusal(prov, mgmt, index.default_workspace).is_none()
        })
    })
}

fn check_claims(
    index: &Index<'_>,
    found: &mut Findings,
    mgmt_name: &str,
    mgmt: &MgmtCluster,
    claims: &[&Key],
    primary: Option<&Key>,
) {
    let legacy = is_legacy_name(mgmt_name);
    let expects = found.expects_counterparts(Kind::Mgmt, &mgmt.metadata);
    match (legacy, legacy_prov_workspace(mgmt, index.default_workspace)) {
        (true, Some(ws)) => {
            if primary.is_none() && expects {
                found.report(
                    ProblemKind::MissingCounterpart,
                    mgmt_ref(mgmt_name),
                    format!(
                        "legacy mgmt cluster in workspace {ws} has no prov cluster \
                         {ws}/{mgmt_name}"
                    ),
                );
            }
            for other in claims.iter().filter(|k| Some(**k) != primary) {
                found.report(
                    ProblemKind::Stale,
                    prov_ref(other),
                    format!(
                        "copy of legacy mgmt cluster {mgmt_name} left in {}; the cluster's \
                         workspace is {ws}",
                        other.0
                    ),
                );
            }
        }
        _ if claims.len() > 1 => {
            let names: Vec<String> = claims.iter().map(|k| format!("{}/{}", k.0, k.1)).collect();
            found.report(
                ProblemKind::DuplicateClaim,
                mgmt_ref(mgmt_name),
                format!(
                    "claimed by {} prov clusters (status.clusterName): {}",
                    claims.len(),
                    names.join(", ")
                ),
            );
        }
        (false, _) if claims.is_empty() && expects => {
            let message = match OwnerMarks::read(mgmt.metadata.annotations.as_ref()) {
                Some(marks) => format!(
                    "no prov cluster records it in status.clusterName, though its ownership \
                     marks name {}/{}",
                    marks.namespace, marks.name
                ),
                None => "no prov cluster records it in status.clusterName, and its name is not \
                         a legacy one"
                    .to_string(),
            };
            found.report(
                ProblemKind::MissingCounterpart,
                mgmt_ref(mgmt_name),
                message,
            );
        }
        _ => {}
    }
}

/// Finds the fleet cluster of a prov/mgmt pair (spec C6), reporting it missing when the pair
/// qualifies, or stale when it exists although the pair does not qualify.
fn fleet_of(
    index: &Index<'_>,
    found: &mut Findings,
    prov_key: &Key,
    mgmt: &MgmtCluster,
    row: &mut ClusterRow,
) -> FleetExpectation {
    let Some(prov) = index.provs.get(prov_key) else {
        return Err("no prov cluster".into());
    };
    let mgmt_name = mgmt.metadata.name.as_deref().unwrap_or_default();
    let candidate = mgmt
        .workspace()
        .map(|ws| (ws.to_string(), prov_key.1.clone()));
    let existing = candidate
        .as_ref()
        .and_then(|k| index.fleets.get(k).map(|f| (k, f)));
    if let Some((fk, _)) = existing {
        row.fleet = Some(fleet_ref(fk));
    }
    let expects = found.expects_counterparts(Kind::Prov, &prov.metadata)
        && found.expects_counterparts(Kind::Mgmt, &mgmt.metadata);
    match (fleet_wait_reason(prov, mgmt), candidate.clone()) {
        (None, Some(fk)) => {
            if existing.is_none() && expects {
                found.report(
                    ProblemKind::MissingCounterpart,
                    prov_ref(prov_key),
                    format!(
                        "it qualifies for a fleet cluster (kubeconfig secret set, mgmt cluster \
                         {mgmt_name} Ready) but fleet cluster {}/{} does not exist",
                        fk.0, fk.1
                    ),
                );
            }
            Ok(fk)
        }
        (reason, _) => {
            let reason = reason.unwrap_or("mgmt cluster has no workspace");
            row.state = format!("waiting: {reason}");
            if let Some((fk, fleet)) = existing
                && !is_deleting(&fleet.metadata)
            {
                found.report(
                    ProblemKind::Stale,
                    fleet_ref(fk),
                    format!("its cluster does not qualify for a fleet cluster ({reason})"),
                );
            }
            Err(reason.into())
        }
    }
}
