"""Retention classes and the disposition report: which archived files are past retention and
not held, per source and month, as of a date.

`retention.yaml`:

```yaml
default_years: 7            # every source unless a line below says otherwise
channel_types:              # by source type (as in messages.source_type)
  WhatsApp: 5
sources:                    # by source id (wins over its channel type)
  65c3fdd9527bf900079cefcb: 10
```

A contents file is eligible for disposition when its newest message (`max_creation_time` in
its manifest entry) is older than the as-of date minus its source's retention, and no active
legal hold holds it (placements and messages held as they landed). The report reads the ledger
state of each source (checkpoint and tail) and the hold records with their journal (a record
deleted from the archive still holds, from the journal's copy); it deletes nothing (that is
`execute_disposition`, pipelines/governance/disposition.py). `verify` holds every disposition
to the same rule (pipelines/archive/disposal.py, `rule_findings`), with the policy in force
(ARCHIVE_RETENTION_CLASSES) as a floor: `shortest_years_for`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import settings
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectStore, open_store
from pipelines.governance.holds import HoldRegister
from pipelines.governance.yaml_file import read_yaml
from schemas.common import parse_api_time, years_after
from schemas.ids import source_id_of_stream


class RetentionError(ValueError):
    """retention.yaml cannot be read or says something that cannot be applied."""


@dataclass(frozen=True)
class RetentionPolicy:
    default_years: int
    channel_types: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    def years_for(self, source_id: str, source_type: str | None) -> int:
        if source_id in self.sources:
            return self.sources[source_id]
        if source_type is not None and source_type in self.channel_types:
            return self.channel_types[source_type]
        return self.default_years

    def longest_years(self) -> int:
        return max([self.default_years, *self.channel_types.values(), *self.sources.values()])

    def shortest_years_for(self, source_id: str) -> int:
        """The shortest class the source can have whatever its channel type: what a verifier
        that cannot see the type of deleted rows holds a disposition to."""
        if source_id in self.sources:
            return self.sources[source_id]
        return min([self.default_years, *self.channel_types.values()])

    def to_json(self) -> dict[str, Any]:
        return {
            "default_years": self.default_years,
            "channel_types": dict(sorted(self.channel_types.items())),
            "sources": dict(sorted(self.sources.items())),
        }


def open_governed_store(uri: str | None, archive_settings: settings.Settings) -> ObjectStore:
    """The archive as writers open it: its Object Lock settings and, with a lock mode, the
    retention classes of ARCHIVE_RETENTION_CLASSES, so each new object is locked until its
    source's class ends (a reader needs neither and calls `open_store`)."""
    classes_path = archive_settings.retention_classes_path
    locked = archive_settings.object_lock_mode
    retention = load_retention(classes_path) if classes_path and locked else None
    return open_store(uri, archive_settings, retention=retention)


def load_retention(path: str | Path) -> RetentionPolicy:
    document = read_yaml(path, RetentionError)
    return parse_retention(document, str(path))


def parse_retention(document: Any, where: str = "retention") -> RetentionPolicy:
    if not isinstance(document, dict):
        raise RetentionError(f"{where}: expected a mapping with `default_years`")
    unknown = set(document) - {"default_years", "channel_types", "sources"}
    if unknown:
        raise RetentionError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    default = _years(document.get("default_years"), f"{where}.default_years")
    classes = {}
    for name in ("channel_types", "sources"):
        entries = document.get(name) or {}
        if not isinstance(entries, dict):
            raise RetentionError(f"{where}.{name}: expected a mapping of name to years")
        classes[name] = {str(k): _years(v, f"{where}.{name}.{k}") for k, v in entries.items()}
    return RetentionPolicy(default, classes["channel_types"], classes["sources"])


def _years(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise RetentionError(f"{where}: expected whole years from 1 to 100, got {value!r}")
    return value


@dataclass(frozen=True)
class DispositionRow:
    source_id: str
    source_type: str | None
    period: str  # YYYY-MM of the files' newest message
    retention_years: int
    files: int
    rows: int
    status: str  # eligible | held | retained


@dataclass(frozen=True)
class ClassifiedFile:
    source_id: str
    retention_years: int
    entry: FileEntry
    status: str  # eligible | held | retained


def held_keys(store: ObjectStore, audit: HoldRegister | None = None) -> set[str]:
    """Keys any active matter holds (placements and messages held as they landed), from the
    hold records and their journal (`HoldRegister`: a deleted record still holds)."""
    return set((audit or HoldRegister(store)).held_now())


def classify_files(
    ledger: Ledger,
    policy: RetentionPolicy,
    as_of: datetime,
    source_types: dict[str, str | None],
    held: set[str] | None = None,
) -> Iterator[ClassifiedFile]:
    """Each live contents file with its status as of `as_of`. Reads each source's ledger
    state (checkpoint and tail) and the hold records (unless the caller read them: `held`)."""
    held = held_keys(ledger.store) if held is None else held
    for stream in ledger.streams("contents"):
        source_id = source_id_of_stream(stream)
        if source_id is None:
            continue
        years = policy.years_for(source_id, source_types.get(source_id))
        cutoff = years_after(as_of, -years)
        for entry in ledger.committed_files("contents", stream):
            newest = parse_api_time(entry.max_creation_time)
            if newest is None:
                continue
            if entry.key in held:
                status = "held"
            elif newest < cutoff:
                status = "eligible"
            else:
                status = "retained"
            yield ClassifiedFile(source_id, years, entry, status)


def disposition_report(
    ledger: Ledger,
    policy: RetentionPolicy,
    as_of: datetime,
    source_types: dict[str, str | None],
) -> list[DispositionRow]:
    """Per source and month: how many contents files (and rows) are eligible, held or still
    retained as of `as_of`."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    years_of: dict[str, int] = {}
    for found in classify_files(ledger, policy, as_of, source_types):
        years_of[found.source_id] = found.retention_years
        newest = found.entry.max_creation_time or ""
        counts = groups[(found.source_id, newest[:7], found.status)]
        counts[0] += 1
        counts[1] += found.entry.rows
    return [
        DispositionRow(
            source_id, source_types.get(source_id), period, years_of[source_id], files, rows, status
        )
        for (source_id, period, status), (files, rows) in sorted(groups.items())
    ]


def as_of_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
