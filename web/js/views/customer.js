// The customer's page (/me): sign in with the account and a one-time code
// sent to the phone or e-mail on file, then see every access to one's data,
// each entry's inclusion proof and the checkpoint's signature verified here,
// in the browser.  The session token lives in this module's memory only.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { call } from '../api.js';
import { card, field, busy, table, fmtTime, proofBadge, showInfo, badge } from '../ui.js';
import { verifyCheckpoint, verifyEntry } from '../verify.js';
import { decisionBadge } from './security.js';

export function create(app) {
  const st = { step: 'account', account: '', token: null, log: null, cp: null, cpError: null, digest: null };
  const api = (method, path, opts = {}) => call(method, path, { ...opts, token: st.token });

  function render(root) {
    if (!st.token) root.replaceChildren(signIn());
    else root.replaceChildren(history());
    const first = root.querySelector('input');
    if (first && !st.token) first.focus();
  }

  function signIn() {
    const account = h('input', { id: 'account', value: st.account, required: true, autocomplete: 'username',
      oninput: (e) => { st.account = e.target.value.trim(); } });
    const send = h('button', { type: 'submit', class: st.step === 'account' ? 'primary' : '', id: 'send-code' }, t('me.sendCode'));
    const form1 = h('form', { class: 'stack', id: 'account-form', onsubmit: (e) => {
      e.preventDefault();
      busy(send, async () => {
        await call('POST', '/v1/subject/code', { body: { account: st.account } });
        st.step = 'code';
        app.rerender();
        showInfo(t('me.codeSent'));
      });
    } }, field(t('me.account'), account, t('me.accountHint')), send);
    let form2 = null;
    if (st.step === 'code') {
      const code = h('input', { id: 'subject-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6,
        required: true, autocomplete: 'one-time-code' });
      const go = h('button', { type: 'submit', class: 'primary', id: 'subject-login' }, t('me.signIn'));
      form2 = h('form', { class: 'stack', id: 'code-form', onsubmit: (e) => {
        e.preventDefault();
        busy(go, async () => {
          const r = await call('POST', '/v1/subject/login', { body: { account: st.account, code: code.value.trim() } });
          st.token = r.token;
          app.rerender();
          await load();
        });
      } }, field(t('me.code'), code), go);
    }
    return card(t('me.title'), { id: 'subject-sign-in', class: 'narrow' },
      h('p', { class: 'lead' }, t('me.lead')), form1, form2);
  }

  async function load() {
    st.log = null;
    st.cp = null;
    st.cpError = null;
    app.rerender();
    const [log, vkey, notices] = await Promise.all([
      api('GET', '/v1/subject/access-log'),
      api('GET', '/v1/audit/key'),
      api('GET', '/v1/subject/notices').catch(() => null),
    ]);
    st.digest = notices ? notices.digest : null;
    st.log = (log.entries || []).map((e) => ({ entry: e, state: 'pending', why: '' }));
    app.rerender();
    try {
      st.cp = await verifyCheckpoint(log.checkpoint, vkey);
      if (log.tree_size !== undefined && log.tree_size !== st.cp.size) throw new Error(t('me.sizeMismatch'));
    } catch (e) {
      st.cpError = e.message || String(e);
      for (const r of st.log) { r.state = false; r.why = st.cpError; }
      app.rerender();
      return;
    }
    let subject = null;
    for (const r of st.log) {
      const v = await verifyEntry(r.entry, r.entry.leaf_index, r.entry.audit_path || [], st.cp);
      r.state = v.ok;
      r.why = v.why;
      // every entry must be about the same customer (the same pseudonym)
      if (v.ok && v.leaf) {
        if (subject === null) subject = v.leaf.subject;
        else if (v.leaf.subject !== subject) { r.state = false; r.why = 'another customer'; }
      }
    }
    app.rerender();
  }

  function history() {
    const out = h('button', { type: 'button', id: 'subject-logout', class: 'quiet' }, t('me.signOut'));
    out.addEventListener('click', () => busy(out, async () => {
      await api('POST', '/v1/subject/logout').catch(() => null);
      st.token = null;
      st.step = 'account';
      st.log = null;
      app.rerender();
      showInfo(t('me.signedOut'));
    }));
    const exp = h('button', { type: 'button', id: 'subject-export' }, t('me.export'));
    exp.addEventListener('click', () => busy(exp, async () => {
      const doc = await api('GET', '/v1/subject/export');
      const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
      const a = h('a', { href: url, download: 'my-data.json' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }));
    const digest = st.digest
      ? field(t('me.notices'), h('select', { id: 'digest', onchange: (e) => busy(null, async () => {
        const r = await api('POST', '/v1/subject/notices', { body: { digest: e.target.value } });
        st.digest = r.digest;
        showInfo(t('me.noticesSaved'));
      }) }, ['each', 'daily'].map((d) => h('option', { value: d, selected: st.digest === d }, t(`me.digest.${d}`)))))
      : null;
    let status = null;
    if (st.cp) {
      status = h('p', { id: 'log-status', class: 'cp good', dataset: { verified: 'true' } },
        `✓ ${t('me.cpVerified', { size: st.cp.size, key: st.cp.keyIdHex })}`);
    } else if (st.cpError) {
      status = h('p', { id: 'log-status', class: 'cp bad', dataset: { verified: 'false' } }, `✗ ${t('audit.cpFailed')} (${st.cpError})`);
    }
    let body;
    if (st.log === null) body = h('p', { class: 'muted' }, t('common.loading'));
    else if (st.log.length === 0) body = h('p', { class: 'muted', id: 'log-empty' }, t('me.none'));
    else {
      body = table([
        { key: 'time', label: t('audit.time'), cell: (r) => fmtTime(r.entry.time) },
        { key: 'what', label: t('me.what'), cell: (r) => t(`action.${r.entry.action}`, null, r.entry.action) },
        { key: 'fields', label: t('audit.fields'), cell: (r) => (r.entry.fields || []).map((f) => t(`field.${f}`, null, f)).join(', ') },
        { key: 'purpose', label: t('case.purpose'), cell: (r) => (r.entry.purpose ? t(`purpose.${r.entry.purpose}`, null, r.entry.purpose) : '') },
        { key: 'store', label: t('audit.store'), cell: (r) => r.entry.store || '' },
        { key: 'staff', label: t('me.staff'), cell: (r) => r.entry.staff_ref || '' },
        { key: 'decision', label: t('audit.decision'), cell: (r) => decisionBadge(r.entry.decision) },
        { key: 'proof', label: t('audit.proof'), cell: (r) => proofBadge(r.state, r.why) },
      ], st.log, (r) => ({ class: 'access', dataset: { index: r.entry.leaf_index, verified: String(r.state) } }),
      { id: 'access-log', class: 'compact' });
    }
    const nOk = st.log ? st.log.filter((r) => r.state === true).length : 0;
    const done = st.log !== null && (st.cpError || (st.cp && st.log.every((r) => r.state !== 'pending')));
    return card(t('me.historyTitle'), { id: 'subject-history', dataset: { state: done ? 'done' : 'busy' } },
      h('p', { class: 'lead' }, t('me.historyLead')),
      h('div', { class: 'row' }, digest, exp, out),
      status,
      st.log && st.cp ? h('p', { class: 'summary', id: 'log-summary' },
        badge(t('me.summary', { n: st.log.length, ok: nOk }), nOk === st.log.length ? 'good' : 'bad')) : null,
      body,
      h('p', { class: 'muted small' }, t('me.explain')));
  }

  return { title: () => t('app.customerTitle'), render };
}
