//! SDF glyph ranges for MapLibre labels (`{fontstack}/{start}-{end}.pbf`), rendered from a TrueType font:
//! fontdue rasterises each glyph at 24 px, sdf_glyph_renderer turns the coverage into a signed distance
//! field with a 3-pixel border, and the range is encoded in the glyphs protobuf that MapLibre decodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fontdue::{Font, FontSettings};
use prost::Message;
use sdf_glyph_renderer::{BitmapGlyph, clamp_to_u8};

/// Pixel size MapLibre lays glyphs out at.
pub const FONT_SIZE: f32 = 24.0;
/// Border around each glyph bitmap, fixed by MapLibre.
const BORDER: usize = 3;
/// How far, in pixels, the distance field reaches, and where its zero sits in 0..=255 (as node-fontnik).
const RADIUS: usize = 8;
const CUTOFF: f64 = 0.25;
/// A range is 256 code points; there are 256 ranges in the Basic Multilingual Plane and beyond.
const RANGE: u32 = 256;
const LAST_RANGE_START: u32 = 65_280;

#[derive(Debug, thiserror::Error)]
pub enum GlyphError {
    #[error("font: {0}")]
    Font(String),
    #[error(
        "glyph range '{0}' is not START-END with START a multiple of 256 and END = START + 255, at most 65280-65535"
    )]
    Range(String),
}

#[derive(Clone, PartialEq, Message)]
struct GlyphsMessage {
    #[prost(message, repeated, tag = "1")]
    stacks: Vec<FontstackMessage>,
}

#[derive(Clone, PartialEq, Message)]
struct FontstackMessage {
    #[prost(string, required, tag = "1")]
    name: String,
    #[prost(string, required, tag = "2")]
    range: String,
    #[prost(message, repeated, tag = "3")]
    glyphs: Vec<GlyphMessage>,
}

#[derive(Clone, PartialEq, Message)]
struct GlyphMessage {
    #[prost(uint32, required, tag = "1")]
    id: u32,
    #[prost(bytes = "vec", optional, tag = "2")]
    bitmap: Option<Vec<u8>>,
    #[prost(uint32, required, tag = "3")]
    width: u32,
    #[prost(uint32, required, tag = "4")]
    height: u32,
    #[prost(sint32, required, tag = "5")]
    left: i32,
    #[prost(sint32, required, tag = "6")]
    top: i32,
    #[prost(uint32, required, tag = "7")]
    advance: u32,
}

/// Glyph ranges of one font, rendered on first request and kept (a range is a few kilobytes to tens of
/// kilobytes, and a map asks for two or three).
pub struct Glyphs {
    name: String,
    font: Font,
    ascender: i32,
    rendered: Mutex<HashMap<u32, Arc<Vec<u8>>>>,
}

/// `"0-255"` → 0. Ranges are fixed-size and aligned, as MapLibre asks for them.
pub fn parse_range(text: &str) -> Result<u32, GlyphError> {
    let bad = || GlyphError::Range(text.chars().take(40).collect());
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let start: u32 = start.parse().map_err(|_| bad())?;
    let end: u32 = end.parse().map_err(|_| bad())?;
    if !start.is_multiple_of(RANGE) || end != start + RANGE - 1 || start > LAST_RANGE_START {
        return Err(bad());
    }
    Ok(start)
}

impl Glyphs {
    /// `name` is the fontstack name styles use (e.g. "DejaVu Sans").
    pub fn new(name: &str, font_bytes: &[u8]) -> Result<Self, GlyphError> {
        let font = Font::from_bytes(font_bytes, FontSettings::default())
            .map_err(|e| GlyphError::Font(e.to_string()))?;
        let ascender = font
            .horizontal_line_metrics(FONT_SIZE)
            .map_or(FONT_SIZE * 0.8, |m| m.ascent)
            .round() as i32;
        Ok(Self {
            name: name.to_string(),
            font,
            ascender,
            rendered: Mutex::new(HashMap::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoded range starting at `start` (see [`parse_range`]); code points the font lacks are left
    /// out, so MapLibre falls back to nothing rather than to a wrong glyph.
    pub fn range(&self, start: u32) -> Arc<Vec<u8>> {
        if let Some(done) = self.lock().get(&start) {
            return Arc::clone(done);
        }
        let bytes = Arc::new(self.render(start));
        self.lock().insert(start, Arc::clone(&bytes));
        bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Vec<u8>>>> {
        // A panic while rendering leaves only a cache behind; it is still consistent.
        self.rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn render(&self, start: u32) -> Vec<u8> {
        let end = start + RANGE - 1;
        let glyphs = (start..=end)
            .filter_map(char::from_u32)
            .filter_map(|c| self.glyph(c))
            .collect();
        GlyphsMessage {
            stacks: vec![FontstackMessage {
                name: self.name.clone(),
                range: format!("{start}-{end}"),
                glyphs,
            }],
        }
        .encode_to_vec()
    }

    fn glyph(&self, c: char) -> Option<GlyphMessage> {
        if self.font.lookup_glyph_index(c) == 0 {
            return None;
        }
        let (metrics, coverage) = self.font.rasterize(c, FONT_SIZE);
        let advance = metrics.advance_width.round().max(0.0) as u32;
        let (bitmap, width, height) = if metrics.width == 0 || metrics.height == 0 {
            (None, 0, 0)
        } else {
            let glyph =
                BitmapGlyph::from_unbuffered(&coverage, metrics.width, metrics.height, BORDER)
                    .ok()?;
            let sdf = clamp_to_u8(&glyph.render_sdf(RADIUS), CUTOFF).ok()?;
            (Some(sdf), metrics.width as u32, metrics.height as u32)
        };
        // fontdue measures from the baseline upwards; MapLibre wants the top edge relative to the ascender.
        let top = metrics.ymin + metrics.height as i32 - self.ascender;
        Some(GlyphMessage {
            id: u32::from(c),
            bitmap,
            width,
            height,
            left: metrics.xmin,
            top,
            advance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_aligned_and_bounded() {
        assert_eq!(parse_range("0-255").expect("ok"), 0);
        assert_eq!(parse_range("65280-65535").expect("ok"), 65_280);
        for bad in ["1-256", "0-254", "256", "-1-254", "65536-65791", "a-b", ""] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_broken_font_is_refused() {
        assert!(Glyphs::new("x", b"not a font").is_err());
    }
}
