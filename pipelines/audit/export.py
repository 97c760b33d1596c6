"""eDiscovery production: the selected messages as CSV, JSON Lines or one .eml per thread, plus
a load file (`manifest.json`) that lets the receiving party prove what they got: SHA-256 and
size of every produced file, row counts, the exact query and parameters that selected them, and
the archive, ledger heads and tool version the production was read from.

A production is all or nothing: it is written into a hidden sibling directory and renamed into
place only when every file and the load file are written, so a failed export leaves nothing
that blocks the re-run and a directory that exists is always complete.

The text is hostile input (customers write it): file names are made from ids but end in a hash
of the exact id, so two ids never share a file; e-mail header values are RFC 2047 encoded words
whenever they are not plain printable ASCII, so a CR/LF in a title or name can never start a
header; CSV cells a spreadsheet would run as formulas get the OWASP leading quote. JSON Lines is
the exact, unaltered form.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, quote
from pathlib import Path
from typing import Any

import duckdb

from pipelines.audit.connection import CATALOG_INFO_TABLE
from pipelines.audit.formatting import csv_safe
from pipelines.audit.terminal_text import terminal_safe
from schemas.ids import InvalidSourceIdError, validate_source_id

FORMATS = ("csv", "jsonl", "eml")
EXPORT_COLUMNS = (
    "id, source_id, source_type, thread_id, title, creation_time, last_modified_time, "
    "direction, status, author_identity_id, author_name, creator_id, agent_name, "
    "agent_extension_number, agent_email, in_reply_to_content_id, remotely_deleted, body, "
    "attachments, record_sha256"
)


# Longest thread or identity id accepted (RingCentral's are 24 hex; the archive stores what the
# API sent, so other shapes are accepted, but not text that is no id at all).
MAX_ID_LENGTH = 256


class ExportSelectionError(ValueError):
    """The export's filters name an id that is malformed or not in the archive (one line)."""


@dataclass(frozen=True)
class ExportReport:
    out_dir: str
    files: list[str]
    rows: int
    threads: int
    manifest_path: str


def selection_sql(
    source: str | None,
    thread: str | None,
    identity: str | None,
    from_: datetime | None,
    to: datetime | None,
) -> tuple[str, dict[str, Any]]:
    """The SELECT of an export: fixed clauses for the filters given, values bound."""
    clauses, params = [], {}
    if source:
        clauses.append("source_id = $source")
        params["source"] = source
    if thread:
        clauses.append("thread_id = $thread")
        params["thread"] = thread
    if identity:
        # The identity's conversations: every message of a thread the identity wrote in.
        clauses.append(
            "(source_id, thread_id) IN (SELECT source_id, thread_id FROM messages "
            "WHERE author_identity_id = $identity)"
        )
        params["identity"] = identity
    if from_:
        clauses.append("creation_time >= $from_time")
        params["from_time"] = from_
    if to:
        clauses.append("creation_time < $to_time")
        params["to_time"] = to
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {EXPORT_COLUMNS} FROM messages {where} ORDER BY creation_time, id"
    return sql, params


def _checked_filters(
    source: str | None, thread: str | None, identity: str | None
) -> tuple[str | None, str | None, str | None]:
    """The id filters, refused with one line when they cannot be ids (source: 24 hex,
    lowercased as the archive stores it; thread, identity: 1-256 characters, no whitespace or
    control characters). An empty string is refused, not read as "no filter"."""
    if source is not None:
        try:
            source = validate_source_id(source)
        except InvalidSourceIdError:
            raise ExportSelectionError(
                f"export source '{terminal_safe(source[:80])}' is not a source id: expected 24 "
                "hexadecimal characters (list them with `rc-archive sources`)"
            ) from None
    for kind, value in (("thread", thread), ("identity", identity)):
        if value is not None and (
            not value
            or len(value) > MAX_ID_LENGTH
            or terminal_safe(value) != value
            or any(char.isspace() for char in value)
        ):
            raise ExportSelectionError(
                f"export {kind} '{terminal_safe(value[:80])}' is not a {kind} id: expected 1 to "
                f"{MAX_ID_LENGTH} characters without spaces or control characters"
            )
    return source, thread, identity


_EXISTS_SQL = {
    "source": "SELECT 1 FROM messages WHERE source_id = $value LIMIT 1",
    "thread": "SELECT 1 FROM messages WHERE thread_id = $value LIMIT 1",
    "identity": "SELECT 1 FROM messages WHERE author_identity_id = $value LIMIT 1",
}


def _refuse_unknown_ids(conn: duckdb.DuckDBPyConnection, filters: dict[str, str | None]) -> None:
    """Called when the selection is empty: an id the archive has no message for is a typo or
    the wrong archive, and an empty production would read as "nothing exists"; say which."""
    for kind, value in filters.items():
        if value is None:
            continue
        if conn.execute(_EXISTS_SQL[kind], {"value": value}).fetchone() is None:
            raise ExportSelectionError(
                f"no archived message has {kind} '{terminal_safe(value)}'; nothing exported "
                "(check the id, or rebuild the catalog with `rc-archive catalog` if it was "
                "archived after the last build)"
            )


def _tool_version() -> str:
    try:
        return importlib.metadata.version("rc-archive")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (rc-archive is not installed as a package)"


def _provenance(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the production was read from: the archive's URI and catalog build time, and the
    head manifest of every ledger stream in the catalog's snapshot (its seq and SHA-256 tie
    each produced row to a hash-chained point of the archive that `rc-archive verify` checks)."""
    try:
        info = conn.execute(f"SELECT archive_uri, built_at FROM {CATALOG_INFO_TABLE}").fetchone()
    except duckdb.CatalogException:
        info = None
    heads = conn.execute(
        "SELECT table_name, stream, seq, manifest_key, manifest_sha256 FROM ledger "
        "QUALIFY row_number() OVER (PARTITION BY table_name, stream ORDER BY seq DESC) = 1 "
        "ORDER BY table_name, stream"
    ).fetchall()
    return {
        "archive": {
            "uri": info[0] if info else None,
            "catalog_built_at": _json_value(info[1]) if info else None,
        },
        "ledger_heads": [
            {
                "table": table,
                "stream": stream,
                "seq": seq,
                "manifest_key": key,
                "manifest_sha256": sha256,
            }
            for table, stream, seq, key, sha256 in heads
        ],
        "tool": {"name": "rc-archive", "version": _tool_version()},
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _file_entry(path: Path, out_dir: Path, rows: int) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "path": path.relative_to(out_dir).as_posix(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "rows": rows,
    }


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:120]


def thread_file_name(source_id: str, thread_id: str) -> str:
    """`<source>_<readable thread prefix>_<12 hex of SHA-256 of the exact ids>.eml`: the prefix
    is for people, the hash makes the name unique by construction (`a/b` and `a_b`, or two
    long ids sharing their first characters, would otherwise become one file)."""
    digest = hashlib.sha256(f"{source_id}\0{thread_id}".encode()).hexdigest()[:12]
    return f"{_safe_name(source_id)[:24]}_{_safe_name(thread_id)[:60]}_{digest}.eml"


def _csv_value(value: Any) -> Any:
    """A CSV cell: lists/structs as JSON, times as ISO 8601 UTC, text formula-neutralised."""
    if isinstance(value, list | dict):
        return csv_safe(json.dumps(_json_value(value), ensure_ascii=False))
    value = _json_value(value)
    return csv_safe(value) if isinstance(value, str) else value


def _write_csv(path: Path, records: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow(_csv_value(record[c]) for c in columns)


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(_json_value(record), ensure_ascii=False) + "\n")


_PLAIN_HEADER = re.compile(r"[\x20-\x7e]*")


def _header_value(text: str) -> str:
    """`text` as a header value that is pure printable ASCII: as it is when it already is one
    (and holds no `=?` that a reader would decode), else RFC 2047 `B` encoded words of at most
    45 UTF-8 bytes each (a 75-character word). CR and LF travel inside the base64, so they are
    kept exactly and can never end the header. The stdlib's `Header` drops CR/LF and the
    default policy's header objects decode encoded words and write the CR/LF back out, so the
    words are built here and the messages use the compat32 classes, which store them as is."""
    if _PLAIN_HEADER.fullmatch(text) and "=?" not in text:
        return text
    words, chunk = [], ""
    for char in text:
        if len((chunk + char).encode()) > 45:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return " ".join(
        f"=?utf-8?b?{base64.b64encode(word.encode()).decode('ascii')}?=" for word in words if word
    )


def _address(display_name: str, identity_id: str | None, source_type: str | None) -> str:
    """Channel identities have no e-mail address: the identity id @ the channel stands in.

    An address's display name cannot hold CR or LF (RFC 5322; Python's parser refuses to read
    one), so control characters in it are shown as visible escapes; the exact name is in the
    part's X-RC-Author-Name header."""
    domain = _safe_name((source_type or "channel").lower()) + ".rc-archive.invalid"
    addr = f"{_safe_name(identity_id or 'unknown')}@{domain}"
    name = terminal_safe(display_name)
    phrase = _header_value(name)
    if phrase == name:
        phrase = f'"{quote(name)}"'
    return f"{phrase} <{addr}>"


def _message_part(record: dict[str, Any], subject: str) -> MIMEText:
    lines = [record["body"] or ""]
    for attachment in record["attachments"] or []:
        lines.append(
            f"[attachment: {attachment.get('filename')} ({attachment.get('content_type')}, "
            f"{attachment.get('size')} bytes) {attachment.get('uri') or ''}]"
        )
    part = MIMEText("\n".join(lines) + "\n", "plain", "utf-8")
    author = record["author_name"] or record["author_identity_id"] or "unknown"
    part["From"] = _address(author, record["author_identity_id"], record["source_type"])
    part["X-RC-Author-Name"] = _header_value(author)
    part["Date"] = format_datetime(record["creation_time"].astimezone(UTC))
    part["Subject"] = _header_value(subject)
    part["Message-ID"] = f"<{_safe_name(record['id'])}@rc-archive>"
    part["X-RC-Content-Id"] = _header_value(record["id"])
    part["X-RC-Direction"] = _header_value(record["direction"] or "unknown")
    if record["agent_name"]:
        part["X-RC-Agent"] = _header_value(record["agent_name"])
    if record["remotely_deleted"]:
        part["X-RC-Remotely-Deleted"] = "true"
    return part


def _write_eml(path: Path, thread_records: list[dict[str, Any]]) -> None:
    """One RFC 5322 message per thread: a digest whose parts are the thread's messages."""
    first = thread_records[0]
    subject = first["title"] or f"{first['source_type'] or 'Channel'} thread {first['thread_id']}"
    outer = MIMEMultipart("digest")
    author = first["author_name"] or first["author_identity_id"] or "unknown"
    outer["From"] = _address(author, first["author_identity_id"], first["source_type"])
    outer["Date"] = format_datetime(first["creation_time"].astimezone(UTC))
    outer["Subject"] = _header_value(f"{subject} [{first['source_type']} {first['source_id']}]")
    outer["X-RC-Thread-Id"] = _header_value(first["thread_id"] or "")
    for record in thread_records:
        outer.attach(_message_part(record, subject))
    path.write_bytes(outer.as_bytes())


def export(
    conn: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    source: str | None = None,
    thread: str | None = None,
    identity: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    fmt: str = "csv",
) -> ExportReport:
    """Produce the selected messages into `out_dir` (new, or empty) + manifest.json.

    Raises ExportSelectionError (one line) for an id that is not an id or that no archived
    message has, and FileExistsError for a non-empty `out_dir`. The files are written into a
    hidden sibling directory, renamed to `out_dir` once complete and removed on any failure.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    source, thread, identity = _checked_filters(source, thread, identity)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"export directory {out} is not empty; choose a new directory so a production "
            "never mixes files from two exports"
        )
    sql, params = selection_sql(source, thread, identity, from_, to)
    cursor = conn.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    records = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    if not records:
        _refuse_unknown_ids(conn, {"source": source, "thread": thread, "identity": identity})
    provenance = _provenance(conn)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        produced, threads = _write_production(staging, records, columns, fmt)
        manifest = {
            "format": "rc-archive/export/1",
            "produced_at": _json_value(datetime.now(UTC)),
            "export_format": fmt,
            **provenance,
            "filters": _json_value(
                {"source": source, "thread": thread, "identity": identity, "from": from_, "to": to}
            ),
            "query": {"sql": sql, "parameters": _json_value(params)},
            "rows": len(records),
            "threads": threads,
            "files": produced,
        }
        if fmt == "csv":
            manifest["csv_formula_guard"] = (
                "text cells starting with = + - @ tab or CR are prefixed with ' (OWASP); the "
                "jsonl format holds the exact text"
            )
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        # Atomic on POSIX, and replaces `out` only if it is (still) an empty directory.
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(
        out_dir=str(out),
        files=[entry["path"] for entry in produced],
        rows=len(records),
        threads=threads,
        manifest_path=str(out / "manifest.json"),
    )


def _write_production(
    out: Path, records: list[dict[str, Any]], columns: list[str], fmt: str
) -> tuple[list[dict[str, Any]], int]:
    """Write the records as `fmt` into `out`: the load file's file entries, and the thread
    count."""
    produced: list[dict[str, Any]] = []
    threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        threads.setdefault((record["source_id"], record["thread_id"]), []).append(record)
    if fmt == "csv":
        path = out / "messages.csv"
        _write_csv(path, records, columns)
        produced.append(_file_entry(path, out, len(records)))
    elif fmt == "jsonl":
        path = out / "messages.jsonl"
        _write_jsonl(path, records)
        produced.append(_file_entry(path, out, len(records)))
    else:
        (out / "threads").mkdir()
        for (source_id, thread_id), thread_records in sorted(threads.items()):
            path = out / "threads" / thread_file_name(source_id, thread_id or "")
            if path.exists():  # a 48-bit hash collision: never overwrite a produced file
                raise RuntimeError(f"two threads map to the file name {path.name}; not exported")
            _write_eml(path, thread_records)
            produced.append(_file_entry(path, out, len(thread_records)))
    return produced, len(threads)
