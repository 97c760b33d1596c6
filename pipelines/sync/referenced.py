"""The ids a source's committed rows refer to, and reading those ids from the API one by one.

Why shared: identities (authors of contents) and agents (creators of contents, users behind
agent identities) are both resolved this way: collect the ids the new batches name, then GET
each one that is not archived yet, where a 404 is a fact to keep (`not_found`), not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import committed_tables
from pipelines.ringcentral.errors import NotFound


def referenced_ids(
    ledger: Ledger, table: str, stream: str, columns: list[str], *, after_seq: int = -1
) -> set[str]:
    """Every non-empty value of `columns` (list columns flattened) in the stream's committed
    `table`, of the batches after `after_seq` only (a run reads what is new, not history)."""
    ids: set[str] = set()
    for part in committed_tables(ledger, table, stream, columns, after_seq=after_seq):
        for name in columns:
            values = part.column(name)
            if pa.types.is_list(values.type):
                values = pc.list_flatten(values)
            ids.update(v for v in pc.unique(values).to_pylist() if v)
    return ids


def fetch_each(ids: Iterable[str], get: Callable[[str], dict]) -> tuple[list[dict], list[str]]:
    """(records, ids the API answered 404 for): `get(id)` for each id, in order."""
    records: list[dict] = []
    not_found: list[str] = []
    for one_id in ids:
        try:
            records.append(get(one_id))
        except NotFound:
            not_found.append(one_id)
    return records, not_found
