//! Harness for drover's tests against a real Kubernetes control plane.
//!
//! [`TestEnv`] runs etcd, kube-apiserver and kube-controller-manager built from the upstream Go
//! modules pinned in `integration-tests/controlplane` (see `scripts/build-controlplane.sh`), on
//! free loopback ports, with drover's CRDs installed:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use drover_integration_tests::TestEnv;
//! let env = TestEnv::shared().await?;
//! let client = env.client()?;
//! let namespace = env.unique_name("ns");
//! # let _ = (client, namespace);
//! # Ok(())
//! # }
//! ```

mod apply;
pub mod audit;
pub mod chaos;
pub mod chart;
mod child;
mod controlplane;
mod drover;
pub mod fixtures;
pub mod fleet;
pub mod http_client;
mod process;

pub use apply::{FIELD_MANAGER, documents};
pub use child::{DroverChild, DroverCommand, build_drover, drover_binary, spawn_drover_logged};
pub use controlplane::{
    Options, Processes, TestEnv, User, binaries_dir, crd_files, crds, crds_in, fleet_crd_file,
    fleet_dir, installed_crd_files, is_established, repo_root, token_for_service_account,
    unique_name,
};
pub use drover::{CONVERGE, Drover, eventually, metric, test_config};
pub use http_client::http_get;
