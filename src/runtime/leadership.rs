//! Who may write. Without leader election this process always may; with it, only while it holds
//! the Lease. The write layer checks before every write, so a replica that loses the Lease stops
//! writing at once, even mid-reconcile. Standbys run their watches (caches stay warm) and skip
//! reconciles; gaining the Lease triggers a reconcile of everything.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

#[derive(Clone, Debug)]
pub struct Leadership(Arc<watch::Sender<bool>>);

impl Leadership {
    /// Always the leader: a single replica, or tests.
    pub fn always() -> Self {
        Self(Arc::new(watch::Sender::new(true)))
    }

    /// Not the leader until [`Self::set`] says so.
    pub fn standby() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }

    pub fn is_leader(&self) -> bool {
        *self.0.borrow()
    }

    pub fn set(&self, leader: bool) {
        self.0.send_replace(leader);
    }

    /// Yields once each time this replica becomes the leader (and once at start if it is).
    pub fn gained(&self) -> impl Stream<Item = ()> + Send + 'static {
        WatchStream::new(self.0.subscribe())
            .filter_map(|leader| async move { leader.then_some(()) })
    }
}
