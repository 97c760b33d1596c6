"""Fetch the next page on a background thread while the caller archives the current one.

Why: a contents page takes the server tens of milliseconds to produce and the archive about as
long to convert; one after the other, each waits for the other. The socket wait releases the
GIL, so with one page read ahead the server and the archive work at the same time.

Only for reads that go to the end (the +creationTime crawl): a caller that stops early would
leave one page fetched for nothing, which sweeps that stop at a mark must not pay for.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _DONE = "item", "error", "done"
_POLL_SECONDS = 0.1


def prefetched(items: Iterator[T], *, name: str = "prefetch") -> Iterator[T]:
    """Yield what `items` yields, in order, with the next one fetched in advance.

    An exception raised by `items` is raised here at the same position. When the caller stops
    (break, error, close), the background thread stops after its current fetch.
    """
    slots: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
    taken = threading.Semaphore(0)  # released by the caller for each item it takes
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(slots, (_ITEM, item), stop) or not _taken(taken, stop):
                    return
            _put(slots, (_DONE, None), stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            _put(slots, (_ERROR, exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            taken.release()
            if kind == _DONE:
                return
            if kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _taken(taken: threading.Semaphore, stop: threading.Event) -> bool:
    """Wait until the caller has taken the item handed over: only then fetch the next one, so
    at most two pages (the caller's and the one being fetched) are in memory, not three."""
    while not stop.is_set():
        if taken.acquire(timeout=_POLL_SECONDS):
            return True
    return False


def _put(slots: queue.Queue, entry: tuple[str, object], stop: threading.Event) -> bool:
    """Hand over one entry unless the consumer has gone; False when it has."""
    while not stop.is_set():
        try:
            slots.put(entry, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
