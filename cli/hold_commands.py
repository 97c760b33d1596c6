"""`rc-archive hold place|release|list|verify`: legal holds (pipelines/governance/holds.py).

`place` and `release` write a record to `_holds/` and set or clear the S3 Object Lock legal
hold; `list` reads the records; `verify` checks them against the hold journal and the witness.
The library is imported inside each handler (it loads pyarrow and pandas).
"""

from __future__ import annotations

import argparse
import sys

from cli.arguments import add_output_format, add_witness_option, parse_time
from cli.command import CommandGroup, Subcommand
from cli.context import Context
from cli.errors import EXIT_OK, EXIT_TAMPERING
from cli.output import render_rows

HOLD_LIST_HEADER = ["matter", "status", "since", "by", "objects", "reason"]

# -- hold place ---------------------------------------------------------------------------------


def _place_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matter", required=True, help="the legal matter's name")
    parser.add_argument("--source", help="hold a source's records")
    parser.add_argument("--thread", help="hold a thread's messages")
    parser.add_argument(
        "--identity",
        help="hold an identity and its conversations (every message of a thread it wrote in)",
    )
    parser.add_argument(
        "--query", help="hold the messages whose ids this read-only SQL returns (column `id`)"
    )
    parser.add_argument("--from", dest="from_", help="creation time from (ISO-8601)")
    parser.add_argument("--to", help="creation time before (ISO-8601)")
    parser.add_argument("--reason", required=True, help="why (kept with the hold record)")


def _place(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.governance.holds import Selector, place_hold
    from pipelines.query.hold_query import message_ids_selected_by
    from pipelines.query.selection import held_objects, identity_threads

    store = ctx.writable_store
    content_ids = None
    if args.query:
        audit_db = ctx.require_audit_db()
        trail = ctx.catalog_trail(audit_db)
        content_ids = message_ids_selected_by(trail, audit_db, ctx.settings, args.query)
    selector = Selector(
        source=args.source,
        thread=args.thread,
        identity=args.identity,
        from_=parse_time(args.from_, "--from"),
        to=parse_time(args.to, "--to"),
        content_ids=content_ids,
        query=args.query,
        threads=(
            identity_threads(ctx.require_audit_db(), ctx.settings, args.identity)
            if args.identity
            else None
        ),
    )
    held = held_objects(ctx.require_audit_db(), ctx.settings, selector)
    record = place_hold(store, ctx.settings, args.matter, selector, args.reason, held)
    body = record.body
    how = "legal hold ON" if body["lock_applied"] else "recorded (a directory cannot lock)"
    print(f"held {len(body['object_keys'])} objects for {args.matter}: {how}; {record.key}")
    return EXIT_OK


PLACE = Subcommand(
    name="place",
    help="hold every object holding the selected records",
    add_arguments=_place_arguments,
    run=_place,
)

# -- hold release -------------------------------------------------------------------------------


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matter", required=True, help="the legal matter's name")
    parser.add_argument("--reason", required=True, help="why (kept with the release record)")


def _release(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.governance.holds import release_hold

    record = release_hold(ctx.writable_store, ctx.settings, args.matter, args.reason)
    body = record.body
    print(
        f"released {args.matter}: hold OFF on {len(body['released_keys'])} objects, "
        f"{len(body['kept_keys'])} kept for other matters; {record.key}"
    )
    return EXIT_OK


RELEASE = Subcommand(
    name="release",
    help="end a matter's hold",
    add_arguments=_release_arguments,
    run=_release,
)

# -- hold list ----------------------------------------------------------------------------------


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.governance.holds import HoldRegister, list_holds

    store = ctx.store
    audit = HoldRegister(store)
    print(render_rows(HOLD_LIST_HEADER, list_holds(store, audit), args.format))
    if audit.tampering:
        print(
            f"rc-archive hold: the hold records are not intact ({len(audit.tampering)} "
            "finding(s)); matters whose records are gone are listed from the hold journal; "
            "run `rc-archive hold verify`",
            file=sys.stderr,
        )
    return EXIT_OK


LIST = Subcommand(
    name="list",
    help="every matter with its status",
    add_arguments=add_output_format,
    run=_list,
)

# -- hold verify --------------------------------------------------------------------------------


def _verify(ctx: Context, args: argparse.Namespace) -> int:
    """Every hold record against the hold journal, and the journal against the witness
    (--witness or ARCHIVE_WITNESS_URI, failing closed); exit 3 on tampering. `verify` runs the
    same audit (and the witness part with its own --witness)."""
    from pipelines.governance.holds import HoldRegister

    store = ctx.store
    uri = args.witness or (ctx.settings.witness_uri or "")
    witness = ctx.witness_to_compare(uri)
    audit = HoldRegister(store, witness=witness)
    for finding in sorted(audit.findings, key=lambda f: (not f.tampering, f.kind, f.key)):
        print(f"  {finding.kind}: {finding.key}: {finding.detail}")
    if audit.tampering:
        kinds = ", ".join(sorted({f.kind for f in audit.tampering}))
        print(
            f"rc-archive hold: TAMPERING FOUND: {len(audit.tampering)} finding(s) ({kinds}) in "
            f"the hold records of {store.describe()}",
            file=sys.stderr,
        )
        return EXIT_TAMPERING
    against = f", compared with witness {uri}" if witness is not None else ", no witness"
    print(
        f"hold records intact: {audit.records} records, {audit.journal_entries} journal "
        f"entries in {store.describe()}{against}"
    )
    return EXIT_OK


VERIFY = Subcommand(
    name="verify",
    help="check every hold record against the hold journal (and the witness)",
    add_arguments=add_witness_option,
    run=_verify,
)

HOLD = CommandGroup(
    name="hold",
    help="Place, release or list legal holds on archived records.",
    example="rc-archive hold place --matter acme-v-us --thread 65c40163c092e4000768f688 "
    '--reason "litigation hold, counsel 2026-11-02"\n  rc-archive hold list\n  '
    'rc-archive hold release --matter acme-v-us --reason "case closed"\n  rc-archive hold verify',
    subcommands=(PLACE, RELEASE, LIST, VERIFY),
)

COMMANDS = (HOLD,)
