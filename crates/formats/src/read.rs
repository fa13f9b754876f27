use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use geoconsole_model::Feature;

use geoconsole_model::Bbox;

use crate::archive::{self, ArchiveLimits};
use crate::detect::ZIP_MAGIC;
use crate::{
    Crs, CsvOptions, CsvReader, Format, FormatError, FormatResult, GeoJsonReader, GeoJsonSeqReader,
    Location, TextEncoding, detect_format, fgb, gpkg_layer, gpx_file, kml_file, parquet_file, shp,
    spreadsheet,
};

/// A feature and where it came from in its file.
#[derive(Debug, Clone)]
pub struct SourceFeature {
    pub location: Location,
    pub feature: Feature,
}

/// The stream every reader produces. Recoverable errors (one bad feature) are followed by more items; any
/// other error is the last item.
pub type FeatureStream = Box<dyn Iterator<Item = FormatResult<SourceFeature>> + Send>;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Forces a format instead of detecting it from content and extension.
    pub format: Option<Format>,
    pub csv: CsvOptions,
    /// Incremented with every byte read from the file, for progress bars.
    pub bytes_read: Option<Arc<AtomicU64>>,
    /// Which layer of a multi-layer source: a GeoPackage table, a GPX layer, a member of a zip.
    pub layer: Option<String>,
    /// The CRS of the coordinates when the file does not say (or says wrong).
    pub source_crs: Option<Crs>,
    /// Only features whose extent meets this box; FlatGeobuf answers it from its index.
    pub bbox: Option<Bbox>,
    /// Caps on zip archives.
    pub archive: ArchiveLimits,
    /// Where archive members and streamed files that must be seeked are unpacked (the console's staging
    /// folder); the system's temporary folder when not given.
    pub staging: Option<PathBuf>,
    /// The text encoding of a shapefile's attributes, over what its .cpg or .dbf header says.
    pub encoding: Option<TextEncoding>,
    /// Where readers leave what the user should be told besides errors; shared by clones.
    pub notes: ReadNotes,
}

/// What readers want the user told besides errors: an encoding assumed, characters that did not decode
/// (each naming its file, record and field). Clones share one list, so the caller reads what the reader
/// thread wrote; it keeps [`MAX_NOTES`] and counts the rest, so a file of a million bad values cannot fill
/// memory with warnings.
#[derive(Debug, Clone, Default)]
pub struct ReadNotes(Arc<Mutex<(Vec<String>, u64)>>);

/// Warnings kept by [`ReadNotes`]; more are counted.
pub const MAX_NOTES: usize = 100;

impl ReadNotes {
    pub fn warn(&self, message: impl Into<String>) {
        let mut notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if notes.0.len() < MAX_NOTES {
            notes.0.push(message.into());
        } else {
            notes.1 += 1;
        }
    }

    /// The warnings so far, with a last line counting those not kept.
    pub fn warnings(&self) -> Vec<String> {
        let notes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = notes.0.clone();
        if notes.1 > 0 {
            all.push(format!("{} more warnings like these", notes.1));
        }
        all
    }
}

/// Buffer size for file reads: large enough that syscalls do not show in profiles.
pub(crate) const READ_BUFFER_BYTES: usize = 256 * 1024;

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
                Box::new(fgb::read(path, options.bbox, options.source_crs.clone())?),
            ));
        }
        Format::Shapefile => Box::new(shp::read(path, options)?),
        Format::GeoPackage => Box::new(gpkg_layer::read(
            path,
            options.layer.as_deref(),
            options.source_crs.clone(),
        )?),
        Format::GeoParquet => Box::new(parquet_file::read(path, options.source_crs.clone())?),
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
        Format::GeoJson => Box::new(GeoJsonReader::spawn(path_buf, reader)),
        Format::GeoJsonSeq => Box::new(prefetch(GeoJsonSeqReader::new(path_buf, reader))),
        Format::Csv => Box::new(prefetch(CsvReader::new(path_buf, reader, &options.csv)?)),
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

/// Features travel between threads in chunks: one channel operation per chunk, not per feature.
const CHUNK_FEATURES: usize = 512;
/// Chunks in flight: bounds memory to a few thousand features whatever the file size.
const CHUNKS_IN_FLIGHT: usize = 8;

type Chunk = Vec<FormatResult<SourceFeature>>;

/// The producing half of a chunked channel. `push` returns false once the consumer has gone away.
pub(crate) struct ChunkSender {
    sender: SyncSender<Chunk>,
    chunk: Chunk,
}

impl ChunkSender {
    pub(crate) fn push(&mut self, item: FormatResult<SourceFeature>) -> bool {
        self.chunk.push(item);
        if self.chunk.len() >= CHUNK_FEATURES {
            return self.flush();
        }
        true
    }

    pub(crate) fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_FEATURES));
        self.sender.send(chunk).is_ok()
    }
}

/// The consuming half: an iterator over the features the producing thread sends.
pub struct ChunkReceiver {
    receiver: Receiver<Chunk>,
    current: std::vec::IntoIter<FormatResult<SourceFeature>>,
}

impl Iterator for ChunkReceiver {
    type Item = FormatResult<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.receiver.recv().ok()?.into_iter();
        }
    }
}

/// Runs `produce` on its own thread with a sender, returning the receiving iterator.
pub(crate) fn spawn_producer(
    name: &str,
    produce: impl FnOnce(&mut ChunkSender) + Send + 'static,
) -> ChunkReceiver {
    let (sender, receiver) = sync_channel(CHUNKS_IN_FLIGHT);
    let thread_name = name.to_string();
    let spawned = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let mut chunks = ChunkSender {
                sender,
                chunk: Vec::with_capacity(CHUNK_FEATURES),
            };
            // A panic in a reader (a parsing library's bug on a hostile file; fuzzing found one in
            // flatgeobuf) must end the stream with an error: ended silently, the stream would look like
            // the end of the file, and an import would commit what came before.
            let produced =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(&mut chunks)));
            if let Err(panic) = produced {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown");
                chunks.push(Err(FormatError::new(
                    crate::FormatErrorKind::Syntax,
                    &PathBuf::from(&thread_name),
                    Location::File,
                    format!("the reader stopped on an internal error ({why}); the file is refused"),
                )));
            }
            chunks.flush();
        });
    if let Err(e) = spawned {
        // Without a thread there is nothing to read from; report it as the stream's only item.
        let (tx, rx) = sync_channel(1);
        let error = FormatError::new(
            crate::FormatErrorKind::Io,
            &PathBuf::from(name),
            Location::File,
            format!("cannot start reader thread: {e}"),
        );
        let _ = tx.send(vec![Err(error)]);
        return ChunkReceiver {
            receiver: rx,
            current: Vec::new().into_iter(),
        };
    }
    ChunkReceiver {
        receiver,
        current: Vec::new().into_iter(),
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

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a reader thread that panicked (flatgeobuf on a property length past the end of its
    // buffer) ended the stream as if the file had ended, and an import committed what came before.
    #[test]
    fn a_reader_that_panics_ends_its_stream_with_an_error() {
        let stream = spawn_producer("geoconsole-test", |_| panic!("a library's bug"));
        let items: Vec<_> = stream.collect();
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().expect_err("an error, not an end");
        assert!(
            err.message().contains("internal error (a library's bug)"),
            "{err}"
        );
        assert!(!err.is_recoverable());
    }
}
