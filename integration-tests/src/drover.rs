//! drover itself, for tests: in-process on a runtime of its own (so it outlives any one test's
//! runtime), or as a child process that a test can kill.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use drover::config::Config;
use drover::runtime::leadership::Leadership;
use drover::runtime::metrics::Metrics;
use tokio::sync::{OnceCell, oneshot};

use crate::TestEnv;

/// A drover running in this process. Dropping it stops it (in-flight reconciles finish).
pub struct Drover {
    pub metrics: Arc<Metrics>,
    pub leadership: Leadership,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The settings tests use: no leader election, metrics server off the real port.
pub fn test_config() -> Config {
    Config {
        leader_election: false,
        ..Config::default()
    }
}

impl Drover {
    /// Starts drover with `config` against `env` and waits until its caches are ready.
    pub fn start(env: &TestEnv, config: Config) -> Result<Drover> {
        Self::start_with(env, config, Leadership::always())
    }

    /// Starts drover with a given leadership handle (tests of standby behaviour).
    pub fn start_with(env: &TestEnv, config: Config, leadership: Leadership) -> Result<Drover> {
        Self::start_with_client_config(env.client_config(), config, leadership)
    }

    /// Installs the Helm chart (its ServiceAccount, least-privilege RBAC and admission policies)
    /// and starts drover with a token of that ServiceAccount, as a chart install runs it: every
    /// test against this drover also proves the chart's RBAC is enough. `chart_args` are extra
    /// `helm template` arguments (e.g. `--set secrets.access=false`).
    pub async fn start_as_chart(
        env: &TestEnv,
        config: Config,
        chart_args: &[&str],
    ) -> Result<Drover> {
        let (_namespace, token) = crate::chart::install_token(env, "drover", chart_args).await?;
        let mut client_config = env.client_config();
        client_config.auth_info = kube::config::AuthInfo {
            token: Some(token.into()),
            ..kube::config::AuthInfo::default()
        };
        tokio::task::spawn_blocking(move || {
            Self::start_with_client_config(client_config, config, Leadership::always())
        })
        .await
        .context("joining the drover start")?
    }

    fn start_with_client_config(
        client_config: kube::Config,
        config: Config,
        leadership: Leadership,
    ) -> Result<Drover> {
        let metrics = Arc::new(Metrics::default());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let thread_metrics = metrics.clone();
        let thread_leadership = leadership.clone();
        let thread = std::thread::Builder::new()
            .name("drover".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let client = match kube::Client::try_from(client_config) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let shutdown = async move {
                        let _ = stop_rx.await;
                    };
                    match drover::controllers::start(
                        client,
                        config,
                        thread_leadership,
                        thread_metrics,
                        shutdown,
                    )
                    .await
                    {
                        Ok(running) => {
                            let _ = ready_tx.send(Ok(()));
                            running.join().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .context("spawning the drover thread")?;
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow!("drover's caches did not become ready within 60s"))?
            .map_err(|e| anyhow!("drover failed to start: {e}"))?;
        Ok(Drover {
            metrics,
            leadership,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// One drover with the default test settings, shared by the tests of a test binary. It runs
    /// as the chart's ServiceAccount ([`Drover::start_as_chart`]), so the controller suites prove
    /// the chart's RBAC and admission policies are enough for everything drover does.
    pub async fn shared(env: &'static TestEnv) -> Result<&'static Drover> {
        static SHARED: OnceCell<std::result::Result<Drover, String>> = OnceCell::const_new();
        SHARED
            .get_or_init(|| async {
                Drover::start_as_chart(env, test_config(), &[])
                    .await
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// Writes this drover sent since it started.
    pub fn writes(&self) -> u64 {
        self.metrics.writes_total()
    }

    /// Stops drover gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Drover {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() > deadline {
            match last_error {
                Some(e) => {
                    bail!("timed out after {timeout:?} waiting for {what}; last error: {e:#}")
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Default wait for drover to converge in tests.
pub const CONVERGE: Duration = Duration::from_secs(30);

/// The drover binary built by this workspace (`cargo test --workspace` builds it first).
pub fn drover_binary() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"));
    target.join("debug").join("drover")
}

/// The drover binary of this checkout, built now if it is missing or stale (cargo builds a
/// package's binaries only for that package's own integration tests). `DROVER_TEST_BINARY`
/// names another build to run instead (an older one, to see a test fail without a change).
pub fn build_drover() -> Result<std::path::PathBuf> {
    if let Some(binary) = std::env::var_os("DROVER_TEST_BINARY") {
        return Ok(binary.into());
    }
    static BUILT: std::sync::OnceLock<std::result::Result<std::path::PathBuf, String>> =
        std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
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

/// A drover child process; killed (SIGKILL) when dropped.
pub struct DroverChild {
    child: std::process::Child,
    /// The port of `/healthz`, `/readyz` and `/metrics`, when known.
    port: Option<u16>,
    /// Where its stderr goes, when not inherited.
    log: Option<std::path::PathBuf>,
}

impl DroverChild {
    /// SIGKILL, then reap.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill().context("killing drover")?;
        self.child.wait().context("reaping drover")?;
        Ok(())
    }

    /// SIGTERM (a graceful stop).
    pub fn terminate(&self) -> Result<()> {
        let pid = libc::pid_t::try_from(self.child.id()).context("pid")?;
        // SAFETY: sending a signal to our own child process.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            bail!("SIGTERM to drover failed");
        }
        Ok(())
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, ...).
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = libc::pid_t::try_from(self.child.id()).context("pid")?;
        // SAFETY: kill(2) on our own child, which is not reaped yet.
        if unsafe { libc::kill(pid, signal) } != 0 {
            bail!("signal {signal} to drover failed");
        }
        Ok(())
    }

    /// What drover wrote to stderr so far ([`spawn_drover_logged`]).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// GET `path` on drover's health and metrics endpoint: status code and body.
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        let port = self
            .port
            .ok_or_else(|| anyhow!("this drover has no known endpoint port"))?;
        http_get(port, path).await
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        let (status, body) = self.get("/metrics").await?;
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        Ok(body)
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DroverChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `drover run` against `env` as a child process (text logs to stderr, no leader
/// election unless `args` ask for it), with `args` appended.
pub fn spawn_drover(env: &TestEnv, args: &[&str]) -> Result<DroverChild> {
    let child = std::process::Command::new(drover_binary())
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args([
            "--log-format",
            "text",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--leader-election=false",
        ])
        .args(args)
        .env("DROVER_LOG", "warn")
        .spawn()
        .with_context(|| format!("starting {}", drover_binary().display()))?;
    Ok(DroverChild {
        child,
        port: None,
        log: None,
    })
}

/// Starts `drover run` against `env` as a child process with its endpoint on a free loopback
/// port (see [`DroverChild::get`]) and its log (text, `info`) in the control plane's directory;
/// `args` are appended and `envs` added to its environment.
pub fn spawn_drover_logged(
    env: &TestEnv,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<DroverChild> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let binary = build_drover()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = env.dir().join(format!("drover-{n}.log"));
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let child = std::process::Command::new(&binary)
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(["--log-format", "text", "run"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--leader-election=false")
        .args(args)
        .env("DROVER_LOG", "info")
        .env_remove("POD_NAME")
        .env_remove("POD_NAMESPACE")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(DroverChild {
        child,
        port: Some(port),
        log: Some(log),
    })
}

/// A minimal HTTP/1.1 GET on a loopback port: status code and body.
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = tokio::task::spawn_blocking(move || -> Result<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    })
    .await??;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status line in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of the sample `series` (name and labels exactly as printed) in an OpenMetrics text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}
