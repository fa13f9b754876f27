//! Reading a file or a byte stream: detects the format by content, opens the reader for it (zips through
//! `archive`, whose members come back here), spools streams that must be seeked, counts bytes for progress
//! and keeps features within a box. The features travel as `stream` defines.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use geoconsole_model::Bbox;

use crate::archive;
use crate::detect::ZIP_MAGIC;
use crate::stream::{
    ChunkReceiver, FeatureStream, READ_BUFFER_BYTES, ReadOptions, SourceFeature, spawn_producer,
};
use crate::{
    CsvReader, Format, FormatError, FormatResult, GeoJsonReader, GeoJsonSeqReader, Location,
    detect_format, fgb, gpkg_layer, gpx_file, kml_file, parquet_file, shp, spreadsheet,
};

/// Opens a file, detects its format and returns its features as a stream. Parsing runs on its own thread,
/// a bounded number of features ahead of the consumer, so reading and storing overlap without holding the file
/// in memory.
pub fn open_reader(path: &Path, options: &ReadOptions) -> FormatResult<(Format, FeatureStream)> {
    let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    let counted = CountingReader {
        inner: file,
        counter: options.bytes_read.clone(),
    };
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, counted);
    let head = reader
        .fill_buf()
        .map_err(|e| FormatError::io(path, &e))?
        .to_vec();
    if head.starts_with(ZIP_MAGIC) {
        // Workbooks are zips too: an XLSX has xl/workbook.xml, an ODS says so in its mimetype member.
        let workbook = options
            .format
            .filter(|f| matches!(f, Format::Xlsx | Format::Ods))
            .or_else(|| spreadsheet::sniff(path));
        if let Some(format) = workbook {
            let stream = spreadsheet::read(
                path,
                format,
                options.layer.as_deref(),
                &options.csv,
                &options.archive,
            )?;
            return Ok((format, within(stream, options.bbox)));
        }
        return archive::read(path, options);
    }
    let format = match options.format {
        Some(format) => format,
        None => detect_format(path, &head)?,
    };
    let stream: FeatureStream = match format {
        // Formats that seek, or read companion files, open the path themselves; progress then comes from
        // the features, not the bytes. FlatGeobuf answers a bbox from its own index.
        Format::FlatGeobuf => {
            return Ok((
                format,
                Box::new(fgb::read(
                    path,
                    options.bbox,
                    options.source_crs.clone(),
                    &options.notes,
                )?),
            ));
        }
        Format::Shapefile => Box::new(shp::read(path, options)?),
        Format::GeoPackage => Box::new(gpkg_layer::read(
            path,
            options.layer.as_deref(),
            options.source_crs.clone(),
            &options.notes,
        )?),
        Format::GeoParquet => Box::new(parquet_file::read(
            path,
            options.source_crs.clone(),
            &options.notes,
        )?),
        // A file can be looked at twice: its end says whether a `crs` member follows the features.
        Format::GeoJson => Box::new(GeoJsonReader::spawn_with(
            path.to_path_buf(),
            reader,
            crate::geojson::late_crs(path),
            &options.notes,
        )),
        _ => return read_text(path, reader, format, options),
    };
    Ok((format, within(stream, options.bbox)))
}

/// Keeps the features whose extent meets `bbox` (and every error, which must still be reported).
fn within(stream: FeatureStream, bbox: Option<Bbox>) -> FeatureStream {
    match bbox {
        Some(bbox) => Box::new(stream.filter(move |item| {
            match item {
                Ok(f) => f
                    .feature
                    .geometry
                    .as_ref()
                    .and_then(Bbox::of_geometry)
                    .is_some_and(|g| g.intersects(&bbox)),
                Err(_) => true,
            }
        })),
        None => stream,
    }
}

fn read_text<R: BufRead + Send + 'static>(
    label: &Path,
    reader: R,
    format: Format,
    options: &ReadOptions,
) -> FormatResult<(Format, FeatureStream)> {
    let path_buf = label.to_path_buf();
    let stream: FeatureStream = match format {
        Format::GeoJson => Box::new(GeoJsonReader::spawn(path_buf, reader, &options.notes)),
        Format::GeoJsonSeq => Box::new(prefetch(
            GeoJsonSeqReader::new(path_buf, reader).noting(&options.notes),
        )),
        Format::Csv => Box::new(prefetch(
            CsvReader::new(path_buf, reader, &options.csv)?.noting(&options.notes),
        )),
        Format::Kml => Box::new(kml_file::read(label, reader)?),
        Format::Gpx => Box::new(gpx_file::read(
            label,
            reader,
            options.layer.as_deref(),
            &options.notes,
        )?),
        Format::FlatGeobuf
        | Format::Shapefile
        | Format::GeoPackage
        | Format::GeoParquet
        | Format::Xlsx
        | Format::Ods => {
            return Err(FormatError::new(
                crate::FormatErrorKind::WrongFormat,
                label,
                Location::File,
                format!("{format} needs a file to read, not a stream"),
            ));
        }
    };
    Ok((format, within(stream, options.bbox)))
}

/// Like [`open_reader`] for bytes that do not come from a file of their own (feed bodies, standard input);
/// `label` names them in errors. Formats that need a file (zip, FlatGeobuf, shapefile, GeoPackage,
/// GeoParquet) are first copied to a private temporary file.
pub fn read_stream<R: BufRead + Send + 'static>(
    label: &Path,
    mut reader: R,
    options: &ReadOptions,
) -> FormatResult<(Format, FeatureStream)> {
    let head = reader
        .fill_buf()
        .map_err(|e| FormatError::io(label, &e))?
        .to_vec();
    let format = if head.starts_with(ZIP_MAGIC) {
        None
    } else {
        Some(match options.format {
            Some(format) => format,
            None => detect_format(label, &head)?,
        })
    };
    match format {
        Some(
            format @ (Format::GeoJson
            | Format::GeoJsonSeq
            | Format::Csv
            | Format::Kml
            | Format::Gpx),
        ) => read_text(label, reader, format, options),
        _ => spool(label, reader, options),
    }
}

fn spool<R: BufRead>(
    label: &Path,
    mut reader: R,
    options: &ReadOptions,
) -> FormatResult<(Format, FeatureStream)> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("geoconsole-spool-");
    let folder = match &options.staging {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .map_err(|e| FormatError::io(label, &e))?;
    let name = label
        .file_name()
        .map_or_else(|| "input".into(), |n| n.to_os_string());
    let path = folder.path().join(name);
    let mut file = File::create(&path).map_err(|e| FormatError::io(label, &e))?;
    let keep_free = options.archive.keep_free_bytes;
    loop {
        // What the reader holds is bounded by its source (an archive's caps, a feed's); the disk it
        // lands on must keep its reserve all the same.
        if archive::free_bytes(folder.path()).is_some_and(|free| free < keep_free) {
            return Err(FormatError::new(
                crate::FormatErrorKind::Io,
                label,
                Location::File,
                format!(
                    "the staging folder's disk has less than the {} MiB it must keep free",
                    keep_free >> 20
                ),
            ));
        }
        let copied = io::copy(&mut (&mut reader).take(SPOOL_CHECK_BYTES), &mut file)
            .map_err(|e| FormatError::io(label, &e))?;
        if copied < SPOOL_CHECK_BYTES {
            break;
        }
    }
    drop(file);
    let (format, stream) = open_reader(&path, options)?;
    Ok((format, Box::new(KeepingFolder::new(stream, folder))))
}

/// Bytes spooled between two looks at the disk's free space.
const SPOOL_CHECK_BYTES: u64 = 64 << 20;

/// A stream that owns the temporary folder its file lives in, so the folder goes when reading ends.
pub(crate) struct KeepingFolder {
    stream: FeatureStream,
    _folder: tempfile::TempDir,
}

impl KeepingFolder {
    pub(crate) fn new(stream: FeatureStream, folder: tempfile::TempDir) -> Self {
        Self {
            stream,
            _folder: folder,
        }
    }
}

impl Iterator for KeepingFolder {
    type Item = FormatResult<SourceFeature>;
    fn next(&mut self) -> Option<Self::Item> {
        self.stream.next()
    }
}

/// Counts bytes as they are read, for progress reporting.
struct CountingReader<R> {
    inner: R,
    counter: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(counter) = &self.counter {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Moves a pull-based reader onto its own thread.
fn prefetch<I>(iter: I) -> ChunkReceiver
where
    I: Iterator<Item = FormatResult<SourceFeature>> + Send + 'static,
{
    spawn_producer("geoconsole-read", move |chunks| {
        for item in iter {
            if !chunks.push(item) {
                return;
            }
        }
    })
}
