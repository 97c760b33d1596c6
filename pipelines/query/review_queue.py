"""The supervision review queue as `rc-archive review` reads it: the flags still to decide (as
of now rather than as of the last catalog build), and one flag by its id."""

from __future__ import annotations

import os
import re
from typing import Any

from pipelines.archive.store import ObjectStore
from pipelines.catalog.connection import connect
from pipelines.governance.review import review_log
from pipelines.query.queries import run_query
from pipelines.settings import Settings

# `review next`: the undecided flags, newest first ($decided: `decided_since_catalog`).
REVIEW_NEXT = """
SELECT record_sha256 AS flag_id, creation_time, source_type, direction, agent_name, policy,
       kind, matched, excerpt, content_id
FROM review_queue
WHERE ($policy IS NULL OR policy = $policy) AND NOT list_contains($decided, record_sha256)
ORDER BY creation_time DESC, policy, flag_id
LIMIT $limit
"""

# `review decide`: the flag (at most two, to tell an ambiguous prefix) whose id starts so.
FLAG_BY_ID = """
SELECT record_sha256, content_id, content_sha256, source_id, policy, kind
FROM flags WHERE starts_with(record_sha256, $flag) ORDER BY record_sha256 LIMIT 2
"""


def review_next_params(policy: str | None, limit: int, decided: list[str]) -> dict[str, Any]:
    """REVIEW_NEXT's parameters: only `policy`'s flags (all when None), at most `limit`, none
    of `decided`."""
    return {"policy": policy, "limit": limit, "decided": decided}


def decided_since_catalog(
    store: ObjectStore, audit_db: str | os.PathLike[str], settings: Settings
) -> list[str]:
    """The flags decided after the audit catalog at `audit_db` took its snapshot of the review
    log (`internal._review_events`, whose `review_queue` still lists them): what `review next`
    leaves out, so a flag just decided is not offered again before `rc-archive catalog`.

    Cost: one query of the catalog for its newest decision key, then the log from that key on
    (`ChainedLog.records`: the day folders from its day, one GET per newer decision), the way a
    catalog refresh reads it. Keys sort in chain order, so the snapshot plus these is every
    decision."""
    conn = connect(audit_db, settings, read_only=True)
    try:
        newest = conn.execute("SELECT max(decision_key) FROM review_decisions").fetchone()[0]
    finally:
        conn.close()
    flags = {record.body.get("flag_id") for record in review_log(store).records(newest)}
    return sorted(flag for flag in flags if isinstance(flag, str))


def flag_by_id(
    audit_db: str | os.PathLike[str], flag_id: str, settings: Settings
) -> dict[str, Any]:
    """The flag whose id (record_sha256) starts with `flag_id` (at least 8 hex digits): a
    ValueError for a malformed id, a LookupError when no flag or more than one has it."""
    flag_id = flag_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", flag_id):
        raise ValueError(f"flag id {flag_id!r}: give at least 8 hex digits of flags.record_sha256")
    conn = connect(audit_db, settings, read_only=True)
    try:
        rows = run_query(conn, FLAG_BY_ID, {"flag": flag_id}).as_dicts()
    finally:
        conn.close()
    if not rows:
        raise LookupError(
            f"no flag {flag_id} in the catalog; `rc-archive review next` lists them (run "
            "`rc-archive catalog` first if the flag is new)"
        )
    if len(rows) > 1:
        raise LookupError(f"flag id {flag_id} is ambiguous: give more of its digits")
    return rows[0]
