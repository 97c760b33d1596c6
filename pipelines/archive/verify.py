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

from pipelines.archive import keys
from pipelines.archive.ledger import INTENT_FORMAT, Manifest
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
}
NOT_TAMPERING = {"uncommitted": "file of a batch that never committed (interrupted run)"}


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
        own_data = tuple(f"{table}/" for table in keys.DATA_TABLES)
    else:
        own_data = tuple(keys.stream_data_prefixes(stream))
        prefixes = [keys.ledger_prefix(t, stream) for t in keys.LEDGER_TABLES]
        all_keys = {k for p in [*prefixes, *own_data, "agents/"] for k in store.list(p)}
    manifests_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    intents_by_stream: dict[tuple[str, str], list[str]] = defaultdict(list)
    data_keys: list[str] = []
    for key in sorted(all_keys):
        parts = key.split("/")
        if parts[0] == keys.LEDGER_ROOT:
            _sort_ledger_key(key, parts, manifests_by_stream, intents_by_stream, report)
        elif parts[0] in keys.DATA_TABLES:
            data_keys.append(key)
        else:
            report.findings.append(Finding("extra", key, TAMPERING["extra"]))

    committed_keys: set[str] = set()
    committed_batches: dict[tuple[str, str], set[str]] = defaultdict(set)
    for stream_id, manifest_keys in sorted(manifests_by_stream.items()):
        _check_chain(
            store,
            stream_id,
            manifest_keys,
            report,
            committed_keys,
            committed_batches,
            all_keys,
            deep,
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

    for key in committed_keys - all_keys:
        report.findings.append(Finding("missing", key, TAMPERING["missing"]))
    for key in data_keys:
        if key.startswith(own_data) and key not in committed_keys and key not in pending_keys:
            report.findings.append(Finding("extra", key, TAMPERING["extra"]))

    report.findings.sort(key=lambda f: (not f.tampering, f.kind, f.key))
    return report


def _sort_ledger_key(key, parts, manifests_by_stream, intents_by_stream, report) -> None:
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
) -> None:
    table, stream = stream_id
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
        for entry in manifest.files:
            committed_keys.add(entry.key)
            if entry.key in all_keys:
                _check_file(store, entry, report, deep)
        previous_sha, previous_seq = manifest.sha256, seq


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
