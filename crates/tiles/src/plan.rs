//! Deciding what one dataset contributes to a tile, from its snapshot alone: which features to draw one by
//! one, or, for points too dense to draw, which clusters.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use geoconsole_index::{PointHit, Selection, Shape, Snapshot};
use geoconsole_model::geo_types::Geometry;

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

/// What a dataset of points contributes to a tile, planned from the points its tree holds there.
#[derive(Debug, Clone, PartialEq)]
pub enum PointPlan {
    /// Points to draw one by one, in key order.
    Features(Vec<PointHit>),
    /// Too many points: grid clusters instead.
    Clusters(Vec<Cluster>),
}

/// Plans a points layer from the points inside the tile's box (with its buffer) that already passed the
/// time window (see [`Snapshot::for_each_point_in`]); `keep` filters slots further. The same plan as
/// [`plan_layer`], without reading any point's shape by slot.
pub fn plan_points(
    tile: TileId,
    mut points: Vec<PointHit>,
    keep: &dyn Fn(u32) -> bool,
    cluster: bool,
) -> PointPlan {
    points.retain(|p| keep(p.slot));
    if !cluster || points.len() <= CLUSTER_ABOVE {
        points.sort_unstable_by_key(|p| p.slot);
        return PointPlan::Features(points);
    }
    PointPlan::Clusters(clusters(tile, points.iter().map(|p| p.xy)))
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
        // Lines and areas smaller than a tile unit at this zoom would draw nothing: leave them out before
        // their properties are ever fetched. Points have no size and always draw.
        slots.retain(|s| {
            let [w, south, e, north] = snapshot.envelope(*s);
            let (x0, y0) = tile.project(w, north);
            let (x1, y1) = tile.project(e, south);
            (x1 - x0).abs() >= 1.0
                || (y1 - y0).abs() >= 1.0
                || tile.z >= crate::math::MAX_ZOOM - 8
                || snapshot.shape(*s).is_some_and(|shape| holds_points(&shape))
        });
    }
    slots.sort_unstable();
    if !cluster || !snapshot.is_points() || slots.len() <= CLUSTER_ABOVE {
        return LayerPlan::Features(slots);
    }
    LayerPlan::Clusters(clusters(
        tile,
        slots
            .into_iter()
            .filter_map(|slot| match snapshot.shape(slot) {
                Some(Shape::Point(xy)) => Some(xy),
                _ => None,
            }),
    ))
}

/// Points in grid cells of [`CLUSTER_CELL`] tile units, each cell one cluster at its members' mean.
fn clusters(tile: TileId, points: impl Iterator<Item = [f64; 2]>) -> Vec<Cluster> {
    // Positions are summed in fixed point (1/1024 of a tile unit, far below the unit a tile rounds to), so
    // the sums, and the tile's bytes, do not depend on the order points arrive in (tree order or key
    // order); float sums would differ in their last bits.
    const FIXED: f64 = 1024.0;
    let mut cells: HashMap<(i32, i32), (i64, i64, u32), FixedState> = HashMap::default();
    for [lon, lat] in points {
        let (x, y) = tile.project(lon, lat);
        let cell = (
            (x / CLUSTER_CELL).floor() as i32,
            (y / CLUSTER_CELL).floor() as i32,
        );
        let entry = cells.entry(cell).or_insert((0, 0, 0));
        entry.0 += (x * FIXED).round() as i64;
        entry.1 += (y * FIXED).round() as i64;
        entry.2 += 1;
    }
    let limit = f64::from(EXTENT + BUFFER);
    let mut clusters: Vec<Cluster> = cells
        .into_iter()
        .map(|(_, (sx, sy, n))| Cluster {
            x: (sx as f64 / FIXED / f64::from(n)).clamp(-f64::from(BUFFER), limit),
            y: (sy as f64 / FIXED / f64::from(n)).clamp(-f64::from(BUFFER), limit),
            count: n,
        })
        .collect();
    // A stable order makes the same data give byte-identical tiles (and ETags that mean something).
    clusters.sort_by(|a, b| {
        (a.y, a.x)
            .partial_cmp(&(b.y, b.x))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    clusters
}

/// Whether a shape is or holds a point (at any depth of a collection): a point always draws, however
/// small the shape around it.
fn holds_points(shape: &Shape<'_>) -> bool {
    let geometry = match shape {
        Shape::Point(_) => return true,
        Shape::Geometry(g) => *g,
    };
    let mut stack = vec![geometry];
    while let Some(g) = stack.pop() {
        match g {
            Geometry::Point(_) | Geometry::MultiPoint(_) => return true,
            Geometry::GeometryCollection(gc) => stack.extend(gc.0.iter()),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::LayerBuilder;
    use geoconsole_index::SnapshotBuilder;
    use geoconsole_model::geo_types::{Geometry, Point};
    use geoconsole_model::{
        Bbox, Dataset, DatasetId, DatasetKind, GeometryType, Schema, TimeFields,
    };

    fn dense(n: u32) -> Snapshot {
        let mut b = SnapshotBuilder::default();
        for i in 0..n {
            let (a, c) = (f64::from(i % 600), f64::from(i / 600));
            b.push(
                i64::from(i) + 1,
                Some(Geometry::Point(Point::new(2.0 + a * 0.01, 45.0 + c * 0.01))),
                None,
            )
            .unwrap();
        }
        let now = chrono::Utc::now();
        b.finish(Dataset {
            id: DatasetId::new("dense").unwrap(),
            title: "d".into(),
            kind: DatasetKind::Events,
            geometry_type: GeometryType::Point,
            time_fields: TimeFields::default(),
            id_field: None,
            schema: Schema::default(),
            source: "t".into(),
            version: 1,
            feature_count: u64::from(n),
            extent: Some(Bbox::new(2.0, 45.0, 8.0, 50.0).unwrap()),
            time_extent: None,
            created: now,
            updated: now,
        })
    }

    #[test]
    fn points_of_a_mixed_dataset_are_planned_at_every_zoom() {
        use geoconsole_model::geo_types::{GeometryCollection, LineString, MultiPoint};
        let mut b = SnapshotBuilder::default();
        let shapes = [
            Geometry::Point(Point::new(10.0, 20.0)),
            Geometry::MultiPoint(MultiPoint::from(vec![(10.0, 20.0), (10.0, 20.0)])),
            Geometry::LineString(LineString::from(vec![(0.0, 0.0), (1.0, 1.0)])),
            // A line far below a tile unit at low zoom: left out there.
            Geometry::LineString(LineString::from(vec![(10.0, 20.0), (10.000001, 20.000001)])),
            // A point two collections down, beside a tiny line: the point draws at every zoom.
            Geometry::GeometryCollection(GeometryCollection::new_from(vec![
                Geometry::GeometryCollection(GeometryCollection::new_from(vec![Geometry::Point(
                    Point::new(10.0, 20.0),
                )])),
                Geometry::LineString(LineString::from(vec![(10.0, 20.0), (10.000001, 20.000001)])),
            ])),
        ];
        for (key, shape) in shapes.into_iter().enumerate() {
            b.push(key as i64 + 1, Some(shape), None).unwrap();
        }
        let mut dataset = dense(1).dataset().clone();
        dataset.geometry_type = GeometryType::Geometry;
        let s = b.finish(dataset);
        for z in 0..=16u32 {
            let n = 1u32 << z;
            let x = ((10.0 + 180.0) / 360.0 * f64::from(n)) as u32;
            let y = {
                let lat = 20.0f64.to_radians();
                ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0
                    * f64::from(n)) as u32
            };
            let tile = TileId::new(z, x, y).unwrap();
            let LayerPlan::Features(slots) =
                plan_layer(&s, tile, &Selection::default(), &|_| true, true)
            else {
                panic!("few features are not clustered");
            };
            let keys: Vec<i64> = slots.iter().map(|slot| s.key(*slot)).collect();
            assert!(
                keys.contains(&1) && keys.contains(&2) && keys.contains(&5),
                "z{z}: the point, the multipoint and the collection holding a point, {keys:?}"
            );
            assert_eq!(
                keys.contains(&4),
                z >= 14,
                "z{z}: the tiny line only where it has a size"
            );
        }
    }

    #[test]
    fn dense_points_become_clusters_that_count_every_point() {
        let s = dense(300_000);
        let tile = TileId::new(4, 8, 5).unwrap();
        let LayerPlan::Clusters(clusters) =
            plan_layer(&s, tile, &Selection::default(), &|_| true, true)
        else {
            panic!("dense points cluster");
        };
        assert_eq!(clusters.iter().map(|c| c.count).sum::<u32>(), 300_000);
        let mut layer = LayerBuilder::new("dense", tile);
        for c in &clusters {
            layer.add_cluster(*c);
        }
        assert_eq!(layer.len(), clusters.len());
        let LayerPlan::Features(few) =
            plan_layer(&s, tile, &Selection::default(), &|_| true, false)
        else {
            panic!("without clustering every point is listed");
        };
        assert_eq!(few.len(), 300_000);
    }
}
