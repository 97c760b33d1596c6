"""The `agents` table: RingCentral extensions behind `creatorId` and identity `userIds`.

Rows come from Get Extension responses (reference §6: `id` is a number there, a string
everywhere else, so it is stored as a string `extension_id`). A 404 (CMN-102: the extension was
deleted) is archived too, as a `not_found` row, so the lookup is not repeated every run and an
auditor sees that the agent could not be resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from schemas.columns import Certified, TableSchema, matches, one_of, record_columns, text, utc_time
from schemas.common import (
    Normalised,
    RecordRejected,
    datetime_to_ms,
)
from schemas.quarantine import QuarantineBuilder
from schemas.rows import normalise_records

TABLE_NAME = "agents"

TABLE = TableSchema(
    TABLE_NAME,
    "Every archived version of a RingCentral extension (agent user) behind a message's "
    "`creatorId` or an identity's `userIds`, including the ones RingCentral no longer knows.",
    (
        text(
            "extension_id",
            "The RingCentral extension (agent user) id: the `creatorId` of the messages the agent "
            "sent.",
            api_key="id",
            nullable=False,
            checks=matches(r"^[0-9]+$"),
        ),
        text(
            "name",
            "The extension's name, from the Extension API's `name`.",
            api_key="name",
        ),
        text(
            "first_name",
            "The agent's first name, from `contact.firstName`.",
            api_key="contact.firstName",
        ),
        text(
            "last_name",
            "The agent's last name, from `contact.lastName`.",
            api_key="contact.lastName",
        ),
        text(
            "email",
            "The agent's e-mail address, from `contact.email`.",
            api_key="contact.email",
        ),
        text(
            "extension_number",
            "The extension's number in the RingCentral account, from `extensionNumber`.",
            api_key="extensionNumber",
        ),
        text(
            "type",
            "The kind of extension (e.g. User, Department), from `type`.",
            api_key="type",
        ),
        text(
            "status",
            "The extension's status (e.g. Enabled, Disabled), from `status`.",
            api_key="status",
        ),
        text(
            "resolution",
            "found when RingCentral returned the extension; not_found when it answered that the "
            "extension does not exist (e.g. deleted: error CMN-102).",
            nullable=False,
            checks=one_of(["found", "not_found"]),
        ),
        utc_time(
            "fetched_at",
            "When the archive asked RingCentral for the extension, in UTC.",
            nullable=False,
            reproducible=False,
        ),
        *record_columns(),
    ),
    id_column="extension_id",
    ledger="agents",
    scope="account",
    quarantinable=True,
    certified=Certified("agents", "archived_at"),
)
ARROW_SCHEMA = TABLE.arrow_schema


def extension_id_of(value: Any) -> str:
    """The canonical string extension id (the Extension API returns a number), or ValueError."""
    if type(value) is int and value >= 0:
        return str(value)
    if type(value) is str and value.isdigit() and value.isascii():
        return value
    raise ValueError(f"extension id {value!r:.40}: expected digits")


def not_found_record(extension_id: str | int) -> dict[str, Any]:
    """The raw JSON stored for an extension the API answered 404 (CMN-102) for."""
    return {"id": extension_id_of(extension_id), "errorCode": "CMN-102", "resolution": "not_found"}


def _text(container: Any, key: str, errors: list[str], where: str = "") -> str | None:
    value = container.get(key) if type(container) is dict else None
    if value is not None and type(value) is not str:
        errors.append(f"{where}{key}: expected string, got {type(value).__name__}")
        return None
    return value


def _row(record: Any, fetched_ms: int, raw_json: bytes, digest: str, found: bool) -> list[Any]:
    if type(record) is not dict:
        raise RecordRejected([f"record: expected JSON object, got {type(record).__name__}"])
    errors: list[str] = []
    try:
        extension_id = extension_id_of(record.get("id"))
    except ValueError as exc:
        errors.append(f"id: {exc}")
        extension_id = None
    contact = record.get("contact")
    if contact is not None and type(contact) is not dict:
        errors.append(f"contact: expected object, got {type(contact).__name__}")
        contact = None
    row = [
        extension_id,
        _text(record, "name", errors),
        _text(contact, "firstName", errors, "contact."),
        _text(contact, "lastName", errors, "contact."),
        _text(contact, "email", errors, "contact."),
        _text(record, "extensionNumber", errors),
        _text(record, "type", errors),
        _text(record, "status", errors),
        "found" if found else "not_found",
        fetched_ms,
        raw_json,
        digest,
    ]
    if errors:
        raise RecordRejected(errors)
    return row


def normalise_extensions(
    records: list[Any],
    *,
    run_id: str,
    batch_id: str,
    archived_at: datetime,
    fetched_at: datetime | None = None,
    not_found_ids: Iterable[str | int] = (),
) -> Normalised:
    """Get Extension responses (+ ids that answered 404) -> (agent rows, quarantined rows).

    Total: a response that cannot be a row is quarantined, never raised. `fetched_at` defaults
    to `archived_at`.
    """
    fetched_ms = datetime_to_ms(fetched_at or archived_at)
    quarantine = QuarantineBuilder(
        table_name=TABLE_NAME,
        source_id=None,
        run_id=run_id,
        batch_id=batch_id,
        quarantined_at=archived_at,
    )
    answered_404: list[Any] = []
    for missing in not_found_ids:
        try:
            answered_404.append(not_found_record(missing))
        except ValueError as exc:
            quarantine.add({"id": missing}, [f"not_found id: {exc}"])
    synthetic = {id(record) for record in answered_404}
    return normalise_records(
        TABLE,
        [*records, *answered_404],
        lambda record, raw, digest: _row(
            record, fetched_ms, raw, digest, id(record) not in synthetic
        ),
        quarantine=quarantine,
        run_id=run_id,
        batch_id=batch_id,
        archived_at=archived_at,
    )


def not_found_agent_row(
    extension_id: str | int, *, run_id: str, batch_id: str, archived_at: datetime
) -> pa.Table:
    """One `not_found` agents row for an extension id the API answered 404 for."""
    normalised = normalise_extensions(
        [], run_id=run_id, batch_id=batch_id, archived_at=archived_at, not_found_ids=[extension_id]
    )
    if normalised.quarantine.num_rows:
        raise ValueError(normalised.quarantine.column("reason")[0].as_py())
    return normalised.table
