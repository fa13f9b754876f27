//! Adding a catalogued source: the catalog entry's plan (with the caller's key and overrides) becomes a
//! definition in the feed registry, checked and saved as any other. The CLI and the API both call this, so
//! `catalog add` means the same everywhere.

use geoconsole_feeds::catalog::{Catalog, PlanError};
use serde::Deserialize;

use super::{FeedView, Feeds};
use crate::{AppError, AppErrorKind, AppResult};

/// What the person adding a catalogued source may choose.
#[derive(schemars::JsonSchema, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogAdd {
    /// The key the entry needs (NASA FIRMS' MAP_KEY) or takes (a Socrata app token); stored with the
    /// definition and never shown back.
    #[serde(default)]
    #[schemars(length(min = 1, max = 256))]
    pub key: Option<String>,
    /// The feed's name (default: the entry's).
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub name: Option<String>,
    /// The dataset written to (default: the entry's suggestion).
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,62}$"))]
    pub dataset: Option<String>,
    /// Add it paused.
    #[serde(default)]
    pub paused: bool,
}

impl Feeds<'_> {
    /// Saves the catalog entry `entry` as a feed (a paged source for connector protocols).
    pub async fn add_from_catalog(&self, entry: &str, choice: CatalogAdd) -> AppResult<FeedView> {
        let plan = Catalog::builtin()
            .plan(entry, choice.key.as_deref())
            .map_err(|e| {
                let kind = match e {
                    PlanError::NotFound(_) => AppErrorKind::NotFound,
                    _ => AppErrorKind::Invalid,
                };
                AppError::new(kind, e.to_string())
            })?;
        let mut spec = plan.feed_spec().ok_or_else(|| {
            AppError::new(
                AppErrorKind::Invalid,
                format!(
                    "'{entry}' is served as {}, which no connector here reads yet",
                    Catalog::builtin()
                        .get(entry)
                        .map(|e| e.protocol.as_str())
                        .unwrap_or("?")
                ),
            )
        })?;
        if let Some(name) = choice.name {
            spec.name = name;
        }
        if let Some(dataset) = choice.dataset {
            spec.dataset = dataset;
        }
        spec.enabled = !choice.paused;
        // The catalog's URLs are curated public https endpoints; a console being set up offline can add
        // them, and its first poll reports a name that does not resolve.
        self.save_resolving(spec, false, false).await
    }
}
