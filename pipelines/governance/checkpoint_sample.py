"""A supervision sample whose seed is a cosigned checkpoint: anyone can recompute it.

A sample drawn from a seed the firm picks can be steered: pick another seed until the
awkward messages fall outside it. Here the seed is SHA-256 of a checkpoint's body (origin,
tree size, root hash), a value nobody knew before the checkpoint was signed and cosigned, and
that the witnesses have fixed since. The sampled versions are the agent (outbound) versions of
the first `size` leaves of the source's log whose draw

    first 64 bits of SHA-256(seed || record_sha256 as 32 bytes)  <  rate x 2^64

holds. An examiner with the checkpoint and the versions (an export, an examiner kit) recomputes
the draw with any SHA-256, or in DuckDB (docs/governance.md, "A sample anyone can recompute").

The sample is committed as flags (kind `sample`, `matched` naming the checkpoint) in the
source's contents ledger, like `review rescan`'s: write-once, in the hash chain, a second run
with the same checkpoint commits nothing new.

Cost: one pass over the source's committed contents files in leaf order (the columns flags
need), the same pass the Merkle log makes; the tree's root is recomputed on the way and must
equal the checkpoint's, so a sample is never drawn from a checkpoint of another history.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa

from pipelines.archive import merkle
from pipelines.archive.ledger import Ledger
from pipelines.governance.policies import (
    FLAGGED_COLUMNS,
    FLAGS_SCHEMA,
    Policy,
    PolicySet,
    flag_contents,
)
from pipelines.governance.rescan import commit_flags
from pipelines.integrity.log import leaf_parts
from pipelines.integrity.tlog import Checkpoint
from schemas.ids import source_stream

DEFAULT_POLICY = "checkpoint-sample"


class SampleError(ValueError):
    """The checkpoint cannot seed a sample of this archive (another history, another source,
    a tree the archive does not hold); one line."""


def sample_seed(checkpoint: Checkpoint) -> bytes:
    """SHA-256 of the checkpoint's body text (UTF-8)."""
    return hashlib.sha256(checkpoint.text().encode("utf-8")).digest()


def checkpoint_label(checkpoint: Checkpoint) -> str:
    """What each sampled flag's `matched` says: the checkpoint that seeded it."""
    return f"{checkpoint.origin} {checkpoint.size} {checkpoint.text().splitlines()[2]}"


def source_of(checkpoint: Checkpoint, log_name: str) -> str:
    """The source id of a checkpoint of this archive's logs (`<log name>/<source id>`)."""
    prefix = f"{log_name}/"
    if not checkpoint.origin.startswith(prefix) or len(checkpoint.origin) == len(prefix):
        raise SampleError(
            f"checkpoint origin {checkpoint.origin!r} is not a log of this archive "
            f"(its logs are {prefix}<source id>; see ARCHIVE_LOG_NAME)"
        )
    return checkpoint.origin[len(prefix) :]


@dataclass(frozen=True)
class SampleResult:
    source_id: str
    tree_size: int
    agent_versions: int  # outbound versions within the tree
    sampled: int
    committed: int  # sampled minus those the ledger already held


def checkpoint_sample(
    ledger: Ledger,
    checkpoint: Checkpoint,
    log_name: str,
    rate: float,
    run_id: str,
    policy_name: str = DEFAULT_POLICY,
) -> SampleResult:
    """Draw and commit the sample the checkpoint seeds (see the module docstring)."""
    if not 0 < rate <= 1:
        raise SampleError(f"sample rate {rate!r}: expected a number above 0, at most 1")
    source_id = source_of(checkpoint, log_name)
    policy = Policy(
        name=policy_name,
        applies_to="agent",
        sample_rate=rate,
        seed=sample_seed(checkpoint),
        seed_label=checkpoint_label(checkpoint),
    )
    policies = PolicySet((policy,))
    frontier = merkle.Frontier()
    problems: list[tuple[str, str]] = []
    found: list[pa.Table] = []
    agent_versions = 0
    for _, part in leaf_parts(ledger, source_id, FLAGGED_COLUMNS, problems):
        remaining = checkpoint.size - frontier.size
        if remaining <= 0:
            break
        part = part.slice(0, remaining)
        frontier.extend_record_hashes(part.column("record_sha256").to_pylist())
        agent_versions += part.column("direction").to_pylist().count("outbound")
        flags = flag_contents(policies, part)
        if flags.num_rows:
            found.append(flags)
    if problems:
        key, problem = problems[0]
        raise SampleError(f"{key}: {problem}; run `rc-archive verify`")
    if frontier.size < checkpoint.size or frontier.root() != checkpoint.root:
        raise SampleError(
            f"the archive's log of source {source_id} does not have the checkpoint's tree "
            f"({checkpoint.size} versions, root {checkpoint.text().splitlines()[2]}): a "
            "checkpoint of another archive, or history changed since (`rc-archive verify`)"
        )
    flags = pa.concat_tables(found) if found else FLAGS_SCHEMA.empty_table()
    committed = commit_flags(ledger, source_stream(source_id), flags, run_id)
    return SampleResult(source_id, checkpoint.size, agent_versions, flags.num_rows, committed)
