//! The real Fleet beside the control planes, for the end-to-end test and the demo.
//!
//! On the upstream (Rancher's local cluster): Fleet's CRDs (every [`TestEnv`] has them), the
//! `cattle-fleet-system/fleet-controller` ConfigMap as Rancher sets it, and fleet-controller's three
//! processes (`fleetcontroller`, `fleetcontroller agentmanagement --disable-bootstrap`,
//! `fleetcontroller cleanup`). On every cluster Fleet imports: the `fleet-agent` Deployment that
//! Fleet's import creates is run as a process, from the Deployment's own command and environment,
//! authenticated with a token of the Deployment's ServiceAccount. There is no kubelet, so the test
//! plays it: the process is the pod, and the Deployment's status is set as a kubelet would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::json;

use crate::TestEnv;

/// fleet-controller's namespace, and the agent namespace of downstream clusters.
pub const FLEET_SYSTEM_NAMESPACE: &str = "cattle-fleet-system";
/// The agent namespace of Rancher's local cluster (a cluster that is managed by an upstream Fleet
/// and runs its own Fleet carries one agent per namespace).
pub const LOCAL_AGENT_NAMESPACE: &str = "cattle-fleet-local-system";
/// The name of fleet-controller's ConfigMap and of the agent Deployment.
const CONTROLLER_CONFIG: &str = "fleet-controller";
const AGENT: &str = "fleet-agent";
/// How often agents report to the upstream (Fleet's default is 15 minutes).
const CHECKIN_INTERVAL: &str = "5s";
/// How long Fleet's import may take once a Fleet cluster exists.
pub const IMPORT_TIMEOUT: Duration = Duration::from_secs(180);

/// fleet-controller's configuration as Rancher writes it for its local cluster: bootstrap off (the
/// local cluster comes from Rancher, here drover), the local agent in `cattle-fleet-local-system`,
/// agents dialling the upstream's API server with its CA.
///
/// `manageAgent` stays unset (on), as Rancher leaves it: Fleet then also ships each agent as a
/// Bundle (`fleet-agent-<cluster>`), whose Deployment the agent applies to its own cluster, and
/// Fleet's import requires that Bundle. [`run_agent`] keeps that Deployment's status as a kubelet
/// would, so the Bundle becomes ready.
pub fn controller_config(upstream: &TestEnv) -> Result<serde_json::Value> {
    let ca = serde_json::to_value(ByteString(upstream.ca_pem()?.into_bytes()))
        .context("encoding the API server CA")?;
    Ok(json!({
        "agentImage": "rancher/fleet-agent:v0.16.0",
        "apiServerURL": upstream.server_url(),
        "apiServerCA": ca,
        "agentCheckinInterval": CHECKIN_INTERVAL,
        "agentTLSMode": "strict",
        "bootstrap": {
            "namespace": "fleet-local",
            "agentNamespace": LOCAL_AGENT_NAMESPACE,
        },
    }))
}

/// Creates fleet-controller's namespace and ConfigMap on `upstream` and starts its three
/// processes there (stopped with the control plane). Returns their log files.
pub async fn start_controllers(upstream: &TestEnv) -> Result<Vec<PathBuf>> {
    let client = upstream.client()?;
    crate::chart::ensure_namespace(&client, FLEET_SYSTEM_NAMESPACE).await?;
    let config = serde_json::to_string(&controller_config(upstream)?)?;
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(CONTROLLER_CONFIG.into()),
            namespace: Some(FLEET_SYSTEM_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("config".to_string(), config)])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client, FLEET_SYSTEM_NAMESPACE)
        .patch(
            CONTROLLER_CONFIG,
            &PatchParams::apply(crate::FIELD_MANAGER).force(),
            &Patch::Apply(&configmap),
        )
        .await
        .context("applying fleet-controller's ConfigMap")?;

    let program = crate::fleet_dir()?.join("fleetcontroller");
    let kubeconfig = upstream.kubeconfig_path().display().to_string();
    let home = upstream.dir().join("fleet-controller-home");
    std::fs::create_dir_all(&home).context("creating fleet-controller's home")?;
    let env: Vec<(String, String)> = [
        ("KUBECONFIG", kubeconfig),
        ("HOME", home.display().to_string()),
        ("NAMESPACE", FLEET_SYSTEM_NAMESPACE.to_string()),
        // The chart's election settings; each process reads its set unconditionally.
        ("CATTLE_ELECTION_LEASE_DURATION", "30s".into()),
        ("CATTLE_ELECTION_RENEW_DEADLINE", "25s".into()),
        ("CATTLE_ELECTION_RETRY_PERIOD", "10s".into()),
        ("FLEET_AGENT_ELECTION_LEASE_DURATION", "30s".into()),
        ("FLEET_AGENT_ELECTION_RENEW_DEADLINE", "25s".into()),
        ("FLEET_AGENT_ELECTION_RETRY_PERIOD", "10s".into()),
        // No fixed ports: several control planes may run on one machine.
        ("FLEET_METRICS_BIND_ADDRESS", "0".into()),
        ("FLEET_HEALTHPROBE_BIND_ADDRESS", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let processes: [(&'static str, &[&str]); 3] = [
        (
            "fleetcontroller",
            &["--leader-elect=false", "--disable-metrics"],
        ),
        (
            "fleetcontroller-agentmanagement",
            &["agentmanagement", "--disable-bootstrap"],
        ),
        ("fleetcontroller-cleanup", &["cleanup"]),
    ];
    let mut logs = Vec::new();
    for (name, args) in processes {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        logs.push(upstream.start_process(name, &program, &args, &env)?);
    }
    Ok(logs)
}

/// The name of the Secret Fleet's import gives a new agent to register with.
pub const BOOTSTRAP_SECRET: &str = "fleet-agent-bootstrap";

/// Waits until Fleet's import has created the agent Deployment and its bootstrap Secret in
/// `namespace` on `cluster`, and returns the Deployment.
pub async fn wait_for_import(cluster: &TestEnv, namespace: &str) -> Result<Deployment> {
    let client = cluster.client()?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    crate::eventually(
        &format!("Fleet's import to create Deployment {namespace}/{AGENT} and Secret {namespace}/{BOOTSTRAP_SECRET}"),
        IMPORT_TIMEOUT,
        || async {
            if secrets.get_opt(BOOTSTRAP_SECRET).await?.is_none() {
                return Ok(None);
            }
            Ok(deployments.get_opt(AGENT).await?)
        },
    )
    .await
}

/// [`wait_for_import`], then [`run_agent`].
pub async fn run_agent_when_imported(
    cluster: &TestEnv,
    namespace: &str,
    name: &'static str,
) -> Result<PathBuf> {
    let deployment = wait_for_import(cluster, namespace).await?;
    run_agent(cluster, namespace, name, &deployment).await
}

/// Runs the agent `deployment` (in `namespace` on `cluster`) as a process named `name`, from its
/// command and environment with a token of its ServiceAccount, and plays the kubelet for it from
/// then on: the Deployment's status follows its generation, and when Fleet replaces the
/// Deployment (a re-import deletes and re-creates the agent's objects, which invalidates the old
/// ServiceAccount's tokens) the process is replaced too, as a new pod would be. Returns the
/// agent's log file.
pub async fn run_agent(
    cluster: &TestEnv,
    namespace: &str,
    name: &'static str,
    deployment: &Deployment,
) -> Result<PathBuf> {
    let pod = Pod {
        client: cluster.client()?,
        processes: cluster.processes(),
        home: cluster.dir().join(format!("{name}-home")),
        namespace: namespace.to_string(),
        name,
    };
    let log = pod.start(deployment).await?;
    pod.play_kubelet().await?;
    let mut running = deployment.metadata.uid.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = pod.follow(&mut running).await {
                tracing::debug!("playing the kubelet for {}: {e:#}", pod.name);
            }
        }
    });
    Ok(log)
}

/// One agent "pod": the process standing in for the agent Deployment's one replica.
struct Pod {
    client: kube::Client,
    processes: crate::Processes,
    home: PathBuf,
    namespace: String,
    name: &'static str,
}

impl Pod {
    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Replaces the process when the Deployment was replaced, stops it when the Deployment is
    /// gone, and keeps the status current.
    async fn follow(&self, running: &mut Option<String>) -> Result<()> {
        let current = self.deployments().get_opt(AGENT).await?;
        let uid = current.as_ref().and_then(|d| d.metadata.uid.clone());
        if uid != *running {
            self.processes.stop(self.name);
            *running = None;
            if let Some(deployment) = &current {
                self.start(deployment).await?;
                *running = uid;
            }
        }
        self.play_kubelet().await
    }

    async fn start(&self, deployment: &Deployment) -> Result<PathBuf> {
        let namespace = self.namespace.as_str();
        let spec = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .ok_or_else(|| anyhow!("Deployment {namespace}/{AGENT} has no pod spec"))?;
        let container = spec
            .containers
            .first()
            .ok_or_else(|| anyhow!("Deployment {namespace}/{AGENT} has no container"))?;
        let service_account = spec.service_account_name.as_deref().unwrap_or("default");

        // The container's command names Fleet's agent binary; it runs from the cache here.
        let command = container.command.clone().unwrap_or_default();
        match command.first().map(String::as_str) {
            Some("fleetagent") => {}
            other => bail!("Deployment {namespace}/{AGENT} runs {other:?}, not fleetagent"),
        }
        let program = crate::fleet_dir()?.join("fleetagent");
        let mut args: Vec<String> = command[1..].to_vec();
        args.extend(container.args.clone().unwrap_or_default());

        // The container's environment, with the downward API resolved as the kubelet would.
        let pod_name = format!("{AGENT}-{}", self.name);
        let mut env = Vec::new();
        for var in container.env.clone().unwrap_or_default() {
            let value = match (&var.value, &var.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) => {
                    match from.field_ref.as_ref().map(|f| f.field_path.as_str()) {
                        Some("metadata.namespace") => namespace.to_string(),
                        Some("metadata.name") => pod_name.clone(),
                        _ => bail!(
                            "{AGENT} env {} has a source this test cannot play",
                            var.name
                        ),
                    }
                }
                (None, None) => String::new(),
            };
            env.push((var.name, value));
        }
        // The pod's identity: a token of its ServiceAccount instead of a mounted one. Fleet
        // applies the agent's objects together; the ServiceAccount may follow a moment later.
        let token = crate::eventually(
            &format!("a token of ServiceAccount {namespace}/{service_account}"),
            IMPORT_TIMEOUT,
            || async {
                Ok(
                    crate::token_for_service_account(&self.client, namespace, service_account)
                        .await
                        .ok(),
                )
            },
        )
        .await?;
        let kubeconfig = self.processes.kubeconfig_for_token(&token)?;
        std::fs::create_dir_all(&self.home).context("creating the agent's home")?;
        env.extend(
            [
                ("KUBECONFIG", kubeconfig.display().to_string()),
                ("HOME", self.home.display().to_string()),
                ("HOSTNAME", pod_name.clone()),
                ("POD_NAME", pod_name),
                // Several agents and controllers share this machine's ports.
                ("FLEET_AGENT_METRICS_BIND_ADDRESS", "0".to_string()),
                ("FLEET_AGENT_PROBE_BIND_ADDRESS", "0".to_string()),
                ("FLEET_AGENT_PPROF_DISABLED", "true".to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        self.processes.start(self.name, &program, &args, &env)
    }

    /// Sets the agent Deployment's status as a kubelet and the Deployment controller would for
    /// running, available replicas of its current generation (nothing when it already says so).
    async fn play_kubelet(&self) -> Result<()> {
        let deployments = self.deployments();
        let Some(deployment) = deployments.get_opt(AGENT).await? else {
            return Ok(());
        };
        let generation = deployment.metadata.generation.unwrap_or(1);
        let replicas = deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1);
        let current = deployment.status.as_ref();
        if current.and_then(|s| s.observed_generation) == Some(generation)
            && current.and_then(|s| s.available_replicas) == Some(replicas)
        {
            return Ok(());
        }
        let condition = |type_: &str, reason: &str| {
            json!({"type": type_, "status": "True", "reason": reason,
               "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z"})
        };
        let status = json!({"status": {
            "observedGeneration": generation,
            "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                condition("Available", "MinimumReplicasAvailable"),
                condition("Progressing", "NewReplicaSetAvailable"),
            ],
        }});
        deployments
            .patch_status(AGENT, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| {
                format!(
                    "setting the status of Deployment {}/{AGENT}",
                    self.namespace
                )
            })?;
        Ok(())
    }
}

/// A kubeconfig Secret's content for `cluster`, as a provisioner writes `<name>-kubeconfig`
/// (key `value`): the admin kubeconfig, read from the control plane's directory.
pub fn kubeconfig_secret_value(cluster: &TestEnv) -> Result<ByteString> {
    let path = cluster.kubeconfig_path();
    Ok(ByteString(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}
