// Search: datasets by id or title, and sites by name; arrow keys move, Enter picks.

import type { ConsoleApp } from './main';

interface Hit {
  label: string;
  detail: string;
  pick(): void;
}

const MAX_HITS = 12;

export class Search {
  private input: HTMLInputElement;
  private results: HTMLUListElement;
  private hits: Hit[] = [];
  private selected = -1;

  constructor(private app: ConsoleApp) {
    this.input = document.getElementById('search') as HTMLInputElement;
    this.results = document.getElementById('search-results') as HTMLUListElement;
    this.input.addEventListener('input', () => this.update());
    this.input.addEventListener('keydown', (e) => this.key(e));
    this.input.addEventListener('blur', () => window.setTimeout(() => this.close(), 150));
  }

  private update(): void {
    const q = this.input.value.trim().toLowerCase();
    if (!q) return this.close();
    const hits: Hit[] = [];
    for (const c of this.app.collections.values()) {
      if (c.id.includes(q) || c.title.toLowerCase().includes(q)) {
        hits.push({
          label: c.title,
          detail: `dataset · ${c.kind}`,
          pick: () => {
            const st = this.app.styleOf(c.id);
            if (!st.visible) {
              st.visible = true;
              this.app.restyle();
              this.app.resetTimeDomain();
              this.app.layersPanel.render();
            }
            this.app.flyToBbox(c.bbox);
          },
        });
      }
    }
    for (const s of this.app.sites.all()) {
      if (hits.length >= MAX_HITS) break;
      if (s.name.toLowerCase().includes(q)) {
        hits.push({ label: s.name, detail: `site · ${[s.type, s.place].filter(Boolean).join(' · ')}`, pick: () => this.app.sites.flyTo(s) });
      }
    }
    this.hits = hits.slice(0, MAX_HITS);
    this.selected = this.hits.length ? 0 : -1;
    this.render();
  }

  private render(): void {
    this.results.replaceChildren(...this.hits.map((h, i) => {
      const li = document.createElement('li');
      li.id = `search-hit-${i}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === this.selected));
      const label = document.createElement('strong');
      label.textContent = h.label;
      const detail = document.createElement('span');
      detail.className = 'meta';
      detail.textContent = h.detail;
      li.append(label, detail);
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        this.choose(i);
      });
      return li;
    }));
    if (this.hits.length === 0) {
      const li = document.createElement('li');
      li.className = 'meta';
      li.textContent = 'Nothing found';
      this.results.append(li);
    }
    this.results.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    if (this.selected >= 0) this.input.setAttribute('aria-activedescendant', `search-hit-${this.selected}`);
  }

  private key(e: KeyboardEvent): void {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!this.hits.length) return;
      e.preventDefault();
      this.selected = (this.selected + (e.key === 'ArrowDown' ? 1 : -1) + this.hits.length) % this.hits.length;
      this.render();
    } else if (e.key === 'Enter' && this.selected >= 0) {
      e.preventDefault();
      this.choose(this.selected);
    } else if (e.key === 'Escape') {
      this.close();
    }
  }

  private choose(i: number): void {
    this.hits[i]?.pick();
    this.close();
  }

  private close(): void {
    this.results.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }
}
