//! drover's binary as a child process, for the tests that signal or kill it for real and for the
//! benchmark: [`DroverCommand`] says how it is started, [`DroverChild`] is what is done to it.
//!
//! Every child runs `drover run` with its health and metrics endpoint on a free loopback port and
//! is spawned so that it cannot outlive the test process (see `process::spawn_tied_to_process`).

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::TestEnv;

/// How to start `drover run` against a control plane.
pub struct DroverCommand {
    binary: PathBuf,
    kubeconfig: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log_level: String,
    log: Option<PathBuf>,
    leader_election: bool,
}

impl DroverCommand {
    /// The drover of this checkout (built now if needed, see [`build_drover`]) against `env`:
    /// text logs at `info` on the inherited stderr, no leader election.
    pub fn new(env: &TestEnv) -> Result<Self> {
        Ok(Self::with_binary(env, build_drover()?))
    }

    /// Like [`DroverCommand::new`], running another build of drover (the benchmark runs the
    /// release build).
    pub fn with_binary(env: &TestEnv, binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            kubeconfig: env.kubeconfig_path().to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            log_level: "info".into(),
            log: None,
            leader_election: false,
        }
    }

    /// Runs as the user of `kubeconfig` instead of the control plane's administrator.
    pub fn kubeconfig(mut self, kubeconfig: impl Into<PathBuf>) -> Self {
        self.kubeconfig = kubeconfig.into();
        self
    }

    /// Appends arguments of `drover run`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Adds a variable to drover's environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// `DROVER_LOG`: `info` unless set here.
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.into();
        self
    }

    /// Sends drover's stdout and stderr to `path` instead of the test's stderr.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Takes part in leader election (off unless set here); the Lease's namespace and the
    /// identity are ordinary [`args`](Self::args).
    pub fn leader_election(mut self, on: bool) -> Self {
        self.leader_election = on;
        self
    }

    pub fn spawn(self) -> Result<DroverChild> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("finding a free loopback port")?
            .port();
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--log-format", "text", "run"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg(format!("--leader-election={}", self.leader_election))
            .args(&self.args)
            .env("DROVER_LOG", &self.log_level)
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(log) = &self.log {
            if let Some(dir) = log.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let out = std::fs::File::create(log)
                .with_context(|| format!("creating {}", log.display()))?;
            cmd.stdout(out.try_clone()?).stderr(out);
        }
        let child = crate::process::spawn_tied_to_process(cmd)
            .with_context(|| format!("starting {}", self.binary.display()))?;
        Ok(DroverChild {
            child,
            port,
            log: self.log,
        })
    }
}

/// A running `drover run`; killed (SIGKILL) when dropped.
pub struct DroverChild {
    child: Child,
    /// The port of `/healthz`, `/readyz` and `/metrics`.
    port: u16,
    /// Where its output goes, when not inherited.
    log: Option<PathBuf>,
}

impl DroverChild {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill().context("killing drover")?;
        self.child.wait().context("reaping drover")?;
        Ok(())
    }

    /// SIGTERM (a graceful stop).
    pub fn terminate(&self) -> Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Sends `signal` (SIGTERM, SIGSTOP, SIGCONT, ...).
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = libc::pid_t::try_from(self.child.id()).context("pid")?;
        // SAFETY: kill(2) with the PID of our own child, which stays ours until it is reaped.
        if unsafe { libc::kill(pid, signal) } != 0 {
            bail!("signal {signal} to drover failed");
        }
        Ok(())
    }

    /// What drover wrote so far, when it writes to a log file.
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// GET `path` on drover's health and metrics endpoint: status code and body.
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        crate::http_client::http_get(self.port, path).await
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        let (status, body) = self.get("/metrics").await?;
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        Ok(body)
    }

    /// The exit status if the process has exited (it is reaped then).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .context("checking whether drover exited")
    }

    /// Waits for the process to exit, up to `timeout`.
    pub async fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for DroverChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking()
            && let Some(log) = &self.log
        {
            eprintln!(
                "--- {} ends with ---\n{}",
                log.display(),
                crate::process::log_tail(log, 500)
            );
        }
    }
}

/// Starts `drover run` against `env` with its log (text, `info`) in the control plane's directory;
/// `args` are appended and `envs` added to its environment.
pub fn spawn_drover_logged(
    env: &TestEnv,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<DroverChild> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut command = DroverCommand::new(env)?
        .args(args)
        .log_file(env.dir().join(format!("drover-{n}.log")));
    for (key, value) in envs {
        command = command.env(key, value);
    }
    command.spawn()
}

/// The drover binary built by this workspace (`cargo test --workspace` builds it first).
pub fn drover_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"));
    target.join("debug").join("drover")
}

/// The drover binary of this checkout, built now if it is missing or stale (cargo builds a
/// package's binaries only for that package's own integration tests). `DROVER_TEST_BINARY`
/// names another build to run instead (an older one, to see a test fail without a change).
pub fn build_drover() -> Result<PathBuf> {
    if let Some(binary) = std::env::var_os("DROVER_TEST_BINARY") {
        return Ok(binary.into());
    }
    static BUILT: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
        std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(crate::repo_root())
                .args(["build", "--quiet", "-p", "drover", "--bin", "drover"])
                .status()
                .map_err(|e| format!("running cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build of drover failed: {status}"));
            }
            Ok(drover_binary())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}
