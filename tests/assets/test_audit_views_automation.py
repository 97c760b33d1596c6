"""The audit views are one unpartitioned refresh after sources' runs: the automation condition
requests `audit_catalog` and `iceberg_tables` once per wave of source materialisations, and
not again until a source is materialised again; a run that commits while a refresh runs (a
webhook's run, within seconds of its message) gets one more refresh once that one ends (a
real Dagster instance; the second test runs the archive job on the sandbox)."""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData

from assets.audit_catalog import audit_catalog, iceberg_tables
from assets.definitions import build_resources
from assets.jobs import ARCHIVE_ASSETS, SOURCE_ASSETS, archive_job, audit_views_job
from assets.partitions import sources_partitions
from assets.sensors import webhook_events
from pipelines.archive.store import open_store
from pipelines.catalog.build import build_catalog
from pipelines.catalog.state import behind_ledger
from pipelines.settings import Settings
from pipelines.webhooks.events import log_event

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


# -- a webhook's run, and one landing while a refresh runs (the archive job on the sandbox) --


def _webhook_run(instance: dg.DagsterInstance, defs: dg.Definitions, sb, store, key: str) -> str:
    """The path of a webhook-triggered run: a new message, its notification stored by the
    receiver (write-once in `_events/`), the `webhook_events` sensor's run request, and that
    run of the archive job with the request's tags (the sensor's name among them). Returns
    the run id; the run commits the new message."""
    content_id = sb.world.add_content(key, body="a message a webhook announced")
    resource = sb.world.content_json(content_id)
    log_event(store, {"uuid": content_id, "event": "/contents", "body": {"resource": resource}})
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, resources={"archive": defs.resources["archive"]}
    )
    with partition_loading_context(dynamic_partitions_store=instance):
        data = webhook_events.evaluate_tick(context)
    [request] = data.run_requests
    assert request.tags["dagster/sensor_name"] == "webhook_events"
    result = defs.resolve_job_def("archive_sources").execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags
    )
    assert result.success
    return result.run_id


def _contents_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    [event] = [
        record.event_log_entry
        for record in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        if record.event_log_entry.asset_materialization.asset_key == dg.AssetKey("contents")
    ]
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _launch_refresh(instance: dg.DagsterInstance, defs: dg.Definitions) -> dg.DagsterRun:
    """The run the automation sensor's request becomes, created and started as the daemon and
    the run worker record it (its planned materialisations make it "in progress"). Its life is
    reported through the instance rather than executed, because the interleaving that broke
    the views needs its step to read the archive before the webhook's run and to end after
    it; the read itself is the real catalog build (`build_catalog`, what its step runs)."""
    job = defs.resolve_job_def("refresh_audit_views_job")
    run = instance.create_run_for_job(
        job_def=job,
        asset_selection=frozenset({audit_catalog.key, iceberg_tables.key}),
        tags={"dagster/sensor_name": "refresh_audit_views"},
    )
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job.name), run.run_id
    )
    return run


def _finish_refresh(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """The refresh run's last events, as its run worker records them: its two
    materialisations, then success."""
    for asset in (audit_catalog, iceberg_tables):
        materialized = StepMaterializationData(dg.AssetMaterialization(asset.key))
        instance.report_dagster_event(
            DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION.value,
                run.job_name,
                event_specific_data=materialized,
            ),
            run.run_id,
        )
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_SUCCESS.value, run.job_name), run.run_id
    )


def _messages_in_views(audit_db) -> int:
    conn = duckdb.connect(str(audit_db), read_only=True)
    try:
        return conn.execute("SELECT count(DISTINCT id) FROM contents").fetchone()[0]
    finally:
        conn.close()


def test_a_webhook_run_gets_a_refresh_even_when_it_lands_during_one(
    sandbox_factory, tmp_path, monkeypatch
):
    sb = sandbox_factory(contents=60, sources=1)
    key = sb.world.source_ids[0]
    env = {
        **sb.env,
        "ARCHIVE_URI": str(tmp_path / "archive"),
        "AUDIT_DB": str(tmp_path / "audit.duckdb"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    defs = dg.Definitions(
        assets=ARCHIVE_ASSETS,
        jobs=[archive_job, audit_views_job],
        sensors=[webhook_events],
        resources=build_resources(Settings.from_env(env)),
    )
    store = open_store(env["ARCHIVE_URI"], Settings())
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sources_partitions.name, [key])
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert _requested(result) == set()

        # A webhook's run, nothing else going on: the next tick asks for the refresh.
        _webhook_run(instance, defs, sb, store, key)
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == {"audit_catalog", "iceberg_tables"}
        refresh = _launch_refresh(instance, defs)
        build_catalog(
            store, env["AUDIT_DB"], Settings.from_env(env)
        )  # what the refresh reads, at its start
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == set()  # requested, running

        # The next message's run commits while that refresh still runs, and ends before it.
        # Not a first load any more: it reads only the changes sweep, one contents request.
        second = _webhook_run(instance, defs, sb, store, key)
        metadata = _contents_metadata(instance, second)
        assert metadata["changes_only"] is True and metadata["requests"] == 1
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == set()  # one refresh at a time
        _finish_refresh(instance, refresh)
        behind = behind_ledger(store, env["AUDIT_DB"])
        assert behind, "the refresh read the archive before the second run committed"

        # The first tick after the refresh ended asks for another, and it catches up.
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == {"audit_catalog", "iceberg_tables"}
        views = defs.resolve_job_def("refresh_audit_views_job").execute_in_process(
            instance=instance, tags={"dagster/sensor_name": "refresh_audit_views"}
        )
        assert views.success
        assert behind_ledger(store, env["AUDIT_DB"]) == {}
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert _requested(result) == set()
    # Both webhook messages are in the views (`rc-archive sql` no longer behind).
    assert _messages_in_views(env["AUDIT_DB"]) == len(sb.world.content_ids(key))
