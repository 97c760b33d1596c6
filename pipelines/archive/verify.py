"""`verify`: prove the archive is what the ledger says (Invariant 6, tamper evidence).

Walks every ledger and every object: each committed file must exist with its recorded SHA-256
and size; each manifest must chain to the previous one (prev_sha256, no seq gap) and never move
its cursor back; nothing may sit in the data areas that no manifest or intent names. Files an
interrupted run left behind (named by an intent whose batch never committed) are reported
separately: they are not tampering and no view reads them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow as pa

from pipelines.archive import keys, merkle
from pipelines.archive.checkpoint import Checkpoint, FileEntry, LiveFiles
from pipelines.archive.disposal import disposition_terms, rule_findings
from pipelines.archive.disposed_hashes import rows_by_file
from pipelines.archive.ledger import INTENT_FORMAT, Ledger, LedgerError, Manifest, implied_kind
from pipelines.archive.multiset import MultisetDigest
from pipelines.archive.parquet import ID_COLUMNS, SCHEMAS, parquet_to_table
from pipelines.archive.store import ObjectStore
from pipelines.archive.version_aliases import needs_alias, read_aliases
from schemas.agents import normalise_extensions
from schemas.common import EPOCH, parse_api_time, record_sha256
from schemas.contents import ContentsBatch, version_sha256
from schemas.identities import normalise_identities
from schemas.ids import source_id_of_stream, validate_stream
from schemas.tables import LOGGED_TABLE, TABLES

TAMPERING = {
    "changed": "file bytes differ from the SHA-256 or size in its manifest",
    "missing": "file listed in a manifest is not in the store",
    "extra": "object in the archive that no manifest or intent names",
    "chain_broken": "manifest prev_sha256 does not match the previous manifest's bytes",
    "seq_gap": "manifest sequence skips a number",
    "cursor_regressed": "manifest cursor high_water_time is earlier than the previous one",
    "manifest_invalid": "manifest is not valid JSON or does not match its key",
    "kind_contradicted": "manifest declares a kind (batch, compaction, disposition) that its "
    "fields contradict",
    "intent_invalid": "pending intent is not valid JSON",
    "checkpoint_invalid": "checkpoint disagrees with the manifests it summarises",
    "compaction_invalid": "compacted file does not hold exactly the rows of its inputs",
    # Deep, every stored row against its raw record (_check_batch_rows, _check_version_rule).
    "row_forged": "stored row differs from its raw_json: a column the record gives, its "
    "record_sha256 (in the form its manifest implies) or its batch_id",
    "aliases_invalid": "version alias object does not hold exactly the version hashes of the "
    "rows committed before version identities",
    "disposal_invalid": "disposition removes files that were not live, or its record hashes "
    "differ from what it names",
    # The disposition rule and the hold records (_check_disposition_rule, _check_holds;
    # pipelines/archive/disposal.py, pipelines/governance/holds.py).
    "disposal_held": "disposition deleted an object a legal hold held at its commit",
    "disposal_early": "disposition deleted a file whose retention had not ended at its as-of",
    "hold_missing": "hold record the hold journal names is gone",
    "hold_changed": "hold record differs from the SHA-256 the hold journal names",
    "hold_forged": "release the hold journal does not name (a release is journaled before its "
    "record is written, so no crash leaves one); it does not end the matter",
    "hold_invalid": "hold record or hold journal entry is not what it says it is",
    # Against a witness or a certificate (pipelines/integrity/, docs/integrity.md).
    "truncated": "manifests (or log records) the witness recorded are missing from the archive",
    "source_missing": "the witness recorded a ledger of which the archive has no manifest",
    "rewritten": "a manifest, checkpoint or log record differs from the SHA-256 the witness "
    "recorded",
    "witness_bypassed": "written after the witness began, never witnessed, and followed by more "
    "writes: its writer did not use the witness (only the last object may lack its entry)",
    "certified_changed": "the archive no longer holds what a certificate certified",
    # Against the cosigned checkpoints (pipelines/integrity/transparency.py).
    "rolled_back": "the archive's log of a source holds fewer versions than its newest cosigned "
    "checkpoint: history was removed",
    "checkpoint_mismatch": "the versions a cosigned checkpoint covers no longer hash to its root: "
    "history was rewritten",
    "checkpoint_forged": "a stored checkpoint is not signed by the log key, or not of this log",
    "cosign_quorum": "the newest checkpoint of a source carries fewer witness cosignatures than "
    "verify requires (ARCHIVE_COSIGNER_QUORUM)",
    "not_in_api": "a certificate's reconciliation found content ids in the archive that the API "
    "does not list: messages RingCentral never had (pipelines/sync/reconcile.py)",
}
NOT_TAMPERING = {
    "not_cosigned": "source with no cosigned checkpoint yet: `rc-archive cosign` publishes one",
    "unwitnessed": "manifest the witness has no entry for: history from before the witness, "
    "or the last object of its stream after a crash between the commit and its witness entry",
    "hold_unjournaled": "placement or landing the hold journal does not name (a crash between "
    "the record and its journal entry); it holds its objects",
    "hold_unfinished": "release the hold journal names whose record was never written (a "
    "crash); the matter stays active",
    "holds_legacy": "only each matter's own chain is checked; the next hold command or "
    "`disposition --execute` adopts them into the hold journal",
    "uncommitted": "file of a batch that never committed (interrupted run)",
    "checkpoint_unfinished": "version index of a checkpoint that was never written (crash)",
    "disposal_incomplete": "object a disposition recorded is still stored (a crash or an "
    "Object Lock refusal): `rc-archive disposition --execute` finishes it",
    "disposal_unfinished": "record hashes of a disposition that was never committed (crash)",
}


@dataclass(frozen=True)
class _Replayed:
    """A stream as its manifests leave it at one seq."""

    sha256: str
    cursor: dict
    live: LiveFiles
    index: MultisetDigest
    # (tree size, root hex) of the contents' Merkle tree (deep verify of a contents ledger)
    tree: tuple[int, str] | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    detail: str

    @property
    def tampering(self) -> bool:
        return self.kind in TAMPERING


@dataclass
class VerifyReport:
    store: str
    findings: list[Finding] = field(default_factory=list)
    manifests_checked: int = 0
    files_checked: int = 0
    bytes_checked: int = 0

    @property
    def ok(self) -> bool:
        return not any(f.tampering for f in self.findings)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def summary(self) -> str:
        head = (
            f"verify {self.store}: {'OK' if self.ok else 'TAMPERING FOUND'}; "
            f"{self.manifests_checked} manifests, {self.files_checked} files, "
            f"{self.bytes_checked} bytes checked"
        )
        lines = [head] + [f"  {f.kind}: {f.key}: {f.detail}" for f in self.findings]
        return "\n".join(lines)


class HoldChecks(Protocol):
    """The legal holds as verify needs them (governance/holds.py `HoldRegister` is the one in
    use): the hold records' findings against their journal, and which matters held a key
    when. Passed in, because governance reads the archive and not the other way round."""

    findings: list[Finding]

    def held_at(self, key: str) -> dict: ...


def verify(
    store: ObjectStore,
    *,
    deep: bool = True,
    stream: str | None = None,
    retention: Any = None,
    holds: Callable[[ObjectStore], HoldChecks] | None = None,
) -> VerifyReport:
    """Check every manifest chain and every object; `deep` re-hashes each file's bytes.

    With `stream`, only that stream's ledgers and files: its own data files, and the shared
    agents files its ledger lists (whether an agents file belongs to no manifest at all only
    the whole-archive check can say). Why: the run's `ledger_intact` check is per source, and
    verifying the whole archive once per source read it ten times in a 10-source run.

    Every disposition is held to the disposition rule (`_check_disposition_rule`), with
    `retention` (a RetentionPolicy: the policy in force, ARCHIVE_RETENTION_CLASSES) as the
    floor of its retention class when given; the whole-archive check also audits the hold
    records against their journal (`_check_holds`). `holds` builds the hold audit from the
    store (read once, only if a check needs it); without it no hold is known: the commands and
    the verify asset pass governance's `HoldRegister`.
    """
    report = VerifyReport(store=store.describe())
    if stream is None:
        all_keys = set(store.list(""))
        own_data = tuple(f"{root}/" for root in keys.DATA_ROOTS)
    else:
        own_data = tuple(keys.stream_data_prefixes(stream))
        prefixes = [keys.ledger_prefix(t, stream) for t in keys.LEDGER_TABLES]
        shared = keys.SHARED_FOLDERS
        all_keys = {k for p in [*prefixes, *own_data, *shared] for k in store.list(p)}
    manifests_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    intents_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    checkpoints_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    hashes_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    data_keys: list[str] = []
    alias_keys: list[str] = []
    for key in sorted(all_keys):
        parts = key.split("/")
        if parts[0] == keys.LEDGER_ROOT and len(parts) == 5 and parts[3] == "_aliases":
            alias_keys.append(key)
        elif parts[0] == keys.LEDGER_ROOT:
            _sort_ledger_key(
                key,
                parts,
                manifests_by_stream,
                intents_by_stream,
                report,
                checkpoints_by_stream,
                hashes_by_stream,
            )
        elif parts[0] in keys.DATA_ROOTS:
            data_keys.append(key)
        elif parts[0] in keys.RECORD_AREAS:
            continue  # checked by the part that owns the area (keys.RECORD_AREAS)
        else:
            report.findings.append(Finding("extra", key, TAMPERING["extra"]))

    committed_keys: set[str] = set()
    committed_batches: dict[tuple[str, str], set[str]] = defaultdict(set)
    disposals = _Disposals(store=store, retention=retention, holds=holds)
    for stream_id, manifest_keys in sorted(manifests_by_stream.items()):
        disposals.read_hashes(store, hashes_by_stream.pop(stream_id, []))
        replay = _check_chain(
            store,
            stream_id,
            manifest_keys,
            report,
            committed_keys,
            committed_batches,
            all_keys,
            deep,
            disposals,
        )
        _check_checkpoints(
            store, stream_id, checkpoints_by_stream.pop(stream_id, []), replay, report, deep
        )
    for stream_id, orphan_keys in sorted(checkpoints_by_stream.items()):
        for key in orphan_keys:
            report.findings.append(
                Finding("checkpoint_invalid", key, f"checkpoint of {stream_id} with no manifests")
            )

    pending_keys: set[str] = set()
    for stream_id, intent_keys in sorted(intents_by_stream.items()):
        for intent_key in intent_keys:
            try:
                intent = json.loads(store.get(intent_key))
                if intent.get("format") != INTENT_FORMAT:
                    raise ValueError(f"format {intent.get('format')!r}")
                listed = list(intent["keys"])
                batch_id = intent["batch_id"]
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                report.findings.append(Finding("intent_invalid", intent_key, str(exc)[:200]))
                continue
            if batch_id in committed_batches[stream_id]:
                continue
            for key in listed:
                pending_keys.add(key)
                if key in all_keys and key not in committed_keys:
                    report.findings.append(
                        Finding(
                            "uncommitted",
                            key,
                            f"written by batch {batch_id} (intent {intent_key}) that never "
                            "committed; not read by any view",
                        )
                    )

    for key in alias_keys:
        if key in committed_keys:
            continue
        if keys.ALIASES_NAME.match(key.rsplit("/", 1)[1]):
            # Written by an upgrade whose first manifest under the rule did not commit (a
            # crash): the next commit names it (same bytes); nothing reads it before that.
            report.findings.append(
                Finding("uncommitted", key, "version aliases no manifest names yet")
            )
        else:
            report.findings.append(Finding("extra", key, TAMPERING["extra"]))
    for key in sorted(disposals.unnamed() | {k for ks in hashes_by_stream.values() for k in ks}):
        report.findings.append(
            Finding("disposal_unfinished", key, NOT_TAMPERING["disposal_unfinished"])
        )
    for key in committed_keys - all_keys - disposals.objects:
        report.findings.append(Finding("missing", key, TAMPERING["missing"]))
    named = _check_attachment_blobs(store, committed_keys & all_keys, all_keys, report, deep)
    for key in data_keys:
        if keys.blob_sha256(key) is not None:
            if stream is None and key not in named:
                _unnamed_blob(store, key, report, deep)
            continue
        if key.startswith(own_data) and key not in committed_keys and key not in pending_keys:
            report.findings.append(Finding("extra", key, TAMPERING["extra"]))

    if stream is None:
        _check_holds(report, disposals)
    report.findings.sort(key=lambda f: (not f.tampering, f.kind, f.key))
    return report


def _check_attachment_blobs(
    store: ObjectStore, committed: set[str], all_keys: set[str], report: VerifyReport, deep: bool
) -> set[str]:
    """Attachment files (`attachment_files/sha256=<hash>`, layout 1 `attachments/sha256=<hash>`)
    named by committed `attachments` rows: each must exist with the rows' size, and (deep) its
    bytes must hash to its name."""
    expected: dict[str, int] = {}
    for key in sorted(k for k in committed if keys.is_attachments_table_key(k)):
        try:
            rows = parquet_to_table(store.get(key), ["object_key", "size"])
        except (pa.ArrowException, OSError):
            continue  # reported as changed
        for object_key, size in zip(
            rows.column("object_key").to_pylist(), rows.column("size").to_pylist(), strict=True
        ):
            expected[object_key] = size
    for object_key, size in sorted(expected.items()):
        present = object_key in all_keys or (
            not all_keys.intersection({object_key}) and store.exists(object_key)
        )
        if not present:
            report.findings.append(Finding("missing", object_key, TAMPERING["missing"]))
            continue
        report.files_checked += 1
        name = keys.blob_sha256(object_key)
        if deep:
            actual, actual_size = _hash_object(store, object_key)
            report.bytes_checked += actual_size
        else:
            actual, actual_size = name, store.head(object_key)["bytes"]
        if actual != name or actual_size != size:
            report.findings.append(
                Finding(
                    "changed",
                    object_key,
                    f"attachment bytes hash to {actual} ({actual_size} bytes); its name and "
                    f"rows say {name} ({size} bytes)",
                )
            )
    return set(expected)


def _hash_object(store: ObjectStore, key: str) -> tuple[str, int]:
    """SHA-256 and size of an object, read a chunk at a time when the store can stream."""
    opener = getattr(store, "open", None)
    if opener is None:
        data = store.get(key)
        return hashlib.sha256(data).hexdigest(), len(data)
    digest, size = hashlib.sha256(), 0
    with opener(key) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _unnamed_blob(store: ObjectStore, key: str, report: VerifyReport, deep: bool) -> None:
    """An attachment file no committed row names: a download whose batch never committed
    (not tampering) when its bytes hash to its name; otherwise extra."""
    name = keys.blob_sha256(key)
    if deep and _hash_object(store, key)[0] != name:
        report.findings.append(Finding("extra", key, TAMPERING["extra"]))
        return
    report.findings.append(
        Finding("uncommitted", key, "attachment file no committed row names (interrupted run)")
    )


def _sort_ledger_key(
    key,
    parts,
    manifests_by_stream,
    intents_by_stream,
    report,
    checkpoints_by_stream=None,
    hashes_by_stream=None,
) -> None:
    try:
        table, stream = parts[1], validate_stream(parts[2])
    except (IndexError, ValueError):
        report.findings.append(Finding("extra", key, "not a ledger key"))
        return
    if table not in keys.LEDGER_TABLES:
        report.findings.append(Finding("extra", key, f"ledger of unknown table {table!r}"))
    elif len(parts) == 4 and keys.MANIFEST_NAME.match(parts[3]):
        manifests_by_stream[(table, stream)].append(key)
    elif len(parts) == 5 and parts[3] == "_pending" and parts[4].endswith(".json"):
        intents_by_stream[(table, stream)].append(key)
    elif (
        len(parts) == 5
        and parts[3] == "_checkpoints"
        and checkpoints_by_stream is not None
        and (keys.CHECKPOINT_NAME.match(parts[4]) or keys.VERSION_INDEX_NAME.match(parts[4]))
    ):
        checkpoints_by_stream[(table, stream)].append(key)
    elif (
        len(parts) == 5
        and parts[3] == "_disposed"
        and hashes_by_stream is not None
        and keys.DISPOSED_HASHES_NAME.match(parts[4])
    ):
        hashes_by_stream[(table, stream)].append(key)
    else:
        report.findings.append(Finding("extra", key, "not a manifest or an intent"))


def _check_chain(
    store: ObjectStore,
    stream_id: tuple[str, str],
    manifest_keys: list[str],
    report: VerifyReport,
    committed_keys: set[str],
    committed_batches: dict[tuple[str, str], set[str]],
    all_keys: set[str],
    deep: bool,
    disposals: _Disposals | None = None,
) -> dict[int, _Replayed]:
    """Walk one stream's manifests in seq order; returns what they add up to at each seq
    (for the checkpoints' check). A file a later disposition deleted counts with the record
    hashes that disposition kept, so the version index and Merkle checks still hold."""
    disposals = disposals or _Disposals()
    table, stream = stream_id
    replay: dict[int, _Replayed] = {}
    live = LiveFiles()
    index_digest = MultisetDigest()
    tree = merkle.Frontier() if deep and table == LOGGED_TABLE else None
    rows = _RowChecks(table, stream) if deep else None
    previous_sha: str | None = None
    previous_seq = -1
    previous_high_water = None
    for key in sorted(manifest_keys):
        seq = int(keys.MANIFEST_NAME.match(key.rsplit("/", 1)[1]).group(1))
        data = store.get(key)
        report.manifests_checked += 1
        if seq != previous_seq + 1:
            report.findings.append(
                Finding("seq_gap", key, f"seq {seq} follows {previous_seq} in {table}/{stream}")
            )
        try:
            manifest = Manifest.from_bytes(key, data)
        except ValueError as exc:
            report.findings.append(Finding("manifest_invalid", key, str(exc)[:300]))
            previous_sha, previous_seq = hashlib.sha256(data).hexdigest(), seq
            replay[seq] = _Replayed(previous_sha, {}, live.copy(), index_digest.copy())
            continue
        if (manifest.table, manifest.stream, manifest.seq) != (table, stream, seq):
            report.findings.append(
                Finding(
                    "manifest_invalid",
                    key,
                    f"says table={manifest.table} stream={manifest.stream} seq={manifest.seq}",
                )
            )
        if manifest.kind_contradiction is not None:
            report.findings.append(Finding("kind_contradicted", key, manifest.kind_contradiction))
        expected_prev = previous_sha if seq > 0 else None
        if manifest.prev_sha256 != expected_prev and not (seq > 0 and previous_seq < 0):
            report.findings.append(
                Finding(
                    "chain_broken",
                    key,
                    f"prev_sha256 {manifest.prev_sha256} != sha256 of previous manifest "
                    f"{expected_prev}",
                )
            )
        high_water = parse_api_time(manifest.cursor.get("high_water_time"))
        if high_water is not None:
            if previous_high_water is not None and high_water < previous_high_water:
                report.findings.append(
                    Finding(
                        "cursor_regressed",
                        key,
                        f"high_water_time {manifest.cursor.get('high_water_time')} is before "
                        f"the previous manifest's {previous_high_water.isoformat()}",
                    )
                )
            previous_high_water = max(high_water, previous_high_water or high_water)
        committed_batches[stream_id].add(manifest.batch_id)
        _check_version_aliases(store, manifest, report, committed_keys, all_keys, deep)
        if rows is not None:
            _check_version_rule(store, manifest, report, rows, disposals, all_keys)
        for entry in manifest.files:
            committed_keys.add(entry.key)
            if entry.key in all_keys:
                _check_file(store, entry, report, deep)
        # Checked as what its fields do (the replay applies them), whatever kind it declares.
        acts_as = implied_kind(manifest.replaces, manifest.disposal)
        if acts_as == "disposition":
            _check_disposition(manifest, live, all_keys, report, disposals)
        elif acts_as == "compaction":
            _check_compaction(store, manifest, live, all_keys, report, deep, rows)
        elif deep:
            for entry in manifest.files:
                own_rows = entry.table == table and table in ROW_TABLES
                if rows is not None and own_rows and entry.key in all_keys:
                    disposed = entry.key in disposals.rows
                    _check_batch_rows(store, manifest, entry, rows, disposed=disposed)
                kept = disposals.rows.get(entry.key) if entry.key not in all_keys else None
                if kept is not None:
                    hashes = kept.column("record_sha256").to_pylist()
                    if entry.table == table:
                        ids = kept.column("id").to_pylist()
                        index_digest.add_rows(hashes, ids, [False] * len(hashes))
                    if tree is not None and entry.table == table:
                        tree.extend_record_hashes(hashes)
                    continue
                if entry.key in all_keys and entry.table in (table, "quarantine"):
                    index_digest.add_file(store, entry, ID_COLUMNS[table])
                if tree is not None and entry.table == table and entry.key not in all_keys:
                    tree = None  # a missing file is reported as missing
                elif tree is not None and entry.table == table:
                    try:
                        part = parquet_to_table(store.get(entry.key), ["record_sha256"])
                        tree.extend_record_hashes(part.column("record_sha256").to_pylist())
                    except (pa.ArrowException, OSError):
                        tree = None  # an unreadable file is reported as changed
        live.apply(manifest.files, manifest.replaces)
        if rows is not None:
            rows.forget(manifest.replaces)
        previous_sha, previous_seq = manifest.sha256, seq
        replay[seq] = _Replayed(
            manifest.sha256,
            manifest.cursor,
            live.copy(),
            index_digest.copy(),
            None if tree is None else (tree.size, tree.root().hex()),
        )
    if rows is not None:
        _finish_rows(report, rows)
    return replay


def _check_version_aliases(
    store: ObjectStore,
    manifest: Manifest,
    report: VerifyReport,
    committed_keys: set[str],
    all_keys: set[str],
    deep: bool,
) -> None:
    """The version alias object a manifest names (pipelines/archive/version_aliases.py) is
    there, in its own stream's ledger, with the bytes the manifest names. Every manifest
    carries the entry forward, so each object is checked once."""
    named = (manifest.version_identity or {}).get("aliases")
    if not named or named["key"] in committed_keys:
        return
    key = named["key"]
    committed_keys.add(key)
    if not key.startswith(keys.ledger_prefix(manifest.table, manifest.stream) + "_aliases/"):
        report.findings.append(
            Finding("manifest_invalid", manifest.key, f"names version aliases {key} elsewhere")
        )
    elif key not in all_keys:
        report.findings.append(Finding("missing", key, TAMPERING["missing"]))
    elif deep and hashlib.sha256(store.get(key)).hexdigest() != named["sha256"]:
        report.findings.append(
            Finding("changed", key, f"SHA-256 is not the {named['sha256']} {manifest.key} names")
        )


@dataclass
class _Disposals:
    """What the archive's dispositions deleted: the record hashes they kept (file key ->
    rows), the objects their manifests name, and which hashes objects a manifest names."""

    rows: dict[str, pa.Table] = field(default_factory=dict)
    objects: set[str] = field(default_factory=set)
    hashes_read: dict[str, str] = field(default_factory=dict)  # key -> sha256 of its bytes
    hashes_named: set[str] = field(default_factory=set)
    # For the disposition rule: the archive (its hold records), the policy in force (or
    # None), the terms each hashes object recorded, and the hold audit (read once, lazily).
    store: Any = None
    retention: Any = None
    terms: dict[str, dict | None] = field(default_factory=dict)
    holds: Callable[[ObjectStore], HoldChecks] | None = None
    _audit: HoldChecks | None = None

    def read_hashes(self, store: ObjectStore, hash_keys: list[str]) -> None:
        for key in hash_keys:
            data = store.get(key)
            self.hashes_read[key] = hashlib.sha256(data).hexdigest()
            self.terms[key] = disposition_terms(data)
            try:
                self.rows.update(rows_by_file(parquet_to_table(data)))
            except (pa.ArrowException, OSError, KeyError):
                continue  # its manifest's check reports the SHA-256 mismatch

    def unnamed(self) -> set[str]:
        return set(self.hashes_read) - self.hashes_named

    def hold_register(self) -> HoldChecks | None:
        """The hold records against their journal (pipelines/governance/holds.py), read once;
        None when verify was given no hold audit."""
        if self._audit is None and self.holds is not None and self.store is not None:
            self._audit = self.holds(self.store)
        return self._audit


def _check_disposition(
    manifest: Manifest,
    live: LiveFiles,
    all_keys: set[str],
    report: VerifyReport,
    disposals: _Disposals,
) -> None:
    """A disposition may only remove live files, must name them among its objects, and its
    hashes object must be the one it names, holding a row per row of each object."""
    disposal = manifest.disposal
    named = {entry.key for entry in disposal.objects}
    problem = None
    for entry in manifest.replaces:
        if live.entries.get(entry.key) != entry:
            problem = f"removes {entry.key}, which is not a live file with that SHA-256"
        elif entry.key not in named:
            problem = f"removes {entry.key} without naming it among the objects it deletes"
    hashes = disposal.hashes
    disposals.hashes_named.add(hashes.key)
    if disposals.hashes_read.get(hashes.key) != hashes.sha256:
        problem = f"its record hashes {hashes.key} are missing or differ from their SHA-256"
    else:
        for entry in disposal.objects:
            kept = disposals.rows.get(entry.key)
            if entry.table == manifest.table and (kept is None or kept.num_rows != entry.rows):
                problem = f"its record hashes do not hold the {entry.rows} rows of {entry.key}"
    if problem:
        report.findings.append(Finding("disposal_invalid", manifest.key, problem))
    for entry in disposal.objects:
        disposals.objects.add(entry.key)
        if entry.key in all_keys:
            report.findings.append(
                Finding("disposal_incomplete", entry.key, NOT_TAMPERING["disposal_incomplete"])
            )
    _check_disposition_rule(manifest, report, disposals)


def _check_disposition_rule(
    manifest: Manifest, report: VerifyReport, disposals: _Disposals
) -> None:
    """Whoever wrote it, a disposition may delete only files whose retention class ended at
    its as-of and that no legal hold held at its commit (pipelines/archive/disposal.py,
    `rule_findings`): `disposal_early`, `disposal_held`. The class is the one it recorded (only
    if its hashes object is the one it names), at least the shortest the policy in force gives
    the source."""
    hashes = manifest.disposal.hashes
    intact = disposals.hashes_read.get(hashes.key) == hashes.sha256
    terms = disposals.terms.get(hashes.key) if intact else None
    policy = disposals.retention
    shortest = getattr(policy, "shortest_years_for", None)
    audit = disposals.hold_register()
    held_at = audit.held_at if audit is not None else lambda _: {}
    for kind, detail in rule_findings(manifest, terms, held_at, shortest):
        report.findings.append(Finding(kind, manifest.key, detail))


def _check_holds(report: VerifyReport, disposals: _Disposals) -> None:
    """The hold records against the hold journal (HoldRegister's findings): a deleted or edited
    hold record is tampering. The journal against the witness is `verify --witness`'s part
    (pipelines/integrity/witness.py)."""
    audit = disposals.hold_register()
    if audit is not None:
        report.findings.extend(audit.findings)


def _check_compaction(
    store: ObjectStore,
    manifest: Manifest,
    live: LiveFiles,
    all_keys: set[str],
    report: VerifyReport,
    deep: bool,
    rows: _RowChecks | None = None,
) -> None:
    """A compaction may only replace live files, and (deep) its output must hold exactly its
    inputs' rows, every column (`_check_compaction_rows`): compaction cannot hide, add or
    change a row."""
    for entry in manifest.replaces:
        if live.entries.get(entry.key) != entry:
            report.findings.append(
                Finding(
                    "compaction_invalid",
                    manifest.key,
                    f"replaces {entry.key}, which is not a live file with that SHA-256",
                )
            )
            return
    if not deep:
        return
    if not all(e.key in all_keys for e in (*manifest.files, *manifest.replaces)):
        return  # reported as missing
    _check_compaction_rows(store, manifest, report, rows or _RowChecks(manifest.table, ""))


def _check_checkpoints(
    store: ObjectStore,
    stream_id: tuple[str, str],
    checkpoint_keys: list[str],
    replay: dict[int, _Replayed],
    report: VerifyReport,
    deep: bool,
) -> None:
    """Each checkpoint must say exactly what the manifests up to its seq add up to: head
    hash, cursor, live files, and (deep) the version index rows. An index without its
    checkpoint is a crash leftover, not tampering."""
    indexes = {k for k in checkpoint_keys if k.endswith(".versions.parquet")}
    named_indexes: set[str] = set()
    previous_sha: str | None = None
    for key in sorted(k for k in checkpoint_keys if k.endswith(".json")):
        try:
            checkpoint = Checkpoint.from_bytes(key, store.get(key))
        except ValueError as exc:
            report.findings.append(Finding("checkpoint_invalid", key, str(exc)[:300]))
            continue
        replayed = replay.get(checkpoint.seq)
        problem = None
        if checkpoint.version_index is not None:
            named_indexes.add(checkpoint.version_index.key)
        if (checkpoint.table, checkpoint.stream) != stream_id or not key.endswith(
            f"{checkpoint.seq:010d}.json"
        ):
            problem = f"says table={checkpoint.table} stream={checkpoint.stream}"
        elif replayed is None:
            problem = f"summarises seq {checkpoint.seq}, which has no manifest"
        elif checkpoint.head_sha256 != replayed.sha256:
            problem = "head_sha256 differs from the manifest at its seq"
        elif checkpoint.cursor != replayed.cursor:
            problem = "cursor differs from the manifest at its seq"
        elif checkpoint.files != replayed.live.as_tuple():
            problem = "file list differs from the manifests' committed files"
        elif checkpoint.prev_checkpoint_sha256 != previous_sha:
            problem = "prev_checkpoint_sha256 does not match the previous checkpoint"
        elif (
            checkpoint.merkle is not None
            and replayed.tree is not None
            and (checkpoint.merkle.get("tree_size"), checkpoint.merkle.get("root")) != replayed.tree
        ):
            problem = "Merkle tree size or root differs from the versions the manifests committed"
        elif checkpoint.version_index is not None:
            index = checkpoint.version_index
            problem = _check_index(store, index, replayed.index, deep)
        if problem:
            report.findings.append(Finding("checkpoint_invalid", key, problem))
        previous_sha = checkpoint.sha256
    for key in sorted(indexes - named_indexes):
        report.findings.append(
            Finding("checkpoint_unfinished", key, NOT_TAMPERING["checkpoint_unfinished"])
        )


def _check_index(
    store: ObjectStore, index: FileEntry, expected: MultisetDigest, deep: bool
) -> str | None:
    try:
        data = store.get(index.key)
    except (OSError, KeyError, ValueError):
        return f"version index {index.key} is missing"
    except Exception as exc:  # noqa: BLE001 (S3 client errors have no common base here)
        return f"version index {index.key} cannot be read ({type(exc).__name__})"
    if hashlib.sha256(data).hexdigest() != index.sha256 or len(data) != index.bytes:
        return f"version index {index.key} differs from its SHA-256"
    if deep and not expected.unreadable:
        actual = MultisetDigest()
        actual.add_index(parquet_to_table(data))
        if actual != expected:
            return (
                f"version index holds {actual.count} rows, the manifests {expected.count}, or "
                "other versions than they committed"
            )
    return None


def _check_file(store: ObjectStore, entry, report: VerifyReport, deep: bool) -> None:
    report.files_checked += 1
    if deep:
        data = store.get(entry.key)
        report.bytes_checked += len(data)
        actual_sha, actual_size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        actual_sha, actual_size = entry.sha256, store.head(entry.key)["bytes"]
    if actual_sha != entry.sha256 or actual_size != entry.bytes:
        report.findings.append(
            Finding(
                "changed",
                entry.key,
                f"sha256 {actual_sha} ({actual_size} bytes) != manifest {entry.sha256} "
                f"({entry.bytes} bytes)",
            )
        )


# Older files the per-run check re-hashes on top of the ones the tail committed: over
# consecutive runs the sample rotates through every live file of the stream.
SAMPLE_FILES = 20


def verify_recent(store: ObjectStore, stream: str, *, sample: int = SAMPLE_FILES) -> VerifyReport:
    """The per-run check of one source, at a cost that does not grow with its history.

    What it reads, per ledger of the stream: the newest checkpoint, the manifests after it (at
    most CHECKPOINT_EVERY of them), the files those manifests committed (re-hashed), and a
    rotating sample of `sample` older live files. It checks that the tail chains onto the
    checkpoint (seq, prev_sha256, cursor never moving back) and every file it reads against
    its SHA-256. Attachment bytes are covered the same way: the files of the `attachments`
    table among those it reads name their attachment objects, and each named object is
    re-hashed against its name and committed size (so a run re-reads the bytes it archived,
    plus the sample's). What it leaves to the daily deep verify (`verify`): objects no manifest
    names, and the checkpoint's own agreement with the manifests before it.
    """
    report = VerifyReport(store=f"{store.describe()} (recent, {stream})")
    ledger = Ledger(store)
    for table in keys.LEDGER_TABLES:
        try:
            state = ledger.state(table, stream)
        except LedgerError as exc:
            report.findings.append(Finding("manifest_invalid", f"{table}/{stream}", str(exc)))
            continue
        if state.head is None:
            continue
        checkpoint = state.checkpoint
        previous_sha = checkpoint.head_sha256 if checkpoint else None
        previous_seq = checkpoint.seq if checkpoint else -1
        previous_high = (
            parse_api_time(checkpoint.cursor.get("high_water_time")) if checkpoint else None
        )
        recent: set[str] = set()
        read: list[FileEntry] = []
        disposed = {o.key for m in state.tail if m.is_disposition for o in m.disposal.objects}
        for manifest in state.tail:
            report.manifests_checked += 1
            if manifest.seq != previous_seq + 1:
                report.findings.append(
                    Finding("seq_gap", manifest.key, f"seq {manifest.seq} follows {previous_seq}")
                )
            if manifest.prev_sha256 != previous_sha:
                report.findings.append(
                    Finding("chain_broken", manifest.key, "prev_sha256 does not match")
                )
            high = parse_api_time(manifest.cursor.get("high_water_time"))
            if high is not None and previous_high is not None and high < previous_high:
                report.findings.append(
                    Finding("cursor_regressed", manifest.key, TAMPERING["cursor_regressed"])
                )
            previous_high = max(filter(None, [high, previous_high]), default=None)
            for entry in manifest.files:
                recent.add(entry.key)
                if entry.key not in disposed:
                    read.append(entry)
            previous_sha, previous_seq = manifest.sha256, manifest.seq
        older = sorted((e for e in state.live_files() if e.key not in recent), key=lambda e: e.key)
        if older:
            start = (state.head_seq * sample) % len(older)
            read += (older + older)[start : start + min(sample, len(older))]
        for entry in read:
            _check_present_file(store, entry, report)
        attachment_tables = {e.key for e in read if keys.is_attachments_table_key(e.key)}
        if attachment_tables:
            _check_attachment_blobs(store, attachment_tables, set(), report, deep=True)
    report.findings.sort(key=lambda f: (not f.tampering, f.kind, f.key))
    return report


def _check_present_file(store: ObjectStore, entry: FileEntry, report: VerifyReport) -> None:
    if not store.exists(entry.key):
        report.findings.append(Finding("missing", entry.key, TAMPERING["missing"]))
        return
    _check_file(store, entry, report, deep=True)


# -- Deep: every stored row against its raw record; a compaction against its inputs ----------
#
# Issue #27 (an insider who can append): a stored row is evidence only if it says what its
# `raw_json` says. Deep verify re-hashes every committed contents, identities and agents row
# from its `raw_json` (in the form its manifest implies) and re-derives the row's columns from
# it with the table's own normaliser; a compaction's output must hold its inputs' rows, every
# column, row for row. One pass over each file: the full-row digests a batch file's check
# computes are kept (32 bytes a row, live contents files only) for the compaction that later
# replaces it. docs/integrity.md, "Every stored row re-hashed".

# The tables whose rows keep the record they were read from (`raw_json`).
ROW_TABLES = ("contents", "identities", "agents")
# Columns with no source in the record, as each table declares them (`Column.reproducible`):
# its evidence and hash (checked on their own), the batch's stamps, and what the archive knew
# only when it converted the row (names resolved from other tables, the fetch time).
NOT_FROM_RECORD: dict[str, frozenset[str]] = {
    table: frozenset(c.name for c in TABLES[table].columns if not c.reproducible)
    for table in ROW_TABLES
}
# Differences named in detail (per file, per compaction, per alias object) before the rest
# are counted.
_ROWS_NAMED = 3
_FILE_PROBLEMS_NAMED = 10
# Rows derived per call of the normaliser: its validation costs ~10 ms a call, and a day file
# can hold a handful of rows.
_DERIVE_ROWS = 20_000


@dataclass
class _RowChecks:
    """What deep verify carries along one stream's chain for the row checks."""

    table: str
    stream: str
    # Full-row digests (sorted, 32 bytes a row) of the stream's live contents files.
    digests: dict[str, Any] = field(default_factory=dict)
    # The `version_identity` entry the stream carries (and the seq that began it).
    rule: dict | None = None
    rule_seq: int = -1
    # (stored record_sha256, id) -> version hash, of the rows committed before the rule whose
    # two hashes differ: what the stream's version alias object must hold.
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    # Files whose rows wait to be derived (key, compared columns, records, expected hashes),
    # and what is wrong, by file.
    pending: list[tuple[str, pa.Table, list[Any], list[str]]] = field(default_factory=list)
    pending_rows: int = 0
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def forget(self, replaced: tuple[FileEntry, ...]) -> None:
        for entry in replaced:
            self.digests.pop(entry.key, None)


def _check_batch_rows(
    store: ObjectStore,
    manifest: Manifest,
    entry: FileEntry,
    rows: _RowChecks,
    *,
    disposed: bool = False,
) -> None:
    """A batch adds versions: each row of its file is the record its `raw_json` holds, hashed
    in the form its manifest implies (the version hash under `version_identity`, the whole
    record before it), stamped with the batch's id, and (`_derive_pending`) with every column
    read from the record as the normaliser reads it. Differences: `row_forged`, naming the
    row and the column (reported by `_finish_rows`)."""
    schema = SCHEMAS[entry.table]
    try:
        stored = _as_schema(parquet_to_table(store.get(entry.key)), schema)
    except (pa.ArrowException, OSError):
        return  # an unreadable file is reported as changed
    except ValueError as exc:
        rows.problems[entry.key].append(str(exc))
        return
    if entry.table == "contents":
        rows.digests[entry.key] = _sorted_row_digests(stored)
    version_form = entry.table == "contents" and manifest.version_identity is not None
    problems = rows.problems[entry.key]
    ids = _ids(stored, entry.table)
    records: list[Any] = []
    for raw, row_id in zip(stored.column("raw_json").to_pylist(), ids, strict=True):
        try:
            records.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            records.append(None)
            problems.append(f"row {row_id}: raw_json is not JSON")
    if len(problems):
        return
    hash_of = version_sha256 if version_form else record_sha256
    expected = [hash_of(record) for record in records]
    form = "version hash" if version_form else "whole-record hash (no version_identity)"
    form = f"raw_json's {form}"
    stored_hashes = stored.column("record_sha256").to_pylist()
    for row_id, have, want in zip(ids, stored_hashes, expected, strict=True):
        if have != want:
            problems.append(f"row {row_id}: record_sha256 {have} is not the {form} {want}")
    for row_id, batch_id in zip(ids, stored.column("batch_id").to_pylist(), strict=True):
        if batch_id != manifest.batch_id:
            problems.append(
                f"row {row_id}: batch_id {batch_id} is not its manifest's {manifest.batch_id}"
            )
    if not version_form and entry.table == "contents" and not disposed:
        _note_pre_rule_versions(stored, records, rows)
    compared = [
        name
        for name in stored.column_names
        if name not in NOT_FROM_RECORD[entry.table] or name == ID_COLUMNS[entry.table]
    ]
    if rows.pending and rows.pending[0][1].schema != stored.select(compared).schema:
        _derive_pending(rows)
    rows.pending.append((entry.key, stored.select(compared), records, expected))
    rows.pending_rows += len(records)
    if rows.pending_rows >= _DERIVE_ROWS:
        _derive_pending(rows)


def _derive_pending(rows: _RowChecks) -> None:
    """Derive the rows of the pending files from their records in one call of the normaliser
    (its validation has a fixed cost per call) and compare them, column by column."""
    pending, rows.pending, rows.pending_rows = rows.pending, [], 0
    if not pending:
        return
    records = [record for _, _, part, _ in pending for record in part]
    expected = [digest for _, _, _, part in pending for digest in part]
    where = [(key, index) for key, table, _, _ in pending for index in range(table.num_rows)]
    stored = pa.concat_tables([table for _, table, _, _ in pending])
    table_name = rows.table
    ids = stored.column(ID_COLUMNS[table_name]).to_pylist()
    derived, positions, rejected = _derive_rows(table_name, rows.stream, records, expected)
    for index, reasons in rejected:
        rows.problems[where[index][0]].append(
            f"row {ids[index]}: its raw_json does not make a valid row ({reasons})"
        )
    if not positions:
        return
    kept = stored.take(pa.array(positions, pa.int64()))
    for name in kept.column_names:
        if name in NOT_FROM_RECORD[table_name] or kept.column(name).equals(derived.column(name)):
            continue
        have_values = kept.column(name).to_pylist()
        want_values = derived.column(name).to_pylist()
        for offset, (have, want) in enumerate(zip(have_values, want_values, strict=True)):
            if have != want:
                index = positions[offset]
                rows.problems[where[index][0]].append(
                    f"row {ids[index]}: {name} {_short(have)} is not {_short(want)}, what its "
                    "raw_json says"
                )


def _finish_rows(report: VerifyReport, rows: _RowChecks) -> None:
    """The stream's row findings: `row_forged`, one per row named, the rest counted."""
    _derive_pending(rows)
    for key, problems in sorted(rows.problems.items()):
        named = problems[:_FILE_PROBLEMS_NAMED]
        if len(problems) > _FILE_PROBLEMS_NAMED:
            more = len(problems) - _FILE_PROBLEMS_NAMED
            named[-1] += f" (and {more} more differences in this file)"
        for problem in named:
            report.findings.append(Finding("row_forged", key, problem))


def _note_pre_rule_versions(stored: pa.Table, records: list[Any], rows: _RowChecks) -> None:
    """Rows hashed whole (before the rule) whose version hash differs: the alias object the
    stream's first manifest under the rule names must hold exactly these."""
    raws = stored.column("raw_json").to_pylist()
    for row_id, digest, raw, record in zip(
        stored.column("id").to_pylist(),
        stored.column("record_sha256").to_pylist(),
        raws,
        records,
        strict=True,
    ):
        if not needs_alias(raw.encode("utf-8")):
            continue
        version = version_sha256(record)
        if version != digest:
            rows.aliases[(digest, row_id)] = version


def _derive_rows(
    table: str, stream: str, records: list[Any], expected: list[str]
) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
    """The rows the table's normaliser makes of `records` (hashed as `expected`), each with
    the position of its record, and the records it refuses with their reasons."""
    source_id = source_id_of_stream(stream)
    if table == "contents":
        batch = ContentsBatch(source_id=source_id)
        batch.add(records, digests=expected)
        normalised = batch.take(run_id="", batch_id="", archived_at=EPOCH)
    elif table == "identities":
        normalised = normalise_identities(
            records, source_id=source_id, run_id="", batch_id="", archived_at=EPOCH
        )
    else:
        found = [r for r in records if not _is_not_found(r)]
        missing = [r["id"] for r in records if _is_not_found(r)]
        normalised = normalise_extensions(
            found, run_id="", batch_id="", archived_at=EPOCH, not_found_ids=missing
        )
    derived = normalised.table
    # The normaliser hashes each record as `expected` does: match rows to records by hash
    # (agents come back found first, then not found). A row that matches no record (a 404
    # answer the normaliser spells otherwise than the stored one) leaves its record refused.
    waiting: dict[str, list[int]] = defaultdict(list)
    for index, digest in enumerate(expected):
        waiting[digest].append(index)
    for queue in waiting.values():
        queue.reverse()
    positions: list[int] = []
    matched: list[int] = []
    for row, digest in enumerate(derived.column("record_sha256").to_pylist()):
        if waiting.get(digest):
            positions.append(waiting[digest].pop())
            matched.append(row)
    if len(matched) != derived.num_rows:
        derived = derived.take(pa.array(matched, pa.int64()))
    reasons = normalised.quarantine.column("reason").to_pylist()
    left = sorted(index for queue in waiting.values() for index in queue)
    rejected = [
        (index, reasons[n] if n < len(reasons) else "refused") for n, index in enumerate(left)
    ]
    return derived, positions, rejected


def _is_not_found(record: Any) -> bool:
    """The record stored for an extension the API answered 404 for (schemas.agents)."""
    return (
        type(record) is dict
        and record.keys() == {"id", "errorCode", "resolution"}
        and record["errorCode"] == "CMN-102"
        and record["resolution"] == "not_found"
    )


def _as_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The file's columns as the table declares them (a column the file lacks is left out)."""
    if table.schema.equals(schema):
        return table
    names = set(table.column_names)
    for required in ("raw_json", "record_sha256", "batch_id"):
        if required not in names:
            raise ValueError(f"has no {required} column")
    fields = [f for f in schema if f.name in names]
    return pa.table([table.column(f.name).cast(f.type) for f in fields], schema=pa.schema(fields))


def _ids(table: pa.Table, name: str) -> list[Any]:
    return table.column(ID_COLUMNS[name]).to_pylist()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _row_digest_values(table: pa.Table) -> list[bytes]:
    """SHA-256 of each row's values in column order (timestamps as epoch ms, days as day
    numbers): equal digests, equal rows, whatever file or row group they sit in."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.int32())
        columns.append(column.to_pylist())
    dumps, sha256 = orjson.dumps, hashlib.sha256
    return [sha256(dumps(values)).digest() for values in zip(*columns, strict=True)]


def _sorted_row_digests(table: pa.Table) -> Any:
    return np.sort(np.array(_row_digest_values(table), dtype="S32"))


def _check_compaction_rows(
    store: ObjectStore, manifest: Manifest, report: VerifyReport, rows: _RowChecks
) -> None:
    """A compaction adds no version and changes none: its output holds exactly its inputs'
    rows, every column equal (the row order is its own). The digests of inputs that batches
    committed were kept by their row checks; the output's are kept for a later compaction."""
    schema = SCHEMAS[manifest.table]
    try:
        inputs = [
            rows.digests.get(e.key)
            if e.key in rows.digests
            else _sorted_row_digests(_as_schema(parquet_to_table(store.get(e.key)), schema))
            for e in manifest.replaces
        ]
        outputs = [
            _sorted_row_digests(_as_schema(parquet_to_table(store.get(e.key)), schema))
            for e in manifest.files
        ]
    except (pa.ArrowException, OSError, ValueError):
        return  # an unreadable file is reported as changed
    for entry, digests in zip(manifest.files, outputs, strict=True):
        rows.digests[entry.key] = digests
    before = np.sort(np.concatenate(inputs)) if inputs else np.array([], dtype="S32")
    after = np.sort(np.concatenate(outputs)) if outputs else np.array([], dtype="S32")
    if np.array_equal(before, after):
        return
    detail = _compaction_differences(store, manifest, schema)
    report.findings.append(
        Finding(
            "compaction_invalid",
            manifest.key,
            f"output holds {len(after)} rows, inputs {len(before)}, and not the same rows: "
            + detail,
        )
    )


def _compaction_differences(store: ObjectStore, manifest: Manifest, schema: pa.Schema) -> str:
    """Which rows of a compaction differ from its inputs, and in which columns (read again:
    only a compaction that failed its check pays this)."""

    def read(entries: tuple[FileEntry, ...]) -> list[tuple[str, pa.Table, list[bytes]]]:
        out = []
        for entry in entries:
            table = _as_schema(parquet_to_table(store.get(entry.key)), schema)
            out.append((entry.key, table, _row_digest_values(table)))
        return out

    inputs, outputs = read(manifest.replaces), read(manifest.files)
    # What the outputs hold beyond the inputs (`extra`), and what of the inputs they lack.
    left = Counter(d for _, _, digests in inputs for d in digests)
    extra: list[tuple[str, pa.Table, int]] = []
    for key, table, digests in outputs:
        for index, digest in enumerate(digests):
            if left[digest] > 0:
                left[digest] -= 1
            else:
                extra.append((key, table, index))
    gone: list[tuple[str, pa.Table, int]] = []
    for key, table, digests in inputs:
        for index, digest in enumerate(digests):
            if left[digest] > 0:
                left[digest] -= 1
                gone.append((key, table, index))
    named: list[str] = []
    matched: set[tuple[str, int]] = set()
    for key, table, index in extra:
        row = table.slice(index, 1).to_pylist()[0]
        # Its input: the unmatched row of the same version, else of the same message.
        candidates = [
            (in_key, in_table, in_index)
            for in_key, in_table, in_index in gone
            if (in_key, in_index) not in matched
            and in_table.column("id")[in_index].as_py() == row["id"]
        ]
        same_version = [
            c
            for c in candidates
            if c[1].column("record_sha256")[c[2]].as_py() == row["record_sha256"]
        ]
        counterpart = (same_version or candidates or [None])[0]
        if counterpart is None:
            named.append(f"output {key} row {row['id']} is in none of its inputs")
            continue
        in_key, in_table, in_index = counterpart
        matched.add((in_key, in_index))
        original = in_table.slice(in_index, 1).to_pylist()[0]
        columns = [name for name in schema.names if original.get(name) != row.get(name)]
        named.append(
            f"output {key} row {row['id']} (record_sha256 {row['record_sha256'][:12]}…) differs "
            f"from its input {in_key} in {', '.join(columns)}"
        )
    for in_key, in_table, in_index in gone:
        if (in_key, in_index) not in matched:
            named.append(
                f"input {in_key} row {in_table.column('id')[in_index].as_py()} is not in the output"
            )
    more = len(named) - _ROWS_NAMED
    return "; ".join(named[:_ROWS_NAMED]) + (f"; and {more} more" if more > 0 else "")


def _check_version_rule(
    store: ObjectStore,
    manifest: Manifest,
    report: VerifyReport,
    rows: _RowChecks,
    disposals: _Disposals,
    all_keys: set[str],
) -> None:
    """Once a stream commits under version identities, every later manifest carries the same
    `version_identity` entry; the alias object it names holds exactly one row per row committed
    before the rule whose version hash differs from its stored hash, each with the version hash
    its `raw_json` gives (a row a disposition deleted keeps only its hashes: its alias row is
    accepted, not recomputed). Findings: `manifest_invalid`, `aliases_invalid`."""
    entry = manifest.version_identity
    if rows.rule is not None:
        if entry != rows.rule:
            report.findings.append(
                Finding(
                    "manifest_invalid",
                    manifest.key,
                    f"drops or changes the version_identity entry its stream carries since seq "
                    f"{rows.rule_seq}",
                )
            )
        return
    if entry is None:
        return
    rows.rule, rows.rule_seq = entry, manifest.seq
    named = entry.get("aliases")
    expected, rows.aliases = rows.aliases, {}
    if not named:
        if expected:
            report.findings.append(
                Finding(
                    "aliases_invalid",
                    manifest.key,
                    f"names no version aliases, but {len(expected)} row(s) committed before the "
                    "rule hash differently as versions",
                )
            )
        return
    key = named["key"]
    if key not in all_keys:
        return  # reported as missing
    data = store.get(key)
    if hashlib.sha256(data).hexdigest() != named["sha256"]:
        return  # reported as changed
    try:
        aliases = read_aliases(data)
    except (pa.ArrowException, OSError):
        report.findings.append(Finding("aliases_invalid", key, "not a version alias object"))
        return
    problems: list[str] = []
    if named.get("through_seq") != manifest.seq - 1 or named.get("rows") != aliases.num_rows:
        problems.append(
            f"{manifest.key} says {named.get('rows')} rows through seq {named.get('through_seq')}; "
            f"it holds {aliases.num_rows} and the rule began at seq {manifest.seq}"
        )
    disposed: set[tuple[str, str]] | None = None
    for row_id, digest, version in zip(
        aliases.column("id").to_pylist(),
        aliases.column("record_sha256").to_pylist(),
        aliases.column("version_sha256").to_pylist(),
        strict=True,
    ):
        want = expected.pop((digest, row_id), None)
        if want is None:
            if disposed is None:
                disposed = {
                    (d, i)
                    for part in disposals.rows.values()
                    for d, i in zip(
                        part.column("record_sha256").to_pylist(),
                        part.column("id").to_pylist(),
                        strict=True,
                    )
                }
            if (digest, row_id) not in disposed:
                problems.append(
                    f"row {row_id} {digest[:12]}… is no row committed before the rule whose "
                    "version hash differs"
                )
        elif want != version:
            problems.append(
                f"row {row_id} {digest[:12]}…: version_sha256 {version[:12]}… is not its "
                f"raw_json's {want[:12]}…"
            )
    for (digest, row_id), version in sorted(expected.items()):
        problems.append(f"row {row_id} {digest[:12]}… (version {version[:12]}…) has no alias")
    if problems:
        more = len(problems) - _ROWS_NAMED
        report.findings.append(
            Finding(
                "aliases_invalid",
                key,
                "; ".join(problems[:_ROWS_NAMED]) + (f"; and {more} more" if more > 0 else ""),
            )
        )
