"""Write docs/queries.md, the audit query pack with real output, from a catalog (the demo's by
default).

Every output sample comes from this script run after `make demo`, so the samples are real:
`.venv/bin/python docs/gen_query_pack.py > docs/queries.md`.
"""

from __future__ import annotations

import os
import shlex
import sys
from datetime import timedelta

from pipelines.catalog.connection import connect
from pipelines.query import queries
from pipelines.query.formatting import render
from pipelines.settings import Settings

QUESTIONS = [
    ("Everything one customer said and was told, across channels", "customer_history"),
    ("Every message an agent sent in a period", "agent_messages"),
    ("Inbound messages never answered", "unanswered_inbound"),
    ("Median and p90 first-reply time per agent and channel", "response_times"),
    ("Messages deleted on the remote channel, and what they said", "remotely_deleted"),
    ("Edits with before and after", "edits"),
    ("Attachments by type", "attachments_by_type"),
    ("Conversations per channel per day", "conversations_per_day"),
    ("Messages containing a term", "term_search"),
    ("Quarantined records and why", "quarantined"),
    ("Capture lag per source", "capture_lag"),
]
SHOWN_ROWS = 4
MAX_CELL = 40
MAX_WIDTH = 150


def example_params(conn) -> dict[str, dict]:
    """Parameters picked from the data itself, so every example returns rows."""
    customer = conn.execute(
        "SELECT author_identity_id FROM messages WHERE direction = 'inbound' "
        "GROUP BY 1 ORDER BY count(DISTINCT thread_id) DESC, 1 LIMIT 1"
    ).fetchone()[0]
    agent, last = conn.execute(
        "SELECT creator_id, max(creation_time) FROM messages WHERE creator_id IS NOT NULL "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()
    return {
        "customer_history": {"identity_id": customer},
        "agent_messages": {"agent_id": agent, "from": last - timedelta(days=7), "to": last},
        "term_search": {"term": "cancel"},
    }


def _cli_params(params: dict | None) -> str:
    if not params:
        return ""
    return " " + " ".join("--param " + shlex.quote(f"{k}={v}") for k, v in params.items())


def _excerpt(result: queries.QueryResult) -> tuple[queries.QueryResult, list[str]]:
    """The first rows, long cells clipped; id columns left out first while a row is too wide."""
    rows = [
        tuple(
            (v[: MAX_CELL - 3] + "...") if isinstance(v, str) and len(v) > MAX_CELL else v
            for v in row
        )
        for row in result.rows[:SHOWN_ROWS]
    ]
    keep = list(range(len(result.columns)))

    def width() -> int:
        return sum(max([len(result.columns[i])] + [len(str(r[i])) for r in rows]) + 3 for i in keep)

    droppable = [i for i, c in enumerate(result.columns) if c.endswith("_id") or c == "id"]
    for index in reversed(droppable):
        if width() <= MAX_WIDTH:
            break
        keep.remove(index)
    left_out = [c for i, c in enumerate(result.columns) if i not in keep]
    clipped = queries.QueryResult(
        [result.columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows]
    )
    return clipped, left_out


HEADER = """# The audit query pack

Eleven questions auditors ask, as named queries of `pipelines/query/queries.py`. Run one by
name with `rc-archive sql --query NAME [--param NAME=VALUE ...]` (`rc-archive sql
--list-queries` lists them), or paste the SQL into any DuckDB client opened on `audit.duckdb`
(see `rc-archive sql --describe VIEW` and [columns.md](columns.md) for what each column holds).
The output below is the demo archive's (`make demo`), produced by `docs/gen_query_pack.py`.
"""


def main(audit_db: str) -> None:
    conn = connect(audit_db, Settings.from_env(dict(os.environ)), read_only=True)
    params_by_query = example_params(conn)
    print(HEADER)
    for number, (question, name) in enumerate(QUESTIONS, start=1):
        sql = queries.QUERY_PACK[name].strip()
        params = params_by_query.get(name)
        result = queries.run_query(conn, sql, params)
        total = len(result.rows)
        clipped, left_out = _excerpt(result)
        print(f"## {number}. {question}\n")
        print(f"`rc-archive sql --query {name}{_cli_params(params)}`\n")
        print(f"```sql\n{sql}\n```\n")
        hidden = f" (not shown: {', '.join(left_out)})" if left_out else ""
        print(f"Demo data: {total} rows; the first {min(total, SHOWN_ROWS)}{hidden}:\n")
        print(f"```text\n{render(clipped, 'table')}\n```\n")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUDIT_DB", "./audit.duckdb"))
