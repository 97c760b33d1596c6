"""What a run is doing while it does it: counters the long loops add to (records read, versions
committed, attachment files and bytes downloaded) and the reporter that shows them.

On a terminal the reporter keeps one live line per source on stderr; elsewhere (cron, a log
file, a pipe) it writes a `progress key=value ...` line every `interval` seconds, so a long run
is never silent and its output stays parseable. One `Progress` per process (`PROGRESS`): the
loops run in the steps Dagster executes, the reporter in the command that started them.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

DEFAULT_INTERVAL_SECONDS = 15.0
LIVE_REFRESH_SECONDS = 0.5
CLEAR_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class Snapshot:
    position: str  # "1/2": the source's place in the run
    source: str
    step: str  # the step running now (Dagster's step key), "" before the first
    records: int  # records read from the API
    versions: int  # versions committed
    files: int  # attachment files downloaded
    bytes: int  # attachment bytes downloaded
    seconds: float  # since the source's run began

    def log_line(self) -> str:
        seconds = max(self.seconds, 1e-9)
        return (
            f"progress run={self.position} source={self.source} step={self.step or '-'} "
            f"records={self.records} versions={self.versions} attachment_files={self.files} "
            f"attachment_bytes={self.bytes} records_per_s={self.records / seconds:.0f} "
            f"bytes_per_s={self.bytes / seconds:.0f} elapsed_s={self.seconds:.0f}"
        )

    def live_line(self) -> str:
        seconds = max(self.seconds, 1e-9)
        counted = ""
        if self.records or self.versions or self.files:
            rate = (
                f"{_size(self.bytes / seconds)}/s"
                if self.step.startswith("attachments") and self.files
                else f"{self.records / seconds:,.0f} records/s"
            )
            counted = (
                f"{self.records:,} records, {self.versions:,} versions, "
                f"{self.files:,} files {_size(self.bytes)}, {rate}, "
            )
        # The source last: the line above names it, and a narrow terminal cuts the end.
        return (
            f"[{self.position}] {self.step or 'starting'}: {counted}{self.seconds:.0f} s "
            f"({self.source})"
        )


class Progress:
    """The counters of the source being archived; `add` is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.begin("", "")

    def begin(self, source: str, position: str) -> None:
        with self._lock:
            self._source, self._position, self._step = source, position, ""
            self._records = self._versions = self._files = self._bytes = 0
            self._started = time.monotonic()

    def step(self, name: str) -> None:
        self._step = name

    def add(self, *, records: int = 0, versions: int = 0, files: int = 0, bytes: int = 0) -> None:
        with self._lock:
            self._records += records
            self._versions += versions
            self._files += files
            self._bytes += bytes

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                self._position,
                self._source,
                self._step,
                self._records,
                self._versions,
                self._files,
                self._bytes,
                time.monotonic() - self._started,
            )


PROGRESS = Progress()


class ProgressReporter:
    """Shows `progress` on `stream` from a background thread while inside `with`: a live line
    when `live` (default: the stream is a terminal), else a log line every `interval` s."""

    def __init__(
        self,
        progress: Progress,
        stream: TextIO,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        live: bool | None = None,
        width: int | None = None,
    ) -> None:
        self.progress = progress
        self.stream = stream
        self.live = _is_terminal(stream) if live is None else live
        self.width = width  # of the live line; default: the terminal's, read at each refresh
        self.period = LIVE_REFRESH_SECONDS if self.live else max(interval, 0.01)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def __enter__(self) -> ProgressReporter:
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.clear()

    def print(self, line: str, out: TextIO | None = None) -> None:
        """Print a line of the command's own output (stdout by default) under the live line."""
        with self._lock:
            self._erase()
            print(line, file=out or sys.stdout, flush=True)

    def clear(self) -> None:
        with self._lock:
            self._erase()

    def announce_prefix(self) -> str:
        """What a line written straight to the terminal (a signal's) starts with: it wipes the
        live line first."""
        return CLEAR_LINE if self.live else ""

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            snapshot = self.progress.snapshot()
            if not snapshot.source:
                continue
            try:
                with self._lock:
                    if self.live:
                        width = self.width or shutil.get_terminal_size().columns - 1
                        self.stream.write(CLEAR_LINE + snapshot.live_line()[:width])
                        self._drawn = True
                    else:
                        self.stream.write(snapshot.log_line() + "\n")
                    self.stream.flush()
            except (OSError, ValueError):  # a closed stream: stop showing, keep running
                return

    def _erase(self) -> None:
        if self._drawn:
            try:
                self.stream.write(CLEAR_LINE)
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._drawn = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _size(count: float) -> str:
    if count < 1000:
        return f"{count:.0f} B"
    for unit in ("KB", "MB", "GB"):
        count /= 1000
        if count < 1000 or unit == "GB":
            break
    return f"{count:.1f} {unit}"


__all__ = ["PROGRESS", "Progress", "ProgressReporter", "Snapshot"]
