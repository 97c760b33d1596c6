"""How long `rc-archive run` takes to stop when asked: signal sent -> process ended.

The promise is exit 130 within 10 s of Ctrl-C (SIGINT) or SIGTERM, at a batch boundary. The
interrupt tests (tests/e2e/test_interrupts.py) check what a stop leaves behind and only guard
against a hang; this measures the time, at the same five moments of one archive's life (the
crawl, a commit, the attachment downloads, the checks, the catalog build), each run resuming
the one before, then one more run completing the archive. Every stop is checked as the tests
check it (exit 130, one line, verify clean, nothing partial committed); a stop that is not clean
ends the benchmark with its assertion.

    .venv/bin/python benchmarks/interrupts.py --rounds 3
    .venv/bin/python benchmarks/interrupts.py --contents 100000 --batch-records 20000
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
from pathlib import Path

# The interrupt machinery is the tests' own (tests/e2e/interrupt_support.py): run as a script,
# the checkout's root, not only the installed packages, must be importable.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import code_version, render_table, write_results
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.e2e.helpers import cli_env, run_to_completion
from tests.e2e.interrupt_support import (
    ACCOUNT,
    ARGS,
    MOMENTS,
    check_complete_once,
    check_stopped_cleanly,
    fewer_attachments,
    interrupt,
)

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
PROMISE_SECONDS = 10.0


def one_archive(
    workdir: Path, signum: int, seed: int, contents: int, batch_records: int
) -> list[dict]:
    """The five interruptions of one archive, then the run that completes it."""
    account = {**ACCOUNT, "contents": contents}
    config = SandboxConfig(seed=seed, light_limit=100_000, medium_limit=100_000, **account)
    args = (f"--batch-records={batch_records}", *ARGS[1:])
    rows = []
    with SandboxServer(config) as sb:
        fewer_attachments(sb)
        archive = workdir / "archive"
        env = cli_env(sb.env, archive, workdir / "audit.duckdb")
        for moment, reached in MOMENTS:
            stop = interrupt(env, archive, signum, moment, reached, args)
            check_stopped_cleanly(stop, archive, signum, batch_records)
            rows.append({"moment": moment, "exit": stop.code, "seconds": stop.seconds})
        run_to_completion(env, *args)
        check_complete_once(sb, archive)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="archives per signal")
    parser.add_argument("--signal", action="append", choices=sorted(SIGNALS))
    parser.add_argument(
        "--contents",
        type=int,
        default=ACCOUNT["contents"],
        help="contents the sandbox generates for its one source",
    )
    parser.add_argument(
        "--batch-records",
        type=int,
        default=1000,
        help="records a batch commits (the product's default is 20,000)",
    )
    args = parser.parse_args(argv)
    names = args.signal or sorted(SIGNALS)

    measured: list[dict] = []
    for round_number in range(1, args.rounds + 1):
        for name in names:
            with tempfile.TemporaryDirectory(prefix="rc-interrupts-") as workdir:
                rows = one_archive(Path(workdir), SIGNALS[name], 6 + round_number, args.contents,
                                   args.batch_records)  # fmt: skip
                for row in rows:
                    measured.append({"round": round_number, "signal": name, **row})
                    print(f"round {round_number} {name} at {row['moment']}: exit "
                          f"{row['exit']} after {row['seconds']:.2f} s", flush=True)  # fmt: skip

    seconds = [row["seconds"] for row in measured]
    by_moment = {}
    for row in measured:
        by_moment.setdefault((row["signal"], row["moment"]), []).append(row["seconds"])
    print()
    print(render_table(
        ["signal", "moment", "stops", "median s", "max s"],
        [[signal_name, moment, len(values), statistics.median(values), max(values)]
         for (signal_name, moment), values in by_moment.items()],
    ))  # fmt: skip
    settings = {"contents": args.contents, "batch_records": args.batch_records}
    write_results("interrupts", {"code": code_version(), **settings, "stops": measured})
    within = sum(value <= PROMISE_SECONDS for value in seconds)
    print(f"interrupts: {len(seconds)} stops, exit 130 each, median "
          f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, "
          f"{within}/{len(seconds)} within {PROMISE_SECONDS:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
