"""A raw hive reader of the archive's folders, as a data engineer tries it outside rc-archive.

The archive is made the way production makes it: the real `rc-archive run` against the sandbox,
killed with SIGKILL part-way and run again (files a crash left behind), then compacted (month
files beside day files). pyarrow's hive discovery, pandas and DuckDB's hive_partitioning must
read every table folder without a type conflict, and see every stored row: a raw reader reads
all stored files (every version, crash leftovers, compacted inputs); which files count is what
the Iceberg tables and the audit views say (tested in tests/iceberg).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from tests.e2e.helpers import cli_env, run_to_completion, start_run

pytestmark = pytest.mark.slow


def _stored_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))


def _killed_rerun_and_compacted(work: Path, sandbox) -> Path:
    root = work / "archive"
    env = cli_env(sandbox.env, root, work / "audit.duckdb")
    child = start_run(env, "--batch-records=200")
    deadline = time.monotonic() + 120
    while not any(root.glob("_ledger/contents/*/0000000001.json")):
        assert child.poll() is None and time.monotonic() < deadline, "no second batch to interrupt"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    run_to_completion(env, "--batch-records=200")
    for source_id in sandbox.world.source_ids:
        compact = [sys.executable, "-m", "cli", "compact", "--source", source_id]
        done = subprocess.run(compact, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    return root


def test_raw_hive_readers_read_every_table_folder(tmp_path, sandbox_factory):
    """One archive for every reader (making it is most of the test's time): three sources over
    90 days (month and day files), small attachment files (readers read the tables, not the
    files), a few batches per source."""
    sandbox = sandbox_factory(
        contents=1200, sources=3, large_attachment_every=1, large_attachment_bytes=8192
    )
    archive = _killed_rerun_and_compacted(tmp_path, sandbox)
    assert verify(LocalStore(archive)).ok
    _every_table_folder_reads_with_hive_discovery(archive)
    _contents_periods_hold_their_rows_and_months_sit_beside_days(archive)
    _duckdb_hive_partitioning_reads_the_contents_folder(archive)


def _every_table_folder_reads_with_hive_discovery(archive: Path) -> None:
    folders = sorted(p for p in archive.iterdir() if p.name in keys.DATA_TABLES)
    assert {p.name for p in folders} >= {"contents", "identities", "agents"}
    for folder in folders:
        stored = _stored_rows(folder)
        table = ds.dataset(folder, partitioning="hive").to_table()
        frame = pd.read_parquet(folder)
        assert table.num_rows == len(frame) == stored, folder.name
        if folder.name != "agents":
            # The folder's `source` key is a column of its own, equal to the rows' source_id.
            sources = frame.dropna(subset=["source_id"])
            assert (sources["source"].astype(str) == sources["source_id"]).all(), folder.name


def _contents_periods_hold_their_rows_and_months_sit_beside_days(archive: Path) -> None:
    contents = ds.dataset(archive / "contents", partitioning="hive").to_table(
        columns=["creation_date", "period", "id"]
    )
    periods = set(contents.column("period").to_pylist())
    assert any(len(p) == 7 for p in periods) and any(len(p) == 10 for p in periods)
    for day, period in zip(
        contents.column("creation_date").to_pylist(),
        contents.column("period").to_pylist(),
        strict=True,
    ):
        assert day.isoformat().startswith(period)
    # Every stored version, leftovers of the killed run and compacted inputs too: more rows than
    # the committed state holds, which is why readers that must count use the Iceberg tables.
    committed = Ledger(LocalStore(archive)).committed_files("contents")
    assert contents.num_rows > sum(e.rows for e in committed)


def _duckdb_hive_partitioning_reads_the_contents_folder(archive: Path) -> None:
    glob = str(archive / "contents" / "**" / "*.parquet")
    rows, sources = duckdb.sql(
        f"SELECT count(*), count(DISTINCT source) FROM read_parquet('{glob}', "
        "hive_partitioning = true, union_by_name = true) WHERE source = source_id"
    ).fetchone()
    assert rows == _stored_rows(archive / "contents") and sources >= 2
