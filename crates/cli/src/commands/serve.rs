use std::path::Path;

use anyhow::{Context, Result};
use geoconsole_app::{Console, Rule};
use geoconsole_feeds::FeedSpec;
use geoconsole_server::ServerOptions;

use crate::args::ServeArgs;

/// Serves until Ctrl-C or SIGTERM, then stops accepting, ends event streams and finishes requests in flight.
fn mib(n: u64) -> u64 {
    n.saturating_mul(1024 * 1024)
}

pub async fn run(
    console: &Console,
    args: &ServeArgs,
    staging_dir: Option<&Path>,
    rules: Vec<Rule>,
    feeds: Vec<FeedSpec>,
) -> Result<()> {
    for feed in feeds {
        let name = feed.name.clone();
        console
            .feeds()
            .ensure(feed)
            .await
            .with_context(|| format!("config: feed '{name}'"))?;
    }
    for rule in rules {
        let id = rule.id.clone();
        if console
            .alerts()
            .ensure_rule(rule)
            .await
            .with_context(|| format!("config: rule '{id}'"))?
        {
            tracing::info!(rule = %id, "rule from the config saved");
        }
    }
    if !args.bind.ip().is_loopback() {
        tracing::warn!(
            bind = %args.bind,
            "listening beyond this machine: every dataset is readable by anyone who can reach this address"
        );
    }
    let options = ServerOptions {
        bind: args.bind,
        tile_cache_bytes: args.tile_cache_mb.saturating_mul(1024 * 1024),
        public_url: args.public_url.clone(),
        cors_origins: args.cors_origins.clone(),
        rate_per_second: args.rate_limit,
        rate_burst: args.rate_burst,
        upload_limit_bytes: args.upload_limit_mb.saturating_mul(1024 * 1024),
        body_limit_bytes: args.body_limit_kb.saturating_mul(1024),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_s.max(1)),
        feature_limits: geoconsole_app::FeatureLimits {
            max_vertices: args.max_vertices,
            max_properties_bytes: args.max_properties_bytes,
        },
        staging_dir: staging_dir.map(Path::to_path_buf),
        upload_quotas: geoconsole_app::UploadQuotas {
            per_account: args.uploads_per_account.max(1),
            bytes_per_account: mib(args
                .upload_quota_mb
                .unwrap_or((args.upload_limit_mb as u64).saturating_mul(2))),
            keep_free_bytes: mib(args.staging_keep_free_mb),
            ..geoconsole_app::UploadQuotas::default()
        },
        archive_limits: {
            // An uploaded zip may inflate to eight times the largest upload (4 GiB at the default).
            let inflated = mib(args
                .max_inflated_mb
                .unwrap_or((args.upload_limit_mb as u64).saturating_mul(8)));
            geoconsole_formats::ArchiveLimits {
                max_entry_bytes: inflated,
                max_inflated_bytes: inflated,
                keep_free_bytes: mib(args.staging_keep_free_mb),
                ..geoconsole_formats::ArchiveLimits::default()
            }
        },
        ..ServerOptions::default()
    };
    let server = geoconsole_server::start(console.clone(), options)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    if geoconsole_server::console_built() {
        outln!(
            "geoconsole is serving {}\n  console: http://{}/console/\n  API:     http://{}/  (Ctrl-C stops)",
            console.store().location(),
            server.addr,
            server.addr
        );
    } else {
        outln!(
            "geoconsole is serving {} at http://{}/ (Ctrl-C stops)\n  the web console is not in this build: ./scripts/demo.sh builds it",
            console.store().location(),
            server.addr
        );
    }
    let stop = server.stop_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop.send(true);
    });
    server.wait().await.context("server failed")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
