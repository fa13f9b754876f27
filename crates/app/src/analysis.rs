//! Analyses over the console's datasets, fed from the live index: site exposure to hazard events, with the
//! impact model each hazard dataset gets (configured, overridden by one fixed radius, or its default).

use std::collections::HashMap;

use geoconsole_analytics::{
    CellCount, Event, Exposure, ImpactModel, Site, count_cells, default_model, expose,
};
use geoconsole_index::{Selection, Shape, Walk};
use geoconsole_model::geo_types::Geometry;
use geoconsole_model::{Dataset, DatasetId, DatasetKind, Feature};
use geoconsole_query::{DateTimeFilter, FeatureQuery, MAX_LIMIT};
use serde::Serialize;
use serde_json::Value;

use crate::reading::{ItemsRequest, Page};
use crate::{AppError, AppErrorKind, AppResult, Console};

/// Features read at most per dataset for one analysis; beyond it the answer says it is partial rather than
/// run out of memory.
const MAX_FEATURES: usize = 2_000_000;

#[derive(Debug, Clone, Default)]
pub struct ExposureRequest {
    /// Sites datasets; empty means every dataset of kind `sites`.
    pub sites: Vec<DatasetId>,
    /// Hazard datasets; empty means every dataset of kind `events`.
    pub hazards: Vec<DatasetId>,
    /// Only events active in this window.
    pub datetime: Option<DateTimeFilter>,
    /// One fixed radius for every event instead of the models (for comparison with other tools).
    pub radius_km: Option<f64>,
    /// Models configured per hazard dataset; the rest get [`default_model`].
    pub models: HashMap<DatasetId, ImpactModel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelUsed {
    pub dataset: DatasetId,
    #[serde(flatten)]
    pub model: ImpactModel,
    /// Events of the dataset the model could not place (e.g. no magnitude).
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExposureReport {
    pub models: Vec<ModelUsed>,
    #[serde(flatten)]
    pub exposure: Exposure,
}

impl ExposureReport {
    /// One point per exposed site, with its hits (nearest first) and reasons as properties.
    pub fn to_geojson(&self) -> Value {
        let features: Vec<Value> = self
            .exposure
            .exposed
            .iter()
            .map(|s| {
                serde_json::json!({
                    "type": "Feature",
                    "id": s.site,
                    "geometry": {"type": "Point", "coordinates": s.position},
                    "properties": {
                        "dataset": s.dataset,
                        "name": s.name,
                        "hit_count": s.hits.len(),
                        "nearest_m": s.hits.first().map(|h| h.distance_m),
                        "reasons": s.hits.iter().map(|h| h.reason.as_str()).collect::<Vec<_>>(),
                        "hits": s.hits,
                    },
                })
            })
            .collect();
        serde_json::json!({
            "type": "FeatureCollection",
            "numberReturned": features.len(),
            "sites_checked": self.exposure.sites_checked,
            "events_checked": self.exposure.events_checked,
            "models": self.models,
            "features": features,
        })
    }
}

/// Property names holding a self-explaining title ("M 6.1 - 20 km S of X", "Tornado Warning near Miami").
const TITLE_NAMES: [&str; 2] = ["title", "headline"];
/// Property names holding a bare name, shown after the dataset's title ("Storm wind radii: Aster").
const NAME_NAMES: [&str; 5] = ["event", "name", "storm", "fire", "place"];

impl Console {
    pub async fn exposure(&self, request: ExposureRequest) -> AppResult<ExposureReport> {
        if let Some(r) = request.radius_km
            && !(r.is_finite() && r > 0.0 && r <= 20_000.0)
        {
            return Err(AppError::new(
                AppErrorKind::Input,
                format!("radius_km {r} must be above 0 and at most 20000"),
            ));
        }
        let all = self.datasets().await?;
        let pick =
            |wanted: &[DatasetId], kind: DatasetKind, role: &str| -> AppResult<Vec<Dataset>> {
                if wanted.is_empty() {
                    return Ok(all.iter().filter(|d| d.kind == kind).cloned().collect());
                }
                wanted
                    .iter()
                    .map(|id| {
                        all.iter().find(|d| &d.id == id).cloned().ok_or_else(|| {
                            AppError::new(
                                AppErrorKind::NotFound,
                                format!("{role} dataset '{id}' does not exist"),
                            )
                        })
                    })
                    .collect()
            };
        let site_sets = pick(&request.sites, DatasetKind::Sites, "sites")?;
        let hazard_sets = pick(&request.hazards, DatasetKind::Events, "hazard")?;
        let mut sites = Vec::new();
        for d in &site_sets {
            for f in self.all_features(&d.id, None).await? {
                if let (Some(id), Geometry::Point(p)) = (&f.id, &f.geometry) {
                    sites.push(Site {
                        dataset: d.id.to_string(),
                        id: id.to_string(),
                        name: text(&f, &["name", "site_name", "title"])
                            .unwrap_or_else(|| id.to_string()),
                        position: *p,
                    });
                }
            }
        }
        let mut events = Vec::new();
        let mut models = Vec::new();
        for d in &hazard_sets {
            let model = match request.radius_km {
                Some(radius_km) => ImpactModel::Fixed { radius_km },
                None => request
                    .models
                    .get(&d.id)
                    .cloned()
                    .unwrap_or_else(|| default_model(d)),
            };
            let mut skipped = 0;
            for f in self.all_features(&d.id, request.datetime).await? {
                let Some(footprint) = model.footprint(&f.geometry, &f.properties) else {
                    skipped += 1;
                    continue;
                };
                let id = f.id.as_ref().map(ToString::to_string).unwrap_or_default();
                events.push(Event {
                    dataset: d.id.to_string(),
                    label: label(d, &f, &id),
                    id,
                    model: model.name(),
                    footprint,
                    time: f.time,
                });
            }
            models.push(ModelUsed {
                dataset: d.id.clone(),
                model,
                skipped,
            });
        }
        let exposure = tokio::task::spawn_blocking(move || expose(&sites, &events))
            .await
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("exposure failed: {e}")))?;
        Ok(ExposureReport { models, exposure })
    }

    /// Features per H3 cell at `resolution`, within `bbox` and the time window, counted in the index (a
    /// shape that is not a point counts at its envelope's centre).
    pub async fn hexbin(
        &self,
        id: &DatasetId,
        resolution: u8,
        bbox: Option<geoconsole_model::Bbox>,
        datetime: Option<DateTimeFilter>,
    ) -> AppResult<Vec<CellCount>> {
        let res = geoconsole_analytics::resolution(resolution)
            .map_err(|e| AppError::new(AppErrorKind::Input, e))?;
        let snapshot = crate::reading::snapshot_of(self.live().indexes(), id)?;
        let selection = Selection {
            bbox,
            time: datetime.as_ref().map(crate::reading::time_range),
        };
        tokio::task::spawn_blocking(move || {
            let mut points = Vec::new();
            snapshot.for_each_selected(&selection, Walk::After(None), |slot| {
                points.push(match snapshot.shape(slot) {
                    Shape::Point(p) => p,
                    Shape::Geometry(_) => {
                        let [w, s, e, n] = snapshot.envelope(slot);
                        [(w + e) / 2.0, (s + n) / 2.0]
                    }
                });
                std::ops::ControlFlow::Continue(())
            });
            count_cells(points, res)
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("hexbin failed: {e}")))
    }

    /// Every feature of a dataset (in the time window), page by page from the index when serving, or
    /// straight from the store in one-shot commands (which keep no index).
    async fn all_features(
        &self,
        id: &DatasetId,
        datetime: Option<DateTimeFilter>,
    ) -> AppResult<Vec<Feature>> {
        let mut out = Vec::new();
        if self.live().indexes().get(id).is_none() {
            let mut query = FeatureQuery {
                datetime,
                limit: Some(MAX_LIMIT),
                ..FeatureQuery::default()
            };
            loop {
                let page = self.query(id, &query).await?;
                out.extend(page.features);
                match page.next {
                    Some(cursor) if out.len() < MAX_FEATURES => query.cursor = Some(cursor),
                    _ => return Ok(out),
                }
            }
        }
        let mut page = Page::First;
        loop {
            let got = self
                .items(
                    id,
                    ItemsRequest {
                        datetime,
                        limit: MAX_LIMIT,
                        page,
                        ..ItemsRequest::default()
                    },
                )
                .await?;
            out.extend(got.features);
            match got.next {
                Some(key) if out.len() < MAX_FEATURES => page = Page::After(key),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn text(f: &Feature, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match f.properties.get(*n) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    })
}

/// What a reason calls an event: its own title, or the dataset's title with the event's name or id.
fn label(dataset: &Dataset, f: &Feature, id: &str) -> String {
    text(f, &TITLE_NAMES)
        .or_else(|| text(f, &NAME_NAMES).map(|n| format!("{}: {n}", dataset.title)))
        .unwrap_or_else(|| format!("{} {id}", dataset.title))
}
