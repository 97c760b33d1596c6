"""An archive written by the release before version identities (with the false versions its
re-signed attachment links made) upgrades without a rewrite: verify is clean, a run adds
nothing, the views show only the real edit, and the alias object is written once and chained.

The archive (tests/archive/data/archive_pre_identity) was made with that release's own code
against the sandbox (archive_pre_identity.json says how): a first load, then links re-signed
and one message edited, a run, links re-signed again and a full refresh. That release archived
16 "versions" per re-signing whose only difference was the attachment link.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from pipelines.archive.version_aliases import read_aliases
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.settings import Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from schemas.contents import version_sha256
from schemas.ids import source_stream
from tests.sync.support import client_for

DATA = Path(__file__).parent / "data"
MADE_WITH = json.loads((DATA / "archive_pre_identity.json").read_text())
STREAM = source_stream(MADE_WITH["source_id"])


@pytest.fixture
def old_archive(tmp_path) -> LocalStore:
    target = tmp_path / "archive"
    shutil.copytree(DATA / "archive_pre_identity", target)
    return LocalStore(target)


def _views(store: LocalStore, audit_db: Path) -> dict[str, int]:
    build_catalog(store, audit_db, Settings())
    conn = connect(audit_db, Settings.from_env({"ARCHIVE_URI": str(store.root)}))
    try:
        return {
            view: conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
            for view in ("contents", "edits", "transport_repeats", "contents_latest")
        } | {"edited": conn.execute("SELECT count(*) FROM edits WHERE body_changed").fetchone()[0]}
    finally:
        conn.close()


def test_the_old_archive_has_transport_only_duplicates(old_archive):
    """The fixture shows the fault: rows of one message that differ only in the link."""
    ledger = Ledger(old_archive)
    rows = ledger.read_table(ledger.committed_files("contents", STREAM))
    assert rows.num_rows == MADE_WITH["rows"]
    by_version: dict[tuple[str, str], int] = {}
    ids, raws = rows.column("id").to_pylist(), rows.column("raw_json").to_pylist()
    for row_id, raw in zip(ids, raws, strict=True):
        key = (row_id, version_sha256(json.loads(raw)))
        by_version[key] = by_version.get(key, 0) + 1
    assert sum(n - 1 for n in by_version.values()) == MADE_WITH["transport_repeats"]


def test_verify_is_clean_and_the_views_show_only_real_edits_before_any_run(old_archive, tmp_path):
    assert verify(old_archive).findings == []
    counts = _views(old_archive, tmp_path / "audit.duckdb")
    assert counts["transport_repeats"] == MADE_WITH["transport_repeats"]
    assert counts["contents"] == MADE_WITH["rows"] - MADE_WITH["transport_repeats"]
    assert counts["edits"] == counts["edited"] == MADE_WITH["real_edits"]


def test_a_run_after_the_upgrade_adds_nothing_and_chains_the_aliases(
    old_archive, sandbox_factory, tmp_path
):
    sb = sandbox_factory(**MADE_WITH["sandbox"])  # links rotate on every serving
    ledger = Ledger(old_archive)
    head_before = ledger.head("contents", STREAM)
    assert head_before.version_identity is None
    with client_for(sb) as client:
        report = sync_contents(
            client,
            ledger,
            MADE_WITH["source_id"],
            run_id="run-upgrade",
            settings=ContentsSyncSettings(per_page=1000),
        )
    assert report.new_versions == 0 and report.new_records == 0
    fresh = Ledger(old_archive)
    head = fresh.head("contents", STREAM)
    assert head.seq > head_before.seq
    assert sum(e.rows for e in head.files) == 0  # a cursor-only commit: no row written
    named = head.version_identity["aliases"]
    aliases = read_aliases(old_archive.get(named["key"]))
    assert named["rows"] == aliases.num_rows > 0
    assert verify(old_archive).findings == []

    # A full refresh against links re-signed again adds nothing either.
    with client_for(sb) as client:
        report = sync_contents(
            client,
            fresh,
            MADE_WITH["source_id"],
            run_id="run-refresh",
            settings=ContentsSyncSettings(per_page=1000, full_refresh=True),
        )
    assert report.new_versions == 0 and report.new_records == 0
    assert Ledger(old_archive).head("contents", STREAM).version_identity["aliases"] == named
    counts = _views(old_archive, tmp_path / "audit.duckdb")
    assert counts["edits"] == MADE_WITH["real_edits"]
    assert counts["transport_repeats"] == MADE_WITH["transport_repeats"]


def test_a_changed_alias_object_is_reported(old_archive, sandbox_factory):
    sb = sandbox_factory(**MADE_WITH["sandbox"])
    ledger = Ledger(old_archive)
    with client_for(sb) as client:
        sync_contents(client, ledger, MADE_WITH["source_id"], run_id="run-upgrade")
    named = Ledger(old_archive).head("contents", STREAM).version_identity["aliases"]
    path = old_archive.root / named["key"]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    findings = verify(old_archive).findings
    assert [(f.kind, f.key) for f in findings] == [("changed", named["key"])]
