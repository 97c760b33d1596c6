"""The access trail, the hold records and the review decisions as tables of the audit catalog
(views `access_log`, `holds`, `review_decisions`, `review_queue`).

Why tables and not views over files: the catalog's query connection may read exactly the
committed data files (`connection.lock_down`), and no view may glob. So the build reads the
JSON records itself and stores them in `internal._access_events`, `internal._hold_events` and
`internal._review_events`,
like the ledger snapshot: a snapshot as of the build, read again by nobody.

Steady cost (invariant 9): the previous catalog's rows are kept and a refresh reads only what
is new. For the trail: the day folders from the day of the chain's head on (one delimited
LIST of `_access/`, then one LIST per such day starting after the newest key known in it) and
one GET per new event. The head is found by following the hash chain through the known rows
(access_trail.follow_chain, in memory), never by the newest folder name, so a record planted
in a far-future day folder cannot make the refresh skip today's folder: it is read and shown
like any record, and named in the build's log as not on the chain (`rc-archive access verify`
reports it too). The review decisions are read from the newest known key on, in `_reviews/`.
For holds: one delimited LIST of `_holds/` (matters are few), one LIST per matter starting
after its newest known record, one GET per new record. A catalog of another archive, or one
built before these tables existed, reads them in full once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.archive.store import ObjectStore
from pipelines.catalog.connection import INTERNAL_SCHEMA
from pipelines.catalog.state import arrow_rows, open_previous_catalog, parse_record_time
from pipelines.governance.access_trail import follow_chain, link_of, read_new_events, today_utc
from pipelines.governance.holds import iter_hold_records
from pipelines.governance.review import review_log
from schemas.catalog_tables import ACCESS_EVENTS, HOLD_EVENTS, REVIEW_EVENTS

log = logging.getLogger(__name__)

ACCESS_TABLE = f"{INTERNAL_SCHEMA}.{ACCESS_EVENTS.name}"
HOLDS_TABLE = f"{INTERNAL_SCHEMA}.{HOLD_EVENTS.name}"
REVIEWS_TABLE = f"{INTERNAL_SCHEMA}.{REVIEW_EVENTS.name}"
ACCESS_SCHEMA = ACCESS_EVENTS.arrow_schema
HOLDS_SCHEMA = HOLD_EVENTS.arrow_schema
REVIEWS_SCHEMA = REVIEW_EVENTS.arrow_schema


@dataclass
class GovernanceState:
    access: pa.Table
    holds: pa.Table
    reviews: pa.Table
    access_read: int = 0
    holds_read: int = 0
    reviews_read: int = 0
    # Access events the trail's chain does not reach (key -> why): shown in `access_log`
    # like every event read, and named in the build's log.
    access_off_chain: dict[str, str] = field(default_factory=dict)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _access_row(key: str, sha256: str, body: dict[str, Any]) -> dict[str, Any]:
    export = body.get("export") or {}
    rows = body.get("rows")
    return {
        "event_key": key,
        "event_sha256": sha256,
        "day": body.get("day"),
        "seq": body.get("seq"),
        "at": parse_record_time(body.get("at")),
        "user": body.get("user"),
        "user_from": body.get("user_from"),
        "host": body.get("host"),
        "command": body.get("command"),
        "status": body.get("status"),
        "error": body.get("error"),
        "query": body.get("query"),
        "query_name": body.get("query_name"),
        "query_sha256": body.get("query_sha256"),
        "parameters_json": _json(body.get("parameters")),
        "arguments_json": _json(body.get("arguments")),
        "rows": rows if isinstance(rows, int) else None,
        "export_manifest_sha256": export.get("manifest_sha256"),
        "export_files_json": _json(export.get("files")) if export else None,
        "prev_key": body.get("prev_key"),
        "prev_sha256": body.get("prev_sha256"),
    }


def _hold_row(key: str, sha256: str, body: dict[str, Any]) -> dict[str, Any]:
    objects = list(body.get("object_keys") or [])
    return {
        "record_key": key,
        "record_sha256": sha256,
        "matter": body.get("matter"),
        "action": body.get("action"),
        "at": parse_record_time(body.get("at")),
        "user": body.get("user"),
        "reason": body.get("reason"),
        "selector_json": _json(body.get("selector")),
        "object_keys": objects,
        "object_count": len(objects),
        "lock_applied": body.get("lock_applied"),
        "released_keys": list(body.get("released_keys") or []) or None,
        "kept_keys": list(body.get("kept_keys") or []) or None,
        "prev_sha256": body.get("prev_sha256"),
    }


def previous_governance(audit_db: Path, root_uri: str) -> GovernanceState | None:
    """The rows a catalog at `audit_db` recorded for this archive (None: read in full)."""
    conn = open_previous_catalog(audit_db, root_uri)
    if conn is None:
        return None
    try:
        access = arrow_rows(conn, f"SELECT * FROM {ACCESS_TABLE}")
        holds = arrow_rows(conn, f"SELECT * FROM {HOLDS_TABLE}")
        reviews = arrow_rows(conn, f"SELECT * FROM {REVIEWS_TABLE}")
    except duckdb.Error:
        return None  # built before these tables existed
    finally:
        conn.close()
    known = ((access, ACCESS_SCHEMA), (holds, HOLDS_SCHEMA), (reviews, REVIEWS_SCHEMA))
    if any(table.schema.names != schema.names for table, schema in known):
        return None
    return GovernanceState(
        access=access.cast(ACCESS_SCHEMA),
        holds=holds.cast(HOLDS_SCHEMA),
        reviews=reviews.cast(REVIEWS_SCHEMA),
    )


def refresh_governance(store: ObjectStore, previous: GovernanceState | None) -> GovernanceState:
    """`previous` plus the access events, hold records and review decisions stored since (all
    when None)."""
    access = previous.access if previous else ACCESS_SCHEMA.empty_table()
    holds = previous.holds if previous else HOLDS_SCHEMA.empty_table()
    reviews = previous.reviews if previous else REVIEWS_SCHEMA.empty_table()
    new_access = [
        _access_row(e.key, e.sha256, e.body)
        for e in read_new_events(store, _access_links(access), today_utc())
    ]
    new_reviews = [
        decision_row(r.key, r.sha256, r.body)
        for r in review_log(store).records(_last(reviews, "decision_key"))
    ]
    known: dict[str, str] = {}
    for matter, key in zip(
        holds.column("matter").to_pylist(), holds.column("record_key").to_pylist(), strict=True
    ):
        known[matter] = max(key, known.get(matter, ""))
    new_holds = [_hold_row(r.key, r.sha256, r.body) for r in iter_hold_records(store, known)]
    if new_access:
        access = pa.concat_tables([access, pa.Table.from_pylist(new_access, ACCESS_SCHEMA)])
    off_chain = follow_chain(_access_links(access), today_utc()).off_chain
    if off_chain:
        first = min(off_chain)
        log.warning(
            "access trail: %d record(s) not on its hash chain, e.g. %s (%s); they are shown in "
            "access_log; run `rc-archive access verify`",
            len(off_chain),
            first,
            off_chain[first],
        )
    if new_holds:
        holds = pa.concat_tables([holds, pa.Table.from_pylist(new_holds, HOLDS_SCHEMA)])
    if new_reviews:
        reviews = pa.concat_tables([reviews, pa.Table.from_pylist(new_reviews, REVIEWS_SCHEMA)])
    return GovernanceState(
        access, holds, reviews, len(new_access), len(new_holds), len(new_reviews), off_chain
    )


def _access_links(access: pa.Table):
    """The chain fields of the snapshot's access rows (access_trail.ChainLink)."""
    columns = ["event_key", "event_sha256", "prev_key", "prev_sha256", "day", "seq"]
    rows = access.select(columns).to_pydict()
    return [
        link_of(key, sha, {"prev_key": pk, "prev_sha256": ps, "day": day, "seq": seq})
        for key, sha, pk, ps, day, seq in zip(*(rows[c] for c in columns), strict=True)
    ]


def _last(table: pa.Table, key_column: str) -> str | None:
    """The newest key a snapshot holds (keys sort in chain order), None when empty."""
    keys = table.column(key_column).to_pylist()
    return max(keys) if keys else None


def write_governance_tables(conn: duckdb.DuckDBPyConnection, state: GovernanceState) -> None:
    """Store the two snapshot tables in the catalog being built (before its views bind)."""
    access_rows = state.access  # noqa: F841 (read by DuckDB's replacement scan)
    conn.execute(f"CREATE TABLE {ACCESS_TABLE} AS SELECT * FROM access_rows ORDER BY event_key")
    hold_rows = state.holds  # noqa: F841 (read by DuckDB's replacement scan)
    conn.execute(f"CREATE TABLE {HOLDS_TABLE} AS SELECT * FROM hold_rows ORDER BY record_key")
    review_rows = state.reviews  # noqa: F841 (read by DuckDB's replacement scan)
    conn.execute(f"CREATE TABLE {REVIEWS_TABLE} AS SELECT * FROM review_rows ORDER BY decision_key")


def decision_row(key: str, sha256: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """One stored decision as a row of the catalog's `review_decisions` snapshot."""
    return {
        "decision_key": key,
        "decision_sha256": sha256,
        "flag_id": body.get("flag_id"),
        "content_id": body.get("content_id"),
        "content_sha256": body.get("content_sha256"),
        "source_id": body.get("source_id"),
        "policy": body.get("policy"),
        "kind": body.get("kind"),
        "decision": body.get("decision"),
        "note": body.get("note"),
        "at": parse_record_time(body.get("at")),
        "user": body.get("user"),
        "prev_sha256": body.get("prev_sha256"),
    }
