//! `make chaos`: faults injected into a real control plane while two drover replicas run, and the
//! invariants checked after each from the API server's audit log and the objects themselves.

pub mod invariants;
pub mod replica;
pub mod workload;
