//! What must hold after every fault, read from the objects and the API server's audit log.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use drover::api::{FleetCluster, MgmtCluster, ProvCluster};
use drover::consts::annotations::OWNER_UID;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::audit::{self, Write};
use crate::{TestEnv, build_drover};

/// Objects of one kind that carry the same owner UID: two counterparts of one object.
pub async fn duplicate_counterparts(client: &Client) -> Result<Vec<String>> {
    let mut duplicates = Vec::new();
    duplicates.extend(duplicates_of::<MgmtCluster>(client, "mgmt cluster").await?);
    duplicates.extend(duplicates_of::<ProvCluster>(client, "prov cluster").await?);
    duplicates.extend(duplicates_of::<FleetCluster>(client, "Fleet cluster").await?);
    Ok(duplicates)
}

async fn duplicates_of<K>(client: &Client, what: &str) -> Result<Vec<String>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let api: Api<PartialObjectMeta<K>> = Api::all(client.clone());
    let list = api
        .list_metadata(&ListParams::default())
        .await
        .with_context(|| format!("listing {what}s"))?;
    let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in list.items {
        let Some(owner) = item.annotations().get(OWNER_UID).cloned() else {
            continue;
        };
        let name = match item.namespace() {
            Some(ns) => format!("{ns}/{}", item.name_any()),
            None => item.name_any(),
        };
        by_owner.entry(owner).or_default().push(name);
    }
    Ok(by_owner
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(owner, names)| format!("{what}s {} all carry owner UID {owner}", names.join(", ")))
        .collect())
}

/// Runs `drover inspect` against `env` until it exits 0 or `bound` passes; the time it took,
/// or `None` with the last report.
pub async fn converge(
    env: &TestEnv,
    bound: Duration,
) -> Result<std::result::Result<Duration, String>> {
    let binary = build_drover()?;
    let started = Instant::now();
    loop {
        let output = tokio::process::Command::new(&binary)
            .arg("--kubeconfig")
            .arg(env.kubeconfig_path())
            .arg("inspect")
            .output()
            .await
            .context("running drover inspect")?;
        if output.status.success() {
            return Ok(Ok(started.elapsed()));
        }
        let last = String::from_utf8_lossy(&output.stdout).into_owned();
        if started.elapsed() > bound {
            // The clusters that are fine say so at the end of their line: the others first.
            let problems: Vec<&str> = last
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_end().ends_with(" ok"))
                .take(12)
                .collect();
            return Ok(Err(problems.join("\n")));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The audit log's writes, or none when the control plane keeps no audit log.
pub fn writes(env: &TestEnv) -> Result<Vec<Write>> {
    match env.audit_log() {
        Some(path) => audit::read(path),
        None => Ok(Vec::new()),
    }
}

/// Deletes by `replicas` that `allowed` does not accept, described.
pub fn unasked_deletes(
    writes: &[Write],
    replicas: &[&str],
    allowed: impl Fn(&Write) -> bool,
) -> Vec<String> {
    writes
        .iter()
        .filter(|w| w.succeeded() && w.is_delete() && replicas.contains(&w.user.as_str()))
        .filter(|w| !allowed(w))
        .map(Write::describe)
        .collect()
}

/// Writes by `replicas` (Lease renewals aside) received after `since`.
pub fn writes_since(
    writes: &[Write],
    replicas: &[&str],
    since: k8s_openapi::jiff::Timestamp,
) -> Vec<String> {
    writes
        .iter()
        .filter(|w| w.succeeded() && !w.is_lease() && replicas.contains(&w.user.as_str()))
        .filter(|w| w.received >= since)
        .map(Write::describe)
        .collect()
}

/// The audit log's path, for messages.
pub fn audit_path(env: &TestEnv) -> String {
    env.audit_log()
        .map(Path::display)
        .map(|p| p.to_string())
        .unwrap_or_default()
}
