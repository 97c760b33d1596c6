"""Ledger checkpoints: the state of one stream at one manifest, so readers skip the history.

Why: a 15-minute schedule commits ~35,000 manifests a year per source. Replaying every one of
them to learn the head, the cursor and the committed files made each run, each catalog refresh
and each per-run check cost more every day. Like a Delta Lake log checkpoint, a checkpoint
records what the manifests up to `seq` add up to: head seq and SHA-256, cursor, the files that
are live after compactions, row counts, and the key of the persisted version index (the sorted
`(id, record_sha256)` of every committed row plus the quarantined hashes). A reader starts from
the newest checkpoint and reads only the manifests after it.

Checkpoints are write-once objects like manifests (`_ledger/<table>/<stream>/_checkpoints/
<seq:010d>.json`, the index beside it as `<seq:010d>.versions.parquet`), chained to the previous
checkpoint by SHA-256 and to the manifest they summarise by `head_sha256`. They add no fact of
their own: `verify` replays the manifests and refuses a checkpoint that disagrees with them, so
a tampered checkpoint cannot hide or add a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from pipelines.archive.stored_json import parse_stored_json, stored_json_bytes

CHECKPOINT_FORMAT = "rc-archive/checkpoint/1"
# A checkpoint after this many manifests past the previous one: a run then reads at most this
# many manifests beyond the checkpoint, and a checkpoint costs one pass over the index.
CHECKPOINT_EVERY = 100
CHECKPOINT_DIR = "_checkpoints"

# The persisted version index: one row per committed version or quarantined record hash,
# sorted by record_sha256 (so it loads straight into the sorted key arrays of exact_keys).
VERSION_INDEX_SCHEMA = pa.schema(
    [
        pa.field("record_sha256", pa.string(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("quarantined", pa.bool_(), nullable=False),
    ]
)


@dataclass(frozen=True)
class FileEntry:
    """A committed data file as a manifest lists it."""

    key: str
    table: str
    sha256: str
    bytes: int
    rows: int
    min_creation_time: str | None
    max_creation_time: str | None


@dataclass(frozen=True)
class Checkpoint:
    table: str
    stream: str
    seq: int  # the last manifest it summarises
    head_sha256: str  # SHA-256 of that manifest's bytes
    cursor: dict[str, Any]
    files: tuple[FileEntry, ...]  # live after compactions, in commit order
    version_index: FileEntry | None
    prev_checkpoint_sha256: str | None
    created_at: str
    code_version: str
    # Contents ledgers: the RFC 9162 Merkle tree of the source's record versions in commit
    # order ({"tree_size": n, "root": hex}), the tree `rc-archive attest` certifies.
    merkle: dict[str, Any] | None = None
    key: str = ""
    sha256: str = ""

    def to_json_bytes(self) -> bytes:
        body = {
            "format": CHECKPOINT_FORMAT,
            "table": self.table,
            "stream": self.stream,
            "seq": self.seq,
            "head_sha256": self.head_sha256,
            "cursor": self.cursor,
            "files": [asdict(f) for f in self.files],
            "version_index": None if self.version_index is None else asdict(self.version_index),
            "prev_checkpoint_sha256": self.prev_checkpoint_sha256,
            "created_at": self.created_at,
            "code_version": self.code_version,
        }
        if self.merkle is not None:
            body["merkle"] = self.merkle
        return stored_json_bytes(body)

    @classmethod
    def from_bytes(cls, key: str, data: bytes) -> Checkpoint:
        """Parse a checkpoint; ValueError (naming the key) if it is not one."""

        def build(body: dict[str, Any]) -> Checkpoint:
            index = body.get("version_index")
            return cls(
                table=body["table"],
                stream=body["stream"],
                seq=int(body["seq"]),
                head_sha256=body["head_sha256"],
                cursor=dict(body.get("cursor") or {}),
                files=tuple(FileEntry(**f) for f in body["files"]),
                version_index=None if index is None else FileEntry(**index),
                prev_checkpoint_sha256=body["prev_checkpoint_sha256"],
                created_at=body["created_at"],
                code_version=body["code_version"],
                merkle=body.get("merkle"),
                key=key,
                sha256=hashlib.sha256(data).hexdigest(),
            )

        return parse_stored_json(key, data, CHECKPOINT_FORMAT, "checkpoint", build)


@dataclass
class LiveFiles:
    """The files a stream's readers see: every committed file, minus compacted inputs.

    Replaying manifests in seq order through `apply` gives the same list as a checkpoint plus
    the manifests after it (the property the checkpoint tests check)."""

    entries: dict[str, FileEntry] = field(default_factory=dict)  # insertion = commit order

    @classmethod
    def of(cls, files: Iterable[FileEntry]) -> LiveFiles:
        return cls({entry.key: entry for entry in files})

    def apply(self, added: Iterable[FileEntry], replaced: Iterable[FileEntry]) -> None:
        for entry in replaced:
            self.entries.pop(entry.key, None)
        for entry in added:
            self.entries[entry.key] = entry

    def as_tuple(self) -> tuple[FileEntry, ...]:
        return tuple(self.entries.values())

    def copy(self) -> LiveFiles:
        return LiveFiles(dict(self.entries))
