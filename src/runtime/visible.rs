//! Read-your-writes for the watch caches. A reconcile that ends before the watches delivered its
//! own writes leaves the next reconcile (of that object, or of a related one) looking at a cache
//! without them: it then sends the same write again, and a create publishes its Event twice.
//! So every write records the resourceVersion the API server answered with, and the runner waits,
//! once at the end of the reconcile and at most [`SETTLE_LIMIT`], until each written resource's
//! watch has delivered that version. resourceVersions of one resource are comparable integers
//! (KEP-5504, stable since Kubernetes 1.35); one that is not an integer is not waited for.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// The longest a reconcile waits for its writes to come back through the watches. Only a
/// redundant write is at stake, never correctness.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// The highest resourceVersion each watch has delivered, by resource (`<plural>.<group>`).
#[derive(Clone, Default)]
pub struct Seen(Arc<HashMap<String, watch::Receiver<u64>>>);

tokio::task_local! {
    /// The versions the current reconcile's writes produced, by resource: the highest only.
    static WRITTEN: RefCell<HashMap<String, (watch::Receiver<u64>, u64)>>;
}

/// A resourceVersion as an integer, when it is one.
pub fn parse(resource_version: Option<&str>) -> Option<u64> {
    resource_version?.parse().ok().filter(|v| *v > 0)
}

impl Seen {
    pub fn new(by_resource: HashMap<String, watch::Receiver<u64>>) -> Self {
        Self(Arc::new(by_resource))
    }

    /// Records that a write of the current reconcile produced `resource_version` on `resource`.
    /// Outside a reconcile run by [`settled`], or for a resource drover does not watch, nothing.
    pub fn wrote(&self, resource: &str, resource_version: Option<&str>) {
        let (Some(version), Some(seen)) = (parse(resource_version), self.0.get(resource)) else {
            return;
        };
        let _ = WRITTEN.try_with(|written| {
            let mut written = written.borrow_mut();
            let entry = written
                .entry(resource.to_string())
                .or_insert_with(|| (seen.clone(), version));
            entry.1 = entry.1.max(version);
        });
    }
}

/// Runs `reconcile`, then waits (at most [`SETTLE_LIMIT`]) until the watches delivered the
/// versions its writes produced.
pub async fn settled<F: Future>(reconcile: F) -> F::Output {
    let (output, written) = WRITTEN
        .scope(RefCell::new(HashMap::new()), async {
            let output = reconcile.await;
            (output, WRITTEN.with(RefCell::take))
        })
        .await;
    let waits = written.into_values().map(|(mut seen, version)| async move {
        let _ = seen.wait_for(|delivered| *delivered >= version).await;
    });
    let _ = tokio::time::timeout(SETTLE_LIMIT, futures::future::join_all(waits)).await;
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reconcile_ends_once_the_watch_delivered_its_write() {
        let (tx, rx) = watch::channel(5u64);
        let seen = Seen::new(HashMap::from([("clusters.x".to_string(), rx)]));
        let delivered = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.send_replace(7);
            tx
        });
        let started = std::time::Instant::now();
        settled(async { seen.wrote("clusters.x", Some("7")) }).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(started.elapsed() < SETTLE_LIMIT);
        drop(delivered.await);
    }

    #[tokio::test]
    async fn writes_outside_a_reconcile_or_without_a_version_wait_for_nothing() {
        let (_tx, rx) = watch::channel(0u64);
        let seen = Seen::new(HashMap::from([("clusters.x".to_string(), rx)]));
        seen.wrote("clusters.x", Some("9"));
        let started = std::time::Instant::now();
        settled(async {
            seen.wrote("clusters.x", None);
            seen.wrote("clusters.x", Some("not-a-number"));
            seen.wrote("events", Some("9"));
        })
        .await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
