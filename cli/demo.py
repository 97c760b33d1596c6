"""`make demo`: the whole product on one machine, with no settings.

Starts the sandbox API with generated data on a free port, archives every source into ./archive
through the same Dagster assets a scheduled run uses, rebuilds ./audit.duckdb, prints a few
audit answers, certifies each source and verifies the ledger against its witness and the
certificates; then stops the sandbox.

The sandbox's history is anchored at the time of the first demo (kept in .demo/anchor), so a
second `make demo` resumes from the ledger and archives only what changed: the incremental path.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cli.main import main as rc_archive
from pipelines import settings as names
from pipelines.settings import Settings

DEMO_DIR = Path(".demo")
ANCHOR_FILE = DEMO_DIR / "anchor"
ENV_FILE = DEMO_DIR / "sandbox.env"
# The sample supervision policies at the root of the checkout (terms in several languages).
SAMPLE_POLICIES = Path(__file__).resolve().parents[1] / "policies.example.yaml"
DAGSTER_HOME = DEMO_DIR / "dagster_home"

# The real Light limit (50 requests / 60 s) applies with a 10x shorter window, so the demo's few
# hundred requests take seconds; the client paces itself from the headers exactly as in production.
DEMO_WINDOW_SECONDS = 6.0
UNPACED_DOWNLOADS = ["--downloads-per-second", "0"]
# The generated account of `make demo` and `make dev` (one definition, so both show the same).
DEMO_ACCOUNT = {"seed": 2026, "sources": 4, "contents": 8000, "days": 30, "attachments": "light"}


def anchor_ms() -> int:
    """The sandbox's clock of the first demo (kept in .demo/anchor), so later ones resume."""
    DEMO_DIR.mkdir(exist_ok=True)
    if ANCHOR_FILE.exists():
        return int(ANCHOR_FILE.read_text().strip())
    anchor = int(time.time() * 1000)
    ANCHOR_FILE.write_text(str(anchor))
    return anchor


def main() -> int:
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer

    started = time.monotonic()
    config = SandboxConfig(
        **DEMO_ACCOUNT,
        now_ms=anchor_ms(),
        window_seconds=DEMO_WINDOW_SECONDS,
        penalty_seconds=DEMO_WINDOW_SECONDS,
    )
    with SandboxServer(config) as sandbox:
        env = dict(sandbox.env)
        env.setdefault(names.ARCHIVE_URI, os.environ.get(names.ARCHIVE_URI, "./archive"))
        env.setdefault(names.AUDIT_DB, os.environ.get(names.AUDIT_DB, "./audit.duckdb"))
        # A witness outside the archive, so `verify` can tell a truncated or rewritten ledger.
        env.setdefault(
            names.ARCHIVE_WITNESS_URI,
            os.environ.get(names.ARCHIVE_WITNESS_URI, str(DEMO_DIR / "witness")),
        )
        # Supervision: the sample policies flag messages as they are archived.
        env.setdefault(
            names.ARCHIVE_POLICIES, os.environ.get(names.ARCHIVE_POLICIES, str(SAMPLE_POLICIES))
        )
        ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        os.environ.update(env)
        DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
        # Dagster's default SQLite storage; no usage statistics from a local demo.
        (DAGSTER_HOME / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        os.environ.setdefault("DAGSTER_HOME", str(DAGSTER_HOME.resolve()))
        print(
            f"sandbox API at {sandbox.url} ({config.contents} contents, {config.sources} sources)"
        )
        print(f"settings written to {ENV_FILE} (use with --env-file)\n")

        # The file host is the bundled sandbox: downloads need no politeness pacing here.
        code = rc_archive(["run", "--reconcile", "full", *UNPACED_DOWNLOADS])
        print()
        changed = _change_messages(sandbox.world)
        print(
            f"-- The sandbox now changes {len(changed)} archived messages (an edit, a status "
            "change and a deletion per channel) and re-signs every attachment link; the next "
            "run archives each change once and nothing else"
        )
        run_started = time.time()
        code = code or rc_archive(["run", *UNPACED_DOWNLOADS])
        print()
        code = code or _show_edits(changed, run_started)
        print()
        _show_queries()
        print('-- Full-text search (ranked, every version): rc-archive search "cancel contract"')
        code = code or rc_archive(["search", "cancel contract", "--limit", "3"])
        print()
        code = code or _export_thread_as_rsmf()
        print()
        code = code or _certify()
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return code


def _change_messages(world) -> dict[str, str]:
    """Real changes on the channels, as RingCentral would report them: per channel, one message
    edited, one whose status moves and one deleted remotely. Returns content id -> change."""
    changed: dict[str, str] = {}
    for source_id in world.source_ids:
        ids = sorted(world.content_ids(source_id))
        edited, moved, deleted = ids[len(ids) // 4], ids[len(ids) // 2], ids[3 * len(ids) // 4]
        world.edit_content(edited, body="Corrected: your refund was processed on Monday.")
        status = world.content_json(moved).get("status")
        world.set_status(moved, "Ignored" if status != "Ignored" else "Replied")
        world.delete_remotely(deleted)
        changed |= {edited: "body", moved: "status", deleted: "deleted"}
    return changed


EDITS_SINCE = """
SELECT count(*) AS edits, count(*) FILTER (body_changed) AS body_changed,
       count(*) FILTER (status_changed) AS status_changed,
       count(*) FILTER (deleted_changed) AS deleted_changed,
       count(*) FILTER (NOT (body_changed OR status_changed OR deleted_changed)) AS other
FROM edits WHERE archived_at >= $since
"""


def _show_edits(changed: dict[str, str], since: float) -> int:
    """The `edits` the last run archived: one per change the sandbox made, none for a link."""
    from datetime import UTC, datetime

    from pipelines.catalog.connection import connect
    from pipelines.query import queries
    from pipelines.query.formatting import render

    conn = connect(None, Settings.from_env(os.environ), read_only=True)
    try:
        params = {"since": datetime.fromtimestamp(since, UTC)}
        result = queries.run_query(conn, EDITS_SINCE, params)
        print(f"-- Edits archived by that run (the sandbox made {len(changed)} changes)")
        print(render(result, "table"))
        edits = conn.execute(
            "SELECT count(*) FROM edits WHERE archived_at >= $since", params
        ).fetchone()[0]
    finally:
        conn.close()
    if edits != len(changed):
        print(f"error: {edits} edits archived for {len(changed)} changes", file=sys.stderr)
        return 1
    return 0


MESSAGES_PER_CHANNEL = """
SELECT source_type, count(*) AS messages, count(DISTINCT thread_id) AS threads,
       count(*) FILTER (direction = 'outbound') AS agent_messages,
       count(*) FILTER (remotely_deleted) AS deleted_remotely
FROM messages GROUP BY source_type ORDER BY source_type
"""

REPLY_TIME_PER_CHANNEL = """
SELECT source_type, count(reply_id) AS replied, count(*) - count(reply_id) AS unanswered,
       round(median(response_seconds)) AS median_seconds,
       round(quantile_cont(response_seconds, 0.9)) AS p90_seconds
FROM reply_pairs GROUP BY source_type ORDER BY source_type
"""


def _export_thread_as_rsmf() -> int:
    """Produce the demo's busiest thread with attachments as RSMF 2.0, the file a review
    platform (Relativity and others) loads as a conversation."""
    from datetime import UTC, datetime

    from pipelines.catalog.connection import connect

    conn = connect(None, Settings.from_env(os.environ), read_only=True)
    try:
        row = conn.execute(
            "SELECT thread_id FROM attachments WHERE thread_id IS NOT NULL "
            "GROUP BY thread_id ORDER BY count(*) DESC, thread_id LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        print("-- RSMF export: no thread with archived attachments")
        return 0
    out = DEMO_DIR / "exports" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-rsmf")
    print(f"-- Thread {row[0]} exported as RSMF 2.0")
    code = rc_archive(["export", "--thread", row[0], "--format", "rsmf", "--out", str(out)])
    for path in sorted((out / "threads").glob("*.rsmf")) if code == 0 else []:
        print(f"{path} ({path.stat().st_size:,} bytes)")
    return code


def _certify() -> int:
    """Sign a completeness certificate for this month of every demo source, then verify the
    archive against its witness and prove it still holds what it certifies (the step a
    compliance officer hands over): one verify for both."""
    from datetime import UTC, datetime

    key = DEMO_DIR / "keys" / "attest.pem"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        rc_archive(["keygen", "--out", str(key)])
    period = datetime.now(UTC).strftime("%Y-%m")
    certs = DEMO_DIR / "certificates" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    print(f"-- Completeness certificates for {period}")
    code = rc_archive(
        ["attest", "--period", period, "--key", str(key), "--out", str(certs) + os.sep]
    )
    if code:
        return code
    verify_args = ["verify", "--public-key", f"{key}.pub"]
    for certificate in sorted(certs.glob("*.json")):
        verify_args += ["--certificate", str(certificate)]
    print()
    return rc_archive(verify_args)


FLAGS_PER_POLICY = """
SELECT policy, kind, count(*) AS flags, count(DISTINCT content_id) AS messages
FROM flags GROUP BY policy, kind ORDER BY policy, kind
"""

REVIEW_QUEUE = """
SELECT creation_time, source_type, policy, coalesce(matched, '(sample)') AS matched,
       left(excerpt, 50) AS excerpt
FROM flags ORDER BY creation_time DESC, policy LIMIT 8
"""


def _show_queries() -> None:
    from pipelines.catalog.connection import connect
    from pipelines.query import queries
    from pipelines.query.formatting import render

    shown = [
        ("Messages per channel", MESSAGES_PER_CHANNEL, None),
        ("First-reply time per channel", REPLY_TIME_PER_CHANNEL, None),
        ("Oldest inbound messages never answered", queries.UNANSWERED_INBOUND + " LIMIT 5", None),
        ("Supervision flags per policy (policies.example.yaml)", FLAGS_PER_POLICY, None),
        ("Review queue: the newest flagged messages", REVIEW_QUEUE, None),
    ]
    conn = connect(None, Settings.from_env(os.environ), read_only=True)
    try:
        for title, sql, params in shown:
            print(f"-- {title}")
            print(render(queries.run_query(conn, sql, params), "table"))
            print()
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
