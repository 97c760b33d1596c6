#!/usr/bin/env python3
"""Check rc-archive proofs without the archive: one file, Python standard library only.

Copy this file anywhere and run it with Python 3.8 or later; it imports nothing else.
Three inputs, chosen by what the first argument is:

1. A production folder (what an examiner receives with a production):

       python verify_proof.py PRODUCTION_DIR --log-key LOG.vkey \\
           [--witness-key W1.vkey --witness-key W2.vkey ...] [--quorum K]

   For every line of PRODUCTION_DIR/proofs/versions.jsonl (one produced message version:
   content_id, source_id, record_sha256, raw_json, transport, proof) it checks:
   - the record hash: `record_sha256` is recomputed from `raw_json`, the message exactly as
     the API served it. The rule: parse raw_json, leave out the `transport` paths (values of
     how a message was delivered, not of what it is: a top-level key `k` is deleted; for
     `list[].key` that key is deleted from every object in the list; only when present),
     serialise with sorted keys, separators (",", ":"), non-ASCII unescaped, UTF-8, and take
     SHA-256. When raw_json holds an `id`, it must be the line's content_id.
     A float written in exponent form (1e+16) may serialise differently here than where the
     archive hashed it; such a record is reported as a mismatch, never silently accepted.
   - the proof file (c2sp.org/tlog-proof@v1, next section) for that hash, whose checkpoint
     origin must be `<log key name>/<source_id>`.
   - two checkpoints of one origin and one tree size must have the same root (two would
     mean the log showed two different trees).
   - PRODUCTION_DIR/manifest.json, when present: the SHA-256 (and byte count) of every file
     it lists under "files" ({"path", "sha256", "bytes"}).

2. One proof file:

       python verify_proof.py FILE.tlog-proof --log-key LOG.vkey --record-sha256 HEX \\
           [--witness-key W.vkey ...] [--quorum K]

   A c2sp.org/tlog-proof@v1 file: an entry index, an RFC 9162 inclusion path, and the log's
   checkpoint (c2sp.org/tlog-checkpoint, a c2sp.org/signed-note). It checks that
   - the checkpoint note carries a valid Ed25519 signature by the log key, and its origin is
     the log key's name or starts with that name followed by "/";
   - at least K of the given witness keys cosigned that exact checkpoint
     (c2sp.org/tlog-cosignature, Ed25519 "cosignature/v1"); K defaults to the number of
     witness keys given. With no witness key, the output says that no witness was checked:
     the proof then rests on the log's word alone, and a log showing different trees to
     different readers would go unseen;
   - the leaf SHA-256(0x00 || record hash bytes) is at the proof's index in the tree of the
     checkpoint's size and root.

3. A JSON proof printed by `rc-archive prove` (format rc-archive/proof/1):

       python verify_proof.py proof.json [--public-key KEY.pub]

   Each version's hash is checked against the certificate's root (RFC 9162 inclusion path)
   and, with --public-key (an Ed25519 PEM), the certificate's signature. Without
   --public-key the certificate's origin is not checked, and the output says so.

Keys: a verifier key ("vkey") is `<name>+<key id, 8 hex>+<base64(type byte || public key)>`,
the key id being the first 4 bytes of SHA-256(name || 0x0A || type byte || public key). The
log key has type 0x01 (Ed25519 note signature); a witness key may be given with type 0x04
(its cosignature key) or 0x01 (the same Ed25519 key). Each --log-key / --witness-key value
is the vkey text itself or the path of a file holding it.

Output: one line per failure, then a last line starting with OK or FAILED. Exit 0 when every
check passed, 1 when any failed, 2 on a usage error (a bad key, a missing file or folder).

The Ed25519 check below is RFC 8032's verification arithmetic, written out in plain Python
integers: verification handles public values only, so arithmetic that is not constant-time
is safe here.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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


@functools.lru_cache(maxsize=4096)
def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 §5.1.7. Cached: the proofs of one source share one checkpoint, so its
    signatures are checked once, not once per message."""
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


def _b64(text: str) -> bytes:
    """Standard base64 (RFC 4648 §4), padding required, no stray characters."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError):
        raise ValueError(f"{text[:24]!r} is not base64") from None


# -- signed notes (c2sp.org/signed-note) ----------------------------------------------------

ED25519_NOTE = 0x01  # an Ed25519 signature over the note text
ED25519_COSIGNATURE = 0x04  # a timestamped witness cosignature (c2sp.org/tlog-cosignature)
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16 and to set a limit


def key_id(name: str, key_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public).digest()[:4]


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


@dataclass(frozen=True)
class VerifierKey:
    """A trusted key: its name, Ed25519 public key and the type it was published with."""

    name: str
    public: bytes
    key_type: int

    def note_id(self) -> bytes:
        return key_id(self.name, ED25519_NOTE, self.public)

    def cosignature_id(self) -> bytes:
        return key_id(self.name, ED25519_COSIGNATURE, self.public)

    def label(self) -> str:
        return f"{self.name}+{key_id(self.name, self.key_type, self.public).hex()}"


def parse_vkey(text: str, allowed_types: tuple[int, ...] = (ED25519_NOTE,)) -> VerifierKey:
    """`<name>+<hex8>+<base64(type || 32-byte key)>`, the hex8 being the key id; ValueError
    says what is wrong."""
    parts = text.split("+", 2)  # base64 may hold "+" too
    if len(parts) != 3:
        raise ValueError("a verifier key is <name>+<key id>+<base64 key>")
    name, id_hex, encoded = parts
    if not _valid_key_name(name):
        raise ValueError(f"{name!r} is not a key name (empty, or holds a space)")
    if len(id_hex) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in id_hex):
        raise ValueError(f"{id_hex!r} is not a key id of 8 hex digits")
    material = _b64(encoded)
    if len(material) != 33 or material[0] not in allowed_types:
        kinds = " or ".join(f"0x{t:02x}" for t in allowed_types)
        raise ValueError(f"the key is not an Ed25519 key of type {kinds}")
    if key_id(name, material[0], material[1:]) != bytes.fromhex(id_hex):
        raise ValueError(f"key id {id_hex} is not the hash of the name and key")
    return VerifierKey(name, material[1:], material[0])


@dataclass
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key id


@dataclass
class Note:
    text: str  # the signed text, final newline included
    signatures: list[NoteSignature] = field(default_factory=list)


def parse_note(data: bytes) -> Note:
    """A signed note: text, a blank line, lines `— <name> <base64(key id || signature)>`."""
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("malformed note: not UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in message):
        raise ValueError("malformed note: holds a control character")
    split = message.rfind("\n\n")
    if split < 0:
        raise ValueError("malformed note: no blank line before the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise ValueError("malformed note: no signature, or the last line has no newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    note = Note(text)
    for line in lines:
        if not line.startswith("\u2014 "):  # an em dash and a space
            raise ValueError(f"malformed note: {line[:40]!r} is not a signature line")
        name, _, encoded = line[2:].partition(" ")
        if not _valid_key_name(name):
            raise ValueError(f"malformed note: {name[:40]!r} is not a key name")
        try:
            blob = _b64(encoded)
        except ValueError as exc:
            raise ValueError(f"malformed note: {exc}") from None
        if len(blob) < 5:
            raise ValueError("malformed note: a signature shorter than its key id")
        note.signatures.append(NoteSignature(name, blob[:4], blob[4:]))
    return note


def note_signed_by(note: Note, key: VerifierKey) -> bool | None:
    """True when the key's Ed25519 note signature verifies, False when a signature carrying
    the key's name and id does not, None when the note has none (other keys are ignored)."""
    found = [s for s in note.signatures if s.name == key.name and s.key_id == key.note_id()]
    if not found:
        return None
    message = note.text.encode("utf-8")
    return all(ed25519_verify(key.public, message, s.signature) for s in found)


def cosigned_by(note: Note, witness: VerifierKey) -> bool | None:
    """Like `note_signed_by` for a cosignature/v1: the signature is an 8-byte big-endian
    timestamp and an Ed25519 signature over "cosignature/v1\\ntime <t>\\n" + the note text."""
    wanted = witness.cosignature_id()
    found = [s for s in note.signatures if s.name == witness.name and s.key_id == wanted]
    if not found:
        return None
    for sig in found:
        if len(sig.signature) != 72:
            return False
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if timestamp >= 2**63:
            return False
        message = f"cosignature/v1\ntime {timestamp}\n{note.text}".encode()
        if not ed25519_verify(witness.public, message, sig.signature[8:]):
            return False
    return True


# -- checkpoints (c2sp.org/tlog-checkpoint) and proofs (c2sp.org/tlog-proof) ------------------


def _decimal(text: str) -> int:
    """An ASCII decimal without leading zeroes."""
    if not text.isascii() or not text.isdigit() or (text.startswith("0") and text != "0"):
        raise ValueError(f"{text[:24]!r} is not a decimal number")
    return int(text)


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: Note


def parse_checkpoint(data: bytes) -> Checkpoint:
    note = parse_note(data)
    lines = note.text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise ValueError("a checkpoint is at least three non-empty lines")
    root = _b64(lines[2])
    if len(root) != 32:
        raise ValueError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(lines[0], _decimal(lines[1]), root, note)


TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass
class TlogProof:
    index: int
    path: list[bytes]
    checkpoint: Checkpoint


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Header, optional `extra`, `index N`, one base64 hash a line, a blank line, then the
    checkpoint verbatim. Every line before the blank one is non-empty, so the first blank
    line ends the proof. The extra data is not authenticated and not used."""
    head, blank, rest = data.partition(b"\n\n")
    if not blank:
        raise ValueError("no blank line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise ValueError("the proof lines are not ASCII") from None
    if lines[0] != TLOG_PROOF_HEADER:
        raise ValueError(f"the first line is not {TLOG_PROOF_HEADER}")
    at = 1
    if at < len(lines) and lines[at].startswith("extra "):
        _b64(lines[at][len("extra ") :])
        at += 1
    if at >= len(lines) or not lines[at].startswith("index "):
        raise ValueError("no `index` line")
    index = _decimal(lines[at][len("index ") :])
    path = [_b64(line) for line in lines[at + 1 :]]
    if any(len(h) != 32 for h in path):
        raise ValueError("an inclusion path hash is not 32 bytes")
    try:
        checkpoint = parse_checkpoint(rest)
    except ValueError as exc:
        raise ValueError(f"checkpoint: {exc}") from None
    return TlogProof(index, path, checkpoint)


@dataclass
class Trust:
    """What the examiner trusts: the log key, the witness keys and how many must agree."""

    log: VerifierKey
    witnesses: list[VerifierKey]
    quorum: int


@dataclass
class ProofResult:
    failures: list[str]
    checkpoint: Checkpoint | None = None
    signed: bool = False  # the log key's signature verified
    cosigners: int = 0  # witnesses whose cosignature verified
    index: int = 0


def check_tlog_proof(data: bytes, record_sha256: bytes, trust: Trust, origin: str | None):
    """Every failure of one proof for the record hash. `origin` is the exact origin the
    checkpoint must have; None accepts the log key's name or any `<name>/...`."""
    try:
        proof = parse_tlog_proof(data)
    except ValueError as exc:
        return ProofResult([f"not a valid {TLOG_PROOF_HEADER} file: {exc}"])
    checkpoint, log = proof.checkpoint, trust.log
    result = ProofResult([], checkpoint, index=proof.index)
    failures = result.failures
    if origin is not None and checkpoint.origin != origin:
        failures.append(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    elif origin is None and not (
        checkpoint.origin == log.name or checkpoint.origin.startswith(log.name + "/")
    ):
        failures.append(f"checkpoint origin {checkpoint.origin!r} is not of the log {log.name!r}")
    signed = note_signed_by(checkpoint.note, log)
    if signed is None:
        failures.append(f"checkpoint is not signed by the log key {log.label()} (another key?)")
    elif not signed:
        failures.append(
            f"checkpoint signature by the log key {log.label()} does not verify (modified?)"
        )
    result.signed = bool(signed)
    for witness in trust.witnesses:
        cosigned = cosigned_by(checkpoint.note, witness)
        if cosigned is False:
            failures.append(
                f"cosignature by witness {witness.name} does not verify (it is for another "
                "checkpoint, or was modified)"
            )
        result.cosigners += bool(cosigned)
    if result.cosigners < trust.quorum:
        failures.append(
            f"checkpoint cosigned by {result.cosigners} of the {len(trust.witnesses)} witness "
            f"keys given; quorum {trust.quorum} not met"
        )
    leaf = leaf_hash(record_sha256)
    if not verify_inclusion(leaf, proof.index, checkpoint.size, proof.path, checkpoint.root):
        failures.append(
            f"record {record_sha256.hex()} is not leaf {proof.index} of the tree of "
            f"{checkpoint.size} records with root {checkpoint.root.hex()[:16]}..."
        )
    return result


def witness_phrase(cosigners: int, trust: Trust) -> str:
    if not trust.witnesses:
        return (
            "signed by the log only: no witness was checked (no --witness-key), so a log "
            "showing different trees to different readers would go unseen"
        )
    quorum = f" (quorum {trust.quorum})" if trust.quorum != len(trust.witnesses) else ""
    return f"cosigned by {cosigners} of {len(trust.witnesses)} witnesses{quorum}"


# -- a production folder ----------------------------------------------------------------------


def version_identity(record, transport: list[str]):
    """The record without its transport values: `k` deletes a top-level key, `list[].k`
    deletes `k` from every object of that list; absent values are left alone."""
    if not isinstance(record, dict):
        return record
    out = dict(record)
    for path in transport:
        outer, nested, inner = path.partition("[].")
        if not nested:
            out.pop(path, None)
        elif isinstance(out.get(outer), list):
            out[outer] = [
                {k: v for k, v in item.items() if k != inner} if isinstance(item, dict) else item
                for item in out[outer]
            ]
    return out


def record_hash(raw_json: str, transport: list[str]) -> str:
    """SHA-256 hex of the version identity's canonical JSON; ValueError when raw_json is not
    JSON or holds text UTF-8 cannot carry."""
    try:
        record = json.loads(raw_json)
        return hashlib.sha256(canonical(version_identity(record, transport))).hexdigest()
    except (json.JSONDecodeError, UnicodeEncodeError, RecursionError) as exc:
        raise ValueError(f"raw_json is not JSON that UTF-8 can hold ({exc})") from None


def _inside(root: Path, relative) -> Path | None:
    """`root / relative` when `relative` is a plain relative path that stays inside root."""
    if not isinstance(relative, str) or not relative or "\\" in relative:
        return None
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts:
        return None
    return root.joinpath(*parts.parts)


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


VERSION_FIELDS = {
    "content_id": str,
    "source_id": str,
    "record_sha256": str,
    "raw_json": str,
    "transport": list,
    "proof": str,
}


@dataclass
class Tally:
    """What the lines of versions.jsonl add up to."""

    versions: int = 0
    sources: set = field(default_factory=set)
    cosigners: list = field(default_factory=list)  # per proof whose log signature verified
    roots: dict = field(default_factory=dict)  # (origin, size) -> {root: first proof file}


def check_version(root: Path, where: str, line: str, trust: Trust, tally: Tally) -> list[str]:
    """Failures of one versions.jsonl line."""
    try:
        version = json.loads(line)
    except json.JSONDecodeError:
        return [f"{where}: not JSON"]
    if not isinstance(version, dict):
        return [f"{where}: not a JSON object"]
    for key, kind in VERSION_FIELDS.items():
        if not isinstance(version.get(key), kind):
            return [f"{where}: no {key} ({kind.__name__})"]
    content, source = version["content_id"], version["source_id"]
    tally.sources.add(source)
    where = f"content {content} (source {source}, {where})"
    digest = version["record_sha256"].lower()
    if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
        return [f"{where}: record_sha256 is not 64 hex digits"]
    failures = check_record(version, digest, where)
    proof_path = _inside(root, version["proof"])
    if proof_path is None:
        return [*failures, f"{where}: proof path {version['proof']!r} leaves the production"]
    try:
        data = proof_path.read_bytes()
    except OSError:
        return [*failures, f"{where}: proof file {version['proof']} is missing or unreadable"]
    result = check_tlog_proof(data, bytes.fromhex(digest), trust, f"{trust.log.name}/{source}")
    failures += [f"{where}: {version['proof']}: {failure}" for failure in result.failures]
    if result.checkpoint is not None and result.signed:
        checkpoint = result.checkpoint
        roots = tally.roots.setdefault((checkpoint.origin, checkpoint.size), {})
        roots.setdefault(checkpoint.root, version["proof"])
        tally.cosigners.append(result.cosigners)
    return failures


def check_record(version: dict, digest: str, where: str) -> list[str]:
    """The line's record_sha256 and content_id against its raw_json."""
    transport = version["transport"]
    if not all(isinstance(path, str) for path in transport):
        return [f"{where}: transport is not a list of paths"]
    try:
        recomputed = record_hash(version["raw_json"], transport)
    except ValueError as exc:
        return [f"{where}: {exc}"]
    failures = []
    if recomputed != digest:
        failures.append(f"{where}: raw_json hashes to {recomputed}, not its record_sha256 {digest}")
    record = json.loads(version["raw_json"])
    if isinstance(record, dict) and "id" in record and str(record["id"]) != version["content_id"]:
        failures.append(f"{where}: raw_json is message {record['id']}, not this content")
    return failures


def check_manifest(root: Path) -> tuple[list[str], int]:
    """Failures of manifest.json's file lists and how many files they list. The lists are
    `files` (the produced files) and `proofs.files` (the proof files, when listed apart)."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict):
        return ["manifest.json: not a readable JSON object"], 0
    proofs = manifest.get("proofs")
    lists = [manifest.get("files", []), proofs.get("files", []) if isinstance(proofs, dict) else []]
    if not all(isinstance(listed, list) for listed in lists):
        return ["manifest.json: a `files` list is not a list"], 0
    files = lists[0] + lists[1]
    failures = []
    for entry in files:
        listed = entry.get("path") if isinstance(entry, dict) else None
        target = _inside(root, listed)
        if target is None or not isinstance(entry.get("sha256"), str):
            failures.append(f"manifest.json: entry {str(entry)[:60]} has no valid path and sha256")
            continue
        try:
            digest, size = _sha256_file(target)
        except OSError:
            failures.append(f"manifest.json: file {listed} is missing or unreadable")
            continue
        if digest != entry["sha256"].lower():
            failures.append(
                f"manifest.json: file {listed} has SHA-256 {digest}, not the listed one"
            )
        elif isinstance(entry.get("bytes"), int) and entry["bytes"] != size:
            failures.append(f"manifest.json: file {listed} is {size} bytes, not {entry['bytes']}")
    # A file outside proofs/ that the manifest does not list was added afterwards (proofs/ is
    # checked by its own signatures and hashes, whether the manifest lists it or not).
    named = {entry.get("path") for entry in files if isinstance(entry, dict)} | {"manifest.json"}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in named and not relative.startswith("proofs/"):
            failures.append(f"manifest.json: file {relative} is not listed (added afterwards)")
    return failures, len(files)


def check_production(root: Path, trust: Trust) -> int:
    """Print the failures and the summary of a production folder; the exit code."""
    try:
        lines = (root / "proofs" / "versions.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return report(["proofs/versions.jsonl is missing or not UTF-8 text"], "", "")
    failures: list[str] = []
    tally = Tally()
    for number, line in enumerate(lines, 1):
        if line.strip():
            tally.versions += 1
            where = f"versions.jsonl line {number}"
            failures += check_version(root, where, line, trust, tally)
    if not tally.versions:
        failures.append("proofs/versions.jsonl lists no version")
    for (origin, size), roots in tally.roots.items():
        if len(roots) > 1:
            failures.append(
                f"checkpoints of {origin} at tree size {size} have different roots "
                f"({', '.join(roots.values())}): the log signed two different trees"
            )
    manifest = ""
    if (root / "manifest.json").exists():
        manifest_failures, listed = check_manifest(root)
        failures += manifest_failures
        manifest = f"; manifest.json lists {listed} file(s)"
    counted = f"{tally.versions} versions of {len(tally.sources)} sources"
    witnessed = witness_phrase(min(tally.cosigners, default=0), trust)
    proven = f"{counted} proven against checkpoints {witnessed}"
    matched = manifest and f"{manifest}, each of them matches"
    return report(failures, proven + matched, f"{counted}{manifest}")


# -- the rc-archive/proof/1 JSON proof ----------------------------------------------------------


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


def check_json_proof(data: bytes, public_key_file: str | None) -> int:
    try:
        proof = json.loads(data)
        public_key = None
        if public_key_file:
            with open(public_key_file, encoding="utf-8") as handle:
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


# -- command line -------------------------------------------------------------------------------


class UsageError(Exception):
    """Bad command-line input: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


def load_key(value: str, option: str, allowed_types: tuple[int, ...]) -> VerifierKey:
    """The vkey text, or the text of the file `value` names."""
    text = value
    if os.path.isfile(value):
        try:
            text = Path(value).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{option} {value}: cannot read ({exc})") from None
    try:
        return parse_vkey(text, allowed_types)
    except ValueError as exc:
        raise UsageError(f"{option} {value[:60]}: {exc}") from None


def load_trust(args) -> Trust:
    log = load_key(args.log_key, "--log-key", (ED25519_NOTE,))
    witnesses: list[VerifierKey] = []
    for value in args.witness_key:
        witness = load_key(value, "--witness-key", (ED25519_NOTE, ED25519_COSIGNATURE))
        if any(w.name == witness.name and w.public == witness.public for w in witnesses):
            raise UsageError(f"--witness-key {witness.name} is given twice")
        witnesses.append(witness)
    quorum = len(witnesses) if args.quorum is None else args.quorum
    if not 0 <= quorum <= len(witnesses):
        raise UsageError(f"--quorum {quorum} must be between 0 and {len(witnesses)} witness keys")
    return Trust(log, witnesses, quorum)


def report(failures: list[str], ok: str, failed: str) -> int:
    """One line per failure, then the summary; the exit code."""
    for failure in failures:
        print(f"FAILED: {failure}")
    if failures:
        print(f"FAILED: {len(failures)} failure(s)" + (f" in {failed}" if failed else ""))
        return 1
    print(f"OK: {ok}")
    return 0


def run(argv=None) -> int:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="production folder, .tlog-proof file or proof.json")
    parser.add_argument("--log-key", help="the log's verifier key (vkey text or file)")
    parser.add_argument(
        "--witness-key", action="append", default=[], help="a witness's verifier key (repeat)"
    )
    parser.add_argument("--quorum", type=int, help="witnesses that must cosign (default: all)")
    parser.add_argument("--record-sha256", help="the record hash a .tlog-proof file proves")
    parser.add_argument("--public-key", help="Ed25519 PEM key of an rc-archive/proof/1 JSON")
    args = parser.parse_args(argv)
    target = Path(args.target)
    if target.is_dir():
        if not args.log_key or args.record_sha256 or args.public_key:
            raise UsageError("a production folder is checked with --log-key (and witness keys)")
        return check_production(target, load_trust(args))
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise UsageError(f"{args.target}: no such production folder or proof file") from exc
    if not data.startswith(TLOG_PROOF_HEADER.encode() + b"\n"):
        if args.log_key or args.witness_key or args.record_sha256:
            raise UsageError(f"{args.target} is not a {TLOG_PROOF_HEADER} file")
        return check_json_proof(data, args.public_key)
    if not args.log_key or not args.record_sha256 or args.public_key:
        raise UsageError("a .tlog-proof file is checked with --log-key and --record-sha256")
    try:
        record = bytes.fromhex(args.record_sha256)
    except ValueError:
        record = b""
    if len(record) != 32:
        raise UsageError("--record-sha256 is not 64 hex digits")
    trust = load_trust(args)
    result = check_tlog_proof(data, record, trust, None)
    ok = ""
    if result.checkpoint is not None:
        ok = (
            f"record {record.hex()} is leaf {result.index} of the tree of "
            f"{result.checkpoint.size} records of {result.checkpoint.origin}, "
            + witness_phrase(result.cosigners, trust)
        )
    return report(result.failures, ok, f"the proof of record {record.hex()}")


def main(argv=None) -> int:
    try:
        return run(argv)
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
