//! Room `cli`: the `geoconsole` binary, the only one. It parses the command line (clap), layers the config,
//! wires the store backend chosen by `--store`, sets up logging and progress bars, and runs the command.
//! `anyhow` lives here and nowhere else; every library error arrives typed and is printed as its message.

#[macro_use]
mod output;
mod args;
mod commands;
mod config;
mod progress;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Parser;
use geoconsole_app::Console;
use geoconsole_gpkg::GpkgStore;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};

/// Store used when neither flag, environment nor config names one.
const DEFAULT_STORE: &str = "geoconsole.gpkg";
/// Store the demo builds when none is named, so it never mixes into a working store by accident.
const DEFAULT_DEMO_STORE: &str = "demo.gpkg";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message_of(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out causes that the message before them already quotes
/// (library errors name their cause in their own words, and keep it as `source` for logs).
fn message_of(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

fn run(cli: Cli) -> Result<()> {
    let (file_config, warnings) = config::load(cli.config.as_deref())?;
    // A server's request log is its main output; one-shot commands stay quiet unless asked.
    let (serving, json_logs) = match &cli.command {
        Command::Serve(args) => (true, args.log_json),
        Command::Demo(args) if args.serve => (true, args.server.log_json),
        _ => (false, false),
    };
    init_logging(cli.verbose, file_config.log.as_deref(), serving, json_logs);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if let Command::Generate(args) = &cli.command {
            return commands::generate::run(args, &cli).await;
        }
        let default_store = if matches!(cli.command, Command::Demo(_)) {
            DEFAULT_DEMO_STORE
        } else {
            DEFAULT_STORE
        };
        let location = cli
            .store
            .clone()
            .or(file_config.store)
            .unwrap_or_else(|| default_store.to_string());
        // The demo's feed simulator listens before the console exists, so its loopback address can be
        // allowed by the network guard like any address an operator allows.
        let mut allow = file_config.network.allow.clone();
        let simulator = match &cli.command {
            Command::Demo(args) if args.serve && !args.no_live_feed => {
                let simulator = commands::feeds::Simulator::bind(
                    std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    args.feed_speed,
                )
                .await?;
                allow.push(simulator.addr.ip().to_string());
                Some(simulator)
            }
            _ => None,
        };
        let policy = geoconsole_feeds::NetworkPolicy::allowing(&allow)
            .map_err(|e| anyhow::anyhow!("config: [network] allow: {e}"))?;
        let backend = open_backend(&location).await?;
        if let Command::Migrate(args) = &cli.command {
            return commands::migrate::run(&backend, args, &cli).await;
        }
        let mut console = backend.console(policy)?;
        if let Command::Serve(args) = &cli.command
            && let Some(max) = args.index_max_features
        {
            match &backend.push_down {
                Some(store) => console = console.with_push_down(store.clone(), max),
                None => bail!(
                    "--index-max-features needs a store that answers queries itself (PostgreSQL/PostGIS); {} keeps every dataset in memory",
                    location
                ),
            }
        }
        console.set_risk_model(file_config.risk);
        console.alerts().set_webhooks(file_config.webhooks)?;
        console.set_impact_models(
            file_config
                .impact
                .into_iter()
                .map(|(id, model)| {
                    commands::dataset_id(&id)
                        .map(|id| (id, model))
                        .map_err(|e| anyhow::anyhow!("config: impact.{id}: {e}"))
                })
                .collect::<Result<_>>()?,
        )?;
        let configured_rules = file_config.rules;
        let configured_feeds = file_config.feeds;
        match &cli.command {
            Command::Import(args) => commands::import::run(&console, args, &cli).await,
            Command::Datasets(command) => commands::datasets::run(&console, command, &cli).await,
            Command::Query(args) => commands::query::run(&console, args).await,
            Command::Export(args) => commands::export::run(&console, args, &cli).await,
            Command::Demo(args) => {
                commands::demo::run(&console, args, &cli, &location, simulator).await
            }
            Command::Serve(args) => {
                commands::serve::run(
                    &console,
                    args,
                    cli.staging_dir.as_deref(),
                    configured_rules,
                    configured_feeds,
                )
                .await
            }
            Command::Exposure(args) => commands::exposure::run(&console, args, &cli).await,
            Command::Risk(args) => commands::risk::run(&console, args, &cli).await,
            Command::Trends(args) => commands::risk::trends(&console, args, &cli).await,
            Command::Rules(command) => commands::alerts::rules(&console, command, &cli).await,
            Command::Alerts(command) => commands::alerts::alerts(&console, command, &cli).await,
            Command::Feeds(command) => commands::feeds::run(&console, command, &cli).await,
            Command::Sources(command) => commands::sources::run(&console, command, &cli).await,
            Command::Catalog(command) => commands::catalog::run(&console, command, &cli).await,
            Command::Users(command) => commands::access::users(&console, command, &cli).await,
            Command::Tokens(command) => commands::access::tokens(&console, command, &cli).await,
            Command::Audit(args) => commands::access::audit(&console, args, &cli).await,
            Command::Generate(_) | Command::Migrate(_) => Ok(()),
        }
    })
}

/// One store backend seen through every trait the console needs.
pub struct Backend {
    pub stores: geoconsole_app::Stores,
    /// Present when the backend can serve datasets too large for memory itself.
    pub push_down: Option<Arc<dyn geoconsole_store::PushDownStore>>,
}

impl Backend {
    fn of<S>(store: Arc<S>) -> Self
    where
        S: geoconsole_store::FeatureStore
            + geoconsole_store::AlertStore
            + geoconsole_store::FeedStore
            + geoconsole_store::AccessStore
            + geoconsole_store::ClusterStore
            + 'static,
    {
        Self {
            stores: geoconsole_app::Stores::of(store),
            push_down: None,
        }
    }

    fn console(&self, network: geoconsole_feeds::NetworkPolicy) -> Result<Console> {
        Ok(Console::open(
            self.stores.clone(),
            geoconsole_app::ConsoleOptions {
                network,
                ..Default::default()
            },
        )?)
    }
}

/// Picks the backend from the store location: a `postgres://` URL is PostgreSQL/PostGIS, anything else a
/// GeoPackage path. Backends are chosen here, at run time, never by cargo features.
pub async fn open_backend(location: &str) -> Result<Backend> {
    if geoconsole_postgis::is_postgres_url(location) {
        let store = Arc::new(geoconsole_postgis::PostgisStore::open(location).await?);
        let mut backend = Backend::of(store.clone());
        backend.push_down = Some(store);
        return Ok(backend);
    }
    if location.contains("://") {
        bail!(
            "store '{location}': give a GeoPackage path (ops.gpkg) or a postgres://user:password@host/database URL"
        );
    }
    Ok(Backend::of(Arc::new(GpkgStore::open(location)?)))
}

fn init_logging(verbose: u8, configured: Option<&str>, serving: bool, json: bool) {
    let default = match (verbose, serving) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let filter = std::env::var("GEOCONSOLE_LOG")
        .ok()
        .or_else(|| configured.map(str::to_string))
        .unwrap_or_else(|| default.to_string());
    // The `wkt` crate logs a warning for each number it cannot read; the reader reports the same cell in
    // its own words, located, so the crate's line is noise on the terminal (and under --quiet).
    let filter = if filter.contains("wkt") {
        filter
    } else {
        format!("{filter},wkt=error")
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
