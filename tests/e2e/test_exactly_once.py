"""Every version exactly once against an API that re-signs attachment links on every serving.

The real `rc-archive run` (a child process, as cron runs it) against the sandbox, whose links
rotate on every listing, GET and webhook payload (its default, like RingCentral's file host):
three runs with real edits, a status change and a deletion between the first two, then an idle
run and a full refresh. One version per (id, version identity), the idle run writes nothing and
lists each source once, each attachment file is downloaded once, and the full refresh adds no
version and quarantines nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from schemas.contents import version_sha256
from schemas.ids import source_stream
from tests.e2e.helpers import cli_env, run_to_completion

pytestmark = pytest.mark.slow

CONTENTS_LIST = "/cx/social-messaging/v1/contents"


def _contents_rows(archive: Path, source_id: str) -> list[tuple[str, str, str]]:
    """(id, record_sha256, version hash recomputed from raw_json) of every committed row."""
    ledger = Ledger(LocalStore(archive))
    entries = ledger.committed_files("contents", source_stream(source_id))
    table = ledger.read_table(entries, ["id", "record_sha256", "raw_json"])
    return [
        (row_id, digest, version_sha256(json.loads(raw)))
        for row_id, digest, raw in zip(
            table.column("id").to_pylist(),
            table.column("record_sha256").to_pylist(),
            table.column("raw_json").to_pylist(),
            strict=True,
        )
    ]


def _committed_files(archive: Path) -> int:
    ledger = Ledger(LocalStore(archive))
    return sum(
        len(ledger.committed_files(table, stream))
        for table in ("contents", "identities")
        for stream in ledger.streams(table)
    )


def _quarantined(archive: Path) -> int:
    return sum(1 for _ in (archive / "quarantine").rglob("*.parquet"))


def test_rotating_links_edits_idle_and_full_refresh(tmp_path, sandbox_factory):
    sb = sandbox_factory(contents=240, sources=2)
    archive = tmp_path / "archive"
    env = cli_env(sb.env, archive, tmp_path / "audit.duckdb")
    # A lasting Dagster instance, as scheduled runs have: it remembers when the reconcile
    # check last compared, so an idle run does not list the source a second time for it.
    (tmp_path / "dagster_home").mkdir()
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    sources = sb.world.source_ids
    first, second = (sorted(sb.world.content_ids(s)) for s in sources)

    run_to_completion(env)
    # Real changes between the first two runs: two edits, a status change, a deletion.
    sb.world.edit_content(first[3], body="corrected after the first run")
    sb.world.edit_content(second[7], body="corrected too")
    sb.world.set_status(first[11], "Ignored")
    sb.world.delete_remotely(second[2])
    changed = {first[3], second[7], first[11], second[2]}
    run_to_completion(env)

    # Run 3: nothing changed, only the links were signed anew: one list request per source.
    files, lists = _committed_files(archive), sb.stats.requests(path_prefix=CONTENTS_LIST)
    run_to_completion(env)
    assert _committed_files(archive) == files
    assert sb.stats.requests(path_prefix=CONTENTS_LIST) - lists == len(sources)

    downloads = sb.stats.requests(group="Files")
    for source_id, ids in zip(sources, (first, second), strict=True):
        rows = _contents_rows(archive, source_id)
        # Exactly once: one row per version identity, and the stored hash is that identity.
        assert len({(i, v) for i, _, v in rows}) == len(rows)
        assert all(digest == version for _, digest, version in rows)
        versions: dict[str, int] = {}
        for row_id, _, _ in rows:
            versions[row_id] = versions.get(row_id, 0) + 1
        assert set(versions) == set(ids)
        assert {i for i, n in versions.items() if n > 1} == changed & set(ids)
        assert all(n <= 2 for n in versions.values())

    # Each attachment file was downloaded once, though every serving re-signed its link.
    attachment_ids = {
        (content_id, attachment["id"])
        for source_id in sources
        for content_id in sb.world.content_ids(source_id)
        for attachment in (sb.world.content_json(content_id).get("attachments") or [])
    }
    assert attachment_ids, "the world must carry attachments for this test to mean anything"
    assert downloads == len(attachment_ids)

    # A full refresh of the unchanged archive: no version, no quarantine, no download.
    before = {s: len(_contents_rows(archive, s)) for s in sources}
    run_to_completion(env, "--full-refresh")
    assert {s: len(_contents_rows(archive, s)) for s in sources} == before
    assert _quarantined(archive) == 0
    assert sb.stats.requests(group="Files") == downloads
    assert verify(LocalStore(archive)).ok
