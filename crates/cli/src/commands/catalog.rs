//! `geoconsole catalog`: the built-in catalog of public sources, browsed and added from the command line
//! (the same add as `POST /catalog/{name}/add`).

use std::io::Write;

use anyhow::{Result, anyhow};
use geoconsole_app::{CatalogAdd, Console};
use geoconsole_feeds::catalog::{Catalog, Hazard, Kind, Protocol, Query};

use crate::args::{CatalogCommand, Cli};
use crate::output;

fn parsed<T>(flag: &str, text: Option<&String>, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
    text.map(|t| parse(t).ok_or_else(|| anyhow!("--{flag} '{t}' is not known")))
        .transpose()
}

pub async fn run(console: &Console, command: &CatalogCommand, cli: &Cli) -> Result<()> {
    let catalog = Catalog::builtin();
    let mut out = std::io::stdout().lock();
    match command {
        CatalogCommand::List {
            kind,
            protocol,
            hazard,
            search,
            all,
        } => {
            let query = Query {
                kind: parsed("kind", kind.as_ref(), Kind::parse)?,
                protocol: parsed("protocol", protocol.as_ref(), Protocol::parse)?,
                hazard: parsed("hazard", hazard.as_ref(), Hazard::parse)?,
                text: search.clone(),
                addable_only: !all,
            };
            let entries = catalog.filter(&query);
            if cli.json {
                return output::print_json(&entries);
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        e.protocol.to_string(),
                        e.kind.as_str().to_string(),
                        e.hazard.to_string(),
                        e.update_interval.to_string(),
                        match (&e.needs_key, e.requires_key()) {
                            (Some(_), true) => "needed".into(),
                            (Some(_), false) => "optional".into(),
                            (None, _) => "-".into(),
                        },
                        e.coverage.clone(),
                        e.title.clone(),
                    ]
                })
                .collect();
            drop(out);
            output::print_table(
                &[
                    "NAME", "PROTOCOL", "KIND", "HAZARD", "EVERY", "KEY", "COVERAGE", "TITLE",
                ],
                &rows,
            );
            outln!(
                "{} entries; details: geoconsole catalog show NAME; add one: geoconsole catalog add NAME",
                rows.len()
            );
        }
        CatalogCommand::Show { name } => {
            let entry = catalog.get(name)?;
            if cli.json {
                return output::print_json(entry);
            }
            writeln!(out, "{} ({})", entry.title, entry.name)?;
            writeln!(out, "  publisher    {}", entry.publisher)?;
            writeln!(out, "  url          {}", entry.url)?;
            writeln!(
                out,
                "  protocol     {} ({}), {} every {}",
                entry.protocol,
                if entry.addable() {
                    "read here"
                } else {
                    "no reader here yet"
                },
                entry.kind.as_str(),
                entry.update_interval
            )?;
            writeln!(out, "  hazard       {} in {}", entry.hazard, entry.coverage)?;
            writeln!(out, "  dataset      {}", entry.dataset)?;
            writeln!(out, "  licence      {}", entry.licence)?;
            writeln!(out, "  attribution  {}", entry.attribution)?;
            if let Some(key) = &entry.needs_key {
                writeln!(
                    out,
                    "  key          {}{}: get it at {}; {}",
                    key.name,
                    if key.optional { " (optional)" } else { "" },
                    key.get_at,
                    key.how
                )?;
            }
            if let Some(impact) = &entry.suggested_impact {
                writeln!(out, "  impact       {}", serde_json::to_string(impact)?)?;
            }
            writeln!(
                out,
                "  style        {}",
                serde_json::to_string(&entry.style)?
            )?;
            if let Some(notes) = &entry.notes {
                writeln!(out, "  notes        {notes}")?;
            }
        }
        CatalogCommand::Add {
            name,
            key_env,
            feed_name,
            dataset,
            paused,
        } => {
            let key = match key_env {
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    anyhow!("--key-env: the environment variable '{var}' is not set")
                })?),
                None => None,
            };
            let saved = console
                .feeds()
                .add_from_catalog(
                    name,
                    CatalogAdd {
                        key,
                        name: feed_name.clone(),
                        dataset: dataset.clone(),
                        paused: *paused,
                    },
                )
                .await?;
            if cli.json {
                return output::print_json(&saved);
            }
            writeln!(
                out,
                "added {} as feed {} ({} every {} s into '{}'); a serving console polls it within seconds, or: geoconsole feeds poll-now {}",
                name,
                saved.spec.name,
                saved.spec.format.as_str(),
                saved.spec.interval_s,
                saved.spec.dataset,
                saved.spec.name
            )?;
            for area in &saved.spec.areas {
                writeln!(
                    out,
                    "  it places alerts given by codes on dataset '{}' (add its catalog entry first if it is not loaded)",
                    area.dataset
                )?;
            }
        }
    }
    Ok(())
}
