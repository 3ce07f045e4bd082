//! Creator RBAC (W5): the three objects applied while the workspace names a creator, deleted
//! when it stops (or stops being managed, or goes).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::FleetWorkspace;
use crate::controllers::Error;
use crate::mapping::rbac::{
    belongs_to, cluster_role_binding_name, cluster_role_name, desired_rbac, role_binding_name,
};
use crate::runtime::Context;

pub async fn ensure(ws: &FleetWorkspace, ctx: &Context) -> Result<(), Error> {
    let Some(desired) = desired_rbac(ws) else {
        return remove(ws, ctx).await;
    };
    let name = ws.name_any();
    let stores = &ctx.stores;
    let client = &ctx.client;
    ctx.apply(
        &Api::<RoleBinding>::namespaced(client.clone(), &name),
        &desired.role_binding,
        stores
            .role_bindings
            .get(&ObjectRef::new(&role_binding_name(&name)).within(&name))
            .as_deref(),
    )
    .await?;
    // The role before its binding, so the binding never points at nothing.
    ctx.apply(
        &Api::<ClusterRole>::all(client.clone()),
        &desired.cluster_role,
        stores
            .cluster_roles
            .get(&ObjectRef::new(&cluster_role_name(&name)))
            .as_deref(),
    )
    .await?;
    ctx.apply(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        &desired.cluster_role_binding,
        stores
            .cluster_role_bindings
            .get(&ObjectRef::new(&cluster_role_binding_name(&name)))
            .as_deref(),
    )
    .await?;
    Ok(())
}

/// Deletes whichever of the three exist and are drover's for this workspace. Objects of those
/// names that drover did not make (no label or marks) are not in its caches and stay.
pub async fn remove(ws: &FleetWorkspace, ctx: &Context) -> Result<(), Error> {
    let name = ws.name_any();
    let stores = &ctx.stores;
    let client = &ctx.client;
    // The binding before the role, mirroring creation.
    if let Some(crb) = stores
        .cluster_role_bindings
        .get(&ObjectRef::new(&cluster_role_binding_name(&name)))
        .filter(|o| belongs_to(&o.metadata, ws))
    {
        ctx.delete(&Api::<ClusterRoleBinding>::all(client.clone()), &*crb)
            .await?;
    }
    if let Some(role) = stores
        .cluster_roles
        .get(&ObjectRef::new(&cluster_role_name(&name)))
        .filter(|o| belongs_to(&o.metadata, ws))
    {
        ctx.delete(&Api::<ClusterRole>::all(client.clone()), &*role)
            .await?;
    }
    if let Some(rb) = stores
        .role_bindings
        .get(&ObjectRef::new(&role_binding_name(&name)).within(&name))
        .filter(|o| belongs_to(&o.metadata, ws))
    {
        ctx.delete(&Api::<RoleBinding>::namespaced(client.clone(), &name), &*rb)
            .await?;
    }
    Ok(())
}
