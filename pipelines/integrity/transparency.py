"""Each source's log as a standard transparency log: signed checkpoints, cosigned by
witnesses a third party runs, kept in the archive, checked by `verify`, proven per version.

Why: the certificate and the witness store (pipelines/integrity/witness.py) are ours; an
examiner has to trust our formats and our verifier. A checkpoint in the C2SP signed-note format
(c2sp.org/tlog-checkpoint: origin `<ARCHIVE_LOG_NAME>/<source id>`, tree size, root hash,
signed with the archive's Ed25519 attestation key) is checkable with any C2SP tool; a cosigning
witness (`rc-archive witness serve`, run by someone the pipeline's credentials cannot reach)
signs it only when it extends the last one it saw (RFC 9162 consistency proof), so history
rewritten by whoever holds the archive's keys shows as a fork or a rollback the witnesses
refused. The archive keeps each cosigned checkpoint as a write-once object:

    _transparency/<stream>/<YYYY-MM>/<tree size:020d>-<UTC time>.checkpoint

Cost: publishing or checking a checkpoint reads the source's whole log (every committed contents
file, two columns: pipelines/integrity/log.py) once; nothing on the commit path does. Finding the
newest checkpoint lists the source's month folders and the files of the newest month only, so
it does not grow with the number of checkpoints ever published.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.archive import keys, merkle
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectStore
from pipelines.archive.verify import NOT_TAMPERING, Finding
from pipelines.integrity.cosigning_witness import (
    Conflict,
    WitnessError,
    origin_hash,
    submit_checkpoint,
)
from pipelines.integrity.log import SourceLog, read_log
from pipelines.integrity.signed_note import (
    COSIGNATURE_V1,
    NoteError,
    Signer,
    Verifier,
    add_signatures,
    parse_vkey,
    sign_note,
    split_note,
)
from pipelines.integrity.tlog import (
    Checkpoint,
    CheckpointError,
    QuorumError,
    TlogProof,
    format_tlog_proof,
    parse_checkpoint,
    verify_witnessed_checkpoint,
)
from schemas.contents_vocabulary import CONTENTS_TRANSPORT
from schemas.ids import source_id_of_stream, source_stream
from schemas.version_identity import VersionIdentity

AREA = keys.TRANSPARENCY_ROOT
SUFFIX = ".checkpoint"
NOTE_TYPE = "text/plain; charset=utf-8"
PROOFS_DIR = "proofs"
CONTENTS = "contents"
_IDENTITY = VersionIdentity(CONTENTS_TRANSPORT)


class TransparencyError(ValueError):
    """A checkpoint cannot be published or used (one line: which source, which witness, why)."""


@dataclass(frozen=True)
class Cosigner:
    """A witness the archive asks to cosign (`url`) and whose cosignature verify requires."""

    verifier: Verifier
    url: str | None

    @property
    def name(self) -> str:
        return self.verifier.name


def parse_cosigners(entries: Iterable[tuple[str, str | None]], where: str) -> list[Cosigner]:
    """The witnesses of ARCHIVE_COSIGNERS (`<vkey>[@<url>]` entries, parsed into pairs by the
    settings); a vkey that is not a cosignature/v1 key names the entry."""
    cosigners = []
    for vkey, url in entries:
        try:
            verifier = parse_vkey(vkey)
        except ValueError as exc:
            raise TransparencyError(f"{where}: {vkey[:40]!r}: {exc}") from None
        if verifier.sig_type != COSIGNATURE_V1:
            raise TransparencyError(
                f"{where}: {verifier.name} is not a witness key (cosignature/v1; `rc-archive "
                "witness keygen` prints one)"
            )
        cosigners.append(Cosigner(verifier, url))
    return cosigners


def origin(log_name: str, source_id: str) -> str:
    return f"{log_name}/{source_id}"


def checkpoint_key(source_id: str, size: int, at: datetime) -> str:
    at = at.astimezone(UTC)
    stamp = at.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{AREA}/{source_stream(source_id)}/{at:%Y-%m}/{size:020d}-{stamp}{SUFFIX}"


@dataclass(frozen=True)
class StoredCheckpoint:
    key: str
    note: str
    checkpoint: Checkpoint


def newest_checkpoint(store: ObjectStore, source_id: str) -> StoredCheckpoint | None:
    """The largest (then latest) checkpoint the archive keeps of the source: one LIST of its
    month folders, one of the newest month that holds a checkpoint."""
    prefix = f"{AREA}/{source_stream(source_id)}/"
    for month in sorted(store.list_folders(prefix), reverse=True):
        names = sorted(k for k in store.list(f"{prefix}{month}/") if k.endswith(SUFFIX))
        if names:
            note = store.get(names[-1]).decode("utf-8")
            text, _ = split_note(note)
            return StoredCheckpoint(names[-1], note, parse_checkpoint(text))
    return None


def _tree(ledger: Ledger, source_id: str, wanted: frozenset[str] = frozenset()) -> SourceLog:
    log = read_log(ledger, source_id, wanted=wanted)
    if log.problems:
        key, problem = log.problems[0]
        raise TransparencyError(f"source {source_id}: {key}: {problem}; run `rc-archive verify`")
    return log


@dataclass(frozen=True)
class Published:
    source_id: str
    checkpoint: Checkpoint
    note: str
    key: str | None  # None: the archive already held a checkpoint of this tree
    cosigned_by: tuple[str, ...]


def publish_checkpoint(
    ledger: Ledger,
    source_id: str,
    signer: Signer,
    cosigners: list[Cosigner],
    quorum: int,
    *,
    timeout: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Published:
    """Sign the source's checkpoint, have each witness with a URL cosign it (from the size it
    last cosigned: a 409 names it, and the proof is recomputed from there), and store it once
    `quorum` cosigned. A witness that cosigned more versions than the archive holds is named:
    history was removed. Nothing is stored when the quorum is not met."""
    log = _tree(ledger, source_id)
    tree = merkle.MerkleTree(log.leaves)
    checkpoint = Checkpoint(origin(signer.name, source_id), tree.size, tree.root())
    note = sign_note(checkpoint.text(), [signer])
    previous = newest_checkpoint(ledger.store, source_id)
    start = previous.checkpoint.size if previous and previous.checkpoint.size <= tree.size else 0
    lines: list[str] = []
    failures: list[str] = []
    for cosigner in cosigners:
        if not cosigner.url:
            continue
        try:
            lines += _cosign(cosigner, tree, start, note, timeout)
        except TransparencyError as exc:
            failures.append(str(exc))
    cosigned_note = add_signatures(note, lines) if lines else note
    try:
        witnessed = verify_witnessed_checkpoint(
            cosigned_note, signer.verifier(), [c.verifier for c in cosigners], quorum
        )
    except QuorumError as exc:
        raise TransparencyError(f"source {source_id}: {exc}; {'; '.join(failures)}") from None
    if previous and previous.checkpoint == checkpoint and previous.note == cosigned_note:
        return Published(source_id, checkpoint, cosigned_note, None, ())
    key = checkpoint_key(source_id, tree.size, clock())
    ledger.store.put(key, cosigned_note.encode("utf-8"), content_type=NOTE_TYPE)
    names = tuple(w.name for w in witnessed.witnesses)
    return Published(source_id, checkpoint, cosigned_note, key, names)


def _cosign(
    cosigner: Cosigner, tree: merkle.MerkleTree, start: int, note: str, timeout: float
) -> list[str]:
    old = start
    for _ in range(2):  # the size we know, then the one the witness names
        try:
            return submit_checkpoint(
                cosigner.url,
                old,
                tree.consistency_proof(old),
                note,
                timeout=timeout,
                witness=cosigner.verifier,
            )
        except Conflict as conflict:
            if conflict.current_size > tree.size:
                raise TransparencyError(
                    f"witness {cosigner.name} has cosigned {conflict.current_size} versions of "
                    f"this log; the archive holds {tree.size}: history was removed"
                ) from None
            if conflict.current_size == old:
                break
            old = conflict.current_size
        except WitnessError as exc:
            raise TransparencyError(f"witness {cosigner.name}: {exc}") from None
    raise TransparencyError(f"witness {cosigner.name} refused the checkpoint (size {old})")


def log_verifier(log_name: str, public_key: Any) -> Verifier:
    """The note verifier of the archive's logs: the attestation public key under the log
    name (what an examiner is given as `--log-key`)."""
    from pipelines.integrity.signed_note import verifier_from_ed25519

    return verifier_from_ed25519(log_name, public_key)


def check_checkpoints(
    ledger: Ledger,
    log: Verifier,
    cosigners: list[Cosigner],
    quorum: int,
    *,
    timeout: float = 10.0,
) -> list[Finding]:
    """verify's findings on the cosigned checkpoints: for each source, the newest checkpoint
    the archive keeps must carry the log's signature and `quorum` cosignatures, and the
    archive's log must still hold its tree (not fewer versions, the same root). Each witness
    with a URL is also asked for the newest checkpoint it cosigned, so deleting the archive's
    own copies hides nothing. Reads each source's log once."""
    findings: list[Finding] = []
    for stream in ledger.streams(CONTENTS):
        source_id = source_id_of_stream(stream)
        if source_id is None:
            continue
        claims = _witnessed_claims(origin(log.name, source_id), log, cosigners, timeout)
        stored = newest_checkpoint(ledger.store, source_id)
        if stored is not None:
            try:
                verify_witnessed_checkpoint(
                    stored.note, log, [c.verifier for c in cosigners], quorum
                )
                claims.append((stored.key, stored.checkpoint))
            except QuorumError as exc:
                findings.append(Finding("cosign_quorum", stored.key, str(exc)))
            except (NoteError, CheckpointError) as exc:
                findings.append(Finding("checkpoint_forged", stored.key, str(exc)))
            else:
                if stored.checkpoint.origin != origin(log.name, source_id):
                    findings.append(
                        Finding(
                            "checkpoint_forged", stored.key, f"origin {stored.checkpoint.origin}"
                        )
                    )
        elif not claims:
            where = f"{AREA}/{stream}/"
            findings.append(Finding("not_cosigned", where, NOT_TAMPERING["not_cosigned"]))
        if claims:
            findings += _tree_findings(ledger, source_id, claims)
    return findings


def _witnessed_claims(
    log_origin: str, log: Verifier, cosigners: list[Cosigner], timeout: float
) -> list[tuple[str, Checkpoint]]:
    """The newest checkpoint each reachable witness cosigned for `log_origin`, kept when the
    log signed it and that witness's cosignature verifies (an unreachable witness adds
    nothing: the archive's own copy is still checked)."""
    import httpx

    claims = []
    for cosigner in cosigners:
        if not cosigner.url:
            continue
        url = f"{cosigner.url.rstrip('/')}/{origin_hash(log_origin)}/checkpoint"
        try:
            response = httpx.get(url, timeout=timeout)
        except httpx.HTTPError:
            continue
        if response.status_code != 200:
            continue
        try:
            witnessed = verify_witnessed_checkpoint(response.text, log, [cosigner.verifier], 1)
        except (NoteError, CheckpointError, QuorumError):
            continue
        if witnessed.checkpoint.origin == log_origin:
            claims.append((f"witness {cosigner.name}", witnessed.checkpoint))
    return claims


def _tree_findings(
    ledger: Ledger, source_id: str, claims: list[tuple[str, Checkpoint]]
) -> list[Finding]:
    """rolled_back / checkpoint_mismatch for each cosigned tree the archive's log does not
    hold (the largest first: a log that holds it holds every smaller consistent one)."""
    tree = _tree(ledger, source_id)
    findings = []
    seen: set[tuple[int, bytes]] = set()
    for where, checkpoint in sorted(claims, key=lambda c: -c[1].size):
        if (checkpoint.size, checkpoint.root) in seen:
            continue
        seen.add((checkpoint.size, checkpoint.root))
        if tree.size < checkpoint.size:
            detail = (
                f"{checkpoint.size} versions were cosigned; the archive's log holds {tree.size}"
            )
            findings.append(Finding("rolled_back", where, detail))
        elif merkle.MerkleTree(tree.leaves, checkpoint.size).root() != checkpoint.root:
            detail = f"the first {checkpoint.size} versions no longer hash to the cosigned root"
            findings.append(Finding("checkpoint_mismatch", where, detail))
    return findings


# -- proofs in a production ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProducedVersion:
    content_id: str
    source_id: str
    record_sha256: str
    raw_json: str | None


@dataclass(frozen=True)
class ProofSummary:
    proven: int
    unproven: int
    sources: int
    files: tuple[Path, ...]


def transport_paths(raw_json: str | None, stored_sha256: str) -> list[str] | None:
    """The transport paths the stored hash left out: the declared ones for a version hashed
    under the version identity, none for one stored as served (before that rule, the record
    hash of the whole record); None when neither reproduces it."""
    if raw_json is None:
        return None
    record = json.loads(raw_json)
    if _IDENTITY.sha256(record) == stored_sha256:
        return [t.path for t in _IDENTITY.transport]
    if VersionIdentity(()).sha256(record) == stored_sha256:
        return []
    return None


def write_proofs(
    out_dir: Path,
    versions: list[ProducedVersion],
    ledger: Ledger,
    certificates: Iterable[Path] = (),
) -> ProofSummary:
    """proofs/ of a production: per version a c2sp.org/tlog-proof against the source's newest
    cosigned checkpoint (`<source>/<record_sha256>.tlog-proof`), `versions.jsonl` tying each
    produced version to its proof and its exact text, the checkpoints, and `unproven.jsonl`
    naming each version no checkpoint covers yet and why (`rc-archive cosign` covers it), and
    a copy of each signed certificate given (`certificates/`)."""
    root = out_dir / PROOFS_DIR
    root.mkdir()
    written: list[Path] = []
    for certificate in certificates:
        copy = root / "certificates" / certificate.name
        copy.parent.mkdir(exist_ok=True)
        if copy.exists():
            raise TransparencyError(f"two certificates named {certificate.name}")
        copy.write_bytes(certificate.read_bytes())
        written.append(copy)
    lines: list[dict[str, Any]] = []
    unproven: list[dict[str, Any]] = []
    by_source: dict[str, list[ProducedVersion]] = {}
    for version in versions:
        by_source.setdefault(version.source_id, []).append(version)
    for source_id, produced in sorted(by_source.items()):
        stored = newest_checkpoint(ledger.store, source_id)
        if stored is None:
            unproven += [_unproven(v, "no cosigned checkpoint of the source") for v in produced]
            continue
        size = stored.checkpoint.size
        log = _tree(ledger, source_id, frozenset(v.record_sha256 for v in produced))
        tree = merkle.MerkleTree(log.leaves, min(size, log.size))
        if log.size < size or tree.root() != stored.checkpoint.root:
            raise TransparencyError(
                f"source {source_id}: the archive no longer holds the tree of its checkpoint "
                f"{stored.key}; run `rc-archive verify`"
            )
        folder = root / _safe(source_id)
        folder.mkdir()
        checkpoint_path = root / "checkpoints" / f"{_safe(source_id)}{SUFFIX}"
        checkpoint_path.parent.mkdir(exist_ok=True)
        checkpoint_path.write_text(stored.note, encoding="utf-8")
        written.append(checkpoint_path)
        for version in produced:
            index = log.found.get(version.record_sha256)
            if index is None or index >= size:
                unproven.append(_unproven(version, "archived after the newest checkpoint"))
                continue
            path = folder / f"{version.record_sha256}.tlog-proof"
            if not path.exists():
                proof = TlogProof(index, tuple(tree.inclusion_proof(index)), stored.note)
                path.write_text(format_tlog_proof(proof), encoding="utf-8")
                written.append(path)
            lines.append(
                {
                    "content_id": version.content_id,
                    "source_id": source_id,
                    "record_sha256": version.record_sha256,
                    "raw_json": version.raw_json,
                    "transport": transport_paths(version.raw_json, version.record_sha256),
                    "proof": path.relative_to(out_dir).as_posix(),
                }
            )
    for name, rows in (("versions.jsonl", lines), ("unproven.jsonl", unproven)):
        path = root / name
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return ProofSummary(len(lines), len(unproven), len(by_source), tuple(written))


def _unproven(version: ProducedVersion, reason: str) -> dict[str, Any]:
    return {
        "content_id": version.content_id,
        "source_id": version.source_id,
        "record_sha256": version.record_sha256,
        "reason": reason,
    }


def _safe(source_id: str) -> str:
    """A source id as a folder name (ids are URL-safe; anything else is replaced)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in source_id)
