//! Turning a rule and some data into the alerts it raises. Pure over what it is handed (features, indexed
//! sites, reports), so incremental evaluation, catch-up after a crash and dry runs all share it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use geoconsole_analytics::{Footprint, ImpactModel, SiteIndex, reason};
use geoconsole_model::{Dataset, Feature};
use geoconsole_query::Filter;
use geoconsole_store::NewAlert;
use serde_json::json;

use super::rules::Rule;
use crate::analysis::label;
use crate::risk::SiteRef;

/// The sites a rule may alert on, indexed for joins.
#[derive(Debug)]
pub struct SiteSet {
    pub sites: Vec<SiteRef>,
    pub index: SiteIndex,
}

impl SiteSet {
    pub fn new(sites: Vec<SiteRef>) -> Self {
        let index = SiteIndex::new(sites.iter().map(|s| s.position).collect());
        Self { sites, index }
    }
}

/// How an exposure rule reads one hazard dataset: its filter and its impact model.
pub struct HazardPlan<'a> {
    pub dataset: &'a Dataset,
    pub filter: Option<Filter>,
    pub model: ImpactModel,
}

impl<'a> HazardPlan<'a> {
    /// `model` is the dataset's impact model, used unless the rule sets one reach for all.
    pub fn new(
        dataset: &'a Dataset,
        filter: Option<Filter>,
        radius_km: Option<f64>,
        model: ImpactModel,
    ) -> Self {
        let model = match radius_km {
            Some(radius_km) => ImpactModel::Fixed { radius_km },
            None => model,
        };
        Self {
            dataset,
            filter,
            model,
        }
    }
}

/// The alerts an exposure rule raises for these features of one hazard dataset: one per site each event's
/// footprint reaches.
pub fn exposure_alerts(
    rule: &Rule,
    plan: &HazardPlan<'_>,
    features: &[Feature],
    sites: &SiteSet,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let mut chosen: Vec<(&Feature, Footprint)> = Vec::new();
    for f in features {
        if plan.filter.as_ref().is_some_and(|flt| !flt.matches(f)) {
            continue;
        }
        // An unlocated feature has no footprint, so it exposes no site.
        let Some(geometry) = &f.geometry else {
            continue;
        };
        if let Some(footprint) = plan.model.footprint(geometry, &f.properties) {
            chosen.push((f, footprint));
        }
    }
    if chosen.is_empty() || sites.index.is_empty() {
        return Vec::new();
    }
    let footprints: Vec<Footprint> = chosen.iter().map(|(_, fp)| fp.clone()).collect();
    let mut out = Vec::new();
    for r in sites.index.reached_by(&footprints) {
        let (feature, footprint) = &chosen[r.event];
        let site = &sites.sites[r.site];
        let event_id = event_id(feature);
        let what = label(plan.dataset, feature, &event_id);
        let why = reason(&what, footprint, r.distance_m);
        out.push(NewAlert {
            key: format!(
                "{}|{}/{}|{}/{}",
                rule.id, site.dataset, site.id, plan.dataset.id, event_id
            ),
            rule: rule.id.clone(),
            severity: rule.severity.as_str().to_string(),
            title: format!("{}: {} — {why}", rule.title(), site.name),
            site_dataset: Some(site.dataset.clone()),
            site: Some(site.id.clone()),
            event_dataset: Some(plan.dataset.id.to_string()),
            event: Some(event_id),
            position: Some([site.position.x(), site.position.y()]),
            detail: json!({
                "site_name": site.name,
                "site_type": site.site_type,
                "distance_m": (r.distance_m * 10.0).round() / 10.0,
                "reach_m": footprint.reach_m(),
                "model": plan.model.name(),
                "event_time": feature.time,
                "reason": why,
            }),
            raised: now,
        });
    }
    out
}

/// A feature's id, or for a feature without one a digest of its content, so the same event gets the same
/// alert key whether it is seen in an import batch or read back from the store.
pub fn event_id(feature: &Feature) -> String {
    use sha2::Digest;
    match &feature.id {
        Some(id) => id.to_string(),
        None => {
            let mut h = sha2::Sha256::new();
            // The geometry's own debug text, as before geometries became optional, so the ids of stored
            // alerts stay what they were.
            match &feature.geometry {
                Some(geometry) => h.update(format!("{geometry:?}").as_bytes()),
                None => h.update(b"unlocated"),
            }
            h.update(format!("{:?}", feature.time).as_bytes());
            h.update(
                serde_json::to_string(&feature.properties)
                    .unwrap_or_default()
                    .as_bytes(),
            );
            let digest = h.finalize();
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

/// Alerts for sites whose score is above the rule's threshold: one per site per day.
pub fn score_alerts(
    rule: &Rule,
    above: f64,
    report: &crate::RiskReport,
    allowed: &HashMap<(String, String), ()>,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let day = report.as_of.format("%Y-%m-%d");
    report
        .sites
        .iter()
        .filter(|s| s.score > above && allowed.contains_key(&(s.dataset.clone(), s.site.clone())))
        .map(|s| NewAlert {
            key: format!("{}|{}/{}|score|{day}", rule.id, s.dataset, s.site),
            rule: rule.id.clone(),
            severity: rule.severity.as_str().to_string(),
            title: format!(
                "{}: {} scores {:.1} (above {above})",
                rule.title(),
                s.name,
                s.score
            ),
            site_dataset: Some(s.dataset.clone()),
            site: Some(s.site.clone()),
            event_dataset: None,
            event: None,
            position: Some(s.position),
            detail: json!({
                "score": s.score,
                "above": above,
                "as_of": report.as_of,
                "explanation": s.explanation,
            }),
            raised: now,
        })
        .collect()
}

/// Alerts for sites the trend report flags: one per site per period.
pub fn anomaly_alerts(
    rule: &Rule,
    report: &crate::TrendReport,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let end = report
        .boundaries
        .last()
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_default();
    report
        .anomalies()
        .map(|s| NewAlert {
            key: format!("{}|{}/{}|anomaly|{end}", rule.id, s.dataset, s.site),
            rule: rule.id.clone(),
            severity: rule.severity.as_str().to_string(),
            title: format!("{}: {}", rule.title(), s.reason),
            site_dataset: Some(s.dataset.clone()),
            site: Some(s.site.clone()),
            event_dataset: Some(report.dataset.clone()),
            event: None,
            position: Some(s.position),
            detail: json!({
                "series": s.series,
                "current": s.assessment.current,
                "mean": s.assessment.mean,
                "sd": s.assessment.sd,
                "z": s.assessment.z,
                "reason": s.reason,
            }),
            raised: now,
        })
        .collect()
}
