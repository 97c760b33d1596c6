"""The disposition report: retention classes, holds, and an as-of date (a local archive)."""

from __future__ import annotations

import json

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.audit.catalog import build_catalog
from pipelines.cli import main
from pipelines.governance.retention import RetentionError, parse_retention
from tests.archive.support import SOURCE_ID, commit_records


@pytest.fixture
def held_archive(tmp_path, monkeypatch, capsys):
    store = LocalStore(tmp_path / "archive")
    commit_records(Ledger(store), 0, 10, days=2)  # files of 2024-02-20 and 2024-02-21
    build_catalog(store, str(tmp_path / "audit.duckdb"), {})
    monkeypatch.setenv("ARCHIVE_URI", str(store.root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    argv = ["hold", "place", "--matter", "m1", "--source", SOURCE_ID, "--from", "2024-02-21"]
    assert main([*argv, "--to", "2024-02-22", "--reason", "litigation"]) == 0
    capsys.readouterr()
    return tmp_path


def _report(tmp_path, capsys, as_of: str, retention: str) -> list[dict]:
    path = tmp_path / "retention.yaml"
    path.write_text(retention, encoding="utf-8")
    argv = ["disposition", "--as-of", as_of, "--retention", str(path), "--format", "json"]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_past_retention_and_not_held_is_eligible_held_files_never_are(held_archive, capsys):
    rows = _report(held_archive, capsys, "2031-06-01", "default_years: 7\n")
    assert [(r["period"], r["files"], r["status"]) for r in rows] == [
        ("2024-02", 1, "eligible"),  # the 2024-02-20 file
        ("2024-02", 1, "held"),  # the 2024-02-21 file: the matter holds it
    ]
    assert sum(r["rows"] for r in rows) == 10
    rows = _report(held_archive, capsys, "2030-06-01", "default_years: 7\n")
    assert {r["status"] for r in rows} == {"retained", "held"}
    longer = f"default_years: 7\nsources:\n  {SOURCE_ID}: 10\n"
    rows = _report(held_archive, capsys, "2031-06-01", longer)
    assert {r["status"] for r in rows} == {"retained", "held"}
    assert {r["retention_years"] for r in rows} == {10}


@pytest.mark.parametrize(
    "document, message",
    [
        ({}, "default_years: expected whole years"),
        ({"default_years": 0}, "from 1 to 100"),
        ({"default_years": 7, "channels": {}}, "unknown keys channels"),
        ({"default_years": 7, "sources": {"x": "ten"}}, "sources.x"),
    ],
)
def test_a_bad_retention_file_is_one_clear_error(document, message):
    with pytest.raises(RetentionError, match=message):
        parse_retention(document)
