"""Interrupting `rc-archive run` at a chosen moment, for the interrupt tests
(tests/e2e/test_interrupts.py) and the stop-time benchmark (benchmarks/interrupts.py).

Each moment is found from what the child prints (a `progress ...` line every 0.1 s) or from the
files it writes (a commit's intent without its manifest yet), never from a sleep.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from pipelines.attachments.sync import archived_attachment_table
from sandbox.server import SandboxServer
from tests.e2e.helpers import archived_rows, start_run

BATCH_RECORDS = 1000  # one contents page a batch: 4 batches, each a boundary
ARGS = (f"--batch-records={BATCH_RECORDS}", "--progress-interval", "0.1")
# A stop waits for the batch committing and the downloads in flight, then the process ends.
STOP_BOUND_SECONDS = 30  # a hang guard: benchmarks/interrupts.py measures the stop time
MOMENT_BOUND_SECONDS = 120  # how long a run may take to reach the moment
# 3426 contents in one source (4 pages), and 35 small attachment files (20 downloads a second).
ACCOUNT = dict(sources=1, contents=5000, large_attachment_every=1, large_attachment_bytes=4096)
KEEP_EVERY_NTH_ATTACHMENT = 10
API_ASSETS = {"-", "contents", "identities", "agents", "attachments"}


def progress_fields(line: str) -> dict[str, str] | None:
    """The key=value fields of a `progress` line (pipelines/progress.py), else None."""
    if not line.startswith("progress "):
        return None
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def in_crawl(line: str, _archive: Path) -> bool:
    fields = progress_fields(line)
    return bool(fields and fields["step"] == "contents" and int(fields["records"]) > 0)


def committing(_line: str, archive: Path) -> bool:
    """A batch's intent is written and its manifest is not: the commit is under way."""
    for folder in (archive / "_ledger" / "contents").glob("*"):
        for intent in (folder / "_pending").glob("*.json"):
            if not (folder / f"{intent.name.split('-')[0]}.json").exists():
                return True
    return False


def downloading(line: str, _archive: Path) -> bool:
    fields = progress_fields(line)
    return bool(fields and fields["step"] == "attachments" and int(fields["attachment_files"]) > 0)


def checking(line: str, _archive: Path) -> bool:
    fields = progress_fields(line)
    return bool(fields and fields["run"] != "views" and fields["step"] not in API_ASSETS)


def building_catalog(line: str, _archive: Path) -> bool:
    fields = progress_fields(line)
    return bool(fields and fields["run"] == "views" and fields["step"] == "audit_catalog")


# In the order one archive meets them: each run resumes the one before.
MOMENTS: list[tuple[str, Callable[[str, Path], bool]]] = [
    ("crawl", in_crawl),
    ("commit", committing),
    ("attachments", downloading),
    ("checks", checking),
    ("catalog", building_catalog),
]


@dataclass
class Interrupted:
    moment: str
    code: int
    lines_after_signal: list[str]
    output: list[str]
    seconds: float  # from the signal to the process's exit
    manifests_before: set[Path] = field(default_factory=set)


def manifests(archive: Path) -> set[Path]:
    return set((archive / "_ledger").glob("*/*/[0-9]*.json"))


def interrupt(
    env: dict[str, str],
    archive: Path,
    signum: int,
    moment: str,
    reached: Callable,
    args: tuple[str, ...] = ARGS,
) -> Interrupted:
    """Start a run, send `signum` to its session at `moment`, and wait for it to end."""
    child = start_run(env, *args)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in child.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + MOMENT_BOUND_SECONDS
    before: set[Path] | None = None
    try:
        while before is None:
            assert time.monotonic() < deadline, f"{moment} not reached:\n" + "\n".join(output)
            try:
                line = lines.get(timeout=0.002)
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError(f"the run ended before the {moment}:\n" + "\n".join(output))
            if line:
                output.append(line)
            if reached(line, archive):
                before = manifests(archive)
                signalled = time.monotonic()
                os.killpg(child.pid, signum)
        signalled_at = len(output)
        code = child.wait(timeout=STOP_BOUND_SECONDS)
        seconds = time.monotonic() - signalled
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    while (line := lines.get(timeout=10)) is not None:
        output.append(line)
    return Interrupted(moment, code, output[signalled_at:], output, seconds, before)


def check_stopped_cleanly(
    stop: Interrupted, archive: Path, signum: int, batch_records: int = BATCH_RECORDS
) -> None:
    context = f"{stop.moment}:\n" + "\n".join(stop.output)
    assert stop.code == 130, context
    said = [line for line in stop.lines_after_signal if not line.startswith("progress ")]
    name = signal.Signals(signum).name
    assert len(said) == 1 and f"interrupted ({name})" in said[0], context
    assert not any("Traceback" in line for line in stop.output), context

    report = verify(LocalStore(archive))
    assert report.ok, report.summary()
    # Nothing half committed: only attachment files whose batch was dropped wait for a row.
    leftovers = [f.key for f in report.of_kind("uncommitted")]
    assert all(key.startswith("attachment_files/") for key in leftovers), leftovers

    # No empty manifest anywhere; what the stop let through: at most the batch that was
    # committing, whole.
    for path in manifests(archive):
        assert json.loads(path.read_text())["files"], (stop.moment, path)
    after = manifests(archive) - stop.manifests_before
    assert len(after) <= 1, (stop.moment, sorted(after))
    for path in after:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        assert files and sum(f["rows"] for f in files) > 0, (stop.moment, manifest)
        contents_rows = sum(f["rows"] for f in files if f["table"] == "contents")
        if contents_rows and "probe_fingerprint" not in manifest["cursor"]:
            # A batch of the crawl (not its last): full, not cut short by the stop.
            assert contents_rows >= batch_records, (stop.moment, manifest)


def fewer_attachments(sb: SandboxServer) -> None:
    """Keep every tenth attachment: enough downloads to interrupt, few enough to be quick."""
    for source_id in sb.world.source_ids:
        for number, attachment_id in enumerate(sb.world.attachment_ids(source_id)):
            if number % KEEP_EVERY_NTH_ATTACHMENT:
                sb.world.remove_attachment(attachment_id)


def check_complete_once(sb: SandboxServer, archive: Path) -> None:
    """After the interrupted runs and one that completed: every content and attachment of the
    sandbox's one source archived once (nothing an interrupted run left was written again),
    and verify clean with no uncommitted file."""
    (source_id,) = sb.world.source_ids
    rows = archived_rows(archive, [source_id])[source_id]
    assert sorted(rows) == sorted(set(rows)), "a version archived twice"
    assert {content_id for content_id, _ in rows} == sb.world.content_ids(source_id)
    table = archived_attachment_table(Ledger(LocalStore(archive)), source_id)
    captured = list(
        zip(table.column("content_id").to_pylist(), table.column("id").to_pylist(), strict=True)
    )
    listed = [
        (content["id"], attachment["id"])
        for content in sb.world.all_contents(source_id)
        for attachment in content.get("attachments") or []
    ]
    assert listed and Counter(captured) == Counter(listed)
    report = verify(LocalStore(archive))
    assert report.ok and not report.of_kind("uncommitted"), report.summary()
