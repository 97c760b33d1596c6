"""Stopping a run at a batch boundary: the process-wide stop flag the long loops look at, and
the signal handling that sets it.

Why a flag and not an exception raised by the signal: a signal lands anywhere, in the middle of
a commit too. The contents crawl (between pages, before a batch is handed to the committer) and
the attachment downloads (before each file, before each batch's commit) look at the flag where
stopping leaves nothing half done, and raise `StopRequested` there: the batch being built is
dropped, the one committing finishes, and the next run resumes from the last manifest.

The first SIGINT or SIGTERM sets the flag and prints one line; a second one ends the process at
once (`os._exit`, exit code 130): as safe as kill -9, which the archive is built to survive
(docs/internals.md, invariant 4). So is a first one while nothing is half done (`set_idle`).

Signals are counted from the interpreter's wakeup file descriptor, which sees every signal
whatever Python handler is in place at that moment (Dagster swaps in its own between steps and
around a step's code: assets/interrupt.py). Handlers and the descriptor can only be set by the
main thread; elsewhere `stop_on_signals` changes nothing and the flag is all there is.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(Exception):
    """Raised at a batch boundary once a stop was requested: everything before it is committed,
    nothing after it was started."""


_stop = threading.Event()
_state: dict = {"reason": None, "announce": None, "watching": False, "idle": False}


def request_stop(reason: str) -> bool:
    """Ask every loop of this process to stop at its next boundary; True the first time (which
    prints the one line saying so)."""
    if _stop.is_set():
        return False
    _state["reason"] = reason
    _stop.set()
    _announce(f"{reason}: stopping at the next batch boundary (again to stop at once)")
    return True


def stop_requested() -> bool:
    return _stop.is_set()


def stop_reason() -> str | None:
    return _state["reason"] if _stop.is_set() else None


def raise_if_stopped(where: str) -> None:
    """The check of a batch boundary: raises `StopRequested` when a stop was requested."""
    if _stop.is_set():
        raise StopRequested(f"{_state['reason']}: stopped {where}")


def set_idle(idle: bool) -> None:
    """Mark a wait in which nothing is half done (Dagster waiting to retry a step): a signal
    then ends the process at once instead of waiting for a boundary."""
    _state["idle"] = idle


def reset() -> None:
    """Forget a stop (a new run in the same process: tests, `make demo`)."""
    _stop.clear()
    _state["reason"] = None
    _state["idle"] = False


@contextmanager
def stop_on_signals(announce: Callable[[str], None] | None = None) -> Iterator[None]:
    """SIGINT and SIGTERM request a stop while inside; a second one exits at once with 130.

    `announce` prints the one line of a stop (it may run in a signal handler: write with
    `os.write`, not through a buffered stream). Without one nothing is printed: the step that
    stops says why in its failure. Nested uses only put the handler back in place (a framework
    may have swapped in its own meanwhile); the outermost one counts the signals. The handlers
    before are restored on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    for number in SIGNALS:
        signal.signal(number, _on_signal)
    try:
        if _state["watching"]:
            yield
        else:
            with _counting_signals(announce):
                yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def _counting_signals(announce: Callable[[str], None] | None) -> Iterator[None]:
    """A thread reads the signal numbers the interpreter writes to its wakeup descriptor: the
    first SIGINT/SIGTERM requests a stop, the second (or the first while idle) exits."""
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    old_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    _state.update(watching=True, announce=announce)
    watcher = threading.Thread(target=_count, args=(reader,), name="signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(old_fd)
        _state.update(watching=False, announce=None)
        os.close(writer)  # the watcher reads the end of the pipe and returns
        watcher.join()
        os.close(reader)


def _count(reader: int) -> None:
    seen = 0
    while data := os.read(reader, 64):
        for number in data:
            if number not in SIGNALS:
                continue
            seen += 1
            name = signal.Signals(number).name
            if seen == 1 and not _state["idle"]:
                request_stop(f"interrupted ({name})")
                continue
            if seen == 1:  # nothing is half done: no boundary to wait for
                _state["reason"] = f"interrupted ({name})"
                _stop.set()
                _announce(f"interrupted ({name}): nothing in progress, stopping now")
            else:
                _announce(f"interrupted ({name}) again: stopping now")
            os._exit(EXIT_INTERRUPTED)


def _on_signal(number: int, _frame: FrameType | None) -> None:
    """The Python-level handler: set the flag at once (the counting thread prints and exits)."""
    request_stop(f"interrupted ({signal.Signals(number).name})")


def _announce(line: str) -> None:
    announce = _state["announce"]
    if announce is None:
        return
    with suppress(Exception):  # a closed stream must not keep the run from stopping
        announce(line)


__all__ = [
    "EXIT_INTERRUPTED",
    "StopRequested",
    "raise_if_stopped",
    "request_stop",
    "reset",
    "set_idle",
    "stop_on_signals",
    "stop_reason",
    "stop_requested",
]
