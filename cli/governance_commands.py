"""Retention and the access trail: `disposition` (what is past retention and not held, and
with --execute its deletion) and `access verify` (who read the archive, chain intact).

The library is imported inside each handler (it loads pyarrow, pandas and DuckDB).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from dataclasses import astuple
from typing import TYPE_CHECKING

from cli.arguments import add_output_format
from cli.command import Command, CommandGroup, Subcommand
from cli.context import Context
from cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_TAMPERING,
    UsageError,
    duckdb_open_errors,
    first_line,
)
from cli.output import render_rows

if TYPE_CHECKING:
    from pipelines.archive.store import ObjectStore

DISPOSITION_REPORT_HEADER = [
    "source_id",
    "source_type",
    "period",
    "retention_years",
    "files",
    "rows",
    "status",
]
DISPOSITION_OUTCOME_HEADER = ["source_id", "key", "rows", "objects", "result"]

# -- disposition --------------------------------------------------------------------------------


def _disposition_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, help="the date to judge retention at")
    parser.add_argument("--retention", required=True, help="retention.yaml")
    parser.add_argument(
        "--execute",
        action="store_true",
        help="delete the eligible files (recorded first in each source's ledger; not after "
        "today; held or locked files are kept and listed)",
    )
    parser.add_argument("--reason", help="why (recorded with the disposition)")
    add_output_format(parser)


def _disposition(ctx: Context, args: argparse.Namespace) -> int:
    """Report which archived files are past retention and not held, per source and month, as
    of a date (pipelines/governance/retention.py); with --execute, dispose of exactly those
    (pipelines/governance/disposition.py): exit 1 when an object could not be deleted."""
    from pipelines.archive.ledger import Ledger
    from pipelines.governance.disposition import execute_disposition
    from pipelines.governance.holds import HoldsTampered
    from pipelines.governance.retention import as_of_time, disposition_report, load_retention

    try:
        as_of = as_of_time(args.as_of)
    except ValueError:
        raise UsageError(f"--as-of {args.as_of!r}: expected an ISO-8601 date") from None
    policy = load_retention(args.retention)
    store = ctx.store
    if not args.execute:
        rows = disposition_report(Ledger(store), policy, as_of, _source_types(ctx))
        print(render_rows(DISPOSITION_REPORT_HEADER, [astuple(r) for r in rows], args.format))
        return EXIT_OK
    ledger = Ledger(store, witness=ctx.configured_witness())  # a writer: through the witness
    if not (args.reason or "").strip():
        raise UsageError("--execute needs --reason (it is recorded with the disposition)")
    source_types = _source_types(ctx)
    if policy.channel_types and not source_types:
        raise UsageError(
            "the retention classes name channel types, and there is no audit catalog to tell "
            "each source's type: run `rc-archive catalog` first (nothing was deleted)"
        )
    try:
        outcomes = execute_disposition(
            ledger,
            policy,
            as_of,
            source_types,
            reason=args.reason.strip(),
            settings=ctx.settings,
            run_id=f"disposition-{uuid.uuid4().hex[:12]}",
        )
    except HoldsTampered as exc:
        print(f"rc-archive disposition: {exc}", file=sys.stderr)
        return EXIT_TAMPERING
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    rows = [astuple(outcome) for outcome in outcomes]
    print(render_rows(DISPOSITION_OUTCOME_HEADER, rows, args.format))
    refused = [o for o in outcomes if o.result.startswith("refused")]
    failed = False
    if any(o.result in ("deleted", "finished") for o in outcomes):
        failed = _purge_derived_copies(ctx, ledger.store)
    return EXIT_FAILED if refused or failed else EXIT_OK


DISPOSITION = Command(
    name="disposition",
    help="Report what is past retention and not held; --execute deletes exactly that.",
    example="rc-archive disposition --as-of 2033-01-01 --retention retention.yaml\n  "
    "rc-archive disposition --as-of 2026-12-01 --retention retention.yaml --execute \\\n"
    '      --reason "retention schedule RS-4, approved by compliance 2026-11-30"',
    add_arguments=_disposition_arguments,
    run=_disposition,
)


def _source_types(ctx: Context) -> dict[str, str | None]:
    """source id -> channel type, from the audit catalog when there is one ({} otherwise: then
    only source ids and the default retention apply)."""
    from pipelines.query.disposition_catalog import source_types

    try:
        audit_db = ctx.require_audit_db()
    except UsageError:
        return {}
    return source_types(audit_db, ctx.settings)


def _purge_derived_copies(ctx: Context, store: ObjectStore) -> bool:
    """After a disposition: the copies of message text outside the contents files follow it.
    The audit catalog is rebuilt (its views stop reading the deleted files; `flags` and
    `review_queue` drop the disposed versions' flags) and the search index next to it is
    rewritten without them. Each copy that could not be purged is one line on stderr; True
    when the catalog or the index could not be (exit 1), as their text is still readable
    through rc-archive. Flag excerpts in the archive's own committed flags files cannot be
    deleted by a disposition (it deletes contents files): they are listed, not failed on."""
    from pipelines.catalog.build import build_catalog
    from pipelines.catalog.connection import connect
    from pipelines.query.disposition_catalog import kept_flag_excerpts
    from pipelines.query.search import SearchError, index_path, purge_index

    audit_db = ctx.settings.audit_db
    if not os.path.exists(audit_db):
        return False  # no catalog, and so no search index next to it
    prefix = "rc-archive disposition: derived copy not purged:"
    try:
        build_catalog(store, audit_db, ctx.settings)
    except Exception as exc:  # noqa: BLE001 (any failure: the copies keep the text)
        print(
            f"{prefix} the audit catalog {audit_db} and its search index "
            f"{index_path(audit_db)} ({first_line(exc)}); run `rc-archive catalog`, then "
            "`rc-archive search` rewrites the index",
            file=sys.stderr,
        )
        return True
    failed = False
    with connect(audit_db, ctx.settings, read_only=True) as audit:
        try:
            purge_index(index_path(audit_db), audit, wait_seconds=30)
        except (SearchError, *duckdb_open_errors()) as exc:
            print(
                f"{prefix} the search index {index_path(audit_db)} ({first_line(exc)}); the "
                "next `rc-archive search` rewrites it",
                file=sys.stderr,
            )
            failed = True
        kept = kept_flag_excerpts(audit)
    for source_id, count in kept:
        print(
            f"{prefix} {count} flag excerpt(s) of disposed versions of source {source_id} stay "
            "in its committed flags files (a disposition deletes contents files); the flags "
            "and review_queue views no longer show them",
            file=sys.stderr,
        )
    return failed


# -- access verify ------------------------------------------------------------------------------


def _access_verify(ctx: Context, args: argparse.Namespace) -> int:
    """Replay the access trail's chain; exit 3 when it is broken."""
    from pipelines.governance.access_trail import verify_trail

    store = ctx.store
    count, findings = verify_trail(store, ctx.settings)
    for finding in findings:
        print(f"  {finding}")
    if findings:
        print(
            f"rc-archive access: TAMPERING FOUND: {len(findings)} finding(s) in the access "
            f"trail of {store.describe()}",
            file=sys.stderr,
        )
        return EXIT_TAMPERING
    print(f"access trail intact: {count} events in {store.describe()}")
    return EXIT_OK


ACCESS = CommandGroup(
    name="access",
    help="Check the access trail (who read the archive).",
    example="rc-archive access verify",
    subcommands=(
        Subcommand(name="verify", help="replay the trail's hash chain", run=_access_verify),
    ),
)

COMMANDS = (DISPOSITION, ACCESS)
