// Small geodesy and geometry helpers for the map tools. Pure, so they are unit-tested.

export type LngLat = [number, number];

const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres (haversine on the mean Earth radius; within 0.5 % of the ellipsoid). */
export function distanceMetres(a: LngLat, b: LngLat): number {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function pathMetres(points: LngLat[]): number {
  let total = 0;
  for (let i = 1; i < points.length; i++) total += distanceMetres(points[i - 1], points[i]);
  return total;
}

export function formatDistance(m: number): string {
  if (m < 1000) return `${Math.round(m)} m`;
  if (m < 100_000) return `${(m / 1000).toFixed(2)} km`;
  return `${Math.round(m / 1000).toLocaleString('en')} km`;
}

export function boxRing(a: LngLat, b: LngLat): LngLat[] {
  const [w, e] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
  const [s, n] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
  return [[w, s], [e, s], [e, n], [w, n], [w, s]];
}

/** Closes the ring when it is open. */
export function closeRing(points: LngLat[]): LngLat[] {
  if (points.length === 0) return points;
  const [first, last] = [points[0], points[points.length - 1]];
  return first[0] === last[0] && first[1] === last[1] ? points : [...points, first];
}

const coord = (v: number) => Number(v.toFixed(6)).toString();

/** A CQL2-text filter keeping features that intersect the polygon. */
export function intersectsFilter(ring: LngLat[]): string {
  const closed = closeRing(ring);
  const text = closed.map(([x, y]) => `${coord(x)} ${coord(y)}`).join(', ');
  return `S_INTERSECTS(geometry, POLYGON((${text})))`;
}

/** Whether a point lies inside a ring (even-odd rule; planar, as drawn on the map). */
export function insideRing(p: LngLat, ring: LngLat[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The point `metres` away from `from` on a great circle at `bearing` degrees (clockwise from north). */
export function destination(from: LngLat, bearing: number, metres: number): LngLat {
  const rad = Math.PI / 180;
  const d = metres / EARTH_RADIUS_M;
  const [lon1, lat1, b] = [from[0] * rad, from[1] * rad, bearing * rad];
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b));
  const lon2 = lon1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  return [lon2 / rad, lat2 / rad];
}

/** A geodesic circle as a closed ring; longitudes continue past ±180 so the ring never jumps across the map. */
export function circleRing(centre: LngLat, metres: number, steps = 64): LngLat[] {
  const ring: LngLat[] = [];
  for (let i = 0; i <= steps; i++) {
    const p = destination(centre, (360 * i) / steps, metres);
    const previous = ring[ring.length - 1];
    if (previous) {
      while (p[0] - previous[0] > 180) p[0] -= 360;
      while (previous[0] - p[0] > 180) p[0] += 360;
    }
    ring.push(p);
  }
  ring[ring.length - 1] = ring[0];
  return ring;
}
