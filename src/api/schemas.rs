//! Field schemas that follow Rancher's generated CRD for `clusters.provisioning.cattle.io`
//! where schemars' defaults differ: Go fields without `+nullable` accept no `null`, and
//! Rancher's validation (ranges, lengths, patterns, list types) is kept, so that drover's CRD
//! copy accepts and refuses what Rancher's does.

use schemars::{Schema, SchemaGenerator, json_schema};

use super::Condition;

/// Rancher's pattern for a disruption budget value: a count or a percentage up to 100%.
const DISRUPTION_BUDGET_PATTERN: &str = "^((([1-9]|[1-9][0-9]|100)%)|([1-9][0-9]*|0)|)$";

/// A field whose content drover keeps but does not model.
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// `spec.rkeConfig`: drover reads only its presence and
/// `machineGlobalConfig["system-default-registry"]`; the rest is kept as it is.
pub fn rke_config(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "machineGlobalConfig": {
                "type": "object",
                "nullable": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
        },
    })
}

/// `webhookDeploymentCustomization.replicaCount`: an `int32` of at least 1.
pub fn replica_count(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 1,
    })
}

/// `priorityClass.value`: a Go `int` within the bounds of a PriorityClass value.
pub fn priority_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "minimum": -1_000_000_000,
        "maximum": 1_000_000_000,
    })
}

/// `podDisruptionBudget.minAvailable` / `maxUnavailable`.
pub fn disruption_budget_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "nullable": true,
        "maxLength": 10,
        "pattern": DISRUPTION_BUDGET_PATTERN,
    })
}

pub fn string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string" })
}

pub fn boolean(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "boolean" })
}

pub fn int64(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "format": "int64" })
}

/// `status.clientSecretName`: a Secret name.
pub fn secret_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "maxLength": 253 })
}

/// `status.fleetWorkspaceName`: a namespace name.
pub fn namespace_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "maxLength": 63 })
}

/// `status.conditions`: a map list keyed by `type`, so that server-side apply merges each
/// writer's conditions instead of replacing the list.
pub fn conditions(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<Condition>();
    json_schema!({
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}
