"""What every fault-matrix case shares: run the pipeline, read the archive back through the audit
views, compare it with the sandbox's own data, and record what happened for the README table.

The comparison goes through `build_catalog` and the `contents` view on purpose: that is what an
auditor queries, so "archived exactly once" is proven where it matters, not in a private reader.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from assets.runner import SourceRunSummary, run_sources
from pipelines.archive.store import open_store
from pipelines.archive.verify import VerifyReport, verify
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.settings import Settings
from schemas.contents import version_sha256

RESULTS_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "fault_matrix.json"
CONTENTS_PATH = "/cx/social-messaging/v1/contents"


@dataclass
class RunOutcome:
    """One `run_sources` call, reduced to what an operator would read."""

    summaries: list[SourceRunSummary]
    seconds: float

    @property
    def success(self) -> bool:
        return all(s.success for s in self.summaries)

    @property
    def errors(self) -> list[str]:
        return sorted({s.error for s in self.summaries if s.error})

    def failed_checks(self) -> list[str]:
        return sorted({name for s in self.summaries for name, ok in s.checks.items() if not ok})

    def contents_metadata(self, key: str) -> int:
        return sum(int(s.metadata.get("contents", {}).get(key, 0) or 0) for s in self.summaries)

    def operator_view(self) -> str:
        if not self.success:
            failed = sum(1 for s in self.summaries if not s.success)
            first = next(s.error for s in self.summaries if not s.success)
            return f"run FAILED ({failed} of {len(self.summaries)} sources): {first}"
        failed = self.failed_checks()
        return "run ok; checks " + ("all pass" if not failed else "FAIL: " + ", ".join(failed))


@dataclass
class ArchiveState:
    """The archive as the audit views show it."""

    versions: set[tuple[str, str]]
    rows: int
    distinct_rows: int
    ids_by_source: dict[str, set[str]]
    quarantine: list[tuple[str, str]] = field(default_factory=list)  # (source_id, reason)
    verify_report: VerifyReport | None = None


def archive(env: Mapping[str, str], **run_options: Any) -> RunOutcome:
    """One scheduled-run equivalent on a fresh Dagster instance (the archive holds the state)."""
    started = time.monotonic()
    summaries = run_sources(
        env["RC_SOURCE_IDS"].split(","),
        instance=dg.DagsterInstance.ephemeral(),
        **run_options,
    )
    return RunOutcome(summaries, time.monotonic() - started)


def read_back(env: Mapping[str, str], audit_db: Path) -> ArchiveState:
    """Rebuild the catalog from the ledger and query the views an auditor uses."""
    build_catalog(env["ARCHIVE_URI"], audit_db, Settings.from_env(env))
    conn = connect(audit_db, Settings.from_env(env), read_only=True)
    try:
        versions = set(conn.execute("SELECT id, record_sha256 FROM contents").fetchall())
        rows, distinct_rows = conn.execute(
            "SELECT count(*), count(DISTINCT (id, record_sha256)) FROM contents"
        ).fetchone()
        ids_by_source: dict[str, set[str]] = {}
        for source_id, content_id in conn.execute("SELECT source_id, id FROM contents").fetchall():
            ids_by_source.setdefault(source_id, set()).add(content_id)
        quarantine = conn.execute(
            "SELECT source_id, reason FROM quarantine ORDER BY source_id, reason"
        ).fetchall()
    finally:
        conn.close()
    report = verify(open_store(env["ARCHIVE_URI"], Settings.from_env(env)))
    return ArchiveState(versions, rows, distinct_rows, ids_by_source, quarantine, report)


def assert_matches_sandbox(sb, state: ArchiveState) -> None:
    """Every content visible now is archived with its current version; each version once."""
    assert state.rows == state.distinct_rows, (
        f"{state.rows - state.distinct_rows} duplicate version rows in the contents view"
    )
    for source_id in sb.world.source_ids:
        visible = sb.world.content_ids(source_id)
        archived = state.ids_by_source.get(source_id, set())
        missing = visible - archived
        assert not missing, f"source {source_id}: {len(missing)} ids not archived"
        for content_id in visible:
            version = (content_id, version_sha256(sb.world.content_json(content_id)))
            assert version in state.versions, f"current version of {content_id} not archived"
    assert state.verify_report is not None and state.verify_report.ok, (
        state.verify_report.summary() if state.verify_report else "verify did not run"
    )


def sandbox_versions(sb) -> int:
    return sum(len(sb.world.content_ids(s)) for s in sb.world.source_ids)


@contextmanager
def when_contents_requested(sb, action: Callable[[], None], after: int = 1) -> Iterator[None]:
    """Run `action` once the run has made `after` contents requests: a fault *mid*-run."""
    start = sb.stats.requests(path_prefix=CONTENTS_PATH)
    done = threading.Event()
    fired = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if sb.stats.requests(path_prefix=CONTENTS_PATH) - start >= after:
                action()
                fired.set()
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, name="fault-trigger", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)
    assert fired.is_set(), "the mid-run fault never fired: the run made too few requests"


def record(
    fault: str,
    what_happens: str,
    operator_sees: str,
    *,
    runs: list[RunOutcome],
    state: ArchiveState,
    extra: dict[str, Any] | None = None,
) -> None:
    """Merge one row into benchmarks/results/fault_matrix.json (benchmarks/fault_table.py)."""
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    lock_path = RESULTS_PATH.with_suffix(".lock")
    with _file_lock(lock_path):
        existing = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else {}
        rows = existing.get("faults", {})
        rows[fault] = {
            "fault": fault,
            "what_happens": what_happens,
            "operator_sees": operator_sees,
            "runs": [
                {
                    "success": run.success,
                    "seconds": round(run.seconds, 1),
                    "errors": run.errors,
                    "failed_checks": run.failed_checks(),
                    "new_records": run.contents_metadata("new_records"),
                    "new_versions": run.contents_metadata("new_versions"),
                    "quarantined": run.contents_metadata("quarantined"),
                    "rate_limited_429s": run.contents_metadata("rate_limited_429s"),
                }
                for run in runs
            ],
            "archived_versions": len(state.versions),
            "view_rows": state.rows,
            "quarantined_rows": len(state.quarantine),
            "verify_ok": bool(state.verify_report and state.verify_report.ok),
            "uncommitted_files": len(state.verify_report.of_kind("uncommitted"))
            if state.verify_report
            else 0,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(extra or {}),
        }
        existing["faults"] = rows
        RESULTS_PATH.write_text(json.dumps(existing, indent=1, sort_keys=True) + "\n")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """pytest -n 2 may run two cases at once: serialise the read-modify-write of the file."""
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apply_env(monkeypatch, env: Mapping[str, str]) -> None:
    """run_sources reads its settings from os.environ, as the CLI does."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    os.environ.pop("DAGSTER_HOME", None)


def noisy_neighbour(sb, seconds: float) -> threading.Thread:
    """Another client of the same app and user spends the shared Light budget for `seconds`,
    without pacing: the server's real limiter answers 429 and its penalty restarts with every
    request, so the pipeline meets the penalty it would never trigger on its own."""
    env = sb.env

    def hammer() -> None:
        with httpx.Client(base_url=env["RC_SERVER_URL"], timeout=10) as http:
            token = http.post(
                "/restapi/oauth/token",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": env["RC_USER_JWT"],
                },
                auth=(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]),
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                http.get("/restapi/v1.0/account/~/extension/~", headers=headers)
                time.sleep(0.02)

    thread = threading.Thread(target=hammer, name="noisy-neighbour", daemon=True)
    thread.start()
    return thread
