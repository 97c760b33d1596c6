"""The archive's upkeep: what it holds (`sources`), the audit views (`catalog`) and Iceberg
tables (`tables`) built from it, its files and ledgers (`compact`, `checkpoint`), and the proof
that it misses nothing the API lists (`reconcile`).

The library is imported inside each handler: it loads pyarrow and pandas (a second or more),
which `--help`, a typo or another command must not pay for.
"""

from __future__ import annotations

import argparse
import uuid

from cli.arguments import add_output_format, sources_or_archived
from cli.command import Command
from cli.context import Context
from cli.errors import EXIT_OK
from cli.output import render_rows
from schemas.ids import validate_source_id

# -- sources ------------------------------------------------------------------------------------


def _sources(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.query.sources_status import sources_overview
    from pipelines.webhooks.subscription import latest_state

    store = ctx.store
    header, rows = sources_overview(store)
    print(render_rows(header, rows, args.format))
    if args.format == "table":
        state = latest_state(store)
        if state:
            print(
                f"webhook subscription {state.get('id')}: {state.get('status')}, expires "
                f"{state.get('expiresAt')} (last {state.get('action')} {state.get('recorded_at')})"
            )
    return EXIT_OK


SOURCES = Command(
    name="sources",
    help="List archived sources with their cursor and capture lag.",
    example="rc-archive sources",
    add_arguments=add_output_format,
    run=_sources,
)

# -- catalog ------------------------------------------------------------------------------------


def _catalog(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.catalog.build import build_catalog
    from pipelines.catalog.connection import plain_client_help

    report = build_catalog(ctx.store, ctx.settings.audit_db, ctx.settings)
    rows = ", ".join(f"{table} {count}" for table, count in sorted(report.rows_per_table.items()))
    print(f"rebuilt {report.audit_db} in {report.seconds:.1f} s ({report.manifests} manifests)")
    print(f"rows: {rows}")
    for line in plain_client_help(report.audit_db, report.archive_uri, ctx.settings.s3):
        print(line)
    return EXIT_OK


CATALOG = Command(
    name="catalog",
    help="Rebuild the audit views (runs do this after archiving).",
    example="rc-archive catalog",
    run=_catalog,
)

# -- tables -------------------------------------------------------------------------------------


def _tables_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="compare each table with the audit views (exit 1)"
    )
    mode.add_argument(
        "--rebuild", action="store_true", help="recreate the catalog's tables from the ledger"
    )


def _tables(ctx: Context, args: argparse.Namespace) -> int:
    """Iceberg tables of the committed state (docs/tables.md): refresh, or rebuild, then print
    how to read each table; with --check, compare them with the audit views (exit 1 if not)."""
    from pipelines.tables import check_tables, rebuild_tables, refresh_tables, tables_config
    from pipelines.tables.iceberg import duckdb_setup_help, reading_help

    store = ctx.store
    config = tables_config(store, ctx.settings.audit_db, ctx.settings)
    build = rebuild_tables if args.rebuild else refresh_tables
    results = build(store, config)
    applied = sum(r.manifests for r in results)
    print(f"catalog {config.catalog_uri}: {applied} manifest(s) applied")
    if not args.check:
        print(duckdb_setup_help(config, ctx.settings.s3))
        for result in results:
            print(reading_help(config, result.table, result.metadata_location))
        return EXIT_OK
    failed = 0
    for check in check_tables(config, ctx.require_audit_db(), ctx.settings, store):
        state = "ok" if check.ok else "DIFFERS"
        failed += not check.ok
        print(
            f"{check.table}: {state} (iceberg {check.iceberg_rows} rows, "
            f"{check.compared_with} {check.audit_rows}; missing {check.missing}, "
            f"extra {check.extra})"
        )
    if failed:
        print(f"{failed} table(s) differ; run `rc-archive catalog` if the views are older")
    return 1 if failed else EXIT_OK


TABLES = Command(
    name="tables",
    help="Refresh the Iceberg tables of the committed state; show how to read them.",
    example="rc-archive tables\n  rc-archive tables --check\n  rc-archive tables --rebuild",
    add_arguments=_tables_arguments,
    run=_tables,
)

# -- compact ------------------------------------------------------------------------------------


def _compact_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", help="source id (repeatable); default all")
    parser.add_argument(
        "--period",
        help="YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH (closed); default: every closed one",
    )


def _compact(ctx: Context, args: argparse.Namespace) -> int:
    """Compact closed periods (all, or --period) of each source; the inputs are kept."""
    from pipelines.archive.compaction import compact_period, compact_source
    from pipelines.governance.holds import hold_compacted

    ledger = ctx.writable_ledger()
    run_id = f"compact-{uuid.uuid4().hex[:12]}"
    rows = []
    for source_id in sources_or_archived(ledger, args.source):
        if args.period:
            results = [compact_period(ledger, source_id, args.period, run_id)]
            ledger.write_checkpoint("contents", f"source_id={source_id}")
        else:
            results = compact_source(ledger, source_id, run_id)
        hold_compacted(ledger.store, [r.manifest for r in results], ctx.settings)
        for result in results:
            rows.append(
                (
                    source_id,
                    result.period,
                    result.inputs,
                    result.rows,
                    result.manifest.key if result.manifest else "nothing to compact",
                )
            )
    print(render_rows(["source_id", "period", "input_files", "rows", "manifest"], rows, "table"))
    return EXIT_OK


COMPACT = Command(
    name="compact",
    help="Rewrite a closed day's or month's small contents files into one file per source.",
    example="rc-archive compact --source 65c3fdd9527bf900079cefcb --period 2026-10",
    add_arguments=_compact_arguments,
    run=_compact,
)

# -- checkpoint ---------------------------------------------------------------------------------


def _checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", help="source id (repeatable)")


def _checkpoint(ctx: Context, args: argparse.Namespace) -> int:
    """Write a checkpoint of every ledger of each source at its head (on demand)."""
    from pipelines.archive.keys import LEDGER_TABLES

    ledger = ctx.writable_ledger()
    rows = []
    for source_id in sources_or_archived(ledger, args.source):
        stream = f"source_id={source_id}"
        for table in LEDGER_TABLES:
            if ledger.head(table, stream) is None:
                continue
            checkpoint = ledger.write_checkpoint(table, stream)
            rows.append((source_id, table, checkpoint.seq, checkpoint.key))
    print(render_rows(["source_id", "ledger", "seq", "checkpoint"], rows, "table"))
    return EXIT_OK


CHECKPOINT = Command(
    name="checkpoint",
    help="Write a ledger checkpoint of each source at its head.",
    example="rc-archive checkpoint",
    add_arguments=_checkpoint_arguments,
    run=_checkpoint,
)

# -- reconcile ----------------------------------------------------------------------------------


def _reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", required=True, help="source id (repeatable)")
    parser.add_argument(
        "--mode",
        choices=["full", "sample"],
        default="full",
        help="every id the API lists, or a sample (full)",
    )


def _reconcile(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.archive.ledger import Ledger
    from pipelines.ringcentral import RingCentralClient
    from pipelines.sync.reconcile import reconcile_source

    ledger = Ledger(ctx.store)
    exit_code = EXIT_OK
    with RingCentralClient(ctx.client_settings()) as client:
        for source in args.source:
            report = reconcile_source(client, ledger, validate_source_id(source), mode=args.mode)
            status = "complete" if report.ok else f"NOT PROVEN, {len(report.missing)} missing"
            print(
                f"{report.source_id}: {status} — {report.api_ids_checked} API ids checked, "
                f"{report.archived_ids} archived ids compared, "
                f"{report.not_due} newer than the last run"
            )
            if report.incomplete:
                print(f"  incomplete: {report.incomplete}")
            for missing_id in report.missing:
                print(f"  missing {missing_id}")
            exit_code = exit_code or (0 if report.ok else 1)
    return exit_code


RECONCILE = Command(
    name="reconcile",
    help="Compare the ids the API lists with the archive.",
    example="rc-archive reconcile --source 65c3fdd9527bf900079cefcb",
    add_arguments=_reconcile_arguments,
    run=_reconcile,
)

COMMANDS = (SOURCES, CATALOG, TABLES, COMPACT, CHECKPOINT, RECONCILE)
