//! What the controllers share: the client, stores, writes, metrics, events and leadership.

pub mod client;
pub mod context;
pub mod events;
pub mod leadership;
pub mod lease;
pub mod live;
pub mod metrics;
pub mod server;
pub mod stores;
pub mod visible;
pub mod write;

pub use context::Context;
