//! What a chaos run found: per scenario pass or fail, the invariants' findings and the figures.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub passed: bool,
    /// Wall time of the scenario, fault and checks included.
    pub seconds: f64,
    /// From the end of the fault until `drover inspect` exited 0.
    pub converged_seconds: Option<f64>,
    /// Figures the scenario measured (kills, take-overs, writes, ...), as `name: value`.
    pub figures: Vec<(String, String)>,
    /// What failed; empty when it passed.
    pub failures: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub prov_clusters: usize,
    pub legacy_clusters: usize,
    pub workspaces: usize,
    /// The convergence bound every scenario is held to.
    pub converge_bound_seconds: u64,
    /// How long the replicas must stay silent once converged.
    pub idle_seconds: u64,
    pub total_seconds: f64,
    pub scenarios: Vec<Outcome>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.passed)
    }

    /// The table printed at the end of a run (and shown in the README).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "chaos: seed {}, {} prov + {} legacy clusters, {} workspaces, two replicas; \
             convergence bound {} s, idle {} s; {:.0} s in all",
            self.seed,
            self.prov_clusters,
            self.legacy_clusters,
            self.workspaces,
            self.converge_bound_seconds,
            self.idle_seconds,
            self.total_seconds
        );
        let _ = writeln!(
            out,
            "{:<28} {:<6} {:>8} {:>10}  figures",
            "scenario", "result", "time s", "converge s"
        );
        for s in &self.scenarios {
            let figures: Vec<String> = s.figures.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                out,
                "{:<28} {:<6} {:>8.0} {:>10}  {}",
                s.scenario,
                if s.passed { "pass" } else { "FAIL" },
                s.seconds,
                s.converged_seconds
                    .map(|c| format!("{c:.0}"))
                    .unwrap_or_else(|| "-".into()),
                figures.join(", ")
            );
            for failure in &s.failures {
                let _ = writeln!(out, "    {failure}");
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}
