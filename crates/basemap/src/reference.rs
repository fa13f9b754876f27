//! Reference layers as vector tiles: features kept in memory with an R-tree of envelopes per layer; a tile
//! asks each layer for what crosses it and lets `tiles` clip, simplify and encode.

use std::io::Cursor;
use std::path::Path;

use geo::BoundingRect;
use geoconsole_formats::{ReadOptions, read_stream};
use geoconsole_model::geo_types::{Geometry, LineString, MultiLineString};
use geoconsole_model::{Feature, Properties};
use geoconsole_tiles::{BUFFER, LayerBuilder, MAX_LATITUDE, TileId, encode_tile};
use rstar::{AABB, RTree, RTreeObject};
use serde_json::Value;

/// Deepest zoom the basemap is cut at; MapLibre overzooms beyond it. Natural Earth 1:50m holds no more
/// detail than this shows.
pub const MAX_ZOOM: u8 = 8;

#[derive(Debug, thiserror::Error)]
pub enum BasemapError {
    #[error("basemap layer '{layer}': {reason}")]
    Layer { layer: String, reason: String },
}

/// One reference layer's source: its name in tiles and its GeoJSON. A feature with a numeric `min_zoom`
/// property is left out of tiles below that zoom (city labels by size, fine graticule lines).
pub struct BasemapLayer<'a> {
    pub name: &'a str,
    pub geojson: &'a [u8],
}

struct Entry {
    envelope: AABB<[f64; 2]>,
    index: usize,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

struct Layer {
    name: String,
    features: Vec<(Geometry<f64>, Properties, f64)>,
    tree: RTree<Entry>,
}

/// The reference layers, ready to cut into tiles.
pub struct Basemap {
    layers: Vec<Layer>,
}

impl Basemap {
    /// Reads every layer and adds the generated `graticule` layer.
    pub fn new(sources: &[BasemapLayer<'_>]) -> Result<Self, BasemapError> {
        let mut layers = Vec::with_capacity(sources.len() + 1);
        for source in sources {
            let label = Path::new(source.name);
            let fail = |reason: String| BasemapError::Layer {
                layer: source.name.to_string(),
                reason,
            };
            let (_, stream) = read_stream(
                label,
                Cursor::new(source.geojson.to_vec()),
                &ReadOptions {
                    format: Some(geoconsole_formats::Format::GeoJson),
                    ..ReadOptions::default()
                },
            )
            .map_err(|e| fail(e.to_string()))?;
            let mut features = Vec::new();
            for item in stream {
                let Feature {
                    geometry,
                    properties,
                    ..
                } = item.map_err(|e| fail(e.to_string()))?.feature;
                let min_zoom = properties
                    .get("min_zoom")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                // A feature without a place draws nothing.
                let Some(geometry) = geometry else {
                    continue;
                };
                // A world-wide multi-part feature would land in every tile whole; its parts each find
                // only the tiles they cross.
                for part in parts(geometry) {
                    features.push((part, properties.clone(), min_zoom));
                }
            }
            layers.push(Layer::new(source.name, features));
        }
        layers.push(Layer::new("graticule", graticule()));
        Ok(Self { layers })
    }

    pub fn layer_names(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|l| l.name.as_str())
    }

    /// One tile with a layer per reference layer that has something in it; `None` past [`MAX_ZOOM`].
    pub fn tile(&self, tile: TileId) -> Option<Vec<u8>> {
        if tile.z > MAX_ZOOM {
            return None;
        }
        let b = tile.bbox(BUFFER);
        let query = AABB::from_corners([b.west, b.south], [b.east, b.north]);
        let zoom = f64::from(tile.z);
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let mut builder = LayerBuilder::new(&layer.name, tile);
            let mut hits: Vec<usize> = layer
                .tree
                .locate_in_envelope_intersecting(&query)
                .map(|e| e.index)
                .collect();
            // Source order is drawing and label-priority order (the build script sorts cities by size).
            hits.sort_unstable();
            for index in hits {
                let (geometry, properties, min_zoom) = &layer.features[index];
                if *min_zoom > zoom {
                    continue;
                }
                builder.add_feature(index as i64, "", geometry, None, properties);
            }
            out.push(builder.finish());
        }
        Some(encode_tile(out))
    }
}

impl Layer {
    fn new(name: &str, features: Vec<(Geometry<f64>, Properties, f64)>) -> Self {
        let entries = features
            .iter()
            .enumerate()
            .filter_map(|(index, (geometry, _, _))| {
                let rect = geometry.bounding_rect()?;
                Some(Entry {
                    envelope: AABB::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    index,
                })
            })
            .collect();
        Self {
            name: name.to_string(),
            features,
            tree: RTree::bulk_load(entries),
        }
    }
}

fn parts(geometry: Geometry<f64>) -> Vec<Geometry<f64>> {
    match geometry {
        Geometry::MultiPolygon(m) => m.0.into_iter().map(Geometry::Polygon).collect(),
        Geometry::MultiLineString(m) => m.0.into_iter().map(Geometry::LineString).collect(),
        Geometry::GeometryCollection(c) => c.0.into_iter().flat_map(parts).collect(),
        other => vec![other],
    }
}

/// Meridians and parallels every 10°, those on 30° multiples visible from zoom 0 and the rest from zoom 2;
/// each line carries `degrees` and `axis` (`meridian` or `parallel`) so a style can label or weight them.
fn graticule() -> Vec<(Geometry<f64>, Properties, f64)> {
    let mut lines = Vec::new();
    let lat_limit = MAX_LATITUDE.floor();
    let mut push = |axis: &str, degrees: i32, coords: Vec<(f64, f64)>| {
        let mut properties = Properties::new();
        properties.insert("axis".into(), Value::from(axis));
        properties.insert("degrees".into(), Value::from(degrees));
        let min_zoom = if degrees.rem_euclid(30) == 0 {
            0.0
        } else {
            2.0
        };
        properties.insert("min_zoom".into(), Value::from(min_zoom));
        let line = LineString::from(coords);
        lines.push((
            Geometry::MultiLineString(MultiLineString::new(vec![line])),
            properties,
            min_zoom,
        ));
    };
    for lon in (-180..=180).step_by(10) {
        // Densified so the line stays straight through clipping at every zoom.
        let coords = (0..=170)
            .map(|i| {
                (
                    f64::from(lon),
                    -lat_limit + f64::from(i) * (2.0 * lat_limit / 170.0),
                )
            })
            .collect();
        push("meridian", lon, coords);
    }
    for lat in (-80..=80).step_by(10) {
        let coords = (0..=36)
            .map(|i| (-180.0 + f64::from(i) * 10.0, f64::from(lat)))
            .collect();
        push("parallel", lat, coords);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use geozero::mvt::{Message, Tile};

    const LAND: &str = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-10,-10],[10,-10],[10,10],[-10,10],[-10,-10]]]}}]}"#;
    const CITIES: &str = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"name":"Big","min_zoom":0},"geometry":{"type":"Point","coordinates":[1,1]}},
        {"type":"Feature","properties":{"name":"Small","min_zoom":5},"geometry":{"type":"Point","coordinates":[2,2]}}]}"#;

    fn basemap() -> Basemap {
        Basemap::new(&[
            BasemapLayer {
                name: "land",
                geojson: LAND.as_bytes(),
            },
            BasemapLayer {
                name: "cities",
                geojson: CITIES.as_bytes(),
            },
        ])
        .expect("basemap")
    }

    fn layer_sizes(bytes: &[u8]) -> Vec<(String, usize)> {
        let tile = Tile::decode(bytes).expect("tile decodes");
        tile.layers
            .into_iter()
            .map(|l| (l.name, l.features.len()))
            .collect()
    }

    #[test]
    fn world_tile_has_land_graticule_and_only_big_cities() {
        let map = basemap();
        let bytes = map.tile(TileId::new(0, 0, 0).expect("tile")).expect("z0");
        let layers = layer_sizes(&bytes);
        assert!(layers.contains(&("land".into(), 1)), "{layers:?}");
        assert!(layers.contains(&("cities".into(), 1)), "{layers:?}");
        let graticule = layers
            .iter()
            .find(|(n, _)| n == "graticule")
            .expect("graticule");
        // 13 meridians and 5 parallels on 30° multiples.
        assert_eq!(graticule.1, 13 + 5);
    }

    #[test]
    fn small_cities_appear_from_their_zoom_and_far_tiles_hold_no_land() {
        let map = basemap();
        // z5 tile holding (2,2): x = (2+180)/360*32 = 16.2, y just above the equator = 15.
        let near = layer_sizes(&map.tile(TileId::new(5, 16, 15).expect("tile")).expect("z5"));
        assert!(near.contains(&("cities".into(), 2)), "{near:?}");
        let far = layer_sizes(&map.tile(TileId::new(5, 2, 2).expect("tile")).expect("z5"));
        assert!(!far.iter().any(|(n, _)| n == "land"), "{far:?}");
        assert!(
            map.tile(TileId::new(u32::from(MAX_ZOOM) + 1, 0, 0).expect("tile"))
                .is_none()
        );
    }

    #[test]
    fn a_broken_layer_is_named() {
        let err = Basemap::new(&[BasemapLayer {
            name: "land",
            geojson: b"{\"type\":\"FeatureCollection\",\"features\":[{]}",
        }])
        .err()
        .expect("refused");
        assert!(
            err.to_string().starts_with("basemap layer 'land':"),
            "{err}"
        );
    }
}
