// The JSON API (API.md) over fetch.  Session tokens are passed in by the
// caller, who keeps them in memory only: never in storage or a cookie.

export class Problem extends Error {
  // status: HTTP status (0: no answer); body: the problem+json document.
  constructor(status, body) {
    super((body && (body.title || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.type = (body && body.type) || '';
    this.slug = this.type ? this.type.split('/').pop() : Problem.slugOf(status);
    this.detail = (body && body.detail) || '';
  }

  static slugOf(status) {
    return (
      { 0: 'network', 400: 'invalid-input', 401: 'unauthorized', 403: 'forbidden',
        404: 'not-found', 405: 'method-not-allowed', 409: 'conflict', 413: 'payload-too-large',
        423: 'account-suspended', 429: 'limit-reached', 503: 'audit-unavailable' }[status] ||
      'internal'
    );
  }

  // The endpoint itself does not exist on this server (an older server).
  get missingEndpoint() {
    return this.status === 405 || (this.status === 404 && this.detail === 'no such endpoint');
  }
}

// call('POST', '/v1/login', {body, token, text}): the parsed answer (text
// for text/plain, null for 204), or throws Problem.
export async function call(method, path, opts = {}) {
  const headers = { Accept: 'application/json, application/problem+json, text/plain' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch (e) {
    throw new Problem(0, null);
  }
  const type = r.headers.get('Content-Type') || '';
  if (!r.ok) {
    let body = null;
    if (type.includes('json')) body = await r.json().catch(() => null);
    throw new Problem(r.status, body);
  }
  if (r.status === 204) return null;
  if (type.includes('json')) return r.json();
  return r.text();
}

// Query string from an object, skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}
