//! The report: one row per workload, printed as a table with the targets beside the figures and
//! written as JSON so that runs can be compared.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::child::Writes;

/// Convergence may take at most this many times the write floor: 1.2 for the cluster workloads,
/// 1.3 for the small workspaces one, where fixed per-run costs weigh more.
pub fn target_ratio(workload: &str) -> f64 {
    if workload == "workspaces" { 1.3 } else { 1.2 }
}
pub const TARGET_PEAK_RSS_MIB: f64 = 256.0;
pub const TARGET_CORES: f64 = 1.0;
pub const TARGET_P99_MS: f64 = 500.0;
pub const TARGET_P50_MS: f64 = 100.0;
pub const TARGET_CACHE_READY_S: f64 = 10.0;
/// All Fleet clusters must exist within this share of the total convergence time.
pub const TARGET_FLEET_SHARE: f64 = 0.5;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub workloads: Vec<WorkloadReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_mib: Option<u64>,
    pub kernel: Option<String>,
    pub drover_concurrency: usize,
}

impl Machine {
    pub fn detect(concurrency: usize) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string()),
            memory_mib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|kib| kib / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            drover_concurrency: concurrency,
        }
    }
}

/// One workload's figures; `None` (JSON null) where a figure does not apply or was not measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkloadReport {
    pub name: String,
    pub n: usize,
    /// From drover's start (imported) or the first create (others) to the last object converged.
    pub convergence_s: Option<f64>,
    /// From the same start until all N Fleet clusters exist (workloads that make them).
    pub fleet_all_s: Option<f64>,
    /// `fleet_all_s` over `convergence_s`.
    pub fleet_share: Option<f64>,
    /// Per object, from its creation (the prov cluster appearing; for pre-existing objects,
    /// drover's start) to its Fleet cluster appearing: median and 99th percentile.
    pub fleet_p50_ms: Option<f64>,
    pub fleet_p99_ms: Option<f64>,
    /// The same for the minimal client that only sends the required writes.
    pub write_floor_s: Option<f64>,
    pub ratio: Option<f64>,
    pub writes_per_object: Option<f64>,
    pub min_writes_per_object: Option<f64>,
    /// Whether every kind and verb was written exactly the minimum number of times (the
    /// provisioning status writes may merge into one per object).
    pub writes_at_minimum: Option<bool>,
    /// Writes during the idle period (quiet time, a full resync with fresh caches, a restart).
    pub idle_writes: Option<u64>,
    /// Highest VmHWM of the drover processes of the run.
    pub peak_rss_mib: Option<f64>,
    /// VmHWM of the first start, which does the whole convergence.
    pub first_peak_rss_mib: Option<f64>,
    /// Resident memory of the first start once converged and quiet (just before it stops).
    pub converged_rss_mib: Option<f64>,
    /// CPU seconds of the drover process from its start until convergence.
    pub cpu_s: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// From the restart of drover, with every object of the workload present, to `/readyz`.
    pub cache_ready_s: Option<f64>,
    /// `cpu_s` over the time from drover's start to convergence.
    pub cpu_cores_avg: Option<f64>,
    /// From the first start of drover, with the seeded objects present, to `/readyz`.
    pub first_cache_ready_s: Option<f64>,
    /// Per object, by `"<kind> <verb>"`.
    pub writes_by_kind_verb: BTreeMap<String, f64>,
    pub min_writes_by_kind_verb: BTreeMap<String, f64>,
    /// Totals during the idle period, by `"<kind> <verb>"`.
    pub idle_writes_by_kind_verb: BTreeMap<String, u64>,
    pub idle_s: Option<f64>,
    pub latency_samples: usize,
    /// CPU milliseconds of drover per object, from its start until convergence.
    pub cpu_ms_per_object: Option<f64>,
    /// drover's resident memory on the prepared control plane, before the workload's objects.
    pub baseline_rss_mib: Option<f64>,
    /// drover's resident memory after the restart's full pass, above the baseline, per object.
    pub bytes_per_object: Option<f64>,
    /// The workload's first prov, mgmt and Fleet cluster as the API server serves them.
    pub object_bytes: BTreeMap<String, ObjectSize>,
    /// drover restarted on the converged estate.
    pub restart: Option<RestartReport>,
    /// The same with drover's default: streaming lists where the API server accepts them.
    pub restart_streaming: Option<RestartReport>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ObjectSize {
    /// Bytes of the JSON the API server sends.
    pub served: usize,
    /// The same without `metadata.managedFields`.
    pub without_managed_fields: usize,
}

/// drover started again with every object converged.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestartReport {
    /// From the start to `/readyz` (every watch cache listed).
    pub caches_ready_s: f64,
    /// From the start until the reconcile counter last moved (the full pass over every object).
    pub full_pass_s: f64,
    /// Requests the API server served on drover's resources from the start to the end of the
    /// full pass, by verb.
    pub requests: BTreeMap<String, u64>,
    pub requests_total: u64,
    /// Writes drover sent in that time (must be zero).
    pub writes: u64,
    /// CPU seconds of the process until the end of the full pass, and per object.
    pub cpu_s: f64,
    pub cpu_ms_per_object: f64,
    /// Resident memory at the end of the full pass.
    pub rss_mib: f64,
}

/// `"<kind> <verb>" -> count / n`.
pub fn per_object(writes: &Writes, n: usize) -> BTreeMap<String, f64> {
    writes
        .iter()
        .map(|((k, v), c)| (format!("{k} {v}"), *c as f64 / n.max(1) as f64))
        .collect()
}

pub fn by_kind_verb(writes: &Writes) -> BTreeMap<String, u64> {
    writes
        .iter()
        .map(|((k, v), c)| (format!("{k} {v}"), *c))
        .collect()
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "ok",
        Some(false) => "MISSED",
        None => "",
    }
}

impl Report {
    /// The table, with the targets beside the figures.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "machine: {} CPUs ({}), {} MiB; drover --concurrency {}",
            m.cpus,
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.memory_mib.map_or("?".into(), |v| v.to_string()),
            m.drover_concurrency
        );
        for w in &self.workloads {
            let _ = writeln!(out, "\n{} (n = {})", w.name, w.n);
            let mut row = |label: &str, value: String, target: &str, ok: Option<bool>| {
                let _ = writeln!(out, "  {label:<30} {value:>14}   {target:<16} {}", mark(ok));
            };
            row("convergence s", num(w.convergence_s, 2), "", None);
            row("all Fleet clusters s", num(w.fleet_all_s, 2), "", None);
            row(
                "  share of convergence",
                num(w.fleet_share, 2),
                &format!("<= {TARGET_FLEET_SHARE}"),
                w.fleet_share.map(|v| v <= TARGET_FLEET_SHARE),
            );
            row("creation -> Fleet p50 ms", num(w.fleet_p50_ms, 0), "", None);
            row("creation -> Fleet p99 ms", num(w.fleet_p99_ms, 0), "", None);
            row("write floor s", num(w.write_floor_s, 2), "", None);
            row(
                "ratio to floor",
                num(w.ratio, 2),
                &format!("<= {}", target_ratio(&w.name)),
                w.ratio.map(|r| r <= target_ratio(&w.name)),
            );
            row(
                "writes per object",
                num(w.writes_per_object, 3),
                // At most: the provisioning status writes may merge into one.
                &format!("<= {}", num(w.min_writes_per_object, 3)),
                w.writes_at_minimum,
            );
            for (kv, v) in &w.writes_by_kind_verb {
                let min = w.min_writes_by_kind_verb.get(kv).copied().unwrap_or(0.0);
                row(
                    &format!("  {kv}"),
                    format!("{v:.3}"),
                    &format!("= {min:.3}"),
                    None,
                );
            }
            row(
                "idle writes",
                w.idle_writes.map_or("-".into(), |v| v.to_string()),
                "= 0",
                w.idle_writes.map(|v| v == 0),
            );
            for (kv, v) in &w.idle_writes_by_kind_verb {
                row(&format!("  {kv}"), v.to_string(), "", None);
            }
            row(
                "peak RSS MiB",
                num(w.peak_rss_mib, 1),
                &format!("<= {TARGET_PEAK_RSS_MIB}"),
                w.peak_rss_mib.map(|v| v <= TARGET_PEAK_RSS_MIB),
            );
            row(
                "  first start peak RSS MiB",
                num(w.first_peak_rss_mib, 1),
                "",
                None,
            );
            row(
                "  RSS once converged MiB",
                num(w.converged_rss_mib, 1),
                "",
                None,
            );
            row("CPU s (to convergence)", num(w.cpu_s, 2), "", None);
            row("  CPU ms per object", num(w.cpu_ms_per_object, 3), "", None);
            row(
                "CPU cores average",
                num(w.cpu_cores_avg, 2),
                &format!("<= {TARGET_CORES}"),
                w.cpu_cores_avg.map(|v| v <= TARGET_CORES),
            );
            row(
                "change latency p50 ms",
                num(w.latency_p50_ms, 1),
                &format!("<= {TARGET_P50_MS}"),
                w.latency_p50_ms.map(|v| v <= TARGET_P50_MS),
            );
            row(
                "change latency p99 ms",
                num(w.latency_p99_ms, 1),
                &format!("<= {TARGET_P99_MS}"),
                w.latency_p99_ms.map(|v| v <= TARGET_P99_MS),
            );
            row(
                "caches ready s (restart)",
                num(w.cache_ready_s, 2),
                &format!("<= {TARGET_CACHE_READY_S}"),
                w.cache_ready_s.map(|v| v <= TARGET_CACHE_READY_S),
            );
            row(
                "caches ready s (first start)",
                num(w.first_cache_ready_s, 2),
                "",
                None,
            );
            row("baseline RSS MiB", num(w.baseline_rss_mib, 1), "", None);
            row("RSS bytes per object", num(w.bytes_per_object, 0), "", None);
            for (kind, size) in &w.object_bytes {
                row(
                    &format!("{kind} object bytes (no mgd fields)"),
                    format!("{} ({})", size.served, size.without_managed_fields),
                    "",
                    None,
                );
            }
            for (how, r) in [("restart", &w.restart), ("streaming", &w.restart_streaming)] {
                let Some(r) = r else { continue };
                row(
                    &format!("{how}: caches ready s"),
                    format!("{:.2}", r.caches_ready_s),
                    &format!("<= {TARGET_CACHE_READY_S}"),
                    Some(r.caches_ready_s <= TARGET_CACHE_READY_S),
                );
                row(
                    &format!("{how}: full pass s"),
                    format!("{:.2}", r.full_pass_s),
                    "",
                    None,
                );
                let verbs: Vec<String> =
                    r.requests.iter().map(|(v, n)| format!("{v} {n}")).collect();
                row(
                    &format!("{how}: API requests"),
                    r.requests_total.to_string(),
                    &verbs.join(", "),
                    None,
                );
                row(
                    &format!("{how}: writes"),
                    r.writes.to_string(),
                    "= 0",
                    Some(r.writes == 0),
                );
                row(
                    &format!("{how}: CPU ms per object"),
                    format!("{:.3}", r.cpu_ms_per_object),
                    "",
                    None,
                );
                row(
                    &format!("{how}: RSS MiB"),
                    format!("{:.1}", r.rss_mib),
                    "",
                    None,
                );
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
