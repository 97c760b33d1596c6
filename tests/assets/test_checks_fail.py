"""Each per-run check of a source fails for its own reason, and only then; and the agents
table's row count is the rows the archive holds. Real runs of the archive job's assets and
checks (as a run of the archive job executes them) against the sandbox, on a real Dagster
instance and a local archive.

How each reason is produced, through the code paths a run really takes:
- an agents record the agents step cannot store: a new message, whose version as a webhook
  delivered it (stored write-once in `_events/` by the receiver) names a creator id that is no
  extension id at all;
  the API answers 404 for it and the not-found row cannot be built, so the agents step
  quarantines it, in the source's stream of the agents ledger, where agents are committed;
- an attachment whose file host answers 404: the attachments step quarantines the download
  in the contents ledger (as `attachments`) and keeps it pending."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.checks import ARCHIVE_CHECKS
from assets.definitions import build_resources
from assets.jobs import SOURCE_ASSETS
from assets.partitions import sources_partitions
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.settings import Settings
from pipelines.webhooks.events import log_event
from sandbox import files
from schemas.ids import source_stream

ALL_PASS = {
    "contents_schema_valid": True,
    "identities_schema_valid": True,
    "agents_schema_valid": True,
    "contents_reconciled": True,
    "ledger_intact": True,
    "attachments_complete": True,
}


@pytest.fixture
def archive_env(sandbox_factory, tmp_path, monkeypatch):
    def start(sources: int = 1):
        sb = sandbox_factory(contents=60, sources=sources)
        env = {**sb.env, "ARCHIVE_URI": str(tmp_path / "archive")}
        env["AUDIT_DB"] = str(tmp_path / "audit.duckdb")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return (
            sb,
            build_resources(Settings.from_env(env)),
            Ledger(open_store(env["ARCHIVE_URI"], Settings())),
        )

    return start


class Source:
    """Runs of one source's assets and checks on one instance, as the archive job runs them."""

    def __init__(self, instance: dg.DagsterInstance, resources: dict, key: str) -> None:
        self.instance, self.resources, self.key = instance, resources, key
        instance.add_dynamic_partitions(sources_partitions.name, [key])

    def run(self) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            [*SOURCE_ASSETS, *ARCHIVE_CHECKS],
            partition_key=self.key,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )
        assert result.success  # a failed check is not a failed run
        return result


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _row_count(result: dg.ExecuteInProcessResult, asset: str) -> int:
    [materialization] = result.asset_materializations_for_node(asset)
    return materialization.metadata["dagster/row_count"].value


def _committed_agents(ledger: Ledger) -> int:
    """The agents rows the archive holds, read from the files the ledgers commit."""
    return ledger.read_table(ledger.committed_files("agents"), ["extension_id"]).num_rows


def test_every_check_passes_and_the_agents_row_count_is_the_archived_agents(archive_env):
    sb, resources, ledger = archive_env(sources=2)
    with dg.instance_for_test() as instance:
        for number, key in enumerate(sb.world.source_ids):
            result = Source(instance, resources, key).run()
            assert _checks(result) == ALL_PASS, key
            agents = _committed_agents(ledger)
            assert agents > 0 and _row_count(result, "agents") == agents
            if number:  # agents are shared: the first source's run archived them already
                assert (
                    result.asset_materializations_for_node("agents")[0]
                    .metadata["new_versions"]
                    .value
                    == 0
                )


def test_agents_schema_valid_fails_for_an_agents_record_quarantined_in_the_source_stream(
    archive_env,
):
    sb, resources, ledger = archive_env()
    key = sb.world.source_ids[0]
    with dg.instance_for_test() as instance:
        source = Source(instance, resources, key)
        assert _checks(source.run()) == ALL_PASS
        # A new message, and its version as a webhook delivered it, naming a creator no
        # extension id can be (the run is not idle: the API shows the new message).
        content_id = sb.world.add_content(key, body="sent by an automatic reply")
        record = {**sb.world.content_json(content_id), "creatorId": "bot:auto-reply"}
        log_event(
            ledger.store,
            {"uuid": "n-1", "event": "/contents", "body": {"resource": record}},
        )
        result = source.run()
    quarantined = _check(result, "agents_schema_valid")
    assert not quarantined.passed
    assert quarantined.metadata["quarantined_this_run"].value == 1
    [reason] = quarantined.metadata["reasons"].value
    assert reason.startswith("not_found id: extension id 'bot:auto-reply'")
    assert _checks(result) == {**ALL_PASS, "agents_schema_valid": False}
    # Where the row is: the agents ledger's stream of the source (no account stream exists).
    [manifest] = ledger.run_manifests("agents", source_stream(key), result.run_id)
    assert [entry.table for entry in manifest.files if entry.table == "quarantine"]
    assert "account" not in ledger.streams("agents")


def test_an_attachment_download_failure_fails_attachments_complete_not_contents_schema_valid(
    archive_env,
):
    sb, resources, ledger = archive_env()
    key = sb.world.source_ids[0]
    listed = sorted(
        attachment["id"]
        for content in sb.world.all_contents(key)
        for attachment in content["attachments"]
    )
    assert listed, "the sandbox's source has attachments"
    sb.faults.set(f"{files.FILES_PREFIX}{listed[0]}", error_status=404)
    with dg.instance_for_test() as instance:
        source = Source(instance, resources, key)
        failed = source.run()
        # The failure is quarantined in this run, in the contents ledger, as an attachment.
        [manifest] = [
            m
            for m in ledger.run_manifests("contents", source_stream(key), failed.run_id)
            if any(entry.table == "quarantine" for entry in m.files)
        ]
        rows = ledger.read_table([e for e in manifest.files if e.table == "quarantine"])
        assert rows.column("table_name").to_pylist() == ["attachments"]
        sb.faults.clear()
        healed = source.run()  # the next run fetches the pending download
    pending = _check(failed, "attachments_complete")
    assert not pending.passed and pending.metadata["pending"].value == 1
    assert _checks(failed) == {**ALL_PASS, "attachments_complete": False}
    assert _check(failed, "contents_schema_valid").metadata["quarantined_this_run"].value == 0
    assert _checks(healed) == ALL_PASS
