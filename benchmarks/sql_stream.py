"""`rc-archive sql` over a big result: peak memory and time to the first line, as a child process.

    .venv/bin/python benchmarks/sql_stream.py                      # 80,000 contents
    .venv/bin/python benchmarks/sql_stream.py --contents 20000 --archive /tmp/sql-bench

Builds (or reuses) an archive of N contents whose `raw_json` is about 2 KB a row (a real
message's size), builds the catalog, then runs `rc-archive sql "SELECT * FROM contents"` in a
child process per format and reports its peak RSS (psutil, sampled) and wall time, and for
`--format csv | head -1` the time until the first line arrived and how the child ended.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.harness import add_attachments_argument, require_no_attachments
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[1]
RC_ARCHIVE = str(Path(sys.executable).with_name("rc-archive"))


def build(root: Path, contents: int, sources: int = 4) -> None:
    """N contents over `sources` sources, committed through the real ledger."""
    import numpy as np
    import pyarrow as pa

    from benchmarks.audit_bench import generate_source
    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import open_store

    rng = np.random.default_rng(11)
    ledger = Ledger(open_store(str(root), Settings()))
    filler = "x" * 2000
    for index in range(sources):
        table = generate_source(index, contents // sources, 30, rng)
        raw = pa.array([f'{{"id": "{i}", "pad": "{filler}"}}' for i in table["id"].to_pylist()])
        table = table.set_column(table.schema.get_field_index("raw_json"), "raw_json", raw)
        stream = f"source_id={table.column('source_id')[0].as_py()}"
        ledger.commit_batch("contents", stream, {"contents": table}, {}, "bench")


def prepare(root: Path, contents: int) -> Path:
    from pipelines.catalog.build import build_catalog

    if not (root / "_ledger").exists():
        build(root, contents)
    audit_db = root.parent / f"{root.name}.duckdb"
    build_catalog(root, audit_db, Settings())
    return audit_db


def child_env(root: Path, audit_db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARCHIVE_"))}
    return env | {"ARCHIVE_URI": str(root), "AUDIT_DB": str(audit_db), "PYTHONPATH": str(REPO)}


class PeakRss:
    """Samples a process's RSS every 20 ms until it exits (the peak of its whole life)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def join(self) -> int:
        self._thread.join(timeout=5)
        return self.peak


def run_full(env: dict[str, str], fmt: str) -> tuple[float, int, int, int]:
    """(seconds, peak RSS bytes, bytes written, exit code) of one whole answer to /dev/null."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [RC_ARCHIVE, "sql", "SELECT * FROM contents", "--format", fmt],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = PeakRss(proc.pid)
    written = 0
    while chunk := proc.stdout.read(1 << 20):
        written += len(chunk)
    code = proc.wait()
    return time.perf_counter() - started, peak.join(), written, code


def run_head(env: dict[str, str]) -> tuple[float, float, int, bytes, str]:
    """`--format csv | head -1`: (seconds to the first line, seconds to exit, peak RSS, the
    line, stderr), the reader closing the pipe after one line."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [RC_ARCHIVE, "sql", "SELECT * FROM contents", "--format", "csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = PeakRss(proc.pid)
    line = proc.stdout.readline()
    first = time.perf_counter() - started
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait(timeout=120)
    return (
        first,
        time.perf_counter() - started,
        peak.join(),
        line,
        err + f"(exit {proc.returncode})",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contents", type=int, default=80_000)
    parser.add_argument("--archive", type=Path, help="reuse (or create) the archive here")
    parser.add_argument("--formats", default="csv,jsonl,json,table")
    add_attachments_argument(parser, default="none")
    args = parser.parse_args(argv)
    require_no_attachments(parser, args.attachments)
    root = args.archive or Path(tempfile.mkdtemp(prefix="sql-bench-")) / "archive"
    audit_db = prepare(root, args.contents)
    env = child_env(root, audit_db)
    print(f"archive {root}: {args.contents:,} contents, attachments: none (generated data)")
    for fmt in args.formats.split(","):
        seconds, peak, written, code = run_full(env, fmt)
        print(
            f"sql SELECT * FROM contents --format {fmt:<5}: {seconds:6.1f} s, peak RSS "
            f"{peak / 2**20:7.0f} MiB, {written / 2**20:7.0f} MiB written, exit {code}"
        )
    first, total, peak, line, err = run_head(env)
    print(
        f"sql ... --format csv | head -1: first line after {first:.2f} s, child gone after "
        f"{total:.2f} s, peak RSS {peak / 2**20:.0f} MiB, first line {line[:40]!r}..., "
        f"stderr {err.strip()[-200:]!r}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
