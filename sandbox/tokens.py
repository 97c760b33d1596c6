"""Keyset page tokens: base64 of JSON {value, field, order, id}, as the real API's decode.

The QS-DOC sample token decodes to {"value":1708562505.808,"field"...,"id":"<24-hex>"}
(§2.4 of the API notes): epoch seconds with milliseconds of the sort field of the first record
of the page, and that record's id. Tokens are stateless, so a saved one can be replayed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from sandbox.ids import is_object_id

SORT_FIELDS = ("creationTime", "lastModifiedTime")
ORDERS = ("asc", "desc")


class PageTokenError(ValueError):
    """The pageToken parameter cannot be decoded; the API answers 400."""


@dataclass(frozen=True)
class PageToken:
    value_ms: int
    field: str
    order: str
    boundary_id: str


def encode_token(value_ms: int, field: str, order: str, boundary_id: str) -> str:
    payload = {"value": round(value_ms / 1000.0, 3), "field": field, "order": order}
    payload["id"] = boundary_id
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode("ascii")


def decode_token(token: str) -> PageToken:
    """Parse a token or raise PageTokenError saying what is wrong with it."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_" if "-" in token else None)
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise PageTokenError("not base64-encoded JSON") from exc
    if not isinstance(payload, dict):
        raise PageTokenError("not a JSON object")
    value = payload.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PageTokenError("'value' is not a number")
    if payload.get("field") not in SORT_FIELDS:
        raise PageTokenError("'field' is not creationTime or lastModifiedTime")
    if payload.get("order") not in ORDERS:
        raise PageTokenError("'order' is not asc or desc")
    boundary = payload.get("id")
    if not is_object_id(boundary):
        raise PageTokenError("'id' is not a 24-hex id")
    if not (0 <= value < 1e11):
        raise PageTokenError("'value' is out of range")
    return PageToken(round(value * 1000), payload["field"], payload["order"], boundary)
