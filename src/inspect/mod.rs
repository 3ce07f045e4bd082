//! `drover inspect`: a read-only consistency report of the four kinds and the namespaces.
//!
//! [`analyze`] is pure: it takes the listed objects and returns a [`Report`]. [`collect`] lists
//! them from the API server (namespaces metadata-only; secrets are never read) and [`run`]
//! prints the report and turns it into an exit code: 0 when all is consistent, 1 when problems
//! were found, 2 when the objects could not be read.

mod analyze;
mod report;
#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::process::ExitCode;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::api::{FleetCluster, FleetWorkspace, MgmtCluster, ProvCluster};
use crate::config::ClusterArgs;
use crate::consts;

pub use analyze::analyze;
pub use report::{ClusterRow, Kind, ObjectRef, Problem, ProblemKind, Report, WorkspaceRow};

/// Exit code when all is consistent.
pub const EXIT_CONSISTENT: u8 = 0;
/// Exit code when problems were found.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code when the objects could not be read.
pub const EXIT_ERROR: u8 = 2;

/// Objects per list request; large installations are read in pages.
const PAGE_SIZE: u32 = 500;

/// How the report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Columns for people.
    #[default]
    Table,
    /// One JSON document for machines.
    Json,
}

/// `drover inspect` flags.
#[derive(clap::Args, Clone, Debug)]
pub struct InspectArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The controllers' `--default-workspace`: where an externally managed legacy cluster
    /// without a workspace has its prov cluster.
    #[arg(long, env = "DROVER_DEFAULT_WORKSPACE", default_value = consts::DEFAULT_WORKSPACE)]
    pub default_workspace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Connect(#[from] crate::runtime::client::ConnectError),
    #[error("listing {kind} failed: {source}")]
    List {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("encoding the report as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Lists every prov, mgmt and fleet cluster, workspace and namespace, and analyzes them for an
/// installation with the default `--default-workspace`.
pub async fn collect(client: &Client) -> Result<Report, InspectError> {
    collect_for(client, consts::DEFAULT_WORKSPACE).await
}

/// [`collect`] for the controllers' `--default-workspace`.
pub async fn collect_for(client: &Client, default_workspace: &str) -> Result<Report, InspectError> {
    let provs = list_all(&Api::<ProvCluster>::all(client.clone()), "prov clusters").await?;
    let mgmts = list_all(&Api::<MgmtCluster>::all(client.clone()), "mgmt clusters").await?;
    let fleets = list_all(&Api::<FleetCluster>::all(client.clone()), "fleet clusters").await?;
    let workspaces = list_all(&Api::<FleetWorkspace>::all(client.clone()), "workspaces").await?;
    let namespaces = list_namespace_metadata(&Api::<Namespace>::all(client.clone())).await?;
    Ok(analyze(
        &provs,
        &mgmts,
        &fleets,
        &workspaces,
        &namespaces,
        default_workspace,
    ))
}

/// Collects, prints the report in the chosen format on stdout, and returns the exit code.
pub async fn run(client: &Client, args: &InspectArgs) -> u8 {
    match collect_for(client, &args.default_workspace)
        .await
        .and_then(|report| print(&report, args.output))
    {
        Ok(code) => code,
        Err(err) => {
            eprintln!("drover inspect: {err}");
            EXIT_ERROR
        }
    }
}

/// The whole `drover inspect` command: connect, collect, print.
pub fn command(cluster: &ClusterArgs, args: &InspectArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(InspectError::Runtime);
    let code = match runtime {
        Ok(rt) => rt.block_on(async {
            match crate::runtime::client::connect(cluster).await {
                Ok(clients) => run(&clients.reads, args).await,
                Err(err) => {
                    eprintln!("drover inspect: {err}");
                    EXIT_ERROR
                }
            }
        }),
        Err(err) => {
            eprintln!("drover inspect: {err}");
            EXIT_ERROR
        }
    };
    ExitCode::from(code)
}

fn print(report: &Report, output: Output) -> Result<u8, InspectError> {
    match output {
        Output::Table => print!("{}", report.to_table()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).map_err(InspectError::Encode)?
        ),
    }
    Ok(if report.consistent {
        EXIT_CONSISTENT
    } else {
        EXIT_PROBLEMS
    })
}

async fn list_all<K>(api: &Api<K>, kind: &'static str) -> Result<Vec<K>, InspectError>
where
    K: Clone + DeserializeOwned + Debug,
{
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| InspectError::List { kind, source })?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

async fn list_namespace_metadata(api: &Api<Namespace>) -> Result<Vec<ObjectMeta>, InspectError> {
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = api
            .list_metadata(&params)
            .await
            .map_err(|source| InspectError::List {
                kind: "namespaces",
                source,
            })?;
        items.extend(page.items.into_iter().map(|p| p.metadata));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}
