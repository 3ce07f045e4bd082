//! `make chaos`: faults injected into a real control plane (etcd, kube-apiserver,
//! kube-controller-manager) while two drover replicas run as distinct API users, and after each
//! fault the invariants, read from the objects and the API server's audit log:
//!
//! - no duplicate counterparts (two objects of one kind carrying one owner UID);
//! - no delete by a replica that the scenario did not ask for ([`Asked`]);
//! - one writer per Lease term (no write received while another replica held the Lease, none
//!   answered after another took it);
//! - convergence: `drover inspect` exits 0 within [`Options::converge_bound`];
//! - silence: no write by either replica (Lease renewals aside) for [`Options::idle`] once
//!   converged.
//!
//! Runs are seeded: the seed picks the write counts at which leaders are killed and which killed
//! replicas restart at once.

pub mod access;
pub mod invariants;
pub mod replica;
pub mod report;
pub mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use drover::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use drover::consts::DEFAULT_WORKSPACE;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};

use crate::{Options as EnvOptions, TestEnv, User, audit, eventually, fixtures, is_established};
use replica::{LEASE_NAME, LEASE_NAMESPACE, Replica, leader};
use report::{Outcome, Report};

/// [`Scenario::ListWatchRevoked`]: the workspace deleted while drover cannot list prov
/// clusters, the prov cluster in its namespace, and the kind whose list and watch are revoked.
const WS: &str = "chaos-revoked";
const PROV: &str = "held";
const RESOURCE: &str = "clusters.provisioning.cattle.io";

/// The annotation the chart's admission policy `drover-rancher-crds` asks for before one of
/// Rancher's CRDs may be deleted.
const ALLOW_CRD_DELETION: &str = "drover.cattle.io/allow-deletion";

/// The annotation by which a namespace's owner lets a new workspace take it (W6).
const ALLOW_EXISTING_NAMESPACE: &str = drover::consts::annotations::ALLOW_EXISTING_NAMESPACE;

/// `drover_watch_errors_total` of `resource`, as `/metrics` names the series.
fn watch_errors(resource: &str) -> String {
    format!(r#"drover_watch_errors_total{{resource="{resource}"}}"#)
}

/// The two replicas' API users (and Lease identities).
pub const REPLICAS: [&str; 2] = ["drover-a", "drover-b"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// SIGKILL of the leader at seeded write counts while prov clusters keep arriving.
    LeaderKills,
    /// kube-apiserver restarted while drover converges.
    ApiserverRestart,
    /// etcd stopped (SIGSTOP) for 30 s while drover converges.
    EtcdStopped,
    /// kube-apiserver stopped (SIGSTOP) for 60 s while drover converges.
    ApiserverStopped,
    /// kube-apiserver stopped for 90 s: longer than drover's watch-failure timeout (60 s).
    ApiserverStoppedLong,
    /// A mgmt cluster drover cannot decode (issue 12 item 1) while new clusters arrive.
    BadObject,
    /// Fleet's Cluster CRD deleted and added again.
    CrdReadded,
    /// List and watch of prov clusters revoked from drover's ClusterRole for two minutes (the API
    /// server restarted at its start, so that no watch opened before goes on), while
    /// a workspace is created, a prov cluster created in its namespace and the workspace
    /// deleted. drover must not delete the namespace while it cannot list what it holds (the
    /// namespace delete is decided from a live list, W7 and I4), must report the failing watch
    /// (`/readyz` 503 naming the resource, `drover_watch_errors_total`), and once the permission
    /// is back must hold the workspace with its finalizer and say why (the namespace holds a prov
    /// cluster). Then the scenario deletes the prov cluster, as the user who wants the workspace
    /// gone would, and the deletion goes on. Deletes asked for: the prov cluster's mgmt cluster
    /// and Fleet cluster (received after the prov delete), and the namespace, only once the
    /// audit log shows its last prov and Fleet cluster gone (received after drover released the
    /// prov cluster's finalizer and after the Fleet cluster's delete completed).
    ListWatchRevoked,
    /// The FleetWorkspace CRD deleted (every workspace with it) and added again. drover only
    /// releases its finalizers (I7): no delete by drover at all (no namespace, no cluster, no
    /// RBAC). After the re-add drover creates the default workspaces again (W3). The namespaces
    /// left behind were made for workspaces that are gone (other UIDs), so drover hands none to
    /// a new workspace of the same name (W6, I1); the scenario, as an operator restoring the
    /// workspaces from their manifests, allows it on those namespaces and on `fleet-default`'s
    /// (`field.cattle.io/allow-fleetworkspace-creation-for-existing-namespace`) and applies the
    /// workspaces again. Converged: `drover inspect` exits 0 after that.
    RancherCrdReadded,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Self::LeaderKills,
        Self::ApiserverRestart,
        Self::EtcdStopped,
        Self::ApiserverStopped,
        Self::ApiserverStoppedLong,
        Self::BadObject,
        Self::CrdReadded,
        Self::ListWatchRevoked,
        Self::RancherCrdReadded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::LeaderKills => "leader-kills",
            Self::ApiserverRestart => "apiserver-restart",
            Self::EtcdStopped => "etcd-stopped-30s",
            Self::ApiserverStopped => "apiserver-stopped-60s",
            Self::ApiserverStoppedLong => "apiserver-stopped-90s",
            Self::BadObject => "bad-object",
            Self::CrdReadded => "fleet-crd-readded",
            Self::ListWatchRevoked => "list-watch-revoked-120s",
            Self::RancherCrdReadded => "workspace-crd-readded",
        }
    }

    /// How many batches of new prov clusters the scenario creates while it runs (the leader
    /// kills one per kill; re-adding Fleet's CRD none).
    fn batches(self, kills: usize) -> usize {
        match self {
            Self::LeaderKills => kills,
            Self::CrdReadded => 0,
            _ => 1,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// Prov clusters in all, spread over the scenarios (most arrive during the leader kills).
    pub provs: usize,
    /// Of `provs`, how many are created (and converge) before the first scenario.
    pub estate_provs: usize,
    /// Legacy mgmt clusters, there from the start.
    pub legacy: usize,
    /// Workspaces, there from the start.
    pub workspaces: usize,
    /// Leader kills of [`Scenario::LeaderKills`].
    pub kills: usize,
    pub scenarios: Vec<Scenario>,
    pub converge_bound: Duration,
    pub idle: Duration,
    /// Where the replicas' logs go.
    pub log_dir: PathBuf,
}

/// A small seeded generator (splitmix64): reproducible runs without another dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

struct Run<'a> {
    env: &'a TestEnv,
    client: Client,
    replicas: Vec<Replica>,
    rng: Rng,
    options: &'a Options,
    /// The next prov cluster number to create.
    next_prov: usize,
    /// Batches of new prov clusters the scenarios still to run will create.
    batches_left: usize,
    /// The deletes the running scenario asked for.
    asked: Vec<Asked>,
    _agent: workload::Agent,
}

/// Runs the scenarios of `options` on a private control plane and reports.
pub async fn run(options: &Options) -> Result<Report> {
    let began = Instant::now();
    std::fs::create_dir_all(&options.log_dir)
        .with_context(|| format!("creating {}", options.log_dir.display()))?;
    let env = TestEnv::start_with(EnvOptions {
        audit: true,
        users: REPLICAS.iter().map(|u| User::plain(u)).collect(),
    })
    .await?;
    let client = env.client()?;
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAMESPACE.into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;
    // The replicas may do what the chart lets drover do, and nothing else.
    access::grant(&client, &REPLICAS).await?;
    let mut replicas = Vec::new();
    for user in REPLICAS {
        replicas.push(Replica::start(&env, user, &options.log_dir, &[])?);
    }
    for r in &replicas {
        r.wait_ready(Duration::from_secs(120)).await?;
    }
    crate::fixtures::default_workspaces_ready(&client).await?;
    let mut run = Run {
        env: &env,
        client: client.clone(),
        replicas,
        rng: Rng::new(options.seed),
        options,
        next_prov: 0,
        batches_left: options
            .scenarios
            .iter()
            .map(|s| s.batches(options.kills))
            .sum(),
        asked: Vec::new(),
        _agent: workload::Agent::start(client.clone()),
    };
    // The estate every scenario starts from: legacy clusters and workspaces, converged.
    workload::legacy(&client, 0..options.legacy).await?;
    workload::workspaces(&client, 0..options.workspaces).await?;
    let estate = options.estate_provs.min(options.provs);
    workload::provs(&client, 0..estate).await?;
    run.next_prov = estate;
    let mut outcomes = Vec::new();
    let setup = run
        .check("setup", Timestamp::now(), Instant::now(), Vec::new())
        .await?;
    let setup_ok = setup.passed;
    outcomes.push(setup);
    if setup_ok {
        for scenario in &options.scenarios {
            let outcome = run.scenario(*scenario).await?;
            println!(
                "{}: {} in {:.0} s",
                outcome.scenario,
                if outcome.passed { "pass" } else { "FAIL" },
                outcome.seconds
            );
            outcomes.push(outcome);
        }
    }
    Ok(Report {
        seed: options.seed,
        prov_clusters: run.next_prov,
        legacy_clusters: options.legacy,
        workspaces: options.workspaces,
        converge_bound_seconds: options.converge_bound.as_secs(),
        idle_seconds: options.idle.as_secs(),
        total_seconds: began.elapsed().as_secs_f64(),
        scenarios: outcomes,
    })
}

impl Run<'_> {
    /// How many prov clusters the next batch adds: what is left of `provs` shared evenly over
    /// the batches left, so that the run creates all of them.
    fn batch(&mut self) -> usize {
        let left = self.options.provs.saturating_sub(self.next_prov);
        let n = left.div_ceil(self.batches_left.max(1)).max(1);
        self.batches_left = self.batches_left.saturating_sub(1);
        n
    }

    /// Starts creating the next batch of prov clusters; the creates run while the fault happens.
    fn more_provs(&mut self) -> tokio::task::JoinHandle<Result<()>> {
        let n = self.batch();
        let range = self.next_prov..self.next_prov + n;
        self.next_prov = range.end;
        let client = self.client.clone();
        tokio::spawn(async move { workload::provs(&client, range).await })
    }

    async fn leader(&self, within: Duration) -> Result<usize> {
        let refs: Vec<&Replica> = self.replicas.iter().collect();
        eventually("a leader", within, || async { leader(&refs).await }).await
    }

    /// Waits until the leader has sent `writes` more writes than `base`, or `within` passes.
    async fn writes_beyond(&self, i: usize, base: f64, writes: f64, within: Duration) -> f64 {
        let deadline = Instant::now() + within;
        loop {
            let now = self.replicas[i].writes().await.unwrap_or(base);
            if now >= base + writes || Instant::now() > deadline {
                return now - base;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn scenario(&mut self, scenario: Scenario) -> Result<Outcome> {
        let since = Timestamp::now();
        let started = Instant::now();
        let mut figures = Vec::new();
        self.asked.clear();
        // A fault that does not go as the scenario expects is that scenario's failure; the
        // invariants are checked all the same and the next scenario runs.
        let fault: Result<()> = async {
            match scenario {
                Scenario::LeaderKills => self.leader_kills(&mut figures).await?,
                Scenario::ApiserverRestart => {
                    let creating = self.more_provs();
                    self.mid_convergence().await?;
                    self.env.restart_apiserver().await?;
                    creating.await??;
                }
                Scenario::EtcdStopped => {
                    self.stopped("etcd", Duration::from_secs(30)).await?;
                }
                Scenario::ApiserverStopped => {
                    self.stopped("kube-apiserver", Duration::from_secs(60))
                        .await?;
                }
                Scenario::ApiserverStoppedLong => {
                    self.stopped("kube-apiserver", Duration::from_secs(90))
                        .await?;
                }
                Scenario::BadObject => self.bad_object(&mut figures).await?,
                Scenario::CrdReadded => self.fleet_crd_readded().await?,
                Scenario::ListWatchRevoked => self.list_watch_revoked(&mut figures).await?,
                Scenario::RancherCrdReadded => self.workspace_crd_readded(&mut figures).await?,
            }
            Ok(())
        }
        .await;
        let mut outcome = self.check(scenario.name(), since, started, figures).await?;
        if let Err(error) = fault {
            outcome.passed = false;
            outcome.failures.insert(0, format!("{error:#}"));
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        Ok(outcome)
    }

    /// Returns once the leader has sent a few writes of the new batch.
    async fn mid_convergence(&self) -> Result<()> {
        let i = self.leader(Duration::from_secs(60)).await?;
        let base = self.replicas[i].writes().await?;
        self.writes_beyond(i, base, 10.0, Duration::from_secs(30))
            .await;
        Ok(())
    }

    /// `component` stopped with SIGSTOP for `how_long` while a batch converges.
    async fn stopped(&mut self, component: &str, how_long: Duration) -> Result<()> {
        let creating = self.more_provs();
        self.mid_convergence().await?;
        self.env.signal(component, libc::SIGSTOP)?;
        tokio::time::sleep(how_long).await;
        self.env.signal(component, libc::SIGCONT)?;
        creating.await??;
        Ok(())
    }

    async fn leader_kills(&mut self, figures: &mut Vec<(String, String)>) -> Result<()> {
        let mut takeovers = Vec::new();
        let mut at_writes = Vec::new();
        let mut reclaimed = 0;
        for _ in 0..self.options.kills {
            let creating = self.more_provs();
            let i = self.leader(Duration::from_secs(60)).await?;
            let base = self.replicas[i].writes().await?;
            let target = self.rng.between(1, 60) as f64;
            let sent = self
                .writes_beyond(i, base, target, Duration::from_secs(20))
                .await;
            at_writes.push(sent);
            self.replicas[i].kill();
            let killed = Instant::now();
            // Half of the kills are followed by a restart at once: the new process has the
            // killed one's identity and takes its Lease back as soon as its caches are warm (a
            // container restarted in its pod). The other half wait for the other replica to
            // take over once the Lease has expired.
            let at_once = self.rng.next_u64().is_multiple_of(2);
            if at_once {
                self.replicas[i].restart()?;
                self.leader(Duration::from_secs(90)).await?;
                reclaimed += 1;
            } else {
                let other = 1 - i;
                eventually(
                    "the other replica to take over",
                    Duration::from_secs(60),
                    || async { Ok(self.replicas[other].is_leader().await?.then_some(())) },
                )
                .await?;
                self.replicas[i].restart()?;
            }
            takeovers.push(killed.elapsed().as_secs_f64());
            creating.await??;
            self.replicas[i]
                .wait_ready(Duration::from_secs(120))
                .await?;
        }
        takeovers.sort_by(f64::total_cmp);
        at_writes.sort_by(f64::total_cmp);
        figures.push(("kills".into(), takeovers.len().to_string()));
        figures.push((
            "taken over by the other replica".into(),
            (takeovers.len() - reclaimed).to_string(),
        ));
        if let (Some(first), Some(last)) = (takeovers.first(), takeovers.last()) {
            figures.push((
                "new leader after s".into(),
                format!(
                    "{first:.1}/{:.1}/{last:.1} (min/median/max)",
                    takeovers[takeovers.len() / 2]
                ),
            ));
        }
        if let (Some(first), Some(last)) = (at_writes.first(), at_writes.last()) {
            figures.push((
                "killed after writes".into(),
                format!("{first:.0}–{last:.0}"),
            ));
        }
        Ok(())
    }

    async fn bad_object(&mut self, figures: &mut Vec<(String, String)>) -> Result<()> {
        let name = "c-bad01";
        // The mgmt CRD has no schema: the API server keeps what drover's types refuse (a
        // string where Rancher has a boolean).
        let raw = serde_json::json!({
            "apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {"displayName": name, "fleetWorkspaceName": DEFAULT_WORKSPACE,
                     "internal": "yes", "agentEnvVars": [{"value": "v"}]},
        });
        let dynamic = Api::<kube::api::DynamicObject>::all_with(
            self.client.clone(),
            &kube::discovery::ApiResource::erase::<MgmtCluster>(&()),
        );
        dynamic
            .create(&PostParams::default(), &serde_json::from_value(raw)?)
            .await
            .context("creating the malformed mgmt cluster")?;
        let first = self.next_prov;
        self.more_provs().await??;
        let provs: Api<ProvCluster> = Api::namespaced(self.client.clone(), DEFAULT_WORKSPACE);
        let last = self.next_prov;
        eventually(
            "the prov clusters created beside the bad object to get their mgmt clusters",
            self.options.converge_bound,
            || async {
                for i in first..last {
                    let prov = provs.get(&workload::prov_name(i)).await?;
                    if prov.status.and_then(|s| s.cluster_name).is_none() {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )
        .await?;
        let events = Api::<k8s_openapi::api::events::v1::Event>::all(self.client.clone());
        let warned = eventually(
            "a Warning Event on the mgmt cluster drover cannot read",
            Duration::from_secs(30),
            || async {
                let listed = events.list(&kube::api::ListParams::default()).await?;
                Ok(listed
                    .items
                    .iter()
                    .any(|e| {
                        e.type_.as_deref() == Some("Warning")
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    })
                    .then_some(()))
            },
        )
        .await
        .is_ok();
        figures.push(("warning event".into(), warned.to_string()));
        if !warned {
            bail!("no Warning Event names the mgmt cluster drover cannot read");
        }
        Api::<MgmtCluster>::all(self.client.clone())
            .delete(name, &DeleteParams::default())
            .await
            .context("deleting the malformed mgmt cluster")?;
        Ok(())
    }

    async fn fleet_crd_readded(&mut self) -> Result<()> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let name = "clusters.fleet.cattle.io";
        crds.delete(name, &DeleteParams::default()).await?;
        eventually(
            "Fleet's Cluster CRD to be gone",
            Duration::from_secs(120),
            || async { Ok(crds.get_opt(name).await?.is_none().then_some(())) },
        )
        .await?;
        let file = crate::fleet_crd_file()?;
        self.env.apply_yaml_file(&file).await?;
        eventually(
            "Fleet's Cluster CRD to be established again",
            Duration::from_secs(60),
            || async { Ok(is_established(&crds.get(name).await?).then_some(())) },
        )
        .await?;
        Ok(())
    }

    /// The part of [`Scenario::ListWatchRevoked`] while drover may not list or watch prov
    /// clusters.
    async fn while_revoked(
        &mut self,
        revoked_for: Duration,
        figures: &mut Vec<(String, String)>,
    ) -> Result<()> {
        // RBAC is checked when a request starts: a watch that is open goes on delivering after
        // its permission is gone, until it ends (the API server ends watches after 5 to 10
        // minutes). The API server is restarted so that every watch starts again now, and is
        // refused.
        self.env.restart_apiserver().await?;
        let revoked = Instant::now();
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let workspaces: Api<FleetWorkspace> = Api::all(self.client.clone());
        let provs: Api<ProvCluster> = Api::namespaced(self.client.clone(), WS);
        let i = self.leader(Duration::from_secs(60)).await?;
        let errors_before = self.replicas[i].metric(&watch_errors(RESOURCE)).await?;
        let creating = self.more_provs();
        fixtures::create_workspace(&self.client, WS).await?;
        eventually(
            "drover to create the new workspace's namespace",
            Duration::from_secs(60),
            || async { Ok(namespaces.get_opt(WS).await?.map(|_| ())) },
        )
        .await?;
        fixtures::create_kubeconfig_secret(&self.client, WS, PROV).await?;
        fixtures::create_prov(&self.client, &fixtures::prov_cluster(WS, PROV)).await?;
        workspaces.delete(WS, &DeleteParams::default()).await?;
        // Both replicas watch (the standby keeps its cache warm): both must say so.
        let mut unready_after = Vec::new();
        for r in &self.replicas {
            let (_, body) = eventually(
                &format!("drover {} to report the failing watch on /readyz", r.user),
                revoked_for.saturating_sub(revoked.elapsed()),
                || async {
                    let (status, body) = r.get("/readyz").await?;
                    Ok((status == 503).then_some((status, body)))
                },
            )
            .await?;
            ensure!(
                body.contains(RESOURCE),
                "/readyz of {} does not name {RESOURCE}: {body}",
                r.user
            );
            unready_after.push(format!("{:.0}", revoked.elapsed().as_secs_f64()));
        }
        let errors = self.replicas[i].metric(&watch_errors(RESOURCE)).await? - errors_before;
        ensure!(errors >= 1.0, "no watch error of {RESOURCE} counted");
        figures.push(("readyz 503 after s".into(), unready_after.join("/")));
        figures.push(("watch errors".into(), format!("{errors:.0}")));
        tokio::time::sleep(revoked_for.saturating_sub(revoked.elapsed())).await;
        held(
            &namespaces,
            &provs,
            "while drover could not list prov clusters",
        )
        .await?;
        creating.await??;
        Ok(())
    }

    /// [`Scenario::ListWatchRevoked`].
    async fn list_watch_revoked(&mut self, figures: &mut Vec<(String, String)>) -> Result<()> {
        let revoked_for = Duration::from_secs(120);
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let workspaces: Api<FleetWorkspace> = Api::all(self.client.clone());
        let provs: Api<ProvCluster> = Api::namespaced(self.client.clone(), WS);
        let rules =
            access::revoke_list_watch(&self.client, "provisioning.cattle.io", "clusters").await?;
        let revoked_phase = self.while_revoked(revoked_for, figures).await;
        access::restore(&self.client, rules).await?;
        let restored = Instant::now();
        revoked_phase?;
        // The workspace stays, held by drover's finalizer, and says what it waits for.
        eventually(
            "the workspace to say that its namespace holds a prov cluster",
            self.options.converge_bound,
            || async {
                let Some(w) = workspaces.get_opt(WS).await? else {
                    bail!("the workspace went while its namespace holds a prov cluster");
                };
                Ok(fixtures::waits_for_prov(&w, PROV).then_some(()))
            },
        )
        .await?;
        figures.push((
            "held after restore s".into(),
            format!("{:.0}", restored.elapsed().as_secs_f64()),
        ));
        // drover picks the prov cluster up (mgmt cluster, Fleet cluster) like any other.
        let mgmt = eventually(
            "the held prov cluster's Fleet cluster",
            self.options.converge_bound,
            || async {
                let prov = provs.get(PROV).await?;
                let Some(mgmt) = prov.status.and_then(|s| s.cluster_name) else {
                    return Ok(None);
                };
                let fleet = Api::<FleetCluster>::namespaced(self.client.clone(), WS)
                    .get_opt(PROV)
                    .await?;
                Ok(fleet.map(|_| mgmt))
            },
        )
        .await;
        let mgmt = match mgmt {
            Ok(m) => m,
            Err(e) => {
                let prov = provs.get(PROV).await?;
                let mut cached = Vec::new();
                for r in &self.replicas {
                    cached.push(
                        r.metric(&format!(r#"drover_cached_objects{{kind="{RESOURCE}"}}"#))
                            .await?,
                    );
                }
                let inspect = invariants::converge(self.env, Duration::from_secs(1)).await?;
                bail!(
                    "{e:#}; prov status {:?}; cached prov clusters {cached:?}; inspect {inspect:?}",
                    prov.status
                );
            }
        };
        held(&namespaces, &provs, "once drover could list them again").await?;
        // The user who wants the workspace gone deletes what it holds.
        let asked_at = Timestamp::now();
        provs.delete(PROV, &DeleteParams::default()).await?;
        let ask = |group, resource, namespace: Option<&str>, name: &str, emptied| Asked {
            group,
            resource,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            after: asked_at,
            emptied,
        };
        self.asked = vec![
            ask("management.cattle.io", "clusters", None, &mgmt, false),
            ask("fleet.cattle.io", "clusters", Some(WS), PROV, false),
            // The audit log names a namespace's own namespace as the namespace itself.
            ask("", "namespaces", Some(WS), WS, true),
        ];
        let deleting = Instant::now();
        eventually(
            "the workspace and its namespace to go",
            self.options.converge_bound,
            || async {
                let ws_gone = workspaces.get_opt(WS).await?.is_none();
                let ns_going = namespaces
                    .get_opt(WS)
                    .await?
                    .is_none_or(|n| n.metadata.deletion_timestamp.is_some());
                Ok((ws_gone && ns_going).then_some(()))
            },
        )
        .await?;
        figures.push((
            "workspace gone after s".into(),
            format!("{:.0}", deleting.elapsed().as_secs_f64()),
        ));
        Ok(())
    }

    /// [`Scenario::RancherCrdReadded`].
    async fn workspace_crd_readded(&mut self, figures: &mut Vec<(String, String)>) -> Result<()> {
        let name = "fleetworkspaces.management.cattle.io";
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let workspaces: Api<FleetWorkspace> = Api::all(self.client.clone());
        let before = workspaces.list(&ListParams::default()).await?.items.len();
        figures.push(("workspaces deleted with the CRD".into(), before.to_string()));
        let creating = self.more_provs();
        self.mid_convergence().await?;
        // The chart's admission policy refuses the delete without this opt-in; the chaos
        // control plane does not install the policy, the annotation is what an operator sets.
        crds.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {ALLOW_CRD_DELETION: "true"}}
            })),
        )
        .await?;
        crds.delete(name, &DeleteParams::default()).await?;
        let deleted = Instant::now();
        eventually(
            "the FleetWorkspace CRD to be gone",
            Duration::from_secs(120),
            || async { Ok(crds.get_opt(name).await?.is_none().then_some(())) },
        )
        .await?;
        figures.push((
            "CRD gone after s".into(),
            format!("{:.0}", deleted.elapsed().as_secs_f64()),
        ));
        let file = crate::crd_files()?
            .into_iter()
            .find(|f| f.ends_with(format!("{name}.yaml")))
            .context("the FleetWorkspace CRD file")?;
        self.env.apply_yaml_file(&file).await?;
        eventually(
            "the FleetWorkspace CRD to be established again",
            Duration::from_secs(60),
            || async { Ok(is_established(&crds.get(name).await?).then_some(())) },
        )
        .await?;
        let readded = Instant::now();
        // drover lists the kind again: the default workspaces come back (W3).
        let cached = format!(r#"drover_cached_objects{{kind="{name}"}}"#);
        for r in &self.replicas {
            eventually(
                &format!("drover {} to cache workspaces again", r.user),
                self.options.converge_bound,
                || async { Ok((r.metric(&cached).await? >= 2.0).then_some(())) },
            )
            .await?;
        }
        figures.push((
            "workspaces cached again after s".into(),
            format!("{:.0}", readded.elapsed().as_secs_f64()),
        ));
        // The operator applies the workspaces again. Their namespaces were made for the
        // workspaces that went (other UIDs): drover hands a namespace to a new workspace only
        // when its owner allows it (W6), so the operator does, for those and for fleet-default's.
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let allow =
            serde_json::json!({"metadata": {"annotations": {ALLOW_EXISTING_NAMESPACE: "true"}}});
        let names = (0..self.options.workspaces)
            .map(workload::workspace_name)
            .chain([DEFAULT_WORKSPACE.to_string()]);
        for ns in names {
            namespaces
                .patch(&ns, &PatchParams::default(), &Patch::Merge(&allow))
                .await
                .with_context(|| format!("allowing a new workspace over namespace {ns}"))?;
        }
        workload::workspaces(&self.client, 0..self.options.workspaces).await?;
        creating.await??;
        Ok(())
    }

    /// Checks the invariants after a scenario that began at `since`.
    async fn check(
        &mut self,
        scenario: &str,
        since: Timestamp,
        started: Instant,
        figures: Vec<(String, String)>,
    ) -> Result<Outcome> {
        let mut failures = Vec::new();
        // Both replicas run again (a scenario may have killed one).
        for r in &mut self.replicas {
            if !r.is_running() {
                r.restart()?;
            }
        }
        let fault_over = Instant::now();
        let converged = invariants::converge(self.env, self.options.converge_bound).await?;
        let converged_seconds = match &converged {
            Ok(_) => Some(fault_over.elapsed().as_secs_f64()),
            Err(problems) => {
                failures.push(format!(
                    "drover inspect still fails after {} s:\n{problems}",
                    self.options.converge_bound.as_secs()
                ));
                None
            }
        };
        let duplicates = invariants::duplicate_counterparts(&self.client).await?;
        failures.extend(duplicates.into_iter().map(|d| format!("duplicate: {d}")));
        let quiet_from = Timestamp::now();
        tokio::time::sleep(self.options.idle).await;
        let writes = invariants::writes(self.env)?;
        let outside = audit::writes_outside_terms(&writes, LEASE_NAME, &REPLICAS);
        failures.extend(
            outside
                .iter()
                .filter(|v| v.write.received >= since)
                .take(10)
                .map(|v| format!("outside its term: {}: {}", v.write.describe(), v.why)),
        );
        let in_scenario: Vec<audit::Write> = writes
            .iter()
            .filter(|w| w.received >= since)
            .cloned()
            .collect();
        let asked = &self.asked;
        let deletes = invariants::unasked_deletes(&in_scenario, &REPLICAS, |w| {
            asked.iter().any(|a| a.allows(w, &in_scenario))
        });
        failures.extend(
            deletes
                .into_iter()
                .take(10)
                .map(|d| format!("delete nobody asked for: {d}")),
        );
        if converged.is_ok() {
            let idle = invariants::writes_since(&writes, &REPLICAS, quiet_from);
            if !idle.is_empty() {
                failures.push(format!(
                    "{} writes while idle, e.g. {}",
                    idle.len(),
                    idle.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                ));
            }
        }
        let mut figures = figures;
        let terms = audit::terms(&in_scenario, LEASE_NAME);
        figures.push(("terms".into(), terms.len().to_string()));
        let written: u64 = audit::writes_by(&in_scenario, &REPLICAS).values().sum();
        figures.push(("writes".into(), written.to_string()));
        let late = audit::received_after_expiry(&in_scenario, LEASE_NAME, &REPLICAS);
        if !late.is_empty() {
            figures.push(("served after hold expired".into(), late.len().to_string()));
        }
        Ok(Outcome {
            scenario: scenario.to_string(),
            passed: failures.is_empty(),
            seconds: started.elapsed().as_secs_f64(),
            converged_seconds,
            figures,
            failures,
        })
    }
}

/// The namespace of [`WS`] exists and is not being deleted, and prov cluster [`PROV`] in it
/// exists; `when` says when, for the message.
async fn held(namespaces: &Api<Namespace>, provs: &Api<ProvCluster>, when: &str) -> Result<()> {
    let ns = namespaces.get_opt(WS).await?;
    ensure!(
        ns.is_some_and(|n| n.metadata.deletion_timestamp.is_none()),
        "namespace {WS} is gone or going {when}"
    );
    ensure!(
        provs.get_opt(PROV).await?.is_some(),
        "prov cluster {WS}/{PROV} is gone {when}"
    );
    Ok(())
}

/// A delete a scenario asked for, by a user's own delete or as its consequence per spec.md; any
/// other delete by a replica fails the scenario.
#[derive(Clone, Debug)]
pub struct Asked {
    pub group: &'static str,
    pub resource: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    /// The delete is asked for only once it is received at or after this moment.
    pub after: Timestamp,
    /// A namespace: asked for only once the audit log shows every prov and Fleet cluster in it
    /// gone (the last successful write by a replica to a prov cluster in it, which releases the
    /// finalizer, and every Fleet cluster delete in it completed before the namespace delete was
    /// received).
    pub emptied: bool,
}

impl Asked {
    fn allows(&self, delete: &audit::Write, writes: &[audit::Write]) -> bool {
        let is_it = delete.group == self.group
            && delete.resource == self.resource
            && delete.subresource.is_none()
            && delete.namespace == self.namespace
            && delete.name.as_deref() == Some(self.name.as_str());
        if !is_it || delete.received < self.after {
            return false;
        }
        if !self.emptied {
            return true;
        }
        let clusters_last_written = writes
            .iter()
            .filter(|w| w.succeeded() && REPLICAS.contains(&w.user.as_str()))
            .filter(|w| w.namespace.as_deref() == Some(self.name.as_str()))
            .filter(|w| {
                (w.group == "provisioning.cattle.io" && w.resource == "clusters")
                    || (w.group == "fleet.cattle.io" && w.resource == "clusters" && w.is_delete())
            })
            .map(|w| w.completed)
            .max();
        clusters_last_written.is_none_or(|last| delete.received >= last)
    }
}
