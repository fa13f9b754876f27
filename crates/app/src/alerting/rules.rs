//! Alert rules as their owners write them (TOML under `[[rules]]`, or JSON through the API), and the checks
//! that make a rule safe to run: every dataset exists, every filter compiles against its dataset.

use geoconsole_analytics::Period;
use geoconsole_model::{Dataset, DatasetId, DatasetKind};
use geoconsole_query::FilterLang;
use serde::{Deserialize, Serialize};

use crate::{AppError, AppErrorKind, AppResult};

/// One rule: what to watch (`when`), how loud (`severity`), and whether it runs.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Letters, digits, `_` and `-`, at most 64.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub severity: AlertSeverity,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub when: Condition,
}

fn yes() -> bool {
    true
}

#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Info,
    Minor,
    #[default]
    Major,
    Critical,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }
}

/// What makes a rule fire.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// An event of `hazards` (matching `where`, CQL2 text) whose footprint reaches a site of `sites`
    /// (matching `site_where`): "earthquakes where mag >= 5.5 reaching any site of type warehouse". One
    /// alert per rule × site × event.
    Exposure {
        hazards: Vec<String>,
        #[serde(default, rename = "where")]
        filter: Option<String>,
        /// Sites datasets; empty means every dataset of kind `sites`.
        #[serde(default)]
        sites: Vec<String>,
        #[serde(default)]
        site_where: Option<String>,
        /// One fixed reach instead of each hazard dataset's impact model.
        #[serde(default)]
        radius_km: Option<f64>,
    },
    /// A site's risk score (the configured model, now) above `above`. One alert per rule × site × day.
    Score {
        above: f64,
        #[serde(default)]
        sites: Vec<String>,
    },
    /// Events of `dataset` near a site running above their baseline (see `/analytics/trends`). One alert
    /// per rule × site × period.
    Anomaly {
        dataset: String,
        #[serde(default = "ten")]
        radius_km: f64,
        #[serde(default = "week")]
        period: Period,
        #[serde(default = "twelve")]
        periods: u32,
        #[serde(default)]
        sum: Option<String>,
        #[serde(default = "two")]
        threshold_sd: f64,
        #[serde(default = "three")]
        min_current: f64,
        #[serde(default)]
        sites: Vec<String>,
    },
    /// A live feed turning `failing` or `late` (or both, the default). One alert per rule × feed × spell:
    /// a feed that keeps failing raises once, and again only after it recovered and failed anew.
    Feed {
        /// Feed names; empty means every feed.
        #[serde(default)]
        feeds: Vec<String>,
        #[serde(default = "failing_or_late")]
        on: Vec<geoconsole_feeds::Status>,
    },
}

fn failing_or_late() -> Vec<geoconsole_feeds::Status> {
    vec![
        geoconsole_feeds::Status::Failing,
        geoconsole_feeds::Status::Late,
    ]
}

fn ten() -> f64 {
    10.0
}
fn week() -> Period {
    Period::Week
}
fn twelve() -> u32 {
    12
}
fn two() -> f64 {
    2.0
}
fn three() -> f64 {
    3.0
}

impl Rule {
    pub fn title(&self) -> String {
        self.title.clone().unwrap_or_else(|| self.id.clone())
    }

    /// The sites datasets the rule names (empty: every sites dataset).
    pub fn site_sets(&self) -> &[String] {
        match &self.when {
            Condition::Exposure { sites, .. }
            | Condition::Score { sites, .. }
            | Condition::Anomaly { sites, .. } => sites,
            Condition::Feed { .. } => &[],
        }
    }

    /// The datasets whose commits make the rule look again. A score rule watches every layer of the risk
    /// model, given here as `risk_layers`.
    pub fn watched(&self, risk_layers: &[String]) -> Vec<String> {
        match &self.when {
            Condition::Exposure { hazards, .. } => hazards.clone(),
            Condition::Score { .. } => risk_layers.to_vec(),
            Condition::Anomaly { dataset, .. } => vec![dataset.clone()],
            // Feeds are watched by their polls, not by commits.
            Condition::Feed { .. } => Vec::new(),
        }
    }

    /// Checks the rule against the datasets that exist: ids, filters, numbers.
    pub fn check(&self, datasets: &[Dataset]) -> AppResult<()> {
        let invalid = |why: String| {
            Err(AppError::new(
                AppErrorKind::Input,
                format!("rule '{}': {why}", self.id),
            ))
        };
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid("the id must be 1 to 64 letters, digits, '_' or '-'".into());
        }
        let find = |id: &str, role: &str| -> AppResult<&Dataset> {
            let wanted = DatasetId::new(id).map_err(|e| {
                AppError::new(
                    AppErrorKind::Input,
                    format!("rule '{}': {role} '{id}': {}", self.id, e.message()),
                )
            })?;
            datasets.iter().find(|d| d.id == wanted).ok_or_else(|| {
                AppError::new(
                    AppErrorKind::Input,
                    format!("rule '{}': {role} dataset '{id}' does not exist", self.id),
                )
            })
        };
        let site_sets: Vec<&Dataset> = if self.site_sets().is_empty() {
            datasets
                .iter()
                .filter(|d| d.kind == DatasetKind::Sites)
                .collect()
        } else {
            self.site_sets()
                .iter()
                .map(|s| find(s, "sites"))
                .collect::<AppResult<_>>()?
        };
        match &self.when {
            Condition::Exposure {
                hazards,
                filter,
                site_where,
                radius_km,
                ..
            } => {
                if hazards.is_empty() {
                    return invalid("name at least one hazards dataset".into());
                }
                for h in hazards {
                    let d = find(h, "hazards")?;
                    if let Some(f) = filter {
                        compile(self, d, f, "where")?;
                    }
                }
                if let Some(f) = site_where {
                    for d in &site_sets {
                        compile(self, d, f, "site_where")?;
                    }
                }
                if let Some(r) = radius_km
                    && !(r.is_finite() && *r > 0.0 && *r <= 1000.0)
                {
                    return invalid(format!("radius_km {r} must be above 0 and at most 1000"));
                }
            }
            Condition::Score { above, .. } => {
                if !(above.is_finite() && *above >= 0.0 && *above < 100.0) {
                    return invalid(format!("above {above} must be from 0 to below 100"));
                }
            }
            Condition::Anomaly {
                dataset,
                radius_km,
                periods,
                threshold_sd,
                ..
            } => {
                find(dataset, "dataset")?;
                if !(radius_km.is_finite() && *radius_km > 0.0 && *radius_km <= 1000.0) {
                    return invalid(format!(
                        "radius_km {radius_km} must be above 0 and at most 1000"
                    ));
                }
                if *periods == 0 || *periods > 520 {
                    return invalid(format!("periods {periods} must be from 1 to 520"));
                }
                if !threshold_sd.is_finite() {
                    return invalid("threshold_sd must be a number".into());
                }
            }
            Condition::Feed { on, .. } => {
                use geoconsole_feeds::Status;
                if on.is_empty()
                    || on
                        .iter()
                        .any(|s| !matches!(s, Status::Failing | Status::Late))
                {
                    return invalid("on must list failing, late or both".into());
                }
            }
        }
        Ok(())
    }
}

fn compile(rule: &Rule, dataset: &Dataset, text: &str, role: &str) -> AppResult<()> {
    crate::reading::compile_filter(dataset, text, FilterLang::Text)
        .map(|_| ())
        .map_err(|e| {
            AppError::new(
                AppErrorKind::Input,
                format!("rule '{}': {role} on '{}': {e}", rule.id, dataset.id),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_toml() {
        let rule: Rule = toml::from_str(
            r#"
id = "quake_near_warehouse"
title = "M5.5+ earthquake reaching a warehouse"
severity = "critical"
[when]
kind = "exposure"
hazards = ["earthquakes"]
where = "mag >= 5.5"
site_where = "site_type = 'warehouse'"
"#,
        )
        .expect("rule");
        assert_eq!(rule.severity, AlertSeverity::Critical);
        assert!(rule.enabled);
        assert_eq!(rule.watched(&[]), vec!["earthquakes"]);
        let bad: Result<Rule, _> = toml::from_str(
            "id = \"x\"\n[when]\nkind = \"exposure\"\nhazards = []\nwehre = \"typo\"\n",
        );
        assert!(bad.is_err(), "unknown keys are refused");
        let anomaly: Rule =
            toml::from_str("id = \"a\"\n[when]\nkind = \"anomaly\"\ndataset = \"incidents\"\n")
                .expect("defaults");
        assert!(matches!(
            anomaly.when,
            Condition::Anomaly { periods: 12, .. }
        ));
    }
}
