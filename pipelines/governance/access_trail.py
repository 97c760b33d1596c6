"""The access trail: a write-once, hash-chained record of every read through the audit commands.

Why: an archive that can prove it kept every message must also show who looked at them.
`rc-archive sql`, `thread`, `export` and `prove` each append one event (who, when, which
command, the query text and parameters, rows returned, the export's file hashes, or the error)
to `_access/<YYYY-MM-DD>/<seq:010d>.json` in the archive they read, and print nothing before
that event is stored. If the event cannot be written (a read-only archive, a denied PutObject)
the command refuses with one line (exit 2): reading without leaving a trace is not possible
through the product's commands.

The chain. Each event names the key and SHA-256 (of the exact bytes) of the event before it, so
a removed, changed or inserted event breaks the chain (`verify_trail`, `rc-archive access
verify`). Days are folders and `seq` restarts at 0 each UTC day; the first event of a day names
the previous day's last event, so the chain runs across days. Finding the previous event reads
only the current day's folder (one LIST, one GET of the newest event); only the first event of
a day lists the day folders (one delimited LIST per 1,000 days of history) to find the
previous day. Two writers racing for the same seq cannot both win: `put` is write-once (a
hard link locally, If-None-Match on S3), so the loser re-reads the head and takes the next seq.
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

from pipelines import settings
from pipelines.archive import keys
from pipelines.archive.store import LocalStore, ObjectExistsError, ObjectStore

ACCESS_PREFIX = f"{keys.ACCESS_ROOT}/"
ACCESS_FORMAT = "rc-archive/access/1"
# Writers racing for one seq: each lost race costs a re-read of the head; more than this many
# in a row means something else is wrong.
MAX_APPEND_ATTEMPTS = 20
AUDIT_COMMANDS = ("sql", "thread", "export", "prove")


class AccessTrailError(OSError):
    """The access trail cannot be written or read: the audit command refuses to run (exit 2)."""


def current_user(env: Mapping[str, str]) -> tuple[str, str]:
    """(who, where the name came from): RC_ARCHIVE_USER when set (a person's name behind a
    shared service account), else the operating-system user."""
    named = (env.get(settings.RC_ARCHIVE_USER) or "").strip()
    if named:
        return named, settings.RC_ARCHIVE_USER
    try:
        return getpass.getuser(), "os"
    except Exception:  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}", "os"


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """The stored form of an event: sorted keys, compact, UTF-8, one line."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")


def event_key(day: str, seq: int) -> str:
    return f"{ACCESS_PREFIX}{day}/{seq:010d}.json"


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split(".", 1)[0])


@dataclass(frozen=True)
class StoredEvent:
    key: str
    sha256: str
    body: dict[str, Any]


def day_folders(store: ObjectStore) -> list[str]:
    """The UTC days that hold events, oldest first (one delimited LIST)."""
    return [day for day in store.list_folders(ACCESS_PREFIX) if _is_day(day)]


def _is_day(text: str) -> bool:
    try:
        return datetime.strptime(text, "%Y-%m-%d").strftime("%Y-%m-%d") == text
    except ValueError:
        return False


def day_keys(store: ObjectStore, day: str, after: str | None = None) -> list[str]:
    """The event keys of one day (after `after`), in seq order."""
    return [
        key
        for key in store.list_after(f"{ACCESS_PREFIX}{day}/", after)
        if key.endswith(".json") and key.rsplit("/", 1)[1][:-5].isdigit()
    ]


class AccessTrail:
    """Appends events to the trail of one archive. `clock` is for tests (UTC now)."""

    def __init__(
        self,
        store: ObjectStore,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.env = os.environ if env is None else env
        self.clock = clock or (lambda: datetime.now(UTC))

    def head(self, day: str) -> tuple[str, str] | None:
        """(key, sha256) of the newest event on `day`, or else of the newest before it."""
        keys = day_keys(self.store, day)
        if not keys:
            for earlier in reversed([d for d in day_folders(self.store) if d < day]):
                keys = day_keys(self.store, earlier)
                if keys:
                    break
        if not keys:
            return None
        return keys[-1], hashlib.sha256(self.store.get(keys[-1])).hexdigest()

    def prepare(self) -> None:
        """Check, before the command reads anything, that the trail can be written and read:
        a local archive's day folder is created (a read-only disk fails here) and the head is
        read. S3 permissions show only at the put, which still comes before any output."""
        day = self.clock().strftime("%Y-%m-%d")
        try:
            if isinstance(self.store, LocalStore):
                if not self.store.root.is_dir():
                    raise FileNotFoundError(2, "no archive directory", str(self.store.root))
                folder = self.store.root / ACCESS_PREFIX / day
                folder.mkdir(parents=True, exist_ok=True)
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(13, "not writable", str(folder))
            self.head(day)
        except AccessTrailError:
            raise
        except OSError as error:
            raise self._refusal(error) from None
        except Exception as error:
            if _is_store_error(error):
                raise self._refusal(error) from None
            raise

    def append(self, record: Mapping[str, Any]) -> StoredEvent:
        """Store `record` as the next event (the chain fields, who and when are added)."""
        user, user_from = current_user(self.env)
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            now = self.clock()
            day = now.strftime("%Y-%m-%d")
            try:
                head = self.head(day)
                seq = 0
                if head is not None and head[0].startswith(f"{ACCESS_PREFIX}{day}/"):
                    seq = _seq_of(head[0]) + 1
                body = {
                    **record,
                    "format": ACCESS_FORMAT,
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
                key = event_key(day, seq)
                self.store.put(key, data, content_type="application/json")
                return StoredEvent(key, hashlib.sha256(data).hexdigest(), body)
            except ObjectExistsError:
                continue  # another reader took this seq: re-read the head
            except OSError as error:
                raise self._refusal(error) from None
            except Exception as error:
                if _is_store_error(error):
                    raise self._refusal(error) from None
                raise
        raise AccessTrailError(
            f"access trail of {self.store.describe()}: {MAX_APPEND_ATTEMPTS} writers in a row "
            "took the next event number; try again"
        )

    def _refusal(self, error: BaseException) -> AccessTrailError:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return AccessTrailError(
            f"cannot write the access trail ({ACCESS_PREFIX}) of {self.store.describe()}: "
            f"{first}; audit commands do not run without leaving a trace: make the archive "
            f"writable for {ACCESS_PREFIX} or ask its administrator"
        )


def _is_store_error(error: BaseException) -> bool:
    """botocore's errors (an S3 refusal), looked up lazily: a local archive never loads it."""
    import sys

    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    )


def iter_events(store: ObjectStore, after_key: str | None = None) -> Iterator[StoredEvent]:
    """Every event after `after_key` (all when None), in chain order. Reads only the days from
    `after_key`'s day on: the catalog's refresh costs what is new, not the whole history."""
    after_day = after_key.split("/")[1] if after_key else None
    for day in day_folders(store):
        if after_day is not None and day < after_day:
            continue
        start = after_key if after_day == day else None
        for key in day_keys(store, day, start):
            data = store.get(key)
            yield StoredEvent(key, hashlib.sha256(data).hexdigest(), json.loads(data))


@dataclass(frozen=True)
class TrailFinding:
    kind: str  # chain_broken | seq_gap | event_invalid
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.detail}"


def verify_trail(store: ObjectStore) -> tuple[int, list[TrailFinding]]:
    """Replay the whole trail: (events checked, findings). Each event must parse, carry its
    own day and seq (0, 1, 2... per day) and name the previous event's key and SHA-256; the
    first event names none. A full replay, like `rc-archive verify` of the ledger."""
    findings: list[TrailFinding] = []
    previous: tuple[str, str] | None = None
    count = 0
    for day in day_folders(store):
        for index, key in enumerate(day_keys(store, day)):
            count += 1
            data = store.get(key)
            sha = hashlib.sha256(data).hexdigest()
            try:
                body = json.loads(data)
                if body.get("format") != ACCESS_FORMAT:
                    raise ValueError(f"format {body.get('format')!r}")
            except (ValueError, AttributeError) as error:
                findings.append(TrailFinding("event_invalid", key, str(error)[:200]))
                previous = (key, sha)
                continue
            if _seq_of(key) != index or body.get("seq") != index or body.get("day") != day:
                findings.append(TrailFinding("seq_gap", key, f"expected seq {index} of {day}"))
            expected_key, expected_sha = previous if previous else (None, None)
            if body.get("prev_key") != expected_key or body.get("prev_sha256") != expected_sha:
                findings.append(
                    TrailFinding(
                        "chain_broken",
                        key,
                        f"names previous {body.get('prev_key')} "
                        f"{str(body.get('prev_sha256'))[:12]}, the trail has {expected_key} "
                        f"{str(expected_sha)[:12]}",
                    )
                )
            previous = (key, sha)
    return count, findings
