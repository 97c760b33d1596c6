"""What every column of every audit view means: the one place the descriptions are gathered.

A view that passes on a table's columns takes their descriptions from the table's declaration:
the archived tables' (schemas.tables) and the catalog's own snapshots' (schemas.catalog_tables:
`ledger`, `access_log`, `holds`, `review_decisions`). Everything else is written here.

`COLUMN_DOCS` maps view -> column -> description. A column that means the same in several
views (`id`, `source_id`, `record_sha256`, the message fields) is described once in `SHARED`
and each view lists it by name; a view states its own description only where the column means
something else there (`status` of a thread, `id` of an identity) or exists only there.

The catalog build writes them into `audit.duckdb` as DuckDB comments (`COMMENT ON VIEW`,
`COMMENT ON COLUMN`), so any DuckDB client sees them in `duckdb_columns()`;
`rc-archive sql --describe VIEW` prints them (query/describe.py), and `docs/columns.md` is
generated from them (`docs/gen_columns.py`). tests/audit/test_column_docs.py checks that every
column of every public view has a description and that no description names a column the view
lacks.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.catalog_tables import (
    ACCESS_EVENTS,
    HOLD_EVENTS,
    LEDGER_SNAPSHOT,
    REASON_DESCRIPTION,
    REVIEW_EVENTS,
)
from schemas.tables import TABLES

# Descriptions shared by every view that has the column (the message columns are those of
# `contents`, which contents_latest, messages and edits pass on unchanged).
SHARED: dict[str, str] = TABLES["contents"].descriptions() | {
    # -- names resolved for the reader (messages; reply_pairs and threads pass them on)
    "author_name": "Who wrote the message: the display name of its author identity "
    "(identities_latest), or the name archived with the message when the identity is unknown.",
    "agent_name": "The name of the agent who sent the message: from agents (the extension "
    "behind `creatorId`), or the name archived with the message; empty for customer messages.",
    "customer_identity_id": "The identity of the customer: the author of the inbound message.",
    "customer_name": "The customer's name (see messages.author_name).",
    # -- governance records (holds, dispositions)
    "reason": REASON_DESCRIPTION,
}

# The columns of the `contents` table, passed on unchanged by contents and contents_latest.
_CONTENTS_COLUMNS = TABLES["contents"].names
_MESSAGE_HIDDEN = {"author_display_name", "creator_name", "content_direction"}


def _view(shared: list[str] | str, own: Mapping[str, str] | None = None) -> dict[str, str]:
    """A view's descriptions: the `shared` column names (a list, or one string of names
    separated by spaces) described as in SHARED, plus the view's `own` descriptions."""
    names = shared.split() if isinstance(shared, str) else shared
    docs = {name: SHARED[name] for name in names}
    overlap = set(docs) & set(own or {})
    if overlap:
        raise ValueError(f"columns both shared and described by the view: {sorted(overlap)}")
    return docs | dict(own or {})


def _table(table: str, views_own: Mapping[str, str] | None = None) -> dict[str, str]:
    """A view that passes on every column of an archived table: the descriptions declared
    with the table (schemas/), where the view changes a column's meaning `views_own` says so,
    plus the view's own columns."""
    return TABLES[table].descriptions() | dict(views_own or {})


# What one row of each view is (written as the view's comment).
VIEW_DOCS: dict[str, str] = {
    "contents": "Every archived version of every message, once: a message edited on "
    "RingCentral has one row per version the archive saw (a row that only repeats a version "
    "with a re-signed attachment link is in transport_repeats instead).",
    "contents_latest": "The newest archived version of each message (latest "
    "lastModifiedTime): one row per message.",
    "identities_latest": "The newest archived version of each identity (a customer's or "
    "agent's account on a channel): one row per identity id.",
    "agents": "The newest archived record of each RingCentral extension (agent user) that "
    "sent a message: one row per extension id.",
    "quarantine": "Every record that could not be archived as a row, with the reason: "
    "nothing is dropped silently.",
    "messages": "The newest version of each message with the names of its author and sending "
    "agent resolved: the view for reading conversations.",
    "reply_pairs": "Each inbound message with the first outbound message that replied to it "
    "(empty reply columns when none did).",
    "threads": "One row per conversation: who, when, how many messages, answered or open.",
    "edits": "One row per message version after the first: what changed from the version before.",
    "transport_repeats": "Rows archived before version identities that repeat an earlier "
    "version of their message with only a re-signed attachment link: still archived and "
    "verified, left out of contents, edits and transcripts (docs/internals.md, 'Version "
    "identity').",
    "ledger": "One row per committed manifest: the archive's commit log, as of the catalog build.",
    "dispositions": "One row per disposition (`rc-archive disposition --execute`): the files "
    "it removed past retention, who decided it and why.",
    "capture_lag": "Per channel: how far behind the archive was at its last commit and how "
    "long ago that commit was.",
    "attachments": "One row per attachment file the archive holds: the newest committed "
    "capture of each (message, attachment), with the message's channel, thread, direction and "
    "author. An attachment a message lists without a row here is not archived yet.",
    "access_log": "One row per access event: who ran which audit command (sql, thread, export, "
    "prove), when, what it asked and what it got, as of the catalog build.",
    "flags": "One row per supervision hit: a message version a policy (policies.yaml) flagged by "
    "a term, a pattern or its review sample, written in the run that archived the message.",
    "review_decisions": "One row per reviewer decision on a supervision flag (cleared or "
    "escalated, with the reviewer's note), as recorded write-once in the archive.",
    "review_queue": "The supervision flags no reviewer has decided yet: what `rc-archive review "
    "next` lists.",
    "holds": "One row per legal-hold record: a placement or release of a matter's hold on the "
    "archived objects holding its records, as of the catalog build.",
}

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "contents": _view(_CONTENTS_COLUMNS),
    "contents_latest": _view(_CONTENTS_COLUMNS),
    "identities_latest": _table(
        "identities",
        {
            "last_modified_time": "When RingCentral last changed the identity, in UTC, from "
            "`lastModifiedTime`; this row is the version with the latest one.",
        },
    ),
    "agents": _table("agents"),
    "quarantine": _table("quarantine"),
    "messages": _view(
        [c for c in _CONTENTS_COLUMNS if c not in _MESSAGE_HIDDEN] + ["author_name", "agent_name"],
        {
            "author_identity_type": "Agent or Customer: the identity_type of the author "
            "identity (identities_latest); empty when the identity is unknown.",
            "agent_extension_number": "The sending agent's extension number: from agents, or "
            "the one archived with the message.",
            "agent_email": "The sending agent's e-mail address: from agents, or the one "
            "archived with the message.",
            "attachment_count": "How many files are attached to the message (0 when none).",
        },
    ),
    "reply_pairs": _view(
        "source_id source_type thread_id customer_identity_id customer_name",
        {
            "agent_name": "The name of the agent who sent the reply (see messages.agent_name).",
            "inbound_id": "The inbound (customer) message's id (messages.id).",
            "inbound_time": "When the inbound message was created, in UTC (`creationTime`).",
            "inbound_body": "The inbound message's text (`body`).",
            "reply_id": "The first outbound message whose `inReplyToContentId` is the "
            "inbound message (earliest creationTime); empty when no reply.",
            "reply_time": "When that reply was created, in UTC (`creationTime`).",
            "agent_id": "The extension (agent user) that sent the reply, from its `creatorId`.",
            "reply_author_identity_id": "The identity that wrote the reply, from its "
            "`authorIdentityId`.",
            "reply_author_name": "The name of the reply's author identity (see "
            "messages.author_name).",
            "reply_body": "The reply's text (`body`).",
            "response_seconds": "Seconds from the inbound message's creation to the reply's "
            "creation (both `creationTime`); empty when no reply.",
        },
    ),
    "threads": _view(
        "source_id source_type thread_id customer_identity_id customer_name",
        {
            "title": "The title of the earliest message in the thread that has one.",
            "first_message_time": "When the thread's first message was created, in UTC.",
            "last_message_time": "When the thread's last message was created, in UTC.",
            "message_count": "How many messages the thread holds (newest versions, deleted "
            "ones included).",
            "inbound_count": "How many of them came from the customer (direction inbound).",
            "agent_replies": "How many of them agents sent (direction outbound).",
            "last_inbound_id": "The id of the thread's latest inbound message.",
            "status": "answered when the thread's last message is outbound or its latest "
            "inbound message has a reply (see reply_pairs); open otherwise.",
        },
    ),
    "edits": _view(
        "id source_id source_type thread_id creation_time record_sha256 archived_at",
        {
            "version_number": "Which version of the message this row is: 2 for the first "
            "edit, in lastModifiedTime order (then the time archived).",
            "version_count": "How many versions of the message the archive holds.",
            "previous_last_modified_time": "The version before's `lastModifiedTime`.",
            "new_last_modified_time": "This version's `lastModifiedTime`: when RingCentral "
            "made the change.",
            "previous_status": "The version before's `status`.",
            "new_status": "This version's `status`.",
            "previous_body": "The version before's text (`body`).",
            "new_body": "This version's text (`body`).",
            "previous_remotely_deleted": "The version before's `remotelyDeleted`.",
            "new_remotely_deleted": "This version's `remotelyDeleted`.",
            "status_changed": "True when the status differs from the version before.",
            "body_changed": "True when the text differs from the version before.",
            "deleted_changed": "True when remotely_deleted differs from the version before.",
        },
    ),
    "transport_repeats": _view(
        _CONTENTS_COLUMNS,
        {
            "version_sha256": "The version this row repeats: its record hash recomputed "
            "without transport-only values (the record_sha256 of the row contents keeps).",
        },
    ),
    "ledger": LEDGER_SNAPSHOT.descriptions(),
    "capture_lag": _view(
        "source_id",
        {
            "newest_creation_time": "The newest `creationTime` among the channel's archived "
            "messages, in UTC.",
            "last_committed_at": "When the channel's last contents manifest was committed "
            "(ledger.committed_at of its highest seq), in UTC.",
            "versions": "How many message versions the archive holds for the channel.",
            "lag_seconds": "Capture lag: last_committed_at minus newest_creation_time, in "
            "seconds. How far behind the archive was when it last committed; also grows on a "
            "quiet channel where nobody wrote. `rc-archive sources` shows the same number.",
            "seconds_since_commit": "Now minus last_committed_at, in seconds: how long ago "
            "the channel was last committed; a stalled channel grows it. lag_seconds plus "
            "this is how old the newest archived message is now.",
        },
    ),
    "attachments": _view(
        "source_type thread_id direction author_identity_id author_name agent_name",
        _table("attachments"),
    ),
    "flags": _view("source_type direction author_name agent_name", _table("flags")),
    "review_decisions": REVIEW_EVENTS.descriptions()
    | {
        "is_current": "True for the newest decision on its flag (a later decision on the "
        "same flag supersedes, never overwrites, an earlier one).",
    },
    "review_queue": _view("source_type direction author_name agent_name", _table("flags")),
    "access_log": ACCESS_EVENTS.descriptions(),
    "dispositions": _view(
        ["reason"],
        {
            "disposed_at": "When the disposition manifest was committed, in UTC.",
            "source_id": "The source whose files were disposed of.",
            "seq": "The manifest's sequence number in the source's contents ledger.",
            "user": "Who ran it (RC_ARCHIVE_USER, else the OS user).",
            "as_of": "The date retention was judged at (--as-of).",
            "removed_files": "Live contents files the disposition removed from the views.",
            "removed_rows": "Message versions those files held.",
            "objects_deleted": "Objects deleted: the removed files and the compacted inputs "
            "behind them.",
            "hashes_key": "The ledger object keeping the id and record_sha256 of every deleted "
            "row (so proofs and the version index still check).",
            "manifest_key": "Where the disposition manifest is stored (write-once).",
            "manifest_sha256": "SHA-256 of the manifest's bytes; the source's next manifest "
            "names it.",
        },
    ),
    "holds": HOLD_EVENTS.descriptions()
    | {
        "matter_active": "True when the matter's newest record (as of the build) is a "
        "placement: its hold is in force.",
    },
}
