import { describe, expect, it } from 'vitest';
import { layersIn } from './importer';

describe('layersIn', () => {
  it('lists the layers a refusal names, so the person can pick one', () => {
    expect(layersIn("plant.gpkg: GeoPackage holds several feature tables (buildings, roads); choose one with --layer NAME (`layer` in the API)"))
      .toEqual(['buildings', 'roads']);
    expect(layersIn('data.zip: archive holds several readable files (a.shp, b.kml); choose one with --layer NAME (`layer` in the API)'))
      .toEqual(['a', 'b']);
  });

  it('finds nothing in other errors', () => {
    expect(layersIn('quakes.csv: line 3: latitude 95 out of range')).toEqual([]);
  });
});
