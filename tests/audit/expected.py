"""The answers to the audit questions, computed in plain Python from the records written.

Independent of DuckDB and of the view SQL: if a view or a pack query is wrong, these disagree.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from tests.audit.dataset import Dataset


def versions(data: Dataset) -> list[dict[str, Any]]:
    """Every distinct (id, record_sha256), earliest archived copy."""
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for row in data.content_rows:
        key = (row["id"], row["record_sha256"])
        if key not in kept or row["archived_at"] < kept[key]["archived_at"]:
            kept[key] = row
    return list(kept.values())


def latest(data: Dataset) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in versions(data):
        best = newest.get(row["id"])
        order = (row["last_modified_time"], row["archived_at"])
        if best is None or order > (best["last_modified_time"], best["archived_at"]):
            newest[row["id"]] = row
    return newest


def identity_names(data: Dataset) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in data.identities:
        best = newest.get(row["id"])
        if best is None or row["last_modified_time"] > best["last_modified_time"]:
            newest[row["id"]] = row
    return newest


def agent_rows(data: Dataset) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in data.agents:
        best = newest.get(row["extension_id"])
        if best is None or row["fetched_at"] > best["fetched_at"]:
            newest[row["extension_id"]] = row
    return newest


def _order(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["creation_time"], r["id"]))]


def customer_history(data: Dataset, identity_id: str) -> list[str]:
    idents = identity_names(data)
    group = idents.get(identity_id, {}).get("identity_group_id")
    person = {identity_id} | {
        i for i, row in idents.items() if group and row["identity_group_id"] == group
    }
    msgs = latest(data).values()
    threads = {(m["source_id"], m["thread_id"]) for m in msgs if m["author_identity_id"] in person}
    return _order([m for m in msgs if (m["source_id"], m["thread_id"]) in threads])


def agent_messages(data: Dataset, agent_id: str, start: datetime, end: datetime) -> list[str]:
    return _order(
        [
            m
            for m in latest(data).values()
            if m["creator_id"] == agent_id
            and m["direction"] == "outbound"
            and start <= m["creation_time"] < end
        ]
    )


def first_replies(data: Dataset) -> dict[str, dict[str, Any] | None]:
    msgs = latest(data).values()
    pairs: dict[str, dict[str, Any] | None] = {}
    for inbound in msgs:
        if inbound["direction"] != "inbound":
            continue
        replies = [
            m
            for m in msgs
            if m["direction"] == "outbound" and m["in_reply_to_content_id"] == inbound["id"]
        ]
        replies.sort(key=lambda m: (m["creation_time"], m["id"]))
        pairs[inbound["id"]] = replies[0] if replies else None
    return pairs


def unanswered(data: Dataset) -> list[str]:
    msgs = latest(data)
    return _order([msgs[i] for i, reply in first_replies(data).items() if reply is None])


def _quantile_linear(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def response_times(data: Dataset) -> dict[tuple[str, str], tuple[int, float, float]]:
    msgs = latest(data)
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for inbound_id, reply in first_replies(data).items():
        if reply is None:
            continue
        seconds = (reply["creation_time"] - msgs[inbound_id]["creation_time"]).total_seconds()
        groups[(reply["creator_id"], msgs[inbound_id]["source_type"])].append(seconds)
    return {
        key: (len(vals), _quantile_linear(vals, 0.5), _quantile_linear(vals, 0.9))
        for key, vals in groups.items()
    }


def remotely_deleted(data: Dataset) -> dict[str, str]:
    """Deleted id -> body of the newest version archived before the deletion."""
    out = {}
    for cid, row in latest(data).items():
        if not row["remotely_deleted"]:
            continue
        before = [v for v in versions(data) if v["id"] == cid and not v["remotely_deleted"]]
        out[cid] = max(before, key=lambda v: v["last_modified_time"])["body"]
    return out


def edits(data: Dataset) -> list[tuple[str, int, str, str, str, str, bool, bool]]:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in versions(data):
        by_id[row["id"]].append(row)
    out = []
    for cid, rows in sorted(by_id.items()):
        rows.sort(key=lambda r: (r["last_modified_time"], r["archived_at"]))
        for number, (prev, new) in enumerate(zip(rows, rows[1:], strict=False), start=2):
            out.append(
                (
                    cid,
                    number,
                    prev["status"],
                    new["status"],
                    prev["body"],
                    new["body"],
                    prev["remotely_deleted"],
                    new["remotely_deleted"],
                )
            )
    return out


def attachments_by_type(data: Dataset) -> dict[str, tuple[int, int, int]]:
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, set(), 0])
    for m in latest(data).values():
        for att in m["attachments"]:
            entry = counts[att["content_type"]]
            entry[0] += 1
            entry[1].add(m["id"])
            entry[2] += att["size"]
    return {k: (v[0], len(v[1]), v[2]) for k, v in counts.items()}


def conversations_per_day(data: Dataset) -> dict[tuple[str, str], tuple[int, int]]:
    threads: dict[tuple[str, str], set[str]] = defaultdict(set)
    messages: dict[tuple[str, str], int] = defaultdict(int)
    for m in latest(data).values():
        key = (m["source_id"], m["creation_date"].isoformat())
        threads[key].add(m["thread_id"])
        messages[key] += 1
    return {k: (len(threads[k]), messages[k]) for k in threads}


def term_search(data: Dataset, term: str) -> list[str]:
    return _order([m for m in latest(data).values() if term.lower() in (m["body"] or "").lower()])


def thread_status(data: Dataset) -> dict[str, str]:
    by_thread: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in latest(data).values():
        by_thread[m["thread_id"]].append(m)
    replies = first_replies(data)
    status = {}
    for thread, msgs in by_thread.items():
        msgs.sort(key=lambda m: m["creation_time"])
        inbound = [m for m in msgs if m["direction"] == "inbound"]
        answered = msgs[-1]["direction"] == "outbound" or (
            bool(inbound) and replies[inbound[-1]["id"]] is not None
        )
        status[thread] = "answered" if answered else "open"
    return status
