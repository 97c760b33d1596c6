"""ClientSettings: the validated configuration of one RingCentral app + user.

Validation happens once, at start, so a typo fails before any run with a message that names the
variable, instead of as a 404 or an OAuth error halfway through a backfill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pipelines import settings
from pipelines.ringcentral import token_cache
from pipelines.ringcentral.endpoints import SOURCE_FILTER_PARAMS
from pipelines.ringcentral.errors import ClientConfigError


@dataclass(frozen=True)
class ClientSettings:
    """Credentials, server and HTTP behaviour of the client.

    Secrets (`client_secret`, `jwt`) are excluded from `repr`, so a settings
    object can be logged or shown in Dagster without leaking them.
    """

    server_url: str
    client_id: str
    client_secret: str = field(repr=False)
    jwt: str = field(repr=False)
    source_filter_param: str = settings.DEFAULT_RC_SOURCE_FILTER_PARAM
    # Timeouts and retry budget: RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRY_BUDGET
    # (pipelines/settings.py, the one place for every network client; docs/deploy.md).
    connect_timeout_seconds: float = settings.DEFAULT_CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds: float = settings.DEFAULT_READ_TIMEOUT_SECONDS
    # Attempts per request for 429, 5xx and transport failures (the first try included).
    max_attempts: int = 6
    # Longest time one request keeps retrying 5xx and connection failures (attempts and waits
    # together): an API that is down is reported within a minute, not after minutes of growing
    # backoff. Each try's timeouts are cut to what is left of the budget (transport.py), so an
    # API that accepts connections and never answers ends the request within the budget too.
    # 429s are not bounded by it (the server says how long to wait).
    retry_budget_seconds: float = settings.DEFAULT_RETRY_BUDGET_SECONDS
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    # Refresh this long before the access token expires, so no request carries a dying token.
    refresh_margin_seconds: float = 60.0
    # Longest wait for a 429 without Retry-After; the group's window caps it too (§8).
    retry_after_default_seconds: float = 30.0
    # Directory of the token shared by this machine's processes (token_cache.py); None: this
    # client logs in on its own and revokes at close. from_env: RC_TOKEN_CACHE, default on.
    token_cache: str | None = None

    def __post_init__(self) -> None:
        _check_server_url(self.server_url)
        if not self.client_id.strip():
            raise ClientConfigError(
                f"{settings.RC_APP_CLIENT_ID} is empty: set the app's client id"
            )
        if not self.client_secret.strip():
            raise ClientConfigError(
                f"{settings.RC_APP_CLIENT_SECRET} is empty: set the app's client secret"
            )
        _check_jwt(self.jwt)
        if self.source_filter_param not in SOURCE_FILTER_PARAMS:
            raise ClientConfigError(
                f"{settings.RC_SOURCE_FILTER_PARAM}={self.source_filter_param!r} is not a known "
                f"spelling: use one of {', '.join(SOURCE_FILTER_PARAMS)}"
            )
        if self.max_attempts < 1:
            raise ClientConfigError(f"max_attempts={self.max_attempts}: must be at least 1")
        if self.retry_budget_seconds < 0:
            raise ClientConfigError(
                f"retry_budget_seconds={self.retry_budget_seconds}: must be >= 0"
            )
        if self.connect_timeout_seconds <= 0 or self.read_timeout_seconds <= 0:
            raise ClientConfigError("HTTP timeouts must be positive")

    @property
    def base_url(self) -> str:
        return self.server_url.rstrip("/")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        timeouts: settings.NetworkTimeouts | None = None,
        **overrides: object,
    ) -> ClientSettings:
        """Build settings from RingCentral's sample variable names in `env`.

        Missing required variables are reported together, by name, so one run fixes them all.
        The timeouts are `timeouts`, else RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT and
        _RETRY_BUDGET in `env` (a Dagster resource passes only its own fields, and the
        process's timeouts). `overrides` set the other fields (attempts, backoff), and the
        timeouts in tests.
        """
        timeouts = timeouts or settings.NetworkTimeouts.from_env(env)
        overrides = {
            "connect_timeout_seconds": timeouts.connect,
            "read_timeout_seconds": timeouts.read,
            "retry_budget_seconds": timeouts.budget,
            **overrides,
        }
        missing = [
            name
            for name in (
                settings.RC_APP_CLIENT_ID,
                settings.RC_APP_CLIENT_SECRET,
                settings.RC_USER_JWT,
            )
            if not (env.get(name) or "").strip()
        ]
        if missing:
            raise ClientConfigError(
                f"missing setting(s) {', '.join(missing)}: set them in the environment (the app's "
                "client id and secret, and the user's JWT credential from the developer console)"
            )
        # RC_TOKEN_CACHE: a directory, `off`, or unset (the user's cache directory).
        cache: str | None = (env.get(settings.RC_TOKEN_CACHE) or "").strip()
        if cache and cache.lower() == token_cache.OFF:
            cache = None
        elif not cache:
            cache = str(token_cache.default_directory(env.get("XDG_CACHE_HOME")))
        return cls(
            server_url=(env.get(settings.RC_SERVER_URL) or "").strip()
            or settings.DEFAULT_RC_SERVER_URL,
            client_id=env[settings.RC_APP_CLIENT_ID].strip(),
            client_secret=env[settings.RC_APP_CLIENT_SECRET].strip(),
            jwt=env[settings.RC_USER_JWT].strip(),
            source_filter_param=(env.get(settings.RC_SOURCE_FILTER_PARAM) or "").strip()
            or settings.DEFAULT_RC_SOURCE_FILTER_PARAM,
            **{"token_cache": cache, **overrides},  # type: ignore[arg-type]
        )


def _check_server_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientConfigError(
            f"{settings.RC_SERVER_URL}={url!r} is not an http(s) URL with a host: use e.g. "
            f"{settings.DEFAULT_RC_SERVER_URL}"
        )
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ClientConfigError(
            f"{settings.RC_SERVER_URL}={url!r} must be the server root (no path or query): use "
            f"e.g. {settings.DEFAULT_RC_SERVER_URL}"
        )


def _check_jwt(jwt: str) -> None:
    # A JWT is header.payload.signature; a pasted client secret or a truncated copy is not.
    # The value itself is a secret: describe it, never echo it.
    parts = jwt.split(".")
    if len(parts) != 3 or not all(parts) or any(ch.isspace() for ch in jwt):
        raise ClientConfigError(
            f"{settings.RC_USER_JWT} is not a JWT (expected three non-empty dot-separated parts, "
            f"got {len(parts)} part(s) of {len(jwt)} characters): paste the user's JWT "
            "credential from the developer console"
        )
