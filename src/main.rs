//! The `switchyard` binary: parse the command line, set up logging, load the config, serve.

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use clap::Parser;
use switchyard::{
    cli::{Cli, Command, LogFormat, model_table, sandbox_report},
    config::{self, ProcessEnv},
    server::{self, Gateway},
};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Some(Command::Check) => check(&cli),
        None => match serve(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

#[expect(clippy::print_stdout, reason = "CLI output: the model table")]
fn check(cli: &Cli) -> ExitCode {
    match config::load(cli.config.as_deref(), &ProcessEnv) {
        Ok((config, warnings)) => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", model_table(&config));
            println!("{}", switchyard::state::describe(&config));
            let (sandbox, sandboxed) = sandbox_report(&config);
            print!("{sandbox}");
            if !sandboxed {
                eprintln!("error: an enabled exec tool cannot be sandboxed on this host");
                return ExitCode::FAILURE;
            }
            println!(
                "config OK: {} ({} deployments)",
                config.origin,
                config.deployments.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cli: Cli) -> anyhow::Result<()> {
    // No core dumps and no /proc/<pid>/{environ,mem,...} for other processes of this user, and no
    // ptrace by them: the keys in this process stay in it (SPEC §15).
    nix::sys::prctl::set_dumpable(false)?;
    let (config, warnings) = config::load(cli.config.as_deref(), &ProcessEnv)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let origin = config.origin.clone();
        let models = config.deployments.len();
        let gateway = Gateway::new(config, cli.config.clone(), Arc::new(ProcessEnv))?;
        let addr: SocketAddr = format!("{}:{}", cli.host, cli.port)
            .parse()
            .or_else(|_| format!("[{}]:{}", cli.host, cli.port).parse())?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(%addr, config = %origin, deployments = models, "switchyard listening");
        server::run(gateway, listener).await?;
        tracing::info!("switchyard stopped");
        Ok(())
    })
}
