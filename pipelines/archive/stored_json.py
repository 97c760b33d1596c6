"""The archive's own JSON objects (manifests, checkpoints): their bytes and their parsing.

Why one place: a manifest's and a checkpoint's SHA-256 is taken over these exact bytes, and a
reader must name the object it could not read in every error, whatever went wrong with it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

Parsed = TypeVar("Parsed")


def stored_json_bytes(body: Mapping[str, Any]) -> bytes:
    """The stored form: sorted keys, one-space indent, UTF-8 (not escaped)."""
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")


def parse_stored_json(
    key: str,
    data: bytes,
    expected_format: str,
    what: str,
    build: Callable[[dict[str, Any]], Parsed],
) -> Parsed:
    """`build(body)` of the JSON object `data` stored at `key`, whose `format` must be
    `expected_format`. ValueError naming the key and `what` it should be when it is not
    (not JSON, another format, a field missing or of the wrong type)."""
    try:
        body = json.loads(data)
        if body.get("format") != expected_format:
            raise ValueError(f"format {body.get('format')!r} is not {expected_format}")
        return build(body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{key}: not a valid {what} ({type(exc).__name__}: {exc})") from None
