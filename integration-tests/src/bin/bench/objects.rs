//! Objects as large and as shaped as real ones, generated from a seed so every run builds the
//! same estate: prov clusters with the `rkeConfig` a Rancher UI writes for an RKE2 cluster
//! (machine pools with their dynamic schema, machine global and selector config, chart values,
//! registries, etcd snapshots, upgrade strategy), legacy mgmt clusters with the spec an importer
//! leaves and the status Rancher and the cluster agent write (capacity, allocatable, requested,
//! limits, version, driver, agent images, CA certificate, applied spec, conditions), and the
//! status fleet-controller writes on Fleet clusters (agent, display, summary with non-ready
//! resources, resource counts, hashes). Field names follow Rancher's `provisioning.cattle.io/v1`
//! and `management.cattle.io/v3` types and Fleet's `fleet.cattle.io/v1alpha1` types; the Fleet
//! CRD prunes what its schema does not know, so the sizes reported are read back from the API.

use drover::api::ProvCluster;
use serde_json::{Value, json};

/// The seed of every generated object; the index of the object is mixed in.
const SEED: u64 = 0x6472_6f76_6572_0001;

/// splitmix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    /// The generator for object `i` of a stream (`stream` keeps kinds apart).
    pub fn for_object(stream: u64, i: usize) -> Self {
        Self(SEED ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// `len` characters of `alphabet`.
    pub fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    pub fn hex(&mut self, len: usize) -> String {
        self.text(b"0123456789abcdef", len)
    }

    pub fn base64(&mut self, len: usize) -> String {
        self.text(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            len,
        )
    }
}

const PROV: u64 = 1;
const MGMT: u64 = 2;
const AGENT: u64 = 3;
const FLEET: u64 = 4;

const K8S_VERSIONS: &[&str] = &["v1.31.9+rke2r1", "v1.32.5+rke2r1", "v1.33.1+rke2r1"];
const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-south-1",
];
const TIME: &str = "2026-11-02T09:14:27Z";

/// Every fourth provisioned cluster names a system default registry (the one key of the
/// `rkeConfig` drover reads).
pub fn has_registry(i: usize) -> bool {
    i.is_multiple_of(4)
}

/// A machine pool's `dynamicSchemaSpec`: the machine driver's field schema, which Rancher's UI
/// stores as a JSON string in every pool (here a dozen of the driver's fields).
fn dynamic_schema_spec(rng: &mut Rng) -> String {
    let fields: Vec<(&str, Value)> = [
        "accessKey",
        "ami",
        "blockDurationMinutes",
        "deviceName",
        "encryptEbsVolume",
        "endpoint",
        "httpEndpoint",
        "httpTokens",
        "iamInstanceProfile",
        "insecureTransport",
        "instanceType",
        "keypairName",
        "kmsKey",
        "monitoring",
        "openPort",
        "privateAddressOnly",
        "region",
        "requestSpotInstance",
        "retries",
        "rootSize",
        "securityGroup",
        "securityGroupReadonly",
        "sessionToken",
        "spotPrice",
        "sshKeyContents",
        "sshUser",
        "subnetId",
        "tags",
        "useEbsOptimizedInstance",
        "usePrivateAddress",
        "userdata",
        "volumeType",
        "vpcId",
        "zone",
    ]
    .iter()
    .step_by(3)
    .map(|name| {
        let field = json!({
            "type": rng.pick(&["string", "boolean", "int", "array[string]"]),
            "default": {"stringValue": "", "intValue": 0, "boolValue": false, "stringSliceValue": null},
            "create": true,
            "update": true,
            "description": format!("AWS {name} ({})", rng.hex(6)),
        });
        (*name, field)
    })
    .collect();
    let map: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    json!({"resourceFields": map}).to_string()
}

fn drain_options(rng: &mut Rng) -> Value {
    json!({
        "enabled": rng.range(0, 2) == 1,
        "deleteEmptyDirData": true,
        "disableEviction": false,
        "force": false,
        "gracePeriod": -1,
        "ignoreDaemonSets": true,
        "ignoreErrors": false,
        "skipWaitForDeleteTimeoutSeconds": 0,
        "timeout": 120,
        "postDrainHooks": null,
        "preDrainHooks": null,
    })
}

/// The `rkeConfig` of provisioned cluster `i`: three machine pools (etcd, control plane,
/// workers), machine global and selector config, chart values, registries, etcd, upgrade
/// strategy.
pub fn rke_config(name: &str, i: usize) -> Value {
    let mut rng = Rng::for_object(PROV, i);
    let region = rng.pick(REGIONS);
    let pools: Vec<Value> = [
        ("etcd", true, false, false, 3),
        ("cp", false, true, false, 2),
        ("workers", false, false, true, rng.range(3, 20)),
    ]
    .into_iter()
    .map(|(pool, etcd, cp, worker, quantity)| {
        json!({
            "name": pool,
            "displayName": pool,
            "etcdRole": etcd,
            "controlPlaneRole": cp,
            "workerRole": worker,
            "quantity": quantity,
            "paused": false,
            "drainBeforeDelete": true,
            "hostnameLengthLimit": 63,
            "machineOS": "linux",
            "unhealthyNodeTimeout": "0s",
            "machineConfigRef": {"kind": "Amazonec2Config", "name": format!("nc-{name}-{pool}-{}", rng.text(b"abcdefghijklmnopqrstuvwxyz0123456789", 5))},
            "labels": {"pool": pool, "topology.kubernetes.io/region": region},
            "taints": if etcd { json!([{"key": "node-role.kubernetes.io/etcd", "value": "true", "effect": "NoExecute"}]) } else { json!([]) },
            "machineDeploymentLabels": {"cost-center": format!("cc-{}", rng.range(100, 999))},
            "machineDeploymentAnnotations": {},
            "rollingUpdate": {"maxUnavailable": "0", "maxSurge": "1"},
            "dynamicSchemaSpec": dynamic_schema_spec(&mut rng),
        })
    })
    .collect();
    let mut global = json!({
        "cni": rng.pick(&["calico", "canal", "cilium"]),
        "disable-kube-proxy": false,
        "etcd-expose-metrics": false,
        "profile": null,
        "kube-apiserver-arg": ["audit-log-maxage=30", "audit-log-maxbackup=10", "audit-log-path=/var/lib/rancher/rke2/server/logs/audit.log"],
        "kube-controller-manager-arg": ["terminated-pod-gc-threshold=1000"],
        "tls-san": [format!("{name}.{region}.example.com")],
    });
    if has_registry(i) {
        global["system-default-registry"] = json!(format!("registry-{}.example.com", i % 7));
    }
    json!({
        "machinePools": pools,
        "machinePoolDefaults": {"hostnameLengthLimit": 63},
        "machineGlobalConfig": global,
        "machineSelectorConfig": [
            {"config": {"protect-kernel-defaults": false, "cloud-provider-name": "aws"}},
            {"config": {"kubelet-arg": ["max-pods=110", "eviction-hard=memory.available<500Mi"]},
             "machineLabelSelector": {"matchLabels": {"pool": "workers"}}},
        ],
        "machineSelectorFiles": [],
        "chartValues": {
            "rke2-calico": {"installation": {"calicoNetwork": {"bgp": "Disabled", "ipPools": [{"cidr": "10.42.0.0/16", "encapsulation": "VXLAN", "natOutgoing": "Enabled"}]}}},
            "rke2-ingress-nginx": {"controller": {"config": {"use-forwarded-headers": "true", "proxy-body-size": "64m"}, "metrics": {"enabled": true}}},
            "rke2-metrics-server": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}},
        },
        "registries": {
            "configs": {
                format!("registry-{}.example.com", i % 7): {"authConfigSecretName": format!("registryconfig-auth-{}", rng.text(b"abcdefghijklmnopqrstuvwxyz", 5)), "caBundle": rng.base64(88), "insecureSkipVerify": false, "tlsSecretName": ""},
            },
            "mirrors": {
                "docker.io": {"endpoint": [format!("https://registry-{}.example.com", i % 7)], "rewrite": {"^rancher/(.*)": "mirror/rancher/$1"}},
                "quay.io": {"endpoint": [format!("https://registry-{}.example.com", i % 7)]},
            },
        },
        "etcd": {
            "disableSnapshots": false,
            "snapshotRetention": 5,
            "snapshotScheduleCron": "0 */5 * * *",
            "s3": {"bucket": format!("etcd-{name}"), "cloudCredentialName": "cattle-global-data:cc-s3", "endpoint": "s3.amazonaws.com", "folder": name, "region": region, "skipSSLVerify": false},
        },
        "upgradeStrategy": {
            "controlPlaneConcurrency": "1",
            "controlPlaneDrainOptions": drain_options(&mut rng),
            "workerConcurrency": "10%",
            "workerDrainOptions": drain_options(&mut rng),
        },
        "dataDirectories": {"k8sDistro": "", "provisioning": "", "systemAgent": ""},
        "provisionGeneration": 1,
        "additionalManifest": "",
    })
}

/// Provisioned cluster `i` (RKE2 on EC2) as a UI creates it.
pub fn prov_cluster(namespace: &str, name: &str, i: usize) -> ProvCluster {
    let mut rng = Rng::for_object(PROV + 100, i);
    let mut prov = ProvCluster::new(name, Default::default());
    prov.metadata.namespace = Some(namespace.into());
    prov.metadata.labels = Some(
        [
            ("env", rng.pick(&["dev", "staging", "prod"]).to_string()),
            ("region", rng.pick(REGIONS).to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    prov.metadata.annotations = Some(
        [
            ("field.cattle.io/creatorId", format!("u-{}", rng.hex(5))),
            (
                "field.cattle.io/description",
                format!("cluster {name} of team {}", rng.range(1, 40)),
            ),
            ("ui.rancher/badge-color", "#3d98d3".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    prov.spec.kubernetes_version = Some(rng.pick(K8S_VERSIONS).to_string());
    prov.spec.rke_config = Some(rke_config(name, i));
    prov
}

fn resources(rng: &mut Rng, nodes: u64) -> (Value, Value, Value, Value) {
    let cpu = nodes * rng.pick(&["4", "8", "16"]).parse::<u64>().unwrap_or(4);
    let mem_gib = cpu * 4;
    let capacity = json!({"cpu": cpu.to_string(), "memory": format!("{}Ki", mem_gib * 1024 * 1024), "pods": (nodes * 110).to_string()});
    let allocatable = json!({"cpu": format!("{}m", cpu * 1000 - nodes * 100), "memory": format!("{}Ki", mem_gib * 1024 * 1024 - nodes * 512 * 1024), "pods": (nodes * 110).to_string()});
    let requested = json!({"cpu": format!("{}m", rng.range(nodes * 300, cpu * 700)), "memory": format!("{}Mi", rng.range(nodes * 400, mem_gib * 600)), "pods": rng.range(nodes * 10, nodes * 60).to_string()});
    let limits = json!({"cpu": format!("{}m", rng.range(nodes * 500, cpu * 900)), "memory": format!("{}Mi", rng.range(nodes * 800, mem_gib * 900))});
    (capacity, allocatable, requested, limits)
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "lastUpdateTime": TIME, "lastTransitionTime": TIME, "reason": reason, "message": message})
}

/// The spec of legacy mgmt cluster `i` beyond what drover reads: what Rancher's API and an
/// importer leave on it.
fn mgmt_spec(name: &str, workspace: Option<&str>, rng: &mut Rng) -> Value {
    let mut spec = json!({
        "displayName": format!("{name}-display"),
        "description": format!("imported cluster {name}"),
        "internal": false,
        "desiredAgentImage": "",
        "desiredAuthImage": "",
        "agentImageOverride": "",
        "enableNetworkPolicy": false,
        "enableClusterAlerting": false,
        "enableClusterMonitoring": false,
        "windowsPreferedCluster": false,
        "dockerRootDir": "/var/lib/docker",
        "localClusterAuthEndpoint": {"enabled": false, "fqdn": "", "caCerts": ""},
        "clusterSecrets": {},
        "importedConfig": {"kubeConfig": ""},
        "defaultPodSecurityAdmissionConfigurationTemplateName": "",
        "agentEnvVars": [{"name": "HTTP_PROXY", "value": format!("http://proxy-{}.example.com:3128", rng.range(1, 9))}, {"name": "NO_PROXY", "value": "127.0.0.0/8,10.0.0.0/8,cattle-system.svc,.svc,.cluster.local"}],
    });
    if let Some(ws) = workspace {
        spec["fleetWorkspaceName"] = json!(ws);
    }
    spec
}

/// Legacy mgmt cluster `name` (number `i`) as an importer creates it, as plain JSON: the CRD is
/// schema-less and drover's type keeps only what drover reads.
pub fn legacy_mgmt_cluster(name: &str, workspace: Option<&str>, i: usize) -> Value {
    let mut rng = Rng::for_object(MGMT, i);
    json!({
        "apiVersion": "management.cattle.io/v3",
        "kind": "Cluster",
        "metadata": {
            "name": name,
            "labels": {"provider.cattle.io": "rke2", "env": rng.pick(&["dev", "staging", "prod"])},
            "annotations": {
                "field.cattle.io/creatorId": format!("u-{}", rng.hex(5)),
                "authz.management.cattle.io/creator-role-bindings": "{\"created\":[\"cluster-owner\"],\"required\":[\"cluster-owner\"]}",
                "lifecycle.cattle.io/create.cluster-agent-controller-cleanup": "true",
                "lifecycle.cattle.io/create.cluster-scoped-gc": "true",
                "lifecycle.cattle.io/create.mgmt-cluster-rbac-remove": "true",
                "management.cattle.io/current-cluster-controllers-version": "v1.33.1+rke2r1",
            },
        },
        "spec": mgmt_spec(name, workspace, &mut rng),
    })
}

/// The status Rancher and the cluster agent write on connected mgmt cluster `name` (number
/// `i`): `Connected`, `Ready` and `AgentDeployed` True among a dozen more conditions, resources,
/// version, images, CA certificate and the applied spec. A JSON merge patch body.
pub fn agent_status(name: &str, workspace: Option<&str>, i: usize) -> Value {
    let mut rng = Rng::for_object(AGENT, i);
    let nodes = rng.range(3, 25);
    let (capacity, allocatable, requested, limits) = resources(&mut rng, nodes);
    let version = rng.pick(K8S_VERSIONS);
    let minor = version.split('.').nth(1).unwrap_or("33");
    let mut conditions = vec![
        condition("Connected", "True", "", ""),
        condition("Ready", "True", "", ""),
        condition("AgentDeployed", "True", "", ""),
    ];
    for c in [
        "Pending",
        "Provisioned",
        "Waiting",
        "Updated",
        "NoDiskPressure",
        "NoMemoryPressure",
        "DefaultProjectCreated",
        "SystemProjectCreated",
        "SecretsMigrated",
        "ServiceAccountSecretsMigrated",
        "GlobalAdminsSynced",
        "InitialRolesPopulated",
        "SystemAccountCreated",
        "BackingNamespaceCreated",
        "CreatorMadeOwner",
        "RKESecretsMigrated",
    ] {
        conditions.push(condition(c, "True", "", ""));
    }
    json!({"status": {
        "conditions": conditions,
        "driver": "imported",
        "provider": "rke2",
        "agentImage": "rancher/rancher-agent:v2.12.3",
        "authImage": "",
        "agentFeatures": {"embedded-cluster-api": false, "fleet": false, "monitoringv1": false, "multi-cluster-management": false, "multi-cluster-management-agent": true, "provisioningv2": false, "rke2": false},
        "apiEndpoint": format!("https://10.{}.{}.{}:6443", rng.range(0, 255), rng.range(0, 255), rng.range(1, 254)),
        "caCert": rng.base64(1468),
        "serviceAccountTokenSecret": format!("cluster-serviceaccounttoken-{}", rng.text(b"bcdfghjklmnpqrstvwxz2456789", 5)),
        "capacity": capacity,
        "allocatable": allocatable,
        "requested": requested,
        "limits": limits,
        "version": {"major": "1", "minor": minor, "gitVersion": version, "gitCommit": rng.hex(40), "gitTreeState": "clean", "buildDate": "2026-05-14T18:02:11Z", "goVersion": "go1.24.3 X:boringcrypto", "compiler": "gc", "platform": "linux/amd64"},
        "nodeCount": nodes,
        "linuxWorkerCount": nodes.saturating_sub(3),
        "windowsWorkerCount": 0,
        "nodeVersion": rng.range(1, 40),
        "appliedEnableNetworkPolicy": false,
        "appliedPodSecurityPolicyTemplateId": "",
        "capabilities": {"loadBalancerCapabilities": {}, "ingressCapabilities": [{"ingressProvider": "nginx"}], "nodePortRange": "30000-32767"},
        "certificatesExpiration": {"kube-apiserver": {"expirationDate": "2027-11-02T09:14:27Z"}, "kube-controller-manager": {"expirationDate": "2027-11-02T09:14:27Z"}},
        "appliedSpec": mgmt_spec(name, workspace, &mut rng),
        "aksStatus": {"privateRequiresTunnel": null, "rbacEnabled": null, "upstreamSpec": null},
        "eksStatus": {"generatedNodeRole": "", "managedLaunchTemplateID": "", "managedLaunchTemplateVersions": null, "privateRequiresTunnel": null, "securityGroups": null, "subnets": null, "upstreamSpec": null},
        "gkeStatus": {"privateRequiresTunnel": null, "upstreamSpec": null},
    }})
}

/// The status fleet-controller writes on Fleet cluster number `i` once its agent checked in:
/// conditions, agent, display, summary (with a few non-ready resources), resource counts and
/// the hashes of the agent's configuration. A JSON merge patch body.
pub fn fleet_status(workspace: &str, name: &str, i: usize) -> Value {
    let mut rng = Rng::for_object(FLEET, i);
    let bundles = rng.range(4, 30);
    let ready = bundles - rng.range(0, 3).min(bundles);
    let resources = bundles * rng.range(5, 25);
    let non_ready: Vec<Value> = (0..(bundles - ready))
        .map(|b| {
            json!({
                "name": format!("app-{b}-{}", rng.hex(6)),
                "bundleState": "NotReady",
                "message": format!("deployment.apps app-{b}/web: unavailable replicas 1"),
                "nonReadyStatus": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": format!("app-{b}"), "summary": {"state": "updating", "transitioning": true, "message": ["Available: 2/3"]}, "uid": format!("{}-{}-{}-{}-{}", rng.hex(8), rng.hex(4), rng.hex(4), rng.hex(4), rng.hex(12))}],
            })
        })
        .collect();
    json!({"status": {
        "conditions": [
            {"type": "Processed", "status": "True", "lastUpdateTime": TIME},
            {"type": "Imported", "status": "True", "lastUpdateTime": TIME},
            {"type": "Reconciled", "status": "True", "lastUpdateTime": TIME},
            {"type": "Ready", "status": if ready == bundles { "True" } else { "False" }, "lastUpdateTime": TIME,
             "message": if ready == bundles { String::new() } else { format!("NotReady(1) [Bundle app-0]; deployment.apps app-0/web [progressing] Available: 2/3 ({name})") }},
        ],
        "namespace": format!("cluster-{workspace}-{name}-{}", rng.hex(12)),
        "summary": {"ready": ready, "desiredReady": bundles, "nonReadyResources": non_ready, "notReady": bundles - ready},
        "resourceCounts": {"ready": resources - (bundles - ready), "desiredReady": resources, "missing": 0, "modified": 0, "notReady": bundles - ready, "orphaned": 0, "unknown": 0, "waitApplied": 0},
        "readyGitRepos": rng.range(1, 4),
        "desiredReadyGitRepos": 3,
        "agentEnvVarsHash": rng.hex(64),
        "agentPrivateRepoURL": "",
        "agentDeployedGeneration": 0,
        "agentMigrated": true,
        "agentNamespaceMigrated": true,
        "cattleNamespaceMigrated": true,
        "agentAffinityHash": rng.hex(64),
        "agentResourcesHash": rng.hex(64),
        "agentTolerationsHash": rng.hex(64),
        "apiServerURL": "https://rancher.example.com",
        "apiServerCAHash": rng.hex(64),
        "agentTLSMode": "system-store",
        "display": {"readyBundles": format!("{ready}/{bundles}"), "state": if ready == bundles { "" } else { "NotReady" }},
        "agent": {"lastSeen": TIME, "namespace": "cattle-fleet-system"},
        "garbageCollectionInterval": "15m0s",
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_index_builds_the_same_object() {
        assert_eq!(rke_config("a", 7), rke_config("a", 7));
        assert_ne!(rke_config("a", 7), rke_config("a", 8));
        assert_eq!(agent_status("c-1", None, 3), agent_status("c-1", None, 3));
    }

    #[test]
    fn the_objects_have_the_sizes_of_real_ones() {
        let size = |v: &Value| v.to_string().len();
        let rke = size(&rke_config("bench-1", 1));
        assert!((6_000..20_000).contains(&rke), "rkeConfig {rke} bytes");
        let mgmt = size(&legacy_mgmt_cluster("c-00001", Some("fleet-default"), 1))
            + size(&agent_status("c-00001", Some("fleet-default"), 1));
        assert!((5_000..20_000).contains(&mgmt), "mgmt {mgmt} bytes");
        let fleet = size(&fleet_status("fleet-default", "c-00001", 1));
        assert!(
            (1_000..10_000).contains(&fleet),
            "fleet status {fleet} bytes"
        );
    }

    #[test]
    fn a_quarter_of_the_provisioned_clusters_name_a_registry() {
        let prov = prov_cluster("fleet-default", "bench-0", 0);
        assert_eq!(
            prov.system_default_registry(),
            Some("registry-0.example.com")
        );
        let prov = prov_cluster("fleet-default", "bench-1", 1);
        assert_eq!(prov.system_default_registry(), None);
    }
}
