//! Room `tiles`: Mapbox Vector Tiles (spec 2.1) made from index snapshots. It owns the WebMercatorQuad
//! tile math, clipping with a buffer, simplification by zoom, clustering of dense point layers, and MVT
//! encoding (through geozero's MVT writer).
//!
//! Depends on `model`, `index`, geo and geozero. It never reads a store: the caller fetches the properties
//! of the features a [`LayerPlan`] names and hands them to a [`LayerBuilder`].
#![forbid(unsafe_code)]

mod clip;
mod layer;
mod math;
mod plan;

pub use layer::{Cluster, LayerBuilder, to_tile_geometry};
pub use math::{BUFFER, EXTENT, MAX_LATITUDE, MAX_ZOOM, TileId, mercator_unit};
pub use plan::{CLUSTER_ABOVE, CLUSTER_CELL, LayerPlan, plan_layer};

use geozero::mvt::{Message, Tile, tile};

/// Encodes the layers as one tile; layers without features are left out, as the spec recommends.
pub fn encode_tile(layers: Vec<tile::Layer>) -> Vec<u8> {
    Tile {
        layers: layers
            .into_iter()
            .filter(|l| !l.features.is_empty())
            .collect(),
    }
    .encode_to_vec()
}
