"""List semantics of /contents and /identities: filters (AND), ordering, keyset paging.

Kept apart from the HTTP layer so the rules (token inclusive at (value, id), omitted paging
keys, caps) are one readable piece of code. Callers hold world.lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sandbox import ids
from sandbox.generator import F_OUTGOING, STATUSES
from sandbox.tokens import PageToken, encode_token
from sandbox.world import World

ORDER_BY = {
    "-creationTime": ("creationTime", "desc"),
    "+creationTime": ("creationTime", "asc"),
    "creationTime": ("creationTime", "desc"),  # bare = descending (API notes §2.1)
    "-lastModifiedTime": ("lastModifiedTime", "desc"),
    "+lastModifiedTime": ("lastModifiedTime", "asc"),
    "lastModifiedTime": ("lastModifiedTime", "desc"),
}
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100


@dataclass
class ContentFilter:
    """Parsed filters; None = not given. Ids that are not ours simply match nothing."""

    source_ids: list[str] | None = None
    author_ids: list[str] | None = None
    thread_ids: list[str] | None = None
    texts: list[str] = field(default_factory=list)
    group_ids: list[str] | None = None
    intervention_ids: list[str] | None = None
    statuses: list[str] | None = None
    direction: str | None = None


@dataclass
class Page:
    rows: list[int]
    paging: dict


def _decode_all(world: World, kind: int, values: list[str]) -> np.ndarray:
    decoded = [world.codec.decode(kind, v) for v in values]
    return np.array([d for d in decoded if d is not None], dtype=np.int64)


def candidate_rows(world: World, flt: ContentFilter, field_name: str) -> tuple[np.ndarray, bool]:
    """Rows matching the filter, ascending by (sort field, id); second value: keys are sorted."""
    readable = [s.index for s in world.sources if s.can_read]
    if flt.source_ids is not None:
        wanted = {world.source_by_id(sid) for sid in flt.source_ids}
        sources = sorted(s.index for s in wanted if s is not None and s.can_read)
    else:
        sources = readable
    getter = world.creation_rows if field_name == "creationTime" else world.modified_rows
    parts = [getter(s) for s in sources]
    if not parts:
        return np.zeros(0, dtype=np.int64), True
    if len(parts) == 1:
        rows = parts[0]
    elif field_name == "creationTime":
        rows = np.sort(np.concatenate(parts))
    else:
        merged = np.concatenate(parts)
        rows = merged[np.lexsort((merged, world.modified.view()[merged]))]
    mask = None

    def narrow(condition: np.ndarray) -> None:
        nonlocal mask
        mask = condition if mask is None else mask & condition

    if flt.author_ids is not None:
        narrow(np.isin(world.author.view()[rows], _decode_all(world, ids.IDENTITY, flt.author_ids)))
    if flt.group_ids is not None:
        groups = _decode_all(world, ids.IDENTITY_GROUP, flt.group_ids)
        narrow(np.isin(world.author.view()[rows], groups))
    if flt.thread_ids is not None:
        narrow(np.isin(world.thread.view()[rows], _decode_all(world, ids.THREAD, flt.thread_ids)))
    if flt.intervention_ids is not None:
        wanted = _decode_all(world, ids.INTERVENTION, flt.intervention_ids)
        narrow(np.isin(world.intervention.view()[rows], wanted))
    if flt.statuses is not None:
        codes = [STATUSES.index(s) for s in flt.statuses if s in STATUSES]
        narrow(np.isin(world.status.view()[rows], np.array(codes, dtype=np.int8)))
    if flt.direction is not None:
        outgoing = (world.flags.view()[rows] & F_OUTGOING) != 0
        narrow(outgoing if flt.direction == "Outgoing" else ~outgoing)
    if mask is not None:
        rows = rows[mask]
    for text in flt.texts:
        needle = text.casefold()
        rows = np.array(
            [r for r in rows.tolist() if needle in world.body_text(r).casefold()], dtype=np.int64
        )
    return rows, True


def _keys(world: World, rows: np.ndarray, field_name: str) -> np.ndarray:
    column = world.created if field_name == "creationTime" else world.modified
    return column.view()[rows]


def _count_before(keys: np.ndarray, rows: np.ndarray, value: int, row: int, inclusive: bool):
    """Number of entries with (key, row) < (value, row) (or <= when inclusive)."""
    lo = int(np.searchsorted(keys, value, side="left"))
    hi = int(np.searchsorted(keys, value, side="right"))
    side = "right" if inclusive else "left"
    return lo + int(np.searchsorted(rows[lo:hi], row, side=side))


def paginate(
    world: World,
    rows: np.ndarray,
    field_name: str,
    order: str,
    per_page: int,
    token: PageToken | None,
    id_kind: int = ids.CONTENT,
    keys: np.ndarray | None = None,
) -> Page:
    """Cut one page out of rows (ascending by (key, row)) starting at the token, inclusive."""
    if keys is None:
        keys = _keys(world, rows, field_name)
    total = len(rows)

    def token_at(position: int) -> str:
        row = int(rows[position])
        return encode_token(
            int(keys[position]), field_name, order, world.codec.encode(id_kind, row)
        )

    token_row = None
    if token is not None:
        token_row = world.codec.decode(id_kind, token.boundary_id)
        if token_row is None:
            token_row = -1  # foreign id: seek by value only
    if order == "asc":
        start = 0
        if token is not None:
            start = _count_before(keys, rows, token.value_ms, token_row, inclusive=False)
        end = min(total, start + per_page)
        positions = range(start, end)
        next_pos = end if end < total else None
        prev_pos = max(0, start - per_page) if start > 0 else None
        first_pos = 0 if total else None
    else:
        end = total  # exclusive, walking downwards
        if token is not None:
            boundary = token_row if token_row >= 0 else 2**62
            end = _count_before(keys, rows, token.value_ms, boundary, inclusive=True)
        start = max(0, end - per_page)
        positions = range(end - 1, start - 1, -1)
        next_pos = start - 1 if start > 0 else None
        prev_pos = min(total - 1, end + per_page - 1) if end < total else None
        first_pos = total - 1 if total else None
    paging: dict = {"perPage": per_page}
    if len(positions):
        paging["pageToken"] = token_at(positions[0])
    if next_pos is not None:
        paging["nextPageToken"] = token_at(next_pos)
    if prev_pos is not None and len(positions):
        paging["previousPageToken"] = token_at(prev_pos)
    if first_pos is not None:
        paging["firstPageToken"] = token_at(first_pos)
    return Page(rows=[int(rows[p]) for p in positions], paging=paging)


def identity_rows(
    world: World,
    source_ids: list[str] | None,
    identity_type: str | None,
    user_id: str | None,
    group_ids: list[str] | None,
    uuid_value: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Visible identities matching the filters, ascending by (creationTime, row)."""
    readable = {s.index for s in world.sources if s.can_read}
    if source_ids is not None:
        wanted = {world.source_by_id(sid) for sid in source_ids}
        readable &= {s.index for s in wanted if s is not None}
    n = world.identity_count
    all_rows = np.arange(n, dtype=np.int64)
    n_agent_ids = len(world.sources) * world.n_agents
    src = np.where(
        all_rows < n_agent_ids,
        all_rows // world.n_agents,
        (all_rows - n_agent_ids) % len(world.sources),
    )
    mask = np.isin(src, np.array(sorted(readable), dtype=np.int64))
    if identity_type == "Agent":
        mask &= all_rows < n_agent_ids
    elif identity_type == "Customer":
        mask &= all_rows >= n_agent_ids
    if user_id is not None:
        agents = [i for i, ext in enumerate(world.agent_ext_ids) if ext == user_id]
        mask &= (all_rows < n_agent_ids) & np.isin(all_rows % world.n_agents, agents)
    if group_ids is not None:
        mask &= np.isin(all_rows, _decode_all(world, ids.IDENTITY_GROUP, group_ids))
    if uuid_value is not None:
        mask &= np.array([world.identity_json(int(r))["uuid"] == uuid_value for r in all_rows])
    rows = all_rows[mask]
    keys = world.identity_created_ms[rows]
    order = np.lexsort((rows, keys))
    return rows[order], keys[order]
