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
                println!(
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
            println!("{} — {}", d.id, d.title);
            println!("  kind       {}", d.kind);
            println!(
                "  geometry   {}",
                d.geometry_type.gpkg_name().to_lowercase()
            );
            println!("  features   {}", count(d.feature_count));
            println!("  extent     {}", output::extent(d.extent));
            println!("  time       {}", output::time_span(d.time_extent));
            println!(
                "  time from  {}{}",
                d.time_fields.start.as_deref().unwrap_or("-"),
                d.time_fields
                    .end
                    .as_ref()
                    .map_or(String::new(), |e| format!(" to {e}"))
            );
            println!("  id field   {}", d.id_field.as_deref().unwrap_or("-"));
            println!(
                "  version    {} (created {}, updated {})",
                d.version,
                d.created.format("%Y-%m-%d %H:%M:%S"),
                d.updated.format("%Y-%m-%d %H:%M:%S")
            );
            println!("  source     {}", d.source);
            println!("  properties");
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
            println!("dropped dataset '{id}'");
        }
    }
    Ok(())
}
