"""Send one RingCentral request: rate-limit slot, retries with backoff, logging, typed errors.

Retried: 429 (after Retry-After, for every thread of the group), 5xx, timeouts and dropped or
refused connections, up to `max_attempts` tries. Not retried: other 4xx (the request is wrong;
401 is handled one level up by a fresh login). Each try is logged as one DEBUG line.

5xx and connection failures are also bounded in time (`retry_budget_seconds`): an API that is
down should be reported within a minute, not after the backoff has grown for many minutes, and
a person watching `rc-archive run` sees every wait announced on the `pipelines.ringcentral.retry`
logger ("API unreachable, retry 2/6 in 8 s") instead of a silent terminal. The budget counts
the time spent in tries and backoff waits (not rate-limit waits, which the server asks for),
and each try's timeouts are cut to what is left of it (at least `MIN_TRY_SECONDS`), so an API
that accepts connections and never answers ends the request within the budget too (the
timeouts and the budget are RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRY_BUDGET).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from typing import Any

import httpx

from pipelines import settings
from pipelines.ringcentral import errors
from pipelines.ringcentral.config import ClientSettings
from pipelines.ringcentral.ratelimit import RateLimiter, limiter_for
from pipelines.ringcentral.redaction import redact
from pipelines.ringcentral.responses import error_for_response
from pipelines.ringcentral.stats import ClientStats

logger = logging.getLogger("pipelines.ringcentral")
# One WARNING line per wait before a retry: the CLI prints these as progress; elsewhere they
# reach the normal logging handlers (a Dagster run's log, a worker's stderr).
retry_logger = logging.getLogger("pipelines.ringcentral.retry")

# Failures with no HTTP response that a later try may not see (httpx's hierarchy).
RETRIED_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Of those, the ones raised before a connection existed: the server cannot have counted them.
NEVER_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
# The shortest timeout a try gets when little of the retry budget is left.
MIN_TRY_SECONDS = 1.0


def _unbind_stream(response: httpx.Response) -> None:
    """Let the response (and its body) be freed as soon as its caller drops it.

    Why: httpx binds a response's stream to the response itself, a reference cycle, so every
    response waited for the garbage collector, and a run collects rarely
    (pipelines/process_memory.py): a 19,000-record crawl held ~18 MB of page bodies (1 MB a
    page) that no one referenced. The body has been read in full here (no request streams), so
    a plain stream over the same bytes serves any later reader the same content.
    """
    response.stream = httpx.ByteStream(response.content)


class Transport:
    """Owns the httpx client and the shared limiters of one (server, app)."""

    def __init__(self, client_settings: ClientSettings, stats: ClientStats) -> None:
        self._settings = client_settings
        self._stats = stats
        self._http = httpx.Client(
            base_url=client_settings.base_url,
            timeout=httpx.Timeout(
                connect=client_settings.connect_timeout_seconds,
                read=client_settings.read_timeout_seconds,
                write=client_settings.read_timeout_seconds,
                pool=client_settings.read_timeout_seconds,
            ),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Transport(server={self._settings.base_url!r})"

    def limiter(self, group: str) -> RateLimiter:
        return limiter_for(self._settings.base_url, self._settings.client_id, group)

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        group: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        max_attempts: int | None = None,
        wait_for_slot: bool = True,
    ) -> httpx.Response:
        """Send until a 2xx arrives or attempts run out; raise the typed error otherwise."""
        attempts = max_attempts or self._settings.max_attempts
        limiter = self.limiter(group)
        spent = 0.0  # in tries and backoff waits: what the retry budget bounds
        for attempt in range(1, attempts + 1):
            slot = None
            if wait_for_slot:
                waited, slot = limiter.acquire_slot()
                self._stats.record_limiter_wait(waited)
            elif not limiter.try_acquire():
                raise errors.RateLimited(
                    f"{method} {path}: no {group} rate-limit slot free now; not waiting",
                    error_code=None,
                )
            self._stats.record_request(group)
            started = time.perf_counter()
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    data=data,
                    content=content,
                    headers=headers,
                    auth=auth,
                    timeout=self._try_timeout(spent),
                )
                _unbind_stream(response)
            except RETRIED_TRANSPORT_ERRORS as exc:
                self._log(method, path, None, started, group, None, attempt, type(exc).__name__)
                spent += time.perf_counter() - started
                if slot is not None and isinstance(exc, NEVER_SENT_ERRORS):
                    limiter.release(slot)
                delay = self._backoff_delay(attempt)
                if attempt == attempts or not self._retry_fits(spent, delay):
                    raise self._transport_error(method, path, exc, attempt) from exc
                self._announce_retry(
                    f"RingCentral API unreachable ({type(exc).__name__})", attempt, attempts, delay
                )
                self._sleep_before_retry(delay)
                spent += delay
                continue
            except httpx.HTTPError as exc:
                self._log(method, path, None, started, group, None, attempt, type(exc).__name__)
                raise self._transport_error(method, path, exc, attempt) from exc

            remaining = response.headers.get("x-rate-limit-remaining")
            self._log(method, path, response.status_code, started, group, remaining, attempt)
            limiter.update_from_headers(response.headers)
            status = response.status_code
            if 200 <= status < 300:
                return response
            if status == 429:
                self._stats.record_429()
                wait = self._retry_after(response, limiter)
                # Every thread of the group waits: a request during the penalty restarts it.
                limiter.block_for(wait)
                if attempt == attempts:
                    raise error_for_response(response, method=method, path=path)
                self._stats.record_retry()
                logger.info(
                    "rc.rate_limited method=%s path=%s group=%s retry_after_s=%.2f attempt=%d",
                    method,
                    path,
                    group,
                    wait,
                    attempt,
                )
                continue
            if status >= 500 and attempt < attempts:
                spent += time.perf_counter() - started
                delay = self._backoff_delay(attempt)
                if self._retry_fits(spent, delay):
                    self._announce_retry(
                        f"RingCentral API answered HTTP {status} on {method} {path}",
                        attempt,
                        attempts,
                        delay,
                    )
                    self._sleep_before_retry(delay)
                    spent += delay
                    continue
            raise error_for_response(response, method=method, path=path)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _retry_fits(self, spent: float, delay: float) -> bool:
        """Whether the budget leaves room to wait `delay` s and try again."""
        return spent + delay <= self._settings.retry_budget_seconds

    def _try_timeout(self, spent: float) -> httpx.Timeout:
        """The configured timeouts, cut to what is left of the retry budget (a try that runs
        into them then still ends within it, give or take MIN_TRY_SECONDS)."""
        s = self._settings
        left = max(s.retry_budget_seconds - spent, MIN_TRY_SECONDS)
        read = min(s.read_timeout_seconds, left)
        return httpx.Timeout(
            connect=min(s.connect_timeout_seconds, left), read=read, write=read, pool=read
        )

    def _retry_after(self, response: httpx.Response, limiter: RateLimiter) -> float:
        header = response.headers.get("retry-after")
        try:
            if header is not None:
                return max(0.0, float(header))
        except ValueError:
            pass
        # §8: no Retry-After means 30 s; the penalty equals the window, so never wait longer.
        return min(self._settings.retry_after_default_seconds, max(limiter.window_seconds, 1.0))

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(
            self._settings.backoff_max_seconds,
            self._settings.backoff_base_seconds * (2 ** (attempt - 1)),
        )
        # Equal jitter: at least half the ceiling, so a flapping server still gets room.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _sleep_before_retry(self, delay: float) -> None:
        self._stats.record_retry()
        time.sleep(delay)

    def _announce_retry(self, what: str, attempt: int, attempts: int, delay: float) -> None:
        """Say why we wait and for how long: numbered like the tries (retry 1 is try 2)."""
        wait = f"{delay:.0f} s" if delay >= 1 else f"{delay:.2f} s"
        retry_logger.warning(
            "%s, retry %d/%d in %s (%s)", what, attempt, attempts - 1, wait, self._settings.base_url
        )

    def _transport_error(
        self, method: str, path: str, exc: httpx.HTTPError, attempts: int
    ) -> errors.TransportError:
        hint = ""
        if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol):
            hint = f"; check {settings.RC_SERVER_URL}={self._settings.base_url}"
        elif isinstance(exc, httpx.TimeoutException):
            hint = (
                f"; {self._settings.base_url} did not answer in time (connect timeout "
                f"{self._settings.connect_timeout_seconds:g} s, read timeout "
                f"{self._settings.read_timeout_seconds:g} s: {settings.RC_ARCHIVE_READ_TIMEOUT})"
            )
        return errors.TransportError(
            redact(
                f"{method} {path} got no response after {attempts} attempt(s) "
                f"({type(exc).__name__}: {exc}){hint}"
            ),
            unreachable=True,
        )

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        group: str,
        remaining: str | None,
        attempt: int,
        failure: str | None = None,
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        duration_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "rc.request method=%s path=%s status=%s duration_ms=%.1f group=%s remaining=%s "
            "attempt=%d%s",
            method,
            path,
            status if status is not None else "-",
            duration_ms,
            group,
            remaining if remaining is not None else "-",
            attempt,
            f" failure={failure}" if failure else "",
            extra={
                "rc_method": method,
                "rc_path": path,
                "rc_status": status,
                "rc_duration_ms": round(duration_ms, 1),
                "rc_group": group,
                "rc_remaining": remaining,
                "rc_attempt": attempt,
            },
        )
