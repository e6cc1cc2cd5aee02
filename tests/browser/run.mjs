// Browser tests of the web console (TAP): Debian's chromium driven by
// playwright-core against a real `custodian serve` on a fresh data folder
// per scenario.  Screenshots go to $BUILD/browser-artifacts/.
//
//   CUSTODIAN=build/custodian BUILD=build node tests/browser/run.mjs [NAME...]
import { chromium } from 'playwright-core';
import { ok, diag, done, Vault, watch, uiLogin, shot, totp } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });

// --- serving ---------------------------------------------------------------------------------

scenario('serving', async ({ v }) => {
  const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  for (const path of ['/', '/me', '/js/main.js', '/css/app.css']) {
    const r = await v.http('GET', path);
    ok(r.status === 200, `GET ${path}: 200`, `got ${r.status}`);
    ok(r.headers.get('content-security-policy') === csp, `GET ${path}: the strict Content-Security-Policy`,
      r.headers.get('content-security-policy'));
    ok(r.headers.get('x-frame-options') === 'DENY' && r.headers.get('x-content-type-options') === 'nosniff' &&
      r.headers.get('referrer-policy') === 'no-referrer', `GET ${path}: X-Frame-Options, nosniff, no referrer`);
  }
  const index = await v.http('GET', '/');
  ok(/text\/html/.test(index.headers.get('content-type')) && index.text.includes('/js/main.js'),
    'the console is index.html, loading its script from a file');
  ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(index.text) && !/\son[a-z]+=/i.test(index.text) && !/style=/i.test(index.text),
    'index.html holds no inline script, handler or style');
  ok((await v.http('GET', '/js/main.js')).headers.get('content-type').startsWith('text/javascript'),
    'scripts are served as text/javascript');
  const etag = index.headers.get('etag');
  const again = await fetch(`${v.url}/`, { headers: { 'If-None-Match': etag } });
  ok(etag && again.status === 304, 'an ETag, and 304 when it matches', `etag ${etag}, status ${again.status}`);
  const route = await v.http('GET', '/security/alerts');
  ok(route.status === 200 && route.text === index.text, 'a console route serves index.html');
  const missing = await v.http('GET', '/js/no-such-file.js');
  ok(missing.status === 404, 'a missing file: 404', `got ${missing.status}`);
  const api404 = await v.http('GET', '/v1/no-such-endpoint');
  ok(api404.status === 404 && /problem\+json/.test(api404.headers.get('content-type')),
    'an unknown /v1 path stays a JSON 404');
  const key = await v.http('GET', '/v1/audit/key');
  ok(key.status === 200 && key.text.trim() === v.cu('audit', 'key').trim(),
    'GET /v1/audit/key serves the verifier key, as `custodian audit key`');
});

// --- the clerk --------------------------------------------------------------------------------

scenario('clerk serves a customer', async ({ v, page, problems }) => {
  const c = v.customers[4];
  await page.goto(`${v.url}/`);
  await page.fill('#username', 'nobody');
  await page.fill('#password', 'not-a-password');
  await page.fill('#totp', '123456');
  await page.click('#login-submit');
  await page.waitForSelector('#message[data-slug="unauthorized"]');
  ok((await page.textContent('#message')).includes('sign-in details are not right'), 'a failed sign-in: a plain message');
  await uiLogin(page, v, 'alice', 'clerk', 'SZ-014');
  ok(await page.isVisible('#lookup-form'), 'after the first log-in and password change, the counter view');
  ok(await page.textContent('#who') === 'alice · Clerk · SZ-014', 'the header names the clerk, role and store');
  await page.waitForSelector('#usage [data-meter="reveals-hour"]');
  ok(true, 'the usage meter shows');

  await page.selectOption('#lookup-kind', 'device');
  await page.fill('#lookup-value', c.devices[0].imei);
  await page.click('#lookup-submit');
  const result = page.locator(`.result[data-customer="${c.customer_id}"]`);
  await result.waitFor();
  const masked = await result.locator('[data-field="name"]').textContent();
  ok(masked.startsWith(c.name[0]) && masked.includes('*') && masked !== c.name,
    'the device look-up finds the customer, name masked', masked);
  ok(!(await page.textContent('body')).includes(c.phone[0]), 'no full phone before a case');

  await result.locator('.open-case').click();
  await page.waitForSelector('#case[data-status="awaiting_verification"]');
  const caseId = await page.getAttribute('#case', 'data-case');
  const p = c.phone[0];
  ok((await page.textContent('#verify-form')).includes(`${p.slice(0, 3)} ${p.slice(3, 6)}****${p.slice(-4)}`),
    'the case says which masked phone the code went to');
  await page.fill('#code', await v.caseCode(caseId));
  await page.click('#verify');
  await page.waitForSelector('#case[data-status="verified"]');
  ok(true, 'the code the customer reads out verifies the case');

  for (const f of ['name', 'phone', 'email', 'account', 'address', 'birth_date', 'devices']) {
    await page.setChecked(`.reveal-field[value="${f}"]`, f === 'name' || f === 'phone');
  }
  await page.click('#reveal');
  await page.waitForSelector('#revealed');
  ok(await page.textContent('#revealed [data-field="name"]') === c.name, 'the reveal shows the right name');
  ok((await page.textContent('#revealed [data-field="phone"]')).includes(c.phone[0]), 'and the right phone');
  ok(await page.locator('#revealed [data-field="email"]').count() === 0, 'and only the fields ticked');
  await page.waitForFunction(() => document.querySelector('#usage-today')?.textContent.match(/1\D+1/));
  ok(true, '"my usage today" counts the look-up and the reveal');
  ok(/#\d+/.test(await page.textContent('#reveal-audit')), 'the audit log entry of the reveal is named');

  const stored = await page.evaluate(() => ({
    local: Object.keys(localStorage), session: sessionStorage.length, cookie: document.cookie }));
  ok(stored.local.every((k) => k === 'custodian.lang') && stored.session === 0 && stored.cookie === '',
    'the session token is in memory only: no storage, no cookie', JSON.stringify(stored));
  await shot(page, 'staff');
  await page.reload();
  await page.waitForSelector('#login-form');
  ok(true, 'a reload signs out (the token was in memory only)');
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
});

// --- harvesting ---------------------------------------------------------------------------------

scenario('harvesting is blocked and alerted', async ({ v, page, browser, problems }) => {
  const c = v.customers[2];
  // two peers at the same counter, for the chart
  await v.serve(await v.session('peggy', 'clerk', 'SZ-014'), v.customers[10]);
  const pete = await v.session('pete', 'clerk', 'SZ-014');
  await v.serve(pete, v.customers[11]);
  await v.serve(pete, v.customers[12]);
  await uiLogin(page, v, 'mallory', 'clerk', 'SZ-014');
  await page.selectOption('#lookup-kind', 'phone');
  await page.fill('#lookup-value', c.phone[0]);
  await page.click('#lookup-submit');
  await page.locator(`.result[data-customer="${c.customer_id}"] .open-case`).click();
  await page.waitForSelector('#case[data-status="awaiting_verification"]');
  await page.fill('#code', await v.caseCode(await page.getAttribute('#case', 'data-case')));
  await page.click('#verify');
  await page.waitForSelector('#reveal');
  let blockedAt = 0;
  for (let i = 1; i <= 8 && !blockedAt; i++) {
    await page.click('#reveal');
    await page.waitForFunction((n) => {
      const m = document.querySelector('#message');
      return (m && !m.hidden && m.dataset.slug) || document.querySelector('#revealed');
    }, i);
    const slug = await page.getAttribute('#message', 'data-slug');
    if (slug === 'limit-reached') blockedAt = i;
    else await page.evaluate(() => document.querySelector('#revealed')?.remove());
  }
  ok(blockedAt > 1, `repeated reveals are blocked (at reveal ${blockedAt})`);
  const msg = await page.textContent('#message');
  ok(msg.includes('Limit reached') && msg.includes('security team'), 'with the friendly limit message', msg);
  ok(!(await page.isVisible('#revealed')), 'and no data');
  await shot(page, 'harvesting-blocked');

  const ctx = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  const sec = await ctx.newPage();
  const secProblems = watch(sec);
  await uiLogin(sec, v, 'sam', 'security', 'HQ');
  const alert = sec.locator('article.alert[data-staff="mallory"]').first();
  await alert.waitFor();
  ok(true, 'the alert appears on the security dashboard');
  const sev = await alert.getAttribute('class');
  ok(/sev-(high|critical)/.test(sev), 'as high or critical', sev);
  ok((await alert.textContent()).length > 20, 'with its rule and detail', await alert.textContent());
  await shot(sec, 'security-alerts');
  await alert.locator('button.evidence').click();
  await sec.waitForSelector('#audit[data-state="done"][data-mode="indexes"] #audit-table');
  const evidence = await sec.locator('#audit-table tr.entry').count();
  const verified = await sec.locator('#audit-table tr.entry[data-verified="true"]').count();
  ok(evidence > 0 && (await sec.locator('#audit-table tr.entry[data-verified="pending"]').count()) === 0,
    `the alert's evidence opens in the audit explorer (${evidence} entries)`);
  ok(verified === evidence, 'each evidence entry verified in the browser', `${verified} of ${evidence}`);
  ok((await sec.textContent('#audit-table')).includes('mallory'), 'the entries are mallory\'s');

  await sec.click('#tab-staff');
  await sec.locator('#staff-list li[data-user="mallory"] button').click();
  await sec.waitForSelector('#activity[data-user="mallory"]');
  await sec.waitForSelector('#reveals-chart');
  const total = Number(await sec.getAttribute('#reveals-chart', 'data-total'));
  ok(total === blockedAt - 1, `the chart counts mallory's allowed reveals today (${total})`);
  const legend = await sec.textContent('#reveals-chart');
  ok(legend.includes('median of 2 peers'), 'against her two peers at the counter', legend);
  const peerDots = await sec.locator('#reveals-chart circle.dot-median').evaluateAll((l) => l.map((c) => c.getAttribute('cy')));
  ok(new Set(peerDots).size === 2, 'whose median is zero every day but today');
  const status = await sec.getAttribute('#activity', 'data-status');
  if (status === 'suspended') {
    await sec.click('#resume');
    await sec.waitForSelector('#activity[data-status="active"]');
    ok(true, 'the burst suspended mallory; security resumes the account');
  } else {
    await sec.click('#suspend');
    await sec.waitForSelector('#activity[data-status="suspended"]');
    ok(true, 'security suspends mallory');
  }
  const list = JSON.parse(v.cu('--json', 'staff', 'list')).staff.find((s) => s.username === 'mallory');
  ok(list && list.status === (status === 'suspended' ? 'active' : 'suspended'), 'the store agrees', JSON.stringify(list));
  await shot(sec, 'security');
  ok(problems.length === 0 && secProblems.length === 0, 'no script error and no CSP violation', ...problems, ...secProblems);
  await ctx.close();
});

// --- the audit explorer ------------------------------------------------------------------------------

scenario('audit proofs verify in the browser', async ({ v, page, problems }) => {
  const clerk = await v.session('bob', 'clerk', 'SZ-020');
  await v.serve(clerk, v.customers[1]);
  await v.serve(clerk, v.customers[3]);
  await uiLogin(page, v, 'sara', 'security', 'HQ');
  await page.click('#tab-audit');
  await page.waitForSelector('#audit[data-state="done"] #checkpoint-status');
  const rows = await page.locator('#audit-table tr.entry').count();
  const good = await page.locator('#audit-table tr.entry[data-verified="true"]').count();
  ok(await page.getAttribute('#checkpoint-status', 'data-verified') === 'true',
    'the checkpoint\'s Ed25519 signature verifies (WebCrypto)', await page.textContent('#checkpoint-status'));
  ok(rows > 10 && good === rows, `every entry's inclusion proof verifies (${good} of ${rows})`);
  ok((await page.textContent('#audit-table')).includes('bob'), 'the clerk\'s entries are there');
  await shot(page, 'audit-verified');

  // one flipped byte in one proof
  const target = Number(await page.getAttribute('#audit-table tr.entry >> nth=3', 'data-index'));
  await page.route('**/v1/audit/proof/inclusion?*', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (Number(new URL(route.request().url()).searchParams.get('index')) === target && body.audit_path.length) {
      const bytes = Buffer.from(body.audit_path[0], 'base64');
      bytes[5] ^= 1;
      body.audit_path[0] = bytes.toString('base64');
    }
    await route.fulfill({ response: res, json: body });
  });
  await page.click('#audit-load');
  await page.waitForSelector(`#audit-table tr.entry[data-index="${target}"][data-verified="false"]`);
  ok(true, 'a proof with one byte flipped shows as NOT verified');
  ok((await page.textContent(`#audit-table tr.entry[data-index="${target}"] [data-col="proof"]`)).includes('NOT verified'),
    'in words');
  ok(await page.locator('#audit-table tr.entry[data-verified="false"]').count() === 1, 'and only that entry');
  await shot(page, 'audit-tampered');
  await page.unroute('**/v1/audit/proof/inclusion?*');

  // the server lying about what an entry says
  await page.route('**/v1/audit/entries?*', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    for (const e of body.entries) if (e.index === target && e.actor) e.actor = 'someone-else';
    await route.fulfill({ response: res, json: body });
  });
  await page.click('#audit-load');
  await page.waitForSelector(`#audit-table tr.entry[data-index="${target}"][data-verified="false"]`);
  ok(true, 'an entry shown unlike its logged bytes shows as NOT verified');
  await page.unroute('**/v1/audit/entries?*');

  // a forged checkpoint signature
  await page.route('**/v1/audit/checkpoint', async (route) => {
    const res = await route.fetch();
    const text = await res.text();
    const lines = text.split('\n');
    const sig = lines[lines.length - 2];
    const last = sig.length - 8;
    lines[lines.length - 2] = sig.slice(0, last) + (sig[last] === 'A' ? 'B' : 'A') + sig.slice(last + 1);
    await route.fulfill({ response: res, body: lines.join('\n') });
  });
  await page.click('#audit-load');
  await page.waitForSelector('#checkpoint-status[data-verified="false"]');
  ok(await page.locator('#audit-table tr.entry[data-verified="true"]').count() === 0,
    'a checkpoint with a forged signature: nothing shows as verified');
  await page.unroute('**/v1/audit/checkpoint');

  await page.selectOption('#audit-mode', 'staff');
  await page.fill('#audit-query', 'bob');
  await page.click('#audit-load');
  await page.waitForSelector('#audit[data-state="done"][data-mode="staff"] #audit-table');
  const actors = await page.locator('#audit-table td[data-col="actor"]').allTextContents();
  ok(actors.length >= 8 && actors.every((a) => a.startsWith('bob ')), `the search by staff lists bob's entries (${actors.length})`);
  ok(await page.locator('#audit-table tr.entry[data-verified="true"]').count() === actors.length, 'all verified',
    ...(await page.locator('#audit-table tr.entry:not([data-verified="true"])').evaluateAll((l) =>
      l.map((e) => `${e.dataset.index} ${e.dataset.verified} ${e.querySelector('[data-col="proof"] span').title}`))),
    await page.textContent('#checkpoint-status'));
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
});

// --- the supervisor -------------------------------------------------------------------------------------

scenario('supervisor approves an investigation', async ({ v, page, browser, problems }) => {
  const c = v.customers[5];
  // the agent, in a browser of their own, opens a fraud investigation
  const actx = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  const agent = await actx.newPage();
  const agentProblems = watch(agent);
  await uiLogin(agent, v, 'ann', 'agent', 'SZ-014');
  ok(await agent.textContent('#view-title') === 'Support desk', 'an agent gets the support desk');
  await agent.selectOption('#lookup-kind', 'email');
  await agent.fill('#lookup-value', c.email);
  await agent.click('#lookup-submit');
  const result = agent.locator(`.result[data-customer="${c.customer_id}"]`);
  await result.locator('select.purpose').selectOption('fraud_investigation');
  await result.locator('input.reason').fill(`about ${c.name}`);
  await result.locator('.open-case').click();
  await agent.waitForSelector('#message[data-slug="invalid-input"]');
  ok(true, 'a reason holding the customer\'s name is refused');
  await result.locator('input.reason').fill('chargeback ring, ticket 4411');
  await result.locator('.open-case').click();
  await agent.waitForSelector('#case[data-status="pending_approval"]');
  ok(true, 'the investigation waits for approval');
  const id = await agent.getAttribute('#case', 'data-case');
  ok(await agent.locator('#reveal').count() === 0, 'and offers no reveal yet');

  await uiLogin(page, v, 'sue', 'supervisor', 'SZ-014');
  await page.waitForSelector('#queue-list, #queue-unavailable, #queue-empty');
  if (await page.isVisible('#queue-list')) {
    await page.locator(`.queue-item[data-case="${id}"] button`).click();
    ok(true, 'the investigation is in the queue');
  } else {
    diag('the server has no list of pending cases: reviewing by case id');
    await page.fill('#case-id', id);
    await page.click('#case-open');
  }
  await page.waitForSelector(`#review[data-case="${id}"][data-status="pending_approval"]`);
  ok((await page.textContent('#review')).includes('ann'), 'the supervisor reviews it, naming the requester');
  await page.click('#team-list li[data-user="ann"] button');
  await page.waitForSelector('#activity[data-user="ann"]');
  ok((await page.textContent('#activity #recent')).includes('Case opened'), 'team activity shows the agent\'s case');
  await shot(page, 'supervisor');
  await page.click('#approve');
  await page.waitForSelector('#review[data-status="approved"]');
  ok(true, 'approve: the case is approved');

  await agent.click('#refresh-case');
  await agent.waitForSelector('#case[data-status="approved"]');
  for (const f of ['name', 'phone', 'address']) await agent.setChecked(`.reveal-field[value="${f}"]`, true);
  await agent.click('#reveal');
  await agent.waitForSelector('#revealed');
  ok(await agent.textContent('#revealed [data-field="address"]') === c.address, 'the agent reveals the address under it');
  ok(problems.length === 0 && agentProblems.length === 0, 'no script error and no CSP violation', ...problems, ...agentProblems);
  await actx.close();
});

scenario('near the limit, a supervisor co-signs', async ({ v, page, browser, problems }) => {
  await v.restart((p) => p.replace('"reveals_per_hour": 20,', '"reveals_per_hour": 3,'));
  const c = v.customers[13];
  await uiLogin(page, v, 'cleo', 'clerk', 'SZ-014');
  await page.selectOption('#lookup-kind', 'account');
  await page.fill('#lookup-value', c.account);
  await page.click('#lookup-submit');
  await page.locator(`.result[data-customer="${c.customer_id}"] .open-case`).click();
  await page.waitForSelector('#case[data-status="awaiting_verification"]');
  const id = await page.getAttribute('#case', 'data-case');
  await page.fill('#code', '000000' === (await v.caseCode(id)) ? '111111' : '000000');
  await page.click('#verify');
  await page.waitForSelector('#message[data-slug="code-incorrect"]');
  ok((await page.textContent('#message')).includes('not right'), 'a wrong code: the friendly message');
  await page.fill('#code', await v.caseCode(id));
  await page.click('#verify');
  await page.waitForSelector('#case[data-status="verified"]');
  for (let i = 0; i < 3; i++) {
    await page.click('#reveal');
    await page.waitForFunction(() => document.querySelector('#revealed') ||
      (document.querySelector('#message') && !document.querySelector('#message').hidden));
    if (await page.isVisible('#message')) break;
    await page.evaluate(() => document.querySelector('#revealed').remove());
  }
  ok(await page.getAttribute('#message', 'data-slug') === 'step-up-required', 'near the quota, a reveal asks for a co-sign');
  ok((await page.textContent('#message')).includes('supervisor must co-sign'), 'in plain words', await page.textContent('#message'));
  const sctx = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  const sup = await sctx.newPage();
  await uiLogin(sup, v, 'stan', 'supervisor', 'SZ-014');
  await sup.fill('#case-id', id);
  await sup.click('#case-open');
  await sup.waitForSelector(`#review[data-case="${id}"][data-status="verified"]`);
  await sup.click('#cosign');
  await sup.waitForSelector('#review dd >> text=stan');
  ok((await sup.textContent('#message')).includes('co-signed'), 'the supervisor co-signs the case');
  await sctx.close();
  await page.click('#reveal');
  await page.waitForSelector('#revealed');
  ok(await page.textContent('#revealed [data-field="name"]') === c.name, 'then the clerk\'s reveal goes through');
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
});

// --- the customer ----------------------------------------------------------------------------------------

scenario('customer sees their access history, verified', async ({ v, page, problems }) => {
  const c = v.customers[6];
  const clerk = await v.session('carl', 'clerk', 'SZ-014');
  await v.serve(clerk, c);
  await page.goto(`${v.url}/me`);
  await page.fill('#account', c.account);
  await page.click('#send-code');
  await page.waitForSelector('#subject-code');
  await page.fill('#subject-code', await v.signInCode(c.customer_id));
  await page.click('#subject-login');
  await page.waitForSelector('#subject-history[data-state="done"] #log-status');
  ok(await page.getAttribute('#log-status', 'data-verified') === 'true', 'the signed checkpoint verifies in the browser',
    await page.textContent('#log-status'));
  const rows = await page.locator('#access-log tr.access').count();
  const good = await page.locator('#access-log tr.access[data-verified="true"]').count();
  ok(rows === 4, `the customer sees the four accesses (look-up, case, verification, reveal): ${rows}`);
  ok(good === rows, `each shown as verified (${good} of ${rows})`);
  const text = await page.textContent('#access-log');
  ok(text.includes('Reveal') && text.includes('Name') && text.includes('SZ-014'), 'naming the reveal, its fields and the store');
  ok(!text.includes('carl') && /S-[A-Z2-7]{8}/.test(text), 'staff as a reference, never by name');
  await shot(page, 'customer');
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
});

// --- Chinese -------------------------------------------------------------------------------------------------

scenario('the Chinese UI', async ({ v, browser }) => {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = watch(page);
  await page.goto(`${v.url}/`);
  await page.waitForSelector('#login-form');
  ok(await page.evaluate(() => navigator.languages[0]) === 'zh-CN', 'a browser asking for zh-CN');
  ok(await page.textContent('#login h2') === '员工登录', 'gets the sign-in page in Chinese');
  ok(await page.getAttribute('html', 'lang') === 'zh-CN', 'with lang="zh-CN"');
  ok(await page.inputValue('#lang') === 'zh-CN', 'and the switch on 简体中文');
  await uiLogin(page, v, 'li', 'clerk', 'GZ-001');
  ok((await page.textContent('#lookup h2')) === '查找客户' && (await page.textContent('#usage h2')) === '我的使用量',
    'the counter view in Chinese');
  ok((await page.textContent('#who')).includes('店员'), 'roles too');
  await page.fill('#lookup-value', '490154203237518');
  await page.click('#lookup-submit');
  await page.waitForSelector('#message[data-slug="not-found"]');
  ok((await page.textContent('#message')).includes('未找到'), 'and the problem messages');
  await shot(page, 'chinese');
  await page.selectOption('#lang', 'en');
  ok(await page.textContent('#lookup h2') === 'Find a customer', 'the switch turns it to English');
  await page.selectOption('#lang', 'zh-CN');
  ok(await page.textContent('#lookup h2') === '查找客户', 'and back');
  const me = await ctx.newPage();
  await me.goto(`${v.url}/me`);
  await me.waitForSelector('#subject-sign-in');
  ok((await me.textContent('#subject-sign-in h2')) === '查看谁访问了您的数据', 'the customer page in Chinese');
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
  await ctx.close();
});

// --- the leak trace --------------------------------------------------------------------------------------------

scenario('leak trace', async ({ v, page, problems }) => {
  const clerk = await v.session('dave', 'clerk', 'SZ-014');
  const leaked = [v.customers[7], v.customers[8], v.customers[9]];
  for (const c of leaked) await v.serve(clerk, c);
  await v.serve(await v.session('erin', 'clerk', 'SZ-020'), leaked[0]);
  const file = leaked.map((c) => `${c.name},${c.phone[0]}`).join('\n');
  await uiLogin(page, v, 'tess', 'security', 'HQ');
  await page.click('#tab-trace');
  await page.setInputFiles('#trace-file', { name: 'leak.csv', mimeType: 'text/csv', buffer: Buffer.from(`name,phone\n${file}\n`) });
  await page.click('#trace-run');
  await page.waitForSelector('#trace-result, #trace-unavailable');
  if (!ok(!(await page.isVisible('#trace-unavailable')), 'the server traces leaks over the web (POST /v1/trace)')) return;
  const ranked = await page.locator('#suspects tr.suspect').evaluateAll((l) => l.map((r) => r.dataset.staff));
  ok(ranked[0] === 'dave', 'the clerk who revealed every leaked record ranks first', ranked.join(', '));
  ok(ranked[1] === 'erin' && ranked.length === 2, 'the one who revealed one of them second', ranked.join(', '));
  await shot(page, 'trace');
  await page.locator('#suspects tr.suspect >> nth=0 >> button.example').first().click();
  await page.waitForSelector('#audit[data-state="done"][data-mode="indexes"] #audit-table');
  const ex = await page.locator('#audit-table tr.entry').count();
  ok(ex > 0 && await page.locator('#audit-table tr.entry[data-verified="true"]').count() === ex,
    `a suspect's example entries open in the audit explorer, verified (${ex})`);
  ok(problems.length === 0, 'no script error and no CSP violation', ...problems);
});

// --- running ------------------------------------------------------------------------------------------------------

const only = process.argv.slice(2);
const start = Date.now();
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'] });
for (const s of scenarios) {
  if (only.length && !only.some((o) => s.name.includes(o))) continue;
  const t0 = Date.now();
  diag(`--- ${s.name}`);
  let v = null;
  let ctx = null;
  try {
    v = await Vault.create({ customers: 20, seed: 7 });
    ctx = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(15000);
    const page = await ctx.newPage();
    const problems = watch(page);
    await Promise.race([
      s.fn({ v, page, browser, problems }),
      new Promise((_, rej) => setTimeout(() => rej(new Error('scenario timed out (90 s)')), 90000)),
    ]);
  } catch (e) {
    ok(false, `${s.name}: ${e.message.split('\n')[0]}`, e.stack || e);
    try {
      const pages = ctx ? ctx.pages() : [];
      if (pages.length) await shot(pages[0], `FAILED-${s.name.replace(/\W+/g, '-')}`);
    } catch (e2) { /* best effort */ }
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    if (v) await v.stop();
  }
  diag(`${s.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
await browser.close();
diag(`browser suite: ${((Date.now() - start) / 1000).toFixed(1)} s`);
process.exit(done() ? 1 : 0);
