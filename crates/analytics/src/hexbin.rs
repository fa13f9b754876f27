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

/// Counts points (lon, lat) per cell; points outside valid coordinates are skipped. Cells come sorted by
/// index, so results are stable.
pub fn count_cells(points: impl IntoIterator<Item = [f64; 2]>, res: Resolution) -> Vec<CellCount> {
    let mut counts: HashMap<CellIndex, u64> = HashMap::new();
    for [lon, lat] in points {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            continue;
        }
        if let Ok(ll) = LatLng::new(lat, lon) {
            *counts.entry(ll.to_cell(res)).or_insert(0) += 1;
        }
    }
    let mut cells: Vec<(CellIndex, u64)> = counts.into_iter().collect();
    cells.sort_unstable_by_key(|(c, _)| *c);
    cells
        .into_iter()
        .map(|(cell, count)| CellCount {
            cell: cell.to_string(),
            count,
            ring: ring(cell),
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
        let cells = count_cells(points, res);
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
    fn rings_across_the_antimeridian_stay_whole() {
        let res = resolution(2).expect("res");
        for lat in [-60.0, 0.0, 45.0, 89.9] {
            let cells = count_cells([[179.99, lat], [-179.99, lat]], res);
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
