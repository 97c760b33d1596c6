"""The periodic supervision report: what the policies flagged, what reviewers decided, what is
still waiting, and which matters hold records, as one HTML page a compliance officer can hand
over (charts as inline SVG, no script, opens offline).

Stored write-once in the archive at `_reports/supervision/<YYYY-MM-DD>.html` (a day's report
is written once; asking again the same day finds it), so the archive itself shows that
supervision took place and what it saw. Reads the catalog's views: cost follows the flags and
decisions of the archive, not the number of runs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.archive import keys
from pipelines.archive.store import ObjectExistsError, ObjectStore
from pipelines.catalog.connection import connect
from pipelines.charts import bar_chart
from pipelines.query.queries import QueryResult, run_query
from pipelines.settings import Settings

REPORT_PREFIX = f"{keys.REPORTS_ROOT}/supervision/"

FLAGS_PER_POLICY = """
SELECT policy, count(*) AS flags FROM flags GROUP BY policy ORDER BY flags DESC, policy
"""
FLAGS_PER_AGENT = """
SELECT coalesce(agent_name, '(customer or unknown)') AS agent, count(*) AS flags
FROM flags WHERE kind <> 'sample' GROUP BY 1 ORDER BY flags DESC, agent LIMIT 15
"""
BACKLOG_PER_POLICY = """
SELECT policy, count(*) AS waiting, min(archived_at) AS oldest_flag
FROM review_queue GROUP BY policy ORDER BY waiting DESC, policy
"""
DECISIONS = """
SELECT d.decision, count(*) AS decisions,
       round(median(epoch(d.at) - epoch(f.archived_at)) / 3600, 1) AS median_hours_to_decision
FROM review_decisions AS d JOIN flags AS f ON f.record_sha256 = d.flag_id
WHERE d.is_current GROUP BY d.decision ORDER BY d.decision
"""
HOLDS = """
SELECT matter, max("at") AS since, max_by("user", record_key) AS placed_by,
       sum(object_count) FILTER (action = 'place') AS objects_placed
FROM holds WHERE matter_active GROUP BY matter ORDER BY matter
"""

DISPOSITIONS = """
SELECT strftime(disposed_at, '%Y-%m') AS month, count(*) AS dispositions,
       sum(removed_files) AS files, sum(removed_rows) AS message_versions,
       string_agg(DISTINCT "user", ', ') AS by
FROM dispositions GROUP BY 1 ORDER BY 1 DESC LIMIT 12
"""


@dataclass(frozen=True)
class SupervisionReport:
    key: str
    html: str
    written: bool  # False: today's report was already stored (write-once), not replaced


def render_report(audit_db: str, settings: Settings, now: datetime) -> str:
    """The report's HTML, from the catalog at `audit_db` as of its last build (opened with
    `settings`)."""
    conn = connect(audit_db, settings, read_only=True)
    try:
        results = {
            name: run_query(conn, sql)
            for name, sql in (
                ("policy", FLAGS_PER_POLICY),
                ("agent", FLAGS_PER_AGENT),
                ("backlog", BACKLOG_PER_POLICY),
                ("decisions", DECISIONS),
                ("holds", HOLDS),
                ("dispositions", DISPOSITIONS),
            )
        }
    finally:
        conn.close()
    waiting = sum(row[1] for row in results["backlog"].rows)
    decided = sum(row[1] for row in results["decisions"].rows)
    e = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Supervision report {now:%Y-%m-%d}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:860px;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}
th,td{{border:1px solid #ccc;padding:.3em .7em;text-align:left}}
td{{font-variant-numeric:tabular-nums}}
</style></head><body>
<h1>Supervision report</h1>
<p>As of {e(now.strftime("%Y-%m-%d %H:%M UTC"))}: {waiting:,} flags waiting for review,
{decided:,} decided.</p>
<h2>Flags per policy</h2>
{bar_chart(_pairs(results["policy"]), "flags per policy", label_width=190)}
<h2>Flags per agent (terms and patterns)</h2>
{bar_chart(_pairs(results["agent"]), "flags per agent", label_width=190)}
<h2>Review backlog</h2>
{_table(results["backlog"])}
<h2>Decisions and time to decision</h2>
{_table(results["decisions"])}
<h2>Active legal holds</h2>
{_table(results["holds"])}
<h2>Dispositions (last 12 months with any)</h2>
{_table(results["dispositions"])}
</body></html>
"""


def _pairs(result: QueryResult) -> list[tuple[str, int]]:
    return [(str(row[0]), int(row[1])) for row in result.rows]


def _table(result: QueryResult) -> str:
    if not result.rows:
        return "<p>None.</p>"
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in result.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in result.rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def store_report(
    store: ObjectStore, audit_db: str, settings: Settings, now: datetime | None = None
) -> SupervisionReport:
    """Render today's report and store it write-once in the archive."""
    now = now or datetime.now(UTC)
    key = f"{REPORT_PREFIX}{now:%Y-%m-%d}.html"
    page = render_report(audit_db, settings, now)
    try:
        store.put(key, page.encode("utf-8"), content_type="text/html; charset=utf-8")
    except ObjectExistsError:
        return SupervisionReport(key, store.get(key).decode("utf-8"), written=False)
    return SupervisionReport(key, page, written=True)
