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
/// One difference, because there is no kubelet: `manageAgent: false`. With it on, Fleet also ships
/// the agent as a Bundle whose Deployment never reports ready without a kubelet, so every cluster
/// would show one bundle not ready. The import itself (what drover feeds) is the same.
pub fn controller_config(upstream: &TestEnv) -> Result<serde_json::Value> {
    let ca = serde_json::to_value(ByteString(upstream.ca_pem()?.into_bytes()))
        .context("encoding the API server CA")?;
    Ok(json!({
        "agentImage": "rancher/fleet-agent:v0.16.0",
        "apiServerURL": upstream.server_url(),
        "apiServerCA": ca,
        "agentCheckinInterval": CHECKIN_INTERVAL,
        "agentTLSMode": "strict",
        "manageAgent": false,
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
    let common = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut env = vec![
            ("KUBECONFIG".to_string(), kubeconfig.clone()),
            ("HOME".to_string(), home.display().to_string()),
            ("NAMESPACE".to_string(), FLEET_SYSTEM_NAMESPACE.to_string()),
            // The chart's election settings; each process reads its set unconditionally.
            ("CATTLE_ELECTION_LEASE_DURATION".into(), "30s".into()),
            ("CATTLE_ELECTION_RENEW_DEADLINE".into(), "25s".into()),
            ("CATTLE_ELECTION_RETRY_PERIOD".into(), "10s".into()),
            ("FLEET_AGENT_ELECTION_LEASE_DURATION".into(), "30s".into()),
            ("FLEET_AGENT_ELECTION_RENEW_DEADLINE".into(), "25s".into()),
            ("FLEET_AGENT_ELECTION_RETRY_PERIOD".into(), "10s".into()),
            // No fixed ports: several control planes may run on one machine.
            ("FLEET_METRICS_BIND_ADDRESS".into(), "0".into()),
            ("FLEET_HEALTHPROBE_BIND_ADDRESS".into(), "0".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let mut logs = Vec::new();
    logs.push(upstream.start_process(
        "fleetcontroller",
        &program,
        &["--leader-elect=false".into(), "--disable-metrics".into()],
        &common(&[]),
    )?);
    logs.push(upstream.start_process(
        "fleetcontroller-agentmanagement",
        &program,
        &["agentmanagement".into(), "--disable-bootstrap".into()],
        &common(&[]),
    )?);
    logs.push(upstream.start_process(
        "fleetcontroller-cleanup",
        &program,
        &["cleanup".into()],
        &common(&[]),
    )?);
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
/// command and environment with a token of its ServiceAccount, and sets the Deployment's status
/// as a kubelet would. Returns the agent's log file.
pub async fn run_agent(
    cluster: &TestEnv,
    namespace: &str,
    name: &'static str,
    deployment: &Deployment,
) -> Result<PathBuf> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client()?, namespace);
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
    let pod_name = format!("{AGENT}-{name}");
    let mut env = Vec::new();
    for var in container.env.clone().unwrap_or_default() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(from)) => match from.field_ref.as_ref().map(|f| f.field_path.as_str()) {
                Some("metadata.namespace") => namespace.to_string(),
                Some("metadata.name") => pod_name.clone(),
                _ => bail!(
                    "{AGENT} env {} has a source this test cannot play",
                    var.name
                ),
            },
            (None, None) => String::new(),
        };
        env.push((var.name, value));
    }
    // The pod's identity: a token of its ServiceAccount instead of a mounted one.
    let token = cluster
        .token_for_service_account(namespace, service_account)
        .await?;
    let kubeconfig = cluster.kubeconfig_for_token(&token)?;
    let home = cluster.dir().join(format!("{name}-home"));
    std::fs::create_dir_all(&home).context("creating the agent's home")?;
    env.extend([
        ("KUBECONFIG".to_string(), kubeconfig.display().to_string()),
        ("HOME".to_string(), home.display().to_string()),
        ("HOSTNAME".to_string(), pod_name.clone()),
        ("POD_NAME".to_string(), pod_name),
        // Several agents and controllers share this machine's ports.
        (
            "FLEET_AGENT_METRICS_BIND_ADDRESS".to_string(),
            "0".to_string(),
        ),
        (
            "FLEET_AGENT_PROBE_BIND_ADDRESS".to_string(),
            "0".to_string(),
        ),
        ("FLEET_AGENT_PPROF_DISABLED".to_string(), "true".to_string()),
    ]);
    let log = cluster.start_process(name, &program, &args, &env)?;

    // The kubelet's part: the one replica runs.
    let generation = deployment.metadata.generation.unwrap_or(1);
    let status = json!({"status": {
        "observedGeneration": generation,
        "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
    }});
    deployments
        .patch_status(AGENT, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("setting the status of Deployment {namespace}/{AGENT}"))?;
    Ok(log)
}

/// A kubeconfig Secret's content for `cluster`, as a provisioner writes `<name>-kubeconfig`
/// (key `value`): the admin kubeconfig, read from the control plane's directory.
pub fn kubeconfig_secret_value(cluster: &TestEnv) -> Result<ByteString> {
    let path = cluster.kubeconfig_path();
    Ok(ByteString(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}
