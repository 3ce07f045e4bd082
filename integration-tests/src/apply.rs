//! Server-side apply of arbitrary multi-document YAML, resolved through discovery.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde::Deserialize;

/// The field manager of [`apply_yaml_str`].
pub const FIELD_MANAGER: &str = "drover-tests";

/// The non-empty documents of a multi-document YAML string, as JSON values.
pub fn documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    let mut docs = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize(document)
            .with_context(|| format!("YAML document {index}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

pub(crate) async fn apply_yaml_file(client: &Client, path: &Path) -> Result<Vec<DynamicObject>> {
    let yaml =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    apply_yaml_str(client, &yaml)
        .await
        .with_context(|| format!("applying {}", path.display()))
}

pub(crate) async fn apply_yaml_str(client: &Client, yaml: &str) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for (index, doc) in documents(yaml)?.into_iter().enumerate() {
        let object: DynamicObject =
            serde_json::from_value(doc).with_context(|| format!("YAML document {index}"))?;
        applied.push(
            apply_object(client, &object)
                .await
                .with_context(|| format!("YAML document {index}"))?,
        );
    }
    Ok(applied)
}

async fn apply_object(client: &Client, object: &DynamicObject) -> Result<DynamicObject> {
    let types = object
        .types
        .as_ref()
        .ok_or_else(|| anyhow!("the object has no apiVersion/kind"))?;
    let gvk = GroupVersionKind::try_from(types)
        .with_context(|| format!("apiVersion {:?}", types.api_version))?;
    let name = object
        .metadata
        .name
        .clone()
        .ok_or_else(|| anyhow!("the {} has no metadata.name", gvk.kind))?;
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {}/{}", types.api_version, gvk.kind))?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object.namespace().unwrap_or_else(|| "default".to_owned());
            Api::namespaced_with(client.clone(), &namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .with_context(|| format!("applying {} {name}", gvk.kind))
}
