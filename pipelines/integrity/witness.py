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
`_reviews/`, the hold journal `_holds/_journal/`) are witnessed the same way, one entry per
record:

    _logs/<log prefix><YYYY-MM-DD>/<seq:010d>.json   (kind "log": the record's key and SHA-256)

so deleting the newest access events, which the chain alone cannot show, is `truncated`.

Fail closed. A witness that is missing, empty or unreadable is an error (`WitnessUnavailable`,
exit 2), never an archive found intact. And a writer that commits without the witness is
tampering: once the witness saw a stream (or a log), only the last object written to it may be
unwitnessed, since a crash between an object and its witness entry leaves exactly one such
object and stops the writer. Anything unwitnessed before it is `witness_bypassed` (docs/
integrity.md, "Fail closed").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.archive import keys
from pipelines.archive.store import ObjectExistsError, ObjectStore, open_store
from pipelines.archive.verify import NOT_TAMPERING, Finding
from pipelines.archive.witnessing import LogWitness
from pipelines.settings import ARCHIVE_WITNESS_URI, Settings
from schemas.common import iso_ms
from schemas.ids import validate_stream

WITNESS_FORMAT = "rc-archive/witness/1"
LOG_WITNESS_FORMAT = "rc-archive/witness-log/1"
LOGS_AREA = "_logs/"
KINDS = ("manifest", "checkpoint")
CHECKPOINTS = "_checkpoints"
JSON_TYPE = "application/json"
# A record of a chained log, relative to the log's prefix (pipelines/governance/chained_log.py).
LOG_RECORD_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}/\d{10}\.json$")
# botocore's errors of a network that did not answer: exit 4 (try again), not a bad witness.
_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"}


class WitnessConflictError(RuntimeError):
    """The witness already holds another hash for this seq: the archive's history was
    rewritten (or two archives share one witness)."""


class WitnessUnavailable(ValueError):
    """The witness cannot be compared with: its location is missing, empty or unreadable, or
    holds objects that are not witness entries (a mistyped location). `verify` refuses (exit 2)
    instead of calling the archive intact against nothing."""


@dataclass(frozen=True)
class WitnessEntry:
    table: str
    stream: str
    seq: int
    kind: str
    sha256: str
    committed_at: str | None
    key: str = ""
    witnessed_at: str | None = None


def entry_key(table: str, stream: str, seq: int, kind: str = "manifest") -> str:
    if kind not in KINDS:
        raise ValueError(f"witness kind {kind!r}; expected one of {KINDS}")
    middle = f"{CHECKPOINTS}/" if kind == "checkpoint" else ""
    return f"{keys.ledger_table(table)}/{validate_stream(stream)}/{middle}{seq:010d}.json"


class Witness:
    """Appends commit points to a witness store (write-once, one object per entry)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @classmethod
    def open(cls, uri: str, settings: Settings) -> Witness:
        """The witness at `uri`, a store opened with `settings` (S3 access, timeouts, and
        the archive's Object Lock settings, so a witness bucket locks its entries too)."""
        return cls(open_store(uri, settings))

    def describe(self) -> str:
        return self.store.describe()

    def check_readable(self) -> None:
        """Fail closed: raise WitnessUnavailable unless the witness location exists, can be
        read and holds at least one entry. One delimited LIST."""
        where = self.describe()
        fix = f"check {ARCHIVE_WITNESS_URI} or --witness (the witness the writers use)"
        root = getattr(self.store, "root", None)
        if root is not None:  # a directory
            if not root.exists():
                raise WitnessUnavailable(f"witness {root}: no such directory; {fix}")
            if not root.is_dir():
                raise WitnessUnavailable(f"witness {root} is a file, not a directory; {fix}")
            if not os.access(root, os.R_OK | os.X_OK):
                raise WitnessUnavailable(f"witness {root} cannot be read (permissions); {fix}")
        try:
            folders = self.store.list_folders("")
        except Exception as exc:
            if type(exc).__name__ in _UNREACHABLE:
                raise
            raise WitnessUnavailable(
                f"witness {where} cannot be read ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); {fix}"
            ) from None
        if not folders:
            raise WitnessUnavailable(
                f"witness {where} holds no entries: a mistyped location, or a witness nothing "
                f"was ever written to; verify does not call an archive intact against it; {fix}"
            )
        ours = {*keys.LEDGER_TABLES, LOGS_AREA.rstrip("/")}
        if keys.LEDGER_ROOT in folders or not ours.intersection(folders):
            raise WitnessUnavailable(
                f"witness {where} is not a witness (it holds {', '.join(sorted(folders)[:4])}: "
                f"an archive, or another store); {fix}"
            )

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
        return WitnessEntry(
            table, stream, seq, kind, sha256, committed_at, key, body["witnessed_at"]
        )

    def record_log(self, key: str, sha256: str, at: str | None) -> None:
        """Witness one record of a chained log (idempotent for the same hash; another hash
        for the same key raises WitnessConflictError)."""
        body = {"format": LOG_WITNESS_FORMAT, "key": key, "sha256": sha256, "at": at}
        data = json.dumps(body, indent=1, sort_keys=True).encode("utf-8")
        try:
            self.store.put(LOGS_AREA + key, data, content_type=JSON_TYPE)
        except ObjectExistsError:
            existing = self.logged_sha256(key)
            if existing != sha256:
                raise WitnessConflictError(
                    f"witness {self.store.uri_for(LOGS_AREA + key)} holds sha256 {existing} "
                    f"for {key}, not {sha256}: the log was rewritten"
                ) from None

    def logged_sha256(self, key: str) -> str | None:
        """The SHA-256 witnessed for the record at `key` (None: never witnessed): one HEAD,
        one GET."""
        if not self.store.exists(LOGS_AREA + key):
            return None
        return json.loads(self.store.get(LOGS_AREA + key)).get("sha256")

    def log_entries(self, prefix: str) -> dict[str, str]:
        """record key -> witnessed SHA-256, for every record of the log at `prefix`."""
        return {key: sha for key, (sha, _at) in self.log_records(prefix).items()}

    def log_records(self, prefix: str) -> dict[str, tuple[str, str | None]]:
        """record key -> (witnessed SHA-256, the record's time), for the log at `prefix`."""
        found = {}
        for key in self.store.list(LOGS_AREA + prefix):
            body = _parse_json(key, self.store.get(key))
            found[body["key"]] = (body["sha256"], body.get("at"))
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

    def started_at(self) -> datetime | None:
        """When the witness received its first entry (None: it holds none). Reads every
        entry: for verify, which reads them anyway."""
        times = [
            _time(entry.witnessed_at or entry.committed_at)
            for kinds in self.entries().values()
            for seqs in kinds.values()
            for entry in seqs.values()
        ]
        times += [_time(at) for _sha, at in self.log_records("").values()]
        return min((t for t in times if t is not None), default=None)

    def head(self, table: str, stream: str) -> int:
        """The newest witnessed manifest seq of a stream (-1 for none): one LIST."""
        prefix = f"{table}/{validate_stream(stream)}/"
        seqs = [
            int(match.group(1))
            for key in self.store.list_after(prefix)
            if (match := keys.MANIFEST_NAME.match(key[len(prefix) :]))
        ]
        return max(seqs, default=-1)


def open_witness(uri: str, settings: Settings) -> Witness:
    """The witness at `uri` for comparing with (verify, disposition): WitnessUnavailable when
    it is missing, empty or unreadable. Writers use `Witness.open` (a new witness is empty)."""
    witness = Witness.open(uri, settings)
    witness.check_readable()
    return witness


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
            witnessed_at=body.get("witnessed_at"),
        )
        if entry_key(entry.table, entry.stream, entry.seq, entry.kind) != key:
            raise ValueError("its fields do not match its key")
        return entry
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WitnessUnavailable(
            f"witness object {key}: not a witness entry ({exc}); is this the witness?"
        ) from None


def _parse_json(key: str, data: bytes) -> dict:
    try:
        body = json.loads(data)
        if not isinstance(body, dict) or "key" not in body or "sha256" not in body:
            raise ValueError("no key and sha256")
        return body
    except (ValueError, TypeError) as exc:
        raise WitnessUnavailable(
            f"witness object {key}: not a witness entry ({exc}); is this the witness?"
        ) from None


def _time(text: str | None) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _CommitPoint:
    """A manifest or checkpoint of the archive, in the order a writer puts them."""

    seq: int
    kind: str
    key: str
    sha256: str
    at: datetime | None  # committed_at (manifest) or created_at (checkpoint)


def compare_with_witness(archive: ObjectStore, witness: Witness) -> list[Finding]:
    """What the archive lost, changed or wrote around the witness, as verify findings.

    Per (table, stream): `source_missing` if the archive has no manifest of a ledger the
    witness knows; `truncated` if the chain ends before the newest witnessed seq (or a
    witnessed manifest is gone from the middle); `rewritten` for each manifest or checkpoint
    whose bytes hash to something else than the witness recorded. Unwitnessed objects follow
    `_unwitnessed_rule`: history from before the witness and the last object a crashed writer
    left are `unwitnessed` (not tampering), anything else `witness_bypassed`. The hold journal
    (pipelines/governance/holds.py) is compared the same way (`compare_log`).

    Fail closed: WitnessUnavailable when the witness holds no entry at all. Reads every
    manifest and checkpoint JSON (GETs of small objects), every witness entry and the hold
    journal; no data file.
    """
    witnessed = witness.entries()
    logs = witness.log_records(keys.HOLDS_JOURNAL_PREFIX)  # not the access trail
    times = [
        _time(entry.witnessed_at or entry.committed_at)
        for kinds in witnessed.values()
        for seqs in kinds.values()
        for entry in seqs.values()
    ]
    times += [_time(at) for _sha, at in logs.values()]
    start = min((t for t in times if t is not None), default=None)
    if not witnessed and not logs:
        witness.check_readable()  # a missing, unreadable or empty location is refused
        start = witness.started_at()  # a witness of chained logs only (rare): read them all
        if start is None:
            raise WitnessUnavailable(f"witness {witness.describe()} holds no entries")
    findings: list[Finding] = []
    archive_streams = {
        (table, stream) for table in keys.LEDGER_TABLES for stream in _streams(archive, table)
    }
    for table, stream in sorted(set(witnessed) | archive_streams):
        kinds = witnessed.get((table, stream), {kind: {} for kind in KINDS})
        manifests = _commit_points(archive, table, stream, "manifest")
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
        checkpoints = _commit_points(archive, table, stream, "checkpoint")
        for kind, points in (("manifest", manifests), ("checkpoint", checkpoints)):
            for seq, point in sorted(points.items()):
                entry = kinds[kind].get(seq)
                if entry is not None and entry.sha256 != point.sha256:
                    findings.append(
                        Finding(
                            "rewritten",
                            point.key,
                            f"{kind} sha256 {point.sha256} != witnessed {entry.sha256} "
                            f"(committed {entry.committed_at})",
                        )
                    )
        order = sorted([*manifests.values(), *checkpoints.values()], key=_writing_order)
        findings += _unwitnessed_rule(
            order, lambda p, k=kinds: p.seq in k[p.kind], start, f"the ledger {where}"
        )
    findings += compare_log(archive, witness, keys.HOLDS_JOURNAL_PREFIX, start, logs)
    return findings


def _writing_order(point: _CommitPoint) -> tuple[int, int]:
    """A writer puts manifest `seq`, then (maybe) the checkpoint at `seq`, then `seq + 1`."""
    return point.seq, 0 if point.kind == "manifest" else 1


def _unwitnessed_rule(
    order: list, is_witnessed: Callable, start: datetime | None, where: str
) -> list[Finding]:
    """The unwitnessed objects of one stream or log, written in `order` (objects with `key`
    and `at`), as findings.

    Allowed (`unwitnessed`, not tampering): objects before the first witnessed one (history
    from before the witness, fixed by the hash chain to the first witnessed object); when
    nothing of it is witnessed, objects written before the witness's first entry (`start`);
    and the last object, which a writer that crashed between the object and its witness entry
    leaves. Anything else unwitnessed was written by a writer that went on without the witness:
    `witness_bypassed` (tampering)."""
    findings: list[Finding] = []
    flags = [bool(is_witnessed(point)) for point in order]
    first = flags.index(True) if True in flags else None
    for index, point in enumerate(order):
        if flags[index]:
            continue
        before = (first is not None and index < first) or (
            first is None and (start is None or (point.at is not None and point.at < start))
        )
        if before:
            if getattr(point, "kind", None) == "manifest":  # as before: history is listed
                findings.append(Finding("unwitnessed", point.key, NOT_TAMPERING["unwitnessed"]))
        elif index == len(order) - 1:
            findings.append(
                Finding(
                    "unwitnessed",
                    point.key,
                    f"the last object written to {where}, not witnessed: a crash between it "
                    "and its witness entry (the next verify after a write shows whether the "
                    "writer went on without the witness)",
                )
            )
        else:
            later = order[index + 1]
            findings.append(
                Finding(
                    "witness_bypassed",
                    point.key,
                    f"written after the witness began, never witnessed, and followed by "
                    f"{later.key}: its writer did not use the witness ({ARCHIVE_WITNESS_URI}); "
                    "only the last object of a stream may lack its entry (a crash)",
                )
            )
    return findings


@dataclass(frozen=True)
class _LogRecord:
    key: str
    at: datetime | None


def compare_log(
    archive: ObjectStore,
    witness: LogWitness,
    prefix: str,
    start: datetime | None | Callable[[], datetime | None] = None,
    logs: dict[str, tuple[str, str | None]] | None = None,
) -> list[Finding]:
    """A chained log of the archive (pipelines/governance/chained_log.py, records
    `<prefix><day>/<seq>.json`) against the witness: `truncated` for a witnessed record that
    is gone, `rewritten` for one with other bytes, and its unwitnessed records by
    `_unwitnessed_rule`. `start` (or a callable giving it, called only when needed): when the
    witness began. `logs`: the witness's log entries if the caller read them already."""
    if logs is None:
        witnessed = witness.log_entries(prefix)
    else:
        witnessed = {k: sha for k, (sha, _at) in logs.items() if k.startswith(prefix)}
    present = [k for k in archive.list(prefix) if LOG_RECORD_NAME.match(k[len(prefix) :])]
    stored = set(present)
    findings = []
    for key, sha in sorted(witnessed.items()):
        if key not in stored:
            findings.append(Finding("truncated", key, "witnessed, and gone from the log"))
            continue
        actual = hashlib.sha256(archive.get(key)).hexdigest()
        if actual != sha:
            findings.append(Finding("rewritten", key, f"sha256 {actual} != witnessed {sha}"))
    if all(key in witnessed for key in present):
        return findings
    if any(key in witnessed for key in present):
        moment = None  # the first witnessed record marks where the witness began
    else:
        moment = start() if callable(start) else start
    records = [
        _LogRecord(key, _record_time(archive, key) if moment is not None else None)
        for key in present
    ]
    return findings + _unwitnessed_rule(
        records, lambda record: record.key in witnessed, moment, f"the log {prefix}"
    )


def _record_time(store: ObjectStore, key: str) -> datetime | None:
    try:
        return _time(json.loads(store.get(key)).get("at"))
    except (ValueError, AttributeError):
        return None


def _streams(store: ObjectStore, table: str) -> list[str]:
    found = []
    for name in store.list_folders(f"{keys.LEDGER_ROOT}/{table}/"):
        try:
            found.append(validate_stream(name))
        except ValueError:
            continue
    return found


def _commit_points(
    store: ObjectStore, table: str, stream: str, kind: str
) -> dict[int, _CommitPoint]:
    """seq -> the stream's manifest (or checkpoint) at it: SHA-256 of its bytes, its time."""
    if kind == "manifest":
        prefix, pattern = keys.ledger_prefix(table, stream), keys.MANIFEST_NAME
        field = "committed_at"
    else:
        prefix, pattern = keys.checkpoint_prefix(table, stream), keys.CHECKPOINT_NAME
        field = "created_at"
    found = {}
    for key in store.list_after(prefix):
        match = pattern.match(key[len(prefix) :])
        if match:
            data = store.get(key)
            try:
                at = _time(json.loads(data).get(field))
            except (ValueError, AttributeError):
                at = None  # reported by verify as manifest_invalid / checkpoint_invalid
            seq = int(match.group(1))
            found[seq] = _CommitPoint(seq, kind, key, hashlib.sha256(data).hexdigest(), at)
    return found
