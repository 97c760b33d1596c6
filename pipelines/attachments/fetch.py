"""One attachment download: streamed to a temp file with its SHA-256, checked against the size
the API declared, retried with back-off, with a fresh signed link when the old one expired.

RingCentral signs a new link, with its own expiry, each time it serves a content: a link read
from the archive may be dead by the time it is used, so a refused one is not a failed try but a
reason to ask the API for the content again (`refresh`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

CHUNK = 1 << 20
# Answers that mean "this link is no longer good": ask the API for the content again.
EXPIRED_STATUSES = {401, 403, 410}
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class DownloadFailed(Exception):
    """The file could not be fetched; `permanent` when retrying later is the only remedy."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass
class Downloaded:
    path: str  # a temp file the caller removes
    sha256: str
    size: int
    size_matches: bool
    attempts: int
    refreshed: int


class RateBudget:
    """Downloads per second for the whole run (token bucket shared by the threads). Downloads
    are not API calls (no Light-group budget is spent), so they have their own."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            time.sleep(wait)


@dataclass
class FetchSettings:
    attempts: int = 5
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 10.0
    refreshes: int = 2  # new links asked for per file
    timeout_seconds: float = 60.0
    temp_dir: str | None = None


def download(
    http: httpx.Client,
    uri: str,
    declared_size: int | None,
    refresh: Callable[[], str | None],
    settings: FetchSettings,
    budget: RateBudget,
) -> Downloaded:
    """Fetch `uri`; `refresh()` returns a new link (or None when the API no longer lists the
    attachment; it raises DownloadFailed when the API cannot say now). A body shorter or longer
    than `declared_size` is fetched again; the same bytes twice are accepted as they are (the
    mismatch is recorded by the caller, not hidden)."""
    attempts = refreshed = 0
    last_complete: tuple[str, int] | None = None
    problem = "no attempt"
    while attempts < settings.attempts:
        attempts += 1
        budget.take()
        try:
            path, digest, size = _stream_to_temp(http, uri, settings)
        except _HttpStatus as status:
            code = status.code
            if code in EXPIRED_STATUSES or code == 404:
                problem = f"HTTP {code} {status.body[:120]}"
                if refreshed >= settings.refreshes:
                    raise DownloadFailed(problem, permanent=True) from None
                refreshed += 1
                fresh = refresh()
                if fresh is None:
                    raise DownloadFailed(
                        f"{problem}; the content no longer lists the attachment", permanent=True
                    ) from None
                uri = fresh
                attempts -= 1 if code != 404 else 0  # an expired link is not a failed try
                continue
            if code not in TRANSIENT_STATUSES:
                raise DownloadFailed(f"HTTP {code} {status.body[:120]}", permanent=True) from None
            problem = f"HTTP {code}"
            _sleep(settings, attempts)
            continue
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {str(exc)[:120]}"
            _sleep(settings, attempts)
            continue
        if declared_size is None or size == declared_size or last_complete == (digest, size):
            return Downloaded(path, digest, size, size == declared_size, attempts, refreshed)
        os.unlink(path)
        problem = f"received {size} bytes, declared {declared_size} (truncated?)"
        last_complete = (digest, size)
        _sleep(settings, attempts)
    raise DownloadFailed(f"{problem} after {attempts} attempts", permanent=False)


class _HttpStatus(Exception):
    def __init__(self, code: int, body: str) -> None:
        super().__init__(code)
        self.code = code
        self.body = body


def _sleep(settings: FetchSettings, attempt: int) -> None:
    time.sleep(min(settings.max_backoff_seconds, settings.backoff_seconds * 2 ** (attempt - 1)))


def _stream_to_temp(http: httpx.Client, uri: str, settings: FetchSettings) -> tuple[str, str, int]:
    """The body into a temp file, CHUNK at a time, hashed on the way: memory stays flat."""
    with http.stream("GET", uri, timeout=settings.timeout_seconds) as response:
        if response.status_code != 200:
            body = response.read()[:300].decode("utf-8", "replace")
            raise _HttpStatus(response.status_code, body)
        digest, size = hashlib.sha256(), 0
        fd, path = tempfile.mkstemp(prefix="rc-attachment-", suffix=".part", dir=settings.temp_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except BaseException:
            os.unlink(path)
            raise
    return path, digest.hexdigest(), size
