"""Has anything changed since the last run? One `-lastModifiedTime` request answers it.

Why: a run that finds nothing new used to cost four content-list requests per source (resume,
changes sweep, two reconcile pages); with 50 channels an idle cycle spent 200 of the 750
requests a 15-minute window allows. Every change to a content (a new content, an edit, a status
change, a remote deletion) moves its `lastModifiedTime`, so the content listed first in
`-lastModifiedTime` order is the newest change of the source.

The fingerprint: each run that crawls and sweeps saves, in its contents cursor
(`probe_fingerprint`), the `id|record_sha256` of the source's newest-modified content as it
read it *before* its crawl and sweep. Those two passes then archive every version current at
that moment. If the newest-modified content is later still exactly that version, no content of
the source changed since: any change would have produced a version modified after the probe,
which would now be listed first. Comparing the whole record (its hash) rather than the time
alone matters because the API shows whole seconds: a change in the same second as the saved
mark shows the same `lastModifiedTime`, but never the same record.

`select_changed_sources` does the same for a whole account in one request without a source
filter (the agent sees every readable channel there), reading only the ledger heads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import parse_api_time, saved_cursor
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.errors import BadRequest
from pipelines.ringcentral.paging import record_source_id
from schemas.contents import version_sha256
from schemas.ids import source_stream

FINGERPRINT_KEY = "probe_fingerprint"
MODIFIED_ORDER = "-lastModifiedTime"
# No record listed at all: an empty (or unreadable) source has this fingerprint.
EMPTY = "-"
# The account-wide probe reads one page of the newest changes; 1000 is the API's maximum.
ACCOUNT_PROBE_PER_PAGE = 1000


def fingerprint(record: dict | None) -> str:
    """`id|record_sha256` of a listed content (EMPTY for none): the version, not just the id
    (its version hash, so a link re-signed since the last run is no change)."""
    if record is None:
        return EMPTY
    record_id = record.get("id") if isinstance(record, dict) else None
    return f"{record_id}|{version_sha256(record)}"


@dataclass
class SourceProbe:
    """The newest-modified content of one source, as one request listed it."""

    newest: dict | None
    refused: bool = False  # the server does not order by lastModifiedTime

    @property
    def fingerprint(self) -> str | None:
        return None if self.refused else fingerprint(self.newest)

    def unchanged_since(self, cursor: dict) -> bool:
        """True when the saved cursor proves nothing changed: the fingerprint saved by the last
        complete crawl and sweep is still the newest change, and a sweep mark exists."""
        saved = cursor.get(FINGERPRINT_KEY)
        return (
            not self.refused
            and bool(saved)
            and "sweep_mark" in cursor
            and saved == self.fingerprint
        )


def probe_source(client: RingCentralClient, source_id: str) -> SourceProbe:
    """One request: `GET /contents?orderBy=-lastModifiedTime&perPage=1` for the source."""
    try:
        page = next(client.iter_content_pages(source_id, order_by=MODIFIED_ORDER, per_page=1), None)
    except BadRequest:
        # Older API generations order by creation time only: no shortcut, the run does it all.
        return SourceProbe(newest=None, refused=True)
    records = page.records if page is not None else []
    return SourceProbe(newest=records[0] if records else None)


@dataclass
class AccountProbe:
    """Which sources to run this cycle, from one account-wide request.

    `changed`: sources whose newest change differs from their saved fingerprint (or that have
    none saved yet). `unchanged`: sources proven idle. `undecided`: sources the page could not
    speak for (their newest change is older than the page's oldest record, and the page does
    not reach back to the previous probe), which are run so their own one-request probe
    decides. `through` is the page's newest record, saved by the caller for the next cycle.
    """

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    through: str | None = None
    refused: bool = False

    @property
    def to_run(self) -> list[str]:
        return [*self.changed, *self.undecided]


def select_changed_sources(
    client: RingCentralClient,
    ledger: Ledger,
    source_ids: Iterable[str],
    *,
    previous_through: str | None,
    per_page: int = ACCOUNT_PROBE_PER_PAGE,
) -> AccountProbe:
    """Decide, with one list request without a source filter, which sources changed.

    Reads: one `-lastModifiedTime` page of the whole account (the API), and each source's
    contents ledger head (its latest manifest's cursor: one small JSON per source), never the
    archived data.

    A source listed on the page is decided exactly: its first record there is its newest change,
    compared with the fingerprint in its ledger head. A source not listed has had no change
    newer than the page's oldest record; that proves it idle only when the page reaches back to
    `previous_through` (the previous cycle's `through`, see `account_mark`): then
    every change since the previous cycle is on the page, and an unlisted source is as it was
    then, when it was either proven idle or run. Without a previous probe, or after more changes
    than one page holds, unlisted sources are undecided and run (each then costs one request).
    """
    wanted = list(dict.fromkeys(source_ids))
    result = AccountProbe()
    try:
        page = next(
            client.iter_content_pages(None, order_by=MODIFIED_ORDER, per_page=per_page), None
        )
    except BadRequest:
        result.refused = True
        result.undecided = wanted
        return result
    records = [r for r in (page.records if page is not None else []) if isinstance(r, dict)]
    whole_account = page is None or page.next_page_token is None
    result.through = account_mark(records[0] if records else None)

    newest_by_source: dict[str, dict] = {}
    for record in records:
        source = record_source_id(record)
        if isinstance(source, str) and source not in newest_by_source:
            newest_by_source[source] = record
    reaches_back = whole_account or _reaches_back(records, previous_through)

    for source_id in wanted:
        saved = saved_cursor(ledger, "contents", source_stream(source_id))
        newest = newest_by_source.get(source_id)
        if newest is not None:
            idle = SourceProbe(newest=newest).unchanged_since(saved)
        elif whole_account:
            idle = SourceProbe(newest=None).unchanged_since(saved)
        else:
            idle = None if not reaches_back else bool(saved.get(FINGERPRINT_KEY))
        if idle is None:
            result.undecided.append(source_id)
        elif idle:
            result.unchanged.append(source_id)
        else:
            result.changed.append(source_id)
    return result


def account_mark(record: dict | None) -> str:
    """`lastModifiedTime|id|record_sha256` of the account's newest change (EMPTY for none)."""
    if record is None:
        return EMPTY
    return f"{record.get('lastModifiedTime')}|{fingerprint(record)}"


def _reaches_back(records: list[dict], previous_through: str | None) -> bool:
    """Whether the page holds every change since the previous probe's newest record: that very
    version is on the page, or the page's oldest record is older than it (in whole seconds, so
    a tie in the same second does not count)."""
    if not previous_through or previous_through == EMPTY or not records:
        return False
    previous_time, _, previous_fingerprint = previous_through.partition("|")
    if any(fingerprint(r) == previous_fingerprint for r in records):
        return True
    previous = parse_api_time(previous_time)
    oldest = parse_api_time(records[-1].get("lastModifiedTime"))
    return previous is not None and oldest is not None and oldest < previous


__all__ = [
    "FINGERPRINT_KEY",
    "AccountProbe",
    "account_mark",
    "SourceProbe",
    "fingerprint",
    "probe_source",
    "select_changed_sources",
]
