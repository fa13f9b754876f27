// What a click on the map shows: each feature's dataset, id, time and properties, as text only. Attribute
// values come from anyone's data, so they are put into the page with textContent and never as HTML.

import { formatInstant } from './time';

export interface InspectedFeature {
  layer: string;
  title: string;
  properties: Record<string, unknown>;
}

/** Hidden from the property list: the tile's own bookkeeping. */
const INTERNAL = new Set(['time_start', 'time_end', 'cluster', 'point_count']);

/** The rows a popup lists for one feature: [name, value as text]. Time comes first when there is one. */
export function propertyRows(properties: Record<string, unknown>): [string, string][] {
  const rows: [string, string][] = [];
  const start = properties.time_start;
  const end = properties.time_end;
  if (typeof start === 'number') {
    const when = typeof end === 'number' && end !== start
      ? `${formatInstant(start)} – ${formatInstant(end)} UTC`
      : `${formatInstant(start)} UTC`;
    rows.push(['time', when]);
  }
  for (const [name, value] of Object.entries(properties)) {
    if (INTERNAL.has(name) || value === null || value === undefined) continue;
    rows.push([name, displayValue(value)]);
  }
  return rows;
}

export function displayValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? value.toLocaleString('en') : Number(value.toPrecision(6)).toString();
  }
  if (typeof value === 'string') return value.length > 300 ? `${value.slice(0, 300)}…` : value;
  return JSON.stringify(value);
}

/** The popup's content, built from text nodes. */
export function popupContent(features: InspectedFeature[], more: number): HTMLElement {
  const root = document.createElement('div');
  root.className = 'inspect';
  for (const f of features) {
    const section = document.createElement('section');
    const heading = document.createElement('h3');
    heading.textContent = f.title;
    section.append(heading);
    const table = document.createElement('table');
    for (const [name, value] of propertyRows(f.properties)) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = name;
      const td = document.createElement('td');
      td.textContent = value;
      tr.append(th, td);
      table.append(tr);
    }
    section.append(table);
    root.append(section);
  }
  if (more > 0) {
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = `and ${more} more here; zoom in to separate them`;
    root.append(note);
  }
  return root;
}
