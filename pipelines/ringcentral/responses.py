"""Turn a non-2xx RingCentral response into the typed error a caller can act on.

RingCentral uses three error body shapes (API notes §7.3, §10): `{"errors": [{errorCode,
message}]}` (social messaging), the same plus top-level `errorCode`/`message` (platform gateway),
and OAuth's `{"error", "error_description"}`. The first entry of `errors` wins because it holds
the specific code (`OAU-213` rather than the generic `TokenInvalid`).
"""

from __future__ import annotations

import json

import httpx

from pipelines import settings
from pipelines.ringcentral import endpoints, errors
from pipelines.ringcentral.redaction import redact

_MAX_MESSAGE_CHARS = 300


def parse_error_body(response: httpx.Response) -> tuple[str | None, str | None, bool]:
    """Return (error_code, message, is_json) from an error response body."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None, None, False
    if not isinstance(body, dict):
        return None, None, True
    entries = body.get("errors")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        first = entries[0]
        code = first.get("errorCode") or body.get("errorCode") or body.get("error")
        message = first.get("message") or body.get("message") or body.get("error_description")
        return _text(code), _text(message), True
    if body.get("errorCode") or body.get("message"):
        return _text(body.get("errorCode")), _text(body.get("message")), True
    if body.get("error"):
        return _text(body.get("error")), _text(body.get("error_description") or body["error"]), True
    return None, None, True


def _text(value: object) -> str | None:
    if value is None:
        return None
    return redact(str(value))[:_MAX_MESSAGE_CHARS]


def error_for_response(
    response: httpx.Response, *, method: str, path: str
) -> errors.RingCentralError:
    """The typed error for a final (not retried) non-2xx response to `method path`."""
    status = response.status_code
    code, server_message, is_json = parse_error_body(response)
    said = f": {server_message}" if server_message else ""
    where = f"{method} {path}"

    if status == 404 and not is_json:
        return errors.ClientConfigError(
            f"{where} returned a 404 that is not a RingCentral error (no JSON body): the server "
            f"at {response.request.url.scheme}://{response.request.url.netloc.decode()} does "
            f"not serve this API; check {settings.RC_SERVER_URL}",
            error_code=code,
            status=status,
        )
    if status == 401:
        return errors.AuthError(
            f"{where} was refused as unauthenticated{said}", error_code=code, status=status
        )
    if status == 403:
        return errors.PermissionDenied(
            _permission_message(where, code, server_message), error_code=code, status=status
        )
    if status == 404:
        return errors.NotFound(
            _not_found_message(where, path, code, said), error_code=code, status=status
        )
    if status == 422 and code == endpoints.PAGE_TOKEN_REFUSED_CODE:
        return errors.PageTokenRefused(
            f"{where}: the server refused the page token{said}; restart the scan without it",
            error_code=code,
            status=status,
        )
    if status == 429:
        return errors.RateLimited(
            f"{where} was still rate limited after every allowed attempt{said}",
            error_code=code,
            status=status,
        )
    if status >= 500:
        return errors.ServerError(
            f"{where} failed on the server after every allowed attempt{said}",
            error_code=code,
            status=status,
        )
    return errors.BadRequest(f"{where} was rejected{said}", error_code=code, status=status)


def _permission_message(where: str, code: str | None, server_message: str | None) -> str:
    said = f" ({server_message})" if server_message else ""
    if code == endpoints.APP_PERMISSION_CODE:
        return (
            f"{where}: the app lacks a required permission{said}. Add the "
            f"'{endpoints.SOCIAL_MESSAGING_SCOPE}' app scope (and 'ReadAccounts' for extensions) "
            f"to the app of {settings.RC_APP_CLIENT_ID} in the RingCentral developer console, "
            "then issue a new token"
        )
    if code == endpoints.USER_PERMISSION_CODE:
        return (
            f"{where}: the user of {settings.RC_USER_JWT} lacks a permission{said}; ask an "
            "account admin to grant it"
        )
    return (
        f"{where} was forbidden{said}: check the app scopes of {settings.RC_APP_CLIENT_ID} "
        f"and the channel permissions of the agent behind {settings.RC_USER_JWT}"
    )


def _not_found_message(where: str, path: str, code: str | None, said: str) -> str:
    if path.startswith(endpoints.EXTENSIONS_PATH):
        return f"{where}: no such extension in the account{said}"
    if path.startswith("/cx/"):
        return (
            f"{where}: not found{said}. If it exists, the agent behind {settings.RC_USER_JWT} "
            "may lack Read permission on its channel (RingCentral answers 404, not 403)"
        )
    return f"{where}: not found{said}"
