"""Peer benchmark: rc-archive against dlt's rest_api source + filesystem destination (Parquet),
on the same sandbox data, in one script run, A/B alternating.

The sandbox runs unthrottled (Light limit 1e9 per 1 s window) in its own process, so neither
contender shares a GIL with the server; each contender runs as a child process into a fresh
output directory per round, so its wall time, CPU and peak RSS are its own.

(a) rc-archive: `python -m cli run --reconcile sample` - contents, identities, agents,
    audit catalog and the three asset checks (schema-valid, reconciled, ledger intact), through
    Dagster, into hive-partitioned zstd Parquet with a hash-chained ledger.
(b) dlt 1.31 `rest_api_source`: one resource per source (`sourceIds`), `perPage=1000`,
    `orderBy=+creationTime`, cursor paginator on `paging.nextPageToken` -> `pageToken`, a bearer
    token fetched first with RingCentral's JWT grant (dlt's OAuth2ClientCredentials speaks the
    client-credentials grant, not the JWT bearer grant), filesystem destination with a local
    `bucket_url`, `loader_file_format="parquet"`, defaults otherwise. With attachments
    (`--attachments light|realistic`) a `@dlt.transformer` per source takes each page of
    contents and GETs every attachment's signed `uri` (no bearer token: sandbox/files.py),
    streaming the bytes to `<bucket>/attachment_files/<attachment id>/<file name>` and yielding
    one row per file (content id, attachment id, size, SHA-256) to an `attachment_files` table,
    so both contenders download the same files; rc-archive stores each distinct file once (by
    SHA-256), dlt one file per attachment.

`--attachments` (default none: contents only) is the sandbox's profile; the table prints the
attachment downloads each contender made (the sandbox's `Files` requests) and the files and
bytes it stored.

    .venv/bin/python benchmarks/peer_dlt.py                       # 200,000 contents, 3 rounds
    .venv/bin/python benchmarks/peer_dlt.py --contents 20000 --rounds 1 --quick
    .venv/bin/python benchmarks/peer_dlt.py --contents 20000 --rounds 1 --attachments light
    .venv/bin/python benchmarks/peer_dlt.py --profile             # + pyinstrument of rc-archive
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import (
    PYTHON,
    RESULTS,
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

if TYPE_CHECKING:  # dlt is imported in the worker child only
    from dlt.extract import DltResource, DltSource

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The release's target: at least this many times dlt's records/s, at most this share of its
# peak RSS (docs/benchmarks.md).
GOAL_SPEED_RATIO = 3.0
GOAL_MEMORY_RATIO = 0.8
DLT_DATASET = "rc_social"
DLT_TABLE = "contents"
DLT_FILES_TABLE = "attachment_files"
FILES_DIR = "attachment_files"  # the attachment bytes, beside the dataset, in each output


# -- (b) the dlt contender, run as `peer_dlt.py dlt-worker ...` in a child process ------------


def dlt_worker(env_file: Path, bucket: Path, pipelines_dir: Path, attachments: bool) -> None:
    import dlt
    import httpx
    from dlt.sources.rest_api import rest_api_source

    from pipelines.settings import load_env_file

    env = load_env_file(env_file)
    base = env["RC_SERVER_URL"].rstrip("/")
    token = (
        httpx.post(
            f"{base}/restapi/oauth/token",
            data={"grant_type": JWT_GRANT, "assertion": env["RC_USER_JWT"]},
            auth=(env["RC_APP_CLIENT_ID"], env["RC_APP_CLIENT_SECRET"]),
            timeout=30,
        )
        .raise_for_status()
        .json()["access_token"]
    )
    source_ids = env["RC_SOURCE_IDS"].split(",")
    config = {
        "client": {
            "base_url": f"{base}/cx/social-messaging/v1/",
            "auth": {"type": "bearer", "token": token},
            "paginator": {
                "type": "cursor",
                "cursor_path": "paging.nextPageToken",
                "cursor_param": "pageToken",
            },
        },
        "resource_defaults": {
            "write_disposition": "append",
            "table_name": DLT_TABLE,
            "endpoint": {"data_selector": "records"},
        },
        "resources": [
            {
                "name": f"contents_{source_id}",
                "endpoint": {
                    "path": "contents",
                    "params": {
                        "sourceIds": source_id,
                        "perPage": 1000,
                        "orderBy": "+creationTime",
                    },
                },
            }
            for source_id in source_ids
        ],
    }
    pipeline = dlt.pipeline(
        pipeline_name="rc_social_contents",
        destination=dlt.destinations.filesystem(bucket_url=bucket.resolve().as_uri()),
        dataset_name=DLT_DATASET,
        pipelines_dir=str(pipelines_dir),
    )
    if attachments:
        source = contents_with_attachment_files(config, bucket / FILES_DIR)
    else:
        source = rest_api_source(config)
    pipeline.run(source, loader_file_format="parquet")
    row_counts = pipeline.last_trace.last_normalize_info.row_counts
    print(json.dumps({"row_counts": dict(row_counts)}))


def contents_with_attachment_files(config: dict, files_root: Path) -> DltSource:
    """The rest_api resources plus, per source, a transformer that downloads the attachment
    files its pages of contents list: dlt's own way to hang per-record work off a resource
    (the parent pages are extracted once and fed to both the loader and the transformer)."""
    import dlt
    from dlt.sources.rest_api import rest_api_resources

    @dlt.source(name="rest_api")
    def source():
        contents = rest_api_resources(config)
        return [*contents, *(attachment_downloader(r, files_root) for r in contents)]

    return source()


def attachment_downloader(parent: DltResource, files_root: Path) -> DltResource:
    """Downloads every attachment of the contents `parent` yields, one at a time (dlt's
    defaults: no thread pool), streamed to disk and hashed as rc-archive does, and yields a row
    per file so the dataset says what was captured."""
    import hashlib

    import dlt
    from dlt.sources.helpers import requests

    @dlt.transformer(data_from=parent, name=f"files_{parent.name}", table_name=DLT_FILES_TABLE,
                     write_disposition="append")  # fmt: skip
    def download(page: list[dict] | dict) -> Iterator[list[dict]]:
        rows = []
        for content in page if isinstance(page, list) else [page]:
            for attachment in content.get("attachments") or []:
                folder = files_root / attachment["id"]
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / Path(attachment["filename"] or "file").name
                digest = hashlib.sha256()
                size = 0
                # Signed link: no bearer token (the Authorization header is the API's, not
                # the file server's), as RingCentral's attachment links.
                with requests.get(attachment["uri"], stream=True, timeout=60) as response:
                    response.raise_for_status()
                    with open(target, "wb") as handle:
                        for chunk in response.iter_content(1 << 20):
                            handle.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                rows.append({"content_id": content["id"], "attachment_id": attachment["id"],
                             "path": str(target.relative_to(files_root)), "size": size,
                             "sha256": digest.hexdigest()})  # fmt: skip
        if rows:
            yield rows

    return download


def dlt_ids(bucket: Path) -> list[str]:
    import pyarrow.parquet as pq

    ids: list[str] = []
    for path in sorted((bucket / DLT_DATASET / DLT_TABLE).glob("*.parquet")):
        ids.extend(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    return ids


# -- the A/B driver ---------------------------------------------------------------------------


def run_contender(name: str, sandbox: SandboxProcess, outdir: Path, truth: set[str]) -> dict:
    outdir.mkdir(parents=True)
    sandbox.reset_stats()
    if name == "rc-archive":
        archive = outdir / "archive"
        env = child_env({"ARCHIVE_URI": str(archive), "AUDIT_DB": str(outdir / "audit.duckdb")})
        run = run_measured(rc_archive_command(sandbox.env_file), env, cwd=outdir).check()
        ids = archived_content_ids(archive)
        data_files, data_bytes = files_and_bytes(archive, ".parquet")
        stored_files, stored_bytes = files_and_bytes(archive / ATTACHMENT_FILES_ROOT)
        all_files, all_bytes = files_and_bytes(outdir)
    else:
        bucket = outdir / "bucket"
        env = child_env({"RUNTIME__DLTHUB_TELEMETRY": "false"})
        command = [PYTHON, str(Path(__file__).resolve()), "dlt-worker",
                   "--env-file", str(sandbox.env_file), "--bucket", str(bucket),
                   "--pipelines-dir", str(outdir / "dlt_pipelines")]  # fmt: skip
        if sandbox.attachments != "none":
            command.append("--attachment-files")
        run = run_measured(command, env, cwd=outdir).check()
        ids = dlt_ids(bucket)
        data_files, data_bytes = files_and_bytes(bucket, ".parquet")
        stored_files, stored_bytes = files_and_bytes(bucket / FILES_DIR)
        all_files, all_bytes = files_and_bytes(outdir)
    stats = sandbox.stats()
    unique = set(ids)
    return {
        "contender": name,
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "records": len(truth),
        "records_per_second": len(truth) / run.wall_seconds,
        "peak_rss_mib": mib(run.peak_rss_bytes),
        "requests": stats["requests"],
        "requests_by_group": stats["by_group"],
        "count_429": stats["count_429"],
        "file_downloads": stats["by_group"].get("Files", 0),
        "attachment_files_stored": stored_files,
        "attachment_bytes_stored": stored_bytes,
        "parquet_files": data_files,
        "parquet_bytes": data_bytes,
        "all_files": all_files,
        "all_bytes": all_bytes,
        "rows_written": len(ids),
        "duplicate_rows": len(ids) - len(unique),
        "missing_ids": len(truth - unique),
        "extra_ids": len(unique - truth),
        "ids": unique,
    }


def profile_rc_archive(sandbox: SandboxProcess, outdir: Path) -> dict:
    """pyinstrument over a whole `python -m cli run`; returns the top functions by self and
    inclusive time (as % of the run) so the report says where the time goes."""
    outdir.mkdir(parents=True)
    session_path = outdir / "rc-archive.pyisession"
    env = child_env({"ARCHIVE_URI": str(outdir / "archive"),
                     "AUDIT_DB": str(outdir / "audit.duckdb")})  # fmt: skip
    command = [PYTHON, "-m", "pyinstrument", "-i", "0.005", "-r", "session", "-o",
               str(session_path), "-m", "cli", "run", "--env-file",
               str(sandbox.env_file), "--reconcile", "sample"]  # fmt: skip
    run = run_measured(command, env, cwd=outdir).check()
    tree_path = RESULTS / "peer_dlt-rc-archive-profile.txt"
    render = [PYTHON, "-m", "pyinstrument", "--load", str(session_path), "-r", "text",
              "--show-all", "-o", str(tree_path)]  # fmt: skip
    rendered = run_measured(render, child_env({}), cwd=outdir).returncode == 0
    return {"wall_seconds": run.wall_seconds, "text_report": str(tree_path) if rendered else None,
            **summarise_profile(session_path)}  # fmt: skip


def summarise_profile(session_path: Path, top: int = 25) -> dict:
    """Self time per function (where the CPU or the wait is) and inclusive time per function of
    this project (which step of the run it belongs to), each as % of the sampled wall time."""
    from pyinstrument.session import Session

    root = Session.load(session_path).root_frame()
    total = root.time
    self_time: Counter[str] = Counter()
    project_inclusive: Counter[str] = Counter()
    project_root = str(Path(__file__).resolve().parents[1]) + "/"

    def key(frame) -> str:
        path = (frame.file_path or "").replace(project_root, "")
        return f"{frame.function} ({path.split('site-packages/')[-1]}:{frame.line_no})"

    def walk(frame, on_stack: frozenset[str]) -> None:
        name = key(frame)
        if not frame.is_synthetic:
            self_time[name] += frame.total_self_time
            path = frame.file_path or ""
            in_project = path.startswith(project_root) and "site-packages" not in path
            if in_project and name not in on_stack:
                project_inclusive[name] += frame.time
        for child in frame.children:
            walk(child, on_stack | {name})

    walk(root, frozenset())

    def as_pct(counter: Counter[str]) -> list[tuple[str, float, float]]:
        return [(n, round(t, 1), round(100 * t / total, 1)) for n, t in counter.most_common(top)]

    return {"profiled_seconds": total, "top_self": as_pct(self_time),
            "top_project_inclusive": as_pct(project_inclusive)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("dlt-worker", help="internal: one dlt run (the harness's child)")
    worker.add_argument("--env-file", type=Path, required=True)
    worker.add_argument("--bucket", type=Path, required=True)
    worker.add_argument("--pipelines-dir", type=Path, required=True)
    worker.add_argument("--attachment-files", action="store_true", help="download them too")
    parser.add_argument("--contents", type=int, default=200_000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also profile rc-archive")
    parser.add_argument("--quick", action="store_true", help="label the result file as quick")
    parser.add_argument("--workdir", type=Path, help="keep outputs here (default: a temp dir)")
    add_attachments_argument(parser, default="none")
    args = parser.parse_args(argv)
    if args.command == "dlt-worker":
        dlt_worker(args.env_file, args.bucket, args.pipelines_dir, args.attachment_files)
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="peer-dlt-"))
    with SandboxProcess(workdir / "sandbox", contents=args.contents, sources=args.sources,
                        attachments=args.attachments) as sb:  # fmt: skip
        truth = set().union(*(sb.content_ids(s) for s in sb.source_ids))
        print(f"sandbox: {args.contents:,} contents, {len(truth):,} visible in {args.sources} "
              f"sources, attachments: {args.attachments}, up in {sb.startup_seconds:.1f} s, "
              f"RSS {mib(sb.rss_bytes()):,.0f} MiB; outputs in {workdir}",
              flush=True)  # fmt: skip
        results: list[dict] = []
        for round_index in range(args.rounds):
            order = ["rc-archive", "dlt"] if round_index % 2 == 0 else ["dlt", "rc-archive"]
            for name in order:
                outdir = workdir / f"round{round_index}" / name
                result = run_contender(name, sb, outdir, truth)
                result["round"] = round_index
                results.append(result)
                print(f"  round {round_index} {name:<10} {result['wall_seconds']:7.1f} s  "
                      f"{result['records_per_second']:9,.0f} rec/s  "
                      f"{result['peak_rss_mib']:6,.0f} MiB  {result['requests']:5} requests  "
                      f"{result['file_downloads']:5} file downloads", flush=True)  # fmt: skip
        same_ids = _same_ids(results)
        profile = profile_rc_archive(sb, workdir / "profile") if args.profile else None
    for result in results:
        result.pop("ids")
    summary = _summary(results)
    _print_report(results, summary, same_ids, profile, args.attachments)
    path = write_results(
        "peer_dlt-quick" if args.quick else "peer_dlt",
        {"contents": args.contents, "sources": args.sources, "attachments": args.attachments,
         "visible": len(truth), "rounds": results, "summary": summary, "same_ids": same_ids,
         "profile": profile},
    )  # fmt: skip
    print(f"results: {path}")
    return 0


def _same_ids(results: list[dict]) -> dict:
    rc = [r["ids"] for r in results if r["contender"] == "rc-archive"]
    peer = [r["ids"] for r in results if r["contender"] == "dlt"]
    return {
        "rc_archive_vs_dlt_equal": all(a == b for a in rc for b in peer),
        "every_run_complete": all(r["missing_ids"] == 0 for r in results),
    }


def _summary(results: list[dict]) -> dict:
    summary = {}
    for name in ("rc-archive", "dlt"):
        runs = [r for r in results if r["contender"] == name]
        summary[name] = {
            key: statistics.median(r[key] for r in runs)
            for key in ("wall_seconds", "cpu_seconds", "records_per_second", "peak_rss_mib",
                        "requests", "file_downloads", "attachment_files_stored",
                        "attachment_bytes_stored", "parquet_files", "parquet_bytes", "all_files",
                        "all_bytes")
        }  # fmt: skip
    rc, peer = summary["rc-archive"], summary["dlt"]
    summary["ratio_records_per_second_rc_over_dlt"] = (
        rc["records_per_second"] / peer["records_per_second"]
    )
    summary["ratio_peak_rss_rc_over_dlt"] = rc["peak_rss_mib"] / peer["peak_rss_mib"]
    summary["goal_met"] = (
        summary["ratio_records_per_second_rc_over_dlt"] >= GOAL_SPEED_RATIO
        and summary["ratio_peak_rss_rc_over_dlt"] <= GOAL_MEMORY_RATIO
    )
    return summary


def _print_report(
    results: list[dict], summary: dict, same_ids: dict, profile: dict | None, attachments: str
) -> None:
    header = ["round", "contender", "wall s", "cpu s", "rec/s", "peak RSS MiB", "requests",
              "file GETs", "att. files", "att. MiB", "parquet files", "parquet MiB",
              "all files", "all MiB", "rows", "dup", "missing"]  # fmt: skip
    rows = [[r["round"], r["contender"], r["wall_seconds"], r["cpu_seconds"],
             r["records_per_second"], r["peak_rss_mib"], r["requests"], r["file_downloads"],
             r["attachment_files_stored"], mib(r["attachment_bytes_stored"]), r["parquet_files"],
             mib(r["parquet_bytes"]), r["all_files"], mib(r["all_bytes"]), r["rows_written"],
             r["duplicate_rows"], r["missing_ids"]] for r in results]  # fmt: skip
    print()
    print(f"attachments: {attachments} ("
          + ("contents only: no attachment files in the sandbox)" if attachments == "none" else
             "both contenders download every attachment file: `file GETs` are the sandbox's "
             "file downloads, `att. files`/`att. MiB` what each stored; rc-archive stores each "
             "distinct file once by SHA-256, paced at 20 downloads/s per source, its default)")
          )  # fmt: skip
    print(render_table(header, rows))
    print()
    medians = [[name, s["wall_seconds"], s["records_per_second"], s["peak_rss_mib"],
                s["requests"], s["file_downloads"], s["attachment_files_stored"],
                mib(s["attachment_bytes_stored"]), s["parquet_files"], mib(s["parquet_bytes"])]
               for name, s in ((n, summary[n]) for n in ("rc-archive", "dlt"))]  # fmt: skip
    print(render_table(["median", "wall s", "rec/s", "peak RSS MiB", "requests", "file GETs",
                        "att. files", "att. MiB", "parquet files", "parquet MiB"],
                       medians))  # fmt: skip
    speed = summary["ratio_records_per_second_rc_over_dlt"]
    memory = summary["ratio_peak_rss_rc_over_dlt"]
    verdict = "met" if summary["goal_met"] else "NOT met"
    print(f"\nrecords/s ratio rc-archive / dlt: {speed:.2f}   peak RSS ratio: {memory:.2f}"
          f"   goal (>= {GOAL_SPEED_RATIO:g}x at <= {GOAL_MEMORY_RATIO:g}x memory): "
          f"{verdict}")  # fmt: skip
    print(f"same ids written by both: {same_ids['rc_archive_vs_dlt_equal']}; "
          f"every run complete: {same_ids['every_run_complete']}")  # fmt: skip
    if profile:
        print(f"\nrc-archive profile ({profile['profiled_seconds']:.1f} s sampled; "
              f"tree in {profile['text_report']}):")  # fmt: skip
        print(render_table(["top self time", "s", "%"],
                           [list(x) for x in profile["top_self"][:15]]))  # fmt: skip
        print()
        print(render_table(["project function (inclusive)", "s", "%"],
                           [list(x) for x in profile["top_project_inclusive"]]))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
