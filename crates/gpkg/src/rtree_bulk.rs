//! Bulk loading of the GeoPackage R-tree. SQLite's `rtree` module inserts one entry at a time with the R*-tree
//! split and forced-reinsert rules, about 23 µs per entry here: 23 s for a million points, most of an import.
//! A freshly loaded table instead gets a packed tree written straight into the module's shadow tables, in the
//! documented layout of SQLite's `rtree.c`:
//!
//! - `<name>_node(nodeno INTEGER PRIMARY KEY, data BLOB)`: node 1 is the root. A node blob is a 2-byte
//!   big-endian tree depth (meaningful in the root only), a 2-byte cell count, then cells of an 8-byte
//!   big-endian id (a rowid in leaves, a child node number above) and `minx, maxx, miny, maxy` as big-endian
//!   32-bit floats, zero-padded to the node size (the length of the root blob the module created).
//! - `<name>_rowid(rowid INTEGER PRIMARY KEY, nodeno)`: the leaf that holds each rowid.
//! - `<name>_parent(nodeno INTEGER PRIMARY KEY, parentnode)`: the parent of each non-root node.
//!
//! Entries are sorted along a Hilbert curve by SQLite's external sorter (memory stays flat), packed into leaves,
//! and the levels above are built from the leaves' boxes. `SELECT rtreecheck(...)` validates the result in the
//! tests; later inserts and deletes go through the module and its triggers as usual.

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction, params};

use crate::blob;
use crate::ddl::{quote, rtree_name};

/// Bytes of one cell of a 2-D rtree: an 8-byte id and four 4-byte floats.
const CELL_BYTES: usize = 8 + 4 * 4;
/// Bytes before the first cell: depth and cell count.
const NODE_HEADER_BYTES: usize = 4;
/// Side of the Hilbert grid, as a power of two.
const HILBERT_ORDER: u32 = 16;

#[derive(Clone, Copy)]
struct Entry {
    id: i64,
    min_x: f32,
    max_x: f32,
    min_y: f32,
    max_y: f32,
}

impl Entry {
    fn union(&self, other: &Entry) -> Entry {
        Entry {
            id: self.id,
            min_x: self.min_x.min(other.min_x),
            max_x: self.max_x.max(other.max_x),
            min_y: self.min_y.min(other.min_y),
            max_y: self.max_y.max(other.max_y),
        }
    }
}

/// SQLite stores R-tree bounds as 32-bit floats rounded outward, so a box never shrinks; the same here.
fn round_down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

fn round_up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

/// The distance along a Hilbert curve of order [`HILBERT_ORDER`] of a lon/lat point.
fn hilbert(lon: f64, lat: f64) -> i64 {
    let side = 1u64 << HILBERT_ORDER;
    let scale = |v: f64, lo: f64, hi: f64| {
        (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * (side - 1) as f64) as u64
    };
    let (mut x, mut y) = (scale(lon, -180.0, 180.0), scale(lat, -90.0, 90.0));
    let mut d = 0u64;
    let mut s = side / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = side - 1 - x;
                y = side - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d as i64
}

/// Registers `gc_hilbert(geom)`: the Hilbert distance of a geometry's envelope centre.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("gc_hilbert", 1, flags, |ctx| {
        Ok(ctx
            .get_raw(0)
            .as_blob_or_null()?
            .and_then(blob::envelope)
            .map(|(min_x, max_x, min_y, max_y)| {
                hilbert((min_x + max_x) / 2.0, (min_y + max_y) / 2.0)
            }))
    })
}

struct NodeWriter<'t> {
    tx: &'t Transaction<'t>,
    rtree: String,
    node_bytes: usize,
    next_nodeno: i64,
}

impl NodeWriter<'_> {
    fn write(&mut self, nodeno: i64, depth: u16, cells: &[Entry]) -> rusqlite::Result<()> {
        let mut data = vec![0u8; self.node_bytes];
        data[0..2].copy_from_slice(&depth.to_be_bytes());
        // At most `capacity` cells, itself derived from a node size that fits in u16.
        data[2..4].copy_from_slice(&(cells.len() as u16).to_be_bytes());
        for (i, cell) in cells.iter().enumerate() {
            let at = NODE_HEADER_BYTES + i * CELL_BYTES;
            data[at..at + 8].copy_from_slice(&cell.id.to_be_bytes());
            for (j, v) in [cell.min_x, cell.max_x, cell.min_y, cell.max_y]
                .iter()
                .enumerate()
            {
                data[at + 8 + 4 * j..at + 12 + 4 * j].copy_from_slice(&v.to_bits().to_be_bytes());
            }
        }
        let sql = format!(
            "INSERT OR REPLACE INTO {} (nodeno, data) VALUES (?1, ?2)",
            quote(&format!("{}_node", self.rtree))
        );
        self.tx
            .prepare_cached(&sql)?
            .execute(params![nodeno, data])?;
        Ok(())
    }

    fn parent(&self, child: i64, parent: i64) -> rusqlite::Result<()> {
        let sql = format!(
            "INSERT INTO {} (nodeno, parentnode) VALUES (?1, ?2)",
            quote(&format!("{}_parent", self.rtree))
        );
        self.tx
            .prepare_cached(&sql)?
            .execute(params![child, parent])?;
        Ok(())
    }

    fn allocate(&mut self) -> i64 {
        let n = self.next_nodeno;
        self.next_nodeno += 1;
        n
    }
}

/// Splits `count` entries into the fewest nodes of at most `capacity`, as evenly as possible.
fn group_sizes(count: usize, capacity: usize) -> impl Iterator<Item = usize> {
    let groups = count.div_ceil(capacity).max(1);
    (0..groups).map(move |g| count / groups + usize::from(g < count % groups))
}

/// Fills the (empty) R-tree of `table` from its geometries in one pass.
pub fn bulk_load(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    let rtree = rtree_name(table);
    let node_bytes: usize = tx.query_row(
        &format!(
            "SELECT length(data) FROM {} WHERE nodeno = 1",
            quote(&format!("{rtree}_node"))
        ),
        [],
        |r| r.get(0),
    )?;
    let capacity = (node_bytes - NODE_HEADER_BYTES) / CELL_BYTES;
    let counted = std::time::Instant::now();
    let count: usize = tx.query_row(
        &format!(
            "SELECT count(*) FROM {} WHERE geom NOT NULL AND NOT ST_IsEmpty(geom)",
            quote(table)
        ),
        [],
        |r| r.get(0),
    )?;
    tracing::debug!(
        table,
        elapsed_ms = counted.elapsed().as_millis() as u64,
        "r-tree entries counted"
    );
    let mut writer = NodeWriter {
        tx,
        rtree: rtree.clone(),
        node_bytes,
        next_nodeno: 2,
    };
    if count == 0 {
        return Ok(());
    }
    let mut select = tx.prepare(&format!(
        "SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom) FROM {} \
         WHERE geom NOT NULL AND NOT ST_IsEmpty(geom) ORDER BY gc_hilbert(geom)",
        quote(table)
    ))?;
    let started = std::time::Instant::now();
    let mut rows = select.query([])?;
    let root_is_leaf = count <= capacity;
    let mut level: Vec<Entry> = Vec::with_capacity(count.div_ceil(capacity));
    let mut cells: Vec<Entry> = Vec::with_capacity(capacity);
    // Which leaf holds each rowid goes to `_rowid` in rowid order at the end: inserting it in Hilbert order
    // would be a million random B-tree inserts. A temporary heap table and SQLite's external sorter put it
    // in order with bounded memory.
    tx.execute_batch(
        "CREATE TEMP TABLE gc_rtree_leaf (fid INTEGER NOT NULL, nodeno INTEGER NOT NULL);",
    )?;
    let mut remember_leaf =
        tx.prepare("INSERT INTO temp.gc_rtree_leaf (fid, nodeno) VALUES (?1, ?2)")?;
    for size in group_sizes(count, capacity) {
        cells.clear();
        while cells.len() < size {
            let Some(row) = rows.next()? else { break };
            cells.push(Entry {
                id: row.get(0)?,
                min_x: round_down(row.get(1)?),
                max_x: round_up(row.get(2)?),
                min_y: round_down(row.get(3)?),
                max_y: round_up(row.get(4)?),
            });
        }
        if cells.is_empty() {
            break;
        }
        let nodeno = if root_is_leaf { 1 } else { writer.allocate() };
        writer.write(nodeno, 0, &cells)?;
        for cell in &cells {
            remember_leaf.execute(params![cell.id, nodeno])?;
        }
        let bounds = cells[1..].iter().fold(cells[0], |acc, c| acc.union(c));
        level.push(Entry {
            id: nodeno,
            ..bounds
        });
    }
    drop(rows);
    drop(remember_leaf);
    tx.execute_batch(&format!(
        "INSERT INTO {} (rowid, nodeno) SELECT fid, nodeno FROM temp.gc_rtree_leaf ORDER BY fid; \
         DROP TABLE temp.gc_rtree_leaf;",
        quote(&format!("{rtree}_rowid"))
    ))?;
    tracing::debug!(
        table,
        entries = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "r-tree leaves written"
    );
    if root_is_leaf {
        return Ok(());
    }
    let mut depth: u16 = 1;
    while level.len() > capacity {
        let mut upper = Vec::with_capacity(level.len().div_ceil(capacity));
        let mut rest = level.as_slice();
        for size in group_sizes(level.len(), capacity) {
            let (children, tail) = rest.split_at(size);
            rest = tail;
            let nodeno = writer.allocate();
            writer.write(nodeno, 0, children)?;
            for child in children {
                writer.parent(child.id, nodeno)?;
            }
            let bounds = children[1..]
                .iter()
                .fold(children[0], |acc, c| acc.union(c));
            upper.push(Entry {
                id: nodeno,
                ..bounds
            });
        }
        level = upper;
        depth += 1;
    }
    writer.write(1, depth, &level)?;
    for child in &level {
        writer.parent(child.id, 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_never_shrinks_a_box() {
        for v in [0.1, -0.1, 179.999_999_9, -89.123_456_789, 1e-10] {
            assert!(
                f64::from(round_down(v)) <= v && f64::from(round_up(v)) >= v,
                "{v}"
            );
        }
        assert_eq!(round_down(1.5), 1.5);
    }

    #[test]
    fn groups_are_even_and_cover_everything() {
        let sizes: Vec<usize> = group_sizes(103, 51).collect();
        assert_eq!(sizes, vec![35, 34, 34]);
        assert_eq!(group_sizes(51, 51).collect::<Vec<_>>(), vec![51]);
        assert_eq!(group_sizes(5000, 51).sum::<usize>(), 5000);
    }

    #[test]
    fn hilbert_distance_visits_each_cell_once() {
        let corners = [
            hilbert(-180.0, -90.0),
            hilbert(-180.0, 90.0),
            hilbert(180.0, 90.0),
            hilbert(180.0, -90.0),
        ];
        let mut sorted = corners.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert_eq!(corners[0], 0);
    }
}
