//! drover itself, for tests: in-process on a runtime of its own (so it outlives any one test's
//! runtime). A drover a test can kill runs as a child process, see `child`.

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
                    let clients = match drover::runtime::client::build(client_config) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let shutdown = drover::app::CancellationToken::new();
                    tokio::spawn({
                        let shutdown = shutdown.clone();
                        async move {
                            let _ = stop_rx.await;
                            shutdown.cancel();
                        }
                    });
                    match drover::app::start(
                        clients,
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
