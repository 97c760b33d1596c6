"""Version aliases: the version hash of rows archived before version identities.

Until version identities (schemas.version_identity), a contents row's `record_sha256` hashed
the record as served, signed attachment links included, so a re-signed link looked like a new
version. Those rows stay as they are (write-once). A stream upgraded to the rule gets one
derived, write-once object instead, `_ledger/contents/<stream>/_aliases/<seq>.parquet`: for
every row of the manifests up to `seq` whose stored hash is not its version hash, the pair
(`record_sha256` as stored, `version_sha256` recomputed from its `raw_json`). Rows without an
attachment link or webhook-only key hash the same both ways and need no alias.

The first manifest the new rule commits names the object (key, SHA-256, rows) in its
`version_identity` entry and every later manifest carries that entry forward, so the object is
chained, witnessed and certified with the ledger, and a reader finds it from the head manifest
alone. Then:
- the version check knows old rows by their version hash too, so a run after the upgrade does
  not archive them again (pipelines/archive/versions.py);
- the audit catalog marks the historical transport-only repeats, so `contents`, `edits` and
  transcripts do not show a re-signed link as an edit (pipelines/catalog/views.py);
- `verify` checks the object against the manifest that names it and, deep, recomputes it.

What building it reads (once per stream, at its first commit under the rule): the `id`,
`record_sha256` and `raw_json` columns of the stream's live contents files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.columns import TableSchema
from schemas.version_identity import VERSION_IDENTITY

ALIASES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("record_sha256", pa.string(), nullable=False),
        pa.field("version_sha256", pa.string(), nullable=False),
    ]
)


def needs_alias(raw_json: bytes) -> bool:
    """Whether a row's raw record can hash differently as served and as a version: it has a
    transport value (an attachment link, or a webhook-only key). A cheap pre-filter over the
    raw bytes; the hash comparison decides."""
    return b'"uri"' in raw_json or b'"hasAttachment"' in raw_json


def aliases_of(schema: TableSchema, parts: Iterable[pa.Table]) -> pa.Table:
    """ALIASES_SCHEMA rows of the rows in `parts` (columns id, record_sha256, raw_json) whose
    stored hash differs from their version hash; sorted by record_sha256, each pair once."""
    identity = schema.version_identity
    id_column = schema.id_column or "id"
    found: dict[tuple[str, str], str] = {}
    for part in parts:
        for row_id, digest, raw in zip(
            part.column(id_column).to_pylist(),
            part.column("record_sha256").to_pylist(),
            part.column("raw_json").to_pylist(),
            strict=True,
        ):
            raw_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
            if not needs_alias(raw_bytes):
                continue
            version = identity.sha256(orjson.loads(raw_bytes))
            if version != digest:
                found[(digest, row_id)] = version
    ordered = sorted(found.items())
    return pa.table(
        [
            pa.array([row_id for (_, row_id), _ in ordered], pa.string()),
            pa.array([digest for (digest, _), _ in ordered], pa.string()),
            pa.array([version for _, version in ordered], pa.string()),
        ],
        schema=ALIASES_SCHEMA,
    )


def aliases_parquet(aliases: pa.Table) -> bytes:
    """The object's bytes: deterministic for the same rows (no timestamps in the metadata), so
    a retried upgrade that meets its own earlier object finds the same SHA-256."""
    sink = pa.BufferOutputStream()
    pq.write_table(aliases, sink, compression="zstd", write_statistics=True)
    return sink.getvalue().to_pybytes()


def read_aliases(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data)).cast(ALIASES_SCHEMA)


def identity_entry(key: str | None, data: bytes | None, rows: int, through_seq: int) -> dict:
    """The manifest's `version_identity` entry: the rule, and the alias object when there is
    one (None: nothing archived before the rule needed an alias)."""
    entry: dict = {"rule": VERSION_IDENTITY}
    if key is not None and data is not None:
        entry["aliases"] = {
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "rows": rows,
            "through_seq": through_seq,
        }
    return entry
