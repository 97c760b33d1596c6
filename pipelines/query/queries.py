"""The audit query pack: the questions a compliance officer answers, as named SQL.

Every value comes in as a bound parameter ($name), never formatted into the text, so a search
term or an id typed by a person can never change what a query does. Run them with `run_query`,
or paste them into any DuckDB client opened on the catalog (bind the parameters there too).
The views they read are in `main`; what the views read (`_src_*`, the ledger snapshot, the
build tables) is in the `internal` schema, kept out of SHOW TABLES.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.catalog.connection import check_query

# Everything one customer said and was told, across channels: every message of every thread in
# which the customer, or another identity of the same person (same identity_group_id, the
# API's cross-channel link), wrote. Params: $identity_id.
CUSTOMER_HISTORY = """
WITH person AS (
    SELECT id FROM identities_latest
    WHERE id = $identity_id
       OR identity_group_id = (
            SELECT identity_group_id FROM identities_latest WHERE id = $identity_id)
    UNION SELECT $identity_id
), their_threads AS (
    SELECT DISTINCT source_id, thread_id FROM messages
    WHERE author_identity_id IN (SELECT id FROM person)
)
SELECT m.creation_time, m.source_type, m.source_id, m.thread_id, m.id, m.direction,
       m.author_identity_id, m.author_name, m.agent_name, m.body, m.remotely_deleted
FROM messages AS m
JOIN their_threads USING (source_id, thread_id)
ORDER BY m.creation_time, m.id
"""

# Every message an agent (extension id = creatorId) sent in [$from, $to).
# The creation_date bounds change no answer (creation_date is the UTC day of creation_time; the
# day of margin covers any session time zone, which the DATE casts use). The same days pick the
# files `messages_between` reads (the rows of `messages` in those files): DuckDB opens the
# period's files instead of every committed file (`messages` would answer the same, slower).
AGENT_MESSAGES = """
SELECT creation_time, source_type, source_id, thread_id, id, agent_name,
       agent_extension_number, in_reply_to_content_id, body
FROM internal.messages_between(
    CAST(CAST($from AS TIMESTAMPTZ) AS DATE) - 1, CAST(CAST($to AS TIMESTAMPTZ) AS DATE) + 1)
WHERE creator_id = $agent_id AND direction = 'outbound'
  AND creation_time >= $from AND creation_time < $to
  AND creation_date >= CAST(CAST($from AS TIMESTAMPTZ) AS DATE) - 1
  AND creation_date <= CAST(CAST($to AS TIMESTAMPTZ) AS DATE) + 1
ORDER BY creation_time, id
"""

# Inbound messages that no outbound message ever replied to.
UNANSWERED_INBOUND = """
SELECT inbound_time, source_type, source_id, thread_id, inbound_id, customer_identity_id,
       customer_name, inbound_body
FROM reply_pairs
WHERE reply_id IS NULL
ORDER BY inbound_time, inbound_id
"""

# Median and 90th percentile (linear interpolation) of first-reply time per agent and channel.
RESPONSE_TIMES = """
SELECT agent_id, any_value(agent_name) AS agent_name, source_type,
       count(*) AS replies,
       median(response_seconds) AS median_seconds,
       quantile_cont(response_seconds, 0.9) AS p90_seconds
FROM reply_pairs
WHERE reply_id IS NOT NULL
GROUP BY agent_id, source_type
ORDER BY agent_id, source_type
"""

# Messages deleted on the remote channel, with what they said: the body of the last version
# archived before the deletion (the deleted version itself may carry an emptied body).
REMOTELY_DELETED = """
WITH deleted AS (
    SELECT * FROM messages WHERE remotely_deleted
), first_deleted AS (
    SELECT id, min(last_modified_time) AS deleted_seen_at
    FROM contents WHERE remotely_deleted GROUP BY id
), said AS (
    SELECT id, arg_max(body, last_modified_time) AS body_before_deletion
    FROM contents WHERE NOT coalesce(remotely_deleted, false) GROUP BY id
)
SELECT d.creation_time, d.source_type, d.source_id, d.thread_id, d.id, d.author_identity_id,
       d.author_name, f.deleted_seen_at, s.body_before_deletion, d.body AS body_now
FROM deleted AS d
LEFT JOIN first_deleted AS f USING (id)
LEFT JOIN said AS s USING (id)
ORDER BY d.creation_time, d.id
"""

# Every edit: one row per version after the first, with before/after.
EDITS = """
SELECT id, source_type, thread_id, version_number, previous_last_modified_time,
       new_last_modified_time, previous_status, new_status, previous_body, new_body,
       previous_remotely_deleted, new_remotely_deleted, status_changed, body_changed,
       deleted_changed
FROM edits
ORDER BY id, version_number
"""

# Attachments of the current messages, by MIME type.
ATTACHMENTS_BY_TYPE = """
SELECT attachment.content_type AS content_type,
       count(*) AS attachments,
       count(DISTINCT id) AS messages,
       sum(attachment.size) AS total_bytes
FROM (SELECT id, unnest(attachments) AS attachment FROM messages)
GROUP BY attachment.content_type
ORDER BY attachments DESC, content_type
"""

# Conversations (threads with a message that day) and messages per channel per day.
CONVERSATIONS_PER_DAY = """
SELECT source_id, source_type, creation_date AS day,
       count(DISTINCT thread_id) AS conversations,
       count(*) AS messages
FROM messages
GROUP BY source_id, source_type, creation_date
ORDER BY day, source_id
"""

# Messages containing a term, case-insensitive; the term is matched as typed (% and _ are
# characters, not wildcards). contains() over lower() rather than ILIKE: DuckDB runs an ILIKE
# with an ESCAPE clause through its general matcher, and the term search at 1M contents took
# 510 ms that way against 360 ms (benchmarks/audit_bench.py).
TERM_SEARCH = """
SELECT creation_time, source_type, source_id, thread_id, id, direction, author_name,
       agent_name, body
FROM messages
WHERE contains(lower(body), lower($term))
ORDER BY creation_time, id
"""

# Records that failed validation and why (nothing is dropped silently).
QUARANTINED = """
SELECT quarantined_at, table_name, source_id, reason, record_sha256, raw_json, run_id, batch_id
FROM quarantine
ORDER BY quarantined_at, record_sha256
"""

# Capture lag per source (see the capture_lag view).
CAPTURE_LAG = "SELECT * FROM capture_lag ORDER BY source_id"

QUERY_PACK: dict[str, str] = {
    "customer_history": CUSTOMER_HISTORY,
    "agent_messages": AGENT_MESSAGES,
    "unanswered_inbound": UNANSWERED_INBOUND,
    "response_times": RESPONSE_TIMES,
    "remotely_deleted": REMOTELY_DELETED,
    "edits": EDITS,
    "attachments_by_type": ATTACHMENTS_BY_TYPE,
    "conversations_per_day": CONVERSATIONS_PER_DAY,
    "term_search": TERM_SEARCH,
    "quarantined": QUARANTINED,
    "capture_lag": CAPTURE_LAG,
}


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of one query, ready for `formatting`."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_query(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
) -> QueryResult:
    """Run `sql` with bound `params` ({name: value} for $name, a list for $1..$n).

    Only a single read-only query runs (`connection.check_query`, parsed on `conn`): the
    second line behind the locked connection, for a COPY onto a file it may read."""
    check_query(conn, sql)
    cursor = conn.execute(sql, params) if params else conn.execute(sql)
    columns = [column[0] for column in cursor.description or []]
    return QueryResult(columns=columns, rows=cursor.fetchall())
