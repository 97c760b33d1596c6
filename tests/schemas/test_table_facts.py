"""Facts about the tables are declared on each TableSchema; every list of tables is read from
them, and the contents fast path reads which API field fills which column from the columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.archive import keys
from pipelines.archive.verify import NOT_FROM_RECORD
from pipelines.catalog import governance_tables, state
from pipelines.integrity.certificate import COUNTED
from schemas import catalog_tables, contents, contents_columnar, quarantine
from schemas.columns import STRING_LIST, Column, TableSchema, text
from schemas.tables import (
    CERTIFIED_TABLES,
    HELD_TABLES,
    LEDGER_TABLES,
    LEDGERS_OF,
    LOGGED_TABLE,
    PER_SOURCE_TABLES,
    PER_STREAM_TABLES,
    QUARANTINED_TABLES,
    SOURCE_LEDGERS,
    TABLES,
)
from schemas.validation import failing_rows

SOURCE_ID = "0123456789abcdef01234567"


def test_each_list_of_tables_is_read_from_the_declarations():
    assert QUARANTINED_TABLES == ("contents", "identities", "agents", "attachments")
    assert HELD_TABLES == ("contents", "identities")
    assert PER_SOURCE_TABLES == ("contents", "identities", "attachments", "flags")
    assert PER_STREAM_TABLES == ("quarantine",)
    assert SOURCE_LEDGERS == ("contents", "identities")
    assert CERTIFIED_TABLES == ("contents", "identities", "agents", "quarantine")
    assert LOGGED_TABLE == "contents"
    assert COUNTED == ("contents", "versions", "identities", "agents", "quarantined")
    assert LEDGERS_OF["quarantine"] == LEDGER_TABLES
    assert LEDGERS_OF["attachments"] == LEDGERS_OF["flags"] == ("contents",)
    assert keys.PER_SOURCE_TABLES is PER_SOURCE_TABLES


def test_deep_verify_rederives_every_column_but_those_declared_not_reproducible():
    stamps = {"raw_json", "record_sha256", "archived_at", "run_id", "batch_id"}
    resolved = {"author_display_name", "author_is_agent", "creator_name", "creator_email"}
    assert NOT_FROM_RECORD["contents"] == stamps | resolved | {"creator_extension_number"}
    assert NOT_FROM_RECORD["identities"] == stamps
    assert NOT_FROM_RECORD["agents"] == stamps | {"fetched_at"}


def test_a_tables_folder_follows_its_scope():
    stream = f"source_id={SOURCE_ID}"
    assert keys.stream_folder("agents", stream) == "agents/"
    assert keys.SHARED_FOLDERS == ("agents/",)
    assert keys.stream_folder("quarantine", keys.ACCOUNT_STREAM) == "quarantine/source=account/"
    assert keys.stream_folder("quarantine", stream) == f"quarantine/source={SOURCE_ID}/"
    assert keys.stream_folder("flags", stream) == f"flags/source={SOURCE_ID}/"
    assert keys.source_table_key("agents", stream, "b") == "agents/b.parquet"
    with pytest.raises(ValueError, match="known tables"):
        keys.stream_folder("reactions", stream)


def test_quarantine_names_exactly_the_quarantinable_tables():
    declared = TABLES["quarantine"]
    assert declared.column("table_name").description == (
        "The table the record was meant for: contents, identities, agents or attachments."
    )
    assert quarantine.ARROW_SCHEMA.equals(declared.arrow_schema)
    rows = [
        {name: None for name in declared.names}
        | {"table_name": name, "reason": "r", "record_sha256": "0" * 64}
        for name in ("attachments", "flags")
    ]
    failures = failing_rows(declared, pa.Table.from_pylist(rows, schema=declared.arrow_schema))
    assert list(failures) == [1]  # flags records are never set aside


def test_the_catalogs_own_tables_are_declared_apart_from_the_archived_ones():
    assert not set(catalog_tables.CATALOG_TABLES) & set(TABLES)
    assert state.LEDGER_SCHEMA is catalog_tables.LEDGER_SNAPSHOT.arrow_schema
    assert state.LIVE_FILES_SCHEMA is catalog_tables.LIVE_FILES.arrow_schema
    assert governance_tables.ACCESS_SCHEMA is catalog_tables.ACCESS_EVENTS.arrow_schema
    assert governance_tables.HOLDS_SCHEMA is catalog_tables.HOLD_EVENTS.arrow_schema
    assert governance_tables.REVIEWS_SCHEMA is catalog_tables.REVIEW_EVENTS.arrow_schema
    assert state.LEDGER_SNAPSHOT_TABLE == "internal._ledger_snapshot"
    ledger_tables = catalog_tables.LEDGER_SNAPSHOT.column("table_name").description
    assert "contents, identities or agents" in ledger_tables


def _grown(extra: Column) -> TableSchema:
    """contents with one more column read from the API, before the resolved names."""
    base = contents.TABLE
    at = base.names.index("author_display_name")
    return TableSchema(
        base.name,
        base.description,
        (*base.columns[:at], extra, *base.columns[at:]),
        id_column="id",
        ledger="contents",
    )


def _convert(table: TableSchema, records: list[dict]) -> contents_columnar.FastChunk:
    path = contents_columnar.FastPath(table)
    return path.convert_chunk(
        records, SOURCE_ID, lambda a, c: contents._resolved_columns(None, a, c)
    )


def test_a_column_the_api_sends_as_is_is_converted_by_its_declaration_alone():
    grown = _grown(Column("channel_tags", STRING_LIST, "Tags.", api_key="channelTags"))
    record = {"id": "c1", "creationTime": "2024-01-02T03:04:05.000Z", "body": "hi"}
    chunk = _convert(grown, [record | {"channelTags": ["a", "b"]}, record | {"channelTags": "ab"}])
    assert chunk.positions == [0] and chunk.slow_positions == [1]  # a string is not a list
    assert chunk.columns["channel_tags"].to_pylist() == [["a", "b"]]
    assert chunk.columns["body"].to_pylist() == ["hi"]
    plain = _convert(contents.TABLE, [record])
    assert set(chunk.columns) - set(plain.columns) == {"channel_tags"}


def test_a_column_read_from_a_nested_field_is_not_taken_as_a_copy():
    with pytest.raises(ValueError, match="channel_name read a nested API field"):
        contents_columnar.FastPath(_grown(text("channel_name", "N.", api_key="channel.name")))
    with pytest.raises(ValueError, match="creationTime: read as string"):
        contents_columnar.FastPath(
            _grown(Column("created", pa.int64(), "C.", api_key="creationTime"))
        )
