//! Trends near sites and explainable risk scores, both computable "as of" a past instant: only events that
//! had begun by then count, aged as they were then.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use geoconsole_access::Scope;
use geoconsole_analytics::{
    AnomalyRule, Assessment, Footprint, HitFactors, LayerContribution, LayerRisk, Period,
    RiskModel, Severity, SiteScore, TrendContribution, assess, boundaries, describe, expose,
    period_of, proximity, rank_scores, recency, trend_share,
};
use geoconsole_index::{Selection, Shape, TimeRange, Walk};
use geoconsole_model::geo_types::Point;
use geoconsole_model::{Dataset, DatasetId, DatasetKind, FieldType};
use geoconsole_query::DateTimeFilter;
use serde::Serialize;
use serde_json::Value;

use crate::{AppError, AppErrorKind, AppResult, Console, ExposureRequest};

/// Pairs of (site, event) a trend may weigh at most; beyond it the radius or history is too large.
const MAX_TREND_PAIRS: usize = 2_000_000;
/// Longest history a trend may look at.
const MAX_PERIODS: u32 = 520;

#[derive(Debug, Clone)]
pub struct TrendRequest {
    /// Sites datasets; empty means every dataset of kind `sites`.
    pub sites: Vec<DatasetId>,
    /// The events counted near each site.
    pub dataset: DatasetId,
    pub radius_km: f64,
    pub period: Period,
    /// Periods of history before the current one.
    pub periods: u32,
    /// The end of the current period; default the end of the dataset's time extent.
    pub end: Option<DateTime<Utc>>,
    /// Sum this numeric property instead of counting.
    pub sum: Option<String>,
    pub rule: AnomalyRule,
}

/// One site's series and how its latest period compares.
#[derive(Debug, Clone, Serialize)]
pub struct SiteTrend {
    pub dataset: String,
    pub site: String,
    pub name: String,
    pub position: [f64; 2],
    /// Oldest first; the last value is the current period.
    pub series: Vec<f64>,
    #[serde(flatten)]
    pub assessment: Assessment,
    pub anomaly: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendReport {
    pub dataset: String,
    pub period: Period,
    /// Period boundaries, oldest first (RFC 3339).
    pub boundaries: Vec<DateTime<Utc>>,
    pub radius_km: f64,
    pub rule: AnomalyRule,
    pub sites_checked: usize,
    /// Flagged sites first (largest deviation first), then the rest with any activity.
    pub sites: Vec<SiteTrend>,
}

impl TrendReport {
    pub fn anomalies(&self) -> impl Iterator<Item = &SiteTrend> {
        self.sites.iter().filter(|s| s.anomaly)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RiskRequest {
    pub sites: Vec<DatasetId>,
    /// The model; default the console's configured one, else [`default_risk_model`].
    pub model: Option<RiskModel>,
    /// Score as of this instant; default now.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskReport {
    pub as_of: DateTime<Utc>,
    pub model: RiskModel,
    pub sites_checked: usize,
    /// Sites with a score above 0, highest first.
    pub sites: Vec<SiteScore>,
}

impl Console {
    /// Counts (or sums) of events near each site per period, the latest period judged against the ones
    /// before it.
    pub async fn trends(&self, scope: &Scope, request: TrendRequest) -> AppResult<TrendReport> {
        if !(request.radius_km.is_finite()
            && request.radius_km > 0.0
            && request.radius_km <= 1000.0)
        {
            return Err(input(format!(
                "radius_km {} must be above 0 and at most 1000",
                request.radius_km
            )));
        }
        if request.periods == 0 || request.periods > MAX_PERIODS {
            return Err(input(format!(
                "periods {} must be between 1 and {MAX_PERIODS}",
                request.periods
            )));
        }
        let events = self.dataset(scope, &request.dataset).await?;
        let end = match request.end {
            Some(t) => t,
            None => events.time_extent.map(|t| t.end).ok_or_else(|| {
                input(format!(
                    "dataset '{}' has no times to make a series of",
                    events.id
                ))
            })?,
        };
        // The history and the current period.
        let bounds = boundaries(end, request.period, request.periods + 1).map_err(input)?;
        let (first, last) = (bounds[0], bounds[bounds.len() - 1]);

        let sites = self.sites_of(scope, &request.sites).await?;
        let positions: Vec<Point<f64>> = sites.iter().map(|s| s.position).collect();

        let snapshot = self.snapshot_for(scope, &events.id).await?;
        let selection = Selection {
            bbox: None,
            time: Some(TimeRange {
                start: Some(first),
                end: Some(last - 1),
            }),
        };
        let mut chosen = Vec::new();
        snapshot.for_each_selected(&selection, Walk::After(None), |slot| {
            // A series counts each event in the period it began in.
            if let Some((start, _)) = snapshot.time(slot)
                && let Some(p) = period_of(&bounds, start)
                && snapshot.shape(slot).is_some()
            {
                chosen.push((slot, p));
            }
            std::ops::ControlFlow::Continue(())
        });
        let mut weights = vec![1.0; chosen.len()];
        if let Some(property) = &request.sum {
            let numeric = events.schema.fields().iter().any(|f| {
                &f.name == property && matches!(f.field_type, FieldType::Integer | FieldType::Real)
            });
            if !numeric {
                return Err(input(format!(
                    "sum: dataset '{}' has no numeric property '{property}'",
                    events.id
                )));
            }
            let keys: Vec<i64> = chosen.iter().map(|(slot, _)| snapshot.key(*slot)).collect();
            let mut values = HashMap::with_capacity(keys.len());
            for chunk in keys.chunks(10_000) {
                for (key, f) in self
                    .store()
                    .features_by_key(&events.id, chunk.to_vec())
                    .await?
                {
                    let v = f
                        .properties
                        .get(property)
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    values.insert(key, v);
                }
            }
            for (w, key) in weights.iter_mut().zip(&keys) {
                *w = values.get(key).copied().unwrap_or(0.0);
            }
        }
        let radius_m = request.radius_km * 1000.0;
        let footprints: Vec<Footprint> = chosen
            .iter()
            .map(|(slot, _)| {
                // `chosen` holds located slots only.
                let geometry =
                    snapshot.shape(*slot).map_or_else(
                        || {
                            geoconsole_model::geo_types::Geometry::GeometryCollection(
                                Default::default(),
                            )
                        },
                        |s| s.to_geometry(),
                    );
                match geometry {
                    geoconsole_model::geo_types::Geometry::Point(centre) => {
                        Footprint::Circle { centre, radius_m }
                    }
                    other => Footprint::Area {
                        geometry: other,
                        buffer_m: radius_m,
                    },
                }
            })
            .collect();
        let periods = request.periods as usize + 1;
        let pairs = tokio::task::spawn_blocking(move || expose(&positions, &footprints, MAX_TREND_PAIRS))
            .await
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("trend failed: {e}")))?
            .ok_or_else(|| {
                input(format!(
                    "more than {MAX_TREND_PAIRS} site-event pairs: choose a smaller radius or a shorter history"
                ))
            })?;
        let mut series: HashMap<usize, Vec<f64>> = HashMap::new();
        for r in pairs {
            let (_, p) = chosen[r.event];
            series.entry(r.site).or_insert_with(|| vec![0.0; periods])[p] += weights[r.event];
        }
        let what = request.sum.clone().unwrap_or_else(|| "events".into());
        let what = format!("{what} ({})", events.id);
        let place_km = trim(request.radius_km);
        let mut out: Vec<SiteTrend> = series
            .into_iter()
            .filter_map(|(i, series)| {
                let site = &sites[i];
                let assessment = assess(&series)?;
                let anomaly = request.rule.flags(&assessment);
                let reason = describe(
                    &assessment,
                    &what,
                    &format!("within {place_km} km of {}", site.name),
                    request.period,
                    end,
                );
                Some(SiteTrend {
                    dataset: site.dataset.clone(),
                    site: site.id.clone(),
                    name: site.name.clone(),
                    position: [site.position.x(), site.position.y()],
                    series,
                    assessment,
                    anomaly,
                    reason,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.anomaly
                .cmp(&a.anomaly)
                .then(b.assessment.z.total_cmp(&a.assessment.z))
                .then(a.site.cmp(&b.site))
        });
        Ok(TrendReport {
            dataset: events.id.to_string(),
            period: request.period,
            boundaries: bounds
                .iter()
                .filter_map(|ms| DateTime::<Utc>::from_timestamp_millis(*ms))
                .collect(),
            radius_km: request.radius_km,
            rule: request.rule,
            sites_checked: sites.len(),
            sites: out,
        })
    }

    /// Every site's score under `model` as of an instant, with its breakdown. Events count from when they
    /// began; what began after `as_of` is not used, so a past score is what the data then supported.
    pub async fn risk(&self, scope: &Scope, request: RiskRequest) -> AppResult<RiskReport> {
        let datasets = self.datasets(scope).await?;
        let model = match request.model.or_else(|| self.risk_model()) {
            Some(m) => m,
            None => default_risk_model(&datasets),
        };
        check_model(&model, &datasets)?;
        let as_of = request.as_of.unwrap_or_else(Utc::now);
        let since = as_of
            .checked_sub_signed(Duration::milliseconds(
                (model.lookback_hours * 3_600_000.0) as i64,
            ))
            .ok_or_else(|| {
                input("risk model: as_of minus lookback_hours is before the calendar's start")
            })?;
        let as_of_ms = as_of.timestamp_millis();

        let sites = self.sites_of(scope, &request.sites).await?;
        let mut scores: HashMap<(String, String), SiteScore> = sites
            .iter()
            .map(|s| {
                (
                    (s.dataset.clone(), s.id.clone()),
                    SiteScore {
                        dataset: s.dataset.clone(),
                        site: s.id.clone(),
                        name: s.name.clone(),
                        site_type: s.site_type.clone(),
                        position: [s.position.x(), s.position.y()],
                        score: 0.0,
                        layers: Vec::new(),
                        trend: None,
                        explanation: Vec::new(),
                    },
                )
            })
            .collect();

        for layer in &model.layers {
            let report = self
                .exposure_of(
                    scope,
                    ExposureRequest {
                        sites: request.sites.clone(),
                        hazards: vec![
                            DatasetId::new(&layer.dataset).map_err(|e| input(e.to_string()))?,
                        ],
                        datetime: Some(DateTimeFilter {
                            start: Some(since),
                            end: Some(as_of),
                        }),
                        ..ExposureRequest::default()
                    },
                    true,
                )
                .await?;
            for exposed in &report.exposure.exposed {
                let Some(score) = scores.get_mut(&(exposed.dataset.clone(), exposed.site.clone()))
                else {
                    continue;
                };
                let hits = exposed
                    .hits
                    .iter()
                    .filter_map(|h| {
                        let props = report.met.get(&(h.dataset.clone(), h.event.clone()));
                        let (severity, severity_basis) =
                            props.map_or((0.0, "unknown".into()), |p| layer.severity.assess(p));
                        let recency = h.time.map_or(1.0, |t| {
                            recency(
                                t.start.timestamp_millis(),
                                t.end.timestamp_millis(),
                                as_of_ms,
                                layer.half_life_hours,
                            )
                        });
                        let proximity = proximity(h.distance_m, h.reach_m);
                        let value = severity * proximity * recency;
                        (value > 0.0).then(|| HitFactors {
                            event: h.event.clone(),
                            severity,
                            severity_basis,
                            proximity,
                            recency,
                            value,
                            reason: h.reason.clone(),
                        })
                    })
                    .collect::<Vec<_>>();
                if !hits.is_empty() {
                    score.layers.push(LayerContribution::from_hits(
                        layer,
                        score.site_type.as_deref(),
                        hits,
                    ));
                }
            }
        }

        if let Some(trend) = &model.trend {
            let report = self
                .trends(
                    scope,
                    TrendRequest {
                        sites: request.sites.clone(),
                        dataset: DatasetId::new(&trend.dataset)
                            .map_err(|e| input(e.to_string()))?,
                        radius_km: trend.radius_km,
                        period: trend.period,
                        periods: trend.periods,
                        end: Some(as_of),
                        sum: trend.sum.clone(),
                        rule: AnomalyRule::default(),
                    },
                )
                .await?;
            for t in &report.sites {
                let share = trend_share(t.assessment.z, trend.full_at_sd);
                if share <= 0.0 {
                    continue;
                }
                if let Some(score) = scores.get_mut(&(t.dataset.clone(), t.site.clone())) {
                    score.trend = Some(TrendContribution {
                        dataset: trend.dataset.clone(),
                        weight: trend.weight,
                        points: trend.weight * share,
                        z: t.assessment.z,
                        reason: t.reason.clone(),
                    });
                }
            }
        }

        let mut ranked: Vec<SiteScore> = scores
            .into_values()
            .map(SiteScore::total)
            .filter(|s| s.score > 0.0)
            .collect();
        rank_scores(&mut ranked);
        Ok(RiskReport {
            as_of,
            model,
            sites_checked: sites.len(),
            sites: ranked,
        })
    }

    /// Every point site of the chosen datasets with its id, name and type.
    pub(crate) async fn sites_of(
        &self,
        scope: &Scope,
        wanted: &[DatasetId],
    ) -> AppResult<Vec<SiteRef>> {
        let all = self.datasets(scope).await?;
        let sets = crate::visibility::choose(&all, scope, wanted, DatasetKind::Sites, "sites")?;
        let mut out = Vec::new();
        for d in &sets {
            let snapshot = self.snapshot_for(scope, &d.id).await?;
            let mut keys = Vec::new();
            let mut positions = HashMap::new();
            for slot in 0..snapshot.len() as u32 {
                if let Some(Shape::Point([x, y])) = snapshot.shape(slot) {
                    keys.push(snapshot.key(slot));
                    positions.insert(snapshot.key(slot), Point::new(x, y));
                }
            }
            for chunk in keys.chunks(10_000) {
                for (key, f) in self.store().features_by_key(&d.id, chunk.to_vec()).await? {
                    let text = |names: &[&str]| {
                        names.iter().find_map(|n| {
                            f.properties
                                .get(*n)
                                .and_then(Value::as_str)
                                .map(str::trim)
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                        })
                    };
                    out.push(SiteRef {
                        dataset: d.id.to_string(),
                        id: f
                            .id
                            .as_ref()
                            .map_or_else(|| key.to_string(), ToString::to_string),
                        name: text(&["name", "site_name", "title"])
                            .unwrap_or_else(|| key.to_string()),
                        site_type: text(&SITE_TYPE_NAMES),
                        position: positions[&key],
                        feature: f,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Property names read as a site's type.
const SITE_TYPE_NAMES: [&str; 3] = ["site_type", "type", "kind"];

/// A site as analyses and rules see it: where it is, what it is called, and its whole feature (for rule
/// filters on its properties).
#[derive(Debug, Clone)]
pub(crate) struct SiteRef {
    pub dataset: String,
    pub id: String,
    pub name: String,
    pub site_type: Option<String>,
    pub position: Point<f64>,
    pub feature: geoconsole_model::Feature,
}

fn input(message: impl Into<String>) -> AppError {
    AppError::new(AppErrorKind::Input, message)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Every layer and the trend must name an events dataset that exists, with sane numbers.
/// Hours a risk model may look back or take to halve: a century.
const MAX_HOURS: f64 = 876_000.0;

fn check_model(model: &RiskModel, datasets: &[Dataset]) -> AppResult<()> {
    let exists = |id: &str, role: &str| {
        if datasets.iter().any(|d| d.id.as_str() == id) {
            Ok(())
        } else {
            Err(AppError::new(
                AppErrorKind::Input,
                format!("risk model: {role} dataset '{id}' does not exist"),
            ))
        }
    };
    for l in &model.layers {
        exists(&l.dataset, "layer")?;
        if !(l.weight.is_finite()
            && l.weight >= 0.0
            && l.half_life_hours > 0.0
            && l.half_life_hours <= MAX_HOURS)
        {
            return Err(input(format!(
                "risk model: layer '{}' needs a weight ≥ 0 and a half_life_hours above 0 and at most {MAX_HOURS}",
                l.dataset
            )));
        }
    }
    if let Some(t) = &model.trend {
        exists(&t.dataset, "trend")?;
        if !(t.weight.is_finite()
            && t.weight >= 0.0
            && t.full_at_sd.is_finite()
            && t.full_at_sd > 0.0
            && t.radius_km > 0.0
            && t.radius_km <= 20_000.0
            && (1..=520).contains(&t.periods))
        {
            return Err(input(
                "risk model: the trend needs a weight ≥ 0, full_at_sd above 0, radius_km above 0 and at most 20000, and 1 to 520 periods",
            ));
        }
    }
    // Hours become a time span subtracted from the score's instant; a span beyond the calendar overflowed.
    if !(model.lookback_hours > 0.0 && model.lookback_hours <= MAX_HOURS) {
        return Err(input(format!(
            "risk model: lookback_hours must be above 0 and at most {MAX_HOURS} (100 years)"
        )));
    }
    Ok(())
}

/// The model used when none is configured: every events dataset counts equally (100 in all), its
/// severity read the way its fields suggest: a magnitude from 4 to 7, CAP severity/urgency/certainty,
/// fire radiative power from 0 to 100 MW, else every event alike.
pub fn default_risk_model(datasets: &[Dataset]) -> RiskModel {
    let events: Vec<&Dataset> = datasets
        .iter()
        .filter(|d| d.kind == DatasetKind::Events)
        .collect();
    let weight = if events.is_empty() {
        0.0
    } else {
        100.0 / events.len() as f64
    };
    let layers = events
        .iter()
        .map(|d| {
            let has = |name: &str| {
                d.schema
                    .fields()
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(name))
            };
            let severity = if let Some(m) = ["mag", "magnitude"].into_iter().find(|n| has(n)) {
                Severity::Linear {
                    property: m.into(),
                    min: 4.0,
                    max: 7.0,
                }
            } else if has("severity") && has("urgency") && has("certainty") {
                Severity::Cap
            } else if has("frp") {
                Severity::Linear {
                    property: "frp".into(),
                    min: 0.0,
                    max: 100.0,
                }
            } else {
                Severity::Uniform
            };
            LayerRisk {
                dataset: d.id.to_string(),
                weight: (weight * 10.0).round() / 10.0,
                severity,
                half_life_hours: 48.0,
                site_types: Default::default(),
            }
        })
        .collect();
    RiskModel {
        layers,
        lookback_hours: 24.0 * 14.0,
        trend: None,
    }
}
