//! Labels and annotations: export cleaning and ownership marks.

use std::collections::BTreeMap;

use kube::Resource;

use crate::consts::annotations;

/// Whether a label or annotation key survives export cleaning: keys starting with
/// `kubectl.kubernetes.io/` or containing `cattle.io/` anywhere are dropped, so that Rancher's
/// and kubectl's bookkeeping never leaks from one object to another.
pub fn is_exportable_key(key: &str) -> bool {
    !key.starts_with("kubectl.kubernetes.io/") && !key.contains("cattle.io/")
}

/// A copy of the map without the keys that export cleaning drops.
pub fn export_cleaned(map: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .filter(|(k, _)| is_exportable_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `"<group>/<version>, Kind=<Kind>"` as Rancher's wrangler writes the owner-gvk annotation
/// (Go's `GroupVersionKind.String()`): the core group is empty, so core kinds read
/// `"/v1, Kind=Namespace"`.
pub fn owner_gvk<K: Resource<DynamicType = ()>>() -> String {
    format!(
        "{}/{}, Kind={}",
        K::group(&()),
        K::version(&()),
        K::kind(&())
    )
}

/// Whether two owner-gvk values name the same kind. drover once wrote core kinds without the
/// leading `/` (`"v1, Kind=Namespace"`); both spellings are read as one.
pub fn same_gvk(a: &str, b: &str) -> bool {
    a.strip_prefix('/').unwrap_or(a) == b.strip_prefix('/').unwrap_or(b)
}

/// Who owns an object drover created. Written as Rancher's objectset annotations plus drover's
/// owner UID; never as an ownerReference, because owners live in other scopes or namespaces and
/// Kubernetes' garbage collector would delete such children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerMarks {
    /// [`owner_gvk`]: Rancher's spelling, `"/v1, Kind=Namespace"` for the core group.
    pub gvk: String,
    pub name: String,
    /// Empty for cluster-scoped owners.
    pub namespace: String,
    pub uid: String,
}

impl OwnerMarks {
    /// The marks naming `owner`.
    pub fn of<K: Resource<DynamicType = ()>>(owner: &K) -> Self {
        let meta = owner.meta();
        Self {
            gvk: owner_gvk::<K>(),
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }

    /// The annotations that record these marks.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (annotations::OWNER_GVK.to_string(), self.gvk.clone()),
            (annotations::OWNER_NAME.to_string(), self.name.clone()),
            (
                annotations::OWNER_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
            (annotations::OWNER_UID.to_string(), self.uid.clone()),
        ])
    }

    /// Reads the marks from an object's annotations, when it carries the objectset ones.
    /// Objects created by Rancher carry no UID mark; `uid` is empty for them.
    pub fn read(annotations_of: Option<&BTreeMap<String, String>>) -> Option<Self> {
        let a = annotations_of?;
        Some(Self {
            gvk: a.get(annotations::OWNER_GVK)?.clone(),
            name: a.get(annotations::OWNER_NAME)?.clone(),
            namespace: a
                .get(annotations::OWNER_NAMESPACE)
                .cloned()
                .unwrap_or_default(),
            uid: a.get(annotations::OWNER_UID).cloned().unwrap_or_default(),
        })
    }

    /// Whether these marks name an owner of kind `K` (either spelling of a core kind).
    pub fn name_kind<K: Resource<DynamicType = ()>>(&self) -> bool {
        same_gvk(&self.gvk, &owner_gvk::<K>())
    }

    /// Whether these marks name an owner of kind `K` called `name`, whatever its UID: the
    /// owner or an earlier one of the same name.
    pub fn name_namesake<K: Resource<DynamicType = ()>>(&self, name: &str) -> bool {
        self.name_kind::<K>() && self.name == name
    }

    /// Whether these marks (read from a child) name `owner`. A UID mark, when present, must
    /// match too: a re-created owner of the same name is a different owner.
    pub fn name_owner<K: Resource<DynamicType = ()>>(&self, owner: &K) -> bool {
        let expected = Self::of(owner);
        self.name_kind::<K>()
            && self.name == expected.name
            && self.namespace == expected.namespace
            && (self.uid.is_empty() || self.uid == expected.uid)
    }
}

/// Whether a value is a valid label value: at most 63 characters, alphanumeric at both ends,
/// `-`, `_` and `.` inside. The empty value is valid.
pub fn is_valid_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let b = value.as_bytes();
    value.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Truthy as Rancher reads `externally-managed`: non-empty and, lower-cased, not `false`.
/// The finalizers drover applies with an object it applies anyway: its own `finalizer` rides in
/// that apply instead of a patch of its own (`metadata.finalizers` is a set under server-side
/// apply, so other writers' finalizers stay). Left out only on an object being deleted that no
/// longer carries it: its removal already ran (§I4), and the API server refuses new finalizers
/// there. While the object carries it, it stays in drover's apply, so an apply never drops it.
pub fn applied_finalizers(
    existing: Option<&kube::api::ObjectMeta>,
    finalizer: &str,
) -> Option<Vec<String>> {
    let released = existing.is_some_and(|m| {
        m.deletion_timestamp.is_some()
            && !m
                .finalizers
                .as_ref()
                .is_some_and(|f| f.iter().any(|x| x == finalizer))
    });
    (!released).then(|| vec![finalizer.to_string()])
}

pub fn is_truthy(value: Option<&String>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v.to_lowercase() != "false")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::string_map;
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::ObjectMeta;

    #[test]
    fn export_cleaning_drops_kubectl_and_every_cattle_io_key() {
        let cleaned = export_cleaned(Some(&string_map(&[
            ("team", "a"),
            ("cattle.io/x", "y"),
            ("field.cattle.io/creatorId", "u-1"),
            ("provisioning.cattle.io/managed", "false"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ("example.com/cattle.io/nested", "1"),
            ("app.kubernetes.io/name", "web"),
        ])));
        assert_eq!(
            cleaned,
            string_map(&[("team", "a"), ("app.kubernetes.io/name", "web")])
        );
    }

    #[test]
    fn export_cleaning_keeps_keys_that_only_look_alike() {
        let cleaned = export_cleaned(Some(&string_map(&[
            ("cattle.io", "1"),
            ("kubectl.kubernetes.io", "2"),
        ])));
        assert_eq!(cleaned.len(), 2);
    }

    #[test]
    fn export_cleaning_of_nothing_is_empty() {
        assert!(export_cleaned(None).is_empty());
    }

    fn namespace(name: &str, uid: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(uid.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    #[test]
    fn owner_marks_use_rancher_spelling_and_round_trip() {
        let ns = namespace("ops", "uid-1");
        let marks = OwnerMarks::of(&ns);
        assert_eq!(marks.gvk, "/v1, Kind=Namespace");
        let annotations = marks.annotations();
        assert_eq!(annotations["objectset.rio.cattle.io/owner-name"], "ops");
        assert_eq!(annotations["objectset.rio.cattle.io/owner-namespace"], "");
        assert_eq!(annotations["drover.cattle.io/owner-uid"], "uid-1");
        assert_eq!(OwnerMarks::read(Some(&annotations)), Some(marks.clone()));
        assert!(marks.name_owner(&ns));
    }

    #[test]
    fn owner_gvks_of_named_groups_have_no_leading_slash() {
        assert_eq!(
            owner_gvk::<crate::api::FleetWorkspace>(),
            "management.cattle.io/v3, Kind=FleetWorkspace"
        );
        assert_eq!(
            owner_gvk::<crate::api::ProvCluster>(),
            "provisioning.cattle.io/v1, Kind=Cluster"
        );
    }

    #[test]
    fn marks_with_either_spelling_of_a_core_kind_name_their_owner() {
        let ns = namespace("ops", "uid-1");
        for gvk in ["/v1, Kind=Namespace", "v1, Kind=Namespace"] {
            let mut annotations = OwnerMarks::of(&ns).annotations();
            annotations.insert("objectset.rio.cattle.io/owner-gvk".into(), gvk.into());
            let marks = OwnerMarks::read(Some(&annotations)).expect("marks");
            assert!(marks.name_owner(&ns), "{gvk}");
            assert!(marks.name_kind::<Namespace>(), "{gvk}");
        }
        assert!(!same_gvk("/v1, Kind=Namespace", "/v1, Kind=Secret"));
        assert!(!same_gvk("apps/v1, Kind=Deployment", "v1, Kind=Deployment"));
    }

    #[test]
    fn owner_marks_of_a_recreated_owner_do_not_match() {
        let marks = OwnerMarks::of(&namespace("ops", "uid-1"));
        assert!(!marks.name_owner(&namespace("ops", "uid-2")));
        assert!(!marks.name_owner(&namespace("dev", "uid-1")));
    }

    #[test]
    fn rancher_marks_without_a_uid_match_by_name() {
        let mut annotations = OwnerMarks::of(&namespace("ops", "uid-1")).annotations();
        annotations.remove("drover.cattle.io/owner-uid");
        let marks = OwnerMarks::read(Some(&annotations)).expect("marks");
        assert!(marks.name_owner(&namespace("ops", "uid-9")));
    }

    #[test]
    fn objects_without_objectset_marks_have_no_owner() {
        assert_eq!(OwnerMarks::read(Some(&string_map(&[("a", "b")]))), None);
        assert_eq!(OwnerMarks::read(None), None);
    }

    #[test]
    fn label_values_are_validated_like_kubernetes_does() {
        assert!(is_valid_label_value("prod-cluster_1.a"));
        assert!(is_valid_label_value(""));
        assert!(!is_valid_label_value("My Cluster"));
        assert!(!is_valid_label_value("-a"));
        assert!(!is_valid_label_value("a-"));
        assert!(!is_valid_label_value(&"a".repeat(64)));
        assert!(is_valid_label_value(&"a".repeat(63)));
    }

    #[test]
    fn truthy_means_non_empty_and_not_false() {
        for (v, expected) in [
            ("true", true),
            ("yes", true),
            ("False", false),
            ("false", false),
            ("", false),
        ] {
            assert_eq!(is_truthy(Some(&v.to_string())), expected, "{v}");
        }
        assert!(!is_truthy(None));
    }
}
