"""Source ids become Dagster partition keys and object key parts: only 24-hex is accepted.

A comma or pipe breaks Dagster UI backfills (docs/internals.md, "Dependency notes") and `../`
or `/` would escape the key layout, so ids are validated once, here, before any key is built
from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SOURCE_ID = re.compile(r"[0-9a-fA-F]{24}")
STREAM_PREFIX = "source_id="
ACCOUNT_STREAM = "account"


class InvalidSourceIdError(ValueError):
    """A source id that is not 24 hex characters (RingCentral channel ids always are)."""


def record_id_problem(record_id: object) -> str | None:
    """Why a record's `id` cannot be its row's id (missing, not a string, empty), as the
    quarantine reason; None when it can."""
    if record_id is None:
        return "id: missing"
    if type(record_id) is not str:
        return f"id: expected string, got {type(record_id).__name__}"
    return None if record_id else "id: empty"


def validate_source_id(source_id: object) -> str:
    """The id in lowercase, or InvalidSourceIdError naming the value and where ids come from."""
    if not isinstance(source_id, str) or not _SOURCE_ID.fullmatch(source_id):
        raise InvalidSourceIdError(
            f"invalid source id {source_id!r}: expected exactly 24 hexadecimal characters "
            "(a RingCentral channel id, e.g. 65c3fdd9527bf900079cefcb); check RC_SOURCE_IDS"
        )
    return source_id.lower()


def source_stream(source_id: str) -> str:
    """The ledger stream of one source: `source_id=<24-hex>` (docs/internals.md)."""
    return STREAM_PREFIX + validate_source_id(source_id)


def validate_stream(stream: str) -> str:
    """A ledger stream name: `account` or `source_id=<24-hex>`; anything else is refused."""
    if stream == ACCOUNT_STREAM:
        return stream
    if isinstance(stream, str) and stream.startswith(STREAM_PREFIX):
        return source_stream(stream[len(STREAM_PREFIX) :])
    raise InvalidSourceIdError(
        f"invalid ledger stream {stream!r}: expected 'account' or 'source_id=<24 hex chars>'"
    )


def source_id_of_stream(stream: str) -> str | None:
    stream = validate_stream(stream)
    return None if stream == ACCOUNT_STREAM else stream[len(STREAM_PREFIX) :]


def valid_source_keys(candidates: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split candidate ids into (valid lowercase keys, rejected raw values), keeping order."""
    valid: list[str] = []
    rejected: list[str] = []
    for raw in candidates:
        raw = raw.strip()
        if not raw:
            continue
        try:
            key = validate_source_id(raw)
        except ValueError:
            rejected.append(raw)
            continue
        if key not in valid:
            valid.append(key)
    return valid, rejected


def configured_source_ids(value: str | None) -> list[str]:
    """RC_SOURCE_IDS (comma list) as partition keys; an invalid id is an error naming it."""
    valid, rejected = valid_source_keys((value or "").split(","))
    if rejected:
        validate_source_id(rejected[0])  # raises with the message that names the value
    return valid
