"""Signed certificates: what one source of the archive held at one moment, signed Ed25519.

A certificate body holds, for one source and one period (a month): counts of what the
archive holds (for the period and in total), the Merkle root and size of the source's log
of record versions (pipelines/integrity/log.py, over the whole source at attest time), the
head (seq, SHA-256) of each of the source's ledgers, the archive's URI, the tool version, and
the result of a full reconciliation of the source against the API at that moment (or, plainly,
that none was made and why).
The signature covers the canonical JSON of the body (sorted keys, compact separators, UTF-8).

`verify_certificate` proves the archive still holds what was certified: the signature (with a
public key the verifier trusts), the archive and source it names, the Merkle consistency from
the certified tree to today's (later batches may append, nothing certified may change or go),
and each certified chain head still present with the same bytes; and that the certified
reconciliation found no archived content id the API does not list (`not_in_api`).

Refusals (`CertificateRefused`, one line): a signature that does not verify (a modified
certificate, or one signed by another key) is `tampering` (exit 3: the evidence itself was
altered or forged); a certificate of another archive, an unreadable certificate or key is
`bad input` (exit 2: the wrong file was given).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.archive import keys, merkle
from pipelines.archive.ledger import Ledger, code_version
from pipelines.archive.store import LocalStore, ObjectStore, S3Store
from pipelines.archive.verify import Finding
from pipelines.integrity.log import SourceLog, read_log
from pipelines.integrity.reconcile_report import ReconcileReport
from schemas.common import iso_ms
from schemas.ids import source_stream, validate_source_id
from schemas.tables import CERTIFIED_TABLES, LOGGED_TABLE, TABLES

CERTIFICATE_FORMAT = "rc-archive/certificate/1"
SIGNATURE_ALGORITHM = "Ed25519"


class CertificateRefused(Exception):
    """The certificate cannot be used: `tampering` True for a bad signature (exit 3), False
    for a certificate or key that is the wrong input (exit 2)."""

    def __init__(self, message: str, *, tampering: bool) -> None:
        super().__init__(message)
        self.tampering = tampering


# -- keys ------------------------------------------------------------------------------------


def keygen(out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """A new Ed25519 key: private key PEM at `out` (mode 0600, never overwritten), public key
    PEM at `out` + `.pub`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path, public_path = Path(out), Path(f"{out}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; keys are never overwritten: pick another --out")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def load_private_key(path: str | os.PathLike[str]):
    """The Ed25519 private key of the PEM at `path` (unencrypted); CertificateRefused if not."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return _load_key(
        path,
        "--key",
        "an unencrypted Ed25519 private key PEM",
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        Ed25519PrivateKey,
    )


def load_public_key(path: str | os.PathLike[str]):
    """The Ed25519 public key of the PEM at `path`; CertificateRefused if not."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return _load_key(
        path,
        "--public-key",
        "an Ed25519 public key PEM",
        serialization.load_pem_public_key,
        Ed25519PublicKey,
    )


def _load_key(
    path: str | os.PathLike[str],
    option: str,
    expected: str,
    parse: Callable[[bytes], Any],
    key_type: type,
) -> Any:
    """`parse` of the file's bytes, refused (not as tampering: a person's mistake) when the
    file cannot be read or parsed, or holds another kind of key than `key_type`."""
    try:
        key = parse(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise CertificateRefused(
            f"{option} {path}: not {expected} ({type(exc).__name__})", tampering=False
        ) from None
    if not isinstance(key, key_type):
        raise CertificateRefused(f"{option} {path}: not an Ed25519 key", tampering=False)
    return key


def key_id(public_key) -> str:
    """SHA-256 of the raw 32-byte public key (hex): names the key in a certificate."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def canonical(body: dict[str, Any]) -> bytes:
    """The signed bytes: sorted keys, compact separators, UTF-8 (no ASCII escaping)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(body: dict[str, Any], private_key) -> dict[str, Any]:
    signature = private_key.sign(canonical(body))
    return {
        "certificate": body,
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_id": key_id(private_key.public_key()),
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }


def check_signature(signed: dict[str, Any], public_key) -> dict[str, Any]:
    """The body if the signature verifies with `public_key`; CertificateRefused otherwise."""
    from cryptography.exceptions import InvalidSignature

    try:
        body = signed["certificate"]
        signature = base64.b64decode(signed["signature"]["value"], validate=True)
        if signed["signature"].get("algorithm") != SIGNATURE_ALGORITHM:
            raise ValueError("algorithm")
        if body.get("format") != CERTIFICATE_FORMAT:
            raise ValueError("format")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CertificateRefused(
            f"not an rc-archive certificate ({CERTIFICATE_FORMAT} with an Ed25519 signature)",
            tampering=False,
        ) from None
    try:
        public_key.verify(signature, canonical(body))
    except InvalidSignature:
        raise CertificateRefused(
            "certificate signature does not verify with this public key (key "
            f"{key_id(public_key)[:16]}): the certificate was modified or signed by another key",
            tampering=True,
        ) from None
    return body


def load_certificate(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CertificateRefused(
            f"--certificate {path}: cannot be read as JSON ({type(exc).__name__})",
            tampering=False,
        ) from None


# -- the archive's identity -------------------------------------------------------------------


def ledger_genesis(ledger: Ledger, source_id: str) -> str | None:
    """The archive's identity as a certificate names it: the SHA-256 of the first manifest of
    the source's contents ledger (None before its first commit).

    Why not its place: a copy, a moved directory, a restore to another bucket or a replica is
    the same archive and must verify; a place says nothing of that. The first manifest is
    written once, chained to by every later one (the witness records it), and a new archive of
    the same source, begun anywhere, has another (its batch id is random, its commit time its
    own). So it names the archive wherever it is, and only it."""
    key = keys.manifest_key(LOGGED_TABLE, source_stream(source_id), 0)
    if not ledger.store.exists(key):
        return None
    return hashlib.sha256(ledger.store.get(key)).hexdigest()


def archive_uri(store: ObjectStore) -> str:
    """The archive's URI as a certificate names it: an absolute directory or s3://bucket/prefix."""
    if isinstance(store, LocalStore):
        return str(store.root)
    if isinstance(store, S3Store):
        return f"s3://{store.bucket}/{store.prefix}".rstrip("/")
    return store.describe()


# -- attest ------------------------------------------------------------------------------------


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` -> [first instant, first instant of the next month) in UTC."""
    try:
        year, month = (int(p) for p in period.split("-"))
        if len(period) != 7 or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"period {period!r} is not YYYY-MM, e.g. 2026-11") from None
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    assert (end - start).days == days
    return start, end


# Archived ids the API does not list, named in a certificate (the rest counted and hashed).
NOT_IN_API_NAMED = 100


def _ids_sha256(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def reconcile_fact(report: ReconcileReport, at: datetime) -> dict[str, Any]:
    """What a certificate says of a full reconciliation: counts, the missing ids by count and
    SHA-256 (the ids themselves can be long and are found again by `rc-archive reconcile`),
    so a later reader can tell the certified list from another one, and the archived ids the
    API does not list (`not_in_api`: invented messages; the first NOT_IN_API_NAMED named)."""
    not_in_api = sorted(report.not_in_api)
    return {
        "performed": True,
        "mode": report.mode,
        "at": iso_ms(at),
        "api_ids_checked": report.api_ids_checked,
        "archived_ids": report.archived_ids,
        "missing": len(report.missing),
        "missing_ids_sha256": _ids_sha256(report.missing),
        "disposed": report.disposed,
        "not_in_api": len(not_in_api),
        "not_in_api_ids": not_in_api[:NOT_IN_API_NAMED],
        "not_in_api_ids_sha256": _ids_sha256(not_in_api),
        "listing_complete": report.incomplete is None,
        "incomplete_reason": report.incomplete,
        "complete": report.ok,
    }


def no_reconcile(reason: str) -> dict[str, Any]:
    """The certificate's plain statement that it does not prove completeness against the API."""
    return {"performed": False, "reason": reason}


def attest(
    ledger: Ledger,
    source_id: str,
    period: str,
    private_key,
    *,
    reconcile: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign what the archive holds for one source (reads every committed file of it), with
    `reconcile` (from `reconcile_fact` or `no_reconcile`) as the API's side of the story."""
    source_id = validate_source_id(source_id)
    stream = source_stream(source_id)
    start, end = period_bounds(period)
    heads = {}
    for table in keys.LEDGER_TABLES:
        head = ledger.head(table, stream)
        if head is not None:
            heads[table] = {"seq": head.seq, "sha256": head.sha256}
    if LOGGED_TABLE not in heads:
        raise ValueError(f"source {source_id} has no {LOGGED_TABLE} ledger in this archive")
    log = read_log(ledger, source_id)
    if log.problems:
        key, problem = log.problems[0]
        raise ValueError(f"{key}: {problem}; run `rc-archive verify` before attesting")
    body = {
        "format": CERTIFICATE_FORMAT,
        "archive_uri": archive_uri(ledger.store),
        "ledger_genesis": ledger_genesis(ledger, source_id),
        "source_id": source_id,
        "period": period,
        "period_start": iso_ms(start),
        "period_end": iso_ms(end),
        "issued_at": iso_ms(now or datetime.now(UTC)),
        "tool_version": code_version(),
        "merkle": {
            "tree_size": log.size,
            "root": log.root().hex(),
            "leaves": "record_sha256 of each committed contents row in commit order",
            "hashing": "RFC 9162: leaf SHA-256(0x00||sha256 bytes), node SHA-256(0x01||l||r)",
        },
        "chain_heads": heads,
        "counts": counts(ledger, stream, start, end),
        "reconcile": reconcile or no_reconcile("not requested"),
    }
    return sign(body, private_key)


def _in_period(column: pa.ChunkedArray, start: datetime, end: datetime) -> pa.ChunkedArray:
    kind = column.type
    return pc.and_(
        pc.greater_equal(column, pa.scalar(start, kind)), pc.less(column, pa.scalar(end, kind))
    )


def _count(
    ledger: Ledger,
    table: str,
    stream: str,
    id_column: str | None,
    time_column: str,
    start: datetime,
    end: datetime,
    extra: tuple[str, ...] = (),
) -> tuple[dict[str, int], pa.Table | None]:
    entries = ledger.committed_files(table, stream)
    columns = [time_column] + ([id_column] if id_column else []) + list(extra)
    if not entries:
        zero = {"total": 0, "period": 0}
        return ({**zero, "total_rows": 0, "period_rows": 0} if id_column else zero), None
    data = ledger.read_table(entries, columns)
    in_period = data.filter(_in_period(data.column(time_column), start, end))
    if id_column is None:
        return {"total": data.num_rows, "period": in_period.num_rows}, in_period
    return {
        "total": pc.count_distinct(data.column(id_column)).as_py(),
        "period": pc.count_distinct(in_period.column(id_column)).as_py(),
        "total_rows": data.num_rows,
        "period_rows": in_period.num_rows,
    }, in_period


def _counted() -> tuple[str, ...]:
    names: list[str] = []
    for table in CERTIFIED_TABLES:
        names.append(TABLES[table].certified.name)  # type: ignore[union-attr]
        if table == LOGGED_TABLE:
            names.append("versions")
    return tuple(names)


# The counts a certificate holds, in the order its page (report.py) lists them: one per
# certified table (TableSchema.certified), the log's versions right after the log's table.
COUNTED: tuple[str, ...] = _counted()


def counts(ledger: Ledger, stream: str, start: datetime, end: datetime) -> dict[str, Any]:
    """What the source holds, live files only (compaction keeps the same rows): for each
    certified table (TableSchema.certified), its distinct ids (rows when it has no id column)
    with the declared time in the period and in total: contents and identities by
    creation_time, agents by archived_at (an agent has no creation time), quarantined records
    by quarantined_at. For the Merkle log's table (contents) also its versions (rows),
    `per_day` (versions per creation day) and `capture_lag`."""
    found: dict[str, Any] = {}
    period_rows = None
    day_column = TABLES[LOGGED_TABLE].certified.period_column  # type: ignore[union-attr]
    for table in CERTIFIED_TABLES:
        schema = TABLES[table]
        certified = schema.certified
        assert certified is not None
        logged = table == LOGGED_TABLE
        counted, rows = _count(
            ledger,
            table,
            stream,
            schema.id_column,
            certified.period_column,
            start,
            end,
            extra=("last_modified_time", "archived_at") if logged else (),
        )
        found[certified.name] = {"total": counted["total"], "period": counted["period"]}
        if logged:
            found["versions"] = {"total": counted["total_rows"], "period": counted["period_rows"]}
            period_rows = rows
    per_day: dict[str, int] = {}
    if period_rows is not None and period_rows.num_rows:
        days = pc.strftime(period_rows.column(day_column), format="%Y-%m-%d")
        for row in pc.value_counts(days).to_pylist():
            per_day[row["values"]] = row["counts"]
    return {
        **found,
        "per_day": dict(sorted(per_day.items())),
        "capture_lag": capture_lag(period_rows),
    }


# Upper bounds (seconds) of the capture-lag buckets a certificate counts, and their labels.
LAG_BUCKETS = ((60, "under 1 min"), (900, "1-15 min"), (3600, "15-60 min"), (86400, "1-24 h"))


def capture_lag(rows: pa.Table | None) -> dict[str, Any]:
    """How long versions of the period waited to be archived: archived_at minus the version's
    last_modified_time (when it came to be, so an edit counts from the edit), in seconds:
    median, 95th percentile, maximum, and counts per bucket (LAG_BUCKETS, then "over 24 h")."""
    if rows is None or rows.num_rows == 0:
        return {"versions": 0, "p50_seconds": None, "p95_seconds": None, "max_seconds": None}
    waited = pc.subtract(
        rows.column("archived_at").cast(pa.timestamp("ms", "UTC")),
        rows.column("last_modified_time").cast(pa.timestamp("ms", "UTC")),
    )
    seconds = pc.divide(waited.cast(pa.int64()).cast(pa.float64()), 1000.0)
    p50, p95 = pc.quantile(seconds, q=[0.5, 0.95]).to_pylist()
    buckets: dict[str, int] = {}
    lower = float("-inf")
    for upper, label in LAG_BUCKETS:
        inside = pc.and_(pc.greater_equal(seconds, lower), pc.less(seconds, upper))
        buckets[label] = pc.sum(inside.cast(pa.int64())).as_py() or 0
        lower = upper
    buckets["over 24 h"] = pc.sum(pc.greater_equal(seconds, lower).cast(pa.int64())).as_py() or 0
    return {
        "versions": rows.num_rows,
        "p50_seconds": round(p50, 3),
        "p95_seconds": round(p95, 3),
        "max_seconds": round(pc.max(seconds).as_py(), 3),
        "buckets": buckets,
    }


# -- verify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateCheck:
    body: dict[str, Any]
    findings: list[Finding]
    tree_size: int  # today's
    consistency_proof: list[str]  # hex, from the certified tree to today's

    @property
    def ok(self) -> bool:
        return not self.findings


def check_archive_matches(body: dict[str, Any], ledger: Ledger) -> None:
    """Refuse a certificate of another archive. A certificate names its archive by the ledger
    genesis of its source (`ledger_genesis`), so it verifies on a copy, a moved directory, a
    restore or a replica; one issued before it carried that is matched by its place."""
    certified = body.get("ledger_genesis")
    if certified is None:
        here = archive_uri(ledger.store)
        if body.get("archive_uri") != here:
            raise CertificateRefused(
                f"certificate is for archive {body.get('archive_uri')}, not {here}: set "
                "ARCHIVE_URI to the certified archive (a certificate issued before release "
                "0.3 names its archive by place; `rc-archive attest` issues one that names it "
                "by its ledger and verifies on copies and replicas)",
                tampering=False,
            )
        return
    source_id = validate_source_id(body.get("source_id", ""))
    here = ledger_genesis(ledger, source_id)
    if here != certified and body.get("archive_uri") == archive_uri(ledger.store):
        return  # the certified archive itself, its ledger deleted or rewritten: tampering,
        # which the checks report (certified_changed), not "another archive"
    if here != certified:
        found = "has no ledger of that source" if here is None else f"began with {here[:16]}…"
        raise CertificateRefused(
            f"certificate is for archive {body.get('archive_uri')} (the ledger of source "
            f"{source_id} that began with manifest {certified[:16]}…); the archive at "
            f"{archive_uri(ledger.store)} {found}: set ARCHIVE_URI to the certified archive, or "
            "to a copy of it",
            tampering=False,
        )


def verify_certificate(ledger: Ledger, signed: dict[str, Any], public_key) -> CertificateCheck:
    """Does the archive still hold what the certificate certified? Raises CertificateRefused
    for a signature that does not verify or a certificate of another archive; returns
    `certified_changed` findings for every certified fact the archive no longer holds, and
    `not_in_api` when the certified reconciliation found archived ids the API does not list."""
    body = check_signature(signed, public_key)
    check_archive_matches(body, ledger)
    source_id = validate_source_id(body["source_id"])
    stream = source_stream(source_id)
    findings: list[Finding] = []

    def changed(key: str, detail: str) -> None:
        findings.append(Finding("certified_changed", key, detail))

    certified_size = int(body["merkle"]["tree_size"])
    certified_root = bytes.fromhex(body["merkle"]["root"])
    log: SourceLog = read_log(ledger, source_id)
    for key, problem in log.problems:
        changed(key, problem)
    proof: list[bytes] = []
    where = keys.ledger_prefix(LOGGED_TABLE, stream)
    if log.size < certified_size:
        changed(
            where,
            f"the source's log has {log.size} record versions, fewer than the "
            f"{certified_size} certified: certified versions were removed",
        )
    else:
        proof = merkle.consistency_proof(log.leaves, certified_size)
        today = log.root()
        if not merkle.verify_consistency(certified_size, log.size, certified_root, today, proof):
            changed(
                where,
                f"the first {certified_size} record versions no longer hash to the certified "
                f"root {body['merkle']['root'][:16]}…: certified versions were changed",
            )
    for table, head in sorted(body["chain_heads"].items()):
        key = keys.manifest_key(table, stream, int(head["seq"]))
        try:
            data = ledger.store.get(key)
        except Exception:  # noqa: BLE001 (missing local file, S3 NoSuchKey)
            changed(key, f"certified head of {table} (seq {head['seq']}) is gone")
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha != head["sha256"]:
            changed(key, f"certified head of {table} had sha256 {head['sha256']}, now {sha}")
    findings.extend(certified_not_in_api(body, where))
    return CertificateCheck(body, findings, log.size, [p.hex() for p in proof])


def certified_not_in_api(body: dict[str, Any], where: str) -> list[Finding]:
    """`not_in_api`: the certified reconciliation found content ids in the archive that the
    API does not list. RingCentral keeps listing a message deleted on its channel
    (`remotelyDeleted`), and a disposition's ids do not count, so such an id is a message
    that was never on RingCentral: appended to the archive, not archived from the API."""
    fact = body.get("reconcile") or {}
    count = int(fact.get("not_in_api") or 0) if fact.get("performed") else 0
    if not count:
        return []
    named = ", ".join(fact.get("not_in_api_ids") or [])
    more = count - len(fact.get("not_in_api_ids") or [])
    return [
        Finding(
            "not_in_api",
            where,
            f"the certified reconciliation at {fact.get('at')} found {count} content id(s) in the "
            f"archive that the API does not list: {named}"
            + (f" and {more} more" if more > 0 else "")
            + " (messages RingCentral never had)",
        )
    ]
