"""`rc-archive review rescan`: apply a new (or changed) policy to the messages archived before it.

Runs apply policies only to the versions they archive, so a policy added today would never see
last year's messages. A re-scan reads every live contents file of each source (a deliberate
full pass, run once when a policy is added, never by a run), applies the chosen policies to
every version, and commits the hits as a `flags`-only batch in the source's contents ledger,
like a run's: write-once, in the hash chain, seen by the views at the next catalog build. The
cursor of the batch is the head's (a re-scan fetches nothing). A flag's record hash is fixed by
the version, the policy and the match, and the ledger drops rows it already holds, so running a
re-scan again, or a run flagging the same version, never makes a second flag.

Memory: one contents file at a time plus the flags found.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipelines.archive.exact_keys import key_of
from pipelines.archive.ledger import Ledger
from pipelines.archive.parquet import parquet_to_table
from pipelines.governance.policies import FLAGS_SCHEMA, PolicyError, PolicySet, flag_contents
from schemas.ids import source_id_of_stream, source_stream

TABLE = "contents"


@dataclass(frozen=True)
class RescanResult:
    source_id: str
    files: int
    versions: int
    flags_found: int
    flags_committed: int  # found minus those the ledger already held


def choose_policies(policies: PolicySet, names: list[str] | None) -> PolicySet:
    """The named policies of the file (all of them without names); an unknown name is an
    error that lists the known ones."""
    if not names:
        return policies
    known = {policy.name: policy for policy in policies.policies}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PolicyError(
            f"no policy named {', '.join(unknown)} in the policies file (it has "
            f"{', '.join(sorted(known)) or 'none'})"
        )
    return PolicySet(tuple(known[name] for name in names))


def rescan(
    ledger: Ledger, policies: PolicySet, run_id: str, source_ids: list[str] | None = None
) -> list[RescanResult]:
    """Flag every live version of each source (or the given ones) with `policies`."""
    streams = [source_stream(s) for s in source_ids] if source_ids else ledger.streams(TABLE)
    results = []
    for stream in streams:
        source_id = source_id_of_stream(stream)
        if source_id is None:
            continue
        files = ledger.committed_files(TABLE, stream)
        found: list[pa.Table] = []
        versions = 0
        for entry in files:
            contents = parquet_to_table(ledger.store.get(entry.key))
            versions += contents.num_rows
            flags = flag_contents(policies, contents)
            if flags.num_rows:
                found.append(flags)
        flags = pa.concat_tables(found) if found else FLAGS_SCHEMA.empty_table()
        committed = commit_flags(ledger, stream, flags, run_id)
        results.append(RescanResult(source_id, len(files), versions, flags.num_rows, committed))
    return results


def commit_flags(ledger: Ledger, stream: str, flags: pa.Table, run_id: str) -> int:
    """Commit the flags the stream does not hold yet as a flags-only batch at the head's
    cursor; the number committed (no empty manifest when every flag is there already)."""
    held = ledger.committed_digests(TABLE, stream, "flags").contains(
        [key_of(d) for d in flags.column("record_sha256").to_pylist()]
    )
    new = flags.filter(pa.array([not h for h in held], pa.bool_()))
    if not new.num_rows:
        return 0
    head = ledger.head(TABLE, stream)
    manifest = ledger.commit_batch(
        TABLE, stream, {"flags": new}, cursor=dict(head.cursor), run_id=run_id
    )
    return sum(e.rows for e in manifest.files if e.table == "flags")
