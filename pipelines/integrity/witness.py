"""The witness: a copy of every commit point kept outside the archive.

`verify` alone trusts the archive to describe itself: someone who can delete or rewrite
objects in the archive can remove the newest manifests, a whole source, or rewrite a chain
from an old manifest on, and the chain still links. A witness is a second, write-once store
(`ARCHIVE_WITNESS_URI`: another directory or bucket, out of reach of the archive's writers)
that receives one small object per commit and per checkpoint:

    <table>/<stream>/<seq:010d>.json                 a manifest (kind "manifest")
    <table>/<stream>/_checkpoints/<seq:010d>.json    a checkpoint (kind "checkpoint")

each holding table, stream, seq, the SHA-256 of the committed object's bytes and its commit
time. `compare_with_witness` then names what the archive lost or changed against it.

The chained logs of the archive (the access trail `_access/`, the review decisions
`_reviews/`) are witnessed the same way, one entry per record:

    _logs/<log prefix><YYYY-MM-DD>/<seq:010d>.json   (kind "log": the record's key and SHA-256)

so deleting the newest access events, which the chain alone cannot show, is `truncated`.

The ledger calls `Witness.record` after the manifest (or checkpoint) put succeeded: a crash
between the two leaves a committed manifest the witness has not seen, which `verify` reports
as `unwitnessed` (not tampering); the hook's error fails the run, so it does not go unseen.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.archive import keys
from pipelines.archive.store import ObjectExistsError, ObjectStore, open_store
from pipelines.archive.verify import NOT_TAMPERING, Finding
from schemas.common import iso_ms
from schemas.ids import validate_stream

WITNESS_FORMAT = "rc-archive/witness/1"
LOG_WITNESS_FORMAT = "rc-archive/witness-log/1"
LOGS_AREA = "_logs/"
KINDS = ("manifest", "checkpoint")
CHECKPOINTS = "_checkpoints"
JSON_TYPE = "application/json"


class WitnessConflictError(RuntimeError):
    """The witness already holds another hash for this seq: the archive's history was
    rewritten (or two archives share one witness)."""


@dataclass(frozen=True)
class WitnessEntry:
    table: str
    stream: str
    seq: int
    kind: str
    sha256: str
    committed_at: str | None
    key: str = ""


def entry_key(table: str, stream: str, seq: int, kind: str = "manifest") -> str:
    if kind not in KINDS:
        raise ValueError(f"witness kind {kind!r}; expected one of {KINDS}")
    middle = f"{CHECKPOINTS}/" if kind == "checkpoint" else ""
    return f"{keys._ledger_table(table)}/{validate_stream(stream)}/{middle}{seq:010d}.json"


class Witness:
    """Appends commit points to a witness store (write-once, one object per entry)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @classmethod
    def open(cls, uri: str, env: Mapping[str, str]) -> Witness:
        return cls(open_store(uri, env))

    def describe(self) -> str:
        return self.store.describe()

    def record(
        self,
        table: str,
        stream: str,
        seq: int,
        sha256: str,
        kind: str = "manifest",
        *,
        committed_at: str | None = None,
    ) -> WitnessEntry:
        """Write one entry. Idempotent for the same hash (a retried hook); another hash at
        the same seq raises WitnessConflictError, since the witness never changes an entry."""
        key = entry_key(table, stream, seq, kind)
        body = {
            "format": WITNESS_FORMAT,
            "table": table,
            "stream": stream,
            "seq": seq,
            "kind": kind,
            "sha256": sha256,
            "committed_at": committed_at,
            "witnessed_at": iso_ms(datetime.now(UTC)),
        }
        data = json.dumps(body, indent=1, sort_keys=True).encode("utf-8")
        try:
            self.store.put(key, data, content_type=JSON_TYPE)
        except ObjectExistsError:
            existing = parse_entry(key, self.store.get(key))
            if existing.sha256 != sha256:
                raise WitnessConflictError(
                    f"witness {self.store.uri_for(key)} holds sha256 {existing.sha256} for "
                    f"{table}/{stream} {kind} {seq}, not {sha256}: the archive's history was "
                    "rewritten, or two archives share this witness; run `rc-archive verify`"
                ) from None
            return existing
        return WitnessEntry(table, stream, seq, kind, sha256, committed_at, key)

    def record_log(self, key: str, sha256: str, at: str | None) -> None:
        """Witness one record of a chained log (idempotent for the same hash; another hash
        for the same key raises WitnessConflictError)."""
        body = {"format": LOG_WITNESS_FORMAT, "key": key, "sha256": sha256, "at": at}
        data = json.dumps(body, indent=1, sort_keys=True).encode("utf-8")
        try:
            self.store.put(LOGS_AREA + key, data, content_type=JSON_TYPE)
        except ObjectExistsError:
            existing = json.loads(self.store.get(LOGS_AREA + key)).get("sha256")
            if existing != sha256:
                raise WitnessConflictError(
                    f"witness {self.store.uri_for(LOGS_AREA + key)} holds sha256 {existing} "
                    f"for {key}, not {sha256}: the log was rewritten"
                ) from None

    def log_entries(self, prefix: str) -> dict[str, str]:
        """record key -> witnessed SHA-256, for every record of the log at `prefix`."""
        found = {}
        for key in self.store.list(LOGS_AREA + prefix):
            body = json.loads(self.store.get(key))
            found[body["key"]] = body["sha256"]
        return found

    def entries(self) -> dict[tuple[str, str], dict[str, dict[int, WitnessEntry]]]:
        """(table, stream) -> kind -> seq -> entry, for every entry the witness holds."""
        found: dict = defaultdict(lambda: {kind: {} for kind in KINDS})
        for key in self.store.list(""):
            if key.startswith(LOGS_AREA):
                continue  # chained logs' entries (log_entries)
            entry = parse_entry(key, self.store.get(key))
            found[(entry.table, entry.stream)][entry.kind][entry.seq] = entry
        return dict(found)

    def head(self, table: str, stream: str) -> int:
        """The newest witnessed manifest seq of a stream (-1 for none): one LIST."""
        prefix = f"{table}/{validate_stream(stream)}/"
        seqs = [
            int(match.group(1))
            for key in self.store.list_after(prefix)
            if (match := keys.MANIFEST_NAME.match(key[len(prefix) :]))
        ]
        return max(seqs, default=-1)


def parse_entry(key: str, data: bytes) -> WitnessEntry:
    """An entry; ValueError naming the key if it is not one or does not match its key."""
    try:
        body = json.loads(data)
        if body.get("format") != WITNESS_FORMAT:
            raise ValueError(f"format {body.get('format')!r} is not {WITNESS_FORMAT}")
        entry = WitnessEntry(
            table=body["table"],
            stream=body["stream"],
            seq=int(body["seq"]),
            kind=body["kind"],
            sha256=body["sha256"],
            committed_at=body.get("committed_at"),
            key=key,
        )
        if entry_key(entry.table, entry.stream, entry.seq, entry.kind) != key:
            raise ValueError("its fields do not match its key")
        return entry
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"witness object {key}: not a witness entry ({exc})") from None


def compare_with_witness(archive: ObjectStore, witness: Witness) -> list[Finding]:
    """What the archive lost or changed against the witness, as verify findings.

    Per (table, stream) the witness knows: `source_missing` if the archive has no manifest of
    it at all; `truncated` if the archive's chain ends before the newest witnessed seq (or a
    witnessed manifest is gone from the middle); `rewritten` for each manifest or checkpoint
    whose bytes hash to something else than the witness recorded. Manifests the witness never
    saw are `unwitnessed` (not tampering: a witness set up later, or a crash between the
    manifest and its witness entry). Reads every manifest (GETs of small objects) and every
    witness entry; no data file.
    """
    findings: list[Finding] = []
    witnessed = witness.entries()
    archive_streams = {
        (table, stream) for table in keys.LEDGER_TABLES for stream in _streams(archive, table)
    }
    for table, stream in sorted(set(witnessed) | archive_streams):
        kinds = witnessed.get((table, stream), {kind: {} for kind in KINDS})
        manifests = _hashes(archive, keys.ledger_prefix(table, stream), keys.MANIFEST_NAME)
        where = f"{table}/{stream}"
        seen = kinds["manifest"]
        if seen and not manifests:
            findings.append(
                Finding(
                    "source_missing",
                    keys.ledger_prefix(table, stream),
                    f"the witness recorded {len(seen)} manifest(s) of {where} up to seq "
                    f"{max(seen)}; the archive has none",
                )
            )
            continue
        head = max(manifests, default=-1)
        lost = sorted(seq for seq in seen if seq not in manifests)
        tail = [seq for seq in lost if seq > head]
        holes = [seq for seq in lost if seq <= head]
        if tail:
            findings.append(
                Finding(
                    "truncated",
                    keys.manifest_key(table, stream, tail[0]),
                    f"{where} ends at seq {head}; the witness recorded manifests up to seq "
                    f"{max(seen)} ({len(tail)} missing from the end)",
                )
            )
        for seq in holes:
            findings.append(
                Finding(
                    "truncated",
                    keys.manifest_key(table, stream, seq),
                    f"manifest seq {seq} of {where} was witnessed and is gone",
                )
            )
        for seq, sha in sorted(manifests.items()):
            entry = seen.get(seq)
            key = keys.manifest_key(table, stream, seq)
            if entry is None:
                findings.append(Finding("unwitnessed", key, NOT_TAMPERING["unwitnessed"]))
            elif entry.sha256 != sha:
                findings.append(
                    Finding(
                        "rewritten",
                        key,
                        f"sha256 {sha} != witnessed {entry.sha256} (committed "
                        f"{entry.committed_at})",
                    )
                )
        checkpoints = _hashes(archive, keys.checkpoint_prefix(table, stream), keys.CHECKPOINT_NAME)
        for seq, entry in sorted(kinds["checkpoint"].items()):
            sha = checkpoints.get(seq)
            if sha is not None and sha != entry.sha256:
                findings.append(
                    Finding(
                        "rewritten",
                        keys.checkpoint_key(table, stream, seq),
                        f"checkpoint sha256 {sha} != witnessed {entry.sha256}",
                    )
                )
    return findings


def _streams(store: ObjectStore, table: str) -> list[str]:
    found = []
    for name in store.list_folders(f"{keys.LEDGER_ROOT}/{table}/"):
        try:
            found.append(validate_stream(name))
        except ValueError:
            continue
    return found


def _hashes(store: ObjectStore, prefix: str, pattern) -> dict[int, str]:
    found = {}
    for key in store.list_after(prefix):
        match = pattern.match(key[len(prefix) :])
        if match:
            found[int(match.group(1))] = hashlib.sha256(store.get(key)).hexdigest()
    return found
