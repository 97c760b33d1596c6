"""Helpers of the attachment tests: archive a sandbox source's contents and attachments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.attachments.fetch import FetchSettings
from pipelines.attachments.sync import AttachmentsSyncSettings, sync_attachments
from pipelines.settings import Settings
from pipelines.sync.contents import sync_contents
from sandbox import files
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.fixtures.sandbox import SESSION_CONFIG
from tests.sync.support import client_for

FAST = AttachmentsSyncSettings(
    downloads_per_second=0, fetch=FetchSettings(backoff_seconds=0.01, attempts=4)
)


def archive_contents(sb, ledger, source_id, run_id="run-1"):
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id=run_id)


def archive_attachments(sb, ledger, source_id, run_id="run-1", settings=FAST):
    with client_for(sb) as client:
        return sync_attachments(client, ledger, source_id, run_id=run_id, settings=settings)


def listed_attachments(sb, source_id):
    """(content id, attachment id) -> the attachment as the API lists it."""
    return {
        (c["id"], a["id"]): a for c in sb.world.all_contents(source_id) for a in c["attachments"]
    }


def blob_sha(sb, attachment_id):
    return files.blob_sha256(sb.cfg.seed, sb.world.attachment(attachment_id))


@contextmanager
def one_source_sandbox(tmp: Path, contents: int) -> Iterator[tuple[SandboxServer, Ledger, str]]:
    """A sandbox of one source with `contents` messages and an empty local archive in `tmp`,
    for a module-scoped fixture (the session sandbox is shared and must not be edited)."""
    sb = SandboxServer(SandboxConfig(**{**SESSION_CONFIG, "contents": contents, "sources": 1}))
    sb.start()
    try:
        yield sb, Ledger(open_store(str(tmp / "archive"), Settings())), sb.world.source_ids[0]
    finally:
        sb.stop()
