//! drover keeps Rancher's provisioning, management and Fleet clusters in 1:1:1 correspondence and
//! maps Fleet workspaces to namespaces.
//!
//! - [`api`]: partial types for the kinds drover reads and writes.
//! - [`app`]: the process: starts the watches and controllers, stops them on a signal.
//! - [`mapping`]: pure functions from observed objects to desired ones; no client, no clock.
//! - [`controllers`]: watches, reconcilers and the writes they perform.
//! - [`runtime`]: what the controllers share (context, stores, metrics, events, leadership).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod consts;
pub mod controllers;
pub mod crds;
#[cfg(test)]
mod fixtures;
pub mod inspect;
pub mod mapping;
pub mod runtime;
