"""Real local archives with a witness, and the attacks of docs/integrity.md on them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.archive import keys
from pipelines.archive.ledger import Ledger, Manifest
from pipelines.archive.parquet import parquet_to_table, table_to_parquet
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import NOT_FROM_RECORD
from pipelines.integrity.certificate import attest, keygen, load_private_key, load_public_key
from pipelines.integrity.witness import Witness
from schemas.contents import normalise_contents
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch

PERIOD = "2024-02"


@dataclass
class Archive:
    root: Path
    store: LocalStore
    witness: Witness
    ledger: Ledger

    def reopen(self) -> Ledger:
        return Ledger(LocalStore(self.root))

    def commit(self, start: int, n: int, *, days: int = 2) -> Manifest:
        batch = normalised_batch(make_records(n, start, days=days))
        seq = self.ledger.state("contents", STREAM).head_seq + 1
        return self.ledger.commit_batch(
            "contents",
            STREAM,
            {"contents": batch.table, "quarantine": batch.quarantine},
            cursor={"high_water_time": f"2024-04-01T00:{seq:02d}:00.000Z"},
            run_id="run-1",
        )


def new_archive(tmp_path: Path, name: str = "archive", *, days: int = 2) -> Archive:
    root = tmp_path / name
    store = LocalStore(root)
    witness = Witness(LocalStore(tmp_path / f"{name}-witness"))
    archive = Archive(root, store, witness, Ledger(store, witness=witness))
    for start in (0, 30, 60):
        archive.commit(start, 30, days=days)
    return archive


@pytest.fixture
def archive(tmp_path) -> Archive:
    return new_archive(tmp_path)


@dataclass
class Keys:
    private: object
    public: object
    public_path: Path


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory) -> Keys:
    out = tmp_path_factory.mktemp("keys") / "attest.pem"
    private_path, public_path = keygen(out)
    return Keys(load_private_key(private_path), load_public_key(public_path), public_path)


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory) -> Keys:
    out = tmp_path_factory.mktemp("other-keys") / "other.pem"
    private_path, public_path = keygen(out)
    return Keys(load_private_key(private_path), load_public_key(public_path), public_path)


def certify(archive: Archive, keys_: Keys) -> dict:
    return attest(archive.reopen(), SOURCE_ID, PERIOD, keys_.private)


# -- the attacks: an insider with write access to the archive directory ----------------------


def _remove(store: LocalStore, key: str) -> None:
    os.remove(store.uri_for(key))


def _overwrite(store: LocalStore, key: str, data: bytes) -> None:
    path = store.uri_for(key)
    os.chmod(path, 0o644)
    Path(path).write_bytes(data)
    os.chmod(path, 0o444)


def delete_newest_manifest(store: LocalStore) -> None:
    """The newest manifest goes; its data files and intent stay (they look uncommitted)."""
    head = Ledger(store).head("contents", STREAM)
    _remove(store, head.key)


def truncate_tail(store: LocalStore) -> None:
    """A clean truncation: the newest manifest, its files and its intent, all gone."""
    head = Ledger(store).head("contents", STREAM)
    for entry in head.files:
        _remove(store, entry.key)
    _remove(store, keys.intent_key("contents", STREAM, head.batch_id))
    _remove(store, head.key)


def delete_source(store: LocalStore) -> None:
    """Everything of the source: its ledgers and its data."""
    root = Path(store.root)
    for path in [
        *(root / keys.LEDGER_ROOT / table / STREAM for table in keys.LEDGER_TABLES),
        *(root / prefix for prefix in keys.stream_data_prefixes(STREAM)),
    ]:
        if path.exists():
            for sub in [path, *path.rglob("*")]:
                os.chmod(sub, 0o755 if sub.is_dir() else 0o644)
            shutil.rmtree(path)


def forged_first_row(table: pa.Table, body: str) -> pa.Table:
    """`table` with its first message saying `body`, forged as an insider who knows the
    format would: its raw_json, every column read from it and its record_sha256 (the version
    hash) all agree, and its stamps are kept. Deep verify's row check finds nothing in it."""
    first = table.slice(0, 1).to_pylist()[0]
    record = json.loads(first["raw_json"])
    record["body"] = body
    record["bodyFormatted"] = {"Text": body, "Html": f"<p>{body}</p>"}
    row = normalise_contents(
        [record],
        source_id=first["source_id"],
        run_id=first["run_id"],
        batch_id=first["batch_id"],
        archived_at=first["archived_at"],
    ).table
    for name in NOT_FROM_RECORD["contents"] - {"raw_json", "record_sha256"}:
        index = row.schema.get_field_index(name)
        row = row.set_column(index, row.schema.field(index), table.column(name).slice(0, 1))
    return pa.concat_tables([row, table.slice(1).cast(row.schema)])


def rewrite_chain(store: LocalStore) -> None:
    """Change one message of the oldest file consistently (`forged_first_row`), then fix its
    manifest's SHA-256 and every later prev_sha256, so the chain links again."""
    ledger = Ledger(store)
    manifests = list(ledger.manifests("contents", STREAM))
    first = manifests[0]
    entry = next(e for e in first.files if e.table == "contents")
    table = forged_first_row(parquet_to_table(store.get(entry.key)), "I never said that.")
    data = table_to_parquet(table, "contents")
    _overwrite(store, entry.key, data)
    previous_sha = None
    for manifest in manifests:
        raw = json.loads(store.get(manifest.key))
        for listed in raw["files"]:
            if listed["key"] == entry.key:
                listed["sha256"] = hashlib.sha256(data).hexdigest()
                listed["bytes"] = len(data)
        if manifest.seq > 0:
            raw["prev_sha256"] = previous_sha
        new = json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
        _overwrite(store, manifest.key, new)
        previous_sha = hashlib.sha256(new).hexdigest()


ATTACKS = {
    "delete_newest_manifest": (delete_newest_manifest, "truncated"),
    "truncate_tail": (truncate_tail, "truncated"),
    "delete_source": (delete_source, "source_missing"),
    "rewrite_chain": (rewrite_chain, "rewritten"),
}
