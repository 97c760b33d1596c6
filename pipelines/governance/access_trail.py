"""The access trail: a write-once, hash-chained record of every read through the audit commands.

Why: an archive that can prove it kept every message must also show who looked at them.
`rc-archive sql`, `thread`, `export` and `prove` each append one event (who, when, which
command, the query text and parameters, rows returned, the export's file hashes, or the error)
to `_access/<YYYY-MM-DD>/<seq:010d>.json` in the archive they read, and print nothing before
that event is stored. If the event cannot be written (a read-only archive, a denied PutObject)
the command refuses with one line (exit 2): reading without leaving a trace is not possible
through the product's commands.

The chain, the daily folders and the race between writers are those of every chained log of
the archive (pipelines/governance/chained_log.py); `verify_trail` (`rc-archive access verify`)
replays it. Two things an insider who can write the archive could otherwise do to the trail,
and what stops them here (docs/governance.md, "What the trail cannot see"):

- plant a record in a far-future day folder (`_access/2099-12-31/…`): a reader that resumes
  from the newest folder name would never look at today's folder again. `follow_chain` walks
  the chain by its links instead (a record dated after today is not on it yet), the catalog
  resumes from the chain's head (catalog_tables.py), and `access verify` names every record
  the chain does not reach (`off_chain`);
- point ARCHIVE_URI at a directory whose table folders are symbolic links to the real ones, so
  the events land in a trail nobody checks: `AccessTrail.prepare` refuses such an archive.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.archive import keys
from pipelines.archive.store import LocalStore, ObjectStore
from pipelines.governance.chained_log import (
    ChainedLog,
    LogFinding,
    StoredRecord,
)
from pipelines.settings import Settings

ACCESS_PREFIX = f"{keys.ACCESS_ROOT}/"
ACCESS_FORMAT = "rc-archive/access/1"
# Folders whose sub-folders are checked for symbolic links too: the data and ledger roots
# (one folder per table, source or stream) and the trail itself (one folder per day).
_CHECKED_DEPTH_TWO = (*keys.DATA_ROOTS, keys.LEDGER_ROOT, keys.ACCESS_ROOT)


class AccessTrailError(OSError):
    """The access trail cannot be written or read: the audit command refuses to run (exit 2)."""


def access_log(store: ObjectStore, settings: Settings | None = None, clock=None) -> ChainedLog:
    """The trail as a chained log: its writer's user and witness from `settings` (None: a
    reader's, see `ChainedLog`)."""
    return ChainedLog(store, ACCESS_PREFIX, ACCESS_FORMAT, settings, clock)


class AccessTrail:
    """Appends events to the trail of one archive, as `settings.user` (else the operating-system
    user), witnessed when `settings.witness_uri` is set. `clock` is for tests (UTC now)."""

    def __init__(
        self,
        store: ObjectStore,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.log = access_log(store, settings, clock or (lambda: datetime.now(UTC)))

    def prepare(self) -> None:
        """Check, before the command reads anything, that the trail can be written and read:
        a local archive's day folder is created (a read-only disk fails here), its folders are
        real directories (`check_real_archive`) and the head is read. S3 permissions show only
        at the put, which still comes before any output."""
        day = self.log.clock().strftime("%Y-%m-%d")
        try:
            if isinstance(self.store, LocalStore):
                if not self.store.root.is_dir():
                    raise FileNotFoundError(2, "no archive directory", str(self.store.root))
                check_real_archive(self.store.root)
                folder = self.store.root / ACCESS_PREFIX / day
                folder.mkdir(parents=True, exist_ok=True)
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(13, "not writable", str(folder))
            self.log.head(day)
        except SymlinkedArchiveError as error:
            raise AccessTrailError(str(error)) from None
        except OSError as error:
            raise self._refusal(error) from None
        except Exception as error:
            if _is_store_error(error):
                raise self._refusal(error) from None
            raise

    def append(self, record: Mapping[str, Any]) -> StoredRecord:
        """Store `record` as the next event (the chain fields, who and when are added)."""
        try:
            return self.log.append(record)
        except OSError as error:
            raise self._refusal(error) from None
        except Exception as error:
            if _is_store_error(error):
                raise self._refusal(error) from None
            raise

    def _refusal(self, error: BaseException) -> AccessTrailError:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return AccessTrailError(
            f"cannot write the access trail ({ACCESS_PREFIX}) of {self.store.describe()}: "
            f"{first}; audit commands do not run without leaving a trace: make the archive "
            f"writable for {ACCESS_PREFIX} or ask its administrator"
        )


class SymlinkedArchiveError(OSError):
    """A local archive reaches part of itself through a symbolic link (see check_real_archive)."""


def check_real_archive(root: str | os.PathLike[str]) -> None:
    """Refuse a local archive whose folders are symbolic links.

    Why refuse and not resolve: the archive root itself is resolved (LocalStore does), so a
    link to a whole archive is that archive, and its trail is written where its data is. A
    directory whose table folders link elsewhere is no archive of its own: the data would be
    read from the real archive and the event written into this directory's trail, which
    nobody checks. Following the links cannot say which trail is the right one (they may point
    into several directories, or into a copy), so the command refuses and names the link.
    What is checked: every entry of the root, and every entry of the data folders, the ledger
    and the trail (tables, sources, streams, days); a few directory reads, no file is opened.
    Links deeper down, hard links and copies are reading the files with other tools: the trail
    cannot see those (docs/governance.md)."""
    base = Path(root)
    try:
        with os.scandir(base) as entries:
            top = list(entries)
    except FileNotFoundError:
        return
    deeper = []
    for entry in top:
        _refuse_link(base, entry)
        if entry.name in _CHECKED_DEPTH_TWO and entry.is_dir(follow_symlinks=False):
            deeper.append(entry.path)
    for folder in deeper:
        with os.scandir(folder) as entries:
            for entry in entries:
                _refuse_link(base, entry)


def _refuse_link(base: Path, entry: os.DirEntry) -> None:
    if not entry.is_symlink():
        return
    where = Path(entry.path).relative_to(base).as_posix()
    target = os.path.realpath(entry.path)
    raise SymlinkedArchiveError(
        f"the archive {base} reaches {where} through a symbolic link (to {target}): audit "
        "commands read only an archive whose folders are its own, so that their access events "
        "land in the trail of the archive they read; point ARCHIVE_URI at the real archive "
        "(a link to the whole archive is fine; a mount point instead of a link, too)"
    )


def _is_store_error(error: BaseException) -> bool:
    """botocore's errors (an S3 refusal), looked up lazily: a local archive never loads it."""
    import sys

    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    )


def iter_events(store: ObjectStore, after_key: str | None = None) -> Iterator[StoredRecord]:
    """Every event after `after_key` (all when None), in folder order; reads only the days from
    `after_key`'s day on. (The catalog reads by the chain instead: `read_new_events`.)"""
    return access_log(store).records(after_key)


# -- the chain, followed by its links -----------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    """What following the chain needs of one record: where it is, its hash, what it names."""

    key: str
    sha256: str
    prev_key: str | None
    prev_sha256: str | None
    day: str | None
    seq: int | None


@dataclass(frozen=True)
class ChainWalk:
    chain: list[str]  # keys from the first record to the head, in chain order
    off_chain: dict[str, str]  # key -> why the chain does not reach it

    @property
    def head(self) -> str | None:
        return self.chain[-1] if self.chain else None


def link_of(key: str, sha256: str, body: Mapping[str, Any]) -> ChainLink:
    seq = body.get("seq")
    return ChainLink(
        key,
        sha256,
        body.get("prev_key"),
        body.get("prev_sha256"),
        body.get("day") if isinstance(body.get("day"), str) else None,
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
    )


def follow_chain(links: Iterable[ChainLink], today: str) -> ChainWalk:
    """The trail as its hash chain orders it, not as its folder names sort.

    A record is on the chain when it is reached from the first record (the one naming no
    previous record) by following `prev_key`/`prev_sha256`: each record names the key and
    SHA-256 of the one before it, its key is its own day and seq, its key sorts after its
    predecessor's, and its day is not after `today` (no writer can have written a record
    dated in the future: one planted in `_access/2099-12-31/` is not on the chain, so it
    cannot become the point a reader resumes from). Where two records name the same
    predecessor (a planted record chained to a real one, or two writers whose clocks
    disagree across midnight) the chain goes on with the longer branch, the earlier on a tie:
    a planted record stays a short side branch however it is named. Everything not reached is
    returned in `off_chain` with the reason. Pure, in memory: O(records)."""
    valid: dict[str, ChainLink] = {}
    off_chain: dict[str, str] = {}
    for link in links:
        expected = (
            f"{ACCESS_PREFIX}{link.day}/{link.seq:010d}.json"
            if link.day is not None and link.seq is not None
            else None
        )
        if expected != link.key:
            off_chain[link.key] = "its key is not the day and seq it records"
        elif link.day > today:
            off_chain[link.key] = (
                f"dated {link.day}, after today ({today}): no writer can have written it yet"
            )
        else:
            valid[link.key] = link
    children: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
    for link in valid.values():
        children[(link.prev_key, link.prev_sha256)].append(link.key)
    height: dict[str, int] = {}
    for key in sorted(valid, reverse=True):  # a child's key sorts after its parent's
        link = valid[key]
        height[key] = 1 + max(
            (height[c] for c in children.get((key, link.sha256), ()) if c > key), default=0
        )

    def best(candidates: Iterable[str]) -> str | None:
        return min(candidates, key=lambda k: (-height[k], k), default=None)

    chain: list[str] = []
    current = best(children.get((None, None), ()))
    while current is not None:
        chain.append(current)
        link = valid[current]
        current = best(c for c in children.get((current, link.sha256), ()) if c > current)
    on_chain = {key: index for index, key in enumerate(chain)}
    for key, link in valid.items():
        if key in on_chain:
            continue
        if link.prev_key is None:
            off_chain[key] = "a second first record (it names no previous record)"
        elif link.prev_key in on_chain and valid[link.prev_key].sha256 == link.prev_sha256:
            position = on_chain[link.prev_key] + 1
            after = chain[position] if position < len(chain) else "nothing later"
            off_chain[key] = (
                f"a side branch: it names {link.prev_key}, which the chain continues with {after}"
            )
        else:
            off_chain[key] = (
                f"it names previous {link.prev_key} {str(link.prev_sha256)[:12]}, which is "
                "not on the chain"
            )
    return ChainWalk(chain, off_chain)


def today_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def read_new_events(
    store: ObjectStore, known: Iterable[ChainLink], today: str | None = None
) -> list[StoredRecord]:
    """The events the trail holds beyond `known` (the records a catalog has read), found from
    the chain's head, not from the newest folder name: the day folders from the head's day on
    are listed (one delimited LIST of `_access/`, then one LIST per such day, after the newest
    key known in it) and only the new records are read (one GET each). A record planted in a
    far-future folder is listed and read too (it is shown, and reported off the chain), but
    it never becomes the head, so today's folder is always looked at. With nothing known, the
    whole trail is read; with no chain among what is known (its first record gone), every day
    folder is listed again at each call, which only a broken trail costs."""
    known = list(known)
    walk = follow_chain(known, today or today_utc())
    head_day = walk.head[len(ACCESS_PREFIX) :].split("/")[0] if walk.head else None
    newest_in_day: dict[str, str] = {}
    for link in known:
        day = link.key[len(ACCESS_PREFIX) :].split("/")[0]
        newest_in_day[day] = max(link.key, newest_in_day.get(day, ""))
    log = access_log(store)
    found = []
    for day in log.days():
        if head_day is not None and day < head_day:
            continue
        for key in log.day_keys(day, newest_in_day.get(day)):
            data = store.get(key)
            found.append(StoredRecord(key, hashlib.sha256(data).hexdigest(), json.loads(data)))
    return found


# -- access verify -------------------------------------------------------------------------


def verify_trail(
    store: ObjectStore, settings: Settings | None = None
) -> tuple[int, list[LogFinding]]:
    """Replay the whole trail, like `rc-archive verify` of the ledger (the chained log's
    checks, in folder order, and against the witness when `settings` sets ARCHIVE_WITNESS_URI),
    then follow the chain by its links: each record it does not reach is `off_chain`."""
    seen = _RecordingStore(store)
    count, findings = access_log(seen, settings).verify()
    walk = follow_chain(seen.links.values(), today_utc())
    return count, findings + _off_chain_findings(seen.links, walk)


def _off_chain_findings(links: Mapping[str, ChainLink], walk: ChainWalk) -> list[LogFinding]:
    """One `off_chain` finding per branch the chain does not reach, named by its first record
    (a removed record would otherwise repeat for every record after it)."""
    off = walk.off_chain
    by_hash = {(key, links[key].sha256): key for key in off if key in links}
    root_of: dict[str, str] = {}
    for key in sorted(off):
        link = links.get(key)
        parent = by_hash.get((link.prev_key, link.prev_sha256)) if link else None
        root_of[key] = root_of.get(parent, key) if parent is not None and parent < key else key
    after: dict[str, int] = defaultdict(int)
    for key, root in root_of.items():
        if key != root:
            after[root] += 1
    findings = []
    for root in sorted(set(root_of.values())):
        more = f" ({after[root]} later record(s) chain from it)" if after[root] else ""
        findings.append(
            LogFinding("off_chain", root, f"not on the trail's chain: {off[root]}{more}")
        )
    return findings


class _RecordingStore:
    """The store, keeping the chain fields of each trail record read through it (so the
    replay reads every record once for both checks)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.links: dict[str, ChainLink] = {}

    def get(self, key: str) -> bytes:
        data = self._store.get(key)
        if key.startswith(ACCESS_PREFIX) and key.endswith(".json"):
            try:
                body = json.loads(data)
            except ValueError:
                body = None
            if isinstance(body, dict):
                self.links[key] = link_of(key, hashlib.sha256(data).hexdigest(), body)
            else:
                self.links[key] = ChainLink(key, "", None, None, None, None)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
