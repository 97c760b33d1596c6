"""The archived tables, in one registry: every list of tables elsewhere is read from here."""

from __future__ import annotations

from schemas import agents, attachments, contents, flags, identities, quarantine
from schemas.columns import TableSchema

TABLES: dict[str, TableSchema] = {
    schema.name: schema
    for schema in (
        contents.TABLE,
        identities.TABLE,
        agents.TABLE,
        attachments.TABLE,
        flags.TABLE,
        quarantine.TABLE,
    )
}


# Tables with a ledger of their own (one hash chain per stream), and what each ledger's batches
# may carry besides.
LEDGER_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.ledger == name)
BATCH_TABLES: dict[str, tuple[str, ...]] = {
    ledger: tuple(name for name, t in TABLES.items() if t.ledger in (ledger, None))
    for ledger in LEDGER_TABLES
}


def table_schema(name: str) -> TableSchema:
    """The declaration of table `name`; a clear error naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(
            f"unknown archive table {name!r}; known tables: {', '.join(TABLES)}"
        ) from None
