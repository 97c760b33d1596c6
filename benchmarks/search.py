"""Full-text search cost: building one month segment of the index, and answering a query.

`rc-archive search` rebuilds only the month segments whose live files changed
(pipelines/query/search.py), so after a run the cost is one month's segment; a query asks every
segment. This builds a stand-in catalog (a `contents` and an `identities_latest` table, and the
live-file list, in DuckDB) of M months of N messages each, times the first build of every
segment, the rebuild of the current month after it changed, and queries over all segments.

    .venv/bin/python benchmarks/search.py --months 12 --messages 50000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from benchmarks.harness import add_attachments_argument, require_no_attachments
from pipelines.archive import keys
from pipelines.query.search import open_index, refresh_index, search

WORDS = [
    "order",
    "invoice",
    "refund",
    "contract",
    "cancel",
    "delivery",
    "account",
    "payment",
    "guarantee",
    "return",
    "price",
    "offer",
    "discount",
    "transfer",
    "schedule",
    "meeting",
    "support",
    "ticket",
    "issue",
    "thanks",
    "please",
    "urgent",
    "Rechnung",
    "Vertrag",
    "Lieferung",
    "счет",
    "договор",
    "доставка",
    "فاتورة",
    "عقد",
    "חשבון",
    "חוזה",
]


STREAM = "source_id=65c3fdd9527bf900079cefcb"


def stand_in_catalog(months: int, messages: int, seed: int = 7) -> duckdb.DuckDBPyConnection:
    rng = random.Random(seed)
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA internal")
    conn.execute("CREATE TABLE internal._live_files (key VARCHAR, table_name VARCHAR, rows BIGINT)")
    conn.execute(
        "CREATE TABLE contents (id VARCHAR, record_sha256 VARCHAR, source_id VARCHAR, "
        "thread_id VARCHAR, creation_time TIMESTAMPTZ, author_identity_id VARCHAR, "
        "author_display_name VARCHAR, title VARCHAR, body VARCHAR)"
    )
    conn.execute("CREATE TABLE identities_latest (id VARCHAR, display_name VARCHAR)")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for month in range(months):
        first = (start - timedelta(days=31 * month)).replace(day=1)
        rows = [
            (
                f"m{month}-{i}",
                f"{month:04d}{i:060d}",
                "65c3fdd9527bf900079cefcb",
                f"t{month}-{i // 20}",
                first + timedelta(seconds=i * 50),
                None,
                "Customer",
                None,
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))),
            )
            for i in range(messages)
        ]
        conn.executemany("INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        key = keys.compacted_contents_key(STREAM, f"{first:%Y-%m}", "f")
        conn.execute("INSERT INTO internal._live_files VALUES (?, 'contents', ?)", [key, messages])
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--messages", type=int, default=50_000, help="per month")
    parser.add_argument("--queries", type=int, default=20)
    add_attachments_argument(parser, default="none")
    args = parser.parse_args()
    require_no_attachments(parser, args.attachments)
    print("attachments: none (generated stand-in catalog)")

    audit = stand_in_catalog(args.months, args.messages)
    with tempfile.TemporaryDirectory() as folder:
        index = open_index(Path(folder) / "bench.search.duckdb")
        started = time.perf_counter()
        rebuilt, segments = refresh_index(audit, index)
        first_build = time.perf_counter() - started
        total = args.months * args.messages
        print(f"first build: {segments} month segments, {total:,} messages in {first_build:.1f} s")
        print(f"  {total / first_build:,.0f} messages/s indexed")

        # A run changes the current month: one segment is rebuilt, the others are kept.
        key = keys.compacted_contents_key(STREAM, "2026-12", "g")
        audit.execute("INSERT INTO internal._live_files VALUES (?, 'contents', 1)", [key])
        started = time.perf_counter()
        rebuilt, _ = refresh_index(audit, index)
        refresh = time.perf_counter() - started
        print(f"refresh after a run: {rebuilt} segment rebuilt in {refresh:.2f} s")

        started = time.perf_counter()
        assert refresh_index(audit, index) == (0, segments)
        print(f"refresh with nothing new: {time.perf_counter() - started:.3f} s")

        timings = []
        rng = random.Random(3)
        for _ in range(args.queries):
            terms = " ".join(rng.sample(WORDS, 2))
            started = time.perf_counter()
            search(index, terms, 20)
            timings.append(time.perf_counter() - started)
        print(
            f"query over {segments} segments: median {statistics.median(timings) * 1000:.0f} ms, "
            f"max {max(timings) * 1000:.0f} ms ({args.queries} queries of 2 terms, top 20)"
        )
        index.close()


if __name__ == "__main__":
    main()
