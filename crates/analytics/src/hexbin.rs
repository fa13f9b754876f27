//! H3 hexagon aggregation (through `h3o`): how many points fall in each cell at a resolution, with each
//! cell's outline for drawing. Cells are counted at the finest resolution asked and nothing is resampled,
//! so a count is exactly the points whose H3 cell it is.

use std::collections::HashMap;

use h3o::{CellIndex, LatLng, Resolution};
use serde::Serialize;

/// Finest resolution offered (res 10: cells of about 0.015 km²): finer cells hold one point each and a
/// density map of them says nothing a point map does not.
pub const MAX_RESOLUTION: u8 = 10;

#[derive(Debug, Clone, Serialize)]
pub struct CellCount {
    /// The H3 index as its usual hexadecimal string.
    pub cell: String,
    pub count: u64,
    /// The sum of a numeric property over the cell's features, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// The cell's outline, lon/lat, closed; longitudes continue past ±180 for cells across the
    /// antimeridian so the ring never jumps across the map.
    pub ring: Vec<[f64; 2]>,
}

pub fn resolution(r: u8) -> Result<Resolution, String> {
    if r > MAX_RESOLUTION {
        return Err(format!(
            "resolution {r} is finer than the finest offered ({MAX_RESOLUTION})"
        ));
    }
    Resolution::try_from(r).map_err(|e| e.to_string())
}

/// Counts points (lon, lat) per cell with a direct lookup each (what aggregation costs without stored
/// cells); points outside valid coordinates are skipped. Cells come sorted by index.
pub fn count_cells(points: impl IntoIterator<Item = [f64; 2]>, res: Resolution) -> Vec<CellTotal> {
    let mut counts: CellMap<u64> = CellMap::default();
    for [lon, lat] in points {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            continue;
        }
        if let Ok(ll) = LatLng::new(lat, lon) {
            *counts.entry(u64::from(ll.to_cell(res))).or_insert(0) += 1;
        }
    }
    let mut cells: Vec<CellTotal> = counts
        .into_iter()
        .filter_map(|(c, count)| {
            Some(CellTotal {
                cell: CellIndex::try_from(c).ok()?,
                count,
                sum: count as f64,
            })
        })
        .collect();
    cells.sort_unstable_by_key(|t| t.cell);
    cells
}

/// Each point's cell at [`MAX_RESOLUTION`], as raw indexes (0 for a point outside valid coordinates), in
/// parallel. Computed once per indexed dataset version: the lookup costs some hundreds of nanoseconds a point,
/// while going from a cell to its parent at any coarser resolution is a few bit operations.
pub fn finest_cells(points: &[[f64; 2]]) -> Vec<u64> {
    use rayon::prelude::*;
    let finest = Resolution::try_from(MAX_RESOLUTION).unwrap_or(Resolution::Ten);
    points
        .par_iter()
        .map(|&[lon, lat]| {
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return 0;
            }
            LatLng::new(lat, lon).map_or(0, |ll| u64::from(ll.to_cell(finest)))
        })
        .collect()
}

/// One cell's totals, before its outline is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellTotal {
    pub cell: CellIndex,
    pub count: u64,
    pub sum: f64,
}

/// Cell indexes are already well-mixed 64-bit integers: one multiply spreads them over the table, where the
/// default hasher would spend most of an aggregation's time hashing.
#[derive(Default, Clone, Copy)]
struct CellHasher(u64);

impl std::hash::Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

type CellMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<CellHasher>>;

/// Counts and sums per cell at `res` from finest cells ([`finest_cells`]) and a weight each, through the
/// cells' H3 ancestors. Cells come sorted by index.
pub fn aggregate_cells(
    cells: impl IntoIterator<Item = (u64, f64)>,
    res: Resolution,
) -> Vec<CellTotal> {
    let cells = cells.into_iter();
    // Sized for many distinct cells up front: growing a table of a million entries rehashes it each time.
    let mut totals: CellMap<(u64, f64)> =
        CellMap::with_capacity_and_hasher(cells.size_hint().0 / 8, Default::default());
    let target = u8::from(res);
    for (raw, weight) in cells {
        // Cells come from `finest_cells`, which only makes valid ones (0 marks none), so the ancestor is
        // taken on the bits; the output is validated by h3o below, once per distinct cell.
        if raw == 0 || cell_resolution(raw) < target {
            continue;
        }
        let t = totals.entry(ancestor(raw, target)).or_insert((0, 0.0));
        t.0 += 1;
        t.1 += weight;
    }
    let mut out: Vec<CellTotal> = totals
        .into_iter()
        .filter_map(|(raw, (count, sum))| {
            Some(CellTotal {
                cell: CellIndex::try_from(raw).ok()?,
                count,
                sum,
            })
        })
        .collect();
    out.sort_unstable_by_key(|t| t.cell);
    out
}

/// The resolution field of an H3 cell index (bits 52–55, H3 specification "H3Index representation").
fn cell_resolution(raw: u64) -> u8 {
    ((raw >> 52) & 0xF) as u8
}

/// The index of a cell's ancestor at resolution `res` (≤ the cell's own): the resolution field set to `res`
/// and every digit finer than `res` set to 7 ("unused"), as the H3 specification defines a parent.
fn ancestor(raw: u64, res: u8) -> u64 {
    let unused_digits = 15 - u32::from(res);
    let digits_mask = if unused_digits == 0 {
        0
    } else {
        (1u64 << (3 * unused_digits)) - 1
    };
    (raw & !(0xF << 52) & !digits_mask) | (u64::from(res) << 52) | digits_mask
}

/// Totals with their outlines, for drawing; `summed` keeps the sums.
pub fn outlines(totals: &[CellTotal], summed: bool) -> Vec<CellCount> {
    totals
        .iter()
        .map(|t| CellCount {
            cell: t.cell.to_string(),
            count: t.count,
            sum: summed.then_some(t.sum),
            ring: ring(t.cell),
        })
        .collect()
}

fn ring(cell: CellIndex) -> Vec<[f64; 2]> {
    let boundary = cell.boundary();
    let mut out: Vec<[f64; 2]> = Vec::with_capacity(boundary.len() + 3);
    for ll in boundary.iter() {
        let mut lon = ll.lng();
        if let Some(previous) = out.last() {
            // Each edge is short: a jump of more than half the world is the antimeridian, not the edge.
            while lon - previous[0] > 180.0 {
                lon -= 360.0;
            }
            while previous[0] - lon > 180.0 {
                lon += 360.0;
            }
        }
        out.push([lon, ll.lat()]);
    }
    let (Some(first), Some(last)) = (out.first().copied(), out.last().copied()) else {
        return out;
    };
    if (last[0] - first[0]).abs() > 180.0 {
        // The cell holds a pole: its edges circle the whole world. On a flat map it becomes the band from
        // its boundary to the pole.
        let pole = if first[1] > 0.0 { 90.0 } else { -90.0 };
        let around = first[0] + 360.0 * (last[0] - first[0]).signum();
        out.push([around, first[1]]);
        out.push([around, pole]);
        out.push([first[0], pole]);
    }
    out.push(first);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_point_in_its_own_h3_cell() {
        let points = [
            [2.35, 48.86],
            [2.3501, 48.8601],
            [13.4, 52.52],
            [200.0, 0.0],
        ];
        let res = resolution(7).expect("res");
        let cells = outlines(&count_cells(points, res), false);
        assert_eq!(
            cells.iter().map(|c| c.count).sum::<u64>(),
            3,
            "the invalid point is skipped"
        );
        for p in &points[..3] {
            let own = LatLng::new(p[1], p[0])
                .expect("ll")
                .to_cell(res)
                .to_string();
            let c = cells
                .iter()
                .find(|c| c.cell == own)
                .expect("its cell is counted");
            assert!(c.count >= 1);
        }
        assert_eq!(
            cells.iter().find(|c| c.count == 2).map(|c| c.ring.len()),
            Some(7)
        );
        assert!(resolution(11).is_err());
    }

    #[test]
    fn counts_follow_the_h3_hierarchy_from_each_points_finest_cell() {
        // A deterministic scatter over the globe, poles and antimeridian included.
        let mut points: Vec<[f64; 2]> = (0..5000)
            .map(|i| {
                let t = f64::from(i);
                [((t * 137.508) % 360.0) - 180.0, ((t * 0.0359).sin()) * 90.0]
            })
            .collect();
        points.extend([[180.0, 0.0], [-180.0, 89.99], [0.0, -90.0], [250.0, 0.0]]);
        let finest = finest_cells(&points);
        assert_eq!(
            finest.iter().filter(|c| **c == 0).count(),
            1,
            "only the invalid point"
        );
        for r in 0..=MAX_RESOLUTION {
            let res = resolution(r).expect("res");
            // Independently: each point's own res-10 cell, its ancestor at r, counted.
            let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
            let mut moved = 0;
            for [lon, lat] in &points {
                let Ok(ll) = LatLng::new(*lat, *lon) else {
                    continue;
                };
                if !(-180.0..=180.0).contains(lon) {
                    continue;
                }
                let ancestor = ll.to_cell(Resolution::Ten).parent(res).expect("coarser");
                moved += usize::from(ancestor != ll.to_cell(res));
                *expected.entry(ancestor.to_string()).or_default() += 1;
            }
            let weighted = outlines(
                &aggregate_cells(finest.iter().map(|c| (*c, 2.0)), res),
                true,
            );
            let got: std::collections::BTreeMap<String, u64> =
                weighted.iter().map(|c| (c.cell.clone(), c.count)).collect();
            assert_eq!(got, expected, "resolution {r}");
            assert!(weighted.iter().all(|c| c.sum == Some(2.0 * c.count as f64)));
            // H3 children only approximately tile their parent: a few points near edges count in a
            // neighbour of the cell a direct lookup gives. Few is the contract.
            assert!(
                moved * 100 <= points.len() * 12,
                "resolution {r}: {moved} moved"
            );
        }
    }

    #[test]
    fn ancestors_on_the_bits_are_h3o_parents() {
        let points: Vec<[f64; 2]> = (0..2000)
            .map(|i| {
                let t = f64::from(i);
                [((t * 97.31) % 360.0) - 180.0, ((t * 0.71).cos()) * 89.0]
            })
            .collect();
        for raw in finest_cells(&points) {
            let cell = CellIndex::try_from(raw).expect("valid");
            for r in 0..=MAX_RESOLUTION {
                let res = resolution(r).expect("res");
                assert_eq!(
                    ancestor(raw, r),
                    u64::from(cell.parent(res).expect("coarser")),
                    "{cell} at {r}"
                );
            }
        }
    }

    #[test]
    fn rings_across_the_antimeridian_stay_whole() {
        let res = resolution(2).expect("res");
        for lat in [-60.0, 0.0, 45.0, 89.9] {
            let cells = outlines(&count_cells([[179.99, lat], [-179.99, lat]], res), false);
            for c in cells {
                assert_eq!(c.ring.first(), c.ring.last());
                let polar = c.ring.iter().any(|p| p[1].abs() == 90.0);
                let lons: Vec<f64> = c.ring.iter().map(|p| p[0]).collect();
                let span = lons.iter().cloned().fold(f64::MIN, f64::max)
                    - lons.iter().cloned().fold(f64::MAX, f64::min);
                if polar {
                    assert!(lat > 89.0, "only the polar cell reaches the pole");
                    assert!(
                        (span - 360.0).abs() < 1e-6,
                        "a polar cell spans the world: {span}"
                    );
                } else {
                    assert!(span < 180.0, "cell {} at {lat} spans {span}°", c.cell);
                }
            }
        }
    }
}
