// The security team: open alerts by severity with their evidence, each
// staff member's activity (a chart of daily reveals against their peers),
// suspend and resume, the audit explorer (every entry's inclusion proof
// verified here, in the browser, against the signed checkpoint) and the
// leak trace.
import { h, $ } from '../dom.js';
import { t } from '../i18n.js';
import { card, field, busy, meter, badge, fmtTime, table, proofBadge, showInfo, showProblem, fmtValue } from '../ui.js';
import { verifyCheckpoint, verifyEntry } from '../verify.js';
import { revealsChart, dailyReveals } from '../chart.js';

const SEVERITIES = ['critical', 'high', 'warning'];
const TABS = ['alerts', 'staff', 'audit', 'trace'];
const SCAN_MAX = 10000; // audit entries read for the chart
const PAGE = 25;

// A staff member's activity (GET /v1/staff/{u}/activity) as a block; used by
// the supervisor's view too.  `extra` is appended (buttons, chart).
export function activityView(a, extra) {
  const u = a.usage || {};
  const L = u.limits || {};
  const s = u.statutory || {};
  return h('div', { class: 'activity', id: 'activity', dataset: { user: a.username, status: a.status } },
    h('h3', null, a.username, ' ', badge(t(`role.${a.role}`), ''), ' ', a.store, ' ',
      badge(t(a.status === 'suspended' ? 'staff.suspended' : 'staff.active'),
        a.status === 'suspended' ? 'bad' : 'good', { id: 'staff-status' })),
    h('p', { class: 'today' }, t('usage.today', { lookups: u.lookups_today ?? 0, reveals: u.reveals_today ?? 0 })),
    h('div', { class: 'meters' },
      meter(t('usage.revealsHour'), u.reveals_last_hour ?? 0, L.reveals_per_hour ?? 0),
      meter(t('usage.revealsDay'), u.reveals_last_day ?? 0, L.reveals_per_day ?? 0),
      meter(t('usage.lookupsHour'), u.lookups_last_hour ?? 0, L.lookups_per_hour ?? 0),
      s.meter !== undefined
        ? meter(t('usage.statutory', { days: s.window_days }), s.meter, 1,
          { alertAt: s.alert_at, blockAt: s.block_at, text: `${Math.round(s.meter * 1000) / 10}%` })
        : null),
    extra,
    h('h4', null, t('activity.recent')),
    table([
      { key: 'index', label: '#' },
      { key: 'time', label: t('audit.time'), cell: (e) => fmtTime(e.time) },
      { key: 'action', label: t('audit.action'), cell: (e) => t(`action.${e.action}`, null, e.action) },
      { key: 'decision', label: t('audit.decision'), cell: (e) => decisionBadge(e.decision) },
      { key: 'fields', label: t('audit.fields') },
      { key: 'reasons', label: t('audit.reasons') },
      { key: 'case_id', label: t('audit.case') },
    ], a.recent || [], null, { class: 'compact', id: 'recent' }));
}

export function decisionBadge(d) {
  return badge(t(`decision.${d}`, null, d || ''), { allow: 'good', deny: 'bad', block: 'bad', step_up: 'warn' }[d] || '');
}

export function create(app) {
  const st = {
    tab: 'alerts',
    alerts: null, alertStatus: 'open',
    staff: null, staffMissing: false, who: null, activity: null, scan: null,
    audit: { mode: 'latest', start: '', end: '', query: '', indexes: null, rows: null, cp: null, cpError: null },
    trace: { result: null, missing: false, fileName: '' },
  };
  let vkey = null;

  function render(root) {
    const nav = h('nav', { class: 'tabs', role: 'tablist' }, TABS.map((k) => {
      const b = h('button', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-selected': String(st.tab === k),
        class: st.tab === k ? 'active' : '' }, t(`security.tab.${k}`));
      b.addEventListener('click', () => { st.tab = k; app.rerender(); });
      return b;
    }));
    const body = { alerts: alertsCard, staff: staffCard, audit: auditCard, trace: traceCard }[st.tab]();
    root.replaceChildren(nav, h('div', { id: 'tab-body' }, body));
    if (st.tab === 'alerts' && st.alerts === null) loadAlerts();
    if (st.tab === 'staff' && st.staff === null && !st.staffMissing) loadStaff();
    if (st.tab === 'audit' && st.audit.rows === null) loadAudit().catch((e) => { if (!e.handled) showProblem(e); });
  }

  // --- alerts ------------------------------------------------------------------------
  async function loadAlerts() {
    try {
      const r = await app.api('GET', `/v1/alerts${st.alertStatus === 'open' ? '?status=open' : ''}`);
      st.alerts = r.alerts || [];
    } catch (e) {
      st.alerts = [];
      if (!e.handled) showProblem(e);
    }
    app.rerender();
  }

  function alertsCard() {
    const status = h('select', { id: 'alert-status', onchange: (e) => {
      st.alertStatus = e.target.value; st.alerts = null; app.rerender();
    } }, ['open', 'all'].map((s) => h('option', { value: s, selected: st.alertStatus === s }, t(`alerts.show.${s}`))));
    const refresh = h('button', { type: 'button', id: 'alerts-refresh' }, t('common.refresh'));
    refresh.addEventListener('click', () => { st.alerts = null; app.rerender(); });
    const head = h('div', { class: 'row' }, field(t('alerts.show'), status), refresh);
    if (st.alerts === null) return card(t('alerts.title'), { id: 'alerts' }, head, h('p', { class: 'muted' }, t('common.loading')));
    if (st.alerts.length === 0) return card(t('alerts.title'), { id: 'alerts' }, head, h('p', { class: 'muted', id: 'alerts-none' }, t('alerts.none')));
    const groups = [...SEVERITIES, ...new Set(st.alerts.map((a) => a.severity).filter((s) => !SEVERITIES.includes(s)))];
    return card(t('alerts.title'), { id: 'alerts' }, head,
      h('p', { class: 'summary' }, groups.map((g) => {
        const n = st.alerts.filter((a) => a.severity === g).length;
        return n ? badge(`${t(`severity.${g}`, null, g)}: ${n}`, `sev-${g}`) : null;
      })),
      groups.map((g) => {
        const list = st.alerts.filter((a) => a.severity === g);
        if (!list.length) return null;
        return h('div', { class: 'severity-group', dataset: { severity: g } },
          h('h3', null, t(`severity.${g}`, null, g)), list.map(alertItem));
      }));
  }

  function alertItem(a) {
    const evidence = a.audit_indexes || (a.audit_index !== undefined ? [a.audit_index] : []);
    const staffBtn = h('button', { type: 'button', class: 'link staff-link' }, a.staff);
    staffBtn.addEventListener('click', () => { st.tab = 'staff'; app.rerender(); selectStaff(null, a.staff); });
    const ack = h('button', { type: 'button', class: 'ack quiet' }, t('alerts.ack'));
    ack.addEventListener('click', () => busy(ack, async () => {
      await app.api('POST', `/v1/alerts/${a.id}/ack`);
      st.alerts = null;
      app.rerender();
    }));
    const ev = h('button', { type: 'button', class: 'evidence' }, t('alerts.evidence', { n: evidence.length }));
    ev.addEventListener('click', () => {
      st.tab = 'audit';
      st.audit.mode = 'indexes';
      st.audit.indexes = evidence.slice();
      st.audit.rows = null;
      app.rerender();
    });
    return h('article', { class: `alert sev-${a.severity}`, dataset: { rule: a.rule, staff: a.staff, id: a.id } },
      h('header', null, badge(t(`severity.${a.severity}`, null, a.severity), `sev-${a.severity}`), ' ',
        h('strong', { class: 'rule' }, t(`rule.${a.rule}`, null, a.rule)), ' · ', staffBtn, ' · ',
        h('time', null, fmtTime(a.created_at)), a.status !== 'open' ? [' ', badge(t('alerts.acked'), 'muted')] : null),
      h('p', { class: 'alert-detail' }, a.detail),
      h('div', { class: 'row' }, evidence.length ? ev : null, a.status === 'open' ? ack : null,
        evidence.length ? h('span', { class: 'muted small' }, t('alerts.entries', { list: evidence.join(', ') })) : null));
  }

  // --- staff -------------------------------------------------------------------------
  async function loadStaff() {
    try {
      st.staff = (await app.api('GET', '/v1/staff')).staff || [];
    } catch (e) {
      if (e.missingEndpoint) st.staffMissing = true;
      else st.staff = [];
    }
    app.rerender();
  }

  function staffCard() {
    const input = h('input', { id: 'staff-user', value: st.who || '', required: true });
    const go = h('button', { type: 'submit', id: 'staff-show' }, t('team.show'));
    const form = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); selectStaff(go, input.value.trim()); } },
      field(t('team.username'), input), go);
    const list = st.staff
      ? h('ul', { class: 'plain team', id: 'staff-list' }, st.staff.map((s) => {
        const b = h('button', { type: 'button', class: `link${s.username === st.who ? ' active' : ''}` }, s.username);
        b.addEventListener('click', () => selectStaff(b, s.username));
        return h('li', { dataset: { user: s.username } }, b, ' ', t(`role.${s.role}`, null, s.role), ' · ', s.store, ' ',
          s.status === 'suspended' ? badge(t('staff.suspended'), 'bad') : null);
      }))
      : null;
    let detail = null;
    if (st.activity) {
      const a = st.activity;
      const suspend = h('button', { type: 'button', class: 'danger', id: 'suspend' }, t('staff.suspend'));
      const resume = h('button', { type: 'button', class: 'primary', id: 'resume' }, t('staff.resume'));
      for (const [b, verb] of [[suspend, 'suspend'], [resume, 'resume']]) {
        b.addEventListener('click', () => busy(b, async () => {
          await app.api('POST', `/v1/staff/${encodeURIComponent(a.username)}/${verb}`);
          showInfo(t(verb === 'suspend' ? 'staff.didSuspend' : 'staff.didResume', { who: a.username }));
          st.activity = await app.api('GET', `/v1/staff/${encodeURIComponent(a.username)}/activity`);
          st.staff = null;
          app.rerender();
        }));
      }
      detail = activityView(a, [
        h('div', { class: 'row' }, a.status === 'suspended' ? resume : suspend),
        h('h4', null, t('chart.title')),
        chartBlock(a)]);
    }
    return h('div', { class: 'columns' },
      h('aside', { class: 'side-col' }, card(t('staff.title'), { id: 'staff' }, list, form)),
      h('div', { class: 'main-col' }, detail ? card(null, { id: 'staff-detail' }, detail) : null));
  }

  function chartBlock(a) {
    if (!st.scan) return h('p', { class: 'muted', id: 'chart-loading' }, t('common.loading'));
    const peers = peersOf(a);
    const data = dailyReveals(st.scan.entries, a.username, peers, 14);
    return h('div', { class: 'chart' }, revealsChart(data, {
      who: a.username, peersLabel: t('chart.peers', { n: peers.length, role: t(`role.${a.role}`, null, a.role) }),
      title: t('chart.title'), youLabel: a.username, maxLabel: t('chart.peerMax'),
    }), h('p', { class: 'muted small' }, t('chart.from', { n: st.scan.entries.length })));
  }

  function peersOf(a) {
    if (st.staff && st.staff.length) {
      return st.staff.filter((s) => s.role === a.role && s.username !== a.username).map((s) => s.username);
    }
    const names = new Set();
    for (const e of st.scan.entries) if (e.role === a.role && e.actor !== a.username) names.add(e.actor);
    return [...names];
  }

  function selectStaff(button, who) {
    if (!who) return undefined;
    return busy(button, async () => {
      st.who = who;
      st.activity = await app.api('GET', `/v1/staff/${encodeURIComponent(who)}/activity`);
      app.rerender();
      if (!st.scan || Date.now() - st.scan.at > 60000) {
        st.scan = await scanEntries();
        app.rerender();
      }
    });
  }

  // The newest SCAN_MAX audit entries (for the chart).
  async function scanEntries() {
    const cp = await checkpoint();
    const end = cp.size;
    const start = Math.max(0, end - SCAN_MAX);
    const entries = [];
    for (let i = start; i < end; i += 5000) {
      const r = await app.api('GET', `/v1/audit/entries?start=${i}&end=${Math.min(end, i + 5000)}`);
      entries.push(...(r.entries || []));
    }
    return { at: Date.now(), entries };
  }

  // --- the audit explorer -----------------------------------------------------------------
  async function checkpoint() {
    if (vkey === null) vkey = await app.api('GET', '/v1/audit/key');
    const note = await app.api('GET', '/v1/audit/checkpoint');
    return verifyCheckpoint(note, vkey);
  }

  async function loadAudit() {
    const A = st.audit;
    A.busy = true;
    A.rows = 'loading';
    app.rerender();
    try {
      await fetchAndVerify(A);
    } finally {
      A.busy = false;
      app.rerender();
    }
  }

  async function fetchAndVerify(A) {
    A.rows = 'loading';
    A.cp = null;
    A.cpError = null;
    try {
      let entries = [];
      if (A.mode === 'latest') {
        const note = await app.api('GET', '/v1/audit/checkpoint');
        const size = Number(String(note).split('\n')[1]) || 0;
        const r = await app.api('GET', `/v1/audit/entries?start=${Math.max(0, size - PAGE)}&end=${size}`);
        entries = (r.entries || []).reverse();
      } else if (A.mode === 'range') {
        const s = Number(A.start) || 0;
        const e = A.end === '' ? s + PAGE : Number(A.end);
        entries = (await app.api('GET', `/v1/audit/entries?start=${s}&end=${e}`)).entries || [];
      } else if (A.mode === 'indexes') {
        for (const i of A.indexes || []) {
          entries.push(...((await app.api('GET', `/v1/audit/entries?start=${i}&end=${i + 1}`)).entries || []));
        }
      } else {
        const key = A.mode === 'staff' ? 'staff' : 'customer_id';
        entries = (await app.api('GET', `/v1/audit/search?${key}=${encodeURIComponent(A.query)}&limit=100`)).entries || [];
      }
      A.rows = entries.map((entry) => ({ entry, state: 'pending', why: '', leaf: null }));
    } catch (e) {
      A.rows = [];
      app.rerender();
      throw e;
    }
    app.rerender();
    await verifyRows();
  }

  async function verifyRows() {
    const A = st.audit;
    try {
      A.cp = await checkpoint();
    } catch (e) {
      A.cpError = e.message || String(e);
      for (const r of A.rows) { r.state = false; r.why = A.cpError; }
      app.rerender();
      return;
    }
    const rows = A.rows.filter((r) => r.entry.index < A.cp.size);
    for (let i = 0; i < rows.length; i += 8) {
      await Promise.all(rows.slice(i, i + 8).map(async (r) => {
        try {
          const p = await app.api('GET', `/v1/audit/proof/inclusion?index=${r.entry.index}&tree_size=${A.cp.size}`);
          const v = await verifyEntry(r.entry, r.entry.index, p.audit_path || [], A.cp);
          r.state = v.ok;
          r.why = v.why;
          r.leaf = v.leaf;
        } catch (e) {
          r.state = false;
          r.why = e.message || String(e);
        }
      }));
    }
    app.rerender();
  }

  function auditCard() {
    const A = st.audit;
    const mode = h('select', { id: 'audit-mode', onchange: (e) => { A.mode = e.target.value; app.rerender(); } },
      ['latest', 'range', 'staff', 'customer'].map((m) => h('option', { value: m, selected: A.mode === m }, t(`audit.mode.${m}`))));
    const inputs = [];
    if (A.mode === 'range') {
      inputs.push(field(t('audit.start'), h('input', { id: 'audit-start', type: 'number', min: 0, value: A.start,
        oninput: (e) => { A.start = e.target.value; } })));
      inputs.push(field(t('audit.end'), h('input', { id: 'audit-end', type: 'number', min: 0, value: A.end,
        oninput: (e) => { A.end = e.target.value; } })));
    } else if (A.mode === 'staff' || A.mode === 'customer') {
      inputs.push(field(t(`audit.query.${A.mode}`), h('input', { id: 'audit-query', value: A.query, required: true,
        oninput: (e) => { A.query = e.target.value.trim(); } })));
    }
    const go = h('button', { type: 'submit', class: 'primary', id: 'audit-load' }, t('audit.load'));
    const form = h('form', { class: 'row', id: 'audit-form', onsubmit: (e) => {
      e.preventDefault();
      busy(go, loadAudit);
    } }, field(t('audit.show'), mode), inputs, go);
    let status = null;
    if (A.cp) {
      status = h('p', { id: 'checkpoint-status', class: 'cp good', dataset: { verified: 'true' } },
        `✓ ${t('audit.cpVerified', { size: A.cp.size, origin: A.cp.origin, key: A.cp.keyIdHex })}`);
    } else if (A.cpError) {
      status = h('p', { id: 'checkpoint-status', class: 'cp bad', dataset: { verified: 'false' } },
        `✗ ${t('audit.cpFailed')} (${A.cpError})`);
    }
    let body;
    if (A.rows === null || A.rows === 'loading') body = h('p', { class: 'muted' }, t('common.loading'));
    else if (A.rows.length === 0) body = h('p', { class: 'muted', id: 'audit-none' }, t('audit.none'));
    else body = entriesTable(A.rows);
    const summary = Array.isArray(A.rows) && A.rows.length && A.cp
      ? h('p', { id: 'audit-summary', class: 'summary' }, t('audit.summary', {
        ok: A.rows.filter((r) => r.state === true).length,
        bad: A.rows.filter((r) => r.state === false).length,
        pending: A.rows.filter((r) => r.state === 'pending').length }))
      : null;
    return card(t('audit.title'), { id: 'audit', dataset: { state: A.busy ? 'busy' : 'done', mode: A.mode } }, form, h('p', { class: 'muted small' }, t('audit.explain')),
      status, summary, body);
  }

  function entriesTable(rows) {
    // What is shown is what the leaf says once it is proven; the server's
    // decoding until then.
    const v = (r, k) => (r.leaf && r.state === true ? r.leaf[k] : r.entry[k]);
    return table([
      { key: 'index', label: '#', cell: (r) => String(r.entry.index) },
      { key: 'time', label: t('audit.time'), cell: (r) => fmtTime(v(r, 'time')) },
      { key: 'actor', label: t('audit.actor'), cell: (r) => `${v(r, 'actor') ?? ''} (${t(`role.${v(r, 'role')}`, null, v(r, 'role') ?? '')})` },
      { key: 'store', label: t('audit.store'), cell: (r) => v(r, 'store') ?? '' },
      { key: 'action', label: t('audit.action'), cell: (r) => t(`action.${v(r, 'action')}`, null, v(r, 'action')) },
      { key: 'decision', label: t('audit.decision'), cell: (r) => decisionBadge(v(r, 'decision')) },
      { key: 'fields', label: t('audit.fields'), cell: (r) => fmtValue(v(r, 'fields')) },
      { key: 'reasons', label: t('audit.reasons'), cell: (r) => fmtValue(v(r, 'reasons')) },
      { key: 'case', label: t('audit.case'), cell: (r) => v(r, 'case_id') ?? '' },
      { key: 'proof', label: t('audit.proof'), cell: (r) => proofBadge(r.state, r.why) },
    ], rows, (r) => ({ class: 'entry', dataset: { index: r.entry.index, verified: String(r.state) } }),
    { id: 'audit-table', class: 'compact' });
  }

  // --- leak trace -------------------------------------------------------------------------
  function traceCard() {
    const T = st.trace;
    const file = h('input', { type: 'file', id: 'trace-file', accept: '.csv,.jsonl,.json,.txt,text/*' });
    const go = h('button', { type: 'submit', class: 'primary', id: 'trace-run' }, t('trace.run'));
    const form = h('form', { class: 'row', id: 'trace-form', onsubmit: (e) => {
      e.preventDefault();
      const f = file.files && file.files[0];
      if (!f) { showInfo(t('trace.pick')); return; }
      busy(go, async () => {
        T.fileName = f.name;
        try {
          T.result = await app.api('POST', '/v1/trace', { body: { data: await f.text() } });
        } catch (err) {
          if (err.missingEndpoint) { T.missing = true; app.rerender(); return; }
          throw err;
        }
        app.rerender();
      });
    } }, field(t('trace.file'), file), go);
    return card(t('trace.title'), { id: 'trace' }, h('p', { class: 'muted' }, t('trace.explain')), form,
      T.missing ? h('p', { class: 'note', id: 'trace-unavailable' }, t('trace.unavailable')) : null,
      T.result ? traceResult(T.result) : null);
  }

  function traceResult(r) {
    const c = r.customers || {};
    const ids = r.identifiers || {};
    const lines = r.lines || {};
    return h('div', { id: 'trace-result' },
      h('h3', null, st.trace.fileName),
      h('p', { class: 'summary' }, t('trace.summary', {
        lines: lines.read ?? 0, found: ids.found ?? 0, matched: ids.matched ?? 0,
        customers: c.matched ?? 0, revealed: c.revealed ?? 0, staff: r.staff_considered ?? 0 })),
      (r.canaries || []).length
        ? h('p', { class: 'note bad', id: 'trace-canaries' }, t('trace.canaries', { n: r.canaries.length,
          who: [...new Set(r.canaries.flatMap((x) => x.revealed_by || []))].join(', ') }))
        : null,
      (r.suspects || []).length === 0
        ? h('p', { class: 'muted' }, t('trace.noSuspects'))
        : table([
          { key: 'rank', label: '#' },
          { key: 'staff', label: t('trace.staff') },
          { key: 'probability', label: t('trace.probability'), cell: (s) => probBar(s.probability) },
          { key: 'records', label: t('trace.records') },
          { key: 'sole_records', label: t('trace.sole') },
          { key: 'canaries', label: t('trace.canaryHits') },
          { key: 'cases', label: t('trace.cases'), cell: (s) => String(s.cases?.count ?? '') },
          { key: 'examples', label: t('trace.examples'), cell: (s) => (s.examples || []).map((x) => {
            const b = h('button', { type: 'button', class: 'link example' }, `#${x.leaf_index}`);
            b.addEventListener('click', () => {
              st.tab = 'audit';
              Object.assign(st.audit, { mode: 'indexes', indexes: s.examples.map((e) => e.leaf_index), rows: null });
              app.rerender();
            });
            return [b, ' '];
          }) },
        ], r.suspects, (s) => ({ class: 'suspect', dataset: { staff: s.staff, rank: s.rank } }), { id: 'suspects', class: 'compact' }));
  }

  function probBar(p) {
    const pct = Math.round((p ?? 0) * 1000) / 10;
    const fill = h('div', { class: `fill ${pct >= 90 ? 'danger' : pct >= 50 ? 'warn' : 'ok'}` });
    fill.style.width = `${pct}%`;
    return h('div', { class: 'prob' }, h('div', { class: 'bar' }, fill), h('span', null, `${pct}%`));
  }

  return { title: () => t('app.securityTitle'), render };
}
