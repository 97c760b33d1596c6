"""The auditor's reading pages: search, a thread with every version of its messages, and an
attachment's archived bytes.

Each is one access event (console.audit): the search with its terms and filters and the hits
shown, the thread with its ids and messages, the download with the file's SHA-256 and size.
The text shown is customers' and agents' text: it is escaped as HTML and its control and
bidi characters are shown as visible escapes (pipelines/query/terminal_text.py), so a message
can neither run in the page nor disguise what it says.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from console.routing import Page, PageError, PageRequest
from console.templates import e, timestamp
from console.thread_versions import Version, thread_versions
from pipelines.query.attachment_files import ArchivedFile, archived_files, stream_blob
from pipelines.query.search import SearchHit, search
from pipelines.query.terminal_text import terminal_safe, terminal_safe_lines
from pipelines.query.transcript import TranscriptLine, thread_transcript

SHOWN_HITS = 50
# With filters, this many best hits are asked for and then filtered.
FILTERED_HITS = 1000
MAX_ID_CHARS = 256
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,256}$")
SPOOL_BYTES = 8 << 20
CHUNK = 1 << 16

ATTACHMENT_ROW = """
SELECT source_id, filename
FROM internal._src_attachments
WHERE content_id = $content_id AND id = $attachment_id
ORDER BY archived_at DESC, batch_id DESC LIMIT 1
"""
THREAD_FLAGGED = """
SELECT count(*) FROM internal._src_flags WHERE source_id = $source_id AND thread_id = $thread_id
"""


def checked_id(value: str, what: str) -> str:
    if not ID_PATTERN.match(value or ""):
        raise PageError(400, f"{what} {value[:60]!r} is not an id")
    return value


def parse_moment(text: str, name: str, *, end: bool = False) -> datetime | None:
    """A date (YYYY-MM-DD) or ISO-8601 time, in UTC; a date `end` means the end of that day."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PageError(400, f"{name} {text[:40]!r}: expected a date (YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment


# -- search -------------------------------------------------------------------------------------


def _hits(page: PageRequest, terms: str, limit: int) -> list[SearchHit]:
    """The best `limit` versions for `terms` (the index refreshed first, as `rc-archive search`
    does, so a disposed version is never found)."""
    with page.console.search_index() as index:
        return search(index, terms, limit)


def _matches(hit: SearchHit, filters: dict[str, Any]) -> bool:
    if filters["source"] and hit.source_id != filters["source"]:
        return False
    person = filters["person"]
    if person and person.casefold() not in (hit.author_name or "").casefold():
        return False
    created = hit.creation_time
    if isinstance(created, datetime):
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if filters["from"] and created < filters["from"]:
            return False
        if filters["to"] and created >= filters["to"]:
            return False
    return True


def _search_form(values: dict[str, str]) -> str:
    def field(name: str, label: str, kind: str = "text") -> str:
        return (
            f'<label>{e(label)} <input type="{kind}" name="{name}" value="{e(values[name])}">'
            "</label>"
        )

    return (
        '<form id="search-form" class="inline" method="get" action="/search">'
        + field("q", "Words", "search")
        + field("source", "Source id")
        + field("person", "Person")
        + field("from", "From", "date")
        + field("to", "To", "date")
        + '<button id="search-submit" type="submit">Search</button></form>'
    )


def _hit_html(hit: SearchHit) -> str:
    link = ""
    if hit.thread_id:
        href = f"/thread/{quote(hit.source_id, safe='')}/{quote(hit.thread_id, safe='')}"
        link = f'<a class="hit-thread" href="{e(href)}">thread {e(hit.thread_id)}</a> '
    meta = " · ".join(
        part
        for part in (
            timestamp(hit.creation_time),
            terminal_safe(hit.author_name or "unknown author"),
            f"source {hit.source_id}",
            f"score {hit.score}",
        )
        if part
    )
    return (
        f'<div class="hit" data-content-id="{e(hit.id)}">{link}'
        f'<span class="meta">{e(meta)}</span>'
        f'<p class="snippet">{e(terminal_safe(hit.snippet))}</p></div>'
    )


def search_page(page: PageRequest) -> Response:
    values = {name: page.arg(name) for name in ("q", "source", "person", "from", "to")}
    form = _search_form(values)
    if not any(values.values()):  # the form alone: a page view, on the trail like any other
        page.log("search", values, lambda: (None, {"rows": 0}))
        return page.page("Search", form + '<p class="empty">Give the words to search for.</p>')
    if not values["q"]:
        raise PageError(400, "give the words to search for")
    filters = {
        "source": values["source"],
        "person": values["person"],
        "from": parse_moment(values["from"], "from"),
        "to": parse_moment(values["to"], "to", end=True),
    }
    filtered = any(filters.values())

    def work() -> tuple[list[SearchHit], dict[str, Any]]:
        found = _hits(page, values["q"], FILTERED_HITS if filtered else SHOWN_HITS)
        shown = [hit for hit in found if _matches(hit, filters)][:SHOWN_HITS]
        return shown, {"rows": len(shown)}

    hits = page.log("search", values, work)
    if hits:
        results = f'<section id="results">{"".join(_hit_html(hit) for hit in hits)}</section>'
    else:
        results = '<section id="results"><p class="empty">No message matches.</p></section>'
    count = f"<p>{len(hits)} hit(s), best first.</p>" if hits else ""
    return page.page("Search", form + count + results)


# -- thread -------------------------------------------------------------------------------------


def _body_html(text: str | None) -> str:
    if text is None:
        return '<div class="body empty">(no body)</div>'
    return f'<div class="body">{e(chr(10).join(terminal_safe_lines(text)))}</div>'


def _version_html(version: Version) -> str:
    parts = [f"version {version.number}", version.kind]
    if version.last_modified_time is not None:
        parts.append(f"modified {timestamp(version.last_modified_time)}")
    if version.archived_at is not None:
        parts.append(f"archived {timestamp(version.archived_at)}")
    if version.status:
        parts.append(f"status {version.status}")
    if version.deleted:
        parts.append("deleted on the channel")
    return (
        f'<li class="version" data-version-kind="{e(version.kind)}" '
        f'data-record-sha256="{e(version.record_sha256)}">'
        f'<div class="meta">{e(" · ".join(parts))}</div>{_body_html(version.body)}</li>'
    )


def _attachments_html(line: TranscriptLine, newest: Version, links: bool) -> str:
    items = []
    for index, attachment in enumerate(newest.attachments):
        label = line.attachments[index] if index < len(line.attachments) else "attachment"
        status = line.attachment_status[index] if index < len(line.attachment_status) else ""
        attachment_id = str(attachment.get("id") or "")
        text = e(terminal_safe(label))
        if links and attachment_id:
            href = f"/attachment/{quote(line.content_id, safe='')}/{quote(attachment_id, safe='')}"
            text = f'<a class="attachment" href="{e(href)}">{text}</a>'
        else:
            text = f'<span class="attachment-name">{text}</span>'
        items.append(f'<li>{text} <span class="meta">{e(status)}</span></li>')
    return f'<ul class="attachments">{"".join(items)}</ul>' if items else ""


def _message_html(line: TranscriptLine, versions: list[Version], links: bool) -> str:
    who = terminal_safe(line.author) if line.author else "unknown author"
    if line.agent:
        who += f" (agent {terminal_safe(line.agent)})"
    marks = []
    if line.edited:
        marks.append(f"edited, {line.versions_seen} versions")
    if line.deleted:
        marks.append("deleted on the channel")
    meta = " · ".join([timestamp(line.time), line.direction or "unknown direction", who])
    mark_html = "".join(f' <span class="mark">{e(mark)}</span>' for mark in marks)
    return (
        f'<article class="message" data-content-id="{e(line.content_id)}">'
        f'<div class="meta">{e(meta)}{mark_html}</div>'
        f'<ol class="versions">{"".join(_version_html(v) for v in versions)}</ol>'
        f"{_attachments_html(line, versions[-1], links)}</article>"
    )


def thread_page(page: PageRequest) -> Response:
    source_id = checked_id(page.params["source_id"], "source")
    thread_id = checked_id(page.params["thread_id"], "thread")
    console = page.console
    if page.role == "reviewer":
        with console.catalog() as conn:
            flagged = conn.execute(
                THREAD_FLAGGED, {"source_id": source_id, "thread_id": thread_id}
            ).fetchone()[0]
        if not flagged:
            raise PageError(403, "A reviewer opens only the threads that hold a flagged message.")

    def work() -> tuple[str, dict[str, Any]]:
        with console.catalog() as conn:
            lines = thread_transcript(conn, thread_id)
            versions = thread_versions(conn, source_id, thread_id)
        shown = [line for line in lines if line.content_id in versions]
        if not shown:
            raise LookupError(f"no thread {thread_id} of source {source_id} in the audit catalog")
        links = page.role == "auditor"
        body = "".join(_message_html(line, versions[line.content_id], links) for line in shown)
        return body, {"rows": len(shown)}

    arguments = {"source_id": source_id, "thread_id": thread_id}
    timeline = page.log("thread", arguments, work)
    intro = f"<p>Source {e(source_id)}. Every archived version of each message, oldest first.</p>"
    return page.page(f"Thread {thread_id}", f'{intro}<section id="timeline">{timeline}</section>')


# -- attachment ---------------------------------------------------------------------------------


def _safe_filename(name: str | None, fallback: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", name or "").strip(" .") or fallback
    return cleaned[:150]


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while True:
            data = handle.read(CHUNK)
            if not data:
                break
            yield data
    finally:
        handle.close()


def attachment_download(page: PageRequest) -> Response:
    content_id = checked_id(page.params["content_id"], "message")
    attachment_id = checked_id(page.params["attachment_id"], "attachment")
    console = page.console

    def work() -> tuple[tuple[IO[bytes], ArchivedFile, str], dict[str, Any]]:
        with console.catalog() as conn:
            row = conn.execute(
                ATTACHMENT_ROW, {"content_id": content_id, "attachment_id": attachment_id}
            ).fetchone()
            if row is None:
                raise LookupError(
                    f"attachment {attachment_id} of message {content_id} is not archived"
                )
            source_id, filename = row
            found = archived_files(conn, [(source_id, content_id)])
        file = found.get((source_id, content_id, attachment_id))
        if file is None:
            raise LookupError(f"attachment {attachment_id} of message {content_id} is not archived")
        # The bytes are checked against their SHA-256 before any is sent (stream_blob raises
        # BlobMismatch after reading them all): a download never differs from what was archived.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (streamed)
        try:
            stream_blob(console.store, file, spool.write)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        outcome = {
            "rows": 1,
            "attachment": {
                "source_id": source_id,
                "sha256": file.sha256,
                "bytes": file.size,
                "object_key": file.object_key,
            },
        }
        return (spool, file, _safe_filename(filename, attachment_id)), outcome

    arguments = {"content_id": content_id, "attachment_id": attachment_id}
    spool, file, filename = page.log("attachment", arguments, work)
    return StreamingResponse(
        _chunks(spool),
        media_type="application/octet-stream",
        headers={
            "content-length": str(file.size),
            "content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "x-content-sha256": file.sha256,
        },
    )


AUDITOR = frozenset({"auditor"})
PAGES = (
    Page("/search", search_page, roles=AUDITOR),
    Page("/thread/{source_id}/{thread_id}", thread_page, roles=frozenset({"auditor", "reviewer"})),
    Page("/attachment/{content_id}/{attachment_id}", attachment_download, roles=AUDITOR),
)
