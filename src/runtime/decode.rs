//! Objects are decoded one at a time. The watches receive every object as plain JSON
//! ([`DynamicObject`]) and convert each to drover's type here, so one object that does not fit
//! (a schema-less mgmt cluster with an env var without a name, a number where drover expects a
//! string) is that object's problem: it is skipped and reported, and the rest of the list and
//! of the watch goes on. kube's typed lists fail whole on one such object, and its client logs
//! the whole response body when they do.

use kube::Resource;
use kube::api::DynamicObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The longest decode error message kept: a message can quote a value from the object.
const MESSAGE_LIMIT: usize = 300;

/// Why an object does not fit drover's type: the field, as a path, and serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// e.g. `spec.agentEnvVars[0]`; empty when no single field could be blamed.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// `value` as a `K`, or which field does not fit.
pub fn decode<K: DeserializeOwned>(value: &Value) -> Result<K, DecodeError> {
    match K::deserialize(value) {
        Ok(k) => Ok(k),
        Err(e) => Err(DecodeError {
            path: render(&narrow::<K>(value)),
            message: shorten(without_strings(&e.to_string())),
        }),
    }
}

/// `obj` (as the API server sent it, plain JSON) as a `K`; or the object and why not. The
/// `apiVersion` and `kind` the plain object keeps apart are put back, as a typed read has them
/// (drover's FleetWorkspace type keeps them, and a write compares them).
#[allow(clippy::result_large_err)]
pub fn decode_object<K: Resource<DynamicType = ()> + DeserializeOwned>(
    mut obj: DynamicObject,
) -> Result<K, (DynamicObject, DecodeError)> {
    let mut map = match std::mem::take(&mut obj.data) {
        Value::Object(map) => map,
        // A body is always a JSON object.
        _ => serde_json::Map::new(),
    };
    map.insert(
        "apiVersion".into(),
        Value::String(K::api_version(&()).into_owned()),
    );
    map.insert("kind".into(), Value::String(K::kind(&()).into_owned()));
    let metadata = match serde_json::to_value(&obj.metadata) {
        Ok(m) => m,
        Err(e) => {
            map.remove("apiVersion");
            map.remove("kind");
            obj.data = Value::Object(map);
            let error = DecodeError {
                path: "metadata".into(),
                message: e.to_string(),
            };
            return Err((obj, error));
        }
    };
    map.insert("metadata".into(), metadata);
    let value = Value::Object(map);
    match decode::<K>(&value) {
        Ok(k) => Ok(k),
        Err(error) => {
            if let Value::Object(mut map) = value {
                for key in ["metadata", "apiVersion", "kind"] {
                    map.remove(key);
                }
                obj.data = Value::Object(map);
            }
            Err((obj, error))
        }
    }
}

/// The innermost member whose removal makes `value` decode. Only runs for objects that failed,
/// and tries each member once per level.
fn narrow<K: DeserializeOwned>(value: &Value) -> Vec<Step> {
    let mut path = Vec::new();
    while let Some((step, removed)) = blame::<K>(value, &path) {
        path.push(step);
        if !matches!(removed, Value::Object(_) | Value::Array(_)) {
            break;
        }
    }
    path
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Within the member at `path`, the member whose removal (or, for a required one, emptying)
/// makes the whole decode; the whole is left as it was.
fn blame<K: DeserializeOwned>(root: &Value, path: &[Step]) -> Option<(Step, Value)> {
    let members: Vec<(Step, Value)> = match at(root, path)? {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !(path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind")))
            .map(|(k, v)| (Step::Key(k.clone()), v.clone()))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Step::Index(i), v.clone()))
            .collect(),
        _ => return None,
    };
    for (step, member) in members {
        let empty = match &member {
            Value::Object(_) => Some(Value::Object(serde_json::Map::new())),
            Value::Array(_) => Some(Value::Array(Vec::new())),
            _ => None,
        };
        for replacement in [None, empty.clone()] {
            let mut trial = root.clone();
            let container = at_mut(&mut trial, path)?;
            match (&step, container, replacement) {
                (Step::Key(k), Value::Object(map), None) => {
                    map.remove(k);
                }
                (Step::Key(k), Value::Object(map), Some(r)) => {
                    map.insert(k.clone(), r);
                }
                (Step::Index(i), Value::Array(items), None) => {
                    items.remove(*i);
                }
                (Step::Index(i), Value::Array(items), Some(r)) => items[*i] = r,
                _ => continue,
            }
            if K::deserialize(&trial).is_ok() {
                return Some((step, member));
            }
            if empty.is_none() {
                break;
            }
        }
    }
    None
}

fn at<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// serde's message without the string values it quotes (`invalid type: string "…"`): they are
/// the object's content, which may be anything, and go into Events and conditions.
fn without_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        let mut escaped = false;
        for c in chars.by_ref() {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => escaped = false,
            }
        }
        if out.ends_with(' ') {
            out.pop();
        }
    }
    out
}

fn shorten(mut message: String) -> String {
    if message.len() > MESSAGE_LIMIT {
        let mut end = MESSAGE_LIMIT;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
    use serde_json::json;

    fn mgmt_json(spec: Value) -> Value {
        json!({
            "apiVersion": "management.cattle.io/v3",
            "kind": "Cluster",
            "metadata": {"name": "c-bad01", "uid": "u1"},
            "spec": spec,
        })
    }

    #[test]
    fn an_env_var_without_a_name_fits_but_a_name_that_is_no_string_is_blamed() {
        // The shape of issue 12: Kubernetes' types fill a missing required string with "".
        let fits: MgmtCluster =
            decode(&mgmt_json(json!({"agentEnvVars": [{"value": "v"}]}))).unwrap();
        assert_eq!(fits.spec.agent_env_vars.unwrap()[0].name, "");

        let err = decode::<MgmtCluster>(&mgmt_json(json!({
            "displayName": "d",
            "agentEnvVars": [{"name": "A", "value": "1"}, {"name": 5}],
        })))
        .unwrap_err();
        assert_eq!(err.path, "spec.agentEnvVars[1].name");
        assert!(err.message.contains("expected a string"), "{err}");
        assert_eq!(
            err.to_string(),
            format!("spec.agentEnvVars[1].name: {}", err.message)
        );
    }

    #[test]
    fn a_wrong_type_in_a_modelled_field_is_blamed_on_that_field() {
        let err = decode::<MgmtCluster>(&mgmt_json(json!({"internal": "a \"secret\" value"})))
            .unwrap_err();
        assert_eq!(err.path, "spec.internal");
        assert_eq!(err.message, "invalid type: string, expected a boolean");

        let err = decode::<MgmtCluster>(&mgmt_json(json!({
            "importedConfig": {"privateRegistryPullSecrets": "one"},
        })))
        .unwrap_err();
        assert_eq!(err.path, "spec.importedConfig.privateRegistryPullSecrets");
    }

    #[test]
    fn a_condition_without_a_status_is_blamed_on_that_condition() {
        let mut value = mgmt_json(json!({}));
        value["status"] = json!({"conditions": [{"type": "Ready"}]});
        let err = decode::<MgmtCluster>(&value).unwrap_err();
        assert_eq!(err.path, "status.conditions[0]");
        assert!(err.message.contains("missing field `status`"), "{err}");

        let workspace = json!({
            "apiVersion": "management.cattle.io/v3",
            "kind": "FleetWorkspace",
            "metadata": {"name": "ws"},
            "status": {"conditions": "none"},
        });
        let err = decode::<FleetWorkspace>(&workspace).unwrap_err();
        assert_eq!(err.path, "status.conditions");
    }

    #[test]
    fn an_int32_out_of_range_is_blamed_on_that_field() {
        let prov = json!({
            "apiVersion": "provisioning.cattle.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "p", "namespace": "fleet-default"},
            "spec": {"webhookDeploymentCustomization": {"replicaCount": 3_000_000_000u64}},
        });
        let err = decode::<ProvCluster>(&prov).unwrap_err();
        assert_eq!(err.path, "spec.webhookDeploymentCustomization.replicaCount");

        let fleet = json!({
            "apiVersion": "fleet.cattle.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "f", "namespace": "fleet-default"},
            "spec": {"agentAffinity": {"nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 3_000_000_000u64,
                    "preference": {"matchExpressions": []},
                }],
            }}},
        });
        let err = decode::<FleetCluster>(&fleet).unwrap_err();
        assert_eq!(
            err.path,
            "spec.agentAffinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"
        );
    }

    #[test]
    fn a_fitting_object_decodes_and_unknown_fields_are_ignored() {
        let mgmt: MgmtCluster = decode(&mgmt_json(json!({
            "displayName": "d",
            "agentEnvVars": [{"name": "A", "value": "1"}],
            "somethingDroverDoesNotModel": {"x": [1, 2]},
        })))
        .unwrap();
        assert_eq!(mgmt.spec.display_name.as_deref(), Some("d"));
    }

    #[test]
    fn a_decoded_object_keeps_its_api_version_and_kind() {
        let obj: DynamicObject = serde_json::from_value(json!({
            "metadata": {"name": "ws"},
            "status": {"conditions": []},
        }))
        .unwrap();
        let ws: FleetWorkspace = decode_object(obj).unwrap();
        assert_eq!(ws.api_version.as_deref(), Some("management.cattle.io/v3"));
        assert_eq!(ws.kind.as_deref(), Some("FleetWorkspace"));
    }

    #[test]
    fn a_long_message_is_cut() {
        let long = "x".repeat(2 * MESSAGE_LIMIT);
        let err =
            decode::<MgmtCluster>(&mgmt_json(json!({"displayName": {"a": long}}))).unwrap_err();
        assert_eq!(err.path, "spec.displayName");
        assert!(err.message.chars().count() <= MESSAGE_LIMIT + 1, "{err}");
    }
}
