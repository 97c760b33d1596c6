"""Write a small archive in the documented layout (docs/internals.md, "Archive layout").

Test-data builder for the audit tests: Parquet files + hash-chained manifests, to a local
directory or an S3 bucket over HTTP, so the catalog is tested against the real layout.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.audit.table_schemas import arrow_schema


def canonical_sha256(record: Mapping[str, Any]) -> str:
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rows_to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts, missing columns = null) -> an Arrow table in the table's schema."""
    schema = arrow_schema(table)
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


class LocalTarget:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise FileExistsError(key)
        path.write_bytes(data)

    @property
    def uri(self) -> str:
        return str(self.root)


class S3Target:
    def __init__(self, client: Any, bucket: str, prefix: str = "archive") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}", Body=data)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class ArchiveBuilder:
    """Writes batches: intent -> data files -> manifest (the commit point)."""

    def __init__(self, target: LocalTarget | S3Target) -> None:
        self.target = target
        self._chain: dict[tuple[str, str], tuple[int, str | None]] = {}

    def commit_batch(
        self,
        table: str,
        stream: str,
        files: list[tuple[str, list[dict[str, Any]]]],
        cursor: dict[str, Any] | None = None,
        run_id: str = "run-test",
        committed_at: datetime | None = None,
    ) -> dict[str, Any]:
        """files: (table of the file, rows). Keys follow the layout; returns the manifest."""
        seq, prev = self._chain.get((table, stream), (0, None))
        batch_id = f"{seq:010d}-{secrets.token_hex(6)}"
        ledger_dir = f"_ledger/{table}/{stream}"
        self.target.put(f"{ledger_dir}/_pending/{batch_id}.json", b'{"intent": true}')
        entries = []
        for file_table, rows in files:
            for key, part in self._partition(file_table, stream, batch_id, rows):
                arrow = rows_to_arrow(file_table, part)
                buffer = io.BytesIO()
                pq.write_table(arrow, buffer, compression="zstd")
                data = buffer.getvalue()
                self.target.put(key, data)
                times = [r["creation_time"] for r in part if r.get("creation_time")]
                entries.append(
                    {
                        "key": key,
                        "table": file_table,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data),
                        "rows": len(part),
                        "min_creation_time": min(times).isoformat() if times else None,
                        "max_creation_time": max(times).isoformat() if times else None,
                    }
                )
        manifest = {
            "format": "rc-archive/manifest/1",
            "table": table,
            "stream": stream,
            "seq": seq,
            "batch_id": batch_id,
            "files": entries,
            "cursor": cursor or {},
            "run_id": run_id,
            "code_version": "test",
            "committed_at": (committed_at or datetime.now(UTC)).isoformat(),
            "prev_sha256": prev,
        }
        raw = json.dumps(manifest, sort_keys=True).encode()
        self.target.put(f"{ledger_dir}/{seq:010d}.json", raw)
        self._chain[(table, stream)] = (seq + 1, hashlib.sha256(raw).hexdigest())
        return manifest

    @staticmethod
    def _partition(
        file_table: str, stream: str, batch_id: str, rows: list[dict[str, Any]]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        for row in rows:
            row["batch_id"] = batch_id
        if file_table == "contents":
            by_day: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_day.setdefault(row["creation_date"].isoformat(), []).append(row)
            return [
                (f"contents/{stream}/creation_date={day}/{batch_id}.parquet", part)
                for day, part in sorted(by_day.items())
            ]
        if file_table == "identities":
            return [(f"identities/{stream}/{batch_id}.parquet", rows)]
        if file_table == "agents":
            return [(f"agents/{batch_id}.parquet", rows)]
        return [(f"quarantine/{stream}/{batch_id}.parquet", rows)]
