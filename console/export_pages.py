"""The auditor's productions: an export of a thread, a source or a period as RSMF (or the
review kit, where this version has it), its summary, and its download as one .zip.

The production is `rc-archive export`'s, produced through `logged_export` (its access event
holds every file's SHA-256 before the production is moved into place) into the console's
exports directory (CONSOLE_EXPORTS_DIR), one folder per export with a small `export.json`
saying who asked for what. The download is an access event of its own, naming the zip's
SHA-256; the zip is built from the production's files as they are on disk.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from starlette.responses import Response, StreamingResponse

from console.routing import Page, PageError, PageRequest, redirect
from console.search_pages import checked_id, parse_moment
from console.templates import csrf_input, e, table, timestamp
from pipelines.query import export as export_module
from pipelines.query.access_logged import logged_export, query_fields
from pipelines.query.export import check_selection, export

AUDITOR = frozenset({"auditor"})
EXPORT_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
LISTED = 50
SPOOL_BYTES = 32 << 20
CHUNK = 1 << 16
PRODUCTION = "production"
DESCRIPTION = "export.json"


def offered_formats() -> tuple[str, ...]:
    """The formats the form offers: RSMF, and the review kit when this version has it."""
    return tuple(f for f in ("rsmf", "kit") if f in export_module.FORMATS)


def _exports_dir(page: PageRequest) -> Path:
    return page.console.exports_dir


def _description(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _form(page: PageRequest) -> str:
    csrf = csrf_input(page.session.csrf if page.session else "")
    options = "".join(f'<option value="{e(f)}">{e(f)}</option>' for f in offered_formats())

    def field(name: str, label: str, kind: str = "text") -> str:
        return (
            f'<label for="x-{name}">{e(label)}</label>'
            f'<input id="x-{name}" type="{kind}" name="{name}">'
        )

    return (
        '<form id="export-form" class="stack" method="post" action="/exports">'
        f'{csrf}<label for="x-format">Format</label>'
        f'<select id="x-format" name="format">{options}</select>'
        + field("thread", "Thread id")
        + field("source", "Source id")
        + field("from", "Created from", "date")
        + field("to", "Created to (inclusive)", "date")
        + '<p><button id="export-submit" type="submit">Export</button></p></form>'
    )


def exports_page(page: PageRequest) -> Response:
    root = _exports_dir(page)

    def work() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        found = []
        if root.is_dir():
            for folder in sorted(root.iterdir(), reverse=True):
                if EXPORT_ID.match(folder.name):
                    described = _description(folder)
                    if described:
                        found.append(described)
                if len(found) >= LISTED:
                    break
        return found, {"rows": len(found)}

    listed = page.log("export", {"view": "list"}, work)
    rows = [
        [
            d.get("export_id"),
            timestamp(d.get("created_at")),
            d.get("user"),
            d.get("format"),
            json.dumps(d.get("filters"), sort_keys=True),
            d.get("rows"),
        ]
        for d in listed
    ]
    links = "".join(
        f'<li><a class="export-link" href="/exports/{e(d.get("export_id"))}">'
        f"{e(d.get('export_id'))}</a></li>"
        for d in listed
    )
    recent = (
        "<h2>Recent exports</h2>"
        + table(["export", "created", "by", "format", "filters", "messages"], rows)
        + (f"<ul>{links}</ul>" if links else "")
    )
    return page.page("Exports", _form(page) + recent)


def create(page: PageRequest) -> Response:
    console = page.console
    fmt = page.field("format")
    if fmt not in offered_formats():
        raise PageError(400, f"format {fmt[:20]!r}: expected one of {', '.join(offered_formats())}")
    thread = checked_id(page.field("thread"), "thread") if page.field("thread") else None
    source = checked_id(page.field("source"), "source") if page.field("source") else None
    from_ = parse_moment(page.field("from"), "from")
    to = parse_moment(page.field("to"), "to", end=True)
    check_selection(source, thread, None, from_, to)
    now = datetime.now(UTC)
    export_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"
    folder = _exports_dir(page) / export_id
    filters = {
        "thread": thread,
        "source": source,
        "from": page.field("from") or None,
        "to": page.field("to") or None,
    }
    details = {
        "arguments": {"format": fmt, "export_id": export_id, **filters},
        "console": {"route": page.request.url.path, "client": page.origin.client},
        **query_fields(None, filters, "console export"),
    }

    def produce(staging: Path) -> Any:
        with console.catalog() as conn:
            return export(
                conn,
                staging,
                source=source,
                thread=thread,
                from_=from_,
                to=to,
                fmt=fmt,
                store=console.store,
                settings=console.settings,
            )

    folder.mkdir(parents=True)
    try:
        result = logged_export(
            console.trail_for(page.user), details, str(folder / PRODUCTION), produce
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing was produced into it
        raise
    description = {
        "export_id": export_id,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "user": page.user,
        "format": fmt,
        "filters": filters,
        "rows": result.rows,
        "threads": result.threads,
        "files": len(result.files),
    }
    (folder / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return redirect(f"/exports/{export_id}")


def _folder(page: PageRequest) -> Path:
    export_id = page.params["export_id"]
    if not EXPORT_ID.match(export_id):
        raise PageError(404, "no such export")
    folder = _exports_dir(page) / export_id
    if not (folder / PRODUCTION / "manifest.json").is_file():
        raise PageError(404, "no such export")
    return folder


def export_page(page: PageRequest) -> Response:
    folder = _folder(page)

    def work() -> tuple[tuple[dict[str, Any], dict[str, Any]], dict[str, Any]]:
        manifest = json.loads((folder / PRODUCTION / "manifest.json").read_text(encoding="utf-8"))
        described = _description(folder) or {}
        return (described, manifest), {"rows": manifest.get("rows")}

    described, manifest = page.log("export", {"view": "export", "export_id": folder.name}, work)
    files = [[f.get("path"), f.get("bytes"), f.get("sha256")] for f in manifest.get("files", [])]
    summary = table(
        ["format", "by", "created", "messages", "threads", "attachments missing"],
        [
            [
                manifest.get("export_format"),
                described.get("user"),
                timestamp(described.get("created_at")),
                manifest.get("rows"),
                manifest.get("threads"),
                manifest.get("attachments_missing"),
            ]
        ],
        table_id="export-summary",
    )
    download = (
        f'<p><a id="export-download" href="/exports/{e(folder.name)}/download">'
        "Download the production (.zip)</a></p>"
    )
    return page.page(
        f"Export {folder.name}",
        summary + download + "<h2>Files</h2>" + table(["path", "bytes", "sha256"], files),
    )


def _zip(production: Path) -> tuple[IO[bytes], int, str]:
    """The production as one zip (manifest.json and every file), spooled; (file, size,
    SHA-256)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned open)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(p for p in production.rglob("*") if p.is_file()):
            bundle.write(path, path.relative_to(production).as_posix())
    size = spool.tell()
    spool.seek(0)
    digest = hashlib.sha256()
    while chunk := spool.read(CHUNK):
        digest.update(chunk)
    spool.seek(0)
    return spool, size, digest.hexdigest()


def _chunks(handle: IO[bytes]):
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def download(page: PageRequest) -> Response:
    folder = _folder(page)

    def work() -> tuple[tuple[IO[bytes], int], dict[str, Any]]:
        spool, size, sha256 = _zip(folder / PRODUCTION)
        return (spool, size), {"rows": None, "download": {"bytes": size, "sha256": sha256}}

    spool, size = page.log("export", {"action": "download", "export_id": folder.name}, work)
    return StreamingResponse(
        _chunks(spool),
        media_type="application/zip",
        headers={
            "content-length": str(size),
            "content-disposition": f'attachment; filename="rc-archive-export-{folder.name}.zip"',
        },
    )


PAGES = (
    Page("/exports", exports_page, roles=AUDITOR),
    Page("/exports", create, methods=("POST",), roles=AUDITOR),
    Page("/exports/{export_id}", export_page, roles=AUDITOR),
    Page("/exports/{export_id}/download", download, roles=AUDITOR),
)
