"""`rc-archive search`: BM25 over every archived version, in month segments that are rebuilt
only when their month's live files change (the audit tests' dataset, a local archive)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.search import SearchError, index_path, open_index, refresh_index, search
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import CUST_A, S1, content
from tests.governance.support import catalog_rows


def _search(capsys, terms: str, *extra: str) -> list[dict]:
    assert main(["search", terms, "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_ranked_hits_over_every_version_and_one_access_event(archive, capsys, monkeypatch):
    hits = _search(capsys, "order")
    assert {h["id"] for h in hits} == {"c1", "c2", "c3", "c9", "c10"}
    assert hits[0]["id"] == "c1"  # "order" in its title and its body
    assert hits == sorted(hits, key=lambda h: -h["score"])
    # An edited-away phrase is still found: the first version of c7 said the pin.
    [pin] = _search(capsys, "pin 4321")[:1]
    assert pin["id"] == "c7" and "4321" in pin["snippet"]
    assert {h["id"] for h in _search(capsys, "replacements")} == {
        "c4",
        "c5",
        "c10",
    }  # stemmed: replace
    assert len(_search(capsys, "order", "--limit", "2")) == 2
    build_catalog(archive, archive.parent / "audit.duckdb", Settings())
    events = catalog_rows(
        archive.parent / "audit.duckdb",
        "SELECT query_name, arguments_json, \"rows\" FROM access_log WHERE command = 'search' "
        "ORDER BY seq",
    )
    assert len(events) == 4 and events[0][0] == "search"
    assert json.loads(events[0][1]) == {"terms": "order", "limit": 20} and events[0][2] == len(hits)


def test_terms_in_every_script_with_spaces(archive, capsys):
    builder = ArchiveBuilder(str(archive))
    texts = {
        "r1": "Гарантируем возврат денег",
        "r2": "نضمن استرداد الأموال",
        "r3": "אנחנו מבטיחים החזר כספי",
        "r4": "Wir garantieren Rückerstattung",
        "r5": "Γειά σου κόσμε",
    }
    rows = [
        content(
            cid, S1, "t-x", CUST_A, timedelta(minutes=n), text, direction="inbound", status="New"
        )
        for n, (cid, text) in enumerate(texts.items())
    ]
    builder.commit_batch("contents", f"source_id={S1}", [("contents", rows)])
    build_catalog(archive, archive.parent / "audit.duckdb", Settings())
    for cid, term in {
        "r1": "гарантируем",
        "r2": "استرداد",
        "r3": "מבטיחים",
        "r4": "ruckerstattung",
        "r5": "ΚΌΣΜΕ",
    }.items():
        assert [h["id"] for h in _search(capsys, term)] == [cid], term


def test_only_the_months_whose_files_changed_are_rebuilt(archive):
    audit_db = archive.parent / "audit.duckdb"
    index = open_index(index_path(audit_db))
    try:
        with connect(audit_db, Settings(), read_only=True) as audit:
            rebuilt, months = refresh_index(audit, index)
            assert rebuilt == months >= 1
            assert refresh_index(audit, index) == (0, months)
        row = content(
            "n1",
            S1,
            "t-n",
            CUST_A,
            timedelta(days=40),
            "late parcel",
            direction="inbound",
            status="New",
        )
        ArchiveBuilder(str(archive)).commit_batch(
            "contents", f"source_id={S1}", [("contents", [row])]
        )
        build_catalog(archive, audit_db, Settings())
        with connect(audit_db, Settings(), read_only=True) as audit:
            assert refresh_index(audit, index)[0] == 1
        assert [h.id for h in search(index, "parcel", 5)] == ["n1"]
    finally:
        index.close()


def test_disposed_messages_leave_the_index(archive, capsys):
    old = content(
        "old1",
        S1,
        "t-old",
        CUST_A,
        -timedelta(days=800),
        "ancient order",
        direction="inbound",
        status="New",
    )
    ArchiveBuilder(str(archive)).commit_batch("contents", f"source_id={S1}", [("contents", [old])])
    build_catalog(archive, archive.parent / "audit.duckdb", Settings())
    assert [h["id"] for h in _search(capsys, "ancient")] == ["old1"]
    retention = archive.parent / "retention.yaml"
    retention.write_text("default_years: 1\n", encoding="utf-8")
    argv = ["disposition", "--as-of", "2026-12-01", "--retention", str(retention)]
    assert main([*argv, "--execute", "--reason", "schedule", "--format", "json"]) == 0
    assert [o["result"] for o in json.loads(capsys.readouterr().out)] == ["deleted"]
    build_catalog(archive, archive.parent / "audit.duckdb", Settings())
    assert _search(capsys, "ancient") == []
    assert {h["id"] for h in _search(capsys, "order")} == {"c1", "c2", "c3", "c9", "c10"}


def test_empty_terms_are_one_line_exit_2(archive, capsys):
    assert main(["search", "   "]) == 2
    assert "give the words to search for" in capsys.readouterr().err


def test_a_second_search_waits_while_another_process_holds_the_index(tmp_path):
    path = tmp_path / "audit.search.duckdb"
    open_index(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_INDEX, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SearchError, match="held by another search"):
            open_index(path, wait_seconds=0.5)
        index = open_index(path, wait_seconds=30)  # the holder lets go after 2 s
        index.close()
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0


HOLD_INDEX = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(2)
conn.close()
"""


@pytest.mark.parametrize("terms", ["order", "order parcel refund", "replacements", "pin 4321"])
def test_scores_are_duckdbs_bm25_and_an_older_index_is_rebuilt(archive, terms):
    """The precomputed subscores rank and score exactly as DuckDB's own `match_bm25` over
    every document of every segment (the oracle); a segment of the previous index format is
    rebuilt on the next refresh."""
    audit_db = archive.parent / "audit.duckdb"
    index = open_index(index_path(audit_db))
    try:
        with connect(audit_db, Settings(), read_only=True) as audit:
            refresh_index(audit, index)
        months = [m for (m,) in index.execute("SELECT month FROM segments").fetchall()]
        oracle = " UNION ALL ".join(
            f"SELECT fts_main_seg_{m.replace('-', '_')}.match_bm25(doc_id, $terms) AS score, "
            f"creation_time, id, record_sha256 FROM seg_{m.replace('-', '_')}"
            for m in months
        )
        expected = index.execute(
            f"SELECT round(score, 4), id, record_sha256 FROM ({oracle}) WHERE score IS NOT NULL "
            "ORDER BY score DESC, creation_time, id",
            {"terms": terms},
        ).fetchall()
        found = [(h.score, h.id, h.record_sha256) for h in search(index, terms, 1000)]
        assert found == [tuple(row) for row in expected] and found
        index.execute("UPDATE segments SET format = 'rc-archive/search/1'")
        with connect(audit_db, Settings(), read_only=True) as audit:
            assert refresh_index(audit, index) == (len(months), len(months))
    finally:
        index.close()
