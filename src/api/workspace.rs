use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// `fleetworkspaces.management.cattle.io`: cluster-scoped and, in Rancher's schema, without a
/// spec. drover's CRD copy adds a `status` with conditions; when the installed CRD lacks it,
/// Events are the only report.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct FleetWorkspace {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "apiVersion"
    )]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FleetWorkspaceStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct FleetWorkspaceStatus {
    /// A map keyed on `type` (in drover's CRD; Rancher's has no status): server-side apply then
    /// keeps the conditions other controllers write beside drover's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schemas::conditions")]
    pub conditions: Option<Vec<Condition>>,
}

impl FleetWorkspace {
    pub const API_VERSION: &'static str = "management.cattle.io/v3";
    pub const KIND: &'static str = "FleetWorkspace";

    /// A workspace object of that name, ready to be applied.
    pub fn new(name: &str) -> Self {
        Self {
            api_version: Some(Self::API_VERSION.into()),
            kind: Some(Self::KIND.into()),
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            status: None,
        }
    }
}

impl kube::Resource for FleetWorkspace {
    type DynamicType = ();
    type Scope = kube::core::ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Self::KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "management.cattle.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v3".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "fleetworkspaces".into()
    }
    fn api_version(_: &()) -> Cow<'_, str> {
        Self::API_VERSION.into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
