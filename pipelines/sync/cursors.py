"""The cursor each ledger keeps in its manifests: one frozen dataclass per kind.

Why: the cursor is what a run resumes from (docs/internals.md, "Archive layout"), so its keys
are a file format. They used to be free dicts whose keys differed per table and whose times
were written in two spellings. Each kind now has named fields, one time spelling (ISO 8601 UTC
with milliseconds and `Z`, as `schemas.common.iso_ms` writes it) and a `version`. `from_dict`
reads every cursor an earlier release wrote (no version, times with seconds only or `+00:00`),
and `to_dict` writes the current form; keys a newer writer added are kept as they are, so an
older reader never drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self

from schemas.common import iso_ms, parse_api_time

CURSOR_VERSION = 1


def _time(value: Any) -> str | None:
    """One spelling for every cursor time; None for a missing or unreadable one."""
    if not isinstance(value, str) or not value:
        return None
    moment = parse_api_time(value)
    return iso_ms(moment) if moment is not None else None


@dataclass(frozen=True)
class _Cursor:
    # Keys not declared by the class (written by a newer release): kept, written back as is.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Self:
        raw = dict(raw or {})
        raw.pop("version", None)
        names = {f.name for f in fields(cls)} - {"extra"}
        values = {name: raw.pop(name) for name in list(raw) if name in names}
        for name in cls.TIME_FIELDS:
            if name in values:
                values[name] = _time(values[name])
        return cls(**cls._typed(values), extra=raw)

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.extra)
        for item in fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            if value is None:
                continue
            body[item.name] = list(value) if isinstance(value, tuple) else value
        body["version"] = CURSOR_VERSION
        return body

    def but(self, **changes: Any) -> Self:
        """A copy with `changes` (times normalised to the one spelling)."""
        for name in self.TIME_FIELDS:
            if name in changes:
                changes[name] = _time(changes[name])
        return replace(self, **changes)


@dataclass(frozen=True)
class ContentsCursor(_Cursor):
    """Where the contents sync of a source stands. The crawl updates it page by page as a
    dict (`_Batcher.cursor`); it becomes this class when read from a manifest and when
    written to one, so both ends speak one format."""

    # The replayable token of the page the +creationTime crawl ended on.
    page_token: str | None = None
    # creationTime and id of the newest content the crawl reached.
    high_water_time: str | None = None
    high_water_id: str | None = None
    # lastModifiedTime up to which the changes sweep has looked for edits and deletions.
    sweep_mark: str | None = None
    # `id|record_sha256` of the newest-modified content after the last complete run: a probe
    # that finds it again proves the source idle (pipelines/sync/probe.py).
    probe_fingerprint: str | None = None
    # Name of the last webhook event whose version was offered to the archive.
    event_key: str | None = None
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ("high_water_time", "sweep_mark")


@dataclass(frozen=True)
class IdentitiesCursor(_Cursor):
    """Where the identities sync of a source stands."""

    # Sequence of the contents manifest up to which author ids were read.
    contents_seq: int = -1
    # Ids the API answered 404 for: asked again only after a bulk refresh.
    not_found: tuple[str, ...] = ()
    # When the whole identity list of the source was last read.
    last_bulk_refresh: str | None = None
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ("last_bulk_refresh",)

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "contents_seq" in values:
            values["contents_seq"] = int(values["contents_seq"])
        if "not_found" in values:
            values["not_found"] = tuple(sorted(values["not_found"] or ()))
        return values


@dataclass(frozen=True)
class AgentsCursor(_Cursor):
    """Where the agents sync of a source stands."""

    # When every referenced extension was last re-read.
    last_refresh: str | None = None
    # Per ledger table ("contents", "identities"): the manifest seq read up to.
    read_up_to: dict[str, int] = field(default_factory=dict)
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ("last_refresh",)

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "read_up_to" in values:
            values["read_up_to"] = {str(k): int(v) for k, v in (values["read_up_to"] or {}).items()}
        return values
