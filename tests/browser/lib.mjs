// Helpers for the browser tests: a TAP reporter, a real `custodian serve`
// on a fresh data folder, RFC 6238 TOTP codes, and the staff flows over
// HTTP for setting the scene.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CUSTODIAN = resolve(process.env.CUSTODIAN || 'build/custodian');
export const BUILD = resolve(process.env.BUILD || join(CUSTODIAN, '..'));
export const ARTIFACTS = join(BUILD, 'browser-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

// --- TAP ----------------------------------------------------------------------------

let n = 0;
let failures = 0;

export function ok(cond, desc, ...diag) {
  n += 1;
  if (cond) {
    console.log(`ok ${n} - ${desc}`);
  } else {
    failures += 1;
    console.log(`not ok ${n} - ${desc}`);
    for (const d of diag) for (const line of String(d).split('\n')) console.log(`# ${line}`);
  }
  return !!cond;
}

export function diag(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

export function done() {
  console.log(`1..${n}`);
  return failures;
}

// --- TOTP (RFC 6238: HMAC-SHA1, 30 s, 6 digits) -----------------------------------

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) continue;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function totp(secret, when = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(when / 30000)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  const v = (mac.readUInt32BE(off) & 0x7fffffff) % 1000000;
  return String(v).padStart(6, '0');
}

// --- a vault and its server ----------------------------------------------------------

export class Vault {
  // opts: customers (count), seed, policy (a function editing policy.json's text)
  static async create(opts = {}) {
    const v = new Vault();
    v.dir = mkdtempSync(join(tmpdir(), 'custodian-browser-'));
    v.data = join(v.dir, 'data');
    v.cu('init');
    // always open: reveals do not depend on the hour the test runs at
    // (as tests/e2e/lib.bash always_open)
    let policy = readFileSync(join(v.data, 'policy.json'), 'utf8')
      .replace('"open": "09:00",', '"open": "00:00",')
      .replace('"close": "22:00"', '"close": "24:00"');
    if (opts.policy) policy = opts.policy(policy);
    writeFileSync(join(v.data, 'policy.json'), policy);
    const file = join(v.dir, 'customers.jsonl');
    writeFileSync(file, execFileSync(CUSTODIAN, ['gen', 'customers', String(opts.customers || 20),
      '--seed', String(opts.seed || 7), '--format', 'jsonl']));
    v.customers = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    v.cu('import', file);
    await v.start();
    return v;
  }

  // Stops the server, edits policy.json's text with `edit`, starts it again.
  async restart(edit) {
    await this.stop(true);
    const file = join(this.data, 'policy.json');
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    this.url = null;
    await this.start();
  }

  cu(...args) {
    return execFileSync(CUSTODIAN, ['--data', this.data, ...args], { encoding: 'utf8' });
  }

  cuJson(...args) {
    return JSON.parse(this.cu('--json', ...args));
  }

  start() {
    return new Promise((res, rej) => {
      this.proc = spawn(CUSTODIAN, ['--data', this.data, 'serve', '--listen', '127.0.0.1:0'],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => rej(new Error(`custodian serve did not start: ${out}`)), 10000);
      const onData = (d) => {
        out += d;
        const m = out.match(/serving on (http:\S+)/);
        if (m && !this.url) {
          this.url = m[1];
          clearTimeout(timer);
          res();
        }
      };
      this.proc.stdout.on('data', onData);
      this.proc.stderr.on('data', (d) => { out += d; });
      this.proc.on('exit', (code) => { if (!this.url) rej(new Error(`serve exited ${code}: ${out}`)); });
    });
  }

  // Stops the server; removes the data folder unless `keep` (or $KEEP).
  async stop(keep) {
    if (this.proc && this.proc.exitCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    if (!keep && !process.env.KEEP) rmSync(this.dir, { recursive: true, force: true });
  }

  // A staff account: {username, password, totp_secret, ...}
  staff(username, role, store) {
    return { username, ...this.cuJson('staff', 'add', username, '--role', role, '--store', store) };
  }

  outbox() {
    return this.cuJson('outbox').messages || [];
  }

  // The one-time code the outbox sent for a case (or a customer's sign-in).
  async code(match) {
    for (let i = 0; i < 50; i++) {
      const m = this.outbox().filter(match).pop();
      const c = m && m.body.match(/\b(\d{6})\b/);
      if (c) return c[1];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no code in the outbox');
  }

  caseCode(caseId) {
    return this.code((m) => m.case_id === caseId);
  }

  signInCode(customerId) {
    return this.code((m) => m.customer_id === customerId && m.case_id == null);
  }

  // --- the API, for setting a scene ---
  async http(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(this.url + path, { method, headers, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { status: r.status, json, text, headers: r.headers };
  }

  // A staff session over HTTP (first log-in and password change done).
  async session(username, role, store) {
    const cred = this.staff(username, role, store);
    const r = await this.http('POST', '/v1/login', { username, password: cred.password, totp: totp(cred.totp_secret) });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    const token = r.json.token;
    const p = await this.http('POST', '/v1/password', { old: cred.password, new: `long-password-of-${username}` }, token);
    if (p.status !== 204 && p.status !== 200) throw new Error(`password ${username}: ${p.status} ${p.text}`);
    return token;
  }

  // A clerk serving customer `c` over HTTP: look-up, case, code, reveal.
  async serve(token, c, fields = ['name', 'phone']) {
    await this.http('GET', `/v1/devices/${c.devices[0].imei}`, undefined, token);
    const open = await this.http('POST', '/v1/cases', { purpose: 'customer_support', customer_id: c.customer_id }, token);
    const id = open.json.case_id;
    await this.http('POST', `/v1/cases/${id}/verify`, { code: await this.caseCode(id) }, token);
    const r = await this.http('POST', `/v1/cases/${id}/reveal`, { fields }, token);
    if (r.status !== 200) throw new Error(`reveal: ${r.status} ${r.text}`);
    return id;
  }
}

// --- the browser side ---------------------------------------------------------------------

// Watches a page for script errors and Content-Security-Policy violations.
export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

// Signs a new staff member in through the UI, first password change
// included; returns their credentials.
export async function uiLogin(page, v, username, role, store) {
  const cred = v.staff(username, role, store);
  await page.goto(`${v.url}/`);
  await page.fill('#username', username);
  await page.fill('#password', cred.password);
  await page.fill('#totp', totp(cred.totp_secret));
  await page.click('#login-submit');
  await page.waitForSelector('#password-form');
  cred.newPassword = `long-password-of-${username}`;
  await page.fill('#new-password', cred.newPassword);
  await page.fill('#new-password-again', cred.newPassword);
  await page.click('#password-submit');
  // re-enrol the authenticator: the QR's secret becomes the account's
  await page.waitForSelector('#enrol-form');
  cred.totp_secret = (await page.textContent('#enrol-secret')).trim();
  await page.fill('#enrol-code', totp(cred.totp_secret));
  await page.click('#enrol-submit');
  await page.waitForSelector('#who');
  return cred;
}

export async function shot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
