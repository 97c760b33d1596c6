"""The pieces of the browser tests of the console: a real archive, its users, the console as a
child process and Debian's Chromium driven by Playwright.

Why a real browser on top of the HTTP tests: a page that renders, a form a person can submit
(hidden CSRF field, redirects, the session cookie under SameSite=Strict and the CSP) and a file
the browser saves are only proven by a browser doing them.

The archive is made the way the product makes one: the sandbox API over HTTP, contents synced
with supervision policies (so the review queue holds flags), identities and agents, attachment
files captured, one message edited on the channel and synced again (a second version), then the
catalog built. Nothing is mocked; the console reads exactly what `rc-archive console` would.

Playwright drives /usr/bin/chromium (Debian's package, `make chromium`) and never downloads a
browser. The flags keep Chromium off the network: on a closed machine its background requests
(component updates, sync, QUIC probes) wait on refused connections and stall the first page.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore, open_store
from pipelines.attachments.fetch import FetchSettings
from pipelines.attachments.sync import (
    AttachmentsSyncSettings,
    archived_attachment_table,
    sync_attachments,
)
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.governance.access_trail import iter_events
from pipelines.governance.policies import PolicySet, parse_policies
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.settings import Settings
from pipelines.sync.agents import sync_agents
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.sync.identities import sync_identities
from sandbox import files
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.fixtures.sandbox import SESSION_CONFIG

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Generous: two cores shared with other test workers; every wait is on an element or a
# response, never a fixed sleep, so a fast machine does not wait this long.
TIMEOUT_MS = 60_000
CONSOLE_START_SECONDS = 90

# The message the tests follow: found by a search, flagged by a policy, edited on the channel,
# with files attached. "quokka" is in no corpus text, so a search for it finds this thread only.
TERM = "quokka"
BODY_BEFORE = "The quokka lamp I ordered arrived crushed, photos attached"
BODY_AFTER = "The quokka lamp I ordered arrived crushed and scratched, photos attached"
POLICIES = {
    "policies": [
        {"name": "damage", "terms": ["crushed"]},
        {"name": "billing", "terms": ["charged twice", "refund"]},
    ]
}
FAST_DOWNLOADS = AttachmentsSyncSettings(
    downloads_per_second=0, fetch=FetchSettings(backoff_seconds=0.01, attempts=4)
)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password: str


@dataclass(frozen=True)
class ConsoleArchive:
    """A built archive and what the tests know about it from the sandbox, not the console."""

    root: Path
    audit_db: Path
    env: dict[str, str]
    source_id: str
    thread_id: str  # the followed message's thread
    content_id: str  # the followed message (edited once)
    attachment_id: str  # one of its files
    attachment_bytes: bytes  # that file as the channel served it
    unflagged_thread_id: str  # a thread with no flag: not the reviewer's to read
    flagged_thread_ids: frozenset[str]
    followed_flag_ids: tuple[str, ...]  # the flags of the followed message (one per version)
    message_texts: tuple[str, ...]  # every distinct body archived, to prove a page shows none


@dataclass(frozen=True)
class Site:
    """The running console, its archive and users, and the browser."""

    base_url: str
    archive: ConsoleArchive
    users: dict[str, User]  # by role
    browser: Browser


def _archive_all(sb: SandboxServer, ledger: Ledger, source_id: str, run_id: str) -> None:
    settings = ContentsSyncSettings(policies=PolicySet(parse_policies(POLICIES)))
    with RingCentralClient(ClientSettings.from_env(sb.env)) as client:
        sync_contents(client, ledger, source_id, run_id=run_id, settings=settings)
        sync_identities(client, ledger, source_id, run_id=run_id)
        sync_agents(client, ledger, source_id, run_id=run_id)
        sync_attachments(client, ledger, source_id, run_id=run_id, settings=FAST_DOWNLOADS)


def build_console_archive(tmp: Path) -> ConsoleArchive:
    """Archive a small sandbox account into `tmp/archive` and build `tmp/audit.duckdb`."""
    config = {**SESSION_CONFIG, "contents": 200, "sources": 1, "attachments": "light"}
    with SandboxServer(SandboxConfig(**config)) as sb:
        source_id = sb.world.source_ids[0]
        content_id = sb.world.add_content(source_id, body=BODY_BEFORE, with_attachments=True)
        sb.world.reply(content_id, body="Sorry to hear that, a replacement is on its way")
        ledger = Ledger(open_store(str(tmp / "archive"), Settings()))
        _archive_all(sb, ledger, source_id, "run-1")
        sb.world.edit_content(content_id, body=BODY_AFTER)
        _archive_all(sb, ledger, source_id, "run-2")
        served = {c["id"]: c for c in sb.world.all_contents(source_id)}
        attachment = served[content_id]["attachments"][0]
        spec = sb.world.attachment(attachment["id"])
        expected_sha = files.blob_sha256(sb.cfg.seed, spec)
    stored = {row["id"]: row for row in archived_attachment_table(ledger, source_id).to_pylist()}[
        attachment["id"]
    ]
    assert stored["sha256"] == expected_sha, "the archive holds other bytes than the channel's"
    attachment_bytes = ledger.store.get(stored["object_key"])

    root, audit_db = tmp / "archive", tmp / "audit.duckdb"
    build_catalog(root, audit_db, Settings())
    with connect(audit_db, Settings(), read_only=True) as conn:
        flagged = {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM flags").fetchall()}
        followed = conn.execute(
            "SELECT record_sha256 FROM flags WHERE content_id = $id ORDER BY 1", {"id": content_id}
        ).fetchall()
        threads = {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM messages").fetchall()}
        bodies = conn.execute("SELECT DISTINCT body FROM contents WHERE body IS NOT NULL")
        texts = {r[0] for r in bodies.fetchall()}
    thread_id = served[content_id]["threadId"]
    assert thread_id in flagged and threads - flagged, "the policies flag some threads, not all"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update({"ARCHIVE_URI": str(root), "AUDIT_DB": str(audit_db)})
    env.pop("RC_ARCHIVE_USER", None)
    return ConsoleArchive(
        root=root,
        audit_db=audit_db,
        env=env,
        source_id=source_id,
        thread_id=thread_id,
        content_id=content_id,
        attachment_id=attachment["id"],
        attachment_bytes=attachment_bytes,
        unflagged_thread_id=sorted(threads - flagged)[0],
        flagged_thread_ids=frozenset(flagged),
        followed_flag_ids=tuple(r[0] for r in followed),
        message_texts=tuple(sorted(texts)),
    )


def rc_archive(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the `rc-archive` command as an operator would; its output (fails on a non-zero exit)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("rc-archive")), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"rc-archive {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


def add_users(archive: ConsoleArchive) -> dict[str, User]:
    """One console user per role, each with a fresh password given on standard input."""
    users = {
        role: User(name, role, secrets.token_urlsafe(18))
        for role, name in (
            ("reviewer", "rita.reviewer"),
            ("auditor", "aldo.auditor"),
            ("admin", "ada.admin"),
        )
    }
    for user in users.values():
        rc_archive(
            archive.env,
            "users",
            "add",
            user.name,
            "--role",
            user.role,
            "--password-stdin",
            stdin=user.password + "\n",
        )
    return users


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_console(archive: ConsoleArchive, log: Path) -> Iterator[str]:
    """`rc-archive console` in its own process group; its base URL once it answers. Stopped
    (the whole group) on the way out, whatever happened."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("rc-archive")),
                "console",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=archive.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, base_url, log)
        yield base_url
    finally:
        _stop(process)


def _wait_until_serving(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + CONSOLE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the console exited ({process.returncode}): {log.read_text()}")
        try:
            if httpx.get(f"{base_url}/login", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the console did not answer on {base_url}: {log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless and off the network."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def console_site(tmp: Path) -> Iterator[Site]:
    """Everything the browser tests need, built in `tmp` and torn down in reverse order."""
    archive = build_console_archive(tmp)
    users = add_users(archive)
    expect.set_options(timeout=TIMEOUT_MS)
    with running_console(archive, tmp / "console.log") as base_url, chromium() as browser:
        yield Site(base_url, archive, users, browser)


@contextmanager
def browser_session(site: Site, viewport: dict[str, int] | None = None) -> Iterator[Page]:
    """A fresh browser context (no cookies) and one page in it, closed on the way out."""
    context: BrowserContext = site.browser.new_context(
        base_url=site.base_url,
        accept_downloads=True,
        viewport=viewport or {"width": 1280, "height": 860},
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, user: User) -> None:
    """Fill and submit the login form; returns once the role's home page has rendered."""
    page.goto("/login")
    page.fill("#login-form input[name=username]", user.name)
    page.fill("#login-form input[name=password]", user.password)
    page.click("#login-submit")
    expect(page.locator("#logout-form")).to_be_attached()


def trail_length(archive: ConsoleArchive) -> int:
    return len(trail_events(archive))


def trail_events(archive: ConsoleArchive, after: int = 0) -> list[dict[str, Any]]:
    """The bodies of the archive's access events, oldest first, from the `after`-th on."""
    events = [record.body for record in iter_events(LocalStore(archive.root))]
    return events[after:]


def shown_message_texts(page: Page, archive: ConsoleArchive) -> list[str]:
    """The archived message bodies that the page's text holds (none on a refused page)."""
    text = page.locator("body").inner_text()
    return [body for body in archive.message_texts if len(body) >= 12 and body in text]
