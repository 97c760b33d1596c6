"""The review queue: flags raised by a real run, worked through the command line, decisions
written once and chained, the views after a refresh (sandbox over HTTP, a local archive)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.governance.policies import PolicySet, parse_policies
from pipelines.governance.review import review_log
from pipelines.settings import Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from tests.governance.support import catalog_rows
from tests.sync.support import client_for


@pytest.fixture
def flagged(sandbox_factory, ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    policies = PolicySet(
        parse_policies(
            {
                "policies": [
                    {"name": "routine", "sample_rate": 0.5},
                    {"name": "thanks", "terms": ["thank you"]},
                ]
            }
        )
    )
    with client_for(sb) as client:
        sync_contents(
            client,
            ledger,
            source_id,
            run_id="run-1",
            settings=ContentsSyncSettings(policies=policies),
        )
    audit_db = tmp_path / "audit.duckdb"
    build_catalog(ledger.store, str(audit_db), Settings())
    monkeypatch.setenv("ARCHIVE_URI", str(ledger.store.root))
    monkeypatch.setenv("AUDIT_DB", str(audit_db))
    monkeypatch.setenv("RC_ARCHIVE_USER", "reviewer@example.com")
    return ledger.store, audit_db


def _queue(audit_db) -> list[tuple]:
    return catalog_rows(audit_db, "SELECT record_sha256, policy FROM review_queue ORDER BY 1")


def test_a_reviewer_works_the_queue_and_each_decision_is_kept_write_once(flagged, capsys):
    store, audit_db = flagged
    queue = _queue(audit_db)
    assert len({policy for _, policy in queue}) == 2 and len(queue) > 5

    assert main(["review", "next", "--policy", "thanks", "--limit", "3", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 3 and {row["policy"] for row in listed} == {"thanks"}

    first, second = listed[0]["flag_id"], listed[1]["flag_id"]
    assert main(["review", "decide", first[:12], "--decision", "cleared", "--note", "ok"]) == 0
    assert main(["review", "decide", second, "--decision", "escalated", "--note", "odd"]) == 0
    assert (
        main(["review", "decide", first, "--decision", "escalated", "--note", "second look"]) == 0
    )
    capsys.readouterr()

    build_catalog(store, str(audit_db), Settings())
    assert {flag for flag, _ in _queue(audit_db)} == {flag for flag, _ in queue} - {first, second}
    decisions = catalog_rows(
        audit_db,
        "SELECT flag_id, decision, note, user, is_current FROM review_decisions "
        "ORDER BY decision_key",
    )
    assert decisions == [
        (first, "cleared", "ok", "reviewer@example.com", False),
        (second, "escalated", "odd", "reviewer@example.com", True),
        (first, "escalated", "second look", "reviewer@example.com", True),
    ]
    # `review next` is an audited read: one access event, with the rows it returned.
    events = catalog_rows(audit_db, "SELECT command, rows FROM access_log")
    assert events == [("review", 3)]

    assert main(["review", "verify"]) == 0
    assert "3 decisions" in capsys.readouterr().out
    assert verify(store).ok  # the review log is the archive's own area, not a stray object


def test_a_changed_decision_breaks_the_chain(flagged, capsys):
    store, audit_db = flagged
    flag = _queue(audit_db)[0][0]
    for note in ("first", "second"):
        assert main(["review", "decide", flag, "--decision", "cleared", "--note", note]) == 0
    first_key = next(iter(review_log(store).records())).key
    path = store.root / first_key
    path.chmod(0o644)
    path.write_text(path.read_text().replace('"first"', '"other"'))
    capsys.readouterr()
    assert main(["review", "verify"]) == 3
    assert "chain_broken" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["review", "decide", "zz", "--decision", "cleared", "--note", "x"], "8 hex digits"),
        (["review", "decide", "0" * 16, "--decision", "cleared", "--note", "x"], "no flag"),
        (["review", "decide", "{flag}", "--decision", "cleared", "--note", "  "], "must say why"),
        (["review", "next", "--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_review_input_is_one_line_exit_2(flagged, capsys, argv, message):
    store, audit_db = flagged
    flag = _queue(audit_db)[0][0]
    argv = [a.replace("{flag}", flag) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(review_log(store).records()) == []  # nothing recorded


def test_the_supervision_report_is_stored_once_a_day_from_the_cli_and_the_asset(
    flagged, capsys, tmp_path
):
    import dagster as dg

    from assets.maintenance import supervision_report
    from assets.resources import ArchiveResource, AuditResource

    store, audit_db = flagged
    flag = _queue(audit_db)[0][0]
    assert main(["review", "decide", flag, "--decision", "escalated", "--note", "why"]) == 0
    build_catalog(store, str(audit_db), Settings())
    copy = tmp_path / "report.html"
    assert main(["review", "report", "--out", str(copy)]) == 0
    assert "supervision report stored at _reports/supervision/" in capsys.readouterr().out
    page = copy.read_text(encoding="utf-8")
    assert "<svg" in page and "routine" in page and "thanks" in page and "escalated" in page
    (key,) = [k for k in store.list("_reports/")]
    assert store.get(key).decode("utf-8") == page

    resources = {
        "archive": ArchiveResource(archive_uri=str(store.root)),
        "audit": AuditResource(audit_db=str(audit_db)),
    }
    result = dg.materialize([supervision_report], resources=resources)
    metadata = result.asset_materializations_for_node("supervision_report")[0].metadata
    assert metadata["report_key"].value == key and metadata["stored_now"].value is False
    assert list(store.list("_reports/")) == [key]  # write-once: the day's page is not replaced
    build_catalog(store, str(audit_db), Settings())
    commands = catalog_rows(audit_db, "SELECT command, arguments_json FROM access_log")
    assert [c for c, _ in commands] == ["review", "review"]  # the CLI's read, then the asset's
    assert result.run_id in commands[1][1]
    assert verify(store).ok
