"""`--identity` means one thing to a legal hold and to an export: the identity's conversations
(every message of a thread it wrote in, plus its own messages), so a hold never holds less than
an export by the same selector produces; a message that lands later in one of those
conversations is held as it lands."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa

from pipelines.archive.store import LocalStore
from pipelines.catalog.connection import connect
from pipelines.governance.holds import Selector, active_matters, hold_landed, place_hold
from pipelines.query.export import export
from pipelines.query.selection import held_objects, identity_threads
from pipelines.settings import Settings
from tests.governance.support import catalog_rows

# An identity that wrote in a thread where someone else wrote too.
SHARED_THREAD_AUTHOR = """
SELECT m.author_identity_id, m.source_id, m.thread_id FROM messages AS m
WHERE m.thread_id IN (
    SELECT thread_id FROM messages GROUP BY thread_id HAVING count(DISTINCT author_identity_id) > 1
) AND m.author_identity_id IS NOT NULL
ORDER BY 1, 2, 3 LIMIT 1
"""


def test_a_hold_by_identity_holds_every_file_its_export_reads(archive: Path, tmp_path):
    audit_db, env = os.environ["AUDIT_DB"], {}
    identity, source, thread = catalog_rows(audit_db, SHARED_THREAD_AUTHOR)[0]
    conversations = identity_threads(audit_db, Settings.from_env(env), identity)
    assert (source, thread) in conversations

    conn = connect(audit_db, Settings.from_env(env))
    try:
        report = export(conn, tmp_path / "out", identity=identity, fmt="jsonl")
        exported = conn.execute(
            "SELECT DISTINCT author_identity_id FROM messages WHERE thread_id = $t", {"t": thread}
        ).fetchall()
    finally:
        conn.close()
    assert len(exported) > 1 and report.rows > 0  # others' messages of the thread are in it

    by_identity = set(held_objects(audit_db, Settings.from_env(env), Selector(identity=identity)))
    for _source, one_thread in conversations:
        assert (
            set(held_objects(audit_db, Settings.from_env(env), Selector(thread=one_thread)))
            <= by_identity
        )
    assert any(k.startswith("identities/") for k in by_identity)  # the identity record too


def test_a_message_landing_in_an_identitys_conversation_is_held(archive: Path):
    store = LocalStore(archive)
    selector = Selector(identity="ident-a", threads=(("s", "t-kept"),))
    assert selector.as_json()["threads"] == [["s", "t-kept"]]
    kept, other, new = sorted(k for k in store.list("contents/") if k.endswith(".parquet"))[:3]
    place_hold(store, Settings(), "m", selector, "r", [kept])
    day, other_day, third_day = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
    files = {day: kept, other_day: other, third_day: new}
    batch = pa.table(
        {
            "id": ["c1", "c2", "c3", "c4"],
            "source_id": ["s", "s", "s", "s"],
            # Someone else in a conversation kept at placement; someone else elsewhere; the
            # identity opening a new conversation that someone else wrote in first.
            "thread_id": ["t-kept", "t-other", "t-new", "t-new"],
            "author_identity_id": ["ident-b", "ident-b", "ident-b", "ident-a"],
            "creation_time": pa.array([None] * 4, pa.timestamp("ms", tz="UTC")),
            "creation_date": [day, other_day, third_day, third_day],
        }
    )
    [record] = hold_landed(store, active_matters(store), batch, files, Settings())
    assert record.body["object_keys"] == sorted([kept, new])
    assert hold_landed(store, active_matters(store), batch.slice(1, 1), files, Settings()) == []
