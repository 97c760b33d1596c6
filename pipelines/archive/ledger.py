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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.archive import keys
from pipelines.archive.parquet import (
    ID_COLUMNS,
    parquet_to_table,
    split_contents_by_day,
    table_to_parquet,
)
from pipelines.archive.store import ObjectExistsError, ObjectStore
from schemas.common import iso_ms
from schemas.ids import validate_stream

MANIFEST_FORMAT = "rc-archive/manifest/1"
INTENT_FORMAT = "rc-archive/intent/1"
PARQUET_TYPE = "application/vnd.apache.parquet"
JSON_TYPE = "application/json"
# A batch's data files (one per day) are written concurrently: Parquet encoding, zstd, fsync and
# S3 round trips all release the GIL. The manifest is still written after every one succeeded.
WRITE_THREADS = 4
# Which data tables a batch of each ledger may hold.
BATCH_TABLES = {
    "contents": ("contents", "quarantine"),
    "identities": ("identities", "quarantine"),
    "agents": ("agents", "quarantine"),
}


class ConcurrentCommitError(RuntimeError):
    """Another writer committed this seq first; this batch's files stay uncommitted."""


class LedgerError(RuntimeError):
    """A manifest cannot be read; run `rc-archive verify` to see what is wrong."""


@dataclass(frozen=True)
class FileEntry:
    key: str
    table: str
    sha256: str
    bytes: int
    rows: int
    min_creation_time: str | None
    max_creation_time: str | None


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
    # Where and what it was read from (not part of the JSON).
    key: str = ""
    sha256: str = ""

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
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, key: str, data: bytes) -> Manifest:
        """Parse a manifest; ValueError (naming the key) if it is not one."""
        try:
            body = json.loads(data)
            if body.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {body.get('format')!r} is not {MANIFEST_FORMAT}")
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
                key=key,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{key}: not a valid manifest ({type(exc).__name__}: {exc})") from None


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


@dataclass
class BatchWriter:
    """One batch of one stream: its seq and batch_id are fixed before any row is written."""

    ledger: Ledger
    table: str
    stream: str
    run_id: str
    seq: int
    batch_id: str
    prev_sha256: str | None
    planned: list[tuple[str, str, pa.Table]] = field(default_factory=list)

    def commit(self, tables: dict[str, pa.Table], cursor: dict[str, Any]) -> Manifest:
        """Intent, data files, then the manifest (the commit point). Rows already committed
        in this stream (same id and record_sha256) are dropped first, so a retried batch
        never becomes a second visible copy."""
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
            data = self.ledger._drop_archived(self.table, self.stream, table_name, data)
            if data.num_rows == 0:
                continue
            if table_name == "contents":
                for day, chunk in split_contents_by_day(data):
                    key = keys.contents_key(self.stream, day, self.batch_id)
                    planned.append((key, table_name, chunk))
            elif table_name == "identities":
                planned.append((keys.identities_key(self.stream, self.batch_id), table_name, data))
            elif table_name == "agents":
                planned.append((keys.agents_key(self.batch_id), table_name, data))
            else:
                planned.append((keys.quarantine_key(self.stream, self.batch_id), table_name, data))

        intent = {
            "format": INTENT_FORMAT,
            "table": self.table,
            "stream": self.stream,
            "seq": self.seq,
            "batch_id": self.batch_id,
            "keys": [key for key, _, _ in planned],
            "run_id": self.run_id,
            "created_at": iso_ms(datetime.now(UTC)),
        }
        store.put(
            keys.intent_key(self.table, self.stream, self.batch_id),
            json.dumps(intent, indent=1, sort_keys=True).encode("utf-8"),
            content_type=JSON_TYPE,
        )
        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="archive-write") as pool:
            entries = list(pool.map(lambda plan: _write_file(store, *plan), planned))
        manifest = Manifest(
            table=self.table,
            stream=self.stream,
            seq=self.seq,
            batch_id=self.batch_id,
            files=tuple(entries),
            cursor=dict(cursor),
            run_id=self.run_id,
            code_version=code_version(),
            committed_at=iso_ms(datetime.now(UTC)),
            prev_sha256=self.prev_sha256,
        )
        data = manifest.to_json_bytes()
        key = keys.manifest_key(self.table, self.stream, self.seq)
        try:
            store.put(key, data, content_type=JSON_TYPE)
        except ObjectExistsError:
            raise ConcurrentCommitError(
                f"{store.uri_for(key)} was committed by another writer while batch "
                f"{self.batch_id} was being written; its files stay uncommitted (verify lists "
                "them). Run one writer per stream (Dagster concurrency pool) and retry."
            ) from None
        committed = Manifest.from_bytes(key, data)
        self.ledger._cache[key] = committed
        return committed


def _write_file(store: ObjectStore, key: str, table_name: str, data: pa.Table) -> FileEntry:
    written = store.put(key, table_to_parquet(data, table_name), content_type=PARQUET_TYPE)
    low, high = _time_range(data)
    return FileEntry(key, table_name, written.sha256, written.bytes, data.num_rows, low, high)


class Ledger:
    """Reads and appends manifests. Manifests are immutable, so parsed ones are cached."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._cache: dict[str, Manifest] = {}
        # (table, stream) -> (quarantined hashes, keys of the manifests they were read from)
        self._quarantined: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        self._quarantined_lock = threading.Lock()  # the committer thread reads it too

    # -- reading ---------------------------------------------------------------------------
    def manifest_keys(self, table: str, stream: str) -> list[str]:
        prefix = keys.ledger_prefix(table, stream)
        return [
            key for key in self.store.list(prefix) if keys.MANIFEST_NAME.match(key[len(prefix) :])
        ]

    def _load(self, key: str) -> Manifest:
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = Manifest.from_bytes(key, self.store.get(key))
            except ValueError as exc:
                raise LedgerError(f"{exc}; run `rc-archive verify`") from None
            self._cache[key] = cached
        return cached

    def head(self, table: str, stream: str) -> Manifest | None:
        """The latest committed manifest of one stream (lists only that stream's prefix)."""
        manifest_keys = self.manifest_keys(table, stream)
        return self._load(manifest_keys[-1]) if manifest_keys else None

    def streams(self, table: str) -> list[str]:
        prefix = f"{keys.LEDGER_ROOT}/{table}/"
        found = set()
        for key in self.store.list(prefix):
            stream = key[len(prefix) :].split("/", 1)[0]
            try:
                found.add(validate_stream(stream))
            except ValueError:
                continue  # not ours; verify reports it
        return sorted(found)

    def manifests(self, table: str, stream: str | None = None) -> Iterator[Manifest]:
        for one_stream in [stream] if stream is not None else self.streams(table):
            for key in self.manifest_keys(table, one_stream):
                yield self._load(key)

    def committed_files(self, table: str, stream: str | None = None) -> list[FileEntry]:
        """Files of `table` listed in committed manifests. Quarantine files are committed in
        the contents/identities/agents ledgers, so `quarantine` looks in all three."""
        ledgers = keys.LEDGER_TABLES if table == "quarantine" else (table,)
        return [
            entry
            for ledger_table in ledgers
            for manifest in self.manifests(ledger_table, stream)
            for entry in manifest.files
            if entry.table == table
        ]

    def read_table(self, entries: list[FileEntry], columns: list[str] | None = None) -> pa.Table:
        """Concatenated committed files (schema of the table), reading only `columns`."""
        parts = [parquet_to_table(self.store.get(e.key), columns) for e in entries]
        if not parts:
            raise ValueError("no files to read")
        return pa.concat_tables(parts)

    def archived_versions(
        self,
        table: str,
        stream: str,
        *,
        min_creation_time: str | None = None,
        max_creation_time: str | None = None,
    ) -> set[tuple[str, str]]:
        """(id, record_sha256) of every committed row of the stream; with a creation-time
        range, only files whose [min, max] overlaps it are read (ISO `...Z` strings)."""
        id_column = ID_COLUMNS[table]
        entries = [
            e
            for e in self.committed_files(table, stream)
            if _overlaps(e, min_creation_time, max_creation_time)
        ]
        versions: set[tuple[str, str]] = set()
        for entry in entries:
            part = parquet_to_table(self.store.get(entry.key), [id_column, "record_sha256"])
            versions.update(
                zip(
                    part.column(id_column).to_pylist(),
                    part.column("record_sha256").to_pylist(),
                    strict=True,
                )
            )
        return versions

    def quarantined_hashes(self, table: str, stream: str) -> set[str]:
        """record_sha256 of records quarantined in this ledger's stream (a new set each call).

        Why incremental: a source whose API keeps sending a malformed record commits
        quarantine rows with every batch, and each such commit checks them against all
        earlier ones; re-reading every quarantine file each time grew with the square of the
        number of batches. Manifests are immutable, so only those committed since the
        previous call are read.
        """
        with self._quarantined_lock:
            hashes, read = self._quarantined.setdefault((table, stream), (set(), set()))
            for manifest in self.manifests(table, stream):
                if manifest.key in read:
                    continue
                for entry in manifest.files:
                    if entry.table == "quarantine":
                        part = parquet_to_table(self.store.get(entry.key), ["record_sha256"])
                        hashes.update(part.column("record_sha256").to_pylist())
                read.add(manifest.key)
            return set(hashes)

    # -- writing ---------------------------------------------------------------------------
    def begin_batch(self, table: str, stream: str, run_id: str) -> BatchWriter:
        if table not in BATCH_TABLES:
            raise ValueError(f"no ledger for table {table!r}; expected one of {list(BATCH_TABLES)}")
        stream = validate_stream(stream)
        head = self.head(table, stream)
        seq = 0 if head is None else head.seq + 1
        return BatchWriter(
            ledger=self,
            table=table,
            stream=stream,
            run_id=run_id,
            seq=seq,
            batch_id=keys.new_batch_id(seq),
            prev_sha256=None if head is None else head.sha256,
        )

    def commit_batch(
        self,
        table: str,
        stream: str,
        tables: dict[str, pa.Table],
        cursor: dict[str, Any],
        run_id: str,
    ) -> Manifest:
        """Commit one batch: rows get this batch's id, already-archived versions are skipped."""
        return self.begin_batch(table, stream, run_id).commit(tables, cursor)

    def _drop_archived(
        self, ledger_table: str, stream: str, table_name: str, data: pa.Table
    ) -> pa.Table:
        if table_name == "quarantine":
            seen_hashes = self.quarantined_hashes(ledger_table, stream)
            fresh = []
            for digest in data.column("record_sha256").to_pylist():
                fresh.append(digest not in seen_hashes)
                seen_hashes.add(digest)
            return data.filter(pa.array(fresh, pa.bool_()))
        # Contents always have a creation_time, so only files overlapping this batch's time
        # range can hold its versions: memory and reads stay bounded as the archive grows.
        low, high = _time_range(data) if table_name == "contents" else (None, None)
        archived = self.archived_versions(
            table_name, stream, min_creation_time=low, max_creation_time=high
        )
        id_column = ID_COLUMNS[table_name]
        fresh = []
        for version in zip(
            data.column(id_column).to_pylist(),
            data.column("record_sha256").to_pylist(),
            strict=True,
        ):
            fresh.append(version not in archived)
            archived.add(version)
        if all(fresh):
            return data
        return data.filter(pa.array(fresh, pa.bool_()))


def _overlaps(entry: FileEntry, low: str | None, high: str | None) -> bool:
    if low is None or high is None or entry.min_creation_time is None:
        return True
    return not (entry.max_creation_time < low or entry.min_creation_time > high)
