// The alerts panel: alerts raised by the rules, newest first, live from `/alerts/stream` (the browser's
// EventSource resumes with Last-Event-ID after a drop, so nothing raised meanwhile is missed). Each alert can
// be acknowledged with a disposition and resolved, by the name given once in the panel; a click flies to it.
// The rules are listed with a dry run over the clock's window, drawn on the map before anyone relies on them.

import type { Alert, Disposition, RuleDefinition } from './api';
import { alerts as loadAlerts, decideAlert, dryRun, rules as loadRules } from './api';
import type { ConsoleApp } from './main';

const SHOWN = 100;
const DISPOSITIONS: [Disposition, string][] = [
  ['relevant', 'Relevant'],
  ['no_impact', 'No impact'],
  ['false_positive', 'False positive'],
  ['duplicate', 'Duplicate'],
];

export class AlertsPanel {
  private alerts = new Map<number, Alert>();
  private list: HTMLOListElement;
  private note: HTMLElement;
  private by: HTMLInputElement;
  private showResolved: HTMLInputElement;

  constructor(private app: ConsoleApp) {
    this.list = document.getElementById('alerts-list') as HTMLOListElement;
    this.note = document.getElementById('alerts-note')!;
    this.by = document.getElementById('alerts-by') as HTMLInputElement;
    this.showResolved = document.getElementById('alerts-resolved') as HTMLInputElement;
    this.by.value = localStorage.getItem('geoconsole.by') ?? '';
    this.by.addEventListener('change', () => localStorage.setItem('geoconsole.by', this.by.value.trim()));
    this.showResolved.addEventListener('change', () => this.render());
  }

  async load(): Promise<void> {
    void this.loadRules();
    try {
      for (const a of await loadAlerts(SHOWN)) this.alerts.set(a.seq, a);
    } catch (e) {
      this.note.textContent = (e as Error).message;
      return;
    }
    this.render();
    this.listen();
  }

  private async loadRules(): Promise<void> {
    const list = document.getElementById('rules-list') as HTMLOListElement;
    let rules: RuleDefinition[];
    try {
      rules = await loadRules();
    } catch (e) {
      list.replaceChildren(Object.assign(document.createElement('li'), { textContent: (e as Error).message }));
      return;
    }
    list.replaceChildren(...rules.map((rule) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = rule.title ?? rule.id;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Dry run';
      button.title = 'What this rule would have raised on the events in the time window (nothing is stored or sent)';
      const result = document.createElement('span');
      result.className = 'meta';
      button.addEventListener('click', async () => {
        result.textContent = 'running…';
        try {
          const run = await dryRun(rule, this.app.timebar.window);
          const shown = run.alerts.filter((a) => a.position).map((a) => ({ position: a.position!, title: a.title }));
          this.app.showDryRun(shown);
          result.textContent = `would have raised ${run.would_raise} alert${run.would_raise === 1 ? '' : 's'} in the window (purple on the map)`;
          document.body.dataset.dryRun = `${rule.id}:${run.would_raise}`;
        } catch (e) {
          result.textContent = (e as Error).message;
        }
      });
      li.append(name, button, result);
      return li;
    }));
  }

  private listen(): void {
    const newest = Math.max(0, ...this.alerts.keys());
    const source = new EventSource(`/alerts/stream?after=${newest}`);
    source.addEventListener('alert', (e) => this.upsert(JSON.parse((e as MessageEvent).data), true));
    source.addEventListener('update', (e) => this.upsert(JSON.parse((e as MessageEvent).data), false));
    source.addEventListener('resync', () => void this.reload());
  }

  private async reload(): Promise<void> {
    this.alerts.clear();
    for (const a of await loadAlerts(SHOWN)) this.alerts.set(a.seq, a);
    this.render();
  }

  private upsert(alert: Alert, fresh: boolean): void {
    this.alerts.set(alert.seq, alert);
    this.render();
    if (fresh) {
      this.list.querySelector(`[data-seq="${alert.seq}"]`)?.classList.add('changed');
      document.body.dataset.lastAlert = String(alert.seq);
    }
  }

  private async decide(alert: Alert, action: 'acknowledge' | 'resolve', disposition: Disposition | null): Promise<void> {
    const by = this.by.value.trim();
    if (!by) {
      this.by.focus();
      this.app.notify('Say who you are first (the name field in the alerts panel): acknowledgements record who.');
      return;
    }
    localStorage.setItem('geoconsole.by', by);
    try {
      this.upsert(await decideAlert(alert.seq, action, by, disposition), false);
    } catch (e) {
      this.app.notify((e as Error).message);
    }
  }

  render(): void {
    const all = [...this.alerts.values()].sort((a, b) => b.seq - a.seq);
    const open = all.filter((a) => a.state === 'open').length;
    const shown = all.filter((a) => this.showResolved.checked || a.state !== 'resolved');
    this.note.textContent = all.length === 0
      ? 'No alerts. Rules raise them here, live, as new data arrives.'
      : `${open} open, ${all.length - open} acknowledged or resolved (latest ${SHOWN}).`;
    document.body.dataset.openAlerts = String(open);
    this.list.replaceChildren(...shown.slice(0, SHOWN).map((a) => this.item(a)));
  }

  private item(a: Alert): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'alert';
    li.dataset.seq = String(a.seq);
    li.dataset.state = a.state;
    li.dataset.severity = a.severity;
    const head = document.createElement('button');
    head.type = 'button';
    head.className = 'alert-title';
    head.textContent = a.title;
    head.title = 'Show on the map';
    head.addEventListener('click', () => {
      if (a.position) this.app.map.flyTo({ center: a.position, zoom: Math.max(this.app.map.getZoom(), 8), duration: 900 });
      // A feed's health alert has no place; its page says the rest.
      else if ((a.detail as { feed?: string } | undefined)?.feed) this.app.feedsPanel.open();
    });
    const meta = document.createElement('span');
    meta.className = 'meta';
    const who = a.state === 'resolved' ? ` by ${a.resolved_by}` : a.state === 'acknowledged' ? ` by ${a.acknowledged_by}` : '';
    const why = a.disposition ? ` (${a.disposition.replace('_', ' ')})` : '';
    meta.textContent = `#${a.seq} · ${a.severity} · ${new Date(a.raised).toISOString().slice(0, 16).replace('T', ' ')} UTC · ${a.state}${who}${why}`;
    li.append(head, meta);
    if (a.state !== 'resolved') {
      const row = document.createElement('div');
      row.className = 'alert-actions';
      if (a.state === 'open') {
        const choice = document.createElement('select');
        choice.setAttribute('aria-label', `Disposition of alert ${a.seq}`);
        for (const [value, label] of DISPOSITIONS) choice.append(new Option(label, value));
        const ack = document.createElement('button');
        ack.type = 'button';
        choice.dataset.need = 'write';
        ack.dataset.need = 'write';
        ack.textContent = 'Acknowledge';
        ack.addEventListener('click', () => void this.decide(a, 'acknowledge', choice.value as Disposition));
        row.append(choice, ack);
      }
      const resolve = document.createElement('button');
      resolve.type = 'button';
      resolve.dataset.need = 'write';
      resolve.textContent = 'Resolve';
      resolve.addEventListener('click', () => {
        const choice = row.querySelector('select');
        void this.decide(a, 'resolve', a.state === 'open' ? (choice?.value as Disposition) : null);
      });
      row.append(resolve);
      li.append(row);
    }
    return li;
  }
}
