"""Who is behind an identity id or an extension id, as far as the archive already knows.

Contents rows carry the author's display name and the creating agent's name when they are
known at write time, so a single Parquet file answers "who said this" on its own. What is not
known yet stays null; the audit views join the latest identities and agents anyway.
"""

from __future__ import annotations

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import committed_tables
from schemas.contents import AuthorInfo, CreatorInfo, Resolved
from schemas.ids import source_stream

_IDENTITY_COLUMNS = ["id", "display_name", "identity_type", "last_modified_time", "archived_at"]
_AGENT_COLUMNS = ["extension_id", "name", "extension_number", "email", "resolution", "archived_at"]


def load_resolved(ledger: Ledger, source_id: str) -> Resolved:
    """Latest known identity and agent facts of one source (later archived rows win)."""
    stream = source_stream(source_id)
    authors: dict[str, AuthorInfo] = {}
    for table in committed_tables(ledger, "identities", stream, _IDENTITY_COLUMNS):
        rows = table.sort_by([("archived_at", "ascending")]).to_pylist()
        for row in rows:
            authors[row["id"]] = AuthorInfo(
                display_name=row["display_name"], is_agent=row["identity_type"] == "Agent"
            )
    creators: dict[str, CreatorInfo] = {}
    for table in committed_tables(ledger, "agents", stream, _AGENT_COLUMNS):
        for row in table.sort_by([("archived_at", "ascending")]).to_pylist():
            if row["resolution"] == "found":
                creators[row["extension_id"]] = CreatorInfo(
                    name=row["name"], extension_number=row["extension_number"], email=row["email"]
                )
    return Resolved(authors=authors, creators=creators)
