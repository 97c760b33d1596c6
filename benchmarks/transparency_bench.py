"""What the regulator's proofs cost at scale: cosigning every source's checkpoint with two
witnesses, `verify` requiring them, producing one thread with its proofs, and checking that
production offline with the stand-alone verifier.

    .venv/bin/python benchmarks/transparency_bench.py --archive /tmp/bench1m/archive

The archive (a local directory) and its catalog (`--audit-db`, default audit.duckdb beside it)
are built as audit_bench.py builds them when missing. Two witnesses run as `rc-archive witness
serve` processes on 127.0.0.1 with their own keys and state; every step is the real command as
a child process, measured by the harness (wall, CPU, peak RSS). A second `cosign` shows the
cost once the witnesses hold a checkpoint (a consistency proof from their size).

The last line is `transparency: cosign X s, verify Y s, export Z s, offline check W s`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.harness import PYTHON, child_env, mib, render_table, run_measured, write_results
from pipelines.catalog.build import build_catalog
from pipelines.settings import Settings

LOG_NAME = "bench.example.org/rc-archive"


def rc_archive(*args: str) -> list[str]:
    return [PYTHON, "-m", "cli", *args]


def start_witness(work: Path, name: str, log_vkey: str, port: int) -> tuple[subprocess.Popen, str]:
    key = work / name
    subprocess.run(rc_archive("witness", "keygen", "--name", name, "--out", str(key)), check=True,
                   capture_output=True)  # fmt: skip
    state = work / f"{name}-state"
    serve = rc_archive("witness", "serve", "--key", str(key), "--state", str(state),
                       "--log", log_vkey, "--port", str(port))  # fmt: skip
    process = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"transparency_bench: witness {name} did not start") from None
            time.sleep(0.2)
    return process, Path(f"{key}.vkey").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True, help="the archive (local dir)")
    parser.add_argument("--audit-db", type=Path, help="default: audit.duckdb beside the archive")
    parser.add_argument("--contents", type=int, default=1_000_000, help="when building one")
    args = parser.parse_args()
    audit_db = args.audit_db or args.archive.parent / "audit.duckdb"
    if not (args.archive / "_ledger").exists():
        from benchmarks.audit_bench import build_archive

        build_archive(args.archive, args.contents, 10, 90)
    if not audit_db.exists():
        build_catalog(args.archive, audit_db, Settings())

    work = Path(tempfile.mkdtemp(prefix="transparency-bench-"))
    env = child_env(
        {"ARCHIVE_URI": str(args.archive), "AUDIT_DB": str(audit_db), "ARCHIVE_LOG_NAME": LOG_NAME}
    )
    key = work / "attest.pem"
    subprocess.run(rc_archive("keygen", "--out", str(key)), env=env, check=True,
                   capture_output=True)  # fmt: skip
    log_vkey = Path(f"{key}.pub.vkey").read_text().strip()
    witnesses = [start_witness(work, f"w{i}.example.org", log_vkey, 18770 + i) for i in (1, 2)]
    try:
        env["ARCHIVE_COSIGNERS"] = ",".join(
            f"{vkey}@http://127.0.0.1:{18770 + i}" for i, (_, vkey) in enumerate(witnesses, 1)
        )
        env["ARCHIVE_LOG_PUBLIC_KEY"] = f"{key}.pub"
        thread = subprocess.run(
            rc_archive("sql", "SELECT thread_id FROM messages GROUP BY 1 ORDER BY count(*) DESC, "
                       "1 LIMIT 1", "--format", "csv"),
            env=env, check=True, capture_output=True, text=True,
        ).stdout.splitlines()[1]  # fmt: skip
        production = work / "production"
        verifier = Path(__file__).resolve().parents[1] / "pipelines/integrity/verify_proof.py"
        witness_keys = [arg for _, vkey in witnesses for arg in ("--witness-key", vkey)]
        steps = {
            "cosign (first)": rc_archive("cosign", "--key", str(key)),
            "cosign (again)": rc_archive("cosign", "--key", str(key)),
            "verify": rc_archive("verify"),
            "export one thread (rsmf)": rc_archive(
                "export", "--thread", thread, "--format", "rsmf", "--out", str(production)
            ),
            "offline check": [
                PYTHON,
                "-I",
                str(verifier),
                str(production),
                "--log-key",
                log_vkey,
                *witness_keys,
            ],  # fmt: skip
        }
        runs = {name: run_measured(command, env).check() for name, command in steps.items()}
    finally:
        for process, _ in witnesses:
            process.terminate()
            process.wait(timeout=10)
    versions = len((production / "proofs" / "versions.jsonl").read_text().splitlines())
    rows = [
        [
            name,
            f"{run.wall_seconds:.2f}",
            f"{run.cpu_seconds:.2f}",
            f"{mib(run.peak_rss_bytes):.0f}",
        ]
        for name, run in runs.items()
    ]
    print(f"archive {args.archive}; thread {thread}: {versions} versions produced with proofs")
    print(render_table(["step", "wall s", "CPU s", "peak RSS MiB"], rows))
    print(runs["offline check"].stdout.strip().splitlines()[-1])
    path = write_results(
        "transparency",
        {
            "archive": str(args.archive),
            "thread": thread,
            "versions_produced": versions,
            "steps": {
                name: {
                    "wall_seconds": run.wall_seconds,
                    "cpu_seconds": run.cpu_seconds,
                    "peak_rss_bytes": run.peak_rss_bytes,
                }
                for name, run in runs.items()
            },
        },
    )
    print(f"results: {path}", file=sys.stderr)
    wall = {name: run.wall_seconds for name, run in runs.items()}
    print(
        f"transparency: cosign {wall['cosign (first)']:.1f} s, verify {wall['verify']:.1f} s, "
        f"export {wall['export one thread (rsmf)']:.1f} s, offline check "
        f"{wall['offline check']:.2f} s"
    )


if __name__ == "__main__":
    main()
