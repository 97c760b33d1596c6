"""RingCentral-shaped JSON responses and error bodies (API notes §10), sent over raw ASGI."""

from __future__ import annotations

import json

JSON_TYPE = b"application/json; charset=UTF-8"


def dumps(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def edi_error(code: str, message: str, parameter: str | None = None, value: object = None) -> dict:
    """Social-messaging errors: only errors[] (SPEC-58 ApiErrorResponseModel)."""
    error: dict = {"errorCode": code, "message": message}
    if parameter is not None:
        error["parameterName"] = parameter
        if value is not None:
            error["parameterValue"] = value if isinstance(value, str) else json.dumps(value)
    return {"errors": [error]}


def platform_error(code: str, message: str, top_code: str | None = None, **extra) -> dict:
    """Platform gateway errors repeat the first error at top level (429, 401, CMN-*)."""
    error = {"errorCode": code, "message": message, **extra}
    return {"errorCode": top_code or code, "message": message, "errors": [error]}


def oauth_error(error: str, code: str, message: str) -> dict:
    return {
        "error": error,
        "errors": [{"errorCode": code, "message": message}],
        "error_description": message,
    }


async def send_json(
    send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", JSON_TYPE), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})
