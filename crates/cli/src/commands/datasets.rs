use anyhow::Result;
use geoconsole_app::Console;

use crate::args::{Cli, DatasetsCommand};
use crate::commands::dataset_id;
use crate::output::{self, DATASET_HEADER, count};

pub async fn run(console: &Console, command: &DatasetsCommand, cli: &Cli) -> Result<()> {
    match command {
        DatasetsCommand::List => {
            let datasets = console
                .datasets(&geoconsole_app::Scope::everything())
                .await?;
            if cli.json {
                return output::print_json(&datasets);
            }
            if datasets.is_empty() {
                outln!(
                    "no datasets in {}; add one with `geoconsole import FILE`",
                    console.store().location()
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = datasets.iter().map(output::dataset_row).collect();
            output::print_table(&DATASET_HEADER, &rows);
        }
        DatasetsCommand::Show { dataset } => {
            let d = console
                .dataset(&geoconsole_app::Scope::everything(), &dataset_id(dataset)?)
                .await?;
            if cli.json {
                return output::print_json(&d);
            }
            outln!("{} — {}", d.id, d.title);
            outln!("  kind       {}", d.kind);
            outln!(
                "  geometry   {}",
                d.geometry_type.gpkg_name().to_lowercase()
            );
            outln!("  features   {}", count(d.feature_count));
            outln!("  extent     {}", output::extent(d.extent));
            outln!("  time       {}", output::time_span(d.time_extent));
            outln!(
                "  time from  {}{}",
                d.time_fields.start.as_deref().unwrap_or("-"),
                d.time_fields
                    .end
                    .as_ref()
                    .map_or(String::new(), |e| format!(" to {e}"))
            );
            outln!("  id field   {}", d.id_field.as_deref().unwrap_or("-"));
            outln!(
                "  version    {} (created {}, updated {})",
                d.version,
                d.created.format("%Y-%m-%d %H:%M:%S"),
                d.updated.format("%Y-%m-%d %H:%M:%S")
            );
            outln!("  source     {}", d.source);
            outln!("  properties");
            let rows: Vec<Vec<String>> = d
                .schema
                .fields()
                .iter()
                .map(|f| vec![format!("    {}", f.name), f.field_type.as_str().to_string()])
                .collect();
            output::print_table(&["    NAME", "TYPE"], &rows);
        }
        DatasetsCommand::Drop { dataset } => {
            let id = dataset_id(dataset)?;
            console.drop_dataset(&id).await?;
            if cli.json {
                return output::print_json(&serde_json::json!({"dropped": id}));
            }
            outln!("dropped dataset '{id}'");
        }
    }
    Ok(())
}
