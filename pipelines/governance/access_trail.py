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
replays it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pipelines.archive import keys
from pipelines.archive.store import LocalStore, ObjectStore
from pipelines.governance.chained_log import (
    ChainedLog,
    LogFinding,
    StoredRecord,
)

ACCESS_PREFIX = f"{keys.ACCESS_ROOT}/"
ACCESS_FORMAT = "rc-archive/access/1"


class AccessTrailError(OSError):
    """The access trail cannot be written or read: the audit command refuses to run (exit 2)."""


def access_log(store: ObjectStore, env: Mapping[str, str] | None = None, clock=None) -> ChainedLog:
    return ChainedLog(store, ACCESS_PREFIX, ACCESS_FORMAT, env, clock)


class AccessTrail:
    """Appends events to the trail of one archive. `clock` is for tests (UTC now)."""

    def __init__(
        self,
        store: ObjectStore,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.log = access_log(store, env, clock or (lambda: datetime.now(UTC)))

    def prepare(self) -> None:
        """Check, before the command reads anything, that the trail can be written and read:
        a local archive's day folder is created (a read-only disk fails here) and the head is
        read. S3 permissions show only at the put, which still comes before any output."""
        day = self.log.clock().strftime("%Y-%m-%d")
        try:
            if isinstance(self.store, LocalStore):
                if not self.store.root.is_dir():
                    raise FileNotFoundError(2, "no archive directory", str(self.store.root))
                folder = self.store.root / ACCESS_PREFIX / day
                folder.mkdir(parents=True, exist_ok=True)
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(13, "not writable", str(folder))
            self.log.head(day)
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


def _is_store_error(error: BaseException) -> bool:
    """botocore's errors (an S3 refusal), looked up lazily: a local archive never loads it."""
    import sys

    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    )


def iter_events(store: ObjectStore, after_key: str | None = None) -> Iterator[StoredRecord]:
    """Every event after `after_key` (all when None), in chain order; reads only the days from
    `after_key`'s day on."""
    return access_log(store).records(after_key)


def verify_trail(store: ObjectStore) -> tuple[int, list[LogFinding]]:
    """Replay the whole trail, like `rc-archive verify` of the ledger."""
    return access_log(store).verify()
