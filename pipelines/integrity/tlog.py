"""Transparency-log text formats (C2SP): checkpoints, witness cosignatures, tlog proofs.

- A checkpoint (c2sp.org/tlog-checkpoint) is the body of a signed note: the log's origin,
  its tree size in decimal, its RFC 6962 root hash in base64, then optional extension lines.
  The log signs it as a note (pipelines/integrity/signed_note.py).
- A cosignature (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`, type 0x04) is one more
  signature line on that note, by a witness that checked the checkpoint is consistent with
  everything it saw of the log before; it carries the time it was made. A reader who trusts k
  of n witnesses accepts a checkpoint that k of them cosigned (`verify_witnessed_checkpoint`):
  a log can then not show one history to some readers and another to others, unless k
  witnesses conspire with it.
- A tlog proof (c2sp.org/tlog-proof) is an offline-checkable proof that one entry is in the
  log: `c2sp.org/tlog-proof@v1`, an optional `extra <base64>` line, `index <n>`, the inclusion
  path (one base64 hash a line), a blank line, then the cosigned checkpoint note verbatim.

The Merkle arithmetic is RFC 9162's (pipelines/archive/merkle.py), the same hashes RFC 6962
defines. Errors are ValueError subclasses with one-line messages.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipelines.archive import merkle
from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    MAX_TIMESTAMP,
    NoteError,
    NoteSignature,
    Signer,
    Verifier,
    decode_base64,
    open_note,
    parse_signature_line,
    split_note,
)

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
HASH_SIZE = 32
# A path through a tree of at most 2^64 leaves has at most 64 hashes.
MAX_PATH = 64
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint body that is not in the tlog-checkpoint format."""


class CosignatureError(ValueError):
    """A cosignature that is malformed, of another key, or does not verify."""


class QuorumError(ValueError):
    """A checkpoint validly signed by its log but cosigned by fewer witnesses than required."""


class TlogProofError(ValueError):
    """A text that is not a c2sp.org/tlog-proof@v1 proof, or a proof that does not hold."""


def _decimal(text: str, what: str, error: type[ValueError]) -> int:
    if not _DECIMAL.fullmatch(text) or len(text) > 20:
        raise error(f"{what} {text[:40]!r} is not a decimal without leading zeroes")
    value = int(text)
    if value >= 1 << 64:
        raise error(f"{what} {text} does not fit 64 bits")
    return value


def _hash(text: str, what: str, error: type[ValueError]) -> bytes:
    try:
        value = decode_base64(text)
    except ValueError:
        raise error(f"{what} is not base64") from None
    if len(value) != HASH_SIZE:
        raise error(f"{what} is {len(value)} bytes, not a {HASH_SIZE}-byte SHA-256 hash")
    return value


# -- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, size, root hash, and opaque extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("a checkpoint's origin must be one non-empty line")
        if not isinstance(self.size, int) or not 0 <= self.size < 1 << 64:
            raise CheckpointError(f"tree size {self.size!r} is not in 0..2^64-1")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash is {len(self.root)} bytes, not {HASH_SIZE}")
        for line in self.extensions:
            if not line or "\n" in line:
                raise CheckpointError("an extension line must be one non-empty line")

    def text(self) -> str:
        """The note body: one line each, every line ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "".join(line + "\n" for line in [*lines, *self.extensions])


def parse_checkpoint(text: str) -> Checkpoint:
    """The Checkpoint of a note body (the text of a signed note, not the note itself)."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckpointError("a checkpoint must be text ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has at least three lines: origin, size, root hash")
    if any(not line for line in lines):
        raise CheckpointError("a checkpoint has no empty line")
    size = _decimal(lines[1], "tree size", CheckpointError)
    root = _hash(lines[2], "the root hash", CheckpointError)
    return Checkpoint(lines[0], size, root, tuple(lines[3:]))


# -- cosignatures ------------------------------------------------------------------------------


def _require_cosigner(key: Signer | Verifier) -> None:
    if key.sig_type != COSIGNATURE_V1:
        raise CosignatureError(
            f"key {key.name} is of signature type 0x{key.sig_type:02x}, not a cosignature/v1 "
            "(0x04) witness key"
        )


def cosign(checkpoint_text: str, signer: Signer, timestamp: int) -> str:
    """The witness's cosignature/v1 line on a checkpoint body, made at `timestamp` (POSIX
    seconds): `— <name> base64(key ID || u64 time || Ed25519 signature)`, no newline."""
    _require_cosigner(signer)
    parse_checkpoint(checkpoint_text)
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature time {timestamp} is not in 0..2^63-1")
    blob = signer.sign(checkpoint_text.encode("utf-8"), timestamp)
    return NoteSignature(signer.name, signer.key_id, blob).line()


def verify_cosignature(
    checkpoint_text: str, signature: str | bytes | NoteSignature, verifier: Verifier
) -> int:
    """The time of `verifier`'s cosignature on the checkpoint body; CosignatureError if it
    is not this witness's or does not verify.

    `signature` is a signature line, a NoteSignature, or the decoded bytes of a line's
    base64: key ID || time || signature (76 bytes), or time || signature (72 bytes)."""
    _require_cosigner(verifier)
    if isinstance(signature, str):
        try:
            signature = parse_signature_line(signature)
        except NoteError as exc:
            raise CosignatureError(str(exc)) from None
    if isinstance(signature, NoteSignature):
        if (signature.name, signature.key_id) != (verifier.name, verifier.key_id):
            raise CosignatureError(
                f"the line is by {signature.name}+{signature.key_id:08x}, not the witness "
                f"{verifier.name}+{verifier.key_id:08x}"
            )
        blob = signature.signature
    elif len(signature) == 76:
        if int.from_bytes(signature[:4], "big") != verifier.key_id:
            raise CosignatureError(f"the key ID is not that of the witness {verifier.name}")
        blob = signature[4:]
    else:
        blob = signature
    if len(blob) != 72:
        raise CosignatureError("a cosignature/v1 is 8 bytes of time and 64 of signature")
    parse_checkpoint(checkpoint_text)
    if not verifier.verify(checkpoint_text.encode("utf-8"), blob):
        raise CosignatureError(
            f"the cosignature of {verifier.name} does not verify: the checkpoint or the "
            "cosignature was altered"
        )
    return int.from_bytes(blob[:8], "big")


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint whose log signature verified and the witnesses that cosigned it (with
    the time of each cosignature)."""

    checkpoint: Checkpoint
    note: str
    log: Verifier
    cosigned: tuple[tuple[Verifier, int], ...]
    missing: tuple[Verifier, ...] = field(default=())

    @property
    def witnesses(self) -> tuple[Verifier, ...]:
        return tuple(witness for witness, _ in self.cosigned)


def verify_witnessed_checkpoint(
    note: str, log: Verifier, witnesses: Sequence[Verifier], quorum: int
) -> WitnessedCheckpoint:
    """The checkpoint of `note` once its log signature and at least `quorum` of the
    `witnesses`' cosignatures verified.

    Raises NoteError when the log did not sign it (or a known key's signature fails: the
    note was altered), CheckpointError when its body is no checkpoint, QuorumError when fewer
    than `quorum` distinct witnesses cosigned (the message names who did and who did not)."""
    for witness in witnesses:
        _require_cosigner(witness)
    unique = list(dict.fromkeys(witnesses))
    if not 0 <= quorum <= len(unique):
        raise ValueError(f"quorum {quorum} is not in 0..{len(unique)} (the witnesses given)")
    opened = open_note(note, [log, *unique])
    if log not in opened.verifiers:
        raise NoteError(f"the checkpoint is not signed by the log key {log.name}+{log.key_id:08x}")
    checkpoint = parse_checkpoint(opened.text)
    cosigned = tuple(
        (v.verifier, v.timestamp or 0) for v in opened.verified if v.verifier in unique
    )
    signed_by = {witness for witness, _ in cosigned}
    missing = tuple(w for w in unique if w not in signed_by)
    if len(cosigned) < quorum:
        have = ", ".join(w.name for w, _ in cosigned) or "none"
        lacking = ", ".join(w.name for w in missing)
        raise QuorumError(
            f"checkpoint {checkpoint.origin} size {checkpoint.size} is cosigned by "
            f"{len(cosigned)} of the {quorum} witnesses required (cosigned: {have}; "
            f"missing: {lacking})"
        )
    return WitnessedCheckpoint(checkpoint, opened.note(), log, cosigned, missing)


# -- tlog proofs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """One entry's proof of inclusion: its index, the inclusion path (leaf's sibling first),
    the cosigned checkpoint note it leads to, and optional unauthenticated extra data."""

    index: int
    path: Sequence[bytes]
    checkpoint_note: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", tuple(self.path))
        if not isinstance(self.index, int) or not 0 <= self.index < 1 << 64:
            raise TlogProofError(f"index {self.index!r} is not in 0..2^64-1")
        if len(self.path) > MAX_PATH or any(len(h) != HASH_SIZE for h in self.path):
            raise TlogProofError(f"the path is at most {MAX_PATH} hashes of {HASH_SIZE} bytes")

    def text(self) -> str:
        return format_tlog_proof(self)

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint the note carries (its signatures not checked)."""
        text, _ = split_note(self.checkpoint_note)
        return parse_checkpoint(text)


def format_tlog_proof(proof: TlogProof) -> str:
    """The proof as c2sp.org/tlog-proof@v1 text (ends with the note's final newline)."""
    lines = [TLOG_PROOF_HEADER]
    if proof.extra is not None:
        lines.append("extra " + base64.b64encode(proof.extra).decode("ascii"))
    lines.append(f"index {proof.index}")
    lines.extend(base64.b64encode(h).decode("ascii") for h in proof.path)
    return "\n".join(lines) + "\n\n" + proof.checkpoint_note


def parse_tlog_proof(text: str) -> TlogProof:
    """A TlogProof of c2sp.org/tlog-proof@v1 text. The checkpoint note must be well formed
    (its signatures are checked by `verify_tlog_proof`, not here)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TlogProofError("a tlog proof is UTF-8 text") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise TlogProofError("not a tlog proof: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise TlogProofError(f"not a tlog proof: the first line must be {TLOG_PROOF_HEADER}")
    position, extra = 1, None
    if len(lines) > 1 and lines[1].startswith("extra "):
        try:
            extra = decode_base64(lines[1][len("extra ") :])
        except ValueError:
            raise TlogProofError("the extra line is not base64") from None
        position = 2
    if len(lines) <= position or not lines[position].startswith("index "):
        raise TlogProofError("a tlog proof needs an `index <n>` line after the header")
    index = _decimal(lines[position][len("index ") :], "index", TlogProofError)
    hashes = lines[position + 1 :]
    if len(hashes) > MAX_PATH:
        raise TlogProofError(f"the inclusion path has more than {MAX_PATH} hashes")
    path = [_hash(line, f"inclusion hash {n + 1}", TlogProofError) for n, line in enumerate(hashes)]
    try:
        body, _ = split_note(note)
        parse_checkpoint(body)
    except (NoteError, CheckpointError) as exc:
        raise TlogProofError(f"the proof's checkpoint: {exc}") from None
    return TlogProof(index, path, note, extra)


def verify_tlog_proof(
    proof: TlogProof,
    leaf_hash: bytes,
    log: Verifier,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
) -> WitnessedCheckpoint:
    """The witnessed checkpoint once `leaf_hash` (RFC 6962 leaf hash of the entry) is proven
    at `proof.index` of its tree, the log signature and `quorum` cosignatures verified."""
    witnessed = verify_witnessed_checkpoint(proof.checkpoint_note, log, witnesses, quorum)
    checkpoint = witnessed.checkpoint
    if not merkle.verify_inclusion(
        leaf_hash, proof.index, checkpoint.size, list(proof.path), checkpoint.root
    ):
        raise TlogProofError(
            f"entry {proof.index} is not proven in {checkpoint.origin} at size "
            f"{checkpoint.size}: the inclusion path does not lead to the checkpoint's root"
        )
    return witnessed


def encode_hashes(hashes: Iterable[bytes]) -> list[str]:
    """Base64 lines of hashes (consistency and inclusion proofs travel so)."""
    return [base64.b64encode(h).decode("ascii") for h in hashes]
