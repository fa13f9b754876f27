//! Coordinate reference systems of incoming files. The console stores WGS84 longitude/latitude only, so a
//! reader that learns its file's CRS (a shapefile's .prj, a GeoPackage's srs, GeoParquet's PROJJSON) turns it
//! into a [`Crs`] and sends every geometry through [`Crs::to_wgs84`]. Transformations run in proj4rs (pure
//! Rust, no PROJ install); a CRS it cannot express is refused with the reason, never guessed.

use std::fmt;

use geo::MapCoords;
use geoconsole_model::geo_types::{Coord, Geometry};
use proj4rs::Proj;
use proj4rs::adaptors::transform_xy;

/// Where a file's coordinates live, and how to bring them to WGS84.
#[derive(Clone)]
pub struct Crs {
    /// How users name it in messages: `EPSG:32633`, or the WKT's own name.
    label: String,
    /// `None` for WGS84 longitude/latitude (and its equivalents), which need no work.
    transform: Option<Box<(Proj, Proj)>>,
    /// Which datum transformation stands in for one this build cannot run (NAD27's grids), for the read's
    /// warnings: the positions are then only as good as that transformation.
    note: Option<&'static str>,
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// EPSG codes of geographic CRSs whose axes and datum are WGS84 longitude/latitude for the console's purpose
/// (files store them x = longitude whatever the EPSG axis order says; GDAL writes them so). Besides 4326 and
/// its 3D twin these are the realisations of WGS 84 (G730 to G2139, Transit), which crs-definitions lacks and
/// PROJ relates to 4326 by a null transformation (the ensemble's own 2 m accuracy).
const WGS84_CODES: [u32; 16] = [
    4326, 4979, 7657, 7659, 7661, 7663, 7665, 7816, 8888, 9053, 9054, 9055, 9056, 9057, 9754, 9755,
];

/// A datum crs-definitions defines by grids alone (`+datum=NAD27` is `+nadgrids=@conus,@alaska,…`), which
/// this build does not ship, so proj4rs refused every CRS on it; and the Helmert shift PROJ uses instead.
struct GridlessDatum {
    /// The PROJ token that names it.
    token: &'static str,
    /// Its ellipsoid and shift, as PROJ's transformation without grids has them.
    replacement: &'static str,
    /// Its names in WKT (GEOGCS or DATUM, compared [`normalised`]), for .prj files that give no shift.
    names: &'static [&'static str],
    note: &'static str,
}

/// Without NADCON grids, PROJ 9 (GDAL 3.6: `projinfo -s EPSG:4267 -t EPSG:4326 --spatial-test intersects`)
/// takes for a position in the conterminous US the best-accuracy Helmert whose area holds it, EPSG:1173
/// "NAD27 to WGS 84 (4)": ogr2ogr's positions for Boston and North Carolina are this shift's to 1e-9°.
/// Elsewhere (Canada, Alaska, Mexico, the Caribbean) PROJ has regional shifts that differ from it by tens of
/// metres; one shift for the whole file is what proj4rs can do, and the warning says so.
const GRIDLESS_DATUMS: &[GridlessDatum] = &[GridlessDatum {
    token: "+datum=NAD27",
    replacement: "+ellps=clrk66 +towgs84=-8,160,176",
    names: &[
        "NAD27",
        "NORTHAMERICAN1927",
        "GCSNORTHAMERICAN1927",
        "DNORTHAMERICAN1927",
        "NORTHAMERICANDATUM1927",
    ],
    note: "NAD27 positions were brought to WGS84 with EPSG:1173 \"NAD27 to WGS 84 (4)\" (dx=-8 m, \
           dy=160 m, dz=176 m), the transformation GDAL/PROJ use in the conterminous US when the NADCON \
           grids are not installed; it is accurate to about 10 m there, and outside the conterminous US \
           GDAL would use a regional shift that may differ by tens of metres",
}];

/// A PROJ string with a grid-only datum replaced by its Helmert shift, and the note saying so.
fn without_grids(proj: &str) -> (String, Option<&'static str>) {
    for datum in GRIDLESS_DATUMS {
        if proj.split_whitespace().any(|t| t == datum.token) {
            let replaced = proj
                .split_whitespace()
                .map(|t| {
                    if t == datum.token {
                        datum.replacement
                    } else {
                        t
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            return (replaced, Some(datum.note));
        }
    }
    (proj.to_string(), None)
}

impl Crs {
    pub fn wgs84() -> Self {
        Self {
            label: "EPSG:4326".into(),
            transform: None,
            note: None,
        }
    }

    pub fn is_wgs84(&self) -> bool {
        self.transform.is_none()
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// What a read should warn about this CRS: the stand-in datum transformation it uses, if any.
    pub fn note(&self) -> Option<&'static str> {
        self.note
    }

    /// A CRS by EPSG code.
    pub fn from_epsg(code: u32) -> Result<Self, String> {
        if WGS84_CODES.contains(&code) {
            return Ok(Self::wgs84());
        }
        let label = format!("EPSG:{code}");
        let (proj, note) = u16::try_from(code)
            .ok()
            .and_then(crs_definitions::from_code)
            .and_then(|def| {
                let (proj_string, note) = without_grids(def.proj4);
                Proj::from_proj_string(&proj_string)
                    .ok()
                    .map(|proj| (proj, note))
            })
            .ok_or_else(|| {
                format!(
                    "coordinate reference system {label} is not one this build can transform \
                     (unknown EPSG code); reproject the file to EPSG:4326 first, for example with \
                     `ogr2ogr -t_srs EPSG:4326`"
                )
            })?;
        Self::projected(label, proj, note)
    }

    /// A CRS as users type it: `EPSG:3857`, `CRS84`, `WGS84`, a PROJ string (`+proj=utm +zone=33`) or WKT.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let upper = text.to_ascii_uppercase();
        if upper == "WGS84" || upper.ends_with("CRS84") {
            return Ok(Self::wgs84());
        }
        if let Some(code) = epsg_code_of(&upper) {
            return Self::from_epsg(code);
        }
        if text.starts_with('+') {
            let (proj_string, note) = without_grids(text);
            let proj = Proj::from_proj_string(&proj_string)
                .map_err(|e| format!("PROJ string '{text}' cannot be used: {e}"))?;
            return Self::projected(text.to_string(), proj, note);
        }
        Self::from_wkt(text)
    }

    /// A CRS from WKT (a shapefile's .prj, a GeoPackage srs definition). An EPSG authority on the whole CRS
    /// wins, since its definition is exact; otherwise the WKT is converted to a PROJ string.
    pub fn from_wkt(wkt: &str) -> Result<Self, String> {
        let wkt = wkt.trim().trim_start_matches('\u{feff}');
        if wkt.is_empty() {
            return Err("coordinate reference system definition is empty".into());
        }
        // proj4wkt's parser recurses once per bracket: a .prj nesting 100,000 of them would overflow the
        // reader's stack and abort the process, so the depth is measured first.
        let depth = bracket_depth(wkt);
        if depth > MAX_CRS_WKT_DEPTH {
            return Err(format!(
                "coordinate reference system definition nests brackets {depth} deep; at most {MAX_CRS_WKT_DEPTH} are accepted"
            ));
        }
        if let Some(crs) = outer_epsg_authority(wkt).and_then(|code| Self::from_epsg(code).ok()) {
            return Ok(crs);
        }
        let name = wkt_name(wkt).unwrap_or_else(|| wkt.chars().take(60).collect());
        if is_wgs84_geographic(wkt) {
            return Ok(Self::wgs84());
        }
        let proj_string = proj4wkt::wkt_to_projstring(wkt).map_err(|e| {
            format!(
                "coordinate reference system '{name}' cannot be read ({e}); reproject the file to \
                 EPSG:4326 first, for example with `ogr2ogr -t_srs EPSG:4326`"
            )
        })?;
        let (proj_string, mut note) = without_grids(&proj_string);
        let proj_string = match datum_shift(wkt, &proj_string) {
            Some(Shift::Helmert(shift)) => format!("{proj_string} +towgs84={shift}"),
            Some(Shift::Gridless(datum)) => {
                note = Some(datum.note);
                // the ellipsoid stays the WKT's own (+a/+rf); only the shift is added
                let shift = datum
                    .replacement
                    .split_whitespace()
                    .find(|t| t.starts_with("+towgs84="))
                    .unwrap_or_default();
                format!("{proj_string} {shift}")
            }
            None => proj_string,
        };
        let proj = Proj::from_proj_string(&proj_string).map_err(|e| {
            format!(
                "coordinate reference system '{name}' ({proj_string}) is not one this build can \
                 transform: {e}; reproject the file to EPSG:4326 first"
            )
        })?;
        Self::projected(name, proj, note)
    }

    fn projected(label: String, source: Proj, note: Option<&'static str>) -> Result<Self, String> {
        let target = Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs")
            .map_err(|e| format!("cannot set up WGS84: {e}"))?;
        Ok(Self {
            label,
            transform: Some(Box::new((source, target))),
            note,
        })
    }

    /// Brings a geometry to WGS84 longitude/latitude in degrees.
    pub fn to_wgs84(&self, geometry: Geometry<f64>) -> Result<Geometry<f64>, String> {
        if self.transform.is_none() {
            return Ok(geometry);
        }
        geometry.try_map_coords(|c: Coord<f64>| self.coord_to_wgs84(c))
    }

    /// Brings one position to WGS84 longitude/latitude in degrees.
    pub fn coord_to_wgs84(&self, c: Coord<f64>) -> Result<Coord<f64>, String> {
        let Some(pair) = &self.transform else {
            return Ok(c);
        };
        let (source, target) = (&pair.0, &pair.1);
        let (x, y) = if source.is_latlong() {
            (c.x.to_radians(), c.y.to_radians())
        } else {
            (c.x, c.y)
        };
        let (lon, lat) = transform_xy(source, target, x, y).map_err(|e| {
            format!(
                "position ({}, {}) cannot be transformed from {} to WGS84: {e}",
                c.x, c.y, self.label
            )
        })?;
        Ok(Coord {
            x: lon.to_degrees(),
            y: lat.to_degrees(),
        })
    }
}

/// Brackets a CRS WKT may nest. The deepest real ones (WKT2 `BOUNDCRS[SOURCECRS[PROJCRS[BASEGEOGCRS[DATUM[
/// ELLIPSOID[LENGTHUNIT[ID[…]]]]]]]]`) nest eight.
const MAX_CRS_WKT_DEPTH: usize = 16;

/// The deepest nesting of `[` and `(` outside double-quoted strings, found without recursion.
fn bracket_depth(wkt: &str) -> usize {
    let (mut depth, mut deepest, mut quoted) = (0usize, 0usize, false);
    for byte in wkt.bytes() {
        match byte {
            // A doubled quote inside a string closes and reopens it, which leaves `quoted` as it was.
            b'"' => quoted = !quoted,
            b'[' | b'(' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `EPSG:4326`, `urn:ogc:def:crs:EPSG::4326`, `http://www.opengis.net/def/crs/EPSG/0/4326`.
fn epsg_code_of(upper: &str) -> Option<u32> {
    let rest = upper
        .strip_prefix("EPSG:")
        .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
        .or_else(|| {
            upper
                .strip_prefix("HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/")
                .and_then(|r| r.split_once('/').map(|(_, code)| code))
        })?;
    rest.trim().parse().ok()
}

/// The EPSG code of the CRS as a whole: the AUTHORITY (WKT1) or ID (WKT2) that closes the outermost node,
/// not one of a datum or unit inside it.
fn outer_epsg_authority(wkt: &str) -> Option<u32> {
    let body = wkt.trim_end();
    let body = body.strip_suffix(']')?;
    let mut depth = 0i32;
    let mut last_top_child = None;
    for (i, ch) in body.char_indices() {
        match ch {
            '[' | '(' => {
                depth += 1;
            }
            ']' | ')' => depth -= 1,
            ',' if depth == 1 => last_top_child = Some(i + 1),
            _ => {}
        }
    }
    let child = body[last_top_child?..].trim();
    let upper = child.to_ascii_uppercase();
    if !(upper.starts_with("AUTHORITY[") || upper.starts_with("ID[")) {
        return None;
    }
    let inner = &child[child.find('[')? + 1..child.rfind(']')?];
    let mut parts = inner.split(',').map(|p| p.trim().trim_matches('"'));
    let authority = parts.next()?;
    let code = parts.next()?;
    authority
        .eq_ignore_ascii_case("EPSG")
        .then(|| code.parse().ok())
        .flatten()
}

/// The quoted name right after the outer keyword: `PROJCS["WGS 84 / UTM zone 33N", ...`.
fn wkt_name(wkt: &str) -> Option<String> {
    let start = wkt.find('"')? + 1;
    let end = start + wkt[start..].find('"')?;
    Some(wkt[start..end].to_string())
}

/// The shift to WGS84 (`TOWGS84` parameters) of the datum of a WKT that names its geographic CRS but gives no
/// shift, as ESRI's .prj files do (`GEOGCS["GCS_MGI",DATUM["D_MGI",...]]`): without it the datum was taken as
/// WGS84 and MGI / Austria Lambert landed 68 m from where GDAL puts it. The shift is the one the EPSG
/// geographic CRS of the same name carries in crs-definitions (for MGI, EPSG:4312's seven parameters, the
/// transformation GDAL picks too). `None` when the WKT or its PROJ string already says, or no geographic
/// CRS has that name. A datum crs-definitions gives only grids for (NAD27, which ESRI .prj files name
/// `GCS_North_American_1927`) gets the shift PROJ uses without them.
fn datum_shift(wkt: &str, proj_string: &str) -> Option<Shift> {
    let upper = wkt.to_ascii_uppercase();
    if upper.contains("TOWGS84")
        || proj_string.contains("+towgs84")
        || proj_string.contains("+datum=")
    {
        return None;
    }
    let at = upper.find("GEOGCS[")? + "GEOGCS[".len();
    let name = wkt_name(&wkt[at..])?;
    let wanted = normalised(name.strip_prefix("GCS_").unwrap_or(&name));
    if wanted.is_empty() || wanted.contains("WGS84") {
        return None;
    }
    let datum_name = upper
        .find("DATUM[")
        .and_then(|at| wkt_name(&wkt[at..]))
        .map(|n| normalised(&n));
    if let Some(datum) = GRIDLESS_DATUMS.iter().find(|d| {
        d.names
            .iter()
            .any(|n| *n == wanted || datum_name.as_deref() == Some(*n))
    }) {
        return Some(Shift::Gridless(datum));
    }
    // EPSG's geographic 2D CRSs are numbered 4001-4999; a linear scan of them costs well under a millisecond
    // once per file
    (4001u16..=4999)
        .filter_map(crs_definitions::from_code)
        .filter(|def| def.proj4.starts_with("+proj=longlat"))
        .find(|def| wkt_name(def.wkt).is_some_and(|n| normalised(&n) == wanted))
        .and_then(|def| {
            let start = def.wkt.find("TOWGS84[")? + "TOWGS84[".len();
            let end = start + def.wkt[start..].find(']')?;
            let shift = &def.wkt[start..end];
            // all zeros is WGS84 itself
            shift
                .split(',')
                .any(|v| v.trim().parse::<f64>().is_ok_and(|v| v != 0.0))
                .then(|| Shift::Helmert(shift.replace(' ', "")))
        })
}

enum Shift {
    /// `TOWGS84` parameters, comma-separated.
    Helmert(String),
    Gridless(&'static GridlessDatum),
}

/// A CRS or datum name compared without case, spaces or underscores (`GCS_MGI` / `MGI`).
fn normalised(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A plain geographic WGS84 WKT without an authority (ESRI's `GCS_WGS_1984` .prj files).
fn is_wgs84_geographic(wkt: &str) -> bool {
    let upper = wkt.to_ascii_uppercase();
    (upper.starts_with("GEOGCS[") || upper.starts_with("GEOGCRS["))
        && (upper.contains("WGS_1984") || upper.contains("WGS 84") || upper.contains("WGS84"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geoconsole_model::geo_types::{Point, point};

    #[test]
    fn an_esri_prj_naming_mgi_gets_the_datum_shift_gdal_applies() {
        // pyshp's REL.zip .prj: ESRI WKT, no TOWGS84, no authority
        let prj = r#"PROJCS["MGI_Austria_Lambert",GEOGCS["GCS_MGI",DATUM["D_MGI",SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",400000.0],PARAMETER["False_Northing",400000.0],PARAMETER["Central_Meridian",13.33333333333333],PARAMETER["Standard_Parallel_1",46.0],PARAMETER["Standard_Parallel_2",49.0],PARAMETER["Latitude_Of_Origin",47.5],UNIT["Meter",1.0]]"#;
        let crs = Crs::from_wkt(prj).unwrap();
        // GDAL 3.6 (gdaltransform -s_srs EPSG:31287 -t_srs EPSG:4326): 13.3325941282416 47.4994821366219
        let (lon, lat) = moved(&crs, 400_000.0, 400_000.0);
        assert!((lon - 13.332_594_128_241_6).abs() < 1e-9, "{lon}");
        assert!((lat - 47.499_482_136_621_9).abs() < 1e-9, "{lat}");
        // a datum no geographic CRS is named after keeps the WKT as it is
        assert!(datum_shift(&prj.replace("GCS_MGI", "GCS_Nowhere"), "+proj=lcc").is_none());
        assert!(datum_shift(&prj.replace("GCS_MGI", "GCS_WGS_1984"), "+proj=lcc").is_none());
    }

    /// ogr2ogr -t_srs EPSG:4326 (GDAL 3.6, PROJ 9.1, no NADCON grids) of the first vertex of r-cran-spdata's
    /// boston_tracts.shp (ESRI .prj `GCS_North_American_1927`) and of GDAL's nc.gpkg (EPSG:4267). PROJ picks
    /// a Helmert there, which proj4rs runs the same way: agreement is to 1e-9° (0.1 mm), not just to the
    /// transformation's own 10 m.
    const NAD27_VS_OGR2OGR: [((f64, f64), (f64, f64)); 2] = [
        (
            (-71.12380219, 42.3689003),
            (-71.123_265_658_759_7, 42.368_872_976_152_1),
        ),
        (
            (-81.472_755_432_128_9, 36.234_355_926_513_7),
            (-81.472_579_525_884_7, 36.234_442_085_901),
        ),
    ];

    #[test]
    fn nad27_gets_the_helmert_gdal_uses_without_grids_by_code_and_by_esri_prj() {
        let esri = r#"GEOGCS["GCS_North_American_1927",DATUM["D_North_American_1927",SPHEROID["Clarke_1866",6378206.4,294.9786982]],PRIMEM["Greenwich",0],UNIT["Degree",0.017453292519943295]]"#;
        let ogc = r#"GEOGCS["NAD27",DATUM["North_American_Datum_1927",SPHEROID["Clarke 1866",6378206.4,294.978698213898]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#;
        for crs in [
            Crs::parse("EPSG:4267").unwrap(),
            Crs::from_epsg(4267).unwrap(),
            Crs::from_wkt(esri).unwrap(),
            Crs::from_wkt(ogc).unwrap(),
            Crs::parse("+proj=longlat +datum=NAD27 +no_defs").unwrap(),
        ] {
            assert!(crs.note().is_some_and(|n| n.contains("EPSG:1173")), "{crs}");
            for ((x, y), (lon, lat)) in NAD27_VS_OGR2OGR {
                let got = moved(&crs, x, y);
                assert!(
                    (got.0 - lon).abs() < 1e-9 && (got.1 - lat).abs() < 1e-9,
                    "{crs}: {got:?} vs {lon} {lat}"
                );
            }
        }
        // projected NAD27 (UTM 19N) takes the same shift: gdaltransform -s_srs EPSG:26719 -t_srs EPSG:4326
        let utm = Crs::from_epsg(26719).unwrap();
        assert!(utm.note().is_some());
        let (lon, lat) = moved(&utm, 327_000.0, 4_692_000.0);
        assert!(
            (lon + 71.100_268_924_109_1).abs() < 1e-8 && (lat - 42.362_932_095_252).abs() < 1e-8,
            "{lon} {lat}"
        );
        // NAD27 relatives that are other datums are not taken for it
        assert!(datum_shift(&esri.replace("1927", "1927_1976"), "+proj=longlat").is_none());
    }

    #[test]
    fn nad83_and_wgs84_realisations_are_known() {
        let nad83 = Crs::from_epsg(4269).unwrap();
        assert!(nad83.note().is_none());
        // PROJ: EPSG:1188 "NAD83 to WGS 84 (1)", a null transformation
        let (lon, lat) = moved(&nad83, -79.0, 35.5);
        assert!((lon + 79.0).abs() < 1e-9 && (lat - 35.5).abs() < 1e-9);
        for code in [9057, 9755, 7665] {
            assert!(Crs::from_epsg(code).unwrap().is_wgs84(), "{code}");
        }
    }

    fn moved(crs: &Crs, x: f64, y: f64) -> (f64, f64) {
        match crs.to_wgs84(Geometry::Point(point!(x: x, y: y))).unwrap() {
            Geometry::Point(Point(c)) => (c.x, c.y),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wgs84_in_its_many_spellings_needs_no_work() {
        for text in [
            "EPSG:4326",
            "urn:ogc:def:crs:EPSG::4326",
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "WGS84",
            r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
        ] {
            assert!(Crs::parse(text).unwrap().is_wgs84(), "{text}");
        }
    }

    #[test]
    fn projected_coordinates_come_back_as_degrees() {
        let web = Crs::parse("EPSG:3857").unwrap();
        let (lon, lat) = moved(&web, 1_113_194.9, 1_118_889.97);
        assert!(
            (lon - 10.0).abs() < 1e-6 && (lat - 10.0).abs() < 1e-6,
            "{lon} {lat}"
        );
        let utm = Crs::from_wkt(
            r#"PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]],PROJECTION["Transverse_Mercator"],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],UNIT["metre",1],AUTHORITY["EPSG","32633"]]"#,
        )
        .unwrap();
        assert_eq!(utm.label(), "EPSG:32633");
        let (lon, lat) = moved(&utm, 500_000.0, 5_000_000.0);
        assert!(
            (lon - 15.0).abs() < 1e-6 && (lat - 45.1).abs() < 0.1,
            "{lon} {lat}"
        );
    }

    #[test]
    fn unknown_systems_are_refused_with_the_way_out() {
        let e = Crs::parse("EPSG:999999").unwrap_err();
        assert!(e.contains("EPSG:999999") && e.contains("ogr2ogr"), "{e}");
        assert!(Crs::from_wkt("LOCAL_CS[\"my grid\"]").is_err());
        // Regression: proj4wkt recursed once per bracket, so a deep .prj overflowed the stack.
        let deep = format!(
            "PROJCS[\"x\",{}1{}]",
            "A[".repeat(100_000),
            "]".repeat(100_000)
        );
        let err = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || Crs::from_wkt(&deep).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(err.contains("nests brackets 100001 deep"), "{err}");
        assert!(Crs::from_wkt("").is_err());
    }
}
