"""Run the real command line in a child process, as cron or an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.archive.versions import committed_tables
from pipelines.settings import Settings
from schemas.ids import source_stream


def cli_env(sandbox_env: dict[str, str], archive: Path, audit_db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(sandbox_env)
    env["ARCHIVE_URI"] = str(archive)
    env["AUDIT_DB"] = str(audit_db)
    return env


def start_run(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_to_completion(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    process = start_run(env, *args)
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def archived_rows(archive: Path, source_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Every committed (id, record_sha256) row per source, duplicates included."""
    ledger = Ledger(open_store(str(archive), Settings()))
    rows: dict[str, list[tuple[str, str]]] = {}
    for source_id in source_ids:
        tables = list(
            committed_tables(ledger, "contents", source_stream(source_id), ["id", "record_sha256"])
        )
        table = pa.concat_tables(tables) if tables else None
        rows[source_id] = (
            list(
                zip(
                    table.column("id").to_pylist(),
                    table.column("record_sha256").to_pylist(),
                    strict=True,
                )
            )
            if table is not None
            else []
        )
    return rows
