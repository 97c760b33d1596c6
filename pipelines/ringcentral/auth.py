"""Access tokens for one app + user: JWT login, reuse, proactive refresh, one re-login, revoke.

RingCentral advises refreshing before expiry rather than on 401 (API notes §7.3), and its token
endpoint is in the Auth group (5 requests / 60 s), so a token is shared by all threads of the
client and renewed under a lock: concurrent callers wait for one login instead of making five.
With a token cache (pipelines/ringcentral/token_cache.py, on unless RC_TOKEN_CACHE=off) it is
also shared by the processes of the machine, so a run per source per webhook costs no login.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import httpx

from pipelines import settings
from pipelines.ringcentral import endpoints, errors
from pipelines.ringcentral.config import ClientSettings
from pipelines.ringcentral.redaction import register_secret
from pipelines.ringcentral.stats import ClientStats
from pipelines.ringcentral.token_cache import CachedToken, TokenFile
from pipelines.ringcentral.transport import Transport

logger = logging.getLogger("pipelines.ringcentral")


def _seconds(value: object, *, default: float) -> float:
    """A lifetime from the token body; absent or unreadable means the documented default."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


class _Token:
    """One access token and what it expires with; the repr hides the values."""

    __slots__ = ("access_token", "refresh_token", "lifetime", "expires_at", "refresh_expires_at")

    def __init__(self, body: dict, issued_at: float) -> None:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise errors.AuthError("the token endpoint answered 200 without an access_token")
        self.access_token = access
        refresh = body.get("refresh_token")
        self.refresh_token = refresh if isinstance(refresh, str) and refresh else None
        self.lifetime = _seconds(body.get("expires_in"), default=3600.0)
        self.expires_at = issued_at + self.lifetime
        self.refresh_expires_at = issued_at + _seconds(
            body.get("refresh_token_expires_in"), default=0.0
        )
        register_secret(self.access_token)
        register_secret(self.refresh_token)

    def __repr__(self) -> str:
        return "_Token(access_token=[REDACTED])"

    def shared(self) -> CachedToken:
        """This token as the shared file keeps it: expiry on the wall clock, which all
        processes share (monotonic clocks are per boot, not comparable across processes)."""
        offset = time.time() - time.monotonic()
        return CachedToken(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            lifetime=self.lifetime,
            expires_at=self.expires_at + offset,
            refresh_expires_at=self.refresh_expires_at + offset,
        )

    @classmethod
    def from_shared(cls, cached: CachedToken) -> _Token:
        offset = time.monotonic() - time.time()
        token = cls.__new__(cls)
        token.access_token = cached.access_token
        token.refresh_token = cached.refresh_token
        token.lifetime = cached.lifetime
        token.expires_at = cached.expires_at + offset
        token.refresh_expires_at = cached.refresh_expires_at + offset
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        return token


class TokenManager:
    """Hands out a valid access token; logs in, refreshes and re-logs in under one lock."""

    def __init__(self, client_settings: ClientSettings, transport: Transport, stats: ClientStats):
        self._settings = client_settings
        self._transport = transport
        self._stats = stats
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._shared = (
            None
            if client_settings.token_cache is None
            else TokenFile(
                client_settings.token_cache,
                server=client_settings.base_url,
                client_id=client_settings.client_id,
                secret=f"{client_settings.client_secret}\0{client_settings.jwt}",
            )
        )
        register_secret(client_settings.client_secret)
        register_secret(client_settings.jwt)

    def __repr__(self) -> str:
        state = "none" if self._token is None else "held"
        return f"TokenManager(client_id={self._settings.client_id!r}, token={state})"

    def _basic_auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self._settings.client_id, self._settings.client_secret)

    def access_token(self) -> str:
        """A token valid for at least the refresh margin (logging in or refreshing if needed)."""
        with self._lock:
            if self._fresh(self._token):
                return self._token.access_token  # type: ignore[union-attr]
            with self._shared_lock():
                shared = self._read_shared()
                if self._fresh(shared):
                    self._token = shared
                    self._stats.record_shared_token()
                    return shared.access_token  # type: ignore[union-attr]
                self._token = self._renew(shared or self._token)
                self._write_shared(self._token)
                return self._token.access_token

    def _fresh(self, token: _Token | None) -> bool:
        return token is not None and time.monotonic() < token.expires_at - self._margin(token)

    def _renew(self, token: _Token | None) -> _Token:
        """Refresh `token` if its refresh token still holds, else log in with the JWT."""
        now = time.monotonic()
        if token is not None and token.refresh_token and now < token.refresh_expires_at:
            try:
                renewed = self._request_token(
                    {"grant_type": endpoints.REFRESH_GRANT, "refresh_token": token.refresh_token}
                )
                self._stats.record_refresh()
                logger.debug("rc.auth refreshed access token")
                return renewed
            except errors.RingCentralError as exc:
                # A refused refresh token (revoked session, OAU-210) is not fatal: the JWT
                # still proves who we are.
                logger.info("rc.auth refresh failed (%s); logging in with the JWT again", exc)
        return self._login()

    @contextlib.contextmanager
    def _shared_lock(self) -> Iterator[None]:
        """The machine-wide renewal lock, when the token is shared (else only the thread lock
        already held)."""
        with contextlib.ExitStack() as stack:
            if self._shared is not None:
                try:
                    stack.enter_context(self._shared.locked())
                except OSError as exc:
                    self._give_up_sharing(exc)
            yield

    def _read_shared(self) -> _Token | None:
        cached = self._shared.read() if self._shared is not None else None
        return None if cached is None else _Token.from_shared(cached)

    def _write_shared(self, token: _Token) -> None:
        if self._shared is None:
            return
        try:
            self._shared.write(token.shared())
        except OSError as exc:
            self._give_up_sharing(exc)

    def _give_up_sharing(self, exc: OSError) -> None:
        """A cache that cannot be written (read-only home, full disk) costs logins, not runs."""
        logger.warning(
            "rc.auth token cache %s unusable (%s); this process logs in on its own",
            self._shared,
            exc,
        )
        self._shared = None

    def _margin(self, token: _Token) -> float:
        # Short-lived tokens (tests, custom access_token_ttl) refresh at half their life.
        return min(self._settings.refresh_margin_seconds, token.lifetime / 2)

    def renew_after_rejection(self, rejected_token: str) -> str:
        """Log in again after a 401 on `rejected_token`, unless another thread already did.

        Returns the token to retry with, used as is (no expiry check): the retry is the one
        attempt the fresh login buys, whatever the server then says.
        """
        with self._lock:
            if self._token is not None and self._token.access_token != rejected_token:
                return self._token.access_token
            with self._shared_lock():
                shared = self._read_shared()
                if shared is not None and shared.access_token != rejected_token:
                    self._token = shared  # another process logged in again already
                    return shared.access_token
                self._stats.record_relogin_after_401()
                logger.info("rc.auth access token refused (401); logging in again once")
                self._token = self._login()
                self._write_shared(self._token)
                return self._token.access_token

    def _login(self) -> _Token:
        token = self._request_token(
            {"grant_type": endpoints.JWT_BEARER_GRANT, "assertion": self._settings.jwt}
        )
        self._stats.record_login()
        logger.debug("rc.auth logged in with the JWT bearer grant")
        return token

    def _request_token(self, form: dict[str, str]) -> _Token:
        issued_at = time.monotonic()
        try:
            response = self._transport.send(
                "POST",
                endpoints.TOKEN_PATH,
                group=endpoints.AUTH,
                data=form,
                auth=self._basic_auth(),
            )
        except (errors.BadRequest, errors.AuthError, errors.PermissionDenied) as exc:
            raise _login_error(exc, form["grant_type"]) from None
        try:
            body = response.json()
        except ValueError:
            raise errors.ClientConfigError(
                f"POST {endpoints.TOKEN_PATH} answered 200 without JSON: check "
                f"{settings.RC_SERVER_URL}={self._settings.base_url}"
            ) from None
        return _Token(body, issued_at)

    def revoke(self) -> None:
        """End the session on close; errors are ignored and never retried (API notes §7.2).

        Revoke costs an Auth slot (5 / 60 s); when none is free now it is skipped rather than
        delaying shutdown: the token expires by itself within the hour. A shared token is never
        revoked here: other processes are using it.
        """
        with self._lock:
            token, self._token = self._token, None
        if token is None or self._shared is not None:
            return
        try:
            self._transport.send(
                "POST",
                endpoints.REVOKE_PATH,
                group=endpoints.AUTH,
                data={"token": token.access_token},
                auth=self._basic_auth(),
                max_attempts=1,
                wait_for_slot=False,
            )
            logger.debug("rc.auth revoked the session")
        except errors.RingCentralError as exc:
            logger.debug("rc.auth revoke skipped or failed (%s); the token will expire", exc)


def _login_error(exc: errors.RingCentralError, grant_type: str) -> errors.AuthError:
    code = exc.error_code or ""
    if code in ("invalid_client", "unauthorized_client") or code in (
        "OAU-123",
        "OAU-146",
        "OAU-153",
    ):
        fix = f"check {settings.RC_APP_CLIENT_ID} and {settings.RC_APP_CLIENT_SECRET}"
    elif grant_type == endpoints.REFRESH_GRANT:
        fix = "the refresh token was refused; a JWT login follows"
    else:
        fix = (
            f"check {settings.RC_USER_JWT} (expired, revoked, or issued for another app or "
            "server) and that the app allows the JWT auth flow"
        )
    return errors.AuthError(
        f"login at {endpoints.TOKEN_PATH} failed: {exc.message}; {fix}",
        error_code=exc.error_code,
        status=exc.status,
    )
