use std::io::Write;

use anyhow::Result;
use geoconsole_app::Console;
use geoconsole_formats::feature_json;
use geoconsole_query::{Cursor, FeatureQuery};
use serde_json::{Value, json};

use crate::args::QueryArgs;
use crate::commands::{dataset_id, query_of};

/// Prints one page as a GeoJSON FeatureCollection; `next` (a foreign member) continues the listing.
pub async fn run(console: &Console, args: &QueryArgs) -> Result<()> {
    let mut query = query_of(&args.filter, Some(FeatureQuery::checked_limit(args.limit)?))?;
    query.cursor = args.cursor.clone().map(Cursor);
    let page = console
        .query(
            &geoconsole_app::Scope::everything(),
            &dataset_id(&args.dataset)?,
            &query,
        )
        .await?;
    let features = page
        .features
        .iter()
        .map(|f| serde_json::from_str(&feature_json(f)))
        .collect::<Result<Vec<Value>, _>>()?;
    let mut collection = json!({"type": "FeatureCollection", "numberReturned": features.len(), "features": features});
    if let Some(next) = page.next {
        collection["next"] = next.0.into();
    }
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &collection)?;
    writeln!(stdout)?;
    Ok(())
}
