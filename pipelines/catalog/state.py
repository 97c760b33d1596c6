"""What the audit catalog knows of the ledger, and how a refresh brings it up to date.

Why: the catalog used to replay every manifest of every ledger at each build, so a refresh
after a 15-minute run re-read the archive's whole history (every object of `_ledger/` on S3).
The catalog now keeps, inside `audit.duckdb`, one row per manifest it has read
(`internal._ledger_snapshot`, also the `ledger` view) and the live file list
(`internal._live_files`: committed files minus compacted inputs). A refresh reads only the
manifests after each stream's known head: per ledger table one folder LIST, per stream one LIST
starting after the known head's key, and one GET per new manifest. Nothing is re-read.

A catalog of another archive, or of an older layout without these tables, is rebuilt from the
ledger (one full replay).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.archive.keys import LEDGER_TABLES
from pipelines.archive.ledger import Ledger, Manifest
from pipelines.archive.store import ObjectStore
from pipelines.catalog.connection import CATALOG_INFO_TABLE, INTERNAL_SCHEMA
from schemas.catalog_tables import LEDGER_SNAPSHOT, LIVE_FILES

log = logging.getLogger(__name__)

LIVE_FILES_TABLE = f"{INTERNAL_SCHEMA}.{LIVE_FILES.name}"
LEDGER_SNAPSHOT_TABLE = f"{INTERNAL_SCHEMA}.{LEDGER_SNAPSHOT.name}"
LEDGER_SCHEMA = LEDGER_SNAPSHOT.arrow_schema


def ledger_table(manifests: list[Manifest]) -> pa.Table:
    """One row per committed manifest, cursor fields flattened for SQL."""
    rows = []
    for manifest in manifests:
        cursor = manifest.cursor or {}
        stream = manifest.stream
        files = manifest.files
        rows.append(
            {
                "table_name": manifest.table,
                "stream": stream,
                "source_id": stream.removeprefix("source_id=")
                if stream.startswith("source_id=")
                else None,
                "seq": manifest.seq,
                "batch_id": manifest.batch_id,
                "files": [entry.key for entry in files],
                "file_count": len(files),
                "rows": sum(entry.rows for entry in files),
                "run_id": manifest.run_id,
                "code_version": _text(manifest.code_version),
                "committed_at": parse_record_time(manifest.committed_at),
                "cursor_page_token": _text(cursor.get("page_token")),
                "cursor_high_water_time": _text(cursor.get("high_water_time")),
                "cursor_high_water_id": _text(cursor.get("high_water_id")),
                "cursor_sweep_mark": _text(cursor.get("sweep_mark")),
                "cursor_json": json.dumps(cursor, sort_keys=True),
                "manifest_key": manifest.key,
                "manifest_sha256": manifest.sha256,
                "prev_sha256": manifest.prev_sha256,
                "kind": manifest.kind,
                "disposal_json": _disposal_json(manifest),
                "version_identity_json": None
                if manifest.version_identity is None
                else json.dumps(manifest.version_identity, sort_keys=True),
            }
        )
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def _disposal_json(manifest: Manifest) -> str | None:
    disposal = manifest.disposal
    if disposal is None:
        return None
    summary = {
        "user": disposal.user,
        "user_from": disposal.user_from,
        "reason": disposal.reason,
        "as_of": disposal.as_of,
        "removed_files": len(manifest.replaces),
        "removed_rows": sum(entry.rows for entry in manifest.replaces),
        "objects_deleted": len(disposal.objects),
        "hashes_key": disposal.hashes.key,
    }
    return json.dumps(summary, sort_keys=True)


def parse_record_time(value: Any) -> datetime | None:
    """An ISO time of a stored record (a `Z` or offset; none means UTC); None when absent."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


LIVE_FILES_SCHEMA = LIVE_FILES.arrow_schema


@dataclass
class CatalogState:
    """The manifests a catalog has read and the live files they add up to."""

    ledger_rows: list[pa.Table] = field(default_factory=list)  # LEDGER_SCHEMA parts
    live: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (table, rows)
    heads: dict[tuple[str, str], int] = field(default_factory=dict)  # (table, stream) -> seq
    manifests_read: int = 0  # by this refresh

    @property
    def manifests(self) -> int:
        return sum(part.num_rows for part in self.ledger_rows)

    def files_by_table(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for key, (table, _rows) in self.live.items():
            files.setdefault(table, []).append(key)
        return files

    def rows_by_table(self) -> dict[str, int]:
        rows: dict[str, int] = {}
        for table, count in self.live.values():
            rows[table] = rows.get(table, 0) + count
        return rows

    def live_table(self) -> pa.Table:
        return pa.table(
            [
                list(self.live),
                [table for table, _ in self.live.values()],
                [rows for _, rows in self.live.values()],
            ],
            schema=LIVE_FILES_SCHEMA,
        )

    def ledger_table(self, schema: pa.Schema) -> pa.Table:
        if not self.ledger_rows:
            return schema.empty_table()
        # Rows read back from DuckDB come with its own Arrow types (e.g. microseconds).
        return pa.concat_tables([part.cast(schema) for part in self.ledger_rows])


def open_previous_catalog(audit_db: Path, root_uri: str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the catalog at `audit_db` when it was built for this archive
    (the caller closes it); None when there is none, it cannot be opened, or it describes
    another archive: the caller then reads what it needs in full, once."""
    if not audit_db.exists():
        return None
    try:
        conn = duckdb.connect(
            str(audit_db),
            read_only=True,
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
    except duckdb.Error as exc:
        log.warning("audit catalog %s cannot be opened (%s); rebuilding it", audit_db, exc)
        return None
    try:
        recorded = conn.execute(f"SELECT archive_uri FROM {CATALOG_INFO_TABLE}").fetchone()
    except duckdb.Error:
        recorded = None
    if recorded is None or recorded[0] != root_uri:
        conn.close()
        return None
    return conn


def arrow_rows(conn: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """A query's rows as one Arrow table, read whole before the connection closes."""
    result = conn.execute(sql).arrow()
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def previous_state(audit_db: Path, root_uri: str) -> CatalogState | None:
    """The state a catalog at `audit_db` recorded for this archive (None: rebuild)."""
    conn = open_previous_catalog(audit_db, root_uri)
    if conn is None:
        return None
    try:
        ledger_rows = arrow_rows(conn, f"SELECT * FROM {LEDGER_SNAPSHOT_TABLE}")
        if ledger_rows.schema.names != LEDGER_SCHEMA.names:
            return None  # a catalog of an older layout: one full rebuild
        live_rows = conn.execute(f"SELECT key, table_name, rows FROM {LIVE_FILES_TABLE}").fetchall()
        # Each stream's head, computed by DuckDB rather than a Python pass over every row.
        heads = {
            (table, stream): seq
            for table, stream, seq in conn.execute(
                f"SELECT table_name, stream, max(seq) FROM {LEDGER_SNAPSHOT_TABLE} GROUP BY 1, 2"
            ).fetchall()
        }
    except duckdb.Error:
        return None  # an older catalog layout: one full rebuild
    finally:
        conn.close()
    return CatalogState(
        ledger_rows=[ledger_rows],
        live={key: (table, rows) for key, table, rows in live_rows},
        heads=heads,
    )


def refresh_state(store: ObjectStore, previous: CatalogState | None) -> CatalogState:
    """`previous` brought up to date with the manifests committed since (a full replay when
    None)."""
    state = previous or CatalogState()
    state.manifests_read = 0
    ledger = Ledger(store)
    for table in LEDGER_TABLES:
        for stream in ledger.streams(table):
            known = state.heads.get((table, stream), -1)
            new: list[Manifest] = [
                ledger.read_manifest(key)
                for key in ledger.manifest_keys(table, stream, after_seq=known)
            ]
            for manifest in new:
                for entry in manifest.replaces:
                    state.live.pop(entry.key, None)
                for entry in manifest.files:
                    state.live.setdefault(entry.key, (entry.table, entry.rows))
                state.heads[(table, stream)] = manifest.seq
            if new:
                state.ledger_rows.append(ledger_table(new))
                state.manifests_read += len(new)
    return state


def behind_ledger(store: ObjectStore, audit_db: str | Path) -> dict[str, int]:
    """`<table>/<stream>` -> manifests committed after the catalog's last build read that
    stream ({} when the catalog is current). Reads the catalog's heads and one LIST per stream
    starting after the known head: the cost of the streams, not of their history."""
    path = Path(audit_db)
    if not path.exists():
        return {"(no catalog)": 1}
    conn = duckdb.connect(str(path), read_only=True)
    try:
        heads = {
            (table, stream): seq
            for table, stream, seq in conn.execute(
                f"SELECT table_name, stream, max(seq) FROM {LEDGER_SNAPSHOT_TABLE} GROUP BY 1, 2"
            ).fetchall()
        }
    finally:
        conn.close()
    ledger = Ledger(store)
    behind = {}
    for table in LEDGER_TABLES:
        for stream in ledger.streams(table):
            newer = ledger.manifest_keys(table, stream, heads.get((table, stream), -1))
            if newer:
                behind[f"{table}/{stream}"] = len(newer)
    return behind
