"""Issue #27, the stored rows: an insider who can append forges what a message says.

Each attack runs on a small witnessed archive, on a local directory and on the S3 server (moto
in server mode, over HTTP), and is shown through the real command line (`cli.main.main`,
in-process): docs/integrity.md, "Insider attacks" and "Every stored row re-hashed". Attacks 2
and 4 reconcile against the sandbox API over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cli.main import main
from pipelines.archive import keys
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.ledger import Ledger, Manifest
from pipelines.archive.parquet import parquet_to_table, table_to_parquet
from pipelines.archive.store import LocalStore, open_store
from pipelines.archive.verify import NOT_FROM_RECORD, verify
from pipelines.archive.version_aliases import aliases_parquet, read_aliases
from pipelines.integrity.witness import Witness, entry_key
from pipelines.settings import Settings
from pipelines.sync.contents import sync_contents
from schemas.agents import normalise_extensions
from schemas.contents import normalise_contents
from schemas.identities import normalise_identities
from schemas.ids import source_stream
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch
from tests.integrity.support import Keys
from tests.sync.support import client_for

REFUND = "Your refund has been processed."
FORGED = "We will NOT refund you."
INVENTED = "Yes, I agree to waive any refund."
PERIOD = "2024-02"
PRE_IDENTITY = Path(__file__).parents[1] / "archive" / "data" / "archive_pre_identity"


@dataclass
class Site:
    """An archive and its witness, local or on the S3 server, with the command line pointed
    at both (ARCHIVE_URI, ARCHIVE_WITNESS_URI) as its writers have them."""

    backend: str
    store: Any  # the archive, as the insider reaches it
    witness: Witness  # the insider can put entries (the pipeline's access), never delete
    tmp: Path

    def ledger(self, *, witnessed: bool = True) -> Ledger:
        return Ledger(self.store, witness=self.witness if witnessed else None)


@pytest.fixture(params=["local", "s3"])
def site(request, tmp_path, monkeypatch) -> Site:
    env: dict[str, str] = {}
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        env = dict(server.env)
        uri = f"s3://{server.make_bucket()}/arc"
        witness_uri = f"s3://{server.make_bucket(object_lock=False)}/witness"
    else:
        uri, witness_uri = str(tmp_path / "archive"), str(tmp_path / "witness")
    for name in ("ARCHIVE_RETENTION_CLASSES", "ARCHIVE_OBJECT_LOCK_MODE", "ARCHIVE_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        **env,
        "ARCHIVE_URI": uri,
        "ARCHIVE_WITNESS_URI": witness_uri,
        "AUDIT_DB": str(tmp_path / "audit.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    return Site(
        request.param,
        open_store(uri, Settings.from_env(env)),
        Witness.open(witness_uri, Settings.from_env(env)),
        tmp_path,
    )


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """`rc-archive ARGV` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def attest(capsys, keys_: Keys, source_id: str, period: str, out: Path, *extra: str) -> dict:
    private = str(keys_.public_path)[: -len(".pub")]
    argv = ["attest", "--period", period, "--source", source_id, "--key", private]
    code, _, err = run(capsys, *argv, "--out", str(out), *extra)
    assert code == 0, err
    return json.loads(out.read_text("utf-8"))


def verify_cli(capsys, keys_: Keys, *certificates: Path) -> tuple[int, str, str]:
    argv = ["verify"]
    for certificate in certificates:
        argv += ["--certificate", str(certificate)]
    if certificates:
        argv += ["--public-key", str(keys_.public_path)]
    return run(capsys, *argv)


def set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, pa.array(values, field.type))


def forge_row(table: pa.Table, index: int, body: str, *, consistent: bool) -> pa.Table:
    """Row `index` of a contents table saying `body`: in the `body` column only (every hash
    kept), or consistently (raw_json, every column read from it, and its version hash)."""
    if not consistent:
        bodies = table.column("body").to_pylist()
        bodies[index] = body
        return set_column(table, "body", bodies)
    row = table.slice(index, 1).to_pylist()[0]
    record = json.loads(row["raw_json"])
    record["body"] = body
    record["bodyFormatted"] = {"Text": body, "Html": f"<p>{body}</p>"}
    forged = normalise_contents(
        [record],
        source_id=row["source_id"],
        run_id=row["run_id"],
        batch_id=row["batch_id"],
        archived_at=row["archived_at"],
    ).table
    for name in NOT_FROM_RECORD["contents"] - {"raw_json", "record_sha256"}:
        forged = set_column(forged, name, [row[name]])
    return pa.concat_tables(
        [table.slice(0, index), forged.cast(table.schema), table.slice(index + 1)]
    )


def append_compaction(ledger: Ledger, victim: FileEntry, rows: pa.Table) -> Manifest:
    """The insider's compaction: `rows` as the output that replaces the live file `victim`,
    committed with the ledger's own writer (intent, file, manifest chained onto the head)."""
    stream = source_stream(keys.source_id_of_key(victim.key))
    slot = ledger.next_manifest("contents", stream, "compact-by-hand", "compaction")
    day = datetime.fromisoformat(victim.min_creation_time[:10]).date()
    key = keys.contents_key(stream, day, slot.batch_id)
    ledger.write_intent(slot, [key])
    data = table_to_parquet(rows, "contents")
    written = ledger.store.put(key, data, content_type="application/vnd.apache.parquet")
    output = FileEntry(
        key,
        "contents",
        written.sha256,
        written.bytes,
        rows.num_rows,
        victim.min_creation_time,
        victim.max_creation_time,
    )
    return ledger.commit(slot, [output], slot.head_cursor, replaces=(victim,))


def forge_compaction(ledger: Ledger, find: str | None, *, consistent: bool) -> tuple[Manifest, str]:
    """A compaction whose output copies the live file holding a message saying `find` (or the
    first live file) with that message saying FORGED; returns its manifest and the message id."""
    stream = STREAM if find is not None else ledger.streams("contents")[0]
    for victim in ledger.committed_files("contents", stream):
        table = parquet_to_table(ledger.store.get(victim.key))
        bodies = table.column("body").to_pylist()
        if find is None or find in bodies:
            index = 0 if find is None else bodies.index(find)
            forged = forge_row(table, index, FORGED, consistent=consistent)
            manifest = append_compaction(ledger, victim, forged)
            return manifest, table.column("id")[index].as_py()
    raise AssertionError(f"no live file holds {find!r}")


def invent_message(ledger: Ledger, source_id: str, body: str, *, days_back: int) -> str:
    """The insider's batch: a message RingCentral never had, in a real thread, dated
    `days_back` days before the source's high-water mark, committed with the ledger's own
    `commit_batch` (the cursor kept). Every column agrees with its raw_json and hash."""
    stream = source_stream(source_id)
    head = ledger.head("contents", stream)
    real = ledger.read_table(ledger.committed_files("contents", stream)[:1]).slice(0, 1)
    record = json.loads(real.column("raw_json")[0].as_py())
    moment = datetime.fromisoformat(head.cursor["high_water_time"]) - timedelta(days=days_back)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    invented = secrets.token_hex(12)
    record.update(
        id=invented,
        body=body,
        bodyFormatted={"Text": body, "Html": f"<p>{body}</p>"},
        creationTime=stamp,
        lastModifiedTime=stamp,
        attachments=[],
    )
    batch = normalise_contents(
        [record], source_id=source_id, run_id="run-x", batch_id="", archived_at=moment
    )
    assert batch.table.num_rows == 1
    ledger.commit_batch(
        "contents",
        stream,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor=dict(head.cursor),
        run_id="run-x",
    )
    return invented


def seed(ledger: Ledger) -> None:
    """Two runs' batches of the sample source; one customer was told REFUND."""
    for start, day in ((0, 20), (5, 21)):
        records = make_records(5, start, days=1)
        for index, record in enumerate(records):
            moment = datetime(2024, 2, day, 9, tzinfo=UTC) + timedelta(seconds=index)
            record["creationTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if start == 0:
            records[2]["body"] = REFUND
        batch = normalised_batch(records)
        ledger.commit_batch(
            "contents",
            STREAM,
            {"contents": batch.table, "quarantine": batch.quarantine},
            cursor={"high_water_time": f"2024-02-{day}T10:00:00.000Z"},
            run_id=f"run-{start}",
        )


# -- the attacks -----------------------------------------------------------------------------


@pytest.mark.parametrize("consistent", [False, True], ids=["body-column", "whole-record"])
def test_attack_1_forged_compaction_body(site, signing_keys, capsys, consistent):
    """A compaction manifest chained onto the head whose output copies a live file with one
    message body changed. Forged in the `body` column only (every record_sha256 kept) or in
    the whole record (raw_json and version hash recomputed): the live rows, which `thread` and
    `sql` read, say FORGED. Compaction adds no Merkle leaf and the witness has no entry for it
    (`unwitnessed`, not tampering), so only the row-for-row check of the compaction tells:
    `compaction_invalid` naming the message and the column."""
    seed(site.ledger())
    certificate = site.tmp / "cert.json"
    attest(capsys, signing_keys, SOURCE_ID, PERIOD, certificate, "--no-reconcile")
    assert verify_cli(capsys, signing_keys, certificate)[0] == 0

    manifest, message = forge_compaction(
        site.ledger(witnessed=False), REFUND, consistent=consistent
    )
    live = Ledger(site.store).committed_files("contents", STREAM)
    bodies = Ledger(site.store).read_table(live, ["body"]).column("body").to_pylist()
    assert FORGED in bodies and REFUND not in bodies  # what the views now show

    code, out, err = verify_cli(capsys, signing_keys, certificate)
    assert code == 3, out
    finding = next(line for line in out.splitlines() if "compaction_invalid" in line)
    assert f"compaction_invalid: {manifest.key}: " in finding
    differs = "body, body_text, body_html, raw_json, record_sha256" if consistent else "body"
    assert f"row {message} " in finding and f"in {differs}" in finding, finding
    assert f"unwitnessed: {manifest.key}" in out
    assert "holds; certified tree 10 versions, today 10" in out  # the certificate cannot tell
    assert "compaction_invalid" in err


def test_attack_2_invented_backdated_message(
    site, sandbox_factory, signing_keys, capsys, monkeypatch
):
    """A batch manifest adding a message RingCentral never had, dated 120 days before the
    source's cursor, every column agreeing with its raw_json and hash. A batch may add a
    version of any date (edits and sweeps archive old messages), so the archive alone cannot
    tell, and a certificate issued before still holds (its tree is a prefix of today's). The
    next certificate's reconciliation can: the API does not list the id (`not_in_api`), while
    a message deleted on its channel stays listed (`remotelyDeleted`) and is not named."""
    sb = sandbox_factory(contents=40, sources=1, days=20)
    source_id = sb.world.source_ids[0]
    for name, value in sb.env.items():
        monkeypatch.setenv(name, value)
    ledger = site.ledger()
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
    period = datetime.now(UTC).strftime("%Y-%m")
    before = site.tmp / "before.json"
    fact = attest(capsys, signing_keys, source_id, period, before)["certificate"]["reconcile"]
    assert fact["complete"] and fact["not_in_api"] == 0

    invented = invent_message(site.ledger(), source_id, INVENTED, days_back=120)
    deleted = sorted(sb.world.content_ids(source_id))[0]
    sb.world.delete_remotely(deleted)

    code, out, _ = verify_cli(capsys, signing_keys, before)
    assert code == 0, out  # the archive alone, and the earlier certificate, cannot tell
    size = json.loads(before.read_text())["certificate"]["merkle"]["tree_size"]
    assert f"holds; certified tree {size} versions, today {size + 1}" in out

    after = site.tmp / "after.json"
    signed = attest(capsys, signing_keys, source_id, period, after)
    fact = signed["certificate"]["reconcile"]
    assert not fact["complete"] and fact["missing"] == 0
    assert fact["not_in_api"] == 1 and fact["not_in_api_ids"] == [invented]
    assert deleted not in fact["not_in_api_ids"]
    assert "not listed by the API" in after.with_suffix(".html").read_text("utf-8")

    code, out, err = verify_cli(capsys, signing_keys, after)
    assert code == 3, out
    stream = source_stream(source_id)
    assert f"not_in_api: {keys.ledger_prefix('contents', stream)}: " in out
    assert f"content id(s) in the archive that the API does not list: {invented} " in out
    assert "not_in_api" in err


def test_attack_4_appends_with_witness_entries(
    site, sandbox_factory, signing_keys, capsys, monkeypatch
):
    """Attacks 1 and 2 written through the witness's own put access (as the pipeline writes):
    the witness has an entry for every manifest, so nothing is even `unwitnessed`. The forged
    compaction is `compaction_invalid` (row for row), the invented message `not_in_api` (the
    certificate's reconciliation)."""
    sb = sandbox_factory(contents=40, sources=1, days=20)
    source_id = sb.world.source_ids[0]
    for name, value in sb.env.items():
        monkeypatch.setenv(name, value)
    with client_for(sb) as client:
        sync_contents(client, site.ledger(), source_id, run_id="run-1")
    assert run(capsys, "verify")[0] == 0

    compaction, message = forge_compaction(site.ledger(), None, consistent=False)
    invented = invent_message(site.ledger(), source_id, INVENTED, days_back=90)
    stream = source_stream(source_id)
    head = Ledger(site.store).head("contents", stream)
    for seq in (compaction.seq, head.seq):
        assert site.witness.store.exists(entry_key("contents", stream, seq))

    certificate = site.tmp / "cert.json"
    attest(capsys, signing_keys, source_id, datetime.now(UTC).strftime("%Y-%m"), certificate)
    code, out, err = verify_cli(capsys, signing_keys, certificate)
    assert code == 3, out
    assert "unwitnessed" not in out and "witness_bypassed" not in out
    assert f"compaction_invalid: {compaction.key}: " in out and f"row {message} " in out
    assert f"not_in_api: {keys.ledger_prefix('contents', stream)}: " in out and invented in out
    assert "compaction_invalid, not_in_api" in err


# -- the row check on its own ------------------------------------------------------------------


def rewrite_file(store: LocalStore, table: str, key: str, data: bytes) -> None:
    """The insider replaces a committed file of the sample stream and fixes every manifest
    of its ledger (`rewrite_chain`)."""
    path = Path(store.uri_for(key))
    path.chmod(0o644)
    path.write_bytes(data)
    rewrite_chain(store, table, STREAM, key, data)


def rewrite_chain(store: LocalStore, table: str, stream: str, key: str, data: bytes) -> None:
    """Every manifest of the ledger that names `key` names its new SHA-256 and size, and each
    later prev_sha256 links again (what only a witness or a certificate sees)."""
    previous = None
    for manifest in list(Ledger(store).manifests(table, stream)):
        body = json.loads(store.get(manifest.key))
        for listed in body["files"]:
            if listed["key"] == key:
                listed["sha256"], listed["bytes"] = _sha(data), len(data)
        named = (body.get("version_identity") or {}).get("aliases")
        if named and named["key"] == key:
            named["sha256"], named["bytes"] = _sha(data), len(data)
        if manifest.seq > 0:
            body["prev_sha256"] = previous
        new = json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
        path = Path(store.uri_for(manifest.key))
        path.chmod(0o644)
        path.write_bytes(new)
        previous = _sha(new)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_column_read_from_the_record_is_checked(tmp_path):
    """A changed `status` or `creation_time`, a record_sha256 that is not its raw_json's
    version hash, a row stamped with another batch: each `row_forged`, naming the file, the
    row and the column. The batch stamps and the names resolved at archive time are not read
    from the record and are not compared."""
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    seed(ledger)
    entry = ledger.committed_files("contents", STREAM)[0]
    table = parquet_to_table(store.get(entry.key))
    ids = table.column("id").to_pylist()
    table = set_column(table, "status", ["Ignored", *table.column("status").to_pylist()[1:]])
    times = table.column("creation_time").to_pylist()
    table = set_column(
        table, "creation_time", [times[0], times[1] - timedelta(days=90), *times[2:]]
    )
    hashes = table.column("record_sha256").to_pylist()
    table = set_column(table, "record_sha256", [*hashes[:2], _sha(b"x"), *hashes[3:]])
    batches = table.column("batch_id").to_pylist()
    table = set_column(table, "batch_id", [*batches[:3], "0000000000-000000000000", *batches[4:]])
    table = set_column(table, "creator_name", ["Someone Else"] * table.num_rows)
    rewrite_file(store, "contents", entry.key, table_to_parquet(table, "contents"))

    findings = verify(store).of_kind("row_forged")
    assert {f.key for f in findings} == {entry.key}
    details = [f.detail for f in findings]
    assert any(d.startswith(f"row {ids[0]}: status 'Ignored' is not ") for d in details)
    assert any(d.startswith(f"row {ids[1]}: creation_time ") for d in details)
    assert any(f"row {ids[2]}: record_sha256 " in d and "version hash" in d for d in details)
    assert any(f"row {ids[3]}: batch_id 0000000000-000000000000 is not" in d for d in details)
    assert not any("creator_name" in d for d in details)


def test_identities_and_agents_rows_are_checked(tmp_path):
    """Identities and agents keep their raw record too: a changed display name or extension
    e-mail is `row_forged`; an extension the API answered 404 for stays `not_found`."""
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    now = datetime.now(UTC)
    identity = {"id": "65c40163c092e4000768f685", "displayName": "Ann", "userIds": []}
    people = normalise_identities(
        [identity], source_id=SOURCE_ID, run_id="r", batch_id="", archived_at=now
    )
    ledger.commit_batch("identities", STREAM, {"identities": people.table}, cursor={}, run_id="r")
    extension = {"id": 63317565004, "name": "Bo", "contact": {"email": "bo@example.com"}}
    agents = normalise_extensions(
        [extension], run_id="r", batch_id="", archived_at=now, not_found_ids=["2683222036"]
    )
    ledger.commit_batch("agents", STREAM, {"agents": agents.table}, cursor={}, run_id="r")
    assert verify(store).ok

    people_file = ledger.committed_files("identities", STREAM)[0]
    table = set_column(parquet_to_table(store.get(people_file.key)), "display_name", ["Eve"])
    rewrite_file(store, "identities", people_file.key, table_to_parquet(table, "identities"))
    agents_file = ledger.committed_files("agents", STREAM)[0]
    table = parquet_to_table(store.get(agents_file.key))
    table = set_column(table, "email", ["eve@example.com", None])
    table = set_column(table, "resolution", ["found", "found"])
    rewrite_file(store, "agents", agents_file.key, table_to_parquet(table, "agents"))

    details = {(f.key, f.detail) for f in verify(store).of_kind("row_forged")}
    assert (
        people_file.key,
        "row 65c40163c092e4000768f685: display_name 'Eve' is not 'Ann', what its raw_json says",
    ) in details
    assert (
        agents_file.key,
        "row 63317565004: email 'eve@example.com' is not 'bo@example.com', what its raw_json says",
    ) in details
    assert (
        agents_file.key,
        "row 2683222036: resolution 'found' is not 'not_found', what its raw_json says",
    ) in details


@pytest.fixture
def upgraded(tmp_path) -> tuple[LocalStore, Manifest]:
    """The archive of the release before version identities, upgraded by a cursor-only
    commit: its first manifest under the rule names the version alias object."""
    shutil.copytree(PRE_IDENTITY, tmp_path / "archive")
    store = LocalStore(tmp_path / "archive")
    stream = Ledger(store).streams("contents")[0]
    head = Ledger(store).head("contents", stream)
    manifest = Ledger(store).commit_batch("contents", stream, {}, cursor=head.cursor, run_id="up")
    assert manifest.version_identity["aliases"]["rows"] > 0
    return store, manifest


@pytest.mark.parametrize("change", ["wrong version", "row dropped"])
def test_each_version_alias_row_is_recomputed(upgraded, change):
    """Deep verify recomputes the alias object from the rows committed before the rule: a
    version hash their raw_json does not give, or a missing alias, is `aliases_invalid` (the
    chain rewritten to match, as only a witness would see)."""
    store, manifest = upgraded
    assert verify(store).findings == []
    named = manifest.version_identity["aliases"]
    aliases = read_aliases(store.get(named["key"]))
    row_id, digest = aliases.column("id")[0].as_py(), aliases.column("record_sha256")[0].as_py()
    if change == "wrong version":
        versions = aliases.column("version_sha256").to_pylist()
        aliases = set_column(aliases, "version_sha256", [_sha(b"forged"), *versions[1:]])
        expected = f"row {row_id} {digest[:12]}…: version_sha256 "
    else:
        aliases = aliases.filter(pc.not_equal(aliases.column("record_sha256"), digest))
        expected = f"row {row_id} {digest[:12]}… (version "
    data = aliases_parquet(aliases)
    path = Path(store.uri_for(named["key"]))
    path.chmod(0o644)
    path.write_bytes(data)
    rewrite_chain(store, "contents", manifest.stream, named["key"], data)

    findings = verify(store).findings
    assert [f.kind for f in findings if f.tampering] == ["aliases_invalid"], findings
    assert expected in findings[0].detail
