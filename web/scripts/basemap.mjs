// Builds the offline basemap's reference layers into dist/basemap (GeoJSON, embedded into the binary, which
// cuts them into vector tiles) and copies the label font into dist/fonts.
//
// Land, coastlines and country borders come from world-atlas (Natural Earth 1:50m as TopoJSON). world-atlas
// is stitched for spherical rendering: rings cross the antimeridian and Antarctica circles the pole. A flat
// map needs them cut, so every feature goes through d3-geo's antimeridian clipping with an identity
// (degrees-in, degrees-out) equirectangular projection. City labels come from Natural Earth's populated
// places, the same file the demo scenario uses.
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feature, mesh } from 'topojson-client';
import { geoEquirectangular } from 'd3-geo';
import { geoProject } from 'd3-geo-projection';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = join(here, '..', 'dist');
const atlas = (name) => JSON.parse(readFileSync(require.resolve(`world-atlas/${name}`), 'utf8'));

// Degrees in, degrees out (y flipped back), with d3's cutting at ±180°.
const flat = geoEquirectangular().scale(180 / Math.PI).translate([0, 0]).precision(0);
const project = (object) => {
  const projected = geoProject(object, flat);
  const flip = (c) => (typeof c[0] === 'number' ? [round(c[0]), round(-c[1])] : c.map(flip));
  const fix = (g) => g && (g.type === 'GeometryCollection'
    ? { ...g, geometries: g.geometries.map(fix) }
    : { ...g, coordinates: flip(g.coordinates) });
  if (projected.type === 'FeatureCollection') {
    return { ...projected, features: projected.features.filter((f) => f.geometry).map((f) => ({ ...f, geometry: fix(f.geometry) })) };
  }
  return fix(projected);
};
const round = (v) => Math.round(v * 1e4) / 1e4;
const collection = (geometry, properties = {}) => ({
  type: 'FeatureCollection',
  features: geometry ? [{ type: 'Feature', properties, geometry }] : [],
});

const land50 = atlas('land-50m.json');
const countries50 = atlas('countries-50m.json');
const layers = {
  land: project(feature(land50, land50.objects.land)),
  coastline: collection(project(mesh(land50, land50.objects.land))),
  borders: collection(project(mesh(countries50, countries50.objects.countries, (a, b) => a !== b))),
};
if (layers.land.type !== 'FeatureCollection') layers.land = collection(layers.land);

const places = JSON.parse(readFileSync(join(here, '..', '..', 'fixtures', 'demo', 'ne_110m_populated_places.geojson'), 'utf8'));
layers.cities = {
  type: 'FeatureCollection',
  features: places.features
    .map((f) => {
      const p = f.properties;
      return {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: f.geometry.coordinates.map(round) },
        properties: {
          name: p.NAME_EN ?? p.NAME,
          population: p.POP_MAX,
          capital: p.FEATURECLA?.startsWith('Admin-0 capital') ?? false,
          // Natural Earth's own label zoom, a level and a half earlier: its scale assumes 256-pixel tiles,
          // and collision detection thins the labels that still crowd.
          min_zoom: Math.max(0, Math.floor((p.min_zoom ?? p.MIN_ZOOM ?? 5) - 1.5)),
        },
      };
    })
    // Bigger places first: the tiler keeps source order and MapLibre places earlier labels first.
    .sort((a, b) => b.properties.population - a.properties.population),
};

mkdirSync(join(out, 'basemap'), { recursive: true });
for (const [name, data] of Object.entries(layers)) {
  writeFileSync(join(out, 'basemap', `${name}.geojson`), JSON.stringify(data));
}
mkdirSync(join(out, 'fonts'), { recursive: true });
copyFileSync(require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'), join(out, 'fonts', 'DejaVuSans.ttf'));
console.log(`basemap: ${Object.entries(layers).map(([n, d]) => `${n} ${d.features.length}`).join(', ')}`);
