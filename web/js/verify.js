// Audit log verification in the browser, from the public specifications:
//   RFC 9162 section 2.1 (SHA-256 Merkle tree: leaf hash SHA-256(0x00 || leaf),
//   node hash SHA-256(0x01 || left || right); inclusion proofs, 2.1.3.2),
//   C2SP signed-note (Ed25519 verifier keys "<name>+<hex key id>+<base64(0x01 ||
//   key)>", key id SHA-256(name || 0x0A || 0x01 || key)[0:4]) and
//   C2SP tlog-checkpoint (origin, tree size, base64 root hash).
// SHA-256 and Ed25519 are WebCrypto's: nothing here trusts the server's word.

const enc = new TextEncoder();

export class VerifyError extends Error {}

export function b64decode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw new VerifyError('not base64');
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export function leafHash(leaf) {
  return sha256(concat(Uint8Array.of(0), leaf));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// RFC 9162 2.1.3.2: whether `path` proves `leaf` at `index` in the tree of
// `size` whose root is `root`.
export async function inclusionOk(index, size, leaf, path, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return false;
  }
  // BigInt: tree sizes may pass 2^31, where JavaScript's bit operators stop.
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = await leafHash(leaf);
  for (const p of path) {
    if (p.length !== 32 || sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// A C2SP verifier key: {name, keyId (4 bytes), keyIdHex, publicKey (CryptoKey)}.
export async function parseVkey(vkey) {
  // split at the first two '+' only: the base64 key may hold '+' itself
  const m = vkey.trim().match(/^([^+]+)\+([0-9a-fA-F]{8})\+(.+)$/);
  if (!m) throw new VerifyError('the verifier key is not <name>+<key id>+<key>');
  const [, name, hexId, key] = m;
  const raw = b64decode(key);
  if (raw.length !== 33 || raw[0] !== 1) {
    throw new VerifyError('the verifier key is not an Ed25519 key');
  }
  const keyId = (await sha256(concat(enc.encode(name + '\n'), raw))).slice(0, 4);
  if (hex(keyId) !== hexId.toLowerCase()) {
    throw new VerifyError("the verifier key's id does not match its name and key");
  }
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false, [
      'verify',
    ]);
  } catch (e) {
    throw new VerifyError('this browser cannot verify Ed25519 signatures');
  }
  return { name, keyId, keyIdHex: hex(keyId), publicKey };
}

// Verifies a signed note's signature by `vk` (parseVkey); returns the signed
// text, or throws VerifyError.
export async function verifyNote(note, vk) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new VerifyError('the checkpoint is not a signed note');
  const text = note.slice(0, split + 1);
  const sigs = note.slice(split + 2);
  if (!sigs.endsWith('\n')) throw new VerifyError('the signature lines do not end with a newline');
  let good = false;
  for (const line of sigs.slice(0, -1).split('\n')) {
    if (!line.startsWith('\u2014 ')) throw new VerifyError('a signature line is malformed');
    const fields = line.slice(2).split(' ');
    if (fields.length !== 2) throw new VerifyError('a signature line is malformed');
    const blob = b64decode(fields[1]);
    if (fields[0] !== vk.name || blob.length < 4 || !equal(blob.slice(0, 4), vk.keyId)) continue;
    if (blob.length !== 68) throw new VerifyError("the checkpoint's signature is malformed");
    const ok = await crypto.subtle.verify(
      { name: 'Ed25519' },
      vk.publicKey,
      blob.slice(4),
      enc.encode(text),
    );
    if (!ok) throw new VerifyError("the checkpoint's signature does not verify");
    good = true;
  }
  if (!good) throw new VerifyError('the checkpoint has no signature by the verifier key');
  return text;
}

// The signed text of a checkpoint: {origin, size, root}.
export function parseCheckpoint(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !lines[0]) throw new VerifyError('the checkpoint is malformed');
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new VerifyError('bad tree size');
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new VerifyError('bad root hash');
  return { origin: lines[0], size: Number(lines[1]), root };
}

// A checkpoint note verified against a verifier key text:
// {origin, size, root, keyIdHex, name}.
export async function verifyCheckpoint(note, vkeyText) {
  const vk = await parseVkey(vkeyText);
  const cp = parseCheckpoint(await verifyNote(note, vk));
  return { ...cp, keyIdHex: vk.keyIdHex, name: vk.name };
}

// --- Custodian's leaf encoding (API.md, audit.h) ----------------------------------

export const ACTIONS = [null, 'lookup', 'reveal', 'case_open', 'case_verify', 'case_approve',
  'case_close', 'login', 'login_failed', 'logout', 'password_change', 'staff_add',
  'staff_suspend', 'staff_resume', 'staff_reset', 'alert', 'export', 'erase', 'key_rotate',
  'import', 'subject_login', 'subject_access', 'access_denied', 'case_cosign'];
export const DECISIONS = [null, 'allow', 'deny', 'step_up', 'block'];

const dec = new TextDecoder('utf-8', { fatal: true });

// Decodes a leaf_input: {time (RFC 3339, ms), action, decision, actor, role,
// store, case_id, subject (hex), fields[], reasons[], request_id, client, detail}.
export function decodeLeaf(leaf) {
  let pos = 0;
  const take = (n) => {
    if (pos + n > leaf.length) throw new VerifyError('a leaf is truncated');
    const out = leaf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const num = (b) => b.reduce((v, x) => v * 256 + x, 0);
  const opaque = (width) => take(num(take(width)));
  const text = (b) => (b.length ? dec.decode(b) : null);
  const list = (b) => (b.length ? dec.decode(b).split(',') : []);
  if (take(1)[0] !== 1) throw new VerifyError('a leaf has an unknown version');
  const timeMs = num(take(8));
  const action = take(1)[0];
  const decision = take(1)[0];
  const e = {
    time: new Date(timeMs).toISOString(),
    action: ACTIONS[action] || `action-${action}`,
    decision: DECISIONS[decision] || `decision-${decision}`,
    actor: text(opaque(1)),
    role: text(opaque(1)),
    store: text(opaque(1)),
    case_id: text(opaque(1)),
    subject: hex(opaque(1)) || null,
    fields: list(opaque(2)),
    reasons: list(opaque(2)),
    request_id: text(opaque(1)),
    client: text(opaque(1)),
    detail: text(opaque(2)),
  };
  if (pos !== leaf.length) throw new VerifyError('a leaf has trailing bytes');
  return e;
}

// Whether what the server shows of an entry is what its leaf says (keys the
// server left out are not compared).
export function sameAsLeaf(entry, leaf) {
  for (const k of ['time', 'action', 'decision', 'store', 'case_id']) {
    if (k in entry && (entry[k] ?? null) !== leaf[k]) return false;
  }
  for (const k of ['fields', 'reasons']) {
    if (k in entry && JSON.stringify(entry[k] || []) !== JSON.stringify(leaf[k])) return false;
  }
  if ('actor' in entry && entry.actor !== leaf.actor) return false;
  return true;
}

// Verifies one entry against a verified checkpoint `cp`: its leaf_input and
// audit_path (base64) prove it at `index`, and what is shown matches the leaf.
// {ok, leaf (decoded, or null), why}.
export async function verifyEntry(entry, index, path, cp) {
  try {
    const leafBytes = b64decode(entry.leaf_input);
    const leaf = decodeLeaf(leafBytes);
    const hashes = path.map(b64decode);
    if (!(await inclusionOk(index, cp.size, leafBytes, hashes, cp.root))) {
      return { ok: false, leaf, why: 'the inclusion proof does not lead to the signed root' };
    }
    if (!sameAsLeaf(entry, leaf)) {
      return { ok: false, leaf, why: 'what the server shows differs from the logged entry' };
    }
    return { ok: true, leaf, why: '' };
  } catch (e) {
    return { ok: false, leaf: null, why: e.message };
  }
}
