"""Write test records through the real archive (pipelines.archive: store + ledger), so the
catalog is tested against exactly the layout and manifests the pipeline produces."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from pipelines.archive.ledger import Ledger, Manifest
from pipelines.archive.parquet import table_to_parquet
from pipelines.archive.store import ObjectStore, open_store
from pipelines.settings import Settings
from schemas.tables import table_schema


def canonical_sha256(record: Mapping[str, Any]) -> str:
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rows_to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts, missing columns = null) -> an Arrow table in the table's schema."""
    schema = table_schema(table).arrow_schema
    columns = {
        f.name: [row.get(f.name, "" if f.name == "batch_id" else None) for row in rows]
        for f in schema
    }
    return pa.Table.from_pydict(columns, schema=schema)


class ArchiveBuilder:
    """Commits batches of row dicts through the archive's Ledger."""

    def __init__(self, uri: str, env: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.store: ObjectStore = open_store(uri, Settings.from_env(dict(env or {})))
        self.ledger = Ledger(self.store)

    def commit_batch(
        self,
        table: str,
        stream: str,
        files: list[tuple[str, list[dict[str, Any]]]],
        cursor: dict[str, Any] | None = None,
        run_id: str = "run-test",
    ) -> Manifest:
        tables = {file_table: rows_to_arrow(file_table, rows) for file_table, rows in files}
        return self.ledger.commit_batch(table, stream, tables, cursor or {}, run_id)

    def put_uncommitted(self, key: str, table: str, rows: list[dict[str, Any]]) -> None:
        """A data file no manifest lists (an interrupted write, or one dropped in by hand)."""
        self.store.put(
            key, table_to_parquet(rows_to_arrow(table, rows), table), content_type="x/parquet"
        )
