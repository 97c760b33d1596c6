"""Issue #27, attacks 8 to 10: an insider who can write the archive store against the access
trail, the webhook event log and the copies of message text outside the contents files.

Real parts only: local archives and the moto S3 server over HTTP, the real receiver, the
sandbox API delivering webhooks, the real contents sync, DuckDB catalogs and the command line.
The attacks are what the insider can do with the store's own write access: a PUT (on S3 a new
version of a key over the old one), a file written or a symbolic link made in the directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from cli.main import main
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore, open_store
from pipelines.archive.versions import ArchivedVersions
from pipelines.catalog.build import build_catalog
from pipelines.catalog.governance_tables import refresh_governance
from pipelines.governance.access_trail import ACCESS_FORMAT, AccessTrail, SymlinkedArchiveError
from pipelines.governance.chained_log import canonical_bytes
from pipelines.governance.run_access import record_run_access
from pipelines.integrity.witness import Witness
from pipelines.query.search import index_path
from pipelines.settings import Settings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.webhooks.events import events_after
from pipelines.webhooks.receiver import ReceiverThread
from pipelines.webhooks.subscription import ensure_subscription
from schemas.ids import source_stream
from tests.archive.support import commit_records
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import CUST_A, S1, content
from tests.governance.support import catalog_for_the_cli, catalog_rows
from tests.webhooks.support import TOKEN, client_for

PLANTED = "_access/2099-12-31/0000000000.json"


@pytest.fixture(params=["local", "s3"])
def archive_at(request, tmp_path) -> tuple[str, dict[str, str]]:
    """(ARCHIVE_URI, the settings to reach it): a directory, or a bucket on the S3 server."""
    if request.param == "local":
        return str(tmp_path / "archive"), {}
    server = request.getfixturevalue("s3_server")
    return f"s3://{server.make_bucket()}/arc", dict(server.env)


def _overwrite(store, key: str, data: bytes) -> None:
    """The insider's edit: on disk, the file rewritten; on S3, a plain PUT of the same key (a
    new version over the old one, which the writer's s3:PutObject allows)."""
    if isinstance(store, LocalStore):
        path = Path(store.uri_for(key))
        os.chmod(path, 0o644)
        path.write_bytes(data)
        os.chmod(path, 0o444)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=data)


# -- 8. the access trail: a planted far-future day, a symlinked ARCHIVE_URI -------------------


def test_attack_8_planted_future_access_day(archive_at, tmp_path, monkeypatch, capsys):
    uri, env = archive_at
    store = open_store(uri, Settings.from_env(env))
    head = (
        AccessTrail(store, Settings())
        .append({"command": "sql", "query": "SELECT 'first read'"})
        .key
    )

    # The insider plants a record dated 2099 that chains correctly to the real head: a reader
    # resuming from the newest folder name would never list today's folder again.
    planted = {
        "format": ACCESS_FORMAT,
        "day": "2099-12-31",
        "seq": 0,
        "at": "2099-12-31T00:00:00.000000Z",
        "command": "sql",
        "status": "ok",
        "query": "SELECT 'nothing to see'",
        "user": "mallory",
        "prev_key": head,
        "prev_sha256": hashlib.sha256(store.get(head)).hexdigest(),
    }
    store.put(PLANTED, canonical_bytes(planted), content_type="application/json")
    audit_db = catalog_for_the_cli(uri, env, tmp_path, monkeypatch)  # it reads the plant
    assert main(["sql", "SELECT body FROM contents"]) == 0  # a read after the plant
    build_catalog(uri, audit_db, Settings.from_env(dict(os.environ)))

    queries = [q for (q,) in catalog_rows(audit_db, "SELECT query FROM access_log", os.environ)]
    assert "SELECT body FROM contents" in queries  # the later read is not hidden
    state = refresh_governance(store, None)
    assert list(state.access_off_chain) == [PLANTED]
    capsys.readouterr()
    assert main(["access", "verify"]) == 3
    out = capsys.readouterr().out
    assert f"off_chain: {PLANTED}: not on the trail's chain: dated 2099-12-31" in out, out


def test_attack_8_symlinked_archive_uri(tmp_path, monkeypatch, capsys):
    """Local archives only: S3 keys have no links."""
    real = tmp_path / "archive"
    commit_records(Ledger(LocalStore(real)), 0, 4, days=1)
    catalog_for_the_cli(str(real), {}, tmp_path, monkeypatch)
    assert main(["sql", "SELECT count(*) FROM contents"]) == 0

    # A directory of links to the real table folders, with a trail of its own nobody checks.
    fake = tmp_path / "innocent"
    fake.mkdir()
    for entry in real.iterdir():
        if entry.name != "_access":
            (fake / entry.name).symlink_to(entry, target_is_directory=True)
    monkeypatch.setenv("ARCHIVE_URI", str(fake))
    capsys.readouterr()
    assert main(["sql", "SELECT body FROM contents"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "symbolic link" in captured.err
    assert "contents" in captured.err or "_ledger" in captured.err
    assert not (fake / "_access").exists()  # nothing read, no event anywhere but the real trail
    with pytest.raises(SymlinkedArchiveError):  # nor for a run a person launched on it
        record_run_access(LocalStore(fake), Settings(), "archive_sources", "run-1", {}, None)

    # A link to the whole archive is that archive: the event lands in the real trail.
    whole = tmp_path / "archive-link"
    whole.symlink_to(real, target_is_directory=True)
    monkeypatch.setenv("ARCHIVE_URI", str(whole))
    assert main(["sql", "SELECT count(*) FROM contents"]) == 0
    events = sorted((real / "_access").glob("*/*.json"))
    assert [json.loads(p.read_bytes())["query"] for p in events] == [
        "SELECT count(*) FROM contents"
    ] * 2

    # The real archive's own trail folder swapped for a link (events would go elsewhere).
    sink = tmp_path / "sink"
    (real / "_access").rename(sink)
    (real / "_access").symlink_to(sink, target_is_directory=True)
    monkeypatch.setenv("ARCHIVE_URI", str(real))
    capsys.readouterr()
    assert main(["sql", "SELECT count(*) FROM contents"]) == 2
    assert "_access through a symbolic link" in capsys.readouterr().err


# -- 9. an edited webhook event -----------------------------------------------------------------


def _edit_event_body(store, key: str, body: str) -> dict:
    """Rewrite the message body an event carries; returns the forged content."""
    record = json.loads(store.get(key))
    record["notification"]["body"]["resource"]["body"] = body
    _overwrite(store, key, json.dumps(record, separators=(",", ":")).encode())
    return record["notification"]["body"]["resource"]


def test_attack_9_edited_webhook_event(
    archive_at, sandbox_factory, tmp_path, monkeypatch, capsys, caplog
):
    uri, env = archive_at
    store = open_store(uri, Settings.from_env(env))
    ledger = Ledger(store)
    witness_uri = str(tmp_path / "witness")
    sb = sandbox_factory(contents=20, sources=1)
    source_id = sb.world.source_ids[0]
    receiver = ReceiverThread(store, TOKEN, witness=Witness(LocalStore(witness_uri)))
    with receiver, client_for(sb) as client:
        ensure_subscription(client, store, address=receiver.url, verification_token=TOKEN)
        sync_contents(client, ledger, source_id, run_id="first")
        sb.world.add_content(source_id, body="I will refund you in full")
        assert sb.webhooks.wait_idle(10)
        # From now on the archive has a witness: the sync offers only the events it confirms.
        monkeypatch.setenv("ARCHIVE_WITNESS_URI", witness_uri)  # for `verify` below
        witnessed = ContentsSyncSettings(archive=Settings(witness_uri=witness_uri))
        sync_contents(client, ledger, source_id, run_id="reads-the-event", settings=witnessed)
        [read] = events_after(store, source_id)
        sb.world.add_content(source_id, body="Your order ships on Monday")
        assert sb.webhooks.wait_idle(10)
        [_, unread] = events_after(store, source_id)
        # One event edited after the sync archived its version, one before the sync read it.
        _edit_event_body(store, read, "I never promised a refund")
        forged = _edit_event_body(store, unread, "Your order will never ship")
        sync_contents(client, ledger, source_id, run_id="after-the-edits", settings=witnessed)

    # The forged version never became an archived version: the witness did not confirm it
    # (the poll archived the content as the API has it).
    archived = ArchivedVersions.load(ledger, "contents", source_stream(source_id))
    assert archived.has_versions([archived.version_sha256(forged)]) == [False]
    assert "skipped: its bytes are not the ones the witness recorded" in caplog.text

    for key, value in {**env, "ARCHIVE_URI": uri}.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["verify"]) == 3  # against the witness
    out = capsys.readouterr().out
    assert f"rewritten: {read}" in out and f"rewritten: {unread}" in out, out
    assert "event_invalid" not in out and "event_changed" not in out  # named once, precisely
    monkeypatch.delenv("ARCHIVE_WITNESS_URI")
    assert main(["verify"]) == 3  # no witness: what the sync read, against what it archived
    out = capsys.readouterr().out
    assert f"event_changed: {read}: the contents sync read this event" in out, out


def test_attack_9_an_event_the_witness_cannot_record_is_answered_503(tmp_path):
    """Fault injected with a real store: the witness location is a file, so its write fails;
    the receiver answers 503 (RingCentral delivers again) instead of 200."""
    import httpx

    (tmp_path / "witness").write_text("not a directory")
    store = LocalStore(tmp_path / "archive")
    witness = Witness(LocalStore(tmp_path / "witness"))
    note = {"uuid": "u1", "event": "e", "body": {"resource": {"channelId": "5f" + "0" * 22}}}
    with ReceiverThread(store, TOKEN, witness=witness) as receiver:
        answer = httpx.post(receiver.url, json=note, headers={"Verification-Token": TOKEN})
    assert answer.status_code == 503


# -- 10. derived copies follow a disposition ---------------------------------------------------


def test_attack_10_derived_copies_follow_disposition(archive_at, tmp_path, monkeypatch, capsys):
    uri, env = archive_at
    old = content(
        "old1",
        S1,
        "t-old",
        CUST_A,
        -timedelta(days=800),
        "ancient xyzzy promise",
        direction="inbound",
        status="New",
    )
    old["author_display_name"] = "Zebulon Quux"
    recent = content(
        "new1", S1, "t-new", CUST_A, timedelta(0), "fresh xyzzy", direction="inbound", status="New"
    )
    builder = ArchiveBuilder(uri, env)
    builder.commit_batch("contents", f"source_id={S1}", [("contents", [old])])
    builder.commit_batch("contents", f"source_id={S1}", [("contents", [recent])])
    for key, value in {**env, "ARCHIVE_URI": uri}.items():
        monkeypatch.setenv(key, value)
    policies = tmp_path / "policies.yaml"
    policies.write_text("policies:\n  - name: words\n    terms: [xyzzy]\n", encoding="utf-8")
    assert main(["review", "rescan", "--policies", str(policies)]) == 0  # flags, with excerpts
    audit_db = catalog_for_the_cli(uri, env, tmp_path, monkeypatch)
    capsys.readouterr()
    assert main(["search", "ancient", "--format", "json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == ["old1"]
    index = index_path(audit_db)
    assert b"Zebulon Quux" in index.read_bytes()  # the index holds the text and the author

    def flagged(view: str) -> set[str]:
        sql = f"SELECT content_id FROM {view}"
        return {c for (c,) in catalog_rows(audit_db, sql, dict(os.environ))}

    assert flagged("flags") == flagged("review_queue") == {"old1", "new1"}

    retention = tmp_path / "retention.yaml"
    retention.write_text("default_years: 1\n", encoding="utf-8")
    argv = ["disposition", "--as-of", "2026-12-01", "--retention", str(retention), "--execute"]
    assert main([*argv, "--reason", "schedule", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [o["result"] for o in json.loads(captured.out)] == ["deleted"]
    # The copy it cannot delete (the flag excerpt inside the batch's committed flags file) is
    # named; the catalog and the search index were purged at once.
    assert captured.err.count("derived copy not purged") == 1, captured.err
    assert f"1 flag excerpt(s) of disposed versions of source {S1}" in captured.err

    data = index.read_bytes()
    assert b"Zebulon Quux" not in data and b"ancient" not in data  # not even in freed blocks
    assert flagged("flags") == flagged("review_queue") == {"new1"}
    excerpts = catalog_rows(audit_db, "SELECT excerpt FROM flags", dict(os.environ))
    assert all("ancient" not in (e or "") for (e,) in excerpts)
    assert main(["search", "xyzzy", "--format", "json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == ["new1"]


def test_attack_10_a_derived_copy_that_cannot_be_purged_is_reported(tmp_path, monkeypatch, capsys):
    """Fault injected with a real file system: a directory where the search index should be."""
    root = tmp_path / "archive"
    old = content(
        "old1",
        S1,
        "t-old",
        CUST_A,
        -timedelta(days=800),
        "ancient",
        direction="inbound",
        status="New",
    )
    ArchiveBuilder(str(root)).commit_batch("contents", f"source_id={S1}", [("contents", [old])])
    audit_db = catalog_for_the_cli(str(root), {}, tmp_path, monkeypatch)
    index_path(audit_db).mkdir()
    retention = tmp_path / "retention.yaml"
    retention.write_text("default_years: 1\n", encoding="utf-8")
    argv = ["disposition", "--as-of", "2026-12-01", "--retention", str(retention), "--execute"]
    assert main([*argv, "--reason", "schedule", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert [o["result"] for o in json.loads(captured.out)] == ["deleted"]
    assert f"derived copy not purged: the search index {index_path(audit_db)}" in captured.err
