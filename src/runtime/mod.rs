//! What the controllers share: the client, stores, metrics, events and leadership.

pub mod client;
