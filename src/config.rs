//! `drover run` settings: every flag has an environment fallback so the chart can set them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::consts;

/// What deleting a managed workspace does to a namespace that still holds clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceDeletion {
    /// Keep the workspace (finalizer) until its namespace holds no prov or fleet cluster.
    #[default]
    Protect,
    /// Rancher's behaviour: delete the namespace at once, deprovisioning what it holds.
    Cascade,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Where to reach the API server.
#[derive(Args, Clone, Debug, Default)]
pub struct ClusterArgs {
    /// kubeconfig file; in-cluster configuration when unset and running in a pod.
    #[arg(long, env = "KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long, env = "DROVER_CONTEXT", global = true)]
    pub context: Option<String>,
}

/// Settings of the controllers.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Workspace for clusters that name none.
    #[arg(long, env = "DROVER_DEFAULT_WORKSPACE", default_value = consts::DEFAULT_WORKSPACE)]
    pub default_workspace: String,

    /// What deleting a workspace does to a namespace that still holds clusters.
    #[arg(long, env = "DROVER_WORKSPACE_DELETION", value_enum, default_value_t = WorkspaceDeletion::Protect)]
    pub workspace_deletion: WorkspaceDeletion,

    /// Ensure the mgmt cluster `local` for the cluster drover runs in.
    #[arg(long, env = "DROVER_BOOTSTRAP_LOCAL_CLUSTER", default_value_t = true, action = clap::ArgAction::Set)]
    pub bootstrap_local_cluster: bool,

    /// Observe kubeconfig secrets (metadata only). When off, drover needs no secret access and
    /// trusts the `<prov>-kubeconfig` naming convention once a cluster is ready.
    #[arg(long, env = "DROVER_OBSERVE_KUBECONFIG_SECRETS", default_value_t = true, action = clap::ArgAction::Set)]
    pub observe_kubeconfig_secrets: bool,

    /// Registry for agents of clusters that name none (Rancher's `system-default-registry`).
    #[arg(long, env = "DROVER_DEFAULT_REGISTRY")]
    pub default_registry: Option<String>,

    /// Node label of the default fleet-agent affinity (preferred, weight 1, value `true`).
    #[arg(long, env = "DROVER_AGENT_AFFINITY_LABEL", default_value = consts::labels::FLEET_AGENT_NODE)]
    pub agent_affinity_label: String,

    /// Address of the health, readiness and metrics server.
    #[arg(long, env = "DROVER_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Reconciles running at once, per controller.
    #[arg(long, env = "DROVER_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,

    /// Elect one active writer among replicas through a Lease.
    #[arg(long, env = "DROVER_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Namespace of the leadership Lease (the pod's namespace in a chart install).
    #[arg(long, env = "POD_NAMESPACE", default_value = "cattle-fleet-system")]
    pub lease_namespace: String,

    /// Name of the leadership Lease.
    #[arg(long, env = "DROVER_LEASE_NAME", default_value = "drover")]
    pub lease_name: String,

    /// Identity in the Lease; the pod name in a chart install.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Seconds a watch may keep failing before `/readyz` answers 503.
    #[arg(long, env = "DROVER_WATCH_FAILURE_TIMEOUT", default_value_t = 60)]
    pub watch_failure_timeout: u64,

    /// How the caches are filled: `true`, streaming lists (a watch with `sendInitialEvents`;
    /// the API server's `WatchList` feature, Kubernetes 1.27 and later where enabled); `false`,
    /// list requests. Unset: streaming lists when the API server accepts one at start-up, list
    /// requests when it refuses.
    #[arg(long, env = "DROVER_STREAMING_LISTS", action = clap::ArgAction::Set)]
    pub streaming_lists: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_workspace: consts::DEFAULT_WORKSPACE.into(),
            workspace_deletion: WorkspaceDeletion::Protect,
            bootstrap_local_cluster: true,
            observe_kubeconfig_secrets: true,
            default_registry: None,
            agent_affinity_label: consts::labels::FLEET_AGENT_NODE.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            concurrency: 16,
            leader_election: false,
            lease_namespace: "cattle-fleet-system".into(),
            lease_name: "drover".into(),
            identity: None,
            watch_failure_timeout: 60,
            streaming_lists: None,
        }
    }
}
