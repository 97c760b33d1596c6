"""eDiscovery production: the selected messages as CSV, JSON Lines, or one .eml or one .rsmf
(Relativity Short Message Format 2.0, pipelines/query/rsmf.py) per thread, or an examiner kit
(every version as Parquet with DuckDB views over it, pipelines/query/examiner_kit.py), plus
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

Attachments (docs/attachments.md): the bytes the archive holds travel with the production. In
`eml` each archived file is a base64 MIME part of its message (the message becomes a
multipart/mixed part of the thread's digest), written by streaming the bytes from the store; in
`csv`/`jsonl` each distinct file is written once as `natives/<sha256>` and every row lists its
files in the `attachment_files` column (attachment id, name, type, SHA-256, native path). The
load file lists every attachment of the selected messages under `attachments` with its SHA-256
and where it is, and an attachment whose bytes are not archived yet with status `missing` (and
counts them in `attachments_missing`): none is dropped silently. Bytes that no longer hash to
their archived SHA-256 stop the export.
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
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, quote
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.catalog.connection import ARCHIVE_ROOT_VARIABLE, CATALOG_INFO_TABLE
from pipelines.query.attachment_files import ArchivedFile, archived_files, stream_blob
from pipelines.query.formatting import csv_safe
from pipelines.query.rsmf import rsmf_file_name, write_rsmf
from pipelines.query.selection import selection_condition
from pipelines.query.terminal_text import terminal_safe
from pipelines.settings import Settings
from schemas.ids import InvalidSourceIdError, validate_source_id
from schemas.tables import TABLES

if TYPE_CHECKING:
    from pipelines.integrity.transparency import ProofSummary

FORMATS = ("csv", "jsonl", "eml", "rsmf", "kit")
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
    """The SELECT of an export: the messages the filters select, as a legal hold by the same
    filters selects them (pipelines/query/selection.py: `identity` is the identity's
    conversations), values bound."""
    condition = selection_condition(
        TABLES["contents"].hold,  # type: ignore[arg-type]
        source=source,
        thread=thread,
        identity=identity,
        from_=from_,
        to=to,
    )
    if condition is None:  # the contents table takes every part of a selection
        raise RuntimeError("the contents table names no selector column")
    clause, params = condition
    where = f"WHERE {clause}" if clause else ""
    sql = f"SELECT {EXPORT_COLUMNS} FROM messages {where} ORDER BY creation_time, id"
    return sql, params


def check_selection(
    source: str | None,
    thread: str | None,
    identity: str | None,
    from_: datetime | None,
    to: datetime | None,
    *,
    everything: bool = False,
) -> None:
    """What a person asks `rc-archive export` for, refused with one line before anything is read
    or recorded: no selector at all (every message of the archive, gigabytes of attachments)
    unless `everything` (`--all`) says so, `--all` together with a selector (which one was
    meant?), and a period that ends before it starts."""
    named = [
        flag
        for flag, value in (
            ("--source", source),
            ("--thread", thread),
            ("--identity", identity),
            ("--from", from_),
            ("--to", to),
        )
        if value is not None
    ]
    if everything and named:
        raise ExportSelectionError(
            f"--all exports every archived message; it cannot be combined with "
            f"{', '.join(named)}: drop one or the other"
        )
    if not everything and not named:
        raise ExportSelectionError(
            "export needs a selection: --source ID, --thread ID, --identity ID and/or "
            "--from/--to TIME, or --all for every archived message"
        )
    check_period(from_, to)


def check_period(from_: datetime | None, to: datetime | None) -> None:
    """Refuse a period whose end (`--to`, exclusive) is not after its start (`--from`): it
    selects nothing, and an empty production would read as "no such messages"."""
    if from_ is not None and to is not None and from_ >= to:
        raise ExportSelectionError(
            f"--from {_json_value(from_)} is not before --to {_json_value(to)}: the period is "
            "empty (were they swapped?)"
        )


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


def file_entry(path: Path, out_dir: Path, rows: int) -> dict[str, Any]:
    """The load file's entry for `path`: its path under `out_dir`, SHA-256, size and rows."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while data := handle.read(1 << 20):  # a thread with big attachments: stay flat
            digest.update(data)
            size += len(data)
    return {
        "path": path.relative_to(out_dir).as_posix(),
        "sha256": digest.hexdigest(),
        "bytes": size,
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


_MIME_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,127}")


def _attachment_part(file: dict[str, Any], token: str) -> MIMEBase:
    """A MIME part for an archived file whose body is `token`, replaced by the base64 of the
    bytes when the file is written (`_write_eml`). The declared type is used only when it is a
    plain `type/subtype`; the file name goes as an RFC 2231 parameter (percent-encoded, so no
    CR/LF or quote can leave it)."""
    kind = file["content_type"] or ""
    if not _MIME_TYPE.fullmatch(kind):
        kind = "application/octet-stream"
    maintype, subtype = kind.split("/", 1)
    part = MIMEBase(maintype, subtype)
    part.set_payload(token)
    part["Content-Transfer-Encoding"] = "base64"
    name = file["filename"] or file["attachment_id"]
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    part["X-RC-Content-Id"] = _header_value(file["content_id"])
    part["X-RC-Attachment-Id"] = _header_value(file["attachment_id"])
    part["X-RC-Attachment-Sha256"] = file["sha256"]
    return part


def _message_part(
    record: dict[str, Any], subject: str, tokens: dict[str, Any] | None = None
) -> MIMEText | MIMEMultipart:
    """The message as a text part; with archived attachments, a multipart/mixed part of the
    text and one part per file (`tokens` maps each part's placeholder to its file)."""
    lines = [record["body"] or ""]
    for attachment, file in zip(
        record["attachments"] or [], record["attachment_files"], strict=True
    ):
        status = (
            f"archived sha256 {file['sha256']}, attached"
            if file["status"] == "archived"
            else "not archived yet"
        )
        lines.append(
            f"[attachment: {attachment.get('filename')} ({attachment.get('content_type')}, "
            f"{attachment.get('size')} bytes) {attachment.get('uri') or ''}; {status}]"
        )
    text = MIMEText("\n".join(lines) + "\n", "plain", "utf-8")
    archived = [f for f in record["attachment_files"] if f["status"] == "archived"]
    if not archived or tokens is None:
        part: MIMEText | MIMEMultipart = text
    else:
        part = MIMEMultipart("mixed")
        part.attach(text)
        for file in archived:
            token = f"RCARCHIVEATTACHMENT{uuid.uuid4().hex}"
            tokens[token] = file
            part.attach(_attachment_part(file, token))
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


def _write_eml(
    path: Path,
    thread_records: list[dict[str, Any]],
    store: Any = None,
    files: dict | None = None,
) -> list[dict[str, Any]]:
    """One RFC 5322 message per thread: a digest whose parts are the thread's messages (with
    their archived attachments as base64 parts). The MIME structure is rendered with a
    placeholder body per file, then written with each placeholder replaced by the file's bytes
    streamed from the store and base64-encoded on the way (76-character lines), so a thread's
    files are never all in memory. Returns the attachment parts written (content, attachment,
    SHA-256, size)."""
    first = thread_records[0]
    subject = first["title"] or f"{first['source_type'] or 'Channel'} thread {first['thread_id']}"
    outer = MIMEMultipart("digest")
    author = first["author_name"] or first["author_identity_id"] or "unknown"
    outer["From"] = _address(author, first["author_identity_id"], first["source_type"])
    outer["Date"] = format_datetime(first["creation_time"].astimezone(UTC))
    outer["Subject"] = _header_value(f"{subject} [{first['source_type']} {first['source_id']}]")
    outer["X-RC-Thread-Id"] = _header_value(first["thread_id"] or "")
    tokens: dict[str, dict[str, Any]] = {}
    for record in thread_records:
        outer.attach(_message_part(record, subject, tokens if files else None))
    rendered = outer.as_bytes()
    written = []
    with path.open("wb") as handle:
        rest = rendered
        for token, file in tokens.items():
            before, found, rest = rest.partition(token.encode("ascii"))
            if not found:
                raise RuntimeError("an attachment part was lost while rendering the thread")
            handle.write(before)
            _write_base64(
                handle, store, files[(file["source_id"], file["content_id"], file["attachment_id"])]
            )
            written.append(file)
        handle.write(rest)
    return written


def _write_base64(handle: Any, store: Any, file: ArchivedFile) -> None:
    """The file's bytes as base64 lines of 76 characters, streamed (57 input bytes a line)."""
    pending = bytearray()
    started = False

    def write(data: bytes) -> None:
        nonlocal started
        pending.extend(data)
        whole = len(pending) - len(pending) % 57
        if whole:
            if started:
                handle.write(b"\n")
            handle.write(base64.encodebytes(bytes(pending[:whole])).rstrip(b"\n"))
            started = True
            del pending[:whole]

    stream_blob(store, file, write)
    if pending:
        if started:
            handle.write(b"\n")
        handle.write(base64.encodebytes(bytes(pending)).rstrip(b"\n"))


def export(
    conn: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    source: str | None = None,
    thread: str | None = None,
    identity: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    fmt: str = "csv",
    store: Any = None,
    settings: Settings | None = None,
    certificates: tuple[Path, ...] | list[Path] = (),
) -> ExportReport:
    """Produce the selected messages into `out_dir` (new, or empty) + manifest.json.

    Raises ExportSelectionError (one line) for an id that is not an id or that no archived
    message has or a period that ends before it starts, and FileExistsError for a non-empty
    `out_dir`. The files are written into a hidden sibling directory, renamed to `out_dir` once
    complete and removed on any failure.
    `store` is the archive the attachment bytes are read from (default: the archive the
    catalog reads, opened with `settings`; None: the defaults, S3 through the AWS credential
    chain). `certificates` (signed certificate files) are copied into proofs/certificates/.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    source, thread, identity = _checked_filters(source, thread, identity)
    check_period(from_, to)
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
    files = _attachment_files(conn, records)
    columns.append("attachment_files")
    if store is None:  # attachment bytes, and every production's proofs (the log)
        store = _catalog_store(conn, settings or Settings())
    header = {
        "format": "rc-archive/export/1",
        "produced_at": _json_value(datetime.now(UTC)),
        "export_format": fmt,
        **_provenance(conn),
        "filters": _json_value(
            {"source": source, "thread": thread, "identity": identity, "from": from_, "to": to}
        ),
        "query": {"sql": sql, "parameters": _json_value(params)},
    }

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        if fmt == "kit":
            from pipelines.query.examiner_kit import write_kit

            selectors = {
                "source": source,
                "thread": thread,
                "identity": identity,
                "from_": from_,
                "to": to,
            }
            proofs: list = []
            kit = write_kit(
                staging,
                records,
                conn,
                selectors,
                header,
                store,
                add_files=lambda folder: proofs.append(
                    _write_proofs(folder, conn, records, store, certificates)
                ),
            )
            produced, threads, attachments = kit.files, kit.threads, kit.attachments
            proven = proofs[0]
        else:
            produced, threads, attachments = _write_production(
                staging, records, columns, fmt, store, files, conn
            )
            proven = _write_proofs(staging, conn, records, store, certificates)
        manifest = {
            **header,
            "rows": len(records),
            "threads": threads,
            "files": produced,
            "attachments": attachments,
            "attachments_missing": sum(a["status"] == "missing" for a in attachments),
            "proofs": {
                "versions_proven": proven.proven,
                "versions_unproven": proven.unproven,
                "sources": proven.sources,
                # a kit lists its proofs among `files` (every file of the folder)
                "files": [] if fmt == "kit" else [file_entry(p, staging, 0) for p in proven.files],
                "verify": "python verify_proof.py <this folder> --log-key LOG.vkey "
                "--witness-key WITNESS.vkey ...",
            },
        }
        if fmt == "kit":
            manifest["kit"] = kit.counts
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


def _write_proofs(
    out: Path,
    conn: duckdb.DuckDBPyConnection,
    records: list[dict[str, Any]],
    store: Any,
    certificates: list[Path],
) -> ProofSummary:
    """proofs/ for every archived version of the produced messages (pipelines/integrity/
    transparency.py): each against its source's newest cosigned checkpoint. Reads each
    produced source's log once (every committed contents file, two columns)."""
    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.transparency import ProducedVersion, write_proofs

    rows = conn.execute(
        "SELECT DISTINCT id, source_id, record_sha256, raw_json FROM contents "
        "WHERE id IN (SELECT unnest($ids)) ORDER BY source_id, id, record_sha256",
        {"ids": sorted({record["id"] for record in records})},
    ).fetchall()
    versions = [ProducedVersion(*row) for row in rows]
    return write_proofs(out, versions, Ledger(store), certificates)


def _catalog_store(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Any:
    """The archive the catalog's views read (the root `connect` resolved), as a store opened
    with `settings`."""
    from pipelines.archive.store import open_store

    root = conn.execute(f"SELECT getvariable('{ARCHIVE_ROOT_VARIABLE}')").fetchone()[0]
    if not root:
        raise RuntimeError("the audit connection names no archive root; cannot read attachments")
    return open_store(root.rstrip("/"), settings)


def _attachment_files(
    conn: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]
) -> dict[tuple[str, str, str], ArchivedFile]:
    """Give each record its `attachment_files` (one entry per listed attachment: archived with
    its SHA-256, or missing); returns the archived files by (source, content, attachment)."""
    with_files = [(r["source_id"], r["id"]) for r in records if r["attachments"]]
    found = archived_files(conn, with_files) if with_files else {}
    for record in records:
        entries = []
        for attachment in record["attachments"] or []:
            key = (record["source_id"], record["id"], attachment.get("id"))
            file = found.get(key)
            entries.append(
                {
                    "source_id": record["source_id"],
                    "content_id": record["id"],
                    "attachment_id": attachment.get("id"),
                    "filename": attachment.get("filename"),
                    "content_type": attachment.get("content_type"),
                    "declared_size": attachment.get("size"),
                    "status": "archived" if file else "missing",
                    "sha256": file.sha256 if file else None,
                    "bytes": file.size if file else None,
                    "native": None,
                }
            )
        record["attachment_files"] = entries
    return found


def _write_natives(
    out: Path, records: list[dict[str, Any]], store: Any, files: dict
) -> list[dict[str, Any]]:
    """Each distinct archived file once as natives/<sha256>, streamed from the store; the rows'
    entries get their native path. Returns the load file's entries for the natives."""
    produced: dict[str, dict[str, Any]] = {}
    for record in records:
        for entry in record["attachment_files"]:
            if entry["status"] != "archived":
                continue
            sha256 = entry["sha256"]
            entry["native"] = f"natives/{sha256}"
            if sha256 in produced:
                continue
            file = files[(entry["source_id"], entry["content_id"], entry["attachment_id"])]
            produced[sha256] = write_native(out, entry["native"], store, file)
    return [produced[sha] for sha in sorted(produced)]


def write_native(out: Path, relative: str, store: Any, file: ArchivedFile) -> dict[str, Any]:
    """Copy one archived file's bytes from the store to `out/relative`, streamed and checked
    against its archived SHA-256 on the way (`stream_blob`); returns its load-file entry."""
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        stream_blob(store, file, handle.write)
    return file_entry(path, out, 0)


def attachment_entries(records: list[dict[str, Any]], where: dict) -> list[dict[str, Any]]:
    """The load file's `attachments`: every listed attachment of the produced messages."""
    entries = []
    for record in records:
        for entry in record["attachment_files"]:
            listed = {k: v for k, v in entry.items() if k != "native"}
            if where.get("fmt") in ("eml", "rsmf"):
                listed["file"] = where.get((entry["source_id"], entry["content_id"]))
                if entry["status"] != "archived":
                    listed["file"] = None
            else:
                listed["native"] = entry["native"]
            entries.append(listed)
    return entries


def _write_production(
    out: Path,
    records: list[dict[str, Any]],
    columns: list[str],
    fmt: str,
    store: Any = None,
    files: dict | None = None,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """Write the records as `fmt` into `out`: the load file's file entries, the thread count
    and the load file's attachment entries."""
    files = files or {}
    produced: list[dict[str, Any]] = []
    where: dict[Any, Any] = {"fmt": fmt}
    threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        threads.setdefault((record["source_id"], record["thread_id"]), []).append(record)
    if fmt in ("csv", "jsonl"):
        natives = _write_natives(out, records, store, files)
        rows = [_row_value(record) for record in records]
    if fmt == "csv":
        path = out / "messages.csv"
        _write_csv(path, rows, columns)
        produced.append(file_entry(path, out, len(records)))
        produced += natives
    elif fmt == "jsonl":
        path = out / "messages.jsonl"
        _write_jsonl(path, rows)
        produced.append(file_entry(path, out, len(records)))
        produced += natives
    elif fmt == "rsmf":
        versions = _versions(conn, records) if conn is not None else {}
        (out / "threads").mkdir()
        for (source_id, thread_id), thread_records in sorted(threads.items()):
            name = rsmf_file_name(thread_file_name(source_id, thread_id or ""))
            path = out / "threads" / name
            if path.exists():  # a 48-bit hash collision: never overwrite a produced file
                raise RuntimeError(f"two threads map to the file name {path.name}; not exported")
            events, _ = write_rsmf(
                path,
                thread_records,
                versions,
                generator=f"rc-archive {_tool_version()}",
                store=store,
                files=files,
            )
            for record in thread_records:
                where[(record["source_id"], record["id"])] = path.relative_to(out).as_posix()
            produced.append({**file_entry(path, out, len(thread_records)), "events": events})
    else:
        (out / "threads").mkdir()
        for (source_id, thread_id), thread_records in sorted(threads.items()):
            path = out / "threads" / thread_file_name(source_id, thread_id or "")
            if path.exists():  # a 48-bit hash collision: never overwrite a produced file
                raise RuntimeError(f"two threads map to the file name {path.name}; not exported")
            # Without archived files the call is the plain two-argument one.
            _write_eml(path, thread_records, **({"store": store, "files": files} if files else {}))
            for record in thread_records:
                where[(record["source_id"], record["id"])] = path.relative_to(out).as_posix()
            produced.append(file_entry(path, out, len(thread_records)))
    return produced, len(threads), attachment_entries(records, where)


def _versions(
    conn: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every archived version of the produced messages, oldest first (RSMF `edits`)."""
    ids = sorted({record["id"] for record in records})
    rows = conn.execute(
        "SELECT source_id, id, body, last_modified_time FROM contents "
        "WHERE id IN (SELECT unnest($ids)) "
        "ORDER BY source_id, id, last_modified_time NULLS FIRST, archived_at, batch_id",
        {"ids": ids},
    ).fetchall()
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for source_id, content_id, body, modified in rows:
        versions.setdefault((source_id, content_id), []).append(
            {"body": body, "last_modified_time": modified}
        )
    return versions


def _row_value(record: dict[str, Any]) -> dict[str, Any]:
    """The record as a CSV/JSONL row: `attachment_files` without the internal source key."""
    files = [
        {k: v for k, v in entry.items() if k != "source_id"} for entry in record["attachment_files"]
    ]
    return {**record, "attachment_files": files}
