//! The process: watches, controllers, the health and metrics endpoint and leadership, started
//! together and stopped together. One [`CancellationToken`] says "stop taking new work"; every
//! task lives in a [`JoinSet`], so nothing outlives the [`Running`] that started it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::{Id, JoinSet};
pub use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::controllers;
use crate::runtime::Context;
use crate::runtime::client::Clients;
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

/// Named tasks. Dropping the set aborts them.
#[derive(Default)]
struct Tasks {
    set: JoinSet<()>,
    names: HashMap<Id, String>,
}

impl Tasks {
    fn spawn(&mut self, name: String, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// The next task to end, by name, and whether it panicked. Never resolves when none is left.
    async fn ended(&mut self) -> (String, bool) {
        let (id, panicked) = match self.set.join_next_with_id().await {
            Some(Ok((id, ()))) => (id, false),
            Some(Err(e)) => (e.id(), e.is_panic()),
            None => return std::future::pending().await,
        };
        (self.names.remove(&id).unwrap_or_default(), panicked)
    }
}

/// A running set of controllers and the watches they read.
pub struct Running {
    pub context: Arc<Context>,
    controllers: Tasks,
    /// Watches never end on their own: they are stopped once the controllers are done.
    watches: Tasks,
}

impl Running {
    /// Stops every controller and watch at once (in-flight reconciles are dropped).
    pub fn abort(&mut self) {
        self.controllers.set.abort_all();
        self.watches.set.abort_all();
    }

    /// Resolves when a controller or watch task ends before a shutdown asked it to (a panic,
    /// most likely): one controller silently gone would leave its objects unreconciled while
    /// the process still looks healthy.
    pub async fn failed(&mut self) -> RunError {
        let (task, panicked) = tokio::select! {
            ended = self.controllers.ended() => ended,
            ended = self.watches.ended() => ended,
        };
        RunError::TaskEnded { task, panicked }
    }

    /// Waits until every controller has finished (after a graceful shutdown), then stops the
    /// watches.
    pub async fn join(mut self) {
        while self.controllers.set.join_next().await.is_some() {}
        self.abort();
    }
}

/// Starts the watches and, once every cache has finished its first list, the controllers.
/// Controllers stop taking new work when `shutdown` is cancelled and finish what is in flight.
pub async fn start(
    clients: Clients,
    config: Config,
    leadership: Leadership,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<Running, RunError> {
    let mut watches = Watches::new(&config);
    let client = clients.writes;
    let events = crate::runtime::events::sender(client.clone(), config.identity.clone());
    let context = Arc::new(Context::new(
        client.clone(),
        config,
        watches.stores(),
        metrics,
        events,
        leadership,
    ));
    // Subscriptions first: the watches pass on what they see from their start.
    let mut tasks: Vec<(&str, BoxFuture<'static, ()>)> =
        controllers::all(&context, &watches, &shutdown);
    tasks.push((
        "undecodable object reporter",
        Box::pin(undecodable::report(context.clone(), shutdown.clone())),
    ));
    let undecodable = context.stores.undecodable.clone();
    context
        .metrics
        .register_skipped(move || undecodable.counts());
    let streaming = watches.choose_listing(&client).await;
    info!(streaming_lists = streaming, "filling the watch caches");
    let mut watch_tasks = Tasks::default();
    for (resource, task) in watches.run(&clients.reads, &context.metrics) {
        watch_tasks.spawn(format!("{resource} watch"), task);
    }
    watches
        .wait_until_ready()
        .await
        .map_err(|_| RunError::CachesNotReady)?;
    info!("watch caches ready");
    let mut controller_tasks = Tasks::default();
    for (name, task) in tasks {
        controller_tasks.spawn(name.to_string(), task);
    }
    Ok(Running {
        context,
        controllers: controller_tasks,
        watches: watch_tasks,
    })
}

/// How long a shutdown waits for in-flight reconciles before it abandons them. Within the pod's
/// default 30 s termination grace period, so the Lease is still released.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs every controller until SIGTERM or Ctrl-C, with the health and metrics endpoint and, when
/// enabled, leader election. On shutdown: no new reconciles, in-flight ones finish, then the Lease
/// is released so that a standby takes over at once.
pub async fn run(clients: Clients, mut config: Config) -> Result<(), RunError> {
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
    // The endpoint serves until `run` returns.
    let _server = AbortOnDropHandle::new(server::spawn(listener, health.clone()));
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
    let shutdown = CancellationToken::new();
    let _signal = AbortOnDropHandle::new(tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    }));
    let client = clients.writes.clone();
    let started = start(
        clients,
        config,
        leadership.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let mut running = tokio::select! {
        running = started => running?,
        () = shutdown.cancelled() => return Ok(()),
    };
    health.caches_ready(running.context.stores.clone());
    // Compete for the Lease only with warm caches: a replica that holds it must be able to act.
    let election = election_settings
        .map(|settings| Election::spawn(client, settings, leadership.clone(), metrics));
    let failed = tokio::select! {
        biased;
        () = shutdown.cancelled() => None,
        failed = running.failed() => Some(failed),
    };
    // A controller that ended because the shutdown reached it first has not failed: the signal
    // and the controller's end can be observed in either order.
    let failed = failed.filter(|_| !shutdown.is_cancelled());
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

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_task_that_ends_first_is_named_and_its_panic_told_apart() {
        let mut tasks = Tasks::default();
        tasks.spawn("waits".into(), std::future::pending());
        tasks.spawn("panics".into(), async { panic!("a bug") });
        assert_eq!(tasks.ended().await, ("panics".to_string(), true));
        tasks.spawn("returns".into(), async {});
        assert_eq!(tasks.ended().await, ("returns".to_string(), false));
        assert_eq!(tasks.set.len(), 1);
    }
}
