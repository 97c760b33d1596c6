"""One proactive limiter per RingCentral rate-limit group, shared by every thread of the process.

RingCentral counts requests per (app, user, group) in a sliding window and answers over the limit
with 429 plus a penalty that restarts with every request made during it (API notes §8). Waiting
for 429s therefore costs a full penalty each time; instead the limiter keeps a log of its own
request times sized to the advertised limit and spaces requests evenly, so steady-state work
never trips the limit. It follows the server's X-Rate-Limit-* headers when they arrive and falls
back to the documented defaults (50/40/10/5 per 60 s) before that.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Mapping

from pipelines.ringcentral.endpoints import (
    AUTH,
    DEFAULT_GROUP_LIMITS,
    DEFAULT_WINDOW_SECONDS,
    LIGHT,
)

# Extra room per window for clock and network skew between our send and the server's arrival.
_MARGIN_FRACTION = 0.02
_MIN_MARGIN_SECONDS = 0.05
# Our window is longer than the server's and counts in-flight requests, so our budget is never
# larger than the server's by skew alone: any shortfall is traffic we did not send.
_REMAINING_TOLERANCE = 0


class RateLimiter:
    """Sliding-window log of request start times for one group.

    `acquire()` reserves the next free slot and sleeps until it; reservations are taken under a
    lock, so threads share the budget fairly and never overshoot together. `paced` spreads
    requests evenly (window / limit apart) for the groups that carry steady work; the Auth
    group is not paced, because its rare calls (login, refresh, revoke) should not wait
    12 s behind each other when the window has room.
    """

    def __init__(
        self,
        group: str,
        limit: int,
        window_seconds: float,
        *,
        paced: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.group = group
        self._limit = max(1, limit)
        self._window = max(0.001, window_seconds)
        self._paced = paced
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(group={self.group!r}, limit={self._limit}, window={self._window})"

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window_seconds(self) -> float:
        return self._window

    def _effective_window(self) -> float:
        return self._window + max(self._window * _MARGIN_FRACTION, _MIN_MARGIN_SECONDS)

    def _next_slot(self, now: float) -> float:
        window = self._effective_window()
        while self._sent and self._sent[0] <= now - window:
            self._sent.popleft()
        slot = max(now, self._blocked_until)
        if self._paced and self._sent:
            # Even pacing: one request per window/limit, so a window never holds a burst.
            slot = max(slot, self._sent[-1] + window / self._limit)
        if len(self._sent) >= self._limit:
            slot = max(slot, self._sent[-self._limit] + window)
        return slot

    def acquire(self) -> float:
        """Wait for a slot; return the seconds waited."""
        return self.acquire_slot()[0]

    def acquire_slot(self) -> tuple[float, float]:
        """Wait for a slot; return the seconds waited and the slot (for `release`)."""
        with self._lock:
            now = self._clock()
            slot = self._next_slot(now)
            self._sent.append(slot)
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait), slot

    def release(self, slot: float) -> None:
        """Give back a slot whose request never reached the server (the connection was never
        established), so retries against an API that is down do not use up the budget: the
        Auth group has 5 slots a minute, and the 6th login try used to wait a minute for one.
        """
        with self._lock, contextlib.suppress(ValueError):  # already aged out of the window
            self._sent.remove(slot)

    def try_acquire(self) -> bool:
        """Take a slot only if one is free now (for calls not worth waiting for, like revoke)."""
        with self._lock:
            now = self._clock()
            slot = self._next_slot(now)
            if slot > now:
                return False
            self._sent.append(now)
            return True

    def block_for(self, seconds: float) -> None:
        """Hold every thread back (after a 429: any request during the penalty restarts it)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def update_from_headers(self, headers: Mapping[str, str]) -> None:
        """Follow X-Rate-Limit-Limit/-Window, and sync to -Remaining when the server counts more.

        The server may count requests we did not make (another process with the same app and
        user); then phantom entries are logged now so our budget shrinks to the server's.
        """
        limit = _int_header(headers, "x-rate-limit-limit")
        window = _float_header(headers, "x-rate-limit-window")
        remaining = _int_header(headers, "x-rate-limit-remaining")
        with self._lock:
            if limit is not None and limit > 0:
                self._limit = limit
            if window is not None and window > 0:
                self._window = window
            if remaining is None:
                return
            now = self._clock()
            horizon = now - self._effective_window()
            while self._sent and self._sent[0] <= horizon:
                self._sent.popleft()
            in_window = sum(1 for t in self._sent if t <= now)
            ours = self._limit - in_window
            extra = ours - max(0, remaining) - _REMAINING_TOLERANCE
            for _ in range(max(0, extra)):
                self._sent.append(now)
            if extra > 0:
                self._sent = collections.deque(sorted(self._sent))


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


_registry: dict[tuple[str, str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(server_url: str, client_id: str, group: str) -> RateLimiter:
    """The process-wide limiter of (server, app, group): every client and thread shares it.

    Keyed by the app's client id (not a secret) and the server; RingCentral also counts per
    user, which one process holds one of.
    """
    key = (server_url.rstrip("/"), client_id, group)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = RateLimiter(
                group,
                DEFAULT_GROUP_LIMITS.get(group, DEFAULT_GROUP_LIMITS[LIGHT]),
                DEFAULT_WINDOW_SECONDS,
                paced=group != AUTH,
            )
            _registry[key] = limiter
        return limiter
