//! What the replicas may do: drover's ClusterRoles and its Lease Role exactly as the chart
//! renders them, bound to the replicas' API users; and the revocation of list and watch on one
//! kind by editing drover's ClusterRole, as an operator's mistake or a broken RBAC rollout would.

use anyhow::{Context as _, Result};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::replica::LEASE_NAMESPACE;
use crate::chart;

/// The chart's release name: its ClusterRole is called this too.
const RELEASE: &str = "drover";
/// The bindings of the replicas' users (the chart binds its ServiceAccount; the replicas run as
/// users so that the audit log tells them apart).
const BINDING: &str = "drover-chaos-replicas";

/// Applies the chart's ClusterRoles and Lease Role and binds `users` to them.
pub async fn grant(client: &Client, users: &[&str]) -> Result<()> {
    let yaml = chart::render(RELEASE, LEASE_NAMESPACE, &["--set", "crds.install=false"]).await?;
    let roles: Vec<String> = crate::documents(&yaml)?
        .into_iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")))
        .map(|d| d.to_string())
        .collect();
    anyhow::ensure!(!roles.is_empty(), "the chart rendered no roles");
    chart::apply(client, &roles.join("\n---\n"), false).await?;
    let subjects: Vec<_> = users
        .iter()
        .map(|u| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u}))
        .collect();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": BINDING},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": RELEASE},
        "subjects": subjects,
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .context("binding the replicas to drover's ClusterRole")?;
    let lease_binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": BINDING, "namespace": LEASE_NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": format!("{RELEASE}-leader-election")},
        "subjects": subjects,
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), LEASE_NAMESPACE)
        .create(&PostParams::default(), &lease_binding)
        .await
        .context("binding the replicas to drover's Lease Role")?;
    Ok(())
}

/// drover's ClusterRole without `list` and `watch` on `resource` of `group`; returns the rules
/// it had, for [`restore`].
pub async fn revoke_list_watch(
    client: &Client,
    group: &str,
    resource: &str,
) -> Result<Vec<PolicyRule>> {
    let api: Api<ClusterRole> = Api::all(client.clone());
    let mut role = api.get(RELEASE).await?;
    let before = role.rules.clone().unwrap_or_default();
    let mut rules = Vec::new();
    for rule in &before {
        let groups = rule.api_groups.as_deref().unwrap_or_default();
        let resources = rule.resources.as_deref().unwrap_or_default();
        if !groups.iter().any(|g| g == group) || !resources.iter().any(|r| r == resource) {
            rules.push(rule.clone());
            continue;
        }
        // The other resources of the rule keep every verb; this one loses list and watch.
        let others: Vec<String> = resources
            .iter()
            .filter(|r| *r != resource)
            .cloned()
            .collect();
        if !others.is_empty() {
            rules.push(PolicyRule {
                resources: Some(others),
                ..rule.clone()
            });
        }
        rules.push(PolicyRule {
            resources: Some(vec![resource.to_string()]),
            verbs: rule
                .verbs
                .iter()
                .filter(|v| !matches!(v.as_str(), "list" | "watch"))
                .cloned()
                .collect(),
            ..rule.clone()
        });
    }
    anyhow::ensure!(
        rules != before,
        "drover's ClusterRole grants nothing on {resource}.{group}"
    );
    role.rules = Some(rules);
    api.replace(RELEASE, &PostParams::default(), &role)
        .await
        .context("revoking list and watch")?;
    Ok(before)
}

/// drover's ClusterRole with `rules` again.
pub async fn restore(client: &Client, rules: Vec<PolicyRule>) -> Result<()> {
    let api: Api<ClusterRole> = Api::all(client.clone());
    let mut role = api.get(RELEASE).await?;
    role.rules = Some(rules);
    api.replace(RELEASE, &PostParams::default(), &role)
        .await
        .context("restoring drover's ClusterRole")?;
    Ok(())
}
