//! Running the workloads. Every workload runs twice, each time on a fresh private control plane
//! prepared the same way (the default workspaces and the local cluster in place, then the
//! workload's pre-existing objects): once with the minimal client of [`floor`], once with the drover binary as a child
//! process. Both runs are timed by the same watches ([`observe`]), so the ratio compares like
//! with like. drover's run then goes through an idle period (quiet time, a full resync with
//! fresh caches, a restart), and a latency probe of single changes.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use drover::api::{FleetCluster, FleetWorkspace, ProvCluster};
use drover::consts::{DEFAULT_WORKSPACE, LOCAL_CLUSTER, LOCAL_WORKSPACE, conditions};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use drover_integration_tests::{Drover, TestEnv, eventually, fixtures};

use crate::child::{self, DroverProcess, Writes, accumulate, difference, total};
use crate::report::{
    Machine, ObjectSize, Report, RestartReport, WorkloadReport, by_kind_verb, per_object,
};
use crate::workloads::{self, Workload};
use crate::{apiserver, floor, latency, observe};

/// What to run, and how big.
#[derive(Clone, Debug)]
pub struct Options {
    /// N: clusters of the imported and provisioning workloads.
    pub clusters: usize,
    /// M: workspaces of the workspaces workload.
    pub workspaces: usize,
    pub workloads: Vec<Workload>,
    /// drover's `--concurrency`, and the write floor's concurrency per stage.
    pub concurrency: usize,
    /// Length of the idle period.
    pub idle: Duration,
    /// Single changes of the latency probe.
    pub changes: usize,
    /// Whether to measure the write floor (two control planes per workload) or only drover.
    pub floor: bool,
    /// The drover binary to run as a child process.
    pub drover_binary: PathBuf,
    /// Variables added to the environment of every drover process (`--drover-env`).
    pub drover_env: Vec<(String, String)>,
    /// Where drover's logs go, one file per process.
    pub log_dir: PathBuf,
}

impl Options {
    fn size(&self, workload: Workload) -> usize {
        match workload {
            Workload::Imported | Workload::Provisioning => self.clusters,
            Workload::Workspaces => self.workspaces,
        }
    }
}

/// Runs `f` over `items` with `concurrency`, each on its own task; fails on the first error.
pub(crate) async fn concurrently<I, F, Fut>(items: I, concurrency: usize, f: F) -> Result<()>
where
    I: IntoIterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut results = futures::stream::iter(items)
        .map(|item| tokio::spawn(f(item)))
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        result??;
    }
    Ok(())
}

/// Runs every workload of `options` and returns the report.
pub async fn run(options: &Options) -> Result<Report> {
    let mut report = Report {
        machine: Machine::detect(options.concurrency),
        workloads: Vec::new(),
    };
    for &workload in &options.workloads {
        eprintln!(
            "bench: {} with n = {}",
            workload.name(),
            options.size(workload)
        );
        let figures = run_workload(workload, options)
            .await
            .with_context(|| format!("workload {}", workload.name()))?;
        report.workloads.push(figures);
    }
    Ok(report)
}

fn drover_config(concurrency: usize) -> drover::config::Config {
    drover::config::Config {
        concurrency: u16::try_from(concurrency).unwrap_or(u16::MAX),
        ..drover_integration_tests::test_config()
    }
}

/// Starts an in-process drover from a blocking context (its start blocks on its caches).
fn start_in_process(env: &TestEnv, concurrency: usize) -> Result<Drover> {
    tokio::task::block_in_place(|| Drover::start(env, drover_config(concurrency)))
}

fn stop_in_process(drover: Drover) {
    tokio::task::block_in_place(|| drover.stop());
}

/// Waits until `read` returns the same value for `quiet` in a row (at most `limit`).
async fn until_quiet<T: PartialEq>(
    quiet: Duration,
    limit: Duration,
    mut read: impl AsyncFnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    let mut last = read().await?;
    let mut since = Instant::now();
    while Instant::now() < deadline && since.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = read().await?;
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    Ok(last)
}

/// A control plane as an installation looks before the workload: drover ran once, so the
/// default workspaces, their namespaces and the local cluster (with its kubeconfig secret and
/// fleet cluster) are in place. The figures then count the workload's writes only.
async fn prepared_env(concurrency: usize) -> Result<TestEnv> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let drover = start_in_process(&env, concurrency)?;
    let namespaces = Api::<Namespace>::all(client.clone());
    let wait = Duration::from_secs(120);
    eventually("namespace fleet-local", wait, || async {
        Ok(namespaces.get_opt(LOCAL_WORKSPACE).await?)
    })
    .await?;
    fixtures::create_kubeconfig_secret(&client, LOCAL_WORKSPACE, LOCAL_CLUSTER).await?;
    let fleets = Api::<FleetCluster>::namespaced(client.clone(), LOCAL_WORKSPACE);
    eventually("fleet cluster fleet-local/local", wait, || async {
        Ok(fleets.get_opt(LOCAL_CLUSTER).await?)
    })
    .await?;
    let workspaces = Api::<FleetWorkspace>::all(client.clone());
    eventually("workspace fleet-default in place", wait, || async {
        let ready = workspaces
            .get_opt(DEFAULT_WORKSPACE)
            .await?
            .is_some_and(|ws| {
                ws.status
                    .and_then(|s| s.conditions)
                    .is_some_and(|c| c.iter().any(|c| c.type_ == conditions::NAMESPACE_READY))
            });
        Ok(ready.then_some(()))
    })
    .await?;
    until_quiet(
        Duration::from_secs(2),
        Duration::from_secs(60),
        async || Ok(drover.writes()),
    )
    .await?;
    stop_in_process(drover);
    Ok(env)
}

/// The write floor of `workload`: seconds from the first write to convergence.
async fn write_floor(workload: Workload, options: &Options) -> Result<f64> {
    let n = options.size(workload);
    let env = prepared_env(options.concurrency).await?;
    let client = env.client()?;
    workloads::seed(workload, &client, n).await?;
    let progress = workloads::progress(workload, &client, n);
    progress.wait_listed(Duration::from_secs(120)).await?;
    let input = floor::prepare(workload, &client, n).await?;
    let started = Instant::now();
    floor::run(workload, &client, input, options.concurrency).await?;
    let done = progress
        .wait_converged(workloads::convergence_timeout(n))
        .await
        .context("the write floor did not converge")?;
    Ok(done.saturating_duration_since(started).as_secs_f64())
}

fn log_path(options: &Options, workload: Workload, what: &str) -> PathBuf {
    options
        .log_dir
        .join(format!("drover-{}-{what}.log", workload.name()))
}

async fn run_workload(workload: Workload, options: &Options) -> Result<WorkloadReport> {
    let n = options.size(workload);
    let mut figures = WorkloadReport {
        name: workload.name().into(),
        n,
        ..WorkloadReport::default()
    };
    if options.floor {
        let floor_s = write_floor(workload, options).await?;
        eprintln!("bench: {} write floor {floor_s:.2}s", workload.name());
        figures.write_floor_s = Some(floor_s);
    }

    let env = prepared_env(options.concurrency).await?;
    let client = env.client()?;
    let binary = &options.drover_binary;
    let baseline = baseline_rss(&env, binary, options, workload).await?;
    figures.baseline_rss_mib = Some(baseline);
    workloads::seed(workload, &client, n).await?;
    let progress = workloads::progress(workload, &client, n);
    progress.wait_listed(Duration::from_secs(120)).await?;

    // Convergence.
    let mut drover = DroverProcess::spawn(
        &env,
        binary,
        options.concurrency,
        &options.drover_env,
        &log_path(options, workload, "first"),
    )?;
    let ready_timeout = Duration::from_secs(300);
    let mut agent = None;
    let (started, user) = if workload.preexisting() {
        let started = drover.started;
        figures.first_cache_ready_s = Some(drover.wait_ready(ready_timeout).await?.as_secs_f64());
        (started, None)
    } else {
        figures.first_cache_ready_s = Some(drover.wait_ready(ready_timeout).await?.as_secs_f64());
        agent = (workload == Workload::Provisioning)
            .then(|| workloads::agent(client.clone(), options.concurrency));
        let user = tokio::spawn(workloads::user(
            workload,
            client.clone(),
            n,
            options.concurrency,
        ));
        (Instant::now(), Some(user))
    };
    let done = progress
        .wait_converged(workloads::convergence_timeout(n))
        .await
        .context("drover did not converge")?;
    let usage = drover.usage()?;
    if let Some(user) = user {
        user.await??;
    }
    if let Some(agent) = agent {
        agent.abort();
    }
    // fleet-controller's status on every Fleet cluster: drover must take it without a write.
    workloads::fleet_controller(workload, &client, n, options.concurrency).await?;
    figures.object_bytes = object_sizes(workload, &client).await?;
    let convergence = done.saturating_duration_since(started).as_secs_f64();
    fleet_figures(&mut figures, &progress, workload, started, convergence);
    let since_start = done.saturating_duration_since(drover.started).as_secs_f64();
    eprintln!("bench: {} converged in {convergence:.2}s", workload.name());
    figures.convergence_s = Some(convergence);
    figures.ratio = figures.write_floor_s.map(|f| convergence / f.max(1e-9));
    figures.cpu_s = Some(usage.cpu_s);
    figures.cpu_ms_per_object = Some(usage.cpu_s * 1000.0 / n.max(1) as f64);
    figures.cpu_cores_avg = Some(usage.cpu_s / since_start.max(1e-9));

    // Writes per object: everything drover sent until it fell quiet.
    let writes = drover
        .wait_quiet(Duration::from_secs(3), Duration::from_secs(120))
        .await?;
    let minimum = workloads::minimum_writes(workload, n);
    figures.writes_per_object = Some(total(&writes) as f64 / n.max(1) as f64);
    figures.min_writes_per_object = Some(total(&minimum) as f64 / n.max(1) as f64);
    figures.writes_by_kind_verb = per_object(&writes, n);
    figures.min_writes_by_kind_verb = per_object(&minimum, n);
    figures.writes_at_minimum = Some(workloads::at_minimum(workload, &writes, &minimum));

    // Idle: quiet time, a full resync with fresh caches, a restart.
    let idle_started = Instant::now();
    let third = options.idle / 3;
    let mut idle = Writes::new();
    tokio::time::sleep(third).await;
    accumulate(&mut idle, &difference(&drover.writes().await?, &writes));
    let first = drover.stop(Duration::from_secs(30))?;
    figures.first_peak_rss_mib = Some(first.peak_rss_mib);
    figures.converged_rss_mib = Some(first.rss_mib);
    let mut peak = first.peak_rss_mib;

    let resync = start_in_process(&env, options.concurrency)?;
    tokio::time::sleep(third).await;
    let reconciles = |d: &Drover| child::reconciles_total(&d.metrics.encode());
    until_quiet(
        Duration::from_secs(3),
        Duration::from_secs(300),
        async || Ok(reconciles(&resync)),
    )
    .await?;
    accumulate(&mut idle, &child::parse_writes(&resync.metrics.encode()));
    stop_in_process(resync);

    // A restart with list requests forced, then one with drover's default (streaming lists,
    // which the control plane serves).
    let lists = ["--streaming-lists=false"];
    let (restarted, restart) =
        measure_restart(&env, &client, options, workload, "restarted", &lists).await?;
    figures.bytes_per_object =
        Some((restart.rss_mib - baseline).max(0.0) * 1048576.0 / n.max(1) as f64);
    figures.restart = Some(restart);
    let rest = options.idle.saturating_sub(idle_started.elapsed());
    tokio::time::sleep(rest).await;
    let after_restart = restarted
        .wait_quiet(Duration::from_secs(3), Duration::from_secs(300))
        .await?;
    accumulate(&mut idle, &after_restart);
    figures.idle_s = Some(idle_started.elapsed().as_secs_f64());
    figures.idle_writes = Some(total(&idle));
    figures.idle_writes_by_kind_verb = by_kind_verb(&idle);

    // Latency of single changes in steady state.
    let samples = latency::measure(workload, &client, n, options.changes).await?;
    figures.latency_samples = samples.len();
    figures.latency_p50_ms = observe::quantile_ms(&samples, 0.50);
    figures.latency_p99_ms = observe::quantile_ms(&samples, 0.99);
    peak = peak.max(restarted.stop(Duration::from_secs(30))?.peak_rss_mib);

    // The same restart with the default: streaming lists where the API server accepts them.
    let (streamed, restart) =
        measure_restart(&env, &client, options, workload, "streaming", &[]).await?;
    peak = peak.max(streamed.stop(Duration::from_secs(30))?.peak_rss_mib);
    figures.cache_ready_s = Some(restart.caches_ready_s);
    figures.restart_streaming = Some(restart);
    figures.peak_rss_mib = Some(peak);
    Ok(figures)
}

/// Starts drover again on the converged estate and measures it until its full pass is done:
/// caches ready, the pass, the requests the API server served on drover's resources, writes
/// (there must be none), CPU and memory. Returns the process, still running.
async fn measure_restart(
    env: &TestEnv,
    client: &kube::Client,
    options: &Options,
    workload: Workload,
    what: &str,
    args: &[&str],
) -> Result<(DroverProcess, RestartReport)> {
    let n = options.size(workload);
    let before = apiserver::requests(client).await?;
    let mut drover = DroverProcess::spawn_with(
        env,
        &options.drover_binary,
        options.concurrency,
        &options.drover_env,
        &log_path(options, workload, what),
        args,
    )?;
    let ready = drover
        .wait_ready(Duration::from_secs(300))
        .await?
        .as_secs_f64();
    let pass_done = drover
        .wait_pass_done(Duration::from_secs(3), workloads::convergence_timeout(n))
        .await?;
    let requests = apiserver::since(&apiserver::requests(client).await?, &before);
    let usage = drover.usage()?;
    let writes = total(&drover.writes().await?);
    let report = RestartReport {
        caches_ready_s: ready,
        full_pass_s: pass_done
            .saturating_duration_since(drover.started)
            .as_secs_f64(),
        requests_total: requests.values().sum(),
        requests,
        writes,
        cpu_s: usage.cpu_s,
        cpu_ms_per_object: usage.cpu_s * 1000.0 / n.max(1) as f64,
        rss_mib: usage.rss_mib,
    };
    Ok((drover, report))
}

/// Resident memory of drover on the prepared control plane, before the workload's objects: what
/// the memory per object is counted above.
async fn baseline_rss(
    env: &TestEnv,
    binary: &std::path::Path,
    options: &Options,
    workload: Workload,
) -> Result<f64> {
    let mut drover = DroverProcess::spawn(
        env,
        binary,
        options.concurrency,
        &options.drover_env,
        &log_path(options, workload, "baseline"),
    )?;
    drover.wait_ready(Duration::from_secs(60)).await?;
    drover
        .wait_pass_done(Duration::from_secs(2), Duration::from_secs(60))
        .await?;
    let rss = drover.usage()?.rss_mib;
    drover.stop(Duration::from_secs(30))?;
    Ok(rss)
}

/// The sizes of the workload's first prov, mgmt and Fleet cluster as the API server serves them.
async fn object_sizes(
    workload: Workload,
    client: &kube::Client,
) -> Result<BTreeMap<String, ObjectSize>> {
    let (prov, mgmt) = match workload {
        Workload::Imported => (workloads::legacy_name(0), workloads::legacy_name(0)),
        Workload::Provisioning => {
            let name = workloads::prov_name(0);
            let prov = Api::<ProvCluster>::namespaced(client.clone(), DEFAULT_WORKSPACE)
                .get(&name)
                .await?;
            let mgmt = prov.cluster_name().unwrap_or_default().to_string();
            (name, mgmt)
        }
        Workload::Workspaces => return Ok(BTreeMap::new()),
    };
    let paths = [
        (
            "prov",
            format!(
                "/apis/provisioning.cattle.io/v1/namespaces/{DEFAULT_WORKSPACE}/clusters/{prov}"
            ),
        ),
        (
            "mgmt",
            format!("/apis/management.cattle.io/v3/clusters/{mgmt}"),
        ),
        (
            "fleet",
            format!(
                "/apis/fleet.cattle.io/v1alpha1/namespaces/{DEFAULT_WORKSPACE}/clusters/{prov}"
            ),
        ),
    ];
    let mut sizes = BTreeMap::new();
    for (kind, path) in paths {
        let (served, without) = workloads::served_size(client, &path).await?;
        sizes.insert(
            kind.to_string(),
            ObjectSize {
                served,
                without_managed_fields: without,
            },
        );
    }
    Ok(sizes)
}

/// The time until all Fleet clusters exist, its share of convergence, and per object the time
/// from creation to its Fleet cluster.
fn fleet_figures(
    figures: &mut WorkloadReport,
    progress: &observe::Progress,
    workload: Workload,
    started: Instant,
    convergence: f64,
) {
    let Some(all) = progress.reached(workloads::FLEET) else {
        return;
    };
    let all = all.saturating_duration_since(started).as_secs_f64();
    figures.fleet_all_s = Some(all);
    figures.fleet_share = Some(all / convergence.max(1e-9));
    let created = if workload.preexisting() {
        Default::default()
    } else {
        progress.first_done(workloads::CREATED)
    };
    let samples: Vec<Duration> = progress
        .first_done(workloads::FLEET)
        .iter()
        .map(|(key, at)| {
            let from = created.get(key).copied().unwrap_or(started);
            at.saturating_duration_since(from)
        })
        .collect();
    figures.fleet_p50_ms = observe::quantile_ms(&samples, 0.50);
    figures.fleet_p99_ms = observe::quantile_ms(&samples, 0.99);
}
