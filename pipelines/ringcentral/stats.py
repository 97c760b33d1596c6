"""Counters of one client: what it cost against RingCentral's limits, for logs and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter


class ClientStats:
    """Thread-safe counters: requests per rate-limit group, retries, 429s, logins and refreshes.

    `requests` counts every HTTP request sent, retries included, because that is what
    RingCentral counts against the limits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._retries = 0
        self._count_429 = 0
        self._logins = 0
        self._refreshes = 0
        self._shared_tokens = 0
        self._relogins_after_401 = 0
        self._rate_limit_wait_seconds = 0.0

    def record_request(self, group: str) -> None:
        with self._lock:
            self._requests[group] += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def record_429(self) -> None:
        with self._lock:
            self._count_429 += 1

    def record_login(self) -> None:
        with self._lock:
            self._logins += 1

    def record_refresh(self) -> None:
        with self._lock:
            self._refreshes += 1

    def record_shared_token(self) -> None:
        """A token another process logged in for (the machine's token cache), taken instead of
        a login."""
        with self._lock:
            self._shared_tokens += 1

    def record_relogin_after_401(self) -> None:
        with self._lock:
            self._relogins_after_401 += 1

    def record_limiter_wait(self, seconds: float) -> None:
        with self._lock:
            self._rate_limit_wait_seconds += seconds

    @property
    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def count_429(self) -> int:
        return self._count_429

    @property
    def logins(self) -> int:
        return self._logins

    @property
    def refreshes(self) -> int:
        return self._refreshes

    @property
    def shared_tokens(self) -> int:
        return self._shared_tokens

    @property
    def relogins_after_401(self) -> int:
        return self._relogins_after_401

    @property
    def rate_limit_wait_seconds(self) -> float:
        return self._rate_limit_wait_seconds

    def as_dict(self) -> dict[str, object]:
        """A snapshot for logs and Dagster metadata."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "retries": self._retries,
                "count_429": self._count_429,
                "logins": self._logins,
                "refreshes": self._refreshes,
                "shared_tokens": self._shared_tokens,
                "relogins_after_401": self._relogins_after_401,
                "rate_limit_wait_seconds": round(self._rate_limit_wait_seconds, 3),
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()})"
