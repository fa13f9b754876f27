//! Room `formats`: one module per file standard. Readers turn bytes into validated WGS84 [`Feature`]s, one at a
//! time so memory stays flat whatever the file size; writers stream features back out. Every error names the
//! file and the line or feature where it happened and says why.
//!
//! Formats: GeoJSON, GeoJSONSeq, CSV, FlatGeobuf, GeoParquet, Shapefile (also zipped), GeoPackage layers,
//! KML/KMZ, GPX and XLSX/ODS sheets (read like CSV) in; all but Shapefile, GPX and sheets out. The GeoPackage standard's SQL ([`geopackage`]) lives
//! here too, so the store (room `gpkg`) and exports build the same tables. Files in another CRS are brought to WGS84 with proj4rs ([`Crs`]).
//!
//! Depends on `model` and on the parsing crates of each standard (serde_json, csv, wkt, flatgeobuf,
//! shapefile, parquet/arrow, kml, gpx, zip, calamine, encoding_rs/oem_cp for .dbf code pages, rusqlite for
//! foreign GeoPackages, proj4rs). It knows nothing of
//! stores, datasets or HTTP, and it never repairs data silently: a ring that is not closed is an error, not a
//! closed ring.
//!
//! It also owns the data-protection guard ([`privacy`]): the one place that decides whether a column
//! holds personal data.
#![forbid(unsafe_code)]

mod archive;
mod circular_arc;
mod crs;
mod csv_table;
mod dbf;
mod detect;
mod error;
mod fgb;
mod geojson;
mod geojson_geometry;
mod geojson_seq;
pub mod geopackage;
mod gpkg_layer;
mod gpx_file;
mod kml_file;
mod line_ends;
mod parquet_file;
mod parquet_footer;
pub mod privacy;
mod read;
mod record;
mod record_bound;
mod shp;
mod spreadsheet;
mod stream;
mod text_encoding;
pub mod wkb;
mod wkt_curve;
mod write;

pub use archive::{ArchiveLimits, RATIO_FLOOR_BYTES, free_bytes};
pub use crs::Crs;
pub use csv_table::{CoordinateColumns, CsvOptions, CsvReader, CsvWriter};
pub use detect::{Format, detect_format};
pub use error::{
    FormatError, FormatErrorKind, FormatResult, Location, RawRecord, SNIPPET_CHARS, file_label,
};
pub use geojson::{GeoJsonReader, GeoJsonWriter};
pub use geojson_geometry::geometry_from_geojson;
pub use geojson_seq::{GeoJsonSeqReader, GeoJsonSeqWriter};
pub use read::{open_reader, read_stream};
pub use stream::{FeatureStream, MAX_NOTES, ReadNotes, ReadOptions, SourceFeature};
pub use text_encoding::TextEncoding;
pub use write::{
    FeatureWriter, PropertyRef, WriterLayout, create_writer, feature_json, push_feature_json,
    push_feature_parts_json,
};

pub use geoconsole_model::Feature;

/// Name of the property that keeps a point's third coordinate (elevation, or depth for seismic feeds), which
/// 2D geometries cannot hold but users must not lose.
pub const Z_PROPERTY: &str = "geometry_z";
