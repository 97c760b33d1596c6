"""Commit batches on one background thread while the caller builds the next batch.

Why: about a fifth of archiving a batch is Parquet encoding, zstd, fsync and the S3 round
trips, and all of them release the GIL. On a second core they overlap with converting the next
pages (and with the HTTP wait for them) instead of stalling the crawl.

What stays as it was: batches commit one at a time, in submission order, so the ledger's
manifest chain and cursors advance exactly as they would inline. At most one batch is in flight
(memory holds two batches at most). A commit that failed is raised by the next `submit` or by
`wait`, before any later batch is committed; the caller's cursor then never moves past it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


class BackgroundCommitter:
    """One worker thread, one batch in flight; use as a context manager."""

    def __init__(self, name: str = "archive-commit") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._in_flight: Future[Any] | None = None

    def submit(self, commit: Callable[[], Any]) -> None:
        """Run `commit` after the previous one has finished (and raise if that one failed)."""
        self.wait()
        self._in_flight = self._executor.submit(commit)

    def wait(self) -> Any:
        """Block until the batch in flight is committed; returns its result or raises its error."""
        in_flight, self._in_flight = self._in_flight, None
        return None if in_flight is None else in_flight.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def __enter__(self) -> BackgroundCommitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
                return
            # The caller is failing already: let the commit in flight finish (a half-written
            # batch is never visible, but a retry must not race this writer), then report
            # the caller's error; a second failure of the commit is only logged.
            try:
                self.wait()
            except Exception as commit_error:  # noqa: BLE001 - the caller's error wins
                log.warning("a batch commit also failed while stopping: %s", commit_error)
        finally:
            self.close()
