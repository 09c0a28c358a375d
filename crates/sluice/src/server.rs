//! `sluice server`: runs the control plane until SIGTERM or Ctrl-C.

use anyhow::{Context, Result};
use sluice_server::access::auth::{TOKEN_ENV, TOKEN_FILE, TokenOrigin};
use sluice_server::storage::secrets_key::{self, KeyOrigin, Rotated};
use sluice_server::{ServerConfig, Started};

use crate::cli::{HelloserviceArgs, ServerArgs};

/// Runs the server; returns the exit code.
pub fn run(args: &ServerArgs) -> Result<i32> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = ServerConfig {
        data_dir: args.data_dir.clone(),
        store: args
            .store
            .as_deref()
            .map(sluice_store::StoreLocation::parse_url)
            .transpose()?,
        listen: args.listen,
        token_from_env: std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
        job_allowed_commands: None,
        job_backend: job_backend(args)?,
        connections: sluice_server::net::connections::ConnectionLimits {
            max_connections: args.max_connections as usize,
            header_read_timeout: args.header_timeout,
            body_idle_timeout: args.body_timeout,
        },
        secrets_key_from_env: env_value(secrets_key::KEY_ENV),
        rotate_secrets_key: args.rotate_secrets_key,
        new_secrets_key_from_env: env_value(secrets_key::NEW_KEY_ENV),
        bus: args.bus.clone(),
        node_id: args.node_id.clone(),
        advertise: args.advertise.clone(),
        outbound: args.outbound_allow.clone().unwrap_or_default(),
        durability: args.durability.into(),
        job_runs_retention: args.job_runs_retention.0,
    };
    let data_dir = args.data_dir.clone();
    let store = config
        .store
        .as_ref()
        .map(sluice_store::StoreLocation::describe);
    runtime.block_on(async move {
        sluice_server::serve(
            config,
            |s| announce(s, &data_dir, store.as_deref()),
            shutdown_signal(),
        )
        .await
    })?;
    eprintln!("sluice server stopped");
    Ok(0)
}

/// The job backends from `--job-backend` and `--job-backend-override`.
fn job_backend(args: &ServerArgs) -> Result<sluice_server::services::jobs::BackendChoice> {
    use sluice_server::services::jobs::{BackendChoice, BackendKind};
    let default = BackendKind::parse(&args.job_backend)?;
    Ok(BackendChoice::only(default)
        .with_overrides(args.job_backend_override.iter().map(String::as_str))?)
}

/// A non-empty environment variable.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Runs the example service until SIGTERM or Ctrl-C; returns the exit code.
pub fn helloservice(args: &HelloserviceArgs) -> Result<i32> {
    init_logging();
    let config = sluice_hello::HelloConfig {
        version: args.version.clone(),
        listen: args.listen,
        reuse_port: args.reuse_port,
        instance: args.instance.clone(),
        metrics_listen: args.metrics_listen,
    };
    let bound = sluice_hello::BoundService::bind(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    println!(
        "helloservice {} ({}) listening on http://{}",
        bound.version(),
        bound.instance(),
        bound.local_addr()?
    );
    if let Some(Ok(metrics)) = bound.metrics_addr() {
        println!("metrics on http://{metrics}/metrics");
    }
    runtime.block_on(bound.run(shutdown_signal()))?;
    Ok(0)
}

fn announce(started: &Started, data_dir: &std::path::Path, store: Option<&str>) {
    let url = format!("http://{}", started.addr);
    match store {
        None => println!(
            "sluice server listening on {url} (data in {})",
            data_dir.display()
        ),
        Some(store) => println!(
            "sluice server listening on {url} (data in {}, database {store})",
            data_dir.display()
        ),
    }
    match started.origin {
        TokenOrigin::Created => {
            println!(
                "API token (created now and stored in {}; it is shown only this once):\n  {}",
                data_dir.join(TOKEN_FILE).display(),
                started.token.reveal()
            );
            println!(
                "Connect the CLI with:\n  sluice auth --endpoint {url} --api-token {}",
                started.token.reveal()
            );
            // The fragment never reaches the server: the page logs in with it and removes it.
            println!(
                "Open the web UI (logged in) with:\n  {url}/bridge/#token={}",
                started.token.reveal()
            );
        }
        TokenOrigin::Existing => {
            println!(
                "API token: the one stored in {}",
                data_dir.join(TOKEN_FILE).display()
            );
        }
        TokenOrigin::Environment => println!("API token: from {TOKEN_ENV}"),
    }
    match &started.secrets_key.origin {
        KeyOrigin::Created(path) => println!(
            "secrets key: created now in {} (back it up apart from the data; see docs/security.md)",
            path.display()
        ),
        KeyOrigin::File(path) => println!("secrets key: the one stored in {}", path.display()),
        KeyOrigin::Environment => println!("secrets key: from {}", secrets_key::KEY_ENV),
    }
    match &started.secrets_key.rotated {
        Some(Rotated::File(path)) => println!(
            "secrets key rotated: every secret is re-encrypted under the new key in {} (back it up again)",
            path.display()
        ),
        Some(Rotated::Environment) => println!(
            "secrets key rotated: every secret is re-encrypted under the key in {}; start with that key in {} from now on",
            secrets_key::NEW_KEY_ENV,
            secrets_key::KEY_ENV
        ),
        None => {}
    }
    if started.origin != TokenOrigin::Created {
        println!("web UI: {url}/bridge/ (log in with the API token)");
    }
    if !started.addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {} which is reachable from other machines",
            started.addr
        );
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use sluice_server::services::jobs::{BackendChoice, BackendKind};

    use crate::cli::{Cli, Command};

    fn choice(args: &[&str]) -> anyhow::Result<BackendChoice> {
        let cli = Cli::try_parse_from(["sluice", "server"].iter().chain(args))?;
        let Command::Server(server) = cli.command else {
            unreachable!("parsed as sluice server")
        };
        super::job_backend(&server)
    }

    #[test]
    fn job_backend_flags_build_the_backend_choice() {
        assert_eq!(
            choice(&[]).unwrap(),
            BackendChoice::only(BackendKind::Local),
            "local unless set"
        );
        let set = choice(&[
            "--job-backend",
            "kubernetes",
            "--job-backend-override",
            "shop/dev=local,tools=local",
            "--job-backend-override",
            "other/prod=kubernetes",
        ])
        .unwrap();
        assert_eq!(set.default, BackendKind::Kubernetes);
        assert_eq!(
            set.overrides,
            vec![
                ("shop".into(), Some("dev".into()), BackendKind::Local),
                ("tools".into(), None, BackendKind::Local),
                ("other".into(), Some("prod".into()), BackendKind::Kubernetes),
            ]
        );
        assert!(choice(&["--job-backend", "docker"]).is_err());
        let bad = choice(&["--job-backend-override", "shop"]).unwrap_err();
        assert!(bad.to_string().contains("PROJECT[/STAGE]=BACKEND"), "{bad}");
    }
}
