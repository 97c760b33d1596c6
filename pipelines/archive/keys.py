"""The archive's key layout (docs/internals.md, "Archive layout"), built in one place.

Source ids are validated (24-hex) before they become key parts, so no key can escape the layout.

Layout 2 (this module writes it) names data folders with hive keys that are no column of the
files: `source=<id>` and `period=<YYYY-MM-DD | YYYY-MM>`. A raw hive reader (pyarrow's
`partitioning="hive"`, pandas, Spark, Athena) then adds `source` and `period` beside the files'
own `source_id` and `creation_date`, where layout 1 (`source_id=`, `creation_date=`,
`creation_month=`) gave it the files' columns a second time with another type. Objects are
write-once, so layout-1 files stay where they are; every reader here goes by the keys the
manifests name, and the parsers below read both layouts.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from schemas.ids import ACCOUNT_STREAM, source_id_of_stream, source_stream, validate_stream
from schemas.tables import (
    LEDGER_TABLES,
    PER_SOURCE_TABLES,
    PER_STREAM_TABLES,
    SHARED_TABLES,
    TABLES,
    table_schema,
)

__all__ = ["ACCOUNT_STREAM", "PER_SOURCE_TABLES", "source_stream"]

LEDGER_ROOT = "_ledger"
# Write-once areas beside the data and the ledger, each owned (and checked) by its own part:
# `verify` knows them, so their objects are not reported as strangers.
ACCESS_ROOT = "_access"  # pipelines/governance/access_trail.py (rc-archive access verify)
REVIEWS_ROOT = "_reviews"  # pipelines/governance/review.py (rc-archive review verify)
REPORTS_ROOT = "_reports"  # pipelines/query/supervision_report.py (write-once pages)
HOLDS_ROOT = "_holds"  # pipelines/governance/holds.py
# The hold journal: every hold decision chained and witnessed (the witness compares it too).
HOLDS_JOURNAL_PREFIX = f"{HOLDS_ROOT}/_journal/"
EVENTS_ROOT = "_events"  # pipelines/webhooks/events.py
SUBSCRIPTIONS_ROOT = "_subscriptions"  # pipelines/webhooks/subscription.py
# Cosigned checkpoints of each source's log (pipelines/integrity/transparency.py).
TRANSPARENCY_ROOT = "_transparency"
# Iceberg metadata of the committed state (pipelines/tables): derived from the ledger and
# rebuildable from it (`rc-archive tables --rebuild`), so verify neither checks nor flags it.
ICEBERG_ROOT = "_iceberg"
RECORD_AREAS = (
    ACCESS_ROOT,
    REVIEWS_ROOT,
    REPORTS_ROOT,
    HOLDS_ROOT,
    EVENTS_ROOT,
    SUBSCRIPTIONS_ROOT,
    TRANSPARENCY_ROOT,
    ICEBERG_ROOT,
)
DATA_TABLES = tuple(TABLES)
MANIFEST_NAME = re.compile(r"^(\d{10})\.json$")
CHECKPOINT_NAME = re.compile(r"^(\d{10})\.json$")
ALIASES_NAME = re.compile(r"^(\d{10})\.parquet$")
VERSION_INDEX_NAME = re.compile(r"^(\d{10})\.versions\.parquet$")
DISPOSED_HASHES_NAME = re.compile(r"^(\d{10})\.hashes\.parquet$")


def new_batch_id(seq: int) -> str:
    return f"{seq:010d}-{secrets.token_hex(6)}"


SOURCE_KEY = "source"  # hive key of a data file's source folder (layout 1: `source_id`)
PERIOD_KEY = "period"  # hive key of a contents file's day or month folder
ACCOUNT_FOLDER = "account"  # the `source=` of account-wide quarantine rows
# Layout 2 first, then layout 1: the data folders of one source.
_SOURCE_SEGMENT = re.compile(r"(?:^|/)source(?:_id)?=([0-9a-f]{24})/")
_PERIOD_SEGMENT = re.compile(r"/(?:period|creation_date|creation_month)=(\d{4}-\d{2}(?:-\d{2})?)/")


def source_id_of_key(key: str) -> str | None:
    """The source an object belongs to, from its key (None for account-wide objects)."""
    match = _SOURCE_SEGMENT.search(key)
    return match.group(1) if match else None


def ledger_prefix(table: str, stream: str) -> str:
    return f"{LEDGER_ROOT}/{ledger_table(table)}/{validate_stream(stream)}/"


def manifest_key(table: str, stream: str, seq: int) -> str:
    return f"{ledger_prefix(table, stream)}{seq:010d}.json"


def checkpoint_prefix(table: str, stream: str) -> str:
    return f"{ledger_prefix(table, stream)}_checkpoints/"


def checkpoint_key(table: str, stream: str, seq: int) -> str:
    return f"{checkpoint_prefix(table, stream)}{seq:010d}.json"


def version_index_key(table: str, stream: str, seq: int) -> str:
    return f"{checkpoint_prefix(table, stream)}{seq:010d}.versions.parquet"


def version_aliases_key(table: str, stream: str, seq: int) -> str:
    """The version aliases of the rows the manifests up to `seq` committed (version_aliases)."""
    return f"{ledger_prefix(table, stream)}_aliases/{seq:010d}.parquet"


def disposed_hashes_key(table: str, stream: str, seq: int) -> str:
    """The record hashes of what the disposition manifest at `seq` deleted."""
    return f"{ledger_prefix(table, stream)}_disposed/{seq:010d}.hashes.parquet"


def period_of_key(key: str) -> str | None:
    """The day (`YYYY-MM-DD`) or month (`YYYY-MM`) folder a contents file sits in, either
    layout; None for any other key."""
    match = _PERIOD_SEGMENT.search(key)
    return match.group(1) if match else None


def compacted_contents_key(stream: str, month: str, batch_id: str) -> str:
    """One file per source and month (`YYYY-MM`), written by compaction."""
    return f"{stream_folder('contents', stream)}{PERIOD_KEY}={month}/{batch_id}.parquet"


def intent_key(table: str, stream: str, batch_id: str) -> str:
    return f"{ledger_prefix(table, stream)}_pending/{batch_id}.json"


def contents_key(stream: str, creation_date: date, batch_id: str) -> str:
    return (
        f"{stream_folder('contents', stream)}{PERIOD_KEY}={creation_date.isoformat()}/"
        f"{batch_id}.parquet"
    )


def stream_folder(table: str, stream: str) -> str:
    """The folder holding one stream's files of a table, by the table's scope: `<table>/` for
    one the account shares (agents); `<table>/source=account/` for the account's stream of
    one kept per stream (quarantine); `<table>/source=<id>/` otherwise."""
    scope = table_schema(table).scope
    if scope == "account":
        return f"{table}/"
    if scope == "stream" and validate_stream(stream) == ACCOUNT_STREAM:
        return f"{table}/{SOURCE_KEY}={ACCOUNT_FOLDER}/"
    return f"{table}/{SOURCE_KEY}={_source(stream)}/"


def source_table_key(table: str, stream: str, batch_id: str) -> str:
    """A batch's file of any table but contents (which is cut by day, `contents_key`): one
    file per batch in the stream's folder of the table (`stream_folder`)."""
    return f"{stream_folder(table, stream)}{batch_id}.parquet"


ATTACHMENTS_TABLE_PREFIXES = (f"attachments/{SOURCE_KEY}=", "attachments/source_id=")


# An attachment's bytes sit outside the `attachments` table's folder (layout 2), so that a raw
# reader of the table meets Parquet files only; layout 1 kept them in it.
ATTACHMENT_FILES_ROOT = "attachment_files"
ATTACHMENT_BLOB_PREFIXES = (f"{ATTACHMENT_FILES_ROOT}/sha256=", "attachments/sha256=")
DATA_ROOTS = (*DATA_TABLES, ATTACHMENT_FILES_ROOT)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def attachment_blob_key(sha256: str) -> str:
    """An attachment's bytes, once per distinct file (content-addressed, shared by sources)."""
    return attachment_blob_keys(sha256)[0]


def attachment_blob_keys(sha256: str) -> tuple[str, ...]:
    """Where a file's bytes are written (layout 2), then where an older archive may hold them."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return tuple(f"{prefix}{sha256}" for prefix in ATTACHMENT_BLOB_PREFIXES)


def blob_sha256(key: str) -> str | None:
    """The hash an attachment-bytes key is named by (either layout); None for other keys."""
    for prefix in ATTACHMENT_BLOB_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def is_attachments_table_key(key: str) -> bool:
    return key.startswith(ATTACHMENTS_TABLE_PREFIXES)


# The folders of the tables the account shares (agents): every stream's ledger may list them.
SHARED_FOLDERS = tuple(f"{table}/" for table in SHARED_TABLES)


def stream_data_prefixes(stream: str) -> list[str]:
    """Prefixes of the data files only this stream writes (files of a table the account
    shares are not), in both layouts (layout 1: `quarantine/<stream>/`,
    `<table>/source_id=<id>/`)."""
    prefixes = [
        prefix
        for table in PER_STREAM_TABLES
        for prefix in (stream_folder(table, stream), f"{table}/{validate_stream(stream)}/")
    ]
    source_id = source_id_of_stream(stream)
    if source_id is not None:
        for table in PER_SOURCE_TABLES:
            prefixes += [stream_folder(table, stream), f"{table}/source_id={source_id}/"]
    return prefixes


def _source(stream: str) -> str:
    source_id = source_id_of_stream(stream)
    if source_id is None:
        raise ValueError(f"stream {stream!r} has no source id; expected 'source_id=<24 hex>'")
    return source_id


def ledger_table(table: str) -> str:
    """`table` when it has a ledger; ValueError naming the tables that have one."""
    if table not in LEDGER_TABLES:
        raise ValueError(f"no ledger for table {table!r}; expected one of {LEDGER_TABLES}")
    return table
