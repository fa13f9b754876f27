// Who is using the console: the login page (shown until the server says who the browser is), the account
// button in the top bar, and the account page (a dialog) with the user's API tokens, and for admins the
// accounts with their roles and the audit log. Buttons a role may not use are hidden by the body's
// `data-role` (CSS); the server refuses them anyway.

import type { Account, AuditEntry, Role, Session, Token } from './api';
import * as api from './api';

const ROLES: Role[] = ['viewer', 'editor', 'admin'];
const SCOPES: Record<Role, Token['scope'][]> = { viewer: ['read'], editor: ['read', 'write'], admin: ['read', 'write', 'admin'] };
const AUDIT_PAGE = 50;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

function when(at: string | null): string {
  return at ? new Date(at).toISOString().slice(0, 16).replace('T', ' ') : '–';
}

/** The scopes a role may give a token: never more than itself. */
export function scopesFor(role: Role): Token['scope'][] {
  return SCOPES[role];
}

export class AccountPanel {
  session: Session | null = null;
  private loginDialog = document.getElementById('login-page') as HTMLDialogElement;
  private loginForm = document.getElementById('login-form') as HTMLFormElement;
  private loginError = document.getElementById('login-error')!;
  private button = document.getElementById('account') as HTMLButtonElement;
  private page = document.getElementById('account-page') as HTMLDialogElement;
  private note = document.getElementById('account-note')!;
  private auditRows: AuditEntry[] = [];

  constructor() {
    // The login page cannot be dismissed: there is nothing behind it to use.
    this.loginDialog.addEventListener('cancel', (e) => e.preventDefault());
    this.button.addEventListener('click', () => this.open('tokens'));
    document.getElementById('account-close')?.addEventListener('click', () => this.page.close());
    document.getElementById('logout')?.addEventListener('click', () => void this.logout());
    for (const tab of Array.from(this.page.querySelectorAll<HTMLButtonElement>('[data-tab]'))) {
      tab.addEventListener('click', () => this.open(tab.dataset.tab!));
    }
    (document.getElementById('token-form') as HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      void this.makeToken(e.target as HTMLFormElement);
    });
    (document.getElementById('user-form') as HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      void this.addUser(e.target as HTMLFormElement);
    });
    (document.getElementById('audit-form') as HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      void this.loadAudit(false);
    });
    document.getElementById('audit-more')?.addEventListener('click', () => void this.loadAudit(true));
    window.addEventListener('geoconsole:unauthenticated', () => {
      if (this.session?.via?.kind === 'session' && !this.loginDialog.open) void this.relogin();
    });
  }

  /** Resolves once the browser is someone: at once when it already is, else after a successful login. */
  async ensureSession(): Promise<Session> {
    let current = await api.session();
    while (!current.authenticated) {
      current = await this.askForLogin();
    }
    this.adopt(current);
    return current;
  }

  private askForLogin(): Promise<Session> {
    this.loginError.textContent = '';
    if (!this.loginDialog.open) this.loginDialog.showModal();
    (this.loginForm.elements.namedItem('user') as HTMLInputElement).focus();
    return new Promise((resolve) => {
      const submit = async (e: Event) => {
        e.preventDefault();
        const data = new FormData(this.loginForm);
        const button = this.loginForm.querySelector('button[type=submit]') as HTMLButtonElement;
        button.disabled = true;
        try {
          const s = await api.login(String(data.get('user')), String(data.get('password')));
          this.loginForm.removeEventListener('submit', submit);
          this.loginForm.reset();
          this.loginDialog.close();
          resolve({ ...s, via: { kind: 'session' } });
        } catch (err) {
          this.loginError.textContent = (err as Error).message.replace(/^login: /, '');
        } finally {
          button.disabled = false;
        }
      };
      this.loginForm.addEventListener('submit', submit);
    });
  }

  /** The session ended while the console was open: log in again and reload, so every stream reconnects. */
  private async relogin(): Promise<void> {
    await this.askForLogin();
    location.reload();
  }

  private adopt(s: Session): void {
    this.session = s;
    api.setCsrf(s.csrf ?? null);
    document.body.dataset.role = s.role ?? 'viewer';
    document.body.dataset.auth = s.via?.kind ?? 'session';
    this.button.hidden = false;
    this.button.textContent = s.via?.kind === 'local' ? 'Local (no accounts)' : `${s.user} · ${s.role}`;
    this.button.title = s.via?.kind === 'local'
      ? 'No accounts exist, so this console serves whoever can reach it on this machine only. Add an admin to require logins.'
      : 'Your account, API tokens, and (admins) users and the audit log';
    const scope = document.getElementById('token-scope') as HTMLSelectElement;
    scope.replaceChildren(...scopesFor(s.role ?? 'viewer').map((v) => new Option(v, v)));
    const role = document.getElementById('user-role') as HTMLSelectElement;
    role.replaceChildren(...ROLES.map((r) => new Option(r, r)));
  }

  private async logout(): Promise<void> {
    await api.logout();
    location.reload();
  }

  open(tab: string): void {
    for (const b of Array.from(this.page.querySelectorAll<HTMLButtonElement>('[data-tab]'))) {
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    }
    for (const name of ['tokens', 'users', 'audit']) {
      (document.getElementById(`tab-${name}`) as HTMLElement).hidden = name !== tab;
    }
    const who = document.getElementById('account-who')!;
    const s = this.session;
    who.textContent = s?.via?.kind === 'local'
      ? 'No accounts exist yet: this console serves its local user on 127.0.0.1 only. Add an admin under Users to require logins.'
      : `Logged in as ${s?.user} (${s?.role})${s?.datasets ? `, limited to: ${Object.keys(s.datasets).join(', ')}` : ''}.`;
    this.note.textContent = '';
    if (!this.page.open) this.page.showModal();
    const load = tab === 'tokens' ? this.loadTokens() : tab === 'users' ? this.loadUsers() : this.loadAudit(false);
    load.catch((e: Error) => (this.note.textContent = e.message));
  }

  private async loadTokens(): Promise<void> {
    const body = document.getElementById('tokens-table')!;
    if (this.session?.via?.kind === 'local') {
      body.replaceChildren();
      this.note.textContent = 'Tokens belong to accounts; add an account first.';
      return;
    }
    const list = await api.tokens();
    body.replaceChildren(...list.map((t) => {
      const tr = el('tr');
      tr.append(el('td', t.label || '–'), el('td', t.id), el('td', t.scope), el('td', t.state), el('td', when(t.expires)), el('td', when(t.last_used)));
      const action = el('td');
      if (t.state === 'active') {
        const revoke = el('button', 'Revoke');
        revoke.type = 'button';
        revoke.setAttribute('aria-label', `Revoke token ${t.label || t.id}`);
        revoke.addEventListener('click', () => {
          api.revokeToken(t.id).then(() => this.loadTokens()).catch((e: Error) => (this.note.textContent = e.message));
        });
        action.append(revoke);
      }
      tr.append(action);
      return tr;
    }));
  }

  private async makeToken(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const secret = document.getElementById('token-secret') as HTMLInputElement;
    try {
      const made = await api.createToken(String(data.get('label')), data.get('scope') as Token['scope'], Number(data.get('days')));
      // Reset first: the secret's field is part of the form.
      form.reset();
      secret.value = made.token ?? '';
      secret.hidden = false;
      secret.select();
      this.note.textContent = 'Copy the token now: it is shown this once and never again.';
      await this.loadTokens();
    } catch (e) {
      this.note.textContent = (e as Error).message;
    }
  }

  private async loadUsers(): Promise<void> {
    const list = await api.users();
    const body = document.getElementById('users-table')!;
    body.replaceChildren(...list.map((u: Account) => {
      const tr = el('tr');
      const role = el('select');
      role.setAttribute('aria-label', `Role of ${u.name}`);
      role.append(...ROLES.map((r) => new Option(r, r, false, r === u.role)));
      role.addEventListener('change', () => {
        api.changeUser(u.name, { role: role.value as Role })
          .then(() => (this.note.textContent = `${u.name} is now ${role.value}`))
          .catch((e: Error) => {
            this.note.textContent = e.message;
            role.value = u.role;
          });
      });
      const roleCell = el('td');
      roleCell.append(role);
      const toggle = el('button', u.disabled ? 'Enable' : 'Disable');
      toggle.type = 'button';
      toggle.setAttribute('aria-label', `${u.disabled ? 'Enable' : 'Disable'} ${u.name}`);
      toggle.addEventListener('click', () => {
        api.changeUser(u.name, { disabled: !u.disabled }).then(() => this.loadUsers()).catch((e: Error) => (this.note.textContent = e.message));
      });
      const action = el('td');
      action.append(toggle);
      const limits = u.datasets ? Object.entries(u.datasets).map(([d, g]) => `${d}:${g}`).join(', ') : 'all datasets';
      tr.append(el('td', u.name), roleCell, el('td', u.disabled ? 'disabled' : 'enabled'), el('td', limits), action);
      return tr;
    }));
  }

  private async addUser(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    try {
      const made = await api.createUser(String(data.get('name')), data.get('role') as Role, String(data.get('password')));
      this.note.textContent = `Added ${made.name} (${made.role}).`;
      form.reset();
      await this.loadUsers();
    } catch (e) {
      this.note.textContent = (e as Error).message;
    }
  }

  private async loadAudit(more: boolean): Promise<void> {
    const form = document.getElementById('audit-form') as HTMLFormElement;
    const data = new FormData(form);
    const before = more && this.auditRows.length ? this.auditRows[this.auditRows.length - 1].seq : undefined;
    const page = await api.audit({ actor: String(data.get('actor') ?? ''), action: String(data.get('action') ?? ''), before, limit: AUDIT_PAGE });
    this.auditRows = more ? [...this.auditRows, ...page] : page;
    const body = document.getElementById('audit-table')!;
    body.replaceChildren(...this.auditRows.map((e) => {
      const tr = el('tr');
      tr.dataset.outcome = e.outcome.split(' ')[0];
      tr.append(el('td', String(e.seq)), el('td', when(e.at)), el('td', e.actor), el('td', e.action), el('td', e.target), el('td', e.outcome), el('td', e.source));
      return tr;
    }));
    (document.getElementById('audit-more') as HTMLButtonElement).hidden = page.length < AUDIT_PAGE;
  }
}
