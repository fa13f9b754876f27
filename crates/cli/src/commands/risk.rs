use std::io::Write;

use anyhow::{Context, Result};
use geoconsole_analytics::{AnomalyRule, Period, RiskModel};
use geoconsole_app::{Console, RiskRequest, TrendRequest};

use crate::args::{Cli, RiskArgs, TrendsArgs};
use crate::commands::{dataset_id, dataset_ids, instant};

/// Prints sites by risk score, highest first, each with what made its score.
pub async fn run(console: &Console, args: &RiskArgs, cli: &Cli) -> Result<()> {
    let model = args
        .model
        .as_deref()
        .map(|path| -> Result<RiskModel> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read risk model {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("{}: not a valid risk model", path.display()))
        })
        .transpose()?;
    let report = console
        .risk(
            &geoconsole_app::Scope::everything(),
            RiskRequest {
                sites: dataset_ids(&args.sites)?,
                model,
                as_of: args
                    .as_of
                    .as_deref()
                    .map(|t| instant(t, "--as-of"))
                    .transpose()?,
            },
        )
        .await?;
    let mut out = std::io::stdout().lock();
    if cli.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} of {} sites at risk as of {}",
        report.sites.len(),
        report.sites_checked,
        report.as_of.format("%Y-%m-%d %H:%M UTC")
    )?;
    for s in report.sites.iter().take(args.top) {
        let name: String = s.name.chars().take(36).collect();
        writeln!(out, "{:>5.1}  {:<10} {name}", s.score, s.site)?;
        for line in &s.explanation {
            writeln!(out, "       {line}")?;
        }
    }
    if report.sites.len() > args.top {
        writeln!(
            out,
            "… and {} more (--top N, or --json)",
            report.sites.len() - args.top
        )?;
    }
    Ok(())
}

/// Prints each site's series judgement, anomalies first.
pub async fn trends(console: &Console, args: &TrendsArgs, cli: &Cli) -> Result<()> {
    let report = console
        .trends(
            &geoconsole_app::Scope::everything(),
            TrendRequest {
                sites: dataset_ids(&args.sites)?,
                dataset: dataset_id(&args.dataset)?,
                radius_km: args.radius_km,
                period: Period::parse(&args.period).map_err(anyhow::Error::msg)?,
                periods: args.periods,
                end: args
                    .end
                    .as_deref()
                    .map(|t| instant(t, "--end"))
                    .transpose()?,
                sum: args.sum.clone(),
                rule: AnomalyRule {
                    threshold_sd: args.threshold_sd,
                    min_current: args.min_current,
                },
            },
        )
        .await?;
    let mut out = std::io::stdout().lock();
    if cli.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let flagged = report.anomalies().count();
    writeln!(
        out,
        "{flagged} anomalies among {} sites with activity ({} checked)",
        report.sites.len(),
        report.sites_checked
    )?;
    for s in report.sites.iter().take(args.top) {
        let mark = if s.anomaly { "!" } else { " " };
        writeln!(out, "{mark} z={:>5.1}  {}", s.assessment.z, s.reason)?;
    }
    Ok(())
}
