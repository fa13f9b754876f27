//! Room `tiles`: Mapbox Vector Tiles (spec 2.1) made from index snapshots. It owns the WebMercatorQuad
//! tile math, clipping with a buffer, simplification by zoom, clustering of dense point layers, and MVT
//! encoding (geometry commands through geozero's MVT writer, messages written straight into the tile's bytes
//! with prost's wire encoding).
//!
//! Depends on `model`, `index`, geo, geozero and prost. It never reads a store: the caller fetches the properties
//! of the features a [`LayerPlan`] names and hands them to a [`LayerBuilder`].
#![forbid(unsafe_code)]

mod clip;
mod layer;
mod math;
mod plan;

pub use layer::{Cluster, EncodedLayer, LayerBuilder, TableFeature, to_tile_geometry};
pub use math::{BUFFER, EXTENT, MAX_LATITUDE, MAX_ZOOM, TileId, mercator_unit};
pub use plan::{CLUSTER_ABOVE, CLUSTER_CELL, LayerPlan, PointPlan, plan_layer, plan_points};

use prost::encoding::{WireType, encode_key, encode_varint};

/// Encodes the layers as one tile (each a `Tile.layers` field, as prost writes them); layers without
/// features are left out, as the spec recommends.
pub fn encode_tile(layers: Vec<EncodedLayer>) -> Vec<u8> {
    let kept: Vec<&EncodedLayer> = layers.iter().filter(|l| !l.is_empty()).collect();
    let mut out = Vec::with_capacity(kept.iter().map(|l| l.bytes().len() + 8).sum());
    for layer in kept {
        encode_key(3, WireType::LengthDelimited, &mut out);
        encode_varint(layer.bytes().len() as u64, &mut out);
        out.extend_from_slice(layer.bytes());
    }
    out
}
