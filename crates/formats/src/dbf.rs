//! A shapefile's attribute table (.dbf, dBASE III+), read here rather than by the `dbase` crate because that
//! crate decodes text before the reader can choose the code page (so a .dbf without .cpg came out as UTF-8
//! with U+FFFD in place of its accents, silently) and parses `F` fields as 32-bit floats (330470.010332 came
//! out as 330470). Text is decoded in the encoding the user names, else the .cpg's, else the one the
//! header's language driver id names (as GDAL maps them), else as UTF-8 when it is UTF-8 and as ISO-8859-1
//! when it is not (GDAL's default). Numbers (`N`, `F`) are parsed from their text as f64.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use geoconsole_model::Properties;
use serde_json::Value;

use crate::record::{file_error, number};
use crate::stream::ReadNotes;
use crate::{FormatError, FormatErrorKind, FormatResult, Location, TextEncoding};

/// One column of the table.
struct Field {
    name: String,
    /// The dBASE type letter (`C`, `N`, `F`, `L`, `D`, ...).
    kind: u8,
    /// Where its bytes start in a record (after the deletion flag) and how many there are.
    offset: usize,
    length: usize,
}

/// How text is decoded, and whether that was said or assumed.
enum Text {
    /// Named by the user, the .cpg or the header.
    Said(TextEncoding),
    /// Nothing said: UTF-8 when the bytes are, ISO-8859-1 when not (said once, with where).
    Guessed {
        warned: bool,
        /// A language driver id the header has but no table names, so the warning does not say "none".
        unknown_ldid: Option<u8>,
    },
}

/// A record: its values in column order, or that it was deleted (GDAL skips those, shape and all).
pub(crate) enum Row {
    Live(Properties),
    Deleted,
}

pub(crate) struct Dbf {
    path: PathBuf,
    reader: BufReader<File>,
    fields: Vec<Field>,
    records: u64,
    record: Vec<u8>,
    next: u64,
    text: Text,
    notes: ReadNotes,
    /// Memo columns already reported.
    memo_warned: bool,
}

/// The dBASE header before the field descriptors.
const HEADER_BYTES: usize = 32;
const DESCRIPTOR_BYTES: usize = 32;

impl Dbf {
    /// Opens the table and reads its header; `cpg` is the shapefile's code page file, when it has one.
    pub(crate) fn open(
        path: &Path,
        cpg: Option<&Path>,
        chosen: Option<TextEncoding>,
        notes: ReadNotes,
    ) -> FormatResult<Self> {
        let file = File::open(path).map_err(|e| FormatError::io(path, &e))?;
        let mut reader = BufReader::new(file);
        let mut head = [0u8; HEADER_BYTES];
        reader.read_exact(&mut head).map_err(|_| {
            file_error(FormatErrorKind::Syntax, path, "shorter than a dBASE header")
        })?;
        let records = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        let header_len = usize::from(u16::from_le_bytes([head[8], head[9]]));
        let record_len = usize::from(u16::from_le_bytes([head[10], head[11]]));
        if header_len < HEADER_BYTES + 1 {
            return Err(file_error(
                FormatErrorKind::Syntax,
                path,
                format!("header length {header_len} is shorter than a dBASE header"),
            ));
        }
        let mut descriptors = vec![0u8; header_len - HEADER_BYTES];
        reader.read_exact(&mut descriptors).map_err(|_| {
            file_error(
                FormatErrorKind::Syntax,
                path,
                format!("header declares {header_len} bytes but the file ends before"),
            )
        })?;
        let text = match chosen {
            Some(encoding) => Text::Said(encoding),
            None => match cpg
                .map(|cpg| code_page_file(cpg, &notes))
                .transpose()?
                .flatten()
            {
                Some(encoding) => Text::Said(encoding),
                None => match TextEncoding::dbase_language_driver(head[29]) {
                    Some(page) => match TextEncoding::from_code_page(page) {
                        Some(encoding) => Text::Said(encoding),
                        None => {
                            notes.warn(format!(
                                "{}: the header names code page {page} (language driver 0x{:02X}), \
                                 which cannot be decoded here; text read as UTF-8 where it is and as \
                                 ISO-8859-1 where not (pass --encoding to choose)",
                                path.display(),
                                head[29]
                            ));
                            Text::Guessed {
                                warned: true,
                                unknown_ldid: None,
                            }
                        }
                    },
                    None => Text::Guessed {
                        warned: false,
                        unknown_ldid: (head[29] != 0).then_some(head[29]),
                    },
                },
            },
        };
        let mut dbf = Self {
            path: path.to_path_buf(),
            reader,
            fields: Vec::new(),
            records,
            record: vec![0u8; record_len],
            next: 0,
            text,
            notes,
            memo_warned: false,
        };
        let mut offset = 1;
        for descriptor in descriptors.chunks_exact(DESCRIPTOR_BYTES) {
            if descriptor[0] == 0x0D {
                break;
            }
            let raw_name = &descriptor[..11];
            let raw_name = &raw_name[..raw_name.iter().position(|&b| b == 0).unwrap_or(11)];
            let name = dbf
                .text(raw_name, Location::File, "a field name")
                .trim()
                .to_string();
            let length = usize::from(descriptor[16]);
            if offset + length > record_len {
                return Err(file_error(
                    FormatErrorKind::Syntax,
                    path,
                    format!(
                        "field `{name}` ends at byte {} of records the header says are {record_len} \
                         bytes; the header is damaged",
                        offset + length
                    ),
                ));
            }
            dbf.fields.push(Field {
                name,
                kind: descriptor[11],
                offset,
                length,
            });
            offset += length;
        }
        Ok(dbf)
    }

    /// The next record; `None` past the last the header declares.
    pub(crate) fn next_row(&mut self) -> Option<FormatResult<Row>> {
        if self.next >= self.records {
            return None;
        }
        let location = Location::Feature(self.next);
        self.next += 1;
        if let Err(e) = self.reader.read_exact(&mut self.record) {
            return Some(Err(FormatError::new(
                FormatErrorKind::Syntax,
                &self.path,
                location,
                format!("the record cannot be read (truncated .dbf?): {e}"),
            )));
        }
        if self.record.first() == Some(&b'*') {
            return Some(Ok(Row::Deleted));
        }
        let mut properties = Properties::with_capacity(self.fields.len());
        for i in 0..self.fields.len() {
            match self.value(i, location) {
                Ok(value) => {
                    properties.insert(self.fields[i].name.clone(), value);
                }
                Err(why) => {
                    return Some(Err(FormatError::new(
                        FormatErrorKind::InvalidFeature,
                        &self.path,
                        location,
                        format!("field `{}`: {why}", self.fields[i].name),
                    )));
                }
            }
        }
        Some(Ok(Row::Live(properties)))
    }

    fn value(&mut self, index: usize, location: Location) -> Result<Value, String> {
        let field = &self.fields[index];
        let bytes = self.record[field.offset..field.offset + field.length].to_vec();
        let kind = field.kind;
        let ascii = || String::from_utf8_lossy(&bytes).trim().to_string();
        Ok(match kind {
            b'C' => {
                let name = format!("field `{}`", field.name);
                let text = self.text(&bytes, location, &name);
                let text = text.trim_matches([' ', '\0']);
                if text.is_empty() {
                    Value::Null
                } else {
                    Value::String(text.to_string())
                }
            }
            b'N' | b'F' => {
                let text = ascii();
                let text = text.trim_matches('\0');
                // blanks and asterisks (dBASE's overflow mark) are no value
                if text.is_empty() || text.bytes().all(|b| b == b'*') {
                    Value::Null
                } else {
                    let parsed = text
                        .parse::<f64>()
                        .map_err(|_| format!("`{text}` is not a number"))?;
                    number(parsed)
                }
            }
            b'L' => match bytes.first().copied().unwrap_or(b'?') {
                b'T' | b't' | b'Y' | b'y' => Value::Bool(true),
                b'F' | b'f' | b'N' | b'n' => Value::Bool(false),
                _ => Value::Null,
            },
            b'D' => {
                let text = ascii();
                if text.is_empty() || text.bytes().all(|b| b == b'0') {
                    Value::Null
                } else if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
                    Value::String(format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..]))
                } else {
                    return Err(format!("`{text}` is not a date (YYYYMMDD)"));
                }
            }
            b'I' | b'+' if bytes.len() == 4 => {
                Value::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            b'O' | b'B' if bytes.len() == 8 => number(f64::from_le_bytes(eight(&bytes))),
            b'Y' if bytes.len() == 8 => number(i64::from_le_bytes(eight(&bytes)) as f64 / 10_000.0),
            b'T' | b'@' if bytes.len() == 8 => date_time(&bytes),
            b'M' | b'G' | b'P' => {
                if !self.memo_warned {
                    self.memo_warned = true;
                    self.notes.warn(format!(
                        "{}: field `{}` is a memo, whose text lives in a .dbt file shapefiles do not \
                         carry; it is left empty",
                        self.path.display(),
                        self.fields[index].name
                    ));
                }
                Value::Null
            }
            // Any other type is kept as its text, as GDAL does.
            _ => {
                let name = format!("field `{}`", field.name);
                let text = self.text(&bytes, location, &name);
                let text = text.trim_matches([' ', '\0']);
                if text.is_empty() {
                    Value::Null
                } else {
                    Value::String(text.to_string())
                }
            }
        })
    }

    /// Decodes text, saying where anything could not be decoded or an encoding was assumed.
    fn text(&mut self, bytes: &[u8], location: Location, what: &str) -> String {
        match &mut self.text {
            Text::Said(encoding) => match encoding.decode(bytes) {
                Ok(text) => text.into_owned(),
                Err(lossy) => {
                    self.notes.warn(format!(
                        "{}: {location}: {what} is not valid {encoding}; the bytes that do not decode \
                         became U+FFFD (pass --encoding to choose another)",
                        self.path.display()
                    ));
                    lossy
                }
            },
            Text::Guessed {
                warned,
                unknown_ldid,
            } => match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    if !*warned {
                        *warned = true;
                        let header = match unknown_ldid {
                            Some(id) => format!(
                                "its header's language driver id 0x{id:02X} is not one this build knows"
                            ),
                            None => "none in its header".to_string(),
                        };
                        self.notes.warn(format!(
                            "{}: names no code page it can use (no .cpg, {header}) and its text is not \
                             UTF-8 (first at {location}, {what}); read as ISO-8859-1, as GDAL does \
                             (pass --encoding to choose another)",
                            self.path.display()
                        ));
                    }
                    bytes.iter().map(|&b| char::from(b)).collect()
                }
            },
        }
    }
}

fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// A Visual FoxPro date-time: the Julian day number, then milliseconds since midnight.
fn date_time(bytes: &[u8]) -> Value {
    let day = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let millis = i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if day == 0 {
        return Value::Null;
    }
    // Julian day 2440588 is 1970-01-01
    let seconds = (i64::from(day) - 2_440_588) * 86_400 + i64::from(millis) / 1000;
    chrono::DateTime::from_timestamp(seconds, 0).map_or(Value::Null, |t| {
        Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    })
}

/// The most a `.cpg` may hold: a code page label is a few bytes.
const MAX_CPG_BYTES: u64 = 1024;

/// The encoding a `.cpg` names; an unknown label is said and ignored (the header or the default decides).
fn code_page_file(path: &Path, notes: &ReadNotes) -> FormatResult<Option<TextEncoding>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_CPG_BYTES).read_to_end(&mut bytes))
        .map_err(|e| FormatError::io(path, &e))?;
    let label = String::from_utf8_lossy(&bytes);
    let found = TextEncoding::from_label(&label);
    if found.is_none() && !label.trim().is_empty() {
        notes.warn(format!(
            "{}: code page `{}` is not one this reader knows; it is ignored (pass --encoding to choose)",
            path.display(),
            label.trim().chars().take(40).collect::<String>()
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dBASE III table: `fields` as (name, type, length), `rows` as their bytes (deletion flag first).
    fn table(ldid: u8, fields: &[(&str, u8, u8)], rows: &[Vec<u8>]) -> Vec<u8> {
        let record_len: usize = 1 + fields.iter().map(|f| usize::from(f.2)).sum::<usize>();
        let header_len = HEADER_BYTES + DESCRIPTOR_BYTES * fields.len() + 1;
        let mut out = vec![0x03, 126, 1, 1];
        out.extend((rows.len() as u32).to_le_bytes());
        out.extend((header_len as u16).to_le_bytes());
        out.extend((record_len as u16).to_le_bytes());
        out.resize(HEADER_BYTES, 0);
        out[29] = ldid;
        for (name, kind, length) in fields {
            let mut d = [0u8; DESCRIPTOR_BYTES];
            d[..name.len()].copy_from_slice(name.as_bytes());
            d[11] = *kind;
            d[16] = *length;
            out.extend(d);
        }
        out.push(0x0D);
        for row in rows {
            assert_eq!(row.len(), record_len);
            out.extend(row);
        }
        out.push(0x1A);
        out
    }

    fn rows(
        bytes: &[u8],
        cpg: Option<&str>,
        chosen: Option<TextEncoding>,
    ) -> (Vec<Row>, ReadNotes) {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("t.dbf");
        std::fs::write(&path, bytes).expect("write");
        let cpg_path = dir.path().join("t.cpg");
        if let Some(label) = cpg {
            std::fs::write(&cpg_path, label).expect("write");
        }
        let notes = ReadNotes::default();
        let mut dbf = Dbf::open(
            &path,
            cpg.map(|_| cpg_path.as_path()),
            chosen,
            notes.clone(),
        )
        .expect("open");
        let mut out = Vec::new();
        while let Some(row) = dbf.next_row() {
            out.push(row.expect("row"));
        }
        (out, notes)
    }

    fn live(row: &Row) -> &Properties {
        match row {
            Row::Live(p) => p,
            Row::Deleted => panic!("deleted"),
        }
    }

    #[test]
    fn float_fields_keep_every_digit_of_their_text() {
        let bytes = table(
            0,
            &[("LEN", b'F', 19), ("N", b'N', 5)],
            &[
                b" 3.304700103320e+005   12".to_vec(),
                format!(" {:>19}{:>5}", "***", "").into_bytes(),
            ],
        );
        let (rows, _) = rows(&bytes, None, None);
        assert_eq!(live(&rows[0])["LEN"], serde_json::json!(330_470.010_332));
        assert_eq!(live(&rows[0])["N"], serde_json::json!(12));
        assert_eq!(live(&rows[1])["LEN"], Value::Null);
    }

    #[test]
    fn text_follows_the_user_then_the_cpg_then_the_header_then_utf8_or_latin1() {
        let mexico = b" M\xe9xico".to_vec();
        let header_1252 = table(0x57, &[("NAME", b'C', 6)], std::slice::from_ref(&mexico));
        let (r, notes) = rows(&header_1252, None, None);
        assert_eq!(live(&r[0])["NAME"], "México");
        assert!(notes.warnings().is_empty());
        // DOS code page 437 in the header: 0x82 is é
        let header_437 = table(0x01, &[("NAME", b'C', 6)], &[b" M\x82xico".to_vec()]);
        assert_eq!(live(&rows(&header_437, None, None).0[0])["NAME"], "México");
        // nothing said: not UTF-8, so ISO-8859-1, said once
        let unsaid = table(0, &[("NAME", b'C', 6)], &[mexico.clone(), mexico.clone()]);
        let (r, notes) = rows(&unsaid, None, None);
        assert_eq!(live(&r[1])["NAME"], "México");
        assert_eq!(notes.warnings().len(), 1);
        assert!(notes.warnings()[0].contains("ISO-8859-1"));
        // a .cpg saying UTF-8 over bytes that are not: U+FFFD, and a warning naming record and field
        let (r, notes) = rows(&unsaid, Some("UTF-8"), None);
        assert_eq!(live(&r[0])["NAME"], "M\u{fffd}xico");
        let warnings = notes.warnings();
        assert!(
            warnings[0].contains("feature 0") && warnings[0].contains("field `NAME`"),
            "{warnings:?}"
        );
        // the user's choice wins over all
        let cp850 = TextEncoding::from_code_page(850);
        let (r, _) = rows(&header_1252, Some("UTF-8"), cp850);
        assert_eq!(live(&r[0])["NAME"], "MÚxico");
        // UTF-8 text with nothing said stays UTF-8
        let utf8 = table(0, &[("NAME", b'C', 7)], &[" México".as_bytes().to_vec()]);
        let (r, notes) = rows(&utf8, None, None);
        assert_eq!(live(&r[0])["NAME"], "México");
        assert!(notes.warnings().is_empty());
    }

    #[test]
    fn esri_and_macintosh_language_driver_ids_name_their_code_pages() {
        // the outside tester's ld_7d/ld_7e: "ירושלים" in cp1255, "القدس" in cp1256
        let hebrew = b" \xe9\xf8\xe5\xf9\xec\xe9\xed".to_vec();
        let arabic = b" \xc7\xe1\xde\xcf\xd3".to_vec();
        for (ldid, bytes, text) in [
            (0x7D, &hebrew, "ירושלים"),
            (0x7E, &arabic, "القدس"),
            // Mac Central European and Mac Greek
            (0x97, &b" \x8e\x9e".to_vec(), "éě"),
            (0x98, &b" \xc1\xe1".to_vec(), "Να"),
            // Dutch OEM: DOS 437
            (0x09, &b" \x82".to_vec(), "é"),
        ] {
            let width = u8::try_from(bytes.len() - 1).unwrap();
            let bytes = table(ldid, &[("NAME", b'C', width)], std::slice::from_ref(bytes));
            let (r, notes) = rows(&bytes, None, None);
            assert_eq!(live(&r[0])["NAME"], text, "0x{ldid:02X}");
            assert!(notes.warnings().is_empty(), "{:?}", notes.warnings());
        }
    }

    #[test]
    fn an_unknown_language_driver_id_is_named_not_called_missing() {
        let bytes = table(0x7F, &[("NAME", b'C', 6)], &[b" M\xe9xico".to_vec()]);
        let (r, notes) = rows(&bytes, None, None);
        assert_eq!(live(&r[0])["NAME"], "México");
        let warnings = notes.warnings();
        assert!(
            warnings[0].contains("language driver id 0x7F is not one this build knows")
                && !warnings[0].contains("none in its header"),
            "{warnings:?}"
        );
    }

    #[test]
    fn other_types_and_deleted_records() {
        let bytes = table(
            0,
            &[("D", b'D', 8), ("L", b'L', 1), ("I", b'I', 4)],
            &[
                [b" 20240229T".as_slice(), &7i32.to_le_bytes()].concat(),
                [b"*        ?".as_slice(), &0i32.to_le_bytes()].concat(),
            ],
        );
        let (r, _) = rows(&bytes, None, None);
        let first = live(&r[0]);
        assert_eq!(first["D"], "2024-02-29");
        assert_eq!(first["L"], true);
        assert_eq!(first["I"], 7);
        assert!(matches!(r[1], Row::Deleted));
    }

    #[test]
    fn a_field_past_the_record_or_a_bad_number_is_an_error_not_a_panic() {
        let mut bytes = table(0, &[("A", b'N', 4)], &[b" abcd".to_vec()]);
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("t.dbf");
        std::fs::write(&path, &bytes).expect("write");
        let mut dbf = Dbf::open(&path, None, None, ReadNotes::default()).expect("open");
        let e = dbf.next_row().expect("row").err().expect("error");
        assert!(e.message().contains("field `A`"), "{}", e.message());
        bytes[HEADER_BYTES + 16] = 200;
        std::fs::write(&path, &bytes).expect("write");
        assert!(Dbf::open(&path, None, None, ReadNotes::default()).is_err());
    }
}
