"""Version index: memory and time to hold N committed versions of one source, and lookups/s.

The sync loads every (id, record_sha256) its source has committed before it crawls. This
compares the index it uses (`ArchivedVersions`: sorted fixed-width arrays, pipelines/sync/
exact_keys.py) with the Python sets it replaced, on the same columns, each in a fresh process so
the resident-memory growth is its own.

    .venv/bin/python benchmarks/version_index_bench.py --n 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time

import psutil
import pyarrow as pa

from benchmarks.harness import add_attachments_argument, require_no_attachments
from pipelines.archive.versions import ArchivedVersions

FILE_ROWS = 20_000  # one committed batch file
PAGE = 1000  # one API page of lookups


def _columns(n: int) -> list[tuple[pa.Array, pa.Array]]:
    """(id, record_sha256) per committed file, as the ledger's files hold them."""
    ids = [f"{i:024x}" for i in range(n)]
    digests = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
    return [
        (pa.array(ids[start : start + FILE_ROWS]), pa.array(digests[start : start + FILE_ROWS]))
        for start in range(0, n, FILE_ROWS)
    ]


def _measure(variant: str, n: int) -> None:
    files = _columns(n)
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    if variant == "arrays":
        index = ArchivedVersions("contents")
        for ids, digests in files:
            index.ids.extend_arrow(ids)
            index.digests.extend_arrow(digests)
        held = len(index.digests)
    else:  # the Python sets of (id, hash) and ids the index replaced
        versions: set[tuple[str, str]] = set()
        for ids, digests in files:
            versions.update(zip(ids.to_pylist(), digests.to_pylist(), strict=True))
        id_set = {record_id for record_id, _ in versions}
        held = len(versions) + 0 * len(id_set)
    load_seconds = time.perf_counter() - started
    grown = process.memory_info().rss - before
    probe_ids = [f"{i:024x}" for i in range(0, 2 * n, 2 * n // PAGE)][:PAGE]
    probe = [hashlib.sha256(i.encode()).hexdigest() for i in probe_ids]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        if variant == "arrays":
            index.has_versions(probe)
        else:
            [(i, d) in versions for i, d in zip(probe_ids, probe, strict=True)]
    lookup_us = (time.perf_counter() - started) / (rounds * PAGE) * 1e6
    print(f"{variant:7s} {held:>10,} {load_seconds:8.2f} {grown / 2**20:10,.0f} {lookup_us:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--variant", choices=["arrays", "sets"], help=argparse.SUPPRESS)
    add_attachments_argument(parser, default="none")
    args = parser.parse_args()
    require_no_attachments(parser, args.attachments)
    if args.variant:
        _measure(args.variant, args.n)
        return
    print("attachments: none (generated ids and hashes)")
    print(f"{'index':7s} {'versions':>10s} {'load s':>8s} {'+RSS MiB':>10s} {'us/lookup':>10s}")
    for variant in ("arrays", "sets"):
        command = [sys.executable, __file__, "--n", str(args.n), "--variant", variant]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
