//! The HTTP endpoint for kubelet probes and Prometheus: `/healthz`, `/readyz`, `/metrics`.
//!
//! Readiness means "every watch cache has finished its first list, and no watch has been failing
//! for longer than `--watch-failure-timeout`": a replica whose caches stopped following the API
//! server says so. Leadership plays no part: a standby with warm caches is ready to take over,
//! and marking it unready would only take it out of the metrics Service.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tracing::warn;

use crate::runtime::metrics::Metrics;
use crate::runtime::watches::Stores;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the endpoint reports on.
pub struct Health {
    metrics: Arc<Metrics>,
    /// How long a watch may fail before readiness turns 503.
    watch_failure_timeout: Duration,
    /// Set once the caches are ready; also the source of the `cached_objects` gauge.
    stores: OnceLock<Stores>,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>, watch_failure_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            watch_failure_timeout,
            stores: OnceLock::new(),
        })
    }

    /// Marks the process ready: call once every cache has finished its first list.
    pub fn caches_ready(&self, stores: Stores) {
        let _ = self.stores.set(stores);
    }

    pub fn is_ready(&self) -> bool {
        self.readiness().is_ok()
    }

    /// Ready, or why not.
    pub fn readiness(&self) -> Result<(), String> {
        let Some(stores) = self.stores.get() else {
            return Err("watch caches are still listing".into());
        };
        let failing = stores
            .watch_health
            .failing_longer_than(self.watch_failure_timeout);
        if failing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "watches failing for more than {}s: {}",
                self.watch_failure_timeout.as_secs(),
                failing.join(", ")
            ))
        }
    }

    /// The metrics text, with the cache sizes taken now.
    pub fn metrics_text(&self) -> String {
        if let Some(stores) = self.stores.get() {
            for (resource, len) in stores.sizes() {
                self.metrics.set_cached(&resource, len);
            }
        }
        self.metrics.encode()
    }
}

/// Binds `addr` now, so that a taken port fails the start with a clear error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Serves the endpoint until the returned task is aborted.
pub fn spawn(listener: TcpListener, health: Arc<Health>) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            warn!(%error, "the health and metrics server stopped");
        }
    })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    match health.readiness() {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn metrics(State(health): State<Arc<Health>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS)], health.metrics_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::watches::Watches;

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error_naming_the_address() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot listen on {addr}: ")),
            "{err}"
        );
    }

    #[test]
    fn readiness_waits_for_the_caches_and_ends_while_a_watch_keeps_failing() {
        let health = Health::new(Arc::new(Metrics::default()), Duration::ZERO);
        assert!(!health.is_ready());
        assert!(health.metrics_text().contains("drover_leader 0"));
        let stores = Watches::new(&crate::config::Config::default()).stores();
        health.caches_ready(stores.clone());
        assert!(health.is_ready());
        let text = health.metrics_text();
        assert!(
            text.contains(r#"drover_cached_objects{kind="clusters.provisioning.cattle.io"} 0"#),
            "{text}"
        );
        stores.watch_health.failed("clusters.management.cattle.io");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            health.readiness(),
            Err("watches failing for more than 0s: clusters.management.cattle.io".into())
        );
        stores
            .watch_health
            .delivered("clusters.management.cattle.io");
        assert!(health.is_ready());
    }
}
