// Staff log-in: username, password and the authenticator's 6-digit code;
// on the first log-in, the one-time password is changed before anything
// else, then the authenticator is re-enrolled with a secret only the staff
// member sees (the one `staff add` printed is known to whoever added them).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { call } from '../api.js';
import { card, field, busy, showInfo } from '../ui.js';

export function create(app) {
  const st = { step: 'login', username: '', password: '', totp: '', pending: null };

  function render(root) {
    root.replaceChildren(st.step === 'login' ? loginForm()
      : st.step === 'password' ? passwordForm() : enrolForm());
    const first = root.querySelector('input');
    if (first) first.focus();
  }

  function loginForm() {
    const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true,
      value: st.username, oninput: (e) => { st.username = e.target.value; } });
    const pass = h('input', { id: 'password', name: 'password', type: 'password', required: true,
      autocomplete: 'current-password', oninput: (e) => { st.password = e.target.value; } });
    const totp = h('input', { id: 'totp', name: 'totp', inputmode: 'numeric', pattern: '[0-9]{6}',
      maxlength: 6, autocomplete: 'one-time-code', required: true,
      oninput: (e) => { st.totp = e.target.value.trim(); } });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t('login.submit'));
    const form = h('form', { id: 'login-form', class: 'stack',
      onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          let r;
          try {
            r = await call('POST', '/v1/login',
              { body: { username: st.username.trim(), password: st.password, totp: st.totp } });
          } catch (err) {
            // too many failed sign-ins: say so, not the reveal-limit message
            if (err.status === 429) err.slug = 'login-throttled';
            throw err;
          }
          if (r.must_change_password) {
            st.pending = r;
            st.step = 'password';
            app.rerender();
            showInfo(t('login.mustChange'));
            return;
          }
          st.password = '';
          await app.signedIn(r.token);
        });
      } },
    field(t('login.username'), user),
    field(t('login.password'), pass),
    field(t('login.totp'), totp, t('login.totpHint')),
    submit);
    return card(t('login.title'), { id: 'login', class: 'narrow' },
      h('p', { class: 'lead' }, t('login.lead')), form);
  }

  function passwordForm() {
    const a = h('input', { id: 'new-password', type: 'password', minlength: 12, required: true,
      autocomplete: 'new-password' });
    const b = h('input', { id: 'new-password-again', type: 'password', minlength: 12, required: true,
      autocomplete: 'new-password' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'password-submit' }, t('password.submit'));
    const form = h('form', { id: 'password-form', class: 'stack',
      onsubmit: (e) => {
        e.preventDefault();
        if (a.value !== b.value) {
          showInfo(t('password.mismatch'));
          return;
        }
        busy(submit, async () => {
          await call('POST', '/v1/password',
            { body: { old: st.password, new: a.value }, token: st.pending.token });
          st.password = '';
          st.enrol = await call('POST', '/v1/totp/enrol', { token: st.pending.token });
          st.step = 'enrol';
          app.rerender();
        });
      } },
    field(t('password.new'), a, t('password.hint')),
    field(t('password.again'), b),
    submit);
    return card(t('password.title'), { id: 'password-change', class: 'narrow' },
      h('p', { class: 'lead' }, t('password.lead')), form);
  }

  function enrolForm() {
    const done = async () => {
      const token = st.pending.token;
      st.step = 'login';
      st.pending = null;
      st.enrol = null;
      await app.signedIn(token);
    };
    const code = h('input', { id: 'enrol-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6,
      autocomplete: 'one-time-code', required: true });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'enrol-submit' }, t('enrol.submit'));
    const skip = h('button', { type: 'button', id: 'enrol-skip', onclick: () => busy(skip, done) }, t('enrol.skip'));
    const form = h('form', { id: 'enrol-form', class: 'stack',
      onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          await call('POST', '/v1/totp/confirm',
            { body: { enrolment: st.enrol.enrolment, code: code.value.trim() }, token: st.pending.token });
          await done();
          showInfo(t('enrol.done'));
        });
      } },
    h('img', { id: 'enrol-qr', alt: t('enrol.qr'), width: 200, height: 200,
      src: 'data:image/svg+xml;base64,' + btoa(st.enrol.qr_svg) }),
    h('p', {}, t('enrol.secret'), ' ', h('code', { id: 'enrol-secret' }, st.enrol.totp_secret)),
    field(t('enrol.code'), code),
    h('div', { class: 'row' }, submit, skip));
    return card(t('enrol.title'), { id: 'enrol', class: 'narrow' },
      h('p', { class: 'lead' }, t('enrol.lead')), form);
  }

  return { title: () => t('app.staffTitle'), render };
}
