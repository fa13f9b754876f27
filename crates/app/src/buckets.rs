//! Events per region per period: regions are H3 cells (the ancestors of each event's finest cell), the
//! polygons of an area dataset (admin boundaries), or buffers around sites; periods are hours, days, weeks or
//! months from the window's start. Each event counts (or adds a numeric property) once per region it falls
//! in, in the period it began in. Each region's last period is judged against the ones before it, as trends
//! judge sites, so an anomaly in a cell or a district says so in words.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use geoconsole_access::Scope;
use geoconsole_analytics::{
    AnomalyRule, AreaIndex, Assessment, Footprint, Period, assess, boundaries_between, describe,
    period_of,
};
use geoconsole_index::{Selection, Shape, Snapshot, TimeRange, Walk};
use geoconsole_model::geo_types::Point;
use geoconsole_model::{DatasetId, DatasetKind, FieldType};
use serde::Serialize;
use serde_json::Value;

use crate::{AppError, AppErrorKind, AppResult, Console};

/// Periods in one answer at most.
pub const MAX_PERIODS: usize = 2_000;
/// Regions listed at most (the busiest first).
const MAX_REGIONS: usize = 10_000;
/// Counts one answer may hold while it is built (regions with events × periods): each is a cell of the
/// series table, so this bounds the memory and time of one request (an H3 resolution-10 grid by the hour over
/// a month of 200,000 events asked for 3 GB and a minute and a half).
const MAX_SERIES_CELLS: usize = 4_000_000;
/// (event, site) pairs a `sites:KM` bucketing may find: a buffer as wide as a continent around thousands of
/// sites matches every event to every site.
const MAX_SITE_PAIRS: usize = 5_000_000;

/// What events are grouped by.
#[derive(Debug, Clone, PartialEq)]
pub enum Regions {
    /// H3 cells at this resolution.
    Cells(u8),
    /// The polygons of an area dataset.
    Areas(DatasetId),
    /// A buffer of this many km around every site.
    Sites(f64),
}

impl Regions {
    /// `h3:5`, `areas:countries` or `sites:10`.
    pub fn parse(text: &str) -> AppResult<Self> {
        let bad = || {
            AppError::new(
                AppErrorKind::Input,
                format!("by '{text}' is not h3:RESOLUTION, areas:DATASET or sites:KM"),
            )
        };
        let (kind, arg) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "h3" => Ok(Self::Cells(arg.parse().map_err(|_| bad())?)),
            "areas" => {
                Ok(Self::Areas(DatasetId::new(arg).map_err(|e| {
                    AppError::new(AppErrorKind::Input, e.message())
                })?))
            }
            "sites" => {
                let km: f64 = arg.parse().map_err(|_| bad())?;
                if !(km.is_finite() && km > 0.0 && km <= 1000.0) {
                    return Err(AppError::new(
                        AppErrorKind::Input,
                        format!("sites:{km}: the buffer must be above 0 and at most 1000 km"),
                    ));
                }
                Ok(Self::Sites(km))
            }
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BucketRequest {
    pub dataset: DatasetId,
    pub by: Regions,
    pub period: Period,
    /// Default: the dataset's time extent.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub sum: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionSeries {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub total: u64,
    pub counts: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sums: Option<Vec<f64>>,
    /// The last period against the ones before it (as `/analytics/trends` judges sites), with two periods
    /// or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    pub anomaly: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketReport {
    pub dataset: String,
    pub by: String,
    pub period: Period,
    /// Period boundaries (one more than periods); events count in the period they began in.
    pub boundaries: Vec<DateTime<Utc>>,
    pub events_counted: u64,
    /// Regions with events, busiest first.
    pub regions: Vec<RegionSeries>,
}

impl Console {
    pub async fn buckets(&self, scope: &Scope, request: BucketRequest) -> AppResult<BucketReport> {
        let input = |m: String| AppError::new(AppErrorKind::Input, m);
        let snapshot = self.snapshot_for(scope, &request.dataset).await?;
        let dataset = snapshot.dataset().clone();
        let extent = dataset.time_extent;
        let start = request.start.or(extent.map(|t| t.start));
        let end = request.end.or(extent.map(|t| t.end));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(input(format!(
                "dataset '{}' has no times to bucket",
                dataset.id
            )));
        };
        // A window ending exactly at the last event still holds it.
        let end = if request.end.is_none() {
            end + chrono::Duration::milliseconds(1)
        } else {
            end
        };
        let bounds = boundaries_between(start, end, request.period, MAX_PERIODS).map_err(input)?;
        if let Some(p) = &request.sum
            && !dataset.schema.fields().iter().any(|f| {
                &f.name == p && matches!(f.field_type, FieldType::Integer | FieldType::Real)
            })
        {
            return Err(input(format!(
                "sum: dataset '{}' has no numeric property '{p}'",
                dataset.id
            )));
        }

        let selection = Selection {
            bbox: None,
            time: Some(TimeRange {
                start: Some(bounds[0]),
                end: Some(bounds[bounds.len() - 1] - 1),
            }),
        };
        let mut chosen: Vec<(u32, usize)> = Vec::new();
        snapshot.for_each_selected(&selection, Walk::After(None), |slot| {
            // An unlocated event belongs to no region and is not counted.
            if let Some((t, _)) = snapshot.time(slot)
                && let Some(p) = period_of(&bounds, t)
                && snapshot.shape(slot).is_some()
            {
                chosen.push((slot, p));
            }
            std::ops::ControlFlow::Continue(())
        });
        let weights = match &request.sum {
            None => None,
            Some(property) => {
                let keys: Vec<i64> = chosen.iter().map(|(s, _)| snapshot.key(*s)).collect();
                Some(self.property_values(&dataset.id, &keys, property).await?)
            }
        };

        // Each chosen event's regions (index into `names`).
        let Assignment { names, members } = match &request.by {
            Regions::Cells(r) => {
                let res = geoconsole_analytics::resolution(*r).map_err(input)?;
                let cells = self.finest_cells(&snapshot).await?;
                let mut ids: HashMap<u64, usize> = HashMap::new();
                let mut names = Vec::new();
                let members = chosen
                    .iter()
                    .map(|(slot, _)| {
                        let parent = h3o::CellIndex::try_from(cells[*slot as usize])
                            .ok()
                            .and_then(|c| c.parent(res));
                        parent
                            .map(|p| {
                                *ids.entry(u64::from(p)).or_insert_with(|| {
                                    names.push((p.to_string(), None));
                                    names.len() - 1
                                })
                            })
                            .into_iter()
                            .collect()
                    })
                    .collect();
                Assignment { names, members }
            }
            Regions::Areas(areas) => {
                let area_snapshot = self.snapshot_for(scope, areas).await?;
                if area_snapshot.dataset().kind != DatasetKind::Areas {
                    return Err(input(format!("'{areas}' is not an areas dataset")));
                }
                let keys: Vec<i64> = (0..area_snapshot.len() as u32)
                    .map(|s| area_snapshot.key(s))
                    .collect();
                let mut by_key = HashMap::with_capacity(keys.len());
                for chunk in keys.chunks(10_000) {
                    for (key, f) in self.store().features_by_key(areas, chunk.to_vec()).await? {
                        let name = ["NAME", "name", "title", "ADMIN"].iter().find_map(|n| {
                            f.properties
                                .get(*n)
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        });
                        let id =
                            f.id.as_ref()
                                .map_or_else(|| key.to_string(), ToString::to_string);
                        by_key.insert(key, (id, name));
                    }
                }
                // By slot, like the geometries below.
                let names = keys
                    .iter()
                    .map(|k| by_key.remove(k).unwrap_or_else(|| (k.to_string(), None)))
                    .collect();
                let geometries = (0..area_snapshot.len() as u32)
                    // An unlocated area covers nothing: an empty collection keeps the slots aligned.
                    .map(|s| {
                        area_snapshot.shape(s).map_or_else(
                            || {
                                geoconsole_model::geo_types::Geometry::GeometryCollection(
                                    Default::default(),
                                )
                            },
                            |shape| shape.to_geometry(),
                        )
                    })
                    .collect();
                let index = AreaIndex::new(geometries);
                let members = chosen
                    .iter()
                    .map(|(slot, _)| {
                        representative(&snapshot, *slot)
                            .map(|p| index.locate(p).into_iter().collect())
                            .unwrap_or_default()
                    })
                    .collect();
                Assignment { names, members }
            }
            Regions::Sites(km) => {
                let sites = self.sites_of(scope, &[]).await?;
                let footprints: Vec<Footprint> = chosen
                    .iter()
                    .map(|(slot, _)| {
                        // `chosen` holds located slots only.
                        let [x, y] = representative(&snapshot, *slot).unwrap_or_default();
                        Footprint::Circle {
                            centre: Point::new(x, y),
                            radius_m: km * 1000.0,
                        }
                    })
                    .collect();
                let positions: Vec<Point<f64>> = sites.iter().map(|s| s.position).collect();
                let reached = tokio::task::spawn_blocking(move || {
                    geoconsole_analytics::expose(&positions, &footprints, MAX_SITE_PAIRS)
                })
                .await
                .map_err(|e| AppError::new(AppErrorKind::Internal, format!("buckets: {e}")))?
                .ok_or_else(|| {
                    input(format!(
                        "sites:{km} pairs more than {MAX_SITE_PAIRS} events with sites; ask for a smaller buffer or a shorter window"
                    ))
                })?;
                let mut members = vec![Vec::new(); chosen.len()];
                for r in reached {
                    members[r.event].push(r.site);
                }
                let names = sites
                    .into_iter()
                    .map(|s| (format!("{}/{}", s.dataset, s.id), Some(s.name)))
                    .collect();
                Assignment { names, members }
            }
        };

        let periods = bounds.len() - 1;
        let touched = {
            let mut seen = vec![false; names.len()];
            members.iter().flatten().for_each(|r| seen[*r] = true);
            seen.iter().filter(|s| **s).count()
        };
        if touched.saturating_mul(periods) > MAX_SERIES_CELLS {
            return Err(input(format!(
                "the answer would hold {touched} regions × {periods} periods, more than {MAX_SERIES_CELLS} counts; ask for larger regions, a longer period or a shorter window"
            )));
        }
        let mut counts: HashMap<usize, (Vec<u64>, Vec<f64>)> = HashMap::new();
        for (i, regions) in members.iter().enumerate() {
            let p = chosen[i].1;
            for region in regions {
                let entry = counts
                    .entry(*region)
                    .or_insert_with(|| (vec![0; periods], vec![0.0; periods]));
                entry.0[p] += 1;
                entry.1[p] += weights.as_ref().map_or(1.0, |w| w[i]);
            }
        }
        let last_end = DateTime::<Utc>::from_timestamp_millis(bounds[periods]).unwrap_or(end);
        let what = request.sum.clone().unwrap_or_else(|| "events".into());
        let rule = AnomalyRule::default();
        let mut regions: Vec<RegionSeries> = counts
            .into_iter()
            .map(|(i, (c, s))| {
                let series: Vec<f64> = match &weights {
                    Some(_) => s.clone(),
                    None => c.iter().map(|n| *n as f64).collect(),
                };
                let assessment = assess(&series);
                let place = names[i].1.clone().unwrap_or_else(|| names[i].0.clone());
                RegionSeries {
                    region: names[i].0.clone(),
                    name: names[i].1.clone(),
                    total: c.iter().sum(),
                    counts: c,
                    sums: weights.as_ref().map(|_| s),
                    anomaly: assessment.as_ref().is_some_and(|a| rule.flags(a)),
                    reason: assessment.as_ref().map(|a| {
                        describe(
                            a,
                            &format!("{what} ({})", dataset.id),
                            &format!("in {place}"),
                            request.period,
                            last_end,
                        )
                    }),
                    assessment,
                }
            })
            .collect();
        regions.sort_by(|a, b| b.total.cmp(&a.total).then(a.region.cmp(&b.region)));
        regions.truncate(MAX_REGIONS);
        Ok(BucketReport {
            dataset: dataset.id.to_string(),
            by: match &request.by {
                Regions::Cells(r) => format!("h3:{r}"),
                Regions::Areas(a) => format!("areas:{a}"),
                Regions::Sites(km) => format!("sites:{km}"),
            },
            period: request.period,
            boundaries: bounds
                .iter()
                .filter_map(|ms| DateTime::<Utc>::from_timestamp_millis(*ms))
                .collect(),
            events_counted: chosen.len() as u64,
            regions,
        })
    }

    /// A numeric property of these features (by row key), in their order (0 where missing or not a number).
    pub(crate) async fn property_values(
        &self,
        id: &DatasetId,
        keys: &[i64],
        property: &str,
    ) -> AppResult<Vec<f64>> {
        let mut by_key = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(10_000) {
            for (key, f) in self.store().features_by_key(id, chunk.to_vec()).await? {
                by_key.insert(
                    key,
                    f.properties
                        .get(property)
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0),
                );
            }
        }
        Ok(keys
            .iter()
            .map(|k| by_key.get(k).copied().unwrap_or(0.0))
            .collect())
    }
}

/// The regions found (id and name) and, per chosen event, the regions it falls in.
struct Assignment {
    names: Vec<(String, Option<String>)>,
    members: Vec<Vec<usize>>,
}

/// A point standing for a feature: itself, or its envelope's centre; `None` for an unlocated feature.
pub(crate) fn representative(snapshot: &Snapshot, slot: u32) -> Option<[f64; 2]> {
    match snapshot.shape(slot)? {
        Shape::Point(p) => Some(p),
        Shape::Geometry(_) => {
            let [w, s, e, n] = snapshot.envelope(slot);
            Some([(w + e) / 2.0, (s + n) / 2.0])
        }
    }
}
