//! The controllers: one module per concern, each = watches + reconcile + error policy, reading
//! the shared stores, deciding through [`crate::mapping`], writing through [`crate::runtime::write`].

mod cluster;
mod copies;
mod error;
mod mgmt;
mod runner;
mod workspace;

pub use error::Error;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kube::Client;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::runtime::Context;
use crate::runtime::leadership::Leadership;
use crate::runtime::lease::{self, Election, LeaseSettings};
use crate::runtime::metrics::Metrics;
use crate::runtime::server::{self, Health};
use crate::runtime::undecodable;
use crate::runtime::watches::Watches;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("watch caches did not become ready: the watch task ended")]
    CachesNotReady,
    /// A controller or watch stopped on its own: the process ends rather than run on without it.
    #[error("the {task} task {}; stopping", if *.panicked { "panicked" } else { "ended" })]
    TaskEnded { task: String, panicked: bool },
    #[error(transparent)]
    Server(#[from] crate::runtime::server::ServerError),
}

/// A running set of controllers.
pub struct Running {
    pub context: Arc<Context>,
    controllers: Vec<(String, tokio::task::JoinHandle<()>)>,
    /// Watches never end on their own: they are stopped once the controllers are done.
    watches: Vec<(String, tokio::task::JoinHandle<()>)>,
}

impl Running {
    /// Stops every controller and watch at once (in-flight reconciles are dropped).
    pub fn abort(&self) {
        for (_, task) in self.controllers.iter().chain(&self.watches) {
            task.abort();
        }
    }

    /// Resolves when a controller or watch task ends before a shutdown asked it to (a panic,
    /// most likely): one controller silently gone would leave its objects unreconciled while
    /// the process still looks healthy.
    pub async fn failed(&mut self) -> RunError {
        let tasks = self
            .controllers
            .iter_mut()
            .chain(self.watches.iter_mut())
            .map(|(name, task)| Box::pin(async move { (name.clone(), task.await) }));
        let ((task, result), index, _) = futures::future::select_all(tasks).await;
        // The finished handle is never awaited again (`join` would otherwise poll it twice).
        if index < self.controllers.len() {
            self.controllers.remove(index);
        } else {
            self.watches.remove(index - self.controllers.len());
        }
        RunError::TaskEnded {
            task,
            panicked: result.is_err_and(|e| e.is_panic()),
        }
    }

    /// Waits until every controller has finished (after a graceful shutdown), then stops the
    /// watches.
    pub async fn join(mut self) {
        for (_, task) in std::mem::take(&mut self.controllers) {
            let _ = task.await;
        }
        self.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Starts the watches and, once every cache has finished its first list, the controllers.
/// Controllers stop taking new work when `shutdown` resolves and finish what is in flight.
pub async fn start(
    client: Client,
    config: Config,
    leadership: Leadership,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<Running, RunError> {
    let mut watches = Watches::new(&config);
    let recorder = crate::runtime::events::recorder(client.clone(), config.identity.clone());
    let context = Arc::new(Context::new(
        client.clone(),
        config,
        watches.stores(),
        metrics,
        recorder,
        leadership,
    ));
    let shutdown: Shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let mut controllers: Vec<(&str, BoxFuture<'static, ()>)> = vec![
        (
            "workspace controller",
            workspace::controller(context.clone(), &watches, shutdown.clone()),
        ),
        (
            "cluster controller",
            cluster::controller(context.clone(), &watches, shutdown.clone()),
        ),
        (
            "mgmt controller",
            mgmt::controller(context.clone(), &watches, shutdown.clone()),
        ),
        (
            "undecodable object reporter",
            Box::pin(undecodable::report(context.clone(), shutdown.clone())),
        ),
    ];
    if context.config.bootstrap_local_cluster {
        controllers.push((
            "local cluster bootstrap",
            mgmt::bootstrap::task(context.clone(), &watches, shutdown.clone()),
        ));
    }
    let undecodable = context.stores.undecodable.clone();
    context
        .metrics
        .register_skipped(move || undecodable.counts());
    let tasks = watches
        .run(&client, &context.metrics)
        .into_iter()
        .map(|(resource, task)| (format!("{resource} watch"), task))
        .collect();
    watches
        .wait_until_ready()
        .await
        .map_err(|_| RunError::CachesNotReady)?;
    info!("watch caches ready");
    let controllers = controllers
        .into_iter()
        .map(|(name, task)| (name.to_string(), tokio::spawn(task)))
        .collect();
    Ok(Running {
        context,
        controllers,
        watches: tasks,
    })
}

/// Resolves when the controllers should stop taking new work; cloned into each of them.
pub type Shutdown =
    futures::future::Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>>>;

/// How long a shutdown waits for in-flight reconciles before it abandons them. Within the pod's
/// default 30 s termination grace period, so the Lease is still released.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs every controller until SIGTERM or Ctrl-C, with the health and metrics endpoint and, when
/// enabled, leader election. On shutdown: no new reconciles, in-flight ones finish, then the Lease
/// is released so that a standby takes over at once.
pub async fn run(client: Client, mut config: Config) -> Result<(), RunError> {
    let listener = server::bind(config.listen).await?;
    let identity = config
        .identity
        .get_or_insert_with(lease::default_identity)
        .clone();
    let metrics = Arc::new(Metrics::default());
    let health = Health::new(
        metrics.clone(),
        Duration::from_secs(config.watch_failure_timeout),
    );
    let _server = AbortOnDrop(server::spawn(listener, health.clone()));
    let leadership = if config.leader_election {
        Leadership::standby()
    } else {
        Leadership::always()
    };
    metrics.set_leader(leadership.is_leader());
    let election_settings = config.leader_election.then(|| LeaseSettings {
        namespace: config.lease_namespace.clone(),
        name: config.lease_name.clone(),
        identity,
    });
    let shutdown: Shutdown = futures::FutureExt::shared(Box::pin(shutdown_signal()));
    let started = start(
        client.clone(),
        config,
        leadership.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let mut running = tokio::select! {
        running = started => running?,
        () = shutdown.clone() => return Ok(()),
    };
    health.caches_ready(running.context.stores.clone());
    // Compete for the Lease only with warm caches: a replica that holds it must be able to act.
    let election = election_settings
        .map(|settings| Election::spawn(client, settings, leadership.clone(), metrics));
    let failed = tokio::select! {
        biased;
        () = shutdown.clone() => None,
        failed = running.failed() => Some(failed),
    };
    // A controller that ended because the shutdown reached it first has not failed: the signal
    // and the controller's end can be observed in either order.
    let failed = failed.filter(|_| shutdown.peek().is_none());
    if let Some(failed) = failed {
        error!(%failed, "a controller stopped; exiting so that the process is restarted");
        // Nothing may be written any more; a standby takes over at once.
        leadership.set(false);
        running.abort();
        if let Some(election) = election {
            election.release().await;
        }
        return Err(failed);
    }
    info!("shutting down: finishing in-flight reconciles");
    if tokio::time::timeout(DRAIN_TIMEOUT, running.join())
        .await
        .is_err()
    {
        warn!("in-flight reconciles did not finish in time; abandoning them");
    }
    // Nothing may be written after this point, whether or not the release succeeds.
    leadership.set(false);
    if let Some(election) = election {
        election.release().await;
    }
    Ok(())
}

/// Aborts a task when dropped: the endpoint serves until `run` returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
