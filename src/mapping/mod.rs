//! Pure functions from observed objects to desired ones: no client, no async, no clock.
//! Most of drover's behaviour is decided here and tested here.

pub mod cluster;
pub mod deletion;
pub mod fleet;
pub mod local;
pub mod meta;
pub mod names;
pub mod notice;
pub mod rbac;
pub mod status;
pub mod tolerations;
pub mod workspace;
