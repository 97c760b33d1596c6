"""Arguments several commands share: the output format, a witness to compare with, times,
and which sources a command works on."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cli.errors import UsageError
from schemas.ids import source_id_of_stream, validate_source_id

if TYPE_CHECKING:
    from pipelines.archive.ledger import Ledger


def add_output_format(parser: argparse.ArgumentParser) -> None:
    """--format table|csv|json of a command that prints rows."""
    parser.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="format (table)"
    )


def add_witness_option(parser: argparse.ArgumentParser) -> None:
    """--witness URI of a check that compares with a witness."""
    parser.add_argument(
        "--witness", metavar="URI", help="witness store to compare with (ARCHIVE_WITNESS_URI)"
    )


def parse_time(text: str | None, flag: str) -> datetime | None:
    """An ISO-8601 time given to `flag` (UTC when it names no zone); None when not given."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a time; use ISO-8601, e.g. 2026-03-01T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sources_or_archived(ledger: Ledger, wanted: list[str] | None) -> list[str]:
    """The --source ids given (validated), else every source the archive holds contents of."""
    if wanted:
        return [validate_source_id(source) for source in wanted]
    streams = ledger.streams("contents")
    return [s for s in (source_id_of_stream(stream) for stream in streams) if s]
