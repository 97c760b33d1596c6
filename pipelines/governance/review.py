"""Reviewer decisions on supervision flags, recorded write-once in the archive (`_reviews/`).

A reviewer works the queue (`rc-archive review next`: flags without a decision, newest first;
the catalog's queue less the decisions stored since it was built) and decides each flag:
`cleared` (nothing wrong) or `escalated` (to compliance), with a note. Each decision is one
record of a hash-chained log in daily folders, like the access trail
(pipelines/governance/chained_log.py): who, when, the flag (its record_sha256), the message
version it points at, the policy, the decision and the note. A decision is never changed: a
later decision on the same flag is a new record, and the views show the newest as current.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.archive import keys
from pipelines.archive.store import ObjectStore
from pipelines.governance.chained_log import ChainedLog, StoredRecord
from pipelines.settings import Settings

REVIEWS_PREFIX = f"{keys.REVIEWS_ROOT}/"
REVIEW_FORMAT = "rc-archive/review/1"
DECISIONS = ("cleared", "escalated")
MAX_NOTE_CHARS = 10_000


class ReviewError(ValueError):
    """A decision that cannot be recorded (unknown flag, bad decision, empty note)."""


def review_log(store: ObjectStore, settings: Settings | None = None, clock=None) -> ChainedLog:
    """The review decisions as a chained log: its writer's user and witness from `settings`
    (None: a reader's, see `ChainedLog`)."""
    return ChainedLog(store, REVIEWS_PREFIX, REVIEW_FORMAT, settings, clock)


def decision_record(flag: Mapping[str, Any], decision: str, note: str) -> dict[str, Any]:
    """The body of a decision on `flag` (a row of the `flags` view), checked."""
    if decision not in DECISIONS:
        raise ReviewError(f"--decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    note = note.strip()
    if not note:
        raise ReviewError("--note must say why (a decision without a reason is not reviewable)")
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"--note is {len(note):,} characters; at most {MAX_NOTE_CHARS:,}")
    return {
        "flag_id": flag["record_sha256"],
        "content_id": flag["content_id"],
        "content_sha256": flag["content_sha256"],
        "source_id": flag["source_id"],
        "policy": flag["policy"],
        "kind": flag["kind"],
        "decision": decision,
        "note": note,
    }


def record_decision(
    store: ObjectStore,
    flag: Mapping[str, Any],
    decision: str,
    note: str,
    settings: Settings,
    clock: Any = None,
) -> StoredRecord:
    """Append one decision to the archive's review log (write-once), as `settings.user`
    (else the operating-system user), witnessed when `settings.witness_uri` is set."""
    return review_log(store, settings, clock).append(decision_record(flag, decision, note))
