"""`rc-archive review next|decide|verify|rescan|report`: the supervision review queue.

`next` lists the undecided flags (an access-logged read of the catalog), `decide` records a decision
write-once in `_reviews/` (pipelines/governance/review.py), `verify` replays the decisions'
hash chain, `rescan` flags the archived history with a policy, `report` stores today's
supervision report. The library is imported inside each handler (it loads pyarrow, pandas and
DuckDB).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import astuple
from typing import Any

from cli.arguments import add_output_format
from cli.command import CommandGroup, Subcommand
from cli.context import Context
from cli.errors import EXIT_OK, EXIT_TAMPERING, UsageError
from cli.output import render_rows

RESCAN_HEADER = ["source_id", "files", "versions", "flags_found", "flags_committed"]

# -- review next --------------------------------------------------------------------------------


def _next_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", help="only this policy's flags")
    parser.add_argument("--limit", type=int, default=20, help="most flags shown (20)")
    add_output_format(parser)


def _next(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.query.access_logged import catalog_archive, query_fields, run_logged
    from pipelines.query.review_queue import (
        REVIEW_NEXT,
        decided_since_catalog,
        review_next_params,
    )
    from pipelines.query.sql import sql_command

    audit_db = ctx.require_audit_db()
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    # Decisions stored since the catalog was built leave the queue at once, not only after the
    # next `rc-archive catalog` (pipelines/query/review_queue.py).
    decided = decided_since_catalog(catalog_archive(audit_db, ctx.settings), audit_db, ctx.settings)
    params = review_next_params(args.policy, args.limit, decided)
    details = query_fields(REVIEW_NEXT, params, "review next")

    def work() -> tuple[str, dict[str, Any]]:
        text, rows = sql_command(audit_db, REVIEW_NEXT, params, args.format, ctx.settings)
        return text, {"rows": rows}

    print(run_logged(ctx.catalog_trail(audit_db), "review", details, work))
    return EXIT_OK


NEXT = Subcommand(
    name="next",
    help="the undecided flags, newest first",
    add_arguments=_next_arguments,
    run=_next,
)

# -- review decide ------------------------------------------------------------------------------


def _decide_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flag_id", help="the flag's id (flags.record_sha256, 8+ hex digits)")
    parser.add_argument(
        "--decision",
        required=True,
        choices=["cleared", "escalated"],
        help="cleared (nothing wrong) or escalated (to compliance)",
    )
    parser.add_argument("--note", required=True, help="why (kept with the decision)")


def _decide(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.governance.review import record_decision
    from pipelines.query.access_logged import catalog_archive
    from pipelines.query.review_queue import flag_by_id

    audit_db = ctx.require_audit_db()
    flag = flag_by_id(audit_db, args.flag_id, ctx.settings)
    store = catalog_archive(audit_db, ctx.settings)
    record = record_decision(store, flag, args.decision, args.note, ctx.settings)
    print(
        f"{args.decision} flag {flag['record_sha256'][:16]} ({flag['policy']}, message "
        f"{flag['content_id']}); {record.key}"
    )
    return EXIT_OK


DECIDE = Subcommand(
    name="decide",
    help="record a decision on one flag (write-once)",
    add_arguments=_decide_arguments,
    run=_decide,
)

# -- review verify ------------------------------------------------------------------------------


def _verify(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.governance.review import review_log

    store = ctx.store
    count, findings = review_log(store, ctx.settings).verify()
    for finding in findings:
        print(f"  {finding}")
    if findings:
        print(
            f"rc-archive review: TAMPERING FOUND: {len(findings)} finding(s) in the review "
            f"decisions of {store.describe()}",
            file=sys.stderr,
        )
        return EXIT_TAMPERING
    print(f"review decisions intact: {count} decisions in {store.describe()}")
    return EXIT_OK


VERIFY = Subcommand(name="verify", help="replay the decisions' hash chain", run=_verify)

# -- review rescan ------------------------------------------------------------------------------


def _rescan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", help="policies.yaml (default: ARCHIVE_POLICIES)")
    parser.add_argument("--policy", action="append", help="only this policy (repeatable)")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    add_output_format(parser)


def _rescan(ctx: Context, args: argparse.Namespace) -> int:
    """Flag the archived history with a policy (pipelines/governance/rescan.py)."""
    from pipelines.archive.ledger import ConcurrentCommitError, Ledger
    from pipelines.governance.policies import load_policies
    from pipelines.governance.rescan import choose_policies, rescan

    path = args.policies or ctx.settings.policies_path
    if not path:
        raise UsageError("give --policies FILE (or set ARCHIVE_POLICIES)")
    policies = choose_policies(load_policies(path), args.policy)
    run_id = f"rescan-{uuid.uuid4().hex[:12]}"
    try:
        ledger = Ledger(ctx.store, witness=ctx.configured_witness())  # a writer
        results = rescan(ledger, policies, run_id, args.source)
    except ConcurrentCommitError as exc:
        raise UsageError(f"{exc} (a re-scan is safe to run again)") from None
    print(render_rows(RESCAN_HEADER, [astuple(r) for r in results], args.format))
    return EXIT_OK


RESCAN = Subcommand(
    name="rescan",
    help="apply policies to the messages archived before them (new flags only)",
    add_arguments=_rescan_arguments,
    run=_rescan,
)

# -- review sample ------------------------------------------------------------------------------


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="FILE.checkpoint",
        help="a cosigned checkpoint of one source (`rc-archive cosign` or `attest` writes them)",
    )
    parser.add_argument(
        "--rate", required=True, type=float, help="share of agent versions drawn (0 to 1)"
    )
    parser.add_argument(
        "--policy", default="checkpoint-sample", help="the flags' policy name (default %(default)s)"
    )
    add_output_format(parser)


SAMPLE_HEADER = ("source_id", "tree_size", "agent_versions", "sampled", "committed")


def _sample(ctx: Context, args: argparse.Namespace) -> int:
    """Draw the review sample a cosigned checkpoint seeds (pipelines/governance/
    checkpoint_sample.py) and commit it as flags."""
    from pipelines.archive.ledger import ConcurrentCommitError, Ledger
    from pipelines.governance.checkpoint_sample import checkpoint_sample
    from pipelines.integrity.signed_note import split_note
    from pipelines.integrity.tlog import parse_checkpoint

    try:
        with open(args.checkpoint, encoding="utf-8") as handle:
            text, _ = split_note(handle.read())
    except OSError as exc:
        raise UsageError(f"--checkpoint {args.checkpoint}: {exc.strerror}") from None
    checkpoint = parse_checkpoint(text)
    run_id = f"sample-{uuid.uuid4().hex[:12]}"
    try:
        ledger = Ledger(ctx.store, witness=ctx.configured_witness())  # a writer
        result = checkpoint_sample(
            ledger, checkpoint, ctx.settings.transparency.log_name, args.rate, run_id, args.policy
        )
    except ConcurrentCommitError as exc:
        raise UsageError(f"{exc} (a sample is safe to draw again)") from None
    print(render_rows(SAMPLE_HEADER, [astuple(result)], args.format))
    return EXIT_OK


SAMPLE = Subcommand(
    name="sample",
    help="flag the review sample a cosigned checkpoint seeds (anyone can recompute it)",
    add_arguments=_sample_arguments,
    run=_sample,
)

# -- review report ------------------------------------------------------------------------------


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="also write a copy to this file")


def _report(ctx: Context, args: argparse.Namespace) -> int:
    """Store today's supervision report in the archive (write-once) and, with --out, copy it;
    an access-logged read like `review next`."""
    from pipelines.query.access_logged import catalog_archive, run_logged
    from pipelines.query.supervision_report import store_report

    audit_db = ctx.require_audit_db()
    out = args.out
    store = catalog_archive(audit_db, ctx.settings)

    def work() -> tuple[str, dict[str, Any]]:
        report = store_report(store, audit_db, ctx.settings)
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(report.html)
        how = "stored" if report.written else "already stored today"
        copied = f"; copied to {out}" if out else ""
        return f"supervision report {how} at {report.key}{copied}", {"rows": None}

    details = {"arguments": {"report": out}}
    print(run_logged(ctx.catalog_trail(audit_db), "review", details, work))
    return EXIT_OK


REPORT = Subcommand(
    name="report",
    help="store today's supervision report (HTML) in the archive, write-once",
    add_arguments=_report_arguments,
    run=_report,
)

REVIEW = CommandGroup(
    name="review",
    help="Work the supervision review queue (policies.yaml flags).",
    example="rc-archive review next --policy marketing-promises\n  "
    'rc-archive review decide 3f9a0c1e --decision cleared --note "standard offer, approved"\n  '
    "rc-archive review verify\n  "
    "rc-archive review rescan --policies policies.yaml --policy marketing-promises\n  "
    "rc-archive review sample --checkpoint certs/<source>-2026-11.checkpoint --rate 0.02",
    subcommands=(NEXT, DECIDE, VERIFY, RESCAN, SAMPLE, REPORT),
)

COMMANDS = (REVIEW,)
