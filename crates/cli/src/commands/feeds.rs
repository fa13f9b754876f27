//! `geoconsole feeds`: the feed registry from the command line, health at a glance, polling now, and the
//! demo's feed simulator (a small HTTP server replaying the embedded earthquake week as a live USGS feed).

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use geoconsole_app::{Console, FeedView, PollReport};
use geoconsole_feeds::connectors::SourceOptions;
use geoconsole_feeds::{AreaSource, FeedFormat, FeedSpec, Footprint};
use geoconsole_scenario::QuakeReplay;

use crate::args::{Cli, FeedAddArgs, FeedsCommand, SourceArgs};
use crate::output;

/// The path the simulator serves its feed at.
pub const SIMULATED_FEED_PATH: &str = "/earthquakes.geojson";

fn spec_of(args: &FeedAddArgs) -> Result<FeedSpec> {
    let format = FeedFormat::parse(&args.format).ok_or_else(|| {
        let known: Vec<&str> = FeedFormat::ALL.iter().map(|f| f.as_str()).collect();
        anyhow!(
            "--format '{}' is not one of: {}",
            args.format,
            known.join(", ")
        )
    })?;
    let footprint = match args.footprint.as_deref() {
        None | Some("area") => Footprint::Area,
        Some("point") => Footprint::Point,
        Some(other) => return Err(anyhow!("--footprint '{other}' is not area or point")),
    };
    let mut spec = FeedSpec::new(&args.name, &args.url, format, &args.dataset);
    spec.interval_s = args.interval;
    spec.enabled = !args.paused;
    spec.id_field = args.id_field.clone();
    spec.time = args.time.clone();
    spec.time_end = args.time_end.clone();
    spec.severity = args.severity.clone();
    spec.footprint = footprint;
    spec.timeout_ms = args.timeout_ms;
    spec.max_bytes = args.max_bytes;
    if let Some(areas) = &args.areas {
        spec.areas = AreaSource::parse_list(areas, args.area_code_field.as_deref())
            .map_err(|e| anyhow!("--areas: {e}"))?;
    }
    spec.source = source_options(&args.source)?;
    Ok(spec)
}

/// The `--filter`, `--fields`… flags as a paged source's options; `None` when none is given.
pub(crate) fn source_options(args: &SourceArgs) -> Result<Option<SourceOptions>> {
    let app_token = match &args.app_token_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            anyhow!("--app-token-env: the environment variable '{var}' is not set")
        })?),
        None => None,
    };
    let options = SourceOptions {
        filter: args.filter.clone(),
        fields: args.fields.clone(),
        updated_field: args.updated_field.clone(),
        app_token,
        page_size: args.page_size,
        geometry_field: args.geometry_field.clone(),
        full_sync_s: args.full_sync_s,
        layer: args.layer.clone(),
        bbox: args.bbox.clone(),
        datetime: None,
        id_field: args.key_field.clone(),
    };
    Ok((options != SourceOptions::default()).then_some(options))
}

pub(crate) fn ago(at: Option<DateTime<Utc>>) -> String {
    let Some(at) = at else {
        return "never".into();
    };
    let s = (Utc::now() - at).num_seconds();
    match s {
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

pub(crate) fn lag_text(view: &FeedView) -> String {
    view.state.lag.map_or_else(
        || "-".into(),
        |l| format!("{} (max {})", seconds(l.median_s), seconds(l.max_s)),
    )
}

fn seconds(s: f64) -> String {
    match s.abs() {
        a if a < 120.0 => format!("{s:.0} s"),
        a if a < 7200.0 => format!("{:.0} min", s / 60.0),
        a if a < 172_800.0 => format!("{:.1} h", s / 3600.0),
        _ => format!("{:.1} d", s / 86_400.0),
    }
}

pub(crate) fn print_report(out: &mut impl Write, report: &PollReport) -> Result<()> {
    let c = &report.counts;
    match report.outcome {
        "failed" => writeln!(
            out,
            "{}: failed: {}",
            report.feed,
            report.error.as_deref().unwrap_or("")
        )?,
        "not_modified" => writeln!(out, "{}: not modified since the last poll", report.feed)?,
        _ => writeln!(
            out,
            "{}: {} items: {} added, {} updated, {} unchanged, {} withdrawn, {} skipped into '{}' ({} bytes, {} ms)",
            report.feed,
            c.items,
            c.added,
            c.updated,
            c.unchanged,
            c.withdrawn,
            c.skipped,
            report.dataset,
            c.bytes,
            c.ms
        )?,
    }
    for reason in report.skipped_reasons.iter().take(5) {
        writeln!(out, "  skipped: {reason}")?;
    }
    for warning in &report.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

pub async fn run(console: &Console, command: &FeedsCommand, cli: &Cli) -> Result<()> {
    if let FeedsCommand::Simulate { listen, speed } = command {
        return simulate(*listen, *speed).await;
    }
    let feeds = console.feeds();
    let mut out = std::io::stdout().lock();
    match command {
        FeedsCommand::Add(args) => {
            let saved = feeds.save(spec_of(args)?, args.replace).await?;
            if cli.json {
                return output::print_json(&saved);
            }
            writeln!(
                out,
                "saved feed {} ({} every {} s into '{}'); a serving console polls it within seconds, or: geoconsole feeds poll-now {}",
                saved.spec.name,
                saved.spec.format.as_str(),
                saved.spec.interval_s,
                saved.spec.dataset,
                saved.spec.name
            )?;
        }
        FeedsCommand::List => {
            let views = feeds.list().await?;
            if cli.json {
                return output::print_json(&views);
            }
            if views.is_empty() {
                writeln!(
                    out,
                    "no feeds (add one with: geoconsole feeds add --name N --url U --format F --dataset D)"
                )?;
                return Ok(());
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    vec![
                        v.spec.name.clone(),
                        v.status.as_str().to_string(),
                        v.spec.format.as_str().to_string(),
                        v.spec.dataset.clone(),
                        ago(v.state.last_success),
                        lag_text(v),
                        output::count(v.state.added),
                        v.state.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            drop(out);
            output::print_table(
                &[
                    "FEED",
                    "STATUS",
                    "FORMAT",
                    "DATASET",
                    "LAST OK",
                    "LAG",
                    "ADDED",
                    "LAST ERROR",
                ],
                &rows,
            );
        }
        FeedsCommand::Show { name } => {
            let view = feeds.get(name).await?;
            if cli.json {
                return output::print_json(&view);
            }
            let s = &view.state;
            writeln!(out, "{} ({})", view.spec.name, view.status.as_str())?;
            writeln!(out, "  url       {}", view.spec.url)?;
            writeln!(
                out,
                "  format    {} every {} s into '{}'",
                view.spec.format.as_str(),
                view.spec.interval_s,
                view.spec.dataset
            )?;
            writeln!(
                out,
                "  last ok   {}   last change {}   next poll {}",
                ago(s.last_success),
                ago(s.last_change),
                s.next_poll.map_or("-".into(), |t| t.to_rfc3339())
            )?;
            writeln!(
                out,
                "  lag       {}   newest event {}",
                lag_text(&view),
                ago(s.newest_event)
            )?;
            writeln!(
                out,
                "  totals    {} polls, {} not modified, {} added, {} updated, {} withdrawn, {} skipped",
                s.polls, s.not_modified, s.added, s.updated, s.withdrawn, s.skipped
            )?;
            if let Some(error) = &s.last_error {
                writeln!(
                    out,
                    "  failing   {} ({} in a row, {})",
                    error,
                    s.failures,
                    ago(s.last_error_at)
                )?;
            }
            for reason in s.skipped_reasons.iter().take(10) {
                writeln!(out, "  skipped   {reason}")?;
            }
        }
        FeedsCommand::Pause { name } => {
            feeds.set_enabled(name, false).await?;
            writeln!(out, "paused feed {name}")?;
        }
        FeedsCommand::Resume { name } => {
            feeds.set_enabled(name, true).await?;
            writeln!(out, "resumed feed {name}")?;
        }
        FeedsCommand::Delete { name } => {
            feeds.delete(name).await?;
            writeln!(out, "deleted feed {name} (its data stays)")?;
        }
        FeedsCommand::PollNow { name, all } => {
            let names: Vec<String> = match (name, all) {
                (Some(name), _) => vec![name.clone()],
                (None, true) => feeds
                    .list()
                    .await?
                    .into_iter()
                    .map(|v| v.spec.name)
                    .collect(),
                (None, false) => return Err(anyhow!("name a feed, or pass --all")),
            };
            let mut reports = Vec::new();
            for name in names {
                reports.push(console.feeds().poll(&name).await?);
            }
            if cli.json {
                return output::print_json(&reports);
            }
            for report in &reports {
                print_report(&mut out, report)?;
            }
            if reports.iter().any(|r| r.outcome == "failed") {
                return Err(anyhow!("a feed failed to poll"));
            }
        }
        FeedsCommand::Simulate { .. } => {}
    }
    Ok(())
}

/// A bound simulator, ready to serve.
pub struct Simulator {
    pub listener: tokio::net::TcpListener,
    pub addr: std::net::SocketAddr,
    replay: Arc<QuakeReplay>,
}

impl Simulator {
    pub async fn bind(listen: std::net::SocketAddr, speed: f64) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("the feed simulator cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            replay: Arc::new(QuakeReplay::new(Utc::now(), speed)),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}{SIMULATED_FEED_PATH}", self.addr)
    }

    /// Serves until the process ends.
    pub async fn serve(self) -> Result<()> {
        let app = axum::Router::new()
            .route(SIMULATED_FEED_PATH, axum::routing::get(serve_replay))
            .with_state(self.replay);
        axum::serve(self.listener, app)
            .await
            .context("feed simulator")
    }
}

async fn serve_replay(State(replay): State<Arc<QuakeReplay>>, headers: HeaderMap) -> Response {
    let (body, etag) = replay.document(Utc::now());
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/geo+json".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

async fn simulate(listen: std::net::SocketAddr, speed: f64) -> Result<()> {
    let simulator = Simulator::bind(listen, speed).await?;
    outln!(
        "replaying the USGS week of 2023-04-07 at {speed}x as a live feed: {}\n  add it to a console (loopback must be allowed: [network] allow = [\"127.0.0.1\"]):\n  geoconsole feeds add --name demo-quakes --format usgs --dataset live_quakes --interval 10 --url {}",
        simulator.url(),
        simulator.url()
    );
    simulator.serve().await
}
