"""The audit pack on data archived from the sandbox, against answers computed independently
from the sandbox's own records (what the API serves now), edits and deletions included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query import queries
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.settings import Settings
from pipelines.sync.agents import sync_agents
from pipelines.sync.contents import sync_contents
from pipelines.sync.identities import sync_identities

INBOUND = {"New", "Replied", "Ignored", "Assigned"}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def audited(sandbox_factory_module, tmp_path_factory):
    sb = sandbox_factory_module(contents=900, sources=2)
    root = tmp_path_factory.mktemp("audit-vs-sandbox")
    ledger = Ledger(open_store(str(root / "archive"), Settings()))

    def archive_all(run_id: str) -> None:
        with RingCentralClient(ClientSettings.from_env(sb.env)) as client:
            for source_id in sb.world.source_ids:
                sync_contents(client, ledger, source_id, run_id=run_id)
                sync_identities(client, ledger, source_id, run_id=run_id)
                sync_agents(client, ledger, source_id, run_id=run_id)

    archive_all("run-1")
    first = sorted(sb.world.content_ids(sb.world.source_ids[0]))
    edited, deleted = first[5], first[6]
    sb.world.edit_content(edited, body="edited: the body as it reads now")
    sb.world.delete_remotely(deleted)
    archive_all("run-2")
    build_catalog(ledger.store, root / "audit.duckdb", Settings())
    conn = connect(root / "audit.duckdb", Settings(), read_only=True)
    served = [c for s in sb.world.source_ids for c in sb.world.all_contents(s)]
    yield conn, served, edited, deleted
    conn.close()


@pytest.fixture(scope="module")
def sandbox_factory_module():
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer
    from tests.fixtures.sandbox import SESSION_CONFIG

    started = []

    def start(**overrides):
        server = SandboxServer(SandboxConfig(**{**SESSION_CONFIG, **overrides}))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _inbound(record: dict) -> bool:
    return record.get("status") in INBOUND


def test_latest_messages_equal_what_the_api_serves_now(audited):
    conn, served, edited, deleted = audited
    rows = conn.execute("SELECT id, status, body, remotely_deleted FROM messages").fetchall()
    assert {r[0]: r[1:] for r in rows} == {
        c["id"]: (c["status"], c["body"], c["remotelyDeleted"]) for c in served
    }
    versions = dict(conn.execute("SELECT id, count(*) FROM contents GROUP BY id").fetchall())
    assert versions[edited] == 2 and versions[deleted] == 2


def test_unanswered_inbound_and_response_times(audited):
    conn, served, _, _ = audited
    replies: dict[str, list[datetime]] = {}
    for c in served:
        if not _inbound(c) and c.get("inReplyToContentId"):
            replies.setdefault(c["inReplyToContentId"], []).append(_time(c["creationTime"]))
    inbound = {c["id"]: _time(c["creationTime"]) for c in served if _inbound(c)}
    expected_unanswered = {i for i in inbound if i not in replies}
    got = {r[4] for r in queries.run_query(conn, queries.UNANSWERED_INBOUND).rows}
    assert got == expected_unanswered

    expected_seconds = {
        i: (min(replies[i]) - t).total_seconds() for i, t in inbound.items() if i in replies
    }
    got_seconds = dict(
        conn.execute(
            "SELECT inbound_id, response_seconds FROM reply_pairs WHERE reply_id IS NOT NULL"
        ).fetchall()
    )
    assert got_seconds == pytest.approx(expected_seconds)


def test_deleted_edited_and_term_search(audited):
    conn, served, edited, deleted = audited
    deleted_ids = {r[4] for r in queries.run_query(conn, queries.REMOTELY_DELETED).rows}
    assert deleted in deleted_ids
    assert deleted_ids == {c["id"] for c in served if c["remotelyDeleted"]}
    edits = queries.run_query(conn, queries.EDITS).as_dicts()
    assert any(e["id"] == edited and e["body_changed"] for e in edits)

    term = "cancel"
    hits = queries.run_query(conn, queries.TERM_SEARCH, {"term": term})
    assert {r[4] for r in hits.rows} == {c["id"] for c in served if term in c["body"].lower()}


def test_every_message_an_agent_sent(audited):
    conn, served, _, _ = audited
    agent = next(c["creatorId"] for c in served if c.get("creatorId"))
    params = {
        "agent_id": agent,
        "from": datetime(2000, 1, 1, tzinfo=UTC),
        "to": datetime(2100, 1, 1, tzinfo=UTC),
    }
    got = {r[4] for r in queries.run_query(conn, queries.AGENT_MESSAGES, params).rows}
    assert got == {c["id"] for c in served if c.get("creatorId") == agent and not _inbound(c)}
