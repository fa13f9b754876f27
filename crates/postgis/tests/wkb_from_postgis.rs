//! What PostGIS's `ST_AsBinary` gives for geometries other tools may store in the console's tables (curves,
//! empties, Z and M, collections), read by the store's WKB decoder (`formats::wkb`), against a real server.
//! Curves must come out as PostGIS's own `ST_CurveToLine` makes them (32 chords per quarter circle).

use geo::CoordsIter;
use geoconsole_formats::wkb;
use geoconsole_model::geo_types::Geometry;

async fn client() -> tokio_postgres::Client {
    let url = geoconsole_testkit::test_postgres_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

async fn as_binary(client: &tokio_postgres::Client, sql: &str) -> Vec<u8> {
    client
        .query_one(&format!("SELECT ST_AsBinary({sql})"), &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[tokio::test]
async fn curves_read_as_postgis_linearises_them() {
    let client = client().await;
    for wkt in [
        "CIRCULARSTRING(0 0, 1 1, 2 0)",
        "CIRCULARSTRING(0 0, 4 0, 4 4, 0 4, 0 0)",
        "COMPOUNDCURVE(CIRCULARSTRING(0 0, 1 1, 1 0), (1 0, 0 1))",
        "CURVEPOLYGON(COMPOUNDCURVE(CIRCULARSTRING(0 0, 2 0, 2 1, 2 3, 4 3), (4 3, 4 5, 1 4, 0 0)))",
        "MULTICURVE((5 5, 3 5, 3 3, 0 3), CIRCULARSTRING(0 0, 0.2 1, 0.5 1.4))",
        "MULTISURFACE(CURVEPOLYGON(CIRCULARSTRING(-2 0, -1 -1, 0 0, 1 -1, 2 0, 0 2, -2 0)), ((7 8, 10 10, 6 14, 4 11, 7 8)))",
    ] {
        let curved = as_binary(&client, &format!("'{wkt}'::geometry")).await;
        let linear = as_binary(&client, &format!("ST_CurveToLine('{wkt}'::geometry)")).await;
        let ours = wkb::decode(&curved)
            .unwrap_or_else(|e| panic!("{wkt}: {e}"))
            .expect("not empty");
        let theirs = wkb::decode(&linear).expect("linear").expect("not empty");
        assert_eq!(
            ours.coords_count(),
            theirs.coords_count(),
            "{wkt}: as many vertices as ST_CurveToLine"
        );
        // Where an arc sweeps a whole number of steps the vertices are PostGIS's own; otherwise PostGIS
        // ends with a shorter chord where ours are equal, so each of our vertices lies on PostGIS's line
        // within a chord's deviation from the arc.
        let extent = geo::BoundingRect::bounding_rect(&theirs).expect("extent");
        let diagonal = extent.width().hypot(extent.height());
        for c in ours.coords_iter() {
            let p = geo::Point::from(c);
            let nearest = match geo::ClosestPoint::closest_point(&theirs, &p) {
                geo::Closest::Intersection(q) | geo::Closest::SinglePoint(q) => q,
                geo::Closest::Indeterminate => panic!("{wkt}: no closest point"),
            };
            let apart = (p.x() - nearest.x()).hypot(p.y() - nearest.y());
            assert!(apart <= 1e-3 * diagonal, "{wkt}: {c:?} is {apart} off");
        }
        let ends = |g: &Geometry<f64>| (g.coords_iter().next(), g.coords_iter().last());
        assert_eq!(ends(&ours), ends(&theirs), "{wkt}: same ends");
    }
}

#[tokio::test]
async fn empties_dimensions_and_collections_from_postgis() {
    let client = client().await;
    for empty in [
        "POINT EMPTY",
        "LINESTRING EMPTY",
        "POLYGON EMPTY",
        "MULTIPOLYGON EMPTY",
        "GEOMETRYCOLLECTION EMPTY",
        "CIRCULARSTRING EMPTY",
    ] {
        let bytes = as_binary(&client, &format!("'{empty}'::geometry")).await;
        assert_eq!(wkb::decode(&bytes), Ok(None), "{empty}");
    }
    let zm = as_binary(&client, "'POINT ZM(1 2 3 4)'::geometry").await;
    assert_eq!(
        wkb::decode(&zm),
        Ok(Some(Geometry::Point((1.0, 2.0).into())))
    );
    let ewkb: Vec<u8> = client
        .query_one(
            "SELECT ST_AsEWKB('SRID=4326;MULTILINESTRING Z((0 0 1, 1 1 2))'::geometry)",
            &[],
        )
        .await
        .expect("ewkb")
        .get(0);
    assert!(matches!(
        wkb::decode(&ewkb),
        Ok(Some(Geometry::MultiLineString(_)))
    ));
    let nested = as_binary(
        &client,
        "'GEOMETRYCOLLECTION(POINT(1 2), GEOMETRYCOLLECTION(LINESTRING(0 0, 1 1)))'::geometry",
    )
    .await;
    assert!(matches!(
        wkb::decode(&nested),
        Ok(Some(Geometry::GeometryCollection(c))) if c.0.len() == 2
    ));
}
