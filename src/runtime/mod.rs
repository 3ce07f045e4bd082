//! What the controllers share: the client, watches and their caches, writes, metrics, events and
//! leadership.

pub mod client;
pub mod context;
pub mod decode;
pub mod events;
pub mod leadership;
pub mod lease;
pub mod live;
pub mod metrics;
pub mod priority;
pub mod queue;
pub mod server;
pub mod undecodable;
pub mod visible;
pub mod watch_health;
pub mod watches;
pub mod write;

pub use context::Context;
