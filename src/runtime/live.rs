//! Reads from the API server itself, for decisions a cache may not make (§4a I1, I4, I7): a delete
//! is re-checked against the live object right before it is sent, an object about to be created
//! is looked for live, so one that appeared a moment ago is never taken over, a namespace is
//! deleted only when a live list finds no cluster in it, and a kind whose CRD is going is never
//! mistaken for a user's deletion of each object.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::runtime::Context;
use crate::runtime::decode::decode_object;
use crate::runtime::write::WriteError;

impl Context {
    /// The object `name` as the API server has it now, or `None`. Read as plain JSON and
    /// decoded here, so an object that does not fit drover's types is an error naming the
    /// field, never a log line carrying the whole object.
    pub async fn get_live<K>(&self, api: &Api<K>, name: &str) -> Result<Option<K>, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let resource = ApiResource::erase::<K>(&());
        let client = api.clone().into_client();
        let dynamic: Api<DynamicObject> = match api.namespace() {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        };
        let shown = || match api.namespace() {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        let Some(obj) = dynamic
            .get_opt(name)
            .await
            .map_err(|source| WriteError::Api {
                verb: "get",
                kind: K::kind(&()).to_string(),
                name: shown(),
                source: Box::new(source),
            })?
        else {
            return Ok(None);
        };
        decode_object::<K>(obj)
            .map(Some)
            .map_err(|(_, error)| WriteError::Undecodable {
                kind: K::kind(&()).to_string(),
                name: shown(),
                error,
            })
    }

    /// `cached`, or when the cache holds none, the object `name` as the API server has it now:
    /// before creating an object, so that one that appeared a moment ago is never taken over.
    pub async fn cached_or_live<K>(
        &self,
        cached: Option<Arc<K>>,
        api: &Api<K>,
        name: &str,
    ) -> Result<Option<Arc<K>>, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        match cached {
            Some(cached) => Ok(Some(cached)),
            None => Ok(self.get_live(api, name).await?.map(Arc::new)),
        }
    }

    /// Deletes `name` only if, read live, it exists, is not being deleted yet and `still` holds
    /// for it; the delete carries that object's UID as precondition. Returns whether a delete
    /// was sent.
    pub async fn delete_if_still<K>(
        &self,
        api: &Api<K>,
        name: &str,
        still: impl FnOnce(&K) -> bool,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        match self.get_live(api, name).await? {
            Some(live) if live.meta().deletion_timestamp.is_none() && still(&live) => {
                self.delete(api, &live).await
            }
            _ => Ok(false),
        }
    }

    /// Removes `finalizer` from `name` if, read live, `still` holds for it. A concurrent change
    /// to the finalizers (another actor removing theirs, or this one) is not an error: the
    /// change itself is an event that brings the caller back.
    pub async fn release_if_still<K>(
        &self,
        api: &Api<K>,
        name: &str,
        finalizer: &str,
        still: impl FnOnce(&K) -> bool,
    ) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    {
        let Some(live) = self.get_live(api, name).await? else {
            return Ok(false);
        };
        if !live.finalizers().iter().any(|f| f == finalizer) || !still(&live) {
            return Ok(false);
        }
        match self.remove_finalizer(api, &live, finalizer).await {
            Err(e) if matches!(e.code(), Some(409 | 422)) => Ok(false),
            other => other,
        }
    }
}

impl Context {
    /// The names of at most `limit` `K`s in `namespace`, listed live and metadata-only (an
    /// object drover cannot decode is still listed): for a decision the cache may not make.
    pub async fn live_names<K>(
        &self,
        namespace: &str,
        limit: u32,
    ) -> Result<Vec<String>, WriteError>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + DeserializeOwned
            + Clone
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let list = api
            .list_metadata(&kube::api::ListParams::default().limit(limit))
            .await
            .map_err(|source| WriteError::Api {
                verb: "list",
                kind: K::kind(&()).to_string(),
                name: format!("{namespace}/*"),
                source: Box::new(source),
            })?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|item| item.metadata.name)
            .collect())
    }

    /// Whether the CustomResourceDefinition of `K` is being deleted, or is gone: then the API
    /// server is deleting every `K`, and none of those deletions is a request to delete a
    /// counterpart (§I7). The cache answers when it already knows; otherwise the API server
    /// does, because the objects' deletions can arrive before the CRD's own event.
    pub async fn kind_is_being_removed<K>(&self) -> Result<bool, WriteError>
    where
        K: Resource<DynamicType = ()>,
    {
        let name = crate::runtime::watches::resource_name::<K>();
        let cached = self.stores.crds.get(&ObjectRef::new(&name));
        if cached
            .as_ref()
            .is_some_and(|crd| crd.metadata.deletion_timestamp.is_some())
        {
            return Ok(true);
        }
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let live = api
            .get_metadata_opt(&name)
            .await
            .map_err(|source| WriteError::Api {
                verb: "get",
                kind: "CustomResourceDefinition".into(),
                name: name.clone(),
                source: Box::new(source),
            })?;
        Ok(live.is_none_or(|crd| crd.metadata.deletion_timestamp.is_some()))
    }
}
