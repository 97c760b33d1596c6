"""Deterministic generation of the account's history (columnar, vectorised with numpy).

A million contents must start in seconds, so everything is drawn as whole arrays from one
seeded Generator; the JSON of a content is only built when it is served (sandbox.world).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox import corpus, files
from sandbox.config import SandboxConfig

# status codes (index into STATUSES)
STATUSES = ("New", "Assigned", "Replied", "UserReply", "UserInitiated", "Ignored")
NEW, ASSIGNED, REPLIED, USER_REPLY, USER_INITIATED, IGNORED = range(6)

# flag bits
F_DELETED = 1
F_PUBLIC = 2
F_AUTO = 4
F_STRUCTURED = 8
F_ATTACH = 16
F_FIRST = 32
F_EDITED = 64
F_CONTEXT = 128
F_CATEGORY = 256
F_OUTGOING = 512
F_API = 1024  # createdFrom Api (else Interface for agents, Synchronizer for customers)

DAY_MS = 86_400_000


@dataclass
class Generated:
    """Column arrays of contents (sorted by creation time) plus the account's people."""

    n_sources: int
    source_types: list[str]
    n_agents: int
    customers_per_source: int
    agent_ext_ids: list[str]
    deleted_agent: int  # index of the agent whose extension no longer exists
    identity_created_ms: np.ndarray
    created: np.ndarray
    modified: np.ndarray
    source: np.ndarray
    thread: np.ndarray
    author: np.ndarray
    reply_author: np.ndarray
    reply_to: np.ndarray
    status: np.ndarray
    flags: np.ndarray
    creator: np.ndarray
    body: np.ndarray
    ctype: np.ndarray
    intervention: np.ndarray
    n_threads: int


def _agent_count(cfg: SandboxConfig) -> int:
    return max(4, 3 + 2 * cfg.sources)


def generate(cfg: SandboxConfig, now_ms: int) -> Generated:
    rng = np.random.default_rng(cfg.seed)
    n_sources = cfg.sources + 1  # the last one is the source the agent cannot Read
    source_types = [
        corpus.CHANNEL_TYPES[(cfg.seed + i) % len(corpus.CHANNEL_TYPES)][0]
        for i in range(n_sources)
    ]
    n_agents = _agent_count(cfg)
    ext_base = 60_000_000_000 + (cfg.seed * 7_654_321) % 3_000_000_000
    agent_ext_ids = [str(ext_base + 1_004 * (i + 1)) for i in range(n_agents)]
    n = cfg.contents
    customers_per_source = max(10, n // (12 * n_sources))
    n_identities = n_sources * n_agents + n_sources * customers_per_source
    history_start = now_ms - int(cfg.days * DAY_MS)
    identity_created_ms = np.sort(
        history_start - rng.integers(0, 30 * DAY_MS, n_identities, dtype=np.int64)
    )

    # threads
    n_threads_guess = max(1, n // 4 + 1)
    lengths = 1 + rng.poisson(3.0, n_threads_guess).astype(np.int64)
    while lengths.sum() < n:
        lengths = np.concatenate([lengths, 1 + rng.poisson(3.0, n_threads_guess)])
    ends = np.cumsum(lengths)
    n_threads = int(np.searchsorted(ends, n, side="left")) + 1 if n else 0
    lengths = lengths[:n_threads].copy()
    if n_threads:
        lengths[-1] -= int(ends[n_threads - 1] - n)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n_threads else np.zeros(0)
    thread_of = np.repeat(np.arange(n_threads, dtype=np.int64), lengths)
    pos = np.arange(n, dtype=np.int64) - starts[thread_of].astype(np.int64)
    thread_len = lengths[thread_of]

    weights = np.ones(n_sources)
    weights[-1] = 0.5
    thread_source = rng.choice(n_sources, n_threads, p=weights / weights.sum())
    thread_customer_local = rng.integers(0, customers_per_source, n_threads)
    thread_initiated = rng.random(n_threads) < 0.1
    thread_agent = rng.integers(0, n_agents, n_threads)
    thread_intervention = rng.random(n_threads) < 0.7

    src = thread_source[thread_of]
    initiated = thread_initiated[thread_of]
    outgoing = np.where(initiated, pos % 2 == 0, pos % 2 == 1)

    # gaps: replies within minutes to hours; bursts inside one second; exact ms ties
    gap = rng.exponential(1.0, n)
    gap_ms = np.where(outgoing, gap * 1_200_000, gap * 7_200_000).astype(np.int64)
    burst = rng.random(n)
    gap_ms = np.where(burst < 0.15, (burst * 6000).astype(np.int64), gap_ms)
    gap_ms = np.where(burst < 0.02, 0, gap_ms)
    gap_ms[pos == 0] = 0
    offset = np.cumsum(gap_ms)
    offset = offset - offset[starts[thread_of].astype(np.int64)] if n else offset
    duration = np.zeros(n_threads, dtype=np.int64)
    if n:
        np.maximum.at(duration, thread_of, offset)
    span = max(1, int(cfg.days * DAY_MS))
    thread_start = now_ms - rng.integers(0, span, n_threads, dtype=np.int64)
    late = thread_start + duration > now_ms - 1000
    thread_start[late] = now_ms - 1000 - duration[late] - rng.integers(0, 60_000, int(late.sum()))
    created = thread_start[thread_of] + offset

    agent = thread_agent[thread_of].copy()
    switch = rng.random(n) < 0.2
    agent[switch] = rng.integers(0, n_agents, int(switch.sum()))
    agent_identity = src * n_agents + agent
    customer_identity = n_sources * n_agents + thread_customer_local[thread_of] * n_sources + src
    author = np.where(outgoing, agent_identity, customer_identity)
    reply_author = np.where(outgoing, customer_identity, agent_identity)
    idx = np.arange(n, dtype=np.int64)
    reply_to = np.where(outgoing & (pos > 0), idx - 1, -1)

    has_next = pos + 1 < thread_len
    status = np.where(
        outgoing,
        np.where(pos == 0, USER_INITIATED, USER_REPLY),
        np.where(has_next, REPLIED, np.where(rng.random(n) < 0.15, IGNORED, NEW)),
    ).astype(np.int8)

    modified = created.copy()
    replied = (~outgoing) & has_next
    nxt = np.minimum(idx + 1, max(n - 1, 0))
    modified[replied] = created[nxt[replied]]
    roll = rng.random(n)
    edited = roll < 0.03
    deleted = (roll >= 0.03) & (roll < 0.04)
    later = created + rng.integers(1000, 2 * DAY_MS, n, dtype=np.int64)
    moved = edited | deleted
    modified[moved] = np.maximum(modified[moved], np.minimum(later[moved], now_ms - 1))

    api = outgoing & (rng.random(n) < 0.3)
    flags = np.zeros(n, dtype=np.int32)
    flags |= np.where(deleted, F_DELETED, 0)
    flags |= np.where(rng.random(n) < 0.3, F_PUBLIC, 0)
    flags |= np.where(api & (rng.random(n) < 0.5), F_AUTO, 0)
    whatsapp = np.array([t == "WhatsApp" for t in source_types])[src]
    structured = whatsapp & outgoing & (pos == 0)
    flags |= np.where(structured, F_STRUCTURED, 0)
    # Always drawn, so every profile keeps the rest of the history identical.
    flags |= np.where(rng.random(n) < files.PROFILES[cfg.attachments].share, F_ATTACH, 0)
    flags |= np.where(pos == 0, F_FIRST, 0)
    flags |= np.where(edited, F_EDITED, 0)
    flags |= np.where(rng.random(n) < 0.05, F_CONTEXT, 0)
    flags |= np.where(rng.random(n) < 0.1, F_CATEGORY, 0)
    flags |= np.where(outgoing, F_OUTGOING, 0)
    flags |= np.where(api, F_API, 0)

    n_cust_bodies = len(corpus.CUSTOMER_BODIES)
    body = np.where(
        outgoing,
        n_cust_bodies + rng.integers(0, len(corpus.AGENT_BODIES), n),
        rng.integers(0, n_cust_bodies, n),
    ).astype(np.int32)
    ctype = rng.integers(0, 3, n).astype(np.int8)
    intervention = np.where(thread_intervention[thread_of] & ~api, thread_of, -1)
    creator = np.where(outgoing, agent, -1)

    order = np.argsort(created, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n)
    remapped_reply = np.where(reply_to >= 0, inverse[np.maximum(reply_to, 0)], -1)

    return Generated(
        n_sources=n_sources,
        source_types=source_types,
        n_agents=n_agents,
        customers_per_source=customers_per_source,
        agent_ext_ids=agent_ext_ids,
        deleted_agent=n_agents - 1,
        identity_created_ms=identity_created_ms,
        created=created[order].astype(np.int64),
        modified=modified[order].astype(np.int64),
        source=src[order].astype(np.int16),
        thread=thread_of[order].astype(np.int32),
        author=author[order].astype(np.int32),
        reply_author=reply_author[order].astype(np.int32),
        reply_to=remapped_reply[order].astype(np.int32),
        status=status[order],
        flags=flags[order],
        creator=creator[order].astype(np.int16),
        body=body[order],
        ctype=ctype[order],
        intervention=intervention[order].astype(np.int32),
        n_threads=n_threads,
    )
