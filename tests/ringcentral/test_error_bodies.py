"""RingCentral's three error body shapes map to typed errors with the right code.

Bodies are the real examples quoted in the API notes §7.3, §8 and §10.
"""

from __future__ import annotations

import httpx
import pytest

from pipelines.ringcentral import errors
from pipelines.ringcentral.responses import error_for_response, parse_error_body


def _response(status: int, body: object | None = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1:9/cx/social-messaging/v1/contents")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


def test_errors_list_wins_over_top_level() -> None:
    body = {
        "errorCode": "TokenInvalid",
        "message": "Token not found",
        "errors": [{"errorCode": "OAU-213", "message": "Token not found"}],
    }
    assert parse_error_body(_response(401, body)) == ("OAU-213", "Token not found", True)


def test_top_level_only_and_oauth_shapes() -> None:
    assert (
        parse_error_body(
            _response(429, {"errorCode": "CMN-301", "message": "Request rate exceeded"})
        )[0]
        == "CMN-301"
    )
    oauth = {"error": "invalid_client", "error_description": "Client authentication is required"}
    assert parse_error_body(_response(400, oauth))[:2] == (
        "invalid_client",
        "Client authentication is required",
    )


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "EDI-028", errors.BadRequest),
        (401, "OAU-128", errors.AuthError),
        (403, "CMN-401", errors.PermissionDenied),
        (404, "EDI-029", errors.NotFound),
        (422, "EDI-034", errors.PageTokenRefused),
        (422, "EDI-035", errors.BadRequest),
        (429, "CMN-301", errors.RateLimited),
        (503, "CMN-201", errors.ServerError),
    ],
)
def test_status_and_code_map_to_types(status: int, code: str, expected: type) -> None:
    error = error_for_response(
        _response(status, {"errors": [{"errorCode": code, "message": "m"}]}),
        method="GET",
        path="/cx/social-messaging/v1/contents",
    )
    assert type(error) is expected
    assert error.error_code == code and error.status == status
    assert code in str(error)


def test_app_scope_message_names_the_scope() -> None:
    error = error_for_response(
        _response(403, {"errors": [{"errorCode": "CMN-401", "message": "permission required"}]}),
        method="GET",
        path="/cx/social-messaging/v1/contents",
    )
    assert "SocialMessaging" in error.message and error.needs_person


def test_non_json_404_points_at_the_server_url() -> None:
    error = error_for_response(
        _response(404, text="<html>Not Found</html>"), method="GET", path="/restapi/oauth/token"
    )
    assert isinstance(error, errors.ClientConfigError)
    assert "RC_SERVER_URL" in str(error)
