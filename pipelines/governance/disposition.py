"""`rc-archive disposition --execute`: delete what retention allows, and nothing else.

Per source with eligible files (pipelines/governance/retention.py), a live contents file is
disposed of only when neither it nor any compacted input behind it is held by a matter, and
the store would let every one of those objects go now (`store.lock_of`: no legal hold, no
Object Lock retention date ahead). The rest is reported with the reason and kept. What is
disposed of is first recorded write-once in the source's hash chain (pipelines/archive/
disposal.py), then deleted; an object the server still refuses is reported, and `verify`
lists it as `disposal_incomplete` until a later run deletes it. Disposition manifests of
earlier runs with objects still stored are finished the same way.

Holds are read from the hold records and their journal (`HoldRegister`): a record deleted from
the archive still holds from the journal's copy, and when the audit finds tampering (a record
gone or edited, the journal broken, or against the witness the ledger was built with) nothing
is deleted (`HoldsTampered`, exit 3). The retention class applied is recorded with each
disposition (`terms`), and an earlier disposition is finished only if it keeps the rule that
`verify` holds every disposition to (pipelines/archive/disposal.py, `rule_findings`).

Cost: for each source with eligible files, every manifest of its contents ledger (the objects
behind a compacted file are named only by the compactions that made it) and one HEAD per
object; for every source, one LIST of its dispositions and an existence check per object they
recorded; every hold record and journal entry once. A person runs this once per period, never
a run.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.disposal import (
    commit_disposition,
    compacted_inputs,
    dispose_objects,
    disposition_terms,
    dispositions,
    objects_behind,
    rule_findings,
)
from pipelines.archive.ledger import Ledger, Manifest
from pipelines.governance.chained_log import current_user
from pipelines.governance.holds import HoldRegister, HoldsTampered, adopt_legacy_holds
from pipelines.governance.retention import (
    ClassifiedFile,
    RetentionPolicy,
    classify_files,
    held_keys,
)
from pipelines.settings import Settings
from schemas.common import iso_ms
from schemas.ids import source_id_of_stream, source_stream

TABLE = "contents"


@dataclass(frozen=True)
class DispositionOutcome:
    source_id: str
    key: str  # the live file (or, for `finished`, the object)
    rows: int
    objects: int  # objects deleted with it: the file and the compacted inputs behind it
    result: str  # deleted | held | locked: ... | refused: ... | finished


def execute_disposition(
    ledger: Ledger,
    policy: RetentionPolicy,
    as_of: datetime,
    source_types: dict[str, str | None],
    *,
    reason: str,
    settings: Settings,
    run_id: str,
) -> list[DispositionOutcome]:
    """Dispose of every eligible file as of `as_of` (not after now: retention is counted to
    a day that has come). Returns one outcome per eligible or held file and per finished
    object (files still retained are not listed). Recorded as `settings.user` (else the
    operating-system user); the hold journal's adoption entry is witnessed as `settings` says."""
    if as_of > datetime.now(UTC):
        raise ValueError(f"--as-of {as_of:%Y-%m-%d} is in the future: nothing can be disposed of")
    audit = HoldRegister(ledger.store, witness=ledger.witness)  # read once for every use below
    if audit.tampering:
        first = audit.tampering[0]
        kinds = ", ".join(sorted({f.kind for f in audit.tampering}))
        raise HoldsTampered(
            f"refused, nothing deleted: the hold records are not intact ({len(audit.tampering)} "
            f"finding(s): {kinds}; e.g. {first.kind}: {first.key}); run `rc-archive hold verify`"
        )
    if any(f.kind == "holds_legacy" for f in audit.findings):
        adopt_legacy_holds(ledger.store, settings)  # from now on, each is tampering to delete
    held = held_keys(ledger.store, audit)
    eligible: dict[str, list[ClassifiedFile]] = defaultdict(list)
    outcomes: list[DispositionOutcome] = []
    for found in classify_files(ledger, policy, as_of, source_types, held):
        if found.status == "eligible":
            eligible[found.source_id].append(found)
        elif found.status == "held":  # past retention or not, a held file is listed as kept
            outcomes.append(_outcome(found.source_id, found, 1, "held"))
    user, user_from = current_user(settings.user)
    for stream in ledger.streams(TABLE):
        source_id = source_id_of_stream(stream)
        if source_id is not None:
            earlier = dispositions(ledger, TABLE, stream)
            outcomes += _finish_earlier(ledger, source_id, earlier, audit, policy)
    for source_id, files in sorted(eligible.items()):
        stream = source_stream(source_id)
        produced_by = compacted_inputs(ledger, TABLE, stream)
        chosen, objects = [], []
        for found in files:
            behind = objects_behind(found.entry, produced_by)
            refusal = _refusal(ledger, behind, held)
            if refusal is not None:
                outcomes.append(_outcome(source_id, found, len(behind), refusal))
                continue
            chosen.append((found, behind))
            objects += behind
        if not chosen:
            continue
        terms = {
            "as_of": iso_ms(as_of),
            "retention": {
                "source_id": source_id,
                "source_type": source_types.get(source_id),
                "years": files[0].retention_years,
                "policy": policy.to_json(),
            },
        }
        commit_disposition(
            ledger,
            TABLE,
            stream,
            [found.entry for found, _ in chosen],
            objects,
            as_of=iso_ms(as_of),
            user=user,
            user_from=user_from,
            reason=reason,
            run_id=run_id,
            terms=terms,
        )
        refused = dispose_objects(ledger.store, objects)
        for found, behind in chosen:
            problems = [refused[o.key] for o in behind if refused[o.key] is not None]
            result = f"refused: {problems[0]}" if problems else "deleted"
            outcomes.append(_outcome(source_id, found, len(behind), result))
        ledger.write_checkpoint(TABLE, stream)
    return outcomes


def _refusal(ledger: Ledger, behind: list[FileEntry], held: set[str]) -> str | None:
    """Why a file must stay: a hold on it or on an input behind it, or a lock the store
    would enforce."""
    if any(entry.key in held for entry in behind):
        return "held"
    lock_of = getattr(ledger.store, "lock_of", None)
    for entry in behind:
        lock = lock_of(entry.key) if lock_of is not None else None
        if lock is not None:
            return f"locked: {lock}"
    return None


def _finish_earlier(
    ledger: Ledger,
    source_id: str,
    dispositions: list[Manifest],
    audit: HoldRegister,
    policy: RetentionPolicy,
) -> list[DispositionOutcome]:
    """Delete what earlier disposition manifests recorded but left stored (a crash, or a
    refusal that has since ended), unless the manifest breaks the disposition rule (one
    written by hand: its objects stay and are listed as refused)."""
    outcomes = []
    for manifest in dispositions:
        left = [o for o in manifest.disposal.objects if ledger.store.exists(o.key)]
        if not left:
            continue
        hashes = manifest.disposal.hashes
        data = ledger.store.get(hashes.key) if ledger.store.exists(hashes.key) else b""
        intact = hashlib.sha256(data).hexdigest() == hashes.sha256
        terms = disposition_terms(data) if intact else None
        broken = rule_findings(manifest, terms, audit.held_at, policy.shortest_years_for)
        if broken:
            kind, detail = broken[0]
            result = f"refused: {manifest.key} breaks the disposition rule ({kind}: {detail})"
            outcomes += [DispositionOutcome(source_id, o.key, o.rows, 1, result) for o in left]
            continue
        for key, problem in dispose_objects(ledger.store, left).items():
            result = "finished" if problem is None else f"refused: {problem}"
            rows = next(o.rows for o in left if o.key == key)
            outcomes.append(DispositionOutcome(source_id, key, rows, 1, result))
    return outcomes


def _outcome(
    source_id: str, found: ClassifiedFile, objects: int, result: str
) -> DispositionOutcome:
    return DispositionOutcome(source_id, found.entry.key, found.entry.rows, objects, result)
