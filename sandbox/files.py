"""Attachment bytes: deterministic per attachment (seeded), served behind signed, expiring links.

Like RingCentral's, an attachment's `uri` (sandbox.world.row_json) is a signed link minted
afresh every time the content is served (each listing, GET and webhook payload):
`<server>/files/attachments/<id>/<name>?exp=<ms>&n=<serial>&sig=<hex>`. `exp` is the world
clock (ms) when it was served plus `attachment_link_ttl_seconds`, `n` a serial number the
world never hands out twice, and `sig` a MAC of (id, exp, n) under a key derived from the
world seed, so two servings of the same content, even within one millisecond, carry different
links that download the same bytes. Each link works until its own `exp`; past it, or once
`World.expire_attachment_links()` (also `sb.faults.expire_links_now()`) revoked every link
served so far, it is refused with 403 `ATT-403` ("link expired"), like a CDN's signed URL; a
link whose `sig` does not match is refused with 403 `ATT-401`.

`SandboxConfig.attachment_links = "stable"` keeps the older behaviour: every serving carries the
same link `?exp=<ms>&sig=<hex>` (no `n`) until `expire_attachment_links()` re-issues them all.

Downloads need no bearer token and are not API calls: they are counted under the stats group
`Files` and take no part in the Light/Medium/Heavy limits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

FILES_PREFIX = "/files/attachments/"
CHUNK = 1 << 20
# The first bytes of each kind, so a viewer recognises the file type.
MAGIC = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42",
    "audio/ogg": b"OggS\x00\x02",
}


@dataclass(frozen=True)
class Profile:
    """How many files a generated history carries and how large they may be, so one sandbox can
    serve a compliance demo (real kinds and sizes) and a 1M-message benchmark (that must fit a
    disk) alike."""

    share: float  # of the generated messages that list one or two files
    max_bytes: int | None  # no file larger (None: the corpus sizes, up to 5 MiB videos)


PROFILES: dict[str, Profile] = {
    "none": Profile(share=0.0, max_bytes=None),
    "light": Profile(share=0.01, max_bytes=256 << 10),
    "realistic": Profile(share=0.08, max_bytes=None),
}


@dataclass(frozen=True)
class AttachmentSpec:
    """What the world knows of one attachment: enough to list it and to serve its bytes."""

    index: int  # row * 2 + k
    id: str
    content_type: str
    filename: str
    size: int
    blob: int  # seed of its bytes: two attachments with the same blob have the same bytes


class LinkSigner:
    """Signs and checks attachment links of one world: keyed BLAKE2b (a MAC by design) over
    `id|exp` or `id|exp|n`, 32 hex digits. The keyed state is built once and copied per link,
    because row_json signs every link of a 1000-record page."""

    def __init__(self, seed: int) -> None:
        key = hashlib.sha256(f"rc-sandbox-files:{seed}".encode()).digest()
        self._keyed = hashlib.blake2b(key=key, digest_size=16)

    def sign(self, attachment_id: str, expires_ms: int, serial: int | None = None) -> str:
        mac = self._keyed.copy()
        if serial is None:
            mac.update(f"{attachment_id}|{expires_ms}".encode())
        else:
            mac.update(f"{attachment_id}|{expires_ms}|{serial}".encode())
        return mac.hexdigest()

    def check(
        self, attachment_id: str, expires: str | None, serial: str | None, sig: str | None
    ) -> bool:
        """Whether (exp, n, sig) of a link's query string were signed here; `serial` is None
        for a stable link (no `n`)."""
        if not expires or not sig or not expires.isdigit():
            return False
        if serial is not None and not serial.isdigit():
            return False
        number = None if serial is None else int(serial)
        return hmac.compare_digest(self.sign(attachment_id, int(expires), number), sig)


def sign(seed: int, attachment_id: str, expires_ms: int, serial: int | None = None) -> str:
    """The `sig` of a link (tests forge and check links with it)."""
    return LinkSigner(seed).sign(attachment_id, expires_ms, serial)


def check_signature(
    seed: int,
    attachment_id: str,
    expires: str | None,
    sig: str | None,
    serial: str | None = None,
) -> bool:
    return LinkSigner(seed).check(attachment_id, expires, serial, sig)


def blob_chunks(
    seed: int, spec: AttachmentSpec, limit: int | None = None, chunk: int = CHUNK
) -> Iterator[bytes]:
    """The attachment's bytes, `chunk` at a time (never the whole file in memory); `limit`
    stops early (a truncated body)."""
    size = spec.size if limit is None else min(limit, spec.size)
    rng = np.random.Generator(np.random.PCG64([seed, 0xA77AC4, spec.blob]))
    magic = MAGIC.get(spec.content_type, b"")
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        data = rng.bytes(n)
        if sent == 0 and magic:
            data = (magic + data[len(magic) :])[:n]
        sent += n
        yield data


def blob_sha256(seed: int, spec: AttachmentSpec) -> str:
    """SHA-256 of the full bytes (tests compare the archive against it)."""
    digest = hashlib.sha256()
    for part in blob_chunks(seed, spec):
        digest.update(part)
    return digest.hexdigest()
