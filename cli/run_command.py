"""`rc-archive run`: archive sources now, through the same Dagster assets as the scheduled runs.

Everything a person can get wrong is checked before Dagster is imported: the RingCentral
settings, the archive, the audit database's directory and one login (wrong credentials or an
API that is down end here, with the client's bounded retries announced on stderr). Progress
goes to stderr; stdout keeps the command's own lines and the summary table.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from cli.command import Command
from cli.context import Context
from cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UsageError,
)
from cli.output import render_rows, write_now
from pipelines import settings as names
from pipelines.ringcentral.redaction import redact

if TYPE_CHECKING:
    from assets.runner import SourceRunSummary

RUN_TABLE_HEADER = (
    "source_id",
    "run",
    "new",
    "versions",
    "quarantined",
    "requests",
    "files",
    "identities",
    "agents",
    "attachment_files",
    "attachment_bytes",
    "newest_age_s",
    "checks",
)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", action="append", help="source id (repeatable); default RC_SOURCE_IDS"
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="re-read sources from the start"
    )
    parser.add_argument(
        "--reconcile",
        choices=["full", "sample"],
        default="sample",
        help="compare every id the API lists with the archive, or a sample (sample)",
    )
    parser.add_argument("--batch-records", type=int, help="records per committed batch (20000)")
    parser.add_argument(
        "--downloads-per-second",
        type=float,
        metavar="N",
        help="attachment downloads a second per source, from the channel's file host (20; "
        "0: unpaced, for a file host of your own such as the sandbox's)",
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between progress lines when stderr is not a terminal (15)",
    )


def _run(ctx: Context, args: argparse.Namespace) -> int:
    sources = args.source or list(ctx.settings.source_ids)
    if not sources:
        raise UsageError("no sources: pass --source ID or set RC_SOURCE_IDS")
    if args.downloads_per_second is not None and args.downloads_per_second < 0:
        raise UsageError("--downloads-per-second must be 0 (unpaced) or more")
    check_run_settings(ctx)
    note_dagster_instance(ctx.env)
    # Dagster is imported only now: everything a person can get wrong was checked above. The
    # code location's entry point tunes this process as it does the code server.
    import assets.code_location  # noqa: F401
    from assets.runner import run_sources
    from pipelines import interrupts
    from pipelines.progress import PROGRESS, ProgressReporter

    print(f"archiving {len(sources)} source(s) into {ctx.settings.archive_location}", flush=True)
    # Progress on stderr (a live line on a terminal, else a `progress ...` line every
    # --progress-interval s); stdout keeps the command's own lines and the summary.
    reporter = ProgressReporter(PROGRESS, sys.stderr, interval=args.progress_interval)

    def announce(line: str) -> None:
        """The one line of an interrupt, written from the signal handler."""
        write_now(f"{reporter.announce_prefix()}rc-archive run: {line}\n")

    interrupts.reset()
    # Ctrl-C or SIGTERM: stop at the next batch boundary, commit nothing partial, exit 130;
    # a second one exits at once (pipelines/interrupts.py).
    with interrupts.stop_on_signals(announce), reporter:
        summaries = run_sources(
            sources,
            full_refresh=args.full_refresh,
            reconcile_mode=args.reconcile,
            batch_records=args.batch_records,
            downloads_per_second=args.downloads_per_second,
            log_level="DEBUG" if args.verbose else "CRITICAL",
            on_progress=reporter.print,
        )
    if interrupts.stop_requested():
        return EXIT_INTERRUPTED
    print(run_table(summaries))
    failed = [s for s in summaries if not s.success or s.checks_failed]
    for summary in failed:
        reason = summary.error or "check(s) failed: " + ", ".join(summary.checks_failed)
        print(f"rc-archive run: {summary.source_id}: {redact(reason)}", file=sys.stderr)
    kinds = {s.error_kind for s in failed}
    if "unreachable" in kinds:
        return EXIT_UNREACHABLE
    if "needs_person" in kinds:
        return EXIT_BAD_INPUT
    return EXIT_FAILED if failed else EXIT_OK


RUN = Command(
    name="run",
    help="Archive sources now (same assets as the scheduled runs).",
    example="rc-archive run --env-file .demo/sandbox.env --source 65c3fdd9527bf900079cefcb",
    add_arguments=_arguments,
    run=_run,
)

COMMANDS = (RUN,)


def check_run_settings(ctx: Context) -> None:
    """Everything `run` needs, checked before Dagster starts: the RingCentral settings (a
    missing RC_APP_CLIENT_ID is one line, not Dagster's config error), the archive (a file
    where a directory belongs, an unreachable S3 endpoint), the audit database's directory,
    and a login. The steps then reuse the login's token."""
    from pipelines.ringcentral.shared import shared_client

    client_settings = ctx.client_settings()
    ctx.check_writable_archive()
    audit_db = os.path.abspath(ctx.settings.audit_db)
    if os.path.isdir(audit_db):
        raise UsageError(f"{names.AUDIT_DB}={audit_db!r} is a directory: name a file in it")
    if not os.path.isdir(os.path.dirname(audit_db)):
        raise UsageError(
            f"{names.AUDIT_DB}={audit_db!r}: directory {os.path.dirname(audit_db)!r} does not "
            "exist; create it or point AUDIT_DB elsewhere"
        )
    shared_client(client_settings).login()


def note_dagster_instance(env: Mapping[str, str]) -> None:
    """Without DAGSTER_HOME a run goes on a throwaway Dagster instance (assets/runner.py) that no
    UI reads: say so in one line, with how to make runs show in the UI. On stdout, with the
    command's own lines: stderr stays the one line of an error."""
    if not env.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set, so this run uses a throwaway Dagster instance and will "
            "not show in the Dagster UI; to see it there, set DAGSTER_HOME to the UI's instance "
            "directory (`make dev`: .demo/dagster_home)",
            flush=True,
        )


def run_table(summaries: Iterable[SourceRunSummary]) -> str:
    """The summary `run` prints: one row per source with what it archived and its checks."""
    rows = []
    for s in summaries:
        contents = s.metadata.get("contents", {})
        identities = s.metadata.get("identities", {})
        agents = s.metadata.get("agents", {})
        attachments = s.metadata.get("attachments", {})
        rows.append(
            (
                s.source_id,
                "ok" if s.success else "FAILED",
                contents.get("new_records", 0),
                contents.get("new_versions", 0),
                contents.get("quarantined", 0),
                contents.get("requests", 0),
                contents.get("files", 0),
                identities.get("new_versions", 0),
                agents.get("new_versions", 0),
                attachments.get("downloaded", 0),
                attachments.get("bytes", 0),
                round(float(contents.get("newest_message_age_seconds", 0.0)), 1),
                s.checks_status(),
            )
        )
    return render_rows(RUN_TABLE_HEADER, rows, "table")
