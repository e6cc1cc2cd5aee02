// Supervisors: the queue of investigations waiting for approval (approve or
// refuse; never one's own), co-signs for staff near a limit, and the team's
// activity.
import { h, $ } from '../dom.js';
import { t } from '../i18n.js';
import { card, field, busy, badge, fmtTime, showInfo } from '../ui.js';
import { statusKind } from './clerk.js';
import { activityView } from './security.js';

export function create(app) {
  const st = {
    queue: null, queueMissing: false, caseId: '', shown: null,
    staff: null, staffMissing: false, allStores: false, who: null, activity: null,
  };

  function render(root) {
    root.replaceChildren(
      h('div', { class: 'columns even' },
        h('div', { class: 'main-col' }, queueCard(), h('div', { id: 'case-slot' }, caseCard())),
        h('div', { class: 'main-col' }, teamCard())));
    if (st.queue === null && !st.queueMissing) loadQueue();
    if (st.staff === null && !st.staffMissing) loadStaff();
  }

  async function loadQueue() {
    try {
      const r = await app.api('GET', '/v1/cases?status=pending_approval');
      st.queue = r.cases || [];
    } catch (e) {
      if (e.missingEndpoint) st.queueMissing = true;
      else st.queue = [];
    }
    app.rerender();
  }

  async function loadStaff() {
    try {
      const r = await app.api('GET', '/v1/staff');
      st.staff = r.staff || [];
    } catch (e) {
      if (e.missingEndpoint) st.staffMissing = true;
      else st.staff = [];
    }
    app.rerender();
  }

  // --- approvals -------------------------------------------------------------------
  function queueCard() {
    const idInput = h('input', { id: 'case-id', value: st.caseId, placeholder: 'K-…', required: true,
      oninput: (e) => { st.caseId = e.target.value.trim(); } });
    const go = h('button', { type: 'submit', id: 'case-open' }, t('queue.review'));
    const form = h('form', { class: 'row', id: 'case-form', onsubmit: (e) => {
      e.preventDefault();
      showCase(go, st.caseId);
    } }, field(t('queue.caseId'), idInput), go);
    let list;
    if (st.queueMissing) {
      list = h('p', { class: 'note', id: 'queue-unavailable' }, t('queue.unavailable'));
    } else if (st.queue === null) {
      list = h('p', { class: 'muted' }, t('common.loading'));
    } else if (st.queue.length === 0) {
      list = h('p', { class: 'muted', id: 'queue-empty' }, t('queue.empty'));
    } else {
      list = h('ul', { class: 'plain', id: 'queue-list' }, st.queue.map((c) => {
        const b = h('button', { type: 'button', class: 'link' }, c.case_id);
        b.addEventListener('click', () => showCase(b, c.case_id));
        return h('li', { class: 'queue-item', dataset: { case: c.case_id } }, b, ' ',
          t(`purpose.${c.purpose}`), ' · ', c.customer_id, ' · ', t('queue.by', { who: c.owner }),
          ' · ', fmtTime(c.created_at));
      }));
    }
    return card(t('queue.title'), { id: 'queue' }, list, form);
  }

  function showCase(button, id) {
    if (!id) return undefined;
    return busy(button, async () => {
      st.shown = await app.api('GET', `/v1/cases/${encodeURIComponent(id)}`);
      app.rerender();
    });
  }

  function caseCard() {
    const c = st.shown;
    if (!c) return h('div');
    const path = `/v1/cases/${encodeURIComponent(c.case_id)}`;
    const approve = h('button', { type: 'button', class: 'primary', id: 'approve' }, t('queue.approve'));
    const refuse = h('button', { type: 'button', class: 'danger', id: 'refuse' }, t('queue.refuse'));
    const cosign = h('button', { type: 'button', id: 'cosign' }, t('queue.cosign'));
    approve.addEventListener('click', () => busy(approve, async () => {
      const r = await app.api('POST', `${path}/approve`);
      Object.assign(c, r);
      afterDecision();
    }));
    refuse.addEventListener('click', () => busy(refuse, async () => {
      try {
        const r = await app.api('POST', `${path}/refuse`);
        Object.assign(c, r || { status: 'refused' });
        afterDecision();
      } catch (e) {
        if (e.missingEndpoint) showInfo(t('queue.refuseUnavailable'));
        else throw e;
      }
    }));
    cosign.addEventListener('click', () => busy(cosign, async () => {
      const r = await app.api('POST', `${path}/cosign`);
      c.cosigned_by = r.cosigned_by;
      c.cosigned_until = r.until;
      app.rerender();
      showInfo(t('queue.cosigned', { id: c.case_id }));
    }));
    const pending = c.status === 'pending_approval';
    return card(t('case.title', { id: c.case_id }), { id: 'review', dataset: { status: c.status, case: c.case_id } },
      h('dl', { class: 'facts' },
        h('dt', null, t('case.purpose')), h('dd', null, t(`purpose.${c.purpose}`)),
        h('dt', null, t('case.customer')), h('dd', null, c.customer_id),
        h('dt', null, t('case.owner')), h('dd', null, `${c.owner} · ${c.store || ''}`),
        c.reason ? [h('dt', null, t('case.reason')), h('dd', null, c.reason)] : null,
        h('dt', null, t('case.status')), h('dd', null, badge(t(`status.${c.status}`), statusKind(c.status), { id: 'review-status' })),
        h('dt', null, t('case.opened')), h('dd', null, fmtTime(c.created_at)),
        c.approved_by ? [h('dt', null, t('case.approvedBy')), h('dd', null, c.approved_by)] : null,
        c.cosigned_by ? [h('dt', null, t('case.cosignedBy')), h('dd', null, `${c.cosigned_by} · ${fmtTime(c.cosigned_until)}`)] : null),
      h('div', { class: 'row' }, pending ? [approve, refuse] : null,
        ['verified', 'approved'].includes(c.status) ? cosign : null),
      h('p', { class: 'muted small' }, t(pending ? 'queue.explain' : 'queue.cosignExplain')));
  }

  function afterDecision() {
    if (st.queue) st.queue = st.queue.filter((q) => q.case_id !== st.shown.case_id);
    app.rerender();
  }

  // --- team ------------------------------------------------------------------------
  function teamCard() {
    const whoInput = h('input', { id: 'team-user', value: st.who || '', placeholder: t('team.username'),
      required: true });
    const go = h('button', { type: 'submit', id: 'team-show' }, t('team.show'));
    const form = h('form', { class: 'row', onsubmit: (e) => {
      e.preventDefault();
      showActivity(go, whoInput.value.trim());
    } }, field(t('team.username'), whoInput), go);
    let list = null;
    if (st.staff) {
      const mine = st.staff.filter((s) => st.allStores || s.store === app.me.store);
      const all = h('input', { type: 'checkbox', checked: st.allStores,
        onchange: (e) => { st.allStores = e.target.checked; app.rerender(); } });
      list = [h('label', { class: 'check' }, all, t('team.allStores')),
        h('ul', { class: 'plain team', id: 'team-list' }, mine.map((s) => {
          const b = h('button', { type: 'button', class: 'link' }, s.username);
          b.addEventListener('click', () => showActivity(b, s.username));
          return h('li', { dataset: { user: s.username } }, b, ' ', t(`role.${s.role}`), ' · ', s.store, ' ',
            s.status === 'suspended' ? badge(t('staff.suspended'), 'bad') : null);
        }))];
    }
    return card(t('team.title'), { id: 'team' }, list, form,
      st.activity ? activityView(st.activity, null) : null);
  }

  function showActivity(button, who) {
    if (!who) return undefined;
    return busy(button, async () => {
      st.who = who;
      st.activity = await app.api('GET', `/v1/staff/${encodeURIComponent(who)}/activity`);
      app.rerender();
    });
  }

  return { title: () => t('app.supervisorTitle'), render };
}
