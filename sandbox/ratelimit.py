"""RingCentral's per (app, user, group) sliding-window limits with a penalty (API notes §8).

During the penalty every request is refused and restarts the penalty ("with each new request
the penalty interval is reset"), which is the trap a client must learn to avoid.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sandbox.config import SandboxConfig


@dataclass
class Decision:
    allowed: bool
    group: str
    limit: int
    remaining: int
    window_seconds: float
    retry_after: float = 0.0

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-rate-limit-group", self.group.encode()),
            (b"x-rate-limit-limit", str(self.limit).encode()),
            (b"x-rate-limit-remaining", str(self.remaining).encode()),
            (b"x-rate-limit-window", _num(self.window_seconds).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", _num(self.retry_after).encode()))
        return out


def _num(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass
class _Bucket:
    hits: deque = field(default_factory=deque)
    penalty_until: float = 0.0


class RateLimiter:
    def __init__(self, cfg: SandboxConfig) -> None:
        self.limits = {
            "Light": cfg.light_limit,
            "Medium": cfg.medium_limit,
            "Heavy": cfg.heavy_limit,
            "Auth": cfg.auth_limit,
        }
        self.window = cfg.window_seconds
        self.penalty = cfg.penalty_seconds
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, group: str, key: str) -> Decision:
        limit = self.limits[group]
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault((group, key), _Bucket())
            if now < bucket.penalty_until:
                bucket.penalty_until = now + self.penalty
                return Decision(False, group, limit, 0, self.window, self.penalty)
            while bucket.hits and bucket.hits[0] <= now - self.window:
                bucket.hits.popleft()
            if len(bucket.hits) >= limit:
                bucket.penalty_until = now + self.penalty
                return Decision(False, group, limit, 0, self.window, self.penalty)
            bucket.hits.append(now)
            return Decision(True, group, limit, limit - len(bucket.hits), self.window)
