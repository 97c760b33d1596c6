"""The maintenance assets in Dagster: compaction of closed months, the daily deep verify."""

from __future__ import annotations

import os

import dagster as dg

from assets.maintenance import archive_deep_verify, contents_compaction
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from tests.archive.support import SOURCE_ID, STREAM, commit_records


def _archive_with_small_files(root) -> LocalStore:
    store = LocalStore(root)
    ledger = Ledger(store)
    for i in range(4):  # four runs' worth of files in February 2024 (a closed month)
        commit_records(ledger, i * 10, 10)
    return store


def test_compaction_asset_commits_one_file_per_closed_month(tmp_path):
    store = _archive_with_small_files(tmp_path / "archive")
    assert len(Ledger(store).committed_files("contents", STREAM)) == 8
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(sources_partitions.name, [SOURCE_ID])
    result = dg.materialize(
        [contents_compaction],
        partition_key=SOURCE_ID,
        instance=instance,
        resources={"archive": ArchiveResource(archive_uri=str(tmp_path / "archive"))},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("contents_compaction")[0].metadata
    assert metadata["periods_compacted"].value == ["2024-02"]
    assert metadata["input_files"].value == 8 and metadata["rows"].value == 40
    live = Ledger(store).committed_files("contents", STREAM)
    assert len(live) == 1 and live[0].rows == 40
    assert Ledger(store).latest_checkpoint("contents", STREAM) is not None


def test_deep_verify_asset_fails_on_tampering(tmp_path):
    store = _archive_with_small_files(tmp_path / "archive")
    resources = {"archive": ArchiveResource(archive_uri=str(tmp_path / "archive"))}
    assert dg.materialize([archive_deep_verify], resources=resources).success
    victim = Ledger(store).committed_files("contents", STREAM)[0].key
    os.chmod(store.uri_for(victim), 0o644)
    with open(store.uri_for(victim), "ab") as handle:
        handle.write(b"tampered")
    result = dg.materialize([archive_deep_verify], resources=resources, raise_on_error=False)
    assert not result.success
