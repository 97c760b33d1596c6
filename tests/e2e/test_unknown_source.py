"""A well-formed source id RingCentral does not have is refused before anything is archived.

The API has no endpoint that lists channels, and a list filtered on an unknown id answers an
empty page: before the check, `rc-archive run --source <such an id>` ended "ok" and left a
ledger stream for a channel that never existed. Now the run asks the API about every source it
was given that the archive never held, and refuses the whole invocation when one is unknown:
exit code 2, one line naming the id and the known sources, and no trace in the archive, not
even of the known sources given alongside (all or nothing, checked before any work: a typo in
RC_SOURCE_IDS is fixed rather than half a run done without it). A Dagster run of a partition
for such an id fails its contents step with the same line, and nothing runs after it.

The real command line (a child process, as cron runs it) and real Dagster runs, against the
sandbox over HTTP, on a local archive.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import build_resources
from assets.jobs import SOURCE_ASSETS
from assets.partitions import sources_partitions
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.settings import Settings
from pipelines.sync.sources import UnknownSourceError
from schemas.ids import source_stream
from tests.e2e.helpers import cli_env, run_to_completion, start_run

pytestmark = pytest.mark.slow

# Well-formed (24 hex), and no id of the sandbox's world.
UNKNOWN = "0123456789abcdef01234567"
EXIT_BAD_INPUT = 2


def _refused(env: dict[str, str], *args: str) -> list[str]:
    """Run `rc-archive run`, expect exit 2; the output's lines that name the unknown id."""
    process = start_run(env, *args)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == EXIT_BAD_INPUT, output
    return [line for line in output.splitlines() if UNKNOWN in line]


def _files(archive: Path) -> dict[str, bytes]:
    """Every file of the archive and its bytes."""
    if not archive.exists():
        return {}
    return {str(p.relative_to(archive)): p.read_bytes() for p in archive.rglob("*") if p.is_file()}


def _traces(archive: Path, source_id: str) -> list[str]:
    """Files whose path or bytes name the source (a manifest, a ledger folder, a data file)."""
    return [
        path
        for path, data in _files(archive).items()
        if source_id in path or source_id.encode() in data
    ]


def test_an_unknown_source_refuses_the_whole_run_and_leaves_no_trace(tmp_path, sandbox_factory):
    sb = sandbox_factory(contents=60, sources=2)
    known, other = sb.world.source_ids
    archive = tmp_path / "archive"
    env = cli_env(sb.env, archive, tmp_path / "audit.duckdb")

    # A fresh archive: the known source given alongside is not run either. The one line names
    # the unknown id, and the known source (the API just listed it), and how to list sources.
    [line] = _refused(env, "--source", UNKNOWN, "--source", known)
    assert line.startswith(f"rc-archive run: unknown source {UNKNOWN}: RingCentral lists no ")
    assert f"known sources: {known} " in line and "`rc-archive sources`" in line
    assert line.endswith("nothing was archived")
    assert _traces(archive, UNKNOWN) == [] and _traces(archive, known) == []

    # The known source alone runs; then the unknown id among the configured sources
    # (RC_SOURCE_IDS) is refused again, naming the archived sources, and changes nothing.
    run_to_completion(env, "--source", known)
    before = _files(archive)
    [line] = _refused({**env, "RC_SOURCE_IDS": f"{known},{UNKNOWN},{other}"})
    assert f"known sources: {known}, {other} " in line
    assert _files(archive) == before
    assert Ledger(LocalStore(archive)).streams("contents") == [source_stream(known)]


def test_a_dagster_run_of_an_unknown_partition_fails_before_writing(
    tmp_path, sandbox_factory, monkeypatch
):
    sb = sandbox_factory(contents=60, sources=1)
    env = {**sb.env, "ARCHIVE_URI": str(tmp_path / "archive")}
    env["AUDIT_DB"] = str(tmp_path / "audit.duckdb")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sources_partitions.name, [UNKNOWN])
        result = dg.materialize(
            SOURCE_ASSETS,
            partition_key=UNKNOWN,
            instance=instance,
            resources=build_resources(Settings.from_env(env)),
            raise_on_error=False,
        )
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    [failure] = failures  # the contents step; the steps after it never ran
    assert failure.step_key == "contents"
    description = failure.step_failure_data.user_failure_data.description
    assert description == str(UnknownSourceError([UNKNOWN], []))  # a fresh archive: none yet
    assert _traces(tmp_path / "archive", UNKNOWN) == []
