"""The `identities` table: versions of the people behind contents (customers and agents).

An identity with non-empty `userIds` is an agent identity (reference §5.3, GUIDE); the Gen-2
API also sends `identityType`, which wins when present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from schemas.common import (
    TIMESTAMP_TYPE,
    Normalised,
    RecordRejected,
    datetime_to_ms,
    parse_timestamp_ms,
    raw_and_digest,
    rows_to_table,
)
from schemas.ids import validate_source_id
from schemas.quarantine import QuarantineBuilder
from schemas.validation import UtcMillis, failing_rows

TABLE_NAME = "identities"

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("identity_type", pa.string()),
        pa.field("type", pa.string()),
        pa.field("display_name", pa.string()),
        pa.field("screen_name", pa.string()),
        pa.field("first_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("company", pa.string()),
        pa.field("email_address", pa.string()),
        pa.field("mobile_phone", pa.string()),
        pa.field("home_phone", pa.string()),
        pa.field("avatar_uri", pa.string()),
        pa.field("identity_group_id", pa.string()),
        pa.field("user_ids", pa.list_(pa.string())),
        pa.field("uuid", pa.string()),
        pa.field("creation_time", TIMESTAMP_TYPE),
        pa.field("last_modified_time", TIMESTAMP_TYPE),
        pa.field("raw_json", pa.string(), nullable=False),
        pa.field("record_sha256", pa.string(), nullable=False),
        pa.field("archived_at", TIMESTAMP_TYPE, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
    ]
)


class IdentitiesModel(pandera.DataFrameModel):
    id: Series[str] = pandera.Field(str_matches=r"^\S+$")
    source_id: Series[str] = pandera.Field(str_matches=r"^[0-9a-f]{24}$")
    identity_type: Series[str] = pandera.Field(nullable=True, isin=["Agent", "Customer"])
    type: Series[str] = pandera.Field(nullable=True)
    display_name: Series[str] = pandera.Field(nullable=True)
    screen_name: Series[str] = pandera.Field(nullable=True)
    first_name: Series[str] = pandera.Field(nullable=True)
    last_name: Series[str] = pandera.Field(nullable=True)
    company: Series[str] = pandera.Field(nullable=True)
    email_address: Series[str] = pandera.Field(nullable=True)
    mobile_phone: Series[str] = pandera.Field(nullable=True)
    home_phone: Series[str] = pandera.Field(nullable=True)
    avatar_uri: Series[str] = pandera.Field(nullable=True)
    identity_group_id: Series[str] = pandera.Field(nullable=True)
    user_ids: Series[object] = pandera.Field(nullable=True)
    uuid: Series[str] = pandera.Field(nullable=True)
    creation_time: Series[UtcMillis] = pandera.Field(nullable=True)
    last_modified_time: Series[UtcMillis] = pandera.Field(nullable=True)
    raw_json: Series[str]
    record_sha256: Series[str] = pandera.Field(str_matches=r"^[0-9a-f]{64}$")
    archived_at: Series[UtcMillis]
    run_id: Series[str]
    batch_id: Series[str]

    class Config:
        strict = True
        coerce = False


CHECKED_COLUMNS = ["id", "source_id", "identity_type", "record_sha256"]

_STRINGS = (
    "type",
    "displayName",
    "screenName",
    "firstName",
    "lastName",
    "company",
    "emailAddress",
    "mobilePhone",
    "homePhone",
    "avatarUri",
    "identityGroupId",
)


def _row(record: Any, source_id: str, raw_json: bytes, digest: str) -> list[Any]:
    if type(record) is not dict:
        raise RecordRejected([f"record: expected JSON object, got {type(record).__name__}"])
    errors: list[str] = []
    get = record.get
    identity_id = get("id")
    if identity_id is None:
        errors.append("id: missing")
    elif type(identity_id) is not str:
        errors.append(f"id: expected string, got {type(identity_id).__name__}")
    elif not identity_id:
        errors.append("id: empty")

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
    rows: list[list[Any]] = []
    kept: list[Any] = []
    for record in records:
        try:
            raw_json, digest = raw_and_digest(record)
            rows.append(_row(record, source_id, raw_json, digest))
            kept.append(record)
        except RecordRejected as rejected:
            quarantine.add(record, rejected.reasons)
        except Exception as exc:  # total by contract
            quarantine.add(record, [f"unexpected {type(exc).__name__}: {str(exc)[:200]}"])
    table, kept_indices = rows_to_table(
        ARROW_SCHEMA, rows, kept, [datetime_to_ms(archived_at), run_id, batch_id], quarantine
    )
    kept = [kept[index] for index in kept_indices]
    failures = failing_rows(IdentitiesModel, ARROW_SCHEMA, table, CHECKED_COLUMNS)
    if failures:
        for row_index in sorted(failures):
            quarantine.add(kept[row_index], ["validation: " + r for r in failures[row_index]])
        table = table.filter(pa.array([i not in failures for i in range(table.num_rows)]))
    return Normalised(table=table, quarantine=quarantine.to_table())
