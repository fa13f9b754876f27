//! ZIP archives (zipped shapefiles, KMZ, any readable file zipped). An archive is untrusted input, checked
//! from its central directory before anything is inflated: too many entries, a name pointing outside the
//! archive (zip slip), two names for one member (exact, by case, by Unicode normalisation, `./x` and `x`,
//! `a//x` and `a/x`, a backslash for a slash, a file and a folder of one name) and headers that disagree
//! with the directory are refused, so every reader sees the same member this one does.
//!
//! Only the member to read is inflated, and what it inflates to is counted as it streams, since the sizes
//! an archive declares can lie: it stops at the caps on one entry, on the archive, and on how many times
//! an entry may outgrow its compressed size. A text member (CSV, GeoJSON, KML, GPX) is read straight from
//! the archive and never touches the disk; a shapefile's set and the formats that seek are unpacked into a
//! private folder under the staging folder, which must keep [`ArchiveLimits::keep_free_bytes`] free.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use geoconsole_model::{EXCERPT_CHARS, EXCERPT_NAMES, excerpt, excerpt_list};
use unicode_normalization::UnicodeNormalization;
use zip::ZipArchive;

use crate::detect::ZIP_MAGIC;
use crate::read::{KeepingFolder, open_reader, read_stream};
use crate::record::file_error;
use crate::stream::{FeatureStream, ReadOptions};
use crate::{Format, FormatError, FormatErrorKind, FormatResult};

/// Caps on what one archive may hold and inflate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries listed in the central directory.
    pub max_entries: usize,
    /// Bytes one member may inflate to.
    pub max_entry_bytes: u64,
    /// Bytes the members read may inflate to together (a shapefile is several).
    pub max_inflated_bytes: u64,
    /// How many times its compressed size a member may inflate to, once past [`RATIO_FLOOR_BYTES`]: deflate
    /// reaches about 1,000 on a run of one byte, real data a few dozen.
    pub max_ratio: u64,
    /// Bytes the staging folder's disk must keep free while members are unpacked onto it.
    pub keep_free_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_entry_bytes: 4 << 30,
            max_inflated_bytes: 4 << 30,
            max_ratio: 200,
            keep_free_bytes: 1 << 30,
        }
    }
}

/// Below this many inflated bytes a member may compress as well as it likes (a small file of blanks does).
pub const RATIO_FLOOR_BYTES: u64 = 64 << 20;

/// Extensions of members worth reading: the readable files and a shapefile's companions.
const MEMBER_EXTENSIONS: [&str; 15] = [
    "shp", "shx", "dbf", "prj", "cpg", "kml", "gpx", "fgb", "gpkg", "parquet", "geojson", "json",
    "geojsonl", "ndjson", "csv",
];

/// A shapefile's companions, unpacked beside its `.shp`.
const COMPANIONS: [&str; 4] = ["shx", "dbf", "prj", "cpg"];

/// Companions read whole (`.prj`, `.cpg`) hold a few hundred bytes; more is not a companion.
const MAX_SMALL_COMPANION_BYTES: u64 = 64 * 1024;

/// Inflated bytes per chunk handed from the inflating thread to the reader, and chunks in flight.
const CHUNK_BYTES: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// How often (in bytes written) the free space of the staging disk is looked at again: other imports
/// write to it too.
const FREE_SPACE_EVERY_BYTES: u64 = 64 << 20;

/// The archive file, counting the bytes read from it: how much of an entry's compressed stream its
/// inflating has consumed, for the ratio.
struct Counted {
    file: File,
    read: Arc<AtomicU64>,
}

impl Counted {
    fn new(file: File) -> Self {
        Self {
            file,
            read: Arc::default(),
        }
    }

    fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.read)
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl io::Seek for Counted {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.file.seek(to)
    }
}

/// One member as the central directory lists it.
#[derive(Debug, Clone)]
struct Member {
    index: usize,
    /// The name inside the archive, as a relative path of plain components.
    path: PathBuf,
    /// Bytes it is stored in.
    compressed: u64,
}

/// Reads the member of a zip that `options.layer` names (or the only readable one), as if it had been
/// given directly.
pub(crate) fn read(path: &Path, options: &ReadOptions) -> FormatResult<(Format, FeatureStream)> {
    let limits = options.archive;
    let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    let counted = Counted::new(file);
    let read_bytes = counted.counter();
    let mut archive = ZipArchive::new(counted)
        .map_err(|e| refuse(path, format!("not a readable ZIP archive: {e}")))?;
    let members = list(path, &mut archive, limits)?;
    let chosen = choose(path, &members, options.layer.as_deref())?.clone();
    // The layer chose the member; a GeoPackage inside is then read by its own single layer.
    let inner = ReadOptions {
        layer: None,
        ..options.clone()
    };
    if Format::from_extension(&chosen.path) == Some(Format::Shapefile) {
        let set = shapefile_set(&members, &chosen);
        let folder = staging_folder(path, options)?;
        let mut budget = Budget::new(limits);
        let mut disk = Disk::new(folder.path(), limits.keep_free_bytes);
        for member in &set {
            unpack(
                path,
                (&mut archive, &read_bytes),
                member,
                folder.path(),
                (&mut budget, &mut disk),
            )?;
        }
        let shp = folder.path().join(unpacked_name(&chosen.path));
        let (format, stream) = open_reader(&shp, &inner).map_err(|e| e.in_archive(path))?;
        return Ok((
            format,
            said_of(path, Box::new(KeepingFolder::new(stream, folder))),
        ));
    }
    let label = chosen.path.clone();
    let mut reader =
        BufReader::with_capacity(CHUNK_BYTES, inflating(archive, read_bytes, chosen, limits));
    let head = io::BufRead::fill_buf(&mut reader).map_err(|e| refuse(path, e.to_string()))?;
    if head.starts_with(ZIP_MAGIC) {
        return Err(refuse(
            path,
            format!(
                "member '{}' is another archive; unzip the outer one first",
                shown(&label)
            ),
        ));
    }
    // Text is read from the archive as it inflates; a format that seeks is spooled to the staging folder
    // first, through the same counting.
    let (format, stream) = read_stream(&label, reader, &inner).map_err(|e| e.in_archive(path))?;
    Ok((format, said_of(path, stream)))
}

/// A member's features, its errors said of the archive too (`places.kmz: doc.kml: feature 3: …`).
fn said_of(archive: &Path, stream: FeatureStream) -> FeatureStream {
    let archive = archive.to_path_buf();
    Box::new(stream.map(move |item| item.map_err(|e| e.in_archive(&archive))))
}

fn refuse(path: &Path, why: String) -> FormatError {
    file_error(FormatErrorKind::WrongFormat, path, why)
}

fn shown(path: &Path) -> String {
    excerpt(&path.to_string_lossy(), EXCERPT_CHARS).into_owned()
}

/// A member's file name once unpacked: its extension in lower case, as the shapefile library looks for
/// companions (zips made on Windows carry `ROADS.SHP` beside `ROADS.DBF`).
fn unpacked_name(path: &Path) -> PathBuf {
    let name = PathBuf::from(path.file_name().unwrap_or_default());
    match extension(&name) {
        Some(ext) => name.with_extension(ext),
        None => name,
    }
}

/// The members worth reading, after every check the central directory allows: the entry count, names
/// (zip slip, one name for two members), and headers that agree with the directory.
fn list(
    path: &Path,
    archive: &mut ZipArchive<Counted>,
    limits: ArchiveLimits,
) -> FormatResult<Vec<Member>> {
    if archive.has_duplicate_names() {
        return Err(refuse(
            path,
            "archive lists one name for two entries; which one is meant cannot be told, so it is \
             refused"
                .into(),
        ));
    }
    if archive.len() > limits.max_entries {
        return Err(refuse(
            path,
            format!(
                "archive holds {} entries, more than the {} allowed",
                archive.len(),
                limits.max_entries
            ),
        ));
    }
    let mut members = Vec::new();
    // Every file's key and every folder's (named, or implied by a file inside it), each with its name.
    let mut files: HashMap<String, String> = HashMap::new();
    let mut folders: HashMap<String, String> = HashMap::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| refuse(path, format!("entry {index} is unreadable: {e}")))?;
        let name = entry
            .name()
            .map(|n| n.to_string())
            .map_err(|e| refuse(path, format!("entry {index} has an unreadable name: {e}")))?;
        let relative = enclosed(&name).ok_or_else(|| {
            refuse(
                path,
                format!(
                    "entry '{}' points outside the archive (absolute path or '..'); refused",
                    excerpt(&name, EXCERPT_CHARS)
                ),
            )
        })?;
        let key = name_key(&relative);
        let is_dir = entry.is_dir();
        let mut parent = relative.parent();
        while let Some(folder) = parent.filter(|p| !p.as_os_str().is_empty()) {
            folders
                .entry(name_key(folder))
                .or_insert_with(|| folder.to_string_lossy().into_owned());
            parent = folder.parent();
        }
        if is_dir {
            folders.entry(key).or_insert(name);
            continue;
        }
        if let Some(first) = files.insert(key, name.clone()) {
            return Err(refuse(
                path,
                format!(
                    "archive holds '{}' and '{}', which name the same member on a case-insensitive \
                     reading; which one is meant cannot be told, so it is refused",
                    excerpt(&first, EXCERPT_CHARS),
                    excerpt(&name, EXCERPT_CHARS)
                ),
            ));
        }
        if wanted(&relative) {
            members.push(Member {
                index,
                path: relative,
                compressed: entry.compressed_size(),
            });
        }
    }
    if let Some((key, file)) = files.iter().find(|(key, _)| folders.contains_key(*key)) {
        return Err(refuse(
            path,
            format!(
                "archive holds '{}' both as a file and as a folder ('{}'); refused",
                excerpt(file, EXCERPT_CHARS),
                excerpt(&folders[key], EXCERPT_CHARS)
            ),
        ));
    }
    // Local headers that name or size an entry differently from the central directory, entries that
    // overlap (one compressed stream counted many times over) and entries the directory does not list all
    // mean two readers would see two archives.
    archive.validate_header_consistency().map_err(|e| {
        refuse(
            path,
            format!("archive's headers disagree with its central directory ({e}); refused"),
        )
    })?;
    Ok(members)
}

/// The entry's name as a relative path of plain components (`./` and repeated or back slashes folded
/// away), or `None` when it is absolute or climbs with `..` anywhere.
fn enclosed(name: &str) -> Option<PathBuf> {
    if name.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for (i, part) in name.split(['/', '\\']).enumerate() {
        match part {
            // A leading separator makes the name absolute.
            "" if i == 0 && name.len() > 1 => return None,
            "" | "." => {}
            ".." => return None,
            // A drive (`C:`) or a stream (`x.shp:hidden`) means something else on another system.
            part if part.contains(':') => return None,
            part => out.push(part),
        }
    }
    let plain = out.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !out.as_os_str().is_empty()).then_some(out)
}

/// What a case-insensitive file system would take a name to be: Unicode compatibility-normalised,
/// lower-cased, components joined by `/`.
fn name_key(path: &Path) -> String {
    path.components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .nfkc()
                .collect::<String>()
                .to_lowercase()
                .nfkc()
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn wanted(path: &Path) -> bool {
    !path.components().any(|c| c.as_os_str() == "__MACOSX")
        && extension(path).is_some_and(|e| MEMBER_EXTENSIONS.contains(&e.as_str()))
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The readable members: everything but a shapefile's companions.
fn readable(path: &Path) -> bool {
    Format::from_extension(path).is_some()
        && !extension(path).is_some_and(|e| COMPANIONS.contains(&e.as_str()))
}

fn choose<'a>(path: &Path, members: &'a [Member], layer: Option<&str>) -> FormatResult<&'a Member> {
    let readable: Vec<&Member> = members.iter().filter(|m| readable(&m.path)).collect();
    let names = |list: &[&Member]| {
        let names: Vec<String> = list
            .iter()
            .map(|m| m.path.to_string_lossy().replace('\\', "/"))
            .collect();
        excerpt_list(&names, EXCERPT_NAMES)
    };
    if let Some(layer) = layer {
        let wanted = layer.trim_start_matches("./").replace('\\', "/");
        // A path names one member; a file stem may name several (two shapefile sets in two folders).
        let by_path: Vec<&Member> = readable
            .iter()
            .filter(|m| {
                let full = m.path.to_string_lossy().replace('\\', "/");
                full == wanted || m.path.with_extension("").to_string_lossy() == wanted.as_str()
            })
            .copied()
            .collect();
        let hits = if by_path.is_empty() {
            readable
                .iter()
                .filter(|m| m.path.file_stem().is_some_and(|s| s == layer))
                .copied()
                .collect()
        } else {
            by_path
        };
        return match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "archive has no member '{}' (members: {})",
                    excerpt(layer, EXCERPT_CHARS),
                    names(&readable)
                ),
            )),
            several => Err(file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "several members are named '{}' ({}); choose one by its path with --layer \
                     (`layer` in the API)",
                    excerpt(layer, EXCERPT_CHARS),
                    names(several)
                ),
            )),
        };
    }
    match readable.as_slice() {
        [] => Err(file_error(
            FormatErrorKind::WrongFormat,
            path,
            "archive holds no file this build reads (shapefile, KML, GPX, FlatGeobuf, GeoPackage, \
             GeoParquet, GeoJSON or CSV)",
        )),
        [one] => Ok(one),
        _ => {
            // KMZ: the main document is doc.kml at the root, whatever else is inside.
            let doc: Vec<&&Member> = readable
                .iter()
                .filter(|m| {
                    m.path.components().count() == 1
                        && m.path.to_string_lossy().eq_ignore_ascii_case("doc.kml")
                })
                .collect();
            if let [doc] = doc.as_slice() {
                return Ok(doc);
            }
            Err(file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "archive holds several readable files ({}); choose one with --layer NAME \
                     (`layer` in the API; a path when two share a name)",
                    names(&readable)
                ),
            ))
        }
    }
}

/// The `.shp` and its companions: the members in its folder with its stem, in any letter case.
fn shapefile_set(members: &[Member], shp: &Member) -> Vec<Member> {
    let stem = shp.path.with_extension("");
    let stem = name_key(&stem);
    members
        .iter()
        .filter(|m| {
            m.index == shp.index
                || (extension(&m.path).is_some_and(|e| COMPANIONS.contains(&e.as_str()))
                    && name_key(&m.path.with_extension("")) == stem)
        })
        .cloned()
        .collect()
}

/// A private folder under the staging folder (or the system's temporary folder), removed with the stream.
fn staging_folder(path: &Path, options: &ReadOptions) -> FormatResult<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("geoconsole-unzip-");
        b
    };
    match &options.staging {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .map_err(|e| FormatError::io(path, &e))
}

/// What is left of the caps while members inflate.
struct Budget {
    limits: ArchiveLimits,
    /// Bytes the archive may still inflate to.
    left: u64,
}

impl Budget {
    fn new(limits: ArchiveLimits) -> Self {
        Self {
            left: limits.max_inflated_bytes,
            limits,
        }
    }

    /// Takes `n` more inflated bytes of `member`, which has inflated to `inflated` with them from
    /// `consumed` bytes of its compressed stream, or says which cap they break.
    fn take(
        &mut self,
        member: &Member,
        (inflated, consumed): (u64, u64),
        n: u64,
    ) -> Result<(), String> {
        let limits = &self.limits;
        let name = shown(&member.path);
        if n > self.left {
            return Err(format!(
                "archive inflates beyond the {} bytes allowed (entry '{name}'); refused as it inflated",
                limits.max_inflated_bytes
            ));
        }
        if inflated > limits.max_entry_bytes {
            return Err(format!(
                "entry '{name}' inflates beyond the {} bytes allowed for one entry; refused as it \
                 inflated",
                limits.max_entry_bytes
            ));
        }
        let small = member
            .path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["prj", "cpg"].contains(&e.to_ascii_lowercase().as_str()));
        if small && inflated > MAX_SMALL_COMPANION_BYTES {
            return Err(format!(
                "entry '{name}' inflates beyond {} KiB, which no .prj or .cpg does",
                MAX_SMALL_COMPANION_BYTES / 1024
            ));
        }
        // Against what was consumed of the compressed stream so far, not the entry's whole size: a bomb
        // is a run of the same few bytes from the start, and is stopped at the floor.
        let consumed = consumed.min(member.compressed).max(1);
        if inflated > RATIO_FLOOR_BYTES && inflated / consumed > limits.max_ratio {
            return Err(format!(
                "entry '{name}' inflates to more than {} times its compressed size ({inflated} bytes \
                 from {consumed}), as zip bombs do; if it is genuine, unzip it and import the file \
                 itself",
                limits.max_ratio
            ));
        }
        self.left -= n;
        Ok(())
    }
}

/// The staging disk's free space, looked at as members are written to it.
struct Disk {
    dir: PathBuf,
    keep_free: u64,
    since_check: u64,
}

impl Disk {
    fn new(dir: &Path, keep_free: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            keep_free,
            // Look before the first byte.
            since_check: FREE_SPACE_EVERY_BYTES,
        }
    }

    fn wrote(&mut self, n: u64) -> Result<(), String> {
        self.since_check += n;
        if self.since_check < FREE_SPACE_EVERY_BYTES {
            return Ok(());
        }
        self.since_check = 0;
        match free_bytes(&self.dir) {
            Some(free) if free < self.keep_free => Err(format!(
                "the staging folder's disk has {} MiB free, less than the {} MiB it must keep; \
                 free space or set another staging folder",
                free >> 20,
                self.keep_free >> 20
            )),
            _ => Ok(()),
        }
    }
}

/// Bytes free for an unprivileged writer on the disk that holds `dir`; `None` where that cannot be told.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// Inflates one member into `folder`, counting as it goes.
fn unpack(
    path: &Path,
    (archive, read): (&mut ZipArchive<Counted>, &AtomicU64),
    member: &Member,
    folder: &Path,
    (budget, disk): (&mut Budget, &mut Disk),
) -> FormatResult<()> {
    let name = shown(&member.path);
    let mut entry = archive
        .by_index(member.index)
        .map_err(|e| refuse(path, format!("entry '{name}' is unreadable: {e}")))?;
    let start = read.load(Ordering::Relaxed);
    let target = folder.join(unpacked_name(&member.path));
    let mut out = File::create(&target).map_err(|e| FormatError::io(path, &e))?;
    let mut inflated = 0u64;
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        let n = entry
            .read(&mut chunk)
            .map_err(|e| refuse(path, format!("entry '{name}' cannot be inflated: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        inflated += n as u64;
        let consumed = read.load(Ordering::Relaxed) - start;
        budget
            .take(member, (inflated, consumed), n as u64)
            .and_then(|()| disk.wrote(n as u64))
            .map_err(|why| refuse(path, why))?;
        out.write_all(&chunk[..n])
            .map_err(|e| FormatError::io(path, &e))?;
    }
}

/// A member inflating on its own thread, read as a stream: chunks cross a bounded channel, so memory
/// holds a few of them whatever the member's size, and the caps are checked on every chunk.
fn inflating(
    mut archive: ZipArchive<Counted>,
    read: Arc<AtomicU64>,
    member: Member,
    limits: ArchiveLimits,
) -> Inflating {
    let (sender, receiver) = sync_channel(CHUNKS_IN_FLIGHT);
    let pump = move || {
        // The reader's error names the member and where in it; the message says what the archive did.
        let failed = |sender: &SyncSender<io::Result<Vec<u8>>>, why: String| {
            let _ = sender.send(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
        };
        let mut entry = match archive.by_index(member.index) {
            Ok(entry) => entry,
            Err(e) => {
                return failed(
                    &sender,
                    format!("entry '{}' is unreadable: {e}", shown(&member.path)),
                );
            }
        };
        let start = read.load(Ordering::Relaxed);
        let mut budget = Budget::new(limits);
        let mut inflated = 0u64;
        loop {
            let mut chunk = vec![0u8; CHUNK_BYTES];
            let n = match entry.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    return failed(
                        &sender,
                        format!("entry '{}' cannot be inflated: {e}", shown(&member.path)),
                    );
                }
            };
            inflated += n as u64;
            let consumed = read.load(Ordering::Relaxed) - start;
            if let Err(why) = budget.take(&member, (inflated, consumed), n as u64) {
                return failed(&sender, why);
            }
            chunk.truncate(n);
            if sender.send(Ok(chunk)).is_err() {
                // The reader stopped (it found what it needed, or an error): stop inflating too.
                return;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("geoconsole-unzip".into())
        .spawn(pump)
    {
        let (sender, receiver) = sync_channel(1);
        let _ = sender.send(Err(io::Error::other(format!(
            "cannot start the unzip thread: {e}"
        ))));
        return Inflating {
            receiver,
            chunk: Vec::new(),
            at: 0,
        };
    }
    Inflating {
        receiver,
        chunk: Vec::new(),
        at: 0,
    }
}

/// The reading end of [`inflating`].
struct Inflating {
    receiver: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for Inflating {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.at = 0;
                }
                // The thread ended without an error: the member is read whole.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_as_a_case_insensitive_reading_would() {
        let key = |name: &str| enclosed(name).map(|p| name_key(&p));
        assert_eq!(key("A.SHP"), key("a.shp"));
        assert_eq!(key("./x.shp"), key("x.shp"));
        assert_eq!(key("dir//x.shp"), key("dir/x.shp"));
        assert_eq!(key("dir\\x.shp"), key("dir/x.shp"));
        // é composed (NFC) and decomposed (NFD, as macOS writes it); a full-width letter.
        assert_eq!(key("caf\u{e9}.csv"), key("cafe\u{301}.csv"));
        assert_eq!(key("\u{ff41}.csv"), key("a.csv"));
        assert_ne!(key("a.shp"), key("b.shp"));
    }

    #[test]
    fn names_that_leave_the_archive_are_refused() {
        for name in [
            "/etc/passwd",
            "../x.csv",
            "a/../../x.csv",
            "a/../x.csv",
            "C:\\x.csv",
            "\\\\server\\share\\x.csv",
            "x.shp:hidden",
            "",
            "./",
        ] {
            assert_eq!(enclosed(name), None, "{name}");
        }
        assert_eq!(enclosed("a/b.csv"), Some(PathBuf::from("a/b.csv")));
    }
}
