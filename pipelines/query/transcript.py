"""A thread as it stood at a moment: what a regulator asks for ("show this conversation as the
customer saw it on 3 March").

For each message, the version with the greatest last_modified_time at or before `as_of`;
messages created after `as_of` are left out. Later edits and deletions are therefore invisible
in an as-of transcript, and earlier ones are marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from pipelines.query.attachment_files import ArchivedFile, archived_files
from pipelines.query.terminal_text import (
    quoted_name,
    terminal_safe,
    terminal_safe_lines,
    timestamp_text,
)

# Versions of the thread's messages known at $as_of (NULL = now), newest first per message.
# Read from the thread's own files ($keys, from the build's _contents_thread_files) through
# the `contents_in_files` macro, which answers like `contents` for every thread those files
# hold whole: DuckDB opens those few files instead of every committed file.
_THREAD_VERSIONS = """
WITH versions AS (
    SELECT c.*,
        row_number() OVER w AS newest_rank,
        count(*) OVER (PARTITION BY c.source_id, c.thread_id, c.id) AS versions_seen,
        count(DISTINCT c.body) OVER (PARTITION BY c.source_id, c.thread_id, c.id)
            AS distinct_bodies
    FROM internal.contents_in_files($keys) AS c
    WHERE c.thread_id = $thread_id
      AND ($as_of IS NULL OR c.creation_time <= $as_of)
      AND ($as_of IS NULL OR coalesce(c.last_modified_time, c.creation_time) <= $as_of)
    WINDOW w AS (
        PARTITION BY c.source_id, c.thread_id, c.id
        ORDER BY c.last_modified_time DESC NULLS LAST, c.archived_at DESC, c.batch_id DESC)
)
SELECT v.id, v.source_id, v.source_type, v.thread_id, v.creation_time, v.last_modified_time,
       v.direction, v.status,
       coalesce(i.display_name, v.author_display_name) AS author_name,
       coalesce(a.name, v.creator_name) AS agent_name,
       v.body, v.attachments, v.remotely_deleted, v.versions_seen, v.distinct_bodies,
       v.in_reply_to_content_id, v.title
FROM versions AS v
LEFT JOIN identities_latest AS i ON i.id = v.author_identity_id
LEFT JOIN agents AS a ON a.extension_id = v.creator_id
WHERE v.newest_rank = 1
ORDER BY v.creation_time, v.id
"""

# The committed files holding the thread's rows (no row: the thread is not in the catalog).
_THREAD_FILES = """
SELECT list(DISTINCT key ORDER BY key)
FROM internal._contents_thread_files WHERE thread_id = $thread_id
HAVING count(*) > 0
"""


class ThreadNotFound(LookupError):
    """No archived message carries this thread id."""


@dataclass(frozen=True)
class TranscriptLine:
    """One message of a transcript, in the version current at the as-of time."""

    content_id: str
    time: datetime
    source_type: str | None
    direction: str | None
    author: str | None
    agent: str | None
    body: str | None
    attachments: list[str]
    edited: bool
    deleted: bool
    versions_seen: int
    status: str | None
    in_reply_to: str | None
    # Per attachment (same order): whether the archive holds its bytes, e.g.
    # "sha256 1a2b3c4d5e6f7a8b, 2048 bytes stored" or "not archived yet".
    attachment_status: tuple[str, ...] = ()


def _attachment_label(attachment: dict[str, Any]) -> str:
    name = attachment.get("filename") or attachment.get("id") or "attachment"
    kind = attachment.get("content_type") or "unknown type"
    size = attachment.get("size")
    return f"{name} ({kind}{f', {size} bytes' if size is not None else ''})"


SHORT_SHA256 = 16  # hex digits of an attachment's SHA-256 a transcript shows


def _archive_status(found: ArchivedFile | None, known: bool) -> str:
    if not known:
        return "archive status unknown (rebuild the catalog with `rc-archive catalog`)"
    if found is None:
        return "not archived yet"
    return f"sha256 {found.sha256[:SHORT_SHA256]}, {found.size} bytes stored"


def thread_transcript(
    conn: duckdb.DuckDBPyConnection, thread_id: str, as_of: datetime | None = None
) -> list[TranscriptLine]:
    """The thread's messages as they stood at `as_of` (None: as archived now), oldest first."""
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    try:
        files = conn.execute(_THREAD_FILES, {"thread_id": thread_id}).fetchone()
    except duckdb.CatalogException:
        raise RuntimeError(
            "the audit catalog predates the _contents_thread_files table; rebuild it with "
            "`rc-archive catalog`"
        ) from None
    if files is None:
        raise ThreadNotFound(
            f"thread {thread_id!r} is not in the audit catalog; list known threads with "
            '`rc-archive sql "SELECT thread_id, source_type, title FROM threads"` '
            "(or rebuild the catalog if the thread was archived after its last build)"
        )
    cursor = conn.execute(
        _THREAD_VERSIONS, {"thread_id": thread_id, "as_of": as_of, "keys": files[0]}
    )
    columns = [column[0] for column in cursor.description]
    rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    with_files = [(r["source_id"], r["id"]) for r in rows if r["attachments"]]
    try:
        archived, known = archived_files(conn, with_files), True
    except RuntimeError:  # a catalog built before the attachments table
        archived, known = {}, False
    lines = []
    for row in rows:
        listed = row["attachments"] or []
        lines.append(
            TranscriptLine(
                content_id=row["id"],
                time=row["creation_time"],
                source_type=row["source_type"],
                direction=row["direction"],
                author=row["author_name"],
                agent=row["agent_name"],
                body=row["body"],
                attachments=[_attachment_label(a) for a in listed],
                edited=row["distinct_bodies"] > 1,
                deleted=bool(row["remotely_deleted"]),
                versions_seen=row["versions_seen"],
                status=row["status"],
                in_reply_to=row["in_reply_to_content_id"],
                attachment_status=tuple(
                    _archive_status(archived.get((row["source_id"], row["id"], a.get("id"))), known)
                    for a in listed
                ),
            )
        )
    return lines


# A header line: column 0, the message's time, the direction arrow. Every other line a message
# contributes starts with HEADER-free indentation, so this pattern finds exactly one line per
# message (tests parse transcripts with it).
HEADER_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (<-|->|--) ")
BODY_PREFIX = "    | "
DETAIL_PREFIX = "    "


def render_transcript(
    lines: list[TranscriptLine], thread_id: str, as_of: datetime | None = None
) -> str:
    """Plain text, one block per message, edits and deletions marked for the reader.

    The layout is what keeps a transcript trustworthy when bodies are hostile: only the tool
    writes at column 0 (a header per message), every body line is prefixed with `    | ` and
    the tool's own detail lines (`    attachment: `, ending with the archive's SHA-256 and stored
    size of the file or `not archived yet`) with four spaces and no bar, so no body can
    forge a message, an attachment or a mark. Control and bidi characters anywhere (bodies,
    names, titles, ids) are shown as visible escapes (terminal_text), and names are quoted, so
    a name cannot pose as an agent attribution or a mark.
    """
    moment = timestamp_text(as_of) if as_of else "now"
    header = f"Thread {terminal_safe(thread_id)} as of {moment} ({len(lines)} messages)"
    out = [header, "=" * len(header)]
    if not lines:
        out.append("(no messages had been created at that time)")
    for line in lines:
        who = quoted_name(line.author) if line.author else "unknown author"
        if line.agent:
            who += f" [agent: {quoted_name(line.agent)}]"
        arrow = {"inbound": "<-", "outbound": "->"}.get(line.direction or "", "--")
        marks = []
        if line.edited:
            marks.append(f"EDITED ({line.versions_seen} versions)")
        if line.deleted:
            marks.append("DELETED ON CHANNEL")
        direction = terminal_safe(line.direction or "unknown")
        out.append(
            f"{timestamp_text(line.time)} {arrow} {direction} {who}"
            + (f"  [{'; '.join(marks)}]" if marks else "")
        )
        if line.body is None:
            out.append(f"{DETAIL_PREFIX}(no body)")
        else:
            out += [f"{BODY_PREFIX}{text}" for text in terminal_safe_lines(line.body)]
        for index, attachment in enumerate(line.attachments):
            status = line.attachment_status[index] if index < len(line.attachment_status) else ""
            out.append(
                f"{DETAIL_PREFIX}attachment: {terminal_safe(attachment)}"
                + (f"; {status}" if status else "")
            )
    return "\n".join(out)
