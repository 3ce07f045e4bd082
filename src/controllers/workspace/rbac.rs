//! Creator RBAC (W5): the three objects applied while the workspace names a creator, deleted
//! when it stops (or stops being managed, or goes). An object of those names that drover did not
//! make is never overwritten or deleted: the workspace reports it instead.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::ObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::FleetWorkspace;
use crate::controllers::Error;
use crate::controllers::copies::Owned;
use crate::mapping::rbac::{
    belongs_to, cluster_role_binding_name, cluster_role_name, desired_rbac, is_creator_rbac_for,
    role_binding_name,
};
use crate::mapping::workspace::{CreatorGrant, creator};
use crate::runtime::Context;
use crate::runtime::write::WriteError;

/// Brings the creator's RBAC in line; `None` when the workspace names no creator (its RBAC, if
/// any, is removed).
pub async fn ensure(ws: &FleetWorkspace, ctx: &Context) -> Result<Option<CreatorGrant>, Error> {
    let (Some(desired), Some(creator)) = (desired_rbac(ws), creator(ws)) else {
        remove(ws, ctx).await?;
        return Ok(None);
    };
    let name = ws.name_any();
    let stores = &ctx.stores;
    let role_bindings = Api::<RoleBinding>::namespaced(ctx.client.clone(), &name);
    let roles = Api::<ClusterRole>::all(ctx.client.clone());
    let bindings = Api::<ClusterRoleBinding>::all(ctx.client.clone());
    let cached_binding = stores
        .cluster_role_bindings
        .get(&ObjectRef::new(&cluster_role_binding_name(&name)));
    let mut foreign = Vec::new();
    let role_binding = stores
        .role_bindings
        .get(&ObjectRef::new(&role_binding_name(&name)).within(&name));
    foreign.extend(ensure_one(ctx, ws, &role_bindings, &desired.role_binding, role_binding).await?);
    // The role before its binding, so the binding never points at nothing.
    let role = stores
        .cluster_roles
        .get(&ObjectRef::new(&cluster_role_name(&name)));
    match ensure_one(ctx, ws, &roles, &desired.cluster_role, role).await? {
        None => {
            let binding = &desired.cluster_role_binding;
            foreign.extend(ensure_one(ctx, ws, &bindings, binding, cached_binding).await?);
        }
        Some(role) => {
            // The binding names the role by name: bound now, it would hand the creator whatever
            // someone else's role grants. drover's own binding goes; anyone else's stays.
            foreign.push(role);
            let binding = &desired.cluster_role_binding;
            match ctx
                .cached_or_live(cached_binding, &bindings, &binding.name_any())
                .await?
            {
                Some(b) if is_creator_rbac_for(b.meta(), ws) => {
                    ctx.delete_if_still(&bindings, &b.name_any(), |live| {
                        is_creator_rbac_for(live.meta(), ws)
                    })
                    .await?;
                }
                Some(_) => foreign.push(kind_and_name(binding)),
                None => {}
            }
        }
    }
    let creator = creator.to_string();
    Ok(Some(if foreign.is_empty() {
        CreatorGrant::Granted { creator }
    } else {
        CreatorGrant::NotAdopted { creator, foreign }
    }))
}

fn kind_and_name<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("{} {}", K::kind(&()), obj.name_any())
}

/// Creates or updates one of the three; `Some("<Kind> <name>")` when an object of its name
/// exists that drover did not make, which is then left as it is.
async fn ensure_one<K>(
    ctx: &Context,
    ws: &FleetWorkspace,
    api: &Api<K>,
    desired: &K,
    cached: Option<Arc<K>>,
) -> Result<Option<String>, Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let current = match cached {
        Some(cached) => cached,
        None => match create_or_read(ctx, api, desired).await? {
            Some(live) => Arc::new(live),
            None => return Ok(None),
        },
    };
    if !is_creator_rbac_for(current.meta(), ws) {
        return Ok(Some(kind_and_name(desired)));
    }
    ctx.apply(api, desired, Some(&current)).await?;
    Ok(None)
}

/// Creates `desired` unless its name is taken; `Some(object)` holding the name when it is.
/// drover's caches hold only objects carrying its label: a create claims a free name and fails
/// on a taken one, where an apply would take someone else's object over.
async fn create_or_read<K>(ctx: &Context, api: &Api<K>, desired: &K) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let refused = match ctx.create(api, desired).await {
        Ok(true) => return Ok(None),
        Ok(false) => None,
        // RBAC refuses a binding to a role whose permissions drover lacks before it checks the
        // name: a foreign role of the W5 name makes a foreign binding's create fail so.
        Err(e) => Some(e),
    };
    match (ctx.get_live(api, &desired.name_any()).await?, refused) {
        (Some(live), _) => Ok(Some(live)),
        (None, Some(e)) => Err(e.into()),
        // Deleted between the create and the read: created on the next pass, which its watch
        // event (or the workspace's re-check) brings.
        (None, None) => Err(Error::Write(WriteError::Raced {
            kind: K::kind(&()).to_string(),
            name: desired.name_any(),
        })),
    }
}

/// Deletes whichever of the three exist and are drover's for this workspace: none is wanted any
/// more. Each is re-read live and checked again just before the delete. Objects of those names
/// that drover did not make (no label or marks) are not in its caches or fail [`belongs_to`],
/// and stay.
pub async fn remove(ws: &FleetWorkspace, ctx: &Context) -> Result<(), Error> {
    let name = ws.name_any();
    let stores = &ctx.stores;
    let client = &ctx.client;
    let named = |wanted: &str| {
        let wanted = wanted.to_string();
        move |meta: &ObjectMeta| meta.name.as_deref() == Some(wanted.as_str())
    };
    // The binding before the role, mirroring creation.
    let binding = named(&cluster_role_binding_name(&name));
    Owned::cluster_scoped(client.clone(), |o: &ClusterRoleBinding| {
        belongs_to(&o.metadata, ws)
    })
    .in_cache(&stores.cluster_role_bindings, |o| binding(&o.metadata))
    .delete_unwanted(ctx)
    .await?;
    let role = named(&cluster_role_name(&name));
    Owned::cluster_scoped(client.clone(), |o: &ClusterRole| {
        belongs_to(&o.metadata, ws)
    })
    .in_cache(&stores.cluster_roles, |o| role(&o.metadata))
    .delete_unwanted(ctx)
    .await?;
    let role_binding = named(&role_binding_name(&name));
    Owned::namespaced(client.clone(), |o: &RoleBinding| {
        belongs_to(&o.metadata, ws)
    })
    .in_cache(&stores.role_bindings, |o| {
        o.metadata.namespace.as_deref() == Some(name.as_str()) && role_binding(&o.metadata)
    })
    .delete_unwanted(ctx)
    .await?;
    Ok(())
}
