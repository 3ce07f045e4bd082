//! One `drover run` replica as a child process with leader election, its own API user (so the
//! audit log tells the replicas apart), its endpoint on a free loopback port and its log in a
//! file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use crate::{TestEnv, build_drover, eventually, http_get};

/// The namespace of the leadership Lease in chaos runs and fencing tests.
pub const LEASE_NAMESPACE: &str = "drover-system";
/// The Lease's name (drover's default).
pub const LEASE_NAME: &str = "drover";

pub struct Replica {
    /// The API user it runs as; also its identity in the Lease.
    pub user: String,
    child: Option<Child>,
    kubeconfig: PathBuf,
    port: u16,
    log: PathBuf,
    extra: Vec<String>,
}

impl Replica {
    /// Starts replica `user` (a user of the control plane's [`crate::Options::users`]).
    pub fn start(env: &TestEnv, user: &str, logs: &Path, extra: &[&str]) -> Result<Self> {
        let mut replica = Self {
            user: user.to_string(),
            child: None,
            kubeconfig: env.kubeconfig_for_user(user)?,
            port: 0,
            log: logs.join(format!("drover-{user}.log")),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        // A new run starts a new log; restarts within the run append to it.
        File::create(&replica.log)
            .with_context(|| format!("creating {}", replica.log.display()))?;
        replica.spawn()?;
        Ok(replica)
    }

    fn spawn(&mut self) -> Result<()> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let out = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(build_drover()?)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--log-format", "text", "run"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--lease-namespace", LEASE_NAMESPACE])
            .args(["--lease-name", LEASE_NAME])
            .args(["--identity", &self.user])
            .args(["--leader-election", "true"])
            .args(&self.extra)
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            // `CHAOS_DROVER_LOG` (a `DROVER_LOG` filter) looks closer at a failing scenario.
            .env(
                "DROVER_LOG",
                std::env::var("CHAOS_DROVER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting drover")?;
        self.child = Some(child);
        self.port = port;
        Ok(())
    }

    /// Starts it again after a kill (same user, identity and log).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let child = self.child.as_ref().context("not running")?;
        let pid = libc::pid_t::try_from(child.id())?;
        // SAFETY: kill(2) on our own child, which is not reaped yet (reaped only in `kill`).
        let rc = unsafe { libc::kill(pid, signal) };
        ensure!(rc == 0, "kill({pid}, {signal}) failed");
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        http_get(self.port, path).await
    }

    /// `drover_leader` from `/metrics`.
    pub async fn is_leader(&self) -> Result<bool> {
        let (status, body) = self.get("/metrics").await?;
        ensure!(status == 200, "/metrics answered {status}");
        Ok(metric_sum(&body, "drover_leader") == 1.0)
    }

    /// Writes it sent, from `/metrics`.
    pub async fn writes(&self) -> Result<f64> {
        let (_, body) = self.get("/metrics").await?;
        Ok(metric_sum(&body, "drover_api_writes_total"))
    }

    /// The value of `series` (name and labels as `/metrics` prints them), 0 when absent.
    pub async fn metric(&self, series: &str) -> Result<f64> {
        let (status, body) = self.get("/metrics").await?;
        ensure!(status == 200, "/metrics answered {status}");
        Ok(crate::metric(&body, series).unwrap_or(0.0))
    }

    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        eventually(
            &format!("drover {} to be ready", self.user),
            timeout,
            || async { Ok(matches!(self.get("/readyz").await, Ok((200, _))).then_some(())) },
        )
        .await
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The sum of every sample of `name` (all label sets) in an OpenMetrics text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Which of `replicas` leads, by their own word; an error when more than one says so.
pub async fn leader(replicas: &[&Replica]) -> Result<Option<usize>> {
    let mut found = None;
    for (i, r) in replicas.iter().enumerate() {
        if r.is_leader().await.unwrap_or(false) {
            ensure!(found.is_none(), "two replicas report drover_leader 1");
            found = Some(i);
        }
    }
    Ok(found)
}
