"""A hand-made archive whose every answer is known: edits, a remote deletion, replies with known
response times, unanswered inbound messages, attachments, quarantine rows, agents, identities.

`write_dataset` commits it through the archive layout in several batches (with one re-archived
duplicate version, an orphan file and a pending intent that must never be read).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.archive import keys
from tests.audit.archive_builder import ArchiveBuilder, canonical_sha256

S1 = "5f0000000000000000000001"  # WhatsApp
S2 = "5f0000000000000000000002"  # Facebook
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ARCHIVED = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)

CUST_A, CUST_A2, CUST_B = "id-alice-wa", "id-alice-fb", "id-bob-wa"
AGENT_IDENT_1, AGENT_IDENT_2 = "id-agent-dana", "id-agent-eli"
EXT_DANA, EXT_ELI = "101", "102"
SOURCE_TYPES = {S1: "WhatsApp", S2: "Facebook"}


def _attachment(att_id: str, content_type: str, filename: str, size: int) -> dict[str, Any]:
    return {
        "id": att_id,
        "content_type": content_type,
        "filename": filename,
        "size": size,
        "uri": f"https://example.invalid/{att_id}",
        "embedded": False,
        "public": False,
        "creation_time": T0,
    }


def content(
    cid: str,
    source: str,
    thread: str,
    author: str,
    at: timedelta,
    body: str,
    *,
    direction: str,
    status: str,
    creator: str | None = None,
    reply_to: str | None = None,
    reply_to_author: str | None = None,
    modified: timedelta | None = None,
    deleted: bool = False,
    attachments: list[dict[str, Any]] | None = None,
    title: str | None = None,
    archived: datetime = ARCHIVED,
) -> dict[str, Any]:
    created = T0 + at
    row = {
        "id": cid,
        "source_id": source,
        "source_type": SOURCE_TYPES[source],
        "thread_id": thread,
        "author_identity_id": author,
        "in_reply_to_content_id": reply_to,
        "in_reply_to_author_identity_id": reply_to_author,
        "creator_id": creator,
        "creation_time": created,
        "last_modified_time": T0 + (modified if modified is not None else at),
        "creation_date": created.date(),
        "status": status,
        "direction": direction,
        "type": "Message",
        "body": body,
        "body_text": body,
        "title": title,
        "remotely_deleted": deleted,
        "attachments": attachments or [],
        "author_is_agent": direction == "outbound",
        "run_id": "run-test",
        "archived_at": archived,
    }
    return _sealed(row)


def _sealed(row: dict[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in row.items() if k not in ("archived_at", "run_id", "batch_id")}
    row["raw_json"] = json.dumps(record, default=str)
    row["record_sha256"] = canonical_sha256(record)
    return row


def new_version(row: dict[str, Any], modified: timedelta, **changes: Any) -> dict[str, Any]:
    version = copy.deepcopy(row)
    version.update(changes)
    version["last_modified_time"] = T0 + modified
    version["archived_at"] = row["archived_at"] + timedelta(hours=1)
    return _sealed(version)


M = timedelta(minutes=1)
S = timedelta(seconds=1)
D = timedelta(days=1)


@dataclass
class Dataset:
    """The records written, batch by batch, kept for computing expected answers in Python."""

    contents_batches: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    identities: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content_rows(self) -> list[dict[str, Any]]:
        """Every committed content row."""
        return [row for batches in self.contents_batches.values() for b in batches for row in b]


def make_dataset() -> Dataset:
    c1 = content(
        "c1",
        S1,
        "t-a1",
        CUST_A,
        0 * M,
        "Hello, I need help with my order",
        direction="inbound",
        status="New",
        title="Order help",
    )
    c1_v2 = new_version(c1, 5 * M, status="Replied")
    c2 = content(
        "c2",
        S1,
        "t-a1",
        AGENT_IDENT_1,
        120 * S,
        "Sure, what is the order number?",
        direction="outbound",
        status="UserReply",
        creator=EXT_DANA,
        reply_to="c1",
        reply_to_author=CUST_A,
    )
    c3 = content(
        "c3",
        S1,
        "t-a1",
        CUST_A,
        10 * M,
        "Order 12345, it arrived broken",
        direction="inbound",
        status="Replied",
        attachments=[_attachment("a1", "image/jpeg", "photo.jpg", 2048)],
    )
    c4 = content(
        "c4",
        S1,
        "t-a1",
        AGENT_IDENT_2,
        10 * M + 300 * S,
        "Sorry! We will replace it",
        direction="outbound",
        status="UserReply",
        creator=EXT_ELI,
        reply_to="c3",
        reply_to_author=CUST_A,
        attachments=[_attachment("a2", "application/pdf", "label.pdf", 4096)],
    )
    c5 = content(
        "c5",
        S1,
        "t-a1",
        AGENT_IDENT_1,
        20 * M,
        "Following up on the replacement",
        direction="outbound",
        status="UserReply",
        creator=EXT_DANA,
        reply_to="c3",
        reply_to_author=CUST_A,
    )
    c6 = content(
        "c6",
        S2,
        "t-a2",
        CUST_A2,
        1 * D,
        "Do you ship to Canada?",
        direction="inbound",
        status="New",
        title="Shipping",
        attachments=[
            _attachment("a3", "image/png", "map.png", 1000),
            _attachment("a4", "image/jpeg", "box.jpg", 3000),
        ],
    )
    c7 = content(
        "c7",
        S1,
        "t-b1",
        CUST_B,
        2 * D,
        "my account number is 999 and pin 4321",
        direction="inbound",
        status="New",
    )
    c7_v2 = new_version(c7, 2 * D + 60 * M, body="my account number is [removed]", status="Replied")
    c7_v3 = new_version(c7_v2, 2 * D + 120 * M, remotely_deleted=True)
    c7_v3["archived_at"] = ARCHIVED + timedelta(hours=3)
    c7_v3 = _sealed(c7_v3)
    c8 = content(
        "c8",
        S1,
        "t-b1",
        AGENT_IDENT_1,
        2 * D + 30 * M,
        "Thanks Bob, please do not share pins",
        direction="outbound",
        status="UserReply",
        creator=EXT_DANA,
        reply_to="c7",
        reply_to_author=CUST_B,
    )
    c9 = content(
        "c9",
        S1,
        "t-b1",
        CUST_B,
        2 * D + 180 * M,
        "Are you there? My ORDER is late",
        direction="inbound",
        status="New",
    )
    c10 = content(
        "c10",
        S1,
        "t-b2",
        AGENT_IDENT_2,
        5 * D,
        "Your replacement order shipped",
        direction="outbound",
        status="UserInitiated",
        creator=EXT_ELI,
    )
    c11 = content(
        "c11",
        S2,
        "t-a2",
        AGENT_IDENT_1,
        40 * D,
        "April note from Dana (no reply to)",
        direction="outbound",
        status="UserInitiated",
        creator=EXT_DANA,
    )

    data = Dataset()
    data.contents_batches[S1] = [
        [c1, c2, c3, c4, c5, c7, c8],
        [c1_v2, c7_v2],
        [c7_v3, c9, c10],
    ]
    data.contents_batches[S2] = [[c6, c11]]

    def identity(iid, source, kind, name, group, modified, user_ids=()):
        row = {
            "id": iid,
            "source_id": source,
            "identity_type": kind,
            "display_name": name,
            "identity_group_id": group,
            "user_ids": list(user_ids),
            "creation_time": T0 - 30 * D,
            "last_modified_time": T0 - 30 * D + modified,
            "archived_at": ARCHIVED + modified,
            "run_id": "run-test",
        }
        row["raw_json"] = json.dumps(row, default=str)
        row["record_sha256"] = canonical_sha256(row)
        return row

    data.identities = [
        identity(CUST_A, S1, "Customer", "Alice C.", "g-alice", 0 * M),
        identity(CUST_A, S1, "Customer", "Alice Customer", "g-alice", 1 * D),
        identity(CUST_A2, S2, "Customer", "Alice on Facebook", "g-alice", 0 * M),
        identity(CUST_B, S1, "Customer", "Bob Buyer", "g-bob", 0 * M),
        identity(AGENT_IDENT_1, S1, "Agent", "Dana (WhatsApp)", None, 0 * M, ["101"]),
        identity(AGENT_IDENT_2, S1, "Agent", "Eli (WhatsApp)", None, 0 * M, ["102"]),
    ]

    def agent(ext, name, number, email, fetched):
        row = {
            "extension_id": ext,
            "name": name,
            "extension_number": number,
            "email": email,
            "resolution": "found",
            "status": "Enabled",
            "type": "User",
            "fetched_at": fetched,
            "archived_at": fetched,
            "run_id": "run-test",
        }
        row["raw_json"] = json.dumps(row, default=str)
        row["record_sha256"] = canonical_sha256(row)
        return row

    data.agents = [
        agent(EXT_DANA, "Dana Old", "101", "dana.old@example.com", ARCHIVED - 5 * D),
        agent(EXT_DANA, "Dana Agent", "101", "dana@example.com", ARCHIVED),
        agent(EXT_ELI, "Eli Agent", "102", "eli@example.com", ARCHIVED),
    ]
    data.quarantine = [
        {
            "table_name": "contents",
            "source_id": S1,
            "reason": "creationTime: not an ISO-8601 time ('yesterday')",
            "raw_json": '{"id": "bad1", "creationTime": "yesterday"}',
            "record_sha256": "a" * 64,
            "quarantined_at": ARCHIVED,
            "run_id": "run-test",
        },
        {
            "table_name": "contents",
            "source_id": S1,
            "reason": "id: missing",
            "raw_json": '{"body": "no id"}',
            "record_sha256": "b" * 64,
            "quarantined_at": ARCHIVED + M,
            "run_id": "run-test",
        },
    ]
    return data


ORPHAN_BODY = "ORPHAN uncommitted row: must never be visible"


def write_dataset(builder: ArchiveBuilder, data: Dataset) -> None:
    """Commit the dataset, then leave an orphan data file and an intent with no manifest."""
    for source, batches in data.contents_batches.items():
        stream = f"source_id={source}"
        for number, rows in enumerate(batches):
            files: list[tuple[str, list[dict[str, Any]]]] = [("contents", rows)]
            if source == S1 and number == 0:
                files.append(("quarantine", data.quarantine))
            cursor = {
                "page_token": f"tok-{number}",
                "high_water_time": "2026-03-07T09:00:00.000Z",
                "high_water_id": rows[-1]["id"],
                "sweep_mark": None,
            }
            builder.commit_batch("contents", stream, files, cursor=cursor)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in data.identities:
        by_source.setdefault(row["source_id"], []).append(row)
    for source, rows in by_source.items():
        builder.commit_batch("identities", f"source_id={source}", [("identities", rows)])
    builder.commit_batch("agents", "account", [("agents", data.agents)])

    orphan = content(
        "c-orphan", S1, "t-a1", CUST_A, 1 * M, ORPHAN_BODY, direction="inbound", status="New"
    )
    orphan["batch_id"] = ORPHAN_BATCH
    stream = f"source_id={S1}"
    builder.put_uncommitted(
        keys.contents_key(stream, orphan["creation_date"], ORPHAN_BATCH), "contents", [orphan]
    )
    builder.store.put(
        keys.intent_key("contents", stream, ORPHAN_BATCH),
        b"{}",
        content_type="application/json",
    )


ORPHAN_BATCH = "0000000099-deadbeefcafe"
