"""The audit catalog's own tables: what `audit.duckdb` stores beside views over archived files.

Declared as `TableSchema`s like the archived tables, so each column's type and meaning are
written once: the catalog build writes rows with `arrow_schema` (pipelines/catalog/state.py,
pipelines/catalog/governance_tables.py) and the audit views that pass them on (`ledger`,
`access_log`, `holds`, `review_decisions`) take their column descriptions from here
(pipelines/catalog/column_docs.py).

Not archived tables: no Parquet file of the archive has these schemas, so they stay out of
`schemas.tables.TABLES` (which the archive, the catalog's `_src_` views and the Iceberg tables
iterate) and sit in `CATALOG_TABLES`. Snapshots, rebuilt from the archive at any time.
"""

from __future__ import annotations

import pyarrow as pa

from schemas import flags
from schemas.columns import Column, TableSchema
from schemas.tables import LEDGER_TABLES

_S = pa.string()
_STRINGS = pa.list_(_S)
_BUILD_TIME = pa.timestamp("us", tz="UTC")  # as DuckDB reads the records' times back


def _column(name: str, kind: pa.DataType, description: str) -> Column:
    """A nullable column (a record may lack any field; the snapshot keeps what it holds)."""
    return Column(name, kind, description)


def _listed(names: tuple[str, ...]) -> str:
    *first, last = names
    return f"{', '.join(first)} or {last}" if first else last


# Shared with the `dispositions` view, which reads it out of the ledger's disposal_json.
REASON_DESCRIPTION = "Why, as given with --reason."

LEDGER_SNAPSHOT = TableSchema(
    "_ledger_snapshot",
    "One row per committed manifest the catalog has read (the `ledger` view).",
    (
        _column(
            "table_name",
            _S,
            f"The table the manifest commits rows to: {_listed(LEDGER_TABLES)} (quarantined "
            "records go with the table they were meant for).",
        ),
        _column(
            "stream",
            _S,
            "The ledger the manifest belongs to: `source_id=<id>`, one per channel and table.",
        ),
        _column("source_id", _S, "The channel of the stream (its 24-hex id)."),
        _column("seq", pa.int64(), "The manifest's number in its stream, from 0, with no gaps."),
        _column(
            "batch_id",
            _S,
            "The batch the manifest committed (`<seq>-<random>`): every row it committed "
            "carries the same batch_id.",
        ),
        _column(
            "files",
            _STRINGS,
            "The data files the manifest committed (keys under the archive root).",
        ),
        _column("file_count", pa.int64(), "How many data files it committed."),
        _column("rows", pa.int64(), "How many rows those files hold."),
        _column("run_id", _S, "The archive run (Dagster run id) that committed the manifest."),
        _column("code_version", _S, "The rc-archive version that wrote the manifest."),
        _column(
            "committed_at",
            pa.timestamp("ms", tz="UTC"),
            "When the manifest was written, in UTC: the moment its rows became part of the "
            "archive.",
        ),
        _column(
            "cursor_page_token",
            _S,
            "Where the next run resumes reading: RingCentral's `pageToken` of the page after the "
            "last one committed.",
        ),
        _column(
            "cursor_high_water_time",
            _S,
            "The `creationTime` of the newest message the creation-time crawl reached (text).",
        ),
        _column("cursor_high_water_id", _S, "The id of that message."),
        _column(
            "cursor_sweep_mark",
            _S,
            "The `lastModifiedTime` up to which the changes sweep has checked for edits and "
            "deletions (text).",
        ),
        _column("cursor_json", _S, "The whole cursor saved with the manifest, as JSON text."),
        _column(
            "manifest_key", _S, "Where the manifest file is stored (key under the archive root)."
        ),
        _column("manifest_sha256", _S, "SHA-256 of the manifest file's bytes."),
        _column(
            "prev_sha256",
            _S,
            "SHA-256 of the stream's previous manifest (empty for seq 0): the chain `rc-archive "
            "verify` checks.",
        ),
        _column(
            "kind",
            _S,
            "`batch` for a manifest that archived new rows, `compaction` for one that rewrote a "
            "closed month's files into one (the same rows; the inputs stay stored), "
            "`disposition` for one that removed files past retention (`rc-archive disposition "
            "--execute`; their record hashes stay in the ledger).",
        ),
        _column(
            "disposal_json",
            _S,
            "For a disposition: who, why, the as-of date and how many files, rows and objects it "
            "removed, as JSON text (the `dispositions` view reads it); empty for other "
            "manifests.",
        ),
        _column(
            "version_identity_json",
            _S,
            "For a contents manifest committed under version identities: the rule's name and the "
            "stream's version alias object (key, SHA-256, rows), as JSON text; empty for "
            "manifests committed before (docs/internals.md, 'Version identity').",
        ),
    ),
)

LIVE_FILES = TableSchema(
    "_live_files",
    "The committed data files the views read: every file a manifest committed, less the inputs "
    "a compaction replaced and the files a disposition removed.",
    (
        _column("key", _S, "The file's key under the archive root."),
        _column("table_name", _S, "The archived table the file holds rows of."),
        _column("rows", pa.int64(), "How many rows the file holds."),
    ),
)

ACCESS_EVENTS = TableSchema(
    "_access_events",
    "One row per access event of the access trail (`_access/`), as of the catalog build (the "
    "`access_log` view).",
    (
        _column(
            "event_key",
            _S,
            "Where the event is stored: `_access/<day>/<seq>.json` under the archive root "
            "(write-once).",
        ),
        _column("event_sha256", _S, "SHA-256 of the event file's bytes; the next event names it."),
        _column("day", _S, "The UTC day (YYYY-MM-DD) of the event: its folder."),
        _column("seq", pa.int64(), "The event's number within its day, from 0, with no gaps."),
        _column("at", _BUILD_TIME, "When the command ran, in UTC."),
        _column(
            "user", _S, "Who ran it: RC_ARCHIVE_USER when set, else the operating-system user."
        ),
        _column("user_from", _S, "Where user came from: RC_ARCHIVE_USER or os."),
        _column("host", _S, "The machine the command ran on."),
        _column("command", _S, "The audit command: sql, thread, export or prove."),
        _column(
            "status",
            _S,
            "ok, or failed when the command ended with an error (refused queries included).",
        ),
        _column("error", _S, "The error that ended a failed command (one line); empty when ok."),
        _column(
            "query",
            _S,
            "The SQL text of an `rc-archive sql` query (cut at 100,000 characters).",
        ),
        _column("query_name", _S, "The query pack name given with `--query`, if any."),
        _column("query_sha256", _S, "SHA-256 of the whole query text."),
        _column(
            "parameters_json",
            _S,
            "The query's bound parameters, or the command's selectors (thread id, export "
            "filters, content id), as JSON text.",
        ),
        _column(
            "arguments_json",
            _S,
            "The command's other arguments (format, output directory, as-of time...), as JSON "
            "text.",
        ),
        _column(
            "rows",
            pa.int64(),
            "How many rows, transcript lines, exported messages or proven versions the command "
            "returned; empty for a failed command.",
        ),
        _column(
            "export_manifest_sha256",
            _S,
            "For an export: SHA-256 of its load file (manifest.json).",
        ),
        _column(
            "export_files_json",
            _S,
            "For an export: every produced file's path, SHA-256 and size, from its load file, as "
            "JSON text.",
        ),
        _column(
            "prev_key",
            _S,
            "The previous event's key (the day before's last for seq 0); empty for the first "
            "event.",
        ),
        _column(
            "prev_sha256",
            _S,
            "SHA-256 of the previous event's bytes: the chain `rc-archive access verify` checks.",
        ),
    ),
)

HOLD_EVENTS = TableSchema(
    "_hold_events",
    "One row per legal-hold record (`_holds/`), as of the catalog build (the `holds` view).",
    (
        _column(
            "record_key",
            _S,
            "Where the hold record is stored: `_holds/<matter>/<time>-<action>.json` under the "
            "archive root (write-once).",
        ),
        _column(
            "record_sha256",
            _S,
            "SHA-256 of the record file's bytes; the matter's next record names it.",
        ),
        _column("matter", _S, "The legal matter (case) name the hold is for."),
        _column(
            "action",
            _S,
            "place (a hold was put on objects), landed (new messages the matter selects were "
            "held as they were archived) or release (the matter's hold ended).",
        ),
        _column("at", _BUILD_TIME, "When the record was written, in UTC."),
        _column(
            "user",
            _S,
            "Who placed or released the hold (RC_ARCHIVE_USER, else the OS user).",
        ),
        _column("reason", _S, REASON_DESCRIPTION),
        _column(
            "selector_json",
            _S,
            "What the placement selected (source, thread or identity, and the from/to "
            "creation-time range), as JSON text; empty for a release.",
        ),
        _column(
            "object_keys",
            _STRINGS,
            "The archived data files the placement held, or for a release every file the matter "
            "held (keys under the archive root).",
        ),
        _column("object_count", pa.int64(), "How many files object_keys lists."),
        _column(
            "lock_applied",
            pa.bool_(),
            "True when the store applied the S3 Object Lock legal hold; false on a local "
            "directory, where the record itself is the hold.",
        ),
        _column(
            "released_keys",
            _STRINGS,
            "For a release: the files whose legal hold was turned off (no other active matter "
            "holds them).",
        ),
        _column(
            "kept_keys",
            _STRINGS,
            "For a release: the files left on hold because another active matter holds them.",
        ),
        _column(
            "prev_sha256",
            _S,
            "SHA-256 of the matter's previous record; empty for its first.",
        ),
    ),
)


def _flag_column(name: str) -> Column:
    """A column that names the decided flag as the flags table does (same description)."""
    declared = flags.TABLE.column(name)
    return _column(name, declared.type, declared.description)


REVIEW_EVENTS = TableSchema(
    "_review_events",
    "One row per reviewer decision on a supervision flag (`_reviews/`), as of the catalog build "
    "(the `review_decisions` view).",
    (
        _column(
            "decision_key",
            _S,
            "Where the decision is stored: `_reviews/<day>/<seq>.json` under the archive root "
            "(write-once).",
        ),
        _column(
            "decision_sha256",
            _S,
            "SHA-256 of the decision file's bytes; the next decision names it.",
        ),
        _column("flag_id", _S, "The flag decided (flags.record_sha256)."),
        _flag_column("content_id"),
        _flag_column("content_sha256"),
        _flag_column("source_id"),
        _flag_column("policy"),
        _flag_column("kind"),
        _column("decision", _S, "cleared (nothing wrong) or escalated (passed to compliance)."),
        _column("note", _S, "The reviewer's reason, as given with --note."),
        _column("at", _BUILD_TIME, "When the decision was recorded, in UTC."),
        _column(
            "user", _S, "Who decided: RC_ARCHIVE_USER when set, else the operating-system user."
        ),
        _column(
            "prev_sha256",
            _S,
            "SHA-256 of the previous decision's bytes: the chain `rc-archive review verify` "
            "checks; empty for the first.",
        ),
    ),
)

# The catalog's own tables, by name (each stored as `internal.<name>`).
CATALOG_TABLES: dict[str, TableSchema] = {
    schema.name: schema
    for schema in (LEDGER_SNAPSHOT, LIVE_FILES, ACCESS_EVENTS, HOLD_EVENTS, REVIEW_EVENTS)
}
