//! The CustomResourceDefinitions drover ships for standalone and test use (`drover crds`).
//!
//! They match upstream where it matters for running against a real Rancher/Fleet installation:
//! scope, status subresource, printer columns and category. The mgmt Cluster is schema-less, as
//! Rancher registers it; the prov and fleet Clusters keep the fields they do not model. drover
//! never installs these over Fleet's or Rancher's own CRDs; the chart makes them optional.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, CustomResourceSubresourceStatus, CustomResourceSubresources,
    CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{CustomResourceExt, Resource};
use schemars::{Schema, SchemaGenerator, json_schema};

use crate::api::{ClusterGroup, FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};

/// Schema of a field whose content drover keeps but does not model.
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

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
    let mut generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let status: JSONSchemaProps = serde_json::from_value(
        generator
            .subschema_for::<crate::api::FleetWorkspaceStatus>()
            .to_value(),
    )
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
    vec![
        keep_unknown_fields_in(ProvCluster::crd(), &["spec", "status"]),
        mgmt_cluster(),
        keep_unknown_fields_in(FleetCluster::crd(), &["spec", "status"]),
        keep_unknown_fields_in(ClusterGroup::crd(), &["spec", "status"]),
        fleet_workspace(),
    ]
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
    }

    #[test]
    fn the_fleet_cluster_is_namespaced_with_fleets_columns_and_keeps_unknown_fields() {
        let crd = by_name("clusters.fleet.cattle.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert!(has_status_subresource(&crd));
        let cols = columns(&crd);
        assert_eq!(
            cols,
            vec![
                (
                    "Bundles-Ready".into(),
                    ".status.display.readyBundles".into()
                ),
                ("Last-Seen".into(), ".status.agent.lastSeen".into()),
                (
                    "Status".into(),
                    ".status.conditions[?(@.type==\"Ready\")].message".into()
                ),
            ]
        );
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema");
        let props = schema.properties.as_ref().expect("properties");
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
    fn the_cluster_group_is_namespaced() {
        let crd = by_name("clustergroups.fleet.cattle.io");
        assert_eq!(crd.spec.scope, "Namespaced");
    }
}
