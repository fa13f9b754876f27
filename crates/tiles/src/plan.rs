//! Deciding what one dataset contributes to a tile, from its snapshot alone: which features to draw one by
//! one, or, for points too dense to draw, which clusters.

use std::collections::HashMap;

use geoconsole_index::{Selection, Shape, Snapshot};

use crate::layer::Cluster;
use crate::math::{BUFFER, EXTENT, TileId};

/// Points in one tile above which they are clustered. A point feature with a few properties encodes to
/// about 60 bytes, so this keeps a full tile of single points near 250 KB.
pub const CLUSTER_ABOVE: usize = 4_000;
/// Side of a cluster cell in tile units: 16 pixels on a 512-pixel tile, at most 128 × 128 cells (with the
/// buffer 132 × 132), which bounds a clustered tile to about 17 k features.
pub const CLUSTER_CELL: f64 = 32.0;

#[derive(Debug, Clone, PartialEq)]
pub enum LayerPlan {
    /// Slots to draw one by one, in key order.
    Features(Vec<u32>),
    /// Too many points: grid clusters instead.
    Clusters(Vec<Cluster>),
}

/// Plans one dataset's layer for a tile. `selection.bbox` is ignored (the tile decides the box); its time
/// window applies. `keep` filters slots further (e.g. a CQL2 filter that needs only geometry and time).
pub fn plan_layer(
    snapshot: &Snapshot,
    tile: TileId,
    selection: &Selection,
    keep: &dyn Fn(u32) -> bool,
    cluster: bool,
) -> LayerPlan {
    let tile_box = tile.bbox(BUFFER);
    let mut slots = Vec::new();
    snapshot.slots_in(&[tile_box], &mut slots);
    let time_only = Selection {
        bbox: None,
        time: selection.time,
    };
    slots.retain(|s| snapshot.selects(*s, &time_only) && keep(*s));
    if !snapshot.is_points() {
        // Shapes smaller than a tile unit at this zoom would draw nothing: leave them out before their
        // properties are ever fetched.
        slots.retain(|s| {
            let [w, south, e, north] = snapshot.envelope(*s);
            let (x0, y0) = tile.project(w, north);
            let (x1, y1) = tile.project(e, south);
            (x1 - x0).abs() >= 1.0 || (y1 - y0).abs() >= 1.0 || tile.z >= crate::math::MAX_ZOOM - 8
        });
    }
    slots.sort_unstable();
    if !cluster || !snapshot.is_points() || slots.len() <= CLUSTER_ABOVE {
        return LayerPlan::Features(slots);
    }
    let mut cells: HashMap<(i32, i32), (f64, f64, u32)> = HashMap::new();
    for slot in slots {
        let Shape::Point([lon, lat]) = snapshot.shape(slot) else {
            continue;
        };
        let (x, y) = tile.project(lon, lat);
        let cell = (
            (x / CLUSTER_CELL).floor() as i32,
            (y / CLUSTER_CELL).floor() as i32,
        );
        let entry = cells.entry(cell).or_insert((0.0, 0.0, 0));
        entry.0 += x;
        entry.1 += y;
        entry.2 += 1;
    }
    let limit = f64::from(EXTENT + BUFFER);
    let mut clusters: Vec<Cluster> = cells
        .into_iter()
        .map(|(_, (sx, sy, n))| Cluster {
            x: (sx / f64::from(n)).clamp(-f64::from(BUFFER), limit),
            y: (sy / f64::from(n)).clamp(-f64::from(BUFFER), limit),
            count: n,
        })
        .collect();
    // A stable order makes the same data give byte-identical tiles (and ETags that mean something).
    clusters.sort_by(|a, b| {
        (a.y, a.x)
            .partial_cmp(&(b.y, b.x))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    LayerPlan::Clusters(clusters)
}
