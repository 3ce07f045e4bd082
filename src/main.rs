//! The drover binary: CLI, telemetry, then the controllers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use drover::config::{ClusterArgs, Config, LogFormat};

/// Keeps Rancher's provisioning, management and Fleet clusters in 1:1:1 correspondence and maps
/// Fleet workspaces to namespaces.
#[derive(Parser)]
#[command(name = "drover", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Log format.
    #[arg(long, env = "DROVER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers until SIGTERM or Ctrl-C.
    Run(Box<Config>),
    /// Print drover's CustomResourceDefinitions as YAML, or write one file per CRD.
    Crds {
        /// Write `<plural>.<group>.yaml` files into this directory instead of printing.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Report, read-only, whether clusters and workspaces correspond; exit 1 on problems.
    Inspect(drover::inspect::InspectArgs),
}

fn init_tracing(format: LogFormat) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("DROVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // kube's client logs the whole response body when it cannot decode one; drover reads what it
    // cannot trust as plain JSON, but a write's answer is still decoded there, and an object or
    // list body never belongs in a log line. Asked for explicitly, it stays.
    let asked = std::env::var("DROVER_LOG").is_ok_and(|v| v.contains("kube_client"));
    if !asked && let Ok(quiet) = "kube_client::client=error".parse() {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn crds(write: Option<PathBuf>) -> anyhow::Result<()> {
    match write {
        None => {
            let yaml = drover::crds::all_yaml()?;
            std::io::stdout().write_all(yaml.as_bytes())?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for crd in drover::crds::all() {
                let path = dir.join(drover::crds::file_name(&crd));
                std::fs::write(&path, drover::crds::to_yaml(&crd)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

async fn run(cluster: ClusterArgs, config: Config, log_format: LogFormat) -> anyhow::Result<()> {
    // Connect before logging starts, so an unreachable API server gives one line, not a log
    // record from the client library followed by the error.
    let clients = drover::runtime::client::connect(&cluster).await?;
    init_tracing(log_format);
    drover::app::run(clients, config).await?;
    Ok(())
}

/// glibc's allocator gives each thread that contends for it an arena of its own (up to 8 per
/// core) and hands memory back only from the top of each. A list page decoded on one runtime
/// thread and freed on another leaves holes in several arenas that the next page does not fill:
/// at 2000 clusters a restart with list requests ended at 134 MiB resident with sixteen arenas
/// and at 93 MiB with one, for the same heap; convergence took as long, a restart a little more
/// CPU. The image's musl build has no arenas; this applies to glibc builds only. Set before the
/// runtime starts any thread; `MALLOC_ARENA_MAX` in the environment takes precedence.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    // SAFETY: mallopt only sets a parameter of the allocator; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        one_malloc_arena();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { write } => crds(write),
        Command::Inspect(args) => return drover::inspect::command(&cli.cluster, &args),
        Command::Run(config) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|rt| rt.block_on(run(cli.cluster, *config, cli.log_format))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("drover: {err:#}");
            ExitCode::FAILURE
        }
    }
}
