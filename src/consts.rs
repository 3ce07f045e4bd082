//! Every label, annotation, finalizer and well-known name drover reads or writes, with who else
//! reads it. Keys shared with Rancher keep Rancher's spelling so objects created by Rancher before
//! drover took over are recognised.

/// Field manager for every server-side apply drover sends.
pub const FIELD_MANAGER: &str = "drover";

/// Default workspace for downstream clusters (Rancher's default; configurable).
pub const DEFAULT_WORKSPACE: &str = "fleet-default";
/// Workspace of the local (internal) cluster. Fleet and Rancher both hard-code it.
pub const LOCAL_WORKSPACE: &str = "fleet-local";
/// Name of the mgmt and prov cluster that represents the cluster drover runs in.
pub const LOCAL_CLUSTER: &str = "local";
/// Agent namespace of the local cluster's fleet-agent, so that an upstream Fleet's agent (in
/// `cattle-fleet-system`) and the local one never collide ("Fleet managing Fleet").
pub const LOCAL_AGENT_NAMESPACE: &str = "cattle-fleet-local-system";

pub mod finalizers {
    //! Rancher's finalizer names: clusters that already carry them from a Rancher installation
    //! are handled by drover instead of being stuck.
    pub const PROV_CLUSTER: &str = "wrangler.cattle.io/provisioning-cluster-remove";
    pub const MGMT_CLUSTER: &str = "wrangler.cattle.io/mgmt-cluster-remove";
    /// drover's own: holds a workspace until its namespace may safely go.
    pub const WORKSPACE: &str = "drover.cattle.io/workspace-protection";
}

pub mod annotations {
    //! Annotation keys. Read by Rancher's UI and by users unless said otherwise.
    /// prov: names the mgmt cluster to create (only before a name was chosen).
    pub const MANAGEMENT_CLUSTER_NAME: &str = "provisioning.cattle.io/management-cluster-name";
    /// prov: moves the cluster to another workspace (wins over the mgmt value).
    pub const FLEET_WORKSPACE_NAME: &str = "provisioning.cattle.io/fleet-workspace-name";
    /// prov -> mgmt `spec.description`.
    pub const DESCRIPTION: &str = "field.cattle.io/description";
    /// prov and workspace: the user who created the object.
    pub const CREATOR_ID: &str = "field.cattle.io/creatorId";
    /// mgmt: truthy when an external tool manages the cluster; no workspace defaulting then.
    pub const EXTERNALLY_MANAGED: &str = "provisioning.cattle.io/externally-managed";
    /// workspace: `"false"` means the workspace does not own a namespace.
    pub const MANAGED: &str = "provisioning.cattle.io/managed";
    /// prov (written for legacy clusters): the mgmt display name.
    pub const MANAGEMENT_CLUSTER_DISPLAY_NAME: &str =
        "provisioning.cattle.io/management-cluster-display-name";
    /// mgmt (written): `"true"` iff the prov cluster has `spec.rkeConfig`.
    pub const ADMINISTRATED: &str = "provisioning.cattle.io/administrated";
    /// namespace: lets a workspace adopt a namespace that drover did not create.
    pub const ALLOW_EXISTING_NAMESPACE: &str =
        "field.cattle.io/allow-fleetworkspace-creation-for-existing-namespace";
    /// namespace (written): drover took the namespace over for a workspace through one of the W6
    /// exemptions but did not create it, so it never deletes it.
    pub const ADOPTED: &str = "drover.cattle.io/adopted";
    /// Ownership marks, Rancher's objectset keys.
    pub const OWNER_GVK: &str = "objectset.rio.cattle.io/owner-gvk";
    pub const OWNER_NAME: &str = "objectset.rio.cattle.io/owner-name";
    pub const OWNER_NAMESPACE: &str = "objectset.rio.cattle.io/owner-namespace";
    /// drover's own ownership mark: the owner's UID, so a re-created owner of the same name does
    /// not inherit (or delete) its predecessor's children.
    pub const OWNER_UID: &str = "drover.cattle.io/owner-uid";
}

pub mod labels {
    //! Label keys.
    /// namespace: set by Rancher on namespaces it manages; lets a workspace adopt one.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const MANAGED_BY_RANCHER: &str = "rancher";
    /// fleet cluster: the mgmt cluster name. Read by Rancher's UI and Fleet selectors.
    pub const CLUSTER_NAME: &str = "management.cattle.io/cluster-name";
    /// fleet cluster: the mgmt display name, when it is a valid label value.
    pub const CLUSTER_DISPLAY_NAME: &str = "management.cattle.io/cluster-display-name";
    /// fleet cluster: `name=local` on the internal cluster, selected by ClusterGroup `default`.
    pub const NAME: &str = "name";
    /// RBAC drover maintains for a workspace's creator: the workspace it belongs to.
    pub const WORKSPACE: &str = "drover.cattle.io/workspace";
    /// Node labels that mark control-plane nodes (the second is RKE1's spelling).
    pub const CONTROL_PLANE_NODE: &str = "node-role.kubernetes.io/control-plane";
    pub const CONTROL_PLANE_NODE_RKE1: &str = "node-role.kubernetes.io/controlplane";
    /// Node label of the default fleet-agent affinity.
    pub const FLEET_AGENT_NODE: &str = "fleet.cattle.io/agent";
}

pub mod conditions {
    //! Condition types.
    pub const READY: &str = "Ready";
    pub const CONNECTED: &str = "Connected";
    pub const AGENT_DEPLOYED: &str = "AgentDeployed";
    pub const CREATED: &str = "Created";
    /// kstatus: work in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// kstatus: no progress without outside help.
    pub const STALLED: &str = "Stalled";
    /// workspace: its namespace is in place.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// workspace: its creator's RBAC (W5) is in place.
    pub const CREATOR_RBAC_READY: &str = "CreatorRbacReady";
}

pub mod actions {
    //! Event actions: what drover did, or refused to do, to the object (`action` of an Event).
    pub const CREATE: &str = "Create";
    pub const DELETE: &str = "Delete";
    pub const MOVE: &str = "Move";
    /// Taking over an object that exists (refused unless drover made it).
    pub const ADOPT: &str = "Adopt";
    pub const RECONCILE: &str = "Reconcile";
    /// Reading an object into drover's types.
    pub const DECODE: &str = "Decode";
}

pub mod reasons {
    //! Reasons of conditions and Events, one module per controller. Users read them in
    //! `kubectl describe` and alerts match on them: they never change once released.

    /// Any controller: a reconcile failed (Warning Event, once per distinct message).
    pub const RECONCILE_FAILED: &str = "ReconcileFailed";
    /// Any watch: an object does not fit drover's types (Warning Event; prov `Stalled`).
    pub const UNDECODABLE: &str = "Undecodable";

    pub mod cluster {
        //! The cluster controller: prov conditions (§C2) and Events on prov clusters.
        pub const CREATING: &str = "Creating";
        pub const CREATED: &str = "Created";
        pub const WAITING: &str = "Waiting";
        pub const RECONCILED: &str = "Reconciled";
        pub const CONNECTED: &str = "Connected";
        pub const NOT_CONNECTED: &str = "NotConnected";
        /// A legacy-named prov cluster whose mgmt cluster does not exist.
        pub const MGMT_CLUSTER_MISSING: &str = "MgmtClusterMissing";
        /// A legacy-named prov cluster outside its mgmt cluster's workspace (§I2).
        pub const MGMT_CLUSTER_REPRESENTED_ELSEWHERE: &str = "MgmtClusterRepresentedElsewhere";
        /// The annotated mgmt name may not be used.
        pub const MGMT_CLUSTER_NAME_REFUSED: &str = "MgmtClusterNameRefused";
        /// The mgmt cluster of that name was not created for this prov cluster (§I1).
        pub const MGMT_CLUSTER_CLAIMED: &str = "MgmtClusterClaimed";
        /// The API server refused the mgmt cluster.
        pub const CREATE_FAILED: &str = "CreateFailed";
        pub const MGMT_CLUSTER_CREATED: &str = "MgmtClusterCreated";
        pub const MGMT_CLUSTER_DELETED: &str = "MgmtClusterDeleted";
        /// The prov cluster went, its mgmt cluster stays (§C7).
        pub const MGMT_CLUSTER_KEPT: &str = "MgmtClusterKept";
        /// A fleet cluster drover did not create sits where this cluster's belongs.
        pub const FLEET_CLUSTER_NOT_ADOPTED: &str = "FleetClusterNotAdopted";
        /// The API server refused the fleet cluster drover wrote.
        pub const FLEET_CLUSTER_WRITE_FAILED: &str = "FleetClusterWriteFailed";
        pub const FLEET_CLUSTER_MOVED: &str = "FleetClusterMoved";
        pub const FLEET_CLUSTER_DELETED: &str = "FleetClusterDeleted";
    }

    pub mod mgmt {
        //! The mgmt controller: Events on mgmt clusters, and the local cluster's conditions.
        /// The prov cluster of a legacy mgmt cluster exists and was not created for it.
        pub const PROV_CLUSTER_NOT_ADOPTED: &str = "ProvClusterNotAdopted";
        pub const PROV_CLUSTER_CREATED: &str = "ProvClusterCreated";
        pub const PROV_CLUSTER_MOVED: &str = "ProvClusterMoved";
        pub const PROV_CLUSTER_DELETED: &str = "ProvClusterDeleted";
        /// `Ready` and `Connected` of the local cluster, set by drover itself (§C9).
        pub const LOCAL: &str = "Local";
    }

    pub mod workspace {
        //! The workspace controller: workspace conditions and Events.
        pub const NAMESPACE_READY: &str = "NamespaceReady";
        pub const NAMESPACE_NOT_ADOPTED: &str = "NamespaceNotAdopted";
        pub const CREATOR_RBAC_READY: &str = "CreatorRbacReady";
        pub const CREATOR_RBAC_NOT_ADOPTED: &str = "CreatorRbacNotAdopted";
        pub const NAMESPACE_TERMINATING: &str = "NamespaceTerminating";
        pub const NAMESPACE_HOLDS_CLUSTERS: &str = "NamespaceHoldsClusters";
        pub const NAMESPACE_DELETED: &str = "NamespaceDeleted";
    }
}

pub mod roles {
    //! ClusterRoles the chart ships (spec W5), under Rancher's names so that Rancher's UI and
    //! existing bindings keep working.
    /// All verbs on a workspace's Fleet objects; bound to a workspace's creator in its namespace.
    pub const WORKSPACE_ADMIN: &str = "fleetworkspace-admin";
}
