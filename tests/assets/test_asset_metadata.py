"""What the Dagster UI shows of each archived table: the column schema, described."""

from __future__ import annotations

import dagster as dg

from schemas.tables import table_schema


def test_archived_tables_show_their_described_column_schema():
    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for table in ("contents", "identities", "agents"):
        node = graph.get(dg.AssetKey(table))
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == table_schema(table).arrow_schema.names
        undescribed = [c.name for c in schema.columns if not c.description]
        assert undescribed == [], (table, undescribed)
        assert node.owners == ["team:compliance"]
