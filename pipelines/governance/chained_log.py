"""A write-once, hash-chained log of JSON records in daily folders of the archive.

Used by the access trail (`_access/`) and the review decisions (`_reviews/`): each record is
`<prefix><YYYY-MM-DD>/<seq:010d>.json`, `seq` from 0 each UTC day with no gaps, and names the
key and SHA-256 (of the exact bytes) of the record before it, so a removed, changed or inserted
record breaks the chain (`verify_log`). Finding the previous record reads only the current
day's folder (one LIST, one GET of the newest record); only the first record of a day lists the
day folders (one delimited LIST per 1,000 days) to find the previous day. Two writers racing
for the same seq cannot both win: `put` is write-once (a hard link locally, If-None-Match on
S3), so the loser re-reads the head and takes the next seq.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.archive.store import ObjectExistsError, ObjectStore
from pipelines.archive.witnessing import LogWitness
from pipelines.settings import RC_ARCHIVE_USER, Settings

# Writers racing for one seq: each lost race costs a re-read of the head; more than this many
# in a row means something else is wrong.
MAX_APPEND_ATTEMPTS = 20


def current_user(named: str | None) -> tuple[str, str]:
    """(who, where the name came from): `named` (RC_ARCHIVE_USER, `Settings.user`) when set (a
    person's name behind a shared service account), else the operating-system user."""
    named = (named or "").strip()
    if named:
        return named, RC_ARCHIVE_USER
    try:
        return getpass.getuser(), "os"
    except Exception:  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}", "os"


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """The stored form of a record: sorted keys, compact, UTF-8, one line."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")


def seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split(".", 1)[0])


def _is_day(text: str) -> bool:
    try:
        return datetime.strptime(text, "%Y-%m-%d").strftime("%Y-%m-%d") == text
    except ValueError:
        return False


@dataclass(frozen=True)
class StoredRecord:
    key: str
    sha256: str
    body: dict[str, Any]


@dataclass(frozen=True)
class LogFinding:
    kind: str  # chain_broken | seq_gap | event_invalid | truncated | rewritten (witness)
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.detail}"


class ChainedLog:
    """One log (`prefix`, e.g. "_access/") of one archive. `clock` is for tests (UTC now).

    A writer's log is given the `settings` it writes with: each record names `settings.user`
    (else the operating-system user), and is witnessed, as `verify` compares, by the witness
    of `settings.witness_uri`. None: the defaults (no witness, the operating-system user),
    enough for a reader of the records."""

    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        record_format: str,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.format = record_format
        self.settings = settings or Settings()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._witness: LogWitness | None = None

    def witness(self) -> LogWitness | None:
        """The witness of ARCHIVE_WITNESS_URI (pipelines/integrity/witness.py), or None."""
        uri = (self.settings.witness_uri or "").strip()
        if uri and self._witness is None:
            from pipelines.integrity.witness import Witness

            self._witness = Witness.open(uri, self.settings)
        return self._witness if uri else None

    def key(self, day: str, seq: int) -> str:
        return f"{self.prefix}{day}/{seq:010d}.json"

    def days(self) -> list[str]:
        """The UTC days that hold records, oldest first (one delimited LIST)."""
        return [day for day in self.store.list_folders(self.prefix) if _is_day(day)]

    def day_keys(self, day: str, after: str | None = None) -> list[str]:
        """The record keys of one day (after `after`), in seq order."""
        return [
            key
            for key in self.store.list_after(f"{self.prefix}{day}/", after)
            if key.endswith(".json") and key.rsplit("/", 1)[1][:-5].isdigit()
        ]

    def head(self, day: str) -> tuple[str, str] | None:
        """(key, sha256) of the newest record on `day`, or else of the newest before it."""
        keys = self.day_keys(day)
        if not keys:
            for earlier in reversed([d for d in self.days() if d < day]):
                keys = self.day_keys(earlier)
                if keys:
                    break
        if not keys:
            return None
        return keys[-1], hashlib.sha256(self.store.get(keys[-1])).hexdigest()

    def append(self, record: Mapping[str, Any]) -> StoredRecord:
        """Store `record` as the next one (the chain fields, who and when are added). Store
        errors propagate; ObjectExistsError (a lost race) is retried here."""
        user, user_from = current_user(self.settings.user)
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            now = self.clock()
            day = now.strftime("%Y-%m-%d")
            head = self.head(day)
            seq = 0
            if head is not None and head[0].startswith(f"{self.prefix}{day}/"):
                seq = seq_of(head[0]) + 1
            body = {
                **record,
                "format": self.format,
                "day": day,
                "seq": seq,
                "event_id": uuid.uuid4().hex,
                "at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "user": user,
                "user_from": user_from,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "prev_key": head[0] if head else None,
                "prev_sha256": head[1] if head else None,
            }
            data = canonical_bytes(body)
            key = self.key(day, seq)
            try:
                self.store.put(key, data, content_type="application/json")
            except ObjectExistsError:
                continue  # another writer took this seq: re-read the head
            sha256 = hashlib.sha256(data).hexdigest()
            witness = self.witness()
            if witness is not None:  # after the record: a crash between is `unwitnessed`
                witness.record_log(key, sha256, body["at"])
            return StoredRecord(key, sha256, body)
        raise ObjectExistsError(
            f"{self.prefix} of {self.store.describe()}: {MAX_APPEND_ATTEMPTS} writers in a row "
            "took the next record number; try again"
        )

    def records(self, after_key: str | None = None) -> Iterator[StoredRecord]:
        """Every record after `after_key` (all when None), in chain order. Reads only the days
        from `after_key`'s day on: a catalog refresh costs what is new, not the whole log."""
        after_day = after_key[len(self.prefix) :].split("/")[0] if after_key else None
        for day in self.days():
            if after_day is not None and day < after_day:
                continue
            start = after_key if after_day == day else None
            for key in self.day_keys(day, start):
                data = self.store.get(key)
                yield StoredRecord(key, hashlib.sha256(data).hexdigest(), json.loads(data))

    def verify(self) -> tuple[int, list[LogFinding]]:
        """Replay the whole log: (records checked, findings). Each record must parse, carry its
        own day and seq and name the previous record's key and SHA-256; the first names none."""
        findings: list[LogFinding] = []
        previous: tuple[str, str] | None = None
        count = 0
        for day in self.days():
            for index, key in enumerate(self.day_keys(day)):
                count += 1
                data = self.store.get(key)
                sha = hashlib.sha256(data).hexdigest()
                try:
                    body = json.loads(data)
                    if body.get("format") != self.format:
                        raise ValueError(f"format {body.get('format')!r}")
                except (ValueError, AttributeError) as error:
                    findings.append(LogFinding("event_invalid", key, str(error)[:200]))
                    previous = (key, sha)
                    continue
                if seq_of(key) != index or body.get("seq") != index or body.get("day") != day:
                    findings.append(LogFinding("seq_gap", key, f"expected seq {index} of {day}"))
                expected_key, expected_sha = previous if previous else (None, None)
                if body.get("prev_key") != expected_key or body.get("prev_sha256") != expected_sha:
                    findings.append(
                        LogFinding(
                            "chain_broken",
                            key,
                            f"names previous {body.get('prev_key')} "
                            f"{str(body.get('prev_sha256'))[:12]}, the log has {expected_key} "
                            f"{str(expected_sha)[:12]}",
                        )
                    )
                previous = (key, sha)
        return count, findings + self._against_witness()

    def _against_witness(self) -> list[LogFinding]:
        """Records the witness saw that the log lost (`truncated`: the chain alone cannot show
        its newest records deleted) or holds other bytes of (`rewritten`)."""
        witness = self.witness()
        if witness is None:
            return []
        findings = []
        for key, sha in sorted(witness.log_entries(self.prefix).items()):
            try:
                actual = hashlib.sha256(self.store.get(key)).hexdigest()
            except Exception:  # noqa: BLE001 (missing local file, S3 NoSuchKey)
                findings.append(LogFinding("truncated", key, "witnessed, and gone from the log"))
                continue
            if actual != sha:
                findings.append(LogFinding("rewritten", key, f"sha256 != witnessed {sha[:12]}"))
        return findings
