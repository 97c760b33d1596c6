"""Audit catalog benchmark: build (or reuse) an archive of N contents, build the catalog, time
the auditor's questions.

    .venv/bin/python benchmarks/audit_bench.py                 # 1,000,000 contents, 10 sources
    .venv/bin/python benchmarks/audit_bench.py --contents 100000 --archive /tmp/bench-archive

Records are generated with numpy/pyarrow directly in the contents Arrow schema and committed
through the real ledger (one batch per source: one Parquet file per source and day).
Targets: transcript < 50 ms, one agent's month < 150 ms, term search < 500 ms, reply_pairs
aggregate < 1 s, and a catalog rebuild no slower than before. The generated archive carries no
attachment files (`--attachments none`, the only profile it accepts).

The machine is often shared: run it when `uptime` shows a load near zero, or compare two
versions back to back; the "best" column is the least disturbed by other processes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query import queries
from pipelines.query.queries import run_query
from pipelines.query.transcript import thread_transcript
from pipelines.settings import Settings
from schemas.contents import ARROW_SCHEMA

START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = np.array(
    [
        "order",
        "refund",
        "delivery",
        "account",
        "please",
        "thanks",
        "hello",
        "late",
        "broken",
        "replace",
        "shipping",
        "invoice",
        "card",
        "payment",
        "help",
        "address",
        "phone",
        "email",
        "return",
        "label",
        "box",
        "store",
        "manager",
    ]
)
AGENTS_PER_SOURCE = 20
# The sandbox's attachment profiles (sandbox.config.SandboxConfig); this archive has none.
ATTACHMENT_PROFILES = ("none", "light", "realistic")


def _hex_ids(seconds: np.ndarray, counter: np.ndarray, tag: int) -> np.ndarray:
    """ObjectId-like 24-hex ids (time prefix), as RingCentral's ids are."""
    return np.char.add(
        np.char.add(np.char.zfill(np.char.mod("%x", seconds), 8), f"{tag:04x}"),
        np.char.zfill(np.char.mod("%x", counter), 12),
    )


def generate_source(source_index: int, n: int, days: int, rng: np.random.Generator) -> pa.Table:
    source_id = f"{0x5F00 + source_index:04x}" + "0" * 19 + f"{source_index}"
    per_thread = 5
    n_threads = max(1, n // per_thread)
    thread_start = np.sort(rng.integers(0, days * 86400 - 7200, n_threads))
    position = np.arange(n) % per_thread
    thread_of = np.arange(n) // per_thread
    thread_of = np.minimum(thread_of, n_threads - 1)
    offsets = position * rng.integers(30, 1800, n)
    seconds = int(START.timestamp()) + thread_start[thread_of] + offsets
    counter = np.arange(n) + source_index * 10_000_000
    ids = _hex_ids(seconds, counter, source_index)
    thread_ids = _hex_ids(
        int(START.timestamp()) + thread_start, np.arange(n_threads), 0x1000 + source_index
    )[thread_of]
    inbound = position % 2 == 0
    previous = np.concatenate([ids[:1], ids[:-1]])
    in_reply = np.where(inbound, None, previous)
    agents = np.char.add(
        f"{source_index:02d}", np.char.zfill(rng.integers(0, AGENTS_PER_SOURCE, n).astype(str), 3)
    )
    creator = np.where(inbound, None, agents)
    words = WORDS[rng.integers(0, len(WORDS), (n, 8))]
    bodies = np.array([" ".join(row) for row in words], dtype=object)
    rare = rng.random(n) < 0.001
    bodies[rare] = bodies[rare] + " subpoena"
    ms = seconds.astype("int64") * 1000
    created = pa.array(ms, pa.timestamp("ms", tz="UTC"))
    columns = {
        "id": pa.array(ids),
        "source_id": pa.array([source_id] * n),
        "source_type": pa.array(["WhatsApp"] * n),
        "thread_id": pa.array(thread_ids),
        "author_identity_id": pa.array(np.where(inbound, np.char.add("cust-", thread_ids), agents)),
        "in_reply_to_content_id": pa.array(in_reply, pa.string()),
        "creator_id": pa.array(creator, pa.string()),
        "creation_time": created,
        "last_modified_time": created,
        "creation_date": pa.array((ms // 86_400_000).astype("int32"), pa.date32()),
        "status": pa.array(np.where(inbound, "Replied", "UserReply")),
        "direction": pa.array(np.where(inbound, "inbound", "outbound")),
        "type": pa.array(["Message"] * n),
        "body": pa.array(bodies, pa.string()),
        "remotely_deleted": pa.array(np.zeros(n, bool)),
        "raw_json": pa.array(["{}"] * n),
        "record_sha256": pa.array(np.char.zfill(np.char.mod("%x", counter), 64)),
        "archived_at": pa.array(ms + 60_000, pa.timestamp("ms", tz="UTC")),
        "run_id": pa.array(["bench"] * n),
        "batch_id": pa.array([""] * n),
    }
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in ARROW_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA).sort_by("creation_time")


def build_archive(root: Path, contents: int, sources: int, days: int) -> None:
    rng = np.random.default_rng(7)
    ledger = Ledger(open_store(str(root), Settings()))
    for index in range(sources):
        table = generate_source(index, contents // sources, days, rng)
        stream = f"source_id={table.column('source_id')[0].as_py()}"
        ledger.commit_batch("contents", stream, {"contents": table}, {}, "bench")


def timed(label: str, function, repeat: int = 5) -> float:
    function()  # warm: first run pays parquet metadata reads
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    best, median = min(samples), statistics.median(samples)
    print(f"{label:<42} median {median * 1000:9.1f} ms   best {best * 1000:9.1f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contents", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--archive", type=Path, help="reuse (or create) the archive here")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0 = default)")
    parser.add_argument(
        "--attachments",
        choices=ATTACHMENT_PROFILES,
        default="none",
        help="attachment profile of the archive: only 'none' is accepted, because the archive "
        "this benchmark generates carries no attachment files ('light' and 'realistic' are "
        "refused with an error; measure attachments with benchmarks/attachments.py)",
    )
    args = parser.parse_args()
    if args.attachments != "none":
        parser.error(
            f"--attachments {args.attachments}: the generated archive carries no attachment "
            "files, so only --attachments none can be measured here"
        )
    print(
        f"audit bench: {args.contents:,} contents, {args.sources} sources, {args.days} days, "
        f"attachments: {args.attachments}"
    )

    workdir = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    root = args.archive or workdir / "archive"
    if not (root / "_ledger").exists():
        started = time.perf_counter()
        build_archive(root, args.contents, args.sources, args.days)
        print(
            f"archive written: {args.contents:,} contents in {time.perf_counter() - started:.1f} s"
        )
    db = workdir / "audit.duckdb"
    report = build_catalog(root, db, Settings())
    print(f"catalog build: {report.seconds * 1000:.0f} ms, files {report.files_per_table}")
    # Which build-time specialisations hold for this snapshot (pipelines/catalog/views.py).
    print(
        f"read without union_by_name: {getattr(report, 'uniform_schema_tables', [])}; "
        f"contents is a plain scan: {getattr(report, 'contents_plain_scan', False)}"
    )
    timed("catalog rebuild", lambda: build_catalog(root, db, Settings()), repeat=3)
    # Contents files a rebuild with nothing new reads (pipelines/catalog/thread_files.py).
    rebuilt = build_catalog(root, db, Settings())
    print(f"contents files a rebuild read: {getattr(rebuilt, 'thread_files_read', 'n/a')}")

    conn = connect(db, Settings())
    if args.threads:
        conn.execute(f"SET threads={args.threads}")
    thread_id, agent_id, month = conn.execute(
        "SELECT thread_id, creator_id, date_trunc('month', creation_time) FROM contents "
        "WHERE creator_id IS NOT NULL LIMIT 1"
    ).fetchone()
    month_end = (month + timedelta(days=32)).replace(day=1)
    print(f"rows in contents: {conn.execute('SELECT count(*) FROM contents').fetchone()[0]:,}")
    timed("thread transcript (< 50 ms)", lambda: thread_transcript(conn, thread_id))
    timed(
        "one agent's month (< 150 ms)",
        lambda: run_query(
            conn, queries.AGENT_MESSAGES, {"agent_id": agent_id, "from": month, "to": month_end}
        ),
    )
    timed(
        "term search over all bodies (< 500 ms)",
        lambda: run_query(conn, queries.TERM_SEARCH, {"term": "subpoena"}),
        repeat=3,
    )
    timed(
        "reply_pairs aggregate (< 1 s)",
        lambda: run_query(conn, queries.RESPONSE_TIMES),
        repeat=3,
    )
    timed(
        "threads status count",
        lambda: run_query(conn, "SELECT status, count(*) FROM threads GROUP BY status"),
        repeat=3,
    )
    conn.close()


if __name__ == "__main__":
    main()
