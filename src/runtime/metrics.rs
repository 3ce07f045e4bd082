//! Prometheus metrics, prefix `drover_`. No per-object labels: cardinality stays fixed however
//! many clusters there are.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    controller: String,
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    kind: String,
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    duration: Family<ControllerLabel, Histogram>,
    writes: Family<WriteLabels, Counter>,
    cached: Family<KindLabel, Gauge>,
    leader: Gauge,
    writes_total: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("drover");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let writes = Family::<WriteLabels, Counter>::default();
        let cached = Family::<KindLabel, Gauge>::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Reconciles run, by controller",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by controller and error category",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took, by controller",
            duration.clone(),
        );
        registry.register(
            "api_writes",
            "Writes sent to the API server, by kind and verb",
            writes.clone(),
        );
        registry.register(
            "cached_objects",
            "Objects in the watch caches, by kind",
            cached.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leadership Lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
            cached,
            leader,
            writes_total: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, controller: &str, took: Duration) {
        let label = ControllerLabel {
            controller: controller.into(),
        };
        self.reconciles.get_or_create(&label).inc();
        self.duration
            .get_or_create(&label)
            .observe(took.as_secs_f64());
    }

    pub fn failed(&self, controller: &str, category: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                controller: controller.into(),
                category: category.into(),
            })
            .inc();
    }

    pub fn write(&self, kind: &str, verb: &str) {
        self.writes_total.fetch_add(1, Ordering::Relaxed);
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.into(),
                verb: verb.into(),
            })
            .inc();
    }

    /// Writes sent since start, all kinds and verbs.
    pub fn writes_total(&self) -> u64 {
        self.writes_total.load(Ordering::Relaxed)
    }

    pub fn set_cached(&self, kind: &str, count: usize) {
        self.cached
            .get_or_create(&KindLabel { kind: kind.into() })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_counted_by_kind_and_verb_without_object_labels() {
        let m = Metrics::default();
        m.write("Cluster", "apply");
        m.write("Cluster", "apply");
        m.write("Namespace", "delete");
        let text = m.encode();
        assert!(
            text.contains(r#"drover_api_writes_total{kind="Cluster",verb="apply"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"drover_api_writes_total{kind="Namespace",verb="delete"} 1"#),
            "{text}"
        );
        assert_eq!(m.writes_total(), 3);
    }
}
