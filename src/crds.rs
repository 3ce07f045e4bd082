//! The CustomResourceDefinitions drover ships for standalone and test use (`drover crds`): the
//! Rancher kinds only (prov and mgmt Cluster, FleetWorkspace). Fleet's kinds come from Fleet's
//! own `fleet-crd` chart, which every Fleet installation has.
//!
//! They match Rancher where it matters for running against a real installation: scope, status
//! subresource, printer columns, category, and the schema of every prov field drover reads or
//! writes. The mgmt Cluster is schema-less, as Rancher registers it; the prov Cluster keeps the
//! fields it does not model. drover never installs these over Rancher's own CRDs; the chart makes
//! them optional.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceSubresourceStatus, CustomResourceSubresources,
    CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{CustomResourceExt, Resource};

use crate::api::{FleetWorkspace, MgmtCluster, ProvCluster};

fn preserve_unknown() -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("object".into()),
        x_kubernetes_preserve_unknown_fields: Some(true),
        ..JSONSchemaProps::default()
    }
}

fn schema_mut(crd: &mut CustomResourceDefinition) -> Option<&mut JSONSchemaProps> {
    crd.spec
        .versions
        .first_mut()?
        .schema
        .as_mut()?
        .open_api_v3_schema
        .as_mut()
}

/// Keeps unknown fields below the named top-level properties (`spec`, `status`).
fn keep_unknown_fields_in(
    mut crd: CustomResourceDefinition,
    props: &[&str],
) -> CustomResourceDefinition {
    if let Some(schema) = schema_mut(&mut crd)
        && let Some(properties) = schema.properties.as_mut()
    {
        for name in props {
            if let Some(p) = properties.get_mut(*name) {
                p.x_kubernetes_preserve_unknown_fields = Some(true);
            }
        }
    }
    crd
}

/// Rancher's prov Cluster. Its `status` is a plain object, as in Rancher's CRD (schemars makes
/// every optional field nullable).
fn prov_cluster() -> CustomResourceDefinition {
    let mut crd = keep_unknown_fields_in(ProvCluster::crd(), &["spec", "status"]);
    if let Some(status) = schema_mut(&mut crd)
        .and_then(|s| s.properties.as_mut())
        .and_then(|p| p.get_mut("status"))
    {
        status.nullable = None;
    }
    crd
}

/// Rancher's mgmt Cluster: no schema, spec and status preserve every field.
fn mgmt_cluster() -> CustomResourceDefinition {
    let mut crd = MgmtCluster::crd();
    if let Some(schema) = schema_mut(&mut crd) {
        *schema = JSONSchemaProps {
            properties: Some(BTreeMap::from([
                ("spec".to_string(), preserve_unknown()),
                ("status".to_string(), preserve_unknown()),
            ])),
            ..preserve_unknown()
        };
    }
    crd
}

/// FleetWorkspace has no spec, so it is written out by hand rather than derived.
fn fleet_workspace() -> CustomResourceDefinition {
    let group = FleetWorkspace::group(&()).to_string();
    let plural = FleetWorkspace::plural(&()).to_string();
    // The settings kube's derive uses, so the schema is structural (`nullable`, not `null`
    // types) and the conditions keep their list-map keys.
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .into_generator();
    let status = serde_json::from_value::<JSONSchemaProps>(
        generator
            .into_root_schema_for::<crate::api::FleetWorkspaceStatus>()
            .to_value(),
    )
    .map(|typed| JSONSchemaProps {
        title: None,
        x_kubernetes_preserve_unknown_fields: Some(true),
        ..typed
    })
    .unwrap_or_else(|_| preserve_unknown());
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{plural}.{group}")),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group,
            names: CustomResourceDefinitionNames {
                kind: FleetWorkspace::KIND.into(),
                plural,
                singular: Some("fleetworkspace".into()),
                list_kind: Some("FleetWorkspaceList".into()),
                ..CustomResourceDefinitionNames::default()
            },
            scope: "Cluster".into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: FleetWorkspace::version(&()).to_string(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(JSONSchemaProps {
                        type_: Some("object".into()),
                        properties: Some(BTreeMap::from([("status".to_string(), status)])),
                        ..JSONSchemaProps::default()
                    }),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
                    scale: None,
                }),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    }
}

/// Every CRD drover ships, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![prov_cluster(), mgmt_cluster(), fleet_workspace()]
}

/// The file name under `crds/` for a CRD: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One CRD as a YAML document.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(crd)
}

/// All CRDs as one multi-document YAML stream (what `drover crds` prints).
pub fn all_yaml() -> Result<String, serde_yaml::Error> {
    let docs = all().iter().map(to_yaml).collect::<Result<Vec<_>, _>>()?;
    Ok(docs
        .iter()
        .map(|d| format!("---\n{d}"))
        .collect::<Vec<_>>()
        .concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_name(name: &str) -> CustomResourceDefinition {
        all()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .expect("crd present")
    }

    fn has_status_subresource(crd: &CustomResourceDefinition) -> bool {
        crd.spec.versions[0]
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    }

    fn columns(crd: &CustomResourceDefinition) -> Vec<(String, String)> {
        crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.clone(), c.json_path.clone()))
            .collect()
    }

    #[test]
    fn the_crds_in_the_repository_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        for crd in all() {
            let path = dir.join(file_name(&crd));
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                on_disk,
                to_yaml(&crd).expect("yaml"),
                "{} is stale: run `cargo run -- crds --write crds`",
                path.display()
            );
        }
        let files = std::fs::read_dir(&dir).expect("crds dir").count();
        assert_eq!(
            files,
            all().len(),
            "crds/ holds a file that no type generates"
        );
    }

    #[test]
    fn the_mgmt_cluster_is_schemaless_and_cluster_scoped_with_status() {
        let crd = by_name("clusters.management.cattle.io");
        assert_eq!(crd.spec.scope, "Cluster");
        assert!(has_status_subresource(&crd));
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema");
        assert_eq!(schema.x_kubernetes_preserve_unknown_fields, Some(true));
        let props = schema.properties.as_ref().expect("properties");
        assert!(
            props["spec"].properties.is_none(),
            "spec must not be modelled"
        );
        assert_eq!(
            props["spec"].x_kubernetes_preserve_unknown_fields,
            Some(true)
        );
        assert_eq!(
            props["status"].x_kubernetes_preserve_unknown_fields,
            Some(true)
        );
    }

    #[test]
    fn the_prov_cluster_is_namespaced_in_category_provisioning_with_upstream_columns() {
        let crd = by_name("clusters.provisioning.cattle.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert!(has_status_subresource(&crd));
        assert_eq!(
            crd.spec.names.categories,
            Some(vec!["provisioning".to_string()])
        );
        let cols = columns(&crd);
        let names: Vec<_> = cols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["Version", "Cluster Name", "Age", "Kubeconfig", "Ready"]
        );
        assert_eq!(cols[1].1, ".status.clusterName");
        assert_eq!(cols[3].1, ".status.clientSecretName");
        let ready = &crd.spec.versions[0]
            .additional_printer_columns
            .as_ref()
            .expect("columns")[4];
        assert_eq!(
            (ready.json_path.as_str(), ready.type_.as_str()),
            (".status.ready", "string"),
            "Rancher's Ready column is a string column"
        );
    }

    #[test]
    fn the_workspace_is_cluster_scoped_without_a_spec() {
        let crd = by_name("fleetworkspaces.management.cattle.io");
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(crd.spec.names.kind, "FleetWorkspace");
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema");
        let props = schema.properties.as_ref().expect("properties");
        assert!(!props.contains_key("spec"));
        assert!(props.contains_key("status"));
    }

    #[test]
    fn no_crd_for_fleets_kinds_is_shipped_or_printed() {
        let groups: Vec<_> = all().into_iter().map(|c| c.spec.group).collect();
        assert!(
            !groups.iter().any(|g| g == "fleet.cattle.io"),
            "Fleet's CRDs come from Fleet's fleet-crd chart: {groups:?}"
        );
        let printed = all_yaml().expect("yaml");
        assert!(!printed.contains("fleet.cattle.io"), "{printed}");
        let names: Vec<_> = all().into_iter().filter_map(|c| c.metadata.name).collect();
        assert_eq!(
            names,
            [
                "clusters.provisioning.cattle.io",
                "clusters.management.cattle.io",
                "fleetworkspaces.management.cattle.io",
            ]
        );
    }

    fn prov_property(path: &[&str]) -> serde_json::Value {
        let crd = by_name("clusters.provisioning.cattle.io");
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("schema"),
        )
        .expect("json");
        path.iter()
            .fold(schema, |s, name| s["properties"][*name].clone())
    }

    #[test]
    fn the_prov_webhook_customization_has_rancher_s_webhook_fields() {
        let webhook = prov_property(&["spec", "webhookDeploymentCustomization"]);
        let mut fields: Vec<_> = webhook["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "appendTolerations",
                "overrideAffinity",
                "overrideResourceRequirements",
                "podDisruptionBudget",
                "replicaCount"
            ]
        );
        let replicas = &webhook["properties"]["replicaCount"];
        assert_eq!(
            (&replicas["type"], &replicas["format"]),
            (&serde_json::json!("integer"), &serde_json::json!("int32"))
        );
        assert_eq!(replicas["minimum"].as_f64(), Some(1.0));
        let budget = &webhook["properties"]["podDisruptionBudget"]["properties"];
        assert_eq!(budget["minAvailable"]["type"], "string");
        assert_eq!(budget["maxUnavailable"]["maxLength"], 10);
    }

    #[test]
    fn prov_env_vars_are_rancher_s_name_and_value_pairs() {
        let env = prov_property(&["spec", "agentEnvVars"]);
        assert_eq!(env["type"], "array");
        let item = &env["items"];
        assert!(item.get("required").is_none(), "{item}");
        assert_eq!(item["properties"]["name"]["type"], "string");
        assert_eq!(item["properties"]["value"]["type"], "string");
        assert!(item["properties"].get("valueFrom").is_none());
    }

    #[test]
    fn prov_rke_config_is_nullable_and_keeps_everything() {
        let rke = prov_property(&["spec", "rkeConfig"]);
        assert_eq!(rke["nullable"], true);
        assert_eq!(rke["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(
            rke["properties"]["machineGlobalConfig"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }

    #[test]
    fn prov_status_conditions_are_a_map_list_keyed_by_type() {
        let conditions = prov_property(&["status", "conditions"]);
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
        assert_eq!(
            conditions["items"]["required"],
            serde_json::json!(["status", "type"])
        );
        let status = prov_property(&["status"]);
        assert!(status.get("nullable").is_none(), "{status}");
        assert_eq!(
            status["properties"]["ready"],
            serde_json::json!({"type": "boolean"})
        );
        assert_eq!(status["properties"]["clientSecretName"]["maxLength"], 253);
        assert_eq!(status["properties"]["fleetWorkspaceName"]["maxLength"], 63);
    }
}
