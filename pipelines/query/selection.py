"""Which committed records a selection names, as one SQL condition, for legal holds and exports.

One meaning for every command that selects by source, thread, identity and creation time
(`hold place`, `export`). `--identity` names the identity's conversations: every message of a
thread the identity wrote any archived message in, plus its own messages outside a thread
(and, in the identities table, the identity record itself). It is the wider of the two
meanings the commands once had (the identity's own messages only, for holds), chosen so a hold
never holds less than what an export by the same selector produces.

A legal hold holds whole data files (the unit of storage and of S3 Object Lock): every live file
with at least one record its selector matches, found by DuckDB's `filename` column over the
catalog's live-file list. The hold itself is written by governance/holds.py; finding its files is
a catalog read, so it lives here, on the read side.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipelines.catalog.build import uri_list_sql
from pipelines.catalog.connection import ARCHIVE_ROOT_VARIABLE, INTERNAL_SCHEMA, connect
from pipelines.governance.holds import Selector
from pipelines.settings import Settings
from schemas.columns import HoldColumns
from schemas.tables import HELD_TABLES, TABLES

# The conversations of `$identity`: every (source, thread) it wrote a message in, in any
# archived version (the `contents` view: a later edit never narrows the selection).
IDENTITY_THREADS_SQL = (
    "SELECT DISTINCT source_id, thread_id FROM contents "
    "WHERE author_identity_id = $identity AND thread_id IS NOT NULL"
)


def selection_condition(
    columns: HoldColumns,
    *,
    source: str | None = None,
    thread: str | None = None,
    identity: str | None = None,
    content_ids: Sequence[str] | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """The SQL condition (values bound as parameters) of the records of a table with selector
    `columns` (TableSchema.hold) that the selection names; "" for no selection at all, None
    when it names none of this table's records. Contents: every part applies, `identity` as
    the identity's conversations (module docstring). Identities: the identity record itself,
    or a whole source's when no time range is given (identities have no time), never a
    thread's or a query's."""
    clauses, params = [], {}
    for value, column, name in (
        (source, columns.source, "source"),
        (thread, columns.thread, "thread"),
    ):
        if value:
            if column is None:
                return None
            clauses.append(f"{column} = ${name}")
            params[name] = value
    if identity:
        if columns.identity is None:
            return None
        if columns.thread is None:
            clauses.append(f"{columns.identity} = $identity")
        else:
            clauses.append(
                f"({columns.identity} = $identity OR ({columns.source}, {columns.thread}) IN "
                f"({IDENTITY_THREADS_SQL}))"
            )
        params["identity"] = identity
    if content_ids:
        if columns.content is None:
            return None
        clauses.append(f"list_contains($ids, {columns.content})")
        params["ids"] = list(content_ids)
    if columns.time is None:
        if (from_ or to) and not identity:
            return None
    else:
        if from_:
            clauses.append(f"{columns.time} >= $from_")
            params["from_"] = from_
        if to:
            clauses.append(f"{columns.time} < $to")
            params["to"] = to
    return " AND ".join(clauses), params


def identity_threads(
    audit_db: str, settings: Settings, identity: str
) -> tuple[tuple[str, str], ...]:
    """(source_id, thread_id) of every conversation the identity wrote in, as the catalog has
    them: kept with an `--identity` hold's selector, so a message landing in one of them after
    the placement is held too (governance/holds.py, `hold_landed`)."""
    conn = connect(audit_db, settings)
    try:
        rows = conn.execute(
            f"{IDENTITY_THREADS_SQL} ORDER BY source_id, thread_id", {"identity": identity}
        ).fetchall()
    finally:
        conn.close()
    return tuple((source_id, thread_id) for source_id, thread_id in rows)


def held_objects(audit_db: str, settings: Settings, selector: Selector) -> list[str]:
    """Keys (relative to the archive root) of the committed data files holding at least one
    record the selector matches. Reads the catalog's live-file list and those files, on the
    read-only locked connection (`connection.connect`)."""
    conn = connect(audit_db, settings)
    try:
        root = conn.execute(f"SELECT getvariable('{ARCHIVE_ROOT_VARIABLE}')").fetchone()[0]
        found: set[str] = set()
        for table in HELD_TABLES:
            keys = [
                row[0]
                for row in conn.execute(
                    f"SELECT key FROM {INTERNAL_SCHEMA}._live_files WHERE table_name = $t "
                    "ORDER BY key",
                    {"t": table},
                ).fetchall()
            ]
            if not keys:
                continue
            where = selection_condition(
                TABLES[table].hold,  # type: ignore[arg-type]
                source=selector.source,
                thread=selector.thread,
                identity=selector.identity,
                content_ids=selector.content_ids,
                from_=selector.from_,
                to=selector.to,
            )
            if where is None:
                continue
            clause, params = where
            files = uri_list_sql([root + key for key in keys])
            rows = conn.execute(
                f"SELECT DISTINCT filename FROM read_parquet({files}, union_by_name = true) "
                f"WHERE {clause}",
                params,
            ).fetchall()
            found.update(row[0][len(root) :] for row in rows)
    finally:
        conn.close()
    return sorted(found)
