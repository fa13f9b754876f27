//! Explainable risk scores: every hit on a site becomes a value in [0, 1] from three factors anyone can check
//! (how severe the event is, how close to the site within its reach, how recent), each hazard layer adds at
//! most its weight, and the trend of incidents near the site adds at most its own. The score is the sum,
//! capped at 100, and always travels with its breakdown.

use std::collections::BTreeMap;

use geoconsole_model::Properties;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole scoring model: one entry per hazard layer that counts, plus an optional trend term.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskModel {
    pub layers: Vec<LayerRisk>,
    /// Events that began more than this long before the score's time no longer count.
    #[serde(default = "default_lookback_hours")]
    pub lookback_hours: f64,
    #[serde(default)]
    pub trend: Option<TrendRisk>,
}

fn default_lookback_hours() -> f64 {
    24.0 * 14.0
}

/// How one hazard layer adds to a site's score.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerRisk {
    pub dataset: String,
    /// Most this layer can add (the layers' weights usually sum to 100 with the trend's).
    pub weight: f64,
    #[serde(default)]
    pub severity: Severity,
    /// A hit's recency halves every this many hours after the event ends (an active event is fully recent).
    #[serde(default = "default_half_life_hours")]
    pub half_life_hours: f64,
    /// Per site type, a multiplier on the layer's weight (e.g. warehouses suffer floods more than offices);
    /// types not listed get 1.
    #[serde(default)]
    pub site_types: BTreeMap<String, f64>,
}

fn default_half_life_hours() -> f64 {
    48.0
}

/// The trend term: incidents near a site running above their own baseline.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendRisk {
    pub dataset: String,
    pub weight: f64,
    /// The deviation (in baseline standard deviations) at which the full weight applies; it grows linearly
    /// from 0 at the baseline mean.
    #[serde(default = "default_full_at_sd")]
    pub full_at_sd: f64,
    /// Events within this distance of a site count towards its series.
    #[serde(default = "default_trend_radius_km")]
    pub radius_km: f64,
    #[serde(default = "default_period")]
    pub period: crate::Period,
    /// Periods of history the current one is judged against.
    #[serde(default = "default_periods")]
    pub periods: u32,
    /// Sum this numeric property instead of counting events (e.g. monthly incident counts).
    #[serde(default)]
    pub sum: Option<String>,
}

fn default_trend_radius_km() -> f64 {
    10.0
}

fn default_period() -> crate::Period {
    crate::Period::Week
}

fn default_periods() -> u32 {
    12
}

fn default_full_at_sd() -> f64 {
    3.0
}

/// How an event's own properties say how bad it is, as a number in [0, 1].
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Severity {
    /// Every event is equally severe.
    #[default]
    Uniform,
    /// A numeric property mapped linearly: `min` → 0, `max` → 1, clamped (magnitude 4–7, fire radiative
    /// power 0–100 MW).
    Linear {
        property: String,
        min: f64,
        max: f64,
    },
    /// A text property looked up in a table (case-insensitive); values not listed get `other`.
    Table {
        property: String,
        values: BTreeMap<String, f64>,
        #[serde(default)]
        other: f64,
    },
    /// CAP 1.2: the product of severity, urgency and certainty, each from the standard's words.
    Cap,
}

/// CAP 1.2 words and the weight each gets (unknown or missing words count as the middle of the scale).
const CAP_SEVERITY: [(&str, f64); 5] = [
    ("extreme", 1.0),
    ("severe", 0.75),
    ("moderate", 0.5),
    ("minor", 0.25),
    ("unknown", 0.5),
];
const CAP_URGENCY: [(&str, f64); 5] = [
    ("immediate", 1.0),
    ("expected", 0.8),
    ("future", 0.5),
    ("past", 0.2),
    ("unknown", 0.5),
];
const CAP_CERTAINTY: [(&str, f64); 5] = [
    ("observed", 1.0),
    ("likely", 0.8),
    ("possible", 0.5),
    ("unlikely", 0.2),
    ("unknown", 0.5),
];

impl Severity {
    /// The event's severity with the words that explain it ("magnitude 6.1", "Severe/Expected/Likely").
    pub fn assess(&self, properties: &Properties) -> (f64, String) {
        match self {
            Self::Uniform => (1.0, "any event".into()),
            Self::Linear { property, min, max } => {
                match properties.get(property).and_then(number) {
                    Some(v) => {
                        let s = if max > min {
                            ((v - min) / (max - min)).clamp(0.0, 1.0)
                        } else {
                            f64::from(u8::from(v >= *min))
                        };
                        (s, format!("{property} {}", trim(v)))
                    }
                    None => (0.0, format!("no {property}")),
                }
            }
            Self::Table {
                property,
                values,
                other,
            } => {
                let word = properties.get(property).and_then(Value::as_str);
                let found = word.and_then(|w| {
                    values
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(w.trim()))
                        .map(|(_, v)| *v)
                });
                (
                    found.unwrap_or(*other).clamp(0.0, 1.0),
                    format!("{property} {}", word.unwrap_or("missing")),
                )
            }
            Self::Cap => {
                let word = |name: &str, table: &[(&str, f64)]| {
                    let w = properties
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or("Unknown");
                    let v = table
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(w.trim()))
                        .map_or(0.5, |(_, v)| *v);
                    (v, w.to_string())
                };
                let (s, sw) = word("severity", &CAP_SEVERITY);
                let (u, uw) = word("urgency", &CAP_URGENCY);
                let (c, cw) = word("certainty", &CAP_CERTAINTY);
                (s * u * c, format!("{sw}/{uw}/{cw}"))
            }
        }
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Closeness within the footprint: 1 at (or inside) the event, falling linearly to 0 at the edge of its
/// reach.
pub fn proximity(distance_m: f64, reach_m: f64) -> f64 {
    if distance_m <= 0.0 {
        1.0
    } else if reach_m <= 0.0 {
        0.0
    } else {
        (1.0 - distance_m / reach_m).clamp(0.0, 1.0)
    }
}

/// Recency at the score's time: 1 while the event is active, halving every `half_life_hours` after it ends;
/// 0 for an event that had not begun.
pub fn recency(start_ms: i64, end_ms: i64, as_of_ms: i64, half_life_hours: f64) -> f64 {
    if start_ms > as_of_ms {
        return 0.0;
    }
    if end_ms >= as_of_ms || half_life_hours <= 0.0 {
        return f64::from(u8::from(end_ms >= as_of_ms));
    }
    let hours = (as_of_ms - end_ms) as f64 / 3_600_000.0;
    0.5f64.powf(hours / half_life_hours)
}

/// Several hits on one layer: each value is read as a chance of harm and combined as "at least one
/// happens", so more events add less and less and the layer never exceeds its weight.
pub fn combine(values: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - values
        .into_iter()
        .fold(1.0, |spared, v| spared * (1.0 - v.clamp(0.0, 1.0)))
}

/// The trend term's share of its weight for a deviation of `z` baseline standard deviations.
pub fn trend_share(z: f64, full_at_sd: f64) -> f64 {
    if full_at_sd <= 0.0 {
        return f64::from(u8::from(z > 0.0));
    }
    (z / full_at_sd).clamp(0.0, 1.0)
}

/// One hit's factors, as shown in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitFactors {
    pub event: String,
    pub severity: f64,
    pub severity_basis: String,
    pub proximity: f64,
    pub recency: f64,
    /// severity × proximity × recency.
    pub value: f64,
    pub reason: String,
}

/// One layer's share of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerContribution {
    pub dataset: String,
    pub weight: f64,
    /// The layer's weight after the site type's multiplier.
    pub effective_weight: f64,
    pub points: f64,
    pub hits: usize,
    /// The hits that count most, largest value first (at most [`TOP_HITS`]).
    pub top: Vec<HitFactors>,
}

/// Hits listed per layer in a breakdown.
pub const TOP_HITS: usize = 3;

impl LayerContribution {
    /// The layer's points from all its hits on one site.
    pub fn from_hits(
        layer: &LayerRisk,
        site_type: Option<&str>,
        mut hits: Vec<HitFactors>,
    ) -> Self {
        let multiplier = site_type
            .and_then(|t| {
                layer
                    .site_types
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(t))
            })
            .map_or(1.0, |(_, m)| *m)
            .max(0.0);
        let effective_weight = layer.weight * multiplier;
        let points = effective_weight * combine(hits.iter().map(|h| h.value));
        let count = hits.len();
        hits.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.event.cmp(&b.event)));
        hits.truncate(TOP_HITS);
        Self {
            dataset: layer.dataset.clone(),
            weight: layer.weight,
            effective_weight,
            points,
            hits: count,
            top: hits,
        }
    }
}

/// The trend's share of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendContribution {
    pub dataset: String,
    pub weight: f64,
    pub points: f64,
    pub z: f64,
    pub reason: String,
}

/// A site's score with everything that made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteScore {
    pub dataset: String,
    pub site: String,
    pub name: String,
    pub site_type: Option<String>,
    pub position: [f64; 2],
    /// 0–100.
    pub score: f64,
    pub layers: Vec<LayerContribution>,
    pub trend: Option<TrendContribution>,
    /// The largest contributions in words, largest first.
    pub explanation: Vec<String>,
}

impl SiteScore {
    /// Sums the parts (capped at 100) and writes the explanation.
    pub fn total(mut self) -> Self {
        let mut parts: Vec<(f64, String)> = Vec::new();
        // Parts that round to nothing at one decimal would only clutter the explanation.
        const NOTABLE: f64 = 0.05;
        for l in &self.layers {
            if l.points >= NOTABLE
                && let Some(top) = l.top.first()
            {
                let more = if l.hits > 1 {
                    format!(" (+{} more)", l.hits - 1)
                } else {
                    String::new()
                };
                parts.push((
                    l.points,
                    format!(
                        "{:.1} of {:.0} from {}: {}{more}",
                        l.points, l.effective_weight, l.dataset, top.reason
                    ),
                ));
            }
        }
        if let Some(t) = &self.trend
            && t.points >= NOTABLE
        {
            parts.push((
                t.points,
                format!(
                    "{:.1} of {:.0} from the trend: {}",
                    t.points, t.weight, t.reason
                ),
            ));
        }
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let sum: f64 = self.layers.iter().map(|l| l.points).sum::<f64>()
            + self.trend.as_ref().map_or(0.0, |t| t.points);
        self.score = (sum.min(100.0) * 10.0).round() / 10.0;
        self.explanation = parts.into_iter().map(|(_, s)| s).collect();
        self
    }
}

/// Highest score first; ties by site id so the order is stable.
pub fn rank_scores(scores: &mut [SiteScore]) {
    scores.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.dataset.cmp(&b.dataset))
            .then(a.site.cmp(&b.site))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        v.as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    #[test]
    fn severity_reads_numbers_words_and_cap() {
        let lin = Severity::Linear {
            property: "mag".into(),
            min: 4.0,
            max: 7.0,
        };
        assert_eq!(lin.assess(&props(json!({"mag": 5.5}))).0, 0.5);
        assert_eq!(lin.assess(&props(json!({"mag": 9}))).0, 1.0);
        assert_eq!(lin.assess(&props(json!({}))).0, 0.0);
        let cap = Severity::Cap.assess(&props(
            json!({"severity": "Severe", "urgency": "Expected", "certainty": "likely"}),
        ));
        assert!((cap.0 - 0.75 * 0.8 * 0.8).abs() < 1e-12);
        assert_eq!(cap.1, "Severe/Expected/likely");
        let table = Severity::Table {
            property: "level".into(),
            values: [("red".to_string(), 1.0), ("orange".to_string(), 0.6)].into(),
            other: 0.1,
        };
        assert_eq!(table.assess(&props(json!({"level": "Orange"}))).0, 0.6);
        assert_eq!(table.assess(&props(json!({"level": "green"}))).0, 0.1);
    }

    #[test]
    fn factors_decay_with_distance_and_time() {
        assert_eq!(proximity(0.0, 10_000.0), 1.0);
        assert_eq!(proximity(5_000.0, 10_000.0), 0.5);
        assert_eq!(proximity(20_000.0, 10_000.0), 0.0);
        let hour = 3_600_000;
        assert_eq!(recency(0, 10 * hour, 5 * hour, 24.0), 1.0, "active");
        assert_eq!(
            recency(10 * hour, 20 * hour, 5 * hour, 24.0),
            0.0,
            "not begun"
        );
        assert!((recency(0, 0, 24 * hour, 24.0) - 0.5).abs() < 1e-12);
        assert!((combine([0.5, 0.5]) - 0.75).abs() < 1e-12);
        assert_eq!(combine([]), 0.0);
        assert_eq!(trend_share(1.5, 3.0), 0.5);
        assert_eq!(trend_share(-1.0, 3.0), 0.0);
    }

    #[test]
    fn a_score_is_its_parts_capped_at_100_and_explained() {
        let layer = LayerRisk {
            dataset: "quakes".into(),
            weight: 60.0,
            severity: Severity::Uniform,
            half_life_hours: 48.0,
            site_types: [("warehouse".to_string(), 2.0)].into(),
        };
        let hit = |event: &str, value: f64| HitFactors {
            event: event.into(),
            severity: 1.0,
            severity_basis: "any event".into(),
            proximity: value,
            recency: 1.0,
            value,
            reason: format!("{event} nearby"),
        };
        let office = LayerContribution::from_hits(
            &layer,
            Some("office"),
            vec![hit("a", 0.5), hit("b", 0.5)],
        );
        assert!((office.points - 45.0).abs() < 1e-9);
        assert_eq!(office.top[0].event, "a");
        let warehouse =
            LayerContribution::from_hits(&layer, Some("Warehouse"), vec![hit("a", 1.0)]);
        assert_eq!(warehouse.points, 120.0);
        let score = SiteScore {
            dataset: "sites".into(),
            site: "s1".into(),
            name: "S1".into(),
            site_type: Some("warehouse".into()),
            position: [0.0, 0.0],
            score: 0.0,
            layers: vec![warehouse],
            trend: None,
            explanation: Vec::new(),
        }
        .total();
        assert_eq!(score.score, 100.0);
        assert_eq!(
            score.explanation,
            vec!["120.0 of 120 from quakes: a nearby"]
        );
    }

    #[test]
    fn models_read_from_toml() {
        let model: RiskModel = toml_like(json!({
            "layers": [{"dataset": "earthquakes", "weight": 40,
                        "severity": {"kind": "linear", "property": "mag", "min": 4, "max": 7}},
                       {"dataset": "warnings", "weight": 30, "severity": {"kind": "cap"}}],
            "trend": {"dataset": "site_incidents", "weight": 30}
        }));
        assert_eq!(model.layers.len(), 2);
        assert_eq!(model.lookback_hours, 336.0);
        assert_eq!(model.trend.map(|t| t.full_at_sd), Some(3.0));
    }

    fn toml_like(v: Value) -> RiskModel {
        serde_json::from_value(v).expect("model parses")
    }
}
