//! Analyses over the console's datasets, fed from the live index: site exposure to hazard events, with the
//! impact model each hazard dataset gets (configured, overridden by one fixed radius, or its default).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geoconsole_access::Scope;
use geoconsole_analytics::{
    CellCount, Exposure, Footprint, Hit, ImpactModel, Nearest, Reach, SiteExposure, Visitor,
    aggregate_cells, combine_nearest, expose, expose_nearest, expose_nearest_by_site,
    exposed_by_site, finest_cells, outlines, rank, reason,
};
use geoconsole_index::{Selection, Shape, Snapshot, Walk};
use geoconsole_model::MAX_RADIUS_KM;
use geoconsole_model::geo_types::Point;
use geoconsole_model::{Dataset, DatasetId, DatasetKind, Feature, FieldType, Properties, TimeSpan};
use geoconsole_query::DateTimeFilter;
use serde::Serialize;
use serde_json::Value;

use crate::visibility::choose;
use crate::{AppError, AppErrorKind, AppResult, Console};

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
    /// Models for this request per hazard dataset; the rest get the console's ([`Console::impact_model`]).
    pub models: HashMap<DatasetId, ImpactModel>,
    /// Which hits to list per exposed site.
    pub hits: Hits,
}

/// How much an exposure answer says per exposed site, from the most to the cheapest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Hits {
    /// Every event that reaches the site, nearest first.
    #[default]
    All,
    /// The nearest event, with the count of all that reach the site: for ranking many sites quickly.
    Nearest,
    /// Only whether the site is exposed, with one event that reaches it (the first found, not the nearest)
    /// and no count: the exposed-site list, answered by stopping at each site's first hit.
    Any,
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
    /// The properties of the sites and events that met, by (dataset, id), for analyses built on exposure
    /// (severity, site type); not part of the report itself.
    #[serde(skip)]
    pub(crate) met: HashMap<(String, String), Properties>,
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
                        "hit_count": s.hit_count,
                        // Without a count (hits=any) the one hit listed was the first found, not the nearest.
                        "nearest_m": s.hit_count.and(s.hits.first().map(|h| h.distance_m)),
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

/// Pairs listed one by one at most; beyond it the caller asks for each site's nearest only.
const MAX_LISTED_PAIRS: usize = 250_000;

/// Features fetched from the store per round when a model needs properties or hits need names.
const FETCH_CHUNK: usize = 10_000;

/// A hazard dataset whose events are all points with one reach: it can be joined from its own index, per
/// site, without a footprint per event. `first_event` numbers its slots among all hazards' events, so a
/// reach found here names `first_event + slot`.
struct PointHazard {
    hazard: usize,
    snapshot: Arc<Snapshot>,
    radius_m: f64,
    time: Option<geoconsole_index::TimeRange>,
    first_event: usize,
    selected: usize,
}

impl PointHazard {
    /// Visits this hazard's selected events inside a box, numbered as in [`PointHazard`].
    fn candidates(&self, [west, south, east, north]: [f64; 4], visit: &mut Visitor<'_>) {
        let parts = [geoconsole_model::Bbox {
            west,
            south,
            east,
            north,
        }];
        self.snapshot
            .for_each_point_in(&parts, self.time.as_ref(), |hit| {
                visit(self.first_event + hit.slot as usize, hit.xy)
            });
    }
}

/// Which way to join point hazards. Asking the events' index per site costs one tree query per site and a
/// leaf read plus a few multiplications per candidate; asking the sites' tree per event costs one query and
/// a footprint per event and a haversine per candidate. Per candidate the first is several times cheaper, so
/// it wins whenever sites are not more numerous than events (the usual shape: thousands of sites, a
/// million events); with more sites than events the per-event queries are the fewer.
fn per_site_is_cheaper(sites: usize, parts: &[PointHazard]) -> bool {
    let events: usize = parts.iter().map(|p| p.selected).sum();
    sites <= events
}

/// Each site's count and nearest event over several point hazards, each asked through its own index once
/// per site (the same answer as [`expose_nearest`], much less work when events far outnumber sites).
fn nearest_from_event_indexes(sites: &[Point<f64>], parts: &[PointHazard]) -> Vec<Nearest> {
    let mut merged: Vec<Option<Nearest>> = vec![None; sites.len()];
    for part in parts {
        let found =
            expose_nearest_by_site(sites, part.radius_m, |b, visit| part.candidates(b, visit));
        for n in found {
            let slot = &mut merged[n.reach.site];
            *slot = Some(combine_nearest(*slot, n));
        }
    }
    merged.into_iter().flatten().collect()
}

/// The exposed sites over several point hazards, each with the first reach found.
fn any_from_event_indexes(sites: &[Point<f64>], parts: &[PointHazard]) -> Vec<Reach> {
    let mut found: Vec<Option<Reach>> = vec![None; sites.len()];
    for part in parts {
        // A site already exposed by an earlier hazard needs no more asking.
        let open: Vec<usize> = (0..sites.len()).filter(|i| found[*i].is_none()).collect();
        let positions: Vec<Point<f64>> = open.iter().map(|i| sites[*i]).collect();
        for mut r in exposed_by_site(&positions, part.radius_m, |b, visit| {
            part.candidates(b, visit)
        }) {
            r.site = open[r.site];
            found[r.site] = Some(r);
        }
    }
    found.into_iter().flatten().collect()
}

/// Boxes in degrees holding every point within `reach_m` of each site on the sphere, split at the
/// antimeridian and widened to every longitude near the poles.
fn reach_boxes(sites: &[Point<f64>], reach_m: f64) -> Vec<geoconsole_model::Bbox> {
    const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;
    let dy = reach_m / METRES_PER_DEGREE;
    let mut boxes = Vec::with_capacity(sites.len());
    for site in sites {
        let (x, y) = (site.x(), site.y());
        let (south, north) = ((y - dy).max(-90.0), (y + dy).min(90.0));
        let widest = south.abs().max(north.abs());
        // Near a pole (or for a reach of a hemisphere) every longitude is within reach.
        let dx = if widest >= 89.0 {
            180.0
        } else {
            dy / widest.to_radians().cos()
        };
        if dx >= 180.0 {
            boxes.push(geoconsole_model::Bbox {
                west: -180.0,
                south,
                east: 180.0,
                north,
            });
            continue;
        }
        let (west, east) = (x - dx, x + dx);
        boxes.push(geoconsole_model::Bbox {
            west: west.max(-180.0),
            south,
            east: east.min(180.0),
            north,
        });
        if west < -180.0 {
            boxes.push(geoconsole_model::Bbox {
                west: west + 360.0,
                south,
                east: 180.0,
                north,
            });
        }
        if east > 180.0 {
            boxes.push(geoconsole_model::Bbox {
                west: -180.0,
                south,
                east: east - 360.0,
                north,
            });
        }
    }
    boxes
}

/// Cells above which a pushed-down hazard dataset is read whole rather than cell by cell.
const MAX_CANDIDATE_CELLS: usize = 2_000;

/// The grid cells covering a set of boxes, each once. Sites cluster around cities, so their reach boxes
/// overlap heavily; asking the database for each cell once (cells about as large as a box) reads every
/// candidate once instead of once per site that reaches it.
fn merge_into_cells(boxes: Vec<geoconsole_model::Bbox>) -> Vec<geoconsole_model::Bbox> {
    let Some(tallest) = boxes
        .iter()
        .map(|b| b.north - b.south)
        .max_by(f64::total_cmp)
    else {
        return boxes;
    };
    // Cells of at least a tenth of a degree, and at most 1,800 across the world.
    let side = tallest.clamp(0.1, 10.0);
    let index = |v: f64| (v / side).floor() as i64;
    let mut cells = std::collections::BTreeSet::new();
    for b in &boxes {
        for x in index(b.west)..=index(b.east) {
            for y in index(b.south)..=index(b.north) {
                cells.insert((x, y));
            }
        }
    }
    cells
        .into_iter()
        .map(|(x, y)| geoconsole_model::Bbox {
            west: (x as f64 * side).max(-180.0),
            south: (y as f64 * side).max(-90.0),
            east: ((x + 1) as f64 * side).min(180.0),
            north: ((y + 1) as f64 * side).min(90.0),
        })
        .collect()
}

/// An event found in the index, before its id and name are looked up.
struct EventRef {
    hazard: usize,
    /// The event's slot in its hazard's snapshot.
    slot: u32,
    time: Option<TimeSpan>,
}

/// What the blocking part of an exposure hands back: the reaches and the parts it was given.
struct Joined {
    reaches: Option<Vec<(Reach, Option<usize>)>>,
    /// Whether the reaches name events as `first_event + slot` (per-site join) rather than by position
    /// in `events`.
    per_site: bool,
    positions: Vec<Point<f64>>,
    footprints: Vec<Footprint>,
    events: Vec<EventRef>,
    point_hazards: Vec<PointHazard>,
}

fn time_of(snapshot: &Snapshot, slot: u32) -> Option<TimeSpan> {
    snapshot.time(slot).and_then(|(a, b)| {
        Some(TimeSpan {
            start: DateTime::<Utc>::from_timestamp_millis(a)?,
            end: DateTime::<Utc>::from_timestamp_millis(b)?,
        })
    })
}

/// The located slots of a point hazard that pass its time selection.
fn selected_slots(part: &PointHazard) -> Vec<u32> {
    let selection = Selection {
        bbox: None,
        time: part.time,
    };
    let mut slots = Vec::with_capacity(part.selected);
    part.snapshot
        .for_each_selected(&selection, Walk::After(None), |slot| {
            if part.snapshot.shape(slot).is_some() {
                slots.push(slot);
            }
            std::ops::ControlFlow::Continue(())
        });
    slots
}

/// The footprints of a hazard's events under a model that reads no properties.
fn push_footprints(
    snapshot: &Snapshot,
    hazard: usize,
    model: &ImpactModel,
    slots: &[u32],
    footprints: &mut Vec<Footprint>,
    events: &mut Vec<EventRef>,
) {
    let none = Properties::new();
    for &slot in slots {
        let Some(shape) = snapshot.shape(slot) else {
            continue;
        };
        if let Some(footprint) = model.footprint(&shape.to_geometry(), &none) {
            footprints.push(footprint);
            events.push(EventRef {
                hazard,
                slot,
                time: time_of(snapshot, slot),
            });
        }
    }
}

impl Console {
    /// Sites within reach of hazard events. The join runs on the in-memory index (positions, shapes, times),
    /// and the ids, names and titles of the sites and events that meet come from the snapshots' property
    /// tables; the store is read only for properties a model needs (a magnitude) and for names a snapshot
    /// does not hold.
    pub async fn exposure(
        &self,
        scope: &Scope,
        request: ExposureRequest,
    ) -> AppResult<ExposureReport> {
        self.exposure_of(scope, request, false).await
    }

    /// [`Self::exposure`], with the properties of the events that met kept in the report when
    /// `keep_properties` (for analyses that weigh hits by them).
    pub(crate) async fn exposure_of(
        &self,
        scope: &Scope,
        request: ExposureRequest,
        keep_properties: bool,
    ) -> AppResult<ExposureReport> {
        if let Some(r) = request.radius_km
            && !(r.is_finite() && r > 0.0 && r <= MAX_RADIUS_KM)
        {
            return Err(AppError::new(
                AppErrorKind::Input,
                format!("radius_km {r} must be above 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        let all = self.datasets(scope).await?;
        let site_sets = choose(&all, scope, &request.sites, DatasetKind::Sites, "sites")?;
        let hazard_sets = choose(&all, scope, &request.hazards, DatasetKind::Events, "hazard")?;

        let mut positions = Vec::new();
        // Each position's sites dataset and slot in its snapshot.
        let mut site_refs: Vec<(usize, u32)> = Vec::new();
        let mut site_snapshots = Vec::with_capacity(site_sets.len());
        for (i, d) in site_sets.iter().enumerate() {
            let snapshot = self.snapshot_for(scope, &d.id).await?;
            for slot in 0..snapshot.len() as u32 {
                if let Some(Shape::Point([x, y])) = snapshot.shape(slot) {
                    positions.push(Point::new(x, y));
                    site_refs.push((i, slot));
                }
            }
            site_snapshots.push(snapshot);
        }

        let mut footprints = Vec::new();
        let mut events: Vec<EventRef> = Vec::new();
        let mut models = Vec::new();
        // Hazards whose events are all points with one reach can be joined from their own index, per site,
        // with footprints made only for the events that are reported.
        let mut point_hazards: Vec<PointHazard> = Vec::new();
        let mut all_points = true;
        let mut hazard_snapshots = Vec::with_capacity(hazard_sets.len());
        let mut numbered = 0usize;
        let mut events_checked = 0usize;
        for (h, d) in hazard_sets.iter().enumerate() {
            let model = match request.radius_km {
                Some(radius_km) => ImpactModel::Fixed { radius_km },
                None => request
                    .models
                    .get(&d.id)
                    .cloned()
                    .unwrap_or_else(|| self.impact_model(d)),
            };
            let snapshot = self
                .hazard_snapshot(
                    scope,
                    d,
                    &positions,
                    model.max_reach_km(),
                    request.datetime.as_ref(),
                )
                .await?;
            let selection = Selection {
                bbox: None,
                time: request.datetime.as_ref().map(crate::reading::time_range),
            };
            let mut slots = Vec::new();
            snapshot.for_each_selected(&selection, Walk::After(None), |slot| {
                // An unlocated event reaches no site.
                if snapshot.shape(slot).is_some() {
                    slots.push(slot);
                }
                std::ops::ControlFlow::Continue(())
            });
            let mut skipped = 0;
            if model.needs_properties() {
                all_points = false;
                for chunk in slots.chunks(FETCH_CHUNK) {
                    let keys: Vec<i64> = chunk.iter().map(|s| snapshot.key(*s)).collect();
                    // Features come in the order asked, those gone since the snapshot skipped.
                    let mut slots = chunk.iter().copied();
                    for (key, f) in self.store().features_by_key(&d.id, keys).await? {
                        let Some(slot) = slots.find(|s| snapshot.key(*s) == key) else {
                            break;
                        };
                        // An unlocated event reaches no site; it is not a skipped one either.
                        let Some(geometry) = &f.geometry else {
                            continue;
                        };
                        match model.footprint(geometry, &f.properties) {
                            Some(footprint) => {
                                footprints.push(footprint);
                                events.push(EventRef {
                                    hazard: h,
                                    slot,
                                    time: f.time,
                                });
                            }
                            None => skipped += 1,
                        }
                    }
                }
            } else if let (ImpactModel::Fixed { radius_km }, true) = (&model, snapshot.is_points())
            {
                events_checked += slots.len();
                point_hazards.push(PointHazard {
                    hazard: h,
                    snapshot: Arc::clone(&snapshot),
                    radius_m: radius_km * 1000.0,
                    time: selection.time,
                    first_event: numbered,
                    selected: slots.len(),
                });
                numbered += snapshot.len();
            } else {
                all_points = false;
                push_footprints(&snapshot, h, &model, &slots, &mut footprints, &mut events);
            }
            models.push(ModelUsed {
                dataset: d.id.clone(),
                model,
                skipped,
            });
            hazard_snapshots.push(snapshot);
        }

        let sites_checked = positions.len();
        let events_checked = events_checked + footprints.len();
        let hits = request.hits;
        let per_site_possible = all_points && !point_hazards.is_empty() && hits != Hits::All;
        let joining = tokio::task::spawn_blocking(move || {
            let per_site = per_site_possible
                && (hits == Hits::Any || per_site_is_cheaper(positions.len(), &point_hazards));
            // Each listed reach with its site's total count (none when not counted).
            let joined: Option<Vec<(Reach, Option<usize>)>> = if per_site && hits == Hits::Any {
                Some(
                    any_from_event_indexes(&positions, &point_hazards)
                        .into_iter()
                        .map(|r| (r, None))
                        .collect(),
                )
            } else if per_site {
                Some(
                    nearest_from_event_indexes(&positions, &point_hazards)
                        .into_iter()
                        .map(|n| (n.reach, Some(n.count)))
                        .collect(),
                )
            } else {
                // The per-event join needs every event's footprint.
                for part in &point_hazards {
                    let model = ImpactModel::Fixed {
                        radius_km: part.radius_m / 1000.0,
                    };
                    let slots = selected_slots(part);
                    push_footprints(
                        &part.snapshot,
                        part.hazard,
                        &model,
                        &slots,
                        &mut footprints,
                        &mut events,
                    );
                }
                if hits == Hits::All {
                    expose(&positions, &footprints, MAX_LISTED_PAIRS).map(|all| {
                        let mut counts = HashMap::new();
                        for r in &all {
                            *counts.entry(r.site).or_insert(0usize) += 1;
                        }
                        all.into_iter()
                            .map(|r| (r, Some(counts[&r.site])))
                            .collect()
                    })
                } else {
                    Some(
                        expose_nearest(&positions, &footprints)
                            .into_iter()
                            .map(|n| (n.reach, Some(n.count)))
                            .collect(),
                    )
                }
            };
            Joined {
                reaches: joined,
                per_site,
                positions,
                footprints,
                events,
                point_hazards,
            }
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("exposure failed: {e}")))?;
        let Joined {
            reaches,
            per_site,
            positions,
            mut footprints,
            mut events,
            point_hazards,
        } = joining;
        let mut reaches = reaches.ok_or_else(|| {
            AppError::new(
                AppErrorKind::Input,
                format!(
                    "more than {MAX_LISTED_PAIRS} site-event pairs to list: ask for each site's nearest only (hits=nearest), a smaller radius or a shorter time window"
                ),
            )
        })?;
        if per_site {
            // Reaches found per site name `first_event + slot`: make the footprints of those events only.
            for (r, _) in reaches.iter_mut() {
                let Some(part) = point_hazards
                    .iter()
                    .rev()
                    .find(|p| p.first_event <= r.event)
                else {
                    continue;
                };
                let slot = (r.event - part.first_event) as u32;
                let Some(Shape::Point([x, y])) = part.snapshot.shape(slot) else {
                    continue;
                };
                footprints.push(Footprint::Circle {
                    centre: Point::new(x, y),
                    radius_m: part.radius_m,
                });
                events.push(EventRef {
                    hazard: part.hazard,
                    slot,
                    time: time_of(&part.snapshot, slot),
                });
                r.event = events.len() - 1;
            }
        }

        // Ids and names of what met: from the snapshots' property tables, or read from the store per dataset.
        let mut site_slots: Vec<Vec<u32>> = vec![Vec::new(); site_sets.len()];
        let mut event_slots: Vec<Vec<u32>> = vec![Vec::new(); hazard_sets.len()];
        for (r, _) in &reaches {
            let (i, slot) = site_refs[r.site];
            site_slots[i].push(slot);
            let e = &events[r.event];
            event_slots[e.hazard].push(e.slot);
        }
        let site_info = Described::read(self, &site_sets, &site_snapshots, site_slots).await?;
        let event_info =
            Described::read(self, &hazard_sets, &hazard_snapshots, event_slots).await?;

        let mut exposed: Vec<SiteExposure> = Vec::new();
        let mut met = HashMap::new();
        let mut current = None;
        for (r, count) in &reaches {
            // Reaches come grouped by site.
            if current != Some(r.site) {
                current = Some(r.site);
                let (i, slot) = site_refs[r.site];
                let feature = site_info.get(i, slot);
                exposed.push(SiteExposure {
                    dataset: site_sets[i].id.to_string(),
                    site: feature.id(),
                    name: feature
                        .text(&["name", "site_name", "title"])
                        .unwrap_or_else(|| feature.key.to_string()),
                    position: [positions[r.site].x(), positions[r.site].y()],
                    hit_count: *count,
                    hits: Vec::new(),
                });
            }
            let Some(site) = exposed.last_mut() else {
                continue;
            };
            let e = &events[r.event];
            let d = &hazard_sets[e.hazard];
            let feature = event_info.get(e.hazard, e.slot);
            let id = feature.id();
            let label = feature.label(d, &id);
            let footprint = &footprints[r.event];
            if keep_properties {
                met.entry((d.id.to_string(), id.clone()))
                    .or_insert_with(|| feature.properties());
            }
            site.hits.push(Hit {
                dataset: d.id.to_string(),
                event: id,
                distance_m: r.distance_m,
                reach_m: footprint.reach_m(),
                model: models[e.hazard].model.name(),
                time: e.time,
                reason: reason(&label, footprint, r.distance_m),
                centre: match footprint {
                    Footprint::Circle { centre, .. } => Some([centre.x(), centre.y()]),
                    Footprint::Area { .. } => None,
                },
            });
        }
        rank(&mut exposed);
        Ok(ExposureReport {
            models,
            exposure: Exposure {
                sites_checked,
                events_checked,
                exposed,
            },
            met,
        })
    }

    /// The events of a hazard dataset an exposure join needs: its live snapshot, or, when the dataset is
    /// served by the database (push-down), a snapshot of only the events whose bounding box comes within
    /// `reach_km` of a site, selected by the database's spatial index. The join itself then runs as always,
    /// so both give the same answer, and memory follows the candidates rather than the dataset.
    async fn hazard_snapshot(
        &self,
        scope: &Scope,
        dataset: &Dataset,
        sites: &[Point<f64>],
        reach_km: f64,
        datetime: Option<&DateTimeFilter>,
    ) -> AppResult<std::sync::Arc<Snapshot>> {
        let Some(store) = self
            .push_down
            .as_ref()
            .filter(|_| self.live().is_pushed_down(&dataset.id))
        else {
            return self.snapshot_for(scope, &dataset.id).await;
        };
        // A little more than the reach: the database only preselects, the join measures exactly.
        let boxes = merge_into_cells(reach_boxes(sites, reach_km * 1000.0 * 1.01 + 1.0));
        if boxes.len() > MAX_CANDIDATE_CELLS {
            // Sites everywhere: one sequential read beats thousands of index probes (measured on 1 M points
            // and 10 k sites at 10 km: 12,573 cells, 3.7 s of probes against 0.2 s for the whole table).
            return self.snapshot_for(scope, &dataset.id).await;
        }
        let (current, rows) = store
            .index_rows_within(&dataset.id, boxes, datetime)
            .await?;
        let candidates = rows.len();
        let snapshot = tokio::task::spawn_blocking(move || {
            let mut builder = geoconsole_index::SnapshotBuilder::default();
            for row in rows {
                builder.push(row.key, row.geometry, row.time)?;
            }
            Ok::<_, String>(builder.finish(current))
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("exposure failed: {e}")))?
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("indexing candidates: {e}")))?;
        tracing::debug!(dataset = %dataset.id, candidates, "exposure candidates from the database");
        Ok(std::sync::Arc::new(snapshot))
    }

    /// Features per H3 cell at `resolution`, within `bbox` and the time window, counted in the index (a
    /// shape that is not a point counts at its envelope's centre), and with `sum` the total of a numeric
    /// property per cell. Each feature's finest cell is computed once per dataset version; coarser cells are
    /// its H3 ancestors.
    #[allow(clippy::too_many_arguments)]
    pub async fn hexbin(
        &self,
        scope: &Scope,
        id: &DatasetId,
        resolution: u8,
        bbox: Option<geoconsole_model::Bbox>,
        datetime: Option<DateTimeFilter>,
        sum: Option<&str>,
        max_cells: usize,
    ) -> AppResult<Vec<CellCount>> {
        let res = geoconsole_analytics::resolution(resolution)
            .map_err(|e| AppError::new(AppErrorKind::Input, e))?;
        let snapshot = self.indexed_snapshot(scope, id)?;
        if let Some(property) = sum
            && !snapshot.dataset().schema.fields().iter().any(|f| {
                f.name == property && matches!(f.field_type, FieldType::Integer | FieldType::Real)
            })
        {
            return Err(AppError::new(
                AppErrorKind::Input,
                format!("sum: dataset '{id}' has no numeric property '{property}'"),
            ));
        }
        let cells = self.finest_cells(&snapshot).await?;
        let selection = Selection {
            bbox,
            time: datetime.as_ref().map(crate::reading::time_range),
        };
        let chosen = {
            let snapshot = Arc::clone(&snapshot);
            tokio::task::spawn_blocking(move || {
                let mut slots = Vec::new();
                snapshot.for_each_selected(&selection, Walk::After(None), |slot| {
                    // An unlocated feature lies in no cell.
                    if snapshot.shape(slot).is_some() {
                        slots.push(slot);
                    }
                    std::ops::ControlFlow::Continue(())
                });
                slots
            })
            .await
            .map_err(|e| AppError::new(AppErrorKind::Internal, format!("hexbin failed: {e}")))?
        };
        let weights = match sum {
            None => None,
            Some(property) => {
                let keys: Vec<i64> = chosen.iter().map(|s| snapshot.key(*s)).collect();
                Some(self.property_values(id, &keys, property).await?)
            }
        };
        let summed = weights.is_some();
        let totals = tokio::task::spawn_blocking(move || {
            let weight = |i: usize| weights.as_ref().map_or(1.0, |w| w[i]);
            aggregate_cells(
                chosen
                    .iter()
                    .enumerate()
                    .map(|(i, slot)| (cells[*slot as usize], weight(i))),
                res,
            )
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("hexbin failed: {e}")))?;
        // Outlines cost far more than counting: refuse an unreadable map before drawing it.
        if totals.len() > max_cells {
            return Err(AppError::new(
                AppErrorKind::Input,
                format!(
                    "{} cells at resolution {resolution}; at most {max_cells}: choose a coarser resolution or a smaller bbox",
                    totals.len()
                ),
            ));
        }
        Ok(outlines(&totals, summed))
    }

    /// Every feature's cell at the finest resolution, by slot, for one snapshot version (computed on first
    /// use, in parallel, and kept until the dataset changes).
    pub(crate) async fn finest_cells(&self, snapshot: &Arc<Snapshot>) -> AppResult<Arc<Vec<u64>>> {
        let id = snapshot.dataset().id.clone();
        let version = snapshot.version();
        if let Some((v, cells)) = self
            .h3_cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            && *v == version
        {
            return Ok(Arc::clone(cells));
        }
        let snapshot = Arc::clone(snapshot);
        let cells = tokio::task::spawn_blocking(move || {
            let points: Vec<[f64; 2]> = (0..snapshot.len() as u32)
                // An unlocated feature's cell is never read (hexbins pass it by); any value holds its slot.
                .map(|slot| crate::buckets::representative(&snapshot, slot).unwrap_or_default())
                .collect();
            Arc::new(finest_cells(&points))
        })
        .await
        .map_err(|e| AppError::new(AppErrorKind::Internal, format!("hexbin failed: {e}")))?;
        self.h3_cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, (version, Arc::clone(&cells)));
        Ok(cells)
    }
}

/// What an answer says of the sites and events that met, per dataset: read from each snapshot's property
/// table when it has one, else from the store by key (snapshots of push-down candidates, one-shot commands,
/// datasets whose properties stay in the store).
struct Described<'a> {
    snapshots: &'a [Arc<Snapshot>],
    /// Features read from the store, by (dataset index, key).
    stored: HashMap<(usize, i64), Feature>,
}

impl<'a> Described<'a> {
    async fn read(
        console: &Console,
        sets: &[Dataset],
        snapshots: &'a [Arc<Snapshot>],
        slots: Vec<Vec<u32>>,
    ) -> AppResult<Self> {
        let mut stored = HashMap::new();
        for (i, wanted) in slots.into_iter().enumerate() {
            let snapshot = &snapshots[i];
            let in_memory = |slot: u32| snapshot.properties().is_some_and(|t| t.contains(slot));
            let mut keys: Vec<i64> = wanted
                .into_iter()
                .filter(|slot| !in_memory(*slot))
                .map(|slot| snapshot.key(slot))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for chunk in keys.chunks(FETCH_CHUNK) {
                for (key, f) in console
                    .store()
                    .features_by_key(&sets[i].id, chunk.to_vec())
                    .await?
                {
                    stored.insert((i, key), f);
                }
            }
        }
        Ok(Self { snapshots, stored })
    }

    fn get(&self, set: usize, slot: u32) -> FeatureView<'_> {
        let snapshot = &self.snapshots[set];
        let key = snapshot.key(slot);
        let source = match snapshot.properties().filter(|t| t.contains(slot)) {
            Some(table) => Source::Table(table, slot),
            None => self
                .stored
                .get(&(set, key))
                .map_or(Source::Gone, Source::Stored),
        };
        FeatureView { key, source }
    }
}

/// One site or event as an answer names it.
struct FeatureView<'a> {
    key: i64,
    source: Source<'a>,
}

enum Source<'a> {
    Table(&'a geoconsole_index::PropertyTable, u32),
    Stored(&'a Feature),
    /// Gone from the store since the snapshot was made: named by its key.
    Gone,
}

impl FeatureView<'_> {
    fn id(&self) -> String {
        match self.source {
            Source::Table(table, slot) => table.id(slot).to_string(),
            Source::Stored(f) => {
                f.id.as_ref()
                    .map_or_else(|| self.key.to_string(), ToString::to_string)
            }
            Source::Gone => self.key.to_string(),
        }
    }

    /// The first of these properties holding non-blank text, trimmed.
    fn text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| {
            let s = match self.source {
                Source::Table(table, slot) => match table.item_value(table.column(n)?, slot) {
                    geoconsole_index::ItemValue::Cell(geoconsole_index::Cell::Str(s)) => s,
                    _ => return None,
                },
                Source::Stored(f) => match f.properties.get(*n) {
                    Some(Value::String(s)) => s.as_str(),
                    _ => return None,
                },
                Source::Gone => return None,
            };
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        })
    }

    /// What a reason calls an event: its own title, or the dataset's title with the event's name or id.
    fn label(&self, dataset: &Dataset, id: &str) -> String {
        self.text(&TITLE_NAMES)
            .or_else(|| {
                self.text(&NAME_NAMES)
                    .map(|n| format!("{}: {n}", dataset.title))
            })
            .unwrap_or_else(|| format!("{} {id}", dataset.title))
    }

    fn properties(&self) -> Properties {
        match self.source {
            Source::Table(table, slot) => table.properties(slot),
            Source::Stored(f) => f.properties.clone(),
            Source::Gone => Properties::new(),
        }
    }
}

/// What a reason calls an event read from the store (see [`FeatureView::label`]).
pub(crate) fn label(dataset: &Dataset, f: &Feature, id: &str) -> String {
    FeatureView {
        key: 0,
        source: Source::Stored(f),
    }
    .label(dataset, id)
}
