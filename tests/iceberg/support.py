"""Helpers of the Iceberg tests: the committed rows, the tables' rows, DuckDB with the pinned
iceberg extension."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from pipelines.archive.ledger import Ledger
from pipelines.tables import open_catalog
from pipelines.tables.iceberg import scan_hashes
from schemas.tables import TABLES


def committed(ledger: Ledger, table: str) -> Counter:
    files = ledger.committed_files(table)
    if not files:
        return Counter()
    return Counter(ledger.read_table(files, ["record_sha256"]).column("record_sha256").to_pylist())


def iceberg_rows(config, table: str) -> Counter:
    return Counter(scan_hashes(open_catalog(config), table).column("record_sha256").to_pylist())


def assert_tables_match(store, config) -> None:
    ledger = Ledger(store)
    for table in TABLES:
        assert iceberg_rows(config, table) == committed(ledger, table), table


def iceberg_duckdb() -> duckdb.DuckDBPyConnection:
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    conn = duckdb.connect()
    conn.execute("SET autoinstall_known_extensions=false")
    conn.execute("SET autoload_known_extensions=false")
    for module, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
        path = Path(module.__file__).parent / "extensions" / "v1.5.5" / f"{name}.duckdb_extension"
        conn.execute(f"LOAD '{path}'")
    return conn
