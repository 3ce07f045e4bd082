//! [`TestEnv`]: etcd, kube-apiserver and kube-controller-manager on free loopback ports in a
//! temporary directory, with drover's CRDs installed.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::sync::OnceCell;

use crate::process::{self, Component, Slot};

/// Lines of each component's log printed when a start fails.
const LOG_TAIL_LINES: usize = 40;
/// How long the control plane may take to become ready once its binaries exist.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Whether the API server serves `crd`'s kind (its `Established` condition is `True`).
pub fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// How long a CRD may take to become Established.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);
/// Prefix of the temporary directories; abandoned ones are removed by later starts.
const DIR_PREFIX: &str = "drover-controlplane-";
/// The file in a temporary directory naming the process that owns it.
const OWNER_FILE: &str = "owner.pid";

/// A real Kubernetes control plane for tests: etcd, kube-apiserver and a kube-controller-manager
/// running the namespace, garbage-collector and service-account controllers, with drover's CRDs
/// installed.
///
/// Tests in one test binary normally share one control plane ([`TestEnv::shared`]) and isolate
/// themselves by namespace and name ([`TestEnv::unique_name`]). [`TestEnv::start`] starts a
/// private one, stopped when it is dropped. Processes never outlive the test process.
pub struct TestEnv {
    config: Config,
    /// The API server's audit log, when [`Options::audit`] asked for one.
    audit_log: Option<PathBuf>,
    /// Tokens of the extra users of [`Options::users`].
    user_tokens: Vec<(String, String)>,
    server_url: String,
    /// etcd's client URL, `http://127.0.0.1:<port>`.
    etcd_url: String,
    dir: PathBuf,
    kubeconfig: PathBuf,
    startup: Duration,
    apiserver_ready: Duration,
    running: Slot<Running>,
}

/// The processes and the temporary directory of one control plane. Dropping it stops the
/// processes (newest first) and then removes the directory.
struct Running {
    components: Vec<Component>,
    dir: Option<tempfile::TempDir>,
}

impl Drop for Running {
    fn drop(&mut self) {
        while let Some(mut component) = self.components.pop() {
            component.stop();
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            // Kept for a post-mortem when asked (renamed so later starts do not remove it).
            if std::env::var_os("DROVER_KEEP_TEST_DIRS").is_some() {
                let kept = path.with_file_name(format!("drover-kept-{}", random_hex(4)));
                match std::fs::rename(dir.keep(), &kept) {
                    Ok(()) => eprintln!("kept {}", kept.display()),
                    Err(e) => eprintln!("keeping {}: {e}", path.display()),
                }
                return;
            }
            if let Err(e) = dir.close() {
                tracing::warn!("removing {}: {e}", path.display());
            }
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        process::release(&self.running);
    }
}

impl TestEnv {
    /// The control plane shared by all tests of this test binary, started on first use.
    ///
    /// A failed start is remembered: every test calling this afterwards gets the same error.
    pub async fn shared() -> Result<&'static TestEnv> {
        static SHARED: OnceCell<std::result::Result<TestEnv, String>> = OnceCell::const_new();
        let env = SHARED
            .get_or_init(|| async { TestEnv::start().await.map_err(|e| format!("{e:#}")) })
            .await;
        env.as_ref()
            .map_err(|e| anyhow!("the shared control plane failed to start: {e}"))
    }

    /// Starts a private control plane; it is stopped when the returned value is dropped.
    pub async fn start() -> Result<TestEnv> {
        Self::start_with(Options::default()).await
    }

    /// [`TestEnv::start`] with an audit log and extra users.
    pub async fn start_with(options: Options) -> Result<TestEnv> {
        let began = Instant::now();
        let bin = binaries_dir()?;
        remove_abandoned_dirs();

        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .context("creating the control plane's temporary directory")?;
        let path = dir.path().to_path_buf();
        std::fs::write(path.join(OWNER_FILE), std::process::id().to_string())
            .context("writing the owner file")?;
        let running = process::drop_at_exit(Running {
            components: Vec::new(),
            dir: Some(dir),
        });

        match launch(&path, &bin, &running, began, &options).await {
            Ok(launched) => {
                let startup = began.elapsed();
                tracing::info!(?startup, server_url = %launched.server_url, "control plane ready");
                Ok(TestEnv {
                    config: launched.config,
                    audit_log: launched.audit_log,
                    user_tokens: launched.user_tokens,
                    server_url: launched.server_url,
                    etcd_url: launched.etcd_url,
                    dir: path,
                    kubeconfig: launched.kubeconfig,
                    startup,
                    apiserver_ready: launched.apiserver_ready,
                    running,
                })
            }
            Err(e) => {
                let logs = component_logs(&running);
                eprintln!("the control plane failed to start: {e:#}\n{logs}");
                process::release(&running);
                Err(e.context(format!("the control plane failed to start\n{logs}")))
            }
        }
    }

    /// The admin client configuration, for building clients on other runtimes.
    pub fn client_config(&self) -> Config {
        self.config.clone()
    }

    /// A new admin client (`system:masters`).
    ///
    /// Each call builds a new client, so a shared environment can serve tests that run on
    /// different tokio runtimes.
    pub fn client(&self) -> Result<Client> {
        Client::try_from(self.config.clone()).context("building an admin client")
    }

    /// A kubeconfig file with the admin token, usable by kubectl and by drover via `KUBECONFIG`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// How long [`TestEnv::start`] took, from locating the binaries to a running controller
    /// manager and Established CRDs.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// How long it took from locating the binaries until kube-apiserver answered `/readyz`.
    pub fn apiserver_ready_duration(&self) -> Duration {
        self.apiserver_ready
    }

    /// The PIDs of the running components.
    pub fn pids(&self) -> Vec<u32> {
        process::lock(&self.running)
            .as_ref()
            .map(|r| r.components.iter().map(Component::pid).collect())
            .unwrap_or_default()
    }

    /// Fails (with the log tails) if a component has exited.
    pub fn check_running(&self) -> Result<()> {
        let mut guard = process::lock(&self.running);
        let running = guard
            .as_mut()
            .ok_or_else(|| anyhow!("the control plane was stopped"))?;
        for component in &mut running.components {
            if let Some(status) = component.exited() {
                bail!(
                    "{} exited ({status}); its log ends with:\n{}",
                    component.name(),
                    component.log_tail(LOG_TAIL_LINES)
                );
            }
        }
        Ok(())
    }

    /// etcd's client URL.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// Compacts etcd's history up to its current revision, as the API server's periodic
    /// compaction does, through etcd's v3 JSON gateway. A watch that resumes from a revision
    /// before it is answered 410 Gone and must list again. Returns the compacted revision.
    pub async fn compact_etcd(&self) -> Result<i64> {
        // Any range answers with the store's current revision in its header.
        let range = etcd_post(
            &self.etcd_url,
            "/v3/kv/range",
            &serde_json::json!({"key": "AA==", "limit": 1, "keys_only": true}),
        )
        .await?;
        let revision: i64 = range["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .or_else(|| range["header"]["revision"].as_i64())
            .ok_or_else(|| anyhow!("etcd's range answer has no revision: {range}"))?;
        etcd_post(
            &self.etcd_url,
            "/v3/kv/compaction",
            &serde_json::json!({"revision": revision.to_string(), "physical": true}),
        )
        .await?;
        Ok(revision)
    }

    /// Stops kube-apiserver and starts it again on the same port, as an upgrade or a failover
    /// does; returns once it answers `/readyz`. Its watch cache starts afresh: a watch that
    /// resumes from an older resourceVersion is answered 410 Gone.
    /// Sends `signal` (SIGSTOP, SIGCONT, ...) to the component called `name` (`etcd`,
    /// `kube-apiserver`, `kube-controller-manager`, or one started by [`Processes::start`]).
    pub fn signal(&self, name: &str, signal: libc::c_int) -> Result<()> {
        let mut guard = process::lock(&self.running);
        let running = guard
            .as_mut()
            .ok_or_else(|| anyhow!("the control plane was stopped"))?;
        let component = running
            .components
            .iter_mut()
            .find(|c| c.name() == name)
            .ok_or_else(|| anyhow!("no component {name}"))?;
        if component.exited().is_some() {
            bail!("{name} has exited");
        }
        let pid = libc::pid_t::try_from(component.pid()).context("pid")?;
        // SAFETY: kill(2) on our own child, not reaped yet (exited() just said so).
        if unsafe { libc::kill(pid, signal) } != 0 {
            bail!("signal {signal} to {name} failed");
        }
        Ok(())
    }

    /// The API server's audit log (JSON lines), when started with [`Options::audit`].
    pub fn audit_log(&self) -> Option<&Path> {
        self.audit_log.as_deref()
    }

    /// A kubeconfig file for the extra user `name` of [`Options::users`].
    pub fn kubeconfig_for_user(&self, name: &str) -> Result<PathBuf> {
        let token = self
            .user_tokens
            .iter()
            .find(|(user, _)| user == name)
            .map(|(_, token)| token.clone())
            .ok_or_else(|| anyhow!("no user {name} was asked for"))?;
        self.kubeconfig_for_token(&token)
    }

    pub async fn restart_apiserver(&self) -> Result<()> {
        {
            let mut guard = process::lock(&self.running);
            let running = guard
                .as_mut()
                .ok_or_else(|| anyhow!("the control plane was stopped"))?;
            let apiserver = running
                .components
                .iter_mut()
                .find(|c| c.name() == "kube-apiserver")
                .ok_or_else(|| anyhow!("no kube-apiserver"))?;
            apiserver.restart()?;
        }
        apiserver_ready(
            &self.running,
            &self.client()?,
            "kube-apiserver to be ready again",
        )
        .await
    }

    /// Starts a process beside this control plane, see [`Processes::start`].
    pub fn start_process(
        &self,
        name: &'static str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<PathBuf> {
        self.processes().start(name, program, args, env)
    }

    /// A handle that starts and stops processes beside this control plane, usable from tasks
    /// that outlive a borrow of it.
    pub fn processes(&self) -> Processes {
        Processes {
            running: self.running.clone(),
            dir: self.dir.clone(),
            server_url: self.server_url.clone(),
        }
    }

    /// The last lines of every component's log (the control plane's and those of
    /// [`TestEnv::start_process`]), to explain a failure.
    pub fn log_tails(&self) -> String {
        component_logs(&self.running)
    }

    /// The CA bundle of the API server's serving certificate (PEM).
    pub fn ca_pem(&self) -> Result<String> {
        let path = self.dir.join("apiserver-certs/apiserver.crt");
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// The control plane's temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A name no other test uses: `<prefix>-<counter><random>`, a valid DNS label when `prefix`
    /// is a short one.
    pub fn unique_name(&self, prefix: &str) -> String {
        unique_name(prefix)
    }

    /// A token for an existing service account, from the TokenRequest API (valid for one hour).
    pub async fn token_for_service_account(&self, namespace: &str, name: &str) -> Result<String> {
        token_for_service_account(&self.client()?, namespace, name).await
    }

    /// Writes a kubeconfig authenticating with `token` and returns its path.
    pub fn kubeconfig_for_token(&self, token: &str) -> Result<PathBuf> {
        self.processes().kubeconfig_for_token(token)
    }

    /// A client authenticating with `token`.
    pub async fn client_for_token(&self, token: &str) -> Result<Client> {
        client_from_kubeconfig(&self.kubeconfig_for_token(token)?).await
    }

    /// Server-side applies every document of a multi-document YAML file, see
    /// [`TestEnv::apply_yaml_str`].
    pub async fn apply_yaml_file(&self, path: impl AsRef<Path>) -> Result<Vec<DynamicObject>> {
        crate::apply::apply_yaml_file(&self.client()?, path.as_ref()).await
    }

    /// Server-side applies every document of a multi-document YAML string (field manager
    /// `drover-tests`, forcing conflicts) and returns the objects as the server stored them.
    /// Namespaced objects without a namespace go to `default`.
    pub async fn apply_yaml_str(&self, yaml: &str) -> Result<Vec<DynamicObject>> {
        crate::apply::apply_yaml_str(&self.client()?, yaml).await
    }
}

/// Processes beside a control plane (Fleet's controllers and agents in the end-to-end test): each
/// is logged to `<name>.log` in the control plane's directory (appended to across restarts) and
/// stopped with the control plane, before its API server.
#[derive(Clone)]
pub struct Processes {
    running: Slot<Running>,
    dir: PathBuf,
    server_url: String,
}

impl Processes {
    /// Starts `program` as `name`; returns its log's path.
    pub fn start(
        &self,
        name: &'static str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<PathBuf> {
        let log = self.dir.join(format!("{name}.log"));
        let component = Component::spawn_with_env(name, program, args, env, log.clone())?;
        match process::lock(&self.running).as_mut() {
            Some(running) => {
                running.components.push(component);
                Ok(log)
            }
            None => bail!("the control plane was stopped"),
        }
    }

    /// Stops every process started as `name` (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(&self, name: &str) {
        let stopped: Vec<Component> = match process::lock(&self.running).as_mut() {
            Some(running) => {
                let (stopped, kept) = std::mem::take(&mut running.components)
                    .into_iter()
                    .partition(|c| c.name() == name);
                running.components = kept;
                stopped
            }
            None => Vec::new(),
        };
        // Dropping a component stops it; outside the lock, as that may take seconds.
        drop(stopped);
    }

    /// Writes a kubeconfig for this control plane authenticating with `token`; returns its path.
    pub fn kubeconfig_for_token(&self, token: &str) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("kubeconfig-{n}.yaml"));
        write_private(&path, &kubeconfig_yaml(&self.server_url, token))?;
        Ok(path)
    }
}

/// A token for an existing service account, from the TokenRequest API (valid for one hour).
pub async fn token_for_service_account(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<String> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let response = api
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for service account {namespace}/{name}"))?;
    response
        .status
        .and_then(|s| s.token)
        .ok_or_else(|| anyhow!("the TokenRequest for {namespace}/{name} has no token"))
}

/// POSTs `body` to etcd's JSON gateway at `path` and returns the JSON answer.
async fn etcd_post(
    etcd_url: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let (status, answer) =
        crate::http_client::post_json(&format!("{etcd_url}{path}"), body).await?;
    if status != 200 {
        bail!("etcd answered {path} with {status}: {answer}");
    }
    serde_json::from_str(&answer).with_context(|| format!("parsing etcd's answer to {path}"))
}

/// See [`TestEnv::unique_name`].
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static NONCE: OnceLock<String> = OnceLock::new();
    let nonce = NONCE.get_or_init(|| random_hex(3));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n}{nonce}")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The `*.yaml` files under the repository's `crds/` directory, sorted (none if it is missing).
pub fn crd_files() -> Result<Vec<PathBuf>> {
    let dir = repo_root().join("crds");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "yaml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every CustomResourceDefinition in the repository's `crds/*.yaml` (drover's Rancher kinds).
pub fn crds() -> Result<Vec<CustomResourceDefinition>> {
    crds_in(&crd_files()?)
}

/// The CRD files every control plane gets: drover's Rancher kinds (`crds/`) and Fleet's own.
pub fn installed_crd_files() -> Result<Vec<PathBuf>> {
    let mut files = crd_files()?;
    files.push(fleet_crd_file()?);
    Ok(files)
}

/// Every CustomResourceDefinition in the given YAML files.
pub fn crds_in(files: &[PathBuf]) -> Result<Vec<CustomResourceDefinition>> {
    let mut crds = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for doc in
            crate::apply::documents(&text).with_context(|| format!("parsing {}", file.display()))?
        {
            if doc.get("kind").and_then(|k| k.as_str()) == Some("CustomResourceDefinition") {
                crds.push(
                    serde_json::from_value(doc)
                        .with_context(|| format!("a CRD in {}", file.display()))?,
                );
            }
        }
    }
    Ok(crds)
}

/// The directory holding kube-apiserver, kube-controller-manager and etcd:
/// `$DROVER_CONTROLPLANE_BIN`, or what `scripts/build-controlplane.sh` builds or finds cached.
pub fn binaries_dir() -> Result<PathBuf> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        locate(
            "DROVER_CONTROLPLANE_BIN",
            "build-controlplane.sh",
            &["etcd", "kube-apiserver", "kube-controller-manager"],
        )
        .map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// The directory holding Fleet's `fleetcontroller`, `fleetagent`, `fleet` and Fleet's own CRDs
/// (`fleet-crds.yaml`, from the `fleet-crd` chart of the pinned Fleet module): `$DROVER_FLEET_BIN`,
/// or what `scripts/build-fleet.sh` builds or finds cached.
pub fn fleet_dir() -> Result<PathBuf> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        locate(
            "DROVER_FLEET_BIN",
            "build-fleet.sh",
            &["fleetcontroller", "fleetagent", "fleet", FLEET_CRDS_FILE],
        )
        .map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// The file in [`fleet_dir`] holding Fleet's CRDs.
const FLEET_CRDS_FILE: &str = "fleet-crds.yaml";

/// Fleet's own CustomResourceDefinitions (`fleet.cattle.io`), as Fleet's `fleet-crd` chart ships
/// them.
pub fn fleet_crd_file() -> Result<PathBuf> {
    Ok(fleet_dir()?.join(FLEET_CRDS_FILE))
}

/// `$env_var` if set, else the last line the build script printed (it builds on a cache miss);
/// every file in `expected` must exist there.
fn locate(env_var: &str, script: &str, expected: &[&str]) -> Result<PathBuf> {
    let dir = match std::env::var_os(env_var) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts")
                .join(script);
            eprintln!(
                "locating binaries with {} (a cold build takes minutes)",
                script.display()
            );
            let output = Command::new("bash")
                .arg(&script)
                .stderr(std::process::Stdio::inherit())
                .output()
                .with_context(|| format!("running {}", script.display()))?;
            if !output.status.success() {
                bail!("{} failed ({})", script.display(), output.status);
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
            PathBuf::from(
                last.ok_or_else(|| anyhow!("{} printed no directory", script.display()))?
                    .trim(),
            )
        }
    };
    for file in expected {
        if !dir.join(file).is_file() {
            bail!("{} has no {file}", dir.display());
        }
    }
    Ok(dir)
}

/// What a private control plane has beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Write an audit log of every write (and of Lease writes, their bodies): who wrote what,
    /// when the API server received it and how it answered.
    pub audit: bool,
    /// Extra users with static tokens ([`TestEnv::kubeconfig_for_user`]), so that writes can be
    /// told apart in the audit log.
    pub users: Vec<User>,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    /// Member of `system:masters`; otherwise the user may do only what RBAC grants it.
    pub admin: bool,
}

impl User {
    pub fn admin(name: &str) -> Self {
        Self {
            name: name.into(),
            admin: true,
        }
    }

    pub fn plain(name: &str) -> Self {
        Self {
            name: name.into(),
            admin: false,
        }
    }
}

/// Writes with their metadata; Lease writes with their bodies (the holder and renew time);
/// reads not at all. `RequestReceived` is left out: `ResponseComplete` carries both times.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Request
    resources: [{group: coordination.k8s.io, resources: [leases]}]
    verbs: [create, update, patch, delete]
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
";

struct Launched {
    /// The admin client configuration.
    config: Config,
    audit_log: Option<PathBuf>,
    user_tokens: Vec<(String, String)>,
    server_url: String,
    etcd_url: String,
    kubeconfig: PathBuf,
    /// From `began` until kube-apiserver answered `/readyz`.
    apiserver_ready: Duration,
}

/// Starts the components one after the other, each once the previous one is usable, and installs
/// the CRDs.
async fn launch(
    dir: &Path,
    bin: &Path,
    running: &Slot<Running>,
    began: Instant,
    options: &Options,
) -> Result<Launched> {
    let [etcd_client, etcd_peer, apiserver_port] = free_ports()?;
    let token = random_hex(24);
    let server_url = format!("https://127.0.0.1:{apiserver_port}");

    // Credentials: a static admin token (and one per extra user) and a service-account
    // signing key.
    let tokens = dir.join("tokens.csv");
    let mut token_lines = format!("{token},admin,admin,\"system:masters\"\n");
    let mut user_tokens = Vec::new();
    for user in &options.users {
        let user_token = random_hex(24);
        let groups = if user.admin { "system:masters" } else { "" };
        let _ = writeln!(
            token_lines,
            "{user_token},{name},{name},\"{groups}\"",
            name = user.name
        );
        user_tokens.push((user.name.clone(), user_token));
    }
    write_private(&tokens, &token_lines)?;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("generating the service-account signing key")?;
    let sa_key = dir.join("sa.key");
    let sa_pub = dir.join("sa.pub");
    write_private(&sa_key, &key.serialize_pem())?;
    write_private(&sa_pub, &key.public_key_pem())?;
    let kubeconfig = dir.join("kubeconfig.yaml");
    write_private(&kubeconfig, &kubeconfig_yaml(&server_url, &token))?;

    let etcd_url = format!("http://127.0.0.1:{etcd_client}");
    let peer_url = format!("http://127.0.0.1:{etcd_peer}");
    let etcd_args = vec![
        "--name=drover-test".to_owned(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=drover-test={peer_url}"),
        "--unsafe-no-fsync=true".to_owned(),
        "--log-level=warn".to_owned(),
    ];
    start_component(running, "etcd", &bin.join("etcd"), &etcd_args, dir)?;

    let apiserver_args = vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".to_owned(),
        "--advertise-address=127.0.0.1".to_owned(),
        format!("--secure-port={apiserver_port}"),
        format!("--cert-dir={}", dir.join("apiserver-certs").display()),
        format!("--token-auth-file={}", tokens.display()),
        "--authorization-mode=RBAC".to_owned(),
        format!("--service-account-key-file={}", sa_pub.display()),
        format!("--service-account-signing-key-file={}", sa_key.display()),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
        "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
        "--profiling=false".to_owned(),
    ];
    let mut apiserver_args = apiserver_args;
    let audit_log = options.audit.then(|| dir.join("audit.log"));
    if let Some(log) = &audit_log {
        let policy = dir.join("audit-policy.yaml");
        write_private(&policy, AUDIT_POLICY)?;
        apiserver_args.extend([
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", log.display()),
            "--audit-log-format=json".to_owned(),
            "--audit-log-maxsize=0".to_owned(),
        ]);
    }
    start_component(
        running,
        "kube-apiserver",
        &bin.join("kube-apiserver"),
        &apiserver_args,
        dir,
    )?;

    let config = client_config(&kubeconfig).await?;
    let client = Client::try_from(config.clone()).context("building the admin client")?;
    apiserver_ready(running, &client, "kube-apiserver to be ready").await?;
    let apiserver_ready = began.elapsed();

    let controller_manager_args = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        // The token controller gives Fleet's import the ServiceAccount token secrets it waits for.
        "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller"
            .to_owned(),
        format!("--service-account-private-key-file={}", sa_key.display()),
        format!(
            "--root-ca-file={}",
            dir.join("apiserver-certs/apiserver.crt").display()
        ),
        "--leader-elect=false".to_owned(),
        "--use-service-account-credentials=false".to_owned(),
        "--secure-port=0".to_owned(),
        "--kube-api-qps=100".to_owned(),
        "--kube-api-burst=200".to_owned(),
        "--profiling=false".to_owned(),
    ];
    start_component(
        running,
        "kube-controller-manager",
        &bin.join("kube-controller-manager"),
        &controller_manager_args,
        dir,
    )?;

    let crd_files = installed_crd_files()?;
    for file in &crd_files {
        crate::apply::apply_yaml_file(&client, file).await?;
    }
    let crd_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds_in(&crd_files)? {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let what = format!("CRD {name} to be Established");
        let api = crd_api.clone();
        wait_until(running, &what, CRD_TIMEOUT, || {
            let (api, name) = (api.clone(), name.clone());
            async move { Ok(is_established(&api.get(&name).await?)) }
        })
        .await?;
    }

    // The service-account controller creating `default/default` shows that the controller
    // manager runs its controllers against this API server.
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    wait_until(
        running,
        "kube-controller-manager to create the default service account",
        READY_TIMEOUT,
        || {
            let api = service_accounts.clone();
            async move { Ok(api.get_opt("default").await?.is_some()) }
        },
    )
    .await?;

    Ok(Launched {
        config,
        audit_log,
        user_tokens,
        server_url,
        etcd_url,
        kubeconfig,
        apiserver_ready,
    })
}

fn start_component(
    running: &Slot<Running>,
    name: &'static str,
    program: &Path,
    args: &[String],
    dir: &Path,
) -> Result<()> {
    let component = Component::spawn(name, program, args, dir.join(format!("{name}.log")))?;
    let mut guard = process::lock(running);
    match guard.as_mut() {
        Some(running) => {
            running.components.push(component);
            Ok(())
        }
        // Stopped meanwhile (process exit): `component` is dropped, which stops it.
        None => bail!("the control plane was stopped while starting {name}"),
    }
}

/// Polls `check` every 100 ms until it returns true, failing when a component exits or the
/// timeout passes. Errors from `check` count as "not yet"; the last one is reported on timeout.
/// Waits until kube-apiserver's `/readyz` answers `ok`.
async fn apiserver_ready(running: &Slot<Running>, client: &Client, what: &str) -> Result<()> {
    let what = format!("{what} (/readyz)");
    wait_until(running, &what, READY_TIMEOUT, || {
        let client = client.clone();
        async move {
            let request = http::Request::get("/readyz").body(Vec::new())?;
            Ok(client
                .request_text(request)
                .await
                .is_ok_and(|body| body.trim() == "ok"))
        }
    })
    .await
}

async fn wait_until<F, Fut>(
    running: &Slot<Running>,
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        {
            let mut guard = process::lock(running);
            let running = guard
                .as_mut()
                .ok_or_else(|| anyhow!("the control plane was stopped while waiting for {what}"))?;
            for component in &mut running.components {
                if let Some(status) = component.exited() {
                    bail!(
                        "{} exited ({status}) while waiting for {what}",
                        component.name()
                    );
                }
            }
        }
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            let mut message = format!("timed out after {timeout:?} waiting for {what}");
            if let Some(e) = last_error {
                let _ = write!(message, " (last error: {e:#})");
            }
            bail!(message);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn component_logs(running: &Slot<Running>) -> String {
    let guard = process::lock(running);
    let mut out = String::new();
    for component in guard.iter().flat_map(|r| r.components.iter()) {
        let _ = write!(
            out,
            "----- last {LOG_TAIL_LINES} lines of the {} log (pid {}) -----\n{}\n",
            component.name(),
            component.pid(),
            component.log_tail(LOG_TAIL_LINES)
        );
    }
    out
}

/// Distinct free loopback ports (bound and released; the small race is acceptable for tests).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").context("finding a free loopback port"))
        .collect::<Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .context("reading a bound port")?
            .port();
    }
    Ok(ports)
}

fn kubeconfig_yaml(server_url: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: drover-test
  cluster:
    server: {server_url}
    insecure-skip-tls-verify: true
users:
- name: drover-test
  user:
    token: {token}
contexts:
- name: drover-test
  context:
    cluster: drover-test
    user: drover-test
    namespace: default
current-context: drover-test
"
    )
}

async fn client_config(kubeconfig: &Path) -> Result<Config> {
    // kube's rustls needs a process-wide crypto provider; another one may already be installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading {}", kubeconfig.display()))
}

async fn client_from_kubeconfig(kubeconfig: &Path) -> Result<Client> {
    Client::try_from(client_config(kubeconfig).await?).context("building a client")
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// `2 * bytes` random hex digits.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // SAFETY: getrandom(2) writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n).ok() != Some(bytes) {
        // Never expected on Linux; fall back to something that still differs between calls.
        let seed = u128::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
        buf = seed
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(bytes)
            .collect();
    }
    buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Removes temporary directories left by test processes that no longer exist (killed before
/// they could clean up; their processes died with them).
fn remove_abandoned_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_ours {
            continue;
        }
        let Some(owner) = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        if !process::pid_alive(owner) {
            tracing::debug!("removing abandoned {}", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
