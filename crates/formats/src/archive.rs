//! ZIP archives (zipped shapefiles, KMZ, any readable file zipped). An archive is untrusted input: it is
//! refused when it holds too many entries, when an entry's name points outside the archive (zip slip), or
//! when what it inflates to passes a cap, counted while inflating since the sizes an archive declares can
//! lie. Only the members a reader can use are unpacked, into a private temporary folder that goes away with
//! the stream.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use tempfile::TempDir;
use zip::ZipArchive;

use crate::record::file_error;
use crate::{Format, FormatError, FormatErrorKind, FormatResult};

/// Caps on what one archive may hold and inflate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    /// Total bytes the unpacked members may inflate to.
    pub max_inflated_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_inflated_bytes: 4 << 30,
        }
    }
}

/// Extensions of members worth unpacking: the readable files and a shapefile's companions.
const MEMBER_EXTENSIONS: [&str; 15] = [
    "shp", "shx", "dbf", "prj", "cpg", "kml", "gpx", "fgb", "gpkg", "parquet", "geojson", "json",
    "geojsonl", "ndjson", "csv",
];

/// An unpacked archive: the member to read, and the folder that holds it for as long as it is read.
pub(crate) struct Unpacked {
    pub(crate) member: PathBuf,
    pub(crate) folder: TempDir,
}

/// Unpacks `path` and picks the member to read: the only readable one, or the one whose file stem is
/// `layer` when there are several.
pub(crate) fn unpack(
    path: &Path,
    limits: ArchiveLimits,
    layer: Option<&str>,
) -> FormatResult<Unpacked> {
    let refuse = |why: String| file_error(FormatErrorKind::WrongFormat, path, why);
    let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
    let mut archive =
        ZipArchive::new(file).map_err(|e| refuse(format!("not a readable ZIP archive: {e}")))?;
    if archive.len() > limits.max_entries {
        return Err(refuse(format!(
            "archive holds {} entries, more than the {} allowed",
            archive.len(),
            limits.max_entries
        )));
    }
    let folder = tempfile::Builder::new()
        .prefix("geoconsole-unzip-")
        .tempdir()
        .map_err(|e| FormatError::io(path, &e))?;
    let mut budget = limits.max_inflated_bytes;
    let mut members = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| refuse(format!("entry {index} is unreadable: {e}")))?;
        let name = entry
            .name()
            .map(|n| n.to_string())
            .map_err(|e| refuse(format!("entry {index} has an unreadable name: {e}")))?;
        let Some(relative) = entry.enclosed_name().filter(|p| is_plain_relative(p)) else {
            return Err(refuse(format!(
                "entry '{name}' points outside the archive (absolute path or '..'); refused"
            )));
        };
        if entry.is_dir() || !wanted(&relative) {
            continue;
        }
        if entry.size() > budget {
            return Err(refuse(format!(
                "entry '{name}' inflates to {} bytes, beyond the {} bytes allowed for the archive",
                entry.size(),
                limits.max_inflated_bytes
            )));
        }
        let target = folder.path().join(&relative);
        if target.exists() {
            return Err(refuse(format!(
                "archive holds '{name}' twice; which one is meant cannot be told"
            )));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FormatError::io(path, &e))?;
        }
        let mut out = File::create(&target).map_err(|e| FormatError::io(path, &e))?;
        // One byte more than the budget tells a lying header from an entry that fits exactly.
        let written = io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| refuse(format!("entry '{name}' cannot be inflated: {e}")))?;
        if written > budget {
            return Err(refuse(format!(
                "archive inflates beyond the {} bytes allowed (entry '{name}')",
                limits.max_inflated_bytes
            )));
        }
        budget -= written;
        members.push(relative);
    }
    let member = choose(path, &members, layer)?;
    Ok(Unpacked {
        member: folder.path().join(member),
        folder,
    })
}

fn is_plain_relative(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn wanted(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEMBER_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The readable members: everything but a shapefile's companions.
fn readable(path: &Path) -> bool {
    !path.components().any(|c| c.as_os_str() == "__MACOSX")
        && Format::from_extension(path).is_some()
        && !path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["shx", "dbf", "prj", "cpg"].contains(&e.to_ascii_lowercase().as_str())
        })
}

fn choose<'a>(path: &Path, members: &'a [PathBuf], layer: Option<&str>) -> FormatResult<&'a Path> {
    let readable: Vec<&PathBuf> = members.iter().filter(|m| readable(m)).collect();
    let names = || {
        readable
            .iter()
            .map(|m| m.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(layer) = layer {
        let hit = readable
            .iter()
            .find(|m| m.file_stem().is_some_and(|s| s == layer) || m.to_str() == Some(layer));
        return hit.map(|m| m.as_path()).ok_or_else(|| {
            file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!("archive has no member '{layer}' (members: {})", names()),
            )
        });
    }
    match readable.as_slice() {
        [] => Err(file_error(
            FormatErrorKind::WrongFormat,
            path,
            "archive holds no file this build reads (shapefile, KML, GPX, FlatGeobuf, GeoPackage, \
             GeoParquet, GeoJSON or CSV)",
        )),
        [one] => Ok(one.as_path()),
        _ => {
            // KMZ: the main document is doc.kml (or the first .kml at the root) whatever else is inside.
            let kml: Vec<&&PathBuf> = readable
                .iter()
                .filter(|m| Format::from_extension(m) == Some(Format::Kml))
                .collect();
            if let Some(doc) = kml.iter().find(|m| {
                m.file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("doc.kml"))
            }) {
                return Ok(doc.as_path());
            }
            Err(file_error(
                FormatErrorKind::InvalidOption,
                path,
                format!(
                    "archive holds several readable files ({}); choose one with --layer NAME (`layer` in the API)",
                    names()
                ),
            ))
        }
    }
}
