"""What makes two served records the same version: the record, less what its transport made.

RingCentral serves attachment links as signed URLs: every listing, GET and webhook payload
carries a fresh signature and expiry in the link's query string, and webhook payloads carry
keys a listing does not (`hasAttachment`). Hashing the record as served made each serving a
"new version" of an unchanged message, and write-once storage keeps such noise for years. A
version is what the message *is*: the record with each transport-only value left out of the
hash. The stored row and `raw_json` keep every value as received; only the hash ignores them.

The transport-only values are declared once, on the table (`TableSchema.transport`, see
schemas/contents.py), and read here; the contents sync, webhook events, the schedule probe, the
ledger's version index and verify all hash through `version_sha256`. docs/internals.md
("Version identity") lists them and says why each one is transport.

A record with no transport-only value hashes exactly as `schemas.common.record_sha256` does
(same sorted serialisation), so rows archived before this rule without attachment links keep
their hash; only the others need an alias (pipelines/archive/version_aliases.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.common import record_sha256

# The rule's name, written into every contents manifest committed under it, so an upgraded
# stream is told apart from one whose rows were hashed as served.
VERSION_IDENTITY = "rc-archive/version-identity/1"

_SORTED = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class TransportValue:
    """A value of the API record that the serving makes, not the message: left out of the
    version identity. `path` is the API key (`key`), or a key of every element of a list
    (`list[].key`)."""

    path: str
    why: str

    def __post_init__(self) -> None:
        if self.path.count("[]") > 1 or "." in self.path.replace("[].", "", 1):
            raise ValueError(f"TransportValue {self.path!r}: one key, or list[].key, only")


class VersionIdentity:
    """The identity projection of one table's records, from its declared transport values."""

    def __init__(self, transport: tuple[TransportValue, ...]) -> None:
        self.transport = transport
        self._top = {t.path: t for t in transport if "[]" not in t.path}
        self._nested: dict[str, list[str]] = {}
        for t in transport:
            if "[]" in t.path:
                outer, inner = t.path.split("[].")
                self._nested.setdefault(outer, []).append(inner)

    def _touched(self, record: dict) -> bool:
        return any(key in record for key in self._top) or any(
            record.get(key) for key in self._nested
        )

    def identity_of(self, record: Any) -> Any:
        """The record as its version identity sees it: the same object when nothing of it is
        transport (the common case, no copy), else a shallow copy without those values."""
        if type(record) is not dict or not self._touched(record):
            return record
        out = {k: v for k, v in record.items() if k not in self._top}
        for key, values in self._nested.items():
            items = out.get(key)
            if type(items) is not list:
                continue
            cleaned = []
            for item in items:
                if type(item) is not dict:
                    cleaned.append(item)
                    continue
                cleaned.append({k: v for k, v in item.items() if k not in values})
            out[key] = cleaned
        return out

    def sha256(self, record: Any) -> str:
        """SHA-256 of the version identity's canonical JSON (keys sorted, compact, UTF-8).

        Total like `record_sha256`: a record that is not JSON is hashed over its best effort,
        so quarantine can name it."""
        identity = self.identity_of(record)
        try:
            return hashlib.sha256(orjson.dumps(identity, option=_SORTED)).hexdigest()
        except (orjson.JSONEncodeError, TypeError, RecursionError):
            return record_sha256(identity)
