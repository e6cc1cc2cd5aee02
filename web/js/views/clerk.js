// The counter (clerks) and the support centre (agents): look a customer up,
// open a case, enter the code the customer reads out, reveal what the case
// allows, and watch one's own use against the limits.
import { h, $ } from '../dom.js';
import { t } from '../i18n.js';
import { card, field, busy, meter, badge, fmtTime, showInfo } from '../ui.js';

const FIELDS = ['name', 'phone', 'email', 'account', 'address', 'birth_date', 'devices'];
const KINDS = ['device', 'phone', 'email', 'account'];

export function create(app) {
  const st = {
    kind: 'device', value: '', results: null,
    purpose: 'customer_support', reason: '', sendTo: 'phone',
    cases: [], current: null, picked: new Set(['name', 'phone']), usage: null,
  };
  const isAgent = app.me.role === 'agent';

  function render(root) {
    root.replaceChildren(
      h('div', { class: 'columns' },
        h('div', { class: 'main-col' }, lookupCard(), h('div', { id: 'results-slot' }, resultsCard()),
          h('div', { id: 'case-slot' }, caseCard())),
        h('aside', { class: 'side-col' }, h('div', { id: 'usage-slot' }, usageCard()), casesCard())));
    if (!st.usage) refreshUsage();
  }

  function rerenderSlot(id, build) {
    const slot = $(`#${id}`);
    if (slot) slot.replaceChildren(build());
  }

  async function refreshUsage() {
    try {
      const me = await app.api('GET', '/v1/me');
      st.usage = me.usage;
      rerenderSlot('usage-slot', usageCard);
    } catch (e) {
      /* the session handler deals with 401; the meter just stays as it was */
    }
  }

  // --- usage ---------------------------------------------------------------------
  function usageCard() {
    const u = st.usage;
    if (!u) return card(t('usage.title'), { id: 'usage' }, h('p', { class: 'muted' }, t('common.loading')));
    const L = u.limits || {};
    const s = u.statutory || {};
    return card(t('usage.title'), { id: 'usage' },
      h('p', { class: 'today', id: 'usage-today' },
        t('usage.today', { lookups: u.lookups_today ?? 0, reveals: u.reveals_today ?? 0 })),
      meter(t('usage.revealsHour'), u.reveals_last_hour ?? 0, L.reveals_per_hour ?? 0, { id: 'reveals-hour' }),
      meter(t('usage.revealsDay'), u.reveals_last_day ?? 0, L.reveals_per_day ?? 0, { id: 'reveals-day' }),
      meter(t('usage.lookupsHour'), u.lookups_last_hour ?? 0, L.lookups_per_hour ?? 0, { id: 'lookups-hour' }),
      meter(t('usage.lookupsDay'), u.lookups_last_day ?? 0, L.lookups_per_day ?? 0, { id: 'lookups-day' }),
      s.meter !== undefined
        ? meter(t('usage.statutory', { days: s.window_days }), s.meter, 1,
          { id: 'statutory', alertAt: s.alert_at, blockAt: s.block_at,
            text: `${Math.round(s.meter * 1000) / 10}%` })
        : null,
      h('p', { class: 'muted small' }, t('usage.explain')));
  }

  // --- look-up ---------------------------------------------------------------------
  function lookupCard() {
    const kind = h('select', { id: 'lookup-kind', onchange: (e) => { st.kind = e.target.value; } },
      KINDS.map((k) => h('option', { value: k, selected: st.kind === k }, t(`lookup.kind.${k}`))));
    const value = h('input', { id: 'lookup-value', required: true, value: st.value, autocomplete: 'off',
      oninput: (e) => { st.value = e.target.value; } });
    const go = h('button', { type: 'submit', class: 'primary', id: 'lookup-submit' }, t('lookup.submit'));
    return card(t('lookup.title'), { id: 'lookup' },
      h('form', { class: 'row', id: 'lookup-form', onsubmit: (e) => { e.preventDefault(); lookup(go); } },
        field(t('lookup.by'), kind), field(t('lookup.value'), value), go));
  }

  function lookup(button) {
    return busy(button, async () => {
      const v = st.value.trim();
      if (!v) return;
      if (st.kind === 'device') {
        st.results = [await app.api('GET', `/v1/devices/${encodeURIComponent(v)}`)];
      } else {
        const r = await app.api('GET', `/v1/customers?${st.kind}=${encodeURIComponent(v)}`);
        st.results = r.customers || [];
      }
      rerenderSlot('results-slot', resultsCard);
      if (st.results.length === 0) showInfo(t('lookup.none'));
      refreshUsage();
    });
  }

  function resultsCard() {
    if (!st.results) return h('div');
    return card(t('lookup.results'), { id: 'results' },
      st.results.length === 0 ? h('p', { class: 'muted' }, t('lookup.none')) : null,
      st.results.map(customerItem));
  }

  function customerItem(c) {
    const devices = c.device ? [c.device] : c.devices || [];
    const open = h('button', { class: 'primary open-case', type: 'button' }, t('case.open'));
    open.addEventListener('click', () => openCase(open, c.customer_id));
    return h('div', { class: 'result', dataset: { customer: c.customer_id } },
      h('div', { class: 'result-head' },
        h('span', { class: 'cid' }, c.customer_id),
        h('span', { class: 'masked', dataset: { field: 'name' } }, c.owner?.name ?? ''),
        h('span', { class: 'masked', dataset: { field: 'phone' } }, c.owner?.phone ?? '')),
      devices.length
        ? h('ul', { class: 'devices' }, devices.map((d) =>
          h('li', null, `${d.model || ''} · IMEI ${d.imei || ''} · ${d.serial || ''}`)))
        : null,
      h('div', { class: 'row' }, purposeControls(), open));
  }

  function purposeControls() {
    const bits = [];
    const purposes = isAgent ? ['customer_support', 'fraud_investigation', 'legal_request'] : ['customer_support'];
    if (purposes.length > 1) {
      bits.push(field(t('case.purpose'), h('select', { class: 'purpose',
        onchange: (e) => { st.purpose = e.target.value; app.rerender(); } },
      purposes.map((p) => h('option', { value: p, selected: st.purpose === p }, t(`purpose.${p}`))))));
    }
    if (st.purpose === 'customer_support') {
      bits.push(field(t('case.sendTo'), h('select', { class: 'send-to',
        onchange: (e) => { st.sendTo = e.target.value; } },
      ['phone', 'email'].map((p) => h('option', { value: p, selected: st.sendTo === p }, t(`case.sendTo.${p}`))))));
    } else {
      bits.push(field(t('case.reason'), h('input', { class: 'reason', value: st.reason, maxlength: 500,
        placeholder: t('case.reasonHint'), oninput: (e) => { st.reason = e.target.value; } })));
    }
    return bits;
  }

  function openCase(button, customerId) {
    return busy(button, async () => {
      const body = { purpose: st.purpose, customer_id: customerId };
      if (st.purpose === 'customer_support') {
        if (st.sendTo === 'email') body.send_to = 'email';
      } else {
        body.reason = st.reason;
      }
      const r = await app.api('POST', '/v1/cases', { body });
      const c = { ...r, customer_id: r.customer_id || customerId, purpose: r.purpose || st.purpose,
        revealed: null };
      st.cases.unshift(c);
      st.current = c.case_id;
      app.rerender();
      const code = $('#code');
      if (code) code.focus();
      refreshUsage();
    });
  }

  // --- the case --------------------------------------------------------------------
  function current() {
    return st.cases.find((c) => c.case_id === st.current) || null;
  }

  function caseCard() {
    const c = current();
    if (!c) return h('div');
    const body = [];
    body.push(h('dl', { class: 'facts' },
      h('dt', null, t('case.customer')), h('dd', null, c.customer_id),
      h('dt', null, t('case.purpose')), h('dd', null, t(`purpose.${c.purpose}`)),
      h('dt', null, t('case.status')), h('dd', null, badge(t(`status.${c.status}`), statusKind(c.status), { id: 'case-status' })),
      c.expires_at ? [h('dt', null, t('case.expires')), h('dd', null, fmtTime(c.expires_at))] : null));
    if (c.status === 'awaiting_verification') body.push(verifyForm(c));
    if (c.status === 'pending_approval') {
      const again = h('button', { type: 'button', id: 'refresh-case' }, t('case.checkAgain'));
      again.addEventListener('click', () => refreshCase(again, c));
      body.push(h('p', null, t('case.waitingApproval')), again);
    }
    if (c.status === 'verified' || c.status === 'approved') body.push(revealForm(c));
    if (c.revealed) body.push(revealedView(c));
    if (!['closed', 'expired'].includes(c.status)) {
      const close = h('button', { type: 'button', id: 'close-case', class: 'quiet' }, t('case.close'));
      close.addEventListener('click', () => busy(close, async () => {
        await app.api('POST', `/v1/cases/${encodeURIComponent(c.case_id)}/close`);
        c.status = 'closed';
        c.revealed = null;
        app.rerender();
      }));
      body.push(h('div', { class: 'row end' }, close));
    }
    return card(t('case.title', { id: c.case_id }), { id: 'case', dataset: { status: c.status, case: c.case_id } }, body);
  }

  function verifyForm(c) {
    const input = h('input', { id: 'code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6,
      autocomplete: 'off', required: true });
    const go = h('button', { type: 'submit', class: 'primary', id: 'verify' }, t('case.verify'));
    return h('form', { class: 'stack', id: 'verify-form', onsubmit: (e) => {
      e.preventDefault();
      busy(go, async () => {
        const r = await app.api('POST', `/v1/cases/${encodeURIComponent(c.case_id)}/verify`,
          { body: { code: input.value.trim() } });
        Object.assign(c, r);
        app.rerender();
        refreshUsage();
      });
    } },
    h('p', { class: 'lead' }, t('case.codeSent', { to: c.code_sent_to || '' })),
    field(t('case.code'), input), go);
  }

  function refreshCase(button, c) {
    return busy(button, async () => {
      const r = await app.api('GET', `/v1/cases/${encodeURIComponent(c.case_id)}`);
      Object.assign(c, r);
      app.rerender();
    });
  }

  function revealForm(c) {
    const boxes = FIELDS.map((f) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', class: 'reveal-field', value: f, checked: st.picked.has(f),
        onchange: (e) => { if (e.target.checked) st.picked.add(f); else st.picked.delete(f); } }),
      t(`field.${f}`)));
    const go = h('button', { type: 'submit', class: 'primary', id: 'reveal' }, t('reveal.submit'));
    return h('form', { id: 'reveal-form', class: 'stack', onsubmit: (e) => {
      e.preventDefault();
      const fields = FIELDS.filter((f) => st.picked.has(f));
      if (fields.length === 0) {
        showInfo(t('reveal.pickOne'));
        return;
      }
      busy(go, async () => {
        const r = await app.api('POST', `/v1/cases/${encodeURIComponent(c.case_id)}/reveal`,
          { body: { fields } });
        c.revealed = r;
        rerenderSlot('case-slot', caseCard);
        refreshUsage();
      });
    } },
    h('fieldset', { class: 'checks' }, h('legend', null, t('reveal.which')), boxes),
    h('p', { class: 'muted small' }, t('reveal.audited')), go);
  }

  function revealedView(c) {
    const f = c.revealed.fields || {};
    const rows = [];
    for (const k of FIELDS) {
      if (!(k in f)) continue;
      let v = f[k];
      if (k === 'devices' && Array.isArray(v)) {
        v = h('ul', { class: 'devices' }, v.map((d) =>
          h('li', null, `${d.model || ''} · IMEI ${d.imei || ''} · ${d.serial || ''} · ${d.purchase_date || ''} · ${d.store || ''}`)));
      } else if (Array.isArray(v)) {
        v = v.join(', ');
      }
      rows.push(h('dt', null, t(`field.${k}`)), h('dd', { class: 'revealed-value', dataset: { field: k } }, v ?? '—'));
    }
    const leaf = c.revealed.audit?.leaf_index;
    return h('div', { id: 'revealed', class: 'revealed' },
      h('h3', null, t('reveal.title')),
      h('dl', { class: 'facts' }, rows),
      leaf !== undefined ? h('p', { class: 'muted small', id: 'reveal-audit' }, t('reveal.auditEntry', { index: leaf })) : null);
  }

  function casesCard() {
    if (st.cases.length === 0) return h('div');
    return card(t('cases.mine'), { id: 'my-cases' },
      h('ul', { class: 'plain' }, st.cases.map((c) => {
        const b = h('button', { type: 'button', class: `link${c.case_id === st.current ? ' active' : ''}` },
          `${c.case_id} · ${c.customer_id}`);
        b.addEventListener('click', () => { st.current = c.case_id; app.rerender(); });
        return h('li', null, b, ' ', badge(t(`status.${c.status}`), statusKind(c.status)));
      })));
  }

  return { title: () => t(isAgent ? 'app.agentTitle' : 'app.clerkTitle'), render };
}

export function statusKind(s) {
  return { verified: 'good', approved: 'good', awaiting_verification: 'warn', pending_approval: 'warn',
    closed: 'muted', expired: 'muted' }[s] || '';
}
