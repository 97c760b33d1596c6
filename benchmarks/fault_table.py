"""Print the fault table of docs/benchmarks.md (fault | what happens | what the operator
sees) as Markdown.

The rows come from real runs: tests/e2e/test_fault_matrix.py records each fault's outcome in
benchmarks/results/fault_matrix.json. `--run` runs the matrix first (about 5 minutes, root
needed for the tmpfs and read-only mount cases); without it the last results are printed.

    .venv/bin/python -m benchmarks.fault_table            # table from the last results
    .venv/bin/python -m benchmarks.fault_table --run      # run the matrix, then the table
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fault_matrix.json"
MATRIX = "tests/e2e/test_fault_matrix.py"
# Table order: API faults, then traffic, data, storage.
ORDER = ("429", "5xx", "slow", "dropped", "access token", "session", "page tokens", "contents")
ORDER += ("malformed", "S3 PutObject", "S3 bucket", "local disk", "local archive")


def run_matrix() -> int:
    """Run the matrix in a child process; a failing case still leaves the others' rows."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", MATRIX]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


# Presentation only: temporary paths, bucket names and ports differ on every run, and an
# operator's error line is cut to its first MAX_CELL characters.
_VOLATILE = (
    (re.compile(r"(?:/[^/\s()=]+)*/pytest-of-[^/]+/pytest-\d+/(?:popen-gw\d+/)?[^/\s)]+"), "<tmp>"),
    (re.compile(r"archive-[0-9a-f]{12}"), "<bucket>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
)
MAX_CELL = 400


def _cell(text: str) -> str:
    text = " ".join(text.split())
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return text.replace("|", "\\|")


def _sort_key(fault: str) -> tuple[int, str]:
    for position, prefix in enumerate(ORDER):
        if fault.startswith(prefix):
            return position, fault
    return len(ORDER), fault


def _end_state(row: dict) -> str:
    last = row["runs"][-1] if row["runs"] else {}
    parts = [
        f"{row['archived_versions']} versions archived once each"
        if row["view_rows"] == row["archived_versions"]
        else f"{row['view_rows']} rows for {row['archived_versions']} versions",
        "verify OK" if row["verify_ok"] else "verify FAILED",
    ]
    if row.get("uncommitted_files"):
        parts.append(f"{row['uncommitted_files']} uncommitted files (not read)")
    if row.get("quarantined_rows"):
        parts.append(f"{row['quarantined_rows']} in quarantine")
    if len(row["runs"]) > 1:
        parts.append(f"{len(row['runs'])} runs, last {'ok' if last.get('success') else 'FAILED'}")
    return "; ".join(parts)


def render(results: dict) -> str:
    rows = sorted(results.get("faults", {}).values(), key=lambda r: _sort_key(r["fault"]))
    lines = [
        "| Fault | What happens | What the operator sees | End state (audit views) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {_cell(row['fault'])} | {_cell(row['what_happens'])} | "
            f"{_cell(row['operator_sees'])} | {_cell(_end_state(row))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the fault matrix first")
    parser.add_argument("--results", type=Path, default=RESULTS, help="results JSON to read")
    args = parser.parse_args(argv)
    exit_code = run_matrix() if args.run else 0
    if not args.results.exists():
        print(
            f"no results at {args.results}: run `.venv/bin/pytest -q {MATRIX}` "
            "or this command with --run",
            file=sys.stderr,
        )
        return 2
    print(render(json.loads(args.results.read_text())))
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
