"""Deleting files past retention without breaking the write-once ledger.

A disposition is a manifest in the stream's own hash chain, like a compaction: it removes live
files (`replaces`, no `files`) and its `disposal` names every object it deletes (the live files
and the compacted inputs behind them, which hold the same rows), who decided it and why. The
order makes every state explainable:

1. the `id`, `record_sha256` and `last_modified_time` of every row of those objects are
   written to `_ledger/<table>/<stream>/_disposed/<seq>.hashes.parquet`, so the version index
   and the Merkle log still prove what existed, without its content;
2. the disposition manifest is committed (the decision point);
3. the objects are deleted (`store.dispose`);
4. a checkpoint, so readers start after it.

A crash after 2 leaves objects that the manifest disposed of still stored: `verify` reports
them as `disposal_incomplete` (not tampering) and the next `disposition --execute` finishes
them. A crash before 2 leaves an unnamed hashes object that nothing reads (`disposal_unfinished`).

The rule. Whoever writes it, a disposition may delete only files whose retention ended at its
as-of (a day that had come at its commit) and that no legal hold held at its commit
(`rule_findings`: `disposal_early`, `disposal_held`). `disposition --execute` chooses exactly
such files; `verify` checks every disposition manifest against the rule, so one written with
these functions by hand (they check nothing themselves) is tampering. The retention class the
command applied is kept with the disposition: the Parquet key-value metadata
`rc-archive:disposition` of its hashes object (`disposition_terms`), covered by the SHA-256
the manifest names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.archive import keys
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.disposed_hashes import HASH_COLUMNS, HASHES_TABLE
from pipelines.archive.ledger import PARQUET_TYPE, Disposal, Ledger, Manifest
from pipelines.archive.parquet import parquet_to_table
from pipelines.archive.store import ObjectExistsError, ObjectStore
from schemas.common import iso_ms, parse_api_time, years_after
from schemas.ids import source_id_of_stream

# The shortest retention class a retention.yaml can give (pipelines/governance/retention.py):
# what a disposition that recorded no class is held to.
MIN_RETENTION_YEARS = 1
TERMS_KEY = b"rc-archive:disposition"
TERMS_FORMAT = "rc-archive/disposition-terms/1"


def compacted_inputs(ledger: Ledger, table: str, stream: str) -> dict[str, tuple[FileEntry, ...]]:
    """Output key -> the inputs each compaction of the stream replaced.

    Reads every manifest of the stream (a full replay): disposition is a rare command a person
    runs, never a step of a run, and the objects behind a live file are named only by the
    compactions that made it."""
    produced_by: dict[str, tuple[FileEntry, ...]] = {}
    for manifest in ledger.manifests(table, stream):
        if manifest.is_compaction:
            for entry in manifest.files:
                produced_by[entry.key] = manifest.replaces
    return produced_by


def dispositions(ledger: Ledger, table: str, stream: str) -> list[Manifest]:
    """The stream's disposition manifests, found by one LIST of its `_disposed/` hashes
    objects (one per disposition) and one GET per disposition, not by a replay."""
    prefix = keys.disposed_hashes_key(table, stream, 0).rsplit("/", 1)[0] + "/"
    found = []
    head_seq = ledger.state(table, stream).head_seq
    for key in ledger.store.list_after(prefix):
        match = keys.DISPOSED_HASHES_NAME.match(key.rsplit("/", 1)[1])
        seq = int(match.group(1)) if match else head_seq + 1
        if seq <= head_seq:  # else a hashes object whose manifest was never written
            manifest = ledger.read_manifest(keys.manifest_key(table, stream, seq))
            if manifest.is_disposition:
                found.append(manifest)
    return found


def objects_behind(
    entry: FileEntry, produced_by: dict[str, tuple[FileEntry, ...]]
) -> list[FileEntry]:
    """The file and every compacted input it was made of (depth first, each once)."""
    found: list[FileEntry] = []
    pending = [entry]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(produced_by.get(current.key, ()))
    return found


def hashes_table(store: ObjectStore, objects: Iterable[FileEntry]) -> pa.Table:
    """`file_key` plus HASH_COLUMNS of every row of the objects, in file and row order."""
    parts = []
    for entry in objects:
        part = parquet_to_table(store.get(entry.key), HASH_COLUMNS)
        keys_column = pa.array([entry.key] * part.num_rows, pa.string())
        parts.append(part.add_column(0, "file_key", keys_column))
    if not parts:
        raise ValueError("a disposition needs at least one object")
    return pa.concat_tables(parts, promote_options="default")


def commit_disposition(
    ledger: Ledger,
    table: str,
    stream: str,
    live: list[FileEntry],
    objects: list[FileEntry],
    *,
    as_of: str,
    user: str,
    user_from: str,
    reason: str,
    run_id: str,
    terms: dict[str, Any] | None = None,
) -> Manifest:
    """Steps 1 and 2 of the module docstring: the hashes object, then the manifest. Deletes
    nothing (`dispose_objects` does, after), and checks nothing: the caller chose the files
    (`execute_disposition`), and `verify` holds the manifest to the rule. `terms`: the
    retention class applied, kept in the hashes object's metadata."""
    store = ledger.store
    slot = ledger.next_manifest(table, stream, run_id, "disposition")
    rows = hashes_table(store, [o for o in objects if o.table == table])
    if terms is not None:
        text = json.dumps({"format": TERMS_FORMAT, **terms}, sort_keys=True, ensure_ascii=False)
        rows = rows.replace_schema_metadata({TERMS_KEY: text.encode("utf-8")})
    sink = pa.BufferOutputStream()
    pq.write_table(rows, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    key = keys.disposed_hashes_key(table, stream, slot.seq)
    try:
        store.put(key, data, content_type=PARQUET_TYPE)
    except ObjectExistsError:
        if store.get(key) != data:  # an interrupted attempt of the same disposition is fine
            raise ValueError(
                f"{store.uri_for(key)} exists and holds other hashes; run `rc-archive verify`"
            ) from None
    hashes = FileEntry(
        key, HASHES_TABLE, hashlib.sha256(data).hexdigest(), len(data), rows.num_rows, None, None
    )
    disposal = Disposal(tuple(objects), hashes, as_of, user, user_from, reason)
    return ledger.commit(slot, [], slot.head_cursor, replaces=tuple(live), disposal=disposal)


def dispose_objects(store: ObjectStore, objects: Iterable[FileEntry]) -> dict[str, str | None]:
    """Step 3: key -> None when deleted (or gone already), else why the store refused."""
    outcome: dict[str, str | None] = {}
    for entry in objects:
        try:
            store.dispose(entry.key)
            outcome[entry.key] = None
        except OSError as exc:
            outcome[entry.key] = str(exc)
    return outcome


def disposition_terms(data: bytes) -> dict[str, Any] | None:
    """The terms a disposition recorded in its hashes object (None: none, or unreadable)."""
    try:
        metadata = pq.ParquetFile(pa.BufferReader(data)).schema_arrow.metadata or {}
        text = metadata.get(TERMS_KEY)
        terms = json.loads(text) if text else None
    except (pa.ArrowException, OSError, ValueError):
        return None
    return terms if isinstance(terms, dict) and terms.get("format") == TERMS_FORMAT else None


def rule_findings(
    manifest: Manifest,
    terms: dict[str, Any] | None,
    held_at: Callable[[datetime], dict[str, str]],
    shortest_years: Callable[[str], int] | None = None,
) -> list[tuple[str, str]]:
    """(kind, detail) for each way a disposition manifest breaks the rule.

    `disposal_early`: its as-of is after its commit, or it deletes a file whose newest message
    is not older than the as-of minus the retention class. The class: the years it recorded,
    never less than `shortest_years(source_id)` (the shortest class the policy in force gives
    the source, when the verifier has one) nor MIN_RETENTION_YEARS. `disposal_held`: it
    deletes an object (a removed file or a compacted input behind one) that a matter held at
    its commit (`held_at(commit time)`: object key -> matter)."""
    disposal = manifest.disposal
    found: list[tuple[str, str]] = []
    as_of = parse_api_time(disposal.as_of)
    committed = parse_api_time(manifest.committed_at)
    if as_of is None or committed is None:
        found.append(("disposal_early", "its as-of or its commit time cannot be read"))
    elif as_of > committed:
        found.append(
            (
                "disposal_early",
                f"its as-of {disposal.as_of} is after its commit {manifest.committed_at}: "
                "retention is counted to a day that has come",
            )
        )
    recorded = ((terms or {}).get("retention") or {}).get("years")
    source_id = source_id_of_stream(manifest.stream)
    years = max(
        MIN_RETENTION_YEARS,
        recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else 0,
        shortest_years(source_id) if shortest_years is not None and source_id else 0,
    )
    if as_of is not None:
        cutoff = years_after(as_of, -years)
        for entry in manifest.replaces:
            newest = parse_api_time(entry.max_creation_time)
            if newest is not None and newest < cutoff:
                continue
            ends = "never (no creation time)"
            if newest is not None:
                ends = iso_ms(years_after(newest, years))
            found.append(
                (
                    "disposal_early",
                    f"deletes {entry.key} (newest message {entry.max_creation_time}): its "
                    f"retention of {years} year(s) ends {ends}, after the as-of {disposal.as_of}",
                )
            )
    if committed is not None:
        held = held_at(committed)
        for key in sorted({e.key for e in (*manifest.replaces, *disposal.objects)}):
            if key in held:
                found.append(
                    (
                        "disposal_held",
                        f"deletes {key}, which matter {held[key]} held at its commit "
                        f"({manifest.committed_at})",
                    )
                )
    return found
