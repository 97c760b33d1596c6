"""Run the archive assets in-process, the way a scheduled run would, for `rc-archive run`.

It materialises the same asset graph (with its checks) through Dagster, on the instance in
DAGSTER_HOME when set (so runs show up in the UI) or an ephemeral one, so the command line and
the scheduler can never archive differently.

While a run goes, its steps are followed (an event listener on the run): the progress counters
(pipelines/progress.py) name the step running, a step that starts after a stop request fails as
interrupted before its code runs, and a stop while a step waits to be retried ends the process
at once (pipelines/interrupts.py). After a stop, no further source and no audit views refresh
is started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.defs_state.base import set_defs_state_storage

from assets.attachments import attachments
from assets.audit_catalog import AUDIT_VIEW_ASSETS, AUDIT_VIEW_CHECKS
from assets.checks import ARCHIVE_CHECKS, contents_reconciled
from assets.common import ERROR_KIND, FULL_REFRESH_TAG, failing_fast_for_people
from assets.contents import contents
from assets.definitions import build_resources
from assets.interrupt import end_run_at_next_step
from assets.jobs import SOURCE_ASSETS, SOURCE_TAG
from assets.partitions import sources_partitions
from pipelines import interrupts
from pipelines.archive.ledger import Ledger
from pipelines.process_memory import release_garbage
from pipelines.progress import PROGRESS
from pipelines.ringcentral import ClientSettings
from pipelines.ringcentral.shared import shared_client
from pipelines.sync.sources import require_known_sources
from schemas.ids import valid_source_keys

# The error kind of a step that stopped because a stop was requested (assets/interrupt.py).
INTERRUPTED = "interrupted"
# Dagster's name for the job materialize() runs; kept so runs look the same in the UI.
EPHEMERAL_JOB_NAME = "__ephemeral_asset_job__"
STEP_STARTS = (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED)
STEP_ENDS = (
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
)

# Every check a source's run evaluates when its steps get that far.
CHECK_NAMES = tuple(spec.name for check in ARCHIVE_CHECKS for spec in check.check_specs)


@dataclass
class SourceRunSummary:
    """One source's run. `checks` holds only the checks that were evaluated: a check whose
    asset failed never ran, and is listed in `checks_not_run` rather than shown as failed."""

    source_id: str
    success: bool
    metadata: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None
    # `needs_person`, `unreachable` or `interrupted` when a step failed fast
    # (assets.common.ERROR_KIND).
    error_kind: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.error_kind == INTERRUPTED

    @property
    def checks_not_run(self) -> list[str]:
        return [name for name in CHECK_NAMES if name not in self.checks]

    @property
    def checks_failed(self) -> list[str]:
        return [name for name, passed in self.checks.items() if not passed]

    def checks_status(self) -> str:
        """`pass`, `FAIL` (a check ran and failed), `not run` (none ran), or e.g.
        `pass, 1 not run` when the run stopped between checks."""
        if self.checks_failed:
            return "FAIL"
        if not self.checks:
            return "not run"
        missing = len(self.checks_not_run)
        return "pass" if not missing else f"pass, {missing} not run"


def dagster_instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def source_keys(source_ids: Iterable[str]) -> list[str]:
    """The ids as partition keys; ValueError naming the first malformed one."""
    keys, rejected = valid_source_keys(source_ids)
    if rejected:
        raise ValueError(
            f"invalid source id {rejected[0]!r}: expected 24 hexadecimal characters "
            "(check RC_SOURCE_IDS or --source)"
        )
    return keys


def require_sources_exist(keys: Sequence[str], resources: dict) -> list[SourceRunSummary]:
    """Every source is one RingCentral has (pipelines/sync/sources.py), checked for all of
    them before any is run: `UnknownSourceError` (exit code 2) leaves no trace of any.

    A check the API cannot answer (credentials refused, no answer within the client's retries)
    fails every source, none run, with the reason and kind its contents step would have given
    (`failing_fast_for_people`); running them would only meet the same error again, after as
    long a wait. Those summaries are returned; none when the check passed."""
    # The client the steps will use (its credentials are the environment's, as theirs are).
    client = shared_client(ClientSettings.from_env(dict(os.environ)))
    try:
        with failing_fast_for_people():
            require_known_sources(client, Ledger(resources["archive"].store()), keys)
    except dg.Failure as failure:
        kind = failure.metadata.get(ERROR_KIND)
        return [
            SourceRunSummary(
                key,
                success=False,
                error=failure.description,
                error_kind=kind.value if kind is not None else None,
            )
            for key in keys
        ]
    return []


def register_sources(instance: dg.DagsterInstance, source_ids: Iterable[str]) -> list[str]:
    """Validate ids and add the unknown ones as partitions; returns the valid keys."""
    keys = source_keys(source_ids)
    known = set(instance.get_dynamic_partitions(sources_partitions.name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(sources_partitions.name, new)
    return keys


def run_sources(
    source_ids: Iterable[str],
    *,
    full_refresh: bool = False,
    reconcile_mode: str = "sample",
    batch_records: int | None = None,
    downloads_per_second: float | None = None,
    log_level: str = "CRITICAL",
    instance: dg.DagsterInstance | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[SourceRunSummary]:
    """Materialise each source's assets and checks; `log_level` is Dagster's console log (the
    default shows nothing: a failed step's stack trace is for `--verbose`, the summary carries
    the one-line reason). A source RingCentral does not have ends the call before any source
    is run (`UnknownSourceError`). A stop request ends the run at the next boundary: the summaries
    then end with the interrupted source (`interrupted`), and `interrupts.stop_requested()`."""
    keys = source_keys(source_ids)
    resources = build_resources()
    unchecked = require_sources_exist(keys, resources)
    if unchecked:
        return unchecked
    instance = instance or dagster_instance()
    register_sources(instance, keys)
    summaries = []
    for number, key in enumerate(keys, start=1):
        if interrupts.stop_requested():
            break
        if on_progress:
            on_progress(f"[{number}/{len(keys)}] archiving source {key}")
        PROGRESS.begin(key, f"{number}/{len(keys)}")
        tags = {SOURCE_TAG: key}
        if full_refresh:
            tags[FULL_REFRESH_TAG] = "true"
        result = _materialize(
            [*SOURCE_ASSETS, *ARCHIVE_CHECKS],
            partition_key=key,
            instance=instance,
            resources=resources,
            tags=tags,
            run_config=_run_config(reconcile_mode, batch_records, log_level, downloads_per_second),
        )
        summary = _summarise(key, result)
        summaries.append(summary)
        del result
        release_garbage()  # this source's leftovers, before the next source's run
        if summary.interrupted or interrupts.stop_requested():
            if not summary.success:
                summary.error_kind = INTERRUPTED
            # One line says so (pipelines/interrupts.py), printed when the signal came; a stop
            # that Dagster's handler caught inside a check is announced here.
            interrupts.request_stop("interrupted")
            break
        if on_progress:
            new = summary.metadata.get("contents", {}).get("new_records", 0)
            state = "ok" if summary.success else f"FAILED: {summary.error}"
            on_progress(f"[{number}/{len(keys)}] {key}: {state}, {new} new records")
    PROGRESS.begin("", "")
    if summaries and not interrupts.stop_requested():
        PROGRESS.begin("all", "views")
        _refresh_audit_views(summaries[-1], instance, resources, log_level)
        PROGRESS.begin("", "")
        if interrupts.stop_requested() or summaries[-1].interrupted:
            interrupts.request_stop("interrupted")
    return summaries


def _materialize(
    assets: Sequence, *, instance: dg.DagsterInstance, **options
) -> dg.ExecuteInProcessResult:
    """`dg.materialize`, with a run id known beforehand so the run's events can be followed:
    each step's start names the step in the progress counters and, once a stop was requested,
    makes the step fail as interrupted before it starts. While a step waits to be retried and
    none runs, nothing is half done: a signal then ends the process at once."""
    run_id = str(uuid.uuid4())
    following = True
    running: set[str] = set()
    waiting: set[str] = set()  # steps up for retry

    def on_event(entry) -> None:
        event = entry.dagster_event
        if not following or event is None or event.step_key is None:
            return
        if event.event_type in STEP_STARTS:
            running.add(event.step_key)
            waiting.discard(event.step_key)
            PROGRESS.step(event.step_key)
            if interrupts.stop_requested():
                end_run_at_next_step()
        elif event.event_type in STEP_ENDS:
            running.discard(event.step_key)
            if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:
                waiting.add(event.step_key)
                PROGRESS.step(f"{event.step_key}:waiting_to_retry")
        else:
            return
        interrupts.set_idle(bool(waiting) and not running)

    instance.add_event_listener(run_id, on_event)
    defs = dg.Definitions(
        jobs=[dg.define_asset_job(name=EPHEMERAL_JOB_NAME)],
        assets=assets,
        resources=options.pop("resources"),
    )
    # Resolve under this instance's definitions-state storage, as Dagster does when an
    # instance is entered: an instance entered and dropped earlier in the process (a test, an
    # earlier run) may still be the "current" one, and its storage may be gone.
    with set_defs_state_storage(instance.defs_state_storage):
        job = defs.resolve_job_def(EPHEMERAL_JOB_NAME)
    try:
        return job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=run_id, **options
        )
    finally:
        following = False  # Dagster keeps its listeners for the life of the instance
        interrupts.set_idle(False)


def _refresh_audit_views(
    last: SourceRunSummary, instance: dg.DagsterInstance, resources: dict, log_level: str
) -> None:
    """The audit views cover every source: refreshed once, after the last source's run, as
    the automation sensor does after scheduled runs. Reported with the last source (its
    metadata, and its failure if the refresh failed)."""
    result = _materialize(
        [*AUDIT_VIEW_ASSETS, *AUDIT_VIEW_CHECKS],
        instance=instance,
        resources=resources,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    views = _summarise(last.source_id, result)
    last.metadata.update(views.metadata)
    # The views' checks are about the whole archive, not this source: kept apart from the
    # source's checks, and a failed one fails the run like a failed refresh.
    last.metadata["audit_views_checks"] = views.checks
    # audit_catalog_current is a warning (a commit during the build; the next refresh catches
    # up), not a failure of the run.
    failed = [
        name
        for name, passed in views.checks.items()
        if not passed and name != "audit_catalog_current"
    ]
    if last.success and (not views.success or failed):
        last.success = False
        reason = views.error or f"check(s) failed: {', '.join(failed)}"
        last.error, last.error_kind = f"audit views: {reason}", views.error_kind
    release_garbage()


def _run_config(
    reconcile_mode: str,
    batch_records: int | None,
    log_level: str,
    downloads_per_second: float | None = None,
) -> dict:
    ops: dict = {contents_reconciled.op.name: {"config": {"mode": reconcile_mode}}}
    if batch_records:
        ops[contents.op.name] = {"config": {"batch_records": batch_records}}
    if downloads_per_second is not None:
        ops[attachments.op.name] = {"config": {"downloads_per_second": downloads_per_second}}
    return {"ops": ops, "loggers": {"console": {"config": {"log_level": log_level}}}}


def _summarise(key: str, result: dg.ExecuteInProcessResult) -> SourceRunSummary:
    summary = SourceRunSummary(source_id=key, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        summary.metadata[materialization.asset_key.to_user_string()] = {
            name: value.value for name, value in materialization.metadata.items()
        }
    for event in result.get_asset_check_evaluations():
        summary.checks[event.check_name] = event.passed
    if not result.success:
        summary.error, summary.error_kind = _first_failure(result)
    return summary


def _first_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str | None]:
    """The reason a person can act on (a Failure's description, else the error's message), and
    the fail-fast kind the asset tagged it with, if any."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.error is not None and data.error.cls_name == "DagsterExecutionInterruptedError":
            return "interrupted before the step started", INTERRUPTED
        if data.user_failure_data is not None and data.user_failure_data.description:
            kind = data.user_failure_data.metadata.get(ERROR_KIND)
            return data.user_failure_data.description, kind.value if kind is not None else None
        if data.error is not None:
            cause = data.error.cause or data.error
            return cause.message.strip().splitlines()[-1], None
    return "the run failed; see the Dagster run log", None
