"""The `flags` table: supervision hits, one row per (message version, policy, what matched).

A flag is written in the same batch as the message version it points at (contents ledger), so
supervision sees every new message exactly once, in the run that archived it, with no second
pass over history. `record_sha256` of a flag covers what was flagged and why, not when: a
re-run never adds the same flag twice.
"""

from __future__ import annotations

import pyarrow as pa

from schemas.columns import (
    ID_PATTERN,
    SHA256_PATTERN,
    TableSchema,
    matches,
    one_of,
    record_columns,
    source_id_column,
    text,
    utc_time,
)
from schemas.common import record_sha256

TABLE_NAME = "flags"
FLAG_KINDS = ("term", "pattern", "sample")

TABLE = TableSchema(
    TABLE_NAME,
    "One row per supervision hit: a message version that matched a policy's term or pattern, "
    "or was drawn for routine review by the policy's sampling rate.",
    (
        text(
            "content_id",
            "The flagged message (messages.id).",
            nullable=False,
            checks=matches(ID_PATTERN),
        ),
        text(
            "content_sha256",
            "The record_sha256 of the flagged version of the message (contents.record_sha256).",
            nullable=False,
            checks=matches(SHA256_PATTERN),
        ),
        source_id_column(
            "The channel (RingCentral source) of the flagged message (its 24-hex id)."
        ),
        text("thread_id", "The conversation the flagged message is part of."),
        utc_time("creation_time", "When the flagged message was created, in UTC."),
        text("policy", "The policy (policies.yaml `name`) that flagged it.", nullable=False),
        text(
            "kind",
            "term (a lexicon term matched), pattern (a regular expression matched) or sample "
            "(drawn for routine review at the policy's sampling rate).",
            nullable=False,
            checks=one_of(FLAG_KINDS),
        ),
        text(
            "matched",
            "The term or pattern as written in the policy; empty for a sample.",
        ),
        text(
            "excerpt",
            "Up to 60 characters of the message on each side of the first match.",
        ),
        *record_columns(
            raw_json=False,
            record_sha256="SHA-256 of what identifies the flag (message version, policy, kind, "
            "what matched), not of when.",
            stamped_at=("archived_at", "When the archive committed the flag, in UTC."),
        ),
    ),
    ledger="contents",
)
ARROW_SCHEMA = TABLE.arrow_schema


def flag_record_sha256(content_sha256: str, policy: str, kind: str, matched: str | None) -> str:
    """The flag's version: the same hit on the same message version hashes the same."""
    return record_sha256(
        {"content_sha256": content_sha256, "policy": policy, "kind": kind, "matched": matched}
    )


def empty_flags() -> pa.Table:
    return ARROW_SCHEMA.empty_table()
