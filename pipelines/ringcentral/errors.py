"""Typed errors of the RingCentral client, one hierarchy, each with RingCentral's error code.

Callers branch on the class (retry later, fix a setting, skip a record); people read the message,
which says what failed, the value, and the setting that fixes it. Messages never hold secrets:
server text is passed through the redaction registry before it is stored.
"""

from __future__ import annotations

from pipelines import settings
from pipelines.ringcentral.endpoints import SOURCE_FILTER_PARAMS


class RingCentralError(Exception):
    """Base of every error the client raises.

    `error_code` is RingCentral's code (`CMN-301`, `EDI-029`, `OAU-128`, or the OAuth `error`
    such as `invalid_grant`) when the server sent one; `status` the HTTP status (None when no
    response arrived); `needs_person` is True when retrying cannot help (a setting, a permission
    or a credential has to change); `unreachable` is True when the service gave no usable
    answer even after the client's bounded retries (no response, or 5xx every time): no setting
    is wrong as far as we can tell, a later run may succeed, and the CLI exits with 4 for it.
    """

    needs_person: bool = False
    unreachable: bool = False

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status: int | None = None,
        needs_person: bool | None = None,
        unreachable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status
        if needs_person is not None:
            self.needs_person = needs_person
        if unreachable is not None:
            self.unreachable = unreachable

    def __str__(self) -> str:
        prefix = []
        if self.status is not None:
            prefix.append(f"HTTP {self.status}")
        if self.error_code:
            prefix.append(self.error_code)
        return f"{' '.join(prefix)}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error_code={self.error_code!r}, status={self.status!r}, "
            f"message={self.message!r})"
        )


class ClientConfigError(RingCentralError):
    """The client is configured wrongly: a credential or server setting is missing or
    malformed, or the server it names answers like something that is not the RingCentral API.
    Unlike `pipelines.settings.SettingError` (a value that does not parse), it is one of the
    client's errors: it may come from a response, and it carries its status and error code."""

    needs_person = True


class AuthError(RingCentralError):
    """Login failed or the token was refused even after one fresh login."""

    needs_person = True


class PermissionDenied(RingCentralError):
    """HTTP 403: the app lacks a scope or the agent lacks a permission."""

    needs_person = True


class NotFound(RingCentralError):
    """HTTP 404 with a RingCentral error body (EDI-029, EDI-032, CMN-102)."""


class RateLimited(RingCentralError):
    """HTTP 429 still returned after every allowed attempt."""


class BadRequest(RingCentralError):
    """HTTP 400/422 (and other 4xx): the request itself is wrong; retrying cannot help."""


class PageTokenRefused(BadRequest):
    """HTTP 422 EDI-034: the server no longer accepts a saved page token."""


class ServerError(RingCentralError):
    """HTTP 5xx still returned after every allowed attempt (or the retry time budget)."""

    unreachable = True


class TransportError(RingCentralError):
    """No HTTP response: connection refused or dropped, DNS failure, timeout (after retries)."""

    unreachable = True


class FilterIgnoredError(RingCentralError):
    """The server returned records of another source: it ignored the source filter's spelling."""

    needs_person = True

    @classmethod
    def for_source(
        cls, *, requested_source_id: str, returned_source_id: object, param_name: str
    ) -> FilterIgnoredError:
        others = [name for name in SOURCE_FILTER_PARAMS if name != param_name]
        return cls(
            f"the server ignored the source filter {param_name}={requested_source_id}: it "
            f"returned a content of source {returned_source_id!r}. This API version spells the "
            f"filter differently; set {settings.RC_SOURCE_FILTER_PARAM} to one of "
            f"{', '.join(others)} (now {param_name!r}). No records of other sources were "
            "returned to the caller.",
            error_code="FILTER-IGNORED",
        )


__all__ = [
    "AuthError",
    "BadRequest",
    "FilterIgnoredError",
    "NotFound",
    "PageTokenRefused",
    "PermissionDenied",
    "RateLimited",
    "RingCentralError",
    "ServerError",
    "ClientConfigError",
    "TransportError",
]
