// Site icons drawn on a canvas when the map first asks for one (`styleimagemissing`), so any site type
// gets a distinct, offline icon: the type's name picks a shape and a colour.

const SHAPES = ['square', 'triangle', 'diamond', 'circle', 'hexagon', 'star'] as const;
const COLOURS = ['#1d4ed8', '#b45309', '#047857', '#7c3aed', '#be123c', '#0e7490'];
const KNOWN: Record<string, number> = { office: 0, warehouse: 1, hub: 2, airport_hub: 2, plant: 4, factory: 4, site: 3 };

export function iconIndex(type: string): number {
  const known = KNOWN[type.toLowerCase()];
  if (known !== undefined) return known;
  let h = 0;
  for (const ch of type) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % SHAPES.length;
}

export function drawSiteIcon(type: string, size = 22): ImageData | null {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  const i = iconIndex(type);
  const c = size / 2;
  const r = size / 2 - 2;
  ctx.beginPath();
  switch (SHAPES[i]) {
    case 'square': ctx.rect(c - r * 0.8, c - r * 0.8, r * 1.6, r * 1.6); break;
    case 'triangle': ctx.moveTo(c, c - r); ctx.lineTo(c + r, c + r * 0.8); ctx.lineTo(c - r, c + r * 0.8); ctx.closePath(); break;
    case 'diamond': ctx.moveTo(c, c - r); ctx.lineTo(c + r, c); ctx.lineTo(c, c + r); ctx.lineTo(c - r, c); ctx.closePath(); break;
    case 'circle': ctx.arc(c, c, r * 0.85, 0, Math.PI * 2); break;
    case 'hexagon':
      for (let k = 0; k < 6; k++) {
        const a = (Math.PI / 3) * k;
        ctx[k === 0 ? 'moveTo' : 'lineTo'](c + r * Math.cos(a), c + r * Math.sin(a));
      }
      ctx.closePath();
      break;
    case 'star':
      for (let k = 0; k < 10; k++) {
        const a = (Math.PI / 5) * k - Math.PI / 2;
        const rr = k % 2 === 0 ? r : r * 0.45;
        ctx[k === 0 ? 'moveTo' : 'lineTo'](c + rr * Math.cos(a), c + rr * Math.sin(a));
      }
      ctx.closePath();
      break;
  }
  ctx.fillStyle = COLOURS[i];
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 2;
  ctx.fill();
  ctx.stroke();
  return ctx.getImageData(0, 0, size, size);
}
