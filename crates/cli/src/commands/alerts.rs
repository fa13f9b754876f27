use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use geoconsole_app::{Console, Rule};
use geoconsole_query::DateTimeFilter;
use geoconsole_store::{AlertFilter, AlertRecord, AlertState, DeliveryState, Disposition};
use serde::Deserialize;

use crate::args::{AlertsCommand, Cli, RulesCommand};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
}

fn read_rules(path: &Path) -> Result<Vec<Rule>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read rules file {}", path.display()))?;
    let file: RulesFile = toml::from_str(&text)
        .with_context(|| format!("{}: not a rules file ([[rules]] tables)", path.display()))?;
    Ok(file.rules)
}

pub async fn rules(console: &Console, command: &RulesCommand, cli: &Cli) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        RulesCommand::List => {
            let rules = console.alerts().rules().await?;
            if cli.json {
                serde_json::to_writer_pretty(&mut out, &rules)?;
                writeln!(out)?;
                return Ok(());
            }
            if rules.is_empty() {
                writeln!(
                    out,
                    "no rules (add some with: geoconsole rules add RULES.toml)"
                )?;
            }
            for r in rules {
                let on = if r.enabled { "on " } else { "off" };
                writeln!(
                    out,
                    "{on} {:<32} {:<8} {}",
                    r.id,
                    r.severity.as_str(),
                    serde_json::to_string(&r.when)?
                )?;
            }
        }
        RulesCommand::Add { file } => {
            for rule in read_rules(file)? {
                let saved = console.alerts().put_rule(rule).await?;
                writeln!(out, "saved rule {}", saved.id)?;
            }
        }
        RulesCommand::Delete { id } => {
            console.alerts().delete_rule(id).await?;
            writeln!(out, "deleted rule {id}")?;
        }
        RulesCommand::DryRun {
            file,
            datetime,
            top,
        } => {
            let window = datetime.as_deref().map(DateTimeFilter::parse).transpose()?;
            let mut runs = Vec::new();
            for rule in read_rules(file)? {
                runs.push(console.alerts().dry_run(rule, window).await?);
            }
            if cli.json {
                serde_json::to_writer_pretty(&mut out, &runs)?;
                writeln!(out)?;
                return Ok(());
            }
            for run in runs {
                writeln!(
                    out,
                    "{}: would have raised {} alerts",
                    run.rule.id, run.would_raise
                )?;
                for a in run.alerts.iter().take(*top) {
                    writeln!(out, "  {}", a.title)?;
                }
                if run.alerts.len() > *top {
                    writeln!(
                        out,
                        "  … and {} more (--top N, or --json)",
                        run.alerts.len() - top
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn print(out: &mut impl Write, a: &AlertRecord, json: bool) -> Result<()> {
    if json {
        serde_json::to_writer(&mut *out, a)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "#{:<6} {} {:<12} {:<8} {}",
            a.seq,
            a.alert.raised.format("%Y-%m-%d %H:%M"),
            a.state.as_str(),
            a.alert.severity,
            a.alert.title
        )?;
    }
    out.flush()?;
    Ok(())
}

fn disposition(text: &str) -> Result<Disposition> {
    Disposition::parse(text).ok_or_else(|| {
        anyhow!(
            "disposition '{text}' is not one of: relevant, no_impact, false_positive, duplicate"
        )
    })
}

pub async fn alerts(console: &Console, command: &AlertsCommand, cli: &Cli) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        AlertsCommand::List { state, rule, limit } => {
            let state = state
                .as_deref()
                .map(|s| {
                    AlertState::parse(s).ok_or_else(|| {
                        anyhow!("state '{s}' is not one of: open, acknowledged, resolved")
                    })
                })
                .transpose()?;
            let list = console
                .alerts()
                .list(AlertFilter {
                    state,
                    rule: rule.clone(),
                    newest_first: true,
                    limit: *limit,
                    ..AlertFilter::default()
                })
                .await?;
            for a in &list {
                print(&mut out, a, cli.json)?;
            }
        }
        AlertsCommand::Tail { after, once } => {
            let mut last = match after {
                Some(n) => *n,
                None => console
                    .alerts()
                    .list(AlertFilter {
                        newest_first: true,
                        limit: 1,
                        ..AlertFilter::default()
                    })
                    .await?
                    .first()
                    .map_or(0, |a| a.seq),
            };
            loop {
                let batch = console
                    .alerts()
                    .list(AlertFilter {
                        after: Some(last),
                        limit: 1000,
                        ..AlertFilter::default()
                    })
                    .await?;
                for a in &batch {
                    print(&mut out, a, cli.json)?;
                    last = a.seq;
                }
                if *once && batch.len() < 1000 {
                    return Ok(());
                }
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        AlertsCommand::Ack {
            id,
            by,
            disposition: d,
            note,
        } => {
            let a = console
                .alerts()
                .transition(
                    *id,
                    AlertState::Acknowledged,
                    by,
                    Some(disposition(d)?),
                    note.clone(),
                )
                .await?;
            print(&mut out, &a, cli.json)?;
        }
        AlertsCommand::Resolve {
            id,
            by,
            disposition: d,
            note,
        } => {
            let d = d.as_deref().map(disposition).transpose()?;
            let a = console
                .alerts()
                .transition(*id, AlertState::Resolved, by, d, note.clone())
                .await?;
            print(&mut out, &a, cli.json)?;
        }
        AlertsCommand::Deliveries { state } => {
            let state = state
                .as_deref()
                .map(|s| {
                    DeliveryState::parse(s).ok_or_else(|| {
                        anyhow!("state '{s}' is not one of: pending, delivered, dead")
                    })
                })
                .transpose()?;
            let list = console.alerts().store().deliveries(state, 1000).await?;
            if cli.json {
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
                return Ok(());
            }
            for d in list {
                writeln!(
                    out,
                    "{:<6} alert #{:<6} {:<16} {:<9} attempts {}  {}",
                    d.id,
                    d.alert_seq,
                    d.target,
                    d.state.as_str(),
                    d.attempts,
                    d.last_error.unwrap_or_default()
                )?;
            }
        }
    }
    Ok(())
}
