#!/usr/bin/env python3
"""verify_proofs.py: an independent verifier of a customer's access log.

A test tool (not part of the product), written from the public
specifications only, never from Custodian's own code, with nothing but the
Python standard library:

  - RFC 9162 section 2.1.1 (Merkle Tree Hash: leaf hash SHA-256(0x00 ||
    leaf_input), node hash SHA-256(0x01 || left || right)) and 2.1.3.2
    (verifying an inclusion proof);
  - C2SP signed-note (verifier keys "<name>+<hex key id>+<base64(0x01 ||
    Ed25519 public key)>", key id SHA-256(name || 0x0A || 0x01 || key)[0:4],
    signature lines "\u2014 <name> <base64(key id || signature)>") and C2SP
    tlog-checkpoint (origin, tree size, base64 root hash);
  - Ed25519 verification from the reference code of RFC 8032 section 6
    (checked at every start against the RFC's test vector 1);
  - the entry encoding of Custodian's API.md / audit.h (to check that what
    the log shows of each entry is what its leaf_input says).

Usage:
  verify_proofs.py FILE VKEY

FILE holds the JSON of `custodian export` (its "access_log" is read) or of
GET /v1/subject/access-log ("-" for standard input); VKEY is the checkpoint
verifier key (`custodian audit key`), or @PATH of a file holding it.

  verify_proofs.py --consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF_JSON VKEY

The second form checks both checkpoint files' signatures by VKEY and that
PROOF_JSON (GET /v1/audit/proof/consistency) proves, per RFC 9162 section
2.1.4.2, that the older tree is a prefix of the newer one.

Checks: the checkpoint's signature by VKEY; its tree size equals
"tree_size"; every entry's audit_path proves its leaf_input at leaf_index
against the checkpoint's root; every leaf decodes and agrees with the
entry's time, store, case_id, action, decision, fields and reasons; every
leaf names the same customer pseudonym.  Prints one "ok" line and exits 0,
or names the first failure on stderr and exits 1 (2 for bad usage).
"""

import base64
import binascii
import datetime
import hashlib
import json
import sys

# --- Ed25519 verification (RFC 8032 section 6) -------------------------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493


def _inv(x):
    return pow(x, P - 2, P)


D = -121665 * _inv(121666) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    d = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f, g * h, f * g, e * h)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * _inv(5) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ed25519_verify(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % Q
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


def ed25519_self_test():
    # RFC 8032 section 7.1, TEST 1 (empty message); and a flipped bit fails.
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    if not ed25519_verify(pk, b"", sig) or ed25519_verify(pk, b"", bad):
        raise SystemExit("verify_proofs: the Ed25519 code fails RFC 8032 test 1")


# --- RFC 9162 ---------------------------------------------------------------------


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(index, size, leaf, path, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in path:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_ok(first, second, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and root1 == root2
    if first == 0 or first > second or not proof or any(len(p) != 32 for p in proof):
        return False
    if first & (first - 1) == 0:  # a power of two: the first root is part of the proof
        proof = [root1] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


# --- signed notes and checkpoints -------------------------------------------------


class Failure(Exception):
    pass


def b64(text, what):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Failure(f"{what} is not base64")


def parse_vkey(vkey):
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise Failure("the verifier key is not <name>+<key id>+<key>")
    name, hexid, key = parts
    raw = b64(key, "the verifier key")
    if len(raw) != 33 or raw[0] != 1:
        raise Failure("the verifier key is not an Ed25519 key (type 0x01)")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if hexid.lower() != key_id.hex():
        raise Failure("the verifier key's id does not match its name and key")
    return name, key_id, raw[1:]


def verify_note(note, name, key_id, pk):
    """The signed text of a C2SP signed note whose signature by the key verifies."""
    if "\n\n" not in note:
        raise Failure("the checkpoint is not a signed note (no blank line)")
    split = note.rindex("\n\n")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        raise Failure("the checkpoint's signature lines do not end with a newline")
    good = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Failure("a checkpoint signature line does not start with an em dash")
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise Failure("a checkpoint signature line is malformed")
        blob = b64(fields[1], "a checkpoint signature")
        if fields[0] != name or blob[:4] != key_id:
            continue
        if len(blob) != 68 or not ed25519_verify(pk, text.encode(), blob[4:]):
            raise Failure("the checkpoint's signature does not verify")
        good = True
    if not good:
        raise Failure("the checkpoint has no signature by the verifier key")
    return text


def parse_checkpoint(text):
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise Failure("the checkpoint has no origin, size and root")
    if not lines[1].isdigit() or (len(lines[1]) > 1 and lines[1][0] == "0"):
        raise Failure("the checkpoint's tree size is not a decimal number")
    root = b64(lines[2], "the checkpoint's root")
    if len(root) != 32:
        raise Failure("the checkpoint's root is not 32 bytes")
    return lines[0], int(lines[1]), root


# --- entries (Custodian's leaf encoding) ------------------------------------------

ACTIONS = [None, "lookup", "reveal", "case_open", "case_verify", "case_approve", "case_close",
           "login", "login_failed", "logout", "password_change", "staff_add", "staff_suspend",
           "staff_resume", "staff_reset", "alert", "export", "erase", "key_rotate", "import",
           "subject_login", "subject_access", "access_denied", "case_cosign"]
DECISIONS = [None, "allow", "deny", "step_up", "block"]


def decode_leaf(leaf):
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(leaf):
            raise Failure("a leaf_input is truncated")
        out = leaf[pos : pos + n]
        pos += n
        return out

    def opaque(width):
        return take(int.from_bytes(take(width), "big"))

    if take(1) != b"\x01":
        raise Failure("a leaf_input has an unknown version")
    e = {"time_ms": int.from_bytes(take(8), "big"), "action": take(1)[0],
         "decision": take(1)[0]}
    for key, width in (("actor", 1), ("role", 1), ("store", 1), ("case_id", 1),
                       ("subject", 1), ("fields", 2), ("reasons", 2), ("request_id", 1),
                       ("client", 1), ("detail", 2)):
        e[key] = opaque(width)
    if pos != len(leaf):
        raise Failure("a leaf_input has trailing bytes")
    return e


def text_or_none(b):
    return b.decode() if b else None


def split_list(b):
    return b.decode().split(",") if b else []


def check_entry(n, entry, e):
    when = datetime.datetime.fromtimestamp(e["time_ms"] // 1000, datetime.timezone.utc)
    want = when.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (e["time_ms"] % 1000)
    checks = [("time", want), ("store", text_or_none(e["store"])),
              ("case_id", text_or_none(e["case_id"])), ("fields", split_list(e["fields"])),
              ("reasons", split_list(e["reasons"]))]
    if e["action"] < len(ACTIONS):
        checks.append(("action", ACTIONS[e["action"]]))
    if e["decision"] < len(DECISIONS):
        checks.append(("decision", DECISIONS[e["decision"]]))
    for key, value in checks:
        if key in entry and entry[key] != value:
            raise Failure(f"entry {n}: its {key} is not what its leaf_input says")


# --- main ----------------------------------------------------------------------------


def verify(doc, vkey):
    log = doc.get("access_log", doc)
    name, key_id, pk = parse_vkey(vkey)
    if not isinstance(log.get("checkpoint"), str):
        raise Failure("no checkpoint")
    text = verify_note(log["checkpoint"], name, key_id, pk)
    origin, size, root = parse_checkpoint(text)
    if log.get("tree_size") != size:
        raise Failure("tree_size is not the checkpoint's size")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise Failure("no entries")
    subject, last = None, -1
    for n, entry in enumerate(entries):
        index = entry.get("leaf_index")
        if not isinstance(index, int) or index < 0:
            raise Failure(f"entry {n}: no leaf_index")
        if index <= last:
            raise Failure(f"entry {n}: not in log order")
        last = index
        leaf = b64(entry.get("leaf_input", ""), f"entry {n}'s leaf_input")
        path = [b64(h, f"entry {n}'s audit_path") for h in entry.get("audit_path", [])]
        if not inclusion_ok(index, size, leaf, path, root):
            raise Failure(f"entry {n} (leaf {index}): the inclusion proof does not verify")
        e = decode_leaf(leaf)
        if len(e["subject"]) != 16:
            raise Failure(f"entry {n}: its leaf names no customer")
        if subject is not None and e["subject"] != subject:
            raise Failure(f"entry {n}: its leaf names another customer")
        subject = e["subject"]
        check_entry(n, entry, e)
    return origin, size, root, len(entries)


def verify_consistency(old_note, new_note, proof_doc, vkey):
    """Both checkpoints signed by vkey, and the proof shows the old tree is a prefix of the new."""
    name, key_id, pk = parse_vkey(vkey)
    _, size1, root1 = parse_checkpoint(verify_note(old_note, name, key_id, pk))
    origin, size2, root2 = parse_checkpoint(verify_note(new_note, name, key_id, pk))
    if proof_doc.get("first") != size1 or proof_doc.get("second") != size2:
        raise Failure("the proof is not between the two checkpoints' sizes")
    proof = [b64(h, "a consistency proof hash") for h in proof_doc.get("consistency", [])]
    if not consistency_ok(size1, size2, root1, root2, proof):
        raise Failure(f"the consistency proof from {size1} to {size2} does not verify")
    return origin, size1, size2


def read_arg(arg):
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            return f.read()
    return arg


def main(argv):
    if len(argv) == 6 and argv[1] == "--consistency":
        ed25519_self_test()
        try:
            with open(argv[4], encoding="utf-8") as f:
                proof_doc = json.load(f)
            origin, a, b = verify_consistency(read_arg("@" + argv[2]), read_arg("@" + argv[3]),
                                              proof_doc, read_arg(argv[5]))
        except (OSError, ValueError, AttributeError, Failure) as e:
            print(f"verify_proofs: {e}", file=sys.stderr)
            return 1
        print(f"ok: {origin} at size {a} is a prefix of size {b}")
        return 0
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print("usage: verify_proofs.py FILE VKEY\n"
              "       verify_proofs.py --consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF_JSON VKEY",
              file=sys.stderr)
        return 2
    ed25519_self_test()
    vkey = argv[2]
    try:
        if vkey.startswith("@"):
            with open(vkey[1:], encoding="utf-8") as f:
                vkey = f.read()
        if argv[1] == "-":
            doc = json.load(sys.stdin)
        else:
            with open(argv[1], encoding="utf-8") as f:
                doc = json.load(f)
        if not isinstance(doc, dict):
            raise Failure("the JSON is not an object")
        origin, size, root, n = verify(doc, vkey)
    except (OSError, ValueError, Failure) as e:
        print(f"verify_proofs: {e}", file=sys.stderr)
        return 1
    print(f"ok: {n} entries proved in {origin} at size {size} (root {root.hex()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
