//! FlatGeobuf in and out, through the `flatgeobuf` crate. Reads verify the flatbuffers they are given (a
//! hostile header is an error, not a crash) and use the file's packed R-tree when a bounding box is asked for;
//! writes build that index, so QGIS and GDAL get fast bbox reads from our exports.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FgbCrs, FgbReader, FgbWriter, FgbWriterOptions,
    GeometryType as FgbGeometryType,
};
use geoconsole_model::{Bbox, Feature, FieldType, GeometryType, Properties};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};
use serde_json::Value;

use crate::record::{self, Elevations, SourceCrs};
use crate::stream::{ChunkReceiver, ChunkSender, READ_BUFFER_BYTES, spawn_producer};
use crate::wkb::Elevation;
use crate::write::{FeatureWriter, WriterLayout};
use crate::{Crs, FormatErrorKind, FormatResult, Location, ReadNotes};

const NO_CRS_HINT: &str =
    "the file declares no coordinate reference system; pass --source-crs if it is not WGS84";

/// Streams a FlatGeobuf file's features, all of them or those whose boxes meet `bbox`.
pub(crate) fn read(
    path: &Path,
    bbox: Option<Bbox>,
    source_crs: Option<Crs>,
    notes: &ReadNotes,
) -> FormatResult<ChunkReceiver> {
    let file = File::open(path).map_err(|e| crate::FormatError::io(path, &e))?;
    let fgb = FgbReader::open(BufReader::with_capacity(READ_BUFFER_BYTES, file)).map_err(|e| {
        record::file_error(
            FormatErrorKind::WrongFormat,
            path,
            format!("not a readable FlatGeobuf file: {e}"),
        )
    })?;
    let crs = match source_crs {
        Some(crs) => SourceCrs::Known(crs),
        None => SourceCrs::known_or_assumed(header_crs(path, &fgb)?, NO_CRS_HINT),
    };
    crs.announce(path, notes);
    let z = ZLayout {
        has_z: fgb.header().has_z(),
        points: fgb.header().geometry_type() == FgbGeometryType::Point,
    };
    let mut elevations = Elevations::new(path, notes.clone());
    let indexed = fgb.header().index_node_size() > 0;
    check_feature_sizes(
        path,
        fgb.header().features_count(),
        fgb.header().index_node_size(),
    )?;
    let columns: Vec<ColumnType> = fgb
        .header()
        .columns()
        .map(|columns| columns.iter().map(|c| c.type_()).collect())
        .unwrap_or_default();
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-fgb", move |chunks| {
        let selected = match bbox {
            Some(b) if indexed && !crs_needs_transform(&crs) => {
                fgb.select_bbox(b.west, b.south, b.east, b.north)
            }
            _ => fgb.select_all(),
        };
        match selected {
            Ok(features) => stream(
                &path_buf,
                features,
                &columns,
                (&crs, z, &mut elevations),
                bbox,
                chunks,
            ),
            Err(e) => {
                chunks.push(Err(record::file_error(
                    FormatErrorKind::Syntax,
                    &path_buf,
                    format!("cannot read the features: {e}"),
                )));
            }
        }
    }))
}

/// The `flatgeobuf` crate sizes its buffer by each feature's declared length before reading it, so a 10 KB
/// file declaring a 4 GiB feature had it allocate 4 GiB (found by fuzzing). Every length is checked here
/// first, in one pass that skips over the features: none may exceed the record cap or the bytes left, and
/// every leaf of the packed R-tree (which a bbox read follows) must point at the start of a feature.
fn check_feature_sizes(path: &Path, count: u64, node_size: u16) -> FormatResult<()> {
    use std::io::{Read, Seek, SeekFrom};
    let refuse = |why: String| record::file_error(FormatErrorKind::Syntax, path, why);
    let io = |e: io::Error| crate::FormatError::io(path, &e);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let mut word = [0u8; 4];
    reader.seek(SeekFrom::Start(8)).map_err(io)?;
    reader.read_exact(&mut word).map_err(io)?;
    let index_start = 12 + u64::from(u32::from_le_bytes(word));
    let index_bytes = if node_size > 0 && count > 0 {
        let items = usize::try_from(count)
            .map_err(|_| refuse(format!("the header declares {count} features")))?;
        flatgeobuf::packed_r_tree::PackedRTree::index_size(items, node_size) as u64
    } else {
        0
    };
    let data_start = index_start.saturating_add(index_bytes);
    if data_start > len {
        return Err(refuse(format!(
            "the header and index declare {data_start} bytes, but the file has {len}"
        )));
    }
    let limit = crate::record_bound::MAX_RECORD_BYTES;
    let mut starts = Vec::new();
    let mut at = data_start;
    reader.seek(SeekFrom::Start(at)).map_err(io)?;
    while len - at >= 4 {
        reader.read_exact(&mut word).map_err(io)?;
        let size = u64::from(u32::from_le_bytes(word));
        let left = len - at - 4;
        if size > limit || size > left {
            return Err(refuse(format!(
                "feature {} declares {size} bytes, but {} ({})",
                starts.len(),
                if size > left { left } else { limit },
                if size > left {
                    "the bytes left in the file"
                } else {
                    "the most one feature may hold"
                }
            )));
        }
        if index_bytes > 0 {
            starts.push(at - data_start);
        }
        reader.seek_relative(size as i64).map_err(io)?;
        at += 4 + size;
    }
    if index_bytes > 0 {
        // Leaves are the last `count` nodes (40 bytes each: a box of four f64, then the feature's offset).
        let leaves = index_start + index_bytes - count.saturating_mul(40);
        reader.seek(SeekFrom::Start(leaves)).map_err(io)?;
        let mut node = [0u8; 40];
        for _ in 0..count {
            reader.read_exact(&mut node).map_err(io)?;
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&node[32..]);
            let offset = u64::from_le_bytes(offset);
            if starts.binary_search(&offset).is_err() {
                return Err(refuse(format!(
                    "the spatial index points at byte {offset} of the features, where no feature starts"
                )));
            }
        }
    }
    Ok(())
}

fn crs_needs_transform(crs: &SourceCrs) -> bool {
    matches!(crs, SourceCrs::Known(c) if !c.is_wgs84())
}

fn header_crs<R: io::Read>(path: &Path, fgb: &FgbReader<R>) -> FormatResult<Option<Crs>> {
    let Some(crs) = fgb.header().crs() else {
        return Ok(None);
    };
    let org = crs.org().unwrap_or("EPSG");
    let refuse = |why: String| record::file_error(FormatErrorKind::InvalidOption, path, why);
    if crs.code() > 0 && org.eq_ignore_ascii_case("EPSG") {
        return Crs::from_epsg(crs.code() as u32).map(Some).map_err(refuse);
    }
    if let Some(wkt) = crs.wkt().filter(|w| !w.trim().is_empty()) {
        return Crs::from_wkt(wkt).map(Some).map_err(refuse);
    }
    if crs.code() > 0 {
        return Err(refuse(format!(
            "coordinate reference system {org}:{} is unknown to this build; reproject the file to \
             EPSG:4326 first",
            crs.code()
        )));
    }
    Ok(None)
}

fn stream<I>(
    path: &Path,
    mut features: I,
    columns: &[ColumnType],
    (crs, z, elevations): (&SourceCrs, ZLayout, &mut Elevations),
    bbox: Option<Bbox>,
    chunks: &mut ChunkSender,
) where
    I: FallibleStreamingIterator<Item = flatgeobuf::FgbFeature, Error = flatgeobuf::Error>,
{
    let mut index = 0u64;
    loop {
        let location = Location::Feature(index);
        let feature = match features.next() {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                chunks.push(Err(crate::FormatError::new(
                    FormatErrorKind::Syntax,
                    path,
                    location,
                    format!("unreadable feature (truncated or corrupt file?): {e}"),
                )));
                return;
            }
        };
        index += 1;
        let mut properties = JsonProperties::default();
        let read = if properties_fit(feature, columns) {
            feature
                .process_properties(&mut properties)
                .map_err(|e| format!("unreadable properties: {e}"))
        } else {
            Err("unreadable properties: a value runs past the end of the feature".to_string())
        };
        let item = read.and_then(|_| match feature.geometry() {
            Some(_) => feature
                .to_geo()
                .map(Some)
                .map_err(|e| format!("unreadable geometry: {e}")),
            None => Ok(None),
        });
        let item = match item {
            Ok(geometry) => {
                if geometry.is_some() {
                    elevations.keep(z.of(feature), &mut properties.0);
                }
                record::feature(path, location, geometry, crs, properties.0, None)
            }
            Err(why) => Err(crate::FormatError::new(
                FormatErrorKind::InvalidFeature,
                path,
                location,
                why,
            )),
        };
        // The index selects by box already when there is one; this makes the answer the same without it.
        let keep = match (&item, bbox) {
            (Ok(f), Some(b)) => f
                .feature
                .geometry
                .as_ref()
                .and_then(Bbox::of_geometry)
                .is_some_and(|g| g.intersects(&b)),
            _ => true,
        };
        if keep && !chunks.push(item) {
            return;
        }
    }
}

/// What the header says of the file's Z ordinates.
#[derive(Clone, Copy)]
struct ZLayout {
    has_z: bool,
    /// Every geometry is a point (a mixed file names each geometry's type instead).
    points: bool,
}

impl ZLayout {
    fn of(self, feature: &flatgeobuf::FgbFeature) -> Elevation {
        let Some(geometry) = feature.geometry().filter(|_| self.has_z) else {
            return Elevation::Flat;
        };
        if self.points || geometry.type_() == FgbGeometryType::Point {
            match geometry.z().filter(|z| !z.is_empty()).map(|z| z.get(0)) {
                Some(z) if !z.is_nan() => Elevation::Point(z),
                _ => Elevation::Flat,
            }
        } else {
            Elevation::Dropped
        }
    }
}

/// Whether a feature's property bytes stay within themselves. flatgeobuf's reader slices them by the lengths
/// they declare and panics on a lie (fuzzing found a string of 2,017,410,211 bytes declared in a 1,020-byte
/// buffer), so they are walked first the way it walks them, every length checked.
fn properties_fit(feature: &flatgeobuf::FgbFeature, columns: &[ColumnType]) -> bool {
    let Some(properties) = feature.fbs_feature().properties() else {
        return true;
    };
    if columns.is_empty() {
        // The reader reads nothing without columns.
        return true;
    }
    let bytes = properties.bytes();
    let mut offset = 0usize;
    while offset + 1 < bytes.len() {
        let index = usize::from(u16::from_le_bytes([bytes[offset], bytes[offset + 1]]));
        offset += 2;
        let Some(kind) = columns.get(index) else {
            // Refused by the reader with an error of its own.
            return true;
        };
        let size = match *kind {
            ColumnType::Byte | ColumnType::UByte | ColumnType::Bool => 1,
            ColumnType::Short | ColumnType::UShort => 2,
            ColumnType::Int | ColumnType::UInt | ColumnType::Float => 4,
            ColumnType::Long | ColumnType::ULong | ColumnType::Double => 8,
            ColumnType::String | ColumnType::Json | ColumnType::DateTime | ColumnType::Binary => {
                let Some(&[a, b, c, d]) = bytes.get(offset..offset + 4) else {
                    return false;
                };
                4 + u32::from_le_bytes([a, b, c, d]) as usize
            }
            _ => 0,
        };
        match offset.checked_add(size) {
            Some(end) if end <= bytes.len() => offset = end,
            _ => return false,
        }
    }
    true
}

/// Collects geozero's typed property callbacks as JSON values, keeping the file's column order.
#[derive(Default)]
pub(crate) struct JsonProperties(pub(crate) Properties);

impl PropertyProcessor for JsonProperties {
    fn property(
        &mut self,
        _i: usize,
        name: &str,
        value: &ColumnValue,
    ) -> geozero::error::Result<bool> {
        let json = match value {
            ColumnValue::Byte(v) => Value::from(*v),
            ColumnValue::UByte(v) => Value::from(*v),
            ColumnValue::Bool(v) => Value::from(*v),
            ColumnValue::Short(v) => Value::from(*v),
            ColumnValue::UShort(v) => Value::from(*v),
            ColumnValue::Int(v) => Value::from(*v),
            ColumnValue::UInt(v) => Value::from(*v),
            ColumnValue::Long(v) => Value::from(*v),
            ColumnValue::ULong(v) => Value::from(*v),
            ColumnValue::Float(v) => float(f64::from(*v)),
            ColumnValue::Double(v) => float(*v),
            ColumnValue::String(v) | ColumnValue::DateTime(v) => Value::from(*v),
            ColumnValue::Json(v) => serde_json::from_str(v).unwrap_or_else(|_| Value::from(*v)),
            ColumnValue::Binary(v) => Value::from(hex(v)),
        };
        self.0.insert(name.to_string(), json);
        Ok(false)
    }
}

fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a FlatGeobuf file with a packed Hilbert R-tree. Features go to the library's temporary file as
/// they come; the index (about 40 bytes per feature) is built at the end, which is when the file is written.
pub(crate) struct FgbFileWriter {
    out: Box<dyn Write + Send>,
    writer: FgbWriter<'static>,
    columns: Vec<(String, FieldType)>,
}

impl FgbFileWriter {
    pub(crate) fn new(out: Box<dyn Write + Send>, layout: &WriterLayout) -> io::Result<Self> {
        let geometry_type = match layout.geometry_type {
            GeometryType::Point => FgbGeometryType::Point,
            GeometryType::LineString => FgbGeometryType::LineString,
            GeometryType::Polygon => FgbGeometryType::Polygon,
            GeometryType::MultiPoint => FgbGeometryType::MultiPoint,
            GeometryType::MultiLineString => FgbGeometryType::MultiLineString,
            GeometryType::MultiPolygon => FgbGeometryType::MultiPolygon,
            GeometryType::GeometryCollection => FgbGeometryType::GeometryCollection,
            GeometryType::Geometry => FgbGeometryType::Unknown,
        };
        let options = FgbWriterOptions {
            write_index: true,
            detect_type: false,
            promote_to_multi: matches!(
                layout.geometry_type,
                GeometryType::MultiPoint
                    | GeometryType::MultiLineString
                    | GeometryType::MultiPolygon
            ),
            crs: FgbCrs {
                code: 4326,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut writer = FgbWriter::create_with_options(&layout.name, geometry_type, options)
            .map_err(io::Error::other)?;
        let columns = layout.columns();
        for (name, field_type) in &columns {
            writer.add_column(name, column_type(*field_type), |_, column| {
                column.nullable = true;
            });
        }
        Ok(Self {
            out,
            writer,
            columns,
        })
    }
}

fn column_type(field_type: FieldType) -> ColumnType {
    match field_type {
        FieldType::Integer => ColumnType::Long,
        FieldType::Real => ColumnType::Double,
        FieldType::Boolean => ColumnType::Bool,
        FieldType::Date | FieldType::DateTime => ColumnType::DateTime,
        FieldType::Json => ColumnType::Json,
        FieldType::Text => ColumnType::String,
    }
}

impl FeatureWriter for FgbFileWriter {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        // The flatgeobuf crate writes a geometry for every feature and indexes its box: an unlocated feature
        // would be written as an empty geometry with an infinite box in the Hilbert R-tree. Refused, by name.
        let Some(geometry) = &feature.geometry else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "feature '{}' has no geometry, which this FlatGeobuf writer cannot write (its spatial index \
                     needs a box per feature); export as GeoJSON, GeoPackage, GeoParquet, CSV or KML instead",
                    feature.id.as_ref().map_or("(no id)", |i| i.as_str())
                ),
            ));
        };
        let columns = &self.columns;
        let mut failure = None;
        self.writer
            .add_feature_geom(geometry.clone(), |properties| {
                for (i, (name, field_type)) in columns.iter().enumerate() {
                    let Some(value) = feature.properties.get(name).filter(|v| !v.is_null()) else {
                        continue;
                    };
                    let text;
                    let column = match (field_type, value) {
                        (FieldType::Integer, Value::Number(n)) if n.as_i64().is_some() => {
                            ColumnValue::Long(n.as_i64().unwrap_or_default())
                        }
                        (FieldType::Integer | FieldType::Real, Value::Number(n)) => {
                            ColumnValue::Double(n.as_f64().unwrap_or(f64::NAN))
                        }
                        (FieldType::Boolean, Value::Bool(b)) => ColumnValue::Bool(*b),
                        (_, Value::String(s)) => match field_type {
                            FieldType::Date | FieldType::DateTime => ColumnValue::DateTime(s),
                            _ => ColumnValue::String(s),
                        },
                        (FieldType::Json, v) => {
                            text = v.to_string();
                            ColumnValue::Json(&text)
                        }
                        (_, v) => {
                            text = v.to_string();
                            ColumnValue::String(&text)
                        }
                    };
                    if let Err(e) = properties.property(i, name, &column) {
                        failure = Some(e.to_string());
                    }
                }
            })
            .map_err(io::Error::other)?;
        match failure {
            Some(why) => Err(io::Error::other(why)),
            None => Ok(()),
        }
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let Self {
            mut out, writer, ..
        } = *self;
        writer.write(&mut out).map_err(io::Error::other)?;
        out.flush()
    }
}
