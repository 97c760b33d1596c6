"""The audit views are one unpartitioned refresh after sources' runs: the automation condition
requests `audit_catalog` and `iceberg_tables` once per wave of source materialisations, and
not again until a source is materialised again (a real Dagster instance)."""

from __future__ import annotations

import dagster as dg

from assets.audit_catalog import audit_catalog, iceberg_tables
from assets.definitions import build_resources
from assets.jobs import SOURCE_ASSETS
from assets.partitions import sources_partitions

SOURCE = "65c3fdd9527bf900079cefcb"
DEFS = dg.Definitions(
    assets=[*SOURCE_ASSETS, audit_catalog, iceberg_tables], resources=build_resources()
)


def _requested(result) -> set[str]:
    names = ("audit_catalog", "iceberg_tables")
    return {name for name in names if result.get_num_requested(dg.AssetKey(name))}


def _source_materialised(instance: dg.DagsterInstance, partition: str) -> None:
    for asset in ("agents", "attachments"):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))


def test_one_refresh_per_wave_of_source_runs():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(
            sources_partitions.name, [SOURCE, "65c3fdd9527bf900079cefcc"]
        )
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance)
        assert _requested(result) == set()  # nothing archived yet: nothing to refresh
        _source_materialised(instance, SOURCE)  # the other source never ran: no wait for it
        result = dg.evaluate_automation_conditions(
            defs=DEFS, instance=instance, cursor=result.cursor
        )
        # Both in one tick: the tables follow the catalog requested in the same tick.
        assert _requested(result) == {"audit_catalog", "iceberg_tables"}
        result = dg.evaluate_automation_conditions(
            defs=DEFS, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == set()  # handled: no second request for the same wave
