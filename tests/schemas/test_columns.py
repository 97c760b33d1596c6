"""The column registry: one declaration per column, every other form derived from it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.archive.keys import DATA_TABLES
from pipelines.archive.parquet import SCHEMAS
from pipelines.catalog.column_docs import COLUMN_DOCS
from schemas import agents, attachments, contents, flags, identities, quarantine
from schemas.columns import Column, TableSchema, matches, record_columns, text
from schemas.tables import BATCH_TABLES, LEDGER_TABLES, TABLES, table_schema
from schemas.validation import arrow_to_pandera_dtype, failing_rows


@pytest.mark.parametrize("name", list(TABLES))
def test_arrow_and_pandera_schemas_are_derived_from_the_same_columns(name):
    declared = TABLES[name]
    validated = declared.pandera_schema.columns
    assert list(validated) == declared.arrow_schema.names == declared.names
    for arrow_field in declared.arrow_schema:
        column = validated[arrow_field.name]
        assert column.nullable == arrow_field.nullable, arrow_field.name
        assert str(column.dtype) == arrow_to_pandera_dtype(arrow_field.type), arrow_field.name
        assert declared.column(arrow_field.name).description, arrow_field.name
    assert declared.pandera_schema.strict is True


def test_the_tables_are_listed_once():
    assert list(TABLES) == list(DATA_TABLES)
    assert LEDGER_TABLES == ("contents", "identities", "agents")
    assert BATCH_TABLES["contents"] == ("contents", "attachments", "flags", "quarantine")
    assert all(SCHEMAS[name] is TABLES[name].arrow_schema for name in TABLES)
    modules = (contents, identities, agents, attachments, flags, quarantine)
    assert {m.TABLE_NAME: m.ARROW_SCHEMA for m in modules} == {
        n: t.arrow_schema for n, t in TABLES.items()
    }
    with pytest.raises(ValueError, match="known tables: contents, identities"):
        table_schema("messages")


def test_the_archived_views_describe_each_table_column_as_declared():
    for view, table in (
        ("contents", "contents"),
        ("agents", "agents"),
        ("quarantine", "quarantine"),
    ):
        assert COLUMN_DOCS[view] == TABLES[table].descriptions()
    for name, column in zip(
        TABLES["attachments"].names, TABLES["attachments"].columns, strict=True
    ):
        assert COLUMN_DOCS["attachments"][name] == column.description


def test_a_new_column_is_one_declaration():
    """What adding a column takes: one Column; storage, checks and docs follow from it."""
    base = contents.TABLE
    grown = TableSchema(
        "contents",
        base.description,
        (
            *base.columns[:-5],
            text("channel_label", "A label.", checks=matches(r"^[a-z]+$")),
            *base.columns[-5:],
        ),
        id_column="id",
        ledger="contents",
    )
    assert grown.arrow_schema.field("channel_label").type == pa.string()
    assert "channel_label" in grown.pandera_schema.columns
    assert "channel_label" in grown.checked_columns
    assert grown.descriptions()["channel_label"] == "A label."
    row = {name: None for name in grown.names} | {
        "id": "c1",
        "source_id": "0" * 24,
        "channel_label": "NOT lower",
        "record_sha256": "0" * 64,
        "creation_time": 0,
    }
    failures = failing_rows(grown, pa.Table.from_pylist([row], schema=grown.arrow_schema))
    assert failures == {0: ["channel_label: failed str_matches('^[a-z]+$') (value 'NOT lower')"]}


def test_a_column_declared_twice_or_a_run_without_api_keys_is_refused():
    with pytest.raises(ValueError, match="declares id twice"):
        TableSchema("t", "", (text("id", "a"), text("id", "b")))
    table = TableSchema("t", "", (text("a", "a", api_key="a"), text("b", "b"), *record_columns()))
    assert table.api_run("a", "a") == (("a", "a"),)
    with pytest.raises(ValueError, match="b declare no API key"):
        table.api_run("a", "b")
    assert isinstance(table.column("raw_json"), Column)
