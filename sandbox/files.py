"""Attachment bytes: deterministic per attachment (seeded), served behind signed, expiring links.

An attachment's `uri` (sandbox.world.row_json) is `<server>/files/attachments/<id>/<name>
?exp=<ms>&sig=<hex>`: `sig` is an HMAC of (id, exp) under a key derived from the world seed, and
`exp` is the world clock (ms) after which the link is refused with 403 `ATT-403` ("link
expired"), like a CDN's signed URL. `World.expire_attachment_links()` (also
`sb.faults.expire_links_now()`) re-issues every link: older links are expired from then on and
GET content returns the new ones. Downloads need no bearer token and are not API calls: they
are counted under the stats group `Files` and take no part in the Light/Medium/Heavy limits.
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
class AttachmentSpec:
    """What the world knows of one attachment: enough to list it and to serve its bytes."""

    index: int  # row * 2 + k
    id: str
    content_type: str
    filename: str
    size: int
    blob: int  # seed of its bytes: two attachments with the same blob have the same bytes


def sign(seed: int, attachment_id: str, expires_ms: int) -> str:
    key = hashlib.sha256(f"rc-sandbox-files:{seed}".encode()).digest()
    message = f"{attachment_id}|{expires_ms}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def check_signature(seed: int, attachment_id: str, expires: str | None, sig: str | None) -> bool:
    if not expires or not sig or not expires.isdigit():
        return False
    return hmac.compare_digest(sign(seed, attachment_id, int(expires)), sig)


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
