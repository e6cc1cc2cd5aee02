// Widgets shared by the views: the message line, meters, badges, tables
// and dates, all built with dom.js (no markup from strings).
import { h, $ } from './dom.js';
import { t, lang } from './i18n.js';

// Shows a problem (api.js Problem) as a friendly message keyed by its
// `type` slug, with the server's detail (never a personal value) below.
export function showProblem(err) {
  const box = $('#message');
  if (!box) return;
  const slug = err && err.slug ? err.slug : 'internal';
  const friendly = t(`problem.${slug}`, null, '') || t('problem.other', { title: err.message });
  box.replaceChildren(
    h('strong', null, friendly),
    err && err.detail ? h('span', { class: 'detail' }, err.detail) : null,
  );
  box.className = `message error${slug === 'limit-reached' || slug === 'step-up-required' ? ' limit' : ''}`;
  box.dataset.slug = slug;
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

export function showInfo(text) {
  const box = $('#message');
  if (!box) return;
  box.replaceChildren(h('strong', null, text));
  box.className = 'message info';
  box.dataset.slug = 'info';
  box.hidden = false;
}

export function clearMessage() {
  const box = $('#message');
  if (!box) return;
  box.replaceChildren();
  box.hidden = true;
  delete box.dataset.slug;
}

// A bar meter: used of limit, with optional alert and block marks (0..1).
export function meter(label, used, limit, opts = {}) {
  const frac = limit > 0 ? Math.min(1, used / limit) : 0;
  const level =
    opts.blockAt !== undefined && frac >= opts.blockAt
      ? 'danger'
      : frac >= (opts.alertAt !== undefined ? opts.alertAt : 0.8)
        ? 'warn'
        : 'ok';
  const fill = h('div', { class: `fill ${level}` });
  fill.style.width = `${(frac * 100).toFixed(1)}%`;
  const bar = h('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': limit,
    'aria-valuenow': used, 'aria-label': label }, fill);
  for (const [mark, cls] of [[opts.alertAt, 'mark alert'], [opts.blockAt, 'mark block']]) {
    if (mark === undefined) continue;
    const m = h('div', { class: cls });
    m.style.left = `${mark * 100}%`;
    bar.append(m);
  }
  const value = opts.text !== undefined ? opts.text : `${used} / ${limit}`;
  return h('div', { class: 'meter', dataset: { meter: opts.id || '' } },
    h('div', { class: 'meter-label' }, h('span', null, label), h('span', { class: 'meter-value' }, value)),
    bar);
}

export function badge(text, kind, attrs = {}) {
  return h('span', { ...attrs, class: `badge ${kind || ''}` }, text);
}

// The verification state of an entry: 'pending', true or false.
export function proofBadge(state, why) {
  if (state === 'pending') return badge(t('proof.pending'), 'muted', { dataset: { verified: 'pending' } });
  if (state === true) return badge(`✓ ${t('proof.verified')}`, 'good', { dataset: { verified: 'true' } });
  return badge(`✗ ${t('proof.failed')}`, 'bad', { dataset: { verified: 'false' }, title: why || '' });
}

// A date from epoch seconds or an RFC 3339 string, in the UI's language.
export function fmtTime(v) {
  if (v === null || v === undefined || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(lang() === 'zh-CN' ? 'zh-CN' : 'en-GB', {
    dateStyle: 'medium', timeStyle: 'medium',
  }).format(d);
}

// A table: columns [{key, label, cell?(row)}], rows; rowAttrs(row) for <tr>.
export function table(columns, rows, rowAttrs, attrs = {}) {
  return h('div', { class: 'table-wrap' }, h('table', attrs,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', null, rows.map((r) =>
      h('tr', rowAttrs ? rowAttrs(r) : null,
        columns.map((c) => h('td', { dataset: { col: c.key } }, c.cell ? c.cell(r) : fmtValue(r[c.key]))))))));
}

export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// A card: a titled section.
export function card(title, attrs, ...children) {
  return h('section', { ...attrs, class: `card ${(attrs && attrs.class) || ''}` },
    title ? h('h2', null, title) : null, ...children);
}

// A labelled form field.
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', null, label), input,
    hint ? h('small', null, hint) : null);
}

// Runs an async action with the button disabled and problems shown.
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    clearMessage();
    return await fn();
  } catch (e) {
    showProblem(e);
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}
