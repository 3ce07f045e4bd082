//! Partial Rust types for the kinds drover reads and writes. Only the fields drover reads or
//! writes are modelled; every optional field is skipped when absent, so that a server-side apply
//! of a desired object never claims or clears a field drover does not own, and deserialising an
//! upstream object with many more fields never fails (serde ignores unknown fields).

mod common;
mod fleet;
mod management;
mod provisioning;
mod schemas;
mod workspace;

pub use common::*;
pub use fleet::*;
pub use management::*;
pub use provisioning::*;
pub use workspace::*;
