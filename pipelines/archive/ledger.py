"""The ledger: per (table, stream), an append-only, hash-chained sequence of manifests.

A batch is intent -> data files -> manifest (docs/internals.md, "Archive layout"). The manifest,
written once at `_ledger/<table>/<stream>/<seq:010d>.json`, is the commit point: only files it
lists are ever read. A crash before it leaves files that nothing reads (verify reports them as
uncommitted, listed by the intent). Two writers racing for the same seq cannot both win: the
second manifest put is refused (write-once) and raises ConcurrentCommitError.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.archive import keys, merkle
from pipelines.archive.checkpoint import (
    CHECKPOINT_EVERY,
    VERSION_INDEX_SCHEMA,
    Checkpoint,
    FileEntry,
    LiveFiles,
)
from pipelines.archive.disposed_hashes import read_disposed_hashes
from pipelines.archive.exact_keys import DIGEST_WIDTH, KeySet, key_of
from pipelines.archive.parquet import (
    ID_COLUMNS,
    parquet_to_table,
    split_contents_by_day,
    table_to_parquet,
)
from pipelines.archive.store import ObjectExistsError, ObjectStore
from pipelines.archive.stored_json import parse_stored_json, stored_json_bytes
from pipelines.archive.version_aliases import (
    ALIASES_SCHEMA,
    aliases_of,
    aliases_parquet,
    identity_entry,
    read_aliases,
)
from pipelines.archive.witnessing import ArchiveWitness
from schemas.columns import TableSchema
from schemas.common import iso_ms
from schemas.ids import validate_stream
from schemas.tables import BATCH_TABLES, LEDGERS_OF, LOGGED_TABLE, table_schema

MANIFEST_FORMAT = "rc-archive/manifest/1"
INTENT_FORMAT = "rc-archive/intent/1"
PARQUET_TYPE = "application/vnd.apache.parquet"
JSON_TYPE = "application/json"
# A batch's data files (one per day) are written concurrently: Parquet encoding, zstd, fsync and
# S3 round trips all release the GIL. The manifest is still written after every one succeeded.
WRITE_THREADS = 4
# Which data tables a batch of each ledger may hold.


class ConcurrentCommitError(RuntimeError):
    """Another writer committed this seq first; this batch's files stay uncommitted."""


class LedgerError(RuntimeError):
    """A manifest cannot be read; run `rc-archive verify` to see what is wrong."""


# What a manifest is, written in it since manifests say their kind. One producer each: a run's
# batch (`BatchWriter`), a compaction (pipelines/archive/compaction.py), a disposition
# (pipelines/archive/disposal.py).
ManifestKind = Literal["batch", "compaction", "disposition"]
MANIFEST_KINDS: tuple[ManifestKind, ...] = get_args(ManifestKind)


def implied_kind(replaces: tuple[FileEntry, ...], disposal: Disposal | None) -> ManifestKind:
    """The kind a manifest's fields make it: a disposition names what it deleted, a compaction
    replaces files, a batch does neither. How a manifest written before `kind` is read, and
    what verify holds a declared kind to."""
    if disposal is not None:
        return "disposition"
    return "compaction" if replaces else "batch"


@dataclass(frozen=True)
class Disposal:
    """What a disposition manifest deleted (pipelines/governance/disposition.py).

    `objects`: every object deleted: the live files the manifest removes and the compacted
    inputs behind them (they hold the same rows). `hashes`: a Parquet object in the ledger
    (`_disposed/`) of the (file key, id, record_sha256, last_modified_time) of every row of
    those objects, so the Merkle log and the version index still prove what existed, without
    its content.
    """

    objects: tuple[FileEntry, ...]
    hashes: FileEntry
    as_of: str
    user: str
    user_from: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "objects": [asdict(f) for f in self.objects],
            "hashes": asdict(self.hashes),
            "as_of": self.as_of,
            "user": self.user,
            "user_from": self.user_from,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Disposal:
        return cls(
            objects=tuple(FileEntry(**f) for f in body["objects"]),
            hashes=FileEntry(**body["hashes"]),
            as_of=body["as_of"],
            user=body["user"],
            user_from=body["user_from"],
            reason=body["reason"],
        )


@dataclass(frozen=True)
class Manifest:
    table: str
    stream: str
    seq: int
    batch_id: str
    files: tuple[FileEntry, ...]
    cursor: dict[str, Any]
    run_id: str
    code_version: str
    committed_at: str
    prev_sha256: str | None
    # Declared by every manifest written since manifests say their kind; one written before
    # has none (`kind_declared` False) and reads as the kind its fields imply.
    kind: ManifestKind
    # A compaction manifest's inputs: files it replaces with its own `files` (the same rows).
    # Written only when non-empty, so a batch manifest's bytes are as before.
    replaces: tuple[FileEntry, ...] = ()
    # A disposition manifest (retention ended): `replaces` are the live files it removes,
    # `files` is empty, and this says what was deleted, by whom and why. Written only when
    # set, so every other manifest's bytes are as before.
    disposal: Disposal | None = None
    # Contents manifests committed under version identities (schemas.version_identity): the
    # rule's name and the stream's alias object, if any (pipelines/archive/version_aliases.py).
    # Written only when set, so the bytes of manifests of other tables are as before.
    version_identity: dict[str, Any] | None = None
    # False only for a manifest read from bytes written before manifests said their kind:
    # its `kind` is then derived (`implied_kind`) and not written back.
    kind_declared: bool = True
    # Where and what it was read from (not part of the JSON).
    key: str = ""
    sha256: str = ""

    @property
    def is_compaction(self) -> bool:
        return self.kind == "compaction"

    @property
    def is_disposition(self) -> bool:
        return self.kind == "disposition"

    @property
    def is_batch(self) -> bool:
        """A run's batch: the only kind of manifest that adds record versions."""
        return self.kind == "batch"

    @property
    def kind_contradiction(self) -> str | None:
        """Why the declared kind is not what the fields make the manifest (None: it is)."""
        implied = implied_kind(self.replaces, self.disposal)
        if self.kind == implied:
            return None
        return f"declares kind {self.kind!r}, but its fields make it a {implied}"

    def to_json_bytes(self) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "table": self.table,
            "stream": self.stream,
            "seq": self.seq,
            "batch_id": self.batch_id,
            "files": [asdict(f) for f in self.files],
            "cursor": self.cursor,
            "run_id": self.run_id,
            "code_version": self.code_version,
            "committed_at": self.committed_at,
            "prev_sha256": self.prev_sha256,
        }
        if self.kind_declared:
            body["kind"] = self.kind
        if self.replaces:
            body["replaces"] = [asdict(f) for f in self.replaces]
        if self.disposal is not None:
            body["disposal"] = self.disposal.to_json()
        if self.version_identity is not None:
            body["version_identity"] = self.version_identity
        return stored_json_bytes(body)

    @classmethod
    def from_bytes(cls, key: str, data: bytes) -> Manifest:
        """Parse a manifest; ValueError (naming the key) if it is not one. A declared kind is
        kept as declared (verify compares it with the fields: `kind_contradiction`)."""

        def build(body: dict[str, Any]) -> Manifest:
            replaces = tuple(FileEntry(**f) for f in body.get("replaces") or ())
            disposal = Disposal.from_json(body["disposal"]) if "disposal" in body else None
            declared = body.get("kind")
            if declared is not None and declared not in MANIFEST_KINDS:
                raise ValueError(f"kind {declared!r} is not one of {MANIFEST_KINDS}")
            return cls(
                table=body["table"],
                stream=body["stream"],
                seq=int(body["seq"]),
                batch_id=body["batch_id"],
                files=tuple(FileEntry(**f) for f in body["files"]),
                cursor=dict(body.get("cursor") or {}),
                run_id=body["run_id"],
                code_version=body["code_version"],
                committed_at=body["committed_at"],
                prev_sha256=body["prev_sha256"],
                kind=declared or implied_kind(replaces, disposal),
                replaces=replaces,
                disposal=disposal,
                version_identity=_version_identity(body.get("version_identity")),
                kind_declared=declared is not None,
                key=key,
                sha256=hashlib.sha256(data).hexdigest(),
            )

        return parse_stored_json(key, data, MANIFEST_FORMAT, "manifest", build)


def _version_identity(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("rule"), str):
        raise ValueError(f"version_identity {value!r:.80} is not a rule entry")
    aliases = value.get("aliases")
    if aliases is not None and not (
        isinstance(aliases, dict)
        and isinstance(aliases.get("key"), str)
        and isinstance(aliases.get("sha256"), str)
    ):
        raise ValueError(f"version_identity.aliases {aliases!r:.80} names no object")
    return dict(value)


@functools.cache
def code_version() -> str:
    try:
        return metadata.version("rc-archive")
    except metadata.PackageNotFoundError:
        return "unknown"


def _time_range(table: pa.Table) -> tuple[str | None, str | None]:
    if "creation_time" not in table.column_names or table.num_rows == 0:
        return None, None
    bounds = pc.min_max(table.column("creation_time"))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return (iso_ms(low) if low else None, iso_ms(high) if high else None)


def _with_batch_id(table: pa.Table, batch_id: str) -> pa.Table:
    index = table.schema.get_field_index("batch_id")
    column = pa.array([batch_id] * table.num_rows, pa.string())
    return table.set_column(index, table.schema.field(index), column)


@dataclass(frozen=True)
class ManifestSlot:
    """A stream's next manifest as its producer begins it: what it will be (`kind`), where in
    the chain (seq, prev_sha256) and the batch_id its files' keys carry, all fixed before any
    file is written. Another writer may commit this seq first: the commit then raises
    ConcurrentCommitError and the files stay uncommitted."""

    table: str
    stream: str
    kind: ManifestKind
    run_id: str
    seq: int
    batch_id: str
    prev_sha256: str | None
    # The head's cursor ({} before the first manifest): what a compaction or a disposition
    # carries forward, since neither reads the API.
    head_cursor: dict[str, Any]


@dataclass
class BatchWriter:
    """The producer of batch manifests: one batch of one stream, whose seq and batch_id are
    fixed before any row is written."""

    ledger: Ledger
    slot: ManifestSlot

    @property
    def table(self) -> str:
        return self.slot.table

    @property
    def stream(self) -> str:
        return self.slot.stream

    @property
    def seq(self) -> int:
        return self.slot.seq

    @property
    def batch_id(self) -> str:
        return self.slot.batch_id

    def commit(
        self, tables: dict[str, pa.Table], cursor: dict[str, Any], *, prefiltered: bool = False
    ) -> Manifest:
        """Intent, data files, then the manifest (the commit point). Rows already committed
        in this stream (same id and record_sha256) are dropped first, so a retried batch
        never becomes a second visible copy (unless `prefiltered`, see commit_batch)."""
        allowed = BATCH_TABLES[self.table]
        unknown = set(tables) - set(allowed)
        if unknown:
            raise ValueError(f"a {self.table} batch holds only {allowed}, got {sorted(unknown)}")
        store = self.ledger.store
        planned: list[tuple[str, str, pa.Table]] = []
        for table_name in allowed:
            data = tables.get(table_name)
            if data is None or data.num_rows == 0:
                continue
            data = _with_batch_id(data, self.batch_id)
            if table_name == "quarantine" or not prefiltered:
                data = self.ledger.not_yet_archived(self.table, self.stream, table_name, data)
            if data.num_rows == 0:
                continue
            if table_name == "contents":
                for day, chunk in split_contents_by_day(data):
                    key = keys.contents_key(self.stream, day, self.batch_id)
                    planned.append((key, table_name, chunk))
            else:  # one file, in the folder the table's scope gives (keys.stream_folder)
                key = keys.source_table_key(table_name, self.stream, self.batch_id)
                planned.append((key, table_name, data))

        self.ledger.write_intent(self.slot, [key for key, _, _ in planned])
        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="archive-write") as pool:
            entries = list(pool.map(lambda plan: _write_file(store, *plan), planned))
        written = [(name, data) for _, name, data in planned if name != "quarantine"]
        return self.ledger.commit(self.slot, entries, cursor, written=written)


def _write_file(store: ObjectStore, key: str, table_name: str, data: pa.Table) -> FileEntry:
    lock = {}
    retain_until = getattr(store, "retain_until", None)  # S3 with Object Lock only
    if retain_until is not None and "source_type" in data.column_names:
        # The rows say the channel type, which the key does not: its retention class.
        types = pc.unique(data.column("source_type").drop_null()).to_pylist() or [None]
        dates = [d for t in types if (d := retain_until(key, t)) is not None]
        if dates:
            lock["retain_until"] = max(dates)
    written = store.put(key, table_to_parquet(data, table_name), content_type=PARQUET_TYPE, **lock)
    low, high = _time_range(data)
    return FileEntry(key, table_name, written.sha256, written.bytes, data.num_rows, low, high)


@dataclass
class StreamState:
    """What one stream's manifests add up to, as read from its newest checkpoint plus the
    manifests committed after it."""

    table: str
    stream: str
    checkpoint: Checkpoint | None
    tail: list[Manifest]  # manifests after the checkpoint, in seq order
    head: Manifest | None
    live: LiveFiles

    @property
    def head_seq(self) -> int:
        return -1 if self.head is None else self.head.seq

    def live_files(self, table: str | None = None) -> list[FileEntry]:
        files = self.live.as_tuple()
        return [e for e in files if table is None or e.table == table]


class Ledger:
    """Reads and appends manifests. Manifests and checkpoints are immutable, so parsed ones
    are cached, and a stream's state is refreshed by reading only what was committed since.

    What a read costs: the newest checkpoint of a stream (one LIST of its checkpoints, one
    GET), then one LIST after the last known manifest and one GET per newer manifest; never
    the stream's whole history (`manifests()` is the one deliberate full replay, for verify
    and the first catalog build)."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        checkpoint_every: int = CHECKPOINT_EVERY,
        witness: ArchiveWitness | None = None,
    ) -> None:
        self.store = store
        self.checkpoint_every = checkpoint_every
        # Optional (pipelines/integrity/witness.py): told of every manifest and checkpoint
        # after its put succeeded.
        self.witness = witness
        self._cache: dict[str, Manifest] = {}
        self._states: dict[tuple[str, str], StreamState] = {}
        # (table, stream) -> (quarantined hashes, keys of the manifests they were read from)
        self._quarantined: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        # (table, stream) -> digests of committed versions, for the commit-time drop
        # (ledger table, stream, data table) -> record hashes committed, for the commit-time
        # drop: the ledger's own table from the version index, another table it carries
        # (attachments) from its live files.
        self._committed_digests: dict[tuple[str, str, str], KeySet] = {}
        self._indexed: set[str] = set()  # manifests whose hashes are in memory already
        # (table, stream) -> (key or None, bytes or None, aliases) of the version aliases
        self._aliases: dict[tuple[str, str], tuple[str | None, bytes | None, pa.Table]] = {}
        self._lock = threading.RLock()  # the committer thread reads and updates state too

    # -- reading ---------------------------------------------------------------------------
    def manifest_keys(self, table: str, stream: str, after_seq: int = -1) -> list[str]:
        """Keys of the stream's manifests after `after_seq` (all of them by default)."""
        prefix = keys.ledger_prefix(table, stream)
        start = keys.manifest_key(table, stream, after_seq) if after_seq >= 0 else None
        return [
            key
            for key in self.store.list_after(prefix, start)
            if keys.MANIFEST_NAME.match(key[len(prefix) :])
        ]

    def read_manifest(self, key: str) -> Manifest:
        """One manifest by key (parsed once per Ledger)."""
        return self._load(key)

    def _load(self, key: str) -> Manifest:
        """A manifest whose declared kind its fields contradict has no one meaning (is it a
        batch that adds versions, or a compaction that adds none?): readers refuse it, and
        verify reports it."""
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = Manifest.from_bytes(key, self.store.get(key))
            except ValueError as exc:
                raise LedgerError(f"{exc}; run `rc-archive verify`") from None
            if cached.kind_contradiction is not None:
                raise LedgerError(f"{key} {cached.kind_contradiction}; run `rc-archive verify`")
            self._cache[key] = cached
        return cached

    def checkpoint_keys(self, table: str, stream: str) -> list[str]:
        prefix = keys.checkpoint_prefix(table, stream)
        return [
            key
            for key in self.store.list_after(prefix)
            if keys.CHECKPOINT_NAME.match(key[len(prefix) :])
        ]

    def latest_checkpoint(self, table: str, stream: str) -> Checkpoint | None:
        """The newest checkpoint of the stream (None before the first one)."""
        found = self.checkpoint_keys(table, stream)
        if not found:
            return None
        try:
            checkpoint = Checkpoint.from_bytes(found[-1], self.store.get(found[-1]))
        except ValueError as exc:
            raise LedgerError(f"{exc}; run `rc-archive verify`") from None
        if (checkpoint.table, checkpoint.stream) != (table, stream):
            raise LedgerError(
                f"{found[-1]} says table={checkpoint.table} stream={checkpoint.stream}; "
                "run `rc-archive verify`"
            )
        return checkpoint

    def state(self, table: str, stream: str) -> StreamState:
        """The stream's current state, refreshed with the manifests committed since the last
        call (by this or another writer)."""
        stream = validate_stream(stream)
        with self._lock:
            state = self._states.get((table, stream))
            if state is None:
                checkpoint = self.latest_checkpoint(table, stream)
                head = None
                if checkpoint is not None:
                    head = self._load(keys.manifest_key(table, stream, checkpoint.seq))
                    if head.sha256 != checkpoint.head_sha256:
                        raise LedgerError(
                            f"{checkpoint.key} does not match manifest seq {checkpoint.seq}; "
                            "run `rc-archive verify`"
                        )
                live = LiveFiles.of(checkpoint.files if checkpoint else ())
                state = StreamState(table, stream, checkpoint, [], head, live)
                self._states[(table, stream)] = state
            for key in self.manifest_keys(table, stream, state.head_seq):
                self._advance(state, self._load(key))
            return state

    def _advance(self, state: StreamState, manifest: Manifest) -> None:
        if manifest.seq != state.head_seq + 1:
            raise LedgerError(
                f"{manifest.key}: seq {manifest.seq} follows {state.head_seq} in "
                f"{state.table}/{state.stream}; run `rc-archive verify`"
            )
        state.tail.append(manifest)
        state.head = manifest
        state.live.apply(manifest.files, manifest.replaces)
        if manifest.key in self._indexed:
            self._indexed.discard(manifest.key)
        elif manifest.is_batch:
            for entry in manifest.files:
                digests = self._committed_digests.get((state.table, state.stream, entry.table))
                if digests is not None:
                    part = parquet_to_table(self.store.get(entry.key), ["record_sha256"])
                    digests.extend_arrow(part.column("record_sha256"))

    def head(self, table: str, stream: str) -> Manifest | None:
        """The latest committed manifest of one stream."""
        return self.state(table, stream).head

    def run_manifests(self, table: str, stream: str, run_id: str) -> list[Manifest]:
        """The batch manifests one run committed to a stream, newest first.

        Reads back from the head (one GET per manifest) until a batch of another run: the cost
        is the run's own commits, never the stream's history. Compactions (another run, any
        time) are stepped over. Runs of one source do not overlap (one run per source at a
        time), so the run's batches are contiguous.
        """
        head = self.head(table, stream)
        found: list[Manifest] = []
        seq = head.seq if head is not None else -1
        while seq >= 0:
            manifest = head if head is not None and seq == head.seq else None
            if manifest is None:
                manifest = self._load(keys.manifest_key(table, stream, seq))
            if manifest.is_batch:
                if manifest.run_id != run_id:
                    break
                found.append(manifest)
            seq -= 1
        return found

    def streams(self, table: str) -> list[str]:
        """Streams with a ledger of `table` (one LIST of folder names, not of manifests)."""
        found = set()
        for name in self.store.list_folders(f"{keys.LEDGER_ROOT}/{table}/"):
            try:
                found.add(validate_stream(name))
            except ValueError:
                continue  # not ours; verify reports it
        return sorted(found)

    def manifests(self, table: str, stream: str | None = None) -> Iterator[Manifest]:
        """Every manifest, from seq 0: a full replay, for verify and the first catalog build
        only. Everything a run does goes through `state()`."""
        for one_stream in [stream] if stream is not None else self.streams(table):
            for key in self.manifest_keys(table, one_stream):
                yield self._load(key)

    def committed_files(self, table: str, stream: str | None = None) -> list[FileEntry]:
        """Live files of `table` (committed, minus compacted inputs), in every ledger that
        commits it (schemas.tables.LEDGERS_OF): quarantine files are in all of them,
        attachments and flags in the contents ledger."""
        ledgers = LEDGERS_OF.get(table, (table,))
        return [
            entry
            for ledger_table in ledgers
            for one_stream in ([stream] if stream is not None else self.streams(ledger_table))
            for entry in self.state(ledger_table, one_stream).live_files(table)
        ]

    def files_after(self, table: str, stream: str, after_seq: int) -> list[FileEntry]:
        """Files of `table` that batch manifests after `after_seq` added (compactions add no
        rows, so they are skipped). Reads the checkpoint's list when `after_seq` is older than
        the checkpoint."""
        state = self.state(table, stream)
        manifests = [m for m in state.tail if m.seq > after_seq]
        if state.checkpoint is not None and after_seq < state.checkpoint.seq:
            between = range(after_seq + 1, state.checkpoint.seq + 1)
            manifests = [self._load(keys.manifest_key(table, stream, s)) for s in between]
            manifests += state.tail
        return [
            entry
            for manifest in manifests
            if manifest.is_batch
            for entry in manifest.files
            if entry.table == table
        ]

    def read_table(self, entries: list[FileEntry], columns: list[str] | None = None) -> pa.Table:
        """Concatenated committed files (schema of the table), reading only `columns`."""
        parts = [parquet_to_table(self.store.get(e.key), columns) for e in entries]
        if not parts:
            raise ValueError("no files to read")
        return pa.concat_tables(parts)

    def version_index(self, table: str, stream: str) -> Iterator[pa.Table]:
        """Every committed version (id, record_sha256) and quarantined hash of the stream, as
        VERSION_INDEX_SCHEMA parts: the checkpoint's persisted index (by row group) plus the
        files of the manifests after it. What it reads: one index file and the tail's files,
        never the data files the checkpoint already summarised. Parts, so a loader holds one
        at a time besides what it builds."""
        state = self.state(table, stream)
        if state.checkpoint is not None and state.checkpoint.version_index is not None:
            data = self.store.get(state.checkpoint.version_index.key)
            index = pq.ParquetFile(pa.BufferReader(data))
            for group in range(index.num_row_groups):
                yield index.read_row_group(group).cast(VERSION_INDEX_SCHEMA)
            del data, index
        id_column = ID_COLUMNS[table]
        tail = list(state.tail)
        disposed: dict[str, pa.Table] = {}  # a file deleted since: the hashes its disposal kept
        for manifest in tail:
            if manifest.is_disposition:
                disposed.update(read_disposed_hashes(self.store, manifest.disposal.hashes))
        for manifest in tail:
            if not manifest.is_batch:
                continue
            for entry in manifest.files:
                if entry.table not in (table, "quarantine"):
                    continue  # another table the ledger carries (attachments): not versions
                quarantined = entry.table == "quarantine"
                columns = ["record_sha256"] if quarantined else [id_column, "record_sha256"]
                part = disposed.get(entry.key)
                if part is None:
                    part = parquet_to_table(self.store.get(entry.key), columns)
                else:
                    part = part.rename_columns(["id", "record_sha256", "last_modified_time"])
                    part = part.select(columns)
                ids = (
                    pa.nulls(part.num_rows, pa.string())
                    if quarantined
                    else part.column(id_column).cast(pa.string())
                )
                yield pa.table(
                    [
                        part.column("record_sha256").cast(pa.string()),
                        ids,
                        pa.array([quarantined] * part.num_rows, pa.bool_()),
                    ],
                    schema=VERSION_INDEX_SCHEMA,
                )

    def archived_versions(self, table: str, stream: str) -> set[tuple[str, str]]:
        """(id, record_sha256) of every committed version of the stream, as Python pairs: for
        tests and small tables (the crawl uses the compact index, `ArchivedVersions`)."""
        pairs: set[tuple[str, str]] = set()
        for part in self.version_index(table, stream):
            versions = part.filter(pc.invert(part.column("quarantined")))
            pairs.update(
                zip(
                    versions.column("id").to_pylist(),
                    versions.column("record_sha256").to_pylist(),
                    strict=True,
                )
            )
        return pairs

    def quarantined_hashes(self, table: str, stream: str) -> set[str]:
        """record_sha256 of records quarantined in this ledger's stream (a new set each call).

        Why incremental: a source whose API keeps sending a malformed record commits
        quarantine rows with every batch, and each such commit checks them against all
        earlier ones. The checkpoint's index holds those before it; of the manifests after it,
        each is read once per Ledger.
        """
        with self._lock:
            state = self.state(table, stream)
            cached = self._quarantined.get((table, stream))
            if cached is None:
                hashes: set[str] = set()
                if state.checkpoint is not None:
                    for part in self.version_index(table, stream):
                        flagged = part.filter(part.column("quarantined"))
                        hashes.update(flagged.column("record_sha256").to_pylist())
                    read = {m.key for m in state.tail}
                else:
                    read = set()
                cached = self._quarantined[(table, stream)] = (hashes, read)
            hashes, read = cached
            for manifest in state.tail:
                if manifest.key in read:
                    continue
                for entry in manifest.files:
                    if entry.table == "quarantine":
                        part = parquet_to_table(self.store.get(entry.key), ["record_sha256"])
                        hashes.update(part.column("record_sha256").to_pylist())
                read.add(manifest.key)
            return set(hashes)

    def committed_digests(self, table: str, stream: str, data_table: str | None = None) -> KeySet:
        """record_sha256 of every committed (not quarantined) row of `data_table` (default:
        the ledger's own table) in the stream: loaded once per Ledger (the version index, or
        the live files of another table the ledger carries), then kept current."""
        data_table = data_table or table
        with self._lock:
            digests = self._committed_digests.get((table, stream, data_table))
            if digests is None:
                digests = KeySet(DIGEST_WIDTH)
                if data_table == table:
                    for part in self.version_index(table, stream):
                        versions = part.filter(pc.invert(part.column("quarantined")))
                        digests.extend_arrow(versions.column("record_sha256"))
                    aliases = self.version_aliases(table, stream)
                    if aliases is not None and aliases.num_rows:
                        digests.extend_arrow(aliases.column("version_sha256"))
                else:
                    for entry in self.state(table, stream).live_files(data_table):
                        part = parquet_to_table(self.store.get(entry.key), ["record_sha256"])
                        digests.extend_arrow(part.column("record_sha256"))
                self._committed_digests[(table, stream, data_table)] = digests
            return digests

    # -- version identities ----------------------------------------------------------------
    def version_aliases(self, table: str, stream: str) -> pa.Table | None:
        """The stream's version aliases (pipelines/archive/version_aliases.py), or None when
        its table has no transport values or nothing needs one.

        What it reads: the object the head manifest names (one GET, once per Ledger). A stream
        whose head predates version identities has no object yet: its aliases are computed
        from its live files (once per Ledger) and written by its next commit."""
        schema = table_schema(table)
        if not schema.transport:
            return None
        with self._lock:
            cached = self._aliases.get((table, stream))
            if cached is None:
                cached = self._load_aliases(schema, table, stream)
                self._aliases[(table, stream)] = cached
            return cached[2]

    def _load_aliases(
        self, schema: TableSchema, table: str, stream: str
    ) -> tuple[str | None, bytes | None, pa.Table]:
        head = self.head(table, stream)
        if head is None:
            return None, None, ALIASES_SCHEMA.empty_table()
        if head.version_identity is not None:
            named = head.version_identity.get("aliases")
            if not named:
                return None, None, ALIASES_SCHEMA.empty_table()
            data = self.store.get(named["key"])
            if hashlib.sha256(data).hexdigest() != named["sha256"]:
                raise LedgerError(
                    f"{self.store.uri_for(named['key'])} is not the version alias object "
                    f"{head.key} names (SHA-256 differs); run `rc-archive verify`"
                )
            return named["key"], data, read_aliases(data)
        entries = self.state(table, stream).live_files(table)
        aliases = aliases_of(
            schema,
            (
                parquet_to_table(
                    self.store.get(e.key), [schema.id_column, "record_sha256", "raw_json"]
                )
                for e in entries
            ),
        )
        if not aliases.num_rows:
            return None, None, aliases
        return keys.version_aliases_key(table, stream, head.seq), aliases_parquet(aliases), aliases

    def version_identity_entry(self, table: str, stream: str) -> dict[str, Any] | None:
        """The `version_identity` entry of the stream's next manifest: carried forward from
        the head, or, at a stream's first commit under the rule, its alias object written now
        (write-once; a retried commit meets its own earlier object, same bytes)."""
        if not table_schema(table).transport:
            return None
        head = self.head(table, stream)
        if head is None:
            return identity_entry(None, None, 0, -1)
        if head.version_identity is not None:
            return dict(head.version_identity)
        self.version_aliases(table, stream)
        key, data, aliases = self._aliases[(table, stream)]
        if key is not None and data is not None:
            try:
                self.store.put(key, data, content_type=PARQUET_TYPE)
            except ObjectExistsError:
                if self.store.get(key) != data:
                    raise LedgerError(
                        f"{self.store.uri_for(key)} exists and does not hold this stream's "
                        "version aliases; run `rc-archive verify`"
                    ) from None
        return identity_entry(key, data, aliases.num_rows, head.seq)

    # -- checkpoints -----------------------------------------------------------------------
    def write_checkpoint(self, table: str, stream: str) -> Checkpoint | None:
        """Write a checkpoint of the stream at its head (None if it has no manifest, or the
        newest checkpoint is already at the head). Write-once: a checkpoint another writer
        already put at this seq is read back instead."""
        with self._lock:
            state = self.state(table, stream)
            if state.head is None:
                return None
            previous = state.checkpoint
            if previous is not None and previous.seq == state.head_seq:
                return previous
            index_key = keys.version_index_key(table, stream, state.head_seq)
            # The index keeps commit order, so the same pass grows the source's Merkle tree.
            tree = merkle.Frontier() if table == LOGGED_TABLE else None
            index_bytes, index_rows = _version_index_parquet(
                self.version_index(table, stream), tree
            )
            try:
                written = self.store.put(index_key, index_bytes, content_type=PARQUET_TYPE)
                index_sha, index_size = written.sha256, written.bytes
            except ObjectExistsError:
                # A crashed attempt left the index (never its checkpoint): same inputs, so the
                # same rows; its bytes are what the checkpoint must name.
                existing = self.store.get(index_key)
                index_sha, index_size = hashlib.sha256(existing).hexdigest(), len(existing)
                if pq.ParquetFile(pa.BufferReader(existing)).metadata.num_rows != index_rows:
                    raise LedgerError(
                        f"{index_key} exists and does not hold this stream's index; run "
                        "`rc-archive verify`"
                    ) from None
            index_entry = FileEntry(
                index_key, "version_index", index_sha, index_size, index_rows, None, None
            )
            checkpoint = Checkpoint(
                table=table,
                stream=stream,
                seq=state.head_seq,
                head_sha256=state.head.sha256,
                cursor=dict(state.head.cursor),
                files=state.live.as_tuple(),
                version_index=index_entry,
                prev_checkpoint_sha256=None if previous is None else previous.sha256,
                merkle=None
                if tree is None
                else {"tree_size": tree.size, "root": tree.root().hex()},
                created_at=iso_ms(datetime.now(UTC)),
                code_version=code_version(),
            )
            key = keys.checkpoint_key(table, stream, state.head_seq)
            data = checkpoint.to_json_bytes()
            try:
                self.store.put(key, data, content_type=JSON_TYPE)
            except ObjectExistsError:
                data = self.store.get(key)
            checkpoint = Checkpoint.from_bytes(key, data)
            if self.witness is not None:
                self.witness.record(
                    table,
                    stream,
                    checkpoint.seq,
                    checkpoint.sha256,
                    "checkpoint",
                    committed_at=checkpoint.created_at,
                )
            state.checkpoint = checkpoint
            state.tail = []
            return checkpoint

    def _maybe_checkpoint(self, table: str, stream: str) -> None:
        state = self.state(table, stream)
        since = state.head_seq - (state.checkpoint.seq if state.checkpoint else -1)
        if since >= self.checkpoint_every:
            self.write_checkpoint(table, stream)

    # -- writing: what every producer of a manifest uses ------------------------------------
    def next_manifest(
        self, table: str, stream: str, run_id: str, kind: ManifestKind
    ) -> ManifestSlot:
        """Begin the stream's next manifest, of `kind`, after its current head."""
        if table not in BATCH_TABLES:
            raise ValueError(f"no ledger for table {table!r}; expected one of {list(BATCH_TABLES)}")
        if kind not in MANIFEST_KINDS:
            raise ValueError(f"manifest kind {kind!r}; expected one of {MANIFEST_KINDS}")
        stream = validate_stream(stream)
        head = self.head(table, stream)
        seq = 0 if head is None else head.seq + 1
        return ManifestSlot(
            table=table,
            stream=stream,
            kind=kind,
            run_id=run_id,
            seq=seq,
            batch_id=keys.new_batch_id(seq),
            prev_sha256=None if head is None else head.sha256,
            head_cursor={} if head is None else dict(head.cursor),
        )

    def write_intent(self, slot: ManifestSlot, data_keys: list[str]) -> None:
        """The intent names the files before they are written, so verify can tell a crash's
        leftovers (uncommitted) from tampering (extra)."""
        intent = {
            "format": INTENT_FORMAT,
            "table": slot.table,
            "stream": slot.stream,
            "seq": slot.seq,
            "batch_id": slot.batch_id,
            "keys": data_keys,
            "run_id": slot.run_id,
            "created_at": iso_ms(datetime.now(UTC)),
        }
        self.store.put(
            keys.intent_key(slot.table, slot.stream, slot.batch_id),
            json.dumps(intent, indent=1, sort_keys=True).encode("utf-8"),
            content_type=JSON_TYPE,
        )

    def commit(
        self,
        slot: ManifestSlot,
        files: list[FileEntry],
        cursor: dict[str, Any],
        *,
        replaces: tuple[FileEntry, ...] = (),
        disposal: Disposal | None = None,
        written: list[tuple[str, pa.Table]] | None = None,
    ) -> Manifest:
        """Write the slot's manifest, the commit point: once its put succeeds, `files` are
        part of the archive (and `replaces` no longer live). Then the witness is told, and the
        stream's state advances past it (a checkpoint when one is due). `written`: a batch's
        (table name, rows) just written, so the version index in memory learns their hashes
        without reading the files back. ValueError, before anything is written, when the
        fields do not make the manifest the kind its slot was begun as."""
        implied = implied_kind(replaces, disposal)
        if implied != slot.kind:
            raise ValueError(
                f"a {slot.kind} manifest of {slot.table}/{slot.stream} was given the fields "
                f"of a {implied} (replaces {len(replaces)} files, disposal {disposal is not None})"
            )
        manifest = Manifest(
            table=slot.table,
            stream=slot.stream,
            seq=slot.seq,
            batch_id=slot.batch_id,
            files=tuple(files),
            cursor=dict(cursor),
            run_id=slot.run_id,
            code_version=code_version(),
            committed_at=iso_ms(datetime.now(UTC)),
            prev_sha256=slot.prev_sha256,
            kind=slot.kind,
            replaces=replaces,
            disposal=disposal,
            version_identity=self.version_identity_entry(slot.table, slot.stream),
        )
        data = manifest.to_json_bytes()
        key = keys.manifest_key(slot.table, slot.stream, slot.seq)
        try:
            self.store.put(key, data, content_type=JSON_TYPE)
        except ObjectExistsError:
            raise ConcurrentCommitError(
                f"{self.store.uri_for(key)} was committed by another writer while batch "
                f"{slot.batch_id} was being written; its files stay uncommitted (verify lists "
                "them). Run one writer per stream (Dagster concurrency pool) and retry."
            ) from None
        committed = Manifest.from_bytes(key, data)
        if self.witness is not None:
            self.witness.record(
                slot.table,
                slot.stream,
                slot.seq,
                committed.sha256,
                "manifest",
                committed_at=committed.committed_at,
            )
        self._advance_past(committed, written or [])
        return committed

    def begin_batch(self, table: str, stream: str, run_id: str) -> BatchWriter:
        """The producer of the stream's next batch manifest."""
        return BatchWriter(self, self.next_manifest(table, stream, run_id, "batch"))

    def commit_batch(
        self,
        table: str,
        stream: str,
        tables: dict[str, pa.Table],
        cursor: dict[str, Any],
        run_id: str,
        *,
        prefiltered: bool = False,
    ) -> Manifest:
        """Commit one batch: rows get this batch's id, already-archived versions are skipped.

        `prefiltered`: the caller already dropped committed versions with an index loaded
        from this ledger (`version_index`), as the contents crawl does for every page; the
        ledger then does not hold a second copy of that index in memory."""
        return self.begin_batch(table, stream, run_id).commit(
            tables, cursor, prefiltered=prefiltered
        )

    def _advance_past(self, manifest: Manifest, written: list[tuple[str, pa.Table]]) -> None:
        """Advance the stream's state past a manifest just written (one LIST, which also
        catches a manifest of another writer), then write a checkpoint when one is due. The
        version index in memory learns the batch's hashes from the tables just written, not
        by reading the files back."""
        with self._lock:
            self._cache[manifest.key] = manifest
            for name, table in written:
                digests = self._committed_digests.get((manifest.table, manifest.stream, name))
                if digests is not None:
                    digests.extend_arrow(table.column("record_sha256"))
            self._indexed.add(manifest.key)
            self.state(manifest.table, manifest.stream)
            self._maybe_checkpoint(manifest.table, manifest.stream)

    def not_yet_archived(
        self, ledger_table: str, stream: str, table_name: str, data: pa.Table
    ) -> pa.Table:
        """Rows whose version the stream has not committed yet (and not twice in `data`).

        One answer to "already archived?" for every writer: the record hash, looked up in the
        stream's version index (checkpoint index + the manifests after it), so a commit reads
        no data file of earlier batches."""
        digests = data.column("record_sha256").to_pylist()
        if table_name == "quarantine":
            seen = self.quarantined_hashes(ledger_table, stream)
            archived = [False] * len(digests)
        else:
            seen = set()
            archived = self.committed_digests(ledger_table, stream, table_name).contains(
                [key_of(d) for d in digests]
            )
        fresh = []
        for digest, is_archived in zip(digests, archived, strict=True):
            fresh.append(not is_archived and digest not in seen)
            seen.add(digest)
        if all(fresh):
            return data
        return data.filter(pa.array(fresh, pa.bool_()))


# Row groups of the persisted version index: big enough for fast scans, small enough that a
# checkpoint holds one group of rows at a time while writing.
INDEX_ROW_GROUP = 131_072


def _version_index_parquet(
    parts: Iterator[pa.Table], tree: merkle.Frontier | None = None
) -> tuple[bytes, int]:
    """The index parts as one Parquet file (zstd), written a row group at a time; `tree`
    takes every committed (not quarantined) version as a leaf, in the index's commit order."""
    sink = pa.BufferOutputStream()
    rows = 0
    pending: list[pa.Table] = []
    pending_rows = 0
    with pq.ParquetWriter(sink, VERSION_INDEX_SCHEMA, compression="zstd") as writer:
        for part in parts:
            if tree is not None:
                versions = part.filter(pc.invert(part.column("quarantined")))
                tree.extend_record_hashes(versions.column("record_sha256").to_pylist())
            pending.append(part)
            pending_rows += part.num_rows
            if pending_rows >= INDEX_ROW_GROUP:
                writer.write_table(pa.concat_tables(pending), row_group_size=INDEX_ROW_GROUP)
                rows += pending_rows
                pending, pending_rows = [], 0
        if pending_rows or not rows:
            writer.write_table(
                pa.concat_tables(pending) if pending else VERSION_INDEX_SCHEMA.empty_table()
            )
            rows += pending_rows
    return sink.getvalue().to_pybytes(), rows
