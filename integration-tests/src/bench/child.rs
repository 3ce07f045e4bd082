//! The drover binary as a child process of the benchmark: started with its health and metrics
//! endpoint on a free loopback port, scraped over plain HTTP, and measured through `/proc`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestEnv;

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
}

/// Reads `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmHWM).
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
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
    Ok(Usage {
        cpu_s,
        peak_rss_mib: hwm_kib / 1024.0,
    })
}

/// A free loopback address (bound and released; the race is acceptable here).
fn free_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    listener.local_addr().context("reading a bound port")
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| anyhow!("GET {path} timed out"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("GET {path}: malformed response"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("GET {path}: no status code"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A running `drover run`; killed when dropped.
pub struct DroverProcess {
    child: Child,
    addr: SocketAddr,
    pub started: Instant,
    /// The last usage read while the process was alive.
    last_usage: Usage,
}

impl DroverProcess {
    /// Starts `binary run` against `env` with `--concurrency concurrency`; its log goes to `log`.
    pub fn spawn(env: &TestEnv, binary: &Path, concurrency: usize, log: &Path) -> Result<Self> {
        if !binary.is_file() {
            bail!(
                "{} does not exist; build it with `cargo build --release --bin drover`",
                binary.display()
            );
        }
        let addr = free_addr()?;
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("--kubeconfig")
            .arg(env.kubeconfig_path())
            .args(["--log-format", "text", "run", "--listen"])
            .arg(addr.to_string())
            .arg("--leader-election=false")
            .arg(format!("--concurrency={concurrency}"))
            .env("DROVER_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out);
        let started = Instant::now();
        let child = crate::process::spawn_tied_to_process(cmd)
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            child,
            addr,
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
            if let Ok((200, _)) = http_get(self.addr, "/readyz").await {
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
        let (code, body) = http_get(self.addr, "/metrics").await?;
        if code != 200 {
            bail!("GET /metrics answered {code}");
        }
        Ok(parse_writes(&body))
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
        let pid = libc::pid_t::try_from(self.child.id()).context("pid")?;
        // SAFETY: sending a signal to our own, not yet reaped, child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(usage);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().context("killing drover")?;
        self.child.wait().context("reaping drover")?;
        Ok(usage)
    }
}

impl Drop for DroverProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `target/` of this workspace (or `$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
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

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
