"""What `rc-archive run` shows while and after it works, and how it takes a signal: the
progress reporter (pipelines/progress.py), the summary's attachment columns, and the stop flag
with its signal handling (pipelines/interrupts.py). Whole runs interrupted at every moment are
tests/e2e/test_interrupts.py."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assets.runner import CHECK_NAMES, SourceRunSummary
from cli.run_command import run_table
from pipelines import interrupts
from pipelines.progress import CLEAR_LINE, Progress, ProgressReporter

SOURCE = "65c43444da7800cb00000000"


class _Stream(io.StringIO):
    """A stream read by one thread while another writes to it."""

    def __init__(self, *, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()

    def isatty(self) -> bool:
        return self.terminal


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_a_log_line_every_interval_when_not_on_a_terminal():
    progress, stream = Progress(), _Stream(terminal=False)
    progress.begin(SOURCE, "1/2")
    progress.step("contents")
    progress.add(records=3000, versions=2500)
    progress.add(files=4, bytes=40_000)
    with ProgressReporter(progress, stream, interval=0.05) as reporter:
        assert not reporter.live
        _wait_for(lambda: stream.text().count("\n") >= 3)
    lines = stream.text().splitlines()
    assert CLEAR_LINE not in stream.text()
    fields = dict(part.split("=", 1) for part in lines[-1].split()[1:])
    assert lines[-1].startswith("progress ")
    assert fields["run"] == "1/2" and fields["source"] == SOURCE and fields["step"] == "contents"
    assert (fields["records"], fields["versions"]) == ("3000", "2500")
    assert (fields["attachment_files"], fields["attachment_bytes"]) == ("4", "40000")
    assert float(fields["records_per_s"]) > 0 and "elapsed_s" in fields


def test_nothing_is_reported_between_sources():
    progress, stream = Progress(), _Stream(terminal=False)
    with ProgressReporter(progress, stream, interval=0.02):
        progress.begin(SOURCE, "1/1")
        _wait_for(lambda: "progress" in stream.text())
        progress.begin("", "")  # the runner between sources
        time.sleep(0.1)
        seen = stream.text()
    assert all(line.startswith("progress run=1/1") for line in seen.splitlines())


def test_a_live_line_on_a_terminal_which_the_command_lines_wipe():
    progress, stream, out = Progress(), _Stream(terminal=True), io.StringIO()
    progress.begin(SOURCE, "2/2")
    progress.step("attachments")
    progress.add(records=1200, versions=1200, files=7, bytes=3_500_000)
    with ProgressReporter(progress, stream, width=200) as reporter:
        assert reporter.live and reporter.announce_prefix() == CLEAR_LINE
        _wait_for(lambda: "7 files" in stream.text())
        reporter.print("[2/2] done", out=out)
    shown = stream.text()
    assert "[2/2] attachments: 1,200 records, 1,200 versions, 7 files 3.5 MB, " in shown
    assert f" s ({SOURCE})" in shown
    assert "\n" not in shown and shown.endswith(CLEAR_LINE)  # one line, wiped at the end
    assert out.getvalue() == "[2/2] done\n"


def test_the_summary_has_attachment_columns():
    ok = SourceRunSummary(
        SOURCE,
        True,
        metadata={
            "contents": {"new_records": 12, "files": 3},
            "attachments": {"downloaded": 5, "bytes": 123_456},
        },
        checks=dict.fromkeys(CHECK_NAMES, True),
    )
    idle = SourceRunSummary("65c43444da7800cb00000001", True, metadata={"contents": {}})
    header, _rule, first, second, *_ = run_table([ok, idle]).splitlines()
    columns = [c.strip() for c in header.split("|")]
    assert columns[columns.index("agents") + 1 :] == [
        "attachment_files",
        "attachment_bytes",
        "newest_age_s",
        "checks",
    ]
    row = dict(zip(columns, (c.strip() for c in first.split("|")), strict=True))
    assert (row["attachment_files"], row["attachment_bytes"]) == ("5", "123456")
    row = dict(zip(columns, (c.strip() for c in second.split("|")), strict=True))
    assert (row["attachment_files"], row["attachment_bytes"]) == ("0", "0")


@pytest.fixture
def no_stop():
    interrupts.reset()
    yield
    interrupts.reset()


def test_a_signal_sets_the_stop_flag_checked_at_boundaries(no_stop):
    said: list[str] = []
    before = signal.getsignal(signal.SIGINT)
    with interrupts.stop_on_signals(said.append):
        interrupts.raise_if_stopped("nothing asked yet")
        signal.raise_signal(signal.SIGTERM)  # no KeyboardInterrupt, no exit: a flag
        assert interrupts.stop_requested()
        with pytest.raises(interrupts.StopRequested, match=r"interrupted \(SIGTERM\): stopped x"):
            interrupts.raise_if_stopped("x")
        _wait_for(lambda: said)  # the counting thread saw it too, and said nothing more
    assert said == [
        "interrupted (SIGTERM): stopping at the next batch boundary (again to stop at once)"
    ]
    assert signal.getsignal(signal.SIGINT) is before


SECOND_SIGNAL = """
import os, signal, sys, time
from pipelines import interrupts
with interrupts.stop_on_signals(lambda line: os.write(2, (line + "\\n").encode())):
    if sys.argv[1] == "idle":
        interrupts.set_idle(True)
    else:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
print("still running")
"""


@pytest.mark.parametrize(
    ("state", "said"),
    [
        ("working", "interrupted (SIGINT) again: stopping now"),
        ("idle", "interrupted (SIGINT): nothing in progress, stopping now"),
    ],
)
def test_a_second_signal_or_one_while_idle_stops_at_once(state, said):
    done = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL, state],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=25,  # a generous bound: the child would sleep 30 s if it did not stop
    )
    assert done.returncode == 130 and "still running" not in done.stdout
    assert done.stderr.splitlines()[-1] == said
