-- geoconsole on PostGIS, schema version 2: a feature may have no location (GeoJSON `"geometry": null`, a
-- shapefile null shape, a KML placemark with only a description), kept as GDAL keeps it. Tables made from
-- now on declare `geom` nullable; this lets the tables of existing datasets hold such features too. A NULL
-- geometry is left out of the GiST index, ST_Extent and every spatial test, which is what an unlocated
-- feature must be. Runs with search_path set to the console's schema, inside one transaction.

DO $$
DECLARE
  dataset text;
BEGIN
  FOR dataset IN SELECT id FROM gc_datasets LOOP
    -- A catalog row whose table another tool dropped is not this migration's to mend.
    IF to_regclass(quote_ident(dataset)) IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %I ALTER COLUMN geom DROP NOT NULL', dataset);
    END IF;
  END LOOP;
END
$$;
