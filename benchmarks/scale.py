"""Scale benchmark: rc-archive on 1,000,000 contents over 10 sources, then an incremental run and
the auditor's queries on the result.

1. initial load: `python -m cli run --reconcile sample` as a child process against
   the sandbox in its own process (unthrottled): seconds, records/s, peak RSS (target < 400 MiB),
   API requests, Parquet files and bytes;
2. incremental: 1,000 new contents posted through the sandbox admin API (POST
   /_sandbox/contents, spread over the sources), then the same command: requests and seconds,
   and a check that every new id is archived;
3. audit: catalog build and the audit benchmark's questions (thread transcript, one agent's
   month, term search over all bodies, reply_pairs aggregate) on the archive just written.

`--attachments` (default none: contents only) is the sandbox's profile; with light or realistic
the runs also download and store every attachment file, counted in the table.

    .venv/bin/python benchmarks/scale.py --contents 100000        # quick
    .venv/bin/python benchmarks/scale.py                          # 1,000,000 contents
    .venv/bin/python benchmarks/scale.py --attachments light      # + 1% of messages with files
    .venv/bin/python benchmarks/scale.py --sources 1 --rss-by-step  # one big source; peak per step
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.harness import (
    SandboxProcess,
    add_attachments_argument,
    archived_content_ids,
    child_env,
    files_and_bytes,
    mib,
    rc_archive_command,
    render_table,
    run_measured,
    write_results,
)
from pipelines.archive.keys import ATTACHMENT_FILES_ROOT
from pipelines.settings import Settings

RSS_TARGET_MIB = 400
NEW_CONTENTS = 1_000


def archive_run(sandbox: SandboxProcess, workdir: Path, label: str, by_step: bool) -> dict:
    env = child_env({"ARCHIVE_URI": str(workdir / "archive"),
                     "AUDIT_DB": str(workdir / "audit.duckdb")})  # fmt: skip
    sandbox.reset_stats()
    command = rc_archive_command(sandbox.env_file)
    if by_step:  # a progress line every half second: the step in progress is known
        command += ["--progress-interval", "0.5"]
    run = run_measured(command, env, cwd=workdir, by_step=by_step).check()
    stats = sandbox.stats()
    (workdir / f"{label}.out").write_text(run.stdout + run.stderr, encoding="utf-8")
    parquet_files, parquet_bytes = files_and_bytes(workdir / "archive", ".parquet")
    all_files, all_bytes = files_and_bytes(workdir / "archive")
    blob_files, blob_bytes = files_and_bytes(workdir / "archive" / ATTACHMENT_FILES_ROOT)
    return {
        "run": label,
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "peak_rss_mib": mib(run.peak_rss_bytes),
        "requests": stats["requests"],
        "requests_by_group": stats["by_group"],
        "count_429": stats["count_429"],
        "file_downloads": stats["by_group"].get("Files", 0),
        "attachment_files": blob_files,  # in the archive after this run (distinct files)
        "attachment_bytes": blob_bytes,
        "parquet_files": parquet_files,
        "parquet_bytes": parquet_bytes,
        "archive_files": all_files,
        "archive_bytes": all_bytes,
        "peak_rss_mib_by_step": {step: mib(rss) for step, rss in run.peak_rss_by_step.items()},
    }


def add_new_contents(sandbox: SandboxProcess, count: int) -> tuple[list[str], float]:
    source_ids = sandbox.source_ids
    started = time.perf_counter()
    new_ids = [
        sandbox.add_content(source_ids[i % len(source_ids)], f"scale benchmark new message {i}")
        for i in range(count)
    ]
    return new_ids, time.perf_counter() - started


def audit_queries(workdir: Path) -> list[dict]:
    """The audit benchmark's questions, timed on this archive (median of repeats, warm)."""
    from pipelines.catalog.build import build_catalog
    from pipelines.catalog.connection import connect
    from pipelines.query import queries
    from pipelines.query.queries import run_query
    from pipelines.query.transcript import thread_transcript

    db = workdir / "audit-bench.duckdb"
    timings: list[dict] = []

    def timed(label: str, target_ms: float | None, function, repeat: int = 5) -> None:
        function()  # warm: the first call pays Parquet metadata reads
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            function()
            samples.append(time.perf_counter() - started)
        timings.append({"query": label, "median_ms": statistics.median(samples) * 1000,
                        "best_ms": min(samples) * 1000, "target_ms": target_ms})  # fmt: skip

    started = time.perf_counter()
    report = build_catalog(str(workdir / "archive"), db, Settings())
    timings.append({"query": "catalog build (cold)", "median_ms": (time.perf_counter() - started)
                    * 1000, "best_ms": report.seconds * 1000, "target_ms": None})  # fmt: skip
    conn = connect(db, Settings())
    try:
        thread_id, agent_id, month = conn.execute(
            "SELECT thread_id, creator_id, date_trunc('month', creation_time) FROM contents "
            "WHERE creator_id IS NOT NULL ORDER BY creation_time DESC LIMIT 1"
        ).fetchone()
        month_end = (month + timedelta(days=32)).replace(day=1)
        term = conn.execute(
            "SELECT split_part(body, ' ', 1) FROM contents WHERE body IS NOT NULL "
            "AND length(split_part(body, ' ', 1)) > 3 LIMIT 1"
        ).fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM contents").fetchone()[0]
        timed("count(*) contents", None, lambda: conn.execute(
            "SELECT count(*) FROM contents").fetchone())  # fmt: skip
        timed("thread transcript", 50, lambda: thread_transcript(conn, thread_id))
        timed("one agent's month", 150, lambda: run_query(
            conn, queries.AGENT_MESSAGES, {"agent_id": agent_id, "from": month,
                                           "to": month_end}))  # fmt: skip
        timed(f"term search {term!r} over all bodies", 500, lambda: run_query(
            conn, queries.TERM_SEARCH, {"term": term}), repeat=3)  # fmt: skip
        timed("reply_pairs aggregate", 1000,
              lambda: run_query(conn, queries.RESPONSE_TIMES), repeat=3)  # fmt: skip
        timed("unanswered inbound", None,
              lambda: run_query(conn, queries.UNANSWERED_INBOUND), repeat=3)  # fmt: skip
    finally:
        conn.close()
    for timing in timings:
        timing["rows_in_contents"] = rows
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contents", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--new", type=int, default=NEW_CONTENTS, help="contents added before "
                        "the incremental run")  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="keep outputs here (default: a temp dir)")
    parser.add_argument("--rss-by-step", action="store_true", help="also each step's peak RSS "
                        "(run:step of the run's progress lines)")  # fmt: skip
    add_attachments_argument(parser, default="none")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    workdir.mkdir(parents=True, exist_ok=True)

    with SandboxProcess(workdir / "sandbox", contents=args.contents, sources=args.sources,
                        attachments=args.attachments) as sb:  # fmt: skip
        visible = sum(len(sb.content_ids(s)) for s in sb.source_ids)
        sandbox_rss = mib(sb.rss_bytes())
        print(f"sandbox: {args.contents:,} contents ({visible:,} visible in {args.sources} "
              f"sources), attachments: {args.attachments}, up in {sb.startup_seconds:.1f} s, "
              f"RSS {sandbox_rss:,.0f} MiB; outputs in {workdir}", flush=True)  # fmt: skip
        initial = archive_run(sb, workdir, "initial", args.rss_by_step)
        initial["records"] = visible
        initial["records_per_second"] = visible / initial["wall_seconds"]
        print(f"initial: {initial['wall_seconds']:.1f} s, {initial['records_per_second']:,.0f} "
              f"rec/s, peak RSS {initial['peak_rss_mib']:,.0f} MiB", flush=True)  # fmt: skip
        new_ids, add_seconds = add_new_contents(sb, args.new)
        incremental = archive_run(sb, workdir, "incremental", args.rss_by_step)
        incremental["records"] = len(new_ids)
        incremental["records_per_second"] = len(new_ids) / incremental["wall_seconds"]
        print(f"incremental: {incremental['wall_seconds']:.1f} s, "
              f"{incremental['requests']} requests", flush=True)  # fmt: skip
        truth = set().union(*(sb.content_ids(s) for s in sb.source_ids))
    archived = archived_content_ids(workdir / "archive")
    archived_set = set(archived)
    completeness = {
        "api_ids": len(truth),
        "archived_rows": len(archived),
        "archived_ids": len(archived_set),
        "missing_ids": len(truth - archived_set),
        "new_ids_missing": len(set(new_ids) - archived_set),
    }
    audit = audit_queries(workdir)

    runs = [initial, incremental]
    print()
    print(f"attachments: {args.attachments} (file GETs: the sandbox's attachment downloads of "
          "the run; att. files/MiB: distinct files in the archive after it)")  # fmt: skip
    print(render_table(
        ["run", "records", "wall s", "cpu s", "rec/s", "peak RSS MiB", "requests", "429s",
         "file GETs", "att. files", "att. MiB", "parquet files", "parquet MiB",
         "archive files", "archive MiB"],
        [[r["run"], r["records"], r["wall_seconds"], r["cpu_seconds"], r["records_per_second"],
          r["peak_rss_mib"], r["requests"], r["count_429"], r["file_downloads"],
          r["attachment_files"], mib(r["attachment_bytes"]), r["parquet_files"],
          mib(r["parquet_bytes"]), r["archive_files"], mib(r["archive_bytes"])] for r in runs],
    ))  # fmt: skip
    if args.rss_by_step:
        steps = list(dict.fromkeys(step for r in runs for step in r["peak_rss_mib_by_step"]))
        print("\npeak RSS MiB by step (the run's RSS while the step was in progress)")
        print(render_table(["step", *(r["run"] for r in runs)],
                           [[step, *(r["peak_rss_mib_by_step"].get(step, "") for r in runs)]
                            for step in steps]))  # fmt: skip
    rss_ok = initial["peak_rss_mib"] < RSS_TARGET_MIB
    print(f"\npeak RSS target < {RSS_TARGET_MIB} MiB: {'met' if rss_ok else 'NOT met'}; "
          f"{args.new:,} contents added in {add_seconds:.1f} s; completeness: "
          f"{completeness}")  # fmt: skip
    print()
    print(render_table(["audit query", "median ms", "best ms", "target ms"],
                       [[t["query"], t["median_ms"], t["best_ms"], t["target_ms"] or ""]
                        for t in audit]))  # fmt: skip
    path = write_results(
        "scale",
        {"contents": args.contents, "sources": args.sources, "attachments": args.attachments,
         "visible": visible,
         "sandbox_startup_seconds": sb.startup_seconds, "sandbox_rss_mib": sandbox_rss,
         "initial": initial, "incremental": incremental, "add_seconds": add_seconds,
         "completeness": completeness, "audit": audit, "rss_target_met": rss_ok},
    )  # fmt: skip
    print(f"results: {path}")
    return 0 if completeness["missing_ids"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
