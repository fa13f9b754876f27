//! Room `basemap`: the console's own offline basemap, so the map works air-gapped with no tile service,
//! token or CDN. It owns two things: vector tiles of reference layers (land, country borders, coastlines, a
//! graticule and city labels) built from GeoJSON handed to it, and SDF glyph ranges for map labels rendered
//! from a TrueType font handed to it, in the protobuf format MapLibre requests.
//!
//! Depends on `tiles` (projection, clipping, MVT encoding), `formats` (GeoJSON reading) and `model`. It never
//! reads a store, and it does not know where its inputs come from (the server embeds them from the web build).
#![forbid(unsafe_code)]

mod glyphs;
mod reference;

pub use glyphs::{FONT_SIZE, GlyphError, Glyphs, parse_range};
pub use reference::{Basemap, BasemapError, BasemapLayer, MAX_ZOOM};
