"""Counts of API requests the sandbox served: tests prove a client's politeness with them."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[int] = Counter()

    def record(self, group: str, path: str) -> None:
        with self._lock:
            self._requests[(group, path)] += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self._statuses[status] += 1

    def requests(self, group: str | None = None, path_prefix: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (g, p), n in self._requests.items()
                if (group is None or g == group)
                and (path_prefix is None or p.startswith(path_prefix))
            )

    @property
    def count_429(self) -> int:
        with self._lock:
            return self._statuses[429]

    def status_count(self, status: int) -> int:
        with self._lock:
            return self._statuses[status]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()

    def snapshot(self) -> dict:
        with self._lock:
            by_group: Counter[str] = Counter()
            for (g, _), n in self._requests.items():
                by_group[g] += n
            return {
                "requests": sum(self._requests.values()),
                "by_group": dict(by_group),
                "by_status": {str(k): v for k, v in self._statuses.items()},
                "count_429": self._statuses[429],
            }
