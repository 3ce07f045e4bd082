//! The drover binary as a child process of the benchmark (a [`DroverChild`] of the build it
//! measures): its write counters scraped from `/metrics`, its CPU and memory read from `/proc`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use drover_integration_tests::{DroverChild, DroverCommand, TestEnv};

/// Writes sent by kind and verb, as drover's `drover_api_writes_total` counts them.
pub type Writes = BTreeMap<(String, String), u64>;

/// Sum of all counts.
pub fn total(writes: &Writes) -> u64 {
    writes.values().sum()
}

/// `after - before`, per kind and verb, dropping zeros.
pub fn difference(after: &Writes, before: &Writes) -> Writes {
    after
        .iter()
        .filter_map(|(key, &n)| {
            let d = n.saturating_sub(before.get(key).copied().unwrap_or(0));
            (d > 0).then(|| (key.clone(), d))
        })
        .collect()
}

/// Adds `more` into `into`.
pub fn accumulate(into: &mut Writes, more: &Writes) {
    for (key, n) in more {
        *into.entry(key.clone()).or_default() += n;
    }
}

/// The `drover_api_writes_total` samples of an OpenMetrics text.
pub fn parse_writes(text: &str) -> Writes {
    let mut out = Writes::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("drover_api_writes_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let mut kind = String::new();
        let mut verb = String::new();
        for pair in labels.split(',') {
            if let Some((k, v)) = pair.split_once('=') {
                let v = v.trim_matches('"').to_string();
                match k {
                    "kind" => kind = v,
                    "verb" => verb = v,
                    _ => {}
                }
            }
        }
        if let Ok(n) = value.trim().parse::<f64>() {
            // Counters are integers; the text format may print them as floats.
            *out.entry((kind, verb)).or_default() += n as u64;
        }
    }
    out
}

/// CPU time and peak resident memory of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
    /// Resident memory at the time of reading.
    pub rss_mib: f64,
}

/// Reads `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmHWM, VmRSS).
pub fn usage(pid: u32) -> Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `after` starts at field 3.
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat"))
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    let cpu_s = (ticks(11)? + ticks(12)?) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
    };
    Ok(Usage {
        cpu_s,
        peak_rss_mib: kib("VmHWM:")? / 1024.0,
        rss_mib: kib("VmRSS:")? / 1024.0,
    })
}

/// Sum of `drover_reconciles_total` over its controllers.
pub fn reconciles_total(text: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with("drover_reconciles_total"))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// A running `drover run`; killed when dropped.
pub struct DroverProcess {
    child: DroverChild,
    pub started: Instant,
    /// The last usage read while the process was alive.
    last_usage: Usage,
}

impl DroverProcess {
    /// Starts `binary run` against `env` with `--concurrency concurrency` and the variables
    /// `vars` in its environment; its log goes to `log`.
    pub fn spawn(
        env: &TestEnv,
        binary: &Path,
        concurrency: usize,
        vars: &[(String, String)],
        log: &Path,
    ) -> Result<Self> {
        Self::spawn_with(env, binary, concurrency, vars, log, &[])
    }

    /// [`Self::spawn`] with more arguments to `drover run`.
    pub fn spawn_with(
        env: &TestEnv,
        binary: &Path,
        concurrency: usize,
        vars: &[(String, String)],
        log: &Path,
        more: &[&str],
    ) -> Result<Self> {
        if !binary.is_file() {
            bail!(
                "{} does not exist; build it with `cargo build --release --bin drover`",
                binary.display()
            );
        }
        let started = Instant::now();
        let mut command = DroverCommand::with_binary(env, binary);
        for (key, value) in vars {
            command = command.env(key, value);
        }
        let child = command
            .args(&[&format!("--concurrency={concurrency}")])
            .args(more)
            .log_level("warn")
            .log_file(log)
            .spawn()?;
        Ok(Self {
            child,
            started,
            last_usage: Usage::default(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200 (every watch cache listed); returns the time since start.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = self.started + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("drover exited before its caches were ready ({status})");
            }
            if let Ok((200, _)) = self.child.get("/readyz").await {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                bail!("drover's /readyz did not answer 200 within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The writes drover sent so far, from its `/metrics`.
    pub async fn writes(&self) -> Result<Writes> {
        Ok(parse_writes(&self.child.metrics().await?))
    }

    /// Reconciles run so far, over all controllers, from its `/metrics`.
    pub async fn reconciles(&self) -> Result<u64> {
        Ok(reconciles_total(&self.child.metrics().await?))
    }

    /// Waits until the reconcile counter stays unchanged for `quiet` (at most `limit`): the
    /// full pass over every object is done. Returns when the counter was last seen to move (when
    /// the wait began, if it never moved).
    pub async fn wait_pass_done(&self, quiet: Duration, limit: Duration) -> Result<Instant> {
        let deadline = Instant::now() + limit;
        let mut last = self.reconciles().await?;
        let mut since = Instant::now();
        while Instant::now() < deadline && since.elapsed() < quiet {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.reconciles().await?;
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
        Ok(since)
    }

    /// CPU seconds and peak RSS so far.
    pub fn usage(&mut self) -> Result<Usage> {
        self.last_usage = usage(self.pid())?;
        Ok(self.last_usage)
    }

    /// Polls the write counters until they stay unchanged for `quiet` (at most `limit`);
    /// returns the final counters.
    pub async fn wait_quiet(&self, quiet: Duration, limit: Duration) -> Result<Writes> {
        let deadline = Instant::now() + limit;
        let mut last = self.writes().await?;
        let mut since = Instant::now();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.writes().await?;
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        Ok(last)
    }

    /// SIGTERM, then waits for the graceful stop (SIGKILL after `grace`). Returns the usage
    /// read just before the signal.
    pub fn stop(mut self, grace: Duration) -> Result<Usage> {
        let usage = self.usage().unwrap_or(self.last_usage);
        let _ = self.child.terminate();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(usage);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        Ok(usage)
    }
}

/// `target/` of this workspace (or `$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| drover_integration_tests::repo_root().join("target"))
}

/// The release build of drover, `target/release/drover`.
pub fn release_binary() -> PathBuf {
    target_dir().join("release").join("drover")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_counters_are_read_by_kind_and_verb() {
        let text = "# HELP drover_api_writes Writes\n\
                    drover_api_writes_total{kind=\"Cluster\",verb=\"apply\"} 12\n\
                    drover_api_writes_total{kind=\"Event\",verb=\"create\"} 3\n\
                    drover_reconciles_total{controller=\"cluster\"} 9\n";
        let writes = parse_writes(text);
        assert_eq!(writes.get(&("Cluster".into(), "apply".into())), Some(&12));
        assert_eq!(writes.get(&("Event".into(), "create".into())), Some(&3));
        assert_eq!(total(&writes), 15);
    }
}
