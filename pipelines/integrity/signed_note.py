"""Signed notes (c2sp.org/signed-note): text signed by one or more keys, in the format
transparency logs, their witnesses and Go's `golang.org/x/mod/sumdb/note` share.

A note is its text (UTF-8, every line ending in a newline, no other control character), a
blank line, then one signature line per signature:

    — <key name> base64(4-byte key ID || signature)

The key ID is SHA-256(key name || 0x0A || signature type || public key)[:4], so a verifier
configured with (name, public key, type) recognises its own lines and ignores every other.
Two signature types are implemented, both over Ed25519: 0x01 signs the note text itself,
0x04 (c2sp.org/tlog-cosignature, the witnesses' `cosignature/v1`) signs
"cosignature/v1\\ntime <t>\\n" + text and carries the 8-byte big-endian time <t> before the
64-byte signature.

Keys travel as text: a verifier key (vkey) `<name>+<hex key ID>+<base64(type || public
key)>`, a signer key `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>` (the
format Go's `note.GenerateKey` writes). Why our own code and not a dependency: the format is
small and fixed, and the archive's evidence must stay checkable with nothing but Python and
`cryptography`.

Errors are ValueError subclasses with a one-line message: `KeyFormatError` (a key that does
not parse), `NoteError` (a note that is malformed, or whose signature by a known key does not
verify, or that no known key signed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_TYPES = {ED25519: "Ed25519", COSIGNATURE_V1: "Ed25519 cosignature/v1"}
EM_DASH = "\u2014"
SIGNATURE_PREFIX = EM_DASH + " "
# The spec asks verifiers to accept at least 16; Go's reference implementation stops at 100.
MAX_SIGNATURES = 100
MAX_TIMESTAMP = (1 << 63) - 1
_HEX8 = re.compile(r"[0-9a-f]{8}")


class KeyFormatError(ValueError):
    """A verifier or signer key that does not parse, or whose key ID does not match."""


class NoteError(ValueError):
    """A note that cannot be accepted: malformed, a known key's signature that does not
    verify, or no signature by a known key."""


class UnverifiedNoteError(NoteError):
    """A well-formed note none of whose signatures is by a known key."""


class InvalidSignatureError(NoteError):
    """A signature line of a known key (name and key ID match) whose signature does not
    verify: the note was altered, or forged."""


# -- keys --------------------------------------------------------------------------------------


def valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no plus (the separator of the key formats)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def cosignature_message(text: str | bytes, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line, then the note text."""
    body = text.encode("utf-8") if isinstance(text, str) else text
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not valid_key_name(name):
        raise KeyFormatError(
            f"key name {name!r} is not valid: it must be non-empty, without spaces or '+'"
        )


def _check_type(sig_type: int) -> None:
    if sig_type not in SIGNATURE_TYPES:
        known = ", ".join(f"0x{t:02x} ({n})" for t, n in SIGNATURE_TYPES.items())
        raise KeyFormatError(f"signature type 0x{sig_type:02x} is not supported (only {known})")


def _ed25519_public(public_key: bytes):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(public_key)


def _raw_public(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key as note verifiers know it: (name, type, 32-byte Ed25519 key); `key_id`
    is derived from them."""

    name: str
    sig_type: int
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        _check_type(self.sig_type)
        if len(self.public_key) != 32:
            raise KeyFormatError(f"key {self.name}: an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.sig_type, self.public_key))

    def vkey(self) -> str:
        """`<name>+<hex8 key ID>+<base64(type || public key)>`."""
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Does `signature` (a signature line's bytes after the key ID) sign `text`?"""
        from cryptography.exceptions import InvalidSignature

        if self.sig_type == COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                return False
            message, signature = cosignature_message(text, timestamp), signature[8:]
        else:
            if len(signature) != 64:
                return False
            message = text
        try:
            _ed25519_public(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def retyped(self, sig_type: int) -> Verifier:
        """The same key and name under another signature type (its own key ID)."""
        return Verifier(self.name, sig_type, self.public_key)

    def __str__(self) -> str:
        return self.vkey()


@dataclass(frozen=True)
class Signer:
    """A private key as note signers hold it: (name, type, 32-byte Ed25519 seed). The seed
    is kept out of repr(), so a signer printed or logged never shows it."""

    name: str
    sig_type: int
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        _check_key_name(self.name)
        _check_type(self.sig_type)
        if len(self.seed) != 32:
            raise KeyFormatError(f"key {self.name}: an Ed25519 private key (seed) is 32 bytes")
        public = _raw_public(Ed25519PrivateKey.from_private_bytes(self.seed).public_key())
        object.__setattr__(self, "public_key", public)
        object.__setattr__(self, "key_id", key_id(self.name, self.sig_type, public))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.sig_type, self.public_key)

    def signer_key(self) -> str:
        """`PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || seed)>`: a secret."""
        material = base64.b64encode(bytes([self.sig_type]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{material}"

    def sign(self, text: bytes, timestamp: int | None = None) -> bytes:
        """The signature of `text` as a signature line carries it after the key ID: 64 bytes
        (type 0x01), or the 8-byte time and 64 bytes (type 0x04; `timestamp` required)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        if self.sig_type == COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp <= MAX_TIMESTAMP:
                raise ValueError(f"a cosignature needs a time in 0..2^63-1, not {timestamp!r}")
            return timestamp.to_bytes(8, "big") + key.sign(cosignature_message(text, timestamp))
        return key.sign(text)

    def retyped(self, sig_type: int) -> Signer:
        """The same key and name under another signature type (its own key ID)."""
        return Signer(self.name, sig_type, self.seed)


def signer_from_ed25519(name: str, private_key, sig_type: int = ED25519) -> Signer:
    """A Signer of a `cryptography` Ed25519PrivateKey (pipelines/integrity/certificate.py)."""
    from cryptography.hazmat.primitives import serialization

    seed = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return Signer(name, sig_type, seed)


def verifier_from_ed25519(name: str, public_key, sig_type: int = ED25519) -> Verifier:
    """A Verifier of a `cryptography` Ed25519PublicKey."""
    return Verifier(name, sig_type, _raw_public(public_key))


def generate_signer(name: str, sig_type: int = ED25519) -> Signer:
    """A new random key."""
    import secrets

    return Signer(name, sig_type, secrets.token_bytes(32))


def decode_base64(text: str) -> bytes:
    """Standard base64 with padding, nothing else accepted (no whitespace, no URL alphabet)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("not base64") from None


def _key_parts(text: str, what: str, parts: int) -> list[str]:
    if not isinstance(text, str):
        raise KeyFormatError(f"{what} must be text")
    fields = text.strip().split("+", parts - 1)
    if len(fields) != parts:
        raise KeyFormatError(f"not a {what}: expected {parts} fields separated by '+'")
    return fields


def _parse_material(name: str, hex_id: str, material: str, what: str) -> tuple[int, bytes]:
    _check_key_name(name)
    if not _HEX8.fullmatch(hex_id):
        raise KeyFormatError(f"{what} {name}: the key ID must be 8 lowercase hex digits")
    try:
        raw = decode_base64(material)
    except ValueError:
        raise KeyFormatError(f"{what} {name}: the key material is not base64") from None
    if not raw:
        raise KeyFormatError(f"{what} {name}: no key material")
    _check_type(raw[0])
    if len(raw) != 33:
        raise KeyFormatError(f"{what} {name}: an Ed25519 key is 32 bytes, not {len(raw) - 1}")
    return raw[0], raw[1:]


def parse_vkey(text: str) -> Verifier:
    """The Verifier of a vkey `<name>+<hex8>+<base64(type || public key)>`; KeyFormatError
    when it does not parse or its key ID is not the one its name, type and key give."""
    name, hex_id, material = _key_parts(text, "verifier key", 3)
    sig_type, public = _parse_material(name, hex_id, material, "verifier key")
    verifier = Verifier(name, sig_type, public)
    if f"{verifier.key_id:08x}" != hex_id:
        raise KeyFormatError(f"verifier key {name}: key ID {hex_id} does not match the key")
    return verifier


def parse_signer_key(text: str) -> Signer:
    """The Signer of `PRIVATE+KEY+<name>+<hex8>+<base64(type || seed)>`; KeyFormatError when
    it does not parse or its key ID is not that of the public key the seed gives. The message
    never repeats the key."""
    fields = _key_parts(text, "signer key", 5)
    if fields[0] != "PRIVATE" or fields[1] != "KEY":
        raise KeyFormatError("not a signer key: its first two fields must be PRIVATE and KEY")
    name, hex_id, material = fields[2:]
    sig_type, seed = _parse_material(name, hex_id, material, "signer key")
    signer = Signer(name, sig_type, seed)
    if f"{signer.key_id:08x}" != hex_id:
        raise KeyFormatError(f"signer key {name}: key ID {hex_id} does not match the key")
    return signer


# -- notes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, the key ID and the signature bytes after it."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """`— <name> <base64>` (without the newline)."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}"

    @property
    def timestamp(self) -> int | None:
        """The time a cosignature/v1-shaped signature (8 + 64 bytes) carries, else None."""
        if len(self.signature) != 72:
            return None
        return int.from_bytes(self.signature[:8], "big")


@dataclass(frozen=True)
class VerifiedSignature:
    verifier: Verifier
    signature: NoteSignature

    @property
    def timestamp(self) -> int | None:
        """The cosignature's time (type 0x04), None for a plain signature."""
        return self.signature.timestamp if self.verifier.sig_type == COSIGNATURE_V1 else None


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures by known keys all verified (at least one did).

    `signatures` is every signature line in order (duplicates dropped), `verified` those of
    known keys, `unverified` those of keys the caller did not name (ignored, per the spec)."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified: tuple[VerifiedSignature, ...]
    unverified: tuple[NoteSignature, ...]

    @property
    def verifiers(self) -> tuple[Verifier, ...]:
        return tuple(v.verifier for v in self.verified)

    def note(self) -> str:
        """The note again: text, blank line, every signature line."""
        return format_note(self.text, self.signatures)


def format_note(text: str, signatures: Iterable[NoteSignature]) -> str:
    lines = "".join(sig.line() + "\n" for sig in signatures)
    return f"{text}\n{lines}"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("malformed note: the text must end with a newline")


def _check_characters(note: str) -> None:
    for ch in note:
        if ch < " " and ch != "\n":
            raise NoteError(f"malformed note: control character U+{ord(ch):04X}")


def _as_text(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note: not UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("malformed note: not text")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("malformed note: not UTF-8") from None
    return note


def parse_signature_line(line: str) -> NoteSignature:
    """`— <name> <base64(key ID || signature)>` (a trailing newline allowed)."""
    line = line[:-1] if line.endswith("\n") else line
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("malformed note: a signature line must start with '\u2014 '")
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not valid_key_name(name) or not b64:
        raise NoteError("malformed note: a signature line needs a key name and a signature")
    try:
        raw = decode_base64(b64)
    except ValueError:
        raise NoteError(f"malformed note: the signature of {name} is not base64") from None
    if len(raw) < 5:
        raise NoteError(f"malformed note: the signature of {name} is too short")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def split_note(note: str | bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """(text, signature lines) of a well-formed note, nothing verified; NoteError when
    malformed. The text is separated from the signatures by the note's last blank line."""
    note = _as_text(note)
    _check_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("malformed note: no signature line, or the last one lacks its newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, tuple(parse_signature_line(line) for line in lines)


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> OpenedNote:
    """The note, once each signature by a key in `verifiers` verified and at least one did.

    Signatures of other keys are kept but ignored, even when they share a name or a key ID
    (not both) with a known key. A known key whose signature fails rejects the whole note
    (`InvalidSignatureError`): an altered note is never half-accepted."""
    text, signatures = split_note(note)
    known: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        entry = known.setdefault((verifier.name, verifier.key_id), [])
        if verifier not in entry:
            entry.append(verifier)
    body = text.encode("utf-8")
    kept: list[NoteSignature] = []
    verified: list[VerifiedSignature] = []
    unverified: list[NoteSignature] = []
    seen_known: set[tuple[str, int]] = set()
    for sig in signatures:
        if sig in kept:
            continue
        kept.append(sig)
        candidates = known.get((sig.name, sig.key_id))
        if not candidates:
            unverified.append(sig)
            continue
        if len(candidates) > 1:
            raise NoteError(f"ambiguous key {sig.name}+{sig.key_id:08x}: two verifiers match")
        if (sig.name, sig.key_id) in seen_known:
            continue  # one signature per known key is checked; a repeat adds nothing
        seen_known.add((sig.name, sig.key_id))
        if not candidates[0].verify(body, sig.signature):
            raise InvalidSignatureError(
                f"invalid signature for key {sig.name}+{sig.key_id:08x}: the note was altered "
                "or the signature forged"
            )
        verified.append(VerifiedSignature(candidates[0], sig))
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in unverified) or "none"
        raise UnverifiedNoteError(f"note has no signature by a known key (signed by: {names})")
    return OpenedNote(text, tuple(kept), tuple(verified), tuple(unverified))


def sign_note(
    text: str, signers: Sequence[Signer] | Signer, *, timestamp: int | None = None
) -> str:
    """`text` (ending in a newline) signed by each signer, as a note. A cosignature/v1
    signer signs with `timestamp` (now when None)."""
    if isinstance(signers, Signer):
        signers = [signers]
    if not isinstance(text, str):
        raise NoteError("malformed note: the text must be a str")
    _check_text(text)
    _check_characters(text)
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    when = int(time.time()) if timestamp is None else timestamp
    body = text.encode("utf-8")
    lines = [NoteSignature(s.name, s.key_id, s.sign(body, when)) for s in signers]
    return format_note(text, lines)


def add_signatures(note: str, lines: Iterable[str]) -> str:
    """`note` with more signature lines (a witness's cosignatures) appended, each line once;
    NoteError when the note or a line is malformed."""
    text, existing = split_note(note)
    signatures = list(existing)
    for line in lines:
        sig = parse_signature_line(line)
        if sig not in signatures:
            signatures.append(sig)
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return format_note(text, signatures)


# -- key files ---------------------------------------------------------------------------------


def write_key_pair(out: str | os.PathLike[str], signer: Signer) -> tuple[Path, Path]:
    """The signer key at `out` (mode 0600, never overwritten) and its vkey at `out` +
    `.vkey`, each one line. The folder is made (mode 0700) when missing."""
    private_path, public_path = Path(out), Path(f"{out}.vkey")
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; keys are never overwritten: pick another --out")
    private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.signer_key() + "\n")
    os.chmod(private_path, 0o600)
    public_path.write_text(signer.verifier().vkey() + "\n", encoding="utf-8")
    return private_path, public_path


def read_signer_key(path: str | os.PathLike[str]) -> Signer:
    """The Signer of a signer key file; KeyFormatError (never quoting the file) if not."""
    return _read_key_file(path, parse_signer_key)


def read_verifier_key(value: str) -> Verifier:
    """The Verifier of a vkey given as text, or of the file holding one."""
    if os.path.exists(value):
        return _read_key_file(value, parse_vkey)
    return parse_vkey(value)


def _read_key_file(path: str | os.PathLike[str], parse: Callable[[str], T]) -> T:
    """`parse` of the file's text; a KeyFormatError naming the file, never quoting it."""
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise KeyFormatError(f"{path}: cannot be read ({reason})") from None
    try:
        return parse(text)
    except KeyFormatError as exc:
        raise KeyFormatError(f"{path}: {exc}") from None
