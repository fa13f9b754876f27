//! The nesting of a Parquet file's schema, measured from its footer before the parquet crate reads it.
//!
//! The footer's `FileMetaData` (Apache Thrift, compact protocol) lists the schema flat, each element with
//! its `num_children`; the parquet crate rebuilds the tree (and arrow converts it) by recursion, one frame per
//! level, so a 13 KB footer nesting 1,000 groups overflowed the stack and aborted the process. This walks the
//! Thrift bytes with a stack of its own, never recursing, and counts the levels.

use std::io::{Read, Seek, SeekFrom};

/// Schema levels a GeoParquet file may nest. Its deepest native encoding, a multipolygon, is
/// `list<list<list<struct<x, y>>>>` under the root: five levels.
pub(crate) const MAX_SCHEMA_DEPTH: usize = 32;

/// Largest footer read for the check (the parquet crate reads it whole too).
const MAX_FOOTER_BYTES: u64 = 64 << 20;

/// What the footer says of the schema's nesting.
#[derive(Debug, PartialEq)]
pub(crate) enum SchemaDepth {
    /// Not a Parquet file (no `PAR1` footer): left for the parquet crate to refuse in its words.
    NotParquet,
    /// The footer is not Thrift this walk can read, or is too large; refused, since a schema that cannot be
    /// measured cannot be known to be safe to build.
    Unreadable,
    /// Levels below the root.
    Levels(usize),
}

/// Measures the schema in the footer of `file`, and leaves the file at its start.
pub(crate) fn schema_depth(file: &mut (impl Read + Seek)) -> std::io::Result<SchemaDepth> {
    let length = file.seek(SeekFrom::End(0))?;
    if length < 12 {
        file.seek(SeekFrom::Start(0))?;
        return Ok(SchemaDepth::NotParquet);
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8))?;
    file.read_exact(&mut tail)?;
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if &tail[4..] != b"PAR1" || footer + 12 > length {
        file.seek(SeekFrom::Start(0))?;
        return Ok(SchemaDepth::NotParquet);
    }
    if footer > MAX_FOOTER_BYTES {
        return Ok(SchemaDepth::Unreadable);
    }
    let mut bytes = vec![0u8; usize::try_from(footer).unwrap_or(0)];
    file.seek(SeekFrom::Start(length - 8 - footer))?;
    file.read_exact(&mut bytes)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(children(&bytes).map_or(SchemaDepth::Unreadable, |counts| {
        SchemaDepth::Levels(depth(&counts))
    }))
}

/// The depth of a schema given as each element's `num_children`, in the footer's depth-first order.
fn depth(children: &[u32]) -> usize {
    // Children still to come at each open level.
    let mut open: Vec<u32> = Vec::new();
    let mut deepest = 0;
    for &count in children {
        deepest = deepest.max(open.len());
        if count > 0 {
            open.push(count);
            continue;
        }
        // A leaf: it completes its parent, which may complete its own, and so on.
        while let Some(left) = open.last_mut() {
            *left -= 1;
            if *left > 0 {
                break;
            }
            open.pop();
        }
    }
    deepest
}

// Thrift compact protocol types.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// `FileMetaData.schema` is field 2; `SchemaElement.num_children` is field 5.
const SCHEMA_FIELD: i16 = 2;
const NUM_CHILDREN_FIELD: i16 = 5;

/// What is open while walking: a struct (with its last field id, and whether it is a schema element) or a
/// list, set or map (with the types and count of what is left).
enum Open {
    Struct {
        last: i16,
        element: bool,
    },
    List {
        left: u64,
        kind: u8,
        schema: bool,
    },
    Map {
        left: u64,
        key: u8,
        value: u8,
        at_key: bool,
    },
}

struct Bytes<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        let n = usize::try_from(n).ok()?;
        (n <= self.bytes.len() - self.at).then(|| self.at += n)
    }
}

/// Every schema element's `num_children` (0 when absent), from the footer's Thrift bytes, or `None` when
/// they are not well-formed Thrift.
fn children(footer: &[u8]) -> Option<Vec<u32>> {
    let mut input = Bytes {
        bytes: footer,
        at: 0,
    };
    let mut counts = Vec::new();
    let mut stack = vec![Open::Struct {
        last: 0,
        element: false,
    }];
    loop {
        // What comes next: a value of some type, in the innermost open container.
        let (kind, field) = match stack.last_mut()? {
            Open::Struct { last, .. } => {
                let header = input.byte()?;
                if header == 0 {
                    if let Some(Open::Struct { element: true, .. }) = stack.pop() {
                        // A schema element ended without num_children: a leaf, unless counted already.
                        if counts.last() == Some(&u32::MAX) {
                            counts.pop();
                            counts.push(0);
                        }
                    }
                    if stack.is_empty() {
                        return Some(counts);
                    }
                    continue;
                }
                let delta = i16::from(header >> 4);
                let id = if delta == 0 {
                    i16::try_from(input.zigzag()?).ok()?
                } else {
                    last.checked_add(delta)?
                };
                *last = id;
                (header & 0x0f, Some(id))
            }
            Open::List { left, kind, .. } => {
                if *left == 0 {
                    stack.pop();
                    continue;
                }
                *left -= 1;
                (*kind, None)
            }
            Open::Map {
                left,
                key,
                value,
                at_key,
            } => {
                if *left == 0 {
                    stack.pop();
                    continue;
                }
                let kind = if *at_key { *key } else { *value };
                if !*at_key {
                    *left -= 1;
                }
                *at_key = !*at_key;
                (kind, None)
            }
        };
        let in_element = matches!(stack.last(), Some(Open::Struct { element: true, .. }));
        let in_root = stack.len() == 1;
        let in_schema_list = matches!(stack.last(), Some(Open::List { schema: true, .. }));
        match kind {
            BOOL_TRUE | BOOL_FALSE if field.is_some() => {}
            // Booleans inside lists take a byte each.
            BOOL_TRUE | BOOL_FALSE | BYTE => input.skip(1)?,
            I16 | I64 => {
                input.varint()?;
            }
            I32 => {
                let value = input.zigzag()?;
                if in_element && field == Some(NUM_CHILDREN_FIELD) {
                    let count = counts.last_mut()?;
                    *count = u32::try_from(value).ok()?;
                }
            }
            DOUBLE => input.skip(8)?,
            BINARY => {
                let n = input.varint()?;
                input.skip(n)?;
            }
            LIST | SET => {
                let header = input.byte()?;
                let left = match header >> 4 {
                    15 => input.varint()?,
                    n => u64::from(n),
                };
                // Each element takes at least a byte: a count larger than the bytes left is a lie.
                if left > (footer.len() - input.at) as u64 {
                    return None;
                }
                stack.push(Open::List {
                    left,
                    kind: header & 0x0f,
                    schema: in_root && field == Some(SCHEMA_FIELD),
                });
            }
            MAP => {
                let left = input.varint()?;
                let (key, value) = if left > 0 {
                    let types = input.byte()?;
                    (types >> 4, types & 0x0f)
                } else {
                    (0, 0)
                };
                if left > (footer.len() - input.at) as u64 {
                    return None;
                }
                stack.push(Open::Map {
                    left,
                    key,
                    value,
                    at_key: true,
                });
            }
            STRUCT => {
                if in_schema_list {
                    // Not yet known whether it has children: marked, then set or made 0 at its end.
                    counts.push(u32::MAX);
                }
                stack.push(Open::Struct {
                    last: 0,
                    element: in_schema_list,
                });
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_the_children_counts() {
        assert_eq!(depth(&[2, 0, 0]), 1);
        assert_eq!(depth(&[2, 1, 1, 0, 0]), 3);
        assert_eq!(depth(&[1, 1, 1, 1, 0]), 4);
        assert_eq!(depth(&[0]), 0);
    }

    /// The walk must read every footer the parquet crate reads, or it would refuse good files.
    #[test]
    fn reads_the_footer_of_a_file_the_console_wrote() {
        use crate::{Format, WriterLayout, create_writer};
        use geoconsole_model::geo_types::Point;
        use geoconsole_model::{Feature, GeometryType, Schema};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let mut properties = geoconsole_model::Properties::new();
        properties.insert("name".into(), serde_json::json!("a"));
        properties.insert("n".into(), serde_json::json!(1.5));
        let feature = Feature {
            id: None,
            geometry: Some(Point::new(1.0, 2.0).into()),
            time: None,
            properties,
        };
        let mut schema = Schema::default();
        schema.observe(&feature.properties);
        let layout = WriterLayout {
            name: "out".into(),
            schema,
            geometry_type: GeometryType::Point,
        };
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = create_writer(Format::GeoParquet, Box::new(file), &layout).unwrap();
        writer.write_feature(&feature).unwrap();
        writer.finish().unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        // The root, and the bbox covering struct's members under it.
        assert_eq!(schema_depth(&mut file).unwrap(), SchemaDepth::Levels(2));
    }
}
