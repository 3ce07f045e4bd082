//! A managed workspace's namespace (W1), never taken over when it is not drover's (W6).

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::as_namespace;
use crate::api::FleetWorkspace;
use crate::controllers::Error;
use crate::mapping::workspace::{NamespacePlan, Situation, namespace_claim, plan_namespace};
use crate::runtime::Context;
use crate::runtime::write::own_fields;

/// Brings the namespace in line; `None` when a namespace appeared that the cache has not seen
/// yet (its watch event brings the next decision).
pub async fn ensure(ws: &FleetWorkspace, ctx: &Context) -> Result<Option<Situation>, Error> {
    let name = ws.name_any();
    let current = ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(&name))
        .map(|meta| as_namespace(&meta));
    let desired = match plan_namespace(ws, current.as_ref().map(|ns| &ns.metadata)) {
        NamespacePlan::Apply(desired) => desired,
        NamespacePlan::NotAdopted(why) => return Ok(Some(Situation::NotAdopted(why))),
        NamespacePlan::Terminating => return Ok(Some(Situation::Terminating)),
    };
    let api = Api::<Namespace>::all(ctx.client.clone());
    // An apply would merge into a namespace that someone created since the cache last looked,
    // taking it over (W6); a create fails instead.
    if current.is_none() && !ctx.create(&api, &namespace_claim(ws)).await? {
        return Ok(None);
    }
    // Until drover has applied the namespace once (after its own create, or over one Rancher
    // made), it owns none of its fields and could never remove a label the workspace drops:
    // apply once whatever the namespace already says.
    let applied_before = current
        .as_ref()
        .is_some_and(|ns| own_fields(ns.metadata.managed_fields.as_deref(), None).is_some());
    let compare_with = current.as_ref().filter(|_| applied_before);
    ctx.apply(&api, &desired, compare_with).await?;
    Ok(Some(Situation::Ready))
}
