//! Prometheus metrics, prefix `drover_`. No per-object labels: cardinality stays fixed however
//! many clusters there are.

use std::sync::Mutex;
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

/// `group` tells apart the three kinds called `Cluster` (empty for the core group).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    group: String,
    kind: String,
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabel {
    resource: String,
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
    watch_errors: Family<ResourceLabel, Counter>,
    relists: Family<ResourceLabel, Counter>,
    undecodable: Family<ResourceLabel, Counter>,
    skipped: Family<ResourceLabel, Gauge>,
    queue_depth: Family<ControllerLabel, Gauge>,
    /// Read when the metrics are encoded: each controller's count of objects waiting for a
    /// reconcile, and the objects each watch skips because they do not fit drover's types.
    queues: Mutex<Vec<(String, Probe)>>,
    skipped_probe: Mutex<Option<SkippedProbe>>,
    writes_total: AtomicU64,
}

/// Reads a current value when the metrics are encoded.
type Probe = Box<dyn Fn() -> usize + Send + Sync>;
/// Reads the number of skipped objects by resource when the metrics are encoded.
type SkippedProbe = Box<dyn Fn() -> Vec<(String, usize)> + Send + Sync>;

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
        let watch_errors = Family::<ResourceLabel, Counter>::default();
        let relists = Family::<ResourceLabel, Counter>::default();
        let undecodable = Family::<ResourceLabel, Counter>::default();
        let skipped = Family::<ResourceLabel, Gauge>::default();
        let queue_depth = Family::<ControllerLabel, Gauge>::default();
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
            "Writes sent to the API server, by API group, kind and verb",
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
        registry.register(
            "watch_errors",
            "Failed list or watch requests, by resource",
            watch_errors.clone(),
        );
        registry.register(
            "watch_relists",
            "Lists a watch made again after it expired or failed, by resource",
            relists.clone(),
        );
        registry.register(
            "undecodable_objects",
            "Objects (or versions of them) skipped because they do not fit drover's types, by resource",
            undecodable.clone(),
        );
        registry.register(
            "skipped_objects",
            "Objects currently skipped because they do not fit drover's types, by resource",
            skipped.clone(),
        );
        registry.register(
            "queue_depth",
            "Objects waiting for a reconcile, by controller",
            queue_depth.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
            cached,
            leader,
            watch_errors,
            relists,
            undecodable,
            skipped,
            queue_depth,
            queues: Mutex::default(),
            skipped_probe: Mutex::default(),
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

    pub fn write(&self, group: &str, kind: &str, verb: &str) {
        self.writes_total.fetch_add(1, Ordering::Relaxed);
        self.writes
            .get_or_create(&WriteLabels {
                group: group.into(),
                kind: kind.into(),
                verb: verb.into(),
            })
            .inc();
    }

    /// A write of a `K`, labelled with its API group and kind.
    pub fn write_of<K: kube::Resource<DynamicType = ()>>(&self, verb: &str) {
        self.write(&K::group(&()), &K::kind(&()), verb);
    }

    pub fn watch_error(&self, resource: &str) {
        self.watch_errors
            .get_or_create(&ResourceLabel {
                resource: resource.into(),
            })
            .inc();
    }

    pub fn relisted(&self, resource: &str) {
        self.relists
            .get_or_create(&ResourceLabel {
                resource: resource.into(),
            })
            .inc();
    }

    pub fn undecodable(&self, resource: &str) {
        self.undecodable
            .get_or_create(&ResourceLabel {
                resource: resource.into(),
            })
            .inc();
    }

    /// Registers how to read `controller`'s queue depth at encoding time.
    pub fn register_queue(
        &self,
        controller: &str,
        depth: impl Fn() -> usize + Send + Sync + 'static,
    ) {
        if let Ok(mut queues) = self.queues.lock() {
            queues.push((controller.to_string(), Box::new(depth)));
        }
    }

    /// Registers how to read the skipped objects by resource at encoding time.
    pub fn register_skipped(
        &self,
        probe: impl Fn() -> Vec<(String, usize)> + Send + Sync + 'static,
    ) {
        if let Ok(mut skipped) = self.skipped_probe.lock() {
            *skipped = Some(Box::new(probe));
        }
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
        if let Ok(queues) = self.queues.lock() {
            for (controller, depth) in queues.iter() {
                self.queue_depth
                    .get_or_create(&ControllerLabel {
                        controller: controller.clone(),
                    })
                    .set(i64::try_from(depth()).unwrap_or(i64::MAX));
            }
        }
        if let Ok(probe) = self.skipped_probe.lock()
            && let Some(probe) = probe.as_ref()
        {
            // Resources with nothing skipped any more go back to 0.
            self.skipped.clear();
            for (resource, count) in probe() {
                self.skipped
                    .get_or_create(&ResourceLabel { resource })
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
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
    fn writes_are_counted_by_group_kind_and_verb_without_object_labels() {
        use crate::api::{FleetCluster, MgmtCluster, ProvCluster};
        use k8s_openapi::api::core::v1::Namespace;
        let m = Metrics::default();
        m.write_of::<ProvCluster>("apply");
        m.write_of::<ProvCluster>("apply");
        m.write_of::<MgmtCluster>("apply");
        m.write_of::<FleetCluster>("delete");
        m.write_of::<Namespace>("delete");
        let text = m.encode();
        for line in [
            r#"drover_api_writes_total{group="provisioning.cattle.io",kind="Cluster",verb="apply"} 2"#,
            r#"drover_api_writes_total{group="management.cattle.io",kind="Cluster",verb="apply"} 1"#,
            r#"drover_api_writes_total{group="fleet.cattle.io",kind="Cluster",verb="delete"} 1"#,
            r#"drover_api_writes_total{group="",kind="Namespace",verb="delete"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert_eq!(m.writes_total(), 5);
    }

    #[test]
    fn queue_depths_and_skipped_objects_are_read_when_encoded() {
        let m = Metrics::default();
        let depth = std::sync::Arc::new(AtomicU64::new(3));
        let read = depth.clone();
        m.register_queue("cluster", move || read.load(Ordering::Relaxed) as usize);
        m.register_skipped(|| vec![("clusters.management.cattle.io".to_string(), 1)]);
        m.watch_error("clusters.management.cattle.io");
        let text = m.encode();
        assert!(
            text.contains(r#"drover_queue_depth{controller="cluster"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"drover_skipped_objects{resource="clusters.management.cattle.io"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"drover_watch_errors_total{resource="clusters.management.cattle.io"} 1"#
            ),
            "{text}"
        );
        depth.store(0, Ordering::Relaxed);
        assert!(
            m.encode()
                .contains(r#"drover_queue_depth{controller="cluster"} 0"#)
        );
    }
}
