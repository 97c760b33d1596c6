"""One declaration per column: every other form of a table's schema is derived from it.

A `Column` says once what the archive stores (name, Arrow type, nullability), what it checks
(pandera checks), where it comes from (the API key, for the column reference) and what it means
(the description shown by `rc-archive sql --describe`, written as DuckDB comments, given to the
Dagster UI as the asset's column schema, and generated into docs/columns.md). A `TableSchema`
derives the Arrow schema the Parquet files are written with and the pandera schema rows are
validated against, so the two can never disagree. Adding a column is one `Column(...)` in the
table's module (plus the converter that fills it); adding a table is one module and one entry
in `schemas.tables.TABLES`.

A `TableSchema` also carries the facts the rest of the archive asks of a table: where its files
sit (`scope`), whether its records can be set aside (`quarantinable`), what a legal hold
matches in it (`hold`), what a certificate counts of it (`certified`). Every list of tables with
such a fact (schemas.tables) is read from these declarations, never kept by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import pandera.pandas as pandera
import pyarrow as pa

from schemas.common import TIMESTAMP_TYPE
from schemas.validation import arrow_to_pandera_dtype
from schemas.version_identity import TransportValue, VersionIdentity

ID_PATTERN = r"^\S+$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
SOURCE_ID_PATTERN = r"^[0-9a-f]{24}$"
STRING_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    """One column of an archived table."""

    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    checks: tuple[pandera.Check, ...] = ()
    api_key: str | None = None  # the API field the value is read from, when there is one
    # Validate even without value checks: a non-null guard on a column the converters derive.
    always_validated: bool = False
    # The table's normaliser makes the same value again from the row's raw_json (deep verify
    # re-derives and compares it). False for the evidence and its hash (checked on their own),
    # the batch's stamps, and what the archive knew only when it converted the row (names
    # resolved from other tables, the time it fetched the record).
    reproducible: bool = True

    @property
    def arrow_field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable)

    def pandera_column(self) -> pandera.Column:
        return pandera.Column(
            arrow_to_pandera_dtype(self.type),
            checks=list(self.checks),
            nullable=self.nullable,
            name=self.name,
        )


# Where a table's files sit (pipelines/archive/keys.py, `stream_folder`):
# - "source": one folder per source (`<table>/source=<id>/`), written by that source's streams;
# - "account": one folder the whole account shares (`agents/`): every source's run adds to it;
# - "stream": one folder per stream of the ledgers that commit it, the account's own stream
#   included (`quarantine/source=<id>/`, `quarantine/source=account/`).
Scope = Literal["source", "account", "stream"]


@dataclass(frozen=True)
class HoldColumns:
    """The columns a legal hold's selector (pipelines/governance/holds.py, `Selector`) is
    matched against in a table it holds. A part of a selector whose column is None cannot name
    this table's records: a hold by it holds none of them."""

    source: str | None = "source_id"
    thread: str | None = None
    identity: str | None = None
    # The message ids a `--query` hold fixed when it was placed.
    content: str | None = None
    # What `--from`/`--to` bound. None: the records have no time, so a hold with a range
    # reaches them only when it names the record itself (`identity`).
    time: str | None = None


@dataclass(frozen=True)
class Certified:
    """What a certificate (pipelines/integrity/certificate.py) counts of the table for one
    source and period: under `name`, its distinct `id_column` values (every row when it has
    none), in total and with `period_column` inside the period."""

    name: str
    period_column: str
    # The table's versions (rows, in commit order) are the leaves of the source's Merkle log,
    # which the certificate signs the root of; it also counts them (`versions`), per day, and
    # their capture lag. Exactly one table is the log (schemas.tables.LOGGED_TABLE).
    merkle_log: bool = False


@dataclass(frozen=True)
class TableSchema:
    """A table: its columns in storage order, the forms derived from them, and its facts."""

    name: str
    description: str
    columns: tuple[Column, ...]
    # The column that, with record_sha256, identifies one version of a record (None: no index).
    id_column: str | None = None
    # The ledger whose batches commit the table's files (None: every ledger's, as quarantine).
    ledger: str | None = None
    # Values of the API record that its serving makes, not the record (signed links, webhook-only
    # keys): kept in the row and raw_json, left out of the version hash (schemas.version_identity).
    transport: tuple[TransportValue, ...] = ()
    # Where the table's files sit (see `Scope`).
    scope: Scope = "source"
    # A record that cannot be a row of this table is set aside in `quarantine`, named by it.
    quarantinable: bool = False
    # What a legal hold's selector matches in this table (None: a hold never holds its files).
    hold: HoldColumns | None = None
    # What a certificate counts of it (None: certificates do not count it).
    certified: Certified | None = None
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns):
            seen: set[str] = set()
            twice = sorted({c.name for c in self.columns if c.name in seen or seen.add(c.name)})
            raise ValueError(f"table {self.name!r} declares {', '.join(twice)} twice")
        object.__setattr__(self, "_by_name", by_name)

    @functools.cached_property
    def arrow_schema(self) -> pa.Schema:
        """The schema every Parquet file of the table is written with."""
        return pa.schema([c.arrow_field for c in self.columns])

    @functools.cached_property
    def pandera_schema(self) -> pandera.DataFrameSchema:
        """Every column's dtype, nullability and checks; strict (no other column), no coercion."""
        return pandera.DataFrameSchema(
            {c.name: c.pandera_column() for c in self.columns},
            strict=True,
            coerce=False,
            name=self.name,
        )

    @functools.cached_property
    def version_identity(self) -> VersionIdentity:
        """How a record of this table is hashed into its version identity (`record_sha256`)."""
        return VersionIdentity(self.transport)

    def identity_columns(self) -> tuple[str, ...]:
        """The columns read from the API record, hence part of a version's identity (with the
        declared transport values left out); resolved names and batch stamps are not."""
        return tuple(c.name for c in self.columns if c.api_key is not None)

    @functools.cached_property
    def checked_columns(self) -> tuple[str, ...]:
        """The columns with value checks: the only ones converted to pandas to validate."""
        return tuple(c.name for c in self.columns if c.checks or c.always_validated)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def with_column(self, column: Column) -> TableSchema:
        """The same table with `column` in place of its namesake (same position): for a check
        only a module above this table's can state (schemas.tables, quarantine's table_name)."""
        self.column(column.name)  # raises for a column the table does not have
        columns = tuple(column if c.name == column.name else c for c in self.columns)
        return replace(self, columns=columns)

    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description for c in self.columns}

    def api_run(self, first: str, last: str) -> tuple[tuple[str, str], ...]:
        """(API key, column) of the columns from `first` to `last` in storage order.

        For converters that append fields as they are, by position: the run is read from the
        declaration, so a column added inside it is converted without another edit.
        """
        names = self.names
        run = self.columns[names.index(first) : names.index(last) + 1]
        missing = [c.name for c in run if c.api_key is None]
        if missing:
            raise ValueError(f"{self.name}: {', '.join(missing)} declare no API key")
        return tuple((c.api_key, c.name) for c in run)  # type: ignore[misc]


def text(name: str, description: str, api_key: str | None = None, **kwargs) -> Column:
    """An optional string column (the most common kind)."""
    return Column(name, pa.string(), description, api_key=api_key, **kwargs)


def flag(name: str, description: str, api_key: str | None = None, **kwargs) -> Column:
    return Column(name, pa.bool_(), description, api_key=api_key, **kwargs)


def utc_time(name: str, description: str, api_key: str | None = None, **kwargs) -> Column:
    return Column(name, TIMESTAMP_TYPE, description, api_key=api_key, **kwargs)


def matches(pattern: str) -> tuple[pandera.Check, ...]:
    return (pandera.Check.str_matches(pattern),)


def one_of(values: Iterable[str]) -> tuple[pandera.Check, ...]:
    return (pandera.Check.isin(list(values)),)


def source_id_column(description: str, *, nullable: bool = False) -> Column:
    return text(
        "source_id",
        description,
        nullable=nullable,
        checks=() if nullable else matches(SOURCE_ID_PATTERN),
    )


RAW_JSON_DESCRIPTION = (
    "The whole record exactly as RingCentral returned it, as JSON text: the evidence every "
    "other column was read from."
)
RECORD_SHA256_DESCRIPTION = (
    "SHA-256 of the record as received, with its keys sorted: identifies this version of the "
    "record (a changed record gets a new hash)."
)
RUN_ID_DESCRIPTION = "The archive run (Dagster run id) that wrote this row."
BATCH_ID_DESCRIPTION = (
    "The committed batch that holds the row (`<seq>-<random>`); the ledger view has one row "
    "per batch."
)


def record_columns(
    *,
    raw_json: bool = True,
    record_sha256: str = RECORD_SHA256_DESCRIPTION,
    stamped_at: tuple[str, str] = (
        "archived_at",
        "When the archive received this version, in UTC.",
    ),
) -> tuple[Column, ...]:
    """The trailing columns of every table: the evidence, its hash, and the batch's stamps.

    The stamps (`stamped_at`, run_id, batch_id) are the last three columns: they are only known
    when a batch is committed, after its rows were converted (schemas.common.with_constants).
    """
    kept = {"nullable": False, "reproducible": False}
    evidence = (text("raw_json", RAW_JSON_DESCRIPTION, **kept),) if raw_json else ()
    return (
        *evidence,
        text("record_sha256", record_sha256, checks=matches(SHA256_PATTERN), **kept),
        utc_time(stamped_at[0], stamped_at[1], **kept),
        text("run_id", RUN_ID_DESCRIPTION, **kept),
        text("batch_id", BATCH_ID_DESCRIPTION, **kept),
    )
