"""Capture lag has one definition: `rc-archive sources` and the capture_lag view agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.archive.store import open_store
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.sources_status import SOURCES_HEADER, capture_lag, sources_overview
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import S1

SHARED_COLUMNS = ("newest_creation_time", "last_committed_at", "lag_seconds")


def _view_rows(conn):
    """The view's rows by source, and the `now` its seconds_since_commit was computed with."""
    rows = conn.execute(
        "SELECT source_id, newest_creation_time, last_committed_at, lag_seconds, "
        "seconds_since_commit, current_timestamp FROM capture_lag"
    ).fetchall()
    return {row[0]: row[1:5] for row in rows}, rows[0][5]


def _sources_rows(archive, now):
    header, rows = sources_overview(open_store(str(archive), Settings()), now=now)
    columns = [header.index(name) for name in (*SHARED_COLUMNS, "seconds_since_commit")]
    return {row[0]: tuple(row[i] for i in columns) for row in rows}


def test_sources_and_the_view_report_the_same_lag(conn, local_archive):
    view, now = _view_rows(conn)
    assert _sources_rows(local_archive, now) == view
    assert all(lag is not None and lag > 0 for _, _, lag, _ in view.values())


def test_same_column_names_in_sources_and_the_view(conn):
    view_columns = {row[0] for row in conn.execute("DESCRIBE capture_lag").fetchall()}
    for name in (*SHARED_COLUMNS, "seconds_since_commit"):
        assert name in SOURCES_HEADER and name in view_columns
    assert "capture_lag_s" not in SOURCES_HEADER


def test_newest_creation_time_is_what_was_archived_not_the_cursor(tmp_path):
    """A cursor's high-water time that lags the archived rows (e.g. a sweep archived a newer
    message) does not change the lag: both read the newest archived creation_time."""
    builder = ArchiveBuilder(str(tmp_path / "archive"))
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    stream = f"source_id={S1}"
    row = {
        "id": "c1",
        "source_id": S1,
        "thread_id": "t1",
        "creation_time": created,
        "creation_date": created.date(),
        "raw_json": "{}",
        "record_sha256": "a" * 64,
        "archived_at": created,
        "run_id": "r1",
    }
    later = dict(row, id="c2", record_sha256="b" * 64, creation_time=created + timedelta(hours=5))
    builder.commit_batch(
        "contents",
        stream,
        [("contents", [row, later])],
        cursor={"high_water_time": "2026-03-01T12:00:00.000Z"},
    )
    report = build_catalog(tmp_path / "archive", tmp_path / "audit.duckdb", Settings())
    conn = connect(report.audit_db, Settings())
    try:
        view, now = _view_rows(conn)
    finally:
        conn.close()
    assert view[S1][0] == created + timedelta(hours=5)
    assert _sources_rows(tmp_path / "archive", now) == view


def test_capture_lag_is_the_two_differences():
    committed = datetime(2026, 3, 1, 12, 0, 30, 250000, tzinfo=UTC)
    newest = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    now = committed + timedelta(minutes=2)
    assert capture_lag([(newest, committed), (None, committed)], now) == [
        (30.25, 120.0),
        (None, 120.0),
    ]
    assert capture_lag([], now) == []
