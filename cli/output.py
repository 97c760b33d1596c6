"""What a command writes to the terminal besides its answer: rows as a table (or csv, json),
log records of a library on stderr, and a line written from a signal handler."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any


def render_rows(header: Sequence[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """`rows` under `header` as `fmt` (table, csv or json), as `rc-archive sql` renders them."""
    from pipelines.query.formatting import render
    from pipelines.query.queries import QueryResult

    return render(QueryResult(list(header), rows), fmt)


def log_to_stderr(name: str, fmt: str) -> None:
    """The INFO records of logger `name` on stderr, through a handler of its own (not
    propagated, so no other handler prints them twice); added once."""
    logger = logging.getLogger(name)
    if any(isinstance(h, _StderrHandler) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class _StderrHandler(logging.Handler):
    """Writes to the sys.stderr of the moment (tests swap it), not the one at creation."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # a closed stderr must not end the run
            self.handleError(record)


def write_now(text: str) -> None:
    """Write to stderr unbuffered (safe in a signal handler); a stream without a file
    descriptor (tests) gets an ordinary write."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        print(text, end="", file=sys.stderr, flush=True)
        return
    os.write(descriptor, text.encode("utf-8", "replace"))
