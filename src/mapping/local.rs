//! §C9: the conditions drover gives the mgmt cluster `local`, the cluster drover runs in.

use serde_json::{Value, json};

use crate::api::{MgmtCluster, find_condition};
use crate::consts::conditions;
use crate::consts::reasons::mgmt as reasons;

/// The JSON patch (for the status subresource) that gives `local` the conditions of a connected
/// cluster, or `None` when it needs none.
///
/// Rancher's rule: `local` is marked `Ready` when it has no `Ready` condition at all; `Connected`
/// comes with it unless it is already there. Whatever else the status holds is other writers'
/// and stays: the conditions are appended, never written over. The mgmt CRD has no schema, so
/// the API server treats the list as a whole; the patch therefore first tests the resource
/// version drover saw, and fails (to be tried again) when anyone wrote in between.
pub fn local_conditions_patch(local: &MgmtCluster, now: &str) -> Option<Value> {
    let present = local.conditions();
    if find_condition(present, conditions::READY).is_some() {
        return None;
    }
    let condition = |type_: &str| {
        json!({"type": type_, "status": "True", "reason": reasons::LOCAL,
               "message": "drover runs in this cluster", "lastTransitionTime": now})
    };
    let mut added = vec![condition(conditions::READY)];
    if find_condition(present, conditions::CONNECTED).is_none() {
        added.push(condition(conditions::CONNECTED));
    }
    let mut patch = vec![json!({
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": local.metadata.resource_version,
    })];
    match &local.status {
        None => patch.push(json!({"op": "add", "path": "/status", "value": {"conditions": added}})),
        Some(status) if status.conditions.is_none() => {
            patch.push(json!({"op": "add", "path": "/status/conditions", "value": added}));
        }
        Some(_) => patch.extend(
            added
                .into_iter()
                .map(|c| json!({"op": "add", "path": "/status/conditions/-", "value": c})),
        ),
    }
    Some(Value::Array(patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, MgmtClusterStatus};

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn local(conditions: Option<&[(&str, &str)]>) -> MgmtCluster {
        let mut local = MgmtCluster::new("local", Default::default());
        local.metadata.resource_version = Some("42".into());
        local.status = conditions.map(|c| MgmtClusterStatus {
            conditions: Some(
                c.iter()
                    .map(|(t, s)| Condition {
                        type_: t.to_string(),
                        status: s.to_string(),
                        ..Condition::default()
                    })
                    .collect(),
            ),
        });
        local
    }

    fn ops(patch: &Value) -> Vec<(String, String)> {
        patch
            .as_array()
            .expect("a JSON patch")
            .iter()
            .map(|op| {
                let value = &op["value"];
                let what = value["type"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                (
                    format!("{} {}", op["op"].as_str().unwrap_or(""), op["path"]),
                    what,
                )
            })
            .collect()
    }

    #[test]
    fn local_with_a_ready_condition_gets_nothing_whatever_its_status() {
        assert_eq!(
            local_conditions_patch(&local(Some(&[("Ready", "False")])), NOW),
            None
        );
        assert_eq!(
            local_conditions_patch(&local(Some(&[("Ready", "True")])), NOW),
            None
        );
    }

    #[test]
    fn local_without_ready_gets_ready_and_connected_appended_after_the_others() {
        let patch =
            local_conditions_patch(&local(Some(&[("Provisioned", "True")])), NOW).expect("a patch");
        assert_eq!(
            ops(&patch),
            [
                ("test \"/metadata/resourceVersion\"".into(), "\"42\"".into()),
                ("add \"/status/conditions/-\"".into(), "Ready".into()),
                ("add \"/status/conditions/-\"".into(), "Connected".into()),
            ]
        );
        assert_eq!(patch[1]["value"]["status"], "True");
        assert_eq!(patch[1]["value"]["lastTransitionTime"], NOW);
    }

    #[test]
    fn a_connected_condition_someone_else_wrote_is_left_as_it_is() {
        let patch =
            local_conditions_patch(&local(Some(&[("Connected", "False")])), NOW).expect("a patch");
        let added: Vec<String> = ops(&patch).into_iter().skip(1).map(|(_, t)| t).collect();
        assert_eq!(added, ["Ready"]);
    }

    #[test]
    fn local_without_conditions_or_status_gets_a_list_of_its_own() {
        let patch = local_conditions_patch(&local(None), NOW).expect("a patch");
        assert_eq!(patch[1]["path"], "/status");
        assert_eq!(patch[1]["value"]["conditions"][0]["type"], "Ready");
        assert_eq!(patch[1]["value"]["conditions"][1]["type"], "Connected");
        let mut empty = local(None);
        empty.status = Some(MgmtClusterStatus { conditions: None });
        let patch = local_conditions_patch(&empty, NOW).expect("a patch");
        assert_eq!(patch[1]["path"], "/status/conditions");
    }
}
