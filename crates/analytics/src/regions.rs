//! Regions events are grouped into: area polygons (admin boundaries, zones) located by an R-tree of their
//! envelopes and an exact point-in-polygon test, and period buckets along a time axis.

use chrono::{DateTime, Duration, Months, Utc};
use geo::{BoundingRect, Intersects};
use geoconsole_model::geo_types::{Geometry, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::Period;

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Areas indexed for "which area holds this point".
#[derive(Debug)]
pub struct AreaIndex {
    areas: Vec<Geometry<f64>>,
    tree: RTree<Entry>,
}

impl AreaIndex {
    /// Areas without an extent (empty geometries) are kept but never found.
    pub fn new(areas: Vec<Geometry<f64>>) -> Self {
        let entries = areas
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let r = g.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            areas,
            tree: RTree::bulk_load(entries),
        }
    }

    /// The first area (in input order) that holds the point, boundary included.
    pub fn locate(&self, point: [f64; 2]) -> Option<usize> {
        let p = Point::new(point[0], point[1]);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point(point))
            .map(|e| e.data)
            .filter(|i| self.areas[*i].intersects(&p))
            .min()
    }
}

/// Period boundaries from `start` forward until one reaches `end`, epoch ms; at most `max` periods.
pub fn boundaries_between(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: Period,
    max: usize,
) -> Result<Vec<i64>, String> {
    if end <= start {
        return Err(format!("the window {start} to {end} is empty"));
    }
    let mut out = vec![start.timestamp_millis()];
    let mut t = start;
    let mut k: u32 = 0;
    while t < end {
        k += 1;
        // Each boundary from the start, so months do not drift (Jan 31, Feb 28, Mar 31, …).
        t = match period {
            Period::Hour => start.checked_add_signed(Duration::hours(i64::from(k))),
            Period::Day => start.checked_add_signed(Duration::days(i64::from(k))),
            Period::Week => start.checked_add_signed(Duration::weeks(i64::from(k))),
            Period::Month => start.checked_add_months(Months::new(k)),
        }
        .ok_or_else(|| "the window runs past the supported dates".to_string())?;
        out.push(t.timestamp_millis());
        if out.len() > max + 1 {
            return Err(format!(
                "more than {max} {}s in the window: choose a longer period or a shorter window",
                period.as_str()
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use geoconsole_model::geo_types::{Polygon, polygon};

    #[test]
    fn points_find_their_area_and_edges_count() {
        let square: Polygon<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
        let other: Polygon<f64> =
            polygon![(x: 10.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 10.0), (x: 10.0, y: 10.0)];
        let index = AreaIndex::new(vec![square.into(), other.into()]);
        assert_eq!(index.locate([5.0, 5.0]), Some(0));
        assert_eq!(index.locate([15.0, 5.0]), Some(1));
        assert_eq!(
            index.locate([10.0, 5.0]),
            Some(0),
            "a shared edge goes to the first area"
        );
        assert_eq!(index.locate([25.0, 5.0]), None);
    }

    #[test]
    fn buckets_step_forward_and_stop_at_the_limit() {
        let start = Utc
            .with_ymd_and_hms(2023, 1, 31, 0, 0, 0)
            .single()
            .expect("date");
        let end = Utc
            .with_ymd_and_hms(2023, 4, 1, 0, 0, 0)
            .single()
            .expect("date");
        let months = boundaries_between(start, end, Period::Month, 10).expect("months");
        let apr30 = Utc
            .with_ymd_and_hms(2023, 4, 30, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(months.len(), 4, "Jan 31, Feb 28, Mar 31, Apr 30");
        assert_eq!(months[3], apr30.timestamp_millis(), "no drift");
        assert!(boundaries_between(start, end, Period::Hour, 100).is_err());
        assert!(boundaries_between(end, start, Period::Day, 100).is_err());
    }
}
