use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Where in a file something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The whole file.
    File,
    /// A 1-based line (CSV rows, GeoJSONSeq records).
    Line(u64),
    /// A 0-based feature index, as in `features[1841]`.
    Feature(u64),
    /// A 1-based line and column (syntax errors).
    Position { line: u64, column: u64 },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => Ok(()),
            Location::Line(line) => write!(f, "line {line}"),
            Location::Feature(index) => write!(f, "feature {index}"),
            Location::Position { line, column } => write!(f, "line {line} column {column}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not in the format it claims or was taken for (a PNG named .geojson, an empty file).
    WrongFormat,
    /// The text is not valid in its format (a JSON syntax error, too deep nesting, a ragged CSV row).
    Syntax,
    /// The text is not valid UTF-8 or uses an encoding the reader does not take.
    Encoding,
    /// One feature is invalid (geometry out of range, unclosed ring, missing coordinates); the rest can go on.
    InvalidFeature,
    /// The caller's options do not fit the file (a named column that does not exist).
    InvalidOption,
}

/// A located error. `recoverable` errors concern one feature, and the reader can go on after them (the
/// `--skip-invalid` import does); the others end the read.
#[derive(Debug, Error, Clone)]
pub struct FormatError {
    kind: FormatErrorKind,
    file: PathBuf,
    location: Location,
    message: String,
    snippet: Option<String>,
    record: Option<Box<RawRecord>>,
}

/// A delimited record as read, value by column: a report that shows a refused record needs the column
/// names to hide the values of personal columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub columns: Vec<String>,
    pub values: Vec<String>,
}

/// A file as messages name it: its name without the folders (a path to the staging folder says nothing to
/// the user), or the whole path when it has no name.
pub fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = file_label(&self.file);
        match self.location {
            Location::File => write!(f, "{name}: {}", self.message),
            location => write!(f, "{name}: {location}: {}", self.message),
        }
    }
}

/// Longest raw snippet kept with an error, so a 500 MB line never ends up in a rejects report.
pub const SNIPPET_CHARS: usize = 200;
/// Values of a record kept with an error, each cut like a snippet.
const RECORD_FIELDS: usize = 256;

/// Longest message an error keeps. Readers quote input through [`geoconsole_model::excerpt`] already; this
/// bounds whatever else a message picks up from its file (a CRS name, a type, a library's own text).
const MESSAGE_CHARS: usize = 2000;

impl FormatError {
    pub fn new(
        kind: FormatErrorKind,
        file: &Path,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Self {
            kind,
            file: file.to_path_buf(),
            location,
            message: geoconsole_model::excerpt(&message, MESSAGE_CHARS).into_owned(),
            snippet: None,
            record: None,
        }
    }

    /// The same error, said of a member of `archive`: the member alone (`doc.kml`) is a name the user never
    /// saw, so the error names both (`places.kmz: doc.kml: feature 3: …`).
    pub(crate) fn in_archive(mut self, archive: &Path) -> Self {
        self.file = PathBuf::from(format!(
            "{}: {}",
            file_label(archive),
            file_label(&self.file)
        ));
        self
    }

    pub fn with_snippet(mut self, raw: &str) -> Self {
        self.snippet = Some(raw.chars().take(SNIPPET_CHARS).collect());
        self
    }

    /// The record by column (its snippet is its values joined with `,`).
    pub fn with_record<'a>(
        self,
        columns: &[String],
        values: impl Iterator<Item = &'a str> + Clone,
    ) -> Self {
        let joined = values.clone().collect::<Vec<_>>().join(",");
        let mut error = self.with_snippet(&joined);
        let cut = |text: &str| text.chars().take(SNIPPET_CHARS).collect::<String>();
        error.record = Some(Box::new(RawRecord {
            columns: columns.iter().take(RECORD_FIELDS).map(|c| cut(c)).collect(),
            values: values.take(RECORD_FIELDS).map(cut).collect(),
        }));
        error
    }

    /// The same error at another place with words before its message, keeping its record: a spreadsheet's
    /// rows are read by the CSV reader, whose lines are then told as the sheet's rows.
    pub(crate) fn relocated(mut self, location: Location, prefix: &str) -> Self {
        self.location = location;
        self.message = format!("{prefix}{}", self.message);
        self
    }

    pub fn record(&self) -> Option<&RawRecord> {
        self.record.as_deref()
    }

    pub fn kind(&self) -> FormatErrorKind {
        self.kind
    }

    pub fn location(&self) -> Location {
        self.location
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The reason alone, without file and location.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn snippet(&self) -> Option<&str> {
        self.snippet.as_deref()
    }

    pub fn is_recoverable(&self) -> bool {
        self.kind == FormatErrorKind::InvalidFeature
    }

    pub(crate) fn io(file: &Path, error: &std::io::Error) -> Self {
        Self::new(FormatErrorKind::Io, file, Location::File, error.to_string())
    }
}

pub type FormatResult<T> = Result<T, FormatError>;
