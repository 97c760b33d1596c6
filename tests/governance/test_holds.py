"""Legal holds on the moto S3 server (Object Lock bucket): placing a hold turns the legal hold
ON for every committed object holding a matching record, releasing turns it OFF except where
another active matter holds the object; every step is a write-once record in `_holds/`, shown
by the `holds` view. A local archive records the hold without a lock."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.settings import Settings
from tests.governance.support import catalog_for_the_cli, catalog_rows


def _status(client, bucket: str, keys) -> dict[str, str]:
    return {
        key: client.head_object(Bucket=bucket, Key=f"arc/{key}").get(
            "ObjectLockLegalHoldStatus", "none"
        )
        for key in keys
    }


def _data_keys(store) -> list[str]:
    return [k for k in store.list("") if k.endswith(".parquet") and k.startswith("contents/")]


def test_place_and_release_with_overlapping_matters(s3_server, s3_archive, capsys):
    bucket, store = s3_archive
    client = s3_server.client()
    audit_db = os.environ["AUDIT_DB"]
    source, thread = catalog_rows(
        audit_db,
        "SELECT source_id, thread_id FROM messages ORDER BY thread_id LIMIT 1",
        dict(os.environ),
    )[0]

    assert (
        main(
            ["hold", "place", "--matter", "m-thread", "--thread", thread, "--reason", "litigation"]
        )
        == 0
    )
    assert "legal hold ON" in capsys.readouterr().out
    placed = [json.loads(store.get(k)) for k in store.list("_holds/m-thread/")]
    assert len(placed) == 1 and placed[0]["action"] == "place" and placed[0]["lock_applied"]
    held_by_thread = set(placed[0]["object_keys"])
    assert held_by_thread and all(k.startswith("contents/") for k in held_by_thread)
    status = _status(client, bucket, _data_keys(store))
    assert {k for k, s in status.items() if s == "ON"} == held_by_thread

    assert (
        main(
            [
                "hold",
                "place",
                "--matter",
                "m-source",
                "--source",
                source,
                "--reason",
                "regulator request",
            ]
        )
        == 0
    )
    capsys.readouterr()
    source_record = json.loads(store.get(next(store.list("_holds/m-source/"))))
    held_by_source = set(source_record["object_keys"])
    assert held_by_thread <= held_by_source  # the thread lies in the source
    assert any(k.startswith("identities/") for k in held_by_source)

    # Release the source matter: the thread's objects stay held, the rest goes OFF.
    assert main(["hold", "release", "--matter", "m-source", "--reason", "closed"]) == 0
    assert "kept for other matters" in capsys.readouterr().out
    status = _status(client, bucket, held_by_source)
    assert {k for k, s in status.items() if s == "ON"} == held_by_thread
    assert all(s == "OFF" for k, s in status.items() if k not in held_by_thread)
    release = json.loads(store.get(list(store.list("_holds/m-source/"))[-1]))
    assert set(release["kept_keys"]) == held_by_thread
    assert set(release["released_keys"]) == held_by_source - held_by_thread

    assert main(["hold", "list", "--format", "csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].startswith("m-source,released") and listed[2].startswith("m-thread,active")

    assert main(["hold", "release", "--matter", "m-thread", "--reason", "settled"]) == 0
    capsys.readouterr()
    assert set(_status(client, bucket, held_by_thread).values()) == {"OFF"}
    assert main(["hold", "release", "--matter", "m-thread", "--reason", "again"]) == 2
    assert "no active hold" in capsys.readouterr().err

    # The holds view after a catalog build: four records, none active.
    build_catalog(os.environ["ARCHIVE_URI"], audit_db, Settings.from_env(dict(os.environ)))
    rows = catalog_rows(
        audit_db,
        "SELECT matter, action, object_count, matter_active, user FROM holds ORDER BY record_key",
        dict(os.environ),
    )
    assert sorted((m, a) for m, a, *_ in rows) == [
        ("m-source", "place"),
        ("m-source", "release"),
        ("m-thread", "place"),
        ("m-thread", "release"),
    ]
    assert {r[3] for r in rows} == {False} and {r[4] for r in rows} == {"counsel@example.com"}


def test_bad_hold_input_is_one_line_exit_2(archive, capsys):
    assert main(["hold", "place", "--matter", "../x", "--thread", "t", "--reason", "r"]) == 2
    assert main(["hold", "place", "--matter", "m", "--reason", "r"]) == 2
    assert (
        main(["hold", "place", "--matter", "m", "--thread", "no-such-thread", "--reason", "r"]) == 2
    )
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "no committed record matches" in errors[2]


def test_a_local_archive_records_the_hold_without_a_lock(archive: Path, capsys):
    thread = catalog_rows(os.environ["AUDIT_DB"], "SELECT min(thread_id) FROM messages")[0][0]
    assert main(["hold", "place", "--matter", "m1", "--thread", thread, "--reason", "r"]) == 0
    assert "a directory cannot lock" in capsys.readouterr().out
    (record,) = sorted((archive / "_holds" / "m1").glob("*-place.json"))
    body = json.loads(record.read_text())
    assert body["lock_applied"] is False and body["object_keys"]
    assert all((archive / key).is_file() for key in body["object_keys"])


def test_a_message_that_lands_in_a_held_thread_is_held_as_it_lands(
    s3_server, s3_bucket, sandbox_factory, tmp_path, monkeypatch, capsys
):
    import boto3

    from pipelines.archive.ledger import Ledger
    from pipelines.archive.store import open_store
    from pipelines.sync.contents import sync_contents
    from tests.sync.support import client_for

    uri = f"s3://{s3_bucket}/arc"
    env = dict(s3_server.env)
    store = open_store(uri, Settings.from_env(env))
    ledger = Ledger(store)
    sb = sandbox_factory(contents=120, sources=1)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
    audit_db = catalog_for_the_cli(uri, env, tmp_path, monkeypatch)
    held_message = next(c for c in sb.world.all_contents(source_id) if c.get("threadId"))
    thread = held_message["threadId"]
    assert main(["hold", "place", "--matter", "m1", "--thread", thread, "--reason", "r"]) == 0
    capsys.readouterr()
    placed = set(_data_keys(store))

    other = next(c for c in sb.world.all_contents(source_id) if c.get("threadId") != thread)
    sb.world.reply(held_message["id"], body="a new message in the held thread")
    sb.world.reply(other["id"], body="a new message elsewhere")
    with client_for(sb) as client:
        report = sync_contents(client, Ledger(store), source_id, run_id="run-2")

    new_files = sorted(set(_data_keys(store)) - placed)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    status = _status(client, s3_bucket, new_files)
    landed = [
        json.loads(store.get(k)) for k in store.list("_holds/m1/") if k.endswith("-landed.json")
    ]
    assert len(landed) == 1 and landed[0]["lock_applied"] is True
    assert report.held_objects == len(landed[0]["object_keys"]) >= 1
    # Exactly the run-2 files that hold a message of the thread are held.
    with_thread = {k for k in new_files if thread in _threads(store, k)}
    assert {k for k, s in status.items() if s == "ON"} == set(landed[0]["object_keys"])
    assert set(landed[0]["object_keys"]) == with_thread

    assert main(["hold", "release", "--matter", "m1", "--reason", "done"]) == 0
    assert set(landed[0]["object_keys"]) <= set(_release_record(store)["released_keys"])
    assert all(s == "OFF" for s in _status(client, s3_bucket, landed[0]["object_keys"]).values())

    build_catalog(uri, audit_db, Settings.from_env(env | {"ARCHIVE_URI": uri}))
    rows = catalog_rows(audit_db, "SELECT action, matter_active FROM holds ORDER BY record_key")
    assert rows == [("place", False), ("landed", False), ("release", False)]


def test_a_compaction_of_held_files_holds_its_output(s3_server, s3_archive, capsys):
    bucket, store = s3_archive
    client = s3_server.client()
    source = catalog_rows(
        os.environ["AUDIT_DB"], "SELECT min(source_id) FROM messages", dict(os.environ)
    )[0][0]
    argv = ["hold", "place", "--matter", "m1", "--source", source, "--reason", "litigation"]
    assert main(argv) == 0
    before = set(_data_keys(store))
    assert main(["compact", "--source", source]) == 0
    capsys.readouterr()
    outputs = sorted(set(_data_keys(store)) - before)
    assert outputs, "the dataset's closed month has several files"
    assert set(_status(client, bucket, outputs).values()) == {"ON"}
    landed = [json.loads(store.get(k)) for k in store.list("_holds/m1/") if "-landed" in k]
    assert [record["object_keys"] for record in landed] == [outputs]
    assert main(["hold", "release", "--matter", "m1", "--reason", "settled"]) == 0
    assert set(_status(client, bucket, outputs).values()) == {"OFF"}


def test_a_query_hold_holds_the_files_of_the_messages_it_returns(s3_server, s3_archive, capsys):
    bucket, store = s3_archive
    client = s3_server.client()
    sql = "SELECT id FROM messages WHERE body ILIKE '%order%'"
    argv = ["hold", "place", "--matter", "orders", "--query", sql, "--reason", "subpoena 12"]
    assert main(argv) == 0
    capsys.readouterr()
    [record] = [json.loads(store.get(k)) for k in store.list("_holds/orders/")]
    assert record["selector"]["query"] == sql
    assert sorted(record["selector"]["content_ids"]) == ["c1", "c10", "c2", "c3", "c9"]
    held = set(record["object_keys"])
    status = _status(client, bucket, _data_keys(store))
    assert held and {k for k, s in status.items() if s == "ON"} == held
    # The query ran as an audited read.
    commands = [json.loads(store.get(k))["query_name"] for k in store.list("_access/")]
    assert commands == ["hold place --query"]


def test_a_new_version_of_a_query_held_message_is_held_as_it_lands(archive, capsys):
    from datetime import date

    import pyarrow as pa

    from pipelines.archive.store import LocalStore
    from pipelines.governance.holds import active_matters, hold_landed

    sql = "SELECT id FROM messages WHERE id = 'c1'"
    assert main(["hold", "place", "--matter", "m", "--query", sql, "--reason", "r"]) == 0
    store = LocalStore(archive)
    day = date(2026, 3, 2)
    batch = pa.table(
        {
            "id": ["c1", "c2"],
            "source_id": ["s", "s"],
            "thread_id": ["t", "t"],
            "author_identity_id": ["a", "a"],
            "creation_time": pa.array([None, None], pa.timestamp("ms", tz="UTC")),
            "creation_date": [day, day],
        }
    )
    # Only the edit of c1 (held by the query) makes its file held; c2's would not.
    landed = next(k for k in store.list("contents/") if k.endswith(".parquet"))
    [record] = hold_landed(store, active_matters(store), batch, {day: landed}, Settings())
    assert record.body["object_keys"] == [landed]
    assert (
        hold_landed(store, active_matters(store), batch.slice(1), {day: landed}, Settings()) == []
    )


def test_a_query_that_returns_no_id_column_is_one_line_exit_2(archive, capsys):
    argv = ["hold", "place", "--matter", "m", "--query", "SELECT 1 AS n", "--reason", "r"]
    assert main(argv) == 2
    assert "must return an `id` column" in capsys.readouterr().err


def _release_record(store) -> dict:
    (key,) = [k for k in store.list("_holds/m1/") if k.endswith("-release.json")]
    return json.loads(store.get(key))


def _threads(store, key: str) -> set[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(store.get(key)), columns=["thread_id"])
    return set(table.column("thread_id").to_pylist())


# -- the hold journal: every record chained and witnessed, legacy records adopted -----------


def _legacy_record(store, matter: str, action: str, object_keys: list[str]) -> str:
    """A hold record exactly as the previous release wrote it: its key and body, chained to
    the matter's previous decision, and no journal entry."""
    from pipelines.governance.chained_log import canonical_bytes
    from pipelines.governance.holds import HOLD_FORMAT, matter_records

    previous = matter_records(store, matter)
    body = {
        "format": HOLD_FORMAT,
        "matter": matter,
        "action": action,
        "at": "2026-05-04T10:00:00.000000Z" if action == "place" else "2026-05-05T10:00:00.000000Z",
        "user": "counsel@example.com",
        "user_from": "RC_ARCHIVE_USER",
        "reason": "litigation",
        "selector": None,
        "object_keys": object_keys,
        "lock_applied": False,
        "prev_key": previous[-1].key if previous else None,
        "prev_sha256": previous[-1].sha256 if previous else None,
    }
    stamp = body["at"].replace("-", "").replace(":", "").replace(".", "")
    key = f"_holds/{matter}/{stamp}-{action}.json"
    store.put(key, canonical_bytes(body), content_type="application/json")
    return key


def test_holds_written_before_the_journal_verify_and_are_adopted_by_the_next_write(
    archive: Path, capsys
):
    from pipelines.archive.store import LocalStore
    from pipelines.governance.holds import HoldRegister
    from pipelines.governance.retention import held_keys

    store = LocalStore(archive)
    held = _data_keys(store)[0]
    legacy = _legacy_record(store, "old-matter", "place", [held])
    audit = HoldRegister(store)
    assert [(f.kind, f.tampering) for f in audit.findings] == [("holds_legacy", False)]
    assert held_keys(store) == {held}
    assert main(["hold", "verify"]) == 0
    assert "holds_legacy" in capsys.readouterr().out

    # The first record of this release starts the journal: it adopts the legacy record first.
    thread = catalog_rows(os.environ["AUDIT_DB"], "SELECT min(thread_id) FROM messages")[0][0]
    assert main(["hold", "place", "--matter", "m1", "--thread", thread, "--reason", "r"]) == 0
    assert main(["hold", "verify"]) == 0
    assert "intact" in capsys.readouterr().out and not HoldRegister(store).findings
    os.chmod(archive / legacy, 0o644)
    os.remove(archive / legacy)
    assert main(["hold", "verify"]) == 3
    assert f"hold_missing: {legacy}" in capsys.readouterr().out


class _CrashingStore:
    """Fault injection over the real local store: the puts of keys that `crash_on` matches
    fail as a killed process would leave them (nothing written), to show the two crash windows
    of the hold journal."""

    def __init__(self, store, crash_on) -> None:
        self._store = store
        self._crash_on = crash_on

    def put(self, key, data, *, content_type):
        if self._crash_on(key):
            raise OSError(f"injected crash before writing {key}")
        return self._store.put(key, data, content_type=content_type)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_the_journal_crash_windows_hold_more_never_less_and_a_forged_release_ends_nothing(
    archive: Path,
):
    import pytest

    from pipelines.archive.store import LocalStore
    from pipelines.governance.holds import HoldRegister, Selector, place_hold, release_hold
    from pipelines.query.selection import held_objects

    store = LocalStore(archive)
    audit_db = os.environ["AUDIT_DB"]
    threads = [row[0] for row in catalog_rows(audit_db, "SELECT DISTINCT thread_id FROM messages")]
    first, second = Selector(thread=threads[0]), Selector(thread=threads[1])
    place_hold(
        store, Settings(), "m1", first, "r", held_objects(audit_db, Settings(), first)
    )  # journal begun

    journal_down = _CrashingStore(store, lambda key: key.startswith("_holds/_journal/"))
    with pytest.raises(OSError, match="injected"):  # record written, its entry not
        place_hold(
            journal_down, Settings(), "m2", second, "r", held_objects(audit_db, Settings(), second)
        )
    audit = HoldRegister(store)
    assert [(f.kind, f.tampering) for f in audit.findings] == [("hold_unjournaled", False)]
    held_by_m2 = {k for k, m in audit.held_now().items() if m == "m2"}
    assert held_by_m2  # the unjournaled placement still holds

    record_down = _CrashingStore(store, lambda key: key.endswith("-release.json"))
    with pytest.raises(OSError, match="injected"):  # entry written, the release record not
        release_hold(record_down, Settings(), "m1", "settled")
    audit = HoldRegister(store)
    assert {(f.kind, f.tampering) for f in audit.findings} == {
        ("hold_unjournaled", False),
        ("hold_unfinished", False),
    }
    assert "m1" in set(audit.held_now().values())  # the matter stays active

    forged = _legacy_record(store, "m2", "release", sorted(held_by_m2))
    audit = HoldRegister(store)
    assert ("hold_forged", forged) in {(f.kind, f.key) for f in audit.tampering}
    assert held_by_m2 <= set(audit.held_now())  # a forged release ends nothing
    assert main(["hold", "verify"]) == 3
