//! The controllers: one module per concern, each = watches + reconcile + error policy, reading
//! the shared stores, deciding through [`crate::mapping`], writing through [`crate::runtime::write`].

mod error;
mod hubs;
mod runner;
mod workspace;

pub use error::Error;
pub use hubs::Hubs;

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::Client;
use tracing::info;

use crate::config::Config;
use crate::runtime::Context;
use crate::runtime::leadership::Leadership;
use crate::runtime::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("watch caches did not become ready: the watch task ended")]
    CachesNotReady,
}

/// A running set of controllers.
pub struct Running {
    pub context: Arc<Context>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops every controller and watch at once (in-flight reconciles are dropped).
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Waits until every controller has finished (after a graceful shutdown).
    pub async fn join(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
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
    let mut hubs = Hubs::new(&config);
    let recorder = crate::runtime::events::recorder(client.clone(), config.identity.clone());
    let context = Arc::new(Context::new(
        client.clone(),
        config,
        hubs.stores(),
        metrics,
        recorder,
        leadership,
    ));
    let shutdown: Shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let controllers: Vec<BoxFuture<'static, ()>> = vec![workspace::controller(
        context.clone(),
        &hubs,
        shutdown.clone(),
    )];
    let _ = (&shutdown, &hubs);
    let mut tasks = hubs.run(&client, &context.config);
    hubs.wait_until_ready()
        .await
        .map_err(|_| RunError::CachesNotReady)?;
    info!("watch caches ready");
    tasks.extend(controllers.into_iter().map(tokio::spawn));
    Ok(Running { context, tasks })
}

/// Resolves when the controllers should stop taking new work; cloned into each of them.
pub type Shutdown =
    futures::future::Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>>>;

/// Runs every controller until SIGTERM or Ctrl-C.
pub async fn run(client: Client, config: Config) -> Result<(), RunError> {
    let leadership = Leadership::always();
    let metrics = Arc::new(Metrics::default());
    let running = start(client, config, leadership, metrics, shutdown_signal()).await?;
    running.join().await;
    Ok(())
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
