// The console's entry point: the staff console at / (log-in, then the view
// of one's role) and the customer's page at /me.  The staff session token is
// kept in this module's memory only: a reload signs out, and no cookie or
// storage holds it, so there is nothing for another site to ride on (CSRF).
import { h, $ } from './dom.js';
import { t, lang, setLang, LANGS } from './i18n.js';
import { call } from './api.js';
import { clearMessage, showProblem, showInfo } from './ui.js';
import * as loginView from './views/login.js';
import * as clerkView from './views/clerk.js';
import * as supervisorView from './views/supervisor.js';
import * as securityView from './views/security.js';
import * as customerView from './views/customer.js';

const customerPage = /^\/me\/?$/.test(location.pathname);

const app = {
  token: null,
  me: null,
  view: null,

  // The API with the staff session; a 401 or 423 on it ends the session.
  async api(method, path, opts = {}) {
    try {
      return await call(method, path, { ...opts, token: app.token });
    } catch (e) {
      if (app.token && (e.status === 401 || e.status === 423)) {
        e.handled = true;
        app.sessionEnded(e);
      }
      throw e;
    }
  },

  async signedIn(token) {
    app.token = token;
    app.me = await app.api('GET', '/v1/me');
    const views = { clerk: clerkView, agent: clerkView, supervisor: supervisorView, security: securityView };
    const v = views[app.me.role];
    app.mount(v ? v.create(app) : adminView());
    clearMessage();
  },

  sessionEnded(e) {
    app.token = null;
    app.me = null;
    app.mount(loginView.create(app));
    showProblem(e.status === 423 ? e : { slug: 'session-ended', message: '', detail: e.detail });
  },

  async signOut() {
    const token = app.token;
    app.token = null;
    app.me = null;
    if (token) await call('POST', '/v1/logout', { token }).catch(() => null);
    app.mount(loginView.create(app));
    showInfo(t('login.signedOut'));
  },

  mount(view) {
    app.view = view;
    app.rerender();
  },

  rerender() {
    renderShell();
    if (app.view) app.view.render($('#view'));
  },
};

// The administrator has no console view: staff are managed with the CLI.
function adminView() {
  return {
    title: () => t('app.adminTitle'),
    render(root) {
      root.replaceChildren(h('section', { class: 'card narrow', id: 'admin' },
        h('h2', null, t('app.adminTitle')), h('p', null, t('admin.lead'))));
    },
  };
}

function renderShell() {
  document.documentElement.lang = lang();
  document.title = `${app.view ? app.view.title() : ''} · Custodian`;
  const langSel = h('select', { id: 'lang', 'aria-label': t('app.language'),
    onchange: (e) => { setLang(e.target.value); app.rerender(); } },
  LANGS.map((l) => h('option', { value: l.code, selected: lang() === l.code }, l.label)));
  const who = app.me
    ? h('span', { class: 'who', id: 'who' }, `${app.me.username} · ${t(`role.${app.me.role}`, null, app.me.role)} · ${app.me.store}`)
    : null;
  let out = null;
  if (app.me) {
    out = h('button', { type: 'button', id: 'logout', class: 'quiet' }, t('app.signOut'));
    out.addEventListener('click', () => app.signOut());
  }
  $('#top').replaceChildren(
    h('div', { class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 28, height: 28 }),
      h('span', null, 'Custodian'), h('span', { class: 'view-title', id: 'view-title' }, app.view ? app.view.title() : '')),
    h('div', { class: 'top-right' }, who, langSel, out));
}

window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.handled) e.preventDefault();
});

if (customerPage) {
  app.mount(customerView.create(app));
} else {
  app.mount(loginView.create(app));
}
