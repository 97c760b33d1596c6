"""Pages of RingCentral list results and the checks that make them safe to archive."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.ringcentral import endpoints, errors


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paged list (contents, identities).

    `page_token` replays this page; `next_page_token` is None on the last page. A caller that
    saves `next_page_token` after archiving `records` resumes exactly after them.
    """

    records: list[dict[str, Any]]
    page_token: str | None
    next_page_token: str | None
    per_page: int | None = None
    raw_paging: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"Page(records={len(self.records)}, page_token={_short(self.page_token)}, "
            f"next_page_token={_short(self.next_page_token)})"
        )


def _short(token: str | None) -> str:
    return "None" if token is None else f"{token[:12]}..."


def page_from_body(body: Any, requested_token: str | None, where: str) -> Page:
    """Build a Page, refusing envelopes that would make a crawl silently stop or loop."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise errors.ServerError(f"{where}: the response has no 'records' list", status=200)
    paging = body.get("paging") or {}
    if not isinstance(paging, dict):
        paging = {}
    next_token = paging.get("nextPageToken") or None  # samples treat "" as "no next page"
    if next_token is not None and next_token == requested_token:
        raise errors.ServerError(
            f"{where}: nextPageToken equals the requested pageToken; stopping to avoid a loop",
            status=200,
        )
    return Page(
        records=body["records"],
        page_token=paging.get("pageToken") or requested_token,
        next_page_token=next_token,
        per_page=paging.get("perPage"),
        raw_paging=paging,
    )


def record_source_id(record: Mapping[str, Any]) -> Any:
    """The record's source: `channelId` in the live API, `sourceId` in the 2024 spec."""
    for name in endpoints.RECORD_SOURCE_FIELDS:
        value = record.get(name)
        if value is not None:
            return value
    return None


def check_sources(page: Page, requested: Collection[str], param_name: str) -> None:
    """Raise FilterIgnoredError unless every record belongs to a requested source.

    A server that does not know the filter's spelling ignores it and returns every channel the
    agent can read; archiving those under the requested source would be silently wrong.
    """
    for record in page.records:
        source_id = record_source_id(record)
        if source_id not in requested:
            raise errors.FilterIgnoredError.for_source(
                requested_source_id=",".join(sorted(requested)),
                returned_source_id=source_id,
                param_name=param_name,
            )
