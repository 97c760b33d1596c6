"""Helpers of the console tests: a small real archive (sandbox over HTTP) with supervision
flags, an edited and a deleted message, archived attachments and its catalog; the console's
three users; a console server on 127.0.0.1; signing in through the real login form.

`build_console_archive` is shared by the HTTP tests and the browser tests.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from console.app import ConsoleServer, create_app
from console.users import UsersFile
from pipelines.archive.store import LocalStore, ObjectStore
from pipelines.attachments.sync import archived_attachment_table
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.governance.policies import PolicySet, parse_policies
from pipelines.settings import ConsoleSettings, Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from tests.attachments.support import archive_attachments, one_source_sandbox
from tests.sync.support import client_for

PASSWORD = "correct horse battery staple"
USERS = {"rita": "reviewer", "rob": "reviewer", "adam": "auditor", "ada": "admin"}
EDITED_BODY = "edited after it was archived, please review"
# Every message with "review" (the edit above, the replies) is flagged; one in five agent
# messages is drawn for routine review.
POLICIES = {
    "policies": [
        {"name": "review-word", "terms": ["review"]},
        {"name": "routine", "sample_rate": 0.2},
    ]
}


def build_console_archive(tmp: Path) -> dict[str, Any]:
    """A local archive of one sandbox source (120 messages), crawled three times around an edit,
    a reply and a remote deletion in one thread that has an attachment, with its attachments
    captured and its catalog built. Returns the paths and the ids the tests look for."""
    policies = PolicySet(parse_policies(POLICIES))
    sync = ContentsSyncSettings(policies=policies)
    with one_source_sandbox(tmp, contents=120) as (sb, ledger, source_id):

        def crawl(run_id: str) -> None:
            with client_for(sb) as client:
                sync_contents(client, ledger, source_id, run_id=run_id, settings=sync)

        crawl("run-1")
        contents = sorted(sb.world.all_contents(source_id), key=lambda c: c["creationTime"])
        with_attachment = next(c for c in contents if c["attachments"])
        thread_id = with_attachment["threadId"]
        in_thread = [c for c in contents if c["threadId"] == thread_id]
        edited = in_thread[0]["id"]
        sb.world.edit_content(edited, body=EDITED_BODY)
        reply = sb.world.reply(edited, body="a reply, under review")
        deleted = sb.world.reply(edited, body="soon deleted")
        crawl("run-2")
        sb.world.delete_remotely(deleted)
        crawl("run-3")
        archive_attachments(sb, ledger, source_id)
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    in_thread_ids = {c["id"] for c in in_thread}
    attachment = next(r for r in rows if r["content_id"] in in_thread_ids)
    audit_db = tmp / "audit.duckdb"
    build_catalog(ledger.store, str(audit_db), Settings())
    # Read now, before any console of this process holds the catalog (one DuckDB instance per
    # file and process; a console's connection locks its configuration).
    flags = _catalog_rows(audit_db, "SELECT record_sha256, thread_id FROM flags ORDER BY 1")
    threads = _catalog_rows(audit_db, "SELECT DISTINCT thread_id FROM messages ORDER BY 1")
    return {
        "tmp": tmp,
        "root": Path(ledger.store.root),
        "audit_db": audit_db,
        "source_id": source_id,
        "thread_id": thread_id,
        "edited": edited,
        "reply": reply,
        "deleted": deleted,
        "attachment": {
            "content_id": attachment["content_id"],
            "id": attachment["id"],
            "sha256": attachment["sha256"],
            "object_key": attachment["object_key"],
        },
        "flags": flags,
        "threads": [thread for (thread,) in threads],
    }


def write_users(path: Path, users: dict[str, str] = USERS, password: str = PASSWORD) -> Path:
    users_file = UsersFile(path)
    for name, role in users.items():
        users_file.add(name, role, password)
    return path


def console_settings(archive: dict[str, Any], tmp: Path, **console: Any) -> Settings:
    """Settings of a console over the test archive, its exports in `tmp`."""
    return Settings(
        archive_uri=str(archive["root"]),
        audit_db=str(archive["audit_db"]),
        console=replace(ConsoleSettings(exports_dir=str(tmp / "exports")), **console),
    )


@contextmanager
def running_console(
    settings: Settings,
    users_file: Path,
    *,
    store: ObjectStore | None = None,
    clock: Callable[[], float] | None = None,
) -> Iterator[ConsoleServer]:
    extra: dict[str, Any] = {"store": store}
    if clock is not None:
        extra["clock"] = clock
    with ConsoleServer(create_app(settings, users_file, **extra)) as server:
        yield server


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form as a browser does (GET /login for its token, then POST)."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf": csrf_of(form.text)},
    )


@contextmanager
def signed_in(server: ConsoleServer, name: str) -> Iterator[httpx.Client]:
    """A client signed in as `name` (redirects not followed: the tests look at them)."""
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as client:
        answer = login(client, name)
        assert answer.status_code == 303, answer.text
        yield client


def page_csrf(client: httpx.Client, path: str = "/") -> str:
    """The session's CSRF token, from a page that shows the sign-out form."""
    answer = client.get(path, follow_redirects=True)
    return csrf_of(answer.text)


def access_events(root: Path) -> list[dict[str, Any]]:
    """The archive's access events, in chain order (days, then seq)."""
    return [json.loads(p.read_bytes()) for p in sorted((root / "_access").glob("*/*.json"))]


class RefusingTrailStore(LocalStore):
    """Fault injection: the archive as it is, except that writing the access trail is refused
    (as an S3 bucket policy denying PutObject under _access/ would)."""

    def put(self, key: str, data: bytes, *, content_type: str):
        if key.startswith("_access/"):
            raise PermissionError(13, "access denied (fault injection)", key)
        return super().put(key, data, content_type=content_type)


def _catalog_rows(audit_db: Path, sql: str) -> list[tuple]:
    with connect(audit_db, Settings()) as conn:
        return conn.execute(sql).fetchall()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
