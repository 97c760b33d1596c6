"""Is every source a run was asked for one RingCentral has? Checked before anything is archived.

Why: the API has no endpoint that lists channels (assets/partitions.py), and a contents list
filtered on an id it does not know answers an empty page, as for a channel without messages. A
run for a mistyped id used to end "ok" and leave, in a write-once archive, a ledger stream for a
channel RingCentral never had.

A source is known when its contents stream has a head in the archive (it was listed before; a
source whose Read permission was taken away stays known, and its runs say what the API no longer
shows), or when the API lists a content of it now. Only sources never archived cost requests:
one request lists the newest contents of all of them together, and when that page is the last
one, a source absent from it has none. Only a full page (busy sources can crowd a quiet one out)
makes each source still unseen cost one more request, one record long. A run whose sources were
all archived before makes none.

A source the API lists no content of and the archive never held is refused, whatever the
reason (a mistyped id, a channel the agent cannot Read, one without messages yet): archiving it
would write nothing but an empty stream. `require_known_sources` refuses the whole request
before any work (all or nothing: a typo in RC_SOURCE_IDS is fixed, rather than half a run done
without it), with `UnknownSourceError`, a `SettingError`: one line, exit code 2.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.endpoints import MAX_PER_PAGE
from pipelines.ringcentral.paging import record_source_id
from pipelines.settings import RC_SOURCE_IDS, RC_USER_JWT, SettingError
from schemas.ids import source_id_of_stream, source_stream

# The client's logger: its one warning, "returned no contents", is what the refusal says.
CLIENT_LOGGER = "pipelines.ringcentral"
# The contents list's default order, which every generation of the API accepts.
ORDER = "-creationTime"
# Known sources named in the refusal; more are counted (`rc-archive sources` lists them).
KNOWN_SHOWN = 10

# Sources the API listed a content of, in this process, by API server: the check of a run and
# the check of its contents step then cost one request, not two. Being listed once is lasting
# proof: the run archives that content, and the archive vouches for the source from then on.
_confirmed: set[tuple[str, str]] = set()
_confirmed_lock = threading.Lock()


class UnknownSourceError(SettingError):
    """Sources RingCentral lists no content of and the archive never held: nothing was run."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.known = list(known)
        super().__init__(_refusal(self.unknown, self.known))


def require_known_sources(
    client: RingCentralClient, ledger: Ledger, source_ids: Sequence[str]
) -> None:
    """Return when every source is known (see the module's docstring); else raise
    `UnknownSourceError` naming each unknown one and the known ones."""
    unknown = unknown_sources(client, ledger, source_ids)
    if unknown:
        listed = [s for s in source_ids if s not in unknown]
        raise UnknownSourceError(unknown, _known_sources(ledger, listed))


def unknown_sources(
    client: RingCentralClient, ledger: Ledger, source_ids: Sequence[str]
) -> list[str]:
    """The sources, in the order given, neither archived before nor listed by the API."""
    server = client.settings.base_url
    with _confirmed_lock:
        confirmed = {source for url, source in _confirmed if url == server}
    to_ask = [
        source
        for source in dict.fromkeys(source_ids)
        if source not in confirmed and ledger.head("contents", source_stream(source)) is None
    ]
    if not to_ask:
        return []
    listed = _listed_by_api(client, to_ask)
    with _confirmed_lock:
        _confirmed.update((server, source) for source in listed)
    return [source for source in to_ask if source not in listed]


def _listed_by_api(client: RingCentralClient, source_ids: list[str]) -> set[str]:
    """The sources of `source_ids` the API lists a content of: one request for all, then one
    per source still unseen only if that page was not the last."""
    # One source: a single record answers. Several: as many as a page holds, so that each
    # is likely listed and the page is likely the last.
    per_page = 1 if len(source_ids) == 1 else MAX_PER_PAGE
    with _without_empty_source_hint():
        page = next(client.iter_content_pages(source_ids, order_by=ORDER, per_page=per_page), None)
        listed = {record_source_id(r) for r in page.records} if page is not None else set()
        if page is None or page.next_page_token is None:
            return listed & set(source_ids)
        for source in source_ids:
            if source not in listed:
                one = next(client.iter_content_pages(source, order_by=ORDER, per_page=1), None)
                if one is not None and one.records:
                    listed.add(source)
    return listed & set(source_ids)


def _known_sources(ledger: Ledger, listed: Sequence[str]) -> list[str]:
    """The sources the archive holds, then those the API just listed, once each."""
    archived = [source_id_of_stream(stream) for stream in ledger.streams("contents")]
    return list(dict.fromkeys([s for s in archived if s is not None] + list(listed)))


def _refusal(unknown: list[str], known: list[str]) -> str:
    many = len(unknown) > 1
    shown = ", ".join(known[:KNOWN_SHOWN]) or "none yet"
    if len(known) > KNOWN_SHOWN:
        shown += f" and {len(known) - KNOWN_SHOWN} more"
    return (
        f"unknown source{'s' if many else ''} {', '.join(unknown)}: RingCentral lists no "
        f"content of {'them' if many else 'it'} and the archive holds none (a mistyped id, a "
        f"channel the agent behind {RC_USER_JWT} cannot Read, or one without messages yet); "
        f"known sources: {shown} (`rc-archive sources` lists the archived ones); "
        f"check --source or {RC_SOURCE_IDS}; nothing was archived"
    )


class _ThreadsWarnings(logging.Filter):
    """Drops the warnings its thread logs (the client logs nothing else at that level)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.thread == self.thread and record.levelno == logging.WARNING)


@contextmanager
def _without_empty_source_hint() -> Iterator[None]:
    """The client warns when a filtered list comes back empty (maybe no Read permission): here
    that is the answer being sought, and the refusal says it in its own one line. Only the
    client's own logger is filtered, so its retry lines (a child logger) still show."""
    logger = logging.getLogger(CLIENT_LOGGER)
    quiet = _ThreadsWarnings()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


__all__ = ["UnknownSourceError", "require_known_sources", "unknown_sources"]
