"""eDiscovery production: the selected messages as CSV, JSON Lines or one .eml per thread, plus
a load file (`manifest.json`) that lets the receiving party prove what they got: SHA-256 and
size of every produced file, row counts, and the exact query and parameters that selected them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import duckdb

FORMATS = ("csv", "jsonl", "eml")
EXPORT_COLUMNS = (
    "id, source_id, source_type, thread_id, title, creation_time, last_modified_time, "
    "direction, status, author_identity_id, author_name, creator_id, agent_name, "
    "agent_extension_number, agent_email, in_reply_to_content_id, remotely_deleted, body, "
    "attachments, record_sha256"
)


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


def _write_csv(path: Path, records: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow(
                json.dumps(_json_value(v), ensure_ascii=False)
                if isinstance(v, list | dict)
                else _json_value(v)
                for v in (record[c] for c in columns)
            )


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(_json_value(record), ensure_ascii=False) + "\n")


def _address(display_name: str, identity_id: str | None, source_type: str | None) -> str:
    """Channel identities have no e-mail address: the identity id @ the channel stands in."""
    domain = _safe_name((source_type or "channel").lower()) + ".rc-archive.invalid"
    return formataddr((display_name, f"{_safe_name(identity_id or 'unknown')}@{domain}"))


def _message_part(record: dict[str, Any], subject: str) -> EmailMessage:
    part = EmailMessage()
    author = record["author_name"] or record["author_identity_id"] or "unknown"
    part["From"] = _address(author, record["author_identity_id"], record["source_type"])
    part["Date"] = format_datetime(record["creation_time"].astimezone(UTC))
    part["Subject"] = subject
    part["Message-ID"] = f"<{_safe_name(record['id'])}@rc-archive>"
    part["X-RC-Direction"] = record["direction"] or "unknown"
    if record["agent_name"]:
        part["X-RC-Agent"] = record["agent_name"]
    if record["remotely_deleted"]:
        part["X-RC-Remotely-Deleted"] = "true"
    lines = [record["body"] or ""]
    for attachment in record["attachments"] or []:
        lines.append(
            f"[attachment: {attachment.get('filename')} ({attachment.get('content_type')}, "
            f"{attachment.get('size')} bytes) {attachment.get('uri') or ''}]"
        )
    part.set_content("\n".join(lines) + "\n")
    return part


def _write_eml(path: Path, thread_records: list[dict[str, Any]]) -> None:
    """One RFC 5322 message per thread: a digest whose parts are the thread's messages."""
    first = thread_records[0]
    subject = first["title"] or f"{first['source_type'] or 'Channel'} thread {first['thread_id']}"
    outer = EmailMessage()
    author = first["author_name"] or first["author_identity_id"] or "unknown"
    outer["From"] = _address(author, first["author_identity_id"], first["source_type"])
    outer["Date"] = format_datetime(first["creation_time"].astimezone(UTC))
    outer["Subject"] = f"{subject} [{first['source_type']} {first['source_id']}]"
    outer["X-RC-Thread-Id"] = first["thread_id"] or ""
    outer.make_mixed()
    outer.set_type("multipart/digest")
    for record in thread_records:
        outer.attach(_message_part(record, subject))
    path.write_bytes(bytes(outer))


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
    """Produce the selected messages into `out_dir` (created; must be empty) + manifest.json."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(
            f"export directory {out} is not empty; choose a new directory so a production "
            "never mixes files from two exports"
        )
    out.mkdir(parents=True, exist_ok=True)
    sql, params = selection_sql(source, thread, identity, from_, to)
    cursor = conn.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    records = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

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
            path = out / "threads" / f"{_safe_name(source_id)}_{_safe_name(thread_id)}.eml"
            _write_eml(path, thread_records)
            produced.append(_file_entry(path, out, len(thread_records)))

    manifest = {
        "format": "rc-archive/export/1",
        "produced_at": _json_value(datetime.now(UTC)),
        "export_format": fmt,
        "filters": _json_value(
            {"source": source, "thread": thread, "identity": identity, "from": from_, "to": to}
        ),
        "query": {"sql": sql, "parameters": _json_value(params)},
        "rows": len(records),
        "threads": len(threads),
        "files": produced,
    }
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return ExportReport(
        out_dir=str(out),
        files=[entry["path"] for entry in produced],
        rows=len(records),
        threads=len(threads),
        manifest_path=str(manifest_path),
    )
