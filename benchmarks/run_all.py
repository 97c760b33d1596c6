"""Run every benchmark in benchmarks/ in its quick mode, one after the other, and summarise.

What `make bench` runs. Each benchmark prints its own table (streamed here as it runs) and
most write JSON to benchmarks/results/; this adds a summary of status and time per benchmark
and a JSON of it. Quick sizes keep the whole set to roughly ten minutes on 2 cores; `--full`
runs the default (large) sizes instead.

    .venv/bin/python benchmarks/run_all.py
    .venv/bin/python benchmarks/run_all.py --only peer_dlt --only scale
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.harness import PYTHON, REPO, RESULTS, render_table, write_results

# name -> arguments of the quick mode (sizes chosen so each finishes in about 1-3 minutes)
QUICK: dict[str, list[str]] = {
    "sandbox_bench": ["--contents", "100000", "--pages", "100"],
    "client_bench": ["--window", "6", "--pages", "60"],
    "archive_bench": ["--n", "100000"],
    "audit_bench": ["--contents", "100000"],
    "peer_dlt": ["--contents", "50000", "--rounds", "1", "--quick"],
    "scale": ["--contents", "100000", "--new", "200"],
    "policies": ["--policies", "50", "--terms", "100", "--messages", "100000"],
    "search": ["--months", "6", "--messages", "20000"],
    "interrupts": ["--rounds", "1"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(QUICK), help="repeatable")
    parser.add_argument("--skip", action="append", choices=sorted(QUICK), default=[])
    parser.add_argument("--full", action="store_true", help="default sizes, not quick ones")
    args = parser.parse_args(argv)
    names = [n for n in (args.only or QUICK) if n not in args.skip]
    missing = [n for n in names if not (REPO / "benchmarks" / f"{n}.py").exists()]
    rows = []
    for name in names:
        if name in missing:
            rows.append({"benchmark": name, "status": "missing", "seconds": 0.0, "command": ""})
            continue
        command = [PYTHON, f"benchmarks/{name}.py", *([] if args.full else QUICK[name])]
        printable = " ".join([".venv/bin/python", *command[1:]])
        print(f"\n=== {name}: {printable}", flush=True)
        started = time.perf_counter()
        returncode = subprocess.call(command, cwd=REPO)
        seconds = time.perf_counter() - started
        status = "ok" if returncode == 0 else f"exit {returncode}"
        rows.append({"benchmark": name, "status": status, "seconds": seconds,
                     "command": printable})  # fmt: skip
    print("\n=== summary")
    print(render_table(["benchmark", "status", "seconds", "command"],
                       [[r["benchmark"], r["status"], r["seconds"], r["command"]]
                        for r in rows]))  # fmt: skip
    path = write_results("run_all", {"full": args.full, "benchmarks": rows})
    print(f"results: {path} (and the benchmarks' own files in {RESULTS})")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
