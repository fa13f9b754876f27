use geo_types::{Coord, Geometry};
use serde::{Deserialize, Serialize};

use crate::{ModelError, ModelErrorKind, ModelResult};

/// A bounding box in WGS84 degrees: `west, south, east, north`.
///
/// A box whose `west` is greater than its `east` crosses the antimeridian (RFC 7946 §5.2): it covers
/// `west..180` and `-180..east`. Every operation here honours that instead of treating it as empty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bbox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl Bbox {
    /// Builds a checked box. Longitudes must lie in [-180, 180], latitudes in [-90, 90], `south <= north`.
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> ModelResult<Self> {
        let bad = |why: String| Err(ModelError::new(ModelErrorKind::InvalidBbox, why));
        if ![west, south, east, north].iter().all(|v| v.is_finite()) {
            return bad("bbox values must be finite numbers".into());
        }
        if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
            return bad(format!(
                "bbox longitudes must lie in [-180, 180], got {west} and {east}"
            ));
        }
        if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) {
            return bad(format!(
                "bbox latitudes must lie in [-90, 90], got {south} and {north}"
            ));
        }
        if south > north {
            return bad(format!("bbox south {south} is greater than north {north}"));
        }
        Ok(Self {
            west,
            south,
            east,
            north,
        })
    }

    /// Parses `west,south,east,north` or the 3D form `west,south,min_z,east,north,max_z` (OGC API and RFC 7946 order).
    pub fn parse(text: &str) -> ModelResult<Self> {
        let values: Vec<f64> = text
            .split(',')
            .map(|part| part.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                ModelError::new(
                    ModelErrorKind::InvalidBbox,
                    format!("bbox '{text}' is not a list of numbers"),
                )
            })?;
        match values.as_slice() {
            [w, s, e, n] => Self::new(*w, *s, *e, *n),
            [w, s, _, e, n, _] => Self::new(*w, *s, *e, *n),
            _ => Err(ModelError::new(
                ModelErrorKind::InvalidBbox,
                format!(
                    "bbox '{text}' must have 4 or 6 numbers, found {}",
                    values.len()
                ),
            )),
        }
    }

    pub fn crosses_antimeridian(&self) -> bool {
        self.west > self.east
    }

    /// The box as one or two boxes that do not cross the antimeridian.
    pub fn split_at_antimeridian(&self) -> Vec<Bbox> {
        if self.crosses_antimeridian() {
            vec![
                Bbox {
                    west: self.west,
                    south: self.south,
                    east: 180.0,
                    north: self.north,
                },
                Bbox {
                    west: -180.0,
                    south: self.south,
                    east: self.east,
                    north: self.north,
                },
            ]
        } else {
            vec![*self]
        }
    }

    pub fn contains_point(&self, lon: f64, lat: f64) -> bool {
        let lon_inside = if self.crosses_antimeridian() {
            lon >= self.west || lon <= self.east
        } else {
            lon >= self.west && lon <= self.east
        };
        lon_inside && lat >= self.south && lat <= self.north
    }

    pub fn intersects(&self, other: &Bbox) -> bool {
        self.split_at_antimeridian().iter().any(|a| {
            other.split_at_antimeridian().iter().any(|b| {
                a.west <= b.east && b.west <= a.east && a.south <= b.north && b.south <= a.north
            })
        })
    }

    /// The planar envelope of a geometry's coordinates; `None` for an empty geometry.
    pub fn of_geometry(geometry: &Geometry<f64>) -> Option<Bbox> {
        let mut bbox: Option<Bbox> = None;
        for_each_coord(geometry, &mut |c| {
            let b = bbox.get_or_insert(Bbox {
                west: c.x,
                south: c.y,
                east: c.x,
                north: c.y,
            });
            b.west = b.west.min(c.x);
            b.east = b.east.max(c.x);
            b.south = b.south.min(c.y);
            b.north = b.north.max(c.y);
        });
        bbox
    }

    /// Smallest box covering both (planar; crossing boxes are widened to the whole longitude range).
    pub fn union(&self, other: &Bbox) -> Bbox {
        if self.crosses_antimeridian() || other.crosses_antimeridian() {
            return Bbox {
                west: -180.0,
                south: self.south.min(other.south),
                east: 180.0,
                north: self.north.max(other.north),
            };
        }
        Bbox {
            west: self.west.min(other.west),
            south: self.south.min(other.south),
            east: self.east.max(other.east),
            north: self.north.max(other.north),
        }
    }

    pub fn to_vec(&self) -> [f64; 4] {
        [self.west, self.south, self.east, self.north]
    }
}

/// Visits every coordinate of a geometry (geo-types has no iterator of its own; `geo`'s would pull in the
/// algorithm crate for one loop).
pub(crate) fn for_each_coord(geometry: &Geometry<f64>, visit: &mut impl FnMut(Coord<f64>)) {
    let line = |ls: &geo_types::LineString<f64>, visit: &mut dyn FnMut(Coord<f64>)| {
        ls.0.iter().for_each(|c| visit(*c))
    };
    match geometry {
        Geometry::Point(p) => visit(p.0),
        Geometry::Line(l) => {
            visit(l.start);
            visit(l.end);
        }
        Geometry::LineString(ls) => line(ls, visit),
        Geometry::Polygon(p) => {
            line(p.exterior(), visit);
            p.interiors().iter().for_each(|r| line(r, visit));
        }
        Geometry::MultiPoint(mp) => mp.0.iter().for_each(|p| visit(p.0)),
        Geometry::MultiLineString(ml) => ml.0.iter().for_each(|ls| line(ls, visit)),
        Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| {
            line(p.exterior(), visit);
            p.interiors().iter().for_each(|r| line(r, visit));
        }),
        Geometry::GeometryCollection(gc) => {
            // A stack of its own rather than recursion: a collection nested deeper than the readers allow
            // (built by code) must not overflow the thread.
            let mut pending: Vec<&Geometry<f64>> = gc.0.iter().rev().collect();
            while let Some(member) = pending.pop() {
                match member {
                    Geometry::GeometryCollection(inner) => pending.extend(inner.0.iter().rev()),
                    simple => for_each_coord(simple, visit),
                }
            }
        }
        Geometry::Rect(r) => {
            visit(r.min());
            visit(r.max());
        }
        Geometry::Triangle(t) => t.to_array().into_iter().for_each(visit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_four_and_six_numbers() {
        assert_eq!(
            Bbox::parse("1,2,3,4").unwrap(),
            Bbox {
                west: 1.0,
                south: 2.0,
                east: 3.0,
                north: 4.0
            }
        );
        assert_eq!(
            Bbox::parse("1,2,0,3,4,10").unwrap(),
            Bbox {
                west: 1.0,
                south: 2.0,
                east: 3.0,
                north: 4.0
            }
        );
        assert!(Bbox::parse("1,2,3").is_err());
        assert!(Bbox::parse("a,b,c,d").is_err());
        assert!(Bbox::parse("0,91,1,92").is_err());
        assert!(Bbox::parse("0,10,1,5").is_err());
        assert!(Bbox::parse("NaN,0,1,1").is_err());
    }

    #[test]
    fn antimeridian_box_contains_both_sides() {
        let fiji = Bbox::parse("170,-20,-170,-10").unwrap();
        assert!(fiji.crosses_antimeridian());
        assert!(fiji.contains_point(179.5, -15.0));
        assert!(fiji.contains_point(-179.5, -15.0));
        assert!(!fiji.contains_point(0.0, -15.0));
        assert_eq!(fiji.split_at_antimeridian().len(), 2);
    }

    #[test]
    fn antimeridian_box_intersects_boxes_on_either_side() {
        let crossing = Bbox::parse("170,-20,-170,-10").unwrap();
        assert!(crossing.intersects(&Bbox::parse("-175,-15,-172,-12").unwrap()));
        assert!(crossing.intersects(&Bbox::parse("172,-15,175,-12").unwrap()));
        assert!(!crossing.intersects(&Bbox::parse("0,-15,10,-12").unwrap()));
        let other_crossing = Bbox::parse("175,-30,-175,-25").unwrap();
        assert!(!crossing.intersects(&other_crossing));
        assert!(crossing.intersects(&Bbox::parse("175,-18,-175,-12").unwrap()));
    }

    // Regression: the extent of a collection was found by recursion, one frame per level of nesting.
    #[test]
    fn the_extent_of_a_deeply_nested_collection_is_found_without_recursion() {
        let mut g: Geometry<f64> = geo_types::Point::new(3.0, 4.0).into();
        for _ in 0..5_000 {
            g = Geometry::GeometryCollection(geo_types::GeometryCollection(vec![g]));
        }
        let extent = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let extent = Bbox::of_geometry(&g);
                // Dropping recurses too; not on this small stack.
                std::mem::forget(g);
                extent
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(extent.map(|b| b.to_vec()), Some([3.0, 4.0, 3.0, 4.0]));
    }
}
