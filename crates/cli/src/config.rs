//! Layered settings: built-in defaults < `geoconsole.toml` < `GEOCONSOLE_*` environment < flags. Clap merges
//! the environment and flags; this file adds the config file beneath them and warns about keys it does not
//! know, by name, so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The settings a config file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FileConfig {
    /// The store, as `--store` takes it.
    pub store: Option<String>,
    /// Log filter (`warn`, `info`, `geoconsole=debug`, ...), as `GEOCONSOLE_LOG` takes it.
    pub log: Option<String>,
    /// The risk model (`[risk]` with `[[risk.layers]]`), see docs/analytics.md.
    pub risk: Option<geoconsole_analytics::RiskModel>,
    /// Alert rules (`[[rules]]`), saved at start when new or changed.
    pub rules: Vec<geoconsole_app::Rule>,
    /// Webhook targets for alerts (`[[webhooks]]`).
    pub webhooks: Vec<geoconsole_app::Webhook>,
    /// Impact models per hazard dataset (`[impact.<dataset>]`).
    pub impact: std::collections::BTreeMap<String, geoconsole_analytics::ImpactModel>,
    /// Live feeds (`[[feeds]]`), saved at start when new or changed.
    pub feeds: Vec<geoconsole_feeds::FeedSpec>,
    /// What feeds and webhooks may reach beyond the public internet (`[network] allow = [...]`).
    pub network: NetworkConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Addresses (`127.0.0.1`), networks (`10.20.0.0/16`) or host names outbound connections may reach
    /// although they are loopback, private or link-local.
    pub allow: Vec<String>,
}

const KNOWN_KEYS: [&str; 8] = [
    "store", "log", "risk", "rules", "webhooks", "impact", "feeds", "network",
];

/// The file name looked for in the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "geoconsole.toml";

/// Reads the config file named by `--config`, or `./geoconsole.toml` when present. Returns the config and
/// the warnings about unknown keys.
pub fn load(explicit: Option<&Path>) -> Result<(FileConfig, Vec<String>)> {
    let path: PathBuf = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok((FileConfig::default(), Vec::new())),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    parse(&text, &path)
}

fn parse(text: &str, path: &Path) -> Result<(FileConfig, Vec<String>)> {
    let table: toml::Table =
        toml::from_str(text).with_context(|| format!("{}: not valid TOML", path.display()))?;
    let warnings = table
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| {
            format!(
                "{}: unknown setting '{k}' ignored (known: {})",
                path.display(),
                KNOWN_KEYS.join(", ")
            )
        })
        .collect();
    let config: FileConfig = table
        .try_into()
        .with_context(|| format!("{}: invalid setting", path.display()))?;
    Ok((config, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_keys_and_names_unknown_ones() {
        let (config, warnings) = parse(
            "store = \"ops.gpkg\"\nstroe = \"typo.gpkg\"\n",
            Path::new("g.toml"),
        )
        .unwrap();
        assert_eq!(config.store.as_deref(), Some("ops.gpkg"));
        assert_eq!(
            warnings,
            vec![
                "g.toml: unknown setting 'stroe' ignored (known: store, log, risk, rules, webhooks, impact, feeds, network)"
            ]
        );
    }

    #[test]
    fn reads_a_risk_model() {
        let (config, warnings) = parse(
            "[risk]\nlookback_hours = 72\n[[risk.layers]]\ndataset = \"earthquakes\"\nweight = 60\nseverity = { kind = \"linear\", property = \"mag\", min = 4, max = 7 }\n",
            Path::new("g.toml"),
        )
        .unwrap();
        assert!(warnings.is_empty());
        let risk = config.risk.expect("risk model");
        assert_eq!(risk.lookback_hours, 72.0);
        assert_eq!(risk.layers[0].weight, 60.0);
        assert!(parse("[risk]\nlayers = []\nbogus = 1\n", Path::new("g.toml")).is_err());
    }

    #[test]
    fn reads_impact_models_per_dataset() {
        let (config, _) = parse(
            "[impact.earthquakes]\nmodel = \"magnitude\"\nproperty = \"mag\"\nmax_km = 300\n[impact.fires]\nmodel = \"fixed\"\nradius_km = 5\n",
            Path::new("g.toml"),
        )
        .unwrap();
        assert_eq!(config.impact.len(), 2);
        assert!(matches!(
            config.impact["earthquakes"],
            geoconsole_analytics::ImpactModel::Magnitude { max_km, a, .. } if max_km == 300.0 && a == 0.5
        ));
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(parse("store = 3\n", Path::new("g.toml")).is_err());
        assert!(parse("store = \n", Path::new("g.toml")).is_err());
    }
}
