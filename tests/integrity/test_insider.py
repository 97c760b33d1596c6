"""Issue #27: tamper-evident against an insider who can append.

The insider can write and delete objects of the archive store (a directory, or a bucket
without Object Lock on what they delete), and uses the project's own functions; the witness is
out of their reach. Each test runs one attack on a small witnessed archive, on a local
directory and on the S3 server (moto in server mode, over HTTP), and shows what reports it
through the real command line (`cli.main.main`, in-process): docs/integrity.md, "Insider
attacks". Shared helpers first, then one test per attack.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from pipelines.archive import keys
from pipelines.archive.disposal import commit_disposition, dispose_objects
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.catalog.build import build_catalog
from pipelines.governance.disposition import execute_disposition
from pipelines.governance.retention import parse_retention
from pipelines.integrity.witness import LOGS_AREA, Witness, entry_key
from pipelines.settings import Settings
from schemas.common import iso_ms
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch

RETENTION = "default_years: 1\n"
MATTER = "m1"


@dataclass
class Site:
    """A witnessed archive of one source: files of 2024-02-20 and 2024-02-21 (retention of
    one year long over) and one of today (retention running), and the command line pointed at
    it (AUDIT_DB: where `place_hold` builds its catalog), with ARCHIVE_WITNESS_URI set as its
    writers have it."""

    backend: str
    uri: str
    witness_uri: str
    store: Any  # the archive, as the insider reaches it
    witness: Witness
    tmp: Path

    def ledger(self, *, witnessed: bool = True) -> Ledger:
        return Ledger(self.store, witness=self.witness if witnessed else None)

    def live(self) -> list[str]:
        return [e.key for e in Ledger(self.store).committed_files("contents", STREAM)]

    def file_of(self, day: str) -> str:
        return next(key for key in self.live() if f"period={day}/" in key)

    def delete(self, key: str) -> None:
        """The insider deletes one object (locally the file's mode is no obstacle to them)."""
        if self.backend == "s3":
            self.store.client.delete_object(Bucket=self.store.bucket, Key=self.store.prefix + key)
        else:
            path = Path(self.store.uri_for(key))
            path.chmod(0o644)
            path.unlink()

    def remove(self, prefix: str) -> None:
        """`rm -rf archive/<prefix>`."""
        for key in list(self.store.list(prefix)):
            self.delete(key)

    def retention_file(self) -> str:
        path = self.tmp / "retention.yaml"
        path.write_text(RETENTION, encoding="utf-8")
        return str(path)


def commit(ledger: Ledger, start: int, n: int, *, day: datetime) -> None:
    """A run's batch of n sample records created on `day` (its cursor: now, never back)."""
    records = make_records(n, start, days=1)
    for index, record in enumerate(records):
        moment = day + timedelta(seconds=index)
        record["creationTime"] = record["lastModifiedTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    batch = normalised_batch(records)
    ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": iso_ms(datetime.now(UTC))},
        run_id=f"run-{start}",
    )


@pytest.fixture(params=["local", "s3"])
def site(request, tmp_path, monkeypatch) -> Site:
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        env = dict(server.env)
        uri = f"s3://{server.make_bucket()}/arc"
        witness_uri = f"s3://{server.make_bucket(object_lock=False)}/witness"
    else:
        env = {}
        uri, witness_uri = str(tmp_path / "archive"), str(tmp_path / "witness")
    for name in ("ARCHIVE_RETENTION_CLASSES", "ARCHIVE_OBJECT_LOCK_MODE", "ARCHIVE_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        **env,
        "ARCHIVE_URI": uri,
        "AUDIT_DB": str(tmp_path / "audit.duckdb"),
        "ARCHIVE_WITNESS_URI": witness_uri,
        "RC_ARCHIVE_USER": "insider@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    store = open_store(uri, Settings.from_env(env))
    witness = Witness.open(witness_uri, Settings.from_env(env))
    ledger = Ledger(store, witness=witness)
    commit(ledger, 0, 5, day=datetime(2024, 2, 20, 9, tzinfo=UTC))
    commit(ledger, 5, 5, day=datetime(2024, 2, 21, 9, tzinfo=UTC))
    # Today's file: from the start of today (an hour ago was yesterday between 00:00 and 01:00).
    commit(ledger, 10, 5, day=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    return Site(request.param, uri, witness_uri, store, witness, tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """`rc-archive ARGV` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def place_hold(site: Site, capsys) -> str:
    """Counsel builds the catalog and holds the source's messages of 2024-02-21; returns the
    held file."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    build_catalog(
        site.uri, os.environ["AUDIT_DB"], Settings.from_env(env | {"ARCHIVE_URI": site.uri})
    )
    argv = ["hold", "place", "--matter", MATTER, "--source", SOURCE_ID, "--from", "2024-02-21"]
    code, out, err = run(capsys, *argv, "--to", "2024-02-22", "--reason", "litigation")
    assert code == 0, err
    return site.file_of("2024-02-21")


def dispose_by_hand(site: Site, files: list[str], *, delete: list[str]) -> str:
    """The insider writes a disposition manifest of `files` with the project's own functions
    (witnessed, as every write of theirs through the ledger is), then deletes `delete`."""
    ledger = site.ledger()
    live = {e.key: e for e in ledger.committed_files("contents", STREAM)}
    chosen = [live[key] for key in files]
    manifest = commit_disposition(
        ledger,
        "contents",
        STREAM,
        chosen,
        chosen,
        as_of=iso_ms(datetime.now(UTC)),
        user="insider@example.com",
        user_from="os",
        reason="routine cleanup",
        run_id="by-hand",
    )
    dispose_objects(site.store, [live[key] for key in delete])
    return manifest.key


def execute(site: Site, capsys) -> tuple[int, list[dict], str]:
    """A routine `disposition --execute` as of today. Without a catalog (RETENTION names no
    channel type, so none is needed), as the catalog may be older than the insider's work."""
    argv = ["disposition", "--as-of", datetime.now(UTC).strftime("%Y-%m-%d")]
    argv += ["--retention", site.retention_file(), "--execute", "--reason", "schedule RS-4"]
    catalog, os.environ["AUDIT_DB"] = os.environ["AUDIT_DB"], str(site.tmp / "none.duckdb")
    try:
        code, out, err = run(capsys, *argv, "--format", "json")
    finally:
        os.environ["AUDIT_DB"] = catalog
    return code, (json.loads(out) if out.strip() else []), err


# -- the attacks -----------------------------------------------------------------------------


def test_attack_3_disposition_of_held_and_unexpired_files(site, capsys):
    """A disposition manifest written with the project's functions that deletes a file of an
    active legal hold and a file of today: verify holds every disposition to the rule
    (`disposal_held`, `disposal_early`), and a routine `disposition --execute` does not finish
    what it left stored."""
    held = place_hold(site, capsys)
    today = site.file_of(datetime.now(UTC).strftime("%Y-%m-%d"))
    assert run(capsys, "verify")[0] == 0

    manifest = dispose_by_hand(site, [held, today], delete=[today])  # the held file left

    code, out, err = run(capsys, "verify")
    assert code == 3, out
    assert f"disposal_held: {manifest}: deletes {held}, which matter {MATTER} held" in out
    assert f"disposal_early: {manifest}: deletes {today}" in out
    assert "retention of 1 year(s) ends" in out

    code, outcomes, err = execute(site, capsys)
    refused = [o for o in outcomes if o["key"] == held]
    assert code == 1 and len(refused) == 1, (outcomes, err)
    assert refused[0]["result"].startswith(f"refused: {manifest} breaks the disposition rule")
    assert site.store.exists(held)


def test_attack_5_witness_fails_closed(site, capsys):
    """After a truncation, `verify --witness` at a mistyped, empty or missing location said
    OK. Now such a witness is an error (exit 2) naming it, and the right one finds the
    truncation (exit 3)."""
    head = Ledger(site.store).head("contents", STREAM)
    for entry in head.files:
        site.delete(entry.key)
    site.delete(keys.intent_key("contents", STREAM, head.batch_id))
    site.delete(head.key)

    code, out, _ = run(capsys, "verify")  # ARCHIVE_WITNESS_URI: the archive's witness
    assert code == 3 and f"truncated: {head.key}" in out

    if site.backend == "s3":
        bucket = site.witness_uri.split("/")[2]
        wrong = {
            "missing": "s3://no-such-witness-bucket/witness",
            "empty": f"s3://{bucket}/witnes",  # mistyped prefix: nothing there
            "not a witness": site.uri,
        }
    else:
        (site.tmp / "empty").mkdir()
        (site.tmp / "witness.json").write_text("{}", encoding="utf-8")
        wrong = {
            "missing": str(site.tmp / "witnes"),
            "empty": str(site.tmp / "empty"),
            "a file": str(site.tmp / "witness.json"),
            "not a witness": site.uri,
        }
    for what, location in wrong.items():
        for argv in (["verify", "--witness", location], ["hold", "verify", "--witness", location]):
            code, out, err = run(capsys, *argv)
            assert code == 2, (what, argv, out, err)
            assert "OK" not in out and "witness" in err and len(err.strip().splitlines()) == 1
    os.environ["ARCHIVE_WITNESS_URI"] = wrong["empty"]  # restored by monkeypatch
    code, out, err = run(capsys, "verify")
    assert code == 2 and "holds no entries" in err and not out


def test_attack_6_deleted_hold_record(site, capsys):
    """`rm -rf _holds/<matter>`, then a routine disposition: the hold journal names the
    deleted records (`hold_missing`), so verify and `hold verify` exit 3, `hold list` still
    shows the matter, and the disposition deletes nothing. A disposition written by hand that
    deletes the held file anyway is `disposal_held` (the journal keeps the placement's copy).
    Deleting the journal too leaves the witness to tell (`truncated`)."""
    held = place_hold(site, capsys)
    old = site.file_of("2024-02-20")
    site.remove(f"_holds/{MATTER}/")

    for argv in (["verify"], ["hold", "verify"]):
        code, out, err = run(capsys, *argv)
        assert code == 3 and f"hold_missing: _holds/{MATTER}/" in out, (argv, out, err)
    code, out, err = run(capsys, "hold", "list", "--format", "csv")
    assert code == 0 and f"{MATTER},active," in out and "not intact" in err

    code, outcomes, err = execute(site, capsys)
    assert code == 3 and not outcomes and "hold_missing" in err
    assert site.store.exists(held) and site.store.exists(old)

    manifest = dispose_by_hand(site, [held], delete=[held])
    code, out, _ = run(capsys, "verify")
    assert code == 3
    assert f"disposal_held: {manifest}: deletes {held}, which matter {MATTER} held" in out

    site.remove("_holds/")  # the journal too: the archive alone no longer knows the hold
    code, out, _ = run(capsys, "verify")
    assert code == 3 and "truncated: _holds/_journal/" in out
    code, outcomes, err = execute(site, capsys)
    assert code == 3 and "truncated" in err and site.store.exists(old)


def test_attack_7_disposition_goes_through_witness(site, capsys):
    """`disposition --execute` with ARCHIVE_WITNESS_URI set built its ledger without the
    witness. Now every writer command witnesses what it writes (holds, compaction,
    checkpoints, disposition: verify stays OK with nothing unwitnessed), and a disposition
    committed around the witness, as the command did, is `witness_bypassed`."""
    place_hold(site, capsys)
    for argv in (
        ["compact", "--source", SOURCE_ID],
        ["checkpoint", "--source", SOURCE_ID],
        ["hold", "release", "--matter", MATTER, "--reason", "settled"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 0, (argv, err)
    code, outcomes, err = execute(site, capsys)
    assert code == 0 and {o["result"] for o in outcomes} == {"deleted"}, (outcomes, err)
    disposition = Ledger(site.store).head("contents", STREAM)
    assert disposition.is_disposition
    for kind in ("manifest", "checkpoint"):
        assert site.witness.store.exists(entry_key("contents", STREAM, disposition.seq, kind))
    journal = list(site.store.list("_holds/_journal/"))
    assert journal and all(site.witness.store.exists(LOGS_AREA + k) for k in journal)
    code, out, _ = run(capsys, "verify")
    assert code == 0 and "unwitnessed" not in out and "witness_bypassed" not in out, out

    # The attack as the command did it: a disposition through a ledger without the witness.
    commit(site.ledger(), 20, 5, day=datetime(2024, 3, 1, 9, tzinfo=UTC))  # a run's batch
    now = datetime.now(UTC)
    outcomes = execute_disposition(
        site.ledger(witnessed=False),
        parse_retention({"default_years": 1}),
        now,
        {},
        reason="schedule RS-4",
        settings=Settings.from_env(dict(os.environ)),
        run_id="unwitnessed",
    )
    assert [o.result for o in outcomes] == ["deleted"]
    bypassed = Ledger(site.store).head("contents", STREAM)
    code, out, _ = run(capsys, "verify")
    assert code == 3 and f"witness_bypassed: {bypassed.key}" in out, out
