#!/usr/bin/env python3
"""Check an `rc-archive prove` proof without the archive (Python standard library only).

    python docs/verify_proof.py proof.json [--public-key KEY.pub]

Checks that each record version's hash is included (RFC 9162 §2.1.3 inclusion path) in the
Merkle tree whose root and size the embedded certificate states, and, with --public-key, that
the certificate's Ed25519 signature verifies with that key (RFC 8032, implemented below).
Without --public-key the certificate's origin is not checked, and the output says so.
Prints OK or names the failure; exit 0 if every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

# -- Merkle (RFC 9162 §2.1.3.2) -------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# -- Ed25519 verification (RFC 8032 §6, reference arithmetic; verification needs no secret) --

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s: int, point):
    result = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a, b) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y: int, sign: int):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(data: bytes):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))


ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def public_key_from_pem(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != "-----BEGIN PUBLIC KEY-----":
        raise ValueError("not a PEM public key")
    der = base64.b64decode("".join(line for line in lines[1:] if not line.startswith("-----")))
    if len(der) != 44 or not der.startswith(ED25519_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key")
    return der[12:]


def canonical(body) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# -- the proof --------------------------------------------------------------------------------


def check(proof: dict, public_key: bytes | None) -> list[str]:
    """Failures, empty when the proof holds."""
    failures = []
    if proof.get("format") != "rc-archive/proof/1":
        return [f"not an rc-archive proof (format {proof.get('format')!r})"]
    signed = proof.get("certificate") or {}
    body = signed.get("certificate") or {}
    merkle = body.get("merkle") or {}
    if public_key is not None:
        try:
            signature = base64.b64decode(signed["signature"]["value"], validate=True)
        except (KeyError, TypeError, ValueError):
            signature = b""
        if not ed25519_verify(public_key, canonical(body), signature):
            failures.append(
                "certificate signature does not verify with the public key (modified, or "
                "signed by another key)"
            )
    if merkle.get("root") != proof.get("root") or merkle.get("tree_size") != proof.get("tree_size"):
        failures.append("the proof's root or tree size is not the certificate's")
    if body.get("source_id") != proof.get("source_id"):
        failures.append("the proof's source is not the certificate's")
    try:
        root = bytes.fromhex(proof["root"])
        size = int(proof["tree_size"])
        versions = list(proof["versions"])
    except (KeyError, TypeError, ValueError):
        return [*failures, "the proof has no valid root, tree_size or versions"]
    if not versions:
        failures.append("the proof lists no version")
    for version in versions:
        try:
            leaf = leaf_hash(bytes.fromhex(version["record_sha256"]))
            path = [bytes.fromhex(p) for p in version["inclusion_path"]]
            index = int(version["leaf_index"])
        except (KeyError, TypeError, ValueError):
            failures.append(f"version {version!r:.80} is malformed")
            continue
        if not verify_inclusion(leaf, index, size, path, root):
            failures.append(
                f"version {version['record_sha256']} (leaf {index}) is not included in the "
                f"tree of {size} versions with root {proof['root'][:16]}..."
            )
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("proof", help="the JSON printed by `rc-archive prove`")
    parser.add_argument(
        "--public-key", help="Ed25519 public key PEM the certificate must verify with"
    )
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as handle:
            proof = json.load(handle)
        public_key = None
        if args.public_key:
            with open(args.public_key, encoding="utf-8") as handle:
                public_key = public_key_from_pem(handle.read())
    except (OSError, ValueError) as exc:
        print(f"FAILED: cannot read input: {exc}")
        return 1
    failures = check(proof, public_key) if isinstance(proof, dict) else ["not a JSON object"]
    if failures:
        for failure in failures:
            print(f"FAILED: {failure}")
        return 1
    versions = len(proof["versions"])
    signed = "signature verified" if public_key else "signature NOT checked (no --public-key)"
    print(
        f"OK: {versions} version(s) of content {proof.get('content_id')} are in the certified "
        f"tree of {proof['tree_size']} versions of source {proof['source_id']}; {signed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
