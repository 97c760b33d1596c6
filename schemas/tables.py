"""The archived tables, in one registry: every list of tables elsewhere is read from here.

Each list below is derived from the facts the tables declare (schemas.columns.TableSchema), so
a new table joins every list it belongs to by its declaration alone.
"""

from __future__ import annotations

from schemas import agents, attachments, contents, flags, identities, quarantine
from schemas.columns import TableSchema

# The tables whose rows are records of their own, in registry order; quarantine, which holds
# the records each of them set aside, is declared from them.
_RECORD_TABLES: tuple[TableSchema, ...] = (
    contents.TABLE,
    identities.TABLE,
    agents.TABLE,
    attachments.TABLE,
    flags.TABLE,
)

# The tables whose records can be set aside in quarantine (its `table_name` names one of them).
QUARANTINED_TABLES: tuple[str, ...] = tuple(t.name for t in _RECORD_TABLES if t.quarantinable)

TABLES: dict[str, TableSchema] = {
    schema.name: schema for schema in (*_RECORD_TABLES, quarantine.naming(QUARANTINED_TABLES))
}


# Tables with a ledger of their own (one hash chain per stream), and what each ledger's batches
# may carry besides.
LEDGER_TABLES: tuple[str, ...] = tuple(name for name, t in TABLES.items() if t.ledger == name)
BATCH_TABLES: dict[str, tuple[str, ...]] = {
    ledger: tuple(name for name, t in TABLES.items() if t.ledger in (ledger, None))
    for ledger in LEDGER_TABLES
}
# The ledgers whose manifests commit files of each table (quarantine: every ledger).
LEDGERS_OF: dict[str, tuple[str, ...]] = {
    name: tuple(ledger for ledger, held in BATCH_TABLES.items() if name in held) for name in TABLES
}

# Where files sit (TableSchema.scope): one folder per source, or one per ledger stream.
PER_SOURCE_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.scope == "source")
PER_STREAM_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.scope == "stream")
SHARED_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.scope == "account")
# The ledgers of per-source tables: each of their streams is one source's.
SOURCE_LEDGERS: tuple[str, ...] = tuple(t for t in LEDGER_TABLES if t in PER_SOURCE_TABLES)

# The tables whose files a legal hold can hold (TableSchema.hold).
HELD_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.hold is not None)

# The tables a certificate counts (TableSchema.certified), in the order it lists them, and
# the one whose versions are the leaves of each source's Merkle log.
CERTIFIED_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.certified)
_LOGGED = [n for n, t in TABLES.items() if t.certified and t.certified.merkle_log]
if len(_LOGGED) != 1:
    raise ValueError(f"exactly one table is the Merkle log; declared: {_LOGGED}")
LOGGED_TABLE: str = _LOGGED[0]


def table_schema(name: str) -> TableSchema:
    """The declaration of table `name`; a clear error naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(
            f"unknown archive table {name!r}; known tables: {', '.join(TABLES)}"
        ) from None
