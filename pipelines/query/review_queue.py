"""`review next`: the flags still to decide, as of now rather than as of the last catalog build."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pipelines.archive.store import ObjectStore
from pipelines.catalog.connection import connect
from pipelines.governance.review import review_log


def decided_since_catalog(
    store: ObjectStore, audit_db: str | os.PathLike[str], env: Mapping[str, str]
) -> list[str]:
    """The flags decided after the audit catalog at `audit_db` took its snapshot of the review
    log (`internal._review_events`, whose `review_queue` still lists them): what `review next`
    leaves out, so a flag just decided is not offered again before `rc-archive catalog`.

    Cost: one query of the catalog for its newest decision key, then the log from that key on
    (`ChainedLog.records`: the day folders from its day, one GET per newer decision), the way a
    catalog refresh reads it. Keys sort in chain order, so the snapshot plus these is every
    decision."""
    conn = connect(audit_db, env, read_only=True)
    try:
        newest = conn.execute("SELECT max(decision_key) FROM review_decisions").fetchone()[0]
    finally:
        conn.close()
    flags = {record.body.get("flag_id") for record in review_log(store).records(newest)}
    return sorted(flag for flag in flags if isinstance(flag, str))
