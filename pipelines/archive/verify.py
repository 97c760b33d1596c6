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
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from pipelines.archive import keys, merkle
from pipelines.archive.checkpoint import Checkpoint, FileEntry, LiveFiles
from pipelines.archive.disposed_hashes import rows_by_file
from pipelines.archive.ledger import INTENT_FORMAT, Ledger, LedgerError, Manifest
from pipelines.archive.multiset import MultisetDigest
from pipelines.archive.parquet import ID_COLUMNS, parquet_to_table
from pipelines.archive.store import ObjectStore
from schemas.common import parse_api_time
from schemas.ids import validate_stream

TAMPERING = {
    "changed": "file bytes differ from the SHA-256 or size in its manifest",
    "missing": "file listed in a manifest is not in the store",
    "extra": "object in the archive that no manifest or intent names",
    "chain_broken": "manifest prev_sha256 does not match the previous manifest's bytes",
    "seq_gap": "manifest sequence skips a number",
    "cursor_regressed": "manifest cursor high_water_time is earlier than the previous one",
    "manifest_invalid": "manifest is not valid JSON or does not match its key",
    "intent_invalid": "pending intent is not valid JSON",
    "checkpoint_invalid": "checkpoint disagrees with the manifests it summarises",
    "compaction_invalid": "compacted file does not hold exactly the rows of its inputs",
    "disposal_invalid": "disposition removes files that were not live, or its record hashes "
    "differ from what it names",
    # Against a witness or a certificate (pipelines/integrity/, docs/integrity.md).
    "truncated": "manifests the witness recorded are missing from the archive's chain",
    "source_missing": "the witness recorded a ledger of which the archive has no manifest",
    "rewritten": "a manifest or checkpoint differs from the SHA-256 the witness recorded",
    "certified_changed": "the archive no longer holds what a certificate certified",
}
NOT_TAMPERING = {
    "unwitnessed": "manifest the witness has no entry for (witness added later, or a crash "
    "between the commit and its witness entry)",
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


def verify(store: ObjectStore, *, deep: bool = True, stream: str | None = None) -> VerifyReport:
    """Check every manifest chain and every object; `deep` re-hashes each file's bytes.

    With `stream`, only that stream's ledgers and files: its own data files, and the shared
    agents files its ledger lists (whether an agents file belongs to no manifest at all only
    the whole-archive check can say). Why: the run's `ledger_intact` check is per source, and
    verifying the whole archive once per source read it ten times in a 10-source run.
    """
    report = VerifyReport(store=store.describe())
    if stream is None:
        all_keys = set(store.list(""))
        own_data = tuple(f"{root}/" for root in keys.DATA_ROOTS)
    else:
        own_data = tuple(keys.stream_data_prefixes(stream))
        prefixes = [keys.ledger_prefix(t, stream) for t in keys.LEDGER_TABLES]
        all_keys = {k for p in [*prefixes, *own_data, "agents/"] for k in store.list(p)}
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
    disposals = _Disposals()
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
    tree = merkle.Frontier() if deep and table == "contents" else None
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
        for entry in manifest.files:
            committed_keys.add(entry.key)
            if entry.key in all_keys:
                _check_file(store, entry, report, deep)
        if manifest.is_disposition:
            _check_disposition(manifest, live, all_keys, report, disposals)
        elif manifest.is_compaction:
            _check_compaction(store, manifest, live, all_keys, report, deep)
        elif deep:
            for entry in manifest.files:
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
        previous_sha, previous_seq = manifest.sha256, seq
        replay[seq] = _Replayed(
            manifest.sha256,
            manifest.cursor,
            live.copy(),
            index_digest.copy(),
            None if tree is None else (tree.size, tree.root().hex()),
        )
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

    def read_hashes(self, store: ObjectStore, hash_keys: list[str]) -> None:
        for key in hash_keys:
            data = store.get(key)
            self.hashes_read[key] = hashlib.sha256(data).hexdigest()
            try:
                self.rows.update(rows_by_file(parquet_to_table(data)))
            except (pa.ArrowException, OSError, KeyError):
                continue  # its manifest's check reports the SHA-256 mismatch

    def unnamed(self) -> set[str]:
        return set(self.hashes_read) - self.hashes_named


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


def _check_compaction(
    store: ObjectStore,
    manifest: Manifest,
    live: LiveFiles,
    all_keys: set[str],
    report: VerifyReport,
    deep: bool,
) -> None:
    """A compaction may only replace live files, and (deep) its output must hold exactly the
    multiset of record hashes of its inputs: compaction cannot hide, add or change a row."""
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
    inputs, output = MultisetDigest(), MultisetDigest()
    try:
        for entry in manifest.replaces:
            inputs.add_hashes(store, entry)
        for entry in manifest.files:
            output.add_hashes(store, entry)
    except (pa.ArrowException, OSError):
        return  # an unreadable file is reported as changed
    if inputs != output:
        report.findings.append(
            Finding(
                "compaction_invalid",
                manifest.key,
                f"output holds {output.count} rows, inputs {inputs.count}, or other record "
                "hashes than its inputs",
            )
        )


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
