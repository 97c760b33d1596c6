"""The `identities` table: versions of the people behind contents (customers and agents).

An identity with non-empty `userIds` is an agent identity (reference §5.3, GUIDE); the Gen-2
API also sends `identityType`, which wins when present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.columns import (
    ID_PATTERN,
    STRING_LIST,
    Certified,
    Column,
    HoldColumns,
    TableSchema,
    matches,
    one_of,
    record_columns,
    source_id_column,
    text,
    utc_time,
)
from schemas.common import (
    Normalised,
    RecordRejected,
    parse_timestamp_ms,
)
from schemas.ids import record_id_problem, validate_source_id
from schemas.quarantine import QuarantineBuilder
from schemas.rows import normalise_records

TABLE_NAME = "identities"

TABLE = TableSchema(
    TABLE_NAME,
    "Every archived version of every identity (a customer's or agent's account on a channel) "
    "that wrote a message.",
    (
        text(
            "id",
            "The identity's id in RingCentral (`id`): a customer's or agent's account on one "
            "channel; contents.author_identity_id points here.",
            api_key="id",
            nullable=False,
            checks=matches(ID_PATTERN),
        ),
        source_id_column(
            "The channel (RingCentral source) the identity was read for: its 24-hex id (the "
            "archive partition)."
        ),
        text(
            "identity_type",
            "Agent or Customer, from `identityType`; when RingCentral omits it, Agent if the "
            "identity has `userIds`, else Customer.",
            api_key="identityType",
            checks=one_of(["Agent", "Customer"]),
        ),
        text(
            "type",
            "The kind of channel the identity belongs to (e.g. Facebook, WhatsApp), from the "
            "identity's `type`.",
            api_key="type",
        ),
        text(
            "display_name",
            "The name shown for the identity, from `displayName`.",
            api_key="displayName",
        ),
        text(
            "screen_name",
            "The identity's handle on the channel, from `screenName`.",
            api_key="screenName",
        ),
        text(
            "first_name",
            "The person's first name, from `firstName`.",
            api_key="firstName",
        ),
        text(
            "last_name",
            "The person's last name, from `lastName`.",
            api_key="lastName",
        ),
        text(
            "company",
            "The company, from `company`.",
            api_key="company",
        ),
        text(
            "email_address",
            "The e-mail address, from `emailAddress`.",
            api_key="emailAddress",
        ),
        text(
            "mobile_phone",
            "The mobile phone number, from `mobilePhone`.",
            api_key="mobilePhone",
        ),
        text(
            "home_phone",
            "The home phone number, from `homePhone`.",
            api_key="homePhone",
        ),
        text(
            "avatar_uri",
            "The address of the identity's picture, from `avatarUri`.",
            api_key="avatarUri",
        ),
        text(
            "identity_group_id",
            "RingCentral's link between identities of the same person across channels, from "
            "`identityGroupId`.",
            api_key="identityGroupId",
        ),
        Column(
            "user_ids",
            STRING_LIST,
            "The RingCentral extensions (agent users) behind an agent identity, from `userIds`.",
            api_key="userIds",
        ),
        text(
            "uuid",
            "RingCentral's UUID of the identity, from `uuid`.",
            api_key="uuid",
        ),
        utc_time(
            "creation_time",
            "When the identity was created in RingCentral, in UTC, from `creationTime`.",
            api_key="creationTime",
        ),
        utc_time(
            "last_modified_time",
            "When RingCentral last changed the identity, in UTC, from `lastModifiedTime`; this row "
            "is the version with the latest one.",
            api_key="lastModifiedTime",
        ),
        *record_columns(),
    ),
    id_column="id",
    ledger="identities",
    quarantinable=True,
    hold=HoldColumns(identity="id"),
    certified=Certified("identities", "creation_time"),
)
ARROW_SCHEMA = TABLE.arrow_schema

# The fields copied as they are, in column order after identity_type.
_STRINGS = tuple(key for key, _ in TABLE.api_run("type", "identity_group_id"))


def _row(record: Any, source_id: str, raw_json: bytes, digest: str) -> list[Any]:
    if type(record) is not dict:
        raise RecordRejected([f"record: expected JSON object, got {type(record).__name__}"])
    errors: list[str] = []
    get = record.get
    identity_id = get("id")
    if (problem := record_id_problem(identity_id)) is not None:
        errors.append(problem)

    user_ids = get("userIds")
    if user_ids is not None:
        if type(user_ids) is not list:
            errors.append(f"userIds: expected list of strings, got {type(user_ids).__name__}")
            user_ids = None
        else:
            # Extension ids are digits; the Extension API itself returns them as numbers.
            user_ids = [str(u) if type(u) is int else u for u in user_ids]
            if any(type(u) is not str for u in user_ids):
                errors.append("userIds: expected list of strings")
                user_ids = None
    identity_type = get("identityType")
    if identity_type is not None and type(identity_type) is not str:
        errors.append(f"identityType: expected string, got {type(identity_type).__name__}")
        identity_type = None
    if identity_type is None:
        identity_type = "Agent" if user_ids else "Customer"

    row: list[Any] = [identity_id, source_id, identity_type]
    for key in _STRINGS:
        value = get(key)
        if value is not None and type(value) is not str:
            errors.append(f"{key}: expected string, got {type(value).__name__}")
            value = None
        row.append(value)
    uuid = get("uuid")
    if uuid is not None and type(uuid) is not str:
        errors.append(f"uuid: expected string, got {type(uuid).__name__}")
        uuid = None
    row += [user_ids, uuid]
    for key in ("creationTime", "lastModifiedTime"):
        value = get(key)
        if value is None:
            row.append(None)
            continue
        try:
            row.append(parse_timestamp_ms(value))
        except (ValueError, TypeError, OverflowError) as exc:
            errors.append(f"{key}: not an ISO-8601 time ({str(value)[:40]!r}: {exc})")
    if errors:
        raise RecordRejected(errors)
    row += [raw_json, digest]
    return row


def normalise_identities(
    records: list[Any],
    *,
    source_id: str,
    run_id: str,
    batch_id: str,
    archived_at: datetime,
) -> Normalised:
    """API identity records of one source -> (valid rows, quarantined rows); never raises per
    record. Identities carry no source field, so the partition's source is stored."""
    source_id = validate_source_id(source_id)
    quarantine = QuarantineBuilder(
        table_name=TABLE_NAME,
        source_id=source_id,
        run_id=run_id,
        batch_id=batch_id,
        quarantined_at=archived_at,
    )
    return normalise_records(
        TABLE,
        records,
        lambda record, raw, digest: _row(record, source_id, raw, digest),
        quarantine=quarantine,
        run_id=run_id,
        batch_id=batch_id,
        archived_at=archived_at,
    )
