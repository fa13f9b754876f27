//! GeoParquet 1.0/1.1 in and out, on the Apache `parquet` and `arrow` crates. Reads take the `geo` metadata's
//! primary column in WKB or in the native (GeoArrow "separated") encodings, and its CRS (PROJJSON; none means
//! OGC:CRS84 as the specification says). Writes produce GeoParquet 1.1: WKB geometry, a `bbox` covering
//! column for row-group pruning, and row groups small enough that memory stays flat.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, StructBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, SchemaRef};
use geoconsole_model::geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use geoconsole_model::{Bbox, Feature, FieldType, GeometryType, Properties};
use geozero::{CoordDimensions, ToWkb};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::parquet_footer::{self, SchemaDepth};
use crate::record::{self, Elevations, SourceCrs, file_error};
use crate::stream::{ChunkReceiver, spawn_producer};
use crate::wkb::Elevation;
use crate::write::{FeatureWriter, WriterLayout};
use crate::{Crs, FormatError, FormatErrorKind, FormatResult, Location, ReadNotes};

/// Rows per record batch read, and per row group written: large enough for throughput, small enough that
/// a 10-million-row export holds only one group's columns in memory.
const BATCH_ROWS: usize = 65_536;

/// How the primary geometry column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Wkb,
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
}

struct GeoColumn {
    name: String,
    encoding: Encoding,
    crs: SourceCrs,
}

pub(crate) fn read(
    path: &Path,
    source_crs: Option<Crs>,
    notes: &ReadNotes,
) -> FormatResult<ChunkReceiver> {
    let mut file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    // The parquet crate builds the schema tree by recursion, so its depth is measured first.
    match parquet_footer::schema_depth(&mut file).map_err(|e| FormatError::io(path, &e))? {
        SchemaDepth::Levels(depth) if depth > parquet_footer::MAX_SCHEMA_DEPTH => {
            return Err(file_error(
                FormatErrorKind::Syntax,
                path,
                format!(
                    "the Parquet schema nests {depth} levels deep; at most {} are accepted",
                    parquet_footer::MAX_SCHEMA_DEPTH
                ),
            ));
        }
        SchemaDepth::Unreadable => {
            return Err(file_error(
                FormatErrorKind::WrongFormat,
                path,
                "not a readable Parquet file: its footer is damaged or too large",
            ));
        }
        SchemaDepth::Levels(_) | SchemaDepth::NotParquet => {}
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        file_error(
            FormatErrorKind::WrongFormat,
            path,
            format!("not a readable Parquet file: {e}"),
        )
    })?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "geo"))
        .and_then(|k| k.value.clone())
        .ok_or_else(|| {
            file_error(
                FormatErrorKind::WrongFormat,
                path,
                "Parquet file without GeoParquet 'geo' metadata: it names no geometry column",
            )
        })?;
    let mut geo = geo_column(path, &metadata)?;
    if let Some(crs) = source_crs {
        geo.crs = SourceCrs::Known(crs);
    }
    geo.crs.announce(path, notes);
    let mut elevations = Elevations::new(path, notes.clone());
    let other_geometry_columns = geometry_columns(&metadata);
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("cannot read the rows: {e}"),
        )
    })?;
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-parquet", move |chunks| {
        let mut index = 0u64;
        for batch in reader {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    chunks.push(Err(FormatError::new(
                        FormatErrorKind::Syntax,
                        &path_buf,
                        Location::Feature(index),
                        format!("unreadable row group (truncated or corrupt file?): {e}"),
                    )));
                    return;
                }
            };
            let Some(geometry) = batch.column_by_name(&geo.name).cloned() else {
                chunks.push(Err(file_error(
                    FormatErrorKind::Syntax,
                    &path_buf,
                    format!(
                        "the geometry column '{}' named in the metadata is missing",
                        geo.name
                    ),
                )));
                return;
            };
            let schema = batch.schema();
            let properties: Vec<(usize, &Arc<Field>)> = schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| !other_geometry_columns.contains(f.name()) && !is_covering(f))
                .collect();
            for row in 0..batch.num_rows() {
                let location = Location::Feature(index);
                index += 1;
                let mut values = Properties::with_capacity(properties.len());
                for (column, field) in &properties {
                    values.insert(
                        field.name().clone(),
                        value(batch.column(*column).as_ref(), row),
                    );
                }
                let item = decode(geometry.as_ref(), row, geo.encoding)
                    .map_err(|why| {
                        FormatError::new(FormatErrorKind::InvalidFeature, &path_buf, location, why)
                    })
                    .and_then(|g| {
                        if g.is_some() {
                            elevations
                                .keep(elevation(geometry.as_ref(), row, geo.encoding), &mut values);
                        }
                        record::feature(&path_buf, location, g, &geo.crs, values, None)
                    });
                if !chunks.push(item) {
                    return;
                }
            }
        }
    }))
}

/// The `bbox` covering column of GeoParquet 1.1 is an index, not an attribute.
fn is_covering(field: &Field) -> bool {
    field.name() == "bbox" && matches!(field.data_type(), DataType::Struct(_))
}

fn geometry_columns(metadata: &str) -> BTreeSet<String> {
    serde_json::from_str::<Value>(metadata)
        .ok()
        .and_then(|v| {
            v.get("columns")
                .and_then(Value::as_object)
                .map(|c| c.keys().cloned().collect())
        })
        .unwrap_or_default()
}

fn geo_column(path: &Path, metadata: &str) -> FormatResult<GeoColumn> {
    let refuse = |why: String| file_error(FormatErrorKind::WrongFormat, path, why);
    let geo: Value = serde_json::from_str(metadata)
        .map_err(|e| refuse(format!("the 'geo' metadata is not JSON: {e}")))?;
    let name = geo
        .get("primary_column")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("the 'geo' metadata names no primary_column".into()))?
        .to_string();
    let column = geo
        .get("columns")
        .and_then(|c| c.get(&name))
        .ok_or_else(|| {
            refuse(format!(
                "the 'geo' metadata does not describe column '{name}'"
            ))
        })?;
    let encoding = match column
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("WKB")
    {
        e if e.eq_ignore_ascii_case("wkb") => Encoding::Wkb,
        "point" => Encoding::Point,
        "linestring" => Encoding::LineString,
        "polygon" => Encoding::Polygon,
        "multipoint" => Encoding::MultiPoint,
        "multilinestring" => Encoding::MultiLineString,
        "multipolygon" => Encoding::MultiPolygon,
        other => {
            return Err(refuse(format!(
                "geometry encoding '{other}' is not GeoParquet 1.0/1.1"
            )));
        }
    };
    if column.get("edges").and_then(Value::as_str) == Some("spherical") {
        return Err(file_error(
            FormatErrorKind::InvalidOption,
            path,
            "geometry edges are 'spherical'; the console stores planar edges and would draw these wrong",
        ));
    }
    let crs = match column.get("crs") {
        None => SourceCrs::Known(Crs::wgs84()),
        Some(Value::Null) => SourceCrs::Assumed {
            hint: "the file says its CRS is undefined, so WGS84 was assumed; pass --source-crs if not",
        },
        Some(projjson) => SourceCrs::Known(
            crs_of_projjson(projjson)
                .map_err(|why| file_error(FormatErrorKind::InvalidOption, path, why))?,
        ),
    };
    Ok(GeoColumn {
        name,
        encoding,
        crs,
    })
}

/// A PROJJSON CRS by its identifier (what GeoPandas, GDAL and DuckDB write).
fn crs_of_projjson(projjson: &Value) -> Result<Crs, String> {
    if let Some(text) = projjson.as_str() {
        return Crs::parse(text);
    }
    let id = projjson
        .get("id")
        .or_else(|| projjson.get("ids").and_then(|ids| ids.get(0)));
    let authority = id.and_then(|i| i.get("authority")).and_then(Value::as_str);
    let code = id.and_then(|i| i.get("code"));
    let code = code
        .and_then(Value::as_u64)
        .map(|c| c.to_string())
        .or_else(|| code.and_then(Value::as_str).map(str::to_string));
    match (authority, code) {
        (Some(a), Some(c)) if a.eq_ignore_ascii_case("EPSG") => Crs::parse(&format!("EPSG:{c}")),
        (Some(a), Some(c)) if a.eq_ignore_ascii_case("OGC") && c == "CRS84" => Ok(Crs::wgs84()),
        _ => {
            let name = projjson
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("unnamed");
            Err(format!(
                "coordinate reference system '{name}' carries no EPSG identifier this build can use; \
                 reproject the file to EPSG:4326 first"
            ))
        }
    }
}

fn decode(
    column: &dyn Array,
    row: usize,
    encoding: Encoding,
) -> Result<Option<Geometry<f64>>, String> {
    if column.is_null(row) {
        return Ok(None);
    }
    if encoding == Encoding::Wkb {
        let bytes = match column.data_type() {
            DataType::Binary => column.as_binary::<i32>().value(row),
            DataType::LargeBinary => column.as_binary::<i64>().value(row),
            DataType::BinaryView => column.as_binary_view().value(row),
            other => return Err(format!("WKB column holds {other}, not binary")),
        };
        // An empty geometry (`POLYGON EMPTY`), like a null, is an unlocated feature.
        return crate::wkb::decode(bytes).map_err(|e| format!("unreadable WKB geometry: {e}"));
    }
    native(column, row, encoding).map(Some)
}

/// The Z of a row's geometry (see [`Elevation`]): WKB says it in its header; GeoArrow's separated encodings
/// by a `z` child of the coordinate struct.
fn elevation(column: &dyn Array, row: usize, encoding: Encoding) -> Elevation {
    if encoding == Encoding::Wkb {
        let bytes = match column.data_type() {
            DataType::Binary => column.as_binary::<i32>().value(row),
            DataType::LargeBinary => column.as_binary::<i64>().value(row),
            DataType::BinaryView => column.as_binary_view().value(row),
            _ => return Elevation::Flat,
        };
        return crate::wkb::elevation(bytes);
    }
    if encoding == Encoding::Point {
        let Some(z) = column
            .as_struct_opt()
            .and_then(|points| points.column_by_name("z"))
        else {
            return Elevation::Flat;
        };
        let z = match z.data_type() {
            DataType::Float64 => z.as_primitive::<Float64Type>().value(row),
            DataType::Float32 => f64::from(z.as_primitive::<Float32Type>().value(row)),
            _ => return Elevation::Flat,
        };
        return if z.is_nan() {
            Elevation::Flat
        } else {
            Elevation::Point(z)
        };
    }
    if has_z_child(column.data_type()) {
        Elevation::Dropped
    } else {
        Elevation::Flat
    }
}

fn has_z_child(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(fields) => fields.iter().any(|f| f.name() == "z"),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            has_z_child(f.data_type())
        }
        _ => false,
    }
}

/// GeoArrow separated coordinates: a struct of x and y (z and m ignored).
fn coord(points: &StructArray, i: usize) -> Result<Coord<f64>, String> {
    let axis = |name: &str| -> Result<f64, String> {
        let values = points
            .column_by_name(name)
            .ok_or_else(|| format!("coordinates have no '{name}'"))?;
        match values.data_type() {
            DataType::Float64 => Ok(values.as_primitive::<Float64Type>().value(i)),
            DataType::Float32 => Ok(f64::from(values.as_primitive::<Float32Type>().value(i))),
            other => Err(format!("coordinate '{name}' is {other}, not a float")),
        }
    };
    Ok(Coord {
        x: axis("x")?,
        y: axis("y")?,
    })
}

fn list_items(array: &dyn Array, row: usize) -> Result<ArrayRef, String> {
    match array.data_type() {
        DataType::List(_) => Ok(array.as_list::<i32>().value(row)),
        DataType::LargeList(_) => Ok(array.as_list::<i64>().value(row)),
        other => Err(format!(
            "native geometry holds {other} where a list was expected"
        )),
    }
}

fn coords(array: &dyn Array) -> Result<Vec<Coord<f64>>, String> {
    let points = array
        .as_struct_opt()
        .ok_or("native coordinates are not a struct of x and y")?;
    (0..points.len()).map(|i| coord(points, i)).collect()
}

fn rings(array: &dyn Array) -> Result<Vec<LineString<f64>>, String> {
    (0..array.len())
        .map(|i| {
            list_items(array, i)
                .and_then(|r| coords(r.as_ref()))
                .map(LineString)
        })
        .collect()
}

fn polygon(array: &dyn Array) -> Result<Polygon<f64>, String> {
    let mut rings = rings(array)?.into_iter();
    let exterior = rings.next().ok_or("polygon without rings")?;
    Ok(Polygon::new(exterior, rings.collect()))
}

fn native(column: &dyn Array, row: usize, encoding: Encoding) -> Result<Geometry<f64>, String> {
    Ok(match encoding {
        Encoding::Wkb => unreachable!("handled by decode"),
        Encoding::Point => {
            let points = column
                .as_struct_opt()
                .ok_or("point column is not a struct of x and y")?;
            Geometry::Point(Point(coord(points, row)?))
        }
        Encoding::LineString => {
            Geometry::LineString(LineString(coords(list_items(column, row)?.as_ref())?))
        }
        Encoding::MultiPoint => Geometry::MultiPoint(MultiPoint(
            coords(list_items(column, row)?.as_ref())?
                .into_iter()
                .map(Point)
                .collect(),
        )),
        Encoding::Polygon => Geometry::Polygon(polygon(list_items(column, row)?.as_ref())?),
        Encoding::MultiLineString => {
            Geometry::MultiLineString(MultiLineString(rings(list_items(column, row)?.as_ref())?))
        }
        Encoding::MultiPolygon => {
            let polygons = list_items(column, row)?;
            Geometry::MultiPolygon(MultiPolygon(
                (0..polygons.len())
                    .map(|i| list_items(polygons.as_ref(), i).and_then(|p| polygon(p.as_ref())))
                    .collect::<Result<_, _>>()?,
            ))
        }
    })
}

/// One cell as JSON: numbers, booleans and text as themselves, everything else as Arrow's display text.
fn value(column: &dyn Array, row: usize) -> Value {
    use arrow_array::types::*;
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
        DataType::Int8 => Value::from(column.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => Value::from(column.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::from(column.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::from(column.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => Value::from(column.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => Value::from(column.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => Value::from(column.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => float(f64::from(column.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::from(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Value::from(column.as_string::<i64>().value(row)),
        DataType::Utf8View => Value::from(column.as_string_view().value(row)),
        _ => arrow_cast::display::array_value_to_string(column, row)
            .map_or(Value::Null, Value::String),
    }
}

fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Column builders for one row group.
enum ColumnBuilder {
    Integer(Int64Builder),
    Real(Float64Builder),
    Boolean(BooleanBuilder),
    Text(StringBuilder),
}

/// Writes GeoParquet 1.1 with WKB geometry and a bbox covering column, one row group per `BATCH_ROWS`.
pub(crate) struct GeoParquetWriter {
    writer: ArrowWriter<Box<dyn Write + Send>>,
    schema: SchemaRef,
    columns: Vec<(String, FieldType, ColumnBuilder)>,
    geometry: BinaryBuilder,
    bbox: StructBuilder,
    rows: usize,
    extent: Option<Bbox>,
    types: BTreeSet<&'static str>,
}

fn bbox_fields() -> Fields {
    ["xmin", "ymin", "xmax", "ymax"]
        .into_iter()
        .map(|n| Field::new(n, DataType::Float64, false))
        .collect()
}

impl GeoParquetWriter {
    pub(crate) fn new(out: Box<dyn Write + Send>, layout: &WriterLayout) -> io::Result<Self> {
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for field in layout.schema.fields() {
            let (data_type, builder) = match field.field_type {
                FieldType::Integer => {
                    (DataType::Int64, ColumnBuilder::Integer(Int64Builder::new()))
                }
                FieldType::Real => (
                    DataType::Float64,
                    ColumnBuilder::Real(Float64Builder::new()),
                ),
                FieldType::Boolean => (
                    DataType::Boolean,
                    ColumnBuilder::Boolean(BooleanBuilder::new()),
                ),
                _ => (DataType::Utf8, ColumnBuilder::Text(StringBuilder::new())),
            };
            fields.push(Field::new(&field.name, data_type, true));
            columns.push((field.name.clone(), field.field_type, builder));
        }
        // Both nullable: an unlocated feature has a null geometry (GeoParquet allows it) and no box.
        fields.push(Field::new("geometry", DataType::Binary, true));
        fields.push(Field::new("bbox", DataType::Struct(bbox_fields()), true));
        let schema = Arc::new(ArrowSchema::new(fields));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS))
            .build();
        // Without the embedded Arrow schema, readers (pyarrow, hence GeoPandas) take the file's key-value
        // metadata, where the `geo` entry is written at the end, as the schema's metadata.
        let options = ArrowWriterOptions::new()
            .with_properties(properties)
            .with_skip_arrow_metadata(true);
        let writer = ArrowWriter::try_new_with_options(out, schema.clone(), options)
            .map_err(io::Error::other)?;
        Ok(Self {
            writer,
            schema,
            columns,
            geometry: BinaryBuilder::new(),
            bbox: StructBuilder::from_fields(bbox_fields(), BATCH_ROWS),
            rows: 0,
            extent: None,
            types: BTreeSet::new(),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len() + 2);
        for (_, _, builder) in &mut self.columns {
            arrays.push(match builder {
                ColumnBuilder::Integer(b) => Arc::new(b.finish()),
                ColumnBuilder::Real(b) => Arc::new(b.finish()),
                ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
                ColumnBuilder::Text(b) => Arc::new(b.finish()),
            });
        }
        arrays.push(Arc::new(self.geometry.finish()));
        arrays.push(Arc::new(self.bbox.finish()));
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(io::Error::other)?;
        self.writer.write(&batch).map_err(io::Error::other)?;
        self.rows = 0;
        Ok(())
    }
}

/// The name GeoParquet's `geometry_types` uses for a geometry's type.
fn geometry_type_name(geometry: &Geometry<f64>) -> &'static str {
    match GeometryType::of(geometry) {
        GeometryType::Point => "Point",
        GeometryType::LineString => "LineString",
        GeometryType::Polygon => "Polygon",
        GeometryType::MultiPoint => "MultiPoint",
        GeometryType::MultiLineString => "MultiLineString",
        GeometryType::MultiPolygon => "MultiPolygon",
        GeometryType::GeometryCollection | GeometryType::Geometry => "GeometryCollection",
    }
}

impl FeatureWriter for GeoParquetWriter {
    fn write_feature(&mut self, feature: &Feature) -> io::Result<()> {
        for (name, _, builder) in &mut self.columns {
            let value = feature
                .properties
                .get(name.as_str())
                .filter(|v| !v.is_null());
            match builder {
                ColumnBuilder::Integer(b) => b.append_option(value.and_then(Value::as_i64)),
                ColumnBuilder::Real(b) => b.append_option(value.and_then(Value::as_f64)),
                ColumnBuilder::Boolean(b) => b.append_option(value.and_then(Value::as_bool)),
                ColumnBuilder::Text(b) => b.append_option(value.map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })),
            }
        }
        match &feature.geometry {
            Some(geometry) => {
                let wkb = geometry
                    .to_wkb(CoordDimensions::xy())
                    .map_err(io::Error::other)?;
                self.geometry.append_value(&wkb);
                let bbox = Bbox::of_geometry(geometry)
                    .ok_or_else(|| io::Error::other("feature without an extent"))?;
                for (i, v) in [bbox.west, bbox.south, bbox.east, bbox.north]
                    .into_iter()
                    .enumerate()
                {
                    if let Some(b) = self.bbox.field_builder::<Float64Builder>(i) {
                        b.append_value(v);
                    }
                }
                self.bbox.append(true);
                self.extent = Some(self.extent.map_or(bbox, |e| e.union(&bbox)));
                self.types.insert(geometry_type_name(geometry));
            }
            None => {
                self.geometry.append_null();
                // The box's members are not nullable; under a null box their values are never read.
                for i in 0..4 {
                    if let Some(b) = self.bbox.field_builder::<Float64Builder>(i) {
                        b.append_value(0.0);
                    }
                }
                self.bbox.append(false);
            }
        }
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()?;
        let mut column = json!({
            "encoding": "WKB",
            "geometry_types": self.types.iter().collect::<Vec<_>>(),
            "covering": {"bbox": {
                "xmin": ["bbox", "xmin"], "ymin": ["bbox", "ymin"],
                "xmax": ["bbox", "xmax"], "ymax": ["bbox", "ymax"],
            }},
        });
        if let Some(e) = self.extent {
            column["bbox"] = json!([e.west, e.south, e.east, e.north]);
        }
        let geo = json!({
            "version": "1.1.0",
            "primary_column": "geometry",
            "columns": {"geometry": column},
        });
        self.writer
            .append_key_value_metadata(KeyValue::new("geo".to_string(), geo.to_string()));
        let mut out = self.writer.into_inner().map_err(io::Error::other)?;
        out.flush()
    }
}
