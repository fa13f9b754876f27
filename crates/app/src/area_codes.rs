//! Placing alerts given only by area codes (CAP `geocode` UGC/SAME/FIPS, api.weather.gov zones) on the
//! polygons of an areas dataset, joined by a code property. Feeds and file imports place them the same way:
//! a feed names its areas in its definition, an import in its options.
//!
//! Owns the code tables read from areas datasets and the join; reads datasets through the feature store,
//! and knows alerts only through `geoconsole_feeds`' [`Parsed`] and its unplaced entries.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use geoconsole_feeds::{AreaSource, Parsed};
use geoconsole_model::DatasetId;
use geoconsole_model::geo_types::{Geometry, MultiPolygon, Polygon};
use geoconsole_query::FeatureQuery;
use geoconsole_store::FeatureStore;
use serde_json::Value;

/// The most features an areas dataset may have: every US county and forecast zone together are ~8,000.
const MAX_AREA_FEATURES: u64 = 200_000;

/// An areas dataset's polygons by code.
#[derive(Debug, Default)]
struct AreaTable {
    by_code: HashMap<String, Vec<Polygon<f64>>>,
    /// Codes whose feature is not an area (a point, a line), which place nothing.
    not_areas: HashSet<String>,
}

impl AreaTable {
    /// The keys a code may be stored under: as written, upper-cased, and for the 6-digit SAME and FIPS6
    /// county codes (`PSSCCC`, P the part of the county, 0 for all of it) the 5-digit county FIPS code
    /// areas datasets hold.
    fn keys(scheme: &str, code: &str) -> Vec<String> {
        let code = code.trim();
        let mut keys = vec![code.to_string(), code.to_ascii_uppercase()];
        let county = ["SAME", "FIPS6"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme));
        if county && code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            keys.push(code[1..].to_string());
        }
        keys
    }

    fn lookup(&self, scheme: &str, code: &str) -> Option<&[Polygon<f64>]> {
        Self::keys(scheme, code)
            .iter()
            .find_map(|k| self.by_code.get(k))
            .map(Vec::as_slice)
    }
}

/// An areas dataset and its code field.
type AreaKey = (String, String);

/// The areas datasets of one store, read on demand and kept by the dataset version they were read at: a
/// feed polling every minute reads its areas again only when they changed.
#[derive(Debug)]
pub(crate) struct AreaTables {
    store: Arc<dyn FeatureStore>,
    tables: Mutex<HashMap<AreaKey, (u64, Arc<AreaTable>)>>,
}

impl AreaTables {
    pub(crate) fn new(store: Arc<dyn FeatureStore>) -> Self {
        Self {
            store,
            tables: Mutex::default(),
        }
    }

    /// The polygons of an areas dataset by the codes in `field`, read once per dataset version.
    async fn table(&self, dataset: &str, field: &str) -> Result<Arc<AreaTable>, String> {
        let id = DatasetId::new(dataset)
            .map_err(|e| format!("areas dataset '{dataset}': {}", e.message()))?;
        let info = self
            .store
            .dataset(&id)
            .await
            .map_err(|e| format!("areas dataset '{dataset}': {e}"))?;
        let key = (dataset.to_string(), field.to_string());
        if let Some((version, table)) = self
            .tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && *version == info.version
        {
            return Ok(Arc::clone(table));
        }
        if info.feature_count > MAX_AREA_FEATURES {
            return Err(format!(
                "areas dataset '{dataset}' has {} features, more than the {MAX_AREA_FEATURES} an areas dataset may have",
                info.feature_count
            ));
        }
        if !info.schema.fields().iter().any(|f| f.name == field) {
            return Err(format!(
                "areas dataset '{dataset}' has no property '{field}' to hold codes"
            ));
        }
        let page = self
            .store
            .query(&id, &FeatureQuery::all())
            .await
            .map_err(|e| format!("areas dataset '{dataset}': {e}"))?;
        let mut table = AreaTable::default();
        for feature in page.features {
            let code = match feature.properties.get(field) {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            match feature.geometry {
                Some(Geometry::Polygon(p)) => table.by_code.entry(code).or_default().push(p),
                Some(Geometry::MultiPolygon(m)) => {
                    table.by_code.entry(code).or_default().extend(m.0);
                }
                _ => {
                    table.not_areas.insert(code);
                }
            }
        }
        let table = Arc::new(table);
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (info.version, Arc::clone(&table)));
        Ok(table)
    }

    /// Places the alerts `parsed` holds only by area codes, joining each code to `areas`: an alert takes
    /// the areas its codes matched (a polygon, or a multipolygon of several); codes no area matched are
    /// kept on the alert and reported as a warning. An alert no code placed is skipped with the reason, and
    /// so is every one when `areas` is empty, with `no_areas` as the reason.
    pub(crate) async fn place(&self, areas: &[AreaSource], parsed: &mut Parsed, no_areas: &str) {
        if parsed.unplaced.is_empty() {
            return;
        }
        if areas.is_empty() {
            parsed.skip_unplaced(no_areas);
            return;
        }
        let mut tables: Vec<Result<Arc<AreaTable>, String>> = Vec::with_capacity(areas.len());
        for source in areas {
            tables.push(self.table(&source.dataset, &source.code_field).await);
        }
        let now = chrono::Utc::now();
        for alert in std::mem::take(&mut parsed.unplaced) {
            let mut polygons: Vec<Polygon<f64>> = Vec::new();
            let mut unmatched: Vec<String> = Vec::new();
            let mut problems: Vec<String> = Vec::new();
            for (scheme, code) in alert.codes() {
                let mut found = false;
                for (source, table) in areas.iter().zip(&tables) {
                    if !source.holds(scheme) {
                        continue;
                    }
                    match table {
                        Ok(table) => {
                            if let Some(found_areas) = table.lookup(scheme, code) {
                                for area in found_areas {
                                    if !polygons.contains(area) {
                                        polygons.push(area.clone());
                                    }
                                }
                                found = true;
                            } else if AreaTable::keys(scheme, code)
                                .iter()
                                .any(|k| table.not_areas.contains(k))
                            {
                                problems.push(format!(
                                    "{scheme} {code} in '{}' is not an area",
                                    source.dataset
                                ));
                            }
                        }
                        Err(e) if !problems.contains(e) => problems.push(e.clone()),
                        Err(_) => {}
                    }
                }
                if !found {
                    unmatched.push(format!("{scheme} {code}"));
                }
            }
            let geometry = match polygons.len() {
                0 => {
                    let mut why = format!("no area in {} matched them", datasets_text(areas));
                    if !problems.is_empty() {
                        why = format!("{why} ({})", problems.join("; "));
                    }
                    parsed.skipped.push(alert.unplaceable(&why));
                    continue;
                }
                1 => Geometry::Polygon(polygons.remove(0)),
                _ => Geometry::MultiPolygon(MultiPolygon(polygons)),
            };
            let id = alert.id().to_string();
            if !unmatched.is_empty() {
                parsed.warnings.push(format!(
                    "CAP alert '{id}': no area in {} matched {}; the alert is placed by the codes that matched",
                    datasets_text(areas),
                    unmatched.join(", ")
                ));
            }
            match alert.place(geometry, &unmatched, now) {
                Ok(item) => parsed.items.push(item),
                Err(why) => parsed.skipped.push(why),
            }
        }
    }
}

/// The areas datasets named, for messages: `'us_zones', 'us_counties'`.
fn datasets_text(areas: &[AreaSource]) -> String {
    let mut names: Vec<String> = Vec::new();
    for area in areas {
        let name = format!("'{}'", area.dataset);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}
