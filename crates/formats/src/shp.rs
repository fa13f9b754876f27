//! ESRI Shapefiles: shapes through the `shapefile` crate, attributes through [`crate::dbf`] (in the
//! encoding the user, the .cpg or the .dbf header names). A shapefile is a set: the .shp has its .dbf beside
//! it (without it the shapes are read with no attributes, and a warning says so), the .prj says the CRS (none
//! means WGS84 is assumed and said so when coordinates do not fit), and a header claiming more than the file
//! holds is refused before anything is read (bytes beyond what it claims are a warning, as GDAL reads past
//! them).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use geoconsole_model::Properties;
use geoconsole_model::geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use shapefile::{Multipatch, Patch, Shape, ShapeReader};

use crate::dbf::{Dbf, Row};
use crate::error::file_label;
use crate::record::{self, SourceCrs, file_error};
use crate::stream::{ChunkReceiver, spawn_producer};
use crate::{Crs, FormatError, FormatErrorKind, FormatResult, Location, ReadNotes, ReadOptions};

const NO_PRJ_HINT: &str = "the shapefile has no .prj, so WGS84 was assumed; pass --source-crs (for \
                           example EPSG:32633) or add the .prj";

pub(crate) fn read(path: &Path, options: &ReadOptions) -> FormatResult<ChunkReceiver> {
    let source_crs = options.source_crs.clone();
    check_length(path, &options.notes)?;
    // Without its .dbf a shapefile still has its shapes: read them with no attributes, as GDAL does, and
    // say so.
    let Some(dbf) = companion(path, "dbf") else {
        options.notes.warn(format!(
            "{}: the attribute file {} is missing, so the shapes were read without attributes \
             (a shapefile's .shp, .shx and .dbf belong side by side; zip them together to upload)",
            file_label(path),
            file_label(&path.with_extension("dbf"))
        ));
        return read_shapes_only(path, source_crs, &options.notes);
    };
    check_counts(path, &dbf)?;
    let crs = source_crs_of(path, source_crs)?;
    crs.announce(path, &options.notes);
    let mut table = Dbf::open(
        &dbf,
        companion(path, "cpg").as_deref(),
        options.encoding,
        options.notes.clone(),
    )?;
    let mut reader = open_shapes(path, &options.notes)?;
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-shp", move |chunks| {
        for (index, shape) in reader.iter_shapes().enumerate() {
            let location = Location::Feature(index as u64);
            let row = table.next_row().unwrap_or_else(|| {
                Err(FormatError::new(
                    FormatErrorKind::Syntax,
                    &path_buf,
                    location,
                    "the .dbf has no record for this shape; the files do not belong together",
                ))
            });
            let (shape, properties) = match (shape, row) {
                (Ok(shape), Ok(Row::Live(properties))) => (shape, properties),
                // GDAL skips records marked deleted, and their shapes with them
                (Ok(_), Ok(Row::Deleted)) => continue,
                (Err(e), _) => {
                    chunks.push(Err(FormatError::new(
                        FormatErrorKind::Syntax,
                        &path_buf,
                        location,
                        format!(
                            "unreadable record: {e} (the .shp is truncated or damaged, or the .shx's \
                             entry for this record is wrong)"
                        ),
                    )));
                    return;
                }
                (Ok(_), Err(e)) => {
                    let go_on = e.is_recoverable();
                    if !chunks.push(Err(e)) || !go_on {
                        return;
                    }
                    continue;
                }
            };
            let item = geometry(shape).map_err(|why| {
                FormatError::new(FormatErrorKind::InvalidFeature, &path_buf, location, why)
            });
            let item = item.and_then(|geometry| {
                record::feature(&path_buf, location, geometry, &crs, properties, None)
            });
            if !chunks.push(item) {
                return;
            }
        }
    }))
}

/// The file beside `path` with another extension, in either letter case (zips from Windows carry `.DBF`).
fn companion(path: &Path, extension: &str) -> Option<PathBuf> {
    [extension.to_string(), extension.to_ascii_uppercase()]
        .into_iter()
        .map(|ext| path.with_extension(ext))
        .find(|p| p.is_file())
}

/// The most a `.prj` may hold: a CRS in WKT is a few kilobytes, and the file is read whole.
const MAX_PRJ_BYTES: u64 = 64 * 1024;

/// A companion read whole (`.prj`), refused beyond [`MAX_PRJ_BYTES`] rather than read into memory.
fn small_text(path: &Path) -> FormatResult<String> {
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_PRJ_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| FormatError::io(path, &e))?;
    if text.len() as u64 > MAX_PRJ_BYTES {
        return Err(file_error(
            FormatErrorKind::Syntax,
            path,
            format!(
                "is larger than {} KiB, which no CRS definition is",
                MAX_PRJ_BYTES / 1024
            ),
        ));
    }
    Ok(text)
}

/// The CRS given, or the one the .prj names, or WGS84 assumed.
fn source_crs_of(path: &Path, source_crs: Option<Crs>) -> FormatResult<SourceCrs> {
    Ok(match source_crs {
        Some(crs) => SourceCrs::Known(crs),
        None => match companion(path, "prj") {
            Some(prj) => {
                let wkt = small_text(&prj)?;
                SourceCrs::Known(Crs::from_wkt(&wkt).map_err(|why| {
                    file_error(
                        FormatErrorKind::InvalidOption,
                        path,
                        format!("{}: {why}", file_label(&prj)),
                    )
                })?)
            }
            None => SourceCrs::Assumed { hint: NO_PRJ_HINT },
        },
    })
}

/// The .shp's shape reader (the .dbf, when there is one, is read by [`Dbf`]). The .shx, when it is sound,
/// says where each record starts (an edited file can hold stale records between them); a damaged one is
/// said and left aside, and the records are read in order from the .shp.
fn open_shapes(
    path: &Path,
    notes: &ReadNotes,
) -> FormatResult<ShapeReader<std::io::BufReader<fs::File>>> {
    let open = |file: &Path| {
        fs::File::open(file)
            .map(std::io::BufReader::new)
            .map_err(|e| FormatError::io(file, &e))
    };
    // The .shp's own header first, so that an error here is the .shp's and not its index's.
    let sequential = ShapeReader::new(open(path)?).map_err(|e| {
        file_error(
            FormatErrorKind::Syntax,
            path,
            format!("unreadable shapefile: {e}"),
        )
    })?;
    let Some(shx) = companion(path, "shx") else {
        return Ok(sequential);
    };
    let indexed = match index_problem(path, &shx) {
        Some(problem) => Err(problem),
        None => ShapeReader::with_shx(open(path)?, open(&shx)?).map_err(|e| e.to_string()),
    };
    match indexed {
        Ok(reader) => Ok(reader),
        Err(problem) => {
            notes.warn(format!(
                "{}: {problem}; the index was left aside and the shapes read in order from {} \
                 (rebuild it with ogr2ogr, or GDAL's SHAPE_RESTORE_SHX=YES)",
                file_label(&shx),
                file_label(path)
            ));
            Ok(sequential)
        }
    }
}

/// What is wrong with a .shx beside `shp`: a header that is not an index's, or an entry pointing outside
/// the .shp (before its records or past its end).
fn index_problem(shp: &Path, shx: &Path) -> Option<String> {
    const HEADER: u64 = 100;
    let shp_size = fs::metadata(shp).ok()?.len();
    let mut index = std::io::BufReader::new(fs::File::open(shx).ok()?);
    let mut header = [0u8; HEADER as usize];
    if index.read_exact(&mut header).is_err() {
        return Some("it is shorter than a shapefile index's header".into());
    }
    if header[..4] != 9994u32.to_be_bytes() {
        return Some("it is not a shapefile index (its file code is not 9994)".into());
    }
    // The header says the file's length in 16-bit words: a truncated index holds fewer entries than shapes.
    let declared = u64::from(u32::from_be_bytes([
        header[24], header[25], header[26], header[27],
    ])) * 2;
    let size = fs::metadata(shx).ok()?.len();
    if declared != size {
        return Some(format!(
            "it is {size} bytes where its header says {declared} (truncated or damaged)"
        ));
    }
    let mut entry = [0u8; 8];
    let mut k = 0u64;
    while index.read_exact(&mut entry).is_ok() {
        // Offsets and lengths are in 16-bit words; a record is its 8-byte header and its content.
        let offset = u64::from(u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]])) * 2;
        let length = u64::from(u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]])) * 2;
        if offset < HEADER || offset + 8 + length > shp_size {
            return Some(format!(
                "its entry for shape {k} points at bytes {offset}..{} of a {shp_size}-byte .shp",
                offset + 8 + length
            ));
        }
        k += 1;
    }
    None
}

/// The shapes of a shapefile whose .dbf is missing, each a feature without properties.
fn read_shapes_only(
    path: &Path,
    source_crs: Option<Crs>,
    notes: &ReadNotes,
) -> FormatResult<ChunkReceiver> {
    let crs = source_crs_of(path, source_crs)?;
    crs.announce(path, notes);
    let mut reader = open_shapes(path, notes)?;
    let path_buf = path.to_path_buf();
    Ok(spawn_producer("geoconsole-shp", move |chunks| {
        for (index, shape) in reader.iter_shapes().enumerate() {
            let location = Location::Feature(index as u64);
            let shape = match shape {
                Ok(shape) => shape,
                Err(e) => {
                    chunks.push(Err(FormatError::new(
                        FormatErrorKind::Syntax,
                        &path_buf,
                        location,
                        format!(
                            "unreadable record: {e} (the .shp is truncated or damaged, or the .shx's \
                             entry for this record is wrong)"
                        ),
                    )));
                    return;
                }
            };
            let item = geometry(shape)
                .map_err(|why| {
                    FormatError::new(FormatErrorKind::InvalidFeature, &path_buf, location, why)
                })
                .and_then(|geometry| {
                    record::feature(&path_buf, location, geometry, &crs, Properties::new(), None)
                });
            if !chunks.push(item) {
                return;
            }
        }
    }))
}

/// The header's file length (in 16-bit words) must match the file: a truncated .shp is refused before its
/// records are trusted. A longer one is read as far as its header (and .shx) say, as GDAL reads it, and the
/// bytes beyond are a warning.
fn check_length(path: &Path, notes: &ReadNotes) -> FormatResult<()> {
    let actual = fs::metadata(path)
        .map_err(|e| FormatError::io(path, &e))?
        .len();
    let mut head = [0u8; 100];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    if read.is_err() {
        return Err(file_error(
            FormatErrorKind::Syntax,
            path,
            format!("file is {actual} bytes, shorter than the 100-byte shapefile header"),
        ));
    }
    let words = i32::from_be_bytes([head[24], head[25], head[26], head[27]]);
    let declared = i64::from(words) * 2;
    if declared >= 100 && declared < actual as i64 {
        notes.warn(format!(
            "{}: the header says the file is {declared} bytes but it is {actual}; the records the header \
             covers were read and the {} bytes beyond were ignored (the file may be damaged)",
            file_label(path),
            actual as i64 - declared
        ));
        return Ok(());
    }
    if declared != actual as i64 {
        return Err(file_error(
            FormatErrorKind::Syntax,
            path,
            format!(
                "header says the file is {declared} bytes but it is {actual}; the file is truncated \
                 or damaged"
            ),
        ));
    }
    Ok(())
}

/// The .dbf's header must fit its file, and the .dbf, the .shx (when there is one) and so the .shp must
/// agree on how many records there are: a header claiming more than the file holds is a damaged file, not
/// a reason to read on (the DotSpatial #1572 class).
fn check_counts(shp: &Path, dbf: &Path) -> FormatResult<()> {
    let mut head = [0u8; 12];
    let size = fs::metadata(dbf)
        .map_err(|e| FormatError::io(dbf, &e))?
        .len();
    fs::File::open(dbf)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|_| {
            file_error(
                FormatErrorKind::Syntax,
                dbf,
                format!("file is {size} bytes, shorter than a dBASE header"),
            )
        })?;
    let records = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    let header = u64::from(u16::from_le_bytes([head[8], head[9]]));
    let record = u64::from(u16::from_le_bytes([head[10], head[11]]));
    let needed = header + records * record;
    if needed > size {
        return Err(file_error(
            FormatErrorKind::Syntax,
            dbf,
            format!(
                "header declares {records} records of {record} bytes ({needed} bytes with the header) \
                 but the file is {size} bytes; it is truncated or damaged"
            ),
        ));
    }
    // A damaged index is left aside by `open_shapes` (with a warning); its length counts nothing then.
    if let Some(shx) = companion(shp, "shx").filter(|shx| index_problem(shp, shx).is_none()) {
        let shx_size = fs::metadata(&shx)
            .map_err(|e| FormatError::io(&shx, &e))?
            .len();
        let shapes = shx_size.saturating_sub(100) / 8;
        if shapes != records {
            return Err(file_error(
                FormatErrorKind::Syntax,
                shp,
                format!(
                    "the .shx indexes {shapes} shapes but the .dbf holds {records} records; the files \
                     do not belong together or one is damaged"
                ),
            ));
        }
    }
    Ok(())
}

fn geometry(shape: Shape) -> Result<Option<Geometry<f64>>, String> {
    match shape {
        // A null shape is an unlocated feature.
        Shape::NullShape => Ok(None),
        Shape::Multipatch(patch) => multipatch(&patch).map(Some),
        shape => Geometry::<f64>::try_from(shape)
            .map(Some)
            .map_err(|e| format!("unusable shape: {e}")),
    }
}

/// A MultiPatch as GDAL reads it (`OGRCreateFromMultiPatch`): each triangle of a strip or a fan becomes a
/// triangular polygon, an outer (or first) ring starts a polygon and the inner rings after it are its holes;
/// heights are dropped, as for every shape.
fn multipatch(multipatch: &Multipatch) -> Result<Geometry<f64>, String> {
    let xy = |p: &shapefile::PointZ| Coord { x: p.x, y: p.y };
    let triangle = |a: Coord<f64>, b: Coord<f64>, c: Coord<f64>| {
        Polygon::new(LineString(vec![a, b, c, a]), Vec::new())
    };
    let mut polygons: Vec<Polygon<f64>> = Vec::new();
    // The rings of the polygon being built: exterior first.
    let mut rings: Vec<LineString<f64>> = Vec::new();
    let close = |rings: &mut Vec<LineString<f64>>, polygons: &mut Vec<Polygon<f64>>| {
        let mut taken = std::mem::take(rings).into_iter();
        if let Some(exterior) = taken.next() {
            polygons.push(Polygon::new(exterior, taken.collect()));
        }
    };
    for patch in multipatch.patches() {
        let points: Vec<Coord<f64>> = patch.points().iter().map(xy).collect();
        match patch {
            Patch::TriangleStrip(_) => {
                close(&mut rings, &mut polygons);
                polygons.extend(points.windows(3).map(|t| triangle(t[0], t[1], t[2])));
            }
            Patch::TriangleFan(_) => {
                close(&mut rings, &mut polygons);
                if let Some((&first, rest)) = points.split_first() {
                    polygons.extend(rest.windows(2).map(|t| triangle(first, t[0], t[1])));
                }
            }
            Patch::OuterRing(_) | Patch::FirstRing(_) => {
                close(&mut rings, &mut polygons);
                rings.push(LineString(points));
            }
            Patch::InnerRing(_) | Patch::Ring(_) => {
                if rings.is_empty() {
                    return Err(
                        "unusable MultiPatch: an inner ring comes before any outer ring".into(),
                    );
                }
                rings.push(LineString(points));
            }
        }
    }
    close(&mut rings, &mut polygons);
    Ok(Geometry::MultiPolygon(MultiPolygon(polygons)))
}
